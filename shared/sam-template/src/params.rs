//! `Parameters`: each gets its value from the options or its `Default`, checked against its
//! declared constraints (all but `AllowedPattern`).

use std::collections::BTreeMap;

use serde_json::Value;
use serde_yaml_ng::Value as Yaml;

use crate::error::TemplateError;
use crate::node::scalar_text;

/// A parameter's value: as given (`text`) and as `Ref` returns it (a string, or a list of
/// strings for `CommaDelimitedList` and `List<...>` types).
#[derive(Debug, Clone)]
pub(crate) struct Param {
    pub(crate) text: String,
    pub(crate) value: Value,
}

const ATTRIBUTES: &[&str] = &[
    "Type",
    "Default",
    "Description",
    "AllowedValues",
    "AllowedPattern",
    "ConstraintDescription",
    "MaxLength",
    "MinLength",
    "MaxValue",
    "MinValue",
    "NoEcho",
];

/// Evaluates the `Parameters` section with the options' overrides.
pub(crate) fn evaluate(
    section: Option<&Yaml>,
    overrides: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Param>, TemplateError> {
    let mut params = BTreeMap::new();
    let declared = match section {
        None | Some(Yaml::Null) => serde_yaml_ng::Mapping::new(),
        Some(Yaml::Mapping(m)) => m.clone(),
        Some(_) => {
            return Err(TemplateError::Section {
                section: "Parameters".to_owned(),
                reason: "must be a mapping of parameter names to declarations".to_owned(),
            });
        }
    };
    for (name, declaration) in &declared {
        let name = scalar_text(name).unwrap_or_default();
        let fail = |reason: String| TemplateError::Parameter {
            name: name.clone(),
            reason,
        };
        let Yaml::Mapping(declaration) = declaration else {
            return Err(fail("must be a mapping with at least a Type".to_owned()));
        };
        for key in declaration.keys() {
            let key = scalar_text(key).unwrap_or_default();
            if !ATTRIBUTES.contains(&key.as_str()) {
                return Err(fail(format!("'{key}' is not a parameter attribute")));
            }
        }
        let field = |key: &str| declaration.get(key);
        let kind = field("Type")
            .and_then(scalar_text)
            .ok_or_else(|| fail("has no Type".to_owned()))?;
        if kind.starts_with("AWS::SSM::Parameter::Value<") {
            return Err(fail(format!(
                "type {kind} is read from SSM Parameter Store at deploy time, which the local loader cannot do: use String"
            )));
        }
        let is_list = kind == "CommaDelimitedList" || kind.starts_with("List<");
        let text = match (overrides.get(&name), field("Default")) {
            (Some(given), _) => given.clone(),
            (None, Some(default)) => scalar_text(default).ok_or_else(|| fail("Default must be a scalar".to_owned()))?,
            (None, None) => {
                return Err(fail(
                    "has no value: it declares no Default and Options.parameters does not set it".to_owned(),
                ));
            }
        };
        let items: Vec<String> = if is_list {
            text.split(',').map(|s| s.trim().to_owned()).collect()
        } else {
            vec![text.clone()]
        };
        check(&items, &kind, declaration).map_err(fail)?;
        let value = if is_list {
            Value::Array(items.into_iter().map(Value::String).collect())
        } else {
            Value::String(text.clone())
        };
        params.insert(name.clone(), Param { text, value });
    }
    if let Some(unknown) = overrides.keys().find(|k| !params.contains_key(*k)) {
        return Err(TemplateError::Parameter {
            name: unknown.clone(),
            reason: "is set in Options.parameters but the template does not declare it".to_owned(),
        });
    }
    Ok(params)
}

fn check(items: &[String], kind: &str, declaration: &serde_yaml_ng::Mapping) -> Result<(), String> {
    let field = |key: &str| declaration.get(key);
    let number = |key: &str| -> Result<Option<f64>, String> {
        match field(key) {
            None => Ok(None),
            Some(v) => scalar_text(v)
                .and_then(|t| t.parse::<f64>().ok())
                .map(Some)
                .ok_or_else(|| format!("{key} must be a number")),
        }
    };
    let allowed: Option<Vec<String>> = match field("AllowedValues") {
        None => None,
        Some(Yaml::Sequence(values)) => Some(values.iter().filter_map(scalar_text).collect()),
        Some(_) => return Err("AllowedValues must be a list".to_owned()),
    };
    let numeric = kind == "Number" || kind == "List<Number>";
    for item in items {
        if let Some(allowed) = &allowed
            && !allowed.contains(item)
        {
            return Err(format!(
                "value '{item}' is not one of AllowedValues [{}]",
                allowed.join(", ")
            ));
        }
        if numeric {
            let n: f64 = item
                .parse()
                .map_err(|_| format!("value '{item}' is not a number ({kind})"))?;
            if number("MinValue")?.is_some_and(|min| n < min) || number("MaxValue")?.is_some_and(|max| n > max) {
                return Err(format!("value {item} is outside MinValue..MaxValue"));
            }
        } else {
            let len = item.chars().count() as f64;
            if number("MinLength")?.is_some_and(|min| len < min) || number("MaxLength")?.is_some_and(|max| len > max) {
                return Err(format!("value '{item}' is outside MinLength..MaxLength"));
            }
        }
    }
    Ok(())
}
