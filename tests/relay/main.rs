//! pocket-relay's integration tests: each one starts the real server on a random port and tells
//! a short story a user would tell, through real sockets.

mod support;

mod agent_lifecycle;
mod handshake;
mod heartbeat;
mod prompts;
mod reconnect;
mod restart;
