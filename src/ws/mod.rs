//! `GET /ws`: the WebSocket transport of protocol v1 §3.
//!
//! The upgrade ([`upgrade`]) takes the socket from actix-http, so an open connection costs only
//! what it uses: each connection is an actix actor ([`connection::WsConnection`]) that reads
//! whole messages from the socket's reading half ([`inbound`]) and keeps the connection's state,
//! and a writer task ([`writer`]) that drains a bounded queue into the writing half. A client
//! that stops reading fills its queue and is cut off with 4008 without ever blocking the actor.

pub mod authn;
pub mod connection;
pub mod ending;
pub mod frames;
pub mod inbound;
pub mod notify_requests;
pub mod upgrade;
pub mod writer;

use actix::{Actor, AsyncContext};
use actix_codec::{AsyncRead, AsyncWrite};
use actix_web::HttpResponse;
use actors::client::ClientSink;
use actors::error::RelayError;
use actors::ids::ConnectionId;
use bytes::BytesMut;
use tokio::sync::mpsc;

use crate::server::AppState;
use connection::{ConnectionSettings, WsConnection};

/// Starts the actor and the writer of a connection whose upgrade was answered. `already_read`
/// holds bytes that arrived with the upgrade request.
pub fn start<T>(io: T, already_read: BytesMut, auth: authn::WsAuth, state: &AppState)
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let (reading, writing) = tokio::io::split(io);
    let max = state.config.limits.max_frame_bytes;
    let heartbeat = std::time::Duration::from_secs(state.config.server.heartbeat_s);
    // The limit after which a silent connection counts as gone.
    let close_patience = heartbeat * 3;
    let ending = ending::Ending::new(close_patience);
    let inbound = inbound::InboundFrames::new(reading, already_read, max, ending.clone());
    let id = ConnectionId::random();
    let (sink, outbound, overflow) =
        ClientSink::channel(id.clone(), state.config.limits.client_buffer);
    let (control_tx, control_rx) = mpsc::channel(writer::CONTROL_QUEUE);
    let settings = ConnectionSettings {
        heartbeat,
        close_patience,
        handshake_timeout: std::time::Duration::from_secs(
            state.config.auth.handshake_timeout_s.max(1),
        ),
        limits: state.limits.clone(),
        notify: state.notify.clone(),
    };
    let connection = WsConnection::new(
        id,
        auth,
        state.router.clone(),
        sink,
        control_tx,
        settings,
        ending.clone(),
    );
    let actor = WsConnection::create(|ctx| {
        ctx.add_stream(inbound);
        connection
    });
    let metrics = state.metrics.clone();
    actix::spawn(async move {
        let end = writer::run(writing, outbound, control_rx, overflow, metrics, ending).await;
        actor.do_send(connection::WriterFinished(end));
    });
}

/// `GET /ws` without `Connection: Upgrade`: a plain request cannot become a WebSocket.
pub async fn not_an_upgrade() -> Result<HttpResponse, crate::http::envelope::ApiError> {
    Err(RelayError::BadRequest(
        "GET /ws opens a WebSocket: send `Connection: Upgrade` and `Upgrade: websocket`".into(),
    )
    .into())
}
