//! `mirra proxy`: an HTTP proxy on loopback for applications whose SDK clients
//! have no base-URL setting. It answers `CONNECT` for the vendors' API hosts
//! (each [`Vendor::api_hosts`](crate::mirrors::Vendor::api_hosts)), completes
//! the TLS handshake itself with a certificate for that host from the user's
//! [`LocalCa`], and hands each request to the Mirra server unchanged — `Host:
//! api.stripe.com` and the credential included. The server routes it by that
//! host and credential to the credential's session, so one proxy serves every
//! session and every server-side check (keys, 401s, 410s) is the mirror's own.
//!
//! Any other `CONNECT` is tunnelled to its destination untouched (or refused,
//! [`Others::Refuse`]), and a plain-HTTP request in absolute form
//! (`GET http://host/…`) is forwarded likewise, so an application's other
//! traffic keeps working with `HTTPS_PROXY` set.
//!
//! * [`ca`] — the local CA and the leaf certificates it issues.
//! * [`intercept`] — TLS termination and forwarding to the server.
//! * [`tunnel`] — other hosts: byte tunnels and plain-HTTP forwarding.

pub mod ca;
mod intercept;
mod tunnel;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use ca::{CaError, LocalCa};

/// A response body: the server's or a destination's streamed through, or one
/// the proxy wrote itself.
pub(crate) type Body = BoxBody<Bytes, hyper::Error>;

/// What the proxy does with hosts that are not a vendor's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Others {
    /// Tunnel (`CONNECT`) or forward (absolute-form HTTP) them untouched.
    Tunnel,
    /// Answer 403: only the mirrors are reachable through this proxy.
    Refuse,
}

/// How long a destination (the server or another host) has to accept a TCP
/// connection before the client gets a 502.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client has to send a request head, to the proxy or inside a
/// tunnel the proxy answers itself, before its connection is closed.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything a connection needs, shared by all of them.
#[derive(Debug)]
pub struct Proxy {
    /// The Mirra server's `host:port`, over plain HTTP.
    upstream: String,
    ca: Arc<LocalCa>,
    tls: Arc<rustls::ServerConfig>,
    others: Others,
    /// Patterns of the hosts to intercept: exact names, or `*.` + a suffix.
    hosts: Vec<&'static str>,
}

/// Settings that cannot work, said before listening.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("the proxy forwards to a server over plain HTTP (http://host:port), not {0}")]
    Upstream(String),
    #[error(transparent)]
    Ca(#[from] CaError),
}

impl Proxy {
    /// A proxy in front of the server at `api_url` (`http://host:port`), with
    /// certificates from `ca`, intercepting every mirror vendor's API hosts.
    pub fn new(api_url: &str, ca: Arc<LocalCa>, others: Others) -> Result<Self, ProxyError> {
        crate::tls::install_provider();
        let upstream = api_url
            .strip_prefix("http://")
            .map(|rest| rest.trim_end_matches('/'))
            .filter(|a| !a.is_empty() && !a.contains('/'))
            .ok_or_else(|| ProxyError::Upstream(api_url.to_string()))?;
        let upstream = if upstream.contains(':') {
            upstream.to_string()
        } else {
            format!("{upstream}:80")
        };
        let mut tls = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_cert_resolver(ca.clone());
        // HTTP/1.1 only: what the SDKs speak, and one request at a time per
        // connection maps onto one kept-alive connection to the server.
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let hosts = crate::mirrors::all()
            .iter()
            .flat_map(|m| m.vendor.api_hosts().iter().copied())
            .collect();
        Ok(Proxy {
            upstream,
            ca,
            tls: Arc::new(tls),
            others,
            hosts,
        })
    }

    /// The hosts this proxy answers for itself (patterns, `*.` for a suffix).
    pub fn intercepted_hosts(&self) -> &[&'static str] {
        &self.hosts
    }

    /// Whether requests for `host` go to the mirrors.
    pub fn intercepts(&self, host: &str) -> bool {
        crate::mirrors::host_matches(&self.hosts, host)
    }

    /// The CA this proxy issues with.
    pub fn ca(&self) -> &LocalCa {
        &self.ca
    }
}

/// Serves proxy connections from `listener` until `shutdown` completes; then
/// stops accepting and returns (open tunnels end with their clients).
pub async fn serve(
    listener: TcpListener,
    proxy: Arc<Proxy>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                // Out of file descriptors and the like: the next accept may work.
                Err(e) => {
                    tracing::warn!(error = %e, "proxy: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let proxy = proxy.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let proxy = proxy.clone();
                async move { Ok::<_, Infallible>(handle(proxy, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    let _ = stop_tx.send(true);
    Ok(())
}

/// One request to the proxy itself: a `CONNECT`, an absolute-form request to
/// forward, or an origin-form one (`GET /`) asking what this proxy is.
async fn handle(proxy: Arc<Proxy>, req: Request<Incoming>) -> Response<Body> {
    if req.method() == Method::CONNECT {
        let Some(authority) = req.uri().authority().cloned() else {
            return text(StatusCode::BAD_REQUEST, "CONNECT needs host:port\n");
        };
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if proxy.intercepts(host) {
            return intercept::connect(proxy.clone(), req, host.to_string());
        }
        return match proxy.others {
            Others::Tunnel => tunnel::connect(req, authority.as_str()).await,
            Others::Refuse => refused(authority.host()),
        };
    }
    match req.uri().host().map(str::to_string) {
        Some(host) if proxy.intercepts(&host) => intercept::forward_plain(&proxy, req).await,
        Some(host) => match proxy.others {
            Others::Tunnel => tunnel::forward(req).await,
            Others::Refuse => refused(&host),
        },
        None => about(&proxy),
    }
}

/// `GET /` on the proxy: what it is, for `mirra up --proxy` to recognise a
/// running one and for a person checking the port.
fn about(proxy: &Proxy) -> Response<Body> {
    let body = serde_json::json!({
        "object": "mirra_proxy",
        "upstream": format!("http://{}", proxy.upstream),
        "ca": proxy.ca.cert_path(),
        "bundle": proxy.ca.bundle_path(),
        "intercepts": proxy.hosts,
        "others": match proxy.others { Others::Tunnel => "tunnel", Others::Refuse => "refuse" },
    });
    let mut resp = full(StatusCode::OK, body.to_string());
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

fn refused(host: &str) -> Response<Body> {
    text(
        StatusCode::FORBIDDEN,
        &format!("mirra proxy: {host} is not a mirrored API host and other hosts are refused (--refuse-others)\n"),
    )
}

/// A short plain-text answer from the proxy itself.
pub(crate) fn text(status: StatusCode, message: &str) -> Response<Body> {
    let mut resp = full(status, message.to_string());
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

pub(crate) fn full(status: StatusCode, body: String) -> Response<Body> {
    let mut resp = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *resp.status_mut() = status;
    resp
}

/// An empty `200` (the answer to a `CONNECT` that is going ahead).
pub(crate) fn empty_ok() -> Response<Body> {
    full(StatusCode::OK, String::new())
}

/// Why a destination could not take a request.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    #[error("{0}")]
    Connect(#[from] std::io::Error),
    #[error("connecting timed out")]
    Timeout,
    #[error("{0}")]
    Http(#[from] hyper::Error),
}

/// A fresh HTTP/1.1 connection to `authority` (`host:port`), its driver
/// spawned; requests go through the returned sender.
pub(crate) async fn open(
    authority: &str,
) -> Result<hyper::client::conn::http1::SendRequest<Incoming>, OpenError> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(authority))
        .await
        .map_err(|_| OpenError::Timeout)??;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "proxy: connection to a destination ended");
        }
    });
    Ok(sender)
}

/// An absolute-form request (`GET http://host/path`) in the origin form a
/// server expects (`GET /path`, `Host: host`), without the headers meant for
/// the proxy.
pub(crate) fn origin_form(mut req: Request<Incoming>) -> Request<Incoming> {
    let uri = req.uri().clone();
    if let Some(authority) = uri.authority() {
        if !req.headers().contains_key(hyper::header::HOST) {
            if let Ok(v) = hyper::header::HeaderValue::from_str(authority.as_str()) {
                req.headers_mut().insert(hyper::header::HOST, v);
            }
        }
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    if let Ok(origin) = path.parse() {
        *req.uri_mut() = origin;
    }
    for name in ["proxy-connection", "proxy-authorization"] {
        req.headers_mut().remove(name);
    }
    req
}
