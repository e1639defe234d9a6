//! The Stripe mirror's customers, driven through its router with
//! `tower::ServiceExt::oneshot` exactly as the API layer mounts it
//! (`/m/{session}/stripe`, 1 MiB body limit). Every customer, list, deleted and
//! error body is checked against Stripe's OpenAPI document
//! (`$MIRRA_SPECS_DIR` or `<workspace>/../shared/specs`).

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use shared::mirrors::stripe::{self, Stripe};
use shared::session::{
    Clock, CreateSession, Door, ManualClock, MirrorDef, SessionError, Sessions, SystemClock,
};
use shared::storage::fs::FsObjectStore;
use shared::storage::sqlite::SqliteSessionTable;
use tower::ServiceExt;

// ---------------------------------------------------------------- harness

struct Harness {
    _dir: tempfile::TempDir,
    app: Router,
    sessions: Arc<Sessions>,
}

fn harness_with(clock: Arc<dyn Clock>) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = SqliteSessionTable::in_memory().expect("session table");
    let store = FsObjectStore::open(dir.path().join("objects")).expect("object store");
    let sessions = Arc::new(Sessions::new(
        Arc::new(table),
        Arc::new(store),
        clock,
        vec![Arc::new(Stripe)],
    ));
    let app = Router::new()
        .nest("/m/{session}/stripe", stripe::router())
        .with_state(Door::new(sessions.clone()))
        .layer(DefaultBodyLimit::max(1 << 20));
    Harness {
        _dir: dir,
        app,
        sessions,
    }
}

fn harness() -> Harness {
    harness_with(Arc::new(SystemClock))
}

/// One session: its id and secret key.
struct Ses {
    id: String,
    key: String,
}

impl Harness {
    async fn session(&self) -> Ses {
        let s = self
            .sessions
            .create("ws", CreateSession::default())
            .await
            .expect("create session");
        let key = s.mirrors["stripe"].credentials["secret_key"].clone();
        Ses { id: s.id, key }
    }
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

impl Resp {
    fn err(&self) -> &Value {
        &self.json["error"]
    }
}

#[derive(Clone, Copy)]
enum Auth<'a> {
    Bearer(&'a str),
    Basic(&'a str),
    Raw(&'a str),
    None,
}

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    auth: Auth<'_>,
    body: Option<Vec<u8>>,
    headers: &[(&str, &str)],
) -> Resp {
    let mut req = Request::builder().method(method).uri(uri);
    match auth {
        Auth::Bearer(k) => req = req.header("authorization", format!("Bearer {k}")),
        Auth::Basic(k) => {
            let enc = base64::engine::general_purpose::STANDARD.encode(format!("{k}:"));
            req = req.header("authorization", format!("Basic {enc}"));
        }
        Auth::Raw(v) => req = req.header("authorization", v),
        Auth::None => {}
    }
    if body.is_some() {
        req = req.header("content-type", "application/x-www-form-urlencoded");
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(body.map(Body::from).unwrap_or_else(Body::empty))
        .expect("request");
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes)));
    let rid = headers
        .get("request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        rid.starts_with("req_") && rid.len() == 18,
        "Request-Id header on every response, got {rid:?}"
    );
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    if !status.is_success() {
        validate("error", &json);
    }
    Resp {
        status,
        headers,
        json,
    }
}

impl Ses {
    fn url(&self, path: &str) -> String {
        format!("/m/{}/stripe{path}", self.id)
    }
    async fn get(&self, h: &Harness, path: &str) -> Resp {
        send(
            &h.app,
            Method::GET,
            &self.url(path),
            Auth::Bearer(&self.key),
            None,
            &[],
        )
        .await
    }
    async fn post(&self, h: &Harness, path: &str, body: &str) -> Resp {
        send(
            &h.app,
            Method::POST,
            &self.url(path),
            Auth::Bearer(&self.key),
            Some(body.as_bytes().to_vec()),
            &[],
        )
        .await
    }
    async fn post_idem(&self, h: &Harness, path: &str, body: &str, key: &str) -> Resp {
        let headers = [("idempotency-key", key)];
        send(
            &h.app,
            Method::POST,
            &self.url(path),
            Auth::Bearer(&self.key),
            Some(body.as_bytes().to_vec()),
            &headers,
        )
        .await
    }
    async fn delete(&self, h: &Harness, path: &str) -> Resp {
        send(
            &h.app,
            Method::DELETE,
            &self.url(path),
            Auth::Bearer(&self.key),
            None,
            &[],
        )
        .await
    }
    /// Creates a customer and returns it (checked against the spec).
    async fn create(&self, h: &Harness, body: &str) -> Value {
        let r = self.post(h, "/v1/customers", body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        validate("customer", &r.json);
        r.json
    }
    /// Every live customer id, newest first, by walking `starting_after` pages.
    async fn all_ids(&self, h: &Harness) -> Vec<String> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let q = match &after {
                Some(a) => format!("/v1/customers?limit=100&starting_after={a}"),
                None => "/v1/customers?limit=100".to_string(),
            };
            let r = self.get(h, &q).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.json);
            let page = ids(&r.json);
            after = page.last().cloned();
            out.extend(page);
            if r.json["has_more"] != true {
                return out;
            }
        }
    }
}

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts Stripe's error body exactly (`doc_url` follows from `code`).
fn assert_error(
    r: &Resp,
    status: StatusCode,
    code: Option<&str>,
    message: &str,
    param: Option<&str>,
) {
    assert_eq!(r.status, status, "{}", r.json);
    let mut expected = serde_json::Map::new();
    if let Some(c) = code {
        expected.insert("code".into(), c.into());
        expected.insert(
            "doc_url".into(),
            format!(
                "https://stripe.com/docs/error-codes/{}",
                c.replace('_', "-")
            )
            .into(),
        );
    }
    expected.insert("message".into(), message.into());
    if let Some(p) = param {
        expected.insert("param".into(), p.into());
    }
    expected.insert("type".into(), "invalid_request_error".into());
    assert_eq!(r.json, json!({ "error": expected }));
}

// ---------------------------------------------------------------- OpenAPI check

/// The parsed Stripe OpenAPI document, or `None` (with a note) when it is absent
/// outside CI.
fn spec() -> Option<&'static Value> {
    static SPEC: OnceLock<Option<Value>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let dir = std::env::var("MIRRA_SPECS_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("..")
                    .join("..")
                    .join("shared")
                    .join("specs")
            });
        let path = dir.join("stripe.spec3.json");
        match std::fs::read(&path) {
            Ok(bytes) => Some(serde_json::from_slice(&bytes).expect("stripe.spec3.json parses")),
            Err(e) => {
                if std::env::var_os("CI").is_some() {
                    panic!("CI needs the Stripe spec at {}: {e}", path.display());
                }
                eprintln!("skipping OpenAPI checks: no {} ({e})", path.display());
                None
            }
        }
    })
    .as_ref()
}

/// Properties newer than the 2020-08-27 spec that Stripe returns today.
const NEWER_THAN_SPEC: &[&str] = &["rendering_options"];

/// Validates `v` against `components.schemas.<name>` (or `list` for the
/// customer list response); panics with every violation.
fn validate(name: &str, v: &Value) {
    let Some(root) = spec() else { return };
    let schema = if name == "list" {
        root["paths"]["/v1/customers"]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"]
            .clone()
    } else {
        json!({ "$ref": format!("#/components/schemas/{name}") })
    };
    let mut errs = Vec::new();
    check(root, &schema, v, "$", &mut errs);
    assert!(
        errs.is_empty(),
        "{name} does not match the spec:\n  {}\n{v:#}",
        errs.join("\n  ")
    );
}

fn resolve<'a>(root: &'a Value, mut s: &'a Value) -> &'a Value {
    while let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let ptr = r.trim_start_matches('#');
        s = root
            .pointer(ptr)
            .unwrap_or_else(|| panic!("unresolved $ref {r}"));
    }
    s
}

/// A focused OpenAPI 3.0 schema check: `$ref`, `nullable`, `anyOf`/`oneOf`,
/// `type`, `enum`, `required`, `properties`, `additionalProperties`, `items`,
/// `maxLength`, literal `^prefix` patterns. Undeclared properties are errors too
/// (the spec rarely says `additionalProperties: false`, but a mirror should not
/// invent fields).
fn check(root: &Value, schema: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
    let s = resolve(root, schema);
    if v.is_null() && s.get("nullable") == Some(&Value::Bool(true)) {
        return;
    }
    if let Some(branches) = s
        .get("anyOf")
        .or_else(|| s.get("oneOf"))
        .and_then(Value::as_array)
    {
        let ok = branches.iter().any(|b| {
            let mut e = Vec::new();
            check(root, b, v, at, &mut e);
            e.is_empty()
        });
        if !ok {
            errs.push(format!("{at}: matches none of the anyOf/oneOf branches"));
        }
        return;
    }
    if v.is_null() {
        errs.push(format!("{at}: null, but not nullable"));
        return;
    }
    if let Some(t) = s.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            _ => true,
        };
        if !ok {
            errs.push(format!("{at}: expected {t}, got {v}"));
            return;
        }
    }
    if let Some(allowed) = s.get("enum").and_then(Value::as_array) {
        if !allowed.contains(v) {
            errs.push(format!("{at}: {v} not in {allowed:?}"));
        }
    }
    if let (Some(max), Some(text)) = (s.get("maxLength").and_then(Value::as_u64), v.as_str()) {
        if text.chars().count() as u64 > max {
            errs.push(format!("{at}: longer than {max}"));
        }
    }
    if let (Some(p), Some(text)) = (s.get("pattern").and_then(Value::as_str), v.as_str()) {
        if let Some(prefix) = p
            .strip_prefix('^')
            .filter(|r| r.chars().all(|c| c.is_alphanumeric() || "/_-".contains(c)))
        {
            if !text.starts_with(prefix) {
                errs.push(format!("{at}: {text:?} does not match {p}"));
            }
        }
    }
    if let Some(obj) = v.as_object() {
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(r) = r.as_str() {
                if !obj.contains_key(r) {
                    errs.push(format!("{at}: missing required {r}"));
                }
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, child) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => check(root, ps, child, &format!("{at}.{k}"), errs),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => errs.push(format!("{at}: unexpected property {k}")),
                    Some(extra @ Value::Object(_)) => {
                        check(root, extra, child, &format!("{at}.{k}"), errs)
                    }
                    _ if props.is_some() && !NEWER_THAN_SPEC.contains(&k.as_str()) => {
                        errs.push(format!("{at}: property {k} is not in the spec"))
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            check(root, items, item, &format!("{at}[{i}]"), errs);
        }
    }
}

/// The customer properties Stripe returns without `expand` (all but the four
/// expandable-only lists/objects).
fn default_customer_fields() -> Option<BTreeSet<String>> {
    let root = spec()?;
    let props = root["components"]["schemas"]["customer"]["properties"].as_object()?;
    Some(
        props
            .keys()
            .filter(|k| !["sources", "subscriptions", "tax_ids", "tax"].contains(&k.as_str()))
            .cloned()
            .collect(),
    )
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn create_returns_a_full_customer_with_stripe_defaults() {
    let h = harness();
    let s = h.session().await;
    let c = s
        .create(&h, "email=jenny%40example.com&name=Jenny+Rosen")
        .await;
    let id = c["id"].as_str().expect("id");
    assert!(
        id.starts_with("cus_")
            && id.len() == 18
            && id[4..].bytes().all(|b| b.is_ascii_alphanumeric()),
        "{id}"
    );
    let prefix = c["invoice_prefix"].as_str().expect("prefix");
    assert!(
        prefix.len() == 8
            && prefix
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()),
        "{prefix}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    assert!((c["created"].as_i64().unwrap_or(0) - now).abs() <= 5);
    let expected = json!({
        "id": id, "object": "customer", "address": null, "balance": 0, "created": c["created"],
        "currency": null, "default_source": null, "delinquent": false, "description": null,
        "discount": null, "email": "jenny@example.com", "invoice_prefix": prefix,
        "invoice_settings": {"custom_fields": null, "default_payment_method": null, "footer": null, "rendering_options": null},
        "livemode": false, "metadata": {}, "name": "Jenny Rosen", "next_invoice_sequence": 1,
        "phone": null, "preferred_locales": [], "shipping": null, "tax_exempt": "none", "test_clock": null,
    });
    assert_eq!(c, expected);
    if let Some(fields) = default_customer_fields() {
        let got: BTreeSet<String> = c
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        let missing: Vec<_> = fields.difference(&got).collect();
        assert!(missing.is_empty(), "customer lacks spec fields {missing:?}");
    }
}

#[tokio::test]
async fn create_accepts_every_emulated_parameter_in_stripe_form_encoding() {
    let h = harness();
    let s = h.session().await;
    let body = "address[line1]=510+Townsend+St&address[city]=San+Francisco&address[postal_code]=94103&address[country]=US\
        &balance=-500&description=VIP&email=a%40b.co&invoice_prefix=ACME1&invoice_settings[footer]=Thanks\
        &invoice_settings[custom_fields][0][name]=PO&invoice_settings[custom_fields][0][value]=42\
        &metadata[plan]=pro&metadata[seats]=5&name=Acme&next_invoice_sequence=7&phone=%2B15555550100\
        &preferred_locales[0]=en&preferred_locales[1]=fr&shipping[name]=Dock+4&shipping[address][line1]=1+Pier\
        &tax_exempt=exempt&expand[]=sources&expand[]=tax";
    let c = s.create(&h, body).await;
    assert_eq!(
        c["address"],
        json!({"city": "San Francisco", "country": "US", "line1": "510 Townsend St", "line2": null, "postal_code": "94103", "state": null})
    );
    assert_eq!(c["balance"], -500);
    assert_eq!(c["description"], "VIP");
    assert_eq!(c["invoice_prefix"], "ACME1");
    assert_eq!(
        c["invoice_settings"],
        json!({"custom_fields": [{"name": "PO", "value": "42"}], "default_payment_method": null, "footer": "Thanks", "rendering_options": null})
    );
    assert_eq!(c["metadata"], json!({"plan": "pro", "seats": "5"}));
    assert_eq!(c["next_invoice_sequence"], 7);
    assert_eq!(c["phone"], "+15555550100");
    assert_eq!(c["preferred_locales"], json!(["en", "fr"]));
    assert_eq!(
        c["shipping"],
        json!({"address": {"city": null, "country": null, "line1": "1 Pier", "line2": null, "postal_code": null, "state": null}, "name": "Dock 4", "phone": null})
    );
    assert_eq!(c["tax_exempt"], "exempt");
    let id = c["id"].as_str().expect("id");
    assert_eq!(
        c["sources"],
        json!({"object": "list", "data": [], "has_more": false, "url": format!("/v1/customers/{id}/sources")})
    );
    assert_eq!(c["tax"]["automatic_tax"], "unrecognized_location");
    // Expansions are per request, not stored.
    let r = s.get(&h, &format!("/v1/customers/{id}")).await;
    assert!(
        r.json.get("sources").is_none() && r.json.get("tax").is_none(),
        "{}",
        r.json
    );
    // `expand[]` in a query string, and `data.` on the list.
    let r = s
        .get(
            &h,
            &format!("/v1/customers/{id}?expand[]=subscriptions&expand[]=tax_ids"),
        )
        .await;
    validate("customer", &r.json);
    assert_eq!(
        r.json["subscriptions"]["url"],
        format!("/v1/customers/{id}/subscriptions")
    );
    let r = s
        .get(&h, "/v1/customers?limit=1&expand[]=data.sources")
        .await;
    validate("list", &r.json);
    assert_eq!(r.json["data"][0]["sources"]["data"], json!([]));
}

#[tokio::test]
async fn retrieve_returns_the_stored_customer_and_404s_unknown_ids() {
    let h = harness();
    let s = h.session().await;
    let c = s.create(&h, "email=x%40y.co&metadata[a]=1").await;
    let r = s
        .get(
            &h,
            &format!("/v1/customers/{}", c["id"].as_str().expect("id")),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json, c);
    let r = s.get(&h, "/v1/customers/cus_nope").await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        Some("resource_missing"),
        "No such customer: 'cus_nope'",
        Some("id"),
    );
    let r = s.get(&h, "/v1/customers/cus_x?expand[]=bogus").await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        None,
        "This property cannot be expanded (bogus).",
        None,
    );
    let r = s.get(&h, "/v1/customers/cus_x?foo=1").await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        Some("parameter_unknown"),
        "Received unknown parameter: foo",
        Some("foo"),
    );
}

#[tokio::test]
async fn update_merges_fields_and_metadata_and_empty_values_unset() {
    let h = harness();
    let s = h.session().await;
    let c = s
        .create(&h, "email=a%40b.co&description=old&metadata[a]=1&metadata[b]=2&metadata[c]=3&address[line1]=1+Main&address[city]=X&invoice_settings[footer]=F")
        .await;
    let path = format!("/v1/customers/{}", c["id"].as_str().expect("id"));
    let r = s.post(&h, &path, "metadata[a]=&metadata[b]=two&metadata[d]=4&description=&address[line1]=2+Side&name=New").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    validate("customer", &r.json);
    assert_eq!(r.json["metadata"], json!({"b": "two", "c": "3", "d": "4"}));
    assert_eq!(r.json["description"], Value::Null);
    assert_eq!(r.json["email"], "a@b.co", "absent parameters are kept");
    assert_eq!(r.json["name"], "New");
    assert_eq!(r.json["address"]["line1"], "2 Side");
    assert_eq!(
        r.json["address"]["city"],
        Value::Null,
        "address is replaced as a whole"
    );
    assert_eq!(r.json["invoice_settings"]["footer"], "F");
    assert_eq!(r.json["created"], c["created"]);
    let r = s.post(&h, &path, "metadata=").await;
    assert_eq!(r.json["metadata"], json!({}));
    let r = s
        .post(
            &h,
            &path,
            "address=&email=&invoice_settings[footer]=&tax_exempt=reverse&preferred_locales[]=de",
        )
        .await;
    assert_eq!(r.json["address"], Value::Null);
    assert_eq!(r.json["email"], Value::Null);
    assert_eq!(r.json["invoice_settings"]["footer"], Value::Null);
    assert_eq!(r.json["tax_exempt"], "reverse");
    assert_eq!(r.json["preferred_locales"], json!(["de"]));
    // An update without parameters returns the customer unchanged.
    let before = s.get(&h, &path).await.json;
    let r = s.post(&h, &path, "").await;
    assert_eq!(r.json, before);
    let r = s.post(&h, "/v1/customers/cus_missing", "name=x").await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        Some("resource_missing"),
        "No such customer: 'cus_missing'",
        Some("id"),
    );
}

#[tokio::test]
async fn delete_returns_the_deleted_stub_and_the_customer_stays_deleted() {
    let h = harness();
    let s = h.session().await;
    let c = s.create(&h, "email=gone%40example.com").await;
    let id = c["id"].as_str().expect("id");
    let path = format!("/v1/customers/{id}");
    let r = s.delete(&h, &path).await;
    assert_eq!(r.status, StatusCode::OK);
    let stub = json!({"id": id, "object": "customer", "deleted": true});
    assert_eq!(r.json, stub);
    validate("deleted_customer", &r.json);
    let r = s.get(&h, &path).await;
    assert_eq!(
        (r.status, &r.json),
        (StatusCode::OK, &stub),
        "a deleted customer is still retrievable as a stub"
    );
    let msg = format!("No such customer: '{id}'");
    let r = s.post(&h, &path, "name=x").await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        Some("resource_missing"),
        &msg,
        Some("id"),
    );
    let r = s.delete(&h, &path).await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        Some("resource_missing"),
        &msg,
        Some("id"),
    );
    let r = s.delete(&h, "/v1/customers/cus_never").await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        Some("resource_missing"),
        "No such customer: 'cus_never'",
        Some("id"),
    );
    assert!(
        !s.all_ids(&h).await.contains(&id.to_string()),
        "deleted customers are not listed"
    );
    let r = s.get(&h, "/v1/customers?email=gone%40example.com").await;
    assert_eq!(r.json["data"], json!([]));
}

#[tokio::test]
async fn list_paginates_newest_first_in_both_directions() {
    let h = harness();
    let s = h.session().await;
    let seeded = s.all_ids(&h).await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(
            s.create(&h, &format!("name=c{i}")).await["id"]
                .as_str()
                .expect("id")
                .to_string(),
        );
    }
    // Newest first; customers created within one second keep creation order reversed.
    let mut expected: Vec<String> = created.iter().rev().cloned().collect();
    expected.extend(seeded.iter().cloned());
    let first = s.get(&h, "/v1/customers").await;
    validate("list", &first.json);
    assert_eq!(first.json["object"], "list");
    assert_eq!(first.json["url"], "/v1/customers");
    assert_eq!(
        ids(&first.json),
        expected[..10.min(expected.len())].to_vec(),
        "default limit is 10"
    );

    // Forward, three at a time.
    let mut forward = Vec::new();
    let mut q = "/v1/customers?limit=3".to_string();
    loop {
        let r = s.get(&h, &q).await;
        validate("list", &r.json);
        let page = ids(&r.json);
        assert!(page.len() <= 3);
        forward.extend(page.clone());
        if r.json["has_more"] != true {
            break;
        }
        q = format!(
            "/v1/customers?limit=3&starting_after={}",
            page.last().expect("non-empty page")
        );
    }
    assert_eq!(forward, expected);

    // Backward from the oldest, three at a time: pages keep newest-first order.
    let oldest = expected.last().expect("some customers").clone();
    let mut backward: Vec<String> = Vec::new();
    let mut q = format!("/v1/customers?limit=3&ending_before={oldest}");
    loop {
        let r = s.get(&h, &q).await;
        let page = ids(&r.json);
        let mut merged = page.clone();
        merged.extend(backward);
        backward = merged;
        if r.json["has_more"] != true {
            break;
        }
        q = format!(
            "/v1/customers?limit=3&ending_before={}",
            page.first().expect("non-empty page")
        );
    }
    assert_eq!(backward, expected[..expected.len() - 1].to_vec());

    // A deleted customer is still a valid cursor.
    let middle = &expected[3];
    s.delete(&h, &format!("/v1/customers/{middle}")).await;
    let r = s
        .get(
            &h,
            &format!("/v1/customers?limit=2&starting_after={middle}"),
        )
        .await;
    assert_eq!(ids(&r.json), expected[4..6].to_vec());
}

#[tokio::test]
async fn list_filters_by_email_and_created() {
    let h = harness();
    let s = h.session().await;
    let a = s.create(&h, "email=dup%40example.com&name=first").await;
    let b = s.create(&h, "email=dup%40example.com&name=second").await;
    s.create(&h, "email=other%40example.com").await;
    let r = s.get(&h, "/v1/customers?email=dup%40example.com").await;
    assert_eq!(
        ids(&r.json),
        vec![
            b["id"].as_str().expect("id").to_string(),
            a["id"].as_str().expect("id").to_string()
        ]
    );
    let r = s.get(&h, "/v1/customers?email=DUP%40example.com").await;
    assert_eq!(
        ids(&r.json),
        Vec::<String>::new(),
        "the email filter is case-sensitive, as on Stripe"
    );
    // The default seed's customers were created 2025-01-01 .. 2025-01-22.
    let r = s
        .get(
            &h,
            "/v1/customers?created[gte]=1736294400&created[lt]=1737504000",
        )
        .await;
    assert_eq!(
        ids(&r.json),
        vec!["cus_SeedLinus00003", "cus_SeedGrace00002"]
    );
    let r = s.get(&h, "/v1/customers?created=1735689600").await;
    assert_eq!(ids(&r.json), vec!["cus_SeedAda0000001"]);
    let r = s
        .get(
            &h,
            "/v1/customers?created[gt]=1737504000&created[lte]=1737504000",
        )
        .await;
    assert_eq!(ids(&r.json), Vec::<String>::new());
    let r = s.get(&h, "/v1/customers?created[gt]=abc").await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        Some("parameter_invalid_integer"),
        "Invalid integer: abc",
        Some("created[gt]"),
    );
    let r = s.get(&h, "/v1/customers?created[between]=1").await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        Some("parameter_unknown"),
        "Received unknown parameter: created[between]",
        Some("created[between]"),
    );
}

#[tokio::test]
async fn list_rejects_bad_limits_and_unknown_cursors() {
    let h = harness();
    let s = h.session().await;
    let r = s.get(&h, "/v1/customers?limit=0").await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        None,
        "This value must be greater than or equal to 1.",
        Some("limit"),
    );
    let r = s.get(&h, "/v1/customers?limit=101").await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        None,
        "This value must be less than or equal to 100.",
        Some("limit"),
    );
    let r = s.get(&h, "/v1/customers?limit=ten").await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        Some("parameter_invalid_integer"),
        "Invalid integer: ten",
        Some("limit"),
    );
    let r = s.get(&h, "/v1/customers?limit=100").await;
    assert_eq!(r.status, StatusCode::OK);
    let r = s.get(&h, "/v1/customers?starting_after=cus_nope").await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        Some("resource_missing"),
        "No such customer: 'cus_nope'",
        Some("starting_after"),
    );
    let r = s.get(&h, "/v1/customers?ending_before=cus_nope").await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        Some("resource_missing"),
        "No such customer: 'cus_nope'",
        Some("ending_before"),
    );
    let r = s
        .get(&h, "/v1/customers?starting_after=a&ending_before=b")
        .await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        Some("parameters_exclusive"),
        "You may only specify one of these parameters: ending_before, starting_after.",
        Some("ending_before"),
    );
    let r = s.get(&h, "/v1/customers?expand[]=sources").await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        None,
        "This property cannot be expanded (sources).",
        None,
    );
}

#[tokio::test]
async fn unknown_and_badly_typed_parameters_get_stripe_errors() {
    let h = harness();
    let s = h.session().await;
    let cases: &[(&str, Option<&str>, &str, Option<&str>)] = &[
        ("foo=1", Some("parameter_unknown"), "Received unknown parameter: foo", Some("foo")),
        ("address[foo]=1", Some("parameter_unknown"), "Received unknown parameter: address[foo]", Some("address[foo]")),
        ("balance=abc", Some("parameter_invalid_integer"), "Invalid integer: abc", Some("balance")),
        ("balance=1.5", Some("parameter_invalid_integer"), "Invalid integer: 1.5", Some("balance")),
        (
            "invoice_prefix=",
            Some("parameter_invalid_empty"),
            "You passed an empty string for 'invoice_prefix'. We assume empty values are an attempt to unset a parameter; however 'invoice_prefix' cannot be unset. You should remove 'invoice_prefix' from your request or supply a non-empty value.",
            Some("invoice_prefix"),
        ),
        ("email=nope", Some("email_invalid"), "Invalid email address: nope", Some("email")),
        ("metadata=plan", None, "Invalid hash", Some("metadata")),
        ("preferred_locales=en", None, "Invalid array", Some("preferred_locales")),
        ("description[a]=b", None, "Invalid string: {\"a\":\"b\"}", Some("description")),
        ("shipping[name]=x", Some("parameter_missing"), "Missing required param: shipping[address].", Some("shipping[address]")),
        ("next_invoice_sequence=0", None, "This value must be greater than or equal to 1.", Some("next_invoice_sequence")),
        ("test_clock=clock_1", Some("resource_missing"), "No such test clock: 'clock_1'", Some("test_clock")),
        (
            "invoice_settings[default_payment_method]=pm_1",
            Some("resource_missing"),
            "No such PaymentMethod: 'pm_1'",
            Some("invoice_settings[default_payment_method]"),
        ),
    ];
    for (body, code, message, param) in cases {
        let r = s.post(&h, "/v1/customers", body).await;
        assert_error(&r, StatusCode::BAD_REQUEST, *code, message, *param);
    }
    // Payment sources are not emulated: a clear 400, never silently ignored.
    let r = s.post(&h, "/v1/customers", "source=tok_visa").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.err()["param"], "source");
    assert!(
        r.err()["message"]
            .as_str()
            .is_some_and(|m| m.contains("not supported")),
        "{}",
        r.json
    );
    let long = "x".repeat(257);
    let r = s.post(&h, "/v1/customers", &format!("name={long}")).await;
    assert_eq!(
        (r.status, &r.err()["param"]),
        (StatusCode::BAD_REQUEST, &json!("name"))
    );
    // Nothing was created by the failures.
    assert_eq!(s.all_ids(&h).await.len(), 4);
}

#[tokio::test]
async fn idempotent_requests_replay_the_first_response() {
    let h = harness();
    let s = h.session().await;
    let first = s
        .post_idem(&h, "/v1/customers", "email=once%40example.com", "key-1")
        .await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = s
        .post_idem(&h, "/v1/customers", "email=once%40example.com", "key-1")
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json, first.json);
    assert_eq!(
        again
            .headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_ne!(
        again.headers.get("request-id"),
        first.headers.get("request-id")
    );
    assert_eq!(
        again.headers.get("original-request"),
        first.headers.get("request-id")
    );
    let r = s.get(&h, "/v1/customers?email=once%40example.com").await;
    assert_eq!(ids(&r.json).len(), 1, "the replay created nothing");

    let r = s
        .post_idem(&h, "/v1/customers", "email=twice%40example.com", "key-1")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json,
        json!({"error": {"type": "idempotency_error", "message": "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than 'key-1' if you meant to execute a different request."}})
    );
    let id = first.json["id"].as_str().expect("id");
    let r = s
        .post_idem(
            &h,
            &format!("/v1/customers/{id}"),
            "email=once%40example.com",
            "key-1",
        )
        .await;
    assert_eq!(r.err()["type"], "idempotency_error");
    assert!(r.err()["message"]
        .as_str()
        .is_some_and(|m| m.contains(&format!(
            "'POST /v1/customers' vs 'POST /v1/customers/{id}'"
        ))));

    // An update's result is saved too: replaying after a later change returns the first result.
    let path = format!("/v1/customers/{id}");
    let u1 = s.post_idem(&h, &path, "name=A", "key-2").await;
    s.post(&h, &path, "name=B").await;
    let u2 = s.post_idem(&h, &path, "name=A", "key-2").await;
    assert_eq!(u2.json, u1.json);
    assert_eq!(u2.json["name"], "A");
    // A 404 inside the endpoint is saved like a success; validation failures are not.
    let m1 = s
        .post_idem(&h, "/v1/customers/cus_none", "name=A", "key-3")
        .await;
    let m2 = s
        .post_idem(&h, "/v1/customers/cus_none", "name=A", "key-3")
        .await;
    assert_eq!(
        (m1.status, m2.status),
        (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND)
    );
    assert_eq!(
        m2.headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let v1 = s.post_idem(&h, "/v1/customers", "bogus=1", "key-4").await;
    assert_eq!(v1.status, StatusCode::BAD_REQUEST);
    let v2 = s.post_idem(&h, "/v1/customers", "name=fine", "key-4").await;
    assert_eq!(
        v2.status,
        StatusCode::OK,
        "a key whose request failed validation is still free"
    );
    let r = s.post_idem(&h, "/v1/customers", "", &"k".repeat(256)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn missing_and_wrong_keys_get_stripe_401s() {
    let h = harness();
    let s = h.session().await;
    let url = s.url("/v1/customers");
    let no_key = "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.";
    for auth in [
        Auth::None,
        Auth::Raw("Bearer "),
        Auth::Raw("Token abc"),
        Auth::Raw("Basic !!!"),
    ] {
        let r = send(&h.app, Method::GET, &url, auth, None, &[]).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, None, no_key, None);
    }
    let r = send(
        &h.app,
        Method::GET,
        &url,
        Auth::Bearer("sk_test_wrongwrongwrong1234"),
        None,
        &[],
    )
    .await;
    assert_error(
        &r,
        StatusCode::UNAUTHORIZED,
        None,
        "Invalid API Key provided: sk_test_***************1234",
        None,
    );
    // Basic auth with the key as user works, as with `curl -u sk_test_…:`.
    let r = send(&h.app, Method::GET, &url, Auth::Basic(&s.key), None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(
        &h.app,
        Method::GET,
        &url,
        Auth::Raw(&format!("bearer {}", s.key)),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let ses = h.sessions.get("ws", &s.id).await.expect("session");
    let pk = ses.mirrors["stripe"].credentials["publishable_key"].clone();
    let r = send(
        &h.app,
        Method::POST,
        &url,
        Auth::Bearer(&pk),
        Some(b"name=x".to_vec()),
        &[],
    )
    .await;
    assert_eq!(
        (r.status, &r.err()["code"]),
        (StatusCode::UNAUTHORIZED, &json!("secret_key_required"))
    );
}

#[tokio::test]
async fn sessions_are_isolated_by_key_and_by_state() {
    let h = harness();
    let a = h.session().await;
    let b = h.session().await;
    assert_ne!(a.key, b.key);
    let c = a.create(&h, "email=private%40a.co").await;
    let id = c["id"].as_str().expect("id");
    // B's key on A's session is just a wrong key.
    let r = send(
        &h.app,
        Method::GET,
        &a.url(&format!("/v1/customers/{id}")),
        Auth::Bearer(&b.key),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.err()["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("Invalid API Key provided: sk_test_")));
    // Through B, A's customer does not exist.
    let r = b.get(&h, &format!("/v1/customers/{id}")).await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        Some("resource_missing"),
        &format!("No such customer: '{id}'"),
        Some("id"),
    );
    assert!(!b.all_ids(&h).await.contains(&id.to_string()));
    let r = b
        .post(&h, &format!("/v1/customers/{id}"), "name=stolen")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_malformed_and_expired_sessions_answer_in_stripe_shape() {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let h = harness_with(clock.clone());
    for sid in ["ses_zzzz", "ses_BAD!", "nonsense"] {
        let r = send(
            &h.app,
            Method::GET,
            &format!("/m/{sid}/stripe/v1/customers"),
            Auth::Bearer("sk_test_x"),
            None,
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{sid}: {}", r.json);
        assert_eq!(r.err()["type"], "invalid_request_error");
    }
    let ses = h
        .sessions
        .create(
            "ws",
            CreateSession {
                timeout_seconds: Some(60),
                ..CreateSession::default()
            },
        )
        .await
        .expect("session");
    let key = ses.mirrors["stripe"].credentials["secret_key"].clone();
    let url = format!("/m/{}/stripe/v1/customers", ses.id);
    assert_eq!(
        send(&h.app, Method::GET, &url, Auth::Bearer(&key), None, &[])
            .await
            .status,
        StatusCode::OK
    );
    clock.advance_secs(61);
    let r = send(&h.app, Method::GET, &url, Auth::Bearer(&key), None, &[]).await;
    assert_eq!(r.status, StatusCode::GONE, "{}", r.json);
    assert_eq!(r.err()["type"], "invalid_request_error");
    assert!(r.err()["message"]
        .as_str()
        .is_some_and(|m| m.contains("expired")));
}

#[tokio::test]
async fn oversized_and_malformed_bodies_get_stripe_4xx() {
    let h = harness();
    let s = h.session().await;
    let url = s.url("/v1/customers");
    let big = format!("description={}", "a".repeat((1 << 20) + 1));
    let r = send(
        &h.app,
        Method::POST,
        &url,
        Auth::Bearer(&s.key),
        Some(big.into_bytes()),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.json);
    assert_eq!(r.err()["type"], "invalid_request_error");
    for body in [
        b"a=1&a[b]=2".to_vec(),
        b"{\"email\": \"json@example.com\"}".to_vec(),
        vec![0xff, 0xfe, b'=', 0x80],
        b"%zz=%%&name=ok".to_vec(),
        format!("metadata{}=1", "[x]".repeat(50)).into_bytes(),
        b"expand[][]=x".to_vec(),
    ] {
        let r = send(
            &h.app,
            Method::POST,
            &url,
            Auth::Bearer(&s.key),
            Some(body.clone()),
            &[],
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{}: {}",
            String::from_utf8_lossy(&body),
            r.json
        );
    }
    // A long description within the limit is still a parameter error, not a crash.
    let r = s
        .post(
            &h,
            "/v1/customers",
            &format!("description={}", "d".repeat(6000)),
        )
        .await;
    assert_eq!(
        (r.status, &r.err()["param"]),
        (StatusCode::BAD_REQUEST, &json!("description"))
    );
}

#[tokio::test]
async fn unrecognized_urls_and_methods_get_stripe_404s() {
    let h = harness();
    let s = h.session().await;
    let r = s.get(&h, "/v1/foo").await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        None,
        "Unrecognized request URL (GET: /v1/foo). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
        None,
    );
    let r = send(
        &h.app,
        Method::PUT,
        &s.url("/v1/customers"),
        Auth::Bearer(&s.key),
        None,
        &[],
    )
    .await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        None,
        "Unrecognized request URL (PUT: /v1/customers). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
        None,
    );
    let r = send(
        &h.app,
        Method::DELETE,
        &s.url("/v1/customers"),
        Auth::Bearer(&s.key),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The key is checked first, as on Stripe.
    let r = send(
        &h.app,
        Method::GET,
        &s.url("/v1/foo"),
        Auth::None,
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_default_seed_is_visible_in_a_new_session() {
    let h = harness();
    let s = h.session().await;
    assert_eq!(
        s.all_ids(&h).await,
        vec![
            "cus_SeedMargaret04",
            "cus_SeedLinus00003",
            "cus_SeedGrace00002",
            "cus_SeedAda0000001"
        ]
    );
    let r = s.get(&h, "/v1/customers/cus_SeedAda0000001").await;
    validate("customer", &r.json);
    assert_eq!(r.json["email"], "ada@example.com");
    assert_eq!(r.json["created"], 1735689600);
    assert_eq!(
        r.json["metadata"],
        json!({"plan": "pro", "account_id": "acct-1001"})
    );
    // Seeded customers behave like created ones.
    let r = s
        .post(&h, "/v1/customers/cus_SeedAda0000001", "metadata[plan]=")
        .await;
    assert_eq!(r.json["metadata"], json!({"account_id": "acct-1001"}));
    // Another session starts from the same seed, untouched by the first.
    let other = h.session().await;
    let r = other.get(&h, "/v1/customers/cus_SeedAda0000001").await;
    assert_eq!(r.json["metadata"]["plan"], "pro");
}

#[tokio::test]
async fn load_seed_rejects_a_bad_document() {
    let conn = rusqlite::Connection::open_in_memory().expect("db");
    conn.execute_batch(Stripe.schema()).expect("schema");
    let err = Stripe
        .load_seed(&conn, &json!({"customers": [{"email": "not-an-email"}]}))
        .expect_err("bad email");
    assert!(
        err.contains("customers[0]") && err.contains("Invalid email address"),
        "{err}"
    );
    let err = Stripe
        .load_seed(&conn, &json!({"products": []}))
        .expect_err("unknown key");
    assert!(err.contains("unknown key"), "{err}");
    // Through the session service, as `--seed-file` documents arrive.
    let h = harness();
    let bad = CreateSession {
        seed_files: [(
            "stripe".to_string(),
            json!({"customers": [{"balance": "lots"}]}),
        )]
        .into(),
        ..CreateSession::default()
    };
    match h.sessions.create("ws", bad).await {
        Err(SessionError::Invalid(m)) => assert!(m.contains("Invalid integer: lots"), "{m}"),
        other => panic!("expected Invalid, got {:?}", other.map(|s| s.id)),
    }
    let good = CreateSession {
        seed_files: [(
            "stripe".to_string(),
            json!({"customers": [{"id": "cus_Custom", "email": "c@example.com"}]}),
        )]
        .into(),
        ..CreateSession::default()
    };
    let ses = h.sessions.create("ws", good).await.expect("custom seed");
    let s = Ses {
        key: ses.mirrors["stripe"].credentials["secret_key"].clone(),
        id: ses.id,
    };
    assert_eq!(s.all_ids(&h).await, vec!["cus_Custom"]);
}

#[tokio::test]
async fn credentials_and_env_point_an_sdk_at_the_mirror() {
    let creds = Stripe.new_credentials();
    assert!(creds["secret_key"].starts_with("sk_test_") && creds["secret_key"].len() >= 32);
    assert!(creds["publishable_key"].starts_with("pk_test_"));
    assert!(creds["webhook_secret"].starts_with("whsec_"));
    assert_ne!(Stripe.new_credentials()["secret_key"], creds["secret_key"]);
    let env = Stripe.env("http://127.0.0.1:4010/m/ses_abcd/stripe", &creds);
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "STRIPE_API_BASE",
            "STRIPE_SECRET_KEY",
            "STRIPE_PUBLISHABLE_KEY",
            "STRIPE_WEBHOOK_SECRET"
        ]
    );
    assert_eq!(env[0].1, "http://127.0.0.1:4010/m/ses_abcd/stripe");
    assert_eq!(env[1].1, creds["secret_key"]);
}

#[test]
fn the_spec_check_catches_wrong_shapes() {
    let Some(root) = spec() else { return };
    let schema = json!({"$ref": "#/components/schemas/customer"});
    let ok = json!({"id": "cus_1", "object": "customer", "created": 1, "livemode": false, "email": null});
    let mut errs = Vec::new();
    check(root, &schema, &ok, "$", &mut errs);
    assert!(errs.is_empty(), "{errs:?}");
    let with = |k: &str, v: Value| {
        let mut c = ok.clone();
        c[k] = v;
        c
    };
    for bad in [
        json!({"id": "cus_1", "object": "customer", "livemode": false}),
        with("email", json!(5)),
        with("balance", Value::Null),
        with("tax_exempt", json!("maybe")),
        with("invented", json!(1)),
        with("address", json!({"line1": 1})),
    ] {
        let mut errs = Vec::new();
        check(root, &schema, &bad, "$", &mut errs);
        assert!(!errs.is_empty(), "accepted {bad}");
    }
}

/// Invariant 4: bad input never produces a 500 or a panic. Random bodies and
/// query strings built from Stripe-ish fragments all get a 2xx or a Stripe 4xx.
#[tokio::test]
async fn random_parameters_never_cause_a_500() {
    let h = harness();
    let s = h.session().await;
    let existing = s.create(&h, "name=target").await["id"]
        .as_str()
        .expect("id")
        .to_string();
    const PIECES: &[&str] = &[
        "email",
        "name",
        "metadata",
        "address",
        "shipping",
        "invoice_settings",
        "custom_fields",
        "expand",
        "preferred_locales",
        "balance",
        "limit",
        "created",
        "gt",
        "starting_after",
        "data.sources",
        "0",
        "1",
        "[",
        "]",
        "[]",
        "[0]",
        "=",
        "=",
        "&",
        "&",
        "%",
        "%zz",
        "%5B",
        "+",
        "a%40b.co",
        "-1",
        "9999999999999999999999",
        "x",
        "",
        "\u{e9}",
        "tax_exempt",
        "none",
        "footer",
        "line1",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut ok, mut rejected) = (0, 0);
    for i in 0..600 {
        let len = 1 + (next() % 12) as usize;
        let text: String = (0..len)
            .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
            .collect();
        let (method, path, body) = match i % 4 {
            0 => (
                Method::POST,
                "/v1/customers".to_string(),
                Some(text.clone().into_bytes()),
            ),
            1 => (
                Method::POST,
                format!("/v1/customers/{existing}"),
                Some(text.clone().into_bytes()),
            ),
            2 => (Method::GET, format!("/v1/customers?{text}"), None),
            _ => (
                Method::GET,
                format!("/v1/customers/{existing}?{text}"),
                None,
            ),
        };
        let uri = s.url(&path);
        if uri.parse::<axum::http::Uri>().is_err() {
            continue; // not a request a client could send
        }
        let r = send(&h.app, method, &uri, Auth::Bearer(&s.key), body, &[]).await;
        assert!(
            r.status.is_success() || r.status.is_client_error(),
            "{path} {text:?} → {} {}",
            r.status,
            r.json
        );
        if r.status.is_success() {
            ok += 1;
            if i % 4 < 2 {
                validate("customer", &r.json);
            }
        } else {
            rejected += 1;
        }
    }
    assert!(
        ok > 20 && rejected > 20,
        "both outcomes exercised: {ok} ok, {rejected} rejected"
    );
}
