//! Request parameters checked against tables generated from a vendor's OpenAPI
//! (for Stripe: `infra/gen/stripe`, committed under `stripe/generated/`), so that
//! resource files hold behaviour, not per-field parsing.
//!
//! * [`Schema`] — the JSON-Schema subset the generators write: objects (declared
//!   properties, `required`, `additionalProperties` a schema or `false`), strings
//!   (`maxLength`, `enum`), integers, numbers (`format: decimal` for decimal
//!   strings), booleans, arrays and `anyOf` (typically a value or `""` = "unset").
//! * [`OperationTable`] — every emulated operation's parameter schema by
//!   operationId, and every route of the vendor's API by (method, concrete path),
//!   so an unserved path can be told apart from an unknown one.
//! * [`validate`] — checks a request's parameters and returns them normalized, or
//!   the first [`ParamError`], named by its parameter's path in bracket notation
//!   (`shipping[address][line1]`, `items[0][price]`). Vendors word the errors.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Number, Value};

// ---------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------

/// What a parameter may be. Deserialized from the generators' JSON (see the
/// module docs); an object without `additionalProperties` takes no other keys.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawSchema")]
pub enum Schema {
    Object(ObjectSchema),
    String(StringSchema),
    Integer,
    /// A number; `decimal` ones are decimal strings on Stripe's wire (`"12.5"`)
    /// and stay strings after validation, so no precision is lost.
    Number {
        decimal: bool,
    },
    Boolean,
    Array(Box<Schema>),
    AnyOf(Vec<Schema>),
    /// Anything (`{}`).
    Any,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectSchema {
    pub properties: BTreeMap<String, Schema>,
    pub required: Vec<String>,
    /// The schema of keys not in `properties` (a map such as `metadata`), or
    /// `None`: other keys are unknown parameters.
    pub additional: Option<Box<Schema>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StringSchema {
    /// In characters.
    pub max_length: Option<usize>,
    /// The allowed values, when the parameter is an enum. `""` among them means
    /// the parameter can be unset.
    pub values: Option<Vec<String>>,
}

impl Schema {
    /// True when `""` is one of this schema's own values (an enum that lists it,
    /// or an `anyOf` with such an alternative): the vendor's way to say "unset".
    pub fn allows_empty(&self) -> bool {
        match self {
            Schema::String(s) => s
                .values
                .as_ref()
                .is_some_and(|v| v.iter().any(|x| x.is_empty())),
            Schema::AnyOf(alts) => alts.iter().any(Schema::allows_empty),
            _ => false,
        }
    }

    /// The declared properties when this is an object schema (or an `anyOf` with one).
    pub fn object(&self) -> Option<&ObjectSchema> {
        match self {
            Schema::Object(o) => Some(o),
            Schema::AnyOf(alts) => alts.iter().find_map(Schema::object),
            _ => None,
        }
    }

    fn is_empty_marker(&self) -> bool {
        matches!(self, Schema::String(StringSchema { values: Some(v), .. }) if v.iter().all(String::is_empty))
    }
}

/// The generators' JSON, before it is checked into a [`Schema`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    properties: BTreeMap<String, Schema>,
    #[serde(default)]
    required: Vec<String>,
    #[serde(rename = "additionalProperties")]
    additional: Option<Additional>,
    items: Option<Box<Schema>>,
    #[serde(rename = "maxLength")]
    max_length: Option<usize>,
    #[serde(rename = "enum")]
    values: Option<Vec<String>>,
    format: Option<String>,
    #[serde(rename = "anyOf")]
    any_of: Option<Vec<Schema>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Additional {
    Allowed(bool),
    Schema(Box<Schema>),
}

impl TryFrom<RawSchema> for Schema {
    type Error = String;

    fn try_from(r: RawSchema) -> Result<Self, Self::Error> {
        if let Some(alts) = r.any_of {
            if r.kind.is_some() {
                return Err("a schema has both `type` and `anyOf`".into());
            }
            return Ok(Schema::AnyOf(alts));
        }
        let Some(kind) = r.kind else {
            return Ok(Schema::Any);
        };
        Ok(match kind.as_str() {
            "object" => {
                for name in &r.required {
                    if !r.properties.contains_key(name) {
                        return Err(format!("required property {name} is not declared"));
                    }
                }
                Schema::Object(ObjectSchema {
                    properties: r.properties,
                    required: r.required,
                    additional: match r.additional {
                        None | Some(Additional::Allowed(false)) => None,
                        Some(Additional::Allowed(true)) => Some(Box::new(Schema::Any)),
                        Some(Additional::Schema(s)) => Some(s),
                    },
                })
            }
            "string" => Schema::String(StringSchema {
                max_length: r.max_length,
                values: r.values,
            }),
            "integer" => Schema::Integer,
            "number" => Schema::Number {
                decimal: r.format.as_deref() == Some("decimal"),
            },
            "boolean" => Schema::Boolean,
            "array" => Schema::Array(r.items.ok_or("an array schema without `items`")?),
            other => return Err(format!("unsupported schema type {other:?}")),
        })
    }
}

// ---------------------------------------------------------------------------
// Generated tables
// ---------------------------------------------------------------------------

/// One emulated operation: where it lives and what parameters it takes (the
/// query string for GET and DELETE, the body for POST).
#[derive(Debug, Clone, Deserialize)]
pub struct Operation {
    /// The vendor's operationId (`PostPaymentIntents`).
    #[serde(skip_deserializing)]
    pub id: String,
    /// `GET`, `POST`, `DELETE`, …
    pub method: String,
    /// The path template (`/v1/payment_intents/{intent}/confirm`).
    pub path: String,
    /// The object type it answers with (`payment_intent`, `list`, …).
    pub returns: Option<String>,
    /// For lists and search results: the type of their items.
    pub items: Option<String>,
    pub params: Schema,
}

/// An operation of the vendor's API, emulated or not.
#[derive(Debug, Clone, Deserialize)]
pub struct Route {
    pub id: String,
    pub method: String,
    pub path: String,
    /// Where the generator knew it from (Stripe: `spec` or `sdk`).
    #[serde(default)]
    pub source: String,
}

/// An object type: its fields, and the fields (dotted paths into nested hashes)
/// that `expand` may replace with the object they name.
#[derive(Debug, Clone, Deserialize)]
pub struct ObjectType {
    pub fields: Vec<String>,
    /// Path → the object types the expanded value may be.
    pub expandable: BTreeMap<String, Vec<String>>,
}

/// A vendor's generated tables, parsed once (keep it in a `LazyLock`).
#[derive(Debug)]
pub struct OperationTable {
    api_version: String,
    operations: BTreeMap<String, Operation>,
    routes: Vec<(Route, Vec<Option<String>>)>,
    objects: BTreeMap<String, ObjectType>,
}

#[derive(Deserialize)]
struct OperationsFile {
    api_version: String,
    operations: BTreeMap<String, Operation>,
}

#[derive(Deserialize)]
struct RoutesFile {
    routes: Vec<Route>,
}

#[derive(Deserialize)]
struct ObjectsFile {
    objects: BTreeMap<String, ObjectType>,
}

impl OperationTable {
    /// Parses `operations.json`, `routes.json` and `objects.json` as the
    /// generators write them.
    pub fn from_json(operations: &str, routes: &str, objects: &str) -> Result<Self, String> {
        let ops: OperationsFile =
            serde_json::from_str(operations).map_err(|e| format!("operations.json: {e}"))?;
        let rs: RoutesFile =
            serde_json::from_str(routes).map_err(|e| format!("routes.json: {e}"))?;
        let objs: ObjectsFile =
            serde_json::from_str(objects).map_err(|e| format!("objects.json: {e}"))?;
        let operations = ops
            .operations
            .into_iter()
            .map(|(id, mut op)| {
                op.id.clone_from(&id);
                op.method.make_ascii_uppercase();
                (id, op)
            })
            .collect();
        let routes = rs
            .routes
            .into_iter()
            .map(|mut r| {
                r.method.make_ascii_uppercase();
                let segs = segments(&r.path)
                    .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.to_string()))
                    .collect();
                (r, segs)
            })
            .collect();
        Ok(OperationTable {
            api_version: ops.api_version,
            operations,
            routes,
            objects: objs.objects,
        })
    }

    /// The API version the tables describe.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.get(id)
    }

    /// Every operation with a parameter schema, by operationId.
    pub fn operations(&self) -> impl Iterator<Item = &Operation> {
        self.operations.values()
    }

    pub fn object_type(&self, name: &str) -> Option<&ObjectType> {
        self.objects.get(name)
    }

    /// The route a request for `method` and concrete `path` (`/v1/customers/cus_1`)
    /// would reach; literal segments win over `{placeholders}`
    /// (`/v1/customers/search` is not a customer id).
    pub fn route(&self, method: &str, path: &str) -> Option<&Route> {
        let given: Vec<&str> = segments(path).collect();
        let mut best: Option<(&Route, Vec<bool>)> = None;
        for (r, segs) in &self.routes {
            let fits = r.method.eq_ignore_ascii_case(method)
                && segs.len() == given.len()
                && segs.iter().zip(&given).all(|(s, g)| {
                    !g.is_empty() && s.as_deref().is_none_or(|literal| literal == *g)
                });
            if !fits {
                continue;
            }
            // Literal segments, left to right, rank a route: `/v1/customers/search`
            // beats `/v1/customers/{customer}`.
            let rank: Vec<bool> = segs.iter().map(Option::is_some).collect();
            if best.as_ref().is_none_or(|(_, b)| rank > *b) {
                best = Some((r, rank));
            }
        }
        best.map(|(r, _)| r)
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_end_matches('/').split('/').skip(1)
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

/// How the parameters arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Form-encoded (Stripe): a tree whose leaves are strings, as
    /// `stripe::form::decode` builds it. Leaves are coerced (`"12"` → `12`,
    /// `"true"` → `true`); a hash whose keys are all indices (`k[0]=a&k[1]=b`) is
    /// an array; `""` is "unset" (JSON `null`) where the schema allows it (its own
    /// `""` value, or an optional plain string).
    Form,
    /// A JSON body (Resend, Twilio's JSON APIs): types must match exactly.
    Json,
}

/// The first thing wrong with a request's parameters. `param` is the
/// parameter's path in bracket notation (`shipping[address][line1]`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamError {
    #[error("unknown parameter {param}")]
    Unknown { param: String },
    #[error("missing required parameter {param}")]
    Missing { param: String },
    #[error("{param}: {value} is not an integer")]
    InvalidInteger { param: String, value: String },
    /// `decimal`: the schema's number is a decimal string.
    #[error("{param}: {value} is not a number")]
    InvalidNumber {
        param: String,
        value: String,
        decimal: bool,
    },
    #[error("{param}: {value} is not a boolean")]
    InvalidBoolean { param: String, value: String },
    /// `allowed`: the schema's values, without `""`.
    #[error("{param}: {value} is not one of {}", allowed.join(", "))]
    NotInEnum {
        param: String,
        value: String,
        allowed: Vec<String>,
    },
    #[error("{param}: longer than {max} characters")]
    TooLong {
        param: String,
        value: String,
        max: usize,
    },
    /// An empty value where the parameter cannot be unset.
    #[error("{param}: empty, and it cannot be unset")]
    Empty { param: String },
    #[error("{param}: expected a hash")]
    ExpectedObject { param: String },
    #[error("{param}: expected an array")]
    ExpectedArray { param: String },
    /// A hash or an array (`value`, as JSON) where a string belongs.
    #[error("{param}: expected a string, got {value}")]
    ExpectedString { param: String, value: String },
}

impl ParamError {
    /// The offending parameter's path in bracket notation.
    pub fn param(&self) -> &str {
        match self {
            ParamError::Unknown { param }
            | ParamError::Missing { param }
            | ParamError::InvalidInteger { param, .. }
            | ParamError::InvalidNumber { param, .. }
            | ParamError::InvalidBoolean { param, .. }
            | ParamError::NotInEnum { param, .. }
            | ParamError::TooLong { param, .. }
            | ParamError::Empty { param }
            | ParamError::ExpectedObject { param }
            | ParamError::ExpectedArray { param }
            | ParamError::ExpectedString { param, .. } => param,
        }
    }
}

/// Checks `input` (the request's parameters) against `schema` and returns them
/// normalized: typed leaves, arrays for index hashes, `null` for "unset". The
/// first problem wins, looked for in this order at each level: unknown keys,
/// missing required ones, then each value in key order.
pub fn validate(input: &Value, schema: &Schema, enc: Encoding) -> Result<Value, ParamError> {
    check(input, schema, enc, "", Slot::Required)
}

/// Where a value sits: a property the caller may leave out, one it must send, or
/// an array item. Only an optional plain string reads `""` as "unset".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Optional,
    Required,
    Item,
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}[{key}]")
    }
}

/// A value as a message shows it: strings as they are, the rest as JSON.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn check(
    input: &Value,
    schema: &Schema,
    enc: Encoding,
    path: &str,
    slot: Slot,
) -> Result<Value, ParamError> {
    if enc == Encoding::Form && (input.is_null() || input.as_str() == Some("")) {
        return empty(schema, path, slot);
    }
    match schema {
        Schema::Any => Ok(input.clone()),
        Schema::AnyOf(alts) => any_of(input, alts, enc, path, slot),
        Schema::Object(o) => object(input, o, enc, path),
        Schema::Array(items) => array(input, items, enc, path),
        Schema::String(s) => string(input, s, enc, path),
        Schema::Integer => integer(input, enc, path),
        Schema::Number { decimal } => number(input, *decimal, enc, path),
        Schema::Boolean => boolean(input, enc, path),
    }
}

/// A form's `""`: "unset" where the schema allows it.
fn empty(schema: &Schema, path: &str, slot: Slot) -> Result<Value, ParamError> {
    let plain_string = matches!(schema, Schema::String(StringSchema { values: None, .. }))
        || matches!(schema, Schema::AnyOf(alts) if alts.iter().any(|a| matches!(a, Schema::String(StringSchema { values: None, .. }))));
    if schema.allows_empty()
        || (plain_string && slot == Slot::Optional)
        || matches!(schema, Schema::Any)
    {
        Ok(Value::Null)
    } else {
        Err(ParamError::Empty {
            param: path.to_string(),
        })
    }
}

fn any_of(
    input: &Value,
    alts: &[Schema],
    enc: Encoding,
    path: &str,
    slot: Slot,
) -> Result<Value, ParamError> {
    let alts: Vec<&Schema> = alts.iter().filter(|a| !a.is_empty_marker()).collect();
    match input {
        Value::Object(map) => {
            let objects: Vec<&ObjectSchema> = alts
                .iter()
                .filter_map(|a| match a {
                    Schema::Object(o) => Some(o),
                    _ => None,
                })
                .collect();
            // The alternative that knows every key given, else the first.
            let fits = |o: &&&ObjectSchema| {
                o.additional.is_some() || map.keys().all(|k| o.properties.contains_key(k))
            };
            if let Some(o) = objects.iter().find(fits).or(objects.first()) {
                return object(input, o, enc, path);
            }
            if let Some(Schema::Array(items)) = alts.iter().find(|a| matches!(a, Schema::Array(_)))
            {
                return array(input, items, enc, path);
            }
        }
        Value::Array(_) => {
            if let Some(Schema::Array(items)) = alts.iter().find(|a| matches!(a, Schema::Array(_)))
            {
                return array(input, items, enc, path);
            }
        }
        _ => {
            let mut first_err = None;
            for a in alts
                .iter()
                .filter(|a| !matches!(a, Schema::Object(_) | Schema::Array(_)))
            {
                match check(input, a, enc, path, slot) {
                    Ok(v) => return Ok(v),
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = first_err {
                return Err(e);
            }
        }
    }
    // No alternative of the input's shape: say what the first one wanted.
    match alts.first() {
        Some(a) => check(input, a, enc, path, slot),
        None => Err(ParamError::Empty {
            param: path.to_string(),
        }),
    }
}

fn object(input: &Value, o: &ObjectSchema, enc: Encoding, path: &str) -> Result<Value, ParamError> {
    let Value::Object(map) = input else {
        return Err(ParamError::ExpectedObject {
            param: path.to_string(),
        });
    };
    if o.additional.is_none() {
        if let Some(k) = map.keys().find(|k| !o.properties.contains_key(*k)) {
            return Err(ParamError::Unknown {
                param: child(path, k),
            });
        }
    }
    if let Some(k) = o.required.iter().find(|k| !map.contains_key(*k)) {
        return Err(ParamError::Missing {
            param: child(path, k),
        });
    }
    let mut out = Map::new();
    for (k, v) in map {
        let p = child(path, k);
        let (schema, slot) = match o.properties.get(k) {
            Some(s) if o.required.contains(k) => (s, Slot::Required),
            Some(s) => (s, Slot::Optional),
            None => match &o.additional {
                Some(s) => (&**s, Slot::Optional),
                None => return Err(ParamError::Unknown { param: p }),
            },
        };
        out.insert(k.clone(), check(v, schema, enc, &p, slot)?);
    }
    Ok(Value::Object(out))
}

fn array(input: &Value, items: &Schema, enc: Encoding, path: &str) -> Result<Value, ParamError> {
    let given: Vec<(String, &Value)> = match input {
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        // `k[0]=a&k[1]=b` decodes to a hash of indices: an array in index order.
        Value::Object(map) if enc == Encoding::Form => {
            let mut indexed = Vec::with_capacity(map.len());
            for (k, v) in map {
                let Ok(i) = k.parse::<u64>() else {
                    return Err(ParamError::ExpectedArray {
                        param: path.to_string(),
                    });
                };
                indexed.push((i, k.clone(), v));
            }
            indexed.sort_by_key(|(i, _, _)| *i);
            indexed.into_iter().map(|(_, k, v)| (k, v)).collect()
        }
        _ => {
            return Err(ParamError::ExpectedArray {
                param: path.to_string(),
            })
        }
    };
    given
        .into_iter()
        .map(|(k, v)| check(v, items, enc, &format!("{path}[{k}]"), Slot::Item))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

fn string(input: &Value, s: &StringSchema, enc: Encoding, path: &str) -> Result<Value, ParamError> {
    let text = match (input, enc) {
        (Value::String(t), _) => t.clone(),
        // Form trees built from JSON (seed documents) may hold typed leaves.
        (Value::Number(n), Encoding::Form) => n.to_string(),
        (Value::Bool(b), Encoding::Form) => b.to_string(),
        (other, _) => {
            return Err(ParamError::ExpectedString {
                param: path.to_string(),
                value: other.to_string(),
            })
        }
    };
    if let Some(values) = &s.values {
        if !values.contains(&text) {
            return Err(ParamError::NotInEnum {
                param: path.to_string(),
                value: text,
                allowed: values.iter().filter(|v| !v.is_empty()).cloned().collect(),
            });
        }
    }
    if let Some(max) = s.max_length {
        if text.chars().count() > max {
            return Err(ParamError::TooLong {
                param: path.to_string(),
                value: text,
                max,
            });
        }
    }
    Ok(Value::String(text))
}

fn integer(input: &Value, enc: Encoding, path: &str) -> Result<Value, ParamError> {
    let bad = || ParamError::InvalidInteger {
        param: path.to_string(),
        value: shown(input),
    };
    match (input, enc) {
        (Value::Number(n), _) if n.is_i64() || n.is_u64() => Ok(input.clone()),
        (Value::String(s), Encoding::Form) => s.parse::<i64>().map(Value::from).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

fn number(input: &Value, decimal: bool, enc: Encoding, path: &str) -> Result<Value, ParamError> {
    let bad = || ParamError::InvalidNumber {
        param: path.to_string(),
        value: shown(input),
        decimal,
    };
    match input {
        Value::Number(n) if decimal => Ok(Value::String(n.to_string())),
        Value::Number(_) => Ok(input.clone()),
        Value::String(s) if enc == Encoding::Form || decimal => {
            // Rust also reads `inf` and `NaN`; Stripe's decimals are finite.
            let parsed = s
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(bad)?;
            if decimal {
                Ok(Value::String(s.clone()))
            } else {
                Number::from_f64(parsed).map(Value::Number).ok_or_else(bad)
            }
        }
        _ => Err(bad()),
    }
}

fn boolean(input: &Value, enc: Encoding, path: &str) -> Result<Value, ParamError> {
    match (input, enc) {
        (Value::Bool(_), _) => Ok(input.clone()),
        (Value::String(s), Encoding::Form) if s == "true" => Ok(Value::Bool(true)),
        (Value::String(s), Encoding::Form) if s == "false" => Ok(Value::Bool(false)),
        _ => Err(ParamError::InvalidBoolean {
            param: path.to_string(),
            value: shown(input),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(v: Value) -> Schema {
        serde_json::from_value(v).expect("schema")
    }

    fn form(input: Value, s: &Schema) -> Result<Value, ParamError> {
        validate(&input, s, Encoding::Form)
    }

    fn params() -> Schema {
        schema(json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["amount"],
            "properties": {
                "amount": {"type": "integer"},
                "confirm": {"type": "boolean"},
                "rate": {"type": "number"},
                "unit_amount_decimal": {"type": "number", "format": "decimal"},
                "description": {"type": "string", "maxLength": 10},
                "mode": {"type": "string", "enum": ["a", "b", "c"]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "metadata": {"anyOf": [
                    {"type": "object", "additionalProperties": {"type": "string"}},
                    {"type": "string", "enum": [""]}
                ]},
                "created": {"anyOf": [
                    {"type": "object", "additionalProperties": false, "properties": {"gt": {"type": "integer"}}},
                    {"type": "integer"}
                ]},
                "off_session": {"anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["one_off"]}]},
                "items": {"type": "array", "items": {
                    "type": "object", "additionalProperties": false, "required": ["price"],
                    "properties": {"price": {"type": "string"}, "quantity": {"type": "integer"}}
                }}
            }
        }))
    }

    /// Form leaves are coerced to the schema's types.
    #[test]
    fn form_leaves_become_typed_values() {
        let out = form(
            json!({"amount": "12", "confirm": "true", "rate": "1.5", "unit_amount_decimal": "0.000000000001",
                   "tags": ["x"], "created": {"gt": "5"}, "off_session": "one_off"}),
            &params(),
        );
        assert_eq!(
            out,
            Ok(
                json!({"amount": 12, "confirm": true, "rate": 1.5, "unit_amount_decimal": "0.000000000001",
                      "tags": ["x"], "created": {"gt": 5}, "off_session": "one_off"})
            )
        );
        assert_eq!(
            form(
                json!({"amount": "-3", "created": "7", "off_session": "false"}),
                &params()
            ),
            Ok(json!({"amount": -3, "created": 7, "off_session": false}))
        );
    }

    /// `k[0]=…` hashes are arrays, in index order, and errors name the index sent.
    #[test]
    fn index_hashes_are_arrays_and_errors_keep_the_index() {
        let input = json!({"amount": "1", "items": {"1": {"price": "p2"}, "0": {"price": "p1", "quantity": "2"}}});
        assert_eq!(
            form(input, &params()),
            Ok(json!({"amount": 1, "items": [{"price": "p1", "quantity": 2}, {"price": "p2"}]}))
        );
        let input = json!({"amount": "1", "items": {"0": {"price": "p1"}, "3": {"quantity": "x"}}});
        assert_eq!(
            form(input, &params()),
            Err(ParamError::Missing {
                param: "items[3][price]".into()
            })
        );
        let input = json!({"amount": "1", "items": [{"price": "p", "colour": "red"}]});
        assert_eq!(
            form(input, &params()),
            Err(ParamError::Unknown {
                param: "items[0][colour]".into()
            })
        );
        let input = json!({"amount": "1", "items": {"a": {"price": "p"}}});
        assert_eq!(
            form(input, &params()),
            Err(ParamError::ExpectedArray {
                param: "items".into()
            })
        );
    }

    /// Each kind of mistake is reported with its parameter and what was wrong.
    #[test]
    fn mistakes_are_named_precisely() {
        let cases = [
            (
                json!({"amount": "1", "nope": "x"}),
                ParamError::Unknown {
                    param: "nope".into(),
                },
            ),
            (
                json!({}),
                ParamError::Missing {
                    param: "amount".into(),
                },
            ),
            (
                json!({"amount": "1.5"}),
                ParamError::InvalidInteger {
                    param: "amount".into(),
                    value: "1.5".into(),
                },
            ),
            (
                json!({"amount": {"a": "b"}}),
                ParamError::InvalidInteger {
                    param: "amount".into(),
                    value: "{\"a\":\"b\"}".into(),
                },
            ),
            (
                json!({"amount": "1", "rate": "x"}),
                ParamError::InvalidNumber {
                    param: "rate".into(),
                    value: "x".into(),
                    decimal: false,
                },
            ),
            (
                json!({"amount": "1", "rate": "NaN"}),
                ParamError::InvalidNumber {
                    param: "rate".into(),
                    value: "NaN".into(),
                    decimal: false,
                },
            ),
            (
                json!({"amount": "1", "confirm": "yes"}),
                ParamError::InvalidBoolean {
                    param: "confirm".into(),
                    value: "yes".into(),
                },
            ),
            (
                json!({"amount": "1", "mode": "d"}),
                ParamError::NotInEnum {
                    param: "mode".into(),
                    value: "d".into(),
                    allowed: vec!["a".into(), "b".into(), "c".into()],
                },
            ),
            (
                json!({"amount": "1", "description": "x".repeat(11)}),
                ParamError::TooLong {
                    param: "description".into(),
                    value: "x".repeat(11),
                    max: 10,
                },
            ),
            (
                json!({"amount": "1", "created": {"gt": "1", "lt": "2"}}),
                ParamError::Unknown {
                    param: "created[lt]".into(),
                },
            ),
            (
                json!({"amount": "1", "metadata": "x"}),
                ParamError::ExpectedObject {
                    param: "metadata".into(),
                },
            ),
            (
                json!({"amount": "1", "tags": "x"}),
                ParamError::ExpectedArray {
                    param: "tags".into(),
                },
            ),
            (
                json!({"amount": "1", "description": {"a": "b"}}),
                ParamError::ExpectedString {
                    param: "description".into(),
                    value: "{\"a\":\"b\"}".into(),
                },
            ),
            (
                json!({"amount": "1", "off_session": "maybe"}),
                ParamError::InvalidBoolean {
                    param: "off_session".into(),
                    value: "maybe".into(),
                },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(form(input.clone(), &params()), Err(want), "{input}");
        }
    }

    /// `""` unsets what may be unset and is refused elsewhere.
    #[test]
    fn empty_strings_unset_only_where_allowed() {
        assert_eq!(
            form(
                json!({"amount": "1", "metadata": "", "description": ""}),
                &params()
            ),
            Ok(json!({"amount": 1, "metadata": null, "description": null}))
        );
        assert_eq!(
            form(json!({"amount": "1", "metadata": {"plan": ""}}), &params()),
            Ok(json!({"amount": 1, "metadata": {"plan": null}}))
        );
        for (input, param) in [
            (json!({"amount": ""}), "amount"),
            (json!({"amount": "1", "mode": ""}), "mode"),
            (json!({"amount": "1", "created": ""}), "created"),
            (json!({"amount": "1", "tags": ""}), "tags"),
            (json!({"amount": "1", "tags": ["a", ""]}), "tags[1]"),
            (json!({"amount": "1", "confirm": ""}), "confirm"),
        ] {
            assert_eq!(
                form(input.clone(), &params()),
                Err(ParamError::Empty {
                    param: param.into()
                }),
                "{input}"
            );
        }
    }

    /// JSON bodies are checked strictly: no coercion, `""` is just a string.
    #[test]
    fn json_inputs_are_not_coerced() {
        let s = params();
        assert_eq!(
            validate(&json!({"amount": 5, "confirm": true}), &s, Encoding::Json),
            Ok(json!({"amount": 5, "confirm": true}))
        );
        assert_eq!(
            validate(&json!({"amount": "5"}), &s, Encoding::Json),
            Err(ParamError::InvalidInteger {
                param: "amount".into(),
                value: "5".into()
            })
        );
        assert_eq!(
            validate(&json!({"amount": 5, "confirm": "true"}), &s, Encoding::Json),
            Err(ParamError::InvalidBoolean {
                param: "confirm".into(),
                value: "true".into()
            })
        );
        assert_eq!(
            validate(&json!({"amount": 5, "description": 3}), &s, Encoding::Json),
            Err(ParamError::ExpectedString {
                param: "description".into(),
                value: "3".into()
            })
        );
        assert_eq!(
            validate(&json!({"amount": 5, "description": ""}), &s, Encoding::Json),
            Ok(json!({"amount": 5, "description": ""}))
        );
        assert_eq!(
            validate(
                &json!({"amount": 5, "items": {"0": {"price": "p"}}}),
                &s,
                Encoding::Json
            ),
            Err(ParamError::ExpectedArray {
                param: "items".into()
            })
        );
    }

    /// Bad schema JSON is refused when the table is parsed, not at request time.
    #[test]
    fn malformed_schemas_do_not_parse() {
        for bad in [
            json!({"type": "array"}),
            json!({"type": "object", "required": ["x"]}),
            json!({"type": "string", "maxLenght": 3}),
            json!({"type": "tuple"}),
        ] {
            assert!(
                serde_json::from_value::<Schema>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    /// Concrete paths find their route; literal segments beat placeholders.
    #[test]
    fn routes_match_concrete_paths() {
        let routes = json!({"routes": [
            {"id": "GetThingsThing", "method": "GET", "path": "/v1/things/{thing}"},
            {"id": "GetThingsSearch", "method": "GET", "path": "/v1/things/search"},
            {"id": "PostThingsThingPoke", "method": "POST", "path": "/v1/things/{thing}/poke"},
        ]})
        .to_string();
        let t = OperationTable::from_json(
            r#"{"api_version":"v","operations":{}}"#,
            &routes,
            r#"{"objects":{}}"#,
        )
        .expect("tables");
        let id = |m: &str, p: &str| t.route(m, p).map(|r| r.id.as_str());
        assert_eq!(id("GET", "/v1/things/search"), Some("GetThingsSearch"));
        assert_eq!(id("GET", "/v1/things/th_1"), Some("GetThingsThing"));
        assert_eq!(
            id("post", "/v1/things/th_1/poke"),
            Some("PostThingsThingPoke")
        );
        assert_eq!(id("GET", "/v1/things/th_1/poke"), None);
        assert_eq!(id("GET", "/v1/things//"), None);
        assert_eq!(id("GET", "/v1/things"), None);
    }
}
