//! Every request to the Twilio mirror, top to bottom, in the order Twilio
//! answers failures in: credentials before anything else, then the URL, then
//! the parameters, before any state is touched (the Stripe mirror's
//! `pipeline.rs` is the model).
//!
//! One mirror serves the three Twilio hosts the SDKs call, told apart by the
//! path's version: `/2010-04-01/…` (api.twilio.com), `/v2/…`
//! (verify.twilio.com) and `/v1/…` (messaging.twilio.com), so one base URL
//! points an SDK's every domain at the session.
//!
//! Resources only ever see a [`Call`]: the request's validated parameters, its
//! path arguments and one connection — read-only for reads, one logged
//! transaction for writes. Twilio's REST API has no idempotency keys.

use axum::body::to_bytes;
use axum::extract::{RawPathParams, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rusqlite::Connection;
use serde_json::{Map, Value};

use super::auth;
use super::error::{json_response, TwilioError};
use super::params;
use super::routes;
use super::seed::ACCOUNT_PLACEHOLDER;
use crate::mirrors::toolkit::effects::Effects;
use crate::mirrors::toolkit::objects::json_text;
use crate::mirrors::toolkit::params::{validate, Encoding, Schema};
use crate::mirrors::toolkit::route::{base_url, Match, PathArgs};
use crate::mirrors::VendorError;
use crate::session::{Door, SessionContext, UnknownCredential};

/// Twilio's code for a webhook URL setting that is not a URL.
const INVALID_URL: u32 = 21502;

/// Largest body read; the API layer refuses larger ones earlier.
const BODY_LIMIT: usize = crate::api::BODY_LIMIT;

/// What a resource operation gets.
pub struct Call<'a> {
    /// The mirror's state: read-only for GET, the request's transaction otherwise.
    pub conn: &'a Connection,
    /// `{AccountSid}`, `{Sid}` … from the route's template.
    pub args: &'a PathArgs,
    /// The request's parameters, validated against the operation's schema
    /// (generated from Twilio's OpenAPI): the query string of a GET or
    /// DELETE, the form body of a POST. Parameters Twilio does not know are
    /// dropped, as Twilio ignores them.
    pub params: &'a Value,
    /// The request's path below the mirror (`/2010-04-01/Accounts/AC…/Messages.json`),
    /// for the paging URIs of the 2010 API.
    pub path: &'a str,
    /// The URL the request reached the mirror at, for the absolute paging URLs
    /// of the v1/v2 APIs.
    pub base_url: &'a str,
    /// Request time, Unix milliseconds.
    pub now_ms: i64,
    /// The session's own credentials and clock.
    pub ctx: &'a SessionContext,
    /// Due work and raised events (`effects`).
    effects: &'a Effects,
}

impl<'a> Call<'a> {
    /// Notes that the request left work due at `due_at_ms`; the pipeline
    /// indexes it for the dispatcher once the write commits.
    pub fn owe(&self, due_at_ms: i64) {
        self.effects.owe(due_at_ms);
    }

    /// Notes that the request raised event `id` of type `kind` (its trace
    /// record lists them).
    pub fn raise(&self, id: &str, kind: &str) {
        self.effects.raise(id, kind);
    }

    /// The session's Account SID.
    pub fn account_sid(&self) -> &str {
        self.ctx
            .credentials()
            .get("account_sid")
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// A string parameter, `None` when absent or empty.
    pub fn text(&self, name: &str) -> Option<&'a str> {
        self.params
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// A parameter as text whether the schema types it as a string or a
    /// number (`AreaCode` is an integer in one operation, a string in
    /// another), `None` when absent or empty.
    pub fn code(&self, name: &str) -> Option<String> {
        match self.params.get(name)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// Writes each of `settings` (`(parameter, JSON pointer)`) the request
    /// gives into `obj`, where `obj` has that field: create and update of a
    /// resource whose parameters are its settings.
    pub fn apply_settings(&self, settings: &[(&str, &str)], obj: &mut Value) {
        for (param, pointer) in settings {
            match self.params.get(*param) {
                None | Some(Value::Null) => {}
                Some(v) => {
                    if let Some(slot) = obj.pointer_mut(pointer) {
                        *slot = v.clone();
                    }
                }
            }
        }
    }

    /// Twilio's 21502 for the first of `params` given that is not an
    /// http(s) URL (the webhooks a number or service is configured with).
    pub fn check_urls(&self, params: &[&str]) -> Result<(), TwilioError> {
        for param in params {
            if let Some(url) = self.text(param) {
                if !super::messages::create::is_http_url(url) {
                    return Err(TwilioError::bad(
                        INVALID_URL,
                        format!("{param} is not a valid URL: {url}"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// A call for what the mirror does later on its own (a timer firing).
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
            path: "",
            base_url: "",
            now_ms,
            ctx,
            effects: &empty.effects,
        }
    }
}

/// What a [`Call::later`] borrows in place of a request's parts.
pub struct Later {
    args: PathArgs,
    params: Value,
    effects: Effects,
}

impl Default for Later {
    fn default() -> Self {
        Later {
            args: PathArgs::default(),
            params: Value::Null,
            effects: Effects::default(),
        }
    }
}

impl Later {
    /// The earliest work the calls it served left due, if any: a write made
    /// outside a mirror request (the control plane's) indexes it itself.
    pub fn owed(&self) -> Option<i64> {
        self.effects.owed()
    }
}

/// The mirror's one handler: every method and path below `/m/{session}/twilio`.
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
) -> Result<Response, TwilioError> {
    let (parts, body) = req.into_parts();

    // ── 1. Credentials ──────────────────────────────────────────────────────
    // Twilio refuses a request without Basic credentials before anything else.
    let (user, password) = auth::basic(&parts.headers)?;
    if parts.extensions.get::<UnknownCredential>().is_some() {
        // Routed by a SID that names no session (credential routing).
        return Err(auth::unauthorized("Authenticate"));
    }

    // ── 2. Session ──────────────────────────────────────────────────────────
    // Unknown: 404; expired or ended: 410 with when and why (its tombstone).
    let ctx = door.open(session, "twilio").await?;

    // ── 3. Vendor auth ──────────────────────────────────────────────────────
    auth::check(&user, &password, ctx.credentials())?;

    // ── 4. Rate limit ───────────────────────────────────────────────────────
    // The session's budget (`mirra up --rate-limit`): Twilio's 429, code 20429.
    ctx.admit()
        .map_err(|e| TwilioError::from(VendorError::from(e)))?;

    // ── 5. Route ────────────────────────────────────────────────────────────
    // Ours, else a route of Twilio's API we do not serve yet, else unknown.
    let path = parts.uri.path().to_string();
    let (route, args) = match routes::table().find(&parts.method, &path) {
        Match::Found(route, args) => (route, args),
        Match::OtherMethod | Match::NoSuchPath => {
            let mut e = TwilioError::not_found(&path);
            if let Some(op) = params::spec_operation(parts.method.as_str(), &path) {
                e.message = format!(
                    "{} (Mirra: {} {path} is {op} of Twilio's API, not emulated yet)",
                    e.message, parts.method
                );
            }
            return Err(e);
        }
    };
    // Another account's URL is not found, as Twilio answers it.
    let account = args.get("AccountSid");
    if !account.is_empty()
        && Some(account) != ctx.credentials().get("account_sid").map(String::as_str)
    {
        return Err(TwilioError::not_found(&path));
    }
    let op = params::operation(route.operation);

    // ── 6. Parameters ───────────────────────────────────────────────────────
    // The query string of a GET or DELETE, the form body of a POST; checked
    // against the operation's schema before any state is read.
    let raw = if parts.method == Method::POST {
        to_bytes(body, BODY_LIMIT)
            .await
            .map_err(|_| TwilioError::from(VendorError::TooLarge { limit: BODY_LIMIT }))?
    } else {
        bytes::Bytes::from(parts.uri.query().unwrap_or_default().as_bytes().to_vec())
    };
    let input = form(&raw, &op.params);
    let params = validate(&input, &op.params, Encoding::Form)
        .map_err(|e| routes::refine(route.operation, e))?;

    // ── 7. Apply, in one read or one logged transaction ─────────────────────
    let base = base_url(&parts.headers, session, "twilio");
    let call = |conn: &Connection| -> Result<Value, TwilioError> {
        effects.begin();
        let c = Call {
            conn,
            args: &args,
            params: &params,
            path: &path,
            base_url: &base,
            now_ms: ctx.now_ms(),
            ctx: &ctx,
            effects,
        };
        (route.handler)(&c)
    };
    if parts.method == Method::GET {
        let out = ctx.read(call).await?;
        return Ok(json_response(StatusCode::OK, render(&out, &ctx)));
    }
    let out = ctx.write(call).await?;

    // ── 8. Due work ─────────────────────────────────────────────────────────
    // Timers and callbacks were written in the request's transaction; what is
    // left is telling the dispatcher, before the response goes out.
    effects.schedule(door, &ctx).await;
    if parts.method == Method::DELETE {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let status = if routes::CREATED.contains(&route.operation) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, render(&out, &ctx)))
}

/// An answer's JSON, with the account SID of seeded objects (built before
/// the session had one, `seed::ACCOUNT_PLACEHOLDER`) made the session's.
fn render(out: &Value, ctx: &SessionContext) -> String {
    let text = json_text(out);
    match ctx.credentials().get("account_sid") {
        Some(account) if text.contains(ACCOUNT_PLACEHOLDER) => {
            text.replace(ACCOUNT_PLACEHOLDER, account)
        }
        _ => text,
    }
}

/// Form pairs as the tree the validator reads: a parameter the schema types
/// as an array takes every value given for it (`MediaUrl=a&MediaUrl=b`, as
/// the SDKs send lists), any other its last; names the operation does not
/// take are dropped, as Twilio ignores them.
fn form(raw: &[u8], schema: &Schema) -> Value {
    let props = schema.object().map(|o| &o.properties);
    let mut out = Map::new();
    for (k, v) in form_urlencoded::parse(raw) {
        let Some(prop) = props.and_then(|p| p.get(k.as_ref())) else {
            continue;
        };
        let v = Value::String(v.into_owned());
        if matches!(prop, Schema::Array(_)) {
            match out
                .entry(k.into_owned())
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                Value::Array(a) => a.push(v),
                other => *other = Value::Array(vec![v]),
            }
        } else {
            out.insert(k.into_owned(), v);
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        serde_json::from_value(serde_json::json!({
            "type": "object",
            "properties": {
                "To": {"type": "string"},
                "MediaUrl": {"type": "array", "items": {"type": "string"}},
            },
        }))
        .expect("schema")
    }

    /// Repeated keys make an array where the schema has one, the last value
    /// wins elsewhere, and unknown names are dropped as Twilio drops them.
    #[test]
    fn repeated_keys_are_arrays_and_unknown_names_are_dropped() {
        let v = form(b"To=%2B1&To=%2B2&MediaUrl=a&MediaUrl=b&Nope=1", &schema());
        assert_eq!(v, serde_json::json!({"To": "+2", "MediaUrl": ["a", "b"]}));
    }
}
