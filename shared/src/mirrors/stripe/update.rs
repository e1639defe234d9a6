//! Stripe's write semantics for validated parameters, shared by every resource:
//! a given field replaces the object's (`null` — the form's `""` — unsets it),
//! `metadata` merges per key (`metadata[k]=` removes `k`, `metadata=` clears
//! all) and is bounded as Stripe bounds it, and hashes named as "merged"
//! (`invoice_settings`) merge per key one level down.

use serde_json::{Map, Value};

use super::error::StripeError;

/// Stripe's metadata limits.
pub const METADATA_MAX_KEYS: usize = 50;
pub const METADATA_KEY_MAX: usize = 40;

/// Sets `params` on `obj`. Keys in `merged` merge one level down; `metadata`
/// always merges. The caller has removed what it handles itself.
pub fn apply(
    obj: &mut Map<String, Value>,
    params: &Map<String, Value>,
    merged: &[&str],
) -> Result<(), StripeError> {
    for (k, v) in params {
        if k == "metadata" {
            merge_metadata(obj, v)?;
        } else if let (true, Value::Object(sub)) = (merged.contains(&k.as_str()), v) {
            let slot = obj
                .entry(k.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(target) = slot {
                for (sk, sv) in sub {
                    target.insert(sk.clone(), sv.clone());
                }
            }
        } else {
            obj.insert(k.clone(), v.clone());
        }
    }
    Ok(())
}

/// Merges a `metadata` parameter into `obj["metadata"]`.
pub fn merge_metadata(obj: &mut Map<String, Value>, param: &Value) -> Result<(), StripeError> {
    let slot = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    let Value::Object(meta) = slot else {
        return Ok(());
    };
    match param {
        Value::Object(keys) => {
            for (k, v) in keys {
                match v {
                    Value::Null => {
                        meta.shift_remove(k);
                    }
                    Value::String(s) if s.is_empty() => {
                        meta.shift_remove(k);
                    }
                    other => {
                        meta.insert(k.clone(), other.clone());
                    }
                }
            }
        }
        _ => meta.clear(),
    }
    if meta.len() > METADATA_MAX_KEYS {
        return Err(StripeError::invalid(
            format!("Invalid metadata: metadata can have at most {METADATA_MAX_KEYS} keys"),
            "metadata",
        ));
    }
    Ok(())
}

/// Checks a request's `metadata` parameter before anything runs: key lengths
/// and count (values are bounded by the generated schema).
pub fn check_metadata(params: &Map<String, Value>) -> Result<(), StripeError> {
    let Some(Value::Object(keys)) = params.get("metadata") else {
        return Ok(());
    };
    if let Some(k) = keys.keys().find(|k| k.chars().count() > METADATA_KEY_MAX) {
        return Err(StripeError::invalid(
            format!("Invalid metadata: metadata keys must be at most {METADATA_KEY_MAX} characters ({k})"),
            format!("metadata[{k}]"),
        ));
    }
    if keys.len() > METADATA_MAX_KEYS {
        return Err(StripeError::invalid(
            format!("Invalid metadata: metadata can have at most {METADATA_MAX_KEYS} keys"),
            "metadata",
        ));
    }
    Ok(())
}

/// A hash with exactly `keys`, in that order, `null` where `given` has none —
/// how Stripe returns addresses and other fixed-shape hashes.
pub fn shaped(given: &Value, keys: &[&str]) -> Value {
    let mut out = Map::new();
    for k in keys {
        out.insert(
            (*k).to_string(),
            given.get(*k).cloned().unwrap_or(Value::Null),
        );
    }
    Value::Object(out)
}

/// Puts an object's keys in Stripe's order: `id`, `object`, then alphabetical
/// (after a field was added to an object built in that order).
pub fn stripe_order(obj: &mut Map<String, Value>) {
    let mut entries: Vec<(String, Value)> = std::mem::take(obj).into_iter().collect();
    let rank = |k: &str| match k {
        "id" => 0,
        "object" => 1,
        _ => 2,
    };
    entries.sort_by(|(a, _), (b, _)| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    obj.extend(entries);
}

/// Refuses the parameters a resource does not act on (any not in `handled`
/// that carries a value), naming `why`: a clear 400 beats a silently ignored
/// parameter. Unsetting one (`""`) is accepted.
pub fn reject_unhandled(
    params: &Map<String, Value>,
    handled: &[&str],
    why: &str,
) -> Result<(), StripeError> {
    for (k, v) in params {
        if !handled.contains(&k.as_str()) && !v.is_null() {
            return Err(StripeError::unsupported(k, why));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    /// Metadata merges per key, merged hashes per key, the rest replaces.
    #[test]
    fn updates_merge_metadata_and_named_hashes_and_replace_the_rest() {
        let mut obj = map(
            json!({"metadata": {"a": "1", "b": "2"}, "settings": {"x": 1, "y": 2}, "address": {"line1": "l"}}),
        );
        let params = map(
            json!({"metadata": {"a": null, "c": "3"}, "settings": {"y": null}, "address": {"city": "c"}, "email": null}),
        );
        apply(&mut obj, &params, &["settings"]).expect("apply");
        assert_eq!(
            Value::Object(obj),
            json!({"metadata": {"b": "2", "c": "3"}, "settings": {"x": 1, "y": null}, "address": {"city": "c"}, "email": null})
        );
    }

    /// `metadata=` clears; more than 50 keys in the result is refused.
    #[test]
    fn metadata_clears_and_is_bounded() {
        let mut obj = map(json!({"metadata": {"a": "1"}}));
        merge_metadata(&mut obj, &Value::Null).expect("clear");
        assert_eq!(obj["metadata"], json!({}));
        let many: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert!(merge_metadata(&mut obj, &Value::Object(many.clone())).is_err());
        assert!(check_metadata(&map(json!({"metadata": many}))).is_err());
        let long = "k".repeat(41);
        assert!(check_metadata(&map(json!({"metadata": {long: "v"}}))).is_err());
    }
}
