//! `/api/v1/sessions` and `/api/v1/clients`: the REST face of the same registry commands the
//! WebSocket sends. Each handler reads its input, runs one command through [`call`], and answers
//! in the envelope.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use actors::command::{
    Command, CreateSession, Decision, EventsQuery, PermissionAnswer, RemoveRule, SessionOp,
};
use actors::ids::PermissionRequestId;
use actors::registry::ListClients;
use serde::Deserialize;
use serde_json::{json, Value};

use super::call;
use super::caller::HttpCaller;
use super::envelope::respond;
use crate::protocol::reply_data;
use crate::server::AppState;

/// Runs `command` and answers its data with `status`.
async fn run(
    req: &HttpRequest,
    state: &AppState,
    caller: HttpCaller,
    command: Command,
    status: StatusCode,
) -> HttpResponse {
    let result = call(state, caller.0, command)
        .await
        .map(|reply| reply_data(&reply));
    respond(req, status, result)
}

/// Runs `op` on the session named in the path.
async fn on_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: String,
    op: SessionOp,
) -> HttpResponse {
    run(
        &req,
        &state,
        caller,
        Command::Session { session_id: id, op },
        StatusCode::OK,
    )
    .await
}

/// `GET /api/v1/sessions`.
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: HttpCaller,
) -> HttpResponse {
    run(&req, &state, caller, Command::List, StatusCode::OK).await
}

/// `POST /api/v1/sessions` → 201 `{session}`.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: HttpCaller,
    body: web::Json<CreateSession>,
) -> HttpResponse {
    run(
        &req,
        &state,
        caller,
        Command::Create(body.into_inner()),
        StatusCode::CREATED,
    )
    .await
}

/// `GET /api/v1/sessions/{id}`.
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
) -> HttpResponse {
    on_session(req, state, caller, id.into_inner(), SessionOp::Get).await
}

/// `DELETE /api/v1/sessions/{id}` → `{}`.
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
) -> HttpResponse {
    on_session(req, state, caller, id.into_inner(), SessionOp::Delete).await
}

/// `POST /api/v1/sessions/{id}/interrupt`.
pub async fn interrupt(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
) -> HttpResponse {
    on_session(req, state, caller, id.into_inner(), SessionOp::Interrupt).await
}

/// `POST /api/v1/sessions/{id}/stop`.
pub async fn stop(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
) -> HttpResponse {
    on_session(req, state, caller, id.into_inner(), SessionOp::Stop).await
}

/// `POST /api/v1/sessions/{id}/pause`.
pub async fn pause(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
) -> HttpResponse {
    on_session(req, state, caller, id.into_inner(), SessionOp::Pause).await
}

/// `POST /api/v1/sessions/{id}/resume`.
pub async fn resume(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
) -> HttpResponse {
    on_session(req, state, caller, id.into_inner(), SessionOp::Resume).await
}

/// The body of `POST …/permissions/{request_id}`.
#[derive(Deserialize)]
pub struct PermissionBody {
    decision: Decision,
    #[serde(default)]
    updated_input: Option<Value>,
    #[serde(default)]
    always: bool,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    interrupt: bool,
}

/// `POST /api/v1/sessions/{id}/permissions/{request_id}`.
pub async fn permission(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: HttpCaller,
    path: web::Path<(String, String)>,
    body: web::Json<PermissionBody>,
) -> HttpResponse {
    let (id, request_id) = path.into_inner();
    let body = body.into_inner();
    let answer = PermissionAnswer {
        request_id: PermissionRequestId::new(request_id),
        decision: body.decision,
        updated_input: body.updated_input,
        always: body.always,
        message: body.message,
        interrupt: body.interrupt,
    };
    on_session(req, state, caller, id, SessionOp::Permission(answer)).await
}

/// `DELETE /api/v1/sessions/{id}/rules` with `{"rule": "Bash(npm test)"}` → `{session}`: forgets
/// one "allow always" rule (the same request as the WebSocket's `session.remove_rule`).
pub async fn remove_rule(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
    body: web::Json<RemoveRule>,
) -> HttpResponse {
    let op = SessionOp::RemoveRule(body.into_inner());
    on_session(req, state, caller, id.into_inner(), op).await
}

/// `GET /api/v1/sessions/{id}/events?after_seq=N&limit=M` or `?before_seq=N&limit=M` →
/// `{events, last_seq}`: the request `session.events` makes over the WebSocket.
pub async fn events(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
    query: web::Query<EventsQuery>,
) -> HttpResponse {
    let op = SessionOp::Events(query.into_inner());
    on_session(req, state, caller, id.into_inner(), op).await
}

/// `GET /api/v1/clients`: the caller's connected clients.
pub async fn clients(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: HttpCaller,
) -> HttpResponse {
    let result = state
        .registry
        .send(ListClients(caller.0.user))
        .await
        .map(|clients| json!({ "clients": clients }))
        .map_err(|_| actors::error::RelayError::Unavailable("the server is shutting down".into()));
    respond(&req, StatusCode::OK, result)
}
