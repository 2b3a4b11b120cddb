//! The session's events on their way out: the core's log written to the store in batches, and
//! once committed, fanned out to every subscriber (live deltas in order with them).

use std::time::{Duration, Instant};

use actix::prelude::*;

use super::Session;
use crate::event::EncodedDelta;
use crate::store::WriteBatch;

/// Writes what the session emitted while handling one message as one batch. Sent to itself
/// after a message emitted, so it runs after that handler: a turn's `result`, its
/// `prompt.completed` and the status change that follows normally reach the store, and the
/// client, in one commit rather than in two in a row.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct FlushLog;

impl Handler<FlushLog> for Session {
    type Result = ();

    fn handle(&mut self, _: FlushLog, ctx: &mut Context<Self>) {
        self.flush_scheduled = false;
        self.flush(ctx);
    }
}

impl Session {
    /// Writes what the log holds once the current message is handled (see [`FlushLog`]).
    pub(super) fn schedule_flush(&mut self, ctx: &mut Context<Self>) {
        if !self.flush_scheduled && self.core.log().has_unwritten() {
            self.flush_scheduled = true;
            ctx.notify(FlushLog);
        }
    }

    /// Tells the process how many events wait for the store (it pauses reading when too many).
    pub(super) fn update_backlog(&mut self) {
        let log = self.core.log();
        let waiting = log.last_assigned() - log.stored_seq();
        self.backlog
            .set(usize::try_from(waiting).unwrap_or(usize::MAX));
    }

    /// Writes the next batch of the log, if there is one and none is in flight.
    pub(super) fn flush(&mut self, ctx: &mut Context<Self>) {
        if let Some(batch) = self.core.log().next_batch() {
            self.write_batch(batch, ctx);
        }
    }

    fn write_batch(&mut self, batch: WriteBatch, ctx: &mut Context<Self>) {
        let write = self.deps.store.write(batch);
        let started = Instant::now();
        ctx.spawn(
            write
                .into_actor(self)
                .map(move |result, act, ctx| match result {
                    Ok(()) => {
                        let seconds = started.elapsed().as_secs_f64();
                        act.deps.metrics.store_write_seconds.observe(seconds);
                        act.on_committed(ctx)
                    }
                    Err(error) => act.on_write_failed(error.to_string(), ctx),
                }),
        );
    }

    fn on_committed(&mut self, ctx: &mut Context<Self>) {
        self.store_backoff = Duration::from_millis(100);
        let now = Instant::now();
        // What watchers are told of the session, made once per batch and only if one is told.
        let mut info = None;
        for event in self.core.log().committed() {
            let _ = event.committed_at.set(now);
            let kind = crate::metrics::KindLabel {
                kind: event.kind.clone(),
            };
            self.deps.metrics.events_stored.get_or_create(&kind).inc();
            let slow = self.subscribers.broadcast(&event);
            if self.deps.watchers.watch(&event) {
                let info = info.get_or_insert_with(|| self.core.info());
                self.deps.watchers.tell(info, &event);
            }
            self.deps.metrics.slow_consumers.inc_by(slow);
        }
        let stored = self.core.log().stored_seq();
        self.update_backlog();
        while let Some(delta) = self.held_deltas.front() {
            if delta.after_seq > stored {
                break;
            }
            if let Some(delta) = self.held_deltas.pop_front() {
                self.subscribers.broadcast_delta(&delta);
            }
        }
        if self.core.is_deleted() && self.core.log().last_assigned() == stored {
            self.subscribers.clear();
            ctx.stop();
            return;
        }
        self.flush(ctx);
    }

    /// The store refused a batch: waiting requests hear `unavailable`; the batch is retried as it
    /// was, so nothing is lost and no seq is skipped.
    fn on_write_failed(&mut self, error: String, ctx: &mut Context<Self>) {
        log::error!(
            "session {}: store write failed, will retry: {error}",
            self.core.id()
        );
        self.core.log().failed(&error);
        let delay = self.store_backoff;
        self.store_backoff = (delay * 2).min(Duration::from_secs(5));
        ctx.run_later(delay, |act, ctx| {
            if let Some(batch) = act.core.log().retry_batch() {
                act.write_batch(batch, ctx);
            }
        });
    }

    /// Sends a live delta now, or once the events before it are committed.
    pub(super) fn send_delta(&mut self, line: &serde_json::value::RawValue) {
        if self.subscribers.is_empty() {
            return;
        }
        let log = self.core.log();
        let (last, stored) = (log.last_assigned(), log.stored_seq());
        let delta = EncodedDelta::encode(self.core.id(), last, line);
        if delta.after_seq <= stored && self.held_deltas.is_empty() {
            self.subscribers.broadcast_delta(&delta);
        } else {
            self.held_deltas.push_back(delta);
        }
    }
}
