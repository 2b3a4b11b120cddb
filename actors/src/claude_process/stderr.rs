//! Claude Code's stderr, gathered into chunks and rate-limited so a flooding process cannot
//! flood the event log: at most [`BYTES_PER_WINDOW`] per [`WINDOW`], the rest counted and reported.

use std::time::Duration;

/// How often gathered stderr is emitted as one `agent.stderr` event.
pub const WINDOW: Duration = Duration::from_millis(200);
/// The most stderr kept per window.
pub const BYTES_PER_WINDOW: usize = 8 * 1024;

/// Stderr bytes waiting for the next window.
#[derive(Default)]
pub struct StderrBuffer {
    kept: Vec<u8>,
    dropped: usize,
}

impl StderrBuffer {
    /// Takes in a chunk read from the pipe, keeping what fits this window.
    pub fn push(&mut self, bytes: &[u8]) {
        let room = BYTES_PER_WINDOW.saturating_sub(self.kept.len());
        let keep = room.min(bytes.len());
        self.kept.extend_from_slice(&bytes[..keep]);
        self.dropped += bytes.len() - keep;
    }

    /// The text to emit for this window, if any, with a note of what was dropped.
    pub fn take(&mut self) -> Option<String> {
        if self.kept.is_empty() && self.dropped == 0 {
            return None;
        }
        let mut text = String::from_utf8_lossy(&self.kept).into_owned();
        if self.dropped > 0 {
            text.push_str(&format!(
                "\n[pocket-relay: {} bytes of stderr dropped (rate limit)]\n",
                self.dropped
            ));
        }
        self.kept.clear();
        self.dropped = 0;
        Some(text)
    }
}
