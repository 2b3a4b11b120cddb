//! How a connection's reader and writer learn that it is ending, without a message: once the
//! connection closes, the reader decodes nothing more (it reads and drops what the client still
//! sends), and the writer waits at most the connection's current patience for a lagging client.
//! The patience starts as 3 × `server.heartbeat_s` and is cut to `auth.handshake_timeout_s` for a
//! client that never completed its handshake, so a stranger cannot hold a connection.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Shared by a connection's actor, reader and writer.
#[derive(Clone, Debug)]
pub struct Ending(Arc<State>);

#[derive(Debug)]
struct State {
    closing: AtomicBool,
    patience_ms: AtomicU64,
}

impl Ending {
    pub fn new(patience: Duration) -> Ending {
        Ending(Arc::new(State {
            closing: AtomicBool::new(false),
            patience_ms: AtomicU64::new(millis(patience)),
        }))
    }

    /// From now on the reader decodes nothing.
    pub fn start_closing(&self) {
        self.0.closing.store(true, Ordering::Relaxed);
    }

    pub fn is_closing(&self) -> bool {
        self.0.closing.load(Ordering::Relaxed)
    }

    /// Waits the writer starts from now on last at most `patience`.
    pub fn shorten_patience(&self, patience: Duration) {
        self.0
            .patience_ms
            .fetch_min(millis(patience), Ordering::Relaxed);
    }

    /// How long the writer may wait for the client.
    pub fn patience(&self) -> Duration {
        Duration::from_millis(self.0.patience_ms.load(Ordering::Relaxed))
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
