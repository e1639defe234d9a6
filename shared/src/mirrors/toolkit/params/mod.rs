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

mod validate;

pub use validate::{validate, Encoding, ParamError};

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
                // `{Sid}.json` (Twilio's) is a parameter too, for naming routes.
                let segs = segments(&r.path)
                    .map(|s| (!(s.starts_with('{') && s.contains('}'))).then(|| s.to_string()))
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

#[cfg(test)]
mod tests;
