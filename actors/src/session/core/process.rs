//! The session's Claude process and the turn it runs: when the next prompt starts (the queue
//! allows it, the process slot is held), starting the process for it, writing the user turn,
//! and stopping the process (idle, slot needed elsewhere, client, deletion, shutdown).
//!
//! The process slot itself is the queue processor's (`crate::queue`): the core only says what
//! it needs (`SlotUse`) and hears back (`SlotSignal`). A living process always holds the slot.

use serde_json::json;

use super::{Effect, QueuedPrompt, SessionCore};
use crate::claude_process::{LaunchSpec, StopMode};
use crate::event::{EventData, PromptError, PromptFailure};
use crate::ids::PromptId;
use crate::queue::{SlotSignal, SlotUse};
use crate::session_info::SessionStatus;

/// Why the session asked its process to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Idle longer than `claude.idle_timeout_s`.
    Idle,
    /// Another session needs the process slot.
    SlotNeeded,
    /// A client asked (`session.stop`).
    Client,
    /// A client handed the conversation back to a terminal (`session.release`).
    Released,
    /// The session is being deleted.
    Deleted,
    /// The server is shutting down.
    Shutdown,
    /// A client removed an "always" rule the process still holds.
    RulesChanged,
}

/// The running Claude process.
#[derive(Debug)]
pub(super) struct Process {
    pub id: u64,
    /// Why we asked it to stop, once we did.
    pub stopping: Option<StopReason>,
    /// It holds an "always" rule the session has since forgotten: replace it before the next
    /// prompt.
    pub stale: bool,
}

/// The prompt being run.
#[derive(Debug)]
pub(super) struct Turn {
    pub prompt_id: PromptId,
    /// Interrupted (by a client, a deny with `interrupt`, or a stop): its end is a failure.
    pub interrupted: bool,
}

/// The process, its turn, and the prompts between the queue and a turn.
#[derive(Debug, Default)]
pub(super) struct Agent {
    pub process: Option<Process>,
    pub turn: Option<Turn>,
    /// Taken from the queue while a process holding a removed rule ends (see `rules`).
    pub parked: Option<QueuedPrompt>,
    /// Taken from the queue while its process is launched.
    pub launching: Option<QueuedPrompt>,
    pub next_id: u64,
}

impl Agent {
    pub fn turn_running(&self) -> bool {
        self.turn.is_some()
    }

    pub fn has_process(&self) -> bool {
        self.process.is_some()
    }

    /// Whether a prompt has left the queue and not yet ended.
    fn busy(&self) -> bool {
        self.turn.is_some() || self.parked.is_some() || self.launching.is_some()
    }
}

impl SessionCore {
    /// Starts the next prompt if it may run now; else says the slot is idle.
    pub(super) fn pump(&mut self) {
        if self.agent.busy() {
            return;
        }
        if !self.queue.runnable() {
            self.effect(Effect::Slot(SlotUse::Idle));
            return;
        }
        let (stale, stopping) = match &self.agent.process {
            None => return self.effect(Effect::Slot(SlotUse::Want)),
            Some(process) => (process.stale, process.stopping.is_some()),
        };
        if stopping && !stale {
            // It ends soon and gives its slot back; the prompt asks for one then.
            return;
        }
        let Some(prompt) = self.queue.pop_runnable() else {
            return;
        };
        if stale {
            self.park(prompt);
        } else {
            self.begin_turn(prompt);
        }
    }

    /// The queue processor's word about the slot.
    pub(super) fn on_slot(&mut self, signal: SlotSignal) {
        match signal {
            SlotSignal::Ready => {
                if self.agent.busy() || self.agent.process.is_some() {
                    return;
                }
                match self.queue.pop_runnable() {
                    Some(prompt) => self.start_prompt(prompt),
                    // Paused or emptied meanwhile: someone else may use the slot.
                    None => self.effect(Effect::Slot(SlotUse::Release)),
                }
            }
            SlotSignal::Waiting => {
                if !self.agent.turn_running() {
                    let reason = Some("no agent slot free".into());
                    self.set_status(SessionStatus::Waiting, reason);
                }
            }
            SlotSignal::IdleTimeout => self.stop_process(StopReason::Idle),
            SlotSignal::Reclaim => self.stop_process(StopReason::SlotNeeded),
        }
    }

    /// Launches a process for `prompt` (the slot is held); the turn begins once it started.
    pub(super) fn start_prompt(&mut self, prompt: QueuedPrompt) {
        self.set_status(SessionStatus::Starting, None);
        let run_as = match self.config.run_as.for_user(self.info.owner.as_str()) {
            Ok(account) => account.cloned(),
            Err(error) => return self.spawn_failed(prompt, error.to_string()),
        };
        let spec = LaunchSpec {
            cwd: self.info.cwd.clone().into(),
            model: self.info.model.clone(),
            permission_mode: self.info.permission_mode,
            stream_deltas: self.info.stream_deltas,
            resume: self.info.claude_session_id.clone(),
            allowed_rules: self.info.allowed_rules.clone(),
            run_as,
        };
        self.agent.next_id += 1;
        let agent = self.agent.next_id;
        self.agent.launching = Some(prompt);
        self.effect(Effect::Launch { agent, spec });
    }

    /// The launch asked for came back.
    pub(super) fn launched(&mut self, agent: u64, result: Result<(), String>) {
        if agent != self.agent.next_id {
            return;
        }
        let Some(prompt) = self.agent.launching.take() else {
            return;
        };
        match result {
            Ok(()) => {
                self.metrics.agents_running.inc();
                self.agent.process = Some(Process {
                    id: agent,
                    stopping: None,
                    stale: false,
                });
                self.begin_turn(prompt);
            }
            Err(message) => self.spawn_failed(prompt, message),
        }
    }

    /// Writes the user turn to the living process.
    fn begin_turn(&mut self, prompt: QueuedPrompt) {
        let line = json!({
            "type": "user",
            "message": {"role": "user", "content": prompt.text},
            "parent_tool_use_id": null,
            "session_id": "",
        });
        self.agent.turn = Some(Turn {
            prompt_id: prompt.prompt_id.clone(),
            interrupted: false,
        });
        self.effect(Effect::Slot(SlotUse::Busy));
        self.emit(EventData::PromptStarted {
            prompt_id: prompt.prompt_id,
        });
        self.set_status(SessionStatus::Running, None);
        self.effect(Effect::Write(line.to_string()));
    }

    /// The prompt fails with `spawn_failed`, the session is `crashed`, the slot goes back.
    fn spawn_failed(&mut self, prompt: QueuedPrompt, message: String) {
        log::warn!("session {}: {message}", self.info.id);
        let error = PromptError {
            code: PromptFailure::SpawnFailed,
            message: message.clone(),
        };
        self.emit(EventData::PromptFailed {
            prompt_id: prompt.prompt_id,
            error,
        });
        self.set_status(SessionStatus::Crashed, Some(message));
        self.effect(Effect::Slot(SlotUse::Release));
        self.pump();
    }

    /// Asks the process to end: killed when deleted, else stdin is closed (after an interrupt
    /// when a prompt runs). Idle-only reasons wait while a turn runs.
    pub(super) fn stop_process(&mut self, reason: StopReason) {
        let running = self.agent.turn_running();
        let when_idle = matches!(
            reason,
            StopReason::Idle | StopReason::SlotNeeded | StopReason::RulesChanged
        );
        let Some(process) = &mut self.agent.process else {
            if matches!(reason, StopReason::Idle | StopReason::SlotNeeded) && !self.agent.busy() {
                // A slot held for a process that never came: give it back.
                self.effect(Effect::Slot(SlotUse::Release));
            }
            return;
        };
        if (when_idle && running) || (process.stopping.is_some() && reason != StopReason::Deleted) {
            return;
        }
        log::info!(
            "session {}: stopping agent {} ({reason:?})",
            self.info.id,
            process.id
        );
        process.stopping = Some(reason);
        if reason == StopReason::Deleted {
            return self.effect(Effect::Stop(StopMode::Kill));
        }
        if running && reason != StopReason::Shutdown {
            self.send_interrupt();
        }
        self.effect(Effect::Stop(StopMode::Graceful));
    }

    /// Shutdown: start nothing new. A parked prompt never started, so it is still queued in the
    /// store and runs after the restart.
    pub(super) fn drain(&mut self) {
        self.queue.drain();
        self.agent.parked = None;
        self.pump();
    }

    /// Shutdown's grace is over: stop the process, killing it when a turn still runs.
    pub(super) fn halt(&mut self) {
        let still_running = self.agent.turn_running();
        self.stop_process(StopReason::Shutdown);
        if still_running && self.agent.process.is_some() {
            self.effect(Effect::Stop(StopMode::Kill));
        }
    }

    /// Fails `prompt_id` with `code`.
    pub(super) fn fail_prompt(&mut self, prompt_id: PromptId, code: PromptFailure, message: &str) {
        let error = PromptError {
            code,
            message: message.to_string(),
        };
        self.emit(EventData::PromptFailed { prompt_id, error });
    }
}
