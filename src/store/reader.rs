//! A small pool of read-only connections, used off the async threads (`spawn_blocking`) so a
//! slow read never stalls an actor and never waits for the writer (WAL lets both run at once),
//! and the queries of the event log they run: a page after a seq, a page before one, the
//! earliest seq.
//!
//! Must never: write, or run a query on an async runtime's thread.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use actors::event::EncodedEvent;
use actors::ids::{Seq, SessionId};
use actors::store::StoreError;
use rusqlite::{params, Connection};

use super::schema::{self, failed};

/// Idle connections kept for reuse; more may be open at once, the rest are closed after use.
const MAX_IDLE: usize = 4;

/// Read-only connections to the store's file, opened on demand and reused.
pub struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    /// A pool for the file at `path` (which the writer has already created).
    pub fn new(path: PathBuf) -> Arc<ReadPool> {
        Arc::new(ReadPool {
            path,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Runs `read` on a pooled connection, on this thread. A connection whose read failed is
    /// closed rather than returned to the pool.
    pub fn read_now<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.take()?;
        let result = read(&conn);
        if result.is_ok() {
            self.give_back(conn);
        }
        result
    }

    /// Runs `read` on a pooled connection on tokio's blocking threads.
    pub async fn read<T, F>(self: Arc<Self>, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        tokio::task::spawn_blocking(move || self.read_now(read))
            .await
            .map_err(|e| StoreError::failed("a store read did not finish", e))?
    }

    fn take(&self) -> Result<Connection, StoreError> {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match pooled {
            Some(conn) => Ok(conn),
            None => schema::open_reader(&self.path),
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

/// `limit` events of the session after seq `after`, in order.
pub(super) fn select_events(
    conn: &Connection,
    session_id: SessionId,
    after: Seq,
    limit: usize,
) -> Result<Vec<Arc<EncodedEvent>>, StoreError> {
    select_page(
        conn,
        "SELECT seq, kind, json FROM events WHERE session_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        session_id,
        after,
        limit,
    )
}

/// The last `limit` events of the session before seq `before`, in ascending order.
pub(super) fn select_events_before(
    conn: &Connection,
    session_id: SessionId,
    before: Seq,
    limit: usize,
) -> Result<Vec<Arc<EncodedEvent>>, StoreError> {
    select_page(
        conn,
        "SELECT seq, kind, json FROM (
             SELECT seq, kind, json FROM events WHERE session_id = ?1 AND seq < ?2
             ORDER BY seq DESC LIMIT ?3
         ) ORDER BY seq",
        session_id,
        before,
        limit,
    )
}

/// The rows of a page query taking (session id, seq, limit).
fn select_page(
    conn: &Connection,
    sql: &str,
    session_id: SessionId,
    seq: Seq,
    limit: usize,
) -> Result<Vec<Arc<EncodedEvent>>, StoreError> {
    let what = format!("cannot read the events of session {session_id}");
    let mut select = conn.prepare_cached(sql).map_err(|e| failed(&what, e))?;
    let seq = i64::try_from(seq).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = select
        .query_map(params![session_id.to_string(), seq, limit], |row| {
            let (seq, kind, json) = (row.get(0)?, row.get(1)?, row.get(2)?);
            Ok(Arc::new(EncodedEvent::from_stored(
                session_id, seq, kind, json,
            )))
        })
        .map_err(|e| failed(&what, e))?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(&what, e))
}

/// The lowest seq still stored for the session.
pub(super) fn select_earliest_seq(
    conn: &Connection,
    session_id: SessionId,
) -> Result<Option<Seq>, StoreError> {
    let mut select = conn
        .prepare_cached("SELECT MIN(seq) FROM events WHERE session_id = ?1")
        .map_err(|e| failed("cannot prepare the earliest seq query", e))?;
    select
        .query_row([session_id.to_string()], |row| row.get(0))
        .map_err(|e| {
            failed(
                &format!("cannot read the earliest seq of session {session_id}"),
                e,
            )
        })
}
