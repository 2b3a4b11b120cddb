//! The control protocol between the session and its Claude process (requests both ways, matched
//! by `request_id`): ours (`interrupt`, `set_permission_mode`, `set_model`, `apply_flag_settings`
//! for a client; `initialize` and the mode probe for the session itself, see `capabilities`), the
//! CLI's `can_use_tool` and
//! `control_cancel_request`. Answers without a body (older CLIs send none for `interrupt`) and
//! unknown subtypes are handled without disturbing the session.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::{Effect, SessionCore};

/// The CLI's answer to one of our control requests: its `response` body, or its error text.
pub type ControlResult = Result<Value, String>;

/// A control request the session sends for itself, whose answer the core handles at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OwnRequest {
    /// `initialize`: what the CLI can do.
    Initialize,
    /// A mode no CLI accepts: the refusal names the valid ones.
    ModeProbe,
    /// Nothing to do with the answer (putting the mode back after an older CLI took the probe).
    Quiet,
}

/// Who waits for the answer to one of our control requests.
enum Waiter {
    /// A client's request, answered by the actor.
    Client(oneshot::Sender<ControlResult>),
    /// The session's own.
    Own(OwnRequest),
}

/// Our control requests still waiting for the CLI's answer.
#[derive(Default)]
pub struct HostControl {
    next_id: u64,
    pending: HashMap<String, Waiter>,
}

impl HostControl {
    /// A control request line for `request`, remembered with who waits for its answer.
    fn request(&mut self, request: Value, waiter: Waiter) -> String {
        self.next_id += 1;
        let request_id = format!("relay-{}", self.next_id);
        let line = json!({"type": "control_request", "request_id": request_id, "request": request});
        self.pending.insert(request_id, waiter);
        line.to_string()
    }

    /// Hands the answer to a waiting client; answers the session's own request it answers.
    fn resolve(&mut self, request_id: &str, result: ControlResult) -> Resolved {
        match self.pending.remove(request_id) {
            Some(Waiter::Client(waiter)) => {
                let _ = waiter.send(result);
                Resolved::Delivered
            }
            Some(Waiter::Own(own)) => Resolved::Own(own, result),
            None => Resolved::Unknown,
        }
    }

    /// The process is gone: nobody will answer.
    pub fn fail_all(&mut self, reason: &str) {
        for (_, waiter) in self.pending.drain() {
            if let Waiter::Client(waiter) = waiter {
                let _ = waiter.send(Err(reason.to_string()));
            }
        }
    }
}

/// What became of a control answer.
enum Resolved {
    Delivered,
    Own(OwnRequest, ControlResult),
    Unknown,
}

#[derive(Deserialize)]
struct ControlResponseLine {
    response: ControlResponseBody,
}

#[derive(Deserialize)]
struct ControlResponseBody {
    #[serde(default)]
    subtype: String,
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    response: Option<Value>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct ControlRequestLine {
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    request: Value,
}

#[derive(Deserialize)]
struct CancelLine {
    #[serde(default)]
    request_id: String,
}

impl SessionCore {
    /// Sends a control request to the process; `None` when there is none.
    pub(super) fn control_request(
        &mut self,
        request: Value,
    ) -> Option<oneshot::Receiver<ControlResult>> {
        self.agent.process.as_ref()?;
        let (tx, answer) = oneshot::channel();
        let line = self.control.request(request, Waiter::Client(tx));
        self.effect(Effect::Write(line));
        Some(answer)
    }

    /// Sends a control request of the session's own; its answer comes to `own_answer`.
    pub(super) fn own_request(&mut self, request: Value, own: OwnRequest) {
        if self.agent.process.is_none() {
            return;
        }
        let line = self.control.request(request, Waiter::Own(own));
        self.effect(Effect::Write(line));
    }

    /// Interrupts the running turn; its end is then reported as `interrupted`.
    pub(super) fn send_interrupt(&mut self) -> Option<oneshot::Receiver<ControlResult>> {
        self.agent.turn.as_mut()?.interrupted = true;
        self.control_request(json!({"subtype": "interrupt"}))
    }

    /// Writes a control response for one of the CLI's requests.
    pub(super) fn answer_cli(&mut self, request_id: &str, outcome: Result<Value, String>) {
        if self.agent.process.is_none() {
            return;
        }
        let response = match outcome {
            Ok(body) => json!({"subtype": "success", "request_id": request_id, "response": body}),
            Err(error) => json!({"subtype": "error", "request_id": request_id, "error": error}),
        };
        let line = json!({"type": "control_response", "response": response});
        self.effect(Effect::Write(line.to_string()));
    }

    pub(super) fn on_control_response(&mut self, raw: &RawValue) {
        let Ok(line) = serde_json::from_str::<ControlResponseLine>(raw.get()) else {
            log::warn!(
                "session {}: unreadable control_response from the agent",
                self.info.id
            );
            return;
        };
        let body = line.response;
        let result = if body.subtype == "success" {
            Ok(body.response.unwrap_or(Value::Null))
        } else {
            Err(body
                .error
                .unwrap_or_else(|| format!("the agent answered {}", body.subtype)))
        };
        match self.control.resolve(&body.request_id, result) {
            Resolved::Delivered => {}
            Resolved::Own(own, result) => self.own_answer(own, result),
            Resolved::Unknown => log::debug!(
                "session {}: control_response for unknown request {}",
                self.info.id,
                body.request_id
            ),
        }
    }

    pub(super) fn on_control_request(&mut self, raw: &RawValue) {
        let Ok(line) = serde_json::from_str::<ControlRequestLine>(raw.get()) else {
            log::warn!(
                "session {}: unreadable control_request from the agent",
                self.info.id
            );
            return;
        };
        match line.request.get("subtype").and_then(Value::as_str) {
            Some("can_use_tool") => self.on_permission_request(line.request_id, line.request),
            other => {
                log::info!(
                    "session {}: agent asked unsupported control {other:?}",
                    self.info.id
                );
                let error = Err(format!("unsupported request {other:?}"));
                self.answer_cli(&line.request_id, error);
            }
        }
    }

    pub(super) fn on_control_cancel(&mut self, raw: &RawValue) {
        if let Ok(line) = serde_json::from_str::<CancelLine>(raw.get()) {
            // While we end the process (`session.stop`), the CLI cancels its open request because
            // of the interrupt we sent to stop it: the request is moot because the process ends.
            let stopping = self
                .agent
                .process
                .as_ref()
                .is_some_and(|p| p.stopping.is_some());
            let reason = if stopping {
                "process_exited"
            } else {
                "agent_cancelled"
            };
            self.cancel_permission_by_cli_id(&line.request_id, reason);
        }
    }
}
