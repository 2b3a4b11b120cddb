//! The clients subscribed to one session, and the replay that brings each one up to date.
//!
//! A new subscriber first receives the stored events after its `after_seq`, read in pages by its
//! [`Replay`]; live events are held back from it until the replay reports where it ended, so
//! the two join with no gap and no duplicate however many events arrive meanwhile.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio_util::sync::CancellationToken;

use crate::client::{ClientSink, Outbound, SinkError};
use crate::event::{EncodedDelta, EncodedEvent};
use crate::ids::{ConnectionId, Seq, SessionId};
use crate::store::EventStore;

use super::Session;

/// One subscribed client.
struct Subscriber {
    sink: ClientSink,
    /// `None` while replaying; then the seq after which live events are delivered.
    live_after: Option<Seq>,
    generation: u64,
    /// Cancels this subscription's replay when it is replaced or removed.
    cancel: CancellationToken,
}

/// The replay reached the end of what the store held.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReplayCaughtUp {
    pub connection_id: ConnectionId,
    pub generation: u64,
    pub up_to: Seq,
}

/// Everyone subscribed to one session.
#[derive(Default)]
pub struct Subscribers {
    map: HashMap<ConnectionId, Subscriber>,
    next_generation: u64,
}

impl Subscribers {
    /// Adds (or restarts) a subscription whose replay starts after `after_seq`.
    pub fn add(&mut self, sink: ClientSink) -> (u64, CancellationToken) {
        self.next_generation += 1;
        let generation = self.next_generation;
        let cancel = CancellationToken::new();
        let connection = sink.connection_id().clone();
        let old = self.map.insert(
            connection,
            Subscriber {
                sink,
                live_after: None,
                generation,
                cancel: cancel.clone(),
            },
        );
        if let Some(old) = old {
            old.cancel.cancel();
        }
        (generation, cancel)
    }

    /// Removes a subscription; false when there was none.
    pub fn remove(&mut self, connection: &ConnectionId) -> bool {
        match self.map.remove(connection) {
            Some(old) => {
                old.cancel.cancel();
                true
            }
            None => false,
        }
    }

    /// Removes everyone (the session is going away).
    pub fn clear(&mut self) {
        for (_, sub) in self.map.drain() {
            sub.cancel.cancel();
        }
    }

    /// The replay of `connection` ended at `up_to`. Returns the sink and token when it must go
    /// on (events were committed after its last read), else switches the subscriber to live.
    pub fn caught_up(
        &mut self,
        msg: &ReplayCaughtUp,
        stored_seq: Seq,
    ) -> Option<(ClientSink, CancellationToken)> {
        let sub = self.map.get_mut(&msg.connection_id)?;
        if sub.generation != msg.generation {
            return None;
        }
        if msg.up_to < stored_seq {
            return Some((sub.sink.clone(), sub.cancel.clone()));
        }
        sub.live_after = Some(msg.up_to);
        None
    }

    /// Sends a committed event to every live subscriber; slow or gone ones are dropped.
    /// Answers how many were cut off as slow consumers.
    pub fn broadcast(&mut self, event: &Arc<EncodedEvent>) -> u64 {
        let mut dropped = Vec::new();
        let mut slow = 0;
        for (connection, sub) in &self.map {
            let Some(after) = sub.live_after else {
                continue;
            };
            if event.seq <= after {
                continue;
            }
            match sub.sink.push(Outbound::Event(event.clone())) {
                Ok(()) => {}
                Err(SinkError::SlowConsumer) => {
                    log::warn!(
                        "session {} client {connection}: slow consumer, closing it",
                        event.session_id
                    );
                    dropped.push(connection.clone());
                    slow += 1;
                }
                Err(SinkError::Closed) => dropped.push(connection.clone()),
            }
        }
        for connection in dropped {
            self.remove(&connection);
        }
        slow
    }

    /// Sends a live delta to every live subscriber that has room for it.
    pub fn broadcast_delta(&self, delta: &Arc<EncodedDelta>) {
        for sub in self.map.values() {
            if sub.live_after.is_some() {
                sub.sink.push_delta(delta.clone());
            }
        }
    }

    /// Whether no client is subscribed.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// A new subscriber's replay, handed to its transport with the `subscribe` answer: the transport
/// queues the answer, then runs it ([`Replay::run`]), so the missed events follow the answer.
/// It cannot be forgotten: dropped without running, it starts on its own, since a subscriber
/// whose replay never ran would never go live.
#[derive(Debug)]
pub struct Replay(Option<ReplayTask>);

impl Replay {
    /// Delivers the missed events, then lets the subscription go live.
    pub async fn run(mut self) {
        if let Some(task) = self.0.take() {
            task.run().await;
        }
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            // Outside a runtime nothing could deliver anything anyway.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(task.run());
            }
        }
    }
}

/// Delivers a subscriber's missed events from the store, page by page, then tells the session
/// where it ended.
struct ReplayTask {
    store: Arc<dyn EventStore>,
    session_id: SessionId,
    sink: ClientSink,
    after: Seq,
    generation: u64,
    cancel: CancellationToken,
    done: Recipient<ReplayCaughtUp>,
    metrics: Arc<crate::metrics::RelayMetrics>,
}

impl std::fmt::Debug for ReplayTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayTask")
            .field("session_id", &self.session_id)
            .field("after", &self.after)
            .finish()
    }
}

impl ReplayTask {
    /// Reads and delivers pages until the store has nothing more, then reports back.
    async fn run(self) {
        let mut after = self.after;
        let mut backoff = Duration::from_millis(50);
        loop {
            if self.cancel.is_cancelled() || self.sink.is_closed() {
                return;
            }
            let page = tokio::select! {
                _ = self.cancel.cancelled() => return,
                page = self.store.read_events(self.session_id, after, self.sink.replay_page()) => page,
            };
            match page {
                Ok(page) if page.is_empty() => break,
                Ok(page) => {
                    backoff = Duration::from_millis(50);
                    if let Some(last) = page.last() {
                        after = last.seq;
                    }
                    self.metrics.replay_events.inc_by(page.len() as u64);
                    let pushed = tokio::select! {
                        _ = self.cancel.cancelled() => return,
                        pushed = self.sink.push_replayed(page) => pushed,
                    };
                    if pushed.is_err() {
                        return;
                    }
                }
                Err(error) => {
                    log::warn!(
                        "replay of session {} failed, retrying: {error}",
                        self.session_id
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        self.done.do_send(ReplayCaughtUp {
            connection_id: self.sink.connection_id().clone(),
            generation: self.generation,
            up_to: after,
        });
    }
}

impl Session {
    /// The replay that brings `sink` from `after` to the live stream.
    pub(super) fn replay(
        &self,
        sink: ClientSink,
        after: Seq,
        generation: u64,
        cancel: CancellationToken,
        ctx: &mut Context<Session>,
    ) -> Replay {
        Replay(Some(ReplayTask {
            store: self.deps.store.clone(),
            session_id: self.core.id(),
            sink,
            after,
            generation,
            cancel,
            done: ctx.address().recipient(),
            metrics: self.deps.metrics.clone(),
        }))
    }
}

impl Handler<ReplayCaughtUp> for Session {
    type Result = ();

    fn handle(&mut self, msg: ReplayCaughtUp, ctx: &mut Context<Self>) {
        let stored = self.core.log().stored_seq();
        if let Some((sink, cancel)) = self.subscribers.caught_up(&msg, stored) {
            // Events were committed after the replay's last read: read on from there.
            let replay = self.replay(sink, msg.up_to, msg.generation, cancel, ctx);
            actix::spawn(replay.run());
        }
    }
}
