//! A store failed (the kit's one error of every state port), and a catalogue file that could
//! not be loaded.

pub use handler_kit::StoreFailure;
use sensors::FieldError;

/// A catalogue file could not be put into a catalogue.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueFileError {
    /// The file is not JSON.
    #[error("not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The file is JSON, but not a valid catalogue: every invalid field, by its path
    /// (`[2].metrics.temperature.low`). Nothing was put.
    #[error("{} invalid field(s), nothing was loaded:\n{}", .0.len(), lines(.0))]
    Invalid(Vec<FieldError>),
    /// The catalogue is valid, and the store failed to take it (it may have taken part of it:
    /// putting the file again is safe).
    #[error(transparent)]
    Store(#[from] StoreFailure),
}

fn lines(errors: &[FieldError]) -> String {
    errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n")
}
