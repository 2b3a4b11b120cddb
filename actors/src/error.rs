//! The one error type of the domain, and the protocol error codes it maps to. Transports turn a
//! [`RelayError`] into their own shape (a WebSocket `response`, an HTTP envelope) through
//! [`RelayError::code`] and nothing else.

use serde::Serialize;
use serde_json::Value;

/// The error codes of protocol v1 §3, the contract with every client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    UnsupportedProtocol,
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    RateLimited,
    TooLarge,
    ReplayGap,
    Unavailable,
    Internal,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::UnsupportedProtocol => "unsupported_protocol",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::ReplayGap => "replay_gap",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

/// Everything that can go wrong while serving a client's request.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("no session {0}")]
    SessionNotFound(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A Claude Code conversation is running in a terminal right now (code `conflict`).
    #[error("{message}")]
    InUse {
        message: String,
        pid: i32,
        status: Option<String>,
    },
    #[error("{0}")]
    TooLarge(String),
    #[error("events before seq {earliest_seq} were pruned")]
    ReplayGap { earliest_seq: u64 },
    #[error("too many requests; retry in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error("the store is unavailable: {0}")]
    StoreUnavailable(#[from] crate::store::StoreError),
    #[error("{0}")]
    Unavailable(String),
    #[error("unsupported protocol version {0}")]
    UnsupportedProtocol(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl RelayError {
    /// The protocol code for this error: the one mapping from domain errors to the wire.
    pub fn code(&self) -> ErrorCode {
        match self {
            RelayError::BadRequest(_) => ErrorCode::BadRequest,
            RelayError::Unauthorized(_) => ErrorCode::Unauthorized,
            RelayError::Forbidden(_) => ErrorCode::Forbidden,
            RelayError::RateLimited { .. } => ErrorCode::RateLimited,
            RelayError::SessionNotFound(_) | RelayError::NotFound(_) => ErrorCode::NotFound,
            RelayError::Conflict(_) | RelayError::InUse { .. } => ErrorCode::Conflict,
            RelayError::TooLarge(_) => ErrorCode::TooLarge,
            RelayError::ReplayGap { .. } => ErrorCode::ReplayGap,
            RelayError::StoreUnavailable(_) | RelayError::Unavailable(_) => ErrorCode::Unavailable,
            RelayError::UnsupportedProtocol(_) => ErrorCode::UnsupportedProtocol,
            RelayError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The optional `details` object of the wire error.
    pub fn details(&self) -> Option<Value> {
        match self {
            RelayError::ReplayGap { earliest_seq } => {
                Some(serde_json::json!({ "earliest_seq": earliest_seq }))
            }
            RelayError::RateLimited { retry_after_s } => {
                Some(serde_json::json!({ "retry_after_s": retry_after_s }))
            }
            RelayError::InUse { pid, status, .. } => {
                Some(serde_json::json!({ "running": { "pid": pid, "status": status } }))
            }
            _ => None,
        }
    }

    /// The wire shape `{code, message, details?}`.
    pub fn to_wire(&self) -> WireError {
        WireError {
            code: self.code(),
            message: self.to_string(),
            details: self.details(),
        }
    }
}

/// A protocol error object as clients see it: `{code, message, details?}`.
#[derive(Clone, Debug, Serialize)]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// What every fallible domain call returns.
pub type RelayResult<T> = Result<T, RelayError>;
