//! Two `mirra serve` processes serving one session at the same time, on shared
//! storage: ≥ 1,000 concurrent Stripe creates split across both lose nothing and
//! duplicate nothing, both list the same customers, and a reset or restore issued
//! on one is seen by the very next request on the other.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use mirra_tests::{all_customers, cloud_env, create_customer, stripe_of, Server};
use reqwest::Method;
use serde_json::{json, Value};

const WRITERS: usize = 16;
const PER_WRITER: usize = 64; // 1,024 creates

fn emails(customers: &[Value]) -> HashSet<String> {
    customers
        .iter()
        .filter_map(|c| c["email"].as_str().map(str::to_string))
        .collect()
}

/// A create answered 429 `lock_timeout` lost every race for the next log
/// entry to the other instance and logged nothing (the engine's
/// `Contention`); Stripe's SDKs retry it, and so does this writer, as the
/// in-process race test does, a bounded number of times. The checks below
/// still require every create to land exactly once.
fn create_retrying_contention(
    http: &reqwest::blocking::Client,
    base: &str,
    key: &str,
    email: &str,
) -> Result<String, String> {
    for _ in 0..CONTENTION_RETRIES {
        match create_customer(http, base, key, email) {
            Err(e) if e.starts_with("429:") && e.contains("lock_timeout") => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            done => return done,
        }
    }
    create_customer(http, base, key, email)
}

const CONTENTION_RETRIES: usize = 10;

fn two_instances_serve_one_session(a: Server, b: Server) {
    let session = a.create_session(json!({"mirrors": ["stripe"]}));
    assert_eq!(
        session["cached"], false,
        "the first session builds the image"
    );
    let on_b = b.create_session(json!({"mirrors": ["stripe"]}));
    assert_eq!(
        on_b["cached"], true,
        "B reuses the image A built, through the shared store"
    );
    assert_eq!(on_b["config_hash"], session["config_hash"]);
    let (base_a, key) = stripe_of(&session);
    let base_b = b.rebase(&base_a);
    let seeded = all_customers(a.http(), &base_a, &key).len();

    let acked = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..WRITERS)
        .map(|w| {
            let base = if w % 2 == 0 {
                base_a.clone()
            } else {
                base_b.clone()
            };
            let (key, acked) = (key.clone(), acked.clone());
            std::thread::spawn(move || {
                let http = mirra_tests::http_client();
                for i in 0..PER_WRITER {
                    let email = format!("w{w}-{i}@example.com");
                    let id = create_retrying_contention(&http, &base, &key, &email)
                        .unwrap_or_else(|e| panic!("create w{w}-{i} was refused: {e}"));
                    acked.lock().expect("lock").push(id);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer");
    }
    let acked = acked.lock().expect("lock").clone();
    assert_eq!(acked.len(), WRITERS * PER_WRITER);

    let via_a = all_customers(a.http(), &base_a, &key);
    let via_b = all_customers(b.http(), &base_b, &key);
    let ids_a: Vec<&str> = via_a.iter().filter_map(|c| c["id"].as_str()).collect();
    let ids_b: Vec<&str> = via_b.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(
        ids_a, ids_b,
        "both instances list the same customers in the same order"
    );
    assert_eq!(
        ids_a.len(),
        seeded + acked.len(),
        "list count = seed + every acknowledged create"
    );
    let unique: HashSet<&str> = ids_a.iter().copied().collect();
    assert_eq!(unique.len(), ids_a.len(), "no customer is duplicated");
    for id in &acked {
        assert!(unique.contains(id.as_str()), "acknowledged {id} is missing");
    }
    assert_eq!(
        emails(&via_a).len(),
        seeded + acked.len(),
        "each create landed exactly once"
    );

    // A reset on A is what B's next request sees.
    let (status, _) = a.api(
        Method::POST,
        &format!("/v1/sessions/{}/reset", session["id"].as_str().expect("id")),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(
        all_customers(b.http(), &base_b, &key).len(),
        seeded,
        "B sees A's reset at once"
    );

    // A snapshot taken on B and restored on A is what B's next request sees.
    create_customer(b.http(), &base_b, &key, "kept@example.com").expect("create");
    let id = session["id"].as_str().expect("id");
    let (status, snap) = b.api(Method::POST, &format!("/v1/sessions/{id}/snapshots"), None);
    assert_eq!(status, 201, "{snap}");
    create_customer(a.http(), &base_a, &key, "dropped@example.com").expect("create");
    let (status, restored) = a.api(
        Method::POST,
        &format!("/v1/sessions/{id}/restore"),
        Some(json!({"snapshot": snap["id"]})),
    );
    assert_eq!(status, 200, "{restored}");
    let after = emails(&all_customers(b.http(), &base_b, &key));
    assert!(
        after.contains("kept@example.com") && !after.contains("dropped@example.com"),
        "B sees A's restore at once"
    );
}

#[test]
fn two_processes_on_one_embedded_data_dir_serve_one_session_without_losing_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let a = Server::start_on(&data);
    let b = Server::start_on(&data);
    two_instances_serve_one_session(a, b);
}

#[test]
fn two_processes_on_shared_s3_and_dynamodb_serve_one_session_without_losing_writes() {
    let Some(env) = cloud_env("two-instances") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let a = Server::start_with(&dir.path().join("a"), &env.with_create_resources());
    let b = Server::start_with(&dir.path().join("b"), &env.vars);
    two_instances_serve_one_session(a, b);
}
