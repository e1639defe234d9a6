//! The emulated APIs, one folder each. A mirror is a [`MirrorDef`] (schema,
//! seeds, credentials) plus a router of its resources; adding a mirror means a
//! new folder here, its seeds, and one line in [`all`].

use std::sync::Arc;

use axum::Router;

use crate::session::{MirrorDef, Sessions};

pub mod stripe;
pub mod toolkit;

/// One mirror: what the session layer needs and the routes it serves.
#[derive(Clone)]
pub struct Mirror {
    pub def: Arc<dyn MirrorDef>,
    /// Routes relative to the mirror's base URL (`/v1/customers` …).
    pub router: fn() -> Router<Arc<Sessions>>,
}

/// Every mirror this build serves.
pub fn all() -> Vec<Mirror> {
    vec![Mirror {
        def: Arc::new(stripe::Stripe),
        router: stripe::router,
    }]
}
