//! `mirra proxy` (shared::proxy) between an HTTPS client that knows only the
//! vendors' real hosts and a live router: vendor hosts are answered with
//! certificates from the local CA and reach the session their credential
//! names; other hosts are tunnelled with their own certificates, or refused.

use std::sync::Arc;

use serde_json::{json, Value};
use shared::api::{router, AppState};
use shared::mirrors;
use shared::proxy::{self, CaError, LocalCa, Others, Proxy};
use shared::session::{Clock, CreateSession, Session, Sessions, SystemClock};
use shared::storage::fs::FsObjectStore;
use shared::storage::sqlite::SqliteSessionTable;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const WS: &str = "local";

/// A server and a proxy in front of it, both on loopback ports of their own.
struct Rig {
    _dir: tempfile::TempDir,
    server: String,
    proxy: String,
    ca: Arc<LocalCa>,
    sessions: Arc<Sessions>,
}

async fn start(others: Others) -> Rig {
    shared::tls::install_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let table = SqliteSessionTable::open(&dir.path().join("sessions.db")).expect("table");
    let store = FsObjectStore::open(dir.path().join("objects")).expect("store");
    let all = mirrors::all();
    let sessions = Arc::new(Sessions::new(
        Arc::new(table),
        Arc::new(store),
        Arc::new(SystemClock) as Arc<dyn Clock>,
        all.iter().map(|m| m.def.clone()).collect(),
    ));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = format!("http://{}", listener.local_addr().expect("addr"));
    let state = AppState::new(sessions.clone(), "token", WS, &server, all);
    tokio::spawn(async move { axum::serve(listener, router(state)).await });

    let ca = Arc::new(LocalCa::load_or_create(&dir.path().join("ca")).expect("ca"));
    let p = Proxy::new(&server, ca.clone(), others).expect("proxy");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let proxy = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(proxy::serve(listener, Arc::new(p), std::future::pending()));
    Rig {
        _dir: dir,
        server,
        proxy,
        ca,
        sessions,
    }
}

impl Rig {
    /// A client that sends everything through the proxy and trusts only `roots`.
    fn client(&self, roots: &[rustls::pki_types::CertificateDer<'static>]) -> reqwest::Client {
        let mut b = reqwest::Client::builder()
            .proxy(reqwest::Proxy::all(&self.proxy).expect("proxy url"))
            .tls_built_in_root_certs(false);
        for der in roots {
            b = b.add_root_certificate(reqwest::Certificate::from_der(der).expect("der"));
        }
        b.build().expect("client")
    }

    /// A client that trusts the proxy's CA, as an app told by `mirra env --proxy`.
    fn app(&self) -> reqwest::Client {
        self.client(&[self.ca.cert_der().clone()])
    }

    async fn session(&self) -> Session {
        let create = CreateSession {
            mirrors: Some(vec!["stripe".into(), "resend".into(), "twilio".into()]),
            ..CreateSession::default()
        };
        self.sessions.create(WS, create).await.expect("session")
    }
}

fn cred(s: &Session, mirror: &str, key: &str) -> String {
    s.mirrors[mirror].credentials[key].clone()
}

async fn answer(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Each vendor's SDK default host, with nothing but the session's credential,
/// reaches that session's mirror; what it wrote reads back at the session's
/// own path on the server.
#[tokio::test]
async fn vendor_hosts_reach_the_session_their_credential_names() {
    let rig = start(Others::Tunnel).await;
    let (s, other) = (rig.session().await, rig.session().await);
    let app = rig.app();

    let key = cred(&s, "stripe", "secret_key");
    let (status, customer) = answer(
        app.post("https://api.stripe.com/v1/customers")
            .bearer_auth(&key)
            .form(&[("email", "proxy@example.com")])
            .send()
            .await
            .expect("stripe through the proxy"),
    )
    .await;
    assert_eq!(status, 200, "{customer}");
    let id = customer["id"].as_str().expect("id");
    let direct = reqwest::Client::new()
        .get(format!(
            "{}/m/{}/stripe/v1/customers/{id}",
            rig.server, s.id
        ))
        .bearer_auth(&key)
        .send()
        .await
        .expect("direct");
    let (status, read) = answer(direct).await;
    assert_eq!((status, &read["email"]), (200, &json!("proxy@example.com")));
    // The other session's key sees none of it.
    let (status, _) = answer(
        app.get(format!("https://api.stripe.com/v1/customers/{id}"))
            .bearer_auth(cred(&other, "stripe", "secret_key"))
            .send()
            .await
            .expect("other session"),
    )
    .await;
    assert_eq!(status, 404);

    let (status, email) = answer(
        app.post("https://api.resend.com/emails")
            .bearer_auth(cred(&s, "resend", "api_key"))
            .json(
                &json!({"from": "App <app@example.com>", "to": "delivered@resend.dev",
                           "subject": "hi", "text": "hello"}),
            )
            .send()
            .await
            .expect("resend through the proxy"),
    )
    .await;
    assert_eq!(status, 200, "{email}");
    assert!(email["id"].is_string(), "{email}");

    let (sid, token) = (
        cred(&s, "twilio", "account_sid"),
        cred(&s, "twilio", "auth_token"),
    );
    let (status, msg) = answer(
        app.post(format!(
            "https://api.twilio.com/2010-04-01/Accounts/{sid}/Messages.json"
        ))
        .basic_auth(&sid, Some(&token))
        .form(&[
            ("To", "+15005550010"),
            ("From", "+15005550006"),
            ("Body", "hi"),
        ])
        .send()
        .await
        .expect("twilio through the proxy"),
    )
    .await;
    assert_eq!(status, 201, "{msg}");
    assert_eq!(msg["account_sid"], json!(sid));
    // Verify lives on a host of its own.
    let (status, service) = answer(
        app.post("https://verify.twilio.com/v2/Services")
            .basic_auth(&sid, Some(&token))
            .form(&[("FriendlyName", "Proxy")])
            .send()
            .await
            .expect("verify through the proxy"),
    )
    .await;
    assert_eq!(status, 201, "{service}");
    assert!(service["sid"].as_str().is_some_and(|v| v.starts_with("VA")));

    // A vendor host over plain HTTP (absolute form, no CONNECT) reaches the
    // session too.
    let (status, list) = answer(
        app.get("http://api.stripe.com/v1/customers")
            .bearer_auth(&key)
            .send()
            .await
            .expect("plain HTTP through the proxy"),
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"][0]["id"], json!(id));
}

/// A key that names no session, or none at all, gets the vendor's own 401 —
/// the request never leaves for the real vendor.
#[tokio::test]
async fn an_unknown_or_missing_credential_gets_the_vendors_401() {
    let rig = start(Others::Tunnel).await;
    let app = rig.app();
    let stripe = |key: Option<&'static str>| {
        let req = app.get("https://api.stripe.com/v1/customers");
        match key {
            Some(k) => req.bearer_auth(k),
            None => req,
        }
    };
    for key in [Some("sk_test_nosuchsession"), Some("pk_test_nope"), None] {
        let (status, body) = answer(stripe(key).send().await.expect("send")).await;
        assert_eq!(status, 401, "{key:?}: {body}");
        assert_eq!(
            body["error"]["type"],
            json!("invalid_request_error"),
            "{body}"
        );
    }
    let (status, body) = answer(
        app.get("https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json")
            .basic_auth("AC00000000000000000000000000000000", Some("x"))
            .send()
            .await
            .expect("twilio"),
    )
    .await;
    assert_eq!((status, &body["code"]), (401, &json!(20003)), "{body}");
    let (status, body) = answer(
        app.get("https://api.resend.com/emails")
            .bearer_auth("re_nosuchsession")
            .send()
            .await
            .expect("resend"),
    )
    .await;
    assert!((400..500).contains(&status), "{status} {body}");
    assert!(
        body["name"].is_string() && body["statusCode"].is_number(),
        "{body}"
    );
}

/// A one-connection-at-a-time HTTPS server for `localhost` with a certificate
/// of its own; answers every request with `hello from the destination`.
async fn destination() -> (u16, rustls::pki_types::CertificateDer<'static>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let der = cert.cert.der().clone();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![der.clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into()),
        )
        .expect("config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                continue;
            };
            let mut buf = vec![0u8; 4096];
            let _ = tls.read(&mut buf).await;
            let body = "hello from the destination";
            let _ = tls
                .write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                )
                .await;
            let _ = tls.shutdown().await;
        }
    });
    (port, der)
}

/// Another host's `CONNECT` is a byte tunnel: the client completes TLS with
/// the destination's own certificate (it trusts that one only, not the CA).
/// With `--refuse-others` the proxy answers 403 instead.
#[tokio::test]
async fn other_hosts_are_tunnelled_untouched_or_refused() {
    let rig = start(Others::Tunnel).await;
    let (port, der) = destination().await;
    let url = format!("https://localhost:{port}/");
    let resp = rig
        .client(std::slice::from_ref(&der))
        .get(&url)
        .send()
        .await
        .expect("tunnelled");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.text().await.expect("body"),
        "hello from the destination"
    );
    // Trusting only the CA fails: the proxy did not put itself in between.
    assert!(rig.app().get(&url).send().await.is_err());
    // Plain HTTP in absolute form is forwarded too (here to the server's root).
    let resp = rig
        .app()
        .get(format!("{}/v1/health", rig.server))
        .send()
        .await
        .expect("forwarded");
    assert_ne!(resp.status(), 502);

    let strict = start(Others::Refuse).await;
    let refused = strict.client(&[der]).get(&url).send().await;
    assert!(refused.is_err(), "CONNECT to another host is refused");
    let resp = strict
        .app()
        .get(format!("{}/v1/health", strict.server))
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 403);
    // The vendors still get through.
    let (status, _) = answer(
        strict
            .app()
            .get("https://api.stripe.com/v1/customers")
            .send()
            .await
            .expect("vendor"),
    )
    .await;
    assert_eq!(status, 401);
}

/// The CA is created once, kept (the same certificate on the next start),
/// its key readable by its owner only — and a key others can read is refused.
#[test]
fn the_ca_key_is_private_and_a_readable_one_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ca");
    let first = LocalCa::load_or_create(&path).expect("created");
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&path.join(proxy::ca::KEY_FILE)), 0o600);
    assert_eq!(mode(&path), 0o700);
    let again = LocalCa::load_or_create(&path).expect("loaded");
    assert_eq!(
        first.cert_der(),
        again.cert_der(),
        "the same CA after a restart"
    );
    let bundle = std::fs::read_to_string(again.bundle_path()).expect("bundle");
    let ca_pem = std::fs::read_to_string(again.cert_path()).expect("ca");
    assert!(bundle.starts_with(&ca_pem), "the bundle begins with the CA");

    std::fs::set_permissions(
        path.join(proxy::ca::KEY_FILE),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    match LocalCa::load_or_create(&path) {
        Err(CaError::Exposed { mode, .. }) => assert_eq!(mode, 0o644),
        other => panic!("expected Exposed, got {other:?}"),
    }
}

/// A host's certificate is issued once and then served from the cache, and
/// its chain ends at the CA.
#[test]
fn leaf_certificates_are_issued_once_per_host_and_chain_to_the_ca() {
    shared::tls::install_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = LocalCa::load_or_create(dir.path()).expect("ca");
    let a = ca.leaf("api.stripe.com").expect("leaf");
    let b = ca.leaf("API.stripe.com").expect("leaf");
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(a.cert.len(), 2);
    assert_eq!(&a.cert[1], ca.cert_der());
    let c = ca.leaf("api.resend.com").expect("leaf");
    assert_ne!(a.cert[0], c.cert[0]);
}
