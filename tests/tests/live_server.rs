//! A live `mirra serve` over real TCP: isolation between sessions, host routing,
//! and a clean Ctrl-C that loses no acknowledged write.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mirra_tests::{stripe_of, Server};
use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn create_customer(
    http: &Client,
    base: &str,
    key: &str,
    email: &str,
) -> reqwest::Result<(StatusCode, Value)> {
    let resp = http
        .post(format!("{base}/v1/customers"))
        .bearer_auth(key)
        .form(&[("email", email), ("metadata[source]", "e2e")])
        .send()?;
    let status = resp.status();
    Ok((status, resp.json().unwrap_or(Value::Null)))
}

fn get(http: &Client, url: &str, key: &str) -> (StatusCode, Value) {
    let resp = http.get(url).bearer_auth(key).send().expect("GET");
    let status = resp.status();
    (status, resp.json().unwrap_or(Value::Null))
}

#[test]
fn two_sessions_never_see_each_others_data_or_accept_each_others_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let a = server.create_session(json!({"mirrors": ["stripe"]}));
    let b = server.create_session(json!({"mirrors": ["stripe"]}));
    let ((base_a, key_a), (base_b, key_b)) = (stripe_of(&a), stripe_of(&b));
    let http = server.http();

    let (status, cus) =
        create_customer(http, &base_a, &key_a, "only-a@example.com").expect("create");
    assert_eq!(status, StatusCode::OK, "{cus}");
    let id = cus["id"].as_str().expect("id");

    let (status, v) = get(http, &format!("{base_b}/v1/customers/{id}"), &key_b);
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "B cannot see A's customer: {v}"
    );
    assert_eq!(v["error"]["code"], "resource_missing");
    let (status, v) = get(http, &format!("{base_a}/v1/customers/{id}"), &key_b);
    assert_eq!(status, StatusCode::UNAUTHORIZED, "A refuses B's key: {v}");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    let (_, list_b) = get(http, &format!("{base_b}/v1/customers?limit=100"), &key_b);
    assert!(
        list_b["data"]
            .as_array()
            .expect("list")
            .iter()
            .all(|c| c["email"] != "only-a@example.com"),
        "{list_b}"
    );

    // Host routing reaches the same mirror: stripe-<suffix>.localhost → /m/ses_<suffix>/stripe.
    let suffix = &a["id"].as_str().expect("id")[4..];
    let resp = http
        .get(format!("{}/v1/customers/{id}", server.url))
        .header("host", format!("stripe-{suffix}.localhost"))
        .bearer_auth(&key_a)
        .send()
        .expect("host-routed GET");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.json::<Value>().expect("json")["email"],
        "only-a@example.com"
    );
}

#[test]
fn ctrl_c_stops_cleanly_and_every_acknowledged_write_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut server = Server::start_on(&data);
    let session = server.create_session(json!({"mirrors": ["stripe"]}));
    let (base, key) = stripe_of(&session);
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (base, key, acked, stop) = (base.clone(), key.clone(), acked.clone(), stop.clone());
            let failures = failures.clone();
            std::thread::spawn(move || {
                let http = mirra_tests::http_client();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    match create_customer(&http, &base, &key, &format!("w{w}-{i}@example.com")) {
                        Ok((StatusCode::OK, c)) => acked
                            .lock()
                            .expect("lock")
                            .push(c["id"].as_str().expect("id").to_string()),
                        // The server is going away; unacknowledged writes may be lost.
                        other => {
                            failures
                                .lock()
                                .expect("lock")
                                .push(format!("w{w}: {other:?}"));
                            return;
                        }
                    }
                    i += 1;
                }
            })
        })
        .collect();
    wait_for_acks(&acked, 200, &writers, &failures, ACK_DEADLINE);
    let code = server.interrupt();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().expect("writer");
    }
    assert_eq!(code, Some(0), "Ctrl-C exits cleanly");

    let restarted = Server::start_on(&data);
    let base = base.replace(&session_origin(&base), &restarted.url);
    let ids = acked.lock().expect("lock").clone();
    assert!(ids.len() >= 200);
    for id in &ids {
        let (status, c) = get(restarted.http(), &format!("{base}/v1/customers/{id}"), &key);
        assert_eq!(status, StatusCode::OK, "acknowledged {id} was lost: {c}");
    }
}

/// Far beyond what 200 creates take on a loaded machine; only a stuck server
/// or test gets near it.
const ACK_DEADLINE: Duration = Duration::from_secs(120);

/// Waits until `want` writes are acknowledged. Panics, saying why (with the
/// writers' `failures`), when every writer has stopped or `deadline` passes
/// first, instead of waiting forever.
fn wait_for_acks(
    acked: &Mutex<Vec<String>>,
    want: usize,
    writers: &[JoinHandle<()>],
    failures: &Mutex<Vec<String>>,
    deadline: Duration,
) {
    let started = Instant::now();
    loop {
        let have = acked.lock().expect("lock").len();
        if have >= want {
            return;
        }
        assert!(
            !writers.iter().all(JoinHandle::is_finished),
            "every writer stopped after {have} of {want} acknowledged writes: {:?}",
            failures.lock().expect("lock")
        );
        assert!(
            started.elapsed() < deadline,
            "only {have} of {want} writes acknowledged after {deadline:?}: {:?}",
            failures.lock().expect("lock")
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The wait for acknowledgements ends with a clear failure when the writers
/// stop short, instead of spinning forever.
#[test]
#[should_panic(expected = "every writer stopped after 1 of 200 acknowledged writes")]
fn waiting_for_acks_fails_clearly_when_the_writers_stop_short() {
    let acked = Mutex::new(vec!["cus_only_one".to_string()]);
    let failures = Mutex::new(vec!["w0: connection refused".to_string()]);
    let writer = std::thread::spawn(|| ());
    while !writer.is_finished() {
        std::thread::sleep(Duration::from_millis(1));
    }
    wait_for_acks(&acked, 200, &[writer], &failures, ACK_DEADLINE);
}

/// The wait also ends at its deadline while a writer is still going.
#[test]
#[should_panic(expected = "only 0 of 200 writes acknowledged")]
fn waiting_for_acks_fails_clearly_at_the_deadline() {
    let acked = Mutex::new(Vec::new());
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let writer = std::thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let guard = StopOnDrop(stop);
    wait_for_acks(
        &acked,
        200,
        &[writer],
        &Mutex::new(vec![]),
        Duration::from_millis(50),
    );
    drop(guard);
}

/// Lets a test's helper thread end even when the test panics.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// `http://127.0.0.1:PORT/m/…` → `http://127.0.0.1:PORT`.
fn session_origin(url: &str) -> String {
    url.find("/m/")
        .map(|i| url[..i].to_string())
        .unwrap_or_else(|| url.to_string())
}
