//! Checking bodies against Stripe's OpenAPI document (`$MIRRA_SPECS_DIR` or
//! `<workspace>/../shared/specs`), and a test that the check catches wrong shapes.

use super::*;

/// The parsed Stripe OpenAPI document, or `None` (with a note) when it is absent
/// outside CI.
pub(super) fn spec() -> Option<&'static Value> {
    static SPEC: OnceLock<Option<Value>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let dir = std::env::var("MIRRA_SPECS_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("..")
                    .join("..")
                    .join("shared")
                    .join("specs")
            });
        let path = dir.join("stripe.spec3.json");
        match std::fs::read(&path) {
            Ok(bytes) => Some(serde_json::from_slice(&bytes).expect("stripe.spec3.json parses")),
            Err(e) => {
                if std::env::var_os("CI").is_some() {
                    panic!("CI needs the Stripe spec at {}: {e}", path.display());
                }
                eprintln!("skipping OpenAPI checks: no {} ({e})", path.display());
                None
            }
        }
    })
    .as_ref()
}

/// Properties newer than the 2020-08-27 spec that Stripe returns today.
const NEWER_THAN_SPEC: &[&str] = &["rendering_options"];

/// Validates `v` against `components.schemas.<name>` (or `list` for the
/// customer list response); panics with every violation.
pub(super) fn validate(name: &str, v: &Value) {
    let Some(root) = spec() else { return };
    let schema = if name == "list" {
        root["paths"]["/v1/customers"]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"]
            .clone()
    } else {
        json!({ "$ref": format!("#/components/schemas/{name}") })
    };
    let mut errs = Vec::new();
    check(root, &schema, v, "$", &mut errs);
    assert!(
        errs.is_empty(),
        "{name} does not match the spec:\n  {}\n{v:#}",
        errs.join("\n  ")
    );
}

pub(super) fn resolve<'a>(root: &'a Value, mut s: &'a Value) -> &'a Value {
    while let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let ptr = r.trim_start_matches('#');
        s = root
            .pointer(ptr)
            .unwrap_or_else(|| panic!("unresolved $ref {r}"));
    }
    s
}

/// A focused OpenAPI 3.0 schema check: `$ref`, `nullable`, `anyOf`/`oneOf`,
/// `type`, `enum`, `required`, `properties`, `additionalProperties`, `items`,
/// `maxLength`, literal `^prefix` patterns. Undeclared properties are errors too
/// (the spec rarely says `additionalProperties: false`, but a mirror should not
/// invent fields).
pub(super) fn check(root: &Value, schema: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
    let s = resolve(root, schema);
    if v.is_null() && s.get("nullable") == Some(&Value::Bool(true)) {
        return;
    }
    if let Some(branches) = s
        .get("anyOf")
        .or_else(|| s.get("oneOf"))
        .and_then(Value::as_array)
    {
        let ok = branches.iter().any(|b| {
            let mut e = Vec::new();
            check(root, b, v, at, &mut e);
            e.is_empty()
        });
        if !ok {
            errs.push(format!("{at}: matches none of the anyOf/oneOf branches"));
        }
        return;
    }
    if v.is_null() {
        errs.push(format!("{at}: null, but not nullable"));
        return;
    }
    if let Some(t) = s.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            _ => true,
        };
        if !ok {
            errs.push(format!("{at}: expected {t}, got {v}"));
            return;
        }
    }
    if let Some(allowed) = s.get("enum").and_then(Value::as_array) {
        if !allowed.contains(v) {
            errs.push(format!("{at}: {v} not in {allowed:?}"));
        }
    }
    if let (Some(max), Some(text)) = (s.get("maxLength").and_then(Value::as_u64), v.as_str()) {
        if text.chars().count() as u64 > max {
            errs.push(format!("{at}: longer than {max}"));
        }
    }
    if let (Some(p), Some(text)) = (s.get("pattern").and_then(Value::as_str), v.as_str()) {
        if let Some(prefix) = p
            .strip_prefix('^')
            .filter(|r| r.chars().all(|c| c.is_alphanumeric() || "/_-".contains(c)))
        {
            if !text.starts_with(prefix) {
                errs.push(format!("{at}: {text:?} does not match {p}"));
            }
        }
    }
    if let Some(obj) = v.as_object() {
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(r) = r.as_str() {
                if !obj.contains_key(r) {
                    errs.push(format!("{at}: missing required {r}"));
                }
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, child) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => check(root, ps, child, &format!("{at}.{k}"), errs),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => errs.push(format!("{at}: unexpected property {k}")),
                    Some(extra @ Value::Object(_)) => {
                        check(root, extra, child, &format!("{at}.{k}"), errs)
                    }
                    _ if props.is_some() && !NEWER_THAN_SPEC.contains(&k.as_str()) => {
                        errs.push(format!("{at}: property {k} is not in the spec"))
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            check(root, items, item, &format!("{at}[{i}]"), errs);
        }
    }
}

/// The customer properties Stripe returns without `expand` (all but the four
/// expandable-only lists/objects).
pub(super) fn default_customer_fields() -> Option<BTreeSet<String>> {
    let root = spec()?;
    let props = root["components"]["schemas"]["customer"]["properties"].as_object()?;
    Some(
        props
            .keys()
            .filter(|k| !["sources", "subscriptions", "tax_ids", "tax"].contains(&k.as_str()))
            .cloned()
            .collect(),
    )
}

#[test]
fn the_spec_check_catches_wrong_shapes() {
    let Some(root) = spec() else { return };
    let schema = json!({"$ref": "#/components/schemas/customer"});
    let ok = json!({"id": "cus_1", "object": "customer", "created": 1, "livemode": false, "email": null});
    let mut errs = Vec::new();
    check(root, &schema, &ok, "$", &mut errs);
    assert!(errs.is_empty(), "{errs:?}");
    let with = |k: &str, v: Value| {
        let mut c = ok.clone();
        c[k] = v;
        c
    };
    for bad in [
        json!({"id": "cus_1", "object": "customer", "livemode": false}),
        with("email", json!(5)),
        with("balance", Value::Null),
        with("tax_exempt", json!("maybe")),
        with("invented", json!(1)),
        with("address", json!({"line1": 1})),
    ] {
        let mut errs = Vec::new();
        check(root, &schema, &bad, "$", &mut errs);
        assert!(!errs.is_empty(), "accepted {bad}");
    }
}
