//! The benchmark's protocol v1 client: the one the relay's tests use too
//! (`tests/support`, [`test_support::ws`]).

pub use test_support::ws::{now_ns, Conn, Incoming, Link, PATIENCE};
