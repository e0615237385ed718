//! SAM `Globals`: only `Globals.Function` is implemented, merged the way the SAM translator
//! merges it (samtranslator/plugins/globals/globals.py, `GlobalProperties._do_merge`):
//! mappings merge key by key with the function winning, lists concatenate (globals first),
//! scalars and intrinsics are replaced by the function's value, and a type mismatch keeps the
//! function's value.

use serde_yaml_ng::Value as Yaml;

use crate::error::{Site, TemplateError};
use crate::node::{Node, scalar_text};

/// The properties SAM accepts in `Globals.Function` (the translator's `supported_properties`,
/// aws-sam-translator 1.115).
/// Everything else, `FunctionName`, `Role`, `Policies` and `Events` above all, is refused there.
const FUNCTION_PROPERTIES: &[&str] = &[
    "Handler",
    "Runtime",
    "CodeUri",
    "DeadLetterQueue",
    "Description",
    "MemorySize",
    "Timeout",
    "VpcConfig",
    "Environment",
    "Tags",
    "PropagateTags",
    "Tracing",
    "KmsKeyArn",
    "AutoPublishAlias",
    "AutoPublishAliasAllProperties",
    "Layers",
    "DeploymentPreference",
    "RolePath",
    "PermissionsBoundary",
    "ReservedConcurrentExecutions",
    "ProvisionedConcurrencyConfig",
    "AssumeRolePolicyDocument",
    "EventInvokeConfig",
    "FileSystemConfigs",
    "CodeSigningConfigArn",
    "Architectures",
    "SnapStart",
    "EphemeralStorage",
    "FunctionUrlConfig",
    "RuntimeManagementConfig",
    "LoggingConfig",
    "RecursiveLoop",
    "SourceKMSKeyArn",
    "TenancyConfig",
    "DurableConfig",
    "CapacityProviderConfig",
    "FunctionScalingConfig",
    "PublishToLatestPublished",
    "VersionDeletionPolicy",
];

/// Globals sections SAM knows that the loader does not implement.
const OTHER_SAM_SECTIONS: &[&str] = &[
    "Api",
    "HttpApi",
    "SimpleTable",
    "StateMachine",
    "LayerVersion",
    "CapacityProvider",
];

/// Reads the `Globals` section; returns the `Function` properties (a [`Node::Map`]), if any.
pub(crate) fn parse(section: &Yaml) -> Result<Option<Node>, TemplateError> {
    let site = Site::Section("Globals".to_owned());
    let Yaml::Mapping(sections) = section else {
        return Err(site.error("", "must be a mapping of resource kinds (Function) to properties"));
    };
    let mut function = None;
    for (name, properties) in sections {
        let name = scalar_text(name).unwrap_or_default();
        if name != "Function" {
            let reason = if OTHER_SAM_SECTIONS.contains(&name.as_str()) {
                format!(
                    "not implemented by the local loader (only Globals.Function is): move these properties onto each AWS::Serverless::{name}"
                )
            } else {
                "not a SAM Globals section (SAM knows Function, Api, HttpApi, SimpleTable, StateMachine, LayerVersion, CapacityProvider)".to_owned()
            };
            return Err(site.error(&name, reason));
        }
        let site = Site::Section("Globals.Function".to_owned());
        let Yaml::Mapping(props) = properties else {
            return Err(site.error("", "must be a mapping of AWS::Serverless::Function properties"));
        };
        for key in props.keys() {
            let key = scalar_text(key).unwrap_or_default();
            if !FUNCTION_PROPERTIES.contains(&key.as_str()) {
                return Err(site.error(
                    &key,
                    format!(
                        "SAM does not accept this property in Globals.Function; set it on each function. Accepted: {}",
                        FUNCTION_PROPERTIES.join(", ")
                    ),
                ));
            }
        }
        function = Some(Node::from_yaml(properties, &site, "")?);
    }
    Ok(function)
}

/// Merges a global value under a resource's own value (the resource wins).
pub(crate) fn merge(global: &Node, local: &Node) -> Node {
    match (global, local) {
        (Node::Map(globals), Node::Map(locals)) => {
            let mut merged = globals.clone();
            for (key, value) in locals {
                match merged.iter_mut().find(|(k, _)| k == key) {
                    Some(slot) => slot.1 = merge(&slot.1, value),
                    None => merged.push((key.clone(), value.clone())),
                }
            }
            Node::Map(merged)
        }
        (Node::List(globals), Node::List(locals)) => Node::List(globals.iter().chain(locals).cloned().collect()),
        _ => local.clone(),
    }
}

/// Removes the properties a resource's `IgnoreGlobals` attribute names (`"*"` removes all).
pub(crate) fn without_ignored(globals: &Node, ignore: Option<&Yaml>, site: &Site) -> Result<Node, TemplateError> {
    let Node::Map(entries) = globals else {
        return Ok(globals.clone());
    };
    let names: Vec<String> = match ignore {
        None => return Ok(globals.clone()),
        Some(Yaml::String(star)) if star == "*" => return Ok(Node::Map(Vec::new())),
        Some(Yaml::Sequence(items)) => items.iter().filter_map(scalar_text).collect(),
        Some(_) => {
            return Err(site.error(
                "IgnoreGlobals",
                "must be \"*\" or a list of Globals.Function property names",
            ));
        }
    };
    for name in &names {
        if !entries.iter().any(|(k, _)| k == name) {
            return Err(site.error("IgnoreGlobals", format!("'{name}' is not set in Globals.Function")));
        }
    }
    Ok(Node::Map(
        entries.iter().filter(|(k, _)| !names.contains(k)).cloned().collect(),
    ))
}
