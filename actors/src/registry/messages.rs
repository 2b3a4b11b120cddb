//! The messages the registry takes besides client [`Request`](crate::command::Request)s: clients
//! coming and going, sessions going away, statistics and shutdown.

use std::time::Duration;

use actix::prelude::*;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::ids::{ConnectionId, SessionId, UserId};

/// A connected client, as `GET /api/v1/clients` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ClientInfo {
    pub connection_id: ConnectionId,
    #[serde(skip)]
    pub user: UserId,
    pub transport: &'static str,
    /// What the client says about itself, as compact JSON (see [`client_description`]).
    pub client: Box<RawValue>,
    pub capabilities: Vec<String>,
    pub connected_at: String,
    pub subscriptions: Vec<SessionId>,
    /// Tells the connection to close because the server is going away.
    #[serde(skip)]
    pub closer: Recipient<GoingAway>,
}

/// The most a client's description may take; a longer one is kept as `null`.
pub const MAX_CLIENT_DESCRIPTION: usize = 1024;

/// A client's description (`hello.client`, or its user agent) kept as compact JSON text rather
/// than a tree of values: one small allocation for each of thousands of connections. Anything but
/// an object, or one over [`MAX_CLIENT_DESCRIPTION`] bytes, becomes `null`.
pub fn client_description(value: Option<&Value>) -> Box<RawValue> {
    value
        .filter(|v| v.is_object())
        .and_then(|v| serde_json::value::to_raw_value(v).ok())
        .filter(|raw| raw.get().len() <= MAX_CLIENT_DESCRIPTION)
        // The default is `null`.
        .unwrap_or_default()
}

/// The server is going away: close the connection (WebSocket code 1001).
#[derive(Message)]
#[rtype(result = "()")]
pub struct GoingAway;

/// A client connected (after its handshake).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ClientConnected(pub ClientInfo);

/// A client went away: its subscriptions end.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ClientDisconnected(pub ConnectionId);

/// A client subscribed to a session, or unsubscribed, through the [`Router`](super::Router):
/// its subscriptions end with it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SubscriptionChanged {
    pub connection: ConnectionId,
    pub session: SessionId,
    pub subscribed: bool,
}

/// The connected clients of one user.
#[derive(Message)]
#[rtype(result = "Vec<ClientInfo>")]
pub struct ListClients(pub UserId);

/// A session actor stopped (deleted).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionGone {
    pub id: SessionId,
}

/// A session's Claude Code reported its conversation id: from now on its owner may resume that
/// conversation in a new session (`resume_claude_session_id`), and nobody else may.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ConversationSeen {
    pub session: SessionId,
    pub claude_session_id: String,
}

/// Shut down: start no new prompt, let running ones finish for up to `grace`, stop every agent
/// and write everything down. Resolves when done.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown {
    pub grace: Duration,
}

/// How many sessions and clients the registry knows (for `/health` and metrics).
#[derive(Message)]
#[rtype(result = "RegistryStats")]
pub struct Stats;

/// Counts for monitoring.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RegistryStats {
    pub sessions: usize,
    pub clients: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_client_description_is_a_small_object_or_null() {
        let phone = json!({"name": "phone", "version": "1.2"});
        assert_eq!(
            client_description(Some(&phone)).get(),
            r#"{"name":"phone","version":"1.2"}"#
        );
        assert_eq!(client_description(None).get(), "null");
        assert_eq!(client_description(Some(&json!("phone"))).get(), "null");
        let huge = json!({"name": "x".repeat(MAX_CLIENT_DESCRIPTION)});
        assert_eq!(client_description(Some(&huge)).get(), "null");
    }
}
