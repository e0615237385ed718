//! `localcloud operations`: the alarms and dashboard [`emulator::operations`] draws from a
//! template, printed, or written into the template's own generated block.

use std::path::Path;

use emulator::operations::{BEGIN, END, block, embed};
use emulator::topology::Topology;

use crate::Error;

/// The generated block of `template`: printed (returned) without `update`, else written into
/// `update`'s block between the marker lines (and `None` returned).
pub fn operations(template: &Path, update: Option<&Path>) -> Result<Option<String>, Error> {
    let topology = Topology::load(template, &sam_template::Options::default())?;
    let generated = block(&topology);
    let Some(file) = update else {
        return Ok(Some(generated));
    };
    let text = std::fs::read_to_string(file).map_err(|source| Error::Read {
        what: file.display().to_string(),
        source,
    })?;
    let updated = embed(&text, &generated).ok_or_else(|| {
        Error::input(
            file.display().to_string(),
            format!("has no generated block: add the line `{BEGIN}` and, below it, `{END}` under Resources"),
        )
    })?;
    if updated != text {
        std::fs::write(file, updated).map_err(|source| Error::Write {
            path: file.to_owned(),
            source,
        })?;
    }
    Ok(None)
}
