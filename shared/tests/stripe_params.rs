//! Stripe's generated parameter tables and the toolkit's validator, driven the
//! way a resource handler drives them: a form body decoded by `form::decode`,
//! checked against an operation's schema, answered in Stripe's words.

use serde_json::{json, Map, Value};
use shared::mirrors::stripe::error::StripeError;
use shared::mirrors::stripe::form::decode;
use shared::mirrors::stripe::params::{
    api_version, object_type, operation, spec_operation, table, validate,
};
use shared::mirrors::toolkit::params::Schema;

/// The committed list the generator read.
const OPERATIONS_TXT: &str = include_str!("../../infra/gen/stripe/operations.txt");

fn listed_operations() -> Vec<&'static str> {
    OPERATIONS_TXT
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .collect()
}

fn form(body: &str) -> Value {
    let mut map = Map::new();
    decode(body.as_bytes(), &mut map).expect("decodes");
    Value::Object(map)
}

/// Validates `body` against operation `id`; an error comes as Stripe's body.
fn check(id: &str, body: &str) -> Result<Value, Value> {
    validate(operation(id), &form(body)).map_err(|e| e.body())
}

/// The error's `(code, message, param)` as Stripe's body carries them.
fn error(id: &str, body: &str) -> (Option<String>, String, Option<String>) {
    let e: StripeError = validate(operation(id), &form(body)).expect_err(body);
    assert_eq!(e.status(), 400, "{body}");
    let b = e.body();
    let s = |k: &str| b["error"][k].as_str().map(str::to_string);
    assert_eq!(b["error"]["type"], "invalid_request_error");
    (s("code"), s("message").unwrap_or_default(), s("param"))
}

fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}

// ---------------------------------------------------------------- the tables

/// Every operation listed in operations.txt has a parameter schema in the
/// tables, at the method its operationId names, and nothing unlisted slipped in.
#[test]
fn tables_cover_every_listed_operation() {
    let listed = listed_operations();
    assert!(listed.contains(&"PostPaymentIntents"), "{listed:?}");
    for id in &listed {
        let op = operation(id);
        assert_eq!(op.id, *id);
        let method = ["Get", "Post", "Delete"]
            .into_iter()
            .find(|m| id.starts_with(m))
            .expect("operationIds start with their method");
        assert_eq!(op.method, method.to_uppercase(), "{id}");
        assert!(op.path.starts_with("/v1/"), "{id}: {}", op.path);
        assert!(
            matches!(op.params, Schema::Object(_)),
            "{id}: parameters are a hash"
        );
        // Each route of the list is also a route of the API.
        assert_eq!(
            table()
                .route(&op.method, &op.path.replace('{', "x").replace('}', ""))
                .map(|r| r.id.as_str()),
            Some(*id)
        );
    }
    assert_eq!(table().operations().count(), listed.len());
    assert_eq!(api_version(), "2026-10-28.endive");
}

/// A concrete path finds the operation of Stripe's API it belongs to, emulated
/// or not, so the mirror can say "not emulated yet" with its operationId.
#[test]
fn routes_name_the_operation_a_concrete_path_reaches() {
    assert_eq!(
        spec_operation("POST", "/v1/payment_intents/pi_123/confirm"),
        Some("PostPaymentIntentsIntentConfirm")
    );
    assert_eq!(
        spec_operation("GET", "/v1/customers/search"),
        Some("GetCustomersSearch")
    );
    assert_eq!(
        spec_operation("GET", "/v1/customers/cus_1"),
        Some("GetCustomersCustomer")
    );
    assert_eq!(
        spec_operation("POST", "/v1/subscriptions/sub_1"),
        Some("PostSubscriptionsSubscriptionExposedId")
    );
    // Newer than the 2020 document: known from the pinned version's SDK.
    assert_eq!(
        spec_operation("GET", "/v1/billing/meters"),
        Some("GetBillingMeters")
    );
    assert_eq!(spec_operation("GET", "/v1/nonsense"), None);
    assert_eq!(spec_operation("PATCH", "/v1/customers"), None);
}

/// Object types carry the pinned version's fields and expandable fields, not the
/// 2020 document's (`latest_charge` replaced `charges`).
#[test]
fn objects_follow_the_pinned_version() {
    let pi = object_type("payment_intent").expect("payment_intent");
    assert!(pi.fields.iter().any(|f| f == "latest_charge"));
    assert!(!pi.fields.iter().any(|f| f == "charges"));
    assert_eq!(pi.expandable["latest_charge"], ["charge"]);
    assert_eq!(pi.expandable["customer"], ["customer", "deleted_customer"]);
    let customer = object_type("customer").expect("customer");
    assert_eq!(
        customer.expandable["invoice_settings.default_payment_method"],
        ["payment_method"]
    );
    assert_eq!(
        object_type("list").map(|l| l.fields.clone()),
        Some(vec![
            "data".to_string(),
            "has_more".into(),
            "object".into(),
            "url".into()
        ])
    );
    for op in table().operations() {
        for t in op.returns.iter().chain(&op.items) {
            assert!(object_type(t).is_some(), "{}: returns {t}", op.id);
        }
    }
}

// ---------------------------------------------------------------- validation

/// A full PaymentIntent create comes back typed: integers, booleans, nested
/// hashes, arrays and metadata as sent.
#[test]
fn payment_intent_create_params_are_typed() {
    let out = check(
        "PostPaymentIntents",
        "amount=2000&currency=usd&capture_method=manual&confirm=true\
         &shipping[name]=Ada&shipping[address][line1]=1+Main+St&shipping[address][country]=GB\
         &metadata[order]=42&payment_method_options[card][request_three_d_secure]=any\
         &automatic_payment_methods[enabled]=true&expand[]=latest_charge&expand[]=customer",
    )
    .expect("valid");
    assert_eq!(
        out,
        json!({
            "amount": 2000,
            "currency": "usd",
            "capture_method": "manual",
            "confirm": true,
            "shipping": {"name": "Ada", "address": {"line1": "1 Main St", "country": "GB"}},
            "metadata": {"order": "42"},
            "payment_method_options": {"card": {"request_three_d_secure": "any"}},
            "automatic_payment_methods": {"enabled": true},
            "expand": ["latest_charge", "customer"],
        })
    );
}

/// Out-of-enum values get Stripe's "must be one of" with the pinned version's values.
#[test]
fn an_unknown_enum_value_lists_the_allowed_ones() {
    assert_eq!(
        error(
            "PostPaymentIntents",
            "amount=1&currency=usd&capture_method=sometimes"
        ),
        (
            None,
            "Invalid capture_method: must be one of automatic, automatic_async, or manual".into(),
            some("capture_method")
        )
    );
    assert_eq!(
        error(
            "PostPaymentIntents",
            "amount=1&currency=usd&payment_method_options[card][request_three_d_secure]=often"
        ),
        (
            None,
            "Invalid payment_method_options[card][request_three_d_secure]: must be one of \
             any, automatic, or challenge"
                .into(),
            some("payment_method_options[card][request_three_d_secure]")
        )
    );
}

/// A missing required parameter is named, at any depth.
#[test]
fn missing_required_parameters_are_named_with_their_path() {
    assert_eq!(
        error("PostPaymentIntents", "amount=1"),
        (
            some("parameter_missing"),
            "Missing required param: currency.".into(),
            some("currency")
        )
    );
    assert_eq!(
        error(
            "PostPaymentIntents",
            "amount=1&currency=usd&shipping[address][line1]=x"
        ),
        (
            some("parameter_missing"),
            "Missing required param: shipping[name].".into(),
            some("shipping[name]")
        )
    );
}

/// An unknown key deep in a hash is reported with its full bracket path.
#[test]
fn unknown_nested_keys_are_reported_with_their_full_path() {
    assert_eq!(
        error(
            "PostPaymentIntents",
            "amount=1&currency=usd&shipping[name]=A&shipping[address][planet]=mars"
        ),
        (
            some("parameter_unknown"),
            "Received unknown parameter: shipping[address][planet]".into(),
            some("shipping[address][planet]")
        )
    );
    // Parameters of the 2020 document that the pinned version dropped.
    assert_eq!(
        error(
            "PostPaymentIntents",
            "amount=1&currency=usd&payment_method_types[]=card"
        )
        .1,
        "Received unknown parameter: payment_method_types"
    );
}

/// Length limits come from the 2020 document and use Stripe's wording.
#[test]
fn over_long_strings_are_refused_with_the_limit() {
    let long = "x".repeat(1001);
    assert_eq!(
        error(
            "PostPaymentIntents",
            &format!("amount=1&currency=usd&description={long}")
        ),
        (
            None,
            "Invalid string: xxxxxxxxxxxxxxxxxxxx...; must be at most 1000 characters".into(),
            some("description")
        )
    );
    assert!(check(
        "PostPaymentIntents",
        &format!("amount=1&currency=usd&description={}", "x".repeat(1000))
    )
    .is_ok());
}

/// Arrays of hashes (`k[0][x]`, `k[][x]`) are checked item by item, and errors
/// name the item.
#[test]
fn arrays_of_hashes_are_checked_per_item() {
    assert_eq!(
        check(
            "PostCustomers",
            "tax_id_data[0][type]=eu_vat&tax_id_data[0][value]=DE123456789\
             &tax_id_data[1][type]=gb_vat&tax_id_data[1][value]=GB123456789"
        ),
        Ok(json!({"tax_id_data": [
            {"type": "eu_vat", "value": "DE123456789"},
            {"type": "gb_vat", "value": "GB123456789"},
        ]}))
    );
    assert_eq!(
        error(
            "PostCustomers",
            "tax_id_data[0][type]=eu_vat&tax_id_data[0][value]=x\
             &tax_id_data[1][type]=xx_vat&tax_id_data[1][value]=y"
        )
        .2,
        some("tax_id_data[1][type]")
    );
    assert_eq!(
        error(
            "PostCustomers",
            "invoice_settings[custom_fields][][name]=PO"
        ),
        (
            some("parameter_missing"),
            "Missing required param: invoice_settings[custom_fields][0][value].".into(),
            some("invoice_settings[custom_fields][0][value]")
        )
    );
}

/// `""` unsets what Stripe lets you unset, and is refused (Stripe's message)
/// where it cannot be.
#[test]
fn empty_values_unset_or_are_refused() {
    assert_eq!(
        check(
            "PostCustomersCustomer",
            "address=&metadata[plan]=&metadata[tier]=gold&description=&tax_exempt="
        ),
        Ok(json!({
            "address": null,
            "metadata": {"plan": null, "tier": "gold"},
            "description": null,
            "tax_exempt": null,
        }))
    );
    assert_eq!(
        error("PostCustomersCustomer", "balance="),
        (
            some("parameter_invalid_empty"),
            "You passed an empty string for 'balance'. We assume empty values are an attempt to \
             unset a parameter; however 'balance' cannot be unset. You should remove 'balance' \
             from your request or supply a non-empty value."
                .into(),
            some("balance")
        )
    );
    assert_eq!(
        error("PostPaymentIntents", "amount=1&currency=").0,
        some("parameter_invalid_empty")
    );
    assert_eq!(error("GetCustomers", "limit=").2, some("limit"));
}

/// The type errors today's customers code reports keep their exact wording when
/// they come from the tables.
#[test]
fn customer_type_errors_keep_todays_wording() {
    let cases: &[(&str, Option<&str>, &str, &str)] = &[
        (
            "foo=1",
            Some("parameter_unknown"),
            "Received unknown parameter: foo",
            "foo",
        ),
        (
            "address[foo]=1",
            Some("parameter_unknown"),
            "Received unknown parameter: address[foo]",
            "address[foo]",
        ),
        (
            "balance=abc",
            Some("parameter_invalid_integer"),
            "Invalid integer: abc",
            "balance",
        ),
        (
            "balance=1.5",
            Some("parameter_invalid_integer"),
            "Invalid integer: 1.5",
            "balance",
        ),
        ("metadata=plan", None, "Invalid hash", "metadata"),
        (
            "preferred_locales=en",
            None,
            "Invalid array",
            "preferred_locales",
        ),
        (
            "description[a]=b",
            None,
            "Invalid string: {\"a\":\"b\"}",
            "description",
        ),
        (
            "shipping[name]=x",
            Some("parameter_missing"),
            "Missing required param: shipping[address].",
            "shipping[address]",
        ),
        ("validate=maybe", None, "Invalid boolean: maybe", "validate"),
    ];
    for (body, code, message, param) in cases {
        assert_eq!(
            error("PostCustomers", body),
            (code.map(str::to_string), message.to_string(), some(param)),
            "{body}"
        );
    }
    let long = "x".repeat(257);
    assert_eq!(
        error("PostCustomers", &format!("name={long}")).1,
        "Invalid string: xxxxxxxxxxxxxxxxxxxx...; must be at most 256 characters"
    );
}

/// List filters: `created` is a timestamp or a range, `limit` an integer.
#[test]
fn list_filters_take_a_value_or_a_range() {
    assert_eq!(
        check(
            "GetCustomers",
            "created[gte]=10&created[lt]=20&limit=3&email=a%40b.co"
        ),
        Ok(json!({"created": {"gte": 10, "lt": 20}, "limit": 3, "email": "a@b.co"}))
    );
    assert_eq!(
        check("GetCustomers", "created=15"),
        Ok(json!({"created": 15}))
    );
    assert_eq!(
        error("GetCustomers", "created[between]=1").1,
        "Received unknown parameter: created[between]"
    );
    assert_eq!(
        error(
            "GetEvents",
            "types[]=customer.created&type=nope.nope&limit=x"
        )
        .2,
        some("limit")
    );
}

/// Odd shapes in every parameter of every operation (empty, a word, a hash, an
/// array, an index hash of junk) give a Stripe-shaped 400 naming a parameter, or
/// pass: never a panic, never another status.
#[test]
fn every_operation_answers_odd_shapes_with_a_stripe_error() {
    let shapes = [
        json!(""),
        json!("word"),
        json!({"zz": "1"}),
        json!(["x", ""]),
        json!({"0": {"zz": "1"}}),
    ];
    let mut checked = 0;
    for op in table().operations() {
        let Schema::Object(o) = &op.params else {
            panic!("{}: parameters are a hash", op.id)
        };
        for name in o
            .properties
            .keys()
            .chain(std::iter::once(&"zz_unknown".to_string()))
        {
            for shape in &shapes {
                let input = json!({ name.as_str(): shape });
                if let Err(e) = validate(op, &input) {
                    assert_eq!(e.status(), 400, "{}: {input}", op.id);
                    let body = e.body();
                    let param = body["error"]["param"].as_str().unwrap_or_default();
                    assert!(!param.is_empty(), "{}: {input} → {body}", op.id);
                    assert_eq!(body["error"]["type"], "invalid_request_error");
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "{checked}");
}
