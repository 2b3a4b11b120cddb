//! Revocation and expiry pushed to live streams: every WebSocket, SSE stream and NDJSON prompt
//! stream opened with a token holds a [`TokenWatch`] on it, and one watcher thread ends them all
//! when the token is revoked (by any process sharing the store, the `token revoke` command
//! included) or expires.
//!
//! [`LiveTokens`] maps the id of every token in use by a live stream to one
//! `CancellationToken` shared by its streams. The watcher ([`spawn_watcher`]) wakes every
//! [`TICK`] on its own thread and its own store connection, never on an async worker: it cancels
//! the tokens whose `expires_at` has passed and, when the store changed since its last look
//! (SQLite's `data_version`), looks each live id up and cancels the revoked or deleted ones.
//! The check is of state, not of changes, so a stream that registers just after its token was
//! revoked is ended at the next tick all the same. Must never: keep a stream of a revoked or
//! expired token alive longer than a tick and a lookup, or hold a token's text.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use super::tokens::{Bearer, Tokens};
use super::AuthError;

/// How often the watcher looks: a revoked or expired token's streams end within this and a
/// store lookup.
pub const TICK: Duration = Duration::from_millis(200);

/// One token in use by live streams.
struct Live {
    end: CancellationToken,
    expires_at: DateTime<Utc>,
    /// Streams holding it; the entry goes when the last one does.
    holders: usize,
    /// Tells this entry from a later one for the same id (after it was ended).
    generation: u64,
    /// The paired device the token was issued to, so revoking the device ends it at once.
    device_id: Option<String>,
}

#[derive(Default)]
struct Table {
    live: HashMap<String, Live>,
    next_generation: u64,
}

/// The tokens live streams were opened with, by token id.
#[derive(Default)]
pub struct LiveTokens {
    table: Mutex<Table>,
}

/// A live stream's hold on its token: [`TokenWatch::ended`] completes when the token is revoked
/// or expires. Dropping it lets go.
pub struct TokenWatch {
    id: String,
    generation: u64,
    end: CancellationToken,
    live: Weak<LiveTokens>,
}

impl TokenWatch {
    /// Completes when the token is revoked or expires.
    pub fn ended(&self) -> WaitForCancellationFuture<'_> {
        self.end.cancelled()
    }

    /// The cancellation itself, for a task that outlives a borrow.
    pub fn token(&self) -> CancellationToken {
        self.end.clone()
    }

    /// The token's id (for logs; never its text).
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for TokenWatch {
    fn drop(&mut self) {
        if let Some(live) = self.live.upgrade() {
            live.release(&self.id, self.generation);
        }
    }
}

impl LiveTokens {
    /// Registers one more stream of `bearer`'s token. A token already expired is ended at once.
    pub fn watch(self: &Arc<Self>, bearer: &Bearer) -> TokenWatch {
        let mut table = self.lock();
        let generation = table.next_generation;
        let entry = table.live.entry(bearer.id.clone()).or_insert_with(|| Live {
            end: CancellationToken::new(),
            expires_at: bearer.expires_at,
            holders: 0,
            generation,
            device_id: bearer.device_id.clone(),
        });
        entry.holders += 1;
        let watch = TokenWatch {
            id: bearer.id.clone(),
            generation: entry.generation,
            end: entry.end.clone(),
            live: Arc::downgrade(self),
        };
        if entry.generation == generation {
            table.next_generation += 1;
        }
        drop(table);
        if bearer.expires_at <= Utc::now() {
            self.end(&bearer.id, "expired");
        }
        watch
    }

    /// Ends every stream of token `id`.
    pub fn end(&self, id: &str, why: &str) {
        let ended = self.lock().live.remove(id);
        if let Some(entry) = ended {
            log::info!(
                "auth: token {id} {why}: ending its {} live stream(s)",
                entry.holders
            );
            entry.end.cancel();
        }
    }

    /// Ends every stream of every token of device `device_id` (just revoked in this process).
    pub fn end_device(&self, device_id: &str) {
        let ids: Vec<String> = self
            .lock()
            .live
            .iter()
            .filter(|(_, live)| live.device_id.as_deref() == Some(device_id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.end(&id, "revoked with its device");
        }
    }

    /// The ids and expiries of the tokens in use.
    fn snapshot(&self) -> Vec<(String, DateTime<Utc>)> {
        let table = self.lock();
        table
            .live
            .iter()
            .map(|(id, live)| (id.clone(), live.expires_at))
            .collect()
    }

    fn release(&self, id: &str, generation: u64) {
        let mut table = self.lock();
        if let Some(entry) = table.live.get_mut(id) {
            if entry.generation == generation {
                entry.holders = entry.holders.saturating_sub(1);
                if entry.holders == 0 {
                    table.live.remove(id);
                }
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic elsewhere while holding the lock leaves a table that is still consistent.
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The running watcher thread. [`Watcher::stop`] (or dropping it) ends the thread and waits
/// for it, so a server that stops leaves no thread behind.
pub struct Watcher {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Ends the thread (within a lookup) and joins it. Safe to call more than once.
    pub fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                log::error!("auth: the token watcher panicked");
            }
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the watcher thread, which opens its own connection to the store file at `path` (and
/// this waits for that). It stops when the [`Watcher`] is stopped or dropped, or when `live`
/// is dropped.
pub fn spawn_watcher(live: &Arc<LiveTokens>, path: &Path) -> Result<Watcher, AuthError> {
    let live = Arc::downgrade(live);
    let path = path.to_path_buf();
    let (opened, outcome) = mpsc::sync_channel(1);
    let (stop, stopped) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("token-watch".into())
        .spawn(move || match Tokens::open(&path) {
            Ok(tokens) => {
                let _ = opened.send(Ok(()));
                watch_loop(&live, &tokens, &stopped);
            }
            Err(error) => {
                let _ = opened.send(Err(error));
            }
        })
        .map_err(|e| AuthError::Internal(format!("cannot start the token watcher: {e}")))?;
    let mut watcher = Watcher {
        stop: Some(stop),
        thread: Some(thread),
    };
    match outcome.recv() {
        Ok(Ok(())) => Ok(watcher),
        Ok(Err(error)) => {
            watcher.stop();
            Err(error)
        }
        Err(_) => {
            watcher.stop();
            Err(AuthError::Internal(
                "the token watcher did not start".into(),
            ))
        }
    }
}

fn watch_loop(live: &Weak<LiveTokens>, tokens: &Tokens, stopped: &mpsc::Receiver<()>) {
    let mut looked = Looked::default();
    let mut failing = false;
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
        let Some(live) = live.upgrade() else { return };
        match tick(&live, tokens, &mut looked, Utc::now()) {
            Ok(()) => failing = false,
            Err(error) => {
                // Said once per run of failures; the streams stay until the store answers.
                if !failing {
                    log::warn!("auth: cannot check live tokens for revocation: {error}");
                }
                failing = true;
                looked = Looked::default();
            }
        }
    }
}

/// What the watcher last looked up: the store's `data_version` then, and the ids found live.
#[derive(Default)]
struct Looked {
    version: Option<i64>,
    ids: HashSet<String>,
}

/// One look: expired tokens end; revoked ones too. Every live id is looked up when the store
/// changed since the last look, else only those not looked up yet (a stream registered since,
/// whose token may have been revoked before it registered).
fn tick(
    live: &LiveTokens,
    tokens: &Tokens,
    looked: &mut Looked,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let snapshot = live.snapshot();
    if snapshot.is_empty() {
        looked.ids.clear();
        return Ok(());
    }
    let version = tokens.data_version()?;
    if looked.version != Some(version) {
        looked.ids.clear();
    }
    let mut ids = HashSet::with_capacity(snapshot.len());
    for (id, expires_at) in snapshot {
        if expires_at <= now {
            live.end(&id, "expired");
        } else if looked.ids.contains(&id) || tokens.not_revoked(&id)? {
            ids.insert(id);
        } else {
            live.end(&id, "revoked");
        }
    }
    *looked = Looked {
        version: Some(version),
        ids,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actors::ids::UserId;

    fn bearer(id: &str, in_s: i64) -> Bearer {
        Bearer {
            id: id.into(),
            user: UserId::new("alice"),
            expires_at: Utc::now() + chrono::Duration::seconds(in_s),
            device_id: None,
        }
    }

    #[test]
    fn streams_of_a_token_end_together_and_entries_go_with_their_holders() {
        let live = Arc::new(LiveTokens::default());
        let a1 = live.watch(&bearer("a", 60));
        let a2 = live.watch(&bearer("a", 60));
        let b = live.watch(&bearer("b", 60));
        assert_eq!(live.snapshot().len(), 2);
        live.end("a", "revoked");
        assert!(a1.token().is_cancelled() && a2.token().is_cancelled());
        assert!(!b.token().is_cancelled());
        // A new stream of "a" after the end is a new entry; the old holders' drops leave it be.
        let a3 = live.watch(&bearer("a", 60));
        drop(a1);
        drop(a2);
        assert!(live.snapshot().iter().any(|(id, _)| id == "a"));
        drop(a3);
        drop(b);
        assert!(live.snapshot().is_empty());
        // An expired token's stream ends at once.
        let old = live.watch(&bearer("c", -1));
        assert!(old.token().is_cancelled());
    }

    #[test]
    fn the_watcher_ends_revoked_and_expired_tokens() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("relay.db");
        let server = Tokens::open(&path).expect("open");
        let cli = Tokens::open(&path).expect("open again");
        let now = Utc::now();
        let kept = cli.issue("alice", None, 3600, now, None).expect("issue");
        let gone = cli.issue("alice", None, 3600, now, None).expect("issue");
        let live = Arc::new(LiveTokens::default());
        let keep = live.watch(&server.authenticate(&kept.token, now).expect("valid"));
        let revoke = live.watch(&server.authenticate(&gone.token, now).expect("valid"));
        let short = cli.issue("alice", None, 30, now, None).expect("issue");
        let expire = live.watch(&server.authenticate(&short.token, now).expect("valid"));
        let mut looked = Looked::default();
        tick(&live, &server, &mut looked, Utc::now()).expect("tick");
        assert!(!expire.token().is_cancelled());
        let later = now + chrono::Duration::seconds(30);
        tick(&live, &server, &mut looked, later).expect("tick");
        assert!(expire.token().is_cancelled());
        assert!(!revoke.token().is_cancelled());
        cli.revoke(&gone.id, now).expect("revoke");
        tick(&live, &server, &mut looked, Utc::now()).expect("tick");
        assert!(revoke.token().is_cancelled());
        assert!(!keep.token().is_cancelled());
        // A stream that checked its token before the revocation and registers after the look
        // that saw it is ended at the next look, though the store did not change since.
        let stale = Bearer {
            id: gone.id.clone(),
            user: UserId::new("alice"),
            expires_at: now + chrono::Duration::seconds(3600),
            device_id: None,
        };
        let late = live.watch(&stale);
        tick(&live, &server, &mut looked, Utc::now()).expect("tick");
        assert!(late.token().is_cancelled());
        assert!(!keep.token().is_cancelled());
    }
}
