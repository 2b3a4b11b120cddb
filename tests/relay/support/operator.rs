//! What an operator does on the machine while the server runs: `pocket-relay token …` on the
//! server's own store, and a phone signed in with the token it printed.

use std::process::{Command, Output, Stdio};

use serde_json::json;

use super::client::Client;
use super::home::Home;

/// `pocket-relay ARGS --config <the server's config>`, run in the server's directory with
/// `RUST_LOG=info`, as an operator runs it while the server is up.
pub fn cli(server: &Home, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pocket-relay"))
        .args(args)
        .arg("--config")
        .arg(server.dir.path().join("config.toml"))
        .current_dir(server.dir.path())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .expect("run pocket-relay")
}

/// `pocket-relay token ARGS` against the server's config; (stdout, stderr). Fails the test when
/// the command fails.
pub fn token_command(server: &Home, args: &[&str]) -> (String, String) {
    let output = cli(server, &[&["token"], args].concat());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    (String::from_utf8_lossy(&output.stdout).into_owned(), stderr)
}

/// A fresh token for `user` (`token issue --user USER`).
pub fn issue(server: &Home, user: &str) -> String {
    let (stdout, _) = token_command(server, &["issue", "--user", user]);
    stdout.trim().to_string()
}

/// A WebSocket that said `hello` with `token` and got its `welcome`.
pub async fn connect_as(server: &Home, token: &str) -> Client {
    let mut client = Client::connect_raw(&server.ws_url()).await;
    client
        .send(json!({"type": "hello", "protocol": 1, "token": token}))
        .await;
    let welcome = client.recv().await.expect("welcome");
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    client.welcome = welcome;
    client
}
