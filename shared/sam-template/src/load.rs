//! Reading the sections of a template and turning it into a [`Template`].

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use serde_yaml_ng::Value as Yaml;

use crate::error::{Site, TemplateError};
use crate::node::{Func, Node, scalar_text};
use crate::resolve::{Doc, Piece, RawResource, Resolver, sub_pieces};
use crate::{Options, Resource, Template, globals, params};

/// The only transform the loader implements.
pub(crate) const SAM_TRANSFORM: &str = "AWS::Serverless-2016-10-31";

const SECTIONS: &[&str] = &[
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Mappings",
    "Conditions",
    "Rules",
    "Transform",
    "Globals",
    "Resources",
    "Outputs",
];

const RESOURCE_ATTRIBUTES: &[&str] = &[
    "Type",
    "Condition",
    "Properties",
    "Metadata",
    "DependsOn",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "UpdatePolicy",
    "CreationPolicy",
];

fn section_error(section: &str, reason: impl Into<String>) -> TemplateError {
    TemplateError::Section {
        section: section.to_owned(),
        reason: reason.into(),
    }
}

/// Loads template text; `origin` names it in YAML errors.
pub(crate) fn load(text: &str, options: &Options, origin: &str) -> Result<Template, TemplateError> {
    let root: Yaml = serde_yaml_ng::from_str(text).map_err(|source| TemplateError::Yaml {
        origin: origin.to_owned(),
        source,
    })?;
    let Yaml::Mapping(root) = root else {
        return Err(section_error(
            "template",
            "the top level must be a mapping of sections (Resources, ...)",
        ));
    };
    let mut sections: BTreeMap<String, &Yaml> = BTreeMap::new();
    for (key, value) in &root {
        let key = scalar_text(key).unwrap_or_default();
        if !SECTIONS.contains(&key.as_str()) {
            return Err(section_error(
                &key,
                format!("not a template section (expected one of {})", SECTIONS.join(", ")),
            ));
        }
        sections.insert(key, value);
    }
    let section = |name: &str| sections.get(name).copied().filter(|v| !v.is_null());

    if let Some(version) = section("AWSTemplateFormatVersion")
        && scalar_text(version).as_deref() != Some("2010-09-09")
    {
        return Err(section_error(
            "AWSTemplateFormatVersion",
            "the only format version is \"2010-09-09\"",
        ));
    }
    let sam = transform(section("Transform"))?;
    if section("Rules").is_some() {
        return Err(section_error(
            "Rules",
            "template rules are not supported by the local loader",
        ));
    }
    let description = match section("Description") {
        None => None,
        Some(Yaml::String(text)) => Some(text.clone()),
        Some(_) => return Err(section_error("Description", "must be a string")),
    };
    let params = params::evaluate(section("Parameters"), &options.parameters)?;
    let mappings = mappings(section("Mappings"))?;
    let conditions = conditions(section("Conditions"))?;
    let function_globals = match section("Globals") {
        None => None,
        Some(_) if !sam => {
            return Err(section_error(
                "Globals",
                format!("Globals is SAM syntax: it needs `Transform: {SAM_TRANSFORM}`"),
            ));
        }
        Some(value) => globals::parse(value)?,
    };
    let resources = resources(section("Resources"), function_globals.as_ref(), sam)?;
    if let Some(clash) = params.keys().find(|name| resources.contains_key(*name)) {
        return Err(section_error(
            "Parameters",
            format!("'{clash}' is both a parameter and a resource"),
        ));
    }

    let mut doc = Doc {
        options: options.clone(),
        params,
        mappings,
        resources,
        conditions,
        not_created: BTreeMap::new(),
    };
    doc.not_created = not_created(&doc)?;
    doc.resources.retain(|id, _| !doc.not_created.contains_key(id));
    for (id, resource) in &doc.resources {
        if let Some(dependency) = resource.depends_on.iter().find(|d| doc.not_created.contains_key(*d)) {
            return Err(Site::Resource(id.clone()).error(
                "DependsOn",
                format!(
                    "'{dependency}' is not created: its Condition {} is false",
                    doc.not_created[dependency]
                ),
            ));
        }
    }
    check_cycles(&doc.resources)?;
    let resolver = Resolver::new(&doc);
    let mut resolved = BTreeMap::new();
    for (id, raw) in &doc.resources {
        let site = Site::Resource(id.clone());
        let identity = resolver.identity(id, &site, "Properties")?;
        let properties = resolver
            .resolve(&raw.properties, &site, "Properties")?
            .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
        let metadata = match &raw.metadata {
            Some(node) => resolver.resolve(node, &site, "Metadata")?.unwrap_or(Value::Null),
            None => Value::Null,
        };
        resolved.insert(
            id.clone(),
            Resource {
                logical_id: id.clone(),
                kind: raw.kind.clone(),
                properties,
                metadata,
                physical_name: identity.physical_name.clone(),
                arn: identity.arn.clone(),
                ref_value: identity.ref_value.clone(),
                attributes: identity.attributes.clone(),
                generated_by: raw.generated_by.clone(),
            },
        );
    }
    let outputs = outputs(section("Outputs"), &resolver)?;
    Ok(Template {
        description,
        parameters: doc.params.iter().map(|(k, p)| (k.clone(), p.text.clone())).collect(),
        resources: resolved,
        outputs,
    })
}

/// The resources whose `Condition` is false, with that condition: CloudFormation does not create
/// them, so they are left out (SAM's implicit resources go with their function).
fn not_created(doc: &Doc) -> Result<BTreeMap<String, String>, TemplateError> {
    let resolver = Resolver::new(doc);
    let mut out = BTreeMap::new();
    for (id, raw) in &doc.resources {
        let Some(condition) = &raw.condition else { continue };
        if !resolver.condition(condition, &Site::Resource(id.clone()), "Condition")? {
            out.insert(id.clone(), condition.clone());
        }
    }
    Ok(out)
}

/// Whether the SAM transform applies; any other transform is refused.
fn transform(section: Option<&Yaml>) -> Result<bool, TemplateError> {
    let names: Vec<String> = match section {
        None => return Ok(false),
        Some(Yaml::Sequence(items)) => items.iter().map(|i| scalar_text(i).unwrap_or_default()).collect(),
        Some(other) => vec![scalar_text(other).unwrap_or_default()],
    };
    match names.iter().find(|name| *name != SAM_TRANSFORM) {
        Some(other) => Err(section_error(
            "Transform",
            format!("{other} is not supported by the local loader (only {SAM_TRANSFORM})"),
        )),
        None => Ok(!names.is_empty()),
    }
}

/// The `Conditions` section: names to condition functions, evaluated when an `Fn::If` needs one.
fn conditions(section: Option<&Yaml>) -> Result<BTreeMap<String, Node>, TemplateError> {
    let Some(section) = section else {
        return Ok(BTreeMap::new());
    };
    let Yaml::Mapping(entries) = section else {
        return Err(section_error("Conditions", "must map names to condition functions"));
    };
    let site = Site::Section("Conditions".to_owned());
    let mut conditions = BTreeMap::new();
    for (name, condition) in entries {
        let name = scalar_text(name).ok_or_else(|| section_error("Conditions", "condition names must be text"))?;
        conditions.insert(name.clone(), Node::from_yaml(condition, &site, &name)?);
    }
    Ok(conditions)
}

fn mappings(section: Option<&Yaml>) -> Result<serde_json::Map<String, Value>, TemplateError> {
    let Some(section) = section else {
        return Ok(serde_json::Map::new());
    };
    let site = Site::Section("Mappings".to_owned());
    let node = Node::from_yaml(section, &site, "")?;
    let malformed = || {
        site.error(
            "",
            "must map names to {TopLevelKey: {SecondLevelKey: value}}, without intrinsic functions",
        )
    };
    let Some(Value::Object(maps)) = node.to_json() else {
        return Err(malformed());
    };
    let well_formed = maps
        .values()
        .all(|map| map.as_object().is_some_and(|top| top.values().all(Value::is_object)));
    if well_formed { Ok(maps) } else { Err(malformed()) }
}

fn resources(
    section: Option<&Yaml>,
    function_globals: Option<&Node>,
    sam: bool,
) -> Result<BTreeMap<String, RawResource>, TemplateError> {
    let Some(Yaml::Mapping(declarations)) = section else {
        return Err(section_error(
            "Resources",
            "a template needs a Resources mapping with at least one resource",
        ));
    };
    if declarations.is_empty() {
        return Err(section_error("Resources", "a template needs at least one resource"));
    }
    let mut out = BTreeMap::new();
    let mut implicit = Vec::new();
    for (id, declaration) in declarations {
        let id = scalar_text(id).unwrap_or_default();
        let site = Site::Resource(id.clone());
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(site.error("logical id", "logical ids are ASCII letters and digits only"));
        }
        let Yaml::Mapping(declaration) = declaration else {
            return Err(site.error("Type", "a resource must be a mapping with a Type"));
        };
        let kind = declaration
            .get("Type")
            .and_then(scalar_text)
            .ok_or_else(|| site.error("Type", "a resource needs a Type"))?;
        let is_function = kind == "AWS::Serverless::Function";
        for key in declaration.keys() {
            let key = scalar_text(key).unwrap_or_default();
            let sam_attribute = is_function && key == "IgnoreGlobals";
            if !(RESOURCE_ATTRIBUTES.contains(&key.as_str()) || sam_attribute) {
                return Err(site.error(&key, "not a resource attribute"));
            }
        }
        if let Some(sam_kind) = kind.strip_prefix("AWS::Serverless::") {
            if !sam {
                return Err(site.error(
                    "Type",
                    format!("{kind} is SAM syntax: it needs `Transform: {SAM_TRANSFORM}`"),
                ));
            }
            if !is_function {
                return Err(site.error(
                    "Type",
                    format!(
                        "{kind} is not supported by the local loader (only AWS::Serverless::Function): declare the CloudFormation resources it stands for (AWS::Serverless::{sam_kind} is expanded by SAM)"
                    ),
                ));
            }
        }
        let mut properties = match declaration.get("Properties") {
            None | Some(Yaml::Null) => Node::Map(Vec::new()),
            Some(value) => Node::from_yaml(value, &site, "Properties")?,
        };
        if !matches!(properties, Node::Map(_)) {
            return Err(site.error("Properties", "must be a mapping"));
        }
        let metadata = declaration
            .get("Metadata")
            .map(|m| Node::from_yaml(m, &site, "Metadata"))
            .transpose()?;
        let condition = match declaration.get("Condition") {
            None => None,
            Some(Yaml::String(name)) => Some(name.clone()),
            Some(_) => return Err(site.error("Condition", "must be the name of a condition of the Conditions section")),
        };
        let depends_on = match declaration.get("DependsOn") {
            None => Vec::new(),
            Some(Yaml::Sequence(items)) => items.iter().filter_map(scalar_text).collect(),
            Some(one) => vec![
                scalar_text(one).ok_or_else(|| site.error("DependsOn", "must be a logical id or a list of them"))?,
            ],
        };
        if is_function {
            if let Some(globals) = function_globals {
                let globals = globals::without_ignored(globals, declaration.get("IgnoreGlobals"), &site)?;
                properties = globals::merge(&globals, &properties);
            }
            implicit.extend(sam_function(&id, &properties, condition.as_ref(), &site)?);
        }
        out.insert(
            id,
            RawResource {
                kind,
                properties,
                metadata,
                depends_on,
                condition,
                generated_by: None,
            },
        );
    }
    for (id, resource) in implicit {
        if out.contains_key(&id) {
            let owner = resource.generated_by.unwrap_or_default();
            return Err(Site::Resource(id).error(
                "logical id",
                format!("SAM generates a resource with this logical id for {owner}; rename this one"),
            ));
        }
        out.insert(id, resource);
    }
    for (id, resource) in &out {
        if let Some(missing) = resource.depends_on.iter().find(|d| !out.contains_key(*d)) {
            return Err(Site::Resource(id.clone())
                .error("DependsOn", format!("'{missing}' is not a resource of this template")));
        }
    }
    Ok(out)
}

/// Checks an `AWS::Serverless::Function` (Globals merged) for SAM constructs that would change
/// what gets deployed in ways the loader does not model, and returns the implicit resources SAM
/// would create that templates may reference: `<Function>Role` (without a Role property) and
/// `<Function>Url` (with FunctionUrlConfig). `Events` stay in the properties, resolved, for the
/// local cloud to wire; the resources SAM generates from them are not added.
fn sam_function(
    id: &str,
    properties: &Node,
    condition: Option<&String>,
    site: &Site,
) -> Result<Vec<(String, RawResource)>, TemplateError> {
    const NOT_EXPANDED: &[(&str, &str)] = &[
        (
            "AutoPublishAlias",
            "the version and alias SAM would publish are not modelled by the local loader: remove it",
        ),
        (
            "DeploymentPreference",
            "CodeDeploy deployments are not modelled by the local loader: remove it",
        ),
    ];
    for (property, reason) in NOT_EXPANDED {
        if properties.get(property).is_some() {
            return Err(site.error(&format!("Properties.{property}"), *reason));
        }
    }
    let implicit = |kind: &str, entries: Vec<(String, Node)>| RawResource {
        kind: kind.to_owned(),
        properties: Node::Map(entries),
        metadata: None,
        depends_on: Vec::new(),
        condition: condition.cloned(),
        generated_by: Some(id.to_owned()),
    };
    let mut out = Vec::new();
    if properties.get("Role").is_none() {
        let mut entries = Vec::new();
        if let Some(path) = properties.get("RolePath") {
            entries.push(("Path".to_owned(), path.clone()));
        }
        out.push((format!("{id}Role"), implicit("AWS::IAM::Role", entries)));
    }
    if let Some(config) = properties.get("FunctionUrlConfig") {
        let Node::Map(config) = config else {
            return Err(site.error(
                "Properties.FunctionUrlConfig",
                "must be a mapping (AuthType, Cors, InvokeMode)",
            ));
        };
        let mut entries: Vec<(String, Node)> = config
            .iter()
            .filter(|(k, _)| ["AuthType", "Cors", "InvokeMode"].contains(&k.as_str()))
            .cloned()
            .collect();
        // What SAM writes: `TargetFunctionArn: !Ref <Function>` (the function name).
        entries.push((
            "TargetFunctionArn".to_owned(),
            Node::Func(Func::Ref, Box::new(Node::String(id.to_owned()))),
        ));
        out.push((format!("{id}Url"), implicit("AWS::Lambda::Url", entries)));
    }
    Ok(out)
}

/// CloudFormation refuses templates whose resources depend on each other in a circle (through
/// Ref, Fn::GetAtt, Fn::Sub or DependsOn); so does the loader.
fn check_cycles(resources: &BTreeMap<String, RawResource>) -> Result<(), TemplateError> {
    let edges: BTreeMap<&str, BTreeSet<String>> = resources
        .iter()
        .map(|(id, raw)| {
            let mut targets = BTreeSet::new();
            references(&raw.properties, &mut targets);
            if let Some(metadata) = &raw.metadata {
                references(metadata, &mut targets);
            }
            targets.extend(raw.depends_on.iter().cloned());
            targets.retain(|t| resources.contains_key(t));
            (id.as_str(), targets)
        })
        .collect();
    let mut done = BTreeSet::new();
    for id in edges.keys() {
        visit(id, &edges, &mut done, &mut Vec::new())?;
    }
    Ok(())
}

/// Depth first from `id`; `path` is the chain followed to get there.
fn visit<'a>(
    id: &'a str,
    edges: &'a BTreeMap<&str, BTreeSet<String>>,
    done: &mut BTreeSet<&'a str>,
    path: &mut Vec<&'a str>,
) -> Result<(), TemplateError> {
    if done.contains(id) {
        return Ok(());
    }
    if let Some(start) = path.iter().position(|p| *p == id) {
        let cycle: Vec<&str> = path[start..].iter().copied().chain([id]).collect();
        return Err(section_error(
            "Resources",
            format!("circular dependency between resources: {}", cycle.join(" -> ")),
        ));
    }
    path.push(id);
    for target in edges.get(id).into_iter().flatten() {
        visit(target, edges, done, path)?;
    }
    path.pop();
    done.insert(id);
    Ok(())
}

/// The names a value refers to through Ref, Fn::GetAtt and Fn::Sub.
fn references(node: &Node, out: &mut BTreeSet<String>) {
    match node {
        Node::Func(Func::Ref, arg) => {
            if let Node::String(target) = &**arg {
                out.insert(target.clone());
            }
        }
        Node::Func(Func::GetAtt, arg) => match &**arg {
            Node::String(dotted) => {
                out.insert(dotted.split('.').next().unwrap_or_default().to_owned());
            }
            Node::List(items) => {
                if let Some(Node::String(target)) = items.first() {
                    out.insert(target.clone());
                }
                items.iter().skip(1).for_each(|item| references(item, out));
            }
            other => references(other, out),
        },
        Node::Func(Func::Sub, arg) => {
            let (template, vars) = match &**arg {
                Node::String(template) => (template, None),
                Node::List(items) => match (items.first(), items.get(1)) {
                    (Some(Node::String(template)), vars) => (template, vars),
                    _ => return references(arg, out),
                },
                other => return references(other, out),
            };
            for piece in sub_pieces(template).unwrap_or_default() {
                if let Piece::Var(name) = piece
                    && vars.and_then(|v| v.get(&name)).is_none()
                {
                    out.insert(name.split('.').next().unwrap_or_default().to_owned());
                }
            }
            if let Some(vars) = vars {
                references(vars, out);
            }
        }
        Node::Func(_, arg) => references(arg, out),
        Node::List(items) => items.iter().for_each(|item| references(item, out)),
        Node::Map(entries) => entries.iter().for_each(|(_, value)| references(value, out)),
        Node::Null | Node::Bool(_) | Node::Number(_) | Node::String(_) => {}
    }
}

fn outputs(section: Option<&Yaml>, resolver: &Resolver<'_>) -> Result<BTreeMap<String, Value>, TemplateError> {
    let mut out = BTreeMap::new();
    let Some(section) = section else {
        return Ok(out);
    };
    let Yaml::Mapping(declarations) = section else {
        return Err(section_error(
            "Outputs",
            "must be a mapping of output names to {Value, Description, Export}",
        ));
    };
    for (name, declaration) in declarations {
        let name = scalar_text(name).unwrap_or_default();
        let site = Site::Output(name.clone());
        let Yaml::Mapping(declaration) = declaration else {
            return Err(site.error("Value", "an output must be a mapping with a Value"));
        };
        for key in declaration.keys() {
            match scalar_text(key).unwrap_or_default().as_str() {
                "Value" | "Description" | "Export" | "Condition" => {}
                other => {
                    return Err(site.error(other, "not an output attribute (Value, Description, Export, Condition)"));
                }
            }
        }
        match declaration.get("Condition") {
            Some(Yaml::String(condition)) if !resolver.condition(condition, &site, "Condition")? => continue,
            None | Some(Yaml::String(_)) => {}
            Some(_) => return Err(site.error("Condition", "must be the name of a condition of the Conditions section")),
        }
        if let Some(export) = declaration.get("Export") {
            // Resolved to report errors; exports only matter to other stacks.
            resolver.value(&Node::from_yaml(export, &site, "Export")?, &site, "Export")?;
        }
        let value = declaration
            .get("Value")
            .ok_or_else(|| site.error("Value", "an output needs a Value"))?;
        let value = resolver.value(&Node::from_yaml(value, &site, "Value")?, &site, "Value")?;
        out.insert(name, value);
    }
    Ok(out)
}
