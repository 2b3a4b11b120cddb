//! pocket-relay's domain, as actix actors: the [`registry`] routes client [`command`]s to
//! [`session`]s; each session's rules live in its [`session::core`] (no I/O: the prompt queue,
//! the turn, permissions, the event log), its actor carries out what the core asks, its
//! [`queue`] processor holds its process slot, and a [`claude_process`] drives one Claude Code
//! subprocess.
//! This crate knows nothing of HTTP or WebSockets: transports hand it commands and a
//! [`client::ClientSink`], and get [`event`]s back.

pub mod agent_slots;
pub mod claude_history;
pub mod claude_process;
pub mod client;
pub mod command;
pub mod config;
pub mod dirs;
pub mod error;
pub mod event;
pub mod ids;
pub mod inbox;
pub mod metrics;
pub mod permission_rules;
pub mod queue;
pub mod registry;
pub mod run_as;
pub mod session;
pub mod session_info;
pub mod store;
pub mod watch;
