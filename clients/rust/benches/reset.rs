//! What a test pays for `MirraSession::reset()` before it: one request to a
//! live server, over the guard's kept-alive connection. Run with a release
//! server: `MIRRA_AUTOSTART=1 MIRRA_BIN=target/release/mirra cargo bench -p mirra-client`.

use criterion::{criterion_group, criterion_main, Criterion};
use mirra_client::MirraSession;

fn reset(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for mirrors in [&["stripe"][..], &["stripe", "resend", "twilio"][..]] {
        let mirra = rt
            .block_on(
                MirraSession::builder()
                    .mirrors(mirrors.iter().copied())
                    .up(),
            )
            .expect("a session (start `mirra serve` or set MIRRA_AUTOSTART=1)");
        c.bench_function(&format!("guard reset, {} mirror(s)", mirrors.len()), |b| {
            b.to_async(&rt)
                .iter(|| async { mirra.reset().await.expect("reset") });
        });
        rt.block_on(mirra.down()).expect("down");
    }
}

criterion_group!(benches, reset);
criterion_main!(benches);
