//! The one response shape of `/api/v1` (protocol §4): `{success, data | error, request_id}`, with
//! the HTTP status that fits the error code ([`status_for`], the one mapping). Every handler
//! returns `Result<Answer, ApiError>` (or a stream and `ApiError`), and every request-body or
//! path error is an [`ApiError`] too, so no route builds its own shape.

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

/// A failed answer in the envelope, with its status (and `Retry-After` when rate limited), for
/// what answers outside a handler (the guards, the WebSocket upgrade); handlers return
/// [`ApiError`].
pub fn error(req: &HttpRequest, error: &RelayError) -> HttpResponse {
    let mut response = HttpResponse::build(status_for(error.code()));
    if let Some(after) = retry_after(error) {
        response.insert_header(("Retry-After", after.to_string()));
    }
    response.json(json!({
        "success": false,
        "error": error_object(error),
        "request_id": RequestId::of(req),
    }))
}

/// A successful `/api/v1` answer: `data` with its status, in the envelope. What a handler
/// returns (`Result<Answer, ApiError>`); the request id is added when it is sent.
pub struct Answer {
    status: StatusCode,
    data: Value,
    no_store: bool,
}

impl Answer {
    /// `200` with `data`.
    pub fn ok(data: Value) -> Answer {
        Answer::with_status(StatusCode::OK, data)
    }

    /// `status` with `data`.
    pub fn with_status(status: StatusCode, data: Value) -> Answer {
        Answer {
            status,
            data,
            no_store: false,
        }
    }

    /// `status` with `data` serialized; a value that does not serialize is an internal error.
    pub fn serialize(status: StatusCode, data: &impl serde::Serialize) -> Result<Answer, ApiError> {
        let data = serde_json::to_value(data)
            .map_err(|e| RelayError::Internal(format!("cannot encode the answer: {e}")))?;
        Ok(Answer::with_status(status, data))
    }

    /// Marked `Cache-Control: no-store`: a token or a device list must not be kept by a cache
    /// on the way.
    pub fn no_store(mut self) -> Answer {
        self.no_store = true;
        self
    }
}

impl actix_web::Responder for Answer {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse {
        let mut response = ok(req, self.status, self.data);
        if self.no_store {
            response.headers_mut().insert(
                actix_web::http::header::CACHE_CONTROL,
                actix_web::http::header::HeaderValue::from_static("no-store"),
            );
        }
        response
    }
}

/// The error of every `/api/v1` handler and extractor: a protocol error, answered in the
/// envelope with the status of its code (and `Retry-After` when rate limited). Handlers return
/// it with `?`; the request id middleware writes the request's id into its body.
#[derive(Debug)]
pub struct ApiError(pub RelayError);

impl From<RelayError> for ApiError {
    fn from(error: RelayError) -> Self {
        ApiError(error)
    }
}

impl From<crate::notify::NotifyError> for ApiError {
    fn from(error: crate::notify::NotifyError) -> Self {
        ApiError(error.into())
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(error: crate::auth::AuthError) -> Self {
        ApiError(error.into())
    }
}

impl ApiError {
    /// The envelope's body for this error, with the request's id.
    pub fn body(&self, request_id: &str) -> String {
        json!({
            "success": false,
            "error": error_object(&self.0),
            "request_id": request_id,
        })
        .to_string()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_for(self.0.code())
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Some(after) = retry_after(&self.0) {
            response.insert_header(("Retry-After", after.to_string()));
        }
        // The request id is not known here: the middleware replaces this body with one that
        // names it ([`ApiError::body`]).
        response
            .content_type("application/json")
            .body(self.body(""))
    }
}

/// `retry_after_s` of a `rate_limited` error.
fn retry_after(error: &RelayError) -> Option<u64> {
    error
        .details()
        .and_then(|d| d.get("retry_after_s").and_then(Value::as_u64))
}
