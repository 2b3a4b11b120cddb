//! What the domain needs from durable storage. The server wires in the SQLite implementation;
//! the domain only ever talks to storage through this trait, and only the session's event log
//! writes. [`memory::MemoryStore`] keeps everything in memory, for the domain's unit tests.

pub mod memory;

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::capabilities::Capabilities;
use crate::event::EncodedEvent;
use crate::ids::{PromptId, Seq, SessionId};
use crate::prompt_images::PromptImage;
use crate::session_info::SessionInfo;

/// A change to the stored prompt queue, written in the same transaction as the event that
/// announces it, so the queue and the log never disagree.
#[derive(Clone, Debug)]
pub enum PromptChange {
    Queued {
        prompt_id: PromptId,
        text: String,
        position: usize,
        /// Kept beside the prompt until its session goes or its `prompt.queued` is pruned.
        images: Vec<PromptImage>,
        seq: Seq,
    },
    Started {
        prompt_id: PromptId,
    },
    Finished {
        prompt_id: PromptId,
    },
}

/// One session's writes, committed atomically (and grouped with other sessions' batches).
#[derive(Debug)]
pub struct WriteBatch {
    pub session_id: SessionId,
    /// Events in seq order, contiguous with what is already stored.
    pub events: Vec<Arc<EncodedEvent>>,
    /// The session object as it stands after these events.
    pub snapshot: Option<SessionInfo>,
    /// What the session's CLI can do, when it changed; written with (after) the snapshot.
    pub capabilities: Option<Arc<Capabilities>>,
    pub prompts: Vec<PromptChange>,
    /// Remove the session, its events and its prompts.
    pub delete: bool,
}

/// A prompt read back at start-up.
#[derive(Clone, Debug)]
pub struct StoredPrompt {
    pub prompt_id: PromptId,
    pub text: String,
    pub position: usize,
    /// Read back for queued prompts only (they still go to the CLI).
    pub images: Vec<PromptImage>,
    /// `queued`, `running` or `done`.
    pub state: String,
}

/// A session read back at start-up, with all its prompts in queue order (done ones without
/// their text, kept so that a retried `prompt_id` stays idempotent across restarts).
#[derive(Clone, Debug)]
pub struct StoredSession {
    pub info: SessionInfo,
    /// The last capabilities its CLI reported, if any (unreadable ones are dropped).
    pub capabilities: Option<Capabilities>,
    pub prompts: Vec<StoredPrompt>,
}

/// Why the store could not do what was asked. A failure keeps its cause (the database's own
/// error) as its `source`, so a log or a caller can walk down to it; the domain never looks
/// inside, it answers `unavailable`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// Something the store tried failed: what it was doing, and why.
    #[error("{what}: {source}")]
    Failed {
        what: String,
        /// Shared, so one failed commit can fail every batch that was in it.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The store takes no such request now (it is closed, or one of its threads stopped).
    #[error("{0}")]
    Unavailable(String),
}

impl StoreError {
    /// `what` failed because of `source`.
    pub fn failed(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Failed {
            what: what.into(),
            source: Arc::new(source),
        }
    }

    /// The store cannot take the request, for the reason `why`.
    pub fn unavailable(why: impl Into<String>) -> Self {
        StoreError::Unavailable(why.into())
    }
}

/// Durable storage for sessions, their event logs and their prompt queues.
pub trait EventStore: Send + Sync + 'static {
    /// Commits a batch; resolves once it is durable (or failed: then nothing of it was kept).
    fn write(&self, batch: WriteBatch) -> BoxFuture<'static, Result<(), StoreError>>;

    /// Up to `limit` events with seq > `after`, in order, read from the store.
    fn read_events(
        &self,
        session_id: SessionId,
        after: Seq,
        limit: usize,
    ) -> BoxFuture<'static, Result<Vec<Arc<EncodedEvent>>, StoreError>>;

    /// Up to `limit` events with seq < `before` (the last ones before it), in ascending order.
    fn read_events_before(
        &self,
        session_id: SessionId,
        before: Seq,
        limit: usize,
    ) -> BoxFuture<'static, Result<Vec<Arc<EncodedEvent>>, StoreError>>;

    /// The lowest seq still stored for the session (events before it were pruned), if any.
    fn earliest_seq(
        &self,
        session_id: SessionId,
    ) -> BoxFuture<'static, Result<Option<Seq>, StoreError>>;

    /// Image `index` (0-based) of a prompt, if the session still keeps it.
    fn read_image(
        &self,
        session_id: SessionId,
        prompt_id: PromptId,
        index: usize,
    ) -> BoxFuture<'static, Result<Option<PromptImage>, StoreError>>;

    /// Every stored session, for start-up.
    fn load_sessions(&self) -> Result<Vec<StoredSession>, StoreError>;

    /// Whether the store answers a query (readiness).
    fn check(&self) -> BoxFuture<'static, Result<(), StoreError>>;
}
