//! Newtypes for the identifiers that travel through the relay, so that a session id can never be
//! passed where a prompt id is expected and every id is validated once, where it enters.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A session's id: a UUID v4 chosen by the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(Uuid);

impl SessionId {
    /// A fresh random id for a new session.
    pub fn new() -> Self {
        SessionId(Uuid::new_v4())
    }

    /// Reads an id a client sent; `None` when it is not a UUID (the caller answers `not_found`).
    pub fn parse(text: &str) -> Option<Self> {
        Uuid::parse_str(text).ok().map(SessionId)
    }
}

impl Default for SessionId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An event's position in its session's log: 1, 2, 3, … with no gaps. Assigned only by
/// [`crate::session::EventLog`].
pub type Seq = u64;

/// The largest `seq` a store can hold (SQLite integers are signed 64-bit).
pub const MAX_SEQ: Seq = i64::MAX as Seq;

/// Ids are shared, not copied: one connection's id is held by its actor, its queue, the registry
/// and every session it subscribes to.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Wraps an id; callers validate client input before (see `ids::MAX_ID_LEN`).
            pub fn new(value: impl Into<String>) -> Self {
                $name(Arc::from(value.into()))
            }

            /// A fresh random id.
            pub fn random() -> Self {
                $name(Arc::from(Uuid::new_v4().to_string()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// The longest client-chosen id (a `prompt_id`) the relay accepts.
pub const MAX_ID_LEN: usize = 128;

string_id!(
    /// A prompt's id: chosen by the client (to make retries idempotent) or by the server.
    PromptId
);
string_id!(
    /// The user a session belongs to (`local` while authentication is off).
    UserId
);
string_id!(
    /// One client connection (a WebSocket, an SSE stream), for routing and for `permission.resolved.by`.
    ConnectionId
);
string_id!(
    /// A permission request's id, the server's own and unique within its session.
    PermissionRequestId
);
