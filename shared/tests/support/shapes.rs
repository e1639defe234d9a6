//! The pinned version's response shapes (`generated/shapes.json`, written by
//! `infra/gen/stripe/run`) as `jsonschema` validators, and Stripe's error shape.
//! Tests only: the mirror never reads the file.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::StatusCode;
use jsonschema::Validator;
use serde_json::{json, Value};

const SHAPES: &str = include_str!("../../src/mirrors/stripe/generated/shapes.json");

/// The parsed document.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::from_str(SHAPES).expect("shapes.json parses"))
}

/// A validator for the schema at `pointer` (`/operations/PostCustomers`,
/// `/$defs/customer`), compiled once per pointer.
pub fn validator(pointer: &str) -> Arc<Validator> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Validator>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().expect("cache").get(pointer) {
        return v.clone();
    }
    assert!(
        document().pointer(pointer).is_some(),
        "shapes.json has no {pointer}"
    );
    // The whole document, entered at `pointer`: its `$defs` resolve as usual.
    let mut schema = document().clone();
    schema["$ref"] = json!(format!("#{}", pointer.replace('~', "~0")));
    let v = Arc::new(
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&schema)
            .unwrap_or_else(|e| panic!("shapes.json{pointer} does not compile: {e}")),
    );
    cache
        .lock()
        .expect("cache")
        .insert(pointer.to_string(), v.clone());
    v
}

/// Every way `v` breaks the schema at `pointer`, as `path: message` lines.
pub fn violations(pointer: &str, v: &Value) -> Vec<String> {
    validator(pointer)
        .iter_errors(v)
        .map(|e| format!("${}: {}", e.instance_path(), e.masked()))
        .collect()
}

/// Whether `object_type` has a full shape (emulated), not only an `object` check.
pub fn has_shape(object_type: &str) -> bool {
    document()["$defs"][object_type]
        .get("additionalProperties")
        .is_some()
}

/// Where the shape of `op`'s answer is: the operation's own, or — for Mirra's
/// own operations (`Mirra…`, test helpers Stripe's API does not have) — the
/// object type it returns.
fn answer_pointer(op: &str) -> String {
    if op.starts_with("Mirra") {
        let returns = shared::mirrors::stripe::params::operation(op)
            .returns
            .clone()
            .unwrap_or_default();
        format!("/$defs/{returns}")
    } else {
        format!("/operations/{op}")
    }
}

/// The object a Mirra operation answers when it is Mirra's own, not Stripe's
/// (`mirra.billing_settings`): shapes.json, made from Stripe's types, has none.
fn mirra_object(op: &str) -> Option<String> {
    if !op.starts_with("Mirra") {
        return None;
    }
    let returns = shared::mirrors::stripe::params::operation(op)
        .returns
        .clone()?;
    returns.starts_with("mirra.").then_some(returns)
}

/// Mirra's own objects' shapes, written here by hand.
fn mirra_object_violations(object: String, body: &Value) -> Vec<String> {
    let fields: &[&str] = match object.as_str() {
        "mirra.billing_settings" => &[
            "invoice_after_retries",
            "object",
            "retry_days",
            "subscription_after_retries",
        ],
        other => return vec![format!("no shape for Mirra's object {other}")],
    };
    let mut errs = Vec::new();
    let keys: Vec<&str> = body
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    if sorted != fields {
        errs.push(format!("{object} has fields {keys:?}, not {fields:?}"));
    }
    if body["object"] != object.as_str() {
        errs.push(format!("object is {}, not {object}", body["object"]));
    }
    errs
}

/// Checks one answer of operation `op`: a 200 against the operation's shape
/// (events also their `data.object`), anything else must be a Stripe error: a
/// 4xx whose body is the error shape with a `type` and a `message`.
pub fn check_answer(op: &str, status: StatusCode, body: &Value) -> Result<(), String> {
    let errs = if status == StatusCode::OK && mirra_object(op).is_some() {
        mirra_object_violations(mirra_object(op).unwrap_or_default(), body)
    } else if status == StatusCode::OK {
        let mut errs = violations(&answer_pointer(op), body);
        for event in events_in(body) {
            errs.extend(event_object_violations(event));
        }
        errs
    } else {
        let mut errs = violations("/$defs/error", body);
        if !status.is_client_error() {
            errs.push(format!("status {status} is not a 4xx"));
        }
        if !body["error"]["message"].is_string() {
            errs.push("the error has no message".to_string());
        }
        errs
    };
    if errs.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{op} answered {status} off the pinned shape:\n  {}\n{body:#}",
            errs.join("\n  ")
        ))
    }
}

/// Events in an answer: the answer itself, or a list's items.
fn events_in(body: &Value) -> Vec<&Value> {
    let items: Vec<&Value> = match body["data"].as_array() {
        Some(items) if body["object"] == "list" || body["object"] == "search_result" => {
            items.iter().collect()
        }
        _ => vec![body],
    };
    items
        .into_iter()
        .filter(|v| v["object"] == "event")
        .collect()
}

/// An event's `data.object` is an object of the mirror's: the SDK types it
/// loosely, so it is checked against its own type's shape here.
fn event_object_violations(event: &Value) -> Vec<String> {
    let obj = &event["data"]["object"];
    let Some(kind) = obj["object"].as_str() else {
        return vec!["$/data/object: no `object`".to_string()];
    };
    if !has_shape(kind) {
        return vec![format!("$/data/object: {kind} has no shape")];
    }
    violations(&format!("/$defs/{}", kind.replace('~', "~0")), obj)
        .into_iter()
        .map(|e| format!("$/data/object{}", e.trim_start_matches('$')))
        .collect()
}
