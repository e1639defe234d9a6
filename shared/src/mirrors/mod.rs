//! The emulated APIs, one folder each. A mirror is a [`MirrorDef`] (schema,
//! seeds, credentials), a [`Vendor`] (auth scheme, error shape, id format) and
//! a router of its resources; adding a mirror means a new folder here, its
//! seeds, and one line in [`all`].

use std::sync::Arc;

use axum::Router;

use crate::session::{Door, MirrorDef};

pub mod stripe;
pub mod toolkit;
pub mod vendor;

pub use vendor::{Vendor, VendorError};

/// One mirror: what the session layer needs, how its vendor speaks, and the
/// routes it serves.
#[derive(Clone)]
pub struct Mirror {
    pub def: Arc<dyn MirrorDef>,
    pub vendor: Arc<dyn Vendor>,
    /// Routes relative to the mirror's base URL (`/v1/customers` …).
    pub router: fn() -> Router<Door>,
}

/// Every mirror this build serves.
pub fn all() -> Vec<Mirror> {
    vec![Mirror {
        def: Arc::new(stripe::Stripe),
        vendor: Arc::new(stripe::Stripe),
        router: stripe::router,
    }]
}
