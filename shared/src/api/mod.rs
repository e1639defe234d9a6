//! HTTP routers. [`router`] serves the control plane (`/v1/…`, JSON, workspace
//! token) and every mirror's data plane (`/m/{session}/{mirror}/…`, host
//! routing `{mirror}-{suffix}.{domain}`, or routing by the credential a request
//! carries), each with its own error format.

mod control;
mod credential;
mod error;
mod extract;
pub(crate) mod host;
mod state;
pub(crate) mod target;
mod traces;
mod view;
mod workspaces;

use axum::extract::{DefaultBodyLimit, OriginalUri};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceBuilder;

use crate::mirrors::{Mirror, VendorError};
use crate::session::Door;
use target::target;

pub use error::ApiError;
pub use state::AppState;
pub use view::session_json;

/// Largest request body either plane accepts.
pub const BODY_LIMIT: usize = 1 << 20;

/// The whole HTTP surface of one Mirra server.
pub fn router(state: AppState) -> Router {
    let mut mirror_plane: Router<Door> = Router::new();
    for m in &state.mirrors {
        mirror_plane = mirror_plane.nest(&format!("/m/{{session}}/{}", m.def.name()), m.routes());
    }
    if let Some(traces) = state.traces.clone() {
        mirror_plane = mirror_plane.layer(axum::middleware::from_fn_with_state(
            traces,
            crate::traces::layer::trace,
        ));
    }
    let (mirrors, plane) = (state.mirrors.clone(), state.mirrors.clone());
    let app = control::router()
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone())
        .merge(mirror_plane.with_state(Door::new(state.sessions.clone())))
        .fallback(move |method, original, uri, headers| {
            let plane = plane.clone();
            async move { not_found(&plane, method, original, uri, headers) }
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    let routing = credential::Routing {
        sessions: state.sessions.clone(),
        mirrors: state.mirrors.clone(),
    };
    // Host routing first: a request it rewrites names its session in the path.
    let host_routed = ServiceBuilder::new()
        .map_request(move |req| host::rewrite(req, &mirrors))
        .layer(axum::middleware::from_fn_with_state(
            routing,
            credential::route,
        ))
        .service(app);
    let outer = Router::new().fallback_service(host_routed);
    match state.traces.filter(|t| t.flushes_each_request()) {
        // Where nothing runs after a response returns (AWS Lambda), each
        // request writes what it recorded before it answers.
        Some(traces) => outer.layer(axum::middleware::from_fn_with_state(
            traces,
            crate::traces::layer::flush_before_answering,
        )),
        None => outer,
    }
}

/// No route: a request for a mirror (a path below its base that its router
/// leaves out, such as its base with a trailing slash) gets its vendor's 404,
/// any other the control plane's.
fn not_found(
    mirrors: &[Mirror],
    method: Method,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    match target(&uri, &headers, mirrors) {
        Some((mirror, _)) => mirror
            .vendor
            .error_response(VendorError::no_route(&method, original.path())),
        None => ApiError::NotFound(format!("no route for {}", uri.path())).into_response(),
    }
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> impl IntoResponse {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}
