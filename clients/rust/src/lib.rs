//! A Mirra session per Rust test: [`MirraSession`] starts a session (`up`),
//! resets it to its seed in one request, hands out its variables (`env`, as
//! `mirra env` prints them), and ends it when dropped.
//!
//! ```no_run
//! # async fn t() -> Result<(), mirra_client::Error> {
//! let mirra = mirra_client::MirraSession::builder()
//!     .mirrors(["stripe"])
//!     .up()
//!     .await?;
//! let key = &mirra.env()["STRIPE_SECRET_KEY"];
//! mirra.reset().await?; // back to the seed
//! # Ok(()) }
//! ```
//!
//! # Layout
//! * [`server`] — finding the Mirra server as the CLI does, or starting one
//!   (`MIRRA_AUTOSTART`).
//! * [`session`] — the guard and its builder.
//! * [`error`] — what can go wrong.

pub mod error;
pub mod server;
pub mod session;

pub use error::Error;
pub use server::Server;
pub use session::{Builder, MirraSession};
