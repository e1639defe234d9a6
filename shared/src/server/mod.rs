//! The serving loop: accepts TCP connections and serves a router over HTTP/1.1
//! and HTTP/2 (prior knowledge) with the limits a server facing arbitrary
//! clients needs, which `axum::serve` does not offer:
//!
//! * a **connection cap** ([`ServeConfig::max_connections`]): at the cap the
//!   loop stops accepting, so new connections wait in the kernel's listen
//!   backlog instead of failing on the open-files limit, and connections that
//!   have no request in flight (idle, or still sending a head) are closed after
//!   [`PRESSURE_GRACE`] to make room;
//! * a **header timeout** (from connection open, or from the first byte of a
//!   later request on a kept-alive connection, until the head is complete), an
//!   **idle timeout** (between requests) and a **body timeout** (the whole body);
//! * a request body is read in full (up to [`crate::api::BODY_LIMIT`]) before the
//!   router sees it, so an early 401/404 never leaves unread bytes that would
//!   break a kept-alive connection, and a `Content-Length` above the limit is a
//!   413 before any of the body is read;
//! * hyper's own 400/414/431 answers get the plane's JSON error body;
//! * one log line per request.
//!
//! Shutdown is graceful: no new connections, in-flight requests finish.

mod conn;
mod gate;
mod io;
mod log;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// How long a connection with no request in flight may stay open while the
/// server is at its connection cap or shutting down.
pub const PRESSURE_GRACE: Duration = Duration::from_secs(1);

/// Limits for [`serve`]; [`ServeConfig::default`] has the `mirra serve` defaults.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Time to send a complete request head.
    pub header_timeout: Duration,
    /// Time to send a whole request body once its head is in.
    pub body_timeout: Duration,
    /// Time a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Largest request body; larger ones get a 413.
    pub body_limit: usize,
    /// Log one line per request at info.
    pub log_requests: bool,
    /// Mirror names, to name the session of a host-routed request in the log.
    pub mirror_names: Vec<&'static str>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: default_max_connections(),
            body_limit: crate::api::BODY_LIMIT,
            log_requests: true,
            mirror_names: Vec::new(),
        }
    }
}

/// Half the open-files limit, at most 4,096: the other half stays for the
/// state files, the data dir and outgoing webhook connections, so the cap is
/// reached before `accept` fails with "too many open files".
pub fn default_max_connections() -> usize {
    #[cfg(unix)]
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    #[cfg(not(unix))]
    let limit: Option<u64> = None;
    let half = limit.map_or(4096, |l| l / 2);
    usize::try_from(half.clamp(16, 4096)).unwrap_or(4096)
}

/// What every connection task shares.
struct Shared {
    app: Router,
    config: ServeConfig,
    http: auto::Builder<TokioExecutor>,
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting
/// and returns once every open connection has finished its requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: ServeConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let max = config.max_connections.max(1);
    let permits = Arc::new(Semaphore::new(max));
    let (pressure_tx, pressure) = watch::channel(false);
    let (stop_tx, stop) = watch::channel(false);
    let mut http = auto::Builder::new(TokioExecutor::new());
    // hyper's own header timer would also count the idle wait between requests;
    // conn::Activity times the two separately.
    http.http1().header_read_timeout(None);
    let shared = Arc::new(Shared { app, config, http });
    tokio::pin!(shutdown);

    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                tracing::debug!(max, "at the connection cap; closing idle connections");
                pressure_tx.send_replace(true);
                let p = tokio::select! {
                    p = permits.clone().acquire_owned() => p,
                    () = &mut shutdown => break,
                };
                pressure_tx.send_replace(false);
                match p {
                    Ok(p) => p,
                    Err(_) => break, // closed: never happens, the semaphore lives here
                }
            }
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Most likely the open-files limit: wait for connections to close.
                tracing::error!("accept failed: {e}");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let (shared, pressure, stop) = (shared.clone(), pressure.clone(), stop.clone());
        tokio::spawn(async move {
            conn::run(stream, &shared, pressure, stop).await;
            drop(permit);
        });
    }

    drop(listener);
    stop_tx.send_replace(true);
    // Every connection task holds a permit until it ends.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(all).await;
    drop(pressure_tx);
    Ok(())
}

fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
