//! The Claude process's life: crashes, spawn failures, slots, idling, stop and delete.

use serde_json::json;

use crate::support::client::Client;
use crate::support::home::Settings;
use crate::support::in_process::InProcessServer;

#[tokio::test]
async fn a_crash_mid_turn_fails_the_prompt_and_the_next_prompt_resumes() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    phone.subscribe(&session, 0).await;
    let crash = phone.prompt(&session, "crash").await;
    let exited = phone.wait_kind("agent.exited").await;
    assert_eq!(exited["data"]["expected"], false);
    assert_eq!(exited["data"]["code"], 3);
    let failed = phone.wait_prompt_end(&crash).await;
    assert_eq!(failed["kind"], "prompt.failed");
    assert_eq!(failed["data"]["error"]["code"], "agent_crashed");
    let status = phone.wait_kind("session.status").await;
    assert_eq!(status["data"]["status"], "crashed");

    let claude_session = phone
        .events
        .iter()
        .find(|e| e["data"]["message"]["subtype"] == "init")
        .unwrap()["data"]["message"]["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let next = phone.prompt(&session, "are you back").await;
    let done = phone.wait_prompt_end(&next).await;
    assert_eq!(done["kind"], "prompt.completed");
    let spawns = server.spawns();
    assert_eq!(spawns.len(), 2);
    let resumed = server
        .spawn_flag(1, "--resume")
        .expect("--resume on the second start");
    assert_eq!(resumed, claude_session);
}

#[tokio::test]
async fn a_line_that_is_not_json_is_reported_not_dropped() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    phone.subscribe(&session, 0).await;
    let prompt = phone.prompt(&session, "garbage").await;
    phone.wait_prompt_end(&prompt).await;
    let invalid = phone
        .events
        .iter()
        .find(|e| e["kind"] == "agent.invalid_output")
        .expect("reported");
    assert_eq!(invalid["data"]["text"], "this is not json {");
    assert!(invalid["data"]["error"]
        .as_str()
        .is_some_and(|e| !e.is_empty()));
}

#[tokio::test]
async fn stderr_arrives_as_agent_stderr() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    phone.subscribe(&session, 0).await;
    let prompt = phone.prompt(&session, "stderr 3").await;
    phone.wait_prompt_end(&prompt).await;
    // stderr is gathered in windows; wait until all three lines were reported.
    let mut text = String::new();
    for event in phone.events.iter().filter(|e| e["kind"] == "agent.stderr") {
        text.push_str(event["data"]["text"].as_str().unwrap());
    }
    while !text.contains("stderr line 3") {
        let event = phone.wait_kind("agent.stderr").await;
        text.push_str(event["data"]["text"].as_str().unwrap());
    }
    assert!(text.contains("stderr line 1") && text.contains("stderr line 2"));
}

#[tokio::test]
async fn a_binary_that_cannot_start_fails_the_prompt_and_the_server_stays_up() {
    let server = InProcessServer::start_with(
        Settings::default().set("claude", "binary = \"/nonexistent/claude\""),
    );
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    phone.subscribe(&session, 0).await;
    let prompt = phone.prompt(&session, "hello").await;
    let failed = phone.wait_prompt_end(&prompt).await;
    assert_eq!(failed["data"]["error"]["code"], "spawn_failed");
    assert!(failed["data"]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/nonexistent/claude"));
    // The queue goes on: a second prompt fails the same way, and the server still answers.
    let again = phone.prompt(&session, "hello again").await;
    assert_eq!(
        phone.wait_prompt_end(&again).await["data"]["error"]["code"],
        "spawn_failed"
    );
    assert_eq!(server.get("/health").await.0, 200);
}

#[tokio::test]
async fn sessions_run_in_parallel_up_to_max_running_and_the_rest_wait() {
    let server = InProcessServer::start_with(Settings::default().set("claude", "max_running = 2"));
    let mut phone = Client::connect(&server.ws_url()).await;
    let mut sessions = Vec::new();
    for i in 0..3 {
        let session = phone.create(&server.new_project(&format!("p{i}"))).await;
        phone.subscribe(&session, 0).await;
        sessions.push(session);
    }
    // Two sessions hold their prompts open; the third must wait for a slot.
    let a = phone.prompt(&sessions[0], "sleep 1500").await;
    let b = phone.prompt(&sessions[1], "sleep 1500").await;
    phone
        .wait_event(|e| e["kind"] == "prompt.started" && e["data"]["prompt_id"] == b)
        .await;
    let c = phone.prompt(&sessions[2], "hello").await;
    let waiting = phone
        .wait_event(|e| e["session_id"] == sessions[2].as_str() && e["kind"] == "session.status")
        .await;
    assert_eq!(waiting["data"]["status"], "waiting");
    let c_started = phone
        .wait_event(|e| e["kind"] == "prompt.started" && e["data"]["prompt_id"] == c)
        .await;
    // It started only after one of the others ended and gave its slot up. Sessions are ordered
    // each on its own (`seq`), not against each other on the wire, so the events' times tell.
    let a_end = phone.wait_prompt_end(&a).await;
    let b_end = phone.wait_prompt_end(&b).await;
    let first_end = std::cmp::min(
        a_end["ts"].as_str().unwrap().to_string(),
        b_end["ts"].as_str().unwrap().to_string(),
    );
    let c_start = c_started["ts"].as_str().unwrap();
    assert!(
        first_end.as_str() <= c_start,
        "c started at {c_start}, while both others ran until {first_end}"
    );
    assert!(c_started["seq"].is_u64());
    phone.wait_prompt_end(&c).await;
}

#[tokio::test]
async fn an_idle_process_stops_after_the_idle_timeout_and_the_next_prompt_resumes() {
    let server =
        InProcessServer::start_with(Settings::default().set("claude", "idle_timeout_s = 1"));
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    phone.subscribe(&session, 0).await;
    let first = phone.prompt(&session, "hello").await;
    phone.wait_prompt_end(&first).await;
    let exited = phone.wait_kind("agent.exited").await;
    assert_eq!(exited["data"]["expected"], true);
    assert_eq!(exited["data"]["code"], 0);
    let stopped = phone.wait_kind("session.status").await;
    assert_eq!(stopped["data"]["status"], "stopped");
    let second = phone.prompt(&session, "again").await;
    assert_eq!(
        phone.wait_prompt_end(&second).await["kind"],
        "prompt.completed"
    );
    let spawns = server.spawns();
    assert_eq!(spawns.len(), 2);
    assert!(server.spawn_flag(1, "--resume").is_some());
}

#[tokio::test]
async fn stop_ends_the_process_and_delete_removes_the_session() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    phone.subscribe(&session, 0).await;
    let running = phone.prompt(&session, "stall").await;
    phone
        .wait_event(|e| e["kind"] == "prompt.started" && e["data"]["prompt_id"] == running)
        .await;
    let queued = phone.prompt(&session, "never runs").await;
    let stopped = phone
        .ok("session.stop", json!({"session_id": session}))
        .await;
    assert_eq!(stopped["session"]["status"], "stopped");
    assert_eq!(stopped["session"]["queue_length"], 0);
    let failed = phone.wait_prompt_end(&running).await;
    assert_eq!(failed["data"]["error"]["code"], "session_stopped");
    // Events may come in either order; both prompts failed as stopped.
    let all_failed: Vec<_> = phone
        .events
        .iter()
        .filter(|e| e["kind"] == "prompt.failed")
        .map(|e| e["data"]["prompt_id"].as_str().unwrap().to_string())
        .collect();
    if !all_failed.contains(&queued) {
        phone.wait_prompt_end(&queued).await;
    }
    let exited = phone
        .events
        .iter()
        .find(|e| e["kind"] == "agent.exited")
        .cloned();
    let exited = match exited {
        Some(e) => e,
        None => phone.wait_kind("agent.exited").await,
    };
    assert_eq!(exited["data"]["expected"], true);

    // Paused sessions start nothing.
    let paused = phone
        .ok("session.pause", json!({"session_id": session}))
        .await;
    assert_eq!(paused["session"]["paused"], true);
    let held = phone.prompt(&session, "held back").await;
    let info = phone
        .ok("session.get", json!({"session_id": session}))
        .await;
    assert_eq!(info["session"]["queue_length"], 1);
    let resumed = phone
        .ok("session.resume", json!({"session_id": session}))
        .await;
    assert_eq!(resumed["session"]["paused"], false);
    assert_eq!(
        phone.wait_prompt_end(&held).await["kind"],
        "prompt.completed"
    );

    assert_eq!(
        phone
            .ok("session.delete", json!({"session_id": session}))
            .await,
        json!({})
    );
    assert_eq!(
        phone
            .err("session.get", json!({"session_id": session}))
            .await,
        "not_found"
    );
    let listed = phone.ok("session.list", json!({})).await;
    assert_eq!(listed["sessions"], json!([]));
}

#[tokio::test]
async fn session_create_checks_its_fields() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    assert_eq!(phone.err("session.create", json!({})).await, "bad_request");
    // A missing directory gets the answer of any path outside the roots: it must not tell
    // what exists there (it was `bad_request`, an oracle for existence).
    assert_eq!(
        phone
            .err("session.create", json!({"cwd": "/definitely/not/here"}))
            .await,
        "forbidden"
    );
    assert_eq!(
        phone
            .err("session.create", json!({"cwd": "relative/path"}))
            .await,
        "bad_request"
    );
    assert_eq!(
        phone.err("session.create", json!({"cwd": "/"})).await,
        "forbidden"
    );
    let bypass = json!({"cwd": server.project(), "permission_mode": "bypassPermissions"});
    assert_eq!(phone.err("session.create", bypass).await, "forbidden");
    let bad_mode = json!({"cwd": server.project(), "permission_mode": "yolo"});
    assert_eq!(phone.err("session.create", bad_mode).await, "bad_request");
    let plan = phone
        .ok(
            "session.create",
            json!({"cwd": server.project(), "permission_mode": "plan", "model": "fake-model"}),
        )
        .await;
    assert_eq!(plan["session"]["permission_mode"], "plan");
    assert_eq!(plan["session"]["model"], "fake-model");
}

#[tokio::test]
async fn deleting_a_session_while_its_prompt_runs_answers_ok() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    for transport in ["ws", "rest"] {
        let session = phone.create(&server.project()).await;
        phone.subscribe(&session, 0).await;
        let prompt = phone.prompt(&session, "sleep 30000").await;
        phone
            .wait_event(|e| e["kind"] == "prompt.started" && e["data"]["prompt_id"] == prompt)
            .await;
        if transport == "ws" {
            phone
                .ok("session.delete", json!({"session_id": session}))
                .await;
        } else {
            let path = format!("/api/v1/sessions/{session}");
            let answer =
                crate::support::http::request(&server.url, "DELETE", &path, &[], None).await;
            assert_eq!(answer.status, 200, "{}", answer.body);
        }
        let listed = phone.ok("session.list", json!({})).await;
        assert_eq!(listed["sessions"], json!([]), "{transport}");
    }
}
