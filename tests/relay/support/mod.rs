//! Test support: a real server on a random port with its own store and a fake `claude`, in the
//! test process ([`in_process`]) or as the binary ([`server`]), and a client that speaks
//! protocol v1 over a real WebSocket.

pub mod accounts;
pub mod client;
pub mod dice;
pub mod home;
pub mod http;
pub mod in_process;
pub mod operator;
pub mod raw_ws;
pub mod server;
pub mod streaming;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// How long any single wait in a test may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The directory holding the workspace's binaries (`target/debug`).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/relay-… → target/debug
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .to_path_buf()
}

/// A binary of the test-fakes crate, built on first use.
pub fn fake_bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "pocket-relay-fakes", "--bins"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build for the fakes");
        assert!(status.success(), "building the fakes failed");
    });
    let path = bin_dir().join(name);
    assert!(path.exists(), "{} is missing", path.display());
    path
}

/// The first line a child prints on stdout, within [`PATIENCE`]; the rest is drained so the child
/// never blocks on a full pipe.
pub fn first_stdout_line(child: &mut std::process::Child) -> Option<String> {
    first_stdout_line_keeping_rest(child, None)
}

/// [`first_stdout_line`], appending every later line to the file `rest` when given.
pub fn first_stdout_line_keeping_rest(
    child: &mut std::process::Child,
    rest: Option<PathBuf>,
) -> Option<String> {
    test_support::stdout::first_line(child.stdout.take()?, PATIENCE, rest)
}

/// The value of `flag` in a command line, written `--flag value` or `--flag=value`.
pub fn flag_value<'a>(argv: &'a [String], flag: &str) -> Option<&'a str> {
    argv.iter().enumerate().find_map(|(at, arg)| {
        if arg == flag {
            return argv.get(at + 1).map(String::as_str);
        }
        arg.strip_prefix(flag)?.strip_prefix('=')
    })
}

/// Waits until `check` holds, for what tells no one when it changes (a file a child process writes,
/// this process's threads in `/proc`): looks again every 20 ms, and fails the test naming `what`
/// after `patience`. Anything that sends an event is waited for by that event instead.
pub async fn eventually(what: &str, patience: Duration, mut check: impl FnMut() -> bool) {
    eventually_async(what, patience, || std::future::ready(check())).await;
}

/// [`eventually`] for a check that itself has to wait (a request to the server), for what the
/// server announces to no one (a row it removed after a push service's answer).
pub async fn eventually_async<F, Fut>(what: &str, patience: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + patience;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {patience:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
