//! The pages a browser opens — no API key, as on Stripe, where they live on
//! `hooks.stripe.com` and `pay.stripe.com`:
//!
//! * `GET {base}/_mirra/3ds/{intent}?client_secret=…` — the 3-D Secure
//!   challenge a PaymentIntent's or SetupIntent's `next_action` points at, with
//!   "Complete" and "Fail" buttons. They post back to the same path; the page
//!   sends the matching test-helper request
//!   (`POST /v1/test_helpers/mirra/…/{intent}/authenticate`) through the
//!   pipeline with the session's key, then redirects to the `return_url` the
//!   confirmation gave (with `payment_intent`, `payment_intent_client_secret`
//!   and `redirect_status`, as Stripe does), or says how it went.
//! * `GET {base}/_mirra/receipts/{charge}` — a charge's `receipt_url`.
//! * `{base}/_mirra/checkout/{session}` — a Checkout Session's `url`
//!   (`checkout::page`).
//!
//! The intent's client secret guards the challenge as Stripe's unguessable
//! URLs do.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Request, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use http_body_util::BodyExt;
use serde_json::Value;

use super::error::StripeError;
use super::{charges, payment_intents, pipeline, setup_intents};
use crate::session::{Door, SessionContext};

/// `GET /_mirra/3ds/{intent}`.
pub async fn challenge(
    State(door): State<Door>,
    Path((session, intent)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    let secret = query_value(uri.query(), "client_secret");
    let obj = match intent_of(&door, &session, &intent, secret.as_deref()).await {
        Ok((_, obj)) => obj,
        Err(page) => return page,
    };
    let status = obj["status"].as_str().unwrap_or_default();
    let what = match obj["object"].as_str() {
        Some("payment_intent") => format!(
            "Pay {} with the card below.",
            super::amounts::format(
                obj["amount"].as_i64().unwrap_or(0),
                obj["currency"].as_str().unwrap_or("usd")
            )
        ),
        _ => "Save the card below for future payments.".to_string(),
    };
    let body = if status == "requires_action" {
        format!(
            r#"<p>{what}</p><p>This is Mirra's stand-in for the card issuer's 3-D Secure page: choose how the customer's authentication ends.</p>
<form method="post"><input type="hidden" name="client_secret" value="{secret}">
<button name="outcome" value="complete">Complete</button>
<button name="outcome" value="fail">Fail</button></form>"#,
            what = escape(&what),
            secret = escape(secret.as_deref().unwrap_or_default()),
        )
    } else {
        format!(
            "<p>This {} is not awaiting authentication (status: {}).</p>",
            escape(obj["object"].as_str().unwrap_or_default()),
            escape(status)
        )
    };
    page(StatusCode::OK, "3-D Secure authentication", &body)
}

/// `POST /_mirra/3ds/{intent}`: `outcome=complete|fail`.
pub async fn authenticate(
    State(door): State<Door>,
    Path((session, intent)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let secret = query_value(std::str::from_utf8(&body).ok(), "client_secret");
    let outcome = query_value(std::str::from_utf8(&body).ok(), "outcome").unwrap_or_default();
    let (ctx, obj) = match intent_of(&door, &session, &intent, secret.as_deref()).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let kind = match obj["object"].as_str() {
        Some("setup_intent") => "setup_intents",
        _ => "payment_intents",
    };
    let key = ctx
        .credentials()
        .get("secret_key")
        .cloned()
        .unwrap_or_default();
    let outcome = if outcome == "fail" {
        "fail"
    } else {
        "complete"
    };
    let (status, after) = send(
        &door,
        &session,
        &key,
        &headers,
        &format!("/v1/test_helpers/mirra/{kind}/{intent}/authenticate"),
        format!("outcome={outcome}"),
    )
    .await;
    if status != StatusCode::OK {
        let message = after["error"]["message"]
            .as_str()
            .unwrap_or("unknown error");
        return page(
            status,
            "Authentication",
            &format!("<p>{}</p>", escape(message)),
        );
    }
    if let Some(return_url) = super::three_d_secure::return_url(&obj["next_action"]) {
        let object = obj["object"].as_str().unwrap_or("payment_intent");
        let redirect_status = match after["status"].as_str() {
            Some("succeeded" | "requires_capture" | "processing") => "succeeded",
            _ => "failed",
        };
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair(object, &intent)
            .append_pair(
                &format!("{object}_client_secret"),
                secret.as_deref().unwrap_or_default(),
            )
            .append_pair("redirect_status", redirect_status)
            .finish();
        let sep = if return_url.contains('?') { '&' } else { '?' };
        return (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, format!("{return_url}{sep}{query}"))],
        )
            .into_response();
    }
    page(
        StatusCode::OK,
        "Authentication",
        &format!(
            "<p>Authentication {}. The {} is now <b>{}</b>. You may close this window.</p>",
            if outcome == "fail" {
                "failed"
            } else {
                "completed"
            },
            escape(obj["object"].as_str().unwrap_or_default()),
            escape(after["status"].as_str().unwrap_or_default())
        ),
    )
}

/// `GET /_mirra/receipts/{charge}`.
pub async fn receipt(
    State(door): State<Door>,
    Path((session, charge)): Path<(String, String)>,
) -> Response {
    let ctx = match door.open(&session, "stripe").await {
        Ok(ctx) => ctx,
        Err(e) => return session_page(e),
    };
    let found = ctx
        .read(|conn| Ok::<_, StripeError>(charges::KIND.load(conn, &charge)?))
        .await;
    let Ok(Some(ch)) = found else {
        return page(StatusCode::NOT_FOUND, "Receipt", "<p>No such receipt.</p>");
    };
    let currency = ch["currency"].as_str().unwrap_or("usd");
    let money = |k: &str| super::amounts::format(ch[k].as_i64().unwrap_or(0), currency);
    let card = &ch["payment_method_details"]["card"];
    let mut rows = vec![
        ("Amount paid", money("amount_captured")),
        (
            "Payment method",
            format!(
                "{} ending {}",
                card["brand"].as_str().unwrap_or("card"),
                card["last4"].as_str().unwrap_or("????")
            ),
        ),
        ("Charge", charge.clone()),
    ];
    if let Some(d) = ch["description"].as_str() {
        rows.push(("Description", d.to_string()));
    }
    if ch["amount_refunded"].as_i64().unwrap_or(0) > 0 {
        rows.push(("Refunded", money("amount_refunded")));
    }
    let table: String = rows
        .iter()
        .map(|(k, v)| format!("<tr><th>{k}</th><td>{}</td></tr>", escape(v)))
        .collect();
    page(
        StatusCode::OK,
        "Receipt",
        &format!("<table>{table}</table>"),
    )
}

/// The intent `id` of the session, if `secret` is its client secret.
async fn intent_of(
    door: &Door,
    session: &str,
    id: &str,
    secret: Option<&str>,
) -> Result<(SessionContext, Value), Response> {
    let ctx = door.open(session, "stripe").await.map_err(session_page)?;
    let kind = if id.starts_with("seti_") {
        &setup_intents::KIND
    } else {
        &payment_intents::KIND
    };
    let found = ctx
        .read(|conn| Ok::<_, StripeError>(kind.load(conn, id)?))
        .await;
    let Ok(Some(obj)) = found else {
        return Err(page(
            StatusCode::NOT_FOUND,
            "Not found",
            "<p>No such intent.</p>",
        ));
    };
    if secret.is_none() || obj["client_secret"].as_str() != secret {
        return Err(page(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "<p>This page needs the intent's client secret (open the URL its next_action gives).</p>",
        ));
    }
    Ok((ctx, obj))
}

/// What a page's button stands for: the API request (`POST path` with the
/// form `body`), sent through the pipeline with the session's `key` and the
/// browser's `Host` (for host-routed sessions); its status and JSON answer.
pub(super) async fn send(
    door: &Door,
    session: &str,
    key: &str,
    headers: &HeaderMap,
    path: &str,
    body: String,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method("POST")
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(host) = headers.get(header::HOST) {
        req = req.header(header::HOST, host);
    }
    let Ok(req) = req.body(Body::from(body)) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, Value::Null);
    };
    let res = pipeline::serve(door, session, req).await;
    let status = res.status();
    let bytes = res
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

pub(super) fn session_page(e: crate::session::SessionError) -> Response {
    let e = StripeError::from(e);
    let message = e.body()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    page(
        e.status(),
        "Session",
        &format!("<p>{}</p>", escape(&message)),
    )
}

pub(super) fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub(super) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Mirra · {title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32em;margin:3em auto}}\
         button{{font-size:1.1em;margin-right:1em}}th{{text-align:left;padding-right:1em}}</style>\
         </head><body><h1>{title}</h1>{body}<p><small>Mirra Stripe mirror (test mode)</small></p></body></html>"
    );
    (status, Html(html)).into_response()
}

pub(super) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
