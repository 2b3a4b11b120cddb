//! What the process says, turned into events: its stdout lines (`agent.output`, or a live delta
//! for `stream_event`; control lines go to `control`), the `result` that ends a turn, stderr,
//! and its exit, which ends whatever it was doing.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::{Effect, SessionCore, StopReason};
use crate::claude_process::{AgentSignal, LineHead};
use crate::event::{EventData, PromptFailure, PromptOutcome};
use crate::queue::SlotUse;
use crate::session_info::SessionStatus;

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

impl SessionCore {
    /// A report of process `agent`; a previous process's last words are ignored.
    pub(super) fn on_agent(&mut self, agent: u64, signal: AgentSignal) {
        if self.agent.process.as_ref().map(|p| p.id) != Some(agent) {
            return;
        }
        match signal {
            AgentSignal::Line(head, raw) => self.on_line(head, raw),
            AgentSignal::Invalid { text, error } => {
                log::warn!(
                    "session {}: agent wrote a line that is not JSON: {error}",
                    self.info.id
                );
                self.emit(EventData::AgentInvalidOutput { text, error });
            }
            AgentSignal::Stderr(text) => {
                self.emit(EventData::AgentStderr { text });
            }
            AgentSignal::Exited {
                code,
                signal,
                expected,
            } => self.on_exit(code, signal, expected),
        }
    }

    fn on_line(&mut self, head: LineHead, raw: Box<RawValue>) {
        match head.kind.as_deref() {
            Some("stream_event") => {
                if self.info.stream_deltas {
                    self.effect(Effect::Delta(raw));
                }
            }
            Some("control_request") => self.on_control_request(&raw),
            Some("control_response") => self.on_control_response(&raw),
            Some("control_cancel_request") => self.on_control_cancel(&raw),
            kind => {
                let is_result = kind == Some("result");
                let is_init = kind == Some("system") && head.subtype.as_deref() == Some("init");
                let result = is_result
                    .then(|| serde_json::from_str::<ResultMessage>(raw.get()).unwrap_or_default());
                self.emit(EventData::AgentOutput { message: raw });
                if is_init {
                    self.learn_claude_session(head.session_id);
                }
                if let Some(result) = result {
                    self.on_result(result);
                }
            }
        }
    }

    /// Remembers Claude's own session id, so the next process resumes the conversation.
    fn learn_claude_session(&mut self, id: Option<String>) {
        let Some(id) = id else {
            return;
        };
        if Some(&id) == self.info.claude_session_id.as_ref() {
            return;
        }
        self.effect(Effect::ConversationSeen(id.clone()));
        self.info.claude_session_id = Some(id);
        self.announce_update();
    }

    fn on_result(&mut self, result: ResultMessage) {
        self.learn_claude_session(result.session_id.clone());
        let Some(turn) = self.agent.turn.take() else {
            return;
        };
        let interrupted =
            turn.interrupted && result.subtype.as_deref() == Some("error_during_execution");
        if interrupted {
            let stopping = self.agent.process.as_ref().and_then(|p| p.stopping);
            let (code, message) = match stopping {
                Some(StopReason::Client | StopReason::Released) => {
                    (PromptFailure::SessionStopped, "the session was stopped")
                }
                _ => (PromptFailure::Interrupted, "interrupted"),
            };
            self.fail_prompt(turn.prompt_id, code, message);
        } else {
            self.emit(EventData::PromptCompleted(PromptOutcome {
                prompt_id: turn.prompt_id,
                is_error: result.is_error,
                result: result.result,
                claude_session_id: result.session_id,
                cost_usd: result.total_cost_usd,
                duration_ms: result.duration_ms,
                num_turns: result.num_turns,
                usage: result.usage,
            }));
        }
        self.cancel_permissions("interrupted");
        self.set_status(SessionStatus::Idle, None);
        self.effect(Effect::TurnEnded);
        self.pump();
    }

    /// The process ended: its turn and its requests end with it, and the slot goes back unless
    /// a parked prompt takes the process's place.
    fn on_exit(&mut self, code: Option<i32>, signal: Option<i32>, expected: bool) {
        let stopping = self.agent.process.take().and_then(|p| p.stopping);
        self.metrics.agents_running.dec();
        let expected = expected || stopping.is_some();
        self.emit(EventData::AgentExited {
            code,
            signal,
            expected,
        });
        self.control.fail_all("the agent process exited");
        self.cancel_permissions("process_exited");
        if let Some(turn) = self.agent.turn.take() {
            let (code, message) = match stopping {
                Some(StopReason::Client | StopReason::Released) => (
                    PromptFailure::SessionStopped,
                    "the session was stopped".to_string(),
                ),
                Some(StopReason::Deleted) => (
                    PromptFailure::SessionDeleted,
                    "the session was deleted".to_string(),
                ),
                Some(StopReason::Shutdown) => (
                    PromptFailure::ServerRestarted,
                    "the server shut down".to_string(),
                ),
                _ => (PromptFailure::AgentCrashed, exit_description(code, signal)),
            };
            self.fail_prompt(turn.prompt_id, code, &message);
        }
        if expected {
            let reason = (stopping == Some(StopReason::Released))
                .then(|| super::requests::RELEASED.to_string());
            self.set_status(SessionStatus::Stopped, reason);
        } else {
            let reason = Some(exit_description(code, signal));
            self.set_status(SessionStatus::Crashed, reason);
        }
        self.effect(Effect::ProcessGone);
        self.effect(Effect::TurnEnded);
        match self.agent.parked.take() {
            // The slot is still held for it: the new process takes the old one's place.
            Some(prompt) => self.start_prompt(prompt),
            None => {
                self.effect(Effect::Slot(SlotUse::Release));
                self.pump();
            }
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
