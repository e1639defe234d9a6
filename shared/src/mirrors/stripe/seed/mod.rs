//! Seed documents: `{"customers": [{…create parameters, optional "id" and
//! "created"}], "webhook_endpoints": […], "requests": […], "now": …}` — the
//! last two run API requests through the mirror's handlers ([`requests`]). Built-in seeds and `--seed-file` documents go through the same
//! validation as API requests, so a seed can hold nothing the API would refuse.
//! Loading is deterministic: whatever a document leaves out (ids, timestamps,
//! invoice prefixes) is derived from its content, never drawn at random, so one
//! document always builds the same image.

pub mod requests;

use std::collections::HashSet;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::customers::{self, Mode};
use super::error::StripeError;
use super::form::{integer_value, Fields, Param};
use super::webhook_endpoints;
use crate::mirrors::toolkit::params::{self, Encoding, Operation};

/// Seed customers take what `POST /v1/customers` takes.
fn create_op() -> &'static Operation {
    super::params::operation("PostCustomers")
}

const DEFAULT: &str = include_str!("../../../../../seeds/stripe/default.json");
const EMPTY: &str = include_str!("../../../../../seeds/stripe/empty.json");
const LIFECYCLE: &str = include_str!("../../../../../seeds/stripe/subscription-lifecycle.json");
const DUNNING: &str = include_str!("../../../../../seeds/stripe/dunning-active.json");

/// `created` of the first customer that names none (2025-01-01T00:00:00Z); later
/// ones follow a second apart, in document order.
const BASE_CREATED: i64 = 1_735_689_600;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

pub const NAMES: &[&str] = &[
    "default",
    "empty",
    "subscription-lifecycle",
    "dunning-active",
];

/// The document of a built-in seed.
pub fn builtin(name: &str) -> Option<Value> {
    let text = match name {
        "default" => DEFAULT,
        "empty" => EMPTY,
        "subscription-lifecycle" => LIFECYCLE,
        "dunning-active" => DUNNING,
        _ => return None,
    };
    serde_json::from_str(text).ok()
}

/// Validates `seed` and inserts its rows.
pub fn load(conn: &rusqlite::Connection, seed: &Value) -> Result<(), String> {
    let Value::Object(doc) = seed else {
        return Err("a Stripe seed must be a JSON object like {\"customers\": [ … ]}".into());
    };
    if let Some(k) = doc.keys().find(|k| {
        !matches!(
            k.as_str(),
            "customers" | "webhook_endpoints" | "requests" | "now"
        )
    }) {
        return Err(format!(
            "unknown key {k:?} in a Stripe seed (known: customers, webhook_endpoints, requests, now)"
        ));
    }
    load_customers(conn, doc)?;
    if let Some(list) = doc.get("requests") {
        let now = match doc.get("now") {
            None => requests::DEFAULT_NOW,
            Some(v) => v
                .as_i64()
                .filter(|n| *n > 0)
                .ok_or("\"now\" must be Unix seconds")?,
        };
        requests::run(conn, list, now)?;
    }
    // Last: the events the requests raised are history, not deliveries every
    // session made from the image would send at its start.
    load_endpoints(conn, doc.get("webhook_endpoints"))
}

/// `"customers"`: customer create parameters, inserted directly.
fn load_customers(conn: &rusqlite::Connection, doc: &Map<String, Value>) -> Result<(), String> {
    let list: &[Value] = match doc.get("customers") {
        None => &[],
        Some(Value::Array(a)) => a,
        Some(_) => return Err("\"customers\" must be an array of customer objects".into()),
    };
    let mut ids = HashSet::new();
    for (i, entry) in list.iter().enumerate() {
        let at = |m: String| format!("customers[{i}]: {m}");
        let Value::Object(map) = entry else {
            return Err(at("must be an object of customer create parameters".into()));
        };
        let digest = Sha256::digest(format!("{i}:{entry}").as_bytes());
        let mut f = Fields::new(map.clone());
        let id = match f.take("id") {
            None => format!("cus_{}", derived(&digest[..14], ALNUM)),
            Some(Value::String(s)) if valid_id(&s) => s,
            Some(other) => {
                return Err(at(format!(
                "id must be \"cus_\" followed by 1-64 letters, digits or underscores, not {other}"
            )))
            }
        };
        if !ids.insert(id.clone()) {
            return Err(at(format!("duplicate id {id}")));
        }
        let created = match f.take("created") {
            None => BASE_CREATED + i as i64,
            Some(v) => match integer_value(v, "created") {
                Ok(Param::Given(n)) if n > 0 => n,
                _ => {
                    return Err(at(
                        "created must be a positive integer (Unix seconds)".into()
                    ))
                }
            },
        };
        let rest: Map<String, Value> = f.drain().into_iter().collect();
        let params =
            match params::validate(&Value::Object(rest), &create_op().params, Encoding::Json) {
                Ok(Value::Object(p)) => p,
                Ok(_) => Map::new(),
                Err(e) => return Err(at(describe(&StripeError::from(e)))),
            };
        let mut c = customers::new(&id, created, &derived(&digest[14..22], b"0123456789ABCDEF"));
        customers::apply(&mut c, &params, Mode::Create).map_err(|e| at(describe(&e)))?;
        customers::KIND
            .insert(conn, &Value::Object(c))
            .map_err(|e| at(e.to_string()))?;
    }
    Ok(())
}

/// `"webhook_endpoints": [{"url", "enabled_events", "description"?, "metadata"?}]`:
/// endpoints every session of the seed starts with (and gets back on reset).
/// They have no secret of their own — an image is shared by many sessions — so
/// their deliveries are signed with each session's `webhook_secret`.
fn load_endpoints(conn: &rusqlite::Connection, list: Option<&Value>) -> Result<(), String> {
    let list: &[Value] = match list {
        None => return Ok(()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err("\"webhook_endpoints\" must be an array of endpoint objects".into()),
    };
    let op = super::params::operation("PostWebhookEndpoints");
    for (i, entry) in list.iter().enumerate() {
        let at = |m: String| format!("webhook_endpoints[{i}]: {m}");
        let digest = Sha256::digest(format!("we:{i}:{entry}").as_bytes());
        let params = match params::validate(entry, &op.params, Encoding::Json) {
            Ok(Value::Object(p)) => p,
            Ok(_) => return Err(at("must be an object of endpoint create parameters".into())),
            Err(e) => return Err(at(describe(&StripeError::from(e)))),
        };
        let id = format!("we_{}", derived(&digest[..24], ALNUM));
        let mut ep = webhook_endpoints::new(&id, BASE_CREATED + i as i64, None);
        webhook_endpoints::apply(&mut ep, &params).map_err(|e| at(describe(&e)))?;
        webhook_endpoints::KIND
            .insert(conn, &Value::Object(ep))
            .map_err(|e| at(e.to_string()))?;
    }
    Ok(())
}

/// `cus_` plus 1–64 of `[A-Za-z0-9_]`.
fn valid_id(s: &str) -> bool {
    s.strip_prefix("cus_").is_some_and(|rest| {
        (1..=64).contains(&rest.len())
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

fn derived(bytes: &[u8], alphabet: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect()
}

/// A parameter error as a seed author reads it: message and parameter.
fn describe(e: &StripeError) -> String {
    match e {
        StripeError::InvalidRequest {
            message,
            param: Some(p),
            ..
        } if !message.contains(p.as_str()) => {
            format!("{p}: {message}")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn db() -> Option<rusqlite::Connection> {
        let conn = rusqlite::Connection::open_in_memory().ok()?;
        conn.execute_batch(&super::super::SCHEMA).ok()?;
        Some(conn)
    }

    fn rows(conn: &rusqlite::Connection) -> Vec<(String, i64, String)> {
        conn.prepare("SELECT id, created, data FROM customers ORDER BY seq")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap_or_default()
    }

    #[test]
    fn the_default_seed_loads() {
        let (Some(conn), Some(doc)) = (db(), builtin("default")) else {
            panic!("setup")
        };
        assert_eq!(load(&conn, &doc), Ok(()));
        assert_eq!(rows(&conn).len(), 4);
    }

    fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap_or(-1)
    }

    /// The lifecycle seed holds active, trialing, canceling and canceled
    /// subscriptions on one test clock, and builds the same image twice.
    #[test]
    fn the_subscription_lifecycle_seed_builds_each_status_deterministically() {
        let (Some(a), Some(b), Some(doc)) = (db(), db(), builtin("subscription-lifecycle")) else {
            panic!("setup")
        };
        assert_eq!(load(&a, &doc), Ok(()));
        assert_eq!(load(&b, &doc), Ok(()));
        let statuses = "SELECT group_concat(status || ':' || json_extract(data, '$.cancel_at_period_end'), ',') FROM (SELECT * FROM subscriptions ORDER BY seq)";
        let s: String = a.query_row(statuses, [], |r| r.get(0)).unwrap_or_default();
        assert_eq!(s, "active:0,trialing:0,active:1,canceled:0");
        let ids = "SELECT group_concat(id, ',') FROM (SELECT id FROM subscriptions ORDER BY seq)";
        let (ia, ib): (String, String) = (
            a.query_row(ids, [], |r| r.get(0)).unwrap_or_default(),
            b.query_row(ids, [], |r| r.get(0)).unwrap_or_default(),
        );
        assert_eq!(ia, ib, "same document, same ids");
        assert_eq!(count(&a, "SELECT count(*) FROM prices"), 3);
        assert_eq!(
            count(&a, "SELECT count(*) FROM schedule WHERE clock = ''"),
            0
        );
    }

    /// The dunning seed leaves subscriptions past due with open invoices and
    /// their next retries scheduled on the seed's clock.
    #[test]
    fn the_dunning_seed_leaves_past_due_subscriptions_with_retries_scheduled() {
        let (Some(conn), Some(doc)) = (db(), builtin("dunning-active")) else {
            panic!("setup")
        };
        assert_eq!(load(&conn, &doc), Ok(()));
        assert_eq!(
            count(
                &conn,
                "SELECT count(*) FROM subscriptions WHERE status = 'past_due'"
            ),
            2
        );
        assert_eq!(
            count(&conn, "SELECT count(*) FROM invoices WHERE status = 'open' AND json_extract(data, '$.attempt_count') = 1 AND json_extract(data, '$.next_payment_attempt') IS NOT NULL"),
            2
        );
        assert_eq!(
            count(
                &conn,
                "SELECT count(*) FROM schedule WHERE kind = 'invoice.attempt'"
            ),
            2
        );
    }

    /// A seed whose subscriptions would bill in real time is refused.
    #[test]
    fn a_seeded_subscription_must_be_on_a_test_clock() {
        let Some(conn) = db() else { panic!("setup") };
        let doc = json!({"requests": [
            {"path": "/v1/products", "params": {"name": "P"}, "as": "p"},
            {"path": "/v1/customers", "params": {}, "as": "c"},
            {"path": "/v1/subscriptions", "params": {"customer": "${c.id}", "collection_method": "send_invoice", "days_until_due": 7,
                "items": [{"price_data": {"currency": "usd", "product": "${p.id}", "unit_amount": 100, "recurring": {"interval": "month"}}}]}}
        ]});
        let err = load(&conn, &doc).err().unwrap_or_default();
        assert!(err.contains("test clock"), "{err}");
        let bad = json!({"requests": [{"path": "/v1/prices", "params": {"currency": "usd"}}]});
        let err = load(&conn, &bad).err().unwrap_or_default();
        assert!(
            err.starts_with("requests[0]:") && err.contains("product"),
            "{err}"
        );
    }

    #[test]
    fn loading_is_deterministic_without_ids_or_timestamps() {
        let doc = json!({"customers": [{"email": "a@example.com"}, {"name": "B", "metadata": {"k": "v"}}]});
        let (Some(a), Some(b)) = (db(), db()) else {
            panic!("setup")
        };
        assert_eq!(load(&a, &doc), Ok(()));
        assert_eq!(load(&b, &doc), Ok(()));
        assert_eq!(rows(&a), rows(&b));
        assert!(rows(&a).iter().all(|(id, _, _)| id.len() == 18));
    }

    #[test]
    fn malformed_seeds_are_rejected_with_the_place_and_reason() {
        let Some(conn) = db() else { panic!("setup") };
        for (doc, needle) in [
            (json!([]), "JSON object"),
            (json!({"customer": []}), "unknown key"),
            (json!({"customers": {}}), "must be an array"),
            (json!({"customers": [1]}), "customers[0]"),
            (
                json!({"customers": [{"email": "nope"}]}),
                "Invalid email address",
            ),
            (
                json!({"customers": [{"bogus": 1}]}),
                "unknown parameter: bogus",
            ),
            (json!({"customers": [{"id": "x"}]}), "id must be"),
            (
                json!({"customers": [{"id": "cus_a"}, {"id": "cus_a"}]}),
                "duplicate id",
            ),
            (
                json!({"customers": [{"created": "soon"}]}),
                "created must be",
            ),
            (json!({"customers": [{"balance": 1.5}]}), "Invalid integer"),
        ] {
            let err = load(&conn, &doc).err().unwrap_or_default();
            assert!(err.contains(needle), "{doc}: {err}");
        }
    }
}
