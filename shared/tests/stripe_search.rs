//! `GET /v1/customers/search` through the Stripe mirror's router: Stripe's
//! query language over the session's customers, the `search_result` envelope,
//! `next_page` pagination, `expand[]=total_count`, and Stripe-shaped 400s.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use shared::session::CreateSession;
use support::stripe::{Mirror, Resp, Ses};

/// A session whose Stripe mirror starts with no customers.
async fn empty(m: &Mirror) -> Ses {
    let s = m
        .sessions
        .create(
            "ws",
            CreateSession {
                seed_files: [("stripe".to_string(), json!({"customers": []}))].into(),
                ..CreateSession::default()
            },
        )
        .await
        .expect("create session");
    let key = s.mirrors["stripe"].credentials["secret_key"].clone();
    Ses { id: s.id, key }
}

fn encode(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn search(m: &Mirror, s: &Ses, pairs: &[(&str, &str)]) -> Resp {
    m.get(s, &format!("/v1/customers/search?{}", encode(pairs)))
        .await
}

/// The ids of a search's `data`, asserting the search succeeded.
async fn found(m: &Mirror, s: &Ses, query: &str) -> Vec<String> {
    let r = search(m, s, &[("query", query)]).await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.json);
    ids(&r.json)
}

fn ids(v: &Value) -> Vec<String> {
    v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|c| c["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn create(m: &Mirror, s: &Ses, body: &str) -> String {
    let r = m.post(s, "/v1/customers", body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    r.json["id"].as_str().expect("id").to_string()
}

fn assert_query_error(r: &Resp, param: &str, needle: &str) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
    let e = &r.json["error"];
    assert_eq!(e["type"], "invalid_request_error", "{}", r.json);
    assert_eq!(e["param"], param, "{}", r.json);
    let message = e["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{needle:?} not in {message:?}");
}

/// Each of Stripe's customer query fields finds its customers, newest first,
/// in the `search_result` envelope Stripe returns.
#[tokio::test]
async fn customers_are_found_by_each_searchable_field() {
    let m = Mirror::new();
    let s = empty(&m).await;
    let ada = create(
        &m,
        &s,
        "email=ada@example.com&name=Ada%20Lovelace&phone=%2B15550100&metadata[plan]=pro",
    )
    .await;
    let grace = create(
        &m,
        &s,
        "email=grace@navy.mil&name=Grace%20Hopper&metadata[plan]=free",
    )
    .await;
    let alan = create(&m, &s, "email=alan@example.com&name=Alan%20Turing").await;

    let r = search(&m, &s, &[("query", "email:'ADA@example.com'")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let keys: Vec<&str> = r
        .json
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["object", "data", "has_more", "next_page", "url"]);
    assert_eq!(r.json["object"], "search_result");
    assert_eq!(r.json["url"], "/v1/customers/search");
    assert_eq!(r.json["has_more"], false);
    assert_eq!(r.json["next_page"], Value::Null);
    assert_eq!(ids(&r.json), [ada.as_str()]);
    assert_eq!(r.json["data"][0]["object"], "customer");

    assert_eq!(
        found(&m, &s, "email~'example.com'").await,
        [alan.as_str(), ada.as_str()]
    );
    assert_eq!(found(&m, &s, "name:'lovelace'").await, [ada.as_str()]);
    assert_eq!(found(&m, &s, "name~'ing'").await, [alan.as_str()]);
    assert_eq!(found(&m, &s, "phone:'+15550100'").await, [ada.as_str()]);
    assert_eq!(
        found(&m, &s, "metadata['plan']:'PRO'").await,
        [ada.as_str()]
    );
    assert_eq!(
        found(&m, &s, "-metadata['plan']:null").await,
        [grace.as_str(), ada.as_str()]
    );
    assert_eq!(
        found(&m, &s, "metadata['plan']:null").await,
        [alan.as_str()]
    );
    assert_eq!(
        found(&m, &s, "created>0 AND -email~'example'").await,
        [grace.as_str()]
    );
    assert_eq!(
        found(&m, &s, "name:'grace' OR email:'alan@example.com'").await,
        [alan.as_str(), grace.as_str()]
    );
    assert_eq!(found(&m, &s, "created<0").await, Vec::<String>::new());

    // A seed's customers are searchable like any others.
    let seeded = m.session().await;
    assert_eq!(
        found(&m, &seeded, "metadata['plan']:'pro'").await,
        ["cus_SeedLinus00003", "cus_SeedAda0000001"]
    );
}

/// `limit` and `next_page` walk every match once; `expand[]=total_count`
/// counts them all; `expand[]=data.…` expands inside the results.
#[tokio::test]
async fn searches_page_with_next_page_and_count_on_request() {
    let m = Mirror::new();
    let s = empty(&m).await;
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(
            create(
                &m,
                &s,
                &format!("email=page{i}@example.com&metadata[batch]=b1"),
            )
            .await,
        );
    }
    create(&m, &s, "email=other@example.com").await;
    made.reverse();

    let mut seen = Vec::new();
    let mut page = String::new();
    loop {
        let mut pairs = vec![
            ("query", "metadata['batch']:'b1'"),
            ("limit", "2"),
            ("expand[]", "total_count"),
        ];
        if !page.is_empty() {
            pairs.push(("page", page.as_str()));
        }
        let r = search(&m, &s, &pairs).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        assert_eq!(r.json["total_count"], 5, "{}", r.json);
        seen.extend(ids(&r.json));
        if r.json["has_more"] == true {
            page = r.json["next_page"].as_str().expect("next_page").to_string();
        } else {
            assert_eq!(r.json["next_page"], Value::Null);
            break;
        }
    }
    assert_eq!(seen, made);

    let r = search(
        &m,
        &s,
        &[
            ("query", "email:'page0@example.com'"),
            ("expand[]", "data.tax_ids"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["data"][0]["tax_ids"]["object"], "list", "{}", r.json);
    assert!(r.json.get("total_count").is_none());

    // `total_count` belongs to search results, not to lists.
    let r = m.get(&s, "/v1/customers?expand[]=total_count").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
}

/// Deleted customers are not found; another session's customers never are.
#[tokio::test]
async fn deleted_and_other_sessions_customers_are_not_found() {
    let m = Mirror::new();
    let s = empty(&m).await;
    let other = empty(&m).await;
    let id = create(&m, &s, "email=gone@example.com").await;
    create(&m, &other, "email=gone@example.com").await;
    assert_eq!(
        found(&m, &s, "email:'gone@example.com'").await,
        [id.as_str()]
    );
    let d = m
        .call(&s, Method::DELETE, &format!("/v1/customers/{id}"), None)
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.json);
    assert!(found(&m, &s, "email:'gone@example.com'").await.is_empty());
    let theirs = found(&m, &other, "email:'gone@example.com'").await;
    assert!(theirs.len() == 1 && theirs[0] != id, "{theirs:?}");
}

/// Bad queries, limits and cursors get Stripe's 400 naming the parameter.
#[tokio::test]
async fn bad_queries_get_stripe_400s() {
    let m = Mirror::new();
    let s = empty(&m).await;
    for (query, needle) in [
        (
            "emial:'a@b.co'",
            "Field `emial` is an unsupported search field for resource `customers`",
        ),
        ("currency:'usd'", "query-fields-for-customers"),
        (
            "email:'a' AND name:'b' OR phone:'c'",
            "AND and OR cannot be combined",
        ),
        ("name~'ab'", "at least 3 characters"),
        ("email>'a'", "cannot be used on `email`, a string field"),
        ("created:'yesterday'", "is not a number"),
        ("email:a@b.co", "must be quoted"),
        ("email:'a", "no closing quote"),
        ("(email:'a')", "parentheses"),
        ("metadata:'x'", "needs a key"),
        ("   ", "empty"),
    ] {
        let r = search(&m, &s, &[("query", query)]).await;
        assert_query_error(&r, "query", needle);
    }
    let eleven = ["created>1"; 11].join(" AND ");
    let r = search(&m, &s, &[("query", &eleven)]).await;
    assert_query_error(&r, "query", "at most 10 clauses");

    let r = m.get(&s, "/v1/customers/search").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
    assert_eq!(r.json["error"]["code"], "parameter_missing", "{}", r.json);
    assert_eq!(r.json["error"]["param"], "query", "{}", r.json);
    for limit in ["0", "101"] {
        let r = search(&m, &s, &[("query", "created>0"), ("limit", limit)]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
        assert_eq!(r.json["error"]["param"], "limit", "{}", r.json);
    }
    let r = search(&m, &s, &[("query", "created>0"), ("page", "not-a-cursor")]).await;
    assert_query_error(&r, "page", "Invalid page");
    let r = search(&m, &s, &[("query", "created>0"), ("expand[]", "nope")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
}
