//! A small pool of read-only connections, used off the async threads (`spawn_blocking`) so a
//! slow read never stalls an actor and never waits for the writer (WAL lets both run at once).
//!
//! Must never: write, or run a query on an async runtime's thread.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use actors::store::StoreError;
use rusqlite::Connection;

use super::schema;

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
            .map_err(|e| StoreError(format!("a store read did not finish: {e}")))?
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
