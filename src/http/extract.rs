//! How request bodies and query strings that cannot be read are answered: in the envelope, with
//! `bad_request` (malformed JSON, wrong content type, missing or mistyped fields) or `too_large`.

use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::{web, HttpRequest};
use actors::error::RelayError;

use super::envelope::ApiError;

/// JSON bodies: at most `limit` bytes, `Content-Type: application/json` required.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .content_type_required(true)
        .error_handler(|error, req| ApiError::new(req, json_error(error, req)).into())
}

fn json_error(error: JsonPayloadError, _: &HttpRequest) -> RelayError {
    match error {
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            RelayError::TooLarge(format!("the body is over the limit of {limit} bytes"))
        }
        JsonPayloadError::ContentType => {
            RelayError::BadRequest("the body must be `Content-Type: application/json`".into())
        }
        JsonPayloadError::Payload(actix_web::error::PayloadError::Io(error))
            if error.kind() == std::io::ErrorKind::TimedOut =>
        {
            RelayError::BadRequest(super::guards::BODY_TIMEOUT.into())
        }
        JsonPayloadError::Deserialize(error) => {
            RelayError::BadRequest(format!("the body is not valid: {error}"))
        }
        other => RelayError::BadRequest(format!("the body could not be read: {other}")),
    }
}

/// Query strings: a bad one is `bad_request`.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error: QueryPayloadError, req| {
        ApiError::new(
            req,
            RelayError::BadRequest(format!("the query string is not valid: {error}")),
        )
        .into()
    })
}
