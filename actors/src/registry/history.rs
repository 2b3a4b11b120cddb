//! The commands about this machine's Claude Code history ([`crate::claude_history`]): who may
//! read it and where it lives for the caller, the reads run on tokio's blocking threads, and the
//! look-up `session.create` makes to continue one of its conversations.

use std::path::PathBuf;

use actix::prelude::*;

use super::dirs::blocking;
use super::Registry;
use crate::claude_history::{
    claude_home, may_read_history, HistoryAnswer, HistoryError, HistoryPlace, RunningRef,
};
use crate::command::{Caller, Command, Reply};
use crate::error::{RelayError, RelayResult};
use crate::ids::UserId;

/// What `session.create` learned about the conversation it resumes.
pub(super) struct ResumeCheck {
    /// From Claude Code's history: its folder, which the session runs in.
    pub folder: Option<PathBuf>,
    /// From Claude Code's history: how many messages it has now.
    pub messages: Option<usize>,
}

impl Registry {
    /// Where `user`'s history is read, if they may read it.
    fn history_place(&self, user: &UserId) -> RelayResult<HistoryPlace> {
        let sessions = &self.config.sessions;
        let allowed = may_read_history(
            sessions.history_users.as_deref(),
            self.config.auth_enabled,
            user.as_str(),
        );
        if !allowed {
            return Err(HistoryError::NotAllowed.into());
        }
        let account = self.os_account_of(user)?;
        let home = claude_home(&self.config.claude, account.as_ref()).ok_or_else(|| {
            RelayError::Unavailable("no HOME to read Claude Code's history in".into())
        })?;
        let roots = match &account {
            Some(account) => sessions.roots_for_home(&account.home),
            None => sessions.resolved_roots(),
        };
        Ok(HistoryPlace { home, roots })
    }

    /// `Command::ClaudeSessions`, `ClaudeMessages` and `ClaudeRunning`.
    pub(super) fn history(
        &self,
        caller: &Caller,
        command: Command,
    ) -> ResponseActFuture<Self, RelayResult<Reply>> {
        let place = match self.history_place(&caller.user) {
            Ok(place) => place,
            // A conversation the caller may not see is one that does not exist.
            Err(RelayError::Forbidden(_)) if matches!(command, Command::ClaudeMessages { .. }) => {
                let id = match &command {
                    Command::ClaudeMessages {
                        claude_session_id, ..
                    } => claude_session_id.clone(),
                    _ => String::new(),
                };
                return Box::pin(actix::fut::ready(Err(HistoryError::NotFound(id).into())));
            }
            Err(error) => return Box::pin(actix::fut::ready(Err(error))),
        };
        let index = self.history.clone();
        let read = blocking(move || {
            let answer = match command {
                Command::ClaudeSessions(query) => {
                    HistoryAnswer::Conversations(index.list(&place, &query)?)
                }
                Command::ClaudeMessages {
                    claude_session_id,
                    query,
                } => HistoryAnswer::Messages(index.messages(&place, &claude_session_id, &query)?),
                _ => HistoryAnswer::Running(index.running(&place)),
            };
            Ok(Reply::History(answer))
        });
        Box::pin(read.into_actor(self))
    }

    /// Whether `user` owns a session that ran conversation `id`.
    pub(super) fn owns_conversation(&self, user: &UserId, id: &str) -> bool {
        self.sessions
            .values()
            .any(|entry| &entry.owner == user && entry.conversations.contains(id))
    }

    /// Checks a resumed conversation before the session is created: one of the caller's own, or
    /// one of Claude Code's history the caller may see (else `not_found`); refused with
    /// `conflict` while a terminal runs it, unless `force`.
    pub(super) fn check_resume_source(
        &self,
        user: &UserId,
        id: String,
        force: bool,
    ) -> impl std::future::Future<Output = RelayResult<ResumeCheck>> {
        let not_an_id = uuid::Uuid::try_parse(&id).is_err();
        let own = self.owns_conversation(user, &id);
        let place = if not_an_id {
            Err(RelayError::BadRequest(
                "resume_claude_session_id must be a Claude Code session id (a UUID)".into(),
            ))
        } else if own {
            // The caller's own conversation: only the terminals are looked at.
            let account = self.os_account_of(user);
            account.map(|account| {
                claude_home(&self.config.claude, account.as_ref()).map(|home| HistoryPlace {
                    home,
                    roots: Vec::new(),
                })
            })
        } else {
            self.history_place(user)
                .map(Some)
                .map_err(|error| match error {
                    RelayError::Forbidden(_) => not_yours(&id),
                    other => other,
                })
        };
        let index = self.history.clone();
        blocking(move || {
            let place = place?;
            let (running, folder, messages) = match (own, place) {
                (true, Some(place)) => (index.running_of(&place, &id), None, None),
                (true, None) => (None, None, None),
                (false, Some(place)) => {
                    let found = index.find(&place, &id).map_err(|_| not_yours(&id))?;
                    let messages = found.conversation.message_count;
                    (
                        found.conversation.running,
                        Some(found.folder),
                        Some(messages),
                    )
                }
                (false, None) => return Err(not_yours(&id)),
            };
            if let (Some(RunningRef { pid, status }), false) = (running, force) {
                log::info!(
                    "session.create refused: conversation {id} runs in a terminal (pid {pid})"
                );
                return Err(RelayError::InUse {
                    message: format!(
                        "conversation {id} is running in a terminal right now (pid {pid}); \
                         continuing it here too would mix two writers: ask again with \
                         force: true to do it anyway"
                    ),
                    pid,
                    status,
                });
            }
            Ok(ResumeCheck { folder, messages })
        })
    }
}

fn not_yours(id: &str) -> RelayError {
    RelayError::NotFound(format!(
        "no conversation {id} among your sessions or in Claude Code's history here"
    ))
}
