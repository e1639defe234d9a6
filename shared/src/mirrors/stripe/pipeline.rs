//! Every request to the Stripe mirror, top to bottom (stripe-mock's bannered
//! `HandleRequest` is the model). One function, [`handle`], runs the steps in
//! the order Stripe answers failures in: a request without a key fails before
//! one for an unknown URL, a bad parameter before any state is touched.
//!
//! Resources only ever see a [`Call`]: the request's validated parameters, its
//! path arguments and one connection — read-only for reads, one transaction
//! (logged, with its idempotency record) for writes.

use axum::body::{to_bytes, Body};
use axum::extract::{RawPathParams, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use rusqlite::Connection;
use serde_json::{Map, Value};

use super::auth;
use super::error::{json_response, StripeError};
use super::expand::Rules;
use super::form::decode;
use super::new_request_id;
use super::params;
use super::routes;
use super::update;
use crate::mirrors::toolkit::effects::Effects;
use crate::mirrors::toolkit::expand::{check, expand, ExpandError};
use crate::mirrors::toolkit::idempotency::{self, Check, Saved};
use crate::mirrors::toolkit::objects::json_text;
use crate::mirrors::toolkit::route::{Match, PathArgs};
use crate::mirrors::VendorError;
use crate::session::{Door, SessionContext, UnknownCredential};

/// The API version whose shapes this mirror serves: the one today's official
/// SDKs pin (stripe-python 16.1, stripe-node 23.1).
pub const API_VERSION: &str = "2026-10-28.endive";
/// Largest body read; the API layer refuses larger ones earlier.
const BODY_LIMIT: usize = crate::api::BODY_LIMIT;

/// What a resource operation gets.
pub struct Call<'a> {
    /// The mirror's state: read-only for GET, the request's transaction otherwise.
    pub conn: &'a Connection,
    /// `{customer}`, `{intent}` … from the route's template.
    pub args: &'a PathArgs,
    /// The request's parameters (query string and form body), `expand` taken out.
    pub params: &'a Map<String, Value>,
    /// Fields asked for with `expand[]` that the handler renders itself rather
    /// than the pipeline expanding them (a search result's `total_count`).
    pub included: &'a [String],
    /// Request time, Unix seconds.
    pub now: i64,
    /// `req_…`, for the events the request raises.
    pub request_id: &'a str,
    pub idempotency_key: Option<&'a str>,
    /// Where the call runs: a session (its credentials, its clock), or an
    /// image being seeded.
    pub ctx: Context<'a>,
    /// Where this session's mirror was reached (`http://127.0.0.1:4400/m/ses_…/stripe`,
    /// or the host-routed `http://stripe-….localhost:4400`), for the links the
    /// mirror hands out: 3-D Secure pages, receipts.
    pub base_url: &'a str,
    /// Due work and raised events (`effects`).
    effects: &'a Effects,
}

impl<'a> Call<'a> {
    /// Notes that the request left work due at `due_at_ms` in the outbox; the
    /// pipeline indexes it for the dispatcher once the write commits.
    pub fn owe(&self, due_at_ms: i64) {
        self.effects.owe(due_at_ms);
    }

    /// Notes that the request raised event `id` of type `kind` (its trace
    /// record lists them).
    pub fn raise(&self, id: &str, kind: &str) {
        self.effects.raise(id, kind);
    }

    /// The same call with other parameters: how one resource drives another's
    /// operation (an invoice paid through a PaymentIntent), its events and due
    /// work recorded with the request's.
    pub fn with_params<'b>(&'b self, params: &'b Map<String, Value>) -> Call<'b> {
        Call {
            conn: self.conn,
            args: self.args,
            params,
            included: &[],
            now: self.now,
            request_id: self.request_id,
            idempotency_key: self.idempotency_key,
            ctx: self.ctx,
            base_url: self.base_url,
            effects: self.effects,
        }
    }

    /// The same call recording its effects in `effects` instead: work done
    /// and then taken back (a preview) leaves nothing due and raises nothing.
    pub fn scratch<'b>(&'b self, effects: &'b Effects) -> Call<'b> {
        Call {
            effects,
            ..self.with_params(self.params)
        }
    }

    /// The same call at another time (seconds): work on a test clock happens
    /// at the clock's time.
    pub fn at<'b>(&'b self, now: i64) -> Call<'b> {
        Call {
            now,
            ..self.with_params(self.params)
        }
    }

    /// A call made while a seed image is built (`seed.rs`): the seed's request,
    /// at the seed's time, with no session.
    pub fn seeding(
        conn: &'a Connection,
        args: &'a PathArgs,
        params: &'a Map<String, Value>,
        now_ms: i64,
        effects: &'a Effects,
    ) -> Self {
        Call {
            conn,
            args,
            params,
            included: &[],
            now: now_ms.div_euclid(1000),
            request_id: "",
            idempotency_key: None,
            ctx: Context::Seeding { now_ms },
            base_url: "",
            effects,
        }
    }

    /// A call for what the mirror does later on its own (a timer firing):
    /// no request, so no parameters, request id, key or base URL. Work it
    /// leaves due is found by the dispatcher, which reads the mirror's next
    /// due time after every pass.
    pub fn later(conn: &'a Connection, ctx: Context<'a>, now_ms: i64, empty: &'a Later) -> Self {
        Call {
            conn,
            args: &empty.args,
            params: &empty.params,
            included: &[],
            now: now_ms.div_euclid(1000),
            request_id: "",
            idempotency_key: None,
            ctx,
            base_url: "",
            effects: &empty.effects,
        }
    }
}

/// Where a [`Call`] runs.
#[derive(Clone, Copy)]
pub enum Context<'a> {
    /// A live session's mirror.
    Session(&'a SessionContext),
    /// A seed image being built (`seed.rs`): no session yet, so no
    /// credentials, and one fixed time.
    Seeding { now_ms: i64 },
}

impl Context<'_> {
    /// The time, Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        match self {
            Context::Session(ctx) => ctx.now_ms(),
            Context::Seeding { now_ms } => *now_ms,
        }
    }

    /// The session's credential `name` (`secret_key` …); empty while seeding.
    pub fn credential(&self, name: &str) -> String {
        match self {
            Context::Session(ctx) => ctx.credentials().get(name).cloned().unwrap_or_default(),
            Context::Seeding { .. } => String::new(),
        }
    }
}

/// What a [`Call::later`] borrows in place of a request's parts.
#[derive(Default)]
pub struct Later {
    args: PathArgs,
    params: Map<String, Value>,
    effects: Effects,
}

/// The mirror's one handler: every method and path below `/m/{session}/stripe`.
pub async fn handle(State(door): State<Door>, path: RawPathParams, req: Request) -> Response {
    let session = crate::mirrors::toolkit::route::session_param(&path);
    serve(&door, &session, req).await
}

/// [`handle`] for a request whose session is already known: the mirror's own
/// pages (`pages.rs`) send the requests their buttons stand for through here.
pub async fn serve(door: &Door, session: &str, req: Request) -> Response {
    let request_id = new_request_id();
    let effects = Effects::default();
    let res = effects.answer(run(door, session, &request_id, &effects, req).await);
    stamp(res, &request_id)
}

/// The headers Stripe puts on every response, errors included: SDKs show the
/// `request-id` in their exceptions.
pub fn stamp(mut res: Response, request_id: &str) -> Response {
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("request-id", v);
    }
    h.insert("stripe-version", HeaderValue::from_static(API_VERSION));
    res
}

async fn run(
    door: &Door,
    session: &str,
    request_id: &str,
    effects: &Effects,
    req: Request,
) -> Result<Response, StripeError> {
    let (parts, body) = req.into_parts();

    // ── 1. API key ──────────────────────────────────────────────────────────
    // Stripe refuses a request without a key before looking at anything else.
    let key = auth::api_key(&parts.headers)?;
    if parts.extensions.get::<UnknownCredential>().is_some() {
        // Routed by a key that names no session (credential routing).
        return Err(auth::invalid_key(&key));
    }

    // ── 2. Session ──────────────────────────────────────────────────────────
    // Unknown: 404; expired or ended: 410 with when and why (its tombstone).
    let ctx = door.open(session, "stripe").await?;

    // ── 3. Vendor auth ──────────────────────────────────────────────────────
    // The key must be this session's secret key.
    auth::check_key(&key, ctx.credentials())?;

    // ── 4. API version and account ──────────────────────────────────────────
    check_version(&parts.headers)?;
    if let Some(account) = parts.headers.get("stripe-account") {
        return Err(auth::connect_refused(&key, account));
    }

    // ── 5. Idempotency key ──────────────────────────────────────────────────
    let idempotency_key = match (&parts.method, parts.headers.get("idempotency-key")) {
        (&Method::POST, Some(v)) => auth::idempotency_key(v.as_bytes())?,
        _ => None,
    };

    // ── 6. Rate limit ───────────────────────────────────────────────────────
    // The session's budget (`mirra up --rate-limit`); a reset refills it.
    ctx.admit().map_err(VendorError::from)?;

    // ── 7. Route ────────────────────────────────────────────────────────────
    // Ours, else a route of Stripe's API we do not serve yet, else unknown.
    let path = parts.uri.path().to_string();
    let (route, args) = match routes::table().find(&parts.method, &path) {
        Match::Found(route, args) => (route, args),
        Match::OtherMethod | Match::NoSuchPath => {
            let method = parts.method.as_str();
            return Err(match params::spec_operation(method, &path) {
                Some(op) => StripeError::not_emulated(method, &path, op),
                None => StripeError::unrecognized_url(method, &path),
            });
        }
    };
    let op = params::operation(route.operation);

    // ── 8. Parameters ───────────────────────────────────────────────────────
    // Query string for every method, then the form body of a POST; checked
    // against the operation's schema (generated from Stripe's OpenAPI) and
    // typed before any state is read, so a bad request is never saved under
    // its idempotency key.
    let body = read_body(body).await?;
    let mut form = Map::new();
    let mut raw = Vec::new();
    if let Some(q) = parts.uri.query().filter(|q| !q.is_empty()) {
        decode(q.as_bytes(), &mut form)?;
        raw.extend_from_slice(q.as_bytes());
    }
    if parts.method == Method::POST && !body.is_empty() {
        decode(&body, &mut form)?;
        if !raw.is_empty() {
            raw.push(b'&');
        }
        raw.extend_from_slice(&body);
    }
    let mut params = match params::validate(op, &Value::Object(form))? {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    update::check_metadata(&params)?;
    let mut expand_paths = take_expand(&mut params);
    let returns = op.returns.as_deref().unwrap_or_default();
    let included = take_included(returns, &mut expand_paths);
    check(returns, op.items.as_deref(), &expand_paths, &Rules).map_err(expand_error)?;
    let base_url = crate::mirrors::toolkit::route::base_url(&parts.headers, session, "stripe");

    // ── 9. Apply, in one read or one logged transaction ─────────────────────
    let call = |conn: &Connection| -> Result<Value, StripeError> {
        effects.begin();
        let c = Call {
            conn,
            args: &args,
            params: &params,
            included: &included,
            now: ctx.now(),
            request_id,
            idempotency_key: idempotency_key.as_deref(),
            ctx: Context::Session(&ctx),
            base_url: &base_url,
            effects,
        };
        let mut out = (route.handler)(&c)?;
        // ── 10. Render: expansions read the same state ──
        expand(conn, &mut out, &expand_paths, &Rules).map_err(expand_error)?;
        Ok(out)
    };
    let write = parts.method != Method::GET;
    if !write {
        let out = ctx.read(call).await?;
        return Ok(json_response(StatusCode::OK, json_text(&out)));
    }
    let Some(key) = idempotency_key.as_deref() else {
        // An error the endpoint answered is its outcome, with or without an
        // idempotency key: what it wrote stands (a declined payment leaves its
        // failed charge, the intent's `last_payment_error` and their events).
        let out = ctx
            .write(|conn| match call(conn) {
                Ok(v) => Ok(Ok(v)),
                Err(e) if e.is_final() => Ok(Err(e)),
                Err(e) => Err(e),
            })
            .await?;
        effects.schedule(door, &ctx).await;
        return match out {
            Ok(v) => Ok(json_response(StatusCode::OK, json_text(&v))),
            Err(e) => Err(e),
        };
    };
    let endpoint = format!("{} {path}", parts.method);
    let fingerprint = idempotency::fingerprint(&raw);
    let now = ctx.now();
    let outcome = ctx
        .write(|conn| {
            match idempotency::check(conn, key, &endpoint, &fingerprint, now)? {
                Check::Fresh => {}
                Check::Replay(saved) => return Ok((saved, true)),
                Check::OtherEndpoint(saved) => {
                    return Err(auth::key_reused_elsewhere(key, &saved, &endpoint))
                }
                Check::OtherParams(_) => return Err(auth::key_reused_with_other_params(key)),
            }
            // Stripe saves a request's outcome when the endpoint ran, errors included.
            let (status, body) = match call(conn) {
                Ok(v) => (200, json_text(&v)),
                Err(e) if e.is_final() => (e.status().as_u16(), e.body().to_string()),
                Err(e) => return Err(e),
            };
            let saved = Saved {
                endpoint: endpoint.clone(),
                fingerprint: fingerprint.clone(),
                created: now,
                request_id: request_id.to_string(),
                status,
                body,
            };
            idempotency::save(conn, key, &saved)?;
            Ok((saved, false))
        })
        .await?;
    effects.schedule(door, &ctx).await;
    let (saved, replayed) = outcome;
    let status = StatusCode::from_u16(saved.status).unwrap_or(StatusCode::OK);
    let mut res = json_response(status, saved.body);
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(key) {
        h.insert("idempotency-key", v);
    }
    if replayed {
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
        if let Ok(v) = HeaderValue::from_str(&saved.request_id) {
            h.insert("original-request", v);
        }
    }
    Ok(res)
}

// ── 11. Events and outbox ───────────────────────────────────────────────────
// The events and deliveries were written in the request's transaction; what is
// left is telling the dispatcher, before the response goes out
// (`Effects::schedule`, above), and handing the raised events to the trace
// record (`Effects::attach`, in `serve`).

async fn read_body(body: Body) -> Result<Bytes, StripeError> {
    to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| VendorError::TooLarge { limit: BODY_LIMIT }.into())
}

/// `Stripe-Version`: any dated version is accepted (the shapes served are those
/// of [`API_VERSION`]); a malformed one is Stripe's 400.
fn check_version(headers: &HeaderMap) -> Result<(), StripeError> {
    let Some(v) = headers.get("stripe-version") else {
        return Ok(());
    };
    let v = v.to_str().unwrap_or_default();
    let date = v.split('.').next().unwrap_or_default();
    let b = date.as_bytes();
    let dated = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if dated {
        Ok(())
    } else {
        Err(StripeError::bad_request(
            StatusCode::BAD_REQUEST,
            format!("Invalid Stripe API version: {v}"),
        ))
    }
}

/// `expand[]=a&expand[]=b` out of the (validated) parameters: the pipeline
/// expands, handlers never see it.
fn take_expand(params: &mut Map<String, Value>) -> Vec<String> {
    match params.remove("expand") {
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// The `expand[]` paths that name a field the handler includes on request
/// (`total_count` of a `search_result`), taken out of `paths`.
fn take_included(returns: &str, paths: &mut Vec<String>) -> Vec<String> {
    if returns != "search_result" {
        return Vec::new();
    }
    let (included, rest) = paths.drain(..).partition(|p| p == "total_count");
    *paths = rest;
    included
}

fn expand_error(e: ExpandError) -> StripeError {
    match e {
        ExpandError::NotExpandable(path) => StripeError::bad_request(
            StatusCode::BAD_REQUEST,
            format!("This property cannot be expanded ({path})."),
        ),
        ExpandError::TooDeep(path) => StripeError::bad_request(
            StatusCode::BAD_REQUEST,
            format!("You cannot expand more than 4 levels of a property. Property: {path}"),
        ),
        ExpandError::Sql(e) => e.into(),
    }
}
