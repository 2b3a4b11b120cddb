//! The session's rules for clients' requests. Each one ends in exactly one [`Answer`], which the
//! actor delivers once the events it caused are durable.

use serde_json::json;

use super::queue::Queued;
use super::{Answer, ControlResult, Effect, QueuedPrompt, SessionCore, StopReason};
use crate::command::{Caller, Reply, SessionOp};
use crate::error::{RelayError, RelayResult};
use crate::event::PromptFailure;
use crate::ids::{PromptId, MAX_ID_LEN};
use crate::session_info::{PermissionMode, SessionStatus};

/// The `reason` of the `stopped` status after `session.release`.
pub const RELEASED: &str = "released";

/// What a client's request goes on with once the CLI answered our control request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterControl {
    /// `session.interrupt`.
    Interrupt,
    /// `session.set_permission_mode`: the mode applies once the CLI accepted it.
    PermissionMode(PermissionMode),
}

impl SessionCore {
    pub(super) fn request(&mut self, caller: Caller, op: SessionOp) {
        match op {
            SessionOp::Prompt { text, prompt_id } => self.prompt(text, prompt_id),
            SessionOp::Interrupt => self.interrupt(),
            SessionOp::Permission(answer) => match self.answer_permission(answer, &caller) {
                Ok(rules_added) => self.answer_stored(Reply::Permission { rules_added }),
                Err(error) => self.answer(Err(error)),
            },
            SessionOp::RemoveRule(remove) => match self.remove_rule(&remove, &caller) {
                Ok(()) => self.answer_session(),
                Err(error) => self.answer(Err(error)),
            },
            SessionOp::Pause => self.pause(true),
            SessionOp::Resume => self.pause(false),
            SessionOp::SetPermissionMode(mode) => self.set_permission_mode(mode),
            SessionOp::Stop => self.stop(StopReason::Client),
            SessionOp::Release => self.stop(StopReason::Released),
            SessionOp::Delete => self.delete(),
            // Reads and subscriptions are the actor's: they touch no rule.
            SessionOp::Get
            | SessionOp::Events(_)
            | SessionOp::Subscribe { .. }
            | SessionOp::Unsubscribe
            | SessionOp::PendingPermissions => self.answer(Ok(Reply::Session(self.info()))),
        }
    }

    fn answer(&mut self, reply: RelayResult<Reply>) {
        self.give(Answer::Now(reply));
    }

    /// Answers `reply` once everything emitted so far is durable.
    fn answer_stored(&mut self, reply: Reply) {
        let seq = self.log.last_assigned();
        let reply = Some(reply);
        self.give(Answer::Stored { seq, reply });
    }

    fn prompt(&mut self, text: String, prompt_id: Option<PromptId>) {
        let max = self.config.limits.max_prompt_bytes;
        if text.len() > max {
            let message = format!("the prompt is {} bytes; the limit is {max}", text.len());
            return self.answer(Err(RelayError::TooLarge(message)));
        }
        if text.trim().is_empty() {
            let message = "the prompt text is empty".into();
            return self.answer(Err(RelayError::BadRequest(message)));
        }
        if let Some(id) = &prompt_id {
            if id.as_str().is_empty() || id.as_str().len() > MAX_ID_LEN {
                let message = format!("prompt_id must be 1 to {MAX_ID_LEN} characters");
                return self.answer(Err(RelayError::BadRequest(message)));
            }
            // A retry: the same answer as the first time, once that is durable.
            if let Some(Queued { position, seq }) = self.queue.known(id) {
                let prompt_id = id.clone();
                let reply = Some(Reply::Prompt {
                    prompt_id,
                    position,
                });
                return self.give(Answer::Stored { seq, reply });
            }
        }
        let prompt_id = prompt_id.unwrap_or_else(PromptId::random);
        let position = self.queue.len() + usize::from(self.agent.turn_running());
        let seq = self.emit(crate::event::EventData::PromptQueued {
            prompt_id: prompt_id.clone(),
            text: text.clone(),
            position,
        });
        log::info!(
            "session {}: prompt {prompt_id} queued at {position}",
            self.info.id
        );
        let prompt = QueuedPrompt {
            prompt_id: prompt_id.clone(),
            text,
        };
        self.queue.push(prompt, Queued { position, seq });
        self.pump();
        let reply = Some(Reply::Prompt {
            prompt_id,
            position,
        });
        self.give(Answer::Stored { seq, reply });
    }

    fn pause(&mut self, paused: bool) {
        if self.queue.set_paused(paused) {
            self.announce_update();
            self.pump();
        }
        self.answer_session();
    }

    fn set_permission_mode(&mut self, mode: PermissionMode) {
        if let Err(refused) = self.config.sessions.check_permission_mode(mode) {
            return self.answer(Err(refused));
        }
        let request = json!({"subtype": "set_permission_mode", "mode": mode.as_cli_arg()});
        match self.control_request(request) {
            Some(answer) => {
                let then = AfterControl::PermissionMode(mode);
                self.give(Answer::Control { answer, then });
            }
            // No process: the mode applies at the next start.
            None => self.apply_permission_mode(mode),
        }
    }

    fn apply_permission_mode(&mut self, mode: PermissionMode) {
        self.info.permission_mode = mode;
        self.announce_update();
        self.answer_session();
    }

    fn interrupt(&mut self) {
        match self.send_interrupt() {
            Some(answer) => {
                let then = AfterControl::Interrupt;
                self.give(Answer::Control { answer, then });
            }
            None => self.answer(Ok(Reply::Interrupted(false))),
        }
    }

    /// The CLI answered our control request (`None`: it never will).
    pub(super) fn control_answered(&mut self, then: AfterControl, result: Option<ControlResult>) {
        match (then, result) {
            (AfterControl::Interrupt, Some(Err(reason))) => {
                let message = format!("Claude Code could not interrupt: {reason}");
                self.answer(Err(RelayError::Unavailable(message)));
            }
            // Gone before it answered: the turn is over all the same.
            (AfterControl::Interrupt, _) => self.answer(Ok(Reply::Interrupted(true))),
            (AfterControl::PermissionMode(mode), Some(Ok(_))) => self.apply_permission_mode(mode),
            (AfterControl::PermissionMode(_), Some(Err(reason))) => {
                let message = format!("Claude Code refused the mode: {reason}");
                self.answer(Err(RelayError::BadRequest(message)));
            }
            (AfterControl::PermissionMode(_), None) => {
                let message = "the agent went away".into();
                self.answer(Err(RelayError::Unavailable(message)));
            }
        }
    }

    /// Fails every prompt that has not started (stop, delete).
    fn fail_waiting(&mut self, code: PromptFailure, message: &str) {
        for prompt_id in self.queue.drop_waiting() {
            self.fail_prompt(prompt_id, code, message);
        }
        self.fail_parked(code, message);
    }

    /// `session.stop`, or `session.release` (`reason` says which).
    fn stop(&mut self, reason: StopReason) {
        self.fail_waiting(PromptFailure::SessionStopped, "the session was stopped");
        let had_process = self.agent.has_process();
        self.stop_process(reason);
        if !had_process && self.status != SessionStatus::Stopped {
            let why = if reason == StopReason::Released {
                RELEASED
            } else {
                "stopped by a client"
            };
            self.set_status(SessionStatus::Stopped, Some(why.into()));
        }
        self.pump();
        if had_process {
            self.give(Answer::AfterExit);
        } else {
            self.answer_session();
        }
    }

    fn delete(&mut self) {
        self.fail_waiting(PromptFailure::SessionDeleted, "the session was deleted");
        self.stop_process(StopReason::Deleted);
        if let Some(turn) = self.agent.turn.take() {
            let message = "the session was deleted";
            self.fail_prompt(turn.prompt_id, PromptFailure::SessionDeleted, message);
        }
        // Whatever it still says is not this session's any more.
        if self.agent.process.take().is_some() {
            self.metrics.agents_running.dec();
        }
        self.effect(Effect::Slot(crate::queue::SlotUse::Release));
        // Its open requests leave every inbox (the process that asked is gone).
        self.cancel_permissions("session_deleted");
        self.deleted = true;
        self.log.delete_all();
        log::info!("session {}: deleted", self.info.id);
        self.answer_stored(Reply::Empty);
    }
}
