//! `GET /api/v1/permissions?status=pending`: the approval inbox over REST, every pending
//! permission request over the caller's sessions, oldest first. Answering one stays
//! `POST /api/v1/sessions/{id}/permissions/{request_id}`.

use actix_web::web;
use actors::command::PermissionsQuery;

use super::call;
use super::caller::HttpCaller;
use super::envelope::{Answer, ApiError};
use crate::protocol::reply_data;
use crate::server::AppState;

/// `GET /api/v1/permissions[?status=pending]` → `{permissions}`.
pub async fn pending(
    state: web::Data<AppState>,
    caller: HttpCaller,
    query: web::Query<PermissionsQuery>,
) -> Result<Answer, ApiError> {
    let command = query.command()?;
    let reply = call(&state, caller.0, command).await?;
    Ok(Answer::ok(reply_data(&reply)))
}
