//! Reading a long conversation backwards, a page at a time (`before_seq`), over REST and over
//! the WebSocket (`session.events`): every event once, in order, from the end back to seq 1.

use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::http::get;
use crate::support::in_process::InProcessServer;

/// The largest seq a request may name (2^63 − 1).
const MAX_SEQ: u64 = i64::MAX as u64;

/// The seqs of a page's events, checked to be ascending and contiguous.
fn page_seqs(data: &Value) -> Vec<u64> {
    let seqs: Vec<u64> = data["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert!(
        seqs.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "a page is ascending with no gap: {seqs:?}"
    );
    seqs
}

/// Pages backwards from `before` with `read`, until a page comes back empty; the seqs read, in
/// ascending order, after checking that each page ends right before the previous one started.
async fn page_back<F, Fut>(mut before: u64, mut read: F) -> Vec<u64>
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let mut pages: Vec<Vec<u64>> = Vec::new();
    loop {
        let seqs = page_seqs(&read(before).await);
        let Some(&first) = seqs.first() else {
            break;
        };
        if let Some(previous) = pages.last() {
            assert_eq!(seqs.last().map(|s| s + 1), previous.first().copied());
        }
        before = first;
        pages.push(seqs);
    }
    pages.into_iter().rev().flatten().collect()
}

/// A session with a 500-line turn, finished; its id and its last seq.
async fn long_session(server: &InProcessServer, phone: &mut Client) -> (String, u64) {
    let session = phone.create(&server.project()).await;
    phone.subscribe(&session, 0).await;
    let prompt = phone.prompt(&session, "emit 500").await;
    let end = phone.wait_prompt_end(&prompt).await;
    assert_eq!(end["kind"], "prompt.completed", "{end}");
    let last_seq = end["seq"].as_u64().expect("seq");
    assert!(last_seq > 500, "500 lines and more: {last_seq}");
    (session, last_seq)
}

#[tokio::test]
async fn paging_backwards_reads_every_event_once_over_rest_and_websocket() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let (session, end) = long_session(&server, &mut phone).await;
    let everything: Vec<u64> = (1..=end).collect();

    // REST: from the end (a before_seq past it reads the last events) back to seq 1.
    let base = server.url.clone();
    let path = format!("/api/v1/sessions/{session}/events");
    let latest = get(&base, &format!("{path}?before_seq={MAX_SEQ}&limit=3")).await;
    assert_eq!(latest.status, 200, "{}", latest.body);
    let data = latest.json()["data"].clone();
    let last_seq = data["last_seq"].as_u64().expect("last_seq");
    assert!(last_seq >= end);
    assert_eq!(page_seqs(&data), vec![last_seq - 2, last_seq - 1, last_seq]);
    let over_rest = page_back(end + 1, |before| {
        let url = format!("{path}?before_seq={before}&limit=37");
        let base = base.clone();
        async move {
            let page = get(&base, &url).await;
            assert_eq!(page.status, 200, "{}", page.body);
            page.json()["data"].clone()
        }
    })
    .await;
    assert_eq!(over_rest, everything);

    // The WebSocket: the same request, `session.events`.
    let mut reader = Client::connect(&server.ws_url()).await;
    let mut over_ws = Vec::new();
    let mut before = end + 1;
    loop {
        let data = reader
            .ok(
                "session.events",
                json!({"session_id": session, "before_seq": before, "limit": 50}),
            )
            .await;
        assert!(data["last_seq"].as_u64() >= Some(end), "{data}");
        let seqs = page_seqs(&data);
        assert!(seqs.len() <= 50);
        let Some(&first) = seqs.first() else { break };
        assert_eq!(seqs.last(), Some(&(before - 1)));
        over_ws.splice(0..0, seqs);
        before = first;
    }
    assert_eq!(over_ws, everything);
    // Forwards too, as the REST page always did.
    let forward = reader
        .ok(
            "session.events",
            json!({"session_id": session, "after_seq": 10, "limit": 5}),
        )
        .await;
    assert_eq!(page_seqs(&forward), vec![11, 12, 13, 14, 15]);
    let first = reader
        .ok("session.events", json!({"session_id": session}))
        .await;
    assert_eq!(page_seqs(&first), (1..=100).collect::<Vec<_>>());
}

#[tokio::test]
async fn bad_paging_requests_are_bad_request() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    let path = format!("/api/v1/sessions/{session}/events");
    for query in [
        "after_seq=1&before_seq=5",
        "before_seq=9223372036854775808",
        "after_seq=18446744073709551615",
        "before_seq=18446744073709551616",
        "before_seq=-1",
        "before_seq=x",
        "limit=-3",
    ] {
        let answer = get(&server.url, &format!("{path}?{query}")).await;
        assert_eq!(answer.status, 400, "{query}: {}", answer.body);
        assert_eq!(answer.json()["error"]["code"], "bad_request", "{query}");
    }
    for fields in [
        json!({"after_seq": 1, "before_seq": 5}),
        json!({"before_seq": MAX_SEQ + 1}),
        json!({"after_seq": u64::MAX}),
        json!({"before_seq": -1}),
        json!({"before_seq": "5"}),
        json!({"limit": -1}),
    ] {
        let mut request = fields.clone();
        request["session_id"] = json!(session);
        let code = phone.err("session.events", request).await;
        assert_eq!(code, "bad_request", "{fields}");
    }
    // Another session id, or none, is not_found / bad_request as for every session request.
    let code = phone
        .err(
            "session.events",
            json!({"session_id": "nope", "before_seq": 5}),
        )
        .await;
    assert_eq!(code, "not_found");
    let code = phone.err("session.events", json!({"before_seq": 5})).await;
    assert_eq!(code, "bad_request");
    // A page before the first event is empty.
    let data = phone
        .ok(
            "session.events",
            json!({"session_id": session, "before_seq": 1}),
        )
        .await;
    assert_eq!(data["events"], json!([]));
}
