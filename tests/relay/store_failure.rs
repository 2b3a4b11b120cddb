//! The store failing under a running server (here: another process holds SQLite's write lock, so
//! every write fails after the busy timeout). Nothing is broadcast that was not stored, clients
//! hear `unavailable`, `/ready` answers 503, and everything goes on once the store recovers.

use serde_json::json;

use crate::support::client::Client;
use crate::support::http::get;
use crate::support::in_process::InProcessServer;

#[tokio::test]
async fn a_failing_store_says_unavailable_broadcasts_nothing_and_recovers() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    phone.subscribe(&session, 0).await;
    phone.wait_kind("session.created").await;

    // Someone else takes the write lock and keeps it.
    let db = server.dir.path().join("store/relay.db");
    let blocker = rusqlite::Connection::open(&db).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();

    let answer = phone
        .request(
            "session.prompt",
            json!({"session_id": session, "text": "hello", "prompt_id": "during-outage"}),
        )
        .await;
    assert_eq!(answer["ok"], false, "{answer}");
    assert_eq!(answer["error"]["code"], "unavailable");
    assert_eq!(
        phone.events.len(),
        1,
        "an event that was not stored was broadcast: {:?}",
        phone.events
    );
    let ready = get(&server.url, "/ready").await;
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert!(ready.json()["checks"]["store"]
        .as_str()
        .unwrap()
        .contains("failing"));
    assert_eq!(
        get(&server.url, "/health").await.status,
        200,
        "the server stays up"
    );

    // The store recovers: the held batch is written, the prompt runs, readiness returns.
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);
    let done = phone.wait_prompt_end("during-outage").await;
    assert_eq!(done["kind"], "prompt.completed");
    // A retry of the unconfirmed prompt is recognised, not run twice.
    let retry = phone
        .ok(
            "session.prompt",
            json!({"session_id": session, "text": "hello", "prompt_id": "during-outage"}),
        )
        .await;
    assert_eq!(retry["prompt_id"], "during-outage");
    let mut ready = get(&server.url, "/ready").await.status;
    for _ in 0..500 {
        if ready == 200 {
            break;
        }
        ready = get(&server.url, "/ready").await.status;
    }
    assert_eq!(ready, 200);
    let seqs = phone.seqs(&session);
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let queued = phone
        .events
        .iter()
        .filter(|e| e["kind"] == "prompt.queued")
        .count();
    assert_eq!(queued, 1);
}
