//! `GET /api/v1/sessions/{id}/prompts/{prompt_id}/images/{index}`: one image of a prompt, as the
//! client sent it (the bytes, with its media type), so a conversation shows its pictures again
//! after a reload while `prompt.queued` carries only `{media_type, bytes}` per image.
//!
//! The session is looked up through the same `get` command as `GET /api/v1/sessions/{id}` (so
//! another user's session is `not_found`) before the image is read from the store.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use actors::command::{Command, Reply, SessionOp};
use actors::error::RelayError;
use actors::ids::PromptId;

use super::call;
use super::caller::HttpCaller;
use super::envelope::ApiError;
use crate::server::AppState;

/// `GET /api/v1/sessions/{id}/prompts/{prompt_id}/images/{index}` (index 0-based).
pub async fn image(
    state: web::Data<AppState>,
    caller: HttpCaller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (session_id, prompt_id, index) = path.into_inner();
    let command = Command::Session {
        session_id,
        op: SessionOp::Get,
    };
    let Reply::Session(info) = call(&state, caller.0, command).await? else {
        return Err(RelayError::Internal("get answered something else".into()).into());
    };
    let missing = || RelayError::NotFound(format!("no image {index} of prompt {prompt_id}"));
    let Ok(number) = index.parse::<usize>() else {
        return Err(missing().into());
    };
    let read = state
        .store
        .read_image(info.id, PromptId::new(prompt_id.clone()), number);
    let image = read.await.map_err(RelayError::from)?.ok_or_else(missing)?;
    Ok(HttpResponse::Ok()
        .content_type(image.kind.media_type())
        // The bytes of an image never change; only its session's owner may read them.
        .insert_header((
            header::CACHE_CONTROL,
            "private, max-age=31536000, immutable",
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(image.bytes.to_vec()))
}
