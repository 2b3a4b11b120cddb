//! The session's rules for clients' requests. Each one ends in exactly one [`Answer`], which the
//! actor delivers once the events it caused are durable.

use serde_json::json;

use super::capabilities::answered_mode;
use super::queue::Queued;
use super::{Answer, ControlResult, Effect, QueuedPrompt, SessionCore, StopReason};
use crate::capabilities::check_effort;
use crate::capabilities::modes::check_permission_mode;
use crate::command::{Caller, Reply, SessionOp, SetModel};
use crate::error::{RelayError, RelayResult};
use crate::event::PromptFailure;
use crate::ids::{PromptId, MAX_ID_LEN};
use crate::prompt_images::PromptImage;
use crate::session_info::{PermissionMode, SessionStatus};

/// The `reason` of the `stopped` status after `session.release`.
pub const RELEASED: &str = "released";

/// What a client's request goes on with once the CLI answered our control request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterControl {
    /// `session.interrupt`.
    Interrupt,
    /// `session.set_permission_mode`: the mode applies once the CLI accepted it.
    PermissionMode(PermissionMode),
    /// `session.set_model`'s `set_model`: then the effort, if one was asked for.
    Model(SetModel),
    /// `session.set_model`'s `apply_flag_settings` with the effort level.
    Effort(SetModel),
}

impl SessionCore {
    pub(super) fn request(&mut self, caller: Caller, op: SessionOp) {
        match op {
            SessionOp::Prompt {
                text,
                prompt_id,
                images,
            } => self.prompt(text, prompt_id, images),
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
            SessionOp::SetModel(set) => self.set_model(set),
            SessionOp::Capabilities => {
                let view = self.capabilities_view();
                self.answer(Ok(Reply::Capabilities(view)))
            }
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

    fn prompt(&mut self, text: String, prompt_id: Option<PromptId>, images: Vec<PromptImage>) {
        let max = self.config.limits.max_prompt_bytes;
        if text.len() > max {
            let message = format!("the prompt is {} bytes; the limit is {max}", text.len());
            return self.answer(Err(RelayError::TooLarge(message)));
        }
        // Images alone are a prompt (a screenshot needs no words); nothing at all is not.
        if text.trim().is_empty() && images.is_empty() {
            let message = "the prompt has neither text nor images".into();
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
            images: images.clone(),
        });
        log::info!(
            "session {}: prompt {prompt_id} queued at {position}{}",
            self.info.id,
            match images.len() {
                0 => String::new(),
                n => format!(" with {n} images"),
            }
        );
        let prompt = QueuedPrompt {
            prompt_id: prompt_id.clone(),
            text,
            images,
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
        let known = self.known_modes();
        if let Err(refused) = check_permission_mode(mode.as_str(), known, &self.config.sessions) {
            return self.answer(Err(refused));
        }
        let request = json!({"subtype": "set_permission_mode", "mode": mode.as_str()});
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
        if self.info.permission_mode != mode {
            self.info.permission_mode = mode;
            self.announce_update();
        }
        self.answer_session();
    }

    fn set_model(&mut self, set: SetModel) {
        if let Err(message) = self.check_model(&set) {
            return self.answer(Err(RelayError::BadRequest(message)));
        }
        let request = json!({"subtype": "set_model", "model": set.model});
        match self.control_request(request) {
            Some(answer) => {
                let then = AfterControl::Model(set);
                self.give(Answer::Control { answer, then });
            }
            // No process: `--model` (and `--effort`) at the next start.
            None => self.apply_model(set),
        }
    }

    /// The model must be one the CLI offers (any, while unknown), the effort one it takes.
    fn check_model(&self, set: &SetModel) -> Result<(), String> {
        if set.model.is_empty() || set.model.len() > 1024 || set.model.starts_with('-') {
            return Err("model must be 1 to 1024 characters, not starting with '-'".into());
        }
        let capabilities = self.capabilities.as_deref();
        if let Some(capabilities) = capabilities {
            capabilities.check_model(&set.model)?;
        }
        match &set.effort {
            Some(effort) => check_effort(capabilities, Some(&set.model), effort),
            None => Ok(()),
        }
    }

    /// The CLI took the model: the effort goes next, if asked for.
    fn model_accepted(&mut self, set: SetModel) {
        let Some(effort) = set.effort.clone() else {
            return self.apply_model(set);
        };
        let request =
            json!({"subtype": "apply_flag_settings", "settings": {"effortLevel": effort}});
        match self.control_request(request) {
            Some(answer) => {
                let then = AfterControl::Effort(set);
                self.give(Answer::Control { answer, then });
            }
            None => self.apply_model(set),
        }
    }

    fn apply_model(&mut self, set: SetModel) {
        self.take_model(set);
        self.answer_session();
    }

    /// Makes `set` the session's model (and effort, when given), announced when it changed.
    fn take_model(&mut self, set: SetModel) {
        let effort = set.effort.or_else(|| self.info.effort.clone());
        let model = Some(set.model);
        if self.info.model != model || self.info.effort != effort {
            self.info.model = model;
            self.info.effort = effort;
            self.announce_update();
        }
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
            (AfterControl::PermissionMode(mode), Some(Ok(body))) => {
                // The CLI says which mode it is in now (`manual` answers `default`).
                let mode = answered_mode(&body).map_or(mode, PermissionMode::new);
                self.apply_permission_mode(mode)
            }
            (AfterControl::PermissionMode(_), Some(Err(reason))) => {
                self.mode_refused(&reason);
                let message = format!("Claude Code refused the mode: {reason}");
                self.answer(Err(RelayError::BadRequest(message)));
            }
            (AfterControl::PermissionMode(_), None) => {
                let message = "the agent went away".into();
                self.answer(Err(RelayError::Unavailable(message)));
            }
            (AfterControl::Model(set), Some(Ok(_))) => self.model_accepted(set),
            (AfterControl::Effort(set), Some(Ok(_))) => self.apply_model(set),
            (AfterControl::Model(_), Some(Err(reason))) => {
                let message = format!("Claude Code refused the model: {reason}");
                self.answer(Err(RelayError::BadRequest(message)));
            }
            (AfterControl::Effort(set), Some(Err(reason))) => {
                // The model did change; the effort did not.
                self.take_model(SetModel {
                    effort: None,
                    ..set
                });
                let message =
                    format!("the model changed, but Claude Code refused the effort: {reason}");
                self.answer(Err(RelayError::BadRequest(message)));
            }
            // Gone before it answered: the next process starts with the new model.
            (AfterControl::Model(set) | AfterControl::Effort(set), None) => self.apply_model(set),
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
