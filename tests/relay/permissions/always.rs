//! "Allow always" allows what Claude Code suggested for that one request, nothing wider: in the
//! same process, after a stop, and after a server restart.

use serde_json::{json, Value};

use super::{answer, phone_with_session, prompt_end, request_id, resolved, session_info, until};
use crate::support::client::Client;
use crate::support::in_process::InProcessServer;
use crate::support::server::TestServer;

/// A command inside the project, and one that writes outside it.
pub const FIRST: &str = r#"permission Bash {"command":"touch first_file.txt"}"#;
pub const OUTSIDE: &str = r#"permission Bash {"command":"touch /etc/pocket-relay-owned"}"#;
pub const FIRST_RULE: &str = "Bash(touch first_file.txt)";

/// Sends `text` and waits until it either asks (answers the `permission.requested`) or ends
/// without asking (answers `None`). Prompts must run one at a time.
pub async fn try_prompt(phone: &mut Client, session: &str, text: &str) -> (String, Option<Value>) {
    let prompt = phone.prompt(session, text).await;
    let queued = until(phone, |e| {
        e["kind"] == "prompt.queued" && e["data"]["prompt_id"] == prompt
    })
    .await;
    let mark = queued["seq"].as_u64().expect("seq");
    let first = until(phone, |e| {
        let later = e["seq"].as_u64().is_some_and(|s| s > mark);
        let end = e["kind"] == "prompt.completed" || e["kind"] == "prompt.failed";
        later && (e["kind"] == "permission.requested" || (end && e["data"]["prompt_id"] == prompt))
    })
    .await;
    let asked = (first["kind"] == "permission.requested").then_some(first);
    (prompt, asked)
}

/// `text` runs to completion without a permission request.
pub async fn runs_unasked(phone: &mut Client, session: &str, text: &str) {
    let (prompt, asked) = try_prompt(phone, session, text).await;
    assert!(asked.is_none(), "{text} was asked: {asked:?}");
    let done = prompt_end(phone, &prompt).await;
    assert_eq!(done["data"]["result"], "tool finished", "{done}");
}

/// `text` asks; the request is denied and the prompt ends.
pub async fn asks_and_is_denied(phone: &mut Client, session: &str, text: &str) {
    let (prompt, asked) = try_prompt(phone, session, text).await;
    let asked = asked.unwrap_or_else(|| panic!("{text} ran without asking"));
    let denied = answer(phone, session, &request_id(&asked), "deny", json!({})).await;
    assert_eq!(denied["ok"], true, "{denied}");
    assert_eq!(
        prompt_end(phone, &prompt).await["data"]["result"],
        "tool denied"
    );
}

/// Asks with `text`, answers allow + always, waits for the prompt; answers the response data.
pub async fn allow_always(phone: &mut Client, session: &str, text: &str) -> Value {
    let (prompt, asked) = try_prompt(phone, session, text).await;
    let asked = asked.unwrap_or_else(|| panic!("{text} ran without asking"));
    let id = request_id(&asked);
    let answered = answer(phone, session, &id, "allow", json!({"always": true})).await;
    assert_eq!(answered["ok"], true, "{answered}");
    prompt_end(phone, &prompt).await;
    let resolution = resolved(phone, &id).await;
    assert_eq!(
        resolution["data"]["rules_added"], answered["data"]["rules_added"],
        "{resolution}"
    );
    answered["data"].clone()
}

/// What the fake CLI was told by the answer to its request (the tool_result line carries it).
fn answers_received(phone: &Client) -> Vec<Value> {
    phone
        .events
        .iter()
        .filter(|e| e["kind"] == "agent.output")
        .filter_map(|e| e["data"]["message"].get("fake_permission_answer"))
        .cloned()
        .collect()
}

#[tokio::test]
async fn allow_always_allows_the_same_command_and_still_asks_for_another() {
    let server = InProcessServer::start();
    let (mut phone, session) = phone_with_session(&server).await;
    let data = allow_always(&mut phone, &session, FIRST).await;
    assert_eq!(data, json!({"rules_added": [FIRST_RULE]}));

    // The CLI got the addRules suggestion only, kept in the session: no addDirectories, no
    // setMode, nothing for its settings files.
    let told = answers_received(&phone);
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(
        told[0]["updatedPermissions"],
        json!([{"type": "addRules",
                "rules": [{"toolName": "Bash", "ruleContent": "touch first_file.txt"}],
                "behavior": "allow", "destination": "session"}])
    );
    let info = session_info(&mut phone, &session).await;
    assert_eq!(info["allowed_rules"], json!([FIRST_RULE]));
    let updated = until(&mut phone, |e| {
        e["kind"] == "session.updated"
            && e["data"]["session"]["allowed_rules"] == json!([FIRST_RULE])
    })
    .await;
    assert!(updated["seq"].is_u64());

    runs_unasked(&mut phone, &session, FIRST).await;
    asks_and_is_denied(&mut phone, &session, OUTSIDE).await;
    assert_eq!(server.spawns().len(), 1, "all in one process");
}

#[tokio::test]
async fn the_rule_outlives_a_stop_and_a_server_restart_and_stays_as_narrow() {
    let mut server = TestServer::start();
    let (mut phone, session) = phone_with_session(&server).await;
    allow_always(&mut phone, &session, FIRST).await;

    // A new process after a stop starts with exactly that rule.
    phone
        .ok("session.stop", json!({"session_id": session}))
        .await;
    runs_unasked(&mut phone, &session, FIRST).await;
    asks_and_is_denied(&mut phone, &session, OUTSIDE).await;
    assert_eq!(server.spawns().len(), 2);
    let settings = server.spawn_flag(1, "--settings").expect("--settings");
    let settings: Value = serde_json::from_str(&settings).expect("JSON settings");
    assert_eq!(settings, json!({"permissions": {"allow": [FIRST_RULE]}}));
    assert_eq!(server.spawn_flag(1, "--allowedTools"), None);

    // The server restarts: the session still has the rule, and only that rule.
    server.restart();
    let mut phone = Client::connect(&server.ws_url()).await;
    phone.subscribe(&session, 0).await;
    let info = session_info(&mut phone, &session).await;
    assert_eq!(info["allowed_rules"], json!([FIRST_RULE]));
    runs_unasked(&mut phone, &session, FIRST).await;
    asks_and_is_denied(&mut phone, &session, OUTSIDE).await;
    let spawns = server.spawns();
    assert_eq!(spawns.len(), 3);
    let settings = server.spawn_flag(2, "--settings").expect("--settings");
    assert_eq!(
        serde_json::from_str::<Value>(&settings).unwrap(),
        json!({"permissions": {"allow": [FIRST_RULE]}})
    );
}

#[tokio::test]
async fn always_without_a_suggested_rule_is_a_plain_allow() {
    let server = InProcessServer::start();
    let (mut phone, session) = phone_with_session(&server).await;
    // For a Write in the project Claude Code suggests only `setMode acceptEdits`.
    let write = r#"permission Write {"file_path":"notes.txt"}"#;
    let data = allow_always(&mut phone, &session, write).await;
    assert_eq!(data, json!({"rules_added": []}));
    let told = answers_received(&phone);
    assert_eq!(told.len(), 1);
    assert!(told[0].get("updatedPermissions").is_none(), "{}", told[0]);
    let info = session_info(&mut phone, &session).await;
    assert_eq!(info["allowed_rules"], json!([]));
    assert_eq!(info["permission_mode"], "default");
    asks_and_is_denied(&mut phone, &session, write).await;

    // "always" is about the input Claude asked for: not with an edited one.
    let (prompt, asked) = try_prompt(&mut phone, &session, FIRST).await;
    let id = request_id(&asked.expect("asked"));
    let edited = json!({"always": true, "updated_input": {"command": "touch other.txt"}});
    let refused = answer(&mut phone, &session, &id, "allow", edited).await;
    assert_eq!(refused["error"]["code"], "bad_request", "{refused}");
    let plain = answer(&mut phone, &session, &id, "allow", json!({})).await;
    assert_eq!(plain["data"], json!({}), "{plain}");
    prompt_end(&mut phone, &prompt).await;
    assert_eq!(
        session_info(&mut phone, &session).await["allowed_rules"],
        json!([])
    );
}
