//! Reading what the user gives: files or standard input, `@file` arguments, instants, and
//! tables to load into a cloud.

use std::io::Read;
use std::path::Path;

use chrono::{DateTime, Utc};
use emulator::cloud::LocalCloud;
use localcloud::Error;
use serde_json::Value;

/// Later than any event time: the end of a range left open.
pub(crate) const END_OF_TIME: DateTime<Utc> = DateTime::<Utc>::MAX_UTC;

/// The bytes of `file`, or of standard input for `-`.
pub(crate) fn read(file: &Path) -> Result<Vec<u8>, Error> {
    let mut payload = Vec::new();
    if file.as_os_str() == "-" {
        std::io::stdin()
            .read_to_end(&mut payload)
            .map_err(|source| Error::Read {
                what: "standard input".to_owned(),
                source,
            })?;
    } else {
        payload = std::fs::read(file).map_err(|source| Error::Read {
            what: file.display().to_string(),
            source,
        })?;
    }
    Ok(payload)
}

/// JSON text, or the contents of `@file`.
pub(crate) fn argument(text: &str) -> Result<String, Error> {
    match text.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file).map_err(|source| Error::Read {
            what: file.to_owned(),
            source,
        }),
        None => Ok(text.to_owned()),
    }
}

/// The instant flag `--{flag}` gives (RFC 3339), or `default` without one.
pub(crate) fn instant(text: Option<&str>, flag: &str, default: DateTime<Utc>) -> Result<DateTime<Utc>, Error> {
    text.map_or(Ok(default), |text| {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                Error::input(
                    format!("--{flag}"),
                    format!("'{text}' is not an RFC 3339 date-time with an offset ({e})"),
                )
            })
    })
}

/// Loads each `<LogicalId>=<items.json>` into `cloud`.
pub(crate) fn load_tables(cloud: &LocalCloud, tables: &[String]) -> Result<(), Error> {
    for table in tables {
        let flag = format!("--table {table}");
        let (logical_id, file) = table
            .split_once('=')
            .ok_or_else(|| Error::input(&flag, "expected <LogicalId>=<items.json>"))?;
        let items: Vec<Value> = serde_json::from_slice(&read(Path::new(file))?)
            .map_err(|e| Error::input(&flag, format!("{file} is not a JSON array of items: {e}")))?;
        cloud.load_table(logical_id, &items).map_err(Error::Cloud)?;
    }
    Ok(())
}
