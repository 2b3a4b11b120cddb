//! A session's event log: the one place where `seq` is assigned.
//!
//! Events are sequenced in memory, written to the store in batches (one in flight per session, so
//! the order on disk is the order of `seq`) and handed back for broadcast only once committed:
//! no client ever sees an event the store does not hold. A batch holds what the session emitted
//! while handling one message, plus whatever piled up while the batch before it was in flight, so
//! a turn's `result` line and its `prompt.completed` are normally stored in one commit. A failed
//! batch is retried as it was, keeping its seqs, so the log stays contiguous.

use std::sync::Arc;

use tokio::sync::oneshot;

use crate::error::RelayError;
use crate::event::{EncodedEvent, EventData};
use crate::ids::{Seq, SessionId};
use crate::session_info::{now_ts, SessionInfo};
use crate::store::{PromptChange, StoreError, WriteBatch};

/// Someone waiting for an event to be durable (a client request's answer).
type Waiter = (Seq, oneshot::Sender<Result<(), RelayError>>);

/// The session's sequenced, not yet committed events and who waits for them.
pub struct EventLog {
    session_id: SessionId,
    /// The seq the next event gets.
    next_seq: Seq,
    /// The highest seq committed (and so broadcast).
    stored_seq: Seq,
    pending: Vec<Arc<EncodedEvent>>,
    /// Prompt-queue changes, each with the seq of the event that announces it.
    prompts: Vec<(Seq, PromptChange)>,
    snapshot: Option<SessionInfo>,
    delete: bool,
    /// The most events one batch carries: a committed batch reaches each client at once, so it
    /// must stay well within a client's buffer.
    max_batch: usize,
    /// The batch being written, kept for a retry.
    in_flight: Option<InFlight>,
    waiters: Vec<Waiter>,
}

/// A batch on its way to the store.
struct InFlight {
    events: Vec<Arc<EncodedEvent>>,
    prompts: Vec<PromptChange>,
    snapshot: Option<SessionInfo>,
    delete: bool,
}

impl EventLog {
    /// A log whose last stored event is `last_seq` (0 for a new session); batches carry at most
    /// `max_batch` events.
    pub fn new(session_id: SessionId, last_seq: Seq, max_batch: usize) -> Self {
        EventLog {
            session_id,
            max_batch: max_batch.max(1),
            next_seq: last_seq + 1,
            stored_seq: last_seq,
            pending: Vec::new(),
            prompts: Vec::new(),
            snapshot: None,
            delete: false,
            in_flight: None,
            waiters: Vec::new(),
        }
    }

    /// Sequences an event; it reaches clients after [`EventLog::committed`].
    pub fn append(&mut self, data: &EventData) -> Seq {
        self.append_at(data, &now_ts())
    }

    /// Sequences an event stamped `ts` (the caller keeps the stamp, as a pending permission
    /// request does for the inbox's `requested_at`).
    pub fn append_at(&mut self, data: &EventData, ts: &str) -> Seq {
        let seq = self.next_seq;
        self.next_seq += 1;
        if let EventData::PromptQueued {
            prompt_id,
            text,
            position,
        } = data
        {
            self.prompts.push((
                seq,
                PromptChange::Queued {
                    prompt_id: prompt_id.clone(),
                    text: text.clone(),
                    position: *position,
                    seq,
                },
            ));
        }
        let change = match data {
            EventData::PromptStarted { prompt_id } => Some(PromptChange::Started {
                prompt_id: prompt_id.clone(),
            }),
            EventData::PromptCompleted(outcome) => Some(PromptChange::Finished {
                prompt_id: outcome.prompt_id.clone(),
            }),
            EventData::PromptFailed { prompt_id, .. } => Some(PromptChange::Finished {
                prompt_id: prompt_id.clone(),
            }),
            _ => None,
        };
        if let Some(change) = change {
            self.prompts.push((seq, change));
        }
        self.pending
            .push(EncodedEvent::encode(self.session_id, seq, ts, data));
        seq
    }

    /// Records the session object to store with the next batch.
    pub fn save_snapshot(&mut self, info: &SessionInfo) {
        self.snapshot = Some(info.clone());
    }

    /// Asks for the session and its events to be removed with the next batch.
    pub fn delete_all(&mut self) {
        self.delete = true;
    }

    /// The highest seq assigned so far.
    pub fn last_assigned(&self) -> Seq {
        self.next_seq - 1
    }

    /// The highest seq committed and broadcast.
    pub fn stored_seq(&self) -> Seq {
        self.stored_seq
    }

    /// A receiver that resolves when `seq` is durable, or with the store's error.
    pub fn wait_for(&mut self, seq: Seq) -> oneshot::Receiver<Result<(), RelayError>> {
        let (tx, rx) = oneshot::channel();
        if seq <= self.stored_seq {
            let _ = tx.send(Ok(()));
        } else {
            self.waiters.push((seq, tx));
        }
        rx
    }

    /// Whether anything waits to be written (events, prompt changes, the session object, a
    /// deletion).
    pub fn has_unwritten(&self) -> bool {
        !self.pending.is_empty()
            || !self.prompts.is_empty()
            || self.snapshot.is_some()
            || self.delete
    }

    /// The next batch to write, unless one is in flight or nothing is pending.
    pub fn next_batch(&mut self) -> Option<WriteBatch> {
        if self.in_flight.is_some() || !self.has_unwritten() {
            return None;
        }
        let rest = if self.pending.len() > self.max_batch {
            self.pending.split_off(self.max_batch)
        } else {
            Vec::new()
        };
        let events = std::mem::replace(&mut self.pending, rest);
        let last = events.last().map_or(Seq::MAX, |e| e.seq);
        let later = self
            .prompts
            .iter()
            .position(|(seq, _)| *seq > last)
            .unwrap_or(self.prompts.len());
        let prompts: Vec<_> = self
            .prompts
            .drain(..later)
            .map(|(_, change)| change)
            .collect();
        let flight = InFlight {
            events,
            prompts,
            snapshot: self.snapshot.take(),
            delete: std::mem::take(&mut self.delete),
        };
        let batch = flight.to_batch(self.session_id);
        self.in_flight = Some(flight);
        Some(batch)
    }

    /// The batch that failed, to write again as it was.
    pub fn retry_batch(&self) -> Option<WriteBatch> {
        self.in_flight
            .as_ref()
            .map(|flight| flight.to_batch(self.session_id))
    }

    /// The in-flight batch is durable: returns its events, in order, for broadcast.
    pub fn committed(&mut self) -> Vec<Arc<EncodedEvent>> {
        let Some(flight) = self.in_flight.take() else {
            return Vec::new();
        };
        if let Some(last) = flight.events.last() {
            self.stored_seq = last.seq;
        }
        let stored = self.stored_seq;
        let (done, waiting): (Vec<_>, Vec<_>) =
            self.waiters.drain(..).partition(|(seq, _)| *seq <= stored);
        self.waiters = waiting;
        for (_, waiter) in done {
            let _ = waiter.send(Ok(()));
        }
        flight.events
    }

    /// The in-flight batch failed: everyone waiting is told, the batch stays for a retry.
    pub fn failed(&mut self, error: &str) {
        for (_, waiter) in self.waiters.drain(..) {
            let _ = waiter.send(Err(RelayError::StoreUnavailable(StoreError::unavailable(
                error,
            ))));
        }
    }
}

impl InFlight {
    fn to_batch(&self, session_id: SessionId) -> WriteBatch {
        WriteBatch {
            session_id,
            events: self.events.clone(),
            snapshot: self.snapshot.clone(),
            prompts: self.prompts.clone(),
            delete: self.delete,
        }
    }
}
