//! What survives: rows across reopening, acknowledged writes across a process
//! abort; and the hot path's timings.

use super::*;

#[tokio::test]
async fn sqlite_rows_survive_reopen() {
    let dir = tempdir();
    let path = dir.path().join("mirra.db");
    let stripe = log_key("ses_1", "stripe");
    {
        let t = SqliteSessionTable::open(&path).expect("open");
        t.create_session(&session("ses_1", "ws", Some("keep")))
            .await
            .expect("create");
        for seq in 1..=3 {
            t.append_log(&stripe, seq, b"entry").await.expect("append");
        }
        assert!(t
            .set_checkpoint(&stripe, &checkpoint(2, "snap/2"))
            .await
            .expect("checkpoint"));
    }
    let t = SqliteSessionTable::open(&path).expect("reopen");
    let row = t.find_session("ws", "keep").await.expect("find");
    assert_eq!(
        (row.id.as_str(), row.incarnation.as_str()),
        ("ses_1", "inc-ses_1")
    );
    assert_eq!(t.read_log(&stripe, 0).await.expect("read").len(), 2);
    assert_eq!(
        t.checkpoint(&stripe).await.expect("checkpoint"),
        Some(checkpoint(2, "snap/2"))
    );
}

// ------------------------------------------------------------ both, crash

const ABORT_CHILD_ENV: &str = "MIRRA_TEST_STORAGE_ABORT_DIR";
const ABORT_WRITES: u64 = 200;
const ABORT_CHECKPOINT: u64 = 120;

/// Writes, then dies without any cleanup; every write it was told succeeded
/// must be there afterwards (invariant 2: a killed process loses nothing acked).
#[tokio::test]
async fn acknowledged_writes_survive_process_abort() {
    if let Ok(dir) = std::env::var(ABORT_CHILD_ENV) {
        let dir = Path::new(&dir);
        let table = SqliteSessionTable::open(&dir.join("mirra.db")).expect("child open");
        let store = FsObjectStore::open(dir.join("objects")).expect("child open store");
        table
            .create_session(&session("ses_k", "ws", Some("killed")))
            .await
            .expect("create");
        let stripe = log_key("ses_k", "stripe");
        for seq in 1..=ABORT_WRITES {
            table
                .append_log(&stripe, seq, &seq.to_le_bytes())
                .await
                .expect("append");
            if seq == ABORT_CHECKPOINT {
                assert!(table
                    .set_checkpoint(&stripe, &checkpoint(seq, "snapshots/ws/snap_k"))
                    .await
                    .expect("checkpoint"));
            }
        }
        store
            .put("snapshots/ws/snap_k", Bytes::from(vec![7u8; 100_000]))
            .await
            .expect("put");
        store
            .create("images/k.db", Bytes::from(vec![9u8; 50_000]))
            .await
            .expect("create");
        std::process::abort();
    }

    let dir = tempdir();
    let status = std::process::Command::new(std::env::current_exe().expect("current exe"))
        .args([
            "--exact",
            "durability::acknowledged_writes_survive_process_abort",
            "--test-threads=1",
        ])
        .env(ABORT_CHILD_ENV, dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run child");
    assert!(!status.success(), "the child must have aborted");

    let table = SqliteSessionTable::open(&dir.path().join("mirra.db")).expect("reopen");
    assert_eq!(
        table.find_session("ws", "killed").await.expect("find").id,
        "ses_k"
    );
    let stripe = log_key("ses_k", "stripe");
    assert_eq!(
        table.checkpoint(&stripe).await.expect("checkpoint"),
        Some(checkpoint(ABORT_CHECKPOINT, "snapshots/ws/snap_k")),
        "an acknowledged checkpoint must survive"
    );
    let log = table.read_log(&stripe, 0).await.expect("read");
    assert_eq!(
        log.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (ABORT_CHECKPOINT..=ABORT_WRITES).collect::<Vec<_>>(),
        "every acknowledged append from the checkpoint on must survive"
    );
    for r in &log {
        assert_eq!(
            r.entry,
            r.seq.to_le_bytes(),
            "entry {} survives intact",
            r.seq
        );
    }
    let store = FsObjectStore::open(dir.path().join("objects")).expect("reopen store");
    assert_eq!(
        store.get("snapshots/ws/snap_k").await.expect("get").len(),
        100_000
    );
    assert_eq!(store.get("images/k.db").await.expect("get").len(), 50_000);
    assert_eq!(
        store.list("").await.expect("list"),
        ["images/k.db", "snapshots/ws/snap_k"]
    );
}

// ------------------------------------------------------------------ timing

/// Per-call cost of the hot path (`read_log` at the head, `append_log`), alone
/// and with 8 threads sharing one handle. Run:
/// `cargo test -p mirra-shared --release --test storage_conformance -- --ignored --nocapture`
#[test]
#[ignore = "timing report, not a check"]
fn sqlite_hot_path_timings() {
    const N: u64 = 20_000;
    let dir = tempdir();
    let table = Arc::new(SqliteSessionTable::open(&dir.path().join("mirra.db")).expect("open"));
    block_on(async {
        for id in std::iter::once("ses_t".to_string()).chain((0..8).map(|t| format!("ses_{t}"))) {
            table
                .create_session(&session(&id, "ws", None))
                .await
                .expect("create");
        }
        let stripe = log_key("ses_t", "stripe");
        let t0 = Instant::now();
        for seq in 1..=N {
            table
                .append_log(&stripe, seq, &[0u8; 200])
                .await
                .expect("append");
        }
        let append = t0.elapsed() / N as u32;
        let t0 = Instant::now();
        for _ in 0..N {
            table.read_log(&stripe, N).await.expect("read");
        }
        let read = t0.elapsed() / N as u32;
        println!("one task:  append_log {append:?}/call, read_log at head {read:?}/call");
    });
    let t0 = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let table = Arc::clone(&table);
            std::thread::spawn(move || {
                block_on(async {
                    let stripe = log_key(&format!("ses_{t}"), "stripe");
                    for seq in 1..=N / 8 {
                        table.read_log(&stripe, seq - 1).await.expect("read");
                        table
                            .append_log(&stripe, seq, &[0u8; 200])
                            .await
                            .expect("append");
                        for _ in 0..4 {
                            table.read_log(&stripe, seq).await.expect("read");
                        }
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let per_request = t0.elapsed() / N as u32;
    println!("8 threads: {per_request:?} per (append + 5 reads), wall clock / total appends");

    let t0 = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let table = Arc::clone(&table);
            std::thread::spawn(move || {
                block_on(async {
                    let stripe = log_key(&format!("ses_{t}"), "stripe");
                    for _ in 0..N {
                        table.read_log(&stripe, N / 8).await.expect("read");
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let per_read = t0.elapsed() / (8 * N) as u32;
    println!("8 threads: {per_read:?} per read_log at head, wall clock / total reads");
}
