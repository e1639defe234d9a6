//! The customer portal: `POST /v1/billing_portal/sessions` answers a `url`,
//! a page this mirror serves (`{base}/_mirra/billing_portal/{session}`, no
//! key; the session's random id guards it) where the customer sees their
//! subscriptions and can cancel one (at the end of its period, the portal's
//! default), take the cancellation back, or switch it to another active
//! recurring price of the same currency and interval (prorated, as the
//! portal's default configuration does), then go back to `return_url`. Each
//! action is the API request the portal makes, sent through the pipeline with
//! the session's key, so it raises the same events
//! (`customer.subscription.updated`). Portal configurations are not emulated:
//! every session has the default one.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rusqlite::Connection;
use serde_json::{json, Value};

use super::amounts;
use super::customers;
use super::error::StripeError;
use super::pages::{escape, page, query_value, send, session_page};
use super::pipeline::Call;
use super::update;
use super::{products, subscriptions, Stripe};
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::Vendor;
use crate::session::Door;

pub static KIND: Kind = Kind {
    object: "billing_portal.session",
    table: "billing_portal_sessions",
    prefix: "bps_",
    id_len: 24,
    columns: &[],
};

/// `POST /v1/billing_portal/sessions`.
pub fn create(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    update::reject_unhandled(
        p,
        &["customer", "expand", "locale", "return_url"],
        "portal configurations, deep-link flows, Connect and Accounts v2 are not emulated",
    )?;
    let Some(Value::String(customer)) = p.get("customer") else {
        return Err(StripeError::missing_parameter("customer"));
    };
    customers::KIND
        .load(call.conn, customer)?
        .ok_or_else(|| StripeError::no_such_param("customer", customer, "customer"))?;
    let id = Stripe.new_id(&KIND);
    let secret = call.ctx.credential("secret_key");
    let configuration = format!(
        "bpc_{}",
        &super::cards::fingerprint(&secret, "billing_portal_configuration")
    );
    let v = json!({
        "id": id,
        "object": "billing_portal.session",
        "configuration": configuration,
        "created": call.now,
        "customer": customer,
        "customer_account": null,
        "flow": null,
        "livemode": false,
        "locale": p.get("locale").cloned().unwrap_or(Value::Null),
        "on_behalf_of": null,
        "return_url": p.get("return_url").cloned().unwrap_or(Value::Null),
        "url": format!("{}/_mirra/billing_portal/{id}", call.base_url),
    });
    KIND.insert(call.conn, &v)?;
    Ok(v)
}

/// What the portal page shows.
struct View {
    portal: Value,
    subscriptions: Vec<Value>,
    /// Per subscription: the prices it may switch to (id, label).
    switches: Vec<Vec<(String, String)>>,
    key: String,
}

/// The customer's subscriptions the portal lists: all but ended ones.
fn live_subscriptions(conn: &Connection, customer: &str) -> Result<Vec<Value>, StripeError> {
    let condition = "customer = ?1 AND status NOT IN ('canceled', 'incomplete_expired')";
    Ok(subscriptions::KIND.select(conn, condition, [customer])?)
}

/// Active recurring prices a one-item subscription may switch to: same
/// currency and interval, another price.
fn switches(conn: &Connection, sub: &Value) -> Result<Vec<(String, String)>, StripeError> {
    let items = sub["items"]["data"].as_array().cloned().unwrap_or_default();
    let [item] = items.as_slice() else {
        return Ok(Vec::new());
    };
    let current = &item["price"];
    let mut stmt = conn.prepare_cached("SELECT data FROM prices WHERE deleted = 0 ORDER BY seq")?;
    let texts = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = Vec::new();
    for t in texts {
        let p: Value = serde_json::from_str(&t)
            .map_err(|e| StripeError::Internal(format!("stored price: {e}")))?;
        let same_cycle = p["recurring"]["interval"] == current["recurring"]["interval"]
            && p["recurring"]["interval_count"] == current["recurring"]["interval_count"];
        if p["active"] != true
            || p["id"] == current["id"]
            || p["currency"] != current["currency"]
            || !same_cycle
        {
            continue;
        }
        let product = products::KIND
            .load(conn, p["product"].as_str().unwrap_or_default())?
            .and_then(|pr| pr["name"].as_str().map(str::to_string))
            .unwrap_or_default();
        out.push((
            p["id"].as_str().unwrap_or_default().to_string(),
            format!("{product} — {}", price_label(&p)),
        ));
    }
    Ok(out)
}

/// `$30.00 / month`.
fn price_label(p: &Value) -> String {
    let currency = p["currency"].as_str().unwrap_or("usd");
    let amount = match p["unit_amount"].as_i64() {
        Some(a) => amounts::format(a, currency),
        None => "tiered".to_string(),
    };
    format!(
        "{amount} / {}",
        p["recurring"]["interval"].as_str().unwrap_or("month")
    )
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
            let portal = KIND
                .load(conn, &id)?
                .ok_or_else(|| StripeError::no_such("billing_portal.session", &id, "session"))?;
            let subs = live_subscriptions(conn, portal["customer"].as_str().unwrap_or_default())?;
            let sw = subs
                .iter()
                .map(|s| switches(conn, s))
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, StripeError>((portal, subs, sw))
        })
        .await;
    match read {
        Ok((portal, subscriptions, switches)) => Ok(View {
            portal,
            subscriptions,
            switches,
            key,
        }),
        Err(_) => Err(page(
            StatusCode::NOT_FOUND,
            "Billing",
            "<p>No such portal session.</p>",
        )),
    }
}

/// `GET /_mirra/billing_portal/{portal}`.
pub async fn show(
    State(door): State<Door>,
    Path((session, id)): Path<(String, String)>,
) -> Response {
    match view(&door, &session, &id).await {
        Ok(v) => render(&v, StatusCode::OK, None),
        Err(page) => page,
    }
}

fn render(v: &View, status: StatusCode, note: Option<&str>) -> Response {
    let mut body = String::new();
    if let Some(n) = note {
        body.push_str(&format!("<p id=\"note\" role=\"alert\">{}</p>", escape(n)));
    }
    if v.subscriptions.is_empty() {
        body.push_str("<p id=\"none\">No current subscriptions.</p>");
    }
    for (sub, switches) in v.subscriptions.iter().zip(&v.switches) {
        let id = sub["id"].as_str().unwrap_or_default();
        let item = &sub["items"]["data"][0];
        let plan = format!(
            "{} × {}",
            item["quantity"].as_i64().unwrap_or(1),
            price_label(&item["price"])
        );
        let state = if sub["cancel_at_period_end"] == true {
            format!(
                "{} — cancels at the end of the period",
                sub["status"].as_str().unwrap_or_default()
            )
        } else {
            sub["status"].as_str().unwrap_or_default().to_string()
        };
        let cancel = if sub["cancel_at_period_end"] == true {
            format!(
                "<button name=\"action\" value=\"renew\" id=\"renew-{id}\">Don't cancel</button>"
            )
        } else {
            format!("<button name=\"action\" value=\"cancel\" id=\"cancel-{id}\">Cancel subscription</button>")
        };
        let switch = if switches.is_empty() {
            String::new()
        } else {
            let options: String = switches
                .iter()
                .map(|(pid, label)| {
                    format!(
                        "<option value=\"{}\">{}</option>",
                        escape(pid),
                        escape(label)
                    )
                })
                .collect();
            format!("<select name=\"price\" id=\"price-{id}\">{options}</select> <button name=\"action\" value=\"switch\" id=\"switch-{id}\">Update plan</button>")
        };
        body.push_str(&format!(
            "<form method=\"post\" class=\"subscription\" id=\"{id}\"><input type=\"hidden\" name=\"subscription\" value=\"{id}\">\
             <p><b>{}</b><br>{}</p><p>{cancel}</p><p>{switch}</p></form>",
            escape(&plan),
            escape(&state)
        ));
    }
    if let Some(url) = v.portal["return_url"].as_str() {
        body.push_str(&format!(
            "<p><a id=\"return\" href=\"{}\">Return</a></p>",
            escape(url)
        ));
    }
    page(status, "Billing", &body)
}

/// `POST /_mirra/billing_portal/{portal}`: `action=cancel|renew|switch`,
/// `subscription`, and `price` to switch to.
pub async fn act(
    State(door): State<Door>,
    Path((session, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let v = match view(&door, &session, &id).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let form = std::str::from_utf8(&body).ok();
    let field = |k: &str| query_value(form, k).unwrap_or_default();
    let sub_id = field("subscription");
    // Only the portal customer's own subscriptions.
    let Some(sub) = v.subscriptions.iter().find(|s| s["id"] == sub_id.as_str()) else {
        return render(
            &v,
            StatusCode::NOT_FOUND,
            Some("No such subscription for this customer."),
        );
    };
    let request = match field("action").as_str() {
        "cancel" => "cancel_at_period_end=true".to_string(),
        "renew" => "cancel_at_period_end=false".to_string(),
        "switch" => {
            let price = field("price");
            let allowed =
                v.subscriptions.iter().zip(&v.switches).any(|(s, sw)| {
                    s["id"] == sub_id.as_str() && sw.iter().any(|(p, _)| *p == price)
                });
            if !allowed {
                return render(
                    &v,
                    StatusCode::BAD_REQUEST,
                    Some("That plan is not offered here."),
                );
            }
            let item = sub["items"]["data"][0]["id"].as_str().unwrap_or_default();
            form_urlencoded::Serializer::new(String::new())
                .append_pair("items[0][id]", item)
                .append_pair("items[0][price]", &price)
                .append_pair("proration_behavior", "create_prorations")
                .finish()
        }
        _ => return render(&v, StatusCode::BAD_REQUEST, Some("Choose an action.")),
    };
    let (status, answer) = send(
        &door,
        &session,
        &v.key,
        &headers,
        &format!("/v1/subscriptions/{sub_id}"),
        request,
    )
    .await;
    if status != StatusCode::OK {
        let message = answer["error"]["message"]
            .as_str()
            .unwrap_or("The change failed.")
            .to_string();
        return match view(&door, &session, &id).await {
            Ok(v) => render(&v, status, Some(&message)),
            Err(page) => page,
        };
    }
    // Back to the portal page, which shows the change (post/redirect/get).
    let url = v.portal["url"].as_str().unwrap_or_default().to_string();
    (StatusCode::SEE_OTHER, [(header::LOCATION, url)]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plans read as the portal shows them.
    #[test]
    fn prices_read_as_amount_per_interval() {
        let p = json!({"currency": "usd", "unit_amount": 3000, "recurring": {"interval": "month"}});
        assert_eq!(price_label(&p), "$30.00 / month");
    }
}
