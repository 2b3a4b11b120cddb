//! Sessions and prompts against the fake `claude`: output arrives live, prompts queue in order,
//! retries are idempotent.

use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::in_process::InProcessServer;

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn a_prompt_runs_and_its_output_arrives_live() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let created = phone
        .ok(
            "session.create",
            json!({"cwd": server.project(), "title": "demo"}),
        )
        .await;
    let session = created["session"]["id"].as_str().unwrap().to_string();
    assert_eq!(created["session"]["title"], "demo");
    assert_eq!(created["session"]["owner"], "local");
    assert_eq!(created["session"]["status"], "idle");
    assert_eq!(created["session"]["last_seq"], 1);

    let subscribed = phone.subscribe(&session, 0).await;
    assert_eq!(subscribed["last_seq"], 1);
    let created_event = phone.next_event().await;
    assert_eq!(created_event["kind"], "session.created");
    assert_eq!(created_event["seq"], 1);

    let prompt = phone.prompt(&session, "hello there").await;
    let done = phone.wait_prompt_end(&prompt).await;
    assert_eq!(done["kind"], "prompt.completed");
    assert_eq!(done["data"]["result"], "echo: hello there");
    assert_eq!(done["data"]["is_error"], false);
    assert!(done["data"]["claude_session_id"].is_string());
    let idle = phone.wait_kind("session.status").await;
    assert_eq!(idle["data"]["status"], "idle");
    // What the CLI can do is learned beside the turn, in an order the CLI decides.
    if !phone
        .events
        .iter()
        .any(|e| e["kind"] == "session.capabilities")
    {
        phone.wait_kind("session.capabilities").await;
    }

    let kinds = kinds(&phone.events);
    let expected = [
        "session.created",
        "prompt.queued",
        "session.status",
        "prompt.started",
        "session.status",
    ];
    assert_eq!(&kinds[..5], &expected, "{kinds:?}");
    let statuses: Vec<&str> = phone
        .events
        .iter()
        .filter(|e| e["kind"] == "session.status")
        .map(|e| e["data"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["starting", "running", "idle"]);
    let outputs: Vec<&Value> = phone
        .events
        .iter()
        .filter(|e| e["kind"] == "agent.output")
        .collect();
    let types: Vec<&str> = outputs
        .iter()
        .map(|e| e["data"]["message"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["system", "assistant", "result"]);
    assert_eq!(
        outputs[1]["data"]["message"]["message"]["content"][0]["text"],
        "echo: hello there"
    );

    // Seqs are 1, 2, 3, … with no gap, and every event names its session and has a timestamp.
    let seqs = phone.seqs(&session);
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    for event in &phone.events {
        assert_eq!(event["session_id"], session.as_str());
        assert!(event["ts"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z') && t.contains('.')));
    }

    let got = phone
        .ok("session.get", json!({"session_id": session}))
        .await;
    assert_eq!(got["session"]["status"], "idle");
    assert_eq!(got["session"]["last_seq"], *seqs.last().unwrap());
    let listed = phone.ok("session.list", json!({})).await;
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn prompts_of_one_session_run_one_at_a_time_in_order() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    phone.subscribe(&session, 0).await;
    let first = phone.prompt(&session, "sleep 300").await;
    let second = phone.prompt(&session, "emit 2").await;
    let third = phone.prompt(&session, "third").await;
    phone.wait_prompt_end(&third).await;

    let order: Vec<(String, String)> = phone
        .events
        .iter()
        .filter(|e| {
            matches!(
                e["kind"].as_str(),
                Some("prompt.started" | "prompt.completed" | "prompt.failed")
            )
        })
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["data"]["prompt_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [&first, &second, &third]
        .iter()
        .flat_map(|p| {
            [
                ("prompt.started".to_string(), p.to_string()),
                ("prompt.completed".to_string(), p.to_string()),
            ]
        })
        .collect();
    assert_eq!(order, expected);
    // One process served all three turns.
    assert_eq!(server.spawns().len(), 1);
}

#[tokio::test]
async fn a_retried_prompt_id_returns_the_first_answer_and_queues_nothing() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    let first = phone
        .ok(
            "session.prompt",
            json!({"session_id": session, "text": "sleep 200", "prompt_id": "p-1"}),
        )
        .await;
    assert_eq!(first, json!({"prompt_id": "p-1", "position": 0}));
    let again = phone
        .ok(
            "session.prompt",
            json!({"session_id": session, "text": "sleep 200", "prompt_id": "p-1"}),
        )
        .await;
    assert_eq!(again, first);
    let other = phone
        .ok(
            "session.prompt",
            json!({"session_id": session, "text": "next", "prompt_id": "p-2"}),
        )
        .await;
    assert_eq!(other["position"], 1);
    phone.subscribe(&session, 0).await;
    phone.wait_prompt_end("p-2").await;
    let queued = phone
        .events
        .iter()
        .filter(|e| e["kind"] == "prompt.queued")
        .count();
    assert_eq!(queued, 2);
}
