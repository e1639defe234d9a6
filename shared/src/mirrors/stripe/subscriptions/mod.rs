//! Subscriptions: `/v1/subscriptions`. Behaviour in three files: this one
//! reads requests (create, cancel, resume, lists, search), [`changes`]
//! updates;
//! [`lifecycle`] moves a subscription through its statuses on its customer's
//! clock; [`proration`] prices mid-period changes; [`items`] is the
//! subscription item model the `/v1/subscription_items` resource shares.

pub mod changes;
pub mod items;
pub mod lifecycle;
pub mod proration;

pub use changes::update;

use rusqlite::Connection;
use serde_json::{json, Map, Value};

use super::billing;
use super::customers;
use super::discounts;
use super::error::StripeError;
use super::events;
use super::invoice_items;
use super::lists;
use super::payment_methods;
use super::pipeline::Call;
use super::search::Search;
use super::update;
use super::Stripe;
use crate::mirrors::toolkit::list::Filter;
use crate::mirrors::toolkit::objects::{into_map, Kind};
use crate::mirrors::toolkit::search::{Field, Searchable};
use crate::mirrors::Vendor;
use rusqlite::types::Value as Sql;

/// Storage: `customer` and `status` indexed.
pub static KIND: Kind = Kind {
    object: "subscription",
    table: "subscriptions",
    prefix: "sub_",
    id_len: 24,
    columns: &["customer", "status"],
};

/// `GET /v1/subscriptions/search`.
pub static SEARCH: Search = Search {
    searchable: Searchable {
        kind: &KIND,
        fields: &[
            Field::number("created"),
            Field::token("customer"),
            Field::map("metadata"),
            Field::token("status"),
        ],
    },
    url: "/v1/subscriptions/search",
};

/// A subscription may have at most this many items.
const MAX_ITEMS: usize = 20;
/// The longest trial Stripe allows.
const MAX_TRIAL_DAYS: i64 = 730;

pub(super) const NOT_EMULATED: &str = "Connect, automatic tax, billing thresholds and schedules, \
    pending invoice item intervals, discounts and backdating are not emulated";

/// What `POST /v1/subscriptions` acts on.
const CREATE: &[&str] = &[
    "billing_mode",
    "cancel_at",
    "cancel_at_period_end",
    "collection_method",
    "currency",
    "customer",
    "days_until_due",
    "default_payment_method",
    "default_tax_rates",
    "description",
    "discounts",
    "expand",
    "items",
    "metadata",
    "off_session",
    "payment_behavior",
    "payment_settings",
    "proration_behavior",
    "trial_end",
    "trial_from_plan",
    "trial_period_days",
    "trial_settings",
];

pub fn load(conn: &Connection, id: &str) -> Result<Value, StripeError> {
    KIND.load(conn, id)?
        .ok_or_else(|| StripeError::no_such("subscription", id, "id"))
}

/// Stores `sub` (its items embedded as stored).
pub fn save(call: &Call, sub: &Value) -> Result<(), StripeError> {
    KIND.save(call.conn, sub)?;
    Ok(())
}

/// A requested item, checked.
struct Requested {
    params: Map<String, Value>,
    price: Value,
    quantity: i64,
    tax_rates: Value,
}

fn requested_items(call: &Call, given: Option<&Value>) -> Result<Vec<Requested>, StripeError> {
    let Some(Value::Array(list)) = given else {
        return Err(StripeError::missing_parameter("items"));
    };
    if list.is_empty() {
        return Err(StripeError::missing_parameter("items"));
    }
    if list.len() > MAX_ITEMS {
        return Err(StripeError::invalid(
            format!("Invalid array: items can have at most {MAX_ITEMS} items"),
            "items",
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, it) in list.iter().enumerate() {
        let at = format!("items[{i}]");
        let params = it.as_object().cloned().unwrap_or_default();
        for k in ["discounts", "billing_thresholds", "current_trial"] {
            if params.get(k).is_some_and(|v| !v.is_null()) {
                return Err(StripeError::unsupported(
                    &format!("{at}[{k}]"),
                    NOT_EMULATED,
                ));
            }
        }
        let price = items::price_for(call, &params, &at, false)?;
        let quantity = params.get("quantity").and_then(Value::as_i64).unwrap_or(1);
        if quantity < 0 {
            return Err(StripeError::invalid(
                "This value must be greater than or equal to 0.",
                format!("{at}[quantity]"),
            ));
        }
        let tax_rates = invoice_items::rates(call.conn, params.get("tax_rates"))?;
        out.push(Requested {
            params,
            price,
            quantity,
            tax_rates,
        });
    }
    let first = &out[0].price;
    for (i, r) in out.iter().enumerate().skip(1) {
        if r.price["currency"] != first["currency"]
            || r.price["recurring"]["interval"] != first["recurring"]["interval"]
            || r.price["recurring"]["interval_count"] != first["recurring"]["interval_count"]
        {
            return Err(StripeError::invalid(
                "Currency and interval fields must match across all prices on this subscription.",
                format!("items[{i}][price]"),
            ));
        }
    }
    Ok(out)
}

/// When a requested trial ends (`None`: no trial).
fn trial_end(
    p: &Map<String, Value>,
    now: i64,
    prices: &[&Value],
) -> Result<Option<i64>, StripeError> {
    match p.get("trial_end") {
        Some(Value::String(s)) if s == "now" => return Ok(None),
        Some(Value::Number(n)) => {
            let t = n.as_i64().unwrap_or(0);
            if t <= now {
                return Err(StripeError::invalid(
                    "Invalid timestamp: must be an integer Unix timestamp in the future.",
                    "trial_end",
                ));
            }
            if t > now + MAX_TRIAL_DAYS * 86_400 {
                return Err(StripeError::invalid(
                    format!("Invalid timestamp: can be no more than {MAX_TRIAL_DAYS} days in the future."),
                    "trial_end",
                ));
            }
            return Ok(Some(t));
        }
        _ => {}
    }
    let days = match p.get("trial_period_days").and_then(Value::as_i64) {
        Some(d) => Some(d),
        None if p.get("trial_from_plan") == Some(&json!(true)) => prices
            .iter()
            .filter_map(|pr| pr["recurring"]["trial_period_days"].as_i64())
            .max(),
        None => None,
    };
    match days {
        Some(d) if !(0..=MAX_TRIAL_DAYS).contains(&d) => Err(StripeError::invalid(
            format!("Invalid trial_period_days: must be between 0 and {MAX_TRIAL_DAYS}."),
            "trial_period_days",
        )),
        Some(0) | None => Ok(None),
        Some(d) => Ok(Some(now + d * 86_400)),
    }
}

/// The customer a request names, live.
fn customer(call: &Call, id: &str) -> Result<Value, StripeError> {
    customers::KIND
        .load(call.conn, id)?
        .ok_or_else(|| StripeError::no_such_param("customer", id, "customer"))
}

/// `POST /v1/subscriptions`: the subscription, its items and its first
/// invoice (paid at once, left to confirm, or refused, as
/// `payment_behavior` says), all on the customer's clock.
pub fn create(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    update::reject_unhandled(p, CREATE, NOT_EMULATED)?;
    let Some(Value::String(customer_id)) = p.get("customer") else {
        return Err(StripeError::missing_parameter("customer"));
    };
    let customer = customer(call, customer_id)?;
    let now = billing::now_for(call, &customer)?;
    let call = &call.at(now);
    let requested = requested_items(call, p.get("items"))?;
    let prices: Vec<&Value> = requested.iter().map(|r| &r.price).collect();
    let trial = trial_end(p, now, &prices)?;
    let collection = p
        .get("collection_method")
        .and_then(Value::as_str)
        .unwrap_or("charge_automatically");
    let days_until_due = p.get("days_until_due").and_then(Value::as_i64);
    if days_until_due.is_some_and(|d| !(0..=3650).contains(&d)) {
        return Err(StripeError::invalid(
            "Invalid days_until_due: must be between 0 and 3650.",
            "days_until_due",
        ));
    }
    if collection == "send_invoice" && days_until_due.is_none() {
        return Err(StripeError::missing_parameter("days_until_due"));
    }
    let behavior = p
        .get("payment_behavior")
        .and_then(Value::as_str)
        .unwrap_or("allow_incomplete");
    if behavior == "pending_if_incomplete" {
        return Err(StripeError::invalid(
            "`payment_behavior=pending_if_incomplete` is only for subscription updates.",
            "payment_behavior",
        ));
    }
    if let Some(pm) = p.get("default_payment_method").and_then(Value::as_str) {
        payment_methods::check_attached(call.conn, pm, customer_id, "default_payment_method")?;
    }
    let cancel_at = p.get("cancel_at").and_then(Value::as_i64);
    if cancel_at.is_some_and(|t| t <= now) {
        return Err(StripeError::invalid(
            "Invalid timestamp: `cancel_at` must be in the future.",
            "cancel_at",
        ));
    }
    let default_tax_rates = invoice_items::rates(call.conn, p.get("default_tax_rates"))?;
    let wanted = discounts::requested(call.conn, p.get("discounts"), customer_id, now)?;

    // Everything is checked. A refused first payment (`error_if_incomplete`)
    // takes back all that follows, as if nothing had been asked.
    call.conn.execute_batch("SAVEPOINT subscription_create")?;
    let terms = Terms {
        trial,
        collection,
        days_until_due,
        cancel_at,
        default_tax_rates,
        behavior,
        discounts: wanted,
    };
    let made = make(call, p, &customer, &requested, terms);
    match made {
        Ok(v) => {
            call.conn.execute_batch("RELEASE subscription_create")?;
            Ok(v)
        }
        Err(e) => {
            call.conn
                .execute_batch("ROLLBACK TO subscription_create; RELEASE subscription_create")?;
            Err(e)
        }
    }
}

/// What a create request settled, checked, besides its items.
struct Terms<'a> {
    trial: Option<i64>,
    collection: &'a str,
    days_until_due: Option<i64>,
    cancel_at: Option<i64>,
    default_tax_rates: Value,
    behavior: &'a str,
    discounts: Vec<discounts::Requested>,
}

/// Stores a checked subscription, its items, discounts and first invoice.
fn make(
    call: &Call,
    p: &Map<String, Value>,
    customer: &Value,
    requested: &[Requested],
    terms: Terms,
) -> Result<Value, StripeError> {
    let Terms {
        trial,
        collection,
        days_until_due,
        cancel_at,
        default_tax_rates,
        behavior,
        discounts: wanted,
    } = terms;
    let now = call.now;
    let id = Stripe.new_id(&KIND);
    let currency = requested[0].price["currency"].clone();
    let mut sub = into_map(json!({
        "id": id,
        "object": "subscription",
        "application": null,
        "application_fee_percent": null,
        "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null},
        "billing_cycle_anchor": trial.unwrap_or(now),
        "billing_cycle_anchor_config": null,
        "billing_mode": {"flexible": {"proration_discounts": "included"}, "type": "flexible", "updated_at": now},
        "billing_schedules": [],
        "billing_thresholds": null,
        "cancel_at": cancel_at,
        "cancel_at_period_end": false,
        "canceled_at": null,
        "cancellation_details": {"comment": null, "feedback": null, "feedback_option": null, "reason": null},
        "collection_method": collection,
        "created": now,
        "currency": currency,
        "customer": customer["id"],
        "customer_account": null,
        "days_until_due": days_until_due,
        "default_payment_method": p.get("default_payment_method").cloned().unwrap_or(Value::Null),
        "default_source": null,
        "default_tax_rates": default_tax_rates,
        "description": p.get("description").cloned().unwrap_or(Value::Null),
        "discounts": [],
        "ended_at": null,
    }));
    sub.extend(into_map(json!({
        "invoice_settings": {"account_tax_ids": null, "custom_fields": null, "description": null, "footer": null, "issuer": {"type": "self"}},
        "items": {"object": "list", "data": [], "has_more": false, "url": format!("/v1/subscription_items?subscription={id}")},
        "latest_invoice": null,
        "livemode": false,
        "managed_payments": null,
        "metadata": {},
        "next_pending_invoice_item_invoice": null,
        "on_behalf_of": null,
        "pause_collection": null,
        "payment_settings": payment_settings(p.get("payment_settings")),
        "pending_invoice_item_interval": null,
        "pending_setup_intent": null,
        "pending_update": null,
        "schedule": null,
        "start_date": now,
        "status": if trial.is_some() { "trialing" } else { "incomplete" },
        "test_clock": customer["test_clock"],
        "transfer_data": null,
        "trial_end": trial,
        "trial_settings": trial_settings(p.get("trial_settings")),
        "trial_start": trial.map(|_| now),
    })));
    if let Some(Value::Object(bm)) = p.get("billing_mode") {
        if bm.get("type").and_then(Value::as_str) == Some("classic") {
            sub.insert(
                "billing_mode".into(),
                json!({"flexible": null, "type": "classic", "updated_at": now}),
            );
        }
    }
    if p.get("cancel_at_period_end") == Some(&json!(true)) {
        sub.insert("cancel_at_period_end".into(), json!(true));
        sub.insert("canceled_at".into(), json!(now));
    }
    if let Some(meta) = p.get("metadata") {
        update::merge_metadata(&mut sub, meta)?;
    }
    let mut sub = Value::Object(sub);
    // The first period: the trial, else one interval from now.
    let period_end = match trial {
        Some(t) => t,
        None => {
            let (interval, count) = (
                requested[0].price["recurring"]["interval"]
                    .as_str()
                    .unwrap_or("month")
                    .to_string(),
                requested[0].price["recurring"]["interval_count"]
                    .as_i64()
                    .unwrap_or(1),
            );
            billing::boundary(now, &interval, count, 1)
        }
    };
    for r in requested {
        let price = items::price_for(call, &r.params, "items", true)?;
        let meta = r.params.get("metadata").cloned().unwrap_or(json!({}));
        let item = items::new(
            &id,
            &price,
            r.quantity,
            (now, period_end),
            now,
            r.tax_rates.clone(),
            meta,
        );
        items::KIND.insert(call.conn, &item)?;
    }
    lifecycle::embed_items(call.conn, &mut sub)?;
    let target = discounts::Target {
        customer: customer["id"].as_str().unwrap_or_default(),
        subscription: Some(&id),
        invoice: None,
    };
    sub["discounts"] = discounts::ids(&discounts::apply(call, wanted, &target)?);
    KIND.insert(call.conn, &sub)?;
    let off_session = p.get("off_session") == Some(&json!(true));
    let (status, inv) = lifecycle::first_invoice(call, &sub, behavior, off_session)?;
    sub["status"] = json!(status);
    sub["latest_invoice"] = inv["id"].clone();
    let applied = sub["discounts"].as_array().cloned().unwrap_or_default();
    sub["discounts"] = discounts::still_active(call.conn, &applied, now)?;
    if status == "incomplete" {
        billing::schedule(
            call,
            billing::clock_of(&sub),
            now + lifecycle::INCOMPLETE_WINDOW_SECS,
            lifecycle::INCOMPLETE_EXPIRE,
            &id,
        )?;
    }
    save(call, &sub)?;
    events::emit(call, "customer.subscription.created", &sub, None)?;
    lifecycle::plan(call, &sub)?;
    Ok(sub)
}

/// `payment_settings` as a subscription keeps them.
pub(super) fn payment_settings(given: Option<&Value>) -> Value {
    let g = given.cloned().unwrap_or(Value::Null);
    json!({
        "payment_method_options": null,
        "payment_method_types": g.get("payment_method_types").cloned().unwrap_or(Value::Null),
        "save_default_payment_method": g.get("save_default_payment_method").cloned().unwrap_or(json!("off")),
    })
}

/// `trial_settings` as a subscription keeps them.
pub(super) fn trial_settings(given: Option<&Value>) -> Value {
    let missing = given
        .and_then(|g| g["end_behavior"]["missing_payment_method"].as_str())
        .unwrap_or("create_invoice");
    json!({"end_behavior": {"billing_cycle_anchor": null, "missing_payment_method": missing}})
}

/// `GET /v1/subscriptions/{subscription_exposed_id}`.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    load(call.conn, call.args.get("subscription_exposed_id"))
}

/// `DELETE /v1/subscriptions/{subscription_exposed_id}`: canceled now; with
/// `prorate`, the unused time is credited (invoiced at once with `invoice_now`).
pub fn cancel(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("subscription_exposed_id");
    let sub = load(call.conn, id)?;
    if matches!(
        sub["status"].as_str(),
        Some("canceled" | "incomplete_expired")
    ) {
        return Err(StripeError::invalid(
            format!("No such subscription: '{id}' is already canceled."),
            "subscription",
        ));
    }
    let now = billing::now_for(call, &sub)?;
    let call = &call.at(now);
    let p = call.params;
    let mut sub = sub;
    if let Some(Value::Object(d)) = p.get("cancellation_details") {
        for k in ["comment", "feedback"] {
            if let Some(v) = d.get(k) {
                sub["cancellation_details"][k] = v.clone();
            }
        }
    }
    if p.get("prorate") == Some(&json!(true)) && sub["status"] != "trialing" {
        proration::credit_unused(call, &sub, now)?;
    }
    let ended = lifecycle::cancel_now(call, &sub, "cancellation_requested")?;
    if p.get("invoice_now") == Some(&json!(true)) {
        proration::invoice_pending(call, &ended, "subscription_update", false)?;
    }
    load(call.conn, id)
}

/// `POST /v1/subscriptions/{subscription}/resume`: a `paused` subscription
/// starts a new period now, invoiced.
pub fn resume(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("subscription");
    let sub = load(call.conn, id)?;
    if sub["status"] != "paused" {
        return Err(StripeError::invalid(
            "Only a paused subscription can be resumed.",
            "subscription",
        ));
    }
    let now = billing::now_for(call, &sub)?;
    let call = &call.at(now);
    let mut active = sub.clone();
    active["status"] = json!("active");
    save(call, &active)?;
    lifecycle::renew(call, id)?;
    let after = load(call.conn, id)?;
    events::emit(call, "customer.subscription.resumed", &after, Some(&sub))?;
    Ok(after)
}

/// `GET /v1/subscriptions`: newest first; without `status`, every status but
/// `canceled` (as Stripe lists them), `status=all` for every one.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    let mut q = lists::query(p)?;
    if let Some(Value::String(c)) = p.get("customer") {
        q.filters.push(("customer", c.clone().into()));
    }
    match p.get("status").and_then(Value::as_str) {
        Some("all") => {}
        Some("ended") => q.conditions.push(Filter::In(
            "status",
            vec![
                Sql::Text("canceled".into()),
                Sql::Text("incomplete_expired".into()),
            ],
        )),
        Some(s) => q.filters.push(("status", s.to_string().into())),
        None => q.conditions.push(Filter::In(
            "status",
            [
                "active",
                "incomplete",
                "incomplete_expired",
                "past_due",
                "paused",
                "trialing",
                "unpaid",
            ]
            .iter()
            .map(|s| Sql::Text((*s).into()))
            .collect(),
        )),
    }
    if let Some(Value::String(m)) = p.get("collection_method") {
        q.conditions
            .push(Filter::Field("$.collection_method", Sql::Text(m.clone())));
    }
    if let Some(Value::String(c)) = p.get("test_clock") {
        q.conditions
            .push(Filter::Field("$.test_clock", Sql::Text(c.clone())));
    }
    if let Some(Value::String(price)) = p.get("price").or(p.get("plan")) {
        q.conditions.push(Filter::Field(
            "$.items.data[0].price.id",
            Sql::Text(price.clone()),
        ));
    }
    if p.get("customer_account").is_some_and(|v| !v.is_null()) {
        return Ok(lists::empty("/v1/subscriptions"));
    }
    lists::page(call.conn, &KIND, &q, "/v1/subscriptions")
}

/// `GET /v1/subscriptions/search`.
pub fn search(call: &Call) -> Result<Value, StripeError> {
    super::search::page(call, &SEARCH)
}
