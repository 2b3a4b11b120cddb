//! The session's status: the one place it changes, with its `session.status` event and the
//! per-status gauge; and the prompt metrics, counted as prompts start and end.

use std::time::Instant;

use super::SessionCore;
use crate::event::EventData;
use crate::session_info::SessionStatus;

impl SessionCore {
    /// Changes the status, with a `session.status` event when it really changed.
    pub(super) fn set_status(&mut self, status: SessionStatus, reason: Option<String>) {
        if self.status == status {
            return;
        }
        self.metrics
            .session_status(Some(status_name(self.status)), Some(status_name(status)));
        log::info!("session {}: status {:?}", self.info.id, status);
        self.status = status;
        self.touch();
        self.emit(EventData::SessionStatus { status, reason });
    }

    /// Records the prompt metrics for a prompt's start or end.
    pub(super) fn count_prompt(&mut self, data: &EventData) {
        let (prompt_id, outcome) = match data {
            EventData::PromptStarted { prompt_id } => {
                self.prompt_clock = Some((prompt_id.clone(), Instant::now()));
                return;
            }
            EventData::PromptCompleted(outcome) if outcome.is_error => {
                (&outcome.prompt_id, "error")
            }
            EventData::PromptCompleted(outcome) => (&outcome.prompt_id, "completed"),
            EventData::PromptFailed { prompt_id, error } => (prompt_id, error.code.as_str()),
            _ => return,
        };
        let seconds = match &self.prompt_clock {
            Some((running, started)) if running == prompt_id => {
                Some(started.elapsed().as_secs_f64())
            }
            _ => None,
        };
        if seconds.is_some() {
            self.prompt_clock = None;
        }
        self.metrics.prompt_ended(outcome, seconds);
    }
}

/// A status's name on the wire, as a metrics label.
pub fn status_name(status: SessionStatus) -> &'static str {
    match status {
        SessionStatus::Idle => "idle",
        SessionStatus::Waiting => "waiting",
        SessionStatus::Starting => "starting",
        SessionStatus::Running => "running",
        SessionStatus::AwaitingPermission => "awaiting_permission",
        SessionStatus::Stopped => "stopped",
        SessionStatus::Crashed => "crashed",
    }
}
