//! A session shows its "allow always" rules and a client removes them, over the WebSocket and
//! over REST; a removed rule no longer applies, even to the process that learned it.

use serde_json::{json, Value};

use super::always::{
    allow_always, asks_and_is_denied, runs_unasked, try_prompt, FIRST, FIRST_RULE,
};
use super::{answer, phone_with_session, prompt_end, request_id, session_info, until};
use crate::support::http::{get, request};
use crate::support::in_process::InProcessServer;

/// An MCP tool: Claude Code suggests the whole tool for it.
const MCP: &str = r#"permission mcp__files__read {"path":"a.txt"}"#;

/// `DELETE /api/v1/sessions/{id}/rules` with `body`; answers (status, envelope).
async fn delete_rule(server: &InProcessServer, session: &str, body: &str) -> (u16, Value) {
    let path = format!("/api/v1/sessions/{session}/rules");
    let headers = [("Content-Type", "application/json")];
    let response = request(
        &server.url,
        "DELETE",
        &path,
        &headers,
        Some(body.as_bytes()),
    )
    .await;
    (response.status, response.json())
}

#[tokio::test]
async fn a_client_removes_rules_over_websocket_and_rest_and_is_asked_again() {
    let server = InProcessServer::start();
    let (mut phone, session) = phone_with_session(&server).await;
    allow_always(&mut phone, &session, FIRST).await;
    let data = allow_always(&mut phone, &session, MCP).await;
    assert_eq!(data, json!({"rules_added": ["mcp__files__read"]}));
    let listed = phone.ok("session.list", json!({})).await;
    assert_eq!(
        listed["sessions"][0]["allowed_rules"],
        json!([FIRST_RULE, "mcp__files__read"])
    );
    let got = get(&server.url, &format!("/api/v1/sessions/{session}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(
        got.json()["data"]["session"]["allowed_rules"],
        json!([FIRST_RULE, "mcp__files__read"])
    );

    // Over the WebSocket: the idle process that knew the rule is replaced.
    let removed = phone
        .ok(
            "session.remove_rule",
            json!({"session_id": session, "rule": FIRST_RULE}),
        )
        .await;
    assert_eq!(
        removed["session"]["allowed_rules"],
        json!(["mcp__files__read"])
    );
    let exited = until(&mut phone, |e| e["kind"] == "agent.exited").await;
    assert_eq!(exited["data"]["expected"], true);
    asks_and_is_denied(&mut phone, &session, FIRST).await;
    runs_unasked(&mut phone, &session, MCP).await;
    assert_eq!(server.spawns().len(), 2);
    let settings = server.spawn_flag(1, "--settings").expect("--settings");
    assert_eq!(
        serde_json::from_str::<Value>(&settings).unwrap(),
        json!({"permissions": {"allow": ["mcp__files__read"]}})
    );

    // Over REST.
    let (status, body) = delete_rule(&server, &session, r#"{"rule":"mcp__files__read"}"#).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["session"]["allowed_rules"], json!([]));
    asks_and_is_denied(&mut phone, &session, MCP).await;
    assert_eq!(server.spawns().len(), 3);
    assert_eq!(server.spawn_flag(2, "--settings"), None);

    // A rule the session does not have, or a body without one.
    let (status, body) = delete_rule(&server, &session, r#"{"rule":"mcp__files__read"}"#).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("not_found"))
    );
    let (status, _) = delete_rule(&server, &session, r#"{"tool":"Bash"}"#).await;
    assert_eq!(status, 400);
    let unknown = json!({"session_id": session, "rule": "Bash"});
    assert_eq!(phone.err("session.remove_rule", unknown).await, "not_found");
    let no_rule = json!({"session_id": session});
    assert_eq!(
        phone.err("session.remove_rule", no_rule).await,
        "bad_request"
    );
}

#[tokio::test]
async fn a_rule_removed_while_a_prompt_runs_is_gone_before_the_next_prompt() {
    let server = InProcessServer::start();
    let (mut phone, session) = phone_with_session(&server).await;
    allow_always(&mut phone, &session, FIRST).await;

    // A prompt is running (waiting for an answer) when the rule goes; the next one is queued.
    let (running, asked) = try_prompt(
        &mut phone,
        &session,
        r#"permission Bash {"command":"ls -la"}"#,
    )
    .await;
    let asked = asked.expect("asked");
    let removed = phone
        .ok(
            "session.remove_rule",
            json!({"session_id": session, "rule": FIRST_RULE}),
        )
        .await;
    assert_eq!(removed["session"]["allowed_rules"], json!([]));
    let next = phone.prompt(&session, FIRST).await;
    let allowed = answer(
        &mut phone,
        &session,
        &request_id(&asked),
        "allow",
        json!({}),
    )
    .await;
    assert_eq!(allowed["ok"], true, "{allowed}");
    assert_eq!(
        prompt_end(&mut phone, &running).await["kind"],
        "prompt.completed"
    );

    // The queued prompt went to a new process, which asks.
    let asked_seq = asked["seq"].as_u64().expect("seq");
    let requested = until(&mut phone, |e| {
        e["kind"] == "permission.requested" && e["seq"].as_u64().is_some_and(|s| s > asked_seq)
    })
    .await;
    assert_eq!(
        requested["data"]["input"]["command"],
        "touch first_file.txt"
    );
    let denied = answer(
        &mut phone,
        &session,
        &request_id(&requested),
        "deny",
        json!({}),
    )
    .await;
    assert_eq!(denied["ok"], true, "{denied}");
    let done = prompt_end(&mut phone, &next).await;
    assert_eq!(done["data"]["result"], "tool denied", "{done}");
    assert_eq!(server.spawns().len(), 2);
    assert_eq!(
        session_info(&mut phone, &session).await["allowed_rules"],
        json!([])
    );
}
