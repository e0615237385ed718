//! Shared helpers: load a template snippet with the default options (stack `local`, region
//! `us-east-1`, account `000000000000`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use sam_template::{Options, Resource, Template, TemplateError};

/// The SAM transform line most snippets start with.
pub(crate) const SAM: &str = "Transform: AWS::Serverless-2016-10-31\n";

pub(crate) fn load(yaml: &str) -> Template {
    match Template::from_yaml(yaml, &Options::default()) {
        Ok(template) => template,
        Err(err) => panic!("template should load, got: {err}"),
    }
}

pub(crate) fn load_with(yaml: &str, options: &Options) -> Template {
    Template::from_yaml(yaml, options).unwrap_or_else(|err| panic!("template should load, got: {err}"))
}

pub(crate) fn error(yaml: &str) -> TemplateError {
    match Template::from_yaml(yaml, &Options::default()) {
        Ok(_) => panic!("template should not load"),
        Err(err) => err,
    }
}

/// The resolved value of property `path` of resource `id`.
pub(crate) fn prop<'a>(template: &'a Template, id: &str, path: &str) -> &'a serde_json::Value {
    resource(template, id)
        .property(path)
        .unwrap_or_else(|| panic!("{id} has no property {path}"))
}

pub(crate) fn resource<'a>(template: &'a Template, id: &str) -> &'a Resource {
    template.resource(id).unwrap_or_else(|| panic!("no resource {id}"))
}
