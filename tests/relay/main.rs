//! pocket-relay's integration tests: each one starts the real server on a random port and tells
//! a short story a user would tell, through real sockets. Most start it in the test process
//! (`support::in_process`); stories about signals, restarts after SIGKILL, the server's log,
//! stdout or process spawn the binary (`support::server`).

/// The server binary's allocator, so that servers started in-process allocate as the binary
/// does: the allocator changes the relay's timing under load (see `src/main.rs`), and the
/// slow-consumer stories depend on that timing.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod support;

mod agent_lifecycle;
mod app_serving;
mod attacks;
mod auth;
mod auth_limits;
mod chaos;
mod claude_history;
mod dirs;
mod fuzz;
mod handshake;
mod heartbeat;
mod history_paging;
mod http_api;
mod http_stream;
mod in_process;
mod inbox;
mod metrics;
mod misbehaving_agent;
mod notify;
mod openapi_doc;
mod pairing;
mod perimeter_fuzz;
mod permissions;
mod prompts;
mod rate_limits;
mod real_claude;
mod real_claude_history;
mod reconnect;
mod restart;
mod run_as;
mod signed_in;
mod signed_in_revocation;
mod store_failure;
mod tls;
mod ws_transport;
