//! With `auth.enabled`: tokens on every transport, 4001/4003, and ownership (protocol §5):
//! another user's session does not exist for you, on any route or request.

use std::process::Command;

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::client::Client;
use crate::support::home::{Home, Settings};
use crate::support::http::{request, with_token, Response};
use crate::support::in_process::InProcessServer;
use crate::support::operator::{connect_as, issue, token_command};
use crate::support::server::TestServer;

fn signed_in_server(extra: Settings) -> TestServer {
    TestServer::start_with(
        extra
            .set("auth", "enabled = true")
            .set("auth", "handshake_timeout_s = 2"),
    )
}

/// The id of `user`'s token in `token list`.
fn token_id(server: &Home, user: &str) -> String {
    let (list, _) = token_command(server, &["list"]);
    let line = list
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(user))
        .expect("listed");
    line.split_whitespace().next().unwrap().to_string()
}

async fn call(
    server: &Home,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Response {
    with_token(&server.url, token, method, path, body).await
}

#[tokio::test]
async fn tokens_are_required_and_checked_on_every_transport() {
    let server = signed_in_server(Settings::default());
    let alice = issue(&server, "alice");

    // HTTP: none → 401; bearer or ?token= → the user's own view.
    let none = request(&server.url, "GET", "/api/v1/sessions", &[], None).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.json()["error"]["code"], "unauthorized");
    let bad = call(&server, "prt_not-a-token", "GET", "/api/v1/sessions", None).await;
    assert_eq!(bad.status, 401);
    assert_eq!(
        call(&server, &alice, "GET", "/api/v1/sessions", None)
            .await
            .status,
        200
    );
    let query = request(
        &server.url,
        "GET",
        &format!("/api/v1/sessions?token={alice}"),
        &[],
        None,
    )
    .await;
    assert_eq!(query.status, 200);
    // Monitoring: /health and /ready need none, /metrics does.
    assert_eq!(
        request(&server.url, "GET", "/health", &[], None)
            .await
            .status,
        200
    );
    assert_eq!(
        request(&server.url, "GET", "/ready", &[], None)
            .await
            .status,
        200
    );
    assert_eq!(
        request(&server.url, "GET", "/metrics", &[], None)
            .await
            .status,
        401
    );
    assert_eq!(
        call(&server, &alice, "GET", "/metrics", None).await.status,
        200
    );

    // WebSocket: hello.token, or the upgrade's Authorization header.
    let phone = connect_as(&server, &alice).await;
    assert_eq!(phone.welcome["user"], "alice");
    let mut upgrade = server.ws_url().into_client_request().unwrap();
    upgrade
        .headers_mut()
        .insert("Authorization", format!("Bearer {alice}").parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(upgrade).await.unwrap();
    let mut browser = Client::from_socket(ws);
    browser.send(json!({"type": "hello", "protocol": 1})).await;
    assert_eq!(browser.recv().await.unwrap()["user"], "alice");

    // No token at hello, or a bad one: 4001.
    let mut anonymous = Client::connect_raw(&server.ws_url()).await;
    anonymous
        .send(json!({"type": "hello", "protocol": 1}))
        .await;
    assert_eq!(
        anonymous.recv().await.unwrap()["error"]["code"],
        "unauthorized"
    );
    assert_eq!(anonymous.closed().await.code, 4001);
    let mut wrong = Client::connect_raw(&format!("{}?token=prt_wrong", server.ws_url())).await;
    wrong.send(json!({"type": "hello", "protocol": 1})).await;
    assert_eq!(wrong.closed().await.code, 4001);
    // Silence: no token within auth.handshake_timeout_s.
    let mut silent = Client::connect_raw(&server.ws_url()).await;
    assert_eq!(silent.closed().await.code, 4001);
}

#[tokio::test]
async fn a_token_revoked_while_its_websocket_is_open_closes_it_with_4003() {
    let server = signed_in_server(Settings::default());
    let alice = issue(&server, "alice");
    let mut phone = connect_as(&server, &alice).await;
    assert_eq!(phone.request("ping", json!({})).await["ok"], true);
    let id = token_id(&server, "alice");
    token_command(&server, &["revoke", &id]);
    assert_eq!(phone.closed().await.code, 4003);
    // The audit trail names the connection and why it ended, never the token.
    let log = server.log();
    assert!(log.contains("token revoked or expired, closing"), "{log}");
    assert!(log.contains("closing with 4003"), "{log}");
    assert!(!log.contains(&alice), "a token was logged");
    assert_eq!(
        call(&server, &alice, "GET", "/api/v1/sessions", None)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn another_users_session_is_not_found_on_every_route_and_request() {
    let server = signed_in_server(Settings::default());
    let alice_token = issue(&server, "alice");
    let bob_token = issue(&server, "bob");
    let mut alice = connect_as(&server, &alice_token).await;
    let session = alice.create(&server.project()).await;
    alice.subscribe(&session, 0).await;
    let prompt = alice.prompt(&session, "permission Bash").await;
    let requested = alice.wait_kind("permission.requested").await;
    let request_id = requested["data"]["request_id"]
        .as_str()
        .unwrap()
        .to_string();

    // Every WebSocket request of §3 that names a session.
    let mut bob = connect_as(&server, &bob_token).await;
    let s = session.as_str();
    let requests = [
        ("session.get", json!({"session_id": s})),
        (
            "session.subscribe",
            json!({"session_id": s, "after_seq": 0}),
        ),
        ("session.unsubscribe", json!({"session_id": s})),
        ("session.prompt", json!({"session_id": s, "text": "steal"})),
        ("session.interrupt", json!({"session_id": s})),
        (
            "session.permission",
            json!({"session_id": s, "request_id": request_id, "decision": "allow"}),
        ),
        ("session.pause", json!({"session_id": s})),
        ("session.resume", json!({"session_id": s})),
        (
            "session.set_permission_mode",
            json!({"session_id": s, "permission_mode": "plan"}),
        ),
        ("session.stop", json!({"session_id": s})),
        ("session.delete", json!({"session_id": s})),
    ];
    for (kind, fields) in requests {
        let answer = bob.request(kind, fields).await;
        assert_eq!(answer["error"]["code"], "not_found", "{kind}: {answer}");
        assert!(
            !answer.to_string().contains("alice"),
            "{kind} leaked the owner: {answer}"
        );
    }
    assert_eq!(
        bob.ok("session.list", json!({})).await["sessions"],
        json!([])
    );
    assert!(bob.events.is_empty(), "bob received alice's events");

    // Every HTTP route of §4 that names a session.
    let p = format!("/api/v1/sessions/{session}");
    let routes: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", p.clone(), None),
        ("DELETE", p.clone(), None),
        (
            "POST",
            format!("{p}/prompts"),
            Some(json!({"text": "steal"})),
        ),
        (
            "POST",
            format!("{p}/prompts?stream=ndjson"),
            Some(json!({"text": "steal"})),
        ),
        ("POST", format!("{p}/interrupt"), None),
        ("POST", format!("{p}/stop"), None),
        ("POST", format!("{p}/pause"), None),
        ("POST", format!("{p}/resume"), None),
        (
            "POST",
            format!("{p}/permissions/{request_id}"),
            Some(json!({"decision": "allow"})),
        ),
        ("GET", format!("{p}/events?after_seq=0"), None),
        ("GET", format!("{p}/stream"), None),
        ("GET", format!("{p}/export?format=markdown"), None),
    ];
    for (method, path, body) in routes {
        let answer = call(&server, &bob_token, method, &path, body).await;
        assert_eq!(answer.status, 404, "{method} {path}: {}", answer.body);
        assert_eq!(answer.json()["error"]["code"], "not_found");
    }
    let listed = call(&server, &bob_token, "GET", "/api/v1/sessions", None).await;
    assert_eq!(listed.json()["data"]["sessions"], json!([]));
    let clients = call(&server, &bob_token, "GET", "/api/v1/clients", None).await;
    let clients = clients.json()["data"]["clients"]
        .as_array()
        .unwrap()
        .clone();
    assert!(clients
        .iter()
        .all(|c| c["subscriptions"].as_array().unwrap().is_empty()));
    assert!(clients
        .iter()
        .all(|c| c["connection_id"] != alice.welcome["connection_id"]));
    let metrics = call(&server, &bob_token, "GET", "/metrics", None)
        .await
        .body;
    assert!(!metrics.contains(&session) && !metrics.contains("alice"));

    // Alice's session is untouched: her permission is still pending and she can answer it.
    alice
        .ok(
            "session.permission",
            json!({"session_id": s, "request_id": request_id, "decision": "allow"}),
        )
        .await;
    assert_eq!(
        alice.wait_prompt_end(&prompt).await["kind"],
        "prompt.completed"
    );
}

#[tokio::test]
async fn a_symlink_out_of_the_allowed_root_is_refused() {
    let server = InProcessServer::start();
    let outside = tempfile::tempdir().unwrap();
    let link = server.dir.path().join("escape");
    std::os::unix::fs::symlink(outside.path(), &link).unwrap();
    let mut phone = Client::connect(&server.ws_url()).await;
    let code = phone
        .err("session.create", json!({"cwd": link.to_string_lossy()}))
        .await;
    assert_eq!(code, "forbidden");
    let dotdot = format!("{}/project/../../", server.dir.path().display());
    assert_eq!(
        phone.err("session.create", json!({"cwd": dotdot})).await,
        "forbidden"
    );
    // Inside the root, a symlink to another place inside is fine.
    let inner = server.dir.path().join("inner-link");
    std::os::unix::fs::symlink(server.dir.path().join("project"), &inner).unwrap();
    phone.create(&inner.to_string_lossy()).await;
}

#[tokio::test]
async fn sessions_per_user_are_limited() {
    let server =
        InProcessServer::start_with(Settings::default().set("sessions", "max_per_user = 2"));
    let mut phone = Client::connect(&server.ws_url()).await;
    phone.create(&server.project()).await;
    phone.create(&server.project()).await;
    assert_eq!(
        phone
            .err("session.create", json!({"cwd": server.project()}))
            .await,
        "forbidden"
    );
}

#[test]
fn auth_off_is_refused_on_a_public_address() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[server]\nbind = \"0.0.0.0:0\"\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pocket-relay"))
        .arg("--config")
        .arg(&config)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("loopback"), "{stderr}");
}

#[tokio::test]
async fn nobody_can_resume_another_users_conversation() {
    let server = signed_in_server(Settings::default());
    let mut alice = connect_as(&server, &issue(&server, "alice")).await;
    let mut bob = connect_as(&server, &issue(&server, "bob")).await;
    let session = alice.create(&server.project()).await;
    alice.subscribe(&session, 0).await;
    let prompt = alice.prompt(&session, "remember the secret word").await;
    alice.wait_prompt_end(&prompt).await;
    let info = alice
        .ok("session.get", json!({"session_id": session}))
        .await;
    let conversation = info["session"]["claude_session_id"]
        .as_str()
        .expect("the conversation's id")
        .to_string();

    // Bob names Alice's conversation: the same answer as for one that does not exist.
    let stolen = json!({"cwd": server.project(), "resume_claude_session_id": conversation});
    let reply = bob.request("session.create", stolen).await;
    assert_eq!(reply["error"]["code"], "not_found", "{reply}");
    let unknown_id = "7d6f0c59-1c5f-4d3e-9b8a-3f1e2d4c5b6a";
    let unknown = json!({"cwd": server.project(), "resume_claude_session_id": unknown_id});
    let other = bob.request("session.create", unknown).await;
    assert_eq!(other["error"]["code"], "not_found");
    assert_eq!(
        other["error"]["message"]
            .as_str()
            .unwrap()
            .replace(unknown_id, "<id>"),
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .replace(&conversation, "<id>")
    );
    // A transcript by path, or anything that is not an id, is not accepted at all.
    for path in [
        "../../../../tmp/x.jsonl",
        "/tmp/x.jsonl",
        "--help",
        &format!("{conversation} --model x"),
    ] {
        let create = json!({"cwd": server.project(), "resume_claude_session_id": path});
        assert_eq!(
            bob.err("session.create", create).await,
            "bad_request",
            "{path}"
        );
    }
    let listed = bob.ok("session.list", json!({})).await;
    assert_eq!(listed["sessions"], json!([]));

    // Alice may resume her own, and the CLI gets it as one argument.
    let mine = json!({"cwd": server.project(), "resume_claude_session_id": conversation});
    let resumed = alice.ok("session.create", mine).await["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    alice.subscribe(&resumed, 0).await;
    let next = alice.prompt(&resumed, "what was the word").await;
    alice.wait_prompt_end(&next).await;
    let spawns = server.spawns();
    let argv: Vec<&str> = spawns.last().unwrap()["argv"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert!(
        argv.contains(&format!("--resume={conversation}").as_str()),
        "{argv:?}"
    );
}
