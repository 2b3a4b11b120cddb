//! How large a message a WebSocket client may send right now: small until the handshake is done,
//! then `limits.frame_limit()` (large enough for a prompt with its images). Nobody who has not
//! said `hello` and been welcomed can make the server hold megabytes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The largest message before `welcome`: a `hello` with a token and a client object fits many
/// times over.
pub const HANDSHAKE_FRAME_BYTES: usize = 64 * 1024;

/// The connection's current message limit, read by its reader and raised by the connection
/// once the client is welcomed.
#[derive(Clone, Debug)]
pub struct FrameLimit {
    current: Arc<AtomicUsize>,
    full: usize,
}

impl FrameLimit {
    /// A limit that starts at the handshake's and can rise to `full`.
    pub fn new(full: usize) -> Self {
        FrameLimit {
            current: Arc::new(AtomicUsize::new(HANDSHAKE_FRAME_BYTES.min(full))),
            full,
        }
    }

    /// The largest message accepted now.
    pub fn get(&self) -> usize {
        self.current.load(Ordering::Relaxed)
    }

    /// The largest message that will ever be accepted.
    pub fn full(&self) -> usize {
        self.full
    }

    /// The client was welcomed: from now on the full limit applies.
    pub fn welcomed(&self) {
        self.current.store(self.full, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_small_until_the_client_is_welcomed() {
        let limit = FrameLimit::new(20 << 20);
        assert_eq!(limit.get(), HANDSHAKE_FRAME_BYTES);
        limit.clone().welcomed();
        assert_eq!(limit.get(), 20 << 20);
    }

    #[test]
    fn a_full_limit_below_the_handshakes_applies_from_the_start() {
        let limit = FrameLimit::new(1000);
        assert_eq!(limit.get(), 1000);
        limit.welcomed();
        assert_eq!(limit.get(), 1000);
    }
}
