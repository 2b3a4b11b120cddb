//! A `claude` that misbehaves (crashes mid-line, a 10 MB line, garbage, a stderr flood, never
//! answering): the server stays up, reports each plainly, and other sessions are unaffected.

use serde_json::json;

use crate::support::client::Client;
use crate::support::home::Settings;
use crate::support::in_process::InProcessServer;

#[tokio::test]
async fn a_misbehaving_agent_is_reported_and_other_sessions_go_on() {
    let server = InProcessServer::start_with(
        Settings::default().set("limits", "max_frame_bytes = 16777216"),
    );
    let mut phone = Client::connect(&server.ws_url()).await;
    let bad = phone.create(&server.new_project("bad")).await;
    let good = phone.create(&server.new_project("good")).await;
    phone.subscribe(&bad, 0).await;
    phone.subscribe(&good, 0).await;

    // A 10 MB line is stored and delivered whole.
    let big = phone.prompt(&bad, "bigline 10000000").await;
    let fine = phone.prompt(&good, "emit 20").await;
    assert_eq!(
        phone.wait_prompt_end(&big).await["kind"],
        "prompt.completed"
    );
    let line = phone
        .events
        .iter()
        .find(|e| e["session_id"] == bad.as_str() && e["data"]["message"]["type"] == "assistant")
        .expect("the big line");
    let text = line["data"]["message"]["message"]["content"][0]["text"]
        .as_str()
        .unwrap();
    assert_eq!(text.len(), 10_000_000);

    // A stderr flood is rate-limited and says how much it dropped.
    let flood = phone.prompt(&bad, "stderr 200000").await;
    assert_eq!(
        phone.wait_prompt_end(&flood).await["kind"],
        "prompt.completed"
    );
    let stderr: String = phone
        .events
        .iter()
        .filter(|e| e["kind"] == "agent.stderr")
        .filter_map(|e| e["data"]["text"].as_str())
        .collect();
    assert!(
        stderr.contains("bytes of stderr dropped"),
        "the flood is throttled"
    );
    assert!(stderr.len() < 1_000_000);

    // Never answering: the prompt stays running until interrupted, and nothing else is blocked.
    let stalled = phone.prompt(&bad, "stall").await;
    phone
        .wait_event(|e| e["kind"] == "prompt.started" && e["data"]["prompt_id"] == stalled)
        .await;
    let meanwhile = phone.prompt(&good, "still here").await;
    assert_eq!(
        phone.wait_prompt_end(&meanwhile).await["kind"],
        "prompt.completed"
    );
    assert_eq!(
        phone
            .ok("session.interrupt", json!({"session_id": bad}))
            .await["interrupted"],
        true
    );
    assert_eq!(
        phone.wait_prompt_end(&stalled).await["data"]["error"]["code"],
        "interrupted"
    );

    // A crash in the middle of a line: the half line is reported, the crash too.
    let crash = phone.prompt(&bad, "crash-midline").await;
    let failed = phone.wait_prompt_end(&crash).await;
    assert_eq!(failed["data"]["error"]["code"], "agent_crashed");
    let half = phone
        .events
        .iter()
        .find(|e| e["kind"] == "agent.invalid_output" && e["session_id"] == bad.as_str())
        .expect("the half line is reported");
    assert!(half["data"]["text"].as_str().unwrap().starts_with('{'));

    // The other session never noticed.
    assert_eq!(
        phone.wait_prompt_end(&fine).await["kind"],
        "prompt.completed"
    );
    let good_seqs = phone.seqs(&good);
    assert_eq!(good_seqs, (1..=good_seqs.len() as u64).collect::<Vec<_>>());
    let info = phone.ok("session.get", json!({"session_id": good})).await;
    assert_eq!(info["session"]["status"], "idle");
    assert_eq!(server.get("/health").await.0, 200);
}
