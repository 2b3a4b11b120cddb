//! `claude.run_as`: each user's Claude runs as their own OS account through sudo, so one user's
//! tools cannot read another's files or the relay's config and store. The tests that start
//! processes as other accounts need root and sudo (CI runs as root); they make two accounts and
//! remove them at the end, also on failure.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use tempfile::TempDir;

use crate::support::accounts::{can_run_as, world_executable, OsAccount};
use crate::support::client::Client;
use crate::support::operator::issue;
use crate::support::server::{Settings, TestServer};
use crate::support::{fake_bin, PATIENCE};

/// A signed-in relay with `alice` and `bob` mapped to two fresh OS accounts. Fields drop in
/// order: the server first, then the accounts (and whatever still runs as them).
struct Rig {
    server: TestServer,
    _bin: TempDir,
    alice: OsAccount,
    bob: OsAccount,
}

fn rig(extra: Settings) -> Rig {
    let alice = OsAccount::create("alice");
    let bob = OsAccount::create("bob");
    for account in [&alice, &bob] {
        account.make("project", None);
        account.make("secret.txt", Some(&format!("{}'s secret", account.name)));
    }
    let (bin, fake) = world_executable(&fake_bin("fake-claude"));
    let server = TestServer::start_with(
        extra
            .set("auth", "enabled = true")
            .set("claude", &format!("binary = \"{}\"", fake.display()))
            .set("claude.env", "FAKE_CLAUDE_SPAWN_LOG = \"/dev/null\"")
            .set("claude.env", "FAKE_CLAUDE_MARK = \"passed through env\"")
            .set("claude.run_as", &format!("alice = \"{}\"", alice.name))
            .set("claude.run_as", &format!("bob = \"{}\"", bob.name))
            .set("sessions", "allowed_roots = [\"~\"]"),
    );
    // The relay's own directory (config, store, logs) is private to the relay's account, as the
    // README asks of an operator.
    std::fs::set_permissions(server.dir.path(), std::fs::Permissions::from_mode(0o700))
        .expect("chmod the server's directory");
    Rig {
        server,
        _bin: bin,
        alice,
        bob,
    }
}

async fn sign_in(server: &TestServer, user: &str) -> Client {
    let token = issue(server, user);
    Client::connect(&format!("{}?token={token}", server.ws_url())).await
}

fn text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[tokio::test]
async fn run_as_runs_each_users_claude_as_their_own_account() {
    if !can_run_as("run_as_runs_each_users_claude_as_their_own_account") {
        return;
    }
    let rig = rig(Settings::default());
    let config = text(&rig.server.dir.path().join("config.toml"));
    let store = text(&rig.server.dir.path().join("store/relay.db"));
    for (user, me, other) in [
        ("alice", &rig.alice, &rig.bob),
        ("bob", &rig.bob, &rig.alice),
    ] {
        let mut phone = sign_in(&rig.server, user).await;
        // `~` is the account's home, not the relay's.
        let created = phone
            .ok("session.create", json!({"cwd": "~/project"}))
            .await;
        let project = text(&me.home.join("project"));
        assert_eq!(created["session"]["cwd"], project.as_str(), "{created}");
        let session = created["session"]["id"].as_str().unwrap().to_string();
        phone.subscribe(&session, 0).await;
        let mine = text(&me.home.join("secret.txt"));
        let theirs = text(&other.home.join("secret.txt"));
        let their_home = text(&other.home);
        let prompt = format!("whoami {mine} {theirs} {their_home} {config} {store}");
        let prompt_id = phone.prompt(&session, &prompt).await;
        let end = phone.wait_prompt_end(&prompt_id).await;
        assert_eq!(end["kind"], "prompt.completed", "{end}");
        let seen: Value = serde_json::from_str(end["data"]["result"].as_str().unwrap()).unwrap();
        assert_eq!(seen["euid"], me.uid, "{user}: {seen}");
        assert_eq!(seen["user"], me.name.as_str(), "{user}: {seen}");
        assert_eq!(seen["home"], text(&me.home), "{user}: {seen}");
        assert_eq!(seen["cwd"], project.as_str(), "{user}: {seen}");
        assert_eq!(seen["mark"], "passed through env", "{user}: {seen}");
        let reads = &seen["reads"];
        assert_eq!(reads[&mine], "ok", "{user}: {seen}");
        assert_eq!(reads[&theirs], "denied", "{user}: {seen}");
        assert_eq!(reads[&their_home], "denied", "{user}: {seen}");
        assert_eq!(reads[&config], "denied", "{user}: {seen}");
        assert_eq!(reads[&store], "denied", "{user}: {seen}");
    }
}

#[tokio::test]
async fn run_as_refuses_a_cwd_outside_the_accounts_reach_with_one_answer() {
    if !can_run_as("run_as_refuses_a_cwd_outside_the_accounts_reach_with_one_answer") {
        return;
    }
    let rig = rig(Settings::default());
    let mut bob = sign_in(&rig.server, "bob").await;
    let refused = [
        text(&rig.alice.home.join("project")),
        text(&rig.alice.home.join("no-such-dir")),
        text(&rig.alice.home),
        "/etc".to_string(),
        rig.server.project(),
        "~/no-such-dir".to_string(),
        "/no/such/dir".to_string(),
    ];
    let mut answers = Vec::new();
    for cwd in &refused {
        let answer = bob.request("session.create", json!({"cwd": cwd})).await;
        assert_eq!(answer["ok"], false, "{cwd}: {answer}");
        assert_eq!(answer["error"]["code"], "forbidden", "{cwd}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        answers.push(message.replace(cwd.as_str(), "CWD"));
    }
    answers.dedup();
    assert_eq!(
        answers.len(),
        1,
        "one answer for every refused cwd: {answers:?}"
    );
    // Bob's own directory, by its absolute path, is fine.
    let own = text(&rig.bob.home.join("project"));
    let created = bob.ok("session.create", json!({"cwd": own})).await;
    assert_eq!(created["session"]["cwd"], own.as_str());
}

#[tokio::test]
async fn run_as_stop_leaves_no_process_of_the_account() {
    if !can_run_as("run_as_stop_leaves_no_process_of_the_account") {
        return;
    }
    let rig = rig(Settings::default());
    let mut alice = sign_in(&rig.server, "alice").await;
    let session = alice.create("~/project").await;
    alice.subscribe(&session, 0).await;
    alice.prompt(&session, "stubborn").await;
    // Claude left a tool running that ignores SIGTERM.
    let said = alice
        .wait_event(|e| e["kind"] == "agent.output" && e.to_string().contains("stubborn child"))
        .await
        .to_string();
    let pid: u32 = said
        .split("stubborn child ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {said}"));
    let running = rig.alice.processes();
    assert!(
        running.iter().any(|(p, _)| *p == pid),
        "the tool runs as alice's account: {running:?}"
    );
    assert!(
        rig.bob.processes().is_empty(),
        "nothing runs as bob: {:?}",
        rig.bob.processes()
    );
    alice
        .ok("session.stop", json!({"session_id": session}))
        .await;
    let exited = alice.wait_kind("agent.exited").await;
    assert_eq!(exited["data"]["expected"], true, "{exited}");
    let left = rig.alice.processes();
    assert!(left.is_empty(), "left running as alice: {left:?}");
}

#[tokio::test]
async fn run_as_reports_a_missing_sudo_at_session_create_and_start() {
    if !can_run_as("run_as_reports_a_missing_sudo_at_session_create_and_start") {
        return;
    }
    let mut rig = rig(Settings::default());
    let session = {
        let mut alice = sign_in(&rig.server, "alice").await;
        alice.create("~/project").await
    };
    // The same relay without sudo on its PATH.
    rig.server
        .env
        .push(("PATH".into(), "/nonexistent-bin".into()));
    rig.server.restart();
    let mut alice = sign_in(&rig.server, "alice").await;
    alice.subscribe(&session, 0).await;
    let prompt = alice.prompt(&session, "hello").await;
    let end = alice.wait_prompt_end(&prompt).await;
    assert_eq!(end["kind"], "prompt.failed", "{end}");
    assert_eq!(end["data"]["error"]["code"], "spawn_failed", "{end}");
    let message = end["data"]["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`sudo`") && message.contains(&rig.alice.name),
        "{message}"
    );
    let answer = alice
        .request("session.create", json!({"cwd": "~/project"}))
        .await;
    assert_eq!(answer["error"]["code"], "unavailable", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sudo"),
        "{answer}"
    );
}

#[tokio::test]
async fn run_as_required_refuses_users_without_an_os_account() {
    // Refused before anything runs as another account: no root needed.
    let server = TestServer::start_with(
        Settings::default()
            .set("auth", "enabled = true")
            .set("claude", "run_as_required = true")
            .set("claude.run_as", "alice = \"root\""),
    );
    let mut carol = sign_in(&server, "carol").await;
    let answer = carol
        .request("session.create", json!({"cwd": server.project()}))
        .await;
    assert_eq!(answer["error"]["code"], "forbidden", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("run_as_required") && message.contains("carol"),
        "{message}"
    );
}

#[test]
fn an_unknown_os_account_in_run_as_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nbind = \"127.0.0.1:0\"\n[storage]\npath = \"{}/relay.db\"\n\
             [claude.run_as]\nalice = \"pr-test-no-such-account\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_pocket-relay"))
        .arg("--config")
        .arg(&config)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pocket-relay");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = rx.recv_timeout(PATIENCE).unwrap_or_else(|_| {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        panic!("the server started with an unknown OS account")
    });
    let output = output.expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("claude.run_as")
            && stderr.contains("pr-test-no-such-account")
            && stderr.contains("does not exist"),
        "{stderr}"
    );
}
