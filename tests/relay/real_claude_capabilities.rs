//! What the real CLI can do (protocol §16): its `initialize` answer reaches the client, every
//! permission mode it offers can be chosen from a client and the CLI confirms it, and the model
//! of a live session changes (the fake API sees the new model and effort).

use serde_json::{json, Value};

use super::{count_kind, outputs, real_claude, run_prompt, Rig};
use crate::capabilities::refusal;
use crate::support::client::Client;
use actors::capabilities::modes::PINNED_MODES;

/// The first event matching `pred`, already received or still to come.
async fn until(phone: &mut Client, pred: impl Fn(&Value) -> bool) -> Value {
    if let Some(event) = phone.events.iter().find(|e| pred(e)) {
        return event.clone();
    }
    phone.wait_event(pred).await
}

async fn learned(phone: &mut Client, session: &str) -> Value {
    let (done, _) = run_prompt(phone, session, "hello").await;
    assert_eq!(done["kind"], "prompt.completed", "{done}");
    until(phone, |e| e["kind"] == "session.capabilities").await;
    phone
        .ok("session.capabilities", json!({"session_id": session}))
        .await
}

fn strings(list: &Value) -> Vec<String> {
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    items
        .iter()
        .filter_map(|item| item.as_str().map(str::to_string))
        .collect()
}

fn values(list: &Value, field: &str) -> Vec<String> {
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    items
        .iter()
        .filter_map(|item| item[field].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn the_real_clis_commands_models_and_modes_reach_the_client() {
    let Some(claude) = real_claude() else { return };
    let rig = Rig::start(&claude);
    let (mut phone, session) = rig.phone_with_session().await;
    let view = learned(&mut phone, &session).await;
    assert_eq!(view["known"], true);
    let caps = &view["capabilities"];
    let commands = values(&caps["commands"], "name");
    for wanted in ["compact", "model", "effort", "clear"] {
        assert!(
            commands.contains(&wanted.to_string()),
            "{wanted} in {commands:?}"
        );
    }
    let models = values(&caps["models"], "value");
    for wanted in ["default", "opus", "sonnet", "haiku"] {
        assert!(
            models.contains(&wanted.to_string()),
            "{wanted} in {models:?}"
        );
    }
    let modes = strings(&caps["permission_modes"]);
    for wanted in PINNED_MODES {
        assert!(modes.contains(&wanted.to_string()), "{wanted} in {modes:?}");
    }
    assert!(caps["claude_code_version"]
        .as_str()
        .is_some_and(|v| !v.is_empty()));
    assert!(!view["effort_levels"].as_array().expect("a list").is_empty());
    // Learning it cost the conversation nothing: one API call, for the prompt.
    assert_eq!(rig.api.requests().len(), 1);
}

#[tokio::test]
async fn every_permission_mode_of_the_real_cli_can_be_set_from_a_client() {
    let Some(claude) = real_claude() else { return };
    // `bypassPermissions` needs the launch flag, which the CLI refuses to root outside a
    // sandbox; this machine's tests are one.
    let rig = Rig::start_with(&claude, |settings| {
        settings
            .set("sessions", "allow_bypass_permissions = true")
            .set("claude.env", "IS_SANDBOX = \"1\"")
    });
    let (mut phone, session) = rig.phone_with_session().await;
    let view = learned(&mut phone, &session).await;
    let modes = strings(&view["permission_modes"]);
    assert!(modes.len() >= 6, "{modes:?}");
    let mut current = "default".to_string();
    for mode in &modes {
        let set = phone
            .ok(
                "session.set_permission_mode",
                json!({"session_id": session, "permission_mode": mode}),
            )
            .await;
        assert_eq!(set["session"]["permission_mode"], mode.as_str());
        if *mode != current {
            // The CLI confirms with a status line naming the mode (each mode is set once, so
            // the line is this change's).
            until(&mut phone, |e| {
                e["kind"] == "agent.output"
                    && e["data"]["message"]["subtype"] == "status"
                    && e["data"]["message"]["permissionMode"] == mode.as_str()
            })
            .await;
        }
        current = mode.clone();
    }
    let yolo = json!({"session_id": session, "permission_mode": "yolo"});
    let message = refusal(&mut phone, "session.set_permission_mode", yolo).await;
    for mode in &modes {
        assert!(message.contains(mode.as_str()), "{message}");
    }
    assert_eq!(count_kind(&phone.events, "agent.exited"), 0, "one process");
}

#[tokio::test]
async fn set_model_changes_the_model_of_a_live_real_session() {
    let Some(claude) = real_claude() else { return };
    let rig = Rig::start(&claude);
    let (mut phone, session) = rig.phone_with_session().await;
    let view = learned(&mut phone, &session).await;
    let sonnet = view["capabilities"]["models"]
        .as_array()
        .expect("models")
        .iter()
        .find(|m| m["value"] == "sonnet")
        .cloned()
        .expect("the CLI offers sonnet");
    let resolved = sonnet["resolved_model"].as_str().expect("a full name");

    let set = phone
        .ok(
            "session.set_model",
            json!({"session_id": session, "model": "sonnet", "effort": "low"}),
        )
        .await;
    assert_eq!(set["session"]["model"], "sonnet");
    assert_eq!(set["session"]["effort"], "low");
    let mark = phone.events.len();
    let (done, _) = run_prompt(&mut phone, &session, "hello again").await;
    assert_eq!(done["kind"], "prompt.completed", "{done}");
    let requests = rig.api.requests();
    let last = requests.last().expect("the API was called");
    assert_eq!(last["prompt"], "hello again");
    assert_eq!(last["model"], resolved);
    assert_eq!(last["effort"], "low");
    let inits: Vec<&Value> = outputs(&phone.events[mark..])
        .into_iter()
        .filter(|m| m["subtype"] == "init")
        .collect();
    assert_eq!(inits[0]["model"], resolved);
    assert_eq!(
        count_kind(&phone.events, "agent.exited"),
        0,
        "the same process"
    );

    let gpt = json!({"session_id": session, "model": "gpt-9"});
    let message = refusal(&mut phone, "session.set_model", gpt).await;
    assert!(message.contains("sonnet"), "{message}");
}
