//! The approval inbox: every pending permission request over all of a user's sessions, and its
//! changes as they happen, for the phone that wants to answer them all in one place.
//!
//! The pending requests themselves have one owner, their session's core; the list is gathered
//! from the user's sessions by the registry (`Command::PendingPermissions`). The [`Inbox`] actor
//! only fans changes out: it hears every committed `permission.requested` and
//! `permission.resolved` through [`crate::watch::Watchers`] and tells the owner's subscribed
//! connections, with the same `try_send` rule as a session's own fan-out (a full queue is a
//! slow consumer, who resubscribes). The ordering rules live in [`book::InboxBook`].

mod book;
mod pending;

use std::sync::Arc;

use actix::prelude::*;

pub use book::{InboxBook, MAX_HELD};
pub use pending::{oldest_first, InboxFrame, Pending};

use crate::client::ClientSink;
use crate::command::{Caller, Command, Reply, Request};
use crate::error::{RelayError, RelayResult};
use crate::ids::ConnectionId;
use crate::metrics::RelayMetrics;
use crate::registry::Registry;
use crate::watch::Committed;

/// `inbox.subscribe` and `inbox.unsubscribe`.
#[derive(Debug)]
pub enum InboxOp {
    /// Answer the current list, then send every change to `sink`.
    Subscribe {
        sink: ClientSink,
    },
    Unsubscribe,
}

/// An inbox request on its way to the [`Inbox`].
#[derive(Message)]
#[rtype(result = "RelayResult<Reply>")]
pub struct InboxRequest {
    pub caller: Caller,
    pub op: InboxOp,
}

/// A connection went away: its subscription ends.
#[derive(Message)]
#[rtype(result = "()")]
pub struct InboxConnectionGone(pub ConnectionId);

/// The subscriber's answer is queued: what was held for it may follow.
#[derive(Message)]
#[rtype(result = "()")]
struct GoLive {
    connection: ConnectionId,
    generation: u64,
}

/// Part of `inbox.subscribe`'s reply: dropped once the transport has queued the answer (or has
/// given up on it), it lets the changes held meanwhile follow the answer.
pub struct InboxLive {
    inbox: Addr<Inbox>,
    connection: ConnectionId,
    generation: u64,
}

impl std::fmt::Debug for InboxLive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboxLive")
            .field("connection", &self.connection)
            .field("generation", &self.generation)
            .finish()
    }
}

impl Drop for InboxLive {
    fn drop(&mut self) {
        self.inbox.do_send(GoLive {
            connection: self.connection.clone(),
            generation: self.generation,
        });
    }
}

/// The inbox actor: who is subscribed, and the fan-out of changes to them.
pub struct Inbox {
    book: InboxBook,
    registry: Addr<Registry>,
    metrics: Arc<RelayMetrics>,
}

impl Inbox {
    /// An inbox that gathers lists through `registry`.
    pub fn new(registry: Addr<Registry>, metrics: Arc<RelayMetrics>) -> Self {
        Inbox {
            book: InboxBook::default(),
            registry,
            metrics,
        }
    }

    fn subscribe(
        &mut self,
        caller: Caller,
        sink: ClientSink,
        ctx: &mut Context<Self>,
    ) -> ResponseActFuture<Self, RelayResult<Reply>> {
        let connection = sink.connection_id().clone();
        let generation = self.book.subscribe(&caller.user, sink);
        let asked = self.registry.send(Request {
            caller,
            command: Command::PendingPermissions,
        });
        let inbox = ctx.address();
        Box::pin(asked.into_actor(self).map(move |answer, act, _| {
            let answer = answer.unwrap_or_else(|_| {
                Err(RelayError::Unavailable(
                    "the server is shutting down".into(),
                ))
            });
            match answer {
                Ok(Reply::Permissions(permissions)) => {
                    act.book
                        .snapshot_taken(&connection, generation, &permissions);
                    let live = InboxLive {
                        inbox,
                        connection,
                        generation,
                    };
                    Ok(Reply::InboxSubscribed { permissions, live })
                }
                Ok(other) => {
                    act.book.abandon(&connection, generation);
                    Err(RelayError::Internal(format!(
                        "the pending list answered {other:?}"
                    )))
                }
                Err(error) => {
                    act.book.abandon(&connection, generation);
                    Err(error)
                }
            }
        }))
    }
}

impl Actor for Inbox {
    type Context = Context<Self>;
}

impl Handler<Committed> for Inbox {
    type Result = ();

    fn handle(&mut self, msg: Committed, _: &mut Context<Self>) {
        if self.book.is_empty() {
            return;
        }
        if let Some(frame) = InboxFrame::from_committed(&msg) {
            let slow = self.book.deliver(&msg.owner, &frame);
            self.metrics.slow_consumers.inc_by(slow);
        }
    }
}

impl Handler<InboxRequest> for Inbox {
    type Result = ResponseActFuture<Self, RelayResult<Reply>>;

    fn handle(&mut self, msg: InboxRequest, ctx: &mut Context<Self>) -> Self::Result {
        match msg.op {
            InboxOp::Subscribe { sink } => self.subscribe(msg.caller, sink, ctx),
            InboxOp::Unsubscribe => {
                let unsubscribed = msg
                    .caller
                    .connection
                    .as_ref()
                    .is_some_and(|c| self.book.unsubscribe(c));
                let answer = if unsubscribed {
                    Ok(Reply::Empty)
                } else {
                    Err(RelayError::NotFound("not subscribed to the inbox".into()))
                };
                Box::pin(actix::fut::ready(answer))
            }
        }
    }
}

impl Handler<GoLive> for Inbox {
    type Result = ();

    fn handle(&mut self, msg: GoLive, _: &mut Context<Self>) {
        let slow = self.book.go_live(&msg.connection, msg.generation);
        self.metrics.slow_consumers.inc_by(slow);
    }
}

impl Handler<InboxConnectionGone> for Inbox {
    type Result = ();

    fn handle(&mut self, msg: InboxConnectionGone, _: &mut Context<Self>) {
        self.book.unsubscribe(&msg.0);
    }
}
