//! Bursts into one notification (protocol §13.5): per key (a delivery target and a tag) the first
//! notification goes at once and opens a window; what comes within the window is held, each one
//! replacing the one before, and the last is sent when the window ends (opening the next window).
//! Ten requests in a second: the first at once, one update with the count of ten at the end.
//! Plain and clocked from outside, so it is tested without waiting.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// One key's open window.
struct Window<T> {
    until: Instant,
    held: Option<T>,
}

/// Coalescing windows by key.
pub struct Coalescer<K, T> {
    window: Duration,
    open: HashMap<K, Window<T>>,
}

impl<K: Hash + Eq + Clone, T> Coalescer<K, T> {
    pub fn new(window: Duration) -> Self {
        Coalescer {
            window,
            open: HashMap::new(),
        }
    }

    /// `item` for `key` at `now`: answered back when it goes at once (and a window opens);
    /// `None` when it is held for the end of the open window.
    pub fn offer(&mut self, key: K, item: T, now: Instant) -> Option<T> {
        match self.open.get_mut(&key) {
            Some(window) if window.until > now => {
                window.held = Some(item);
                None
            }
            _ => {
                self.open.insert(
                    key,
                    Window {
                        until: now + self.window,
                        held: None,
                    },
                );
                Some(item)
            }
        }
    }

    /// The held items whose windows have ended by `now`, to send now; each opens a new window,
    /// and windows that ended holding nothing are closed.
    pub fn due(&mut self, now: Instant) -> Vec<(K, T)> {
        let mut out = Vec::new();
        let window = self.window;
        self.open.retain(|key, open| {
            if open.until > now {
                return true;
            }
            match open.held.take() {
                Some(item) => {
                    out.push((key.clone(), item));
                    open.until = now + window;
                    true
                }
                None => false,
            }
        });
        out
    }

    /// How long windows last.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Open windows (for tests and the bench's sanity).
    pub fn open_windows(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_goes_at_once_and_the_last_of_a_burst_at_the_end() {
        let start = Instant::now();
        let ms = |n| start + Duration::from_millis(n);
        let mut c = Coalescer::new(Duration::from_millis(1000));
        assert_eq!(c.offer("a", 1, ms(0)), Some(1));
        for n in 2..=10 {
            assert_eq!(c.offer("a", n, ms(n * 50)), None);
        }
        // Another key is not held back by "a"'s window.
        assert_eq!(c.offer("b", 100, ms(100)), Some(100));
        assert!(c.due(ms(999)).is_empty());
        assert_eq!(c.due(ms(1000)), vec![("a", 10)]);
        assert_eq!(c.open_windows(), 2);
        // "b" held nothing: its window closes. "a" has a new window after its update.
        assert!(c.due(ms(1100)).is_empty());
        assert_eq!(c.open_windows(), 1);
        assert_eq!(c.offer("a", 11, ms(1500)), None);
        assert_eq!(c.due(ms(2000)), vec![("a", 11)]);
        assert!(c.due(ms(3000)).is_empty());
        assert_eq!(c.open_windows(), 0);
        assert_eq!(c.offer("a", 12, ms(3001)), Some(12));
    }
}
