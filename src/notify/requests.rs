//! The notification settings requests, one implementation for both transports: the REST routes
//! (`/api/v1/notifications/settings`, `/api/v1/sessions/{id}/notifications`) and the WebSocket
//! requests (`notifications.settings`, `notifications.set`, `notifications.set_session`).

use actors::command::{Caller, Command, Request, SessionOp};
use actors::error::RelayError;
use actors::registry::Router;
use serde::Deserialize;
use serde_json::Value;

use super::rules::Level;
use super::{Notify, Settings};

/// The body of `PUT /api/v1/notifications/settings` and `notifications.set`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelBody {
    pub level: Level,
}

/// The body of `PUT /api/v1/sessions/{id}/notifications` and `notifications.set_session`
/// (`null` or missing: the session follows the user's level).
#[derive(Deserialize)]
pub struct SessionLevelBody {
    #[serde(default)]
    pub level: Option<Level>,
}

fn data(settings: &Settings) -> Value {
    serde_json::to_value(settings).unwrap_or(Value::Null)
}

/// `caller`'s settings.
pub async fn settings(notify: &Notify, caller: &Caller) -> Result<Value, RelayError> {
    Ok(data(&notify.settings(caller.user.as_str()).await?))
}

/// Sets `caller`'s own level.
pub async fn set_level(
    notify: &Notify,
    caller: &Caller,
    body: LevelBody,
) -> Result<Value, RelayError> {
    let settings = notify
        .set_level(caller.user.as_str(), None, Some(body.level))
        .await?;
    Ok(data(&settings))
}

/// Sets the level of `caller`'s session `session_id`; another user's session, or none, is
/// `not_found` (asked of the session itself, as every session request is).
pub async fn set_session_level(
    notify: &Notify,
    router: &Router,
    caller: Caller,
    session_id: String,
    body: SessionLevelBody,
) -> Result<Value, RelayError> {
    let user = caller.user.clone();
    router
        .send(Request {
            caller,
            command: Command::Session {
                session_id: session_id.clone(),
                op: SessionOp::Get,
            },
        })
        .await?;
    let settings = notify
        .set_level(user.as_str(), Some(&session_id), body.level)
        .await?;
    Ok(data(&settings))
}
