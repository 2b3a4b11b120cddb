//! What the session's Claude Code can do (protocol §16), with the fake CLI, which answers
//! `initialize`, `set_permission_mode`, `set_model` and `apply_flag_settings` as 2.1.330 does:
//! learned from each process, shown over the WebSocket and REST, kept across a restart; every
//! mode the CLI offers can be chosen live; the model of a live session changes.

use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::home::Settings;
use crate::support::http::{get, post_json};
use crate::support::in_process::InProcessServer;
use crate::support::server::TestServer;

/// The fake's `initialize` answer, as the relay shows it.
const FAKE_MODELS: [&str; 3] = ["default", "fake-model", "fake-fast"];
/// What the fake's `set_permission_mode` accepts (2.1.330's list, in its order).
const CLI_MODES: [&str; 6] = [
    "acceptEdits",
    "auto",
    "bypassPermissions",
    "default",
    "dontAsk",
    "plan",
];

async fn capabilities(phone: &mut Client, session: &str) -> Value {
    phone
        .ok("session.capabilities", json!({"session_id": session}))
        .await
}

/// A prompt's final text, once it ended.
async fn reply(phone: &mut Client, session: &str, text: &str) -> Value {
    let prompt = phone.prompt(session, text).await;
    let end = phone.wait_prompt_end(&prompt).await;
    assert_eq!(end["kind"], "prompt.completed", "{end}");
    end["data"]["result"].clone()
}

/// The first event matching `pred`, already received or still to come.
async fn until(phone: &mut Client, pred: impl Fn(&Value) -> bool) -> Value {
    if let Some(event) = phone.events.iter().find(|e| pred(e)) {
        return event.clone();
    }
    phone.wait_event(pred).await
}

async fn capabilities_event(phone: &mut Client) -> Value {
    until(phone, |e| e["kind"] == "session.capabilities").await
}

/// Sends a request that must be refused with `bad_request`; answers the error's message.
pub async fn refusal(phone: &mut Client, kind: &str, fields: Value) -> String {
    let answer = phone.request(kind, fields).await;
    assert_eq!(answer["error"]["code"], "bad_request", "{answer}");
    answer["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn names(list: &Value, field: &str) -> Vec<String> {
    let items = list.as_array().expect("a list").iter();
    items
        .map(|item| item[field].as_str().unwrap_or("?").to_string())
        .collect()
}

#[tokio::test]
async fn the_clis_capabilities_are_learned_shown_and_kept_when_no_process_runs() {
    let mut server = TestServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    phone.subscribe(&session, 0).await;

    // Never ran: nothing is started to find out, the pinned CLI's modes are offered.
    let before = capabilities(&mut phone, &session).await;
    assert_eq!(before["known"], false);
    assert_eq!(before["capabilities"], Value::Null);
    assert_eq!(
        before["permission_modes"],
        json!(["default", "acceptEdits", "plan", "dontAsk", "auto"])
    );
    assert!(server.spawns().is_empty());

    assert_eq!(reply(&mut phone, &session, "hello").await, "echo: hello");
    let event = capabilities_event(&mut phone).await;
    let caps = &event["data"]["capabilities"];
    assert_eq!(names(&caps["commands"], "name"), ["compact", "code-review"]);
    assert_eq!(caps["commands"][1]["aliases"], json!(["review"]));
    assert_eq!(names(&caps["models"], "value"), FAKE_MODELS);
    assert_eq!(caps["models"][2]["effort_levels"], json!(["low", "medium"]));
    assert_eq!(caps["permission_modes"], json!(CLI_MODES));
    assert_eq!(caps["claude_code_version"], "fake");
    assert_eq!(event["data"]["known"], true);

    let over_ws = capabilities(&mut phone, &session).await;
    assert_eq!(over_ws, event["data"]);
    let over_rest = get(
        &server.url,
        &format!("/api/v1/sessions/{session}/capabilities"),
    )
    .await;
    assert_eq!(over_rest.status, 200, "{}", over_rest.body);
    assert_eq!(over_rest.json()["data"], over_ws);

    // Stopped, and after a restart: still known, from the store.
    phone
        .ok("session.stop", json!({"session_id": session}))
        .await;
    server.restart();
    let mut phone = Client::connect(&server.ws_url()).await;
    let after = capabilities(&mut phone, &session).await;
    assert_eq!(after, over_ws);
    assert_eq!(server.spawns().len(), 1, "nothing started to answer");

    let unknown = get(
        &server.url,
        "/api/v1/sessions/5f0c1b8e-0000-4000-8000-000000000000/capabilities",
    )
    .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
}

#[tokio::test]
async fn every_mode_the_cli_offers_can_be_set_live_and_others_are_refused_by_name() {
    let settings = Settings::default().set("sessions", "allow_bypass_permissions = true");
    let server = InProcessServer::start_with(settings);
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    phone.subscribe(&session, 0).await;
    reply(&mut phone, &session, "hello").await;
    capabilities_event(&mut phone).await;
    let offered = capabilities(&mut phone, &session).await;
    assert_eq!(offered["permission_modes"], json!(CLI_MODES));
    assert_eq!(offered["allow_bypass_permissions"], true);

    for mode in CLI_MODES {
        let set = phone
            .ok(
                "session.set_permission_mode",
                json!({"session_id": session, "permission_mode": mode}),
            )
            .await;
        assert_eq!(set["session"]["permission_mode"], mode);
        // The CLI itself confirms: its next turn's init line names the mode.
        reply(&mut phone, &session, "hello").await;
        let last_init = phone
            .events
            .iter()
            .rev()
            .find(|e| e["kind"] == "agent.output" && e["data"]["message"]["subtype"] == "init")
            .expect("an init line");
        assert_eq!(last_init["data"]["message"]["permissionMode"], mode);
    }
    // `manual` is the CLI's other name for `default`: the CLI answers `default`.
    phone
        .ok(
            "session.set_permission_mode",
            json!({"session_id": session, "permission_mode": "plan"}),
        )
        .await;
    let manual = phone
        .ok(
            "session.set_permission_mode",
            json!({"session_id": session, "permission_mode": "manual"}),
        )
        .await;
    assert_eq!(manual["session"]["permission_mode"], "default");

    let yolo = json!({"session_id": session, "permission_mode": "yolo"});
    let message = refusal(&mut phone, "session.set_permission_mode", yolo).await;
    assert!(
        message.contains("acceptEdits, auto, bypassPermissions, default, dontAsk, plan"),
        "{message}"
    );
    assert_eq!(server.spawns().len(), 1, "all in one process");
}

#[tokio::test]
async fn set_model_changes_a_live_session_and_a_stopped_one_at_its_next_start() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    phone.subscribe(&session, 0).await;
    let said = reply(&mut phone, &session, "model").await;
    assert_eq!(said, "model: fake-model effort: none");
    capabilities_event(&mut phone).await;

    let set = phone
        .ok(
            "session.set_model",
            json!({"session_id": session, "model": "fake-fast", "effort": "low"}),
        )
        .await;
    assert_eq!(set["session"]["model"], "fake-fast");
    assert_eq!(set["session"]["effort"], "low");
    let updated = until(&mut phone, |e| {
        e["kind"] == "session.updated" && e["data"]["session"]["model"] == "fake-fast"
    })
    .await;
    assert_eq!(updated["data"]["session"]["effort"], "low");
    let said = reply(&mut phone, &session, "model").await;
    assert_eq!(said, "model: fake-fast effort: low");
    assert_eq!(server.spawns().len(), 1, "the same process");

    // Refused, naming what the CLI offers.
    let bad = phone
        .request(
            "session.set_model",
            json!({"session_id": session, "model": "gpt-9"}),
        )
        .await;
    assert_eq!(bad["error"]["code"], "bad_request");
    let message = bad["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("default, fake-model, fake-fast"),
        "{message}"
    );
    let bad_effort = phone
        .request(
            "session.set_model",
            json!({"session_id": session, "model": "fake-fast", "effort": "max"}),
        )
        .await;
    assert_eq!(bad_effort["error"]["code"], "bad_request");
    let message = bad_effort["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("valid: low, medium"), "{message}");

    // Over REST, on a stopped session: `--model` and `--effort` at the next start.
    phone
        .ok("session.stop", json!({"session_id": session}))
        .await;
    let path = format!("/api/v1/sessions/{session}/model");
    let rest = post_json(
        &server.url,
        &path,
        &json!({"model": "default", "effort": "high"}),
    )
    .await;
    assert_eq!(rest.status, 200, "{}", rest.body);
    assert_eq!(rest.json()["data"]["session"]["model"], "default");
    let said = reply(&mut phone, &session, "model").await;
    assert_eq!(said, "model: default effort: high");
    assert_eq!(server.spawn_flag(1, "--model").as_deref(), Some("default"));
    assert_eq!(server.spawn_flag(1, "--effort").as_deref(), Some("high"));

    // At creation too; an effort the pinned CLI does not know is refused.
    let create = json!({"cwd": server.project(), "model": "fake-fast", "effort": "low"});
    let created = phone.ok("session.create", create).await;
    assert_eq!(created["session"]["effort"], "low");
    let odd = json!({"cwd": server.project(), "effort": "ludicrous"});
    let message = refusal(&mut phone, "session.create", odd).await;
    assert!(
        message.contains("low, medium, high, xhigh, max"),
        "{message}"
    );
}
