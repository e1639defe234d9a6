//! Every request to the Resend mirror, top to bottom, in the order Resend
//! answers failures in: a request without a key fails before one for an
//! unknown URL, a bad field before any state is touched (the Stripe mirror's
//! `pipeline.rs` is the model).
//!
//! Resources only ever see a [`Call`]: the request's validated parameters, its
//! path arguments and one connection — read-only for reads, one logged
//! transaction (with its idempotency record) for writes.

use axum::body::{to_bytes, Body};
use axum::extract::{RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use rusqlite::Connection;
use serde_json::{Map, Value};

use super::api_keys::{self, Access};
use super::auth;
use super::error::{json_response, ResendError};
use super::links::{self, Opened};
use super::params;
use super::routes;
use crate::mirrors::toolkit::effects::Effects;
use crate::mirrors::toolkit::idempotency::{self, Check, Saved};
use crate::mirrors::toolkit::objects::json_text;
use crate::mirrors::toolkit::params::{validate, Encoding};
use crate::mirrors::toolkit::route::{base_url, Match, PathArgs};
use crate::mirrors::VendorError;
use crate::session::{Budget, Door, SessionContext, UnknownCredential};

/// Largest body read; the API layer refuses larger ones earlier.
const BODY_LIMIT: usize = crate::api::BODY_LIMIT;

/// What a resource operation gets.
pub struct Call<'a> {
    /// The mirror's state: read-only for GET, the request's transaction otherwise.
    pub conn: &'a Connection,
    /// `{email_id}` … from the route's template.
    pub args: &'a PathArgs,
    /// The request's parameters, validated against the operation's schema: the
    /// query string of a GET, the JSON body otherwise (an array for a batch).
    pub params: &'a Value,
    /// The request's headers (`x-batch-validation`).
    pub headers: &'a HeaderMap,
    /// Request time, Unix milliseconds.
    pub now_ms: i64,
    /// The session's own credentials and clock.
    pub ctx: &'a SessionContext,
    /// What the request's key may do (a `sending_access` key only sends).
    pub access: &'a Access,
    /// The URL the request reached the mirror at (`…/m/{session}/resend`),
    /// for links back to it (a broadcast's unsubscribe links); empty later.
    pub base_url: &'a str,
    /// Due work and raised events (`effects`).
    effects: &'a Effects,
}

impl<'a> Call<'a> {
    /// Notes that the request left work due at `due_at_ms` (a scheduled email's
    /// timer); the pipeline indexes it for the dispatcher once the write commits.
    pub fn owe(&self, due_at_ms: i64) {
        self.effects.owe(due_at_ms);
    }

    /// Notes that the request raised event `id` of type `kind` (its trace
    /// record lists them).
    pub fn raise(&self, id: &str, kind: &str) {
        self.effects.raise(id, kind);
    }

    /// A call for what the mirror does later on its own (a timer firing): no
    /// request, so no parameters or headers. Work it leaves due is found by the
    /// dispatcher, which reads the mirror's next due time after every pass.
    /// This call as if it had reached the mirror at `base_url` (a scheduled
    /// broadcast's links name the URL it was sent from).
    pub fn with_base<'b>(&'b self, base_url: &'b str) -> Call<'b>
    where
        'a: 'b,
    {
        Call {
            conn: self.conn,
            args: self.args,
            params: self.params,
            headers: self.headers,
            now_ms: self.now_ms,
            ctx: self.ctx,
            access: self.access,
            base_url,
            effects: self.effects,
        }
    }

    pub fn later(
        conn: &'a Connection,
        ctx: &'a SessionContext,
        now_ms: i64,
        empty: &'a Later,
    ) -> Self {
        Call {
            conn,
            args: &empty.args,
            params: &empty.params,
            headers: &empty.headers,
            now_ms,
            ctx,
            access: &empty.access,
            base_url: "",
            effects: &empty.effects,
        }
    }
}

/// What a [`Call::later`] borrows in place of a request's parts.
pub struct Later {
    args: PathArgs,
    params: Value,
    headers: HeaderMap,
    access: Access,
    effects: Effects,
}

impl Default for Later {
    fn default() -> Self {
        Later {
            args: PathArgs::default(),
            params: Value::Null,
            headers: HeaderMap::new(),
            access: Access::Full,
            effects: Effects::default(),
        }
    }
}

impl Later {
    /// The earliest work the calls it served left due, if any: a write made
    /// outside a mirror request (a link a recipient opened) indexes it itself.
    pub fn owed(&self) -> Option<i64> {
        self.effects.owed()
    }
}

/// The mirror's one handler: every method and path below `/m/{session}/resend`.
pub async fn handle(State(door): State<Door>, path: RawPathParams, req: Request) -> Response {
    let session = crate::mirrors::toolkit::route::session_param(&path);
    let effects = Effects::default();
    effects.answer(run(&door, &session, &effects, req).await)
}

async fn run(
    door: &Door,
    session: &str,
    effects: &Effects,
    req: Request,
) -> Result<Response, ResendError> {
    let (parts, body) = req.into_parts();

    // ── 0. Links recipients open ────────────────────────────────────────────
    // Unsubscribe, open pixel, tracked click: without a key, as from a mail
    // client (`links`).
    if links::is_link(parts.uri.path()) && matches!(parts.method, Method::GET | Method::POST) {
        return link_opened(door, session, &parts).await;
    }

    // ── 1. API key ──────────────────────────────────────────────────────────
    // Resend refuses a request without a key before looking at anything else.
    let key = auth::api_key(&parts.headers)?;
    if parts.extensions.get::<UnknownCredential>().is_some() {
        // Routed by a key that names no session (credential routing).
        return Err(auth::invalid_key());
    }

    // ── 2. Session ──────────────────────────────────────────────────────────
    // Unknown: 404; expired or ended: 410 with when and why (its tombstone).
    let ctx = door.open(session, "resend").await?;

    // ── 3. Vendor auth ──────────────────────────────────────────────────────
    // The session's own key, else one made through `/api-keys` (kept as a
    // digest in the mirror's state).
    let access = match auth::check_key(&key, ctx.credentials()) {
        Ok(()) => Access::Full,
        Err(refused) => ctx
            .read(|conn| api_keys::access_of(conn, &key))
            .await?
            .ok_or(refused)?,
    };

    // ── 4. Idempotency key ──────────────────────────────────────────────────
    let idempotency_key = match parts.method {
        Method::POST => auth::idempotency_key(parts.headers.get("idempotency-key"))?,
        _ => None,
    };

    // ── 5. Rate limit ───────────────────────────────────────────────────────
    // The session's budget (`mirra up --rate-limit`); a reset refills it.
    // Every answer after this says what is left, in Resend's `ratelimit-*`
    // headers; a refusal says when to retry.
    let budget = match ctx.admit_budget() {
        Ok(b) => b,
        Err(e) => {
            let res = ResendError::from(VendorError::from(e)).into_response();
            let spent = Budget {
                limit: ctx.rate_limit(),
                remaining: 0,
                reset_ms: e.retry_after_ms,
            };
            return Ok(stamp_budget(res, &spent));
        }
    };
    let res = match admitted(door, &ctx, &access, effects, parts, body, idempotency_key).await {
        Ok(res) => res,
        Err(e) => e.into_response(),
    };
    Ok(stamp_budget(res, &budget))
}

/// Resend's rate-limit headers: the limit per second, what is left, and the
/// seconds until the budget is whole again. Nothing for an unlimited session.
fn stamp_budget(mut res: Response, b: &Budget) -> Response {
    if b.limit == 0 {
        return res;
    }
    let h = res.headers_mut();
    let secs = (b.reset_ms.max(0) + 999) / 1000;
    for (k, v) in [
        ("ratelimit-limit", b.limit.to_string()),
        ("ratelimit-remaining", b.remaining.to_string()),
        ("ratelimit-reset", secs.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    res
}

/// Steps 6 to 10, for a request that passed the key, session and rate checks.
async fn admitted(
    door: &Door,
    ctx: &SessionContext,
    access: &Access,
    effects: &Effects,
    parts: Parts,
    body: Body,
    idempotency_key: Option<String>,
) -> Result<Response, ResendError> {
    // ── 6. Route ────────────────────────────────────────────────────────────
    // Ours, else a route of Resend's API we do not serve yet, else unknown.
    let path = parts.uri.path().to_string();
    let (route, args) = match routes::table().find(&parts.method, &path) {
        Match::Found(route, args) => (route, args),
        Match::OtherMethod | Match::NoSuchPath => {
            let method = parts.method.as_str();
            return Err(match params::spec_operation(method, &path) {
                Some(op) => ResendError::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    format!(
                        "Mirra: {method} {path} ({op}) is part of Resend's API but not emulated yet."
                    ),
                ),
                None => ResendError::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    "The requested endpoint does not exist.",
                ),
            });
        }
    };
    access.allows(route.operation)?;
    let op = params::operation(route.operation);

    // ── 7. Parameters ───────────────────────────────────────────────────────
    // The query string of a GET or DELETE, the JSON body otherwise; checked
    // against the operation's schema (generated from Resend's OpenAPI) before
    // any state is read, so a bad request is never saved under its key.
    let body = read_body(body).await?;
    let reads_body = !matches!(parts.method, Method::GET | Method::DELETE);
    let input = if reads_body {
        json_body(&body)?
    } else {
        query(parts.uri.query().unwrap_or_default())
    };
    let encoding = if reads_body {
        Encoding::Json
    } else {
        Encoding::Form
    };
    let params = validate(&input, &op.params, encoding).map_err(ResendError::from)?;

    // ── 8. Apply, in one read or one logged transaction ─────────────────────
    let base = base_url(&parts.headers, ctx.session_id(), "resend");
    let call = |conn: &Connection| -> Result<Value, ResendError> {
        effects.begin();
        let c = Call {
            conn,
            args: &args,
            params: &params,
            headers: &parts.headers,
            now_ms: ctx.now_ms(),
            ctx,
            access,
            base_url: &base,
            effects,
        };
        (route.handler)(&c)
    };
    if parts.method == Method::GET {
        let out = ctx.read(call).await?;
        return Ok(json_response(StatusCode::OK, json_text(&out)));
    }
    let ok = if routes::CREATED.contains(&route.operation) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let Some(key) = idempotency_key.as_deref() else {
        let out = ctx.write(call).await?;
        effects.schedule(door, ctx).await;
        return Ok(json_response(ok, json_text(&out)));
    };

    // ── 9. Idempotency ──────────────────────────────────────────────────────
    // Resend keeps a key 24 hours: the same request again answers what the
    // first one did and sends nothing; another payload under it is a 409.
    // Only a request that succeeded is kept (a refused one may be corrected
    // and sent again under its key).
    let endpoint = format!("{} {path}", parts.method);
    let fingerprint = idempotency::fingerprint(&body);
    let now = ctx.now();
    let saved = ctx
        .write(|conn| {
            match idempotency::check(conn, key, &endpoint, &fingerprint, now)? {
                Check::Fresh => {}
                Check::Replay(saved) => return Ok(saved),
                Check::OtherEndpoint(_) | Check::OtherParams(_) => return Err(auth::key_reused()),
            }
            let saved = Saved {
                endpoint: endpoint.clone(),
                fingerprint: fingerprint.clone(),
                created: now,
                request_id: String::new(),
                status: ok.as_u16(),
                body: json_text(&call(conn)?),
            };
            idempotency::save(conn, key, &saved)?;
            Ok(saved)
        })
        .await?;
    effects.schedule(door, ctx).await;
    let status = StatusCode::from_u16(saved.status).unwrap_or(StatusCode::OK);
    Ok(json_response(status, saved.body))
}

/// A link a recipient opened: what `links` says it comes to.
async fn link_opened(door: &Door, session: &str, parts: &Parts) -> Result<Response, ResendError> {
    let ctx = door.open(session, "resend").await?;
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or_default().to_string();
    let empty = Later::default();
    let opened = ctx
        .write(|conn| {
            let call = Call::later(conn, &ctx, ctx.now_ms(), &empty);
            links::open(&call, &path, &query)
        })
        .await?;
    // An open or a click raised its event: the dispatcher is told now.
    empty.effects.schedule(door, &ctx).await;
    let html = |status: StatusCode, text: String| {
        let page = format!("<!doctype html><title>Mirra</title><p>{text}</p>\n");
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            page,
        )
            .into_response()
    };
    let res = match opened {
        Opened::Unsubscribed(email) => html(
            StatusCode::OK,
            format!("{email} is unsubscribed and will receive no more broadcasts."),
        ),
        Opened::Pixel => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "image/gif")],
            PIXEL.to_vec(),
        )
            .into_response(),
        Opened::Redirect(to) => match HeaderValue::from_str(&to) {
            Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
            Err(_) => html(StatusCode::BAD_REQUEST, "This link is not valid.".into()),
        },
        Opened::NotFound => html(StatusCode::NOT_FOUND, "This link is not valid.".into()),
    };
    // The events the open raised go on its trace record.
    Ok(empty.effects.attach(res))
}

/// A transparent 1×1 GIF: the open pixel's answer.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

// ── 10. Due work and events ─────────────────────────────────────────────────
// Timers were written in the request's transaction; what is left is telling
// the dispatcher, before the response goes out (`Effects::schedule`), and
// handing the raised events to the trace record (`Effects::attach`).

async fn read_body(body: Body) -> Result<Bytes, ResendError> {
    to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| VendorError::TooLarge { limit: BODY_LIMIT }.into())
}

/// A JSON body: empty is `{}` (resend-node posts a cancel without one); `null`
/// fields are left out, as Resend reads them (resend-python sends a `None`
/// the caller left in its dict as `null`).
fn json_body(body: &[u8]) -> Result<Value, ResendError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ResendError::validation(format!("The request body is not valid JSON: {e}")))?;
    Ok(match v {
        Value::Object(m) => Value::Object(without_nulls(m)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|i| match i {
                    Value::Object(m) => Value::Object(without_nulls(m)),
                    other => other,
                })
                .collect(),
        ),
        other => other,
    })
}

fn without_nulls(m: Map<String, Value>) -> Map<String, Value> {
    m.into_iter().filter(|(_, v)| !v.is_null()).collect()
}

/// `limit=10&after=…` as a flat map of strings (Resend's query parameters are
/// all scalars); the schema types them.
fn query(q: &str) -> Value {
    Value::Object(
        form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nulls are left out of a body and of each item of a batch; an empty
    /// body is an empty object.
    #[test]
    fn null_fields_and_empty_bodies_read_as_absent() {
        assert_eq!(
            json_body(br#"{"to": "a@b.c", "text": null}"#).expect("json"),
            serde_json::json!({"to": "a@b.c"})
        );
        assert_eq!(
            json_body(br#"[{"cc": null}]"#).expect("json"),
            serde_json::json!([{}])
        );
        assert_eq!(json_body(b" ").expect("empty"), serde_json::json!({}));
        let e = json_body(b"{nope").expect_err("not json");
        assert_eq!((e.status.as_u16(), e.name), (422, "validation_error"));
    }
}
