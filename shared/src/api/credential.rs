//! Credential routing: a request whose path and host name no session is routed
//! by the credential it carries (a Stripe `sk_test_…` key, later a Resend or
//! Twilio one), because SDKs such as stripe-node can change only host, port
//! and protocol. It runs after host routing and rewrites the URI to the
//! path-routed form `/m/{session}/{mirror}/…`, so all three forms reach the
//! same mirror through the same code, which still checks the key itself.
//!
//! * The control plane (`/v1/sessions…`, `/v1/snapshots…`, `/v1/usage`) keeps
//!   its paths whatever credential a request carries.
//! * A credential of an ended or expired session is routed to that session's
//!   id, where path routing answers the vendor's 410.
//! * A credential in a vendor's shape that names no session is routed to its
//!   mirror marked [`UnknownCredential`], which answers the vendor's 401.
//! * A request to one of a vendor's own hosts (`api.stripe.com`, as `mirra
//!   proxy` forwards it) is that vendor's whatever its path; without a
//!   credential in the vendor's shape it is marked [`UnknownCredential`] too.
//! * Any other request with no such credential is left alone: without a route it gets
//!   the control plane's JSON 404.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::Response;

use super::target::{target, Via};
use crate::mirrors::{Mirror, VendorError};
use crate::session::{SessionError, Sessions, UnknownCredential};

/// What the layer needs: the sessions and every mirror.
#[derive(Clone)]
pub struct Routing {
    pub sessions: Arc<Sessions>,
    pub mirrors: Vec<Mirror>,
}

/// Stands for the session in the URI of a request whose credential names none.
const NO_SESSION: &str = "-";

/// The middleware (`axum::middleware::from_fn_with_state`).
pub async fn route(State(routing): State<Routing>, req: Request, next: Next) -> Response {
    let found = match target(req.uri(), req.headers(), &routing.mirrors) {
        Some((m, Via::Credential(credential))) => Some((m.clone(), Some(credential))),
        Some((m, Via::VendorHost(credential))) => Some((m.clone(), credential)),
        _ => None,
    };
    let (mut parts, body) = req.into_parts();
    if let Some((mirror, credential)) = found {
        let name = mirror.def.name();
        let session = match credential {
            // At a vendor's host without its credential: the vendor's 401.
            None => {
                parts.extensions.insert(UnknownCredential);
                NO_SESSION.to_string()
            }
            Some(credential) => match routing
                .sessions
                .context_by_credential(name, &credential)
                .await
            {
                Ok(ctx) => ctx.session_id().to_string(),
                Err(SessionError::Gone { id, .. }) => id,
                Err(SessionError::NotFound(_)) => {
                    parts.extensions.insert(UnknownCredential);
                    NO_SESSION.to_string()
                }
                // The session table failed: the client still gets its vendor's 5xx.
                Err(e) => return mirror.vendor.error_response(VendorError::from(e)),
            },
        };
        parts.uri = rewrite(&parts.uri, &session, name);
    }
    next.run(Request::from_parts(parts, body)).await
}

/// `/v1/customers?limit=3` → `/m/{session}/{mirror}/v1/customers?limit=3`;
/// an absolute-form URI keeps its scheme and authority.
fn rewrite(uri: &Uri, session: &str, mirror: &str) -> Uri {
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut parts = uri.clone().into_parts();
    match format!("/m/{session}/{mirror}{path_and_query}").parse() {
        Ok(pq) => parts.path_and_query = Some(pq),
        Err(_) => return uri.clone(),
    }
    Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
}

#[cfg(test)]
mod tests {
    use super::rewrite;
    use axum::http::Uri;

    #[test]
    fn rewrite_prefixes_the_session_and_mirror_and_keeps_the_query() {
        let uri: Uri = "/v1/customers?limit=3&email=a%40b.c".parse().expect("uri");
        assert_eq!(
            rewrite(&uri, "ses_ab12", "stripe"),
            "/m/ses_ab12/stripe/v1/customers?limit=3&email=a%40b.c"
        );
        let absolute: Uri = "http://127.0.0.1:4400/v1/customers".parse().expect("uri");
        assert_eq!(
            rewrite(&absolute, "ses_ab12", "stripe"),
            "http://127.0.0.1:4400/m/ses_ab12/stripe/v1/customers"
        );
    }
}
