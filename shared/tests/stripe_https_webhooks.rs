//! Webhook deliveries to `https://` endpoints (a staging app behind TLS): sent
//! over TLS to a receiver whose certificate the dispatcher trusts, signed as
//! over HTTP; refused, and recorded as a failed attempt, when it does not.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use shared::dispatch::{self, Dispatcher};
use shared::mirrors::toolkit::signing;
use support::stripe::{Mirror, Ses};

/// One request a TLS receiver got: its headers (lower-case) and body.
type Got = Arc<Mutex<Vec<(Vec<(String, String)>, String)>>>;

/// A one-thread HTTPS receiver on loopback with a fresh self-signed
/// certificate for `localhost`; answers 200 to everything. Returns its URL,
/// the certificate (PEM) and what it received.
fn tls_receiver() -> (String, String, Got) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let pem = cert.cert.pem();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into()),
        )
        .expect("server config");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "https://localhost:{}/hook",
        listener.local_addr().expect("addr").port()
    );
    let got: Got = Arc::default();
    let record = got.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming().map_while(Result::ok) {
            let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                continue;
            };
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut reader = BufReader::new(&mut tls);
            let mut headers = Vec::new();
            let mut line = String::new();
            // A client that refuses the certificate ends here.
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.trim_end().split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
            }
            let len = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            record
                .lock()
                .expect("lock")
                .push((headers, String::from_utf8_lossy(&body).into_owned()));
            let _ = tls
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
            let _ = tls.flush();
        }
    });
    (url, pem, got)
}

/// A session with a webhook endpoint at `url` for every event; returns its
/// signing secret. Then a customer is created (`customer.created`).
async fn endpoint_then_customer(m: &Mirror, s: &Ses, url: &str) -> String {
    let ep = m
        .post(
            s,
            "/v1/webhook_endpoints",
            &format!("url={url}&enabled_events[]=*"),
        )
        .await;
    assert_eq!(ep.status.as_u16(), 200, "{}", ep.json);
    let created = m.post(s, "/v1/customers", "email=tls@example.com").await;
    assert_eq!(created.status.as_u16(), 200, "{}", created.json);
    ep.json["secret"].as_str().expect("secret").to_string()
}

#[tokio::test]
async fn an_https_endpoint_receives_signed_events_over_tls() {
    let (url, pem, got) = tls_receiver();
    let m = Mirror::new();
    let s = m.session().await;
    let secret = endpoint_then_customer(&m, &s, &url).await;
    let trusted = Dispatcher::client_builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).expect("pem"));
    let dispatcher = Arc::new(Dispatcher::with_client(m.sessions.clone(), trusted));
    let attempted = dispatcher.sweep().await.expect("sweep");
    assert_eq!(attempted, 1, "one event, one endpoint");
    let got = got.lock().expect("lock").clone();
    assert_eq!(got.len(), 1, "the receiver got the event over TLS");
    let (headers, body) = &got[0];
    let event: serde_json::Value = serde_json::from_str(body).expect("event JSON");
    assert_eq!(event["type"], "customer.created");
    let sig = headers
        .iter()
        .find(|(k, _)| k == "stripe-signature")
        .map(|(_, v)| v.clone())
        .expect("stripe-signature");
    let t: i64 = sig
        .split(',')
        .find_map(|p| p.strip_prefix("t="))
        .and_then(|t| t.parse().ok())
        .expect("t=");
    assert_eq!(
        sig,
        signing::stripe(&secret, t, body),
        "signed as over HTTP"
    );
}

#[tokio::test]
async fn an_https_endpoint_with_an_untrusted_certificate_gets_a_recorded_failed_attempt() {
    let (url, _pem, got) = tls_receiver();
    let m = Mirror::new();
    let s = m.session().await;
    endpoint_then_customer(&m, &s, &url).await;
    let dispatcher = Arc::new(Dispatcher::new(m.sessions.clone()));
    assert_eq!(dispatcher.sweep().await.expect("sweep"), 1);
    assert!(
        got.lock().expect("lock").is_empty(),
        "nothing was delivered"
    );
    let ctx = m.sessions.context(&s.id, "stripe").await.expect("context");
    let deliveries = dispatch::deliveries(&ctx, 10).await.expect("deliveries");
    let attempt = &deliveries[0]["attempts"][0];
    assert!(attempt["http_status"].is_null(), "{attempt}");
    let why = attempt["response"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(why.contains("certificate"), "the attempt says why: {why}");
}
