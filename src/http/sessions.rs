//! `/api/v1/sessions` and `/api/v1/clients`: the REST face of the same registry commands the
//! WebSocket sends, with the same request types. Each handler reads its input, runs one command
//! through [`call`], and answers in the envelope.

use actix_web::http::StatusCode;
use actix_web::web;
use actors::command::{
    Command, CreateSession, EventsQuery, PermissionAnswer, RemoveRule, SessionOp,
};
use actors::error::RelayError;
use actors::registry::ListClients;
use serde_json::{json, Map, Value};

use super::call;
use super::caller::HttpCaller;
use super::envelope::{Answer, ApiError};
use super::extract::with_path;
use crate::protocol::reply_data;
use crate::server::AppState;

/// Runs `command` and answers its data with `status`.
async fn run(
    state: &AppState,
    caller: HttpCaller,
    command: Command,
    status: StatusCode,
) -> Result<Answer, ApiError> {
    let reply = call(state, caller.0, command).await?;
    Ok(Answer::with_status(status, reply_data(&reply)))
}

/// Runs `op` on the session named in the path.
async fn on_session(
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: String,
    op: SessionOp,
) -> Result<Answer, ApiError> {
    let command = Command::Session { session_id: id, op };
    run(&state, caller, command, StatusCode::OK).await
}

/// `GET /api/v1/sessions`.
pub async fn list(state: web::Data<AppState>, caller: HttpCaller) -> Result<Answer, ApiError> {
    run(&state, caller, Command::List, StatusCode::OK).await
}

/// `POST /api/v1/sessions` → 201 `{session}`.
pub async fn create(
    state: web::Data<AppState>,
    caller: HttpCaller,
    body: web::Json<CreateSession>,
) -> Result<Answer, ApiError> {
    let command = Command::Create(body.into_inner());
    run(&state, caller, command, StatusCode::CREATED).await
}

/// `GET /api/v1/sessions/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
) -> Result<Answer, ApiError> {
    on_session(state, caller, id.into_inner(), SessionOp::Get).await
}

/// `DELETE /api/v1/sessions/{id}` → `{}`.
pub async fn delete(
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
) -> Result<Answer, ApiError> {
    on_session(state, caller, id.into_inner(), SessionOp::Delete).await
}

/// `POST /api/v1/sessions/{id}/interrupt`.
pub async fn interrupt(
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
) -> Result<Answer, ApiError> {
    on_session(state, caller, id.into_inner(), SessionOp::Interrupt).await
}

/// `POST /api/v1/sessions/{id}/stop`.
pub async fn stop(
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
) -> Result<Answer, ApiError> {
    on_session(state, caller, id.into_inner(), SessionOp::Stop).await
}

/// `POST /api/v1/sessions/{id}/release`: stops the process so that a terminal may take the
/// conversation over; the session stays.
pub async fn release(
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
) -> Result<Answer, ApiError> {
    on_session(state, caller, id.into_inner(), SessionOp::Release).await
}

/// `POST /api/v1/sessions/{id}/pause`.
pub async fn pause(
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
) -> Result<Answer, ApiError> {
    on_session(state, caller, id.into_inner(), SessionOp::Pause).await
}

/// `POST /api/v1/sessions/{id}/resume`.
pub async fn resume(
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
) -> Result<Answer, ApiError> {
    on_session(state, caller, id.into_inner(), SessionOp::Resume).await
}

/// `POST /api/v1/sessions/{id}/permissions/{request_id}`: the body is `session.permission`'s
/// [`PermissionAnswer`] without its `request_id`, which the path gives.
pub async fn permission(
    state: web::Data<AppState>,
    caller: HttpCaller,
    path: web::Path<(String, String)>,
    body: web::Json<Map<String, Value>>,
) -> Result<Answer, ApiError> {
    let (id, request_id) = path.into_inner();
    let answer: PermissionAnswer = with_path(body.into_inner(), &[("request_id", request_id)])?;
    on_session(state, caller, id, SessionOp::Permission(answer)).await
}

/// `DELETE /api/v1/sessions/{id}/rules` with `{"rule": "Bash(npm test)"}` → `{session}`: forgets
/// one "allow always" rule (the same request as the WebSocket's `session.remove_rule`).
pub async fn remove_rule(
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
    body: web::Json<RemoveRule>,
) -> Result<Answer, ApiError> {
    let op = SessionOp::RemoveRule(body.into_inner());
    on_session(state, caller, id.into_inner(), op).await
}

/// `GET /api/v1/sessions/{id}/events?after_seq=N&limit=M` or `?before_seq=N&limit=M` →
/// `{events, last_seq}`: the request `session.events` makes over the WebSocket.
pub async fn events(
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
    query: web::Query<EventsQuery>,
) -> Result<Answer, ApiError> {
    let op = SessionOp::Events(query.into_inner());
    on_session(state, caller, id.into_inner(), op).await
}

/// `GET /api/v1/clients`: the caller's connected clients.
pub async fn clients(state: web::Data<AppState>, caller: HttpCaller) -> Result<Answer, ApiError> {
    let clients = state
        .registry
        .send(ListClients(caller.0.user))
        .await
        .map_err(|_| RelayError::Unavailable("the server is shutting down".into()))?;
    Ok(Answer::ok(json!({ "clients": clients })))
}
