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
//!
//! Passive checkpoints alone let the WAL grow without end under sustained
//! writes: SQLite starts the file over only when a writer finds every frame
//! copied, and with thousands of appends a second one always lands during the
//! pass (create customer for 30 s: a 1.8 GB WAL, and every page lookup walks
//! one more hash table per 4,096 frames). So once a pass leaves the WAL above
//! [`RESTART_FRAMES`], the thread restarts it on the request connection, under
//! its mutex: the passive pass just copied nearly everything, so the restart
//! copies the few frames since and holds appends back for its two `fsync`s
//! (~7 ms here; never while the passive passes keep up).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::{connect, lock, BUSY_TIMEOUT};
use crate::storage::{StorageError, StorageResult};

/// How often the thread checkpoints. At the fastest append rate measured
/// (~7,000 entries/s of ~3 KB) the WAL grows ~5 MB between two passes.
const EVERY: Duration = Duration::from_millis(250);

/// WAL frames (pages) past which a pass restarts the WAL: 256 MiB of 4 KiB
/// pages, ~8 s of the fastest appends measured. Each restart holds appends
/// for its `fsync`s, which showed in create customer's p99 at 64 MiB (a
/// restart every ~2 s under wrk); a page lookup in a WAL this size is still
/// cheap.
pub(super) const RESTART_FRAMES: i64 = 65_536;

/// How long a restart waits for another process's readers to leave the WAL
/// (it holds this process's appends meanwhile); the next pass tries again.
const RESTART_WAIT: Duration = Duration::from_millis(50);

/// The running checkpointer; stops (and is joined) when dropped.
#[derive(Debug)]
pub(super) struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens a second connection to `path` and starts checkpointing it;
    /// `requests` is the request connection, which restarts a grown WAL.
    pub fn start(
        path: &Path,
        requests: Weak<Mutex<Connection>>,
        restart_frames: i64,
    ) -> StorageResult<Self> {
        let conn = connect(path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("mirra-wal".into())
            .spawn(move || {
                while !stopping.load(Ordering::Acquire) {
                    std::thread::park_timeout(EVERY);
                    match passive(&conn) {
                        Ok(frames) if frames >= restart_frames => restart(&requests),
                        Ok(_) => {}
                        Err(e) => {
                            tracing::debug!(error = %e, "WAL checkpoint failed; the next pass retries")
                        }
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

/// A passive checkpoint: copies what no reader still needs, waits for no one.
/// Returns the frames in the WAL.
fn passive(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
}

/// Copies the WAL's last frames and makes the next append start it over, on the
/// request connection (so this process's appends wait on its mutex, not in
/// SQLite's sleeping busy handler), waiting at most [`RESTART_WAIT`] for other
/// processes' readers.
fn restart(requests: &Weak<Mutex<Connection>>) {
    let Some(requests) = requests.upgrade() else {
        return;
    };
    let conn = lock(&requests);
    let outcome = conn.busy_timeout(RESTART_WAIT).and_then(|()| {
        conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0))
    });
    if let Err(e) = conn.busy_timeout(BUSY_TIMEOUT) {
        tracing::warn!(error = %e, "restoring the busy timeout after a WAL restart failed");
    }
    match outcome {
        Ok(0) => {}
        Ok(_) => tracing::debug!("WAL restart found readers; the next pass retries"),
        Err(e) => tracing::debug!(error = %e, "WAL restart failed; the next pass retries"),
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
