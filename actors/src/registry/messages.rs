//! The messages the registry takes besides client [`Request`](crate::command::Request)s: clients
//! coming and going, sessions going away, statistics and shutdown.

use std::time::Duration;

use actix::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::ids::{ConnectionId, SessionId, UserId};

/// A connected client, as `GET /api/v1/clients` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ClientInfo {
    pub connection_id: ConnectionId,
    #[serde(skip)]
    pub user: UserId,
    pub transport: &'static str,
    pub client: Value,
    pub capabilities: Vec<String>,
    pub connected_at: String,
    pub subscriptions: Vec<SessionId>,
    /// Tells the connection to close because the server is going away.
    #[serde(skip)]
    pub closer: Recipient<GoingAway>,
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
