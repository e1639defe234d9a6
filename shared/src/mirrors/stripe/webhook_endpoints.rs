//! Webhook endpoints: where a session's events are POSTed. The `whsec_…`
//! secret is returned on create only, as on Stripe. Endpoints from a seed have
//! no secret of their own (an image is shared by many sessions): their
//! deliveries are signed with the session's `webhook_secret` credential, the
//! one `mirra env` prints as `STRIPE_WEBHOOK_SECRET`.

use rusqlite::Connection;
use serde_json::{json, Map, Value};

use super::error::StripeError;
use super::lists;
use super::pipeline::{Call, API_VERSION};
use super::update;
use super::Stripe;
use crate::mirrors::toolkit::objects::{into_map, Kind};
use crate::mirrors::toolkit::outbox;
use crate::mirrors::Vendor;
use crate::session::id::random_token;

pub static KIND: Kind = Kind {
    object: "webhook_endpoint",
    table: "webhook_endpoints",
    prefix: "we_",
    id_len: 24,
    columns: &["status"],
};

/// What an event delivery needs of an endpoint.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub id: String,
    pub url: String,
    /// `None`: sign with the session's own webhook secret.
    pub secret: Option<String>,
}

/// Enabled endpoints whose `enabled_events` include `event_type` (or `*`).
/// Every event asks, so this is one cached statement rather than a list
/// query built afresh (a session without endpoints paid ~8 K instructions).
pub fn subscribed(conn: &Connection, event_type: &str) -> Result<Vec<Subscriber>, StripeError> {
    let internal = |e: rusqlite::Error| StripeError::Internal(format!("webhook endpoints: {e}"));
    let mut stmt = conn
        .prepare_cached(
            "SELECT data FROM webhook_endpoints WHERE deleted = 0 AND status = 'enabled' ORDER BY seq",
        )
        .map_err(internal)?;
    let mut rows = stmt.query([]).map_err(internal)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(internal)? {
        let data = row
            .get_ref(0)
            .map_err(internal)?
            .as_str()
            .map_err(|e| internal(e.into()))?;
        let ep: Value = serde_json::from_str(data)
            .map_err(|e| StripeError::Internal(format!("stored endpoint: {e}")))?;
        let matches = ep["enabled_events"]
            .as_array()
            .is_some_and(|evs| evs.iter().any(|e| e == "*" || e == event_type));
        if matches {
            out.push(Subscriber {
                id: ep["id"].as_str().unwrap_or_default().to_string(),
                url: ep["url"].as_str().unwrap_or_default().to_string(),
                secret: ep["secret"].as_str().map(str::to_string),
            });
        }
    }
    Ok(out)
}

/// A new endpoint object (secret included; callers strip it except on create).
pub fn new(id: &str, created: i64, secret: Option<&str>) -> Map<String, Value> {
    let v = json!({
        "id": id,
        "object": "webhook_endpoint",
        "api_version": null,
        "application": null,
        "created": created,
        "description": null,
        "enabled_events": [],
        "livemode": false,
        "metadata": {},
        "secret": secret,
        "status": "enabled",
        "url": "",
    });
    into_map(v)
}

fn check_url(params: &Map<String, Value>) -> Result<(), StripeError> {
    if let Some(Value::String(url)) = params.get("url") {
        let ok = (url.starts_with("http://") || url.starts_with("https://"))
            && url.split("://").nth(1).is_some_and(|rest| !rest.is_empty());
        if !ok {
            return Err(StripeError::invalid_code(
                "url_invalid",
                format!("Invalid URL: {url}. URLs must begin with http:// or https://"),
                "url",
            ));
        }
    }
    Ok(())
}

/// Applies create/update parameters: `disabled` becomes `status`, `connect` is
/// refused (Connect is not emulated).
pub fn apply(ep: &mut Map<String, Value>, params: &Map<String, Value>) -> Result<(), StripeError> {
    check_url(params)?;
    let mut p = params.clone();
    if let Some(Value::Bool(true)) = p.shift_remove("connect") {
        return Err(StripeError::unsupported(
            "connect",
            "Connect is not emulated",
        ));
    }
    if let Some(v) = p.shift_remove("disabled") {
        ep.insert(
            "status".into(),
            json!(if v == json!(true) {
                "disabled"
            } else {
                "enabled"
            }),
        );
    }
    if let Some(Value::Array(evs)) = p.get("enabled_events") {
        if evs.is_empty() {
            return Err(StripeError::invalid_empty("enabled_events"));
        }
    }
    update::apply(ep, &p, &[])
}

fn public(mut ep: Value) -> Value {
    if let Some(o) = ep.as_object_mut() {
        o.shift_remove("secret");
    }
    ep
}

fn load(call: &Call, id: &str) -> Result<Map<String, Value>, StripeError> {
    match KIND.load(call.conn, id)? {
        Some(Value::Object(ep)) => Ok(ep),
        _ => Err(StripeError::no_such(
            "webhook endpoint",
            id,
            "webhook_endpoint",
        )),
    }
}

/// `POST /v1/webhook_endpoints`: the only answer that shows the secret.
pub fn create(call: &Call) -> Result<Value, StripeError> {
    let secret = format!("whsec_{}", random_token(32));
    let mut ep = new(&Stripe.new_id(&KIND), call.now, Some(&secret));
    apply(&mut ep, call.params)?;
    if ep.get("api_version").is_some_and(Value::is_null) {
        ep.insert("api_version".into(), json!(API_VERSION));
    }
    let v = Value::Object(ep);
    KIND.insert(call.conn, &v)?;
    Ok(v)
}

/// `GET /v1/webhook_endpoints/{webhook_endpoint}`.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("webhook_endpoint");
    Ok(public(Value::Object(load(call, id)?)))
}

/// `POST /v1/webhook_endpoints/{webhook_endpoint}`.
pub fn update(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("webhook_endpoint");
    let mut ep = load(call, id)?;
    apply(&mut ep, call.params)?;
    let v = Value::Object(ep);
    KIND.save(call.conn, &v)?;
    Ok(public(v))
}

/// `DELETE /v1/webhook_endpoints/{webhook_endpoint}`: gone, with its pending
/// deliveries.
pub fn delete(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("webhook_endpoint");
    load(call, id)?;
    KIND.remove(call.conn, id)?;
    outbox::cancel_target(call.conn, id)?;
    Ok(json!({"id": id, "object": "webhook_endpoint", "deleted": true}))
}

/// `GET /v1/webhook_endpoints`.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    let q = lists::query(call.params)?;
    let mut page = lists::page(call.conn, &KIND, &q, "/v1/webhook_endpoints")?;
    if let Some(Value::Array(items)) = page.get_mut("data") {
        for ep in items.iter_mut() {
            *ep = public(ep.take());
        }
    }
    Ok(page)
}
