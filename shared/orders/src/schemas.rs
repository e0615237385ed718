//! The JSON Schema of every orders event type and version, and the checks that keep them a
//! contract.
//!
//! Each version has a file `events/schemas/<source>/<Type>.v<N>.json` ([`file`]). The current
//! version's file is generated from its Rust type ([`current`]); the files of older versions are
//! frozen snapshots (`"$comment": "frozen snapshot of version N"`): the Rust types model only the
//! current version, and an older one lives on as events in flight that an upcaster brings up to
//! date. `tests/schemas.rs` keeps the files current ([`REFRESH`]) and refuses a change to an
//! existing version that [`breaking_changes`] finds: such a change is a new version with an
//! upcaster. [`violations`] checks a payload against a schema, so samples and snapshots can be
//! held to the files.
//!
//! Pure, like the rest of the crate: no file is read or written here.

use std::collections::BTreeSet;
use std::fmt;

use envelope::EventType;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

/// The command that rewrites the schema files of the current versions.
pub const REFRESH: &str = "UPDATE_SCHEMAS=1 cargo test -p orders --test schemas";

/// Keywords that describe without constraining: changing them breaks no one.
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$comment",
    "$defs",
    "definitions",
    "title",
    "description",
    "examples",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
];

/// How many `$ref`s deep a schema may send the checks before it counts as a cycle.
const MAX_DEPTH: usize = 64;

/// The schema of one event type at its current version.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSchema {
    /// The producing system, e.g. `shop.orders`.
    pub source: &'static str,
    /// The event type, e.g. `OrderPlaced`.
    pub event_type: &'static str,
    /// The version the Rust type models.
    pub version: u32,
    /// JSON Schema (draft 2020-12) of the event's `data`, as a consumer reads it.
    pub schema: Value,
}

impl EventSchema {
    /// The schema of `E`'s data at `E::VERSION`, generated from its type.
    pub fn of<E: EventType + JsonSchema>() -> Self {
        let mut schema = SchemaSettings::draft2020_12()
            .for_deserialize()
            .into_generator()
            .into_root_schema_for::<E>();
        schema.insert(
            "$comment".to_owned(),
            Value::String(format!(
                "version {} of {} {}, generated from {} by `{REFRESH}`",
                E::VERSION,
                E::SOURCE,
                E::TYPE,
                std::any::type_name::<E>(),
            )),
        );
        Self {
            source: E::SOURCE,
            event_type: E::TYPE,
            version: E::VERSION,
            schema: schema.to_value(),
        }
    }

    /// Its file, relative to `events/schemas/`.
    pub fn file(&self) -> String {
        file(self.source, self.event_type, self.version)
    }
}

/// The current version of every orders event type, with its schema.
pub fn current() -> Vec<EventSchema> {
    crate::events::schemas()
}

/// The file of a version's schema, relative to `events/schemas/`: `shop.orders/OrderPlaced.v2.json`.
pub fn file(source: &str, event_type: &str, version: u32) -> String {
    format!("{source}/{event_type}.v{version}.json")
}

/// The `$comment` that marks the file of an older version as its frozen snapshot.
pub fn frozen_comment(version: u32) -> String {
    format!("frozen snapshot of version {version}")
}

/// A change between two schemas of one version that would break a consumer or producer of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakingChange {
    /// The field, as a path into the event: `data.lines[].sku`.
    pub at: String,
    /// What changed there.
    pub change: Change,
}

/// What a [`BreakingChange`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A field of the committed schema is gone: removed, or renamed.
    FieldRemoved,
    /// A field is required that was not (a new one, or an optional one).
    FieldRequired,
    /// A required field may now be missing.
    FieldOptional,
    /// The type (or format, e.g. `uint32`) of a value changed.
    TypeChanged {
        /// As committed.
        from: String,
        /// As generated.
        to: String,
    },
    /// A value the committed schema allows is no longer allowed.
    EnumValueRemoved(Value),
    /// A value consumers of the committed schema do not know.
    EnumValueAdded(Value),
    /// Another constraint changed (`minimum`, `pattern`, `additionalProperties`, ...): the
    /// checker does not judge in which direction such a change is safe, so it is breaking.
    ConstraintChanged {
        /// The keyword.
        keyword: String,
        /// As committed, if there.
        from: Option<Value>,
        /// As generated, if there.
        to: Option<Value>,
    },
}

impl fmt::Display for BreakingChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = &self.at;
        match &self.change {
            Change::FieldRemoved => write!(f, "{at}: removed or renamed; consumers that read it would lose it"),
            Change::FieldRequired => write!(
                f,
                "{at}: now required; events of producers that do not send it would be refused"
            ),
            Change::FieldOptional => write!(
                f,
                "{at}: no longer required; consumers that count on it would get events without it"
            ),
            Change::TypeChanged { from, to } => write!(f, "{at}: type changed from {from} to {to}"),
            Change::EnumValueRemoved(value) => {
                write!(f, "{at}: value {value} removed; events that carry it would be refused")
            }
            Change::EnumValueAdded(value) => write!(
                f,
                "{at}: value {value} added; consumers that know every value of this version would refuse it"
            ),
            Change::ConstraintChanged { keyword, from, to } => {
                let shown = |v: &Option<Value>| v.as_ref().map_or("(none)".to_owned(), Value::to_string);
                write!(f, "{at}: `{keyword}` changed from {} to {}", shown(from), shown(to))
            }
        }
    }
}

/// What in `generated` would break a consumer or producer of the same version as `committed`:
/// a field removed or renamed, a type changed, a new required field, an enum value removed
/// or added, any other constraint changed. Empty when the change is compatible: new optional
/// fields, documentation, and `$ref` names are free. `$ref`s to `$defs` are followed.
pub fn breaking_changes(committed: &Value, generated: &Value) -> Vec<BreakingChange> {
    let mut compare = Compare {
        old_root: committed,
        new_root: generated,
        following: Vec::new(),
        found: Vec::new(),
    };
    compare.schemas("data", committed, generated);
    compare.found
}

struct Compare<'a> {
    old_root: &'a Value,
    new_root: &'a Value,
    /// The pairs of `$ref`s being compared, outermost first: a pair met again is a cycle.
    following: Vec<(String, String)>,
    found: Vec<BreakingChange>,
}

impl Compare<'_> {
    fn breaks(&mut self, at: &str, change: Change) {
        self.found.push(BreakingChange {
            at: at.to_owned(),
            change,
        });
    }

    fn schemas(&mut self, at: &str, old: &Value, new: &Value) {
        let (old_ref, new_ref) = (reference(old), reference(new));
        if old_ref.is_none() && new_ref.is_none() {
            self.keywords(at, old, new);
            return;
        }
        let pair = (
            old_ref.unwrap_or_default().to_owned(),
            new_ref.unwrap_or_default().to_owned(),
        );
        if self.following.contains(&pair) || self.following.len() >= MAX_DEPTH {
            return;
        }
        self.following.push(pair);
        let (old, new) = (followed(old, self.old_root), followed(new, self.new_root));
        self.keywords(at, &old, &new);
        self.following.pop();
    }

    fn keywords(&mut self, at: &str, old: &Value, new: &Value) {
        let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else {
            if old != new {
                self.breaks(
                    at,
                    Change::ConstraintChanged {
                        keyword: "(schema)".to_owned(),
                        from: Some(old.clone()),
                        to: Some(new.clone()),
                    },
                );
            }
            return;
        };
        let (old_type, new_type) = (type_of(old), type_of(new));
        if old_type != new_type {
            self.breaks(
                at,
                Change::TypeChanged {
                    from: old_type,
                    to: new_type,
                },
            );
        }
        self.fields(at, old, new);
        self.additional_fields(at, old, new);
        self.allowed_values(at, old, new);
        match (old.get("items"), new.get("items")) {
            (Some(old_items), Some(new_items)) => self.schemas(&format!("{at}[]"), old_items, new_items),
            (None, None) => {}
            (from, to) => self.constraint(at, "items", from, to),
        }
        for keyword in ["anyOf", "oneOf", "allOf", "prefixItems"] {
            match (old.get(keyword), new.get(keyword)) {
                (Some(Value::Array(from)), Some(Value::Array(to))) if from.len() == to.len() => {
                    for (from, to) in from.iter().zip(to) {
                        self.schemas(at, from, to);
                    }
                }
                (from, to) => self.constraint(at, keyword, from, to),
            }
        }
        let handled = [
            "type",
            "format",
            "properties",
            "required",
            "additionalProperties",
            "enum",
            "const",
            "items",
            "anyOf",
            "oneOf",
            "allOf",
            "prefixItems",
            "$ref",
        ];
        let others: BTreeSet<&String> = old
            .keys()
            .chain(new.keys())
            .filter(|k| !handled.contains(&k.as_str()) && !ANNOTATIONS.contains(&k.as_str()))
            .collect();
        for keyword in others {
            self.constraint(at, keyword, old.get(keyword), new.get(keyword));
        }
    }

    fn constraint(&mut self, at: &str, keyword: &str, from: Option<&Value>, to: Option<&Value>) {
        if from != to {
            self.breaks(
                at,
                Change::ConstraintChanged {
                    keyword: keyword.to_owned(),
                    from: from.cloned(),
                    to: to.cloned(),
                },
            );
        }
    }

    fn fields(&mut self, at: &str, old: &Map<String, Value>, new: &Map<String, Value>) {
        let empty = Map::new();
        let (old_fields, new_fields) = (properties(old).unwrap_or(&empty), properties(new).unwrap_or(&empty));
        let (old_required, new_required) = (required(old), required(new));
        let names: BTreeSet<&String> = old_fields
            .keys()
            .chain(new_fields.keys())
            .chain(&old_required)
            .chain(&new_required)
            .collect();
        for name in names {
            let field = format!("{at}.{name}");
            let (was, is) = (old_required.contains(name), new_required.contains(name));
            match (old_fields.get(name), new_fields.get(name)) {
                (Some(_), None) => {
                    self.breaks(&field, Change::FieldRemoved);
                    continue;
                }
                (Some(from), Some(to)) => self.schemas(&field, from, to),
                _ => {}
            }
            match (was, is) {
                (false, true) => self.breaks(&field, Change::FieldRequired),
                (true, false) => self.breaks(&field, Change::FieldOptional),
                _ => {}
            }
        }
    }

    /// Fields the schema does not name. Accepting them never breaks anyone (consumers tolerate
    /// additions); refusing them, or changing what they may hold, does.
    fn additional_fields(&mut self, at: &str, old: &Map<String, Value>, new: &Map<String, Value>) {
        match (old.get("additionalProperties"), new.get("additionalProperties")) {
            (from, to) if from == to => {}
            (_, None | Some(Value::Bool(true))) => {}
            (Some(from @ Value::Object(_)), Some(to @ Value::Object(_))) => self.schemas(&format!("{at}.*"), from, to),
            (from, to) => self.constraint(at, "additionalProperties", from, to),
        }
    }

    fn allowed_values(&mut self, at: &str, old: &Map<String, Value>, new: &Map<String, Value>) {
        match (allowed(old), allowed(new)) {
            (None, None) => {}
            (Some(from), Some(to)) => {
                for value in from.iter().filter(|v| !to.contains(v)) {
                    self.breaks(at, Change::EnumValueRemoved(value.clone()));
                }
                for value in to.iter().filter(|v| !from.contains(v)) {
                    self.breaks(at, Change::EnumValueAdded(value.clone()));
                }
            }
            (from, to) => self.breaks(
                at,
                Change::ConstraintChanged {
                    keyword: "enum".to_owned(),
                    from: from.map(Value::Array),
                    to: to.map(Value::Array),
                },
            ),
        }
    }
}

fn reference(schema: &Value) -> Option<&str> {
    schema.get("$ref").and_then(Value::as_str)
}

/// The schema a `$ref` points to, with the keywords beside the `$ref` laid over it. A `$ref`
/// that leads nowhere stays, so it is compared as written.
fn followed(schema: &Value, root: &Value) -> Value {
    let mut seen = Vec::new();
    let mut schema = schema.clone();
    while let Some(reference) = reference(&schema).map(str::to_owned) {
        let target = reference.strip_prefix('#').and_then(|pointer| root.pointer(pointer));
        let (Some(Value::Object(target)), Value::Object(beside)) = (target, &schema) else {
            break;
        };
        if seen.contains(&reference) {
            break;
        }
        let mut merged = target.clone();
        merged.extend(
            beside
                .iter()
                .filter(|(k, _)| *k != "$ref")
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        seen.push(reference);
        schema = Value::Object(merged);
    }
    schema
}

fn properties(schema: &Map<String, Value>) -> Option<&Map<String, Value>> {
    schema.get("properties").and_then(Value::as_object)
}

fn required(schema: &Map<String, Value>) -> BTreeSet<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|name| name.as_str().map(str::to_owned))
        .collect()
}

/// `integer (uint32)`, `string or null`, `any`.
fn type_of(schema: &Map<String, Value>) -> String {
    let types: BTreeSet<&str> = match schema.get("type") {
        Some(Value::String(one)) => BTreeSet::from([one.as_str()]),
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => BTreeSet::new(),
    };
    let mut shown = if types.is_empty() {
        "any".to_owned()
    } else {
        types.into_iter().collect::<Vec<_>>().join(" or ")
    };
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        shown.push_str(&format!(" ({format})"));
    }
    shown
}

/// The values `enum` or `const` allow, if either is there.
fn allowed(schema: &Map<String, Value>) -> Option<Vec<Value>> {
    match (schema.get("enum"), schema.get("const")) {
        (Some(Value::Array(values)), _) => Some(values.clone()),
        (_, Some(value)) => Some(vec![value.clone()]),
        _ => None,
    }
}

/// Where `instance` does not conform to `schema`, each as `path: what`, paths from `data`.
///
/// Covers the keywords the generated schemas and the snapshots use: `type`, `format` (the
/// integer formats, checked as ranges, as serde reads them), `minimum`, `maximum`,
/// `properties`, `required`, `additionalProperties`, `items`, `enum`, `const`, `anyOf`,
/// `oneOf`, `allOf` and local `$ref`s. Any other keyword is reported as not supported rather
/// than passed over. A whole number written with a fraction (`2.0`) is not an integer here,
/// as serde does not read it as one.
pub fn violations(schema: &Value, instance: &Value) -> Vec<String> {
    let mut found = Vec::new();
    validate(schema, schema, instance, "data", 0, &mut found);
    found
}

fn validate(root: &Value, schema: &Value, instance: &Value, at: &str, depth: usize, found: &mut Vec<String>) {
    let keywords = match schema {
        Value::Bool(true) => return,
        Value::Object(keywords) => keywords,
        _ => return found.push(format!("{at}: no value is allowed here")),
    };
    if depth > MAX_DEPTH {
        return found.push(format!("{at}: the schema's $refs go round in a circle"));
    }
    for (keyword, value) in keywords {
        match keyword.as_str() {
            k if ANNOTATIONS.contains(&k) => {}
            "$ref" => match value
                .as_str()
                .and_then(|r| r.strip_prefix('#'))
                .and_then(|p| root.pointer(p))
            {
                Some(target) => validate(root, target, instance, at, depth + 1, found),
                None => found.push(format!("{at}: $ref {value} leads nowhere")),
            },
            "type" => {
                let types: Vec<&str> = match value {
                    Value::String(one) => vec![one.as_str()],
                    Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                    _ => Vec::new(),
                };
                if !types.iter().any(|t| is_of_type(instance, t)) {
                    found.push(format!("{at}: {instance} is not of type {}", types.join(" or ")));
                }
            }
            "format" => match (value.as_str().and_then(integer_range), instance) {
                (Some((min, max)), Value::Number(n)) => {
                    let fits = n.as_i64().map(i128::from).or(n.as_u64().map(i128::from));
                    if !fits.is_some_and(|n| (min..=max).contains(&n)) {
                        found.push(format!("{at}: {n} is not a {value}"));
                    }
                }
                (Some(_), _) => {}
                (None, _) => found.push(format!("{at}: format {value} is not supported by this checker")),
            },
            "minimum" | "maximum" => {
                if let (Some(bound), Some(n)) = (value.as_f64(), instance.as_f64()) {
                    let outside = if keyword == "minimum" { n < bound } else { n > bound };
                    if outside {
                        found.push(format!("{at}: {instance} is outside the {keyword} {value}"));
                    }
                }
            }
            "properties" => {
                for (name, sub) in value.as_object().into_iter().flatten() {
                    if let Some(field) = instance.get(name) {
                        validate(root, sub, field, &format!("{at}.{name}"), depth, found);
                    }
                }
            }
            "additionalProperties" => {
                let named = keywords.get("properties").and_then(Value::as_object);
                let others = instance.as_object().into_iter().flatten();
                for (name, field) in others.filter(|(name, _)| !named.is_some_and(|p| p.contains_key(*name))) {
                    validate(root, value, field, &format!("{at}.{name}"), depth, found);
                }
            }
            "required" => {
                if let Some(object) = instance.as_object() {
                    for name in value.as_array().into_iter().flatten().filter_map(Value::as_str) {
                        if !object.contains_key(name) {
                            found.push(format!("{at}.{name}: required field is missing"));
                        }
                    }
                }
            }
            "items" => {
                for (i, item) in instance.as_array().into_iter().flatten().enumerate() {
                    validate(root, value, item, &format!("{at}[{i}]"), depth, found);
                }
            }
            "enum" => {
                if !value.as_array().is_some_and(|values| values.contains(instance)) {
                    found.push(format!("{at}: {instance} is not one of {value}"));
                }
            }
            "const" => {
                if value != instance {
                    found.push(format!("{at}: {instance} is not {value}"));
                }
            }
            "anyOf" | "oneOf" | "allOf" => {
                let alternatives = value.as_array().map(Vec::as_slice).unwrap_or_default();
                let matching = alternatives
                    .iter()
                    .filter(|alternative| {
                        let mut inner = Vec::new();
                        validate(root, alternative, instance, at, depth + 1, &mut inner);
                        inner.is_empty()
                    })
                    .count();
                let conforms = match keyword.as_str() {
                    "anyOf" => matching > 0,
                    "oneOf" => matching == 1,
                    _ => matching == alternatives.len(),
                };
                if !conforms {
                    found.push(format!("{at}: {instance} matches {matching} of the {keyword} schemas"));
                }
            }
            other => found.push(format!("{at}: keyword `{other}` is not supported by this checker")),
        }
    }
}

fn is_of_type(instance: &Value, name: &str) -> bool {
    match name {
        "null" => instance.is_null(),
        "boolean" => instance.is_boolean(),
        "string" => instance.is_string(),
        "integer" => instance.is_i64() || instance.is_u64(),
        "number" => instance.is_number(),
        "array" => instance.is_array(),
        "object" => instance.is_object(),
        _ => false,
    }
}

/// The range of an integer format, as schemars writes them for Rust's integer types.
fn integer_range(format: &str) -> Option<(i128, i128)> {
    Some(match format {
        "uint8" => (0, u8::MAX.into()),
        "uint16" => (0, u16::MAX.into()),
        "uint32" => (0, u32::MAX.into()),
        "uint64" => (0, u64::MAX.into()),
        "int8" => (i8::MIN.into(), i8::MAX.into()),
        "int16" => (i16::MIN.into(), i16::MAX.into()),
        "int32" => (i32::MIN.into(), i32::MAX.into()),
        "int64" => (i64::MIN.into(), i64::MAX.into()),
        _ => return None,
    })
}
