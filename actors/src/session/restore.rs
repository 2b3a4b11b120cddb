//! Bringing a stored session back after a restart: its log continues at the stored seq, its
//! waiting prompts go back to the queue, and what the old process was doing is closed plainly
//! (the running prompt fails with `server_restarted`, open permission requests are cancelled).

use actix::prelude::*;

use super::{Session, SessionDeps};
use crate::event::{EventData, PromptError, PromptFailure, ResolvedBy};
use crate::ids::PromptId;
use crate::queue::QueuedPrompt;
use crate::session_info::SessionStatus;
use crate::store::StoredSession;

/// What a restored session must close when it starts.
#[derive(Default)]
pub struct Leftovers {
    running: Vec<PromptId>,
}

impl Session {
    /// A session read back from the store.
    pub fn restore(stored: StoredSession, deps: SessionDeps) -> Self {
        let last_seq = stored.info.last_seq;
        let mut session = Session::with_state(stored.info, deps, last_seq);
        session.info.queue_length = 0;
        for prompt in stored.prompts {
            // seq 0: already durable, a retry answers at once.
            session
                .prompts
                .insert(prompt.prompt_id.clone(), (prompt.position, 0));
            match prompt.state.as_str() {
                "queued" => {
                    session.info.queue_length += 1;
                    session.restored_queue.push(QueuedPrompt {
                        prompt_id: prompt.prompt_id,
                        text: prompt.text,
                    });
                }
                "running" => session.leftovers.running.push(prompt.prompt_id),
                _ => {}
            }
        }
        session
    }

    /// Closes what the previous server left open; runs when the actor starts.
    pub(super) fn close_leftovers(&mut self, ctx: &mut Context<Self>) {
        for prompt_id in std::mem::take(&mut self.leftovers.running) {
            self.emit(
                EventData::PromptFailed {
                    prompt_id,
                    error: PromptError {
                        code: PromptFailure::ServerRestarted,
                        message: "the server restarted while this prompt ran".into(),
                    },
                },
                ctx,
            );
        }
        for request_id in std::mem::take(&mut self.info.pending_permissions) {
            self.permissions.mark_closed(request_id.clone());
            self.emit(
                EventData::PermissionResolved {
                    request_id,
                    decision: "cancelled",
                    by: ResolvedBy::Reason {
                        reason: "server_restarted".into(),
                    },
                    rules_added: None,
                },
                ctx,
            );
        }
        if self.info.status != SessionStatus::Stopped && self.log.stored_seq() > 0 {
            self.set_status(SessionStatus::Stopped, Some("server_restarted".into()), ctx);
        }
    }
}
