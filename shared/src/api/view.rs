//! Session JSON as clients see it: the stored record plus where each mirror is
//! reached (path URL, host URL) and the environment that points an app at it.

use serde_json::{json, Map, Value};

use super::AppState;
use crate::session::Session;

/// `now_ms`: Unix milliseconds, for `status`.
pub fn session_json(state: &AppState, session: &Session, now_ms: i64) -> Value {
    let suffix = session.id.strip_prefix("ses_").unwrap_or(&session.id);
    let mut mirrors = Map::new();
    for (name, m) in &session.mirrors {
        let url = format!("{}/m/{}/{name}", state.public_url, session.id);
        let env: Map<String, Value> = state
            .sessions
            .mirror_def(name)
            .map(|def| def.env(&url, &m.credentials))
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        mirrors.insert(
            name.clone(),
            json!({
                "url": url,
                "host_url": host_url(&state.public_url, name, suffix),
                "seed": m.seed,
                "config_hash": m.image,
                "credentials": m.credentials,
                "env": env,
            }),
        );
    }
    json!({
        "id": session.id,
        "object": "session",
        "name": session.name,
        "workspace": session.workspace,
        "mode": session.mode,
        "status": if session.is_expired(now_ms) { "expired" } else { "active" },
        "config_hash": session.config_hash,
        "cached": session.cached,
        "created_at": session.created_at,
        "expires_at": session.expires_at,
        "created_at_ms": if session.created_at_ms > 0 { session.created_at_ms } else { session.created_at * 1000 },
        "expires_at_ms": session.expiry_ms(),
        "rate_limit": session.rate_limit.unwrap_or(crate::session::DEFAULT_RATE_LIMIT),
        "mirrors": mirrors,
    })
}

/// `http://127.0.0.1:4400` → `http://stripe-ab12.localhost:4400`: loopback
/// addresses become `localhost`, whose subdomains resolve to loopback.
fn host_url(public_url: &str, mirror: &str, suffix: &str) -> String {
    let (scheme, rest) = public_url.split_once("://").unwrap_or(("http", public_url));
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(p)),
        _ => (rest, None),
    };
    let host = match host {
        "127.0.0.1" | "0.0.0.0" | "[::1]" | "[::]" => "localhost",
        other => other,
    };
    match port {
        Some(p) => format!("{scheme}://{mirror}-{suffix}.{host}:{p}"),
        None => format!("{scheme}://{mirror}-{suffix}.{host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::host_url;

    #[test]
    fn host_url_turns_loopback_into_localhost_subdomain() {
        assert_eq!(
            host_url("http://127.0.0.1:4400", "stripe", "ab12"),
            "http://stripe-ab12.localhost:4400"
        );
        assert_eq!(
            host_url("https://mirra.dev", "stripe", "ab12"),
            "https://stripe-ab12.mirra.dev"
        );
    }
}
