//! The request body, read before routing: refused at once when its
//! `Content-Length` is over the limit, read in full (within the body timeout)
//! otherwise. A handler that answers early (401, 404) then leaves no unread
//! bytes behind, so the connection stays usable for the client's next request.
//!
//! A refusal is answered in the shape its client expects: a request for a
//! mirror (by path, host or credential, decided as the routing layers decide
//! it) in its vendor's error shape, any other in the control plane's.

use std::sync::LazyLock;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Uri};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::{Body as _, Incoming};
use hyper::{Request, Response};

use crate::api::target::target;
use crate::mirrors::{Mirror, VendorError};

/// This build's mirrors; a server serves those its `mirror_names` list.
static MIRRORS: LazyLock<Vec<Mirror>> = LazyLock::new(crate::mirrors::all);

/// The request with its body in memory, or the answer that refuses it. A
/// refusal closes the connection: the rest of the body is never read.
/// `mirror_names` are the mirrors the app serves.
pub(super) async fn read_body(
    req: Request<Incoming>,
    limit: usize,
    timeout: Duration,
    mirror_names: &[&'static str],
) -> Result<Request<Body>, Response<Body>> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        let error = VendorError::TooLarge { limit };
        return Err(refusal(req.uri(), req.headers(), error, mirror_names));
    }
    let (parts, body) = req.into_parts();
    if body.is_end_stream() {
        return Ok(Request::from_parts(parts, Body::empty()));
    }
    let error = match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => {
            return Ok(Request::from_parts(parts, Body::from(collected.to_bytes())))
        }
        Ok(Err(e)) if e.is::<LengthLimitError>() => VendorError::TooLarge { limit },
        Ok(Err(e)) => VendorError::bad_request(format!("the request body could not be read: {e}")),
        Err(_) => VendorError::Timeout { after: timeout },
    };
    Err(refusal(&parts.uri, &parts.headers, error, mirror_names))
}

/// `error` in the shape of the request's mirror's vendor, else the control
/// plane's, with `Connection: close` so a client never reuses a connection
/// the server ends.
fn refusal(
    uri: &Uri,
    headers: &HeaderMap,
    error: VendorError,
    mirror_names: &[&'static str],
) -> Response<Body> {
    let served: Vec<Mirror> = MIRRORS
        .iter()
        .filter(|m| mirror_names.contains(&m.def.name()))
        .cloned()
        .collect();
    let mut resp = match target(uri, headers, &served) {
        Some((mirror, _)) => mirror.vendor.error_response(error),
        None => control_plane_error(&error),
    };
    resp.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// The control plane's error shape, `{"error":{"type","message"}}`.
fn control_plane_error(error: &VendorError) -> Response<Body> {
    let body =
        serde_json::json!({"error": {"type": "invalid_request", "message": error.to_string()}});
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = error.status();
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}
