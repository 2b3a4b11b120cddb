//! Protocol v1's request and answer shapes, shared by every transport: the fields each request
//! type takes (§3), how a [`Reply`] becomes the `data` of an answer, and the error object.
//! A transport parses with [`parse_command`] and answers with [`reply_data`]; it never builds a
//! command or an answer body any other way.

use actors::client::ClientSink;
use actors::command::{
    Command, CreateSession, EventsQuery, NewPrompt, PermissionAnswer, PermissionsQuery, RemoveRule,
    Reply, SessionOp, SetModel,
};
use actors::config::LimitsConfig;
use actors::error::RelayError;
use actors::inbox::InboxOp;
use actors::session_info::PermissionMode;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// A request that names a session.
#[derive(Deserialize)]
struct SessionRef {
    session_id: String,
}

#[derive(Deserialize)]
struct SubscribeFields {
    session_id: String,
    #[serde(default)]
    after_seq: Option<u64>,
}

/// A request on a session whose other fields are the request type `T`, the same type the HTTP
/// route of the operation takes (which has the session in its path).
#[derive(Deserialize)]
struct OnSession<T> {
    session_id: String,
    #[serde(flatten)]
    fields: T,
}

/// `claude.messages`: the conversation and the page (the query of the HTTP route).
#[derive(Deserialize)]
struct ClaudeMessagesFields {
    claude_session_id: String,
    #[serde(flatten)]
    query: actors::claude_history::MessagesQuery,
}

#[derive(Deserialize)]
struct ModeFields {
    session_id: String,
    permission_mode: PermissionMode,
}

/// Reads the fields of one request type out of a request object.
pub(crate) fn fields<T: DeserializeOwned>(
    kind: &str,
    object: &Map<String, Value>,
) -> Result<T, RelayError> {
    serde_json::from_value(Value::Object(object.clone()))
        .map_err(|error| RelayError::BadRequest(format!("{kind}: {error}")))
}

fn on_session(
    kind: &str,
    object: &Map<String, Value>,
    op: SessionOp,
) -> Result<Command, RelayError> {
    let SessionRef { session_id } = fields(kind, object)?;
    Ok(Command::Session { session_id, op })
}

/// Turns a request of type `kind` into a command. `sink` is where a subscription delivers;
/// `limits` bound a prompt's images. `ping` is not a command: transports answer it themselves.
pub fn parse_command(
    kind: &str,
    object: &Map<String, Value>,
    sink: Option<&ClientSink>,
    limits: &LimitsConfig,
) -> Result<Command, RelayError> {
    match kind {
        "session.create" => Ok(Command::Create(fields::<CreateSession>(kind, object)?)),
        "session.list" => Ok(Command::List),
        "session.get" => on_session(kind, object, SessionOp::Get),
        "session.subscribe" => {
            let SubscribeFields {
                session_id,
                after_seq,
            } = fields(kind, object)?;
            let sink = sink
                .cloned()
                .ok_or_else(|| RelayError::BadRequest("this transport cannot subscribe".into()))?;
            Ok(Command::Session {
                session_id,
                op: SessionOp::Subscribe {
                    after_seq: after_seq.unwrap_or(0),
                    sink,
                },
            })
        }
        "session.unsubscribe" => on_session(kind, object, SessionOp::Unsubscribe),
        "session.events" => {
            let OnSession { session_id, fields } = fields::<OnSession<EventsQuery>>(kind, object)?;
            Ok(Command::Session {
                session_id,
                op: SessionOp::Events(fields),
            })
        }
        "session.prompt" => {
            let OnSession { session_id, fields } = fields::<OnSession<NewPrompt>>(kind, object)?;
            Ok(Command::Session {
                session_id,
                op: fields.into_op(limits)?,
            })
        }
        "session.interrupt" => on_session(kind, object, SessionOp::Interrupt),
        "session.permission" => {
            let OnSession { session_id, fields } =
                fields::<OnSession<PermissionAnswer>>(kind, object)?;
            Ok(Command::Session {
                session_id,
                op: SessionOp::Permission(fields),
            })
        }
        "session.pause" => on_session(kind, object, SessionOp::Pause),
        "session.resume" => on_session(kind, object, SessionOp::Resume),
        "session.set_permission_mode" => {
            let ModeFields {
                session_id,
                permission_mode,
            } = fields(kind, object)?;
            Ok(Command::Session {
                session_id,
                op: SessionOp::SetPermissionMode(permission_mode),
            })
        }
        "session.set_model" => {
            let OnSession { session_id, fields } = fields::<OnSession<SetModel>>(kind, object)?;
            Ok(Command::Session {
                session_id,
                op: SessionOp::SetModel(fields),
            })
        }
        "session.capabilities" => on_session(kind, object, SessionOp::Capabilities),
        "session.remove_rule" => {
            let OnSession { session_id, fields } = fields::<OnSession<RemoveRule>>(kind, object)?;
            Ok(Command::Session {
                session_id,
                op: SessionOp::RemoveRule(fields),
            })
        }
        "session.stop" => on_session(kind, object, SessionOp::Stop),
        "permissions.list" => fields::<PermissionsQuery>(kind, object)?.command(),
        "inbox.subscribe" => {
            let sink = sink
                .cloned()
                .ok_or_else(|| RelayError::BadRequest("this transport cannot subscribe".into()))?;
            Ok(Command::Inbox(InboxOp::Subscribe { sink }))
        }
        "inbox.unsubscribe" => Ok(Command::Inbox(InboxOp::Unsubscribe)),
        "session.release" => on_session(kind, object, SessionOp::Release),
        "claude.sessions" => Ok(Command::ClaudeSessions(fields(kind, object)?)),
        "claude.messages" => {
            let ClaudeMessagesFields {
                claude_session_id,
                query,
            } = fields(kind, object)?;
            Ok(Command::ClaudeMessages {
                claude_session_id,
                query,
            })
        }
        "claude.running" => Ok(Command::ClaudeRunning),
        "session.delete" => on_session(kind, object, SessionOp::Delete),
        other => Err(RelayError::BadRequest(format!(
            "unknown request type {other:?}"
        ))),
    }
}

/// The `data` of a successful answer.
pub fn reply_data(reply: &Reply) -> Value {
    match reply {
        Reply::Session(session) => json!({ "session": session }),
        Reply::Sessions(sessions) => json!({ "sessions": sessions }),
        Reply::Subscribed {
            session, last_seq, ..
        } => json!({ "session": session, "last_seq": last_seq }),
        Reply::Prompt {
            prompt_id,
            position,
        } => json!({ "prompt_id": prompt_id, "position": position }),
        Reply::Events { events, last_seq } => {
            let events: Vec<Value> = events
                .iter()
                .map(|e| serde_json::from_str(&e.json).unwrap_or(Value::Null))
                .collect();
            json!({ "events": events, "last_seq": last_seq })
        }
        Reply::Interrupted(interrupted) => json!({ "interrupted": interrupted }),
        Reply::Dirs(answer) => serde_json::to_value(answer).unwrap_or(Value::Null),
        Reply::History(answer) => serde_json::to_value(answer).unwrap_or(Value::Null),
        Reply::Permission {
            rules_added: Some(rules),
        } => json!({ "rules_added": rules }),
        Reply::Permission { rules_added: None } => json!({}),
        Reply::Capabilities(view) => serde_json::to_value(view).unwrap_or(Value::Null),
        Reply::Permissions(permissions) | Reply::InboxSubscribed { permissions, .. } => {
            json!({ "permissions": permissions })
        }
        Reply::Empty => json!({}),
    }
}

/// The protocol's error object `{code, message, details?}`.
pub fn error_object(error: &RelayError) -> Value {
    serde_json::to_value(error.to_wire())
        .unwrap_or_else(|_| json!({"code": "internal", "message": "error"}))
}
