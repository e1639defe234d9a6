//! One connection: where it is in its life (sending a head, busy with requests,
//! idle between them), the deadline that phase allows, and the task that serves
//! it and closes it when the deadline passes.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tower::ServiceExt;

use super::{gate, io::TrackedIo, log, Shared, PRESSURE_GRACE};

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request head to complete, since the connection opened or
    /// since the first byte after an idle wait.
    Head(Instant),
    /// Requests in flight (HTTP/2 may have several); no deadline here, the
    /// body timeout bounds the client's part.
    Busy(usize),
    /// The last response is out; waiting for the next request.
    Idle(Instant),
}

/// A connection's phase, shared by its IO (bytes read), its service (requests
/// begin and end) and its task (deadlines).
#[derive(Debug)]
pub(super) struct Activity {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Activity {
    fn new() -> Self {
        Activity {
            phase: Mutex::new(Phase::Head(Instant::now())),
            changed: Notify::new(),
        }
    }

    fn phase(&self) -> MutexGuard<'_, Phase> {
        // A poisoned lock only means another thread panicked mid-update of a
        // plain enum; its value is still usable.
        self.phase.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes arrived: after an idle wait they start the next request's head.
    pub(super) fn bytes_read(&self) {
        let mut p = self.phase();
        if let Phase::Idle(_) = *p {
            *p = Phase::Head(Instant::now());
            drop(p);
            self.changed.notify_one();
        }
    }

    /// True while no request is in flight, i.e. anything hyper writes now is its
    /// own answer to a request it could not parse.
    pub(super) fn no_request_in_flight(&self) -> bool {
        !matches!(*self.phase(), Phase::Busy(_))
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        let mut p = self.phase();
        *p = match *p {
            Phase::Busy(n) => Phase::Busy(n + 1),
            Phase::Head(_) | Phase::Idle(_) => Phase::Busy(1),
        };
        InFlight(self.clone())
    }

    fn end(&self) {
        let mut p = self.phase();
        match *p {
            Phase::Busy(n) if n > 1 => *p = Phase::Busy(n - 1),
            _ => {
                *p = Phase::Idle(Instant::now());
                drop(p);
                self.changed.notify_one();
            }
        }
    }

    /// When this connection must close if nothing changes; `None` while busy.
    fn deadline(&self, header: Duration, idle: Duration, hurry: bool) -> Option<Instant> {
        let (since, allowed) = match *self.phase() {
            Phase::Busy(_) => return None,
            Phase::Head(since) => (since, header),
            Phase::Idle(since) => (since, idle),
        };
        let allowed = if hurry {
            allowed.min(PRESSURE_GRACE)
        } else {
            allowed
        };
        Some(since + allowed)
    }
}

/// One request in flight; dropped with its response body, once hyper has taken
/// the whole body (or given up on it).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// A response body that marks its request finished when dropped.
struct TrackedBody {
    inner: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for TrackedBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The per-connection hyper service: read the body, run the router, log.
#[derive(Clone)]
struct ConnService {
    shared: Arc<Shared>,
    activity: Arc<Activity>,
}

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let in_flight = self.activity.begin();
        let shared = self.shared.clone();
        Box::pin(async move {
            let started = Instant::now();
            let line = shared
                .config
                .log_requests
                .then(|| log::RequestLine::of(&req, &shared.config.mirror_names));
            let cfg = &shared.config;
            let read = gate::read_body(req, cfg.body_limit, cfg.body_timeout, &cfg.mirror_names);
            let resp = match read.await {
                Ok(req) => match shared.app.clone().oneshot(req).await {
                    Ok(resp) => resp,
                    Err(never) => match never {},
                },
                Err(rejection) => rejection,
            };
            if let Some(line) = line {
                line.emit(resp.status(), started.elapsed());
            }
            Ok(resp.map(|inner| TrackedBody {
                inner,
                _in_flight: in_flight,
            }))
        })
    }
}

/// Serves one connection until it ends, its phase's deadline passes, or (after
/// `stop`) its in-flight requests are done.
pub(super) async fn run(
    stream: TcpStream,
    shared: &Arc<Shared>,
    mut pressure: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(TrackedIo::new(stream, activity.clone()));
    let service = ConnService {
        shared: shared.clone(),
        activity: activity.clone(),
    };
    let conn = shared.http.serve_connection_with_upgrades(io, service);
    tokio::pin!(conn);
    let (header, idle) = (shared.config.header_timeout, shared.config.idle_timeout);
    let mut stopping = false;
    loop {
        let hurry = stopping || *pressure.borrow();
        let deadline = activity.deadline(header, idle, hurry);
        let expiry = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!("connection ended: {e}");
                }
                return;
            }
            () = expiry => {
                // Re-check: the phase may have moved on while we slept.
                let now = activity.deadline(header, idle, stopping || *pressure.borrow());
                if now.is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!("closing a connection that outstayed its timeout");
                    return; // dropping the connection closes the socket
                }
            }
            () = activity.changed.notified() => {}
            Ok(()) = pressure.changed() => {}
            Ok(()) = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}
