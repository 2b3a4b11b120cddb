//! `GET /api/v1/dirs`: the folder picker of the app's "new session" screen. With `?path=` the
//! subdirectories of that directory (inside `sessions.allowed_roots`), without it the roots and
//! the caller's recent working directories. The registry answers it ([`actors::dirs`]), reading
//! the filesystem on blocking threads.

use actix_web::web;
use actors::command::Command;
use serde::Deserialize;

use super::call;
use super::caller::HttpCaller;
use super::envelope::{Answer, ApiError};
use crate::protocol::reply_data;
use crate::server::AppState;

/// `?path=<absolute path>`.
#[derive(Deserialize)]
pub struct DirsQuery {
    #[serde(default)]
    path: Option<String>,
}

/// `GET /api/v1/dirs[?path=…]` → `{path, parent, dirs, truncated}` or `{roots, recent}`.
pub async fn dirs(
    state: web::Data<AppState>,
    caller: HttpCaller,
    query: web::Query<DirsQuery>,
) -> Result<Answer, ApiError> {
    let command = Command::Dirs {
        path: query.into_inner().path,
    };
    let reply = call(&state, caller.0, command).await?;
    Ok(Answer::ok(reply_data(&reply)))
}
