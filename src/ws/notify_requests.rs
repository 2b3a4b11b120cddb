//! The WebSocket requests of notifications (protocol §13.2): `client.viewing` (which session this
//! connection's app shows, so its device gets no push about it) and the settings requests that
//! mirror the REST routes. They are not session commands: the connection answers them itself.

use std::sync::Arc;

use actors::command::Caller;
use actors::error::RelayError;
use actors::ids::ConnectionId;
use actors::registry::Router;
use futures_util::future::{ready, BoxFuture, FutureExt};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::notify::presence::Viewer;
use crate::notify::requests::{self, LevelBody, SessionLevelBody};
use crate::notify::Notify;
use crate::protocol::fields;

/// The longest session id `client.viewing` takes.
const MAX_SESSION_ID: usize = 128;

#[derive(Deserialize)]
struct Viewing {
    session_id: Option<String>,
}

#[derive(Deserialize)]
struct OnSession {
    session_id: String,
    #[serde(flatten)]
    body: SessionLevelBody,
}

/// Who asks, and what a request may reach.
pub struct Asker {
    pub notify: Arc<Notify>,
    pub router: Router,
    pub caller: Caller,
    pub connection: ConnectionId,
    pub viewer: Viewer,
}

/// Whether `kind` is one of these requests.
pub fn handles(kind: &str) -> bool {
    kind == "client.viewing" || kind.starts_with("notifications.")
}

/// The answer to request `kind` when it is one of these; `None` for any other type.
pub fn answer(
    kind: &str,
    object: &Map<String, Value>,
    asker: Asker,
) -> Option<BoxFuture<'static, Result<Value, RelayError>>> {
    let Asker {
        notify,
        router,
        caller,
        connection,
        viewer,
    } = asker;
    Some(match kind {
        "client.viewing" => {
            let viewed =
                fields::<Viewing>(kind, object).and_then(
                    |Viewing { session_id }| match session_id {
                        Some(id) if id.is_empty() || id.len() > MAX_SESSION_ID => {
                            Err(RelayError::BadRequest(
                                "client.viewing: session_id is not a session id".into(),
                            ))
                        }
                        other => Ok(other),
                    },
                );
            let answered = viewed.map(|session| {
                notify.presence().set(&connection, viewer, session);
                json!({})
            });
            ready(answered).boxed()
        }
        "notifications.settings" => {
            async move { requests::settings(&notify, &caller).await }.boxed()
        }
        "notifications.set" => match fields::<LevelBody>(kind, &object_without_meta(object)) {
            Ok(body) => async move { requests::set_level(&notify, &caller, body).await }.boxed(),
            Err(error) => ready(Err(error)).boxed(),
        },
        "notifications.set_session" => match fields::<OnSession>(kind, object) {
            Ok(OnSession { session_id, body }) => async move {
                requests::set_session_level(&notify, &router, caller, session_id, body).await
            }
            .boxed(),
            Err(error) => ready(Err(error)).boxed(),
        },
        _ => return None,
    })
}

/// The request object without the frame's own `type` and `id` (for bodies that refuse unknown
/// fields).
fn object_without_meta(object: &Map<String, Value>) -> Map<String, Value> {
    let mut object = object.clone();
    object.remove("type");
    object.remove("id");
    object
}
