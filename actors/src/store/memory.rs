//! An [`EventStore`] in memory, for the domain's unit tests: it keeps batches the way the SQLite
//! store does (events appended in seq order, the prompt queue changed in the same write, the
//! session object replaced, everything removed on delete) and reads them back the same way, so a
//! test can "restart" a session from it. Every answer is ready at once.
//!
//! Must never: be used by the server; nothing here survives the process.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::future::{ready, BoxFuture};
use futures_util::FutureExt;

use super::{EventStore, PromptChange, StoreError, StoredPrompt, StoredSession, WriteBatch};
use crate::event::EncodedEvent;
use crate::ids::{PromptId, Seq, SessionId};
use crate::prompt_images::PromptImage;

/// One session as stored.
struct Row {
    info: Option<crate::session_info::SessionInfo>,
    capabilities: Option<crate::capabilities::Capabilities>,
    events: Vec<Arc<EncodedEvent>>,
    prompts: Vec<StoredPrompt>,
}

/// Sessions, their events and their prompt queues, in memory.
#[derive(Default)]
pub struct MemoryStore {
    rows: Mutex<BTreeMap<SessionId, Row>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn rows(&self) -> MutexGuard<'_, BTreeMap<SessionId, Row>> {
        // A test that panicked while holding the lock has failed already.
        self.rows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn apply(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let mut rows = self.rows();
        if batch.delete {
            rows.remove(&batch.session_id);
            return Ok(());
        }
        let row = rows.entry(batch.session_id).or_insert_with(|| Row {
            info: None,
            capabilities: None,
            events: Vec::new(),
            prompts: Vec::new(),
        });
        let next = row.events.last().map_or(1, |e| e.seq + 1);
        for (expected, event) in (next..).zip(&batch.events) {
            if event.seq != expected {
                return Err(StoreError::unavailable(format!(
                    "seq {} where {expected} was due",
                    event.seq
                )));
            }
        }
        row.events.extend(batch.events);
        if let Some(info) = batch.snapshot {
            row.info = Some(info);
        }
        if let Some(capabilities) = batch.capabilities {
            row.capabilities = Some((*capabilities).clone());
        }
        for change in batch.prompts {
            change_prompt(&mut row.prompts, change);
        }
        Ok(())
    }
}

fn change_prompt(prompts: &mut Vec<StoredPrompt>, change: PromptChange) {
    let (id, state) = match change {
        PromptChange::Queued {
            prompt_id,
            text,
            position,
            images,
            ..
        } => {
            let state = "queued".to_string();
            return prompts.push(StoredPrompt {
                prompt_id,
                text,
                position,
                images,
                state,
            });
        }
        PromptChange::Started { prompt_id } => (prompt_id, "running"),
        PromptChange::Finished { prompt_id } => (prompt_id, "done"),
    };
    if let Some(prompt) = prompts.iter_mut().find(|p| p.prompt_id == id) {
        prompt.state = state.to_string();
    }
}

impl EventStore for MemoryStore {
    fn write(&self, batch: WriteBatch) -> BoxFuture<'static, Result<(), StoreError>> {
        ready(self.apply(batch)).boxed()
    }

    fn read_events(
        &self,
        session_id: SessionId,
        after: Seq,
        limit: usize,
    ) -> BoxFuture<'static, Result<Vec<Arc<EncodedEvent>>, StoreError>> {
        let rows = self.rows();
        let events = rows.get(&session_id).map_or_else(Vec::new, |row| {
            let later = row.events.iter().filter(|e| e.seq > after);
            later.take(limit).cloned().collect()
        });
        ready(Ok(events)).boxed()
    }

    fn read_events_before(
        &self,
        session_id: SessionId,
        before: Seq,
        limit: usize,
    ) -> BoxFuture<'static, Result<Vec<Arc<EncodedEvent>>, StoreError>> {
        let rows = self.rows();
        let events = rows.get(&session_id).map_or_else(Vec::new, |row| {
            let earlier: Vec<_> = row.events.iter().filter(|e| e.seq < before).collect();
            let skip = earlier.len().saturating_sub(limit);
            earlier.into_iter().skip(skip).cloned().collect()
        });
        ready(Ok(events)).boxed()
    }

    fn earliest_seq(
        &self,
        session_id: SessionId,
    ) -> BoxFuture<'static, Result<Option<Seq>, StoreError>> {
        let rows = self.rows();
        let earliest = rows
            .get(&session_id)
            .and_then(|row| row.events.first())
            .map(|e| e.seq);
        ready(Ok(earliest)).boxed()
    }

    fn read_image(
        &self,
        session_id: SessionId,
        prompt_id: PromptId,
        index: usize,
    ) -> BoxFuture<'static, Result<Option<PromptImage>, StoreError>> {
        let rows = self.rows();
        let image = rows
            .get(&session_id)
            .and_then(|row| row.prompts.iter().find(|p| p.prompt_id == prompt_id))
            .and_then(|prompt| prompt.images.get(index).cloned());
        ready(Ok(image)).boxed()
    }

    fn load_sessions(&self) -> Result<Vec<StoredSession>, StoreError> {
        let rows = self.rows();
        let sessions = rows.values().filter_map(|row| {
            let mut info = row.info.clone()?;
            // As in SQLite: the last seq is the events', never the snapshot's.
            info.last_seq = row.events.last().map_or(0, |e| e.seq);
            let prompts = row.prompts.clone();
            let capabilities = row.capabilities.clone();
            Some(StoredSession {
                info,
                capabilities,
                prompts,
            })
        });
        Ok(sessions.collect())
    }

    fn check(&self) -> BoxFuture<'static, Result<(), StoreError>> {
        ready(Ok(())).boxed()
    }
}
