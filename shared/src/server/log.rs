//! The one line `mirra serve` logs per request: method, path, status, latency
//! and the session the path or host names (target `mirra::request`, so
//! `RUST_LOG=mirra::request=off` silences it too).

use std::time::Duration;

use axum::http::{Method, StatusCode};
use hyper::Request;

use crate::api::host::request_host;

pub(super) struct RequestLine {
    method: Method,
    path: String,
    session: Option<String>,
}

impl RequestLine {
    /// Taken before routing: the host-routing rewrite and the handlers may
    /// change the URI, the log shows what the client sent (without the query).
    pub(super) fn of<B>(req: &Request<B>, mirrors: &[&'static str]) -> Self {
        let path = req.uri().path().to_string();
        let session = session_of(&path, request_host(req), mirrors);
        RequestLine {
            method: req.method().clone(),
            path,
            session,
        }
    }

    pub(super) fn emit(self, status: StatusCode, latency: Duration) {
        let ms = latency.as_secs_f64() * 1000.0;
        let status = status.as_u16();
        match self.session {
            Some(session) => tracing::info!(
                target: "mirra::request",
                "{} {} {status} {ms:.1} ms session={session}",
                self.method,
                self.path
            ),
            None => tracing::info!(
                target: "mirra::request",
                "{} {} {status} {ms:.1} ms",
                self.method,
                self.path
            ),
        }
    }
}

/// `/m/{session}/…`, `/v1/sessions/{session}…` or a `{mirror}-{suffix}.` host.
fn session_of(path: &str, host: &str, mirrors: &[&'static str]) -> Option<String> {
    let mut segs = path.trim_start_matches('/').split('/');
    let named = match (segs.next(), segs.next(), segs.next()) {
        (Some("m"), Some(s), _) => Some(s),
        (Some("v1"), Some("sessions"), Some(s)) => Some(s),
        _ => None,
    };
    if let Some(s) = named.filter(|s| !s.is_empty()) {
        return Some(s.to_string());
    }
    crate::api::host::parse_host(host, mirrors).map(|(_, suffix)| format!("ses_{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::session_of;

    #[test]
    fn the_session_comes_from_the_path_or_the_host() {
        let m = ["stripe"];
        let of = |p: &str, h: &str| session_of(p, h, &m);
        assert_eq!(
            of("/m/ses_ab12/stripe/v1/customers", "x").as_deref(),
            Some("ses_ab12")
        );
        assert_eq!(
            of("/v1/sessions/ses_ab12/reset", "x").as_deref(),
            Some("ses_ab12")
        );
        assert_eq!(
            of("/v1/customers", "stripe-ab12.localhost:4400").as_deref(),
            Some("ses_ab12")
        );
        assert_eq!(of("/v1/sessions", "127.0.0.1:4400"), None);
        assert_eq!(of("/v1/usage", "127.0.0.1:4400"), None);
    }
}
