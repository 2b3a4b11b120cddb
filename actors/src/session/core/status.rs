//! The session's status: the one place it changes, with its `session.status` event and the
//! per-status gauge.

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
