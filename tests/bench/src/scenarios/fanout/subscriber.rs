//! One subscriber of a fan-out run: a client that reads everything and measures each line's
//! latency, or (slow-consumers) one that stops reading after subscribing until told to drain.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch, Semaphore};

use crate::client::{Conn, Incoming, Link};
use crate::frame::Frame;
use crate::Error;

/// A client that hears nothing for this long has stalled; the run fails rather than hangs.
const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// A slow client draining at the end stops after this long without a frame.
const DRAIN_IDLE: Duration = Duration::from_secs(5);

/// What one reading client saw.
#[derive(Default)]
pub struct Seen {
    /// Receive time − `sent_ns` of each assistant line, in ns.
    pub latencies: Vec<u64>,
    /// The same for lines sent after the slow clients began to drain (slow-consumers only).
    pub latencies_after_drain: Vec<u64>,
    /// Event frames of any kind.
    pub events: u64,
    /// Places where `seq` did not follow the previous one.
    pub gaps: u64,
    /// Got the `prompt.completed` (or `prompt.failed`) that ends the load.
    pub completed: bool,
    pub done_at: Option<Instant>,
    /// How the connection ended, if it did: the close code, or `None` for no close frame.
    pub closed: Option<Option<u16>>,
    pub error: Option<String>,
}

/// Lines the clients did not get, of `expected` each.
pub fn dropped(seen: &[Seen], expected: u64) -> u64 {
    seen.iter()
        .map(|s| expected.saturating_sub(s.received()))
        .sum()
}

pub fn failed(error: String) -> Seen {
    Seen {
        error: Some(error),
        ..Seen::default()
    }
}

/// One subscriber.
pub struct Client {
    pub addr: SocketAddr,
    pub session: String,
    /// Bounds the connections being opened at once.
    pub permits: Arc<Semaphore>,
    /// Told once the client is subscribed (or could not be).
    pub ready: mpsc::UnboundedSender<Result<(), String>>,
    pub link: Link,
    /// When the slow clients began to drain (ns since the epoch), 0 until then.
    pub drain_ns: Arc<AtomicU64>,
}

impl Client {
    async fn subscribe(self) -> Option<Conn> {
        let permit = self.permits.acquire_owned().await;
        let opened = async {
            let mut conn = Conn::open(self.addr, self.link).await?;
            conn.subscribe(&self.session, 0).await?;
            Ok::<_, Error>(conn)
        }
        .await;
        drop(permit);
        let _ = self
            .ready
            .send(opened.as_ref().map(|_| ()).map_err(|e| e.to_string()));
        opened.ok()
    }

    /// Reads everything until the load's prompt ends.
    pub async fn run_fast(self) -> Seen {
        let drain_ns = self.drain_ns.clone();
        let Some(mut conn) = self.subscribe().await else {
            return failed("could not subscribe".into());
        };
        let mut seen = Seen::default();
        let mut last_seq = 0;
        loop {
            match conn.recv(IDLE_LIMIT).await {
                Ok(Incoming::Text(text, at)) => {
                    let drained = drain_ns.load(Ordering::Relaxed);
                    if seen.record(&text, at, drained, &mut last_seq) {
                        seen.done_at = Some(Instant::now());
                        conn.close().await;
                        return seen;
                    }
                }
                Ok(Incoming::Closed(code, _)) => {
                    seen.closed = Some(code);
                    return seen;
                }
                Ok(Incoming::Dropped) => {
                    seen.closed = Some(None);
                    return seen;
                }
                Err(error) => {
                    seen.error = Some(error.to_string());
                    return seen;
                }
            }
        }
    }

    /// Subscribes, then reads nothing until told to drain; then reads to the close frame.
    pub async fn run_slow(self, mut drain: watch::Receiver<bool>) -> Seen {
        let Some(mut conn) = self.subscribe().await else {
            return failed("could not subscribe".into());
        };
        let _ = drain.wait_for(|go| *go).await;
        let mut seen = Seen::default();
        let mut last_seq = 0;
        loop {
            match conn.recv(DRAIN_IDLE).await {
                Ok(Incoming::Text(text, at)) => {
                    if seen.record(&text, at, 0, &mut last_seq) {
                        seen.done_at = Some(Instant::now());
                    }
                }
                Ok(Incoming::Closed(code, _)) => {
                    seen.closed = Some(code);
                    return seen;
                }
                Ok(Incoming::Dropped) => {
                    seen.closed = Some(None);
                    return seen;
                }
                // Quiet for DRAIN_IDLE: still open, nothing more to come.
                Err(_) => return seen,
            }
        }
    }
}

impl Seen {
    /// Takes one frame into account (`drained`: when the slow clients began to drain, 0 if not
    /// yet); answers true when it ends the load.
    fn record(&mut self, text: &str, at: u64, drained: u64, last_seq: &mut u64) -> bool {
        let Some(frame) = Frame::parse(text) else {
            return false;
        };
        if !frame.is_event() {
            return false;
        }
        self.events += 1;
        if let Some(seq) = frame.seq {
            if *last_seq != 0 && seq != *last_seq + 1 {
                self.gaps += 1;
            }
            *last_seq = seq;
        }
        if let Some(sent) = frame.sent_ns() {
            let latency = at.saturating_sub(sent);
            if drained != 0 && sent >= drained {
                self.latencies_after_drain.push(latency);
            } else {
                self.latencies.push(latency);
            }
        }
        let ended = frame.kind_is("prompt.completed") || frame.kind_is("prompt.failed");
        if ended {
            self.completed = true;
        }
        ended
    }

    pub fn received(&self) -> u64 {
        (self.latencies.len() + self.latencies_after_drain.len()) as u64
    }
}
