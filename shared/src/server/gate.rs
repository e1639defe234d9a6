//! The request body, read before routing: refused at once when its
//! `Content-Length` is over the limit, read in full (within the body timeout)
//! otherwise. A handler that answers early (401, 404) then leaves no unread
//! bytes behind, so the connection stays usable for the client's next request.

use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::{Body as _, Incoming};
use hyper::{Request, Response};

/// The request with its body in memory, or the answer that refuses it. A
/// refusal closes the connection: the rest of the body is never read.
pub(super) async fn read_body(
    req: Request<Incoming>,
    limit: usize,
    timeout: Duration,
) -> Result<Request<Body>, Response<Body>> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let (parts, body) = req.into_parts();
    if body.is_end_stream() {
        return Ok(Request::from_parts(parts, Body::empty()));
    }
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => Ok(Request::from_parts(parts, Body::from(collected.to_bytes()))),
        Ok(Err(e)) if e.is::<LengthLimitError>() => Err(too_large(limit)),
        Ok(Err(e)) => Err(error_response(
            StatusCode::BAD_REQUEST,
            &format!("the request body could not be read: {e}"),
        )),
        Err(_) => Err(error_response(
            StatusCode::REQUEST_TIMEOUT,
            &format!(
                "the request body did not arrive within {} s",
                timeout.as_secs_f64()
            ),
        )),
    }
}

fn too_large(limit: usize) -> Response<Body> {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        &if limit.is_multiple_of(1 << 20) {
            format!("request body is larger than the {} MiB limit", limit >> 20)
        } else {
            format!("request body is larger than the {limit} byte limit")
        },
    )
}

/// The plane's error shape, `{"error":{"type","message"}}`, with
/// `Connection: close` so a client never reuses a connection the server ends.
pub(super) fn error_response(status: StatusCode, message: &str) -> Response<Body> {
    let body = serde_json::json!({"error": {"type": "invalid_request", "message": message}});
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CONNECTION, HeaderValue::from_static("close"));
    resp
}
