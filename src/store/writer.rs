//! The single writer: one thread owns the only write connection and commits every batch, many
//! at a time (group commit), answering each batch's waiter with that batch's own result.
//!
//! Must never: overwrite a stored event, answer a waiter before its batch is committed, let one
//! bad batch fail the others, or run on an async runtime's thread.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use actors::event::EncodedEvent;
use actors::store::{PromptChange, StoreError, WriteBatch};
use rusqlite::{params, Connection, TransactionBehavior};
use tokio::sync::oneshot;

use super::schema::failed;

/// The most batches committed in one transaction.
const MAX_GROUP: usize = 1024;

/// A batch and who waits for its result.
type Job = (WriteBatch, oneshot::Sender<Result<(), StoreError>>);

/// The handle to the writer thread: a queue in, and the thread to join at shutdown.
pub struct Writer {
    queue: Mutex<Option<Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The error of the latest write when it failed; cleared by the next one that succeeds.
    failing: Arc<Mutex<Option<String>>>,
}

impl Writer {
    /// Starts the writer thread on `conn`, pruning each session to its last `retain_events`
    /// events (0 = keep all).
    pub fn start(
        conn: Connection,
        retain_events: u64,
        wal_limit_pages: u32,
    ) -> Result<Writer, StoreError> {
        // The checkpoint thread copies the WAL back; a commit only finishes the job once the WAL
        // has grown to `wal_limit_pages` (see `checkpoint`).
        conn.pragma_update(None, "wal_autocheckpoint", wal_limit_pages)
            .map_err(|e| failed("cannot set wal_autocheckpoint", e))?;
        let (tx, rx) = mpsc::channel();
        let failing = Arc::new(Mutex::new(None));
        let health = failing.clone();
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run(conn, rx, retain_events, &health))
            .map_err(|e| StoreError::failed("cannot start the store's writer thread", e))?;
        Ok(Writer {
            queue: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            failing,
        })
    }

    /// Why writes are failing, if the latest one did.
    pub fn failing(&self) -> Option<String> {
        lock(&self.failing).clone()
    }

    /// Queues a batch; the receiver gets its result once it is committed (or failed).
    pub fn submit(
        &self,
        batch: WriteBatch,
    ) -> Result<oneshot::Receiver<Result<(), StoreError>>, StoreError> {
        let (answer, result) = oneshot::channel();
        let closed = || StoreError::unavailable("the store is closed");
        let queue = lock(&self.queue);
        let sender = queue.as_ref().ok_or_else(closed)?;
        sender.send((batch, answer)).map_err(|_| closed())?;
        Ok(result)
    }

    /// Whether the thread is still there to commit batches.
    pub fn is_running(&self) -> bool {
        let open = lock(&self.queue).is_some();
        open && lock(&self.thread)
            .as_ref()
            .is_some_and(|thread| !thread.is_finished())
    }

    /// Stops taking batches, lets the thread commit everything already queued, and joins it.
    /// Safe to call more than once: returns whether this call stopped the thread.
    pub fn close(&self) -> bool {
        // Dropping the only sender ends the thread's loop once the queue is empty.
        drop(lock(&self.queue).take());
        let Some(thread) = lock(&self.thread).take() else {
            return false;
        };
        if thread.join().is_err() {
            log::error!("the store's writer thread panicked");
        }
        true
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Locks a mutex even if a panicking holder poisoned it: the data is a plain handle.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The thread's loop: wait for a batch, take whatever else is queued, commit them together.
fn run(
    mut conn: Connection,
    queue: Receiver<Job>,
    retain_events: u64,
    failing: &Mutex<Option<String>>,
) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let failure = commit_group(&mut conn, group, retain_events);
        *lock(failing) = failure;
    }
    finish(&conn);
    log::debug!("store writer stopped");
}

/// Commits a group in one transaction; if that fails, each batch in its own. Answers the last
/// failure, if any batch failed.
fn commit_group(conn: &mut Connection, group: Vec<Job>, retain_events: u64) -> Option<String> {
    let mut failure = None;
    let (batches, answers): (Vec<_>, Vec<_>) = group.into_iter().unzip();
    let results = match commit(conn, &batches, retain_events) {
        Ok(()) => batches.iter().map(|_| Ok(())).collect(),
        Err(error) if batches.len() > 1 => {
            log::warn!(
                "store: a group of {} batches failed ({error}); retrying them one by one",
                batches.len()
            );
            batches
                .iter()
                .map(|batch| commit(conn, std::slice::from_ref(batch), retain_events))
                .collect()
        }
        Err(error) => vec![Err(error)],
    };
    for ((batch, answer), result) in batches.iter().zip(answers).zip(results) {
        if let Err(error) = &result {
            log::warn!(
                "store: batch for session {} failed: {error}",
                batch.session_id
            );
            failure = Some(error.to_string());
        }
        // The waiter may have gone away; the batch is committed (or not) all the same.
        let _ = answer.send(result);
    }
    failure
}

/// Applies the batches in one transaction; on any error nothing of them is kept.
fn commit(
    conn: &mut Connection,
    batches: &[WriteBatch],
    retain_events: u64,
) -> Result<(), StoreError> {
    // IMMEDIATE: take the write lock up front rather than fail upgrading it mid-transaction.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| failed("cannot begin a transaction", e))?;
    for batch in batches {
        apply(&tx, batch, retain_events)?;
    }
    // Dropping `tx` on an early return above rolls it back.
    tx.commit().map_err(|e| failed("commit failed", e))
}

/// Writes one batch: events, snapshot, prompt changes, pruning, then the delete if asked.
fn apply(conn: &Connection, batch: &WriteBatch, retain_events: u64) -> Result<(), StoreError> {
    let session = batch.session_id.to_string();
    for event in &batch.events {
        insert_event(conn, &session, event)?;
    }
    if let Some(info) = &batch.snapshot {
        upsert_session(conn, &session, info)?;
    }
    if let Some(capabilities) = &batch.capabilities {
        store_capabilities(conn, &session, capabilities)?;
    }
    for change in &batch.prompts {
        apply_prompt(conn, &session, change)?;
    }
    if let Some(last) = batch.events.last() {
        prune(conn, &session, last.seq, retain_events)?;
    }
    if batch.delete {
        delete_session(conn, &session)?;
    }
    Ok(())
}

/// Inserts an event; a seq already stored is an error, never an overwrite.
fn insert_event(conn: &Connection, session: &str, event: &EncodedEvent) -> Result<(), StoreError> {
    if event.session_id.to_string() != session {
        return Err(StoreError::unavailable(format!(
            "event seq {} belongs to session {}, not to the batch's session {session}",
            event.seq, event.session_id
        )));
    }
    let mut insert = conn
        .prepare_cached("INSERT INTO events (session_id, seq, kind, json) VALUES (?1, ?2, ?3, ?4)")
        .map_err(|e| failed("cannot prepare the event insert", e))?;
    insert
        .execute(params![session, event.seq, event.kind, &*event.json])
        .map_err(|e| {
            failed(
                &format!("cannot store event seq {} of session {session}", event.seq),
                e,
            )
        })?;
    Ok(())
}

/// Stores the session object, replacing the previous one.
fn upsert_session(
    conn: &Connection,
    session: &str,
    info: &actors::session_info::SessionInfo,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(info)
        .map_err(|e| StoreError::failed(format!("cannot encode session {session}"), e))?;
    let mut upsert = conn
        .prepare_cached(
            "INSERT INTO sessions (id, owner, info, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, info = excluded.info",
        )
        .map_err(|e| failed("cannot prepare the session upsert", e))?;
    upsert
        .execute(params![session, info.owner.as_str(), json, info.created_at])
        .map_err(|e| failed(&format!("cannot store session {session}"), e))?;
    Ok(())
}

/// Stores what the session's CLI can do, beside its session object.
fn store_capabilities(
    conn: &Connection,
    session: &str,
    capabilities: &actors::capabilities::Capabilities,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(capabilities).map_err(|e| {
        StoreError::failed(format!("cannot encode session {session}'s capabilities"), e)
    })?;
    let mut update = conn
        .prepare_cached("UPDATE sessions SET capabilities = ?2 WHERE id = ?1")
        .map_err(|e| failed("cannot prepare the capabilities update", e))?;
    update
        .execute(params![session, json])
        .map_err(|e| failed(&format!("cannot store session {session}'s capabilities"), e))?;
    Ok(())
}

/// Records a prompt's step in the queue.
fn apply_prompt(conn: &Connection, session: &str, change: &PromptChange) -> Result<(), StoreError> {
    match change {
        PromptChange::Queued {
            prompt_id,
            text,
            position,
            images,
            seq,
        } => {
            queue_prompt(conn, session, prompt_id.as_str(), text, *position, *seq)?;
            super::images::insert(conn, session, prompt_id.as_str(), images, *seq)
        }
        PromptChange::Started { prompt_id } => {
            set_prompt_state(conn, session, prompt_id.as_str(), "running")
        }
        PromptChange::Finished { prompt_id } => {
            set_prompt_state(conn, session, prompt_id.as_str(), "done")
        }
    }
}

/// A newly queued prompt. A finished prompt whose id is queued again (the domain forgets done
/// ids across a restart) is queued afresh rather than failing the batch forever.
fn queue_prompt(
    conn: &Connection,
    session: &str,
    prompt_id: &str,
    text: &str,
    position: usize,
    seq: u64,
) -> Result<(), StoreError> {
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO prompts (session_id, prompt_id, text, position, queued_seq, state)
             VALUES (?1, ?2, ?3, ?4, ?5, 'queued')
             ON CONFLICT (session_id, prompt_id) DO UPDATE SET
                 text = excluded.text, position = excluded.position,
                 queued_seq = excluded.queued_seq, state = 'queued'",
        )
        .map_err(|e| failed("cannot prepare the prompt insert", e))?;
    insert
        .execute(params![session, prompt_id, text, position, seq])
        .map_err(|e| {
            failed(
                &format!("cannot queue prompt {prompt_id} of session {session}"),
                e,
            )
        })?;
    Ok(())
}

fn set_prompt_state(
    conn: &Connection,
    session: &str,
    prompt_id: &str,
    state: &str,
) -> Result<(), StoreError> {
    let mut update = conn
        .prepare_cached("UPDATE prompts SET state = ?3 WHERE session_id = ?1 AND prompt_id = ?2")
        .map_err(|e| failed("cannot prepare the prompt update", e))?;
    let changed = update
        .execute(params![session, prompt_id, state])
        .map_err(|e| {
            failed(
                &format!("cannot mark prompt {prompt_id} of session {session} {state}"),
                e,
            )
        })?;
    if changed == 0 {
        log::warn!(
            "store: prompt {prompt_id} of session {session} marked {state} but was never queued"
        );
    }
    Ok(())
}

/// Keeps only the session's last `retain_events` events (all of them when 0).
fn prune(
    conn: &Connection,
    session: &str,
    last_seq: u64,
    retain_events: u64,
) -> Result<(), StoreError> {
    if retain_events == 0 || last_seq <= retain_events {
        return Ok(());
    }
    let mut delete = conn
        .prepare_cached("DELETE FROM events WHERE session_id = ?1 AND seq <= ?2")
        .map_err(|e| failed("cannot prepare the event pruning", e))?;
    delete
        .execute(params![session, last_seq - retain_events])
        .map_err(|e| failed(&format!("cannot prune the events of session {session}"), e))?;
    super::images::prune(conn, session, last_seq - retain_events)
}

/// Removes the session, its events and its prompts.
fn delete_session(conn: &Connection, session: &str) -> Result<(), StoreError> {
    for sql in [
        "DELETE FROM events WHERE session_id = ?1",
        "DELETE FROM prompts WHERE session_id = ?1",
        "DELETE FROM prompt_images WHERE session_id = ?1",
        "DELETE FROM sessions WHERE id = ?1",
    ] {
        let mut delete = conn
            .prepare_cached(sql)
            .map_err(|e| failed("cannot prepare the session delete", e))?;
        delete
            .execute([session])
            .map_err(|e| failed(&format!("cannot delete session {session}"), e))?;
    }
    Ok(())
}

/// Before the thread ends: fold the WAL back into the database file.
fn finish(conn: &Connection) {
    if let Err(error) = conn.execute_batch("PRAGMA optimize") {
        log::warn!("store: PRAGMA optimize failed: {error}");
    }
    // The pragma answers one row (busy, log pages, checkpointed pages).
    if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        log::warn!("store: final checkpoint failed: {error}");
    }
}
