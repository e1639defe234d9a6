//! The emulated APIs, one folder each. A mirror is a [`MirrorDef`] (schema,
//! seeds, credentials), a [`Vendor`] (auth scheme, error shape, id format) and
//! a router of its resources; adding a mirror means a new folder here, its
//! seeds, and one line in [`all`].

use std::any::Any;
use std::sync::Arc;

use axum::extract::OriginalUri;
use axum::http::Method;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use crate::session::{Door, MirrorDef};

pub mod resend;
pub mod stripe;
pub mod toolkit;
pub mod twilio;
pub mod vendor;

pub use vendor::{host_matches, Vendor, VendorError};

/// One mirror: what the session layer needs, how its vendor speaks, and the
/// routes it serves.
#[derive(Clone)]
pub struct Mirror {
    pub def: Arc<dyn MirrorDef>,
    pub vendor: Arc<dyn Vendor>,
    /// Routes relative to the mirror's base URL (`/v1/customers` …).
    pub router: fn() -> Router<Door>,
}

impl Mirror {
    /// The mirror's routes as the API serves them: a method its route does not
    /// take, and a handler that panics, still answer in the vendor's shape (a
    /// 404 as Stripe answers a wrong method, a 500), so an SDK raises its own
    /// error rather than failing to parse ours or seeing the connection drop.
    /// (A path below the mirror that no route matches reaches the API's
    /// fallback, which answers it in the vendor's shape too.)
    pub fn routes(&self) -> Router<Door> {
        let (refuse, panicked) = (self.vendor.clone(), self.vendor.clone());
        let name = self.def.name();
        (self.router)()
            .method_not_allowed_fallback(move |method: Method, uri: OriginalUri| async move {
                refuse.error_response(VendorError::no_route(&method, uri.path()))
            })
            .layer(CatchPanicLayer::custom(
                move |panic: Box<dyn Any + Send>| {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic".to_string());
                    tracing::error!(mirror = name, panic = %what, "mirror handler panicked");
                    panicked.error_response(VendorError::Internal(format!("panic: {what}")))
                },
            ))
    }
}

/// Every mirror this build serves.
pub fn all() -> Vec<Mirror> {
    vec![
        Mirror {
            def: Arc::new(stripe::Stripe),
            vendor: Arc::new(stripe::Stripe),
            router: stripe::router,
        },
        Mirror {
            def: Arc::new(resend::Resend),
            vendor: Arc::new(resend::Resend),
            router: resend::router,
        },
        Mirror {
            def: Arc::new(twilio::Twilio),
            vendor: Arc::new(twilio::Twilio),
            router: twilio::router,
        },
    ]
}
