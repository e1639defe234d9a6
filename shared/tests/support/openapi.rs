//! The vendors' OpenAPI documents (`$MIRRA_SPECS_DIR`, else
//! `<workspace>/../shared/specs`) as JSON Schema validators for tests that
//! check the mirrors' answers against them. OpenAPI 3.0's `nullable: true`
//! becomes a `null` alternative of the type. Outside CI a missing document
//! skips the checks; in CI it fails them.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Value};

/// The document `file` (`twilio_api_v2010.json`), read once; `None` outside
/// CI when it is absent.
pub fn document(file: &str) -> Option<&'static Value> {
    static DOCS: OnceLock<Mutex<HashMap<String, Option<&'static Value>>>> = OnceLock::new();
    let docs = DOCS.get_or_init(Default::default);
    let mut docs = docs.lock().expect("docs");
    *docs.entry(file.to_string()).or_insert_with(|| {
        let dir = std::env::var("MIRRA_SPECS_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/specs")
            });
        let path = dir.join(file);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let mut doc: Value = serde_json::from_slice(&bytes).expect("the document parses");
                nullable_to_null(&mut doc);
                Some(Box::leak(Box::new(doc)))
            }
            Err(e) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI needs {}: {e}",
                    path.display()
                );
                eprintln!("skipping OpenAPI checks: no {} ({e})", path.display());
                None
            }
        }
    })
}

/// `{"type": "string", "nullable": true}` → `{"type": ["string", "null"]}`, everywhere.
fn nullable_to_null(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), json!([t, "null"]));
                }
            }
            map.values_mut().for_each(nullable_to_null);
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_to_null),
        _ => {}
    }
}

/// `{"$ref": "#/components/schemas/<name>"}`.
pub fn component(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The JSON schema of an operation's answer.
pub fn response(doc: &Value, path: &str, method: &str, status: u16) -> Value {
    doc["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]
        ["schema"]
        .clone()
}

/// Validates `v` against `schema` (its `$ref`s point into `doc`), with the
/// components in `closed` taking no properties they do not declare (a mirror
/// must not invent fields); panics with every violation.
pub fn check(doc: &Value, what: &str, schema: Value, closed: &[&str], v: &Value) {
    let mut root = schema;
    root["components"] = doc["components"].clone();
    for name in closed {
        root["components"]["schemas"][*name]["additionalProperties"] = json!(false);
    }
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&root)
        .unwrap_or_else(|e| panic!("{what}: schema does not compile: {e}"));
    let errs: Vec<String> = validator
        .iter_errors(v)
        .map(|e| format!("${}: {e}", e.instance_path()))
        .collect();
    assert!(
        errs.is_empty(),
        "{what} does not match the spec:\n  {}\n{v:#}",
        errs.join("\n  ")
    );
}
