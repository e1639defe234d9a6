//! Validation: a request's parameters checked against a [`Schema`] and
//! returned normalized (typed leaves, `null` for "unset"), or the first
//! [`ParamError`] named by its bracket path.

use serde_json::{Map, Number, Value};

use super::*;

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
