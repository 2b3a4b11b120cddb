//! The HTTP surface (protocol §4): monitoring routes, and the REST API that calls the same
//! registry commands as the WebSocket.

pub mod app;
pub mod auth_routes;
pub mod caller;
pub mod claude;
pub mod device_routes;
pub mod dirs;
pub mod envelope;
pub mod export;
pub mod extract;
pub mod guards;
pub mod headers;
pub mod health;
pub mod metrics;
pub mod notify_routes;
pub mod openapi;
pub mod permissions;
pub mod prompts;
pub mod ready;
pub mod request_id;
pub mod revoked;
pub mod sessions;
pub mod stream;

use actix_web::web;
use actors::command::{Caller, Command, Reply, Request};
use actors::error::RelayError;

use crate::server::AppState;

/// Runs a command on behalf of `caller`: the one way a route runs an operation.
pub async fn call(state: &AppState, caller: Caller, command: Command) -> Result<Reply, RelayError> {
    state.router.send(Request { caller, command }).await
}

/// Any other path: `not_found` in the envelope.
pub fn no_route(req: &actix_web::HttpRequest) -> envelope::ApiError {
    RelayError::NotFound(format!("no route {} {}", req.method(), req.path())).into()
}

/// Registers every HTTP route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health::health))
        .route("/ready", web::get().to(ready::ready))
        .route("/metrics", web::get().to(metrics::metrics))
        .route("/ws", web::get().to(crate::ws::not_an_upgrade))
        .route("/api/v1/openapi.json", web::get().to(openapi::openapi))
        .route(
            "/api/v1/auth/challenge",
            web::post().to(auth_routes::challenge),
        )
        .route("/api/v1/auth/verify", web::post().to(auth_routes::verify))
        .route("/api/v1/auth/info", web::get().to(device_routes::info))
        .route("/api/v1/auth/pair", web::post().to(device_routes::pair))
        .route("/api/v1/devices", web::get().to(device_routes::list))
        .route(
            "/api/v1/devices/{id}",
            web::delete().to(device_routes::revoke),
        )
        .route("/api/v1/push/vapid", web::get().to(notify_routes::vapid))
        .route(
            "/api/v1/push/subscriptions",
            web::get().to(notify_routes::list),
        )
        .route(
            "/api/v1/push/subscriptions",
            web::post().to(notify_routes::subscribe),
        )
        .route(
            "/api/v1/push/subscriptions/{id}",
            web::delete().to(notify_routes::unsubscribe),
        )
        .route(
            "/api/v1/notifications/settings",
            web::get().to(notify_routes::settings),
        )
        .route(
            "/api/v1/notifications/settings",
            web::put().to(notify_routes::set_level),
        )
        .route(
            "/api/v1/sessions/{id}/notifications",
            web::put().to(notify_routes::set_session_level),
        )
        .route("/api/v1/clients", web::get().to(sessions::clients))
        .route("/api/v1/dirs", web::get().to(dirs::dirs))
        .route("/api/v1/permissions", web::get().to(permissions::pending))
        .route("/api/v1/claude/sessions", web::get().to(claude::sessions))
        .route(
            "/api/v1/claude/sessions/{claude_session_id}/messages",
            web::get().to(claude::messages),
        )
        .route("/api/v1/claude/running", web::get().to(claude::running))
        .route("/api/v1/sessions", web::get().to(sessions::list))
        .route("/api/v1/sessions", web::post().to(sessions::create))
        .route("/api/v1/sessions/{id}", web::get().to(sessions::get))
        .route("/api/v1/sessions/{id}", web::delete().to(sessions::delete))
        .route(
            "/api/v1/sessions/{id}/interrupt",
            web::post().to(sessions::interrupt),
        )
        .route("/api/v1/sessions/{id}/stop", web::post().to(sessions::stop))
        .route(
            "/api/v1/sessions/{id}/release",
            web::post().to(sessions::release),
        )
        .route(
            "/api/v1/sessions/{id}/pause",
            web::post().to(sessions::pause),
        )
        .route(
            "/api/v1/sessions/{id}/resume",
            web::post().to(sessions::resume),
        )
        .route(
            "/api/v1/sessions/{id}/permissions/{request_id}",
            web::post().to(sessions::permission),
        )
        .route(
            "/api/v1/sessions/{id}/rules",
            web::delete().to(sessions::remove_rule),
        )
        .route(
            "/api/v1/sessions/{id}/events",
            web::get().to(sessions::events),
        )
        .route(
            "/api/v1/sessions/{id}/stream",
            web::get().to(stream::stream),
        )
        .route(
            "/api/v1/sessions/{id}/prompts",
            web::post().to(prompts::prompt),
        )
        .route(
            "/api/v1/sessions/{id}/export",
            web::get().to(export::export),
        );
}
