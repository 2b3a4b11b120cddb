//! Chaos: the server is SIGKILLed at random points while a session streams and a client
//! reconnects at random. Afterwards the client's reconstructed log equals the store's, with no
//! gap and no duplicate, and every acknowledged prompt completed, failed with a reason, or is
//! still queued: none vanished. `CHAOS_ROUNDS` sets the number of rounds (default 50);
//! `CHAOS_SEED` replays a run.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::server::TestServer;

/// A small deterministic generator (xorshift), so a failing run can be replayed from its seed.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below.max(1)
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Reads up to `count` frames, stopping early once `last_prompt` ended (nothing more will come);
/// answers whether it ended.
async fn read_some(client: &mut Client, count: u64, last_prompt: &str) -> bool {
    for _ in 0..count {
        let Some(frame) = client.recv().await else {
            return false;
        };
        if ends(&frame, last_prompt) {
            return true;
        }
    }
    false
}

/// Whether `frame` is the event that ends `prompt`.
fn ends(frame: &Value, prompt: &str) -> bool {
    (frame["kind"] == "prompt.completed" || frame["kind"] == "prompt.failed")
        && frame["data"]["prompt_id"] == prompt
}

#[tokio::test]
async fn sigkill_at_random_points_loses_nothing() {
    let rounds = env_number("CHAOS_ROUNDS", 50);
    let seed = env_number(
        "CHAOS_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7)
            | 1,
    );
    eprintln!("chaos: {rounds} rounds, CHAOS_SEED={seed}");
    let mut dice = Dice(seed);
    let mut server = TestServer::start();
    let mut client = Client::connect(&server.ws_url()).await;
    let session = client.create(&server.project()).await;
    // The client's reconstructed log: seq → event, as it saw them across all connections.
    let mut seen: BTreeMap<u64, Value> = BTreeMap::new();
    let mut acknowledged: Vec<String> = Vec::new();

    for round in 0..rounds {
        let after = seen.keys().next_back().copied().unwrap_or(0);
        client.subscribe(&session, after).await;
        let prompts = 1 + dice.roll(2);
        for i in 0..prompts {
            let text = match dice.roll(3) {
                0 => format!("emit {}", 1 + dice.roll(40)),
                1 => format!("slow {} 1", 1 + dice.roll(60)),
                _ => "hello".to_string(),
            };
            let prompt_id = format!("r{round}-{i}");
            let answer = client
                .request(
                    "session.prompt",
                    json!({"session_id": session, "text": text, "prompt_id": prompt_id}),
                )
                .await;
            if answer["ok"] == true {
                acknowledged.push(prompt_id);
            }
        }
        let last_prompt = format!("r{round}-{}", prompts - 1);
        read_some(&mut client, dice.roll(120), &last_prompt).await;
        for event in client.events.drain(..) {
            let seq = event["seq"].as_u64().expect("seq");
            if let Some(before) = seen.insert(seq, event.clone()) {
                assert_eq!(before, event, "seq {seq} changed");
            }
        }
        // Its end may have arrived while the prompts were being answered, unread so far.
        let done = seen.values().any(|e| ends(e, &last_prompt));
        // Half the time the phone drops and comes back; then the server dies.
        if dice.roll(2) == 0 && !done {
            client = Client::connect(&server.ws_url()).await;
            let after = seen.keys().next_back().copied().unwrap_or(0);
            client.subscribe(&session, after).await;
            read_some(&mut client, dice.roll(40), &last_prompt).await;
            for event in client.events.drain(..) {
                let seq = event["seq"].as_u64().expect("seq");
                seen.insert(seq, event);
            }
        }
        server.restart();
        client = Client::connect(&server.ws_url()).await;
    }

    // Let the queue drain, then compare with the store.
    client.subscribe(&session, 0).await;
    let mut ended: BTreeMap<String, Value> = BTreeMap::new();
    while ended.len() < acknowledged.len() {
        let event = client.next_event().await;
        let kind = event["kind"].as_str().unwrap_or("");
        if kind == "prompt.completed" || kind == "prompt.failed" {
            let id = event["data"]["prompt_id"]
                .as_str()
                .unwrap_or("")
                .to_string();
            assert!(
                ended.insert(id.clone(), event.clone()).is_none(),
                "{id} ended twice"
            );
        }
    }
    // Events seen after the last prompt ended (its status change) must be in the log too.
    let highest_seen = seen.keys().next_back().copied().unwrap_or(0);
    client.read_through(highest_seen).await;
    let store: Vec<Value> = client.events.clone();
    let seqs: Vec<u64> = store.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "the log is contiguous"
    );
    for (seq, event) in &seen {
        assert_eq!(
            &store[(*seq - 1) as usize],
            event,
            "seq {seq} differs from what the client saw"
        );
    }
    for prompt in &acknowledged {
        let end = ended
            .get(prompt)
            .unwrap_or_else(|| panic!("prompt {prompt} vanished"));
        if end["kind"] == "prompt.failed" {
            let code = end["data"]["error"]["code"].as_str().unwrap_or("");
            assert!(
                ["server_restarted", "agent_crashed"].contains(&code),
                "{end}"
            );
        }
    }
    eprintln!(
        "chaos: {} events, {} prompts ({} failed by a restart)",
        seqs.len(),
        acknowledged.len(),
        ended
            .values()
            .filter(|e| e["kind"] == "prompt.failed")
            .count()
    );
}
