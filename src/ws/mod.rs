//! `GET /ws`: the WebSocket transport of protocol v1 §3.
//!
//! Built on `actix-ws` rather than the deprecated `actix-web-actors`, whose context buffers
//! outbound frames without bound and freezes the actor while a client stops reading. Here each
//! connection is still an actix actor ([`connection::WsConnection`]) for its inbound frames and
//! state, while a writer task ([`writer`]) drains a bounded queue into the socket.

pub mod authn;
pub mod connection;
pub mod frames;
pub mod writer;

use actix::{Actor, AsyncContext};
use actix_web::{web, HttpRequest, HttpResponse};
use actors::client::ClientSink;
use actors::ids::ConnectionId;
use tokio::sync::mpsc;

use crate::server::AppState;
use connection::{ConnectionSettings, WsConnection};

/// Upgrades the request and starts the connection's actor and writer.
pub async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> actix_web::Result<HttpResponse> {
    if let Some(refusal) =
        crate::http::origin::refuse_foreign_origin(&req, &state.config.cors.allowed_origins)
    {
        return Ok(refusal);
    }
    let (response, socket, stream) = actix_ws::handle(&req, body)?;
    let max = state.config.limits.max_frame_bytes;
    let stream = stream
        .max_frame_size(max)
        .aggregate_continuations()
        .max_continuation_size(max);
    let id = ConnectionId::random();
    let (sink, outbound, overflow) =
        ClientSink::channel(id.clone(), state.config.limits.client_buffer);
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    actix::spawn(writer::run(
        socket,
        outbound,
        control_rx,
        overflow,
        state.metrics.clone(),
    ));
    let settings = ConnectionSettings {
        heartbeat: std::time::Duration::from_secs(state.config.server.heartbeat_s),
        handshake_timeout: std::time::Duration::from_secs(
            state.config.auth.handshake_timeout_s.max(1),
        ),
        limits: state.limits.clone(),
    };
    let connection = WsConnection::new(
        id,
        authn::WsAuth::at_upgrade(&req, &state),
        state.registry.clone(),
        sink,
        control_tx,
        settings,
    );
    WsConnection::create(|ctx| {
        ctx.add_stream(stream);
        connection
    });
    Ok(response)
}
