//! The page a Checkout Session's `url` opens (no API key, as on
//! `checkout.stripe.com`; the session's long random id guards it):
//!
//! * `GET {base}/_mirra/checkout/{session}` — the line items, the total, an
//!   e-mail field when the session has no customer, and a card form (number,
//!   expiry, CVC; any test number of the catalogue, `4242 4242 4242 4242`
//!   filled in). A complete session sends the browser to `success_url`
//!   (`{CHECKOUT_SESSION_ID}` filled in), an expired one says so.
//! * `POST` there — pays through Mirra's helper
//!   (`POST /v1/test_helpers/mirra/checkout/sessions/{session}/complete`, sent
//!   through the pipeline with the session's key): done, the browser goes to
//!   `success_url`; a card that needs 3-D Secure goes to the challenge page,
//!   which comes back to `…/return`; a decline shows the card error on the form.
//! * `GET {base}/_mirra/checkout/{session}/return` — back from 3-D Secure.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::super::error::StripeError;
use super::super::pages::{escape, page, query_value, send, session_page};
use super::super::{amounts, payment_intents, setup_intents};
use super::{load, TERMS};
use crate::mirrors::toolkit::included;
use crate::session::Door;

/// What the page shows: the session, its line items, what it awaits.
struct View {
    session: Value,
    items: Vec<Value>,
    /// The intent awaiting 3-D Secure and its client secret.
    awaiting: Option<(String, String)>,
    key: String,
}

async fn view(door: &Door, session: &str, id: &str) -> Result<View, Response> {
    let ctx = door.open(session, "stripe").await.map_err(session_page)?;
    let key = ctx
        .credentials()
        .get("secret_key")
        .cloned()
        .unwrap_or_default();
    let id = id.to_string();
    let read = ctx
        .read(move |conn| {
            let s = load(conn, &id)?;
            let items = included::get(conn, &id, "line_items")?
                .and_then(|l| l["data"].as_array().cloned())
                .unwrap_or_default();
            let awaiting = included::get(conn, &id, TERMS)?
                .and_then(|t| t["awaiting"].as_str().map(str::to_string));
            let awaiting = match awaiting {
                Some(intent) => {
                    let kind = if intent.starts_with("seti_") {
                        &setup_intents::KIND
                    } else {
                        &payment_intents::KIND
                    };
                    kind.load(conn, &intent)?.and_then(|i| {
                        (i["status"] == "requires_action").then(|| {
                            (
                                intent.clone(),
                                i["client_secret"].as_str().unwrap_or_default().to_string(),
                            )
                        })
                    })
                }
                None => None,
            };
            Ok::<_, StripeError>((s, items, awaiting))
        })
        .await;
    match read {
        Ok((session, items, awaiting)) => Ok(View {
            session,
            items,
            awaiting,
            key,
        }),
        Err(_) => Err(page(
            StatusCode::NOT_FOUND,
            "Checkout",
            "<p>No such Checkout Session.</p>",
        )),
    }
}

/// `success_url` with the session's id where `{CHECKOUT_SESSION_ID}` is.
fn success(s: &Value) -> Response {
    let url = s["success_url"].as_str().unwrap_or_default().replace(
        "{CHECKOUT_SESSION_ID}",
        s["id"].as_str().unwrap_or_default(),
    );
    redirect(&url)
}

fn redirect(url: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, url.to_string())]).into_response()
}

/// `GET /_mirra/checkout/{session}`.
pub async fn show(
    State(door): State<Door>,
    Path((session, id)): Path<(String, String)>,
) -> Response {
    let v = match view(&door, &session, &id).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    render(&v, StatusCode::OK, None)
}

fn render(v: &View, status: StatusCode, error: Option<&str>) -> Response {
    let s = &v.session;
    match s["status"].as_str() {
        Some("complete") => return success(s),
        Some("expired") => {
            return page(
                StatusCode::GONE,
                "Checkout",
                "<p>This Checkout Session has expired.</p>",
            )
        }
        _ => {}
    }
    let currency = s["currency"].as_str().unwrap_or("usd");
    let rows: String = v
        .items
        .iter()
        .map(|i| {
            format!(
                "<tr><td>{}</td><td>{}</td></tr>",
                escape(i["description"].as_str().unwrap_or_default()),
                escape(&amounts::format(
                    i["amount_subtotal"].as_i64().unwrap_or(0),
                    currency
                ))
            )
        })
        .collect();
    let mode = s["mode"].as_str().unwrap_or("payment");
    let total = match s["amount_total"].as_i64() {
        Some(t) => format!(
            "<p id=\"total\">Total due today: <b>{}</b></p>",
            escape(&amounts::format(t, currency))
        ),
        None => String::new(),
    };
    let email = if s["customer"].is_null() {
        format!(
            "<p><label>Email <input name=\"email\" type=\"email\" value=\"{}\"></label></p>",
            escape(s["customer_email"].as_str().unwrap_or_default())
        )
    } else {
        String::new()
    };
    let promotion = if s["allow_promotion_codes"] == true {
        "<p><label>Promotion code <input name=\"promotion_code\" id=\"promotion_code\"></label></p>"
    } else {
        ""
    };
    let button = match mode {
        "subscription" => "Subscribe",
        "setup" => "Save card",
        _ => "Pay",
    };
    let error = error
        .map(|e| {
            format!(
                "<p id=\"error\" role=\"alert\" style=\"color:#b00\">{}</p>",
                escape(e)
            )
        })
        .unwrap_or_default();
    let cancel = s["cancel_url"]
        .as_str()
        .map(|u| format!("<p><a id=\"cancel\" href=\"{}\">Cancel</a></p>", escape(u)))
        .unwrap_or_default();
    let body = format!(
        r#"<table>{rows}</table>{total}{error}
<form method="post" id="checkout">{email}
<p><label>Card number <input name="number" id="number" value="4242 4242 4242 4242" autocomplete="off"></label></p>
<p><label>Expiry month <input name="exp_month" id="exp_month" value="12" size="2"></label>
<label>year <input name="exp_year" id="exp_year" value="2034" size="4"></label>
<label>CVC <input name="cvc" id="cvc" value="123" size="4"></label></p>
<p><label>Name on card <input name="name" id="name"></label></p>{promotion}
<p><button type="submit" id="submit">{button}</button></p></form>{cancel}
<p><small>Any card of Stripe's test catalogue works here as it does in test mode: 4000 0000 0000 0002 is declined, 4000 0025 0000 3155 asks for 3-D Secure.</small></p>"#
    );
    page(status, "Checkout", &body)
}

/// `POST /_mirra/checkout/{session}`: pays with the card of the form.
pub async fn submit(
    State(door): State<Door>,
    Path((session, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let v = match view(&door, &session, &id).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    if v.session["status"] != "open" {
        return render(&v, StatusCode::OK, None);
    }
    let form = std::str::from_utf8(&body).ok();
    let field = |k: &str| query_value(form, k).unwrap_or_default();
    let number: String = field("number")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    // Built whole before any await: the serializer is not `Send`.
    let request = {
        let mut r = form_urlencoded::Serializer::new(String::new());
        r.append_pair("card[number]", &number)
            .append_pair("card[exp_month]", field("exp_month").trim())
            .append_pair("card[exp_year]", field("exp_year").trim())
            .append_pair("card[cvc]", field("cvc").trim())
            .append_pair(
                "return_url",
                &format!("{}/return", v.session["url"].as_str().unwrap_or_default()),
            );
        for k in ["email", "name", "promotion_code"] {
            let value = field(k);
            if !value.trim().is_empty() {
                r.append_pair(k, value.trim());
            }
        }
        r.finish()
    };
    let (status, answer) = send(
        &door,
        &session,
        &v.key,
        &headers,
        &format!("/v1/test_helpers/mirra/checkout/sessions/{id}/complete"),
        request,
    )
    .await;
    if status != StatusCode::OK {
        let message = answer["error"]["message"]
            .as_str()
            .unwrap_or("The payment failed.");
        return render(&v, status, Some(message));
    }
    after_payment(&door, &session, &id).await
}

/// Where the browser goes once the helper answered: `success_url`, the 3-D
/// Secure challenge, or the form again.
async fn after_payment(door: &Door, session: &str, id: &str) -> Response {
    let v = match view(door, session, id).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    if let (Some("open"), Some((intent, secret))) = (v.session["status"].as_str(), &v.awaiting) {
        let url = v.session["url"].as_str().unwrap_or_default();
        let base = url.rsplit_once("/_mirra/checkout/").map_or(url, |(b, _)| b);
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_secret", secret)
            .finish();
        return redirect(&format!("{base}/_mirra/3ds/{intent}?{query}"));
    }
    render(&v, StatusCode::OK, None)
}

/// `GET /_mirra/checkout/{session}/return`: back from 3-D Secure.
pub async fn returned(
    State(door): State<Door>,
    Path((session, id)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    let v = match view(&door, &session, &id).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let failed = query_value(uri.query(), "redirect_status").as_deref() == Some("failed");
    let error = (failed && v.session["status"] == "open")
        .then_some("The card's authentication failed. Try again or use another card.");
    render(&v, StatusCode::OK, error)
}
