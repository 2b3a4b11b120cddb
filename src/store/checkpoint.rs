//! Copies the WAL back into the database file on a thread of its own.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its threshold (1,000 pages),
//! so every few thousand events one commit of the writer thread also copied the whole WAL and
//! waited for `fsync`: tens of milliseconds in which no session's events could be stored or
//! broadcast. This thread runs a `PASSIVE` checkpoint every [`EVERY`] instead, which never blocks
//! the writer (WAL lets the two run side by side) and copies almost everything.
//!
//! Almost: while commits keep coming, a checkpoint running beside them never catches up with the
//! last one, and SQLite only starts the WAL file over once a checkpoint has caught up. So the
//! writer keeps an automatic checkpoint with a much higher threshold (`storage.wal_limit_mb`,
//! 64 MiB by default); when it fires, all but the last [`EVERY`] of commits is already copied and
//! it only finishes the job (and its `fsync`), bounding the WAL file. Under a steady 10,000
//! events/s that pause comes every few seconds; a busy relay's p99 latency is lower the rarer it
//! is, which is why the threshold is not 16 MiB (fan-out p99 at 20 sessions, mean of three runs:
//! 6 ms against 18 ms, see the README). The final checkpoint at shutdown is the writer's too.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use actors::store::StoreError;

/// How often the WAL is copied back: often, so that what the writer's own checkpoint still has to
/// copy is small. A checkpoint with nothing to copy costs next to nothing.
const EVERY: Duration = Duration::from_millis(100);

/// The database's page size (SQLite's default, which the schema keeps).
const PAGE_BYTES: u64 = 4096;

/// `wal_limit_mb` in pages, as `wal_autocheckpoint` counts.
pub fn pages(wal_limit_mb: u64) -> u32 {
    let pages = wal_limit_mb.max(1).saturating_mul(1024 * 1024) / PAGE_BYTES;
    u32::try_from(pages).unwrap_or(u32::MAX)
}

/// The checkpoint thread and how to stop it.
pub struct Checkpointer {
    stop: Mutex<Option<Sender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    /// Starts checkpointing the store at `path`.
    pub fn start(path: &Path) -> Result<Checkpointer, StoreError> {
        let (conn, _) = super::schema::open_writer(path)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    // Busy or failing checkpoints are retried next time; the WAL only grows.
                    if let Err(error) =
                        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        log::debug!("store: checkpoint skipped: {error}");
                    }
                }
            })
            .map_err(|e| StoreError::failed("cannot start the store's checkpoint thread", e))?;
        Ok(Checkpointer {
            stop: Mutex::new(Some(stop)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Stops the thread and waits for it. Safe to call more than once.
    pub fn stop(&self) {
        drop(
            self.stop
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            if thread.join().is_err() {
                log::error!("the store's checkpoint thread panicked");
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}
