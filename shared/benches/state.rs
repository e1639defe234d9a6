//! State engine costs per backend (`cargo bench -p mirra-shared --bench state`):
//! commit latency of one write, reset of one mirror to `stripe:default`, cold restore of 100 KB / 1 MB / 10 MB states, and
//! cold restore after 10 / 1,000 / 100,000 commits (compaction keeps it flat).
//! Runs on the embedded backends always, and on S3 + DynamoDB too when
//! `MIRRA_TEST_AWS_ENDPOINT` names an emulator (`infra/moto start` prints one);
//! `MIRRA_BENCH_MAX_REMOTE_COMMITS` (default 10,000) caps the commit counts on
//! the emulator, which takes minutes per 10,000 commits to fill.

use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};
use rusqlite::Connection;
use shared::config::{BackendChoice, Backends};
use shared::session::{
    CreateSession, ResetSession, Session, SessionContext, Sessions, SystemClock,
};
use shared::state::StateError;
use shared::storage::{ObjectStore, SessionTable};
use tokio::runtime::Runtime;

struct Backend {
    name: &'static str,
    store: Arc<dyn ObjectStore>,
    table: Arc<dyn SessionTable>,
    _dir: tempfile::TempDir,
}

impl Backend {
    fn new(name: &'static str, b: Backends, dir: tempfile::TempDir) -> Self {
        Backend {
            name,
            store: b.store,
            table: b.table,
            _dir: dir,
        }
    }
}

fn backends(rt: &Runtime) -> Vec<Backend> {
    let dir = tempfile::tempdir().expect("tempdir");
    let embedded = Backends::embedded(dir.path()).expect("embedded");
    let mut out = vec![Backend::new("embedded", embedded, dir)];
    if let Ok(endpoint) = std::env::var("MIRRA_TEST_AWS_ENDPOINT") {
        for (k, v) in [
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ] {
            std::env::set_var(k, v);
        }
        let name = format!("mirra-bench-{}", std::process::id());
        let choice = BackendChoice::Aws {
            bucket: name.clone(),
            table: name,
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let (aws, _) = rt
            .block_on(Backends::open(&choice, dir.path(), true))
            .expect("aws backends");
        out.push(Backend::new("s3+dynamodb(moto)", aws, dir));
    }
    out
}

/// A fresh instance (no warm working copies, no cached images) over the storage.
fn instance(b: &Backend) -> Arc<Sessions> {
    let defs = shared::mirrors::all().into_iter().map(|m| m.def).collect();
    Arc::new(Sessions::new(
        b.table.clone(),
        b.store.clone(),
        Arc::new(SystemClock),
        defs,
    ))
}

async fn stripe_session(s: &Arc<Sessions>) -> Session {
    s.create(
        "bench",
        CreateSession {
            mirrors: Some(vec!["stripe".into()]),
            ..Default::default()
        },
    )
    .await
    .expect("create")
}

async fn ctx(s: &Arc<Sessions>, session: &Session) -> SessionContext {
    s.context(&session.id, "stripe").await.expect("context")
}

/// One committed write: a row of `payload` bytes in the mirror's own table.
async fn write(ctx: &SessionContext, payload: &str) {
    ctx.write(|c: &Connection| {
        c.execute(
            "INSERT INTO customers (id, created, deleted, email, data) VALUES (?1, 0, 0, NULL, ?2)",
            rusqlite::params![format!("cus_b{}", rand_id()), payload],
        )
        .map_err(StateError::from)
    })
    .await
    .expect("write");
}

/// One committed write that rewrites the newest row (state size stays constant).
async fn rewrite_last(ctx: &SessionContext, i: u64) {
    ctx.write(|c: &Connection| {
        c.execute(
            "UPDATE customers SET data = ?1 WHERE seq = (SELECT max(seq) FROM customers)",
            [format!("{{\"n\":{i}}}")],
        )
        .map_err(StateError::from)
    })
    .await
    .expect("rewrite");
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

async fn count_customers(ctx: &SessionContext) -> i64 {
    ctx.read(|conn| {
        conn.query_row("SELECT count(*) FROM customers", [], |r| r.get::<_, i64>(0))
            .map_err(StateError::from)
    })
    .await
    .expect("read")
}

/// Cold restore: a brand-new instance serves its first read of the session.
fn cold_read(b: &Backend, rt: &Runtime, session: &Session) {
    let fresh = instance(b);
    rt.block_on(async {
        let c = ctx(&fresh, session).await;
        count_customers(&c).await;
    });
}

fn main() {
    let mut c = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(5));
    let rt = Runtime::new().expect("runtime");
    let max_remote: u64 = std::env::var("MIRRA_BENCH_MAX_REMOTE_COMMITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    for b in backends(&rt) {
        let s = instance(&b);
        let session = rt.block_on(stripe_session(&s));
        let warm = rt.block_on(ctx(&s, &session));
        c.bench_function(&format!("commit_one_write/{}", b.name), |bench| {
            bench.to_async(&rt).iter(|| write(&warm, "{}"))
        });

        c.bench_function(&format!("reset_one_mirror/{}", b.name), |bench| {
            bench.to_async(&rt).iter(|| async {
                s.reset("bench", &session.id, ResetSession::default())
                    .await
                    .expect("reset");
            })
        });

        // A touched session whose copy did not fit the open budget (0 here),
        // read again: thawed from its frozen copy and frozen again, or rebuilt
        // from storage (image + log) and dropped again.
        let mut group = c.benchmark_group(format!("read_after_eviction/{}", b.name));
        for (label, frozen) in [("frozen", u64::MAX), ("dropped", 0)] {
            let mut evicting = Sessions::new(
                b.table.clone(),
                b.store.clone(),
                Arc::new(SystemClock),
                shared::mirrors::all().into_iter().map(|m| m.def).collect(),
            );
            evicting.set_cache_bytes(0);
            evicting.set_frozen_bytes(frozen);
            let evicting = Arc::new(evicting);
            let session = rt.block_on(stripe_session(&evicting));
            let c1 = rt.block_on(ctx(&evicting, &session));
            rt.block_on(write(&c1, "{}"));
            group.bench_function(BenchmarkId::from_parameter(label), |bench| {
                bench.to_async(&rt).iter(|| count_customers(&c1))
            });
        }
        group.finish();

        let mut group = c.benchmark_group(format!("cold_restore_by_size/{}", b.name));
        group.sample_size(20);
        for (label, bytes) in [
            ("100KB", 100_000usize),
            ("1MB", 1_000_000),
            ("10MB", 10_000_000),
        ] {
            let session = rt.block_on(stripe_session(&s));
            let c1 = rt.block_on(ctx(&s, &session));
            let row = "x".repeat(50_000);
            rt.block_on(async {
                for _ in 0..bytes / row.len() {
                    write(&c1, &row).await;
                }
            });
            // Snapshot + restore so the state is one object, not a log to replay.
            rt.block_on(async {
                let snap = s
                    .snapshot("bench", &session.id, false)
                    .await
                    .expect("snapshot");
                s.restore("bench", &session.id, &snap.id)
                    .await
                    .expect("restore");
            });
            group.bench_function(BenchmarkId::from_parameter(label), |bench| {
                bench.iter(|| cold_read(&b, &rt, &session))
            });
        }
        group.finish();

        // Constant state, growing history: every commit rewrites the same row, so
        // only the log length differs. 999 is the worst case: the longest replay
        // tail before the next checkpoint (every 1,000 commits by default).
        let mut group = c.benchmark_group(format!("cold_restore_after_commits/{}", b.name));
        group.sample_size(20);
        let max_commits = if b.name == "embedded" {
            u64::MAX
        } else {
            max_remote
        };
        for commits in [10u64, 999, 1_000, 10_000, 100_000]
            .into_iter()
            .filter(|n| *n <= max_commits)
        {
            let session = rt.block_on(stripe_session(&s));
            let c1 = rt.block_on(ctx(&s, &session));
            rt.block_on(async {
                write(&c1, "{}").await;
                for i in 1..commits {
                    rewrite_last(&c1, i).await;
                }
            });
            group.bench_function(BenchmarkId::from_parameter(commits), |bench| {
                bench.iter(|| cold_read(&b, &rt, &session))
            });
        }
        group.finish();
    }
    c.final_summary();
}
