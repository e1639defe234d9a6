//! What `mirra proxy` costs (`cargo bench -p mirra-shared --bench proxy`): a
//! server and a proxy in this process on loopback, a hand-rolled HTTP/1.1
//! client (hyper) so the client's own work is the same either way.
//!
//! * `keep-alive`: one connection, 5,000 sequential Stripe retrieves
//!   (`GET /v1/customers/{id}`) — direct to the session's path over HTTP, and
//!   through the proxy to `https://api.stripe.com` (CONNECT once, TLS once);
//!   blocks of 1,000 alternate so drift hits both. Prints p50/p90/p99 and the
//!   p50 the proxy adds.
//! * `handshakes`: 16 clients for 5 s, each request on a new connection:
//!   CONNECT + TLS handshake (certificate from the cache) + one retrieve.
//!   Prints connections/s (client and proxy share this machine's cores).
//!
//! Plain output, not criterion: the goal is stated as a p50.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;
use shared::api::{router, AppState};
use shared::mirrors;
use shared::proxy::{self, LocalCa, Others, Proxy};
use shared::session::{Clock, CreateSession, Sessions, SystemClock};
use shared::storage::fs::FsObjectStore;
use shared::storage::sqlite::SqliteSessionTable;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;

const REQUESTS: usize = 5_000;
const BLOCK: usize = 1_000;

struct Rig {
    server: String,
    proxy: String,
    tls: TlsConnector,
    session: String,
    key: String,
    customer: String,
}

async fn rig(dir: &std::path::Path) -> Rig {
    shared::tls::install_provider();
    let table = SqliteSessionTable::open(&dir.join("sessions.db")).expect("table");
    let store = FsObjectStore::open(dir.join("objects")).expect("store");
    let all = mirrors::all();
    let sessions = Arc::new(Sessions::new(
        Arc::new(table),
        Arc::new(store),
        Arc::new(SystemClock) as Arc<dyn Clock>,
        all.iter().map(|m| m.def.clone()).collect(),
    ));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = listener.local_addr().expect("addr").to_string();
    let state = AppState::new(
        sessions.clone(),
        "t",
        "local",
        &format!("http://{server}"),
        all,
    );
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    let ca = Arc::new(LocalCa::load_or_create(&dir.join("ca")).expect("ca"));
    let p = Proxy::new(&format!("http://{server}"), ca.clone(), Others::Tunnel).expect("proxy");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let proxy_addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(proxy::serve(listener, Arc::new(p), std::future::pending()));

    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert_der().clone()).expect("root");
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let session = sessions
        .create(
            "local",
            CreateSession {
                rate_limit: Some(0),
                ..CreateSession::default()
            },
        )
        .await
        .expect("session");
    let key = session.mirrors["stripe"].credentials["secret_key"].clone();
    let mut rig = Rig {
        server,
        proxy: proxy_addr,
        tls: TlsConnector::from(Arc::new(config)),
        session: session.id.clone(),
        key,
        customer: String::new(),
    };
    let mut direct = rig.direct().await;
    let req = Request::post(format!("/m/{}/stripe/v1/customers", rig.session))
        .header("host", &rig.server)
        .header("authorization", format!("Bearer {}", rig.key))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(http_body_util::Full::new(Bytes::from("email=bench@example.com")).boxed())
        .expect("request");
    let resp = direct.send_request(req).await.expect("create");
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    rig.customer = v["id"].as_str().expect("id").to_string();
    rig
}

type Body = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

impl Rig {
    async fn direct(&self) -> SendRequest<Body> {
        let tcp = TcpStream::connect(&self.server).await.expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        handshake(tcp).await
    }

    /// CONNECT api.stripe.com:443 through the proxy, then TLS with its leaf.
    async fn through_proxy(&self) -> SendRequest<Body> {
        let mut tcp = TcpStream::connect(&self.proxy).await.expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        tcp.write_all(b"CONNECT api.stripe.com:443 HTTP/1.1\r\nHost: api.stripe.com:443\r\n\r\n")
            .await
            .expect("connect line");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            tcp.read_exact(&mut byte).await.expect("connect answer");
            head.push(byte[0]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        let name = rustls::pki_types::ServerName::try_from("api.stripe.com").expect("name");
        let tls = self.tls.connect(name, tcp).await.expect("tls");
        handshake(tls).await
    }

    fn retrieve(&self, via_proxy: bool) -> Request<Body> {
        let (path, host) = if via_proxy {
            (
                format!("/v1/customers/{}", self.customer),
                "api.stripe.com".to_string(),
            )
        } else {
            (
                format!("/m/{}/stripe/v1/customers/{}", self.session, self.customer),
                self.server.clone(),
            )
        };
        Request::get(path)
            .header("host", host)
            .header("authorization", format!("Bearer {}", self.key))
            .body(Empty::new().boxed())
            .expect("request")
    }
}

async fn handshake<S>(io: S) -> SendRequest<Body>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

/// One request on `sender`, read to its end; its latency.
async fn timed(sender: &mut SendRequest<Body>, req: Request<Body>) -> Duration {
    let t = Instant::now();
    sender.ready().await.expect("ready");
    let resp = sender.send_request(req).await.expect("send");
    assert_eq!(resp.status(), 200);
    resp.into_body().collect().await.expect("body");
    t.elapsed()
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

async fn keep_alive(rig: &Rig) {
    let mut direct = rig.direct().await;
    let mut proxied = rig.through_proxy().await;
    // Warm both paths (statement caches, the leaf, the proxy's upstream).
    for _ in 0..200 {
        timed(&mut direct, rig.retrieve(false)).await;
        timed(&mut proxied, rig.retrieve(true)).await;
    }
    let (mut d, mut p) = (Vec::new(), Vec::new());
    for _ in 0..REQUESTS / BLOCK {
        for _ in 0..BLOCK {
            d.push(timed(&mut direct, rig.retrieve(false)).await);
        }
        for _ in 0..BLOCK {
            p.push(timed(&mut proxied, rig.retrieve(true)).await);
        }
    }
    d.sort();
    p.sort();
    for (name, v) in [
        ("direct (HTTP, path-routed)", &d),
        ("through the proxy (HTTPS)", &p),
    ] {
        println!(
            "keep-alive {name:<28} p50 {:7.1} µs  p90 {:7.1} µs  p99 {:7.1} µs",
            pct(v, 0.5),
            pct(v, 0.9),
            pct(v, 0.99)
        );
    }
    println!(
        "keep-alive: the proxy adds {:.1} µs at p50, {:.1} µs at p99",
        pct(&p, 0.5) - pct(&d, 0.5),
        pct(&p, 0.99) - pct(&d, 0.99)
    );
}

async fn handshakes(rig: Arc<Rig>) {
    let secs = 5.0;
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let rig = rig.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                let mut s = rig.through_proxy().await;
                timed(&mut s, rig.retrieve(true)).await;
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("task");
    }
    println!(
        "new connections (CONNECT + TLS handshake + one retrieve), 16 clients: {:.0} per second ({total} in {secs} s)",
        total as f64 / secs
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument picks one part.
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    rt.block_on(async {
        let rig = Arc::new(rig(dir.path()).await);
        if only.as_deref().is_none_or(|o| "keep-alive".contains(o)) {
            keep_alive(&rig).await;
        }
        if only.as_deref().is_none_or(|o| "handshakes".contains(o)) {
            handshakes(rig).await;
        }
    });
}
