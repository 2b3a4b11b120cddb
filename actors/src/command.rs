//! The requests a client can make (protocol §3), independent of transport. The WebSocket and the
//! HTTP API parse their input into a [`Command`] and send it to the registry; both get the same
//! [`Reply`] or [`RelayError`](crate::error::RelayError) back.

use actix::Message;
use serde::Deserialize;
use serde_json::Value;

use crate::client::ClientSink;
use crate::config::LimitsConfig;
use crate::error::RelayResult;
use crate::ids::{ConnectionId, PermissionRequestId, PromptId, Seq, UserId};
use crate::prompt_images::{decode_all, ImageUpload, PromptImage};
use crate::session::Replay;
use crate::session_info::{PermissionMode, SessionInfo};

/// `session.create`'s fields.
#[derive(Clone, Debug, Deserialize)]
pub struct CreateSession {
    /// May be left out when resuming a conversation of Claude Code's history: its folder is used.
    #[serde(default)]
    pub cwd: String,
    #[serde(default)]
    pub stream_deltas: Option<bool>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    /// The effort level (`--effort`); checked against the pinned CLI's levels.
    #[serde(default)]
    pub effort: Option<String>,
    #[serde(default)]
    pub permission_mode: Option<PermissionMode>,
    #[serde(default)]
    pub resume_claude_session_id: Option<String>,
    /// Resume the conversation even though a terminal is running it right now.
    #[serde(default)]
    pub force: bool,
    /// Set by the registry once a history conversation is checked, never by a client.
    #[serde(skip)]
    pub continued_from: Option<crate::session_info::ContinuedFrom>,
}

/// A prompt to queue (`session.prompt`, `POST /api/v1/sessions/{id}/prompts`).
#[derive(Clone, Debug, Deserialize)]
pub struct NewPrompt {
    /// May be left out (or empty) when the prompt carries images.
    #[serde(default)]
    pub text: String,
    /// The client's id for it, so a retry is recognised; the relay picks one without it.
    #[serde(default)]
    pub prompt_id: Option<PromptId>,
    /// Images sent before the text, in this order (see [`crate::prompt_images`]).
    #[serde(default)]
    pub images: Vec<ImageUpload>,
}

impl NewPrompt {
    /// The session operation, with the images checked against `limits` and decoded.
    pub fn into_op(self, limits: &LimitsConfig) -> RelayResult<SessionOp> {
        Ok(SessionOp::Prompt {
            text: self.text,
            prompt_id: self.prompt_id,
            images: decode_all(self.images, limits)?,
        })
    }
}

/// A client's answer to a permission request (`session.permission`; over HTTP the path gives
/// `request_id`).
#[derive(Clone, Debug, Deserialize)]
pub struct PermissionAnswer {
    pub request_id: PermissionRequestId,
    pub decision: Decision,
    #[serde(default)]
    pub updated_input: Option<Value>,
    #[serde(default)]
    pub always: bool,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub interrupt: bool,
}

/// Which remembered "always" rule to forget (`session.remove_rule`,
/// `DELETE /api/v1/sessions/{id}/rules`): one string exactly as the session's `allowed_rules`
/// lists it.
#[derive(Clone, Debug, Deserialize)]
pub struct RemoveRule {
    pub rule: String,
}

/// Which permission requests to list (`permissions.list`, `GET /api/v1/permissions`): only
/// `pending` ones, the default; answered requests are in their session's events.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PermissionsQuery {
    #[serde(default)]
    pub status: Option<String>,
}

impl PermissionsQuery {
    /// The command it asks for; any `status` but `pending` is `bad_request`.
    pub fn command(&self) -> RelayResult<Command> {
        match self.status.as_deref() {
            None | Some("pending") => Ok(Command::PendingPermissions),
            Some(other) => Err(crate::error::RelayError::BadRequest(format!(
                "status {other:?} is not one this relay lists: only \"pending\" (answered requests are in each session's events)"
            ))),
        }
    }
}

/// `allow` or `deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Deny,
}

/// `session.set_model`'s fields (`POST /api/v1/sessions/{id}/model`): the model as the CLI
/// takes it (`opus`, `default`, a full name), and optionally an effort level.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SetModel {
    pub model: String,
    #[serde(default)]
    pub effort: Option<String>,
}

/// Which page of stored events to read (`session.events`, `GET /api/v1/sessions/{id}/events`):
/// the `limit` events after `after_seq`, or the `limit` events just before `before_seq` (never
/// both), in ascending order. Neither: from the start.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct EventsQuery {
    #[serde(default)]
    pub after_seq: Option<u64>,
    #[serde(default)]
    pub before_seq: Option<u64>,
    /// 1 to 1000 (values outside are brought inside); 100 when absent.
    #[serde(default)]
    pub limit: Option<usize>,
}

impl EventsQuery {
    /// The page after `after_seq`.
    pub fn after(after_seq: Seq, limit: usize) -> Self {
        EventsQuery {
            after_seq: Some(after_seq),
            before_seq: None,
            limit: Some(limit),
        }
    }
}

/// An operation on one existing session.
#[derive(Debug)]
pub enum SessionOp {
    Get,
    /// A page of stored events.
    Events(EventsQuery),
    Subscribe {
        after_seq: Seq,
        sink: ClientSink,
    },
    Unsubscribe,
    Prompt {
        text: String,
        prompt_id: Option<PromptId>,
        images: Vec<PromptImage>,
    },
    Interrupt,
    Permission(PermissionAnswer),
    Pause,
    Resume,
    SetPermissionMode(PermissionMode),
    /// Change the model (and effort): live through the CLI's `set_model`, else at the next start.
    SetModel(SetModel),
    /// What the session's Claude Code can do (`session.capabilities`).
    Capabilities,
    /// The session's open permission requests that are stored, for the approval inbox.
    PendingPermissions,
    /// Forget an "always" rule; the session's process is replaced before the next prompt.
    RemoveRule(RemoveRule),
    Stop,
    /// Stop the process so that a terminal may take the conversation over (`claude --resume`);
    /// the session stays and can be continued later.
    Release,
    Delete,
}

/// Every request of protocol §3 but `ping`, which each transport answers itself.
#[derive(Debug)]
pub enum Command {
    Create(CreateSession),
    List,
    /// The folder picker: the subdirectories of `path`, or without it the roots and the
    /// caller's recent working directories.
    Dirs {
        path: Option<String>,
    },
    /// Every pending permission request over the caller's sessions, oldest first
    /// (`permissions.list`, `GET /api/v1/permissions`).
    PendingPermissions,
    /// The approval inbox's live changes (`inbox.subscribe`, `inbox.unsubscribe`).
    Inbox(crate::inbox::InboxOp),
    /// This machine's Claude Code conversations (protocol §15).
    ClaudeSessions(crate::claude_history::ConversationsQuery),
    /// One of them's messages.
    ClaudeMessages {
        claude_session_id: String,
        query: crate::claude_history::MessagesQuery,
    },
    /// The Claude Code processes running in terminals.
    ClaudeRunning,
    /// `session_id` is the client's text; an unknown or malformed id is `not_found`.
    Session {
        session_id: String,
        op: SessionOp,
    },
}

/// Who is asking: every command runs on behalf of a user, through a connection when it has one.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: UserId,
    pub connection: Option<ConnectionId>,
}

/// A command on its way to the registry.
#[derive(Message)]
#[rtype(result = "RelayResult<Reply>")]
pub struct Request {
    pub caller: Caller,
    pub command: Command,
}

/// What a command answers with, before the transport shapes it.
#[derive(Debug)]
pub enum Reply {
    Session(SessionInfo),
    Sessions(Vec<SessionInfo>),
    /// The caller queues its answer, then runs `replay` to deliver the missed events (dropped
    /// unrun, it starts on its own).
    Subscribed {
        session: SessionInfo,
        last_seq: Seq,
        replay: Replay,
    },
    Prompt {
        prompt_id: PromptId,
        position: usize,
    },
    /// A page of stored events and the session's last seq.
    Events {
        events: Vec<std::sync::Arc<crate::event::EncodedEvent>>,
        last_seq: Seq,
    },
    /// `session.interrupt`: whether a running prompt was interrupted (false: nothing ran).
    Interrupted(bool),
    /// The folder picker's answer.
    Dirs(crate::dirs::DirsAnswer),
    /// An answer about Claude Code's own history.
    History(crate::claude_history::HistoryAnswer),
    /// `session.permission`: with `always`, the rules it remembered (empty: none was suggested,
    /// so it was a plain allow); `None` without `always`.
    Permission {
        rules_added: Option<Vec<String>>,
    },
    /// `session.capabilities`.
    Capabilities(crate::capabilities::CapabilitiesView),
    /// Pending permission requests, oldest first.
    Permissions(Vec<crate::inbox::Pending>),
    /// `inbox.subscribe`: the current list; the caller queues its answer, then drops `live`,
    /// and the changes since follow.
    InboxSubscribed {
        permissions: Vec<crate::inbox::Pending>,
        live: crate::inbox::InboxLive,
    },
    Empty,
}
