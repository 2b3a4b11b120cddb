//! The pocket-relay server: configuration, the HTTP and WebSocket endpoints, and the SQLite
//! store, around the domain actors of the `actors` crate.

pub mod auth;
pub mod client_addr;
pub mod config;
pub mod connection_limit;
pub mod http;
pub mod limits;
pub mod notify;
pub mod pair_cli;
pub mod perimeter;
pub mod protocol;
pub mod server;
pub mod store;
pub mod tls;
pub mod token_cli;
pub mod transport;
pub mod web_assets;
pub mod ws;
