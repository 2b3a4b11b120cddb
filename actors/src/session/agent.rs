//! The session's side of its Claude process: starting it for a prompt, turning its lines into
//! events, and cleaning up when it ends.

use actix::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::{AgentHandle, Session};
use crate::claude_process::{
    AgentEvent, AgentSignal, ClaudeProcess, LaunchSpec, LineHead, StopAgent, StopMode, WriteLine,
};
use crate::event::{EventData, PromptError, PromptFailure, PromptOutcome};
use crate::queue::{QueueCommand, QueuedPrompt};
use crate::session_info::SessionStatus;

/// Why the session asked its process to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentStopReason {
    /// Idle longer than `claude.idle_timeout_s`.
    Idle,
    /// Another session needs the process slot.
    SlotNeeded,
    /// A client asked (`session.stop`).
    Client,
    /// The session is being deleted.
    Deleted,
    /// The server is shutting down.
    Shutdown,
    /// A client removed an "always" rule the process still holds.
    RulesChanged,
}

/// What the queue processor tells its session.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub enum QueueSignal {
    /// Run this prompt now (a process slot is held).
    Run(QueuedPrompt),
    /// The next prompt waits for a process slot.
    Waiting,
    /// Stop the idle process.
    StopAgent(AgentStopReason),
}

/// The fields of Claude's `result` message that `prompt.completed` reports.
#[derive(Deserialize, Default)]
struct ResultMessage {
    #[serde(default)]
    subtype: Option<String>,
    #[serde(default)]
    is_error: bool,
    #[serde(default)]
    result: Option<String>,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    total_cost_usd: Option<f64>,
    #[serde(default)]
    duration_ms: Option<u64>,
    #[serde(default)]
    num_turns: Option<u64>,
    #[serde(default)]
    usage: Option<Value>,
}

impl Handler<QueueSignal> for Session {
    type Result = ();

    fn handle(&mut self, msg: QueueSignal, ctx: &mut Context<Self>) {
        match msg {
            QueueSignal::Run(prompt) => self.run_prompt(prompt, ctx),
            QueueSignal::Waiting => {
                if self.running.is_none() {
                    self.set_status(
                        SessionStatus::Waiting,
                        Some("no agent slot free".into()),
                        ctx,
                    );
                }
            }
            QueueSignal::StopAgent(reason) => self.stop_agent(reason, ctx),
        }
    }
}

impl Session {
    fn run_prompt(&mut self, prompt: QueuedPrompt, ctx: &mut Context<Self>) {
        self.info.queue_length = self.info.queue_length.saturating_sub(1);
        let Some(prompt) = self.park_if_stale(prompt, ctx) else {
            return;
        };
        if self.agent.is_none() && !self.start_agent(&prompt, ctx) {
            return;
        }
        let Some(agent) = &self.agent else {
            return;
        };
        let turn = serde_json::json!({
            "type": "user",
            "message": {"role": "user", "content": prompt.text},
            "parent_tool_use_id": null,
            "session_id": "",
        });
        let addr = agent.addr.clone();
        self.running = Some(prompt.prompt_id.clone());
        self.interrupted = false;
        self.emit(
            EventData::PromptStarted {
                prompt_id: prompt.prompt_id,
            },
            ctx,
        );
        self.set_status(SessionStatus::Running, None, ctx);
        addr.do_send(WriteLine(turn.to_string()));
    }

    /// Starts the Claude process; on failure the prompt fails with `spawn_failed`.
    fn start_agent(&mut self, prompt: &QueuedPrompt, ctx: &mut Context<Self>) -> bool {
        self.set_status(SessionStatus::Starting, None, ctx);
        let config = self.deps.config.clone();
        let run_as = match config.run_as.for_user(self.info.owner.as_str()) {
            Ok(account) => account.cloned(),
            Err(error) => {
                self.spawn_failed(prompt, error.to_string(), ctx);
                return false;
            }
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
        let id = self.next_agent_id;
        self.next_agent_id += 1;
        let backlog = self.backlog.clone();
        match ClaudeProcess::launch(
            id,
            &spec,
            &config.claude,
            ctx.address().recipient(),
            backlog,
        ) {
            Ok(addr) => {
                self.deps.metrics.agents_running.inc();
                self.agent = Some(AgentHandle {
                    id,
                    addr,
                    stopping: None,
                    stale: false,
                });
                true
            }
            Err(error) => {
                let program = spec.program(&config.claude);
                let message = match &spec.run_as {
                    Some(account) => format!(
                        "cannot start `{program}` to run `{}` as {} (claude.run_as): {error}",
                        config.claude.binary, account.name
                    ),
                    None => format!("cannot start `{program}`: {error}"),
                };
                self.spawn_failed(prompt, message, ctx);
                false
            }
        }
    }

    /// The prompt fails with `spawn_failed` and the session is `crashed`.
    fn spawn_failed(&mut self, prompt: &QueuedPrompt, message: String, ctx: &mut Context<Self>) {
        log::warn!("session {}: {message}", self.info.id);
        self.emit(
            EventData::PromptFailed {
                prompt_id: prompt.prompt_id.clone(),
                error: PromptError {
                    code: PromptFailure::SpawnFailed,
                    message: message.clone(),
                },
            },
            ctx,
        );
        self.set_status(SessionStatus::Crashed, Some(message), ctx);
        self.queue(QueueCommand::TurnEnded);
        self.queue(QueueCommand::AgentGone);
    }

    /// Asks the process to end: killed when deleted, else stdin is closed (after an interrupt
    /// when a prompt runs) and it is killed if it lingers.
    pub(super) fn stop_agent(&mut self, reason: AgentStopReason, ctx: &mut Context<Self>) {
        let running = self.running.is_some();
        let Some(agent) = &mut self.agent else {
            if matches!(reason, AgentStopReason::Idle | AgentStopReason::SlotNeeded) {
                self.queue(QueueCommand::AgentGone);
            }
            return;
        };
        let when_idle = matches!(
            reason,
            AgentStopReason::Idle | AgentStopReason::SlotNeeded | AgentStopReason::RulesChanged
        );
        if when_idle && running {
            return;
        }
        if agent.stopping.is_some() && reason != AgentStopReason::Deleted {
            return;
        }
        log::info!(
            "session {}: stopping agent {} ({reason:?})",
            self.info.id,
            agent.id
        );
        agent.stopping = Some(reason);
        let addr = agent.addr.clone();
        if reason == AgentStopReason::Deleted {
            addr.do_send(StopAgent(StopMode::Kill));
            return;
        }
        if running && reason != AgentStopReason::Shutdown {
            self.send_interrupt(ctx);
        }
        addr.do_send(StopAgent(StopMode::Graceful));
    }

    fn on_line(&mut self, head: LineHead, raw: Box<RawValue>, ctx: &mut Context<Self>) {
        match head.kind.as_deref() {
            Some("stream_event") => {
                if self.info.stream_deltas {
                    self.send_delta(&raw);
                }
            }
            Some("control_request") => self.on_control_request(&raw, ctx),
            Some("control_response") => self.on_control_response(&raw),
            Some("control_cancel_request") => self.on_control_cancel(&raw, ctx),
            kind => {
                let is_result = kind == Some("result");
                let is_init = kind == Some("system") && head.subtype.as_deref() == Some("init");
                let result = is_result
                    .then(|| serde_json::from_str::<ResultMessage>(raw.get()).unwrap_or_default());
                self.emit(EventData::AgentOutput { message: raw }, ctx);
                if is_init {
                    self.learn_claude_session(head.session_id, ctx);
                }
                if let Some(result) = result {
                    self.on_result(result, ctx);
                }
            }
        }
    }

    /// Remembers Claude's own session id, so the next process resumes the conversation.
    fn learn_claude_session(&mut self, id: Option<String>, ctx: &mut Context<Self>) {
        if id.is_some() && id != self.info.claude_session_id {
            if let Some(claude_session_id) = id.clone() {
                self.deps
                    .conversations
                    .do_send(crate::registry::ConversationSeen {
                        session: self.info.id,
                        claude_session_id,
                    });
            }
            self.info.claude_session_id = id;
            self.announce_update(ctx);
        }
    }

    fn on_result(&mut self, result: ResultMessage, ctx: &mut Context<Self>) {
        self.learn_claude_session(result.session_id.clone(), ctx);
        let Some(prompt_id) = self.running.take() else {
            return;
        };
        let interrupted = std::mem::take(&mut self.interrupted)
            && result.subtype.as_deref() == Some("error_during_execution");
        if interrupted {
            let stopping = self.agent.as_ref().and_then(|a| a.stopping);
            let (code, message) = match stopping {
                Some(AgentStopReason::Client) => {
                    (PromptFailure::SessionStopped, "the session was stopped")
                }
                _ => (PromptFailure::Interrupted, "interrupted"),
            };
            self.emit(
                EventData::PromptFailed {
                    prompt_id,
                    error: PromptError {
                        code,
                        message: message.into(),
                    },
                },
                ctx,
            );
        } else {
            self.emit(
                EventData::PromptCompleted(PromptOutcome {
                    prompt_id,
                    is_error: result.is_error,
                    result: result.result,
                    claude_session_id: result.session_id,
                    cost_usd: result.total_cost_usd,
                    duration_ms: result.duration_ms,
                    num_turns: result.num_turns,
                    usage: result.usage,
                }),
                ctx,
            );
        }
        self.cancel_permissions("interrupted", ctx);
        self.set_status(SessionStatus::Idle, None, ctx);
        self.notify_turn_ended();
        self.queue(QueueCommand::TurnEnded);
    }

    fn on_exit(
        &mut self,
        code: Option<i32>,
        signal: Option<i32>,
        expected: bool,
        ctx: &mut Context<Self>,
    ) {
        let stopping = self.agent.take().and_then(|agent| agent.stopping);
        self.deps.metrics.agents_running.dec();
        let expected = expected || stopping.is_some();
        self.emit(
            EventData::AgentExited {
                code,
                signal,
                expected,
            },
            ctx,
        );
        self.control.fail_all("the agent process exited");
        self.cancel_permissions("process_exited", ctx);
        if let Some(prompt_id) = self.running.take() {
            let (code, message) = match stopping {
                Some(AgentStopReason::Client) => (
                    PromptFailure::SessionStopped,
                    "the session was stopped".to_string(),
                ),
                Some(AgentStopReason::Deleted) => (
                    PromptFailure::SessionDeleted,
                    "the session was deleted".to_string(),
                ),
                Some(AgentStopReason::Shutdown) => (
                    PromptFailure::ServerRestarted,
                    "the server shut down".to_string(),
                ),
                _ => (PromptFailure::AgentCrashed, exit_description(code, signal)),
            };
            self.emit(
                EventData::PromptFailed {
                    prompt_id,
                    error: PromptError { code, message },
                },
                ctx,
            );
        }
        if expected {
            self.set_status(SessionStatus::Stopped, None, ctx);
        } else {
            self.set_status(
                SessionStatus::Crashed,
                Some(exit_description(code, signal)),
                ctx,
            );
        }
        for waiter in self.stop_waiters.drain(..) {
            let _ = waiter.send(());
        }
        self.notify_turn_ended();
        match self.parked.take() {
            // The queue still holds the slot for it: the new process takes the old one's place.
            Some(prompt) => {
                // `run_prompt` takes it out of the queue's count again.
                self.info.queue_length += 1;
                self.run_prompt(prompt, ctx);
            }
            None => self.queue(QueueCommand::AgentGone),
        }
    }
}

/// "exited with code 3", "killed by signal 9".
fn exit_description(code: Option<i32>, signal: Option<i32>) -> String {
    match (code, signal) {
        (Some(code), _) => format!("the agent exited with code {code}"),
        (None, Some(signal)) => format!("the agent was killed by signal {signal}"),
        _ => "the agent ended".to_string(),
    }
}

impl Handler<AgentEvent> for Session {
    type Result = ();

    fn handle(&mut self, msg: AgentEvent, ctx: &mut Context<Self>) {
        if self.agent.as_ref().map(|a| a.id) != Some(msg.agent) {
            return;
        }
        match msg.signal {
            AgentSignal::Line(head, raw) => self.on_line(head, raw, ctx),
            AgentSignal::Invalid { text, error } => {
                log::warn!(
                    "session {}: agent wrote a line that is not JSON: {error}",
                    self.info.id
                );
                self.emit(EventData::AgentInvalidOutput { text, error }, ctx);
            }
            AgentSignal::Stderr(text) => {
                self.emit(EventData::AgentStderr { text }, ctx);
            }
            AgentSignal::Exited {
                code,
                signal,
                expected,
            } => self.on_exit(code, signal, expected, ctx),
        }
    }
}
