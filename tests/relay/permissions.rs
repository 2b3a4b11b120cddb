//! Claude asks to use a tool and the phones decide: permission requests, their answers, timeouts
//! and cancellations, and the session controls around them (interrupt, pause and resume,
//! permission mode).

mod always;
mod rules;

use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::home::{Home, Settings};
use crate::support::in_process::InProcessServer;
use crate::support::server::TestServer;
use crate::support::PATIENCE;

const RM_BUILD: &str = r#"permission Bash {"command":"rm -rf build"}"#;

/// A connected client with a new session it is subscribed to.
async fn phone_with_session(server: &Home) -> (Client, String) {
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    phone.subscribe(&session, 0).await;
    (phone, session)
}

/// The first event (already received or still to come) that matches `pred`. The deadline covers
/// the whole wait: heartbeat pings alone must not keep a test waiting forever.
async fn until(client: &mut Client, pred: impl Fn(&Value) -> bool) -> Value {
    if let Some(event) = client.events.iter().find(|e| pred(e)) {
        return event.clone();
    }
    match tokio::time::timeout(PATIENCE, client.wait_event(&pred)).await {
        Ok(event) => event,
        Err(_) => {
            let kinds: Vec<String> = client
                .events
                .iter()
                .map(|e| format!("{} {} {}", e["seq"], e["kind"], e["data"]))
                .collect();
            panic!(
                "the awaited event did not come; events so far:\n{}",
                kinds.join("\n")
            )
        }
    }
}

/// The first event of `kind`.
async fn kind(client: &mut Client, kind: &str) -> Value {
    until(client, |e| e["kind"] == kind).await
}

/// The end (`prompt.completed` or `prompt.failed`) of `prompt_id`.
async fn prompt_end(client: &mut Client, prompt_id: &str) -> Value {
    until(client, |e| {
        (e["kind"] == "prompt.completed" || e["kind"] == "prompt.failed")
            && e["data"]["prompt_id"] == prompt_id
    })
    .await
}

/// Queues `text` and waits for the permission request it causes; answers (prompt id, request).
async fn ask(phone: &mut Client, session: &str, text: &str) -> (String, Value) {
    let prompt = phone.prompt(session, text).await;
    let requested = kind(phone, "permission.requested").await;
    (prompt, requested)
}

fn request_id(requested: &Value) -> String {
    requested["data"]["request_id"]
        .as_str()
        .expect("request_id")
        .to_string()
}

/// A `session.permission` request with `fields` added; answers the whole response.
async fn answer(
    phone: &mut Client,
    session: &str,
    request_id: &str,
    decision: &str,
    fields: Value,
) -> Value {
    let mut frame = json!({"session_id": session, "request_id": request_id, "decision": decision});
    if let (Some(frame), Some(fields)) = (frame.as_object_mut(), fields.as_object()) {
        frame.extend(fields.clone());
    }
    phone.request("session.permission", frame).await
}

/// The `permission.resolved` event of `request_id`.
async fn resolved(phone: &mut Client, request_id: &str) -> Value {
    until(phone, |e| {
        e["kind"] == "permission.resolved" && e["data"]["request_id"] == request_id
    })
    .await
}

/// The `tool_result` block Claude Code reported for `tool_use_id`.
fn tool_result(phone: &Client, tool_use_id: &str) -> Value {
    phone
        .events
        .iter()
        .filter(|e| e["kind"] == "agent.output" && e["data"]["message"]["type"] == "user")
        .filter_map(|e| e["data"]["message"]["message"]["content"].as_array())
        .flatten()
        .find(|b| b["type"] == "tool_result" && b["tool_use_id"] == tool_use_id)
        .cloned()
        .unwrap_or_else(|| panic!("no tool_result for {tool_use_id}"))
}

fn tool_use_id(requested: &Value) -> String {
    requested["data"]["tool_use_id"]
        .as_str()
        .expect("tool_use_id")
        .to_string()
}

async fn session_info(phone: &mut Client, session: &str) -> Value {
    phone
        .ok("session.get", json!({"session_id": session}))
        .await["session"]
        .clone()
}

fn count(phone: &Client, kind: &str) -> usize {
    phone.events.iter().filter(|e| e["kind"] == kind).count()
}

#[tokio::test]
async fn a_permission_request_reaches_every_phone_and_one_that_connects_later() {
    let server = InProcessServer::start();
    let (mut phone, session) = phone_with_session(&server).await;
    let mut tablet = Client::connect(&server.ws_url()).await;
    tablet.subscribe(&session, 0).await;

    let (_, requested) = ask(&mut phone, &session, RM_BUILD).await;
    let data = &requested["data"];
    assert_eq!(data["tool_name"], "Bash");
    assert_eq!(data["input"], json!({"command": "rm -rf build"}));
    assert_eq!(data["description"], "fake wants to use Bash");
    assert!(data["tool_use_id"]
        .as_str()
        .is_some_and(|id| id.starts_with("toolu_")));
    assert_eq!(data["suggestions"][0]["type"], "addRules");
    let id = request_id(&requested);
    assert!(!id.is_empty());
    let awaiting = until(&mut phone, |e| {
        e["kind"] == "session.status" && e["data"]["status"] == "awaiting_permission"
    })
    .await;
    assert!(awaiting["seq"].as_u64() > requested["seq"].as_u64());

    // The other phone got the same event, with the same seq.
    let on_tablet = kind(&mut tablet, "permission.requested").await;
    assert_eq!(on_tablet, requested);
    let status = until(&mut tablet, |e| {
        e["kind"] == "session.status" && e["data"]["status"] == "awaiting_permission"
    })
    .await;
    assert!(status["seq"].as_u64() > requested["seq"].as_u64());

    // A laptop that connects now learns of it by replay and from the session object.
    let mut laptop = Client::connect(&server.ws_url()).await;
    let subscribed = laptop.subscribe(&session, 0).await;
    assert_eq!(subscribed["session"]["pending_permissions"], json!([id]));
    assert_eq!(subscribed["session"]["status"], "awaiting_permission");
    let replayed = kind(&mut laptop, "permission.requested").await;
    assert_eq!(replayed, requested);
    let info = session_info(&mut laptop, &session).await;
    assert_eq!(info["pending_permissions"], json!([id]));
    assert_eq!(info["status"], "awaiting_permission");
}

#[tokio::test]
async fn two_phones_race_to_answer_and_exactly_one_wins() {
    let server = InProcessServer::start();
    let (mut phone, session) = phone_with_session(&server).await;
    let mut tablet = Client::connect(&server.ws_url()).await;
    tablet.subscribe(&session, 0).await;
    let (prompt, requested) = ask(&mut phone, &session, RM_BUILD).await;
    let id = request_id(&requested);
    kind(&mut tablet, "permission.requested").await;

    // Both frames are on the wire before either answer is read.
    let allow = |rid: &str| {
        json!({"id": rid, "type": "session.permission", "session_id": session,
               "request_id": id, "decision": "allow"})
    };
    phone.send(allow("race-phone")).await;
    tablet.send(allow("race-tablet")).await;
    let from_phone = phone.response("race-phone").await;
    let from_tablet = tablet.response("race-tablet").await;
    let (winner, loser) = match (from_phone["ok"] == true, from_tablet["ok"] == true) {
        (true, false) => (&phone, &from_tablet),
        (false, true) => (&tablet, &from_phone),
        _ => panic!("exactly one answer must win: {from_phone} / {from_tablet}"),
    };
    assert_eq!(loser["error"]["code"], "conflict", "{loser}");
    let winner_connection = winner.welcome["connection_id"].clone();
    assert!(winner_connection.is_string());

    for client in [&mut phone, &mut tablet] {
        let done = prompt_end(client, &prompt).await;
        assert_eq!(done["kind"], "prompt.completed", "{done}");
        let resolutions: Vec<&Value> = client
            .events
            .iter()
            .filter(|e| e["kind"] == "permission.resolved")
            .collect();
        assert_eq!(resolutions.len(), 1, "{resolutions:?}");
        let resolution = &resolutions[0]["data"];
        assert_eq!(resolution["request_id"], id.as_str());
        assert_eq!(resolution["decision"], "allow");
        assert_eq!(resolution["by"]["user"], "local");
        assert_eq!(resolution["by"]["connection_id"], winner_connection);
        // Back to running once answered, before the prompt completed.
        let resolved_seq = resolutions[0]["seq"].as_u64().unwrap();
        let running = client
            .events
            .iter()
            .find(|e| {
                e["kind"] == "session.status"
                    && e["seq"].as_u64().unwrap() > resolved_seq
                    && e["data"]["status"] != "awaiting_permission"
            })
            .expect("a status after the answer");
        assert_eq!(running["data"]["status"], "running");
        let ran = tool_result(client, &tool_use_id(&requested));
        assert_eq!(
            ran["content"],
            r#"ran Bash with {"command":"rm -rf build"}"#
        );
        assert_eq!(ran["is_error"], false);
    }
    let info = session_info(&mut phone, &session).await;
    assert_eq!(info["pending_permissions"], json!([]));
}

#[tokio::test]
async fn allow_with_updated_input_runs_the_edited_input() {
    let server = InProcessServer::start();
    let (mut phone, session) = phone_with_session(&server).await;
    let (prompt, requested) = ask(&mut phone, &session, RM_BUILD).await;
    let edited = json!({"updated_input": {"command": "rm -rf build/tmp"}});
    let answered = answer(
        &mut phone,
        &session,
        &request_id(&requested),
        "allow",
        edited,
    )
    .await;
    assert_eq!(answered["ok"], true, "{answered}");
    assert_eq!(answered["data"], json!({}));
    let done = prompt_end(&mut phone, &prompt).await;
    assert_eq!(done["kind"], "prompt.completed");
    let ran = tool_result(&phone, &tool_use_id(&requested));
    assert_eq!(
        ran["content"],
        r#"ran Bash with {"command":"rm -rf build/tmp"}"#
    );
}

#[tokio::test]
async fn deny_with_a_message_tells_claude_and_the_prompt_completes() {
    let server = InProcessServer::start();
    let (mut phone, session) = phone_with_session(&server).await;
    let (prompt, requested) = ask(&mut phone, &session, RM_BUILD).await;
    let id = request_id(&requested);
    let why = json!({"message": "not the build dir, please"});
    let answered = answer(&mut phone, &session, &id, "deny", why).await;
    assert_eq!(answered["ok"], true, "{answered}");
    let resolution = resolved(&mut phone, &id).await;
    assert_eq!(resolution["data"]["decision"], "deny");
    let done = prompt_end(&mut phone, &prompt).await;
    assert_eq!(done["kind"], "prompt.completed");
    assert_eq!(done["data"]["result"], "tool denied");
    let result = tool_result(&phone, &tool_use_id(&requested));
    assert_eq!(result["content"], "not the build dir, please");
    assert_eq!(result["is_error"], true);
}

#[tokio::test]
async fn deny_with_interrupt_fails_the_prompt_and_the_queue_goes_on() {
    let server = InProcessServer::start();
    let (mut phone, session) = phone_with_session(&server).await;
    let (prompt, requested) = ask(&mut phone, &session, RM_BUILD).await;
    let next = phone.prompt(&session, "what now").await;
    let stop = json!({"message": "stop right there", "interrupt": true});
    let answered = answer(&mut phone, &session, &request_id(&requested), "deny", stop).await;
    assert_eq!(answered["ok"], true, "{answered}");
    let failed = prompt_end(&mut phone, &prompt).await;
    assert_eq!(failed["kind"], "prompt.failed", "{failed}");
    assert_eq!(failed["data"]["error"]["code"], "interrupted");
    let done = prompt_end(&mut phone, &next).await;
    assert_eq!(done["kind"], "prompt.completed");
    assert_eq!(done["data"]["result"], "echo: what now");
}

#[tokio::test]
async fn an_unanswered_request_is_denied_after_the_timeout() {
    let server =
        InProcessServer::start_with(Settings::default().set("permissions", "timeout_s = 1"));
    let (mut phone, session) = phone_with_session(&server).await;
    let (prompt, requested) = ask(&mut phone, &session, RM_BUILD).await;
    let id = request_id(&requested);
    let resolution = resolved(&mut phone, &id).await;
    assert_eq!(resolution["data"]["decision"], "deny");
    assert_eq!(resolution["data"]["by"], json!({"timeout": true}));
    let done = prompt_end(&mut phone, &prompt).await;
    assert_eq!(done["kind"], "prompt.completed");
    assert_eq!(done["data"]["result"], "tool denied");
    let result = tool_result(&phone, &tool_use_id(&requested));
    assert_eq!(result["is_error"], true);
    assert!(
        result["content"]
            .as_str()
            .is_some_and(|c| c.contains("no decision within 1 seconds")),
        "{result}"
    );
    let info = session_info(&mut phone, &session).await;
    assert_eq!(info["pending_permissions"], json!([]));
    let late = answer(&mut phone, &session, &id, "allow", json!({})).await;
    assert_eq!(late["error"]["code"], "conflict", "{late}");
}

#[tokio::test]
async fn without_a_timeout_a_request_waits() {
    let server = InProcessServer::start();
    let (mut phone, session) = phone_with_session(&server).await;
    let (_, requested) = ask(&mut phone, &session, RM_BUILD).await;
    let id = request_id(&requested);
    // The clock: another session's 1.5-second prompt, run to its end meanwhile.
    let clock = phone.create(&server.new_project("clock")).await;
    phone.subscribe(&clock, 0).await;
    let tick = phone.prompt(&clock, "sleep 1500").await;
    let done = prompt_end(&mut phone, &tick).await;
    assert_eq!(done["kind"], "prompt.completed");
    assert!(done["data"]["duration_ms"].as_u64().unwrap() >= 1500);
    assert_eq!(count(&phone, "permission.resolved"), 0);
    let info = session_info(&mut phone, &session).await;
    assert_eq!(info["pending_permissions"], json!([id]));
    assert_eq!(info["status"], "awaiting_permission");
}

#[tokio::test]
async fn an_interrupt_cancels_a_pending_request() {
    let server = InProcessServer::start();
    let (mut phone, session) = phone_with_session(&server).await;
    let (prompt, requested) = ask(&mut phone, &session, RM_BUILD).await;
    let id = request_id(&requested);
    let interrupted = phone
        .ok("session.interrupt", json!({"session_id": session}))
        .await;
    assert_eq!(interrupted, json!({"interrupted": true}));
    let resolution = resolved(&mut phone, &id).await;
    assert_eq!(resolution["data"]["decision"], "cancelled");
    let reason = &resolution["data"]["by"]["reason"];
    assert!(
        reason == "agent_cancelled" || reason == "interrupted",
        "{resolution}"
    );
    let failed = prompt_end(&mut phone, &prompt).await;
    assert_eq!(failed["kind"], "prompt.failed");
    assert_eq!(failed["data"]["error"]["code"], "interrupted");
    let late = answer(&mut phone, &session, &id, "allow", json!({})).await;
    assert_eq!(late["error"]["code"], "conflict", "{late}");
    assert_eq!(count(&phone, "permission.resolved"), 1);
    let info = session_info(&mut phone, &session).await;
    assert_eq!(info["pending_permissions"], json!([]));
}

#[tokio::test]
async fn stopping_the_session_cancels_a_pending_request() {
    let server = InProcessServer::start();
    let (mut phone, session) = phone_with_session(&server).await;
    let (prompt, requested) = ask(&mut phone, &session, RM_BUILD).await;
    let id = request_id(&requested);
    let stopped = phone
        .ok("session.stop", json!({"session_id": session}))
        .await;
    assert_eq!(stopped["session"]["pending_permissions"], json!([]));
    let resolution = resolved(&mut phone, &id).await;
    assert_eq!(resolution["data"]["decision"], "cancelled");
    assert_eq!(
        resolution["data"]["by"],
        json!({"reason": "process_exited"})
    );
    let failed = prompt_end(&mut phone, &prompt).await;
    assert_eq!(failed["kind"], "prompt.failed");
    assert_eq!(failed["data"]["error"]["code"], "session_stopped");
    let late = answer(&mut phone, &session, &id, "allow", json!({})).await;
    assert_eq!(late["error"]["code"], "conflict", "{late}");
    let unknown = answer(&mut phone, &session, "no-such-request", "allow", json!({})).await;
    assert_eq!(unknown["error"]["code"], "not_found", "{unknown}");
}

#[tokio::test]
async fn a_crash_with_a_request_pending_cancels_it() {
    let server = InProcessServer::start();
    let (mut phone, session) = phone_with_session(&server).await;
    let (prompt, requested) = ask(&mut phone, &session, RM_BUILD).await;
    let id = request_id(&requested);
    let pid = server.spawns()[0]["pid"].to_string();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .expect("run kill");
    assert!(killed.success());

    let exited = kind(&mut phone, "agent.exited").await;
    assert_eq!(exited["data"]["expected"], false);
    let resolution = resolved(&mut phone, &id).await;
    assert_eq!(resolution["data"]["decision"], "cancelled");
    assert_eq!(
        resolution["data"]["by"],
        json!({"reason": "process_exited"})
    );
    let failed = prompt_end(&mut phone, &prompt).await;
    assert_eq!(failed["data"]["error"]["code"], "agent_crashed");
    let crashed = until(&mut phone, |e| {
        e["kind"] == "session.status" && e["data"]["status"] == "crashed"
    })
    .await;
    // Nothing claims the session runs again once its process is gone.
    let exited_seq = exited["seq"].as_u64().unwrap();
    let after_exit: Vec<&Value> = phone
        .events
        .iter()
        .filter(|e| e["kind"] == "session.status" && e["seq"].as_u64().unwrap() > exited_seq)
        .collect();
    assert_eq!(after_exit, vec![&crashed], "{after_exit:?}");
    let late = answer(&mut phone, &session, &id, "allow", json!({})).await;
    assert_eq!(late["error"]["code"], "conflict", "{late}");
}

#[tokio::test]
async fn after_a_restart_a_pending_request_is_cancelled() {
    let mut server = TestServer::start();
    let (mut phone, session) = phone_with_session(&server).await;
    let (prompt, requested) = ask(&mut phone, &session, RM_BUILD).await;
    let id = request_id(&requested);
    until(&mut phone, |e| e["data"]["status"] == "awaiting_permission").await;

    server.restart();

    let mut phone = Client::connect(&server.ws_url()).await;
    phone.subscribe(&session, 0).await;
    let resolution = resolved(&mut phone, &id).await;
    assert_eq!(resolution["data"]["decision"], "cancelled");
    assert_eq!(
        resolution["data"]["by"],
        json!({"reason": "server_restarted"})
    );
    let failed = prompt_end(&mut phone, &prompt).await;
    assert_eq!(failed["kind"], "prompt.failed");
    assert_eq!(failed["data"]["error"]["code"], "server_restarted");
    let info = session_info(&mut phone, &session).await;
    assert_eq!(info["pending_permissions"], json!([]));
    assert_ne!(info["status"], "awaiting_permission");
    let late = answer(&mut phone, &session, &id, "allow", json!({})).await;
    assert_eq!(late["error"]["code"], "conflict", "{late}");
}

#[tokio::test]
async fn interrupt_stops_the_running_prompt_and_the_queue_goes_on() {
    let server = InProcessServer::start();
    let (mut phone, session) = phone_with_session(&server).await;
    let idle = phone
        .ok("session.interrupt", json!({"session_id": session}))
        .await;
    assert_eq!(idle, json!({"interrupted": false}));

    let stalled = phone.prompt(&session, "stall").await;
    until(&mut phone, |e| {
        e["kind"] == "agent.output" && e["data"]["message"]["subtype"] == "init"
    })
    .await;
    let next = phone.prompt(&session, "after the stall").await;
    let interrupted = phone
        .ok("session.interrupt", json!({"session_id": session}))
        .await;
    assert_eq!(interrupted, json!({"interrupted": true}));
    let failed = prompt_end(&mut phone, &stalled).await;
    assert_eq!(failed["kind"], "prompt.failed");
    assert_eq!(failed["data"]["error"]["code"], "interrupted");
    let done = prompt_end(&mut phone, &next).await;
    assert_eq!(done["kind"], "prompt.completed");
    assert_eq!(done["data"]["result"], "echo: after the stall");
}

#[tokio::test]
async fn a_paused_queue_finishes_the_running_prompt_and_starts_nothing_until_resumed() {
    let server = InProcessServer::start();
    let (mut phone, session) = phone_with_session(&server).await;
    // The first prompt runs until we answer its permission request: no clock involved.
    let (first, requested) = ask(&mut phone, &session, RM_BUILD).await;
    let second = phone.prompt(&session, "after the pause").await;
    let paused = phone
        .ok("session.pause", json!({"session_id": session}))
        .await;
    assert_eq!(paused["session"]["paused"], true);
    assert_eq!(paused["session"]["queue_length"], 1);
    let answered = answer(
        &mut phone,
        &session,
        &request_id(&requested),
        "allow",
        json!({}),
    )
    .await;
    assert_eq!(answered["ok"], true, "{answered}");
    let done = prompt_end(&mut phone, &first).await;
    assert_eq!(done["kind"], "prompt.completed");
    // The running prompt finished; the queued one stays put.
    let idle = until(&mut phone, |e| {
        e["kind"] == "session.status"
            && e["data"]["status"] == "idle"
            && e["seq"].as_u64() > done["seq"].as_u64()
    })
    .await;
    assert!(idle["seq"].is_u64());
    let info = session_info(&mut phone, &session).await;
    assert_eq!(info["paused"], true);
    assert_eq!(info["queue_length"], 1);

    let resumed = phone
        .ok("session.resume", json!({"session_id": session}))
        .await;
    assert_eq!(resumed["session"]["paused"], false);
    let started = until(&mut phone, |e| {
        e["kind"] == "prompt.started" && e["data"]["prompt_id"] == second
    })
    .await;
    let updates: Vec<(u64, bool)> = phone
        .events
        .iter()
        .filter(|e| e["kind"] == "session.updated")
        .map(|e| {
            let paused = e["data"]["session"]["paused"].as_bool().unwrap();
            (e["seq"].as_u64().unwrap(), paused)
        })
        .collect();
    let pause_seq = updates
        .iter()
        .find(|(_, paused)| *paused)
        .expect("a session.updated for the pause")
        .0;
    let resume_seq = updates
        .iter()
        .find(|(seq, paused)| *seq > pause_seq && !paused)
        .expect("a session.updated for the resume")
        .0;
    assert!(
        started["seq"].as_u64().unwrap() > resume_seq,
        "the queued prompt started before the resume"
    );
    assert_eq!(
        prompt_end(&mut phone, &second).await["kind"],
        "prompt.completed"
    );
}

#[tokio::test]
async fn set_permission_mode_reaches_the_process_or_the_next_start() {
    let server = InProcessServer::start();
    let (mut phone, session) = phone_with_session(&server).await;
    let warm = phone.prompt(&session, "hello").await;
    prompt_end(&mut phone, &warm).await;

    // A running process is told at once.
    let set = phone
        .ok(
            "session.set_permission_mode",
            json!({"session_id": session, "permission_mode": "acceptEdits"}),
        )
        .await;
    assert_eq!(set["session"]["permission_mode"], "acceptEdits");
    let updated = until(&mut phone, |e| {
        e["kind"] == "session.updated" && e["data"]["session"]["permission_mode"] == "acceptEdits"
    })
    .await;
    assert_eq!(updated["session_id"], session.as_str());
    // acceptEdits lets Write run without asking.
    let write = phone
        .prompt(&session, r#"permission Write {"file_path":"a.txt"}"#)
        .await;
    let done = prompt_end(&mut phone, &write).await;
    assert_eq!(done["data"]["result"], "tool finished");
    assert_eq!(count(&phone, "permission.requested"), 0);
    assert_eq!(server.spawns().len(), 1);

    let bad = json!({"session_id": session, "permission_mode": "yolo"});
    assert_eq!(
        phone.err("session.set_permission_mode", bad).await,
        "bad_request"
    );
    let bypass = json!({"session_id": session, "permission_mode": "bypassPermissions"});
    assert_eq!(
        phone.err("session.set_permission_mode", bypass).await,
        "forbidden"
    );
    let info = session_info(&mut phone, &session).await;
    assert_eq!(info["permission_mode"], "acceptEdits");

    // Without a process the mode waits for the next start.
    let later = phone.create(&server.new_project("later")).await;
    let set = phone
        .ok(
            "session.set_permission_mode",
            json!({"session_id": later, "permission_mode": "acceptEdits"}),
        )
        .await;
    assert_eq!(set["session"]["permission_mode"], "acceptEdits");
    let prompt = phone.prompt(&later, "hello").await;
    phone.subscribe(&later, 0).await;
    prompt_end(&mut phone, &prompt).await;
    let spawns = server.spawns();
    assert_eq!(spawns.len(), 2);
    let mode = server
        .spawn_flag(1, "--permission-mode")
        .expect("--permission-mode on the second start");
    assert_eq!(mode, "acceptEdits");
}

#[tokio::test]
async fn bad_permission_answers_are_refused_and_the_connection_stays_open() {
    let server = InProcessServer::start();
    let (mut phone, session) = phone_with_session(&server).await;
    let (prompt, requested) = ask(&mut phone, &session, RM_BUILD).await;
    let id = request_id(&requested);

    let maybe = answer(&mut phone, &session, &id, "maybe", json!({})).await;
    assert_eq!(maybe["error"]["code"], "bad_request", "{maybe}");
    let not_an_object = json!({"updated_input": "rm -rf /"});
    let string_input = answer(&mut phone, &session, &id, "allow", not_an_object).await;
    assert_eq!(
        string_input["error"]["code"], "bad_request",
        "{string_input}"
    );
    let edited_deny = json!({"updated_input": {"command": "ls"}});
    let deny_with_input = answer(&mut phone, &session, &id, "deny", edited_deny).await;
    assert_eq!(
        deny_with_input["error"]["code"], "bad_request",
        "{deny_with_input}"
    );
    let no_id = json!({"session_id": session, "decision": "allow"});
    assert_eq!(phone.err("session.permission", no_id).await, "bad_request");

    // Nothing was decided: the request is still open, and a good answer still works.
    let info = session_info(&mut phone, &session).await;
    assert_eq!(info["pending_permissions"], json!([id]));
    assert_eq!(count(&phone, "permission.resolved"), 0);
    assert_eq!(phone.ok("ping", json!({})).await, json!({}));
    let answered = answer(&mut phone, &session, &id, "allow", json!({})).await;
    assert_eq!(answered["ok"], true, "{answered}");
    assert_eq!(
        prompt_end(&mut phone, &prompt).await["kind"],
        "prompt.completed"
    );
}
