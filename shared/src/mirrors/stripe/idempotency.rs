//! Stripe idempotency keys. A POST with `Idempotency-Key` saves (endpoint,
//! request fingerprint, status, body) in the mirror's own table inside the same
//! write transaction as its effect, so a replay — on any instance, after any
//! crash — returns exactly the first response, marked `Idempotent-Replayed: true`.
//! Reusing a key for other parameters or another endpoint is Stripe's 400
//! `idempotency_error`. Keys expire after 24 hours, as on Stripe.

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use super::auth::StripeCtx;
use super::error::{json_response, StripeError};

/// How long a key is remembered.
const KEY_TTL_SECS: i64 = 24 * 3600;
/// Longest key Stripe accepts.
pub const MAX_KEY_LEN: usize = 255;

enum Outcome {
    Fresh {
        status: u16,
        body: String,
    },
    Replay {
        status: u16,
        body: String,
        original_request: String,
    },
}

struct Stored {
    endpoint: String,
    fingerprint: String,
    created: i64,
    request_id: String,
    status: u16,
    body: String,
}

/// Runs `op` (which returns the response body) in one write transaction, honouring
/// the request's idempotency key if it has one. `op` may run more than once and
/// must fail, if it fails, before changing anything: a failure that Stripe would
/// save (a `StripeError::is_final` one) is committed along with the key.
pub async fn write(
    sc: &StripeCtx,
    endpoint: &str,
    raw_params: &[u8],
    mut op: impl FnMut(&Connection) -> Result<String, StripeError>,
) -> Result<Response, StripeError> {
    let Some(key) = sc.idempotency_key.as_deref() else {
        let body = sc.ctx.write(op).await?;
        return Ok(json_response(StatusCode::OK, body));
    };
    let fingerprint = fingerprint(raw_params);
    let now = sc.ctx.now();
    let request_id = sc.request_id.as_str();
    let outcome = sc
        .ctx
        .write(|conn| {
            if let Some(stored) = lookup(conn, key)?.filter(|s| s.created > now - KEY_TTL_SECS) {
                if stored.endpoint != endpoint {
                    return Err(StripeError::Idempotency {
                        message: format!(
                            "Keys for idempotent requests can only be used for the same endpoint they were first \
                             used for ('{}' vs '{endpoint}'). Try using a key other than '{key}' if you meant to \
                             execute a different request.",
                            stored.endpoint
                        ),
                    });
                }
                if stored.fingerprint != fingerprint {
                    return Err(StripeError::Idempotency {
                        message: format!(
                            "Keys for idempotent requests can only be used with the same parameters they were \
                             first used with. Try using a key other than '{key}' if you meant to execute a \
                             different request."
                        ),
                    });
                }
                return Ok(Outcome::Replay {
                    status: stored.status,
                    body: stored.body,
                    original_request: stored.request_id,
                });
            }
            let (status, body) = match op(conn) {
                Ok(body) => (200, body),
                Err(e) if e.is_final() => (e.status().as_u16(), e.body().to_string()),
                Err(e) => return Err(e),
            };
            conn.prepare_cached(
                "INSERT OR REPLACE INTO idempotency_keys (key, endpoint, fingerprint, created, request_id, status, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![key, endpoint, fingerprint, now, request_id, status, body])?;
            Ok(Outcome::Fresh { status, body })
        })
        .await?;
    let key_header = HeaderValue::from_str(key).ok();
    let mut res = match outcome {
        Outcome::Fresh { status, body } => json_response(status_of(status), body),
        Outcome::Replay {
            status,
            body,
            original_request,
        } => {
            let mut res = json_response(status_of(status), body);
            let h = res.headers_mut();
            h.insert("idempotent-replayed", HeaderValue::from_static("true"));
            if let Ok(v) = HeaderValue::from_str(&original_request) {
                h.insert("original-request", v);
            }
            res
        }
    };
    if let Some(v) = key_header {
        res.headers_mut().insert("idempotency-key", v);
    }
    Ok(res)
}

/// Validates an `Idempotency-Key` header value.
pub fn check_key(raw: &[u8]) -> Result<Option<String>, StripeError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let key = std::str::from_utf8(raw).map_err(|_| {
        StripeError::bad_request(
            StatusCode::BAD_REQUEST,
            "Invalid Idempotency-Key header: not UTF-8.",
        )
    })?;
    if key.len() > MAX_KEY_LEN {
        return Err(StripeError::bad_request(
            StatusCode::BAD_REQUEST,
            format!("Invalid Idempotency-Key: keys must be at most {MAX_KEY_LEN} characters long."),
        ));
    }
    Ok(Some(key.to_string()))
}

fn fingerprint(raw: &[u8]) -> String {
    hex::encode(&Sha256::digest(raw)[..16])
}

fn status_of(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::OK)
}

fn lookup(conn: &Connection, key: &str) -> Result<Option<Stored>, StripeError> {
    Ok(conn
        .prepare_cached(
            "SELECT endpoint, fingerprint, created, request_id, status, body FROM idempotency_keys WHERE key = ?1",
        )?
        .query_row([key], |r| {
            Ok(Stored {
                endpoint: r.get(0)?,
                fingerprint: r.get(1)?,
                created: r.get(2)?,
                request_id: r.get(3)?,
                status: r.get(4)?,
                body: r.get(5)?,
            })
        })
        .optional()?)
}
