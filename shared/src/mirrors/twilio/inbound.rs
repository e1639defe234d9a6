//! Inbound messages, for tests: an SMS "arrives" at one of the session's
//! numbers (the control plane's `POST /v1/sessions/{id}/twilio/inbound`), is
//! stored as Twilio stores one (`direction: inbound`, `status: received`),
//! and is sent to the app as Twilio sends it — form-encoded to the number's
//! `SmsUrl` (or its messaging service's inbound URL), signed with
//! `X-Twilio-Signature` — falling back to `SmsFallbackUrl` when that fails.
//! The app's TwiML answer is carried out: each `<Message>` becomes an
//! `outbound-reply` message that moves and calls back like any other, and
//! `<Redirect>` fetches more TwiML.
//!
//! All of it happens within the control-plane request, in three steps (one
//! logged write, the app's HTTP exchange outside any transaction, one logged
//! write), so nothing depends on a background task (AWS Lambda).

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};

use super::error::TwilioError;
use super::messages::create::{self, is_http_url, Fields, Outgoing};
use super::messages::{status, KIND};
use super::pipeline::{Call, Later};
use super::twiml::{self, Reply, Verb};
use super::{media, messaging_services, numbers, phone, Twilio};
use crate::mirrors::toolkit::signing;
use crate::mirrors::Vendor;
use crate::session::{Door, SessionContext};

/// How long Twilio waits for an app's answer.
const TIMEOUT: Duration = Duration::from_secs(15);
/// How many `<Redirect>`s one inbound message follows.
const MAX_REDIRECTS: usize = 10;
/// The most of an app's answer read and shown.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// A message arriving from `from` at the session's number `to`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arrival {
    pub from: String,
    pub to: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub media_urls: Vec<String>,
}

/// Where the inbound message is sent, as stored with the number.
#[derive(Debug, Clone)]
struct Target {
    url: String,
    method: String,
    fallback: Option<(String, String)>,
}

/// What the first step leaves for the others.
struct Received {
    message: Value,
    target: Option<Target>,
    params: Vec<(String, String)>,
    auth_token: String,
}

/// One request made to the app, as the answer reports it.
struct Exchange {
    url: String,
    method: String,
    status: Option<u16>,
    content_type: Option<String>,
    body: String,
    elapsed_ms: u128,
    error: Option<(u32, String)>,
}

impl Exchange {
    fn json(&self) -> Value {
        json!({
            "url": self.url,
            "method": self.method,
            "status": self.status,
            "content_type": self.content_type,
            "body": self.body,
            "elapsed_ms": self.elapsed_ms,
            "error_code": self.error.as_ref().map(|e| e.0),
            "error_message": self.error.as_ref().map(|e| e.1.clone()),
        })
    }
}

static HTTP: LazyLock<reqwest::Client> = LazyLock::new(|| {
    crate::dispatch::Dispatcher::client_builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("TwilioProxy/1.1")
        .build()
        .unwrap_or_default()
});

/// Receives `arrival` in the session of `ctx` and carries out what the app
/// answers; the inbound message, each request made to the app and the
/// replies sent.
pub async fn receive(
    ctx: &SessionContext,
    door: &Door,
    arrival: Arrival,
) -> Result<Value, TwilioError> {
    // ── 1. The message arrives (one logged write) ───────────────────────────
    let received = ctx
        .write(|conn| {
            let later = Later::default();
            let call = Call::later(conn, ctx, ctx.now_ms(), &later);
            store(&call, &arrival)
        })
        .await?;

    // ── 2. The app is asked what to do (HTTP, outside any transaction) ──────
    let mut exchanges = Vec::new();
    let mut replies: Vec<Reply> = Vec::new();
    let mut errors: Vec<Value> = Vec::new();
    if let Some(target) = &received.target {
        let mut verbs = ask(&received, &target.url, &target.method, &mut exchanges).await;
        if verbs.is_none() {
            if let Some((url, method)) = &target.fallback {
                verbs = ask(&received, url, method, &mut exchanges).await;
            }
        }
        let mut queue = verbs.unwrap_or_default();
        let mut redirects = 0;
        while !queue.is_empty() {
            let verb = queue.remove(0);
            match verb {
                Verb::Message(r) => replies.push(r),
                Verb::Redirect { url, method } => {
                    redirects += 1;
                    let base = exchanges.last().map(|e| e.url.clone()).unwrap_or_default();
                    let Some(next) = resolve(&base, &url) else {
                        errors.push(error_json(
                            11100,
                            format!("Invalid <Redirect> URL: {url:?}"),
                        ));
                        break;
                    };
                    if redirects > MAX_REDIRECTS {
                        errors.push(error_json(
                            11100,
                            format!("More than {MAX_REDIRECTS} <Redirect>s; stopped at {next}"),
                        ));
                        break;
                    }
                    // What follows a <Redirect> is never reached (Twilio).
                    queue = ask(&received, &next, &method, &mut exchanges)
                        .await
                        .unwrap_or_default();
                }
            }
        }
    }
    for e in &exchanges {
        if let Some((code, message)) = &e.error {
            errors.push(error_json(
                *code,
                format!("{message} ({} {})", e.method, e.url),
            ));
        }
    }

    // ── 3. The replies go out (one logged write) ────────────────────────────
    let later = Later::default();
    let (sent, refused) = if replies.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        ctx.write(|conn| {
            let call = Call::later(conn, ctx, ctx.now_ms(), &later);
            reply(&call, &received.message, &replies)
        })
        .await?
    };
    errors.extend(refused);
    if let Some(due) = later.owed() {
        if let Err(e) = door.schedule(ctx, due).await {
            // The replies' timers stay owed in the mirror's state and are
            // found with the next work this session schedules.
            tracing::warn!(error = %e, session = ctx.session_id(), "could not index due work");
        }
    }
    Ok(json!({
        "object": "inbound_message",
        "message": received.message,
        "requests": exchanges.iter().map(Exchange::json).collect::<Vec<_>>(),
        "replies": sent,
        "errors": errors,
    }))
}

fn error_json(code: u32, message: String) -> Value {
    json!({"code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}")})
}

/// Step 1: checks the arrival, stores the inbound message with its media,
/// and says where it goes.
fn store(call: &Call, a: &Arrival) -> Result<Received, TwilioError> {
    let to = phone::number_of(&a.to);
    let Some(number) = numbers::find(call.conn, to)? else {
        return Err(TwilioError::bad(
            21606,
            format!(
                "{} is not one of this session's phone numbers (IncomingPhoneNumbers); a message can only arrive at one of them",
                a.to
            ),
        ));
    };
    if !phone::is_e164(phone::number_of(&a.from)) && !phone::is_alphanumeric_sender(&a.from) {
        return Err(TwilioError::bad(
            21212,
            format!(
                "Invalid 'From' number: {:?} (E.164 expected, e.g. +14155550100)",
                a.from
            ),
        ));
    }
    if a.body.is_empty() && a.media_urls.is_empty() {
        return Err(TwilioError::bad(21602, "Message body is required."));
    }
    if a.body.chars().count() > create::MAX_BODY_CHARS {
        return Err(TwilioError::bad(
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        ));
    }
    if a.media_urls.len() > 10 || a.media_urls.iter().any(|u| !is_http_url(u)) {
        return Err(TwilioError::bad(
            21620,
            "media_urls: at most 10 http(s) URLs",
        ));
    }
    let service = service_of(call, &number)?;
    let sid = Twilio.new_id(&KIND);
    let mut message = create::object(
        call,
        &Fields {
            sid: &sid,
            to: &a.to,
            from: &a.from,
            body: &a.body,
            service_sid: service.as_ref().and_then(|s| s["sid"].as_str()),
            num_media: a.media_urls.len(),
            direction: "inbound",
            status: "received",
        },
    );
    message["date_sent"] = message["date_created"].clone();
    KIND.insert_at(call.conn, &message, call.now_ms.div_euclid(1000))?;
    let urls: Vec<&str> = a.media_urls.iter().map(String::as_str).collect();
    media::create_for(call, &sid, &urls)?;

    let target = target_of(&number, service.as_ref());
    let params = webhook_params(call, &message, a, service.as_ref());
    let auth_token = call
        .ctx
        .credentials()
        .get("auth_token")
        .cloned()
        .unwrap_or_default();
    Ok(Received {
        message,
        target,
        params,
        auth_token,
    })
}

/// The messaging service `number` is a sender of, if any.
fn service_of(call: &Call, number: &Value) -> Result<Option<Value>, TwilioError> {
    let Some(pn) = number["sid"].as_str() else {
        return Ok(None);
    };
    let Some(link) = messaging_services::NUMBERS.load(call.conn, pn)? else {
        return Ok(None);
    };
    let Some(service) = link["service_sid"].as_str() else {
        return Ok(None);
    };
    Ok(messaging_services::KIND.load(call.conn, service)?)
}

/// Where Twilio sends a message to `number`: its messaging service's
/// inbound URL unless the service defers to the number, else its `SmsUrl`.
fn target_of(number: &Value, service: Option<&Value>) -> Option<Target> {
    let text = |v: &Value, k: &str| {
        v[k].as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let method = |v: &Value, k: &str| {
        text(v, k)
            .map(|m| m.to_ascii_uppercase())
            .filter(|m| m == "GET")
            .unwrap_or_else(|| "POST".into())
    };
    if let Some(s) = service {
        let on_number = s["use_inbound_webhook_on_number"]
            .as_bool()
            .unwrap_or(false);
        if let (false, Some(url)) = (on_number, text(s, "inbound_request_url")) {
            return Some(Target {
                url,
                method: method(s, "inbound_method"),
                fallback: text(s, "fallback_url").map(|u| (u, method(s, "fallback_method"))),
            });
        }
    }
    Some(Target {
        url: text(number, "sms_url")?,
        method: method(number, "sms_method"),
        fallback: text(number, "sms_fallback_url")
            .map(|u| (u, method(number, "sms_fallback_method"))),
    })
}

/// The parameters of Twilio's incoming-message webhook.
fn webhook_params(
    call: &Call,
    message: &Value,
    a: &Arrival,
    service: Option<&Value>,
) -> Vec<(String, String)> {
    let sid = message["sid"].as_str().unwrap_or_default();
    let country = |n: &str| {
        if phone::number_of(n).starts_with("+1") {
            "US"
        } else {
            ""
        }
    };
    let mut p: Vec<(&str, String)> = vec![
        ("ToCountry", country(&a.to).into()),
        ("ToState", String::new()),
        ("SmsMessageSid", sid.into()),
        ("NumMedia", a.media_urls.len().to_string()),
        ("ToCity", String::new()),
        ("FromZip", String::new()),
        ("SmsSid", sid.into()),
        ("FromState", String::new()),
        ("SmsStatus", "received".into()),
        ("FromCity", String::new()),
        ("Body", a.body.clone()),
        ("FromCountry", country(&a.from).into()),
        ("To", a.to.clone()),
        ("ToZip", String::new()),
        ("NumSegments", create::segments(&a.body).to_string()),
        ("MessageSid", sid.into()),
        ("AccountSid", call.account_sid().into()),
        ("From", a.from.clone()),
        ("ApiVersion", "2010-04-01".into()),
    ];
    if let Some(s) = service.and_then(|s| s["sid"].as_str()) {
        p.push(("MessagingServiceSid", s.into()));
    }
    let mut out: Vec<(String, String)> = p.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    for (i, url) in a.media_urls.iter().enumerate() {
        out.push((
            format!("MediaContentType{i}"),
            media::content_type(url).to_string(),
        ));
        out.push((format!("MediaUrl{i}"), url.clone()));
    }
    out
}

/// Step 2: one request to the app; its TwiML's verbs, or `None` when it
/// failed (the failure is in the exchange).
async fn ask(
    r: &Received,
    url: &str,
    method: &str,
    exchanges: &mut Vec<Exchange>,
) -> Option<Vec<Verb>> {
    let started = Instant::now();
    let mut ex = Exchange {
        url: url.to_string(),
        method: method.to_string(),
        status: None,
        content_type: None,
        body: String::new(),
        elapsed_ms: 0,
        error: None,
    };
    let verbs = exchange(r, &mut ex).await;
    ex.elapsed_ms = started.elapsed().as_millis();
    exchanges.push(ex);
    verbs
}

async fn exchange(r: &Received, ex: &mut Exchange) -> Option<Vec<Verb>> {
    let fail = |ex: &mut Exchange, code: u32, message: String| {
        ex.error = Some((code, message));
        None
    };
    let Ok(mut url) = reqwest::Url::parse(&ex.url) else {
        return fail(ex, 11100, "Invalid URL".into());
    };
    if !matches!(url.scheme(), "http" | "https") {
        return fail(
            ex,
            11100,
            "Invalid URL: only http and https are requested".into(),
        );
    }
    let request = if ex.method == "GET" {
        url.query_pairs_mut().extend_pairs(r.params.iter());
        let signature = signing::twilio(&r.auth_token, url.as_str(), &[]);
        ex.url = url.to_string();
        HTTP.get(url).header("X-Twilio-Signature", signature)
    } else {
        let signature = signing::twilio(&r.auth_token, url.as_str(), &r.params);
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(r.params.iter())
            .finish();
        HTTP.post(url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", signature)
            .body(body)
    };
    let idempotency = uuid::Uuid::from_bytes(rand::random()).to_string();
    let response = match request
        .header("I-Twilio-Idempotency-Token", idempotency)
        .header("Accept", "*/*")
        .send()
        .await
    {
        Ok(res) => res,
        Err(e) if e.is_timeout() => {
            return fail(
                ex,
                11205,
                format!(
                    "HTTP connection failure: no answer within {}s",
                    TIMEOUT.as_secs()
                ),
            );
        }
        Err(e) => return fail(ex, 11200, format!("HTTP retrieval failure: {e}")),
    };
    ex.status = Some(response.status().as_u16());
    ex.content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let ok = response.status().is_success();
    let bytes = match response.bytes().await {
        Ok(b) => b,
        Err(e) => return fail(ex, 11200, format!("HTTP retrieval failure: {e}")),
    };
    let cut = bytes.len().min(MAX_ANSWER_BYTES);
    ex.body = String::from_utf8_lossy(&bytes[..cut]).into_owned();
    if !ok {
        let status = ex.status.unwrap_or_default();
        return fail(
            ex,
            11200,
            format!("HTTP retrieval failure: the app answered {status}"),
        );
    }
    if ex.body.trim().is_empty() {
        return Some(Vec::new()); // Nothing to do: no reply.
    }
    let mime = ex
        .content_type
        .as_deref()
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match mime.as_str() {
        "text/xml" | "application/xml" | "text/html" => match twiml::parse(&ex.body) {
            Ok(doc) => Some(doc.verbs),
            Err(e) => fail(ex, 12100, e.to_string()),
        },
        // Plain text is sent back as the reply, as Twilio does.
        "text/plain" => Some(vec![Verb::Message(Reply {
            body: ex.body.trim().to_string(),
            ..Reply::default()
        })]),
        other => fail(
            ex,
            12300,
            format!(
                "Invalid Content-Type {other:?}: TwiML is text/xml, application/xml or text/plain"
            ),
        ),
    }
}

/// `url` relative to `base` (a `<Redirect>`'s), absolute and http(s).
fn resolve(base: &str, url: &str) -> Option<String> {
    let resolved = match reqwest::Url::parse(base) {
        Ok(b) => b.join(url).ok()?,
        Err(_) => reqwest::Url::parse(url).ok()?,
    };
    matches!(resolved.scheme(), "http" | "https").then(|| resolved.to_string())
}

/// Step 3: each `<Message>` as an `outbound-reply` message; those Twilio
/// would refuse are reported instead.
fn reply(
    call: &Call,
    inbound: &Value,
    replies: &[Reply],
) -> Result<(Vec<Value>, Vec<Value>), TwilioError> {
    let (mut sent, mut refused) = (Vec::new(), Vec::new());
    let from_default = inbound["to"].as_str().unwrap_or_default();
    let to_default = inbound["from"].as_str().unwrap_or_default();
    for r in replies {
        let to = r.to.as_deref().unwrap_or(to_default);
        let from = r.from.as_deref().unwrap_or(from_default);
        if r.body.is_empty() && r.media.is_empty() {
            refused.push(error_json(
                14103,
                "Invalid Body: a <Message> needs a body or media".into(),
            ));
            continue;
        }
        if r.body.chars().count() > create::MAX_BODY_CHARS {
            refused.push(error_json(
                14103,
                "Invalid Body: over 1600 characters".into(),
            ));
            continue;
        }
        let outcome = match phone::check_to(to, from) {
            Ok(o) => o,
            Err(e) => {
                refused.push(error_json(
                    14101,
                    format!("'To' attribute is invalid: {}", e.message),
                ));
                continue;
            }
        };
        let callback = r.action.clone().filter(|u| is_http_url(u));
        let media: Vec<&str> = r.media.iter().map(String::as_str).collect();
        let msg = create::record_as(
            call,
            Outgoing {
                to,
                from,
                body: &r.body,
                service_sid: None,
                media_urls: &media,
                send_at: None,
                plan: status::Plan { callback, outcome },
            },
            "outbound-reply",
        )?;
        sent.push(msg);
    }
    Ok((sent, refused))
}
