//! `"requests"` in a seed: API requests run in order through the mirror's
//! own route table and handlers, at the seed's time (`"now"`, default
//! 2025-01-01), so a seed can hold anything the API can make — products,
//! prices, subscriptions on a test clock, advanced to leave them past due —
//! with the API's checks. Each request is `{"method": "POST", "path": …,
//! "params": {…}, "as": "name"}`; a later request refers to an earlier answer
//! with `${name.field}` (dotted, `${sub.latest_invoice}`), alone in a string
//! to keep the value's type. Ids are drawn from a generator seeded with the
//! document, so one document always builds the same image. Work a request
//! leaves due at once (a test clock's advance) is done before the next.
//! Subscriptions must be on a test clock: real-time billing in an image
//! would come due, all at once, in every session made from it.

use axum::http::Method;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::super::later;
use super::super::params;
use super::super::pipeline::Call;
use super::super::routes;
use super::describe;
use crate::mirrors::toolkit::effects::Effects;
use crate::mirrors::toolkit::params::{validate, Encoding};
use crate::mirrors::toolkit::route::Match;
use crate::mirrors::toolkit::{schedule, timers};
use crate::session::id::seeded;

/// The seed's time when it names none: 2025-01-01T00:00:00Z.
pub const DEFAULT_NOW: i64 = 1_735_689_600;

/// Runs `list` against `conn` at `now` (seconds).
pub fn run(conn: &rusqlite::Connection, list: &Value, now: i64) -> Result<(), String> {
    let Value::Array(list) = list else {
        return Err("\"requests\" must be an array of request objects".into());
    };
    let digest = Sha256::digest(list_text(list).as_bytes());
    let seed = u64::from_le_bytes(digest[..8].try_into().unwrap_or([0; 8]));
    seeded(seed, || {
        let mut named: Map<String, Value> = Map::new();
        for (i, r) in list.iter().enumerate() {
            let at = |m: String| format!("requests[{i}]: {m}");
            let answer = one(conn, r, &named, now).map_err(at)?;
            if let Some(name) = r.get("as").and_then(Value::as_str) {
                named.insert(name.to_string(), answer);
            }
            due_now(conn, now).map_err(at)?;
        }
        let real: i64 = conn
            .query_row("SELECT count(*) FROM schedule WHERE clock = ''", [], |r| {
                r.get(0)
            })
            .map_err(|e| e.to_string())?;
        if real > 0 {
            return Err(
                "a seeded subscription or invoice must belong to a customer on a test clock \
                        (its work would come due in every session at once)"
                    .to_string(),
            );
        }
        Ok(())
    })
}

fn list_text(list: &[Value]) -> String {
    serde_json::to_string(list).unwrap_or_default()
}

/// One request; answers what the handler answered.
fn one(
    conn: &rusqlite::Connection,
    r: &Value,
    named: &Map<String, Value>,
    now: i64,
) -> Result<Value, String> {
    let Value::Object(r) = r else {
        return Err("must be an object like {\"method\": \"POST\", \"path\": \"/v1/products\", \"params\": {…}}".into());
    };
    if let Some(k) = r
        .keys()
        .find(|k| !matches!(k.as_str(), "method" | "path" | "params" | "as"))
    {
        return Err(format!(
            "unknown key {k:?} (known: method, path, params, as)"
        ));
    }
    let method = match r.get("method").and_then(Value::as_str).unwrap_or("POST") {
        "GET" => Method::GET,
        "POST" => Method::POST,
        "DELETE" => Method::DELETE,
        other => return Err(format!("method {other:?} is not GET, POST or DELETE")),
    };
    let path = match r.get("path") {
        Some(Value::String(p)) => substitute(&Value::String(p.clone()), named)?,
        _ => return Err("needs a \"path\"".into()),
    };
    let path = path.as_str().unwrap_or_default().to_string();
    let given = substitute(r.get("params").unwrap_or(&Value::Object(Map::new())), named)?;
    let (route, args) = match routes::table().find(&method, &path) {
        Match::Found(route, args) => (route, args),
        _ => {
            return Err(format!(
                "{method} {path} is not an operation this mirror emulates"
            ))
        }
    };
    let op = params::operation(route.operation);
    let mut typed = match validate(&given, &op.params, Encoding::Json) {
        Ok(Value::Object(p)) => p,
        Ok(_) => Map::new(),
        Err(e) => return Err(describe(&e.into())),
    };
    typed.shift_remove("expand");
    let effects = Effects::default();
    let call = Call::seeding(conn, &args, &typed, now * 1000, &effects);
    (route.handler)(&call).map_err(|e| format!("{method} {path}: {}", describe(&e)))
}

/// Work due at `now` on the real clock's timers (a test clock's advance).
fn due_now(conn: &rusqlite::Connection, now: i64) -> Result<(), String> {
    loop {
        let due = timers::take_due(conn, now * 1000, 100).map_err(|e| e.to_string())?;
        if due.is_empty() {
            return Ok(());
        }
        for t in due {
            // Real-clock billing in an image is refused after the run.
            if t.kind == schedule::TICK {
                continue;
            }
            let effects = Effects::default();
            let args = Default::default();
            let params = Map::new();
            let call = Call::seeding(conn, &args, &params, now * 1000, &effects);
            later::run(&call, &t.kind, &t.target).map_err(|e| describe(&e))?;
        }
    }
}

/// `v` with each `${name.field…}` replaced by that field of an earlier answer.
fn substitute(v: &Value, named: &Map<String, Value>) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => {
            if let Some(inner) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
                if !inner.contains("${") {
                    return lookup(inner, named);
                }
            }
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(start) = rest.find("${") {
                out.push_str(&rest[..start]);
                let after = &rest[start + 2..];
                let end = after
                    .find('}')
                    .ok_or_else(|| format!("unclosed ${{ in {s:?}"))?;
                match lookup(&after[..end], named)? {
                    Value::String(x) => out.push_str(&x),
                    other => out.push_str(&other.to_string()),
                }
                rest = &after[end + 1..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| substitute(x, named))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), substitute(x, named)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

fn lookup(path: &str, named: &Map<String, Value>) -> Result<Value, String> {
    let mut parts = path.split('.');
    let name = parts.next().unwrap_or_default();
    let mut v = named
        .get(name)
        .ok_or_else(|| format!("${{{path}}}: no earlier request is named {name:?}"))?;
    for p in parts {
        v = match v {
            Value::Array(a) => p.parse::<usize>().ok().and_then(|i| a.get(i)),
            other => other.get(p),
        }
        .ok_or_else(|| format!("${{{path}}}: {name} has no {p:?}"))?;
    }
    Ok(v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Placeholders take earlier answers' fields, keeping a lone one's type.
    #[test]
    fn placeholders_take_earlier_answers_fields() {
        let named = json!({"pro": {"id": "prod_1", "n": 5, "items": {"data": [{"id": "si_1"}]}}});
        let named = named.as_object().cloned().unwrap_or_default();
        let out = substitute(
            &json!({"product": "${pro.id}", "n": "${pro.n}", "path": "/v1/x/${pro.id}/y", "it": ["${pro.items.data.0.id}"]}),
            &named,
        )
        .expect("substitute");
        assert_eq!(
            out,
            json!({"product": "prod_1", "n": 5, "path": "/v1/x/prod_1/y", "it": ["si_1"]})
        );
        assert!(substitute(&json!("${nope.id}"), &named).is_err());
        assert!(substitute(&json!("${pro.missing}"), &named).is_err());
    }
}
