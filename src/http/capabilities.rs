//! `/api/v1/sessions/{id}/capabilities` and `/api/v1/sessions/{id}/model`: what the session's
//! Claude Code can do (protocol §16), and changing its model, the REST face of
//! `session.capabilities` and `session.set_model`.

use actix_web::web;
use actors::command::{SessionOp, SetModel};

use super::caller::HttpCaller;
use super::envelope::{Answer, ApiError};
use super::sessions::on_session;
use crate::server::AppState;

/// `GET /api/v1/sessions/{id}/capabilities` → `{known, capabilities, permission_modes, …}`.
pub async fn get(
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
) -> Result<Answer, ApiError> {
    on_session(state, caller, id.into_inner(), SessionOp::Capabilities).await
}

/// `POST /api/v1/sessions/{id}/model` with `{model, effort?}` → `{session}`.
pub async fn set_model(
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
    body: web::Json<SetModel>,
) -> Result<Answer, ApiError> {
    let op = SessionOp::SetModel(body.into_inner());
    on_session(state, caller, id.into_inner(), op).await
}
