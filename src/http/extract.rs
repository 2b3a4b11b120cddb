//! How request bodies and query strings that cannot be read are answered: in the envelope, with
//! `bad_request` (malformed JSON, wrong content type, missing or mistyped fields) or `too_large`.

use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::web;
use actors::error::RelayError;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::envelope::ApiError;

/// JSON bodies: at most `limit` bytes, `Content-Type: application/json` required.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .content_type_required(true)
        .error_handler(|error, _| ApiError(json_error(error)).into())
}

/// Reads a JSON body of at most `limit` bytes, with the same rules and errors as every route's
/// `web::Json` (for a route whose limit differs from the others').
pub async fn json_body<T: serde::de::DeserializeOwned>(
    req: &actix_web::HttpRequest,
    mut payload: actix_web::dev::Payload,
    limit: usize,
) -> Result<T, ApiError> {
    actix_web::web::JsonBody::<T>::new(req, &mut payload, None, true)
        .limit(limit)
        .await
        .map_err(|error| ApiError(json_error(error)))
}

fn json_error(error: JsonPayloadError) -> RelayError {
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

/// A JSON body object read as the request type `T`, with the fields the path carries added
/// (they win over the body's): how a route takes the same request type as the WebSocket
/// request whose ids it has in its path. A body that does not fit is `bad_request`, worded like
/// any other body that does not fit.
pub fn with_path<T: DeserializeOwned>(
    mut body: Map<String, Value>,
    path: &[(&str, String)],
) -> Result<T, RelayError> {
    for (name, value) in path {
        body.insert((*name).to_string(), Value::String(value.clone()));
    }
    serde_json::from_value(Value::Object(body))
        .map_err(|error| RelayError::BadRequest(format!("the body is not valid: {error}")))
}

/// Query strings: a bad one is `bad_request`.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error: QueryPayloadError, _| {
        ApiError(RelayError::BadRequest(format!(
            "the query string is not valid: {error}"
        )))
        .into()
    })
}
