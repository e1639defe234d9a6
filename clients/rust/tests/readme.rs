// tests/signup.rs — needs `mirra serve` running, or MIRRA_AUTOSTART=1
use mirra_client::MirraSession;
use serde_json::Value;

#[tokio::test]
async fn each_test_gets_a_session_and_a_reset_empties_it() {
    let mirra = MirraSession::builder()
        .mirrors(["stripe"])
        .up()
        .await
        .expect("a Mirra session");
    let env = mirra.env(); // what `mirra env` prints: STRIPE_API_BASE, STRIPE_SECRET_KEY, …
    let (base, key) = (&env["STRIPE_API_BASE"], &env["STRIPE_SECRET_KEY"]);
    let http = reqwest::Client::new();
    let count = || async {
        let list: Value = http
            .get(format!("{base}/v1/customers"))
            .bearer_auth(key)
            .query(&[("email", "new@example.com")])
            .send()
            .await?
            .json()
            .await?;
        Ok::<usize, reqwest::Error>(list["data"].as_array().map_or(0, Vec::len))
    };
    http.post(format!("{base}/v1/customers"))
        .bearer_auth(key)
        .form(&[("email", "new@example.com")])
        .send()
        .await
        .expect("create a customer");
    assert_eq!(count().await.expect("list"), 1);

    mirra.reset().await.expect("reset"); // back to the seed, in about a millisecond
    assert_eq!(count().await.expect("list"), 0);
} // the session ends here
