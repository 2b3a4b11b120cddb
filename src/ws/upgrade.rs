//! The WebSocket upgrade (`GET /ws` with `Connection: Upgrade`), taken over from actix-http.
//!
//! actix-http hands every upgrade request here together with the raw connection, before its
//! HTTP dispatcher has tied two 8 KiB buffers to the socket for the connection's lifetime. This
//! service checks the path, the `Host` and `Origin` (the server's [`crate::perimeter::Perimeter`]) and the handshake, answers `101` (or an error in the
//! envelope of protocol §4, then closes), and gives the bare socket to [`super::start`]. The
//! answer carries `X-Request-Id` and the security headers like every other response, is logged
//! in the same line format and counted in `http_requests_total` under the route `/ws`.

use std::time::Instant;

use actix_codec::{AsyncRead, AsyncWrite, Framed};
use actix_http::body::BodySize;
use actix_http::h1::{Codec, Message};
use actix_http::header::{self, HeaderValue};
use actix_http::{ws, ConnectionType, HttpMessage, Request, Response};
use actix_service::{fn_service, ServiceFactory};
use actix_web::web;
use actors::error::RelayError;
use bytes::Bytes;
use futures_util::SinkExt;
use serde_json::json;

use super::authn::WsAuth;
use crate::http::envelope::status_for;
use crate::http::headers::add_security_headers;
use crate::http::request_id;
use crate::protocol::error_object;
use crate::server::AppState;

/// The path that serves WebSockets.
pub const PATH: &str = "/ws";

/// Why an upgrade failed.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error("answering the upgrade: {0}")]
    Answer(#[from] actix_http::error::DispatchError),
    #[error("answering the upgrade: {0}")]
    Io(#[from] std::io::Error),
}

impl From<UpgradeError> for Response<actix_http::body::BoxBody> {
    fn from(_: UpgradeError) -> Self {
        Response::internal_server_error().map_into_boxed_body()
    }
}

/// The upgrade service for connections of type `T` (plain TCP or TLS).
pub fn service<T>(
    state: web::Data<AppState>,
) -> impl ServiceFactory<
    (Request, Framed<T, Codec>),
    Config = (),
    Response = (),
    Error = UpgradeError,
    InitError = (),
>
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
{
    fn_service(move |(req, framed): (Request, Framed<T, Codec>)| {
        let state = state.clone();
        async move { accept(req, framed, state).await }
    })
}

/// Answers one upgrade request and, when it succeeds, starts the connection.
async fn accept<T>(
    req: Request,
    mut framed: Framed<T, Codec>,
    state: web::Data<AppState>,
) -> Result<(), UpgradeError>
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let started = Instant::now();
    let request_id = request_id::assign(req.headers());
    let https = state.config.tls.enabled();
    let refusal = if req.path() != PATH {
        Some(RelayError::NotFound(format!(
            "no WebSocket at {}; it is served at {PATH}",
            req.path()
        )))
    } else {
        state.perimeter.check_upgrade(req.headers()).err()
    };
    let handshake = match refusal {
        Some(error) => Err(error),
        None => ws::handshake(req.head())
            .map_err(|error| RelayError::BadRequest(format!("WebSocket handshake: {error}"))),
    };
    let (mut head, body) = match handshake {
        Ok(mut builder) => (builder.finish().drop_body(), None),
        Err(error) => {
            let body = json!({
                "success": false,
                "error": error_object(&error),
                "request_id": request_id,
            });
            let mut head = Response::with_body(status_for(error.code()), ()).drop_body();
            head.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            head.head_mut().set_connection_type(ConnectionType::Close);
            (head, Some(Bytes::from(body.to_string())))
        }
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        head.headers_mut()
            .insert(header::HeaderName::from_static(request_id::HEADER), value);
    }
    add_security_headers(head.headers_mut(), https);
    let status = head.status();
    request_id::Answered {
        peer: crate::client_addr::client_ip(
            req.peer_addr().map(|a| a.ip()),
            req.headers(),
            &state.config.server.trusted_proxies,
        ),
        method: req.method(),
        path: req.path(),
        route: PATH.to_string(),
        status: status.as_u16(),
        started,
        id: &request_id,
    }
    .record(Some(&state.metrics));
    match body {
        Some(body) => {
            let size = BodySize::Sized(body.len() as u64);
            framed.send(Message::Item((head, size))).await?;
            framed.send(Message::Chunk(Some(body))).await?;
            framed.send(Message::Chunk(None)).await?;
            Ok(())
        }
        None => {
            framed.send(Message::Item((head, BodySize::None))).await?;
            let query = req.uri().query().unwrap_or("");
            let auth = WsAuth::at_upgrade(req.headers(), query, &state).await;
            let parts = framed.into_parts();
            // Bytes the client sent right after its request are its first frames.
            super::start(parts.io, parts.read_buf, auth, &state);
            Ok(())
        }
    }
}
