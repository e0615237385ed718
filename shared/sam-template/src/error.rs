//! Errors of the template loader. Each names where the problem is: the file, the section, the
//! parameter, or the resource (logical id) and the property path inside it.

use std::path::PathBuf;

/// Why a template could not be loaded. Every case is permanent: fix the template or the options.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The template file could not be read.
    #[error("cannot read the template {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// The text is not YAML.
    #[error("{origin} is not valid YAML: {source}")]
    Yaml {
        /// The file, or `template` for text.
        origin: String,
        /// What the parser said (with line and column).
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// A template-level section is malformed or uses something the loader does not implement
    /// (`Transform`, `Globals`, `Conditions`, `Mappings`, ...).
    #[error("{section}: {reason}")]
    Section {
        /// The section and, where it applies, the path inside it (`Globals.Api`).
        section: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A parameter has no value, or a value it does not allow.
    #[error("Parameters.{name}: {reason}")]
    Parameter {
        /// The parameter's name.
        name: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A resource uses something the loader refuses or cannot resolve.
    #[error("{resource}: {path}: {reason}")]
    Resource {
        /// The logical id.
        resource: String,
        /// Where in the resource (`Properties.Environment.Variables.X`, `Type`, `Condition`).
        path: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// An output cannot be resolved.
    #[error("Outputs.{output}: {path}: {reason}")]
    Output {
        /// The output's name.
        output: String,
        /// Where in the output (`Value`).
        path: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
}

impl TemplateError {
    /// The logical id of the resource the error is about, if it is about one.
    pub fn resource(&self) -> Option<&str> {
        match self {
            Self::Resource { resource, .. } => Some(resource),
            _ => None,
        }
    }

    /// The property path inside the resource or output the error is about, if any.
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::Resource { path, .. } | Self::Output { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// Where in the template a value lives; turns a path and a reason into a [`TemplateError`].
#[derive(Debug, Clone)]
pub(crate) enum Site {
    /// A template section (`Globals.Function`, `Mappings`, ...).
    Section(String),
    /// A resource, by logical id.
    Resource(String),
    /// An output, by name.
    Output(String),
}

impl Site {
    pub(crate) fn error(&self, path: &str, reason: impl Into<String>) -> TemplateError {
        let reason = reason.into();
        match self {
            Self::Section(section) => TemplateError::Section {
                section: if path.is_empty() {
                    section.clone()
                } else {
                    format!("{section}.{path}")
                },
                reason,
            },
            Self::Resource(resource) => TemplateError::Resource {
                resource: resource.clone(),
                path: path.to_owned(),
                reason,
            },
            Self::Output(output) => TemplateError::Output {
                output: output.clone(),
                path: path.to_owned(),
                reason,
            },
        }
    }
}
