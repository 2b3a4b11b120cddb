//! The session's remembered "allow always" rules (`allowed_rules`): added when a client answers
//! `always` (only what Claude Code suggested, see [`crate::permission_rules`]), removed by a
//! client, and handed to every process the session starts.
//!
//! Claude Code keeps the rules of a running process in memory, so forgetting one means replacing
//! the process: an idle one is stopped at once; one that runs a prompt is marked stale, keeps
//! the rule until that turn ends, and is replaced before the next prompt is written to it (the
//! prompt is parked until the old process has exited, then starts a new one with `--resume`).
//!
//! Must never: write a prompt to a process that still holds a removed rule.

use actix::prelude::*;

use super::{AgentStopReason, Session};
use crate::command::{Caller, RemoveRule};
use crate::error::{RelayError, RelayResult};
use crate::event::{EventData, PromptError, PromptFailure};
use crate::queue::QueuedPrompt;

impl Session {
    /// Adds the rules a client allowed `always`; announces the session when one is new. The
    /// running process already has them: they were in its answer.
    pub(super) fn remember_rules(&mut self, rules: &[String], ctx: &mut Context<Self>) {
        let mut changed = false;
        for rule in rules {
            if !self.info.allowed_rules.contains(rule) {
                self.info.allowed_rules.push(rule.clone());
                changed = true;
            }
        }
        if changed {
            self.announce_update(ctx);
        }
    }

    /// Forgets one rule (`not_found` when the session has no such rule) and retires the process
    /// that still holds it.
    pub(super) fn remove_rule(
        &mut self,
        remove: &RemoveRule,
        caller: &Caller,
        ctx: &mut Context<Self>,
    ) -> RelayResult<()> {
        let Some(at) = self
            .info
            .allowed_rules
            .iter()
            .position(|r| *r == remove.rule)
        else {
            return Err(RelayError::NotFound(format!(
                "this session has no allowed rule {:?}",
                remove.rule
            )));
        };
        self.info.allowed_rules.remove(at);
        log::info!(
            "session {}: allowed rule {:?} removed by {}",
            self.info.id,
            remove.rule,
            caller.user
        );
        self.announce_update(ctx);
        if let Some(agent) = &mut self.agent {
            agent.stale = true;
            if self.running.is_none() {
                self.stop_agent(AgentStopReason::RulesChanged, ctx);
            }
        }
        Ok(())
    }

    /// Holds `prompt` back when the process still has a removed rule: it is stopped, and the
    /// prompt starts a new process once it has exited. Answers the prompt when it may run now.
    pub(super) fn park_if_stale(
        &mut self,
        prompt: QueuedPrompt,
        ctx: &mut Context<Self>,
    ) -> Option<QueuedPrompt> {
        let stopping = match &self.agent {
            Some(agent) if agent.stale => agent.stopping,
            _ => return Some(prompt),
        };
        log::info!(
            "session {}: prompt {} waits for the process holding a removed rule to end",
            self.info.id,
            prompt.prompt_id
        );
        self.parked = Some(prompt);
        if stopping.is_none() {
            self.stop_agent(AgentStopReason::RulesChanged, ctx);
        }
        None
    }

    /// The parked prompt fails with `code` (the session is stopped or deleted).
    pub(super) fn fail_parked(
        &mut self,
        code: PromptFailure,
        message: &str,
        ctx: &mut Context<Self>,
    ) {
        if let Some(prompt) = self.parked.take() {
            self.emit(
                EventData::PromptFailed {
                    prompt_id: prompt.prompt_id,
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
