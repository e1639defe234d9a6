//! A vendor host's `CONNECT`: the proxy completes the TLS handshake with a
//! certificate from the local CA and sends each request inside the tunnel to
//! the Mirra server as it came, over one kept-alive connection per tunnel.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::Mutex;

use super::{empty_ok, open, origin_form, text, Body, Proxy};

/// Answers the `CONNECT` at once and serves the tunnel once the client has
/// switched to it.
pub(super) fn connect(proxy: Arc<Proxy>, req: Request<Incoming>, host: String) -> Response<Body> {
    tokio::spawn(async move {
        let upgraded = match hyper::upgrade::on(req).await {
            Ok(u) => u,
            Err(e) => return tracing::debug!(%host, error = %e, "proxy: CONNECT not upgraded"),
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(proxy.tls.clone());
        let tls = match acceptor.accept(TokioIo::new(upgraded)).await {
            Ok(s) => s,
            // Typically a client that does not trust the CA: it says so itself.
            Err(e) => return tracing::info!(%host, error = %e, "proxy: TLS handshake failed"),
        };
        let upstream = Arc::new(Mutex::new(None));
        let service = hyper::service::service_fn(move |req| {
            let (proxy, upstream) = (proxy.clone(), upstream.clone());
            async move { Ok::<_, Infallible>(send(&proxy, &upstream, req).await) }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(super::HEADER_TIMEOUT)
            .serve_connection(TokioIo::new(tls), service)
            .await;
    });
    empty_ok()
}

/// Sends one request from inside a tunnel to the server on the tunnel's
/// connection, opening (or reopening) it when there is none that can take it.
async fn send(
    proxy: &Proxy,
    upstream: &Mutex<Option<SendRequest<Incoming>>>,
    req: Request<Incoming>,
) -> Response<Body> {
    let mut held = upstream.lock().await;
    if let Some(sender) = held.as_mut() {
        // The server closed an idle connection, or the last body is unread.
        if sender.ready().await.is_err() {
            *held = None;
        }
    }
    let sender = match held.as_mut() {
        Some(sender) => sender,
        None => match open(&proxy.upstream).await {
            Ok(sender) => held.insert(sender),
            Err(e) => return unreachable_server(proxy, &e),
        },
    };
    match sender.send_request(req).await {
        Ok(resp) => resp.map(|b| b.boxed()),
        Err(e) => {
            *held = None;
            unreachable_server(proxy, &e)
        }
    }
}

/// A plain-HTTP request for a vendor host in absolute form
/// (`GET http://api.stripe.com/…`): to the server on a connection of its own.
pub(super) async fn forward_plain(proxy: &Proxy, req: Request<Incoming>) -> Response<Body> {
    let req = origin_form(req);
    match open(&proxy.upstream).await {
        Ok(mut sender) => match sender.send_request(req).await {
            Ok(resp) => resp.map(|b| b.boxed()),
            Err(e) => unreachable_server(proxy, &e),
        },
        Err(e) => unreachable_server(proxy, &e),
    }
}

fn unreachable_server(proxy: &Proxy, e: &dyn std::fmt::Display) -> Response<Body> {
    tracing::warn!(upstream = %proxy.upstream, error = %e, "proxy: the Mirra server did not answer");
    text(
        StatusCode::BAD_GATEWAY,
        &format!(
            "mirra proxy: the Mirra server at http://{} did not answer ({e}); is `mirra serve` running?\n",
            proxy.upstream
        ),
    )
}
