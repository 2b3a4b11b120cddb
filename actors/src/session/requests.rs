//! The session's answers to client requests (routed here by the registry). Each answer is sent
//! once the events it caused are durable.

use actix::prelude::*;
use serde_json::json;

use super::{AgentStopReason, Session, SessionDeps};
use crate::command::{Caller, Reply, SessionOp};
use crate::error::{RelayError, RelayResult};
use crate::event::{EventData, PromptError, PromptFailure};
use crate::ids::{PromptId, Seq, MAX_ID_LEN};
use crate::queue::{QueueCommand, QueuedPrompt};
use crate::session_info::{PermissionMode, SessionInfo, SessionStatus};

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

pub(super) type Answer = ResponseActFuture<Session, RelayResult<Reply>>;

/// Resolves to `reply` once event `seq` is stored, or to the store's error.
fn after_stored(
    session: &mut Session,
    seq: Seq,
    reply: impl FnOnce(&Session) -> Reply + 'static,
) -> Answer {
    let stored = session.log.wait_for(seq);
    Box::pin(
        stored
            .into_actor(session)
            .map(move |result, act, _| match result {
                Ok(Ok(())) => Ok(reply(act)),
                Ok(Err(error)) => Err(error),
                Err(_) => Err(RelayError::Unavailable("the session went away".into())),
            }),
    )
}

pub(super) fn ready(reply: RelayResult<Reply>) -> Answer {
    Box::pin(actix::fut::ready(reply))
}

impl Session {
    /// A session that is new: it records its creation when it gets [`InitSession`].
    pub fn new(info: SessionInfo, deps: SessionDeps) -> Self {
        Session::with_state(info, deps, 0)
    }

    fn prompt(
        &mut self,
        text: String,
        prompt_id: Option<PromptId>,
        ctx: &mut Context<Self>,
    ) -> Answer {
        let max = self.deps.config.limits.max_prompt_bytes;
        if text.len() > max {
            return ready(Err(RelayError::TooLarge(format!(
                "the prompt is {} bytes; the limit is {max}",
                text.len()
            ))));
        }
        if text.trim().is_empty() {
            return ready(Err(RelayError::BadRequest(
                "the prompt text is empty".into(),
            )));
        }
        if let Some(id) = &prompt_id {
            if id.as_str().is_empty() || id.as_str().len() > MAX_ID_LEN {
                return ready(Err(RelayError::BadRequest(format!(
                    "prompt_id must be 1 to {MAX_ID_LEN} characters"
                ))));
            }
            if let Some(&(position, seq)) = self.prompts.get(id) {
                let id = id.clone();
                return after_stored(self, seq, move |_| Reply::Prompt {
                    prompt_id: id,
                    position,
                });
            }
        }
        let prompt_id = prompt_id.unwrap_or_else(PromptId::random);
        let position = self.info.queue_length + usize::from(self.running.is_some());
        self.info.queue_length += 1;
        let seq = self.emit(
            EventData::PromptQueued {
                prompt_id: prompt_id.clone(),
                text: text.clone(),
                position,
            },
            ctx,
        );
        self.prompts.insert(prompt_id.clone(), (position, seq));
        log::info!(
            "session {}: prompt {prompt_id} queued at {position}",
            self.info.id
        );
        self.queue(QueueCommand::Enqueue(QueuedPrompt {
            prompt_id: prompt_id.clone(),
            text,
        }));
        after_stored(self, seq, move |_| Reply::Prompt {
            prompt_id,
            position,
        })
    }

    fn subscribe(
        &mut self,
        after_seq: Seq,
        sink: crate::client::ClientSink,
        ctx: &mut Context<Self>,
    ) -> Answer {
        let stored = self.log.stored_seq();
        if after_seq > stored {
            return ready(Err(RelayError::BadRequest(format!(
                "after_seq {after_seq} is beyond the session's last seq {stored}"
            ))));
        }
        let (generation, cancel) = self.subscribers.add(sink.clone());
        let task = self.replay_task(sink, after_seq, generation, cancel, ctx);
        let reply = Reply::Subscribed {
            session: self.info.clone(),
            last_seq: stored,
            replay: task,
        };
        if after_seq == 0 {
            return ready(Ok(reply));
        }
        // Events may have been pruned (`storage.retain_events`): say so rather than skip them.
        let earliest = self.deps.store.earliest_seq(self.info.id);
        Box::pin(
            earliest
                .into_actor(self)
                .map(move |earliest, act, _| match earliest {
                    Ok(Some(earliest)) if earliest > after_seq + 1 => {
                        if let Reply::Subscribed { replay, .. } = &reply {
                            act.subscribers.remove(replay.sink.connection_id());
                        }
                        Err(RelayError::ReplayGap {
                            earliest_seq: earliest,
                        })
                    }
                    Ok(_) => Ok(reply),
                    Err(error) => Err(RelayError::StoreUnavailable(error)),
                }),
        )
    }

    fn pause(&mut self, paused: bool, ctx: &mut Context<Self>) -> Answer {
        if self.info.paused != paused {
            self.info.paused = paused;
            self.queue(QueueCommand::SetPaused(paused));
            self.announce_update(ctx);
        }
        let seq = self.log.last_assigned();
        after_stored(self, seq, |act| Reply::Session(act.info.clone()))
    }

    fn set_permission_mode(&mut self, mode: PermissionMode, ctx: &mut Context<Self>) -> Answer {
        if let Err(refused) = self.deps.config.sessions.check_permission_mode(mode) {
            return ready(Err(refused));
        }
        let Some(answer) = self
            .control_request(json!({"subtype": "set_permission_mode", "mode": mode.as_cli_arg()}))
        else {
            // No process: the mode applies at the next start.
            self.info.permission_mode = mode;
            self.announce_update(ctx);
            let seq = self.log.last_assigned();
            return after_stored(self, seq, |act| Reply::Session(act.info.clone()));
        };
        Box::pin(answer.into_actor(self).then(move |answer, act, ctx| {
            let outcome = match answer {
                Ok(Ok(_)) => {
                    act.info.permission_mode = mode;
                    act.announce_update(ctx);
                    let seq = act.log.last_assigned();
                    return after_stored(act, seq, |act| Reply::Session(act.info.clone()));
                }
                Ok(Err(reason)) => Err(RelayError::BadRequest(format!(
                    "Claude Code refused the mode: {reason}"
                ))),
                Err(_) => Err(RelayError::Unavailable("the agent went away".into())),
            };
            ready(outcome)
        }))
    }

    fn interrupt(&mut self, ctx: &mut Context<Self>) -> Answer {
        let Some(answer) = self.send_interrupt(ctx) else {
            return ready(Ok(Reply::Interrupted(false)));
        };
        Box::pin(answer.into_actor(self).map(|answer, _, _| match answer {
            Ok(Ok(_)) => Ok(Reply::Interrupted(true)),
            Ok(Err(reason)) => Err(RelayError::Unavailable(format!(
                "Claude Code could not interrupt: {reason}"
            ))),
            Err(_) => Ok(Reply::Interrupted(true)),
        }))
    }

    /// Takes the waiting prompts out of the queue, then goes on with them (stop, delete).
    fn drop_waiting(&mut self) -> impl ActorFuture<Session, Output = Vec<PromptId>> {
        let queue = self.queue.clone();
        async move {
            match queue {
                Some(queue) => queue
                    .send(QueueCommand::DropWaiting)
                    .await
                    .unwrap_or_default(),
                None => Vec::new(),
            }
        }
        .into_actor(self)
    }

    fn stop(&mut self) -> Answer {
        Box::pin(self.drop_waiting().then(|dropped, act, ctx| {
            act.fail_prompts(
                dropped,
                PromptFailure::SessionStopped,
                "the session was stopped",
                ctx,
            );
            act.fail_parked(
                PromptFailure::SessionStopped,
                "the session was stopped",
                ctx,
            );
            let exited = act.agent.is_some().then(|| {
                let (tx, rx) = tokio::sync::oneshot::channel();
                act.stop_waiters.push(tx);
                rx
            });
            act.stop_agent(AgentStopReason::Client, ctx);
            if exited.is_none() && act.info.status != SessionStatus::Stopped {
                act.set_status(
                    SessionStatus::Stopped,
                    Some("stopped by a client".into()),
                    ctx,
                );
            }
            async move {
                if let Some(exited) = exited {
                    let _ = exited.await;
                }
            }
            .into_actor(act)
            .then(|_, act, _| {
                let seq = act.log.last_assigned();
                after_stored(act, seq, |act| Reply::Session(act.info.clone()))
            })
        }))
    }

    fn delete(&mut self) -> Answer {
        Box::pin(self.drop_waiting().then(|dropped, act, ctx| {
            act.fail_prompts(
                dropped,
                PromptFailure::SessionDeleted,
                "the session was deleted",
                ctx,
            );
            act.fail_parked(
                PromptFailure::SessionDeleted,
                "the session was deleted",
                ctx,
            );
            act.stop_agent(AgentStopReason::Deleted, ctx);
            if let Some(prompt_id) = act.running.take() {
                act.emit(
                    EventData::PromptFailed {
                        prompt_id,
                        error: PromptError {
                            code: PromptFailure::SessionDeleted,
                            message: "the session was deleted".into(),
                        },
                    },
                    ctx,
                );
            }
            if act.agent.take().is_some() {
                act.deps.metrics.agents_running.dec();
            }
            act.deleted = true;
            act.log.delete_all();
            act.flush(ctx);
            let seq = act.log.last_assigned();
            log::info!("session {}: deleted", act.info.id);
            after_stored(act, seq, |_| Reply::Empty)
        }))
    }

    fn fail_prompts(
        &mut self,
        ids: Vec<PromptId>,
        code: PromptFailure,
        message: &str,
        ctx: &mut Context<Self>,
    ) {
        for prompt_id in ids {
            self.info.queue_length = self.info.queue_length.saturating_sub(1);
            self.emit(
                EventData::PromptFailed {
                    prompt_id,
                    error: PromptError {
                        code,
                        message: message.to_string(),
                    },
                },
                ctx,
            );
        }
    }
}

impl Handler<SessionRequest> for Session {
    type Result = ResponseActFuture<Self, RelayResult<Reply>>;

    fn handle(&mut self, msg: SessionRequest, ctx: &mut Context<Self>) -> Self::Result {
        if self.deleted {
            return ready(Err(RelayError::SessionNotFound(self.info.id.to_string())));
        }
        match msg.op {
            SessionOp::Get => ready(Ok(Reply::Session(self.info.clone()))),
            SessionOp::Events(query) => self.events_page(&query),
            SessionOp::Subscribe { after_seq, sink } => self.subscribe(after_seq, sink, ctx),
            SessionOp::Unsubscribe => {
                let connection = msg.caller.connection.as_ref();
                let removed = connection.is_some_and(|c| self.subscribers.remove(c));
                if removed {
                    ready(Ok(Reply::Empty))
                } else {
                    ready(Err(RelayError::NotFound(
                        "not subscribed to this session".into(),
                    )))
                }
            }
            SessionOp::Prompt { text, prompt_id } => self.prompt(text, prompt_id, ctx),
            SessionOp::Interrupt => self.interrupt(ctx),
            SessionOp::Permission(answer) => {
                let result = self.answer_permission(answer, &msg.caller, ctx);
                match result {
                    Ok(rules_added) => {
                        let seq = self.log.last_assigned();
                        after_stored(self, seq, |_| Reply::Permission { rules_added })
                    }
                    Err(error) => ready(Err(error)),
                }
            }
            SessionOp::RemoveRule(remove) => match self.remove_rule(&remove, &msg.caller, ctx) {
                Ok(()) => {
                    let seq = self.log.last_assigned();
                    after_stored(self, seq, |act| Reply::Session(act.info.clone()))
                }
                Err(error) => ready(Err(error)),
            },
            SessionOp::Pause => self.pause(true, ctx),
            SessionOp::Resume => self.pause(false, ctx),
            SessionOp::SetPermissionMode(mode) => self.set_permission_mode(mode, ctx),
            SessionOp::Stop => self.stop(),
            SessionOp::Delete => self.delete(),
        }
    }
}

impl Handler<InitSession> for Session {
    type Result = ResponseActFuture<Self, RelayResult<SessionInfo>>;

    fn handle(&mut self, _: InitSession, ctx: &mut Context<Self>) -> Self::Result {
        self.touch();
        let mut session = self.info.clone();
        session.last_seq = 1;
        let seq = self.emit(EventData::SessionCreated { session }, ctx);
        let stored = self.log.wait_for(seq);
        Box::pin(stored.into_actor(self).map(|result, act, _| match result {
            Ok(Ok(())) => Ok(act.info.clone()),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(RelayError::Unavailable("the session went away".into())),
        }))
    }
}
