//! The WAL checkpointer: copies committed pages from the write-ahead log into
//! the database file on its own connection and thread.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its
//! threshold (1,000 pages), on the committing connection — here the one every
//! request's log append waits for — and ends with `fsync`s. On the test
//! machines' disks that put one append in a few hundred behind a stall of
//! several milliseconds, the p99 of the whole mirror plane (create customer:
//! 13 ms on disk against 3.8 ms on tmpfs). So the request connection turns
//! automatic checkpoints off and this thread runs passive ones instead: they
//! never wait for the writer and the writer never waits for them.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::connect;
use crate::storage::{StorageError, StorageResult};

/// How often the thread checkpoints. At the fastest append rate measured
/// (~7,000 entries/s of ~3 KB) the WAL grows ~5 MB between two passes.
const EVERY: Duration = Duration::from_millis(250);

/// The running checkpointer; stops (and is joined) when dropped.
#[derive(Debug)]
pub(super) struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens a second connection to `path` and starts checkpointing it.
    pub fn start(path: &Path) -> StorageResult<Self> {
        let conn = connect(path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("mirra-wal".into())
            .spawn(move || {
                while !stopping.load(Ordering::Acquire) {
                    std::thread::park_timeout(EVERY);
                    // PASSIVE: copies what no reader still needs, waits for no one.
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::debug!(error = %e, "WAL checkpoint failed; the next pass retries");
                    }
                }
            })
            .map_err(|e| StorageError::Backend(format!("start the WAL checkpointer: {e}")))?;
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}
