//! The HTTP routes around the WebSocket: monitoring now, the REST API later.

pub mod health;
pub mod origin;
