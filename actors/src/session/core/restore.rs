//! A session's beginnings: a brand-new one records `session.created`; one read back after a
//! restart continues its log at the stored seq, puts its waiting prompts back in the queue, and
//! closes plainly what the old process was doing (the running prompt fails with
//! `server_restarted`, open permission requests are cancelled).

use std::sync::Arc;

use super::queue::PromptQueue;
use super::{Answer, SessionCore};
use crate::config::DomainConfig;
use crate::event::{EventData, PromptFailure, ResolvedBy};
use crate::metrics::RelayMetrics;
use crate::session_info::SessionStatus;
use crate::store::StoredSession;

impl SessionCore {
    /// A session read back from the store; what it left open closes at [`super::Input::Start`].
    pub fn restore(
        stored: StoredSession,
        config: Arc<DomainConfig>,
        metrics: Arc<RelayMetrics>,
    ) -> Self {
        let (queue, running) = PromptQueue::restore(stored.prompts, stored.info.paused);
        let capabilities = stored.capabilities;
        SessionCore::with(stored.info, config, metrics, queue, running, capabilities)
    }

    /// Records `session.created`, answered with the session object once stored.
    pub(super) fn created(&mut self) {
        self.touch();
        let mut session = self.info();
        session.last_seq = 1;
        let seq = self.emit(EventData::SessionCreated { session });
        self.give(Answer::Stored { seq, reply: None });
    }

    /// Closes what the previous server left open, then starts what waits.
    pub(super) fn start(&mut self) {
        for prompt_id in std::mem::take(&mut self.leftovers) {
            let message = "the server restarted while this prompt ran";
            self.fail_prompt(prompt_id, PromptFailure::ServerRestarted, message);
        }
        // Requests of a process that is gone: closed, and known as closed (`conflict`).
        for request_id in std::mem::take(&mut self.info.pending_permissions) {
            self.permissions.mark_closed(request_id.clone());
            self.emit(EventData::PermissionResolved {
                request_id,
                decision: "cancelled",
                by: ResolvedBy::Reason {
                    reason: "server_restarted".into(),
                },
                rules_added: None,
            });
        }
        if self.status != SessionStatus::Stopped && self.log.stored_seq() > 0 {
            self.set_status(SessionStatus::Stopped, Some("server_restarted".into()));
        }
        self.pump();
    }
}
