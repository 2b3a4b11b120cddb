//! What the relay's integration tests (`tests/relay`) and its benchmark (`tests/bench`) share, so
//! that both speak to the server the same way: a protocol v1 client over a real WebSocket
//! ([`ws`]), the reading of a child's first stdout line ([`stdout`]) and a recording HTTP endpoint
//! ([`receiver`], the fake push service, ntfy server and webhook). Must never: assert or
//! panic (each caller decides what a failure means), or know about one caller's configuration.

pub mod receiver;
pub mod stdout;
pub mod ws;

/// Any failure, as text for a report or a test's panic message.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
