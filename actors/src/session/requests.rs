//! Clients' requests, routed here by the registry. Reads and subscriptions are answered here;
//! everything else goes to the core, whose [`Answer`] is delivered once the events it caused
//! are durable.

use actix::prelude::*;

use super::core::{Answer, Input};
use super::Session;
use crate::command::{Caller, Reply, SessionOp};
use crate::error::{RelayError, RelayResult};
use crate::ids::Seq;
use crate::session_info::SessionInfo;

/// A client's operation on this session.
#[derive(Message)]
#[rtype(result = "RelayResult<Reply>")]
pub struct SessionRequest {
    pub caller: Caller,
    pub op: SessionOp,
}

/// Sent once to a brand-new session: record `session.created` and answer the session object.
#[derive(Message)]
#[rtype(result = "RelayResult<SessionInfo>")]
pub struct InitSession;

pub(super) type Answering = ResponseActFuture<Session, RelayResult<Reply>>;

pub(super) fn ready(reply: RelayResult<Reply>) -> Answering {
    Box::pin(actix::fut::ready(reply))
}

/// Resolves to `reply` (or the session object as it then is) once event `seq` is stored, or to
/// the store's error.
fn after_stored(session: &mut Session, seq: Seq, reply: Option<Reply>) -> Answering {
    let stored = session.core.log().wait_for(seq);
    Box::pin(
        stored
            .into_actor(session)
            .map(move |result, act, _| match result {
                Ok(Ok(())) => Ok(reply.unwrap_or_else(|| Reply::Session(act.core.info()))),
                Ok(Err(error)) => Err(error),
                Err(_) => Err(RelayError::Unavailable("the session went away".into())),
            }),
    )
}

impl Session {
    /// Delivers the core's answer when it is due.
    fn deliver(&mut self, answer: Option<Answer>) -> Answering {
        let Some(answer) = answer else {
            return ready(Err(RelayError::Internal(
                "the session gave no answer".into(),
            )));
        };
        match answer {
            Answer::Now(reply) => ready(reply),
            Answer::Stored { seq, reply } => after_stored(self, seq, reply),
            Answer::Control { answer, then } => {
                Box::pin(answer.into_actor(self).then(move |result, act, ctx| {
                    let input = Input::ControlAnswered {
                        then,
                        result: result.ok(),
                    };
                    let next = act.run(input, ctx);
                    act.deliver(next)
                }))
            }
            Answer::AfterExit => {
                let exited = self.process_exited();
                Box::pin(
                    async move {
                        let _ = exited.await;
                    }
                    .into_actor(self)
                    .then(|_, act, _| {
                        let seq = act.core.log().last_assigned();
                        after_stored(act, seq, None)
                    }),
                )
            }
        }
    }

    /// A receiver that resolves when the process has exited (at once when there is none).
    pub(super) fn process_exited(&mut self) -> tokio::sync::oneshot::Receiver<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.core.has_process() {
            self.exit_waiters.push(tx);
        } else {
            let _ = tx.send(());
        }
        rx
    }

    fn subscribe(
        &mut self,
        after_seq: Seq,
        sink: crate::client::ClientSink,
        ctx: &mut Context<Self>,
    ) -> Answering {
        let stored = self.core.log().stored_seq();
        if after_seq > stored {
            return ready(Err(RelayError::BadRequest(format!(
                "after_seq {after_seq} is beyond the session's last seq {stored}"
            ))));
        }
        let connection = sink.connection_id().clone();
        let (generation, cancel) = self.subscribers.add(sink.clone());
        let replay = self.replay(sink, after_seq, generation, cancel, ctx);
        let reply = Reply::Subscribed {
            session: self.core.info(),
            last_seq: stored,
            replay,
        };
        if after_seq == 0 {
            return ready(Ok(reply));
        }
        // Events may have been pruned (`storage.retain_events`): say so rather than skip them.
        let earliest = self.deps.store.earliest_seq(self.core.id());
        Box::pin(
            earliest
                .into_actor(self)
                .map(move |earliest, act, _| match earliest {
                    Ok(Some(earliest)) if earliest > after_seq + 1 => {
                        // Its replay, cancelled here, ends at once.
                        act.subscribers.remove(&connection);
                        Err(RelayError::ReplayGap {
                            earliest_seq: earliest,
                        })
                    }
                    Ok(_) => Ok(reply),
                    Err(error) => Err(RelayError::StoreUnavailable(error)),
                }),
        )
    }

    fn unsubscribe(&mut self, caller: &Caller) -> Answering {
        let connection = caller.connection.as_ref();
        if connection.is_some_and(|c| self.subscribers.remove(c)) {
            ready(Ok(Reply::Empty))
        } else {
            let message = "not subscribed to this session".into();
            ready(Err(RelayError::NotFound(message)))
        }
    }
}

impl Handler<SessionRequest> for Session {
    type Result = ResponseActFuture<Self, RelayResult<Reply>>;

    fn handle(&mut self, msg: SessionRequest, ctx: &mut Context<Self>) -> Self::Result {
        if self.core.is_deleted() {
            return ready(Err(RelayError::SessionNotFound(self.core.id().to_string())));
        }
        match msg.op {
            SessionOp::Get => ready(Ok(Reply::Session(self.core.info()))),
            SessionOp::Events(query) => self.events_page(&query),
            SessionOp::Subscribe { after_seq, sink } => self.subscribe(after_seq, sink, ctx),
            SessionOp::Unsubscribe => self.unsubscribe(&msg.caller),
            SessionOp::PendingPermissions => {
                ready(Ok(Reply::Permissions(self.core.pending_permissions())))
            }
            op => {
                let input = Input::Request {
                    caller: msg.caller,
                    op,
                };
                let answer = self.run(input, ctx);
                self.deliver(answer)
            }
        }
    }
}

impl Handler<InitSession> for Session {
    type Result = ResponseActFuture<Self, RelayResult<SessionInfo>>;

    fn handle(&mut self, _: InitSession, ctx: &mut Context<Self>) -> Self::Result {
        let answer = self.run(Input::Created, ctx);
        Box::pin(self.deliver(answer).map(|reply, _, _| match reply? {
            Reply::Session(info) => Ok(info),
            other => Err(RelayError::Internal(format!("created answered {other:?}"))),
        }))
    }
}
