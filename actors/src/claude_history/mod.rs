//! This machine's Claude Code history: the conversations the CLI keeps under
//! `<HOME>/.claude/projects/<folder>/<session id>.jsonl` and the terminals running one right now
//! (`<HOME>/.claude/sessions/<pid>.json`). These files are Claude Code's own: they are read
//! tolerantly (unknown line types, garbage, a half-written last line are skipped) and never
//! written, and only conversations whose folder lies inside `sessions.allowed_roots` are shown.

mod access;
mod index;
mod lines;
mod running;
mod summary;
mod transcript;

#[cfg(test)]
mod tests;

pub use access::{claude_home, may_read_history, HistoryPlace};
pub use index::{
    Conversation, ConversationsPage, ConversationsQuery, Found, HistoryIndex, MessagesPage,
    MessagesQuery, RunningList, RunningRef,
};
pub use running::{is_alive, RunningTerminal};

use crate::error::RelayError;

/// Why a history request was refused.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// Unknown, outside the roots, or not the caller's to see: one answer.
    #[error("no Claude Code conversation {0} here")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error(
        "this server does not show you Claude Code's own history (sessions.history_users does \
         not list you)"
    )]
    NotAllowed,
}

impl From<HistoryError> for RelayError {
    fn from(error: HistoryError) -> Self {
        match error {
            HistoryError::NotFound(_) => RelayError::NotFound(error.to_string()),
            HistoryError::BadRequest(_) => RelayError::BadRequest(error.to_string()),
            HistoryError::NotAllowed => RelayError::Forbidden(error.to_string()),
        }
    }
}

/// The answers of the history requests.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(untagged)]
pub enum HistoryAnswer {
    Conversations(ConversationsPage),
    Messages(MessagesPage),
    Running(RunningList),
}
