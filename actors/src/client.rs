//! How events travel from a session to one client connection, whatever its transport.
//!
//! Every connection owns a bounded queue of [`Outbound`] items drained by its writer. Sessions push
//! live events with `try_send`: a full queue means the client stopped reading, and the connection
//! is cut off as a slow consumer (it resumes from its last `seq`, losing nothing). Replays wait for
//! room instead, so a long history is flow-controlled rather than fatal.

use std::sync::Arc;

use bytestring::ByteString;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::event::{EncodedDelta, EncodedEvent};
use crate::ids::ConnectionId;

/// One item on its way to a client.
#[derive(Debug)]
pub enum Outbound {
    /// A stored event (live or replayed).
    Event(Arc<EncodedEvent>),
    /// A live delta; dropped rather than queued when the client lags.
    Delta(Arc<EncodedDelta>),
    /// A change to the user's approval inbox (`inbox.subscribe`), encoded once for all of the
    /// user's connections.
    Inbox(Arc<crate::inbox::InboxFrame>),
    /// The transport's own answer to a request, already encoded in its own way. Boxed so that an
    /// item is two words: every connection's queue preallocates room for a block of them.
    Answer(Box<ByteString>),
}

/// The sending half of a client connection's outbound queue, shared by every session the client
/// subscribes to.
#[derive(Clone, Debug)]
pub struct ClientSink {
    connection_id: ConnectionId,
    tx: mpsc::Sender<Outbound>,
    capacity: usize,
    overflow: CancellationToken,
}

/// Why an item could not be queued for a client.
#[derive(Debug, PartialEq, Eq)]
pub enum SinkError {
    /// The client lags too far behind; it has been told to close as a slow consumer.
    SlowConsumer,
    /// The connection is gone.
    Closed,
}

impl ClientSink {
    /// A sink with room for `capacity` items, and the receiver its writer drains. The token is
    /// cancelled when the client overflows the queue.
    pub fn channel(
        connection_id: ConnectionId,
        capacity: usize,
    ) -> (Self, mpsc::Receiver<Outbound>, CancellationToken) {
        let capacity = capacity.max(2);
        let (tx, rx) = mpsc::channel(capacity);
        let overflow = CancellationToken::new();
        let sink = ClientSink {
            connection_id,
            tx,
            capacity,
            overflow: overflow.clone(),
        };
        (sink, rx, overflow)
    }

    /// The connection this sink feeds.
    pub fn connection_id(&self) -> &ConnectionId {
        &self.connection_id
    }

    /// Queues a live item; a full queue marks the client as a slow consumer.
    pub fn push(&self, item: Outbound) -> Result<(), SinkError> {
        match self.tx.try_send(item) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflow.cancel();
                Err(SinkError::SlowConsumer)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(SinkError::Closed),
        }
    }

    /// Queues a delta only while the queue is less than half full (protocol §2).
    pub fn push_delta(&self, delta: Arc<EncodedDelta>) {
        if self.tx.capacity() * 2 > self.capacity {
            let _ = self.tx.try_send(Outbound::Delta(delta));
        }
    }

    /// Queues a page of replayed events, waiting for room (flow control, never a cut-off).
    /// It only sends while the queue is at most half full and fills it to three quarters at most,
    /// so live traffic of the client's other subscriptions keeps its room.
    pub async fn push_replayed(&self, events: Vec<Arc<EncodedEvent>>) -> Result<(), SinkError> {
        let chunk = (self.capacity / 4).max(1);
        let room = (self.capacity / 2).max(chunk);
        let mut events = events.into_iter().peekable();
        while events.peek().is_some() {
            // Unused permits go back to the queue when `permits` is dropped.
            let permits = self
                .tx
                .reserve_many(room)
                .await
                .map_err(|_| SinkError::Closed)?;
            for (permit, event) in permits.zip(events.by_ref().take(chunk)) {
                permit.send(Outbound::Event(event));
            }
        }
        Ok(())
    }

    /// Queues a request's answer if there is room now; gives it back when there is none. A gone
    /// connection takes it and drops it, as there is no one left to answer.
    pub fn try_push_answer(&self, answer: ByteString) -> Result<(), ByteString> {
        match self.tx.try_send(Outbound::Answer(Box::new(answer))) {
            Err(mpsc::error::TrySendError::Full(Outbound::Answer(answer))) => Err(*answer),
            _ => Ok(()),
        }
    }

    /// Queues a request's answer, waiting for room.
    pub async fn push_answer(&self, answer: ByteString) -> Result<(), SinkError> {
        self.tx
            .send(Outbound::Answer(Box::new(answer)))
            .await
            .map_err(|_| SinkError::Closed)
    }

    /// The largest page a replay reads at once for this client.
    pub fn replay_page(&self) -> usize {
        (self.capacity / 2).clamp(1, 512)
    }

    /// Cuts the client off as a slow consumer (4008), as an overflow does.
    pub fn cut_off(&self) {
        self.overflow.cancel();
    }

    /// Whether the client overflowed its queue and is being cut off.
    pub fn overflowed(&self) -> bool {
        self.overflow.is_cancelled()
    }

    /// Whether the connection has gone away.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}
