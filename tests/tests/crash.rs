//! Crash consistency: `mirra serve` is SIGKILLed at random moments under write
//! load, several rounds in a row on the same storage. After each restart every
//! acknowledged write is there, and `PRAGMA integrity_check` is `ok` for every
//! mirror database of every session.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mirra_tests::{all_customers, cloud_env, create_customer, stripe_of, Server};
use rand::Rng;
use serde_json::{json, Value};
use shared::config::{BackendChoice, Backends};
use shared::session::SessionContext;
use shared::state::StateError;

const ROUNDS: usize = 5;
const WRITERS: usize = 6;

/// Writes until the server dies; returns the ids it acknowledged.
fn write_until_killed(server: &mut Server, base: &str, key: &str, round: usize) -> Vec<String> {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (base, key, acked, stop) = (
                base.to_string(),
                key.to_string(),
                acked.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                let http = mirra_tests::http_client();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    match create_customer(
                        &http,
                        &base,
                        &key,
                        &format!("r{round}-w{w}-{i}@example.com"),
                    ) {
                        Ok(id) => acked.lock().expect("lock").push(id),
                        Err(_) => break, // the server is gone; unacknowledged writes may be lost
                    }
                    i += 1;
                }
            })
        })
        .collect();
    // The kill clock starts at the first acknowledgement: a cold first write on a
    // remote backend can take longer than the shortest delay.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while acked.lock().expect("lock").is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let delay = rand::rng().random_range(50..400);
    std::thread::sleep(Duration::from_millis(delay));
    server.kill();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("writer");
    }
    let ids = acked.lock().expect("lock").clone();
    ids
}

/// `PRAGMA integrity_check` of one mirror database, through the library.
async fn integrity(ctx: &SessionContext) -> String {
    ctx.read(|c| {
        c.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
            .map_err(StateError::from)
    })
    .await
    .expect("integrity_check")
}

/// Where the killed servers keep their state, for opening it from the test.
enum Storage {
    Embedded(PathBuf),
    Aws { bucket: String, table: String },
}

async fn open(storage: &Storage) -> Backends {
    match storage {
        Storage::Embedded(dir) => Backends::embedded(dir).expect("embedded backends"),
        Storage::Aws { bucket, table } => {
            let choice = BackendChoice::Aws {
                bucket: bucket.clone(),
                table: table.clone(),
            };
            let scratch = std::env::temp_dir();
            Backends::open(&choice, &scratch, false)
                .await
                .expect("aws backends")
                .0
        }
    }
}

fn crash_rounds(start: impl Fn(bool) -> Server, storage: Storage) {
    let mut server = start(true);
    let session = server.create_session(json!({"mirrors": ["stripe"]}));
    let (url, key) = stripe_of(&session);
    let mut all_acked: Vec<String> = Vec::new();
    for round in 0..ROUNDS {
        let base = server.rebase(&url);
        let acked = write_until_killed(&mut server, &base, &key, round);
        assert!(
            !acked.is_empty(),
            "round {round}: the server acknowledged nothing before the kill"
        );
        all_acked.extend(acked);

        server = start(false);
        let base = server.rebase(&url);
        let listed: Vec<Value> = all_customers(server.http(), &base, &key);
        let ids: std::collections::HashSet<&str> =
            listed.iter().filter_map(|c| c["id"].as_str()).collect();
        for id in &all_acked {
            assert!(
                ids.contains(id.as_str()),
                "round {round}: acknowledged {id} was lost"
            );
        }
        assert_eq!(
            ids.len(),
            listed.len(),
            "round {round}: duplicated customers"
        );
    }
    server.kill();

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let (sessions, _) = open(&storage).await.into_sessions();
        let all = shared::session::ListSessions {
            limit: Some(shared::session::MAX_PAGE_LIMIT),
            ..Default::default()
        };
        let page = sessions.list("local", &all).await.expect("list");
        assert!(!page.has_more, "more sessions than one page");
        for s in page.data {
            for mirror in s.mirrors.keys() {
                let name: &'static str = if mirror == "stripe" {
                    "stripe"
                } else {
                    continue;
                };
                let ctx = sessions.context(&s.id, name).await.expect("context");
                assert_eq!(integrity(&ctx).await, "ok", "{}/{mirror}", s.id);
            }
        }
    });
    println!(
        "{ROUNDS} kill rounds, {} acknowledged writes, all present",
        all_acked.len()
    );
}

#[test]
fn sigkill_under_write_load_on_the_embedded_backends_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    crash_rounds(|_| Server::start_on(&data), Storage::Embedded(data.clone()));
}

#[test]
fn sigkill_under_write_load_on_s3_and_dynamodb_loses_no_acknowledged_write() {
    let Some(env) = cloud_env("crash") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let var = |name: &str| {
        env.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .expect(name)
    };
    // The test process opens the same storage afterwards: same endpoint and keys.
    for (k, v) in &env.vars {
        std::env::set_var(k, v);
    }
    let storage = Storage::Aws {
        bucket: var("MIRRA_S3_BUCKET"),
        table: var("MIRRA_DYNAMODB_TABLE"),
    };
    crash_rounds(
        |first| {
            Server::start_with(
                &data,
                &if first {
                    env.with_create_resources()
                } else {
                    env.vars.clone()
                },
            )
        },
        storage,
    );
}
