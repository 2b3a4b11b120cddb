//! `/api/v1/claude/…`: this machine's Claude Code history (protocol §15), the REST face of the
//! `claude.sessions`, `claude.messages` and `claude.running` requests. The registry answers
//! them ([`actors::claude_history`]), reading Claude Code's files read-only on blocking threads.

use actix_web::web;
use actors::claude_history::{ConversationsQuery, MessagesQuery};
use actors::command::Command;

use super::call;
use super::caller::HttpCaller;
use super::envelope::{Answer, ApiError};
use crate::protocol::reply_data;
use crate::server::AppState;

async fn run(state: &AppState, caller: HttpCaller, command: Command) -> Result<Answer, ApiError> {
    let reply = call(state, caller.0, command).await?;
    Ok(Answer::ok(reply_data(&reply)))
}

/// `GET /api/v1/claude/sessions?cwd=&limit=&cursor=&running=` → `{sessions, next_cursor}`.
pub async fn sessions(
    state: web::Data<AppState>,
    caller: HttpCaller,
    query: web::Query<ConversationsQuery>,
) -> Result<Answer, ApiError> {
    run(&state, caller, Command::ClaudeSessions(query.into_inner())).await
}

/// `GET /api/v1/claude/sessions/{claude_session_id}/messages?after=&limit=` →
/// `{claude_session_id, cwd, messages, total, next_after}`.
pub async fn messages(
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
    query: web::Query<MessagesQuery>,
) -> Result<Answer, ApiError> {
    let command = Command::ClaudeMessages {
        claude_session_id: id.into_inner(),
        query: query.into_inner(),
    };
    run(&state, caller, command).await
}

/// `GET /api/v1/claude/running` → `{running}`.
pub async fn running(state: web::Data<AppState>, caller: HttpCaller) -> Result<Answer, ApiError> {
    run(&state, caller, Command::ClaudeRunning).await
}
