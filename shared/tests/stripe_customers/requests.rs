//! What every request goes through: parameters, idempotency, keys, bodies,
//! URLs; none of it ever answers 500.

use super::*;

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
