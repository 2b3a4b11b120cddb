//! Backpressure from the store to Claude's stdout: when too many of a session's events wait to be
//! committed, the process's stdout is not read until the store catches up, so a burst faster
//! than the disk costs pipe buffer, not server memory.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Events the session's log holds uncommitted beyond which stdout reading pauses.
pub const MAX_UNCOMMITTED: usize = 2048;

/// How many of a session's events wait for the store; shared by the session and its process.
#[derive(Default)]
pub struct Backlog {
    uncommitted: AtomicUsize,
    room: Notify,
}

impl Backlog {
    /// Records how many events wait for the store now.
    pub fn set(&self, uncommitted: usize) {
        self.uncommitted.store(uncommitted, Ordering::Release);
        if uncommitted < MAX_UNCOMMITTED {
            self.room.notify_waiters();
        }
    }

    /// Resolves once the backlog is below the limit.
    pub async fn wait_for_room(&self) {
        loop {
            // Created before the check, so a `set` in between still wakes it.
            let notified = self.room.notified();
            if self.uncommitted.load(Ordering::Acquire) < MAX_UNCOMMITTED {
                return;
            }
            notified.await;
        }
    }
}
