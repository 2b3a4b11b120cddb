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

use super::{QueuedPrompt, SessionCore, StopReason};
use crate::command::{Caller, RemoveRule};
use crate::error::{RelayError, RelayResult};
use crate::event::PromptFailure;

impl SessionCore {
    /// Adds the rules a client allowed `always`; announces the session when one is new. The
    /// running process already has them: they were in its answer.
    pub(super) fn remember_rules(&mut self, rules: &[String]) {
        let mut changed = false;
        for rule in rules {
            if !self.info.allowed_rules.contains(rule) {
                self.info.allowed_rules.push(rule.clone());
                changed = true;
            }
        }
        if changed {
            self.announce_update();
        }
    }

    /// Forgets one rule (`not_found` when the session has no such rule) and retires the process
    /// that still holds it.
    pub(super) fn remove_rule(&mut self, remove: &RemoveRule, caller: &Caller) -> RelayResult<()> {
        let rules = &mut self.info.allowed_rules;
        let Some(at) = rules.iter().position(|r| *r == remove.rule) else {
            return Err(RelayError::NotFound(format!(
                "this session has no allowed rule {:?}",
                remove.rule
            )));
        };
        rules.remove(at);
        log::info!(
            "session {}: allowed rule {:?} removed by {}",
            self.info.id,
            remove.rule,
            caller.user
        );
        self.announce_update();
        let running = self.agent.turn_running();
        if let Some(process) = &mut self.agent.process {
            process.stale = true;
            if !running {
                self.stop_process(StopReason::RulesChanged);
            }
        }
        Ok(())
    }

    /// Holds `prompt` back while the process that still has a removed rule ends; it starts a new
    /// process once the old one has exited.
    pub(super) fn park(&mut self, prompt: QueuedPrompt) {
        log::info!(
            "session {}: prompt {} waits for the process holding a removed rule to end",
            self.info.id,
            prompt.prompt_id
        );
        self.agent.parked = Some(prompt);
        self.stop_process(StopReason::RulesChanged);
    }

    /// The parked prompt fails with `code` (the session is stopped or deleted).
    pub(super) fn fail_parked(&mut self, code: PromptFailure, message: &str) {
        if let Some(prompt) = self.agent.parked.take() {
            self.fail_prompt(prompt.prompt_id, code, message);
        }
    }
}
