//! Sessions: isolation, unknown and expired ones, seeds, credentials and env.

use super::*;

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
