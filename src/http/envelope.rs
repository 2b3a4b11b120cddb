//! The one response shape of `/api/v1` (protocol §4): `{success, data | error, request_id}`, with
//! the HTTP status that fits the error code. Every handler answers through [`respond`], and every
//! request-body or path error through [`ApiError`], so no route builds its own shape.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use actors::error::{ErrorCode, RelayError};
use serde_json::{json, Value};

use super::request_id::RequestId;
use crate::protocol::error_object;

/// The HTTP status for a protocol error code.
pub fn status_for(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::BadRequest | ErrorCode::UnsupportedProtocol => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::ReplayGap => StatusCode::GONE,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A successful answer with `status` and `data`.
pub fn ok(req: &HttpRequest, status: StatusCode, data: Value) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "success": true,
        "data": data,
        "request_id": RequestId::of(req),
    }))
}

/// A failed answer in the envelope, with its status (and `Retry-After` when rate limited).
pub fn error(req: &HttpRequest, error: &RelayError) -> HttpResponse {
    let mut response = HttpResponse::build(status_for(error.code()));
    if let Some(after) = error
        .details()
        .and_then(|d| d.get("retry_after_s").and_then(Value::as_u64))
    {
        response.insert_header(("Retry-After", after.to_string()));
    }
    response.json(json!({
        "success": false,
        "error": error_object(error),
        "request_id": RequestId::of(req),
    }))
}

/// `ok` with `status` or the envelope's error.
pub fn respond(
    req: &HttpRequest,
    status: StatusCode,
    result: Result<Value, RelayError>,
) -> HttpResponse {
    match result {
        Ok(data) => ok(req, status, data),
        Err(failure) => error(req, &failure),
    }
}

/// An error raised before a handler runs (a body that is not JSON, a bad path or query), carried
/// as an actix error and answered in the envelope.
#[derive(Debug)]
pub struct ApiError {
    error: RelayError,
    request_id: String,
}

impl ApiError {
    /// Wraps `error` for the request `req`.
    pub fn new(req: &HttpRequest, error: RelayError) -> Self {
        ApiError {
            error,
            request_id: RequestId::of(req),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_for(self.error.code())
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let RelayError::RateLimited { retry_after_s } = &self.error {
            response.insert_header(("Retry-After", retry_after_s.to_string()));
        }
        response.json(json!({
            "success": false,
            "error": error_object(&self.error),
            "request_id": self.request_id,
        }))
    }
}
