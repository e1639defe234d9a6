//! Hosts that are not a vendor's: a `CONNECT` becomes a byte tunnel to the
//! destination (TLS and all, untouched), and an absolute-form plain-HTTP
//! request is forwarded to it.

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{empty_ok, open, origin_form, text, Body, CONNECT_TIMEOUT};

/// Connects to `authority` first, so a destination that cannot be reached
/// is a 502 the client sees, then splices the two connections together.
pub(super) async fn connect(req: Request<Incoming>, authority: &str) -> Response<Body> {
    let server = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(authority)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return bad_gateway(authority, &e),
        Err(_) => return bad_gateway(authority, &"timed out"),
    };
    let _ = server.set_nodelay(true);
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(req).await else {
            return;
        };
        let (mut client, mut server) = (TokioIo::new(upgraded), server);
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    });
    empty_ok()
}

/// `GET http://example.com/x` → `GET /x` to `example.com:80`.
pub(super) async fn forward(req: Request<Incoming>) -> Response<Body> {
    let authority = match req.uri().authority() {
        Some(a) if a.port().is_some() => a.to_string(),
        Some(a) => format!("{}:80", a.host()),
        None => return text(StatusCode::BAD_REQUEST, "no host to forward to\n"),
    };
    let req = origin_form(req);
    match open(&authority).await {
        Ok(mut sender) => match sender.send_request(req).await {
            Ok(resp) => resp.map(|b| b.boxed()),
            Err(e) => bad_gateway(&authority, &e),
        },
        Err(e) => bad_gateway(&authority, &e),
    }
}

fn bad_gateway(authority: &str, e: &dyn std::fmt::Display) -> Response<Body> {
    text(
        StatusCode::BAD_GATEWAY,
        &format!("mirra proxy: cannot reach {authority}: {e}\n"),
    )
}
