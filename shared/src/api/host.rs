//! Host routing: `stripe-ab12.localhost:4400/v1/customers` is rewritten to
//! `/m/ses_ab12/stripe/v1/customers` before routing, so both forms reach the
//! same mirror through the same code.

use axum::extract::Request;
use axum::http::header::HOST;
use axum::http::{HeaderMap, Uri};

use super::target::{target, Via};
use crate::mirrors::Mirror;

/// Rewrites a host-routed request's URI to its path-routed form; leaves every
/// other request alone. `mirrors` are the mirrors this server serves.
pub fn rewrite(mut req: Request, mirrors: &[Mirror]) -> Request {
    let rewritten = match target(req.uri(), req.headers(), mirrors) {
        Some((mirror, Via::Host { suffix })) => {
            let path_and_query = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            format!("/m/ses_{suffix}/{}{path_and_query}", mirror.def.name())
        }
        _ => return req,
    };
    if let Ok(uri) = rewritten.parse::<Uri>() {
        *req.uri_mut() = uri;
    }
    req
}

/// The host a request names: its `Host` header, else the URI's authority
/// (HTTP/2, absolute-form), else empty.
pub(crate) fn request_host<B>(req: &axum::http::Request<B>) -> &str {
    host_of(req.headers(), req.uri())
}

/// [`request_host`] from a request's parts.
pub(crate) fn host_of<'r>(headers: &'r HeaderMap, uri: &'r Uri) -> &'r str {
    headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.host())
        .unwrap_or("")
}

/// `stripe-ab12.localhost:4400` → `("stripe", "ab12")` when `stripe` is one of
/// `mirrors`.
pub(crate) fn parse_host<'a>(
    host: &'a str,
    mirrors: &[&'static str],
) -> Option<(&'static str, &'a str)> {
    let (mirror, suffix) = split_host(host)?;
    let mirror = mirrors.iter().find(|m| **m == mirror)?;
    Some((mirror, suffix))
}

/// `stripe-ab12.anything` → `("stripe", "ab12")`, whatever the mirror, when the
/// suffix has the shape of a session id's.
pub(crate) fn split_host(host: &str) -> Option<(&str, &str)> {
    let label = host.split('.').next()?;
    if label.len() == host.len() {
        return None; // a bare host (no subdomain) is never host-routed
    }
    let (mirror, suffix) = label.rsplit_once('-')?;
    let ok = suffix.len() == 4
        && suffix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    ok.then_some((mirror, suffix))
}

#[cfg(test)]
mod tests {
    use super::parse_host;

    #[test]
    fn mirror_subdomains_parse_and_others_do_not() {
        let m = ["stripe"];
        assert_eq!(
            parse_host("stripe-ab12.localhost:4400", &m),
            Some(("stripe", "ab12"))
        );
        assert_eq!(
            parse_host("stripe-ab12.mirra.example.com", &m),
            Some(("stripe", "ab12"))
        );
        assert_eq!(parse_host("127.0.0.1:4400", &m), None);
        assert_eq!(parse_host("localhost:4400", &m), None);
        assert_eq!(parse_host("twilio-ab12.localhost", &m), None);
        assert_eq!(parse_host("stripe-AB12.localhost", &m), None);
        assert_eq!(parse_host("stripe-ab123.localhost", &m), None);
        assert_eq!(parse_host("stripe-ab12", &m), None);
    }
}
