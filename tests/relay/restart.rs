//! The server dies or is stopped: nothing a client saw is lost, queued prompts run, running
//! ones fail plainly.

use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::server::TestServer;

/// Reads every stored event of `session` from a fresh subscription.
async fn stored_log(server: &TestServer, session: &str) -> Vec<Value> {
    let mut reader = Client::connect(&server.ws_url()).await;
    let subscribed = reader.subscribe(session, 0).await;
    let last = subscribed["last_seq"].as_u64().unwrap();
    reader.read_through(last).await;
    reader.events
}

#[tokio::test]
async fn after_a_sigkill_mid_turn_every_seen_event_is_kept_and_queued_prompts_run() {
    let mut server = TestServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    phone.subscribe(&session, 0).await;
    let running = phone.prompt(&session, "stall").await;
    phone
        .wait_event(|e| e["kind"] == "agent.output" && e["data"]["message"]["subtype"] == "init")
        .await;
    let queued = phone.prompt(&session, "after the restart").await;
    phone.wait_kind("prompt.queued").await;
    let seen = phone.events.clone();

    server.restart();

    let mut phone = Client::connect(&server.ws_url()).await;
    phone.subscribe(&session, 0).await;
    let done = phone.wait_prompt_end(&queued).await;
    assert_eq!(done["kind"], "prompt.completed");
    // Everything seen before the kill is still there, with the same seq and content.
    assert_eq!(&phone.events[..seen.len()], seen.as_slice());
    let failed = phone
        .events
        .iter()
        .find(|e| e["kind"] == "prompt.failed" && e["data"]["prompt_id"] == running)
        .expect("the running prompt failed");
    assert_eq!(failed["data"]["error"]["code"], "server_restarted");
    let seqs = phone.seqs(&session);
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    // The conversation resumed in a new process.
    let spawns = server.spawns();
    let last_argv = spawns.last().unwrap()["argv"].as_array().unwrap().clone();
    assert!(
        server.spawn_flag(spawns.len() - 1, "--resume").is_some(),
        "{last_argv:?}"
    );
    // The session object came back with the right counters.
    let info = phone
        .ok("session.get", json!({"session_id": session}))
        .await;
    assert_eq!(info["session"]["queue_length"], 0);
}

#[tokio::test]
async fn sigterm_closes_clients_with_1001_lets_the_prompt_finish_and_exits_0() {
    let mut server = TestServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    phone.subscribe(&session, 0).await;
    let prompt = phone.prompt(&session, "sleep 1500").await;
    phone
        .wait_event(|e| e["kind"] == "prompt.started" && e["data"]["prompt_id"] == prompt)
        .await;
    let code = server.terminate();
    assert_eq!(code, Some(0), "log:\n{}", server.log());
    assert_eq!(phone.closed().await.code, 1001);

    server.restart();
    let log = stored_log(&server, &session).await;
    let end = log
        .iter()
        .find(|e| {
            e["data"]["prompt_id"] == prompt
                && (e["kind"] == "prompt.completed" || e["kind"] == "prompt.failed")
        })
        .expect("the prompt ended");
    assert_eq!(
        end["kind"], "prompt.completed",
        "the running prompt was allowed to finish"
    );
    let exited = log
        .iter()
        .find(|e| e["kind"] == "agent.exited")
        .expect("agent stopped");
    assert_eq!(exited["data"]["expected"], true);
}

#[tokio::test]
async fn a_long_history_replays_in_order_across_a_restart() {
    let mut server = TestServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    let prompt = phone.prompt(&session, "emit 3000").await;
    phone.subscribe(&session, 0).await;
    phone.wait_prompt_end(&prompt).await;
    let before = phone.events.clone();
    server.restart();
    let after = stored_log(&server, &session).await;
    assert_eq!(&after[..before.len()], before.as_slice());
}

#[tokio::test]
async fn a_prompt_retried_after_a_restart_is_not_run_twice() {
    let mut server = TestServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    phone.subscribe(&session, 0).await;
    let first = phone
        .ok(
            "session.prompt",
            json!({"session_id": session, "text": "hello", "prompt_id": "once"}),
        )
        .await;
    phone.wait_prompt_end("once").await;
    server.restart();
    let mut phone = Client::connect(&server.ws_url()).await;
    let again = phone
        .ok(
            "session.prompt",
            json!({"session_id": session, "text": "hello", "prompt_id": "once"}),
        )
        .await;
    assert_eq!(again, first);
    let log = stored_log(&server, &session).await;
    assert_eq!(
        log.iter().filter(|e| e["kind"] == "prompt.queued").count(),
        1
    );
}
