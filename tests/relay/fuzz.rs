//! Fuzzing over a live socket: random and mutated protocol frames (and request bodies), each of
//! which must be answered per protocol, with no panic, no hang and no closed connection.
//! `FUZZ_CASES` sets the number of frames (default 100,000); `FUZZ_SEED` replays a run.

use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::support::dice::Dice;
use crate::support::in_process::InProcessServer;

const TYPES: [&str; 19] = [
    "session.create",
    "session.list",
    "session.get",
    "session.subscribe",
    "session.unsubscribe",
    "session.prompt",
    "session.interrupt",
    "session.permission",
    "session.pause",
    "session.resume",
    "session.set_permission_mode",
    "session.set_model",
    "session.capabilities",
    "session.stop",
    "session.delete",
    "ping",
    "hello",
    "",
    "session.x",
];
const FIELDS: [&str; 17] = [
    "session_id",
    "after_seq",
    "text",
    "prompt_id",
    "cwd",
    "title",
    "model",
    "effort",
    "permission_mode",
    "request_id",
    "decision",
    "updated_input",
    "always",
    "message",
    "interrupt",
    "stream_deltas",
    "resume_claude_session_id",
];

fn random_value(dice: &mut Dice, depth: u32) -> Value {
    match dice.below(if depth > 2 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => json!(dice.below(2) == 0),
        2 => json!(dice.next() as i64),
        3 => json!(-(dice.below(1000) as i64)),
        4 => json!(*dice.pick(&[
            "",
            "allow",
            "deny",
            "plan",
            "/",
            "/tmp",
            "😀\u{0}\u{202e}",
            "00000000-0000-4000-8000-000000000000"
        ])),
        5 => json!("x".repeat(dice.below(300) as usize)),
        6 => Value::Array(
            (0..dice.below(4))
                .map(|_| random_value(dice, depth + 1))
                .collect(),
        ),
        _ => {
            let mut object = Map::new();
            for _ in 0..dice.below(4) {
                object.insert(
                    dice.pick(&FIELDS).to_string(),
                    random_value(dice, depth + 1),
                );
            }
            Value::Object(object)
        }
    }
}

/// A frame: mostly well-formed requests with random fields, some broken text.
fn random_frame(dice: &mut Dice, n: u64) -> String {
    let mut object = Map::new();
    if dice.below(10) != 0 {
        object.insert(
            "id".into(),
            if dice.below(20) == 0 {
                random_value(dice, 0)
            } else {
                json!(format!("f{n}"))
            },
        );
    }
    if dice.below(15) != 0 {
        object.insert("type".into(), json!(dice.pick(&TYPES)));
    }
    for _ in 0..dice.below(5) {
        object.insert(dice.pick(&FIELDS).to_string(), random_value(dice, 0));
    }
    let text = Value::Object(object).to_string();
    match dice.below(12) {
        0 => String::from_utf8_lossy(&text.as_bytes()[..dice.below(text.len() as u64) as usize])
            .into_owned(),
        1 => {
            let mut bytes = text.into_bytes();
            let at = dice.below(bytes.len() as u64) as usize;
            bytes[at] = b"{}[]\",:\\ 0"[dice.below(10) as usize];
            String::from_utf8_lossy(&bytes).into_owned()
        }
        2 => random_value(dice, 0).to_string(),
        _ => text,
    }
}

#[test]
fn random_frames_are_each_answered_and_never_break_the_connection() {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000u64);
    let seed = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15u64);
    eprintln!("fuzz: {cases} frames, FUZZ_SEED={seed}");
    let server = InProcessServer::start();
    let host = server.url.trim_start_matches("http://").to_string();
    let stream = TcpStream::connect(&host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let (mut ws, _) = tungstenite::client(format!("ws://{host}/ws"), stream).unwrap();
    ws.send(Message::text(r#"{"type":"hello","protocol":1}"#))
        .unwrap();
    let read = |ws: &mut tungstenite::WebSocket<TcpStream>| -> Value {
        loop {
            match ws.read().expect("an answer (a timeout here is a hang)") {
                Message::Text(text) => {
                    return serde_json::from_str(&text).expect("answers are JSON")
                }
                Message::Close(close) => panic!("the server closed the connection: {close:?}"),
                _ => continue,
            }
        }
    };
    assert_eq!(read(&mut ws)["type"], "welcome");
    let mut dice = Dice(seed | 1);
    let mut answered = 0u64;
    for n in 0..cases {
        let frame = random_frame(&mut dice, n);
        ws.send(Message::text(frame.clone())).unwrap();
        // Each frame gets exactly one answer: a response to its id, or a request-less error.
        let answer = read(&mut ws);
        let parsed: Option<Value> = serde_json::from_str(&frame).ok();
        let id = parsed
            .as_ref()
            .and_then(|f| f.get("id"))
            .and_then(Value::as_str);
        match (answer["type"].as_str(), id) {
            (Some("response"), Some(id)) => {
                assert_eq!(answer["id"], id, "frame {frame} got {answer}");
                if answer["ok"] == false {
                    assert!(
                        answer["error"]["code"].is_string()
                            && answer["error"]["message"].is_string()
                    );
                }
            }
            (Some("error"), _) => assert!(answer["error"]["code"].is_string(), "{answer}"),
            _ => panic!("frame {frame} got {answer}"),
        }
        answered += 1;
    }
    // Still healthy: a ping answers, the server is up.
    ws.send(Message::text(r#"{"id":"last","type":"ping"}"#))
        .unwrap();
    assert_eq!(read(&mut ws)["id"], "last");
    eprintln!("fuzz: {answered} frames answered");
}

#[tokio::test]
async fn random_request_bodies_get_the_envelope() {
    let server = InProcessServer::start();
    let mut dice = Dice(0xD1CE);
    let routes = [
        "/api/v1/sessions",
        "/api/v1/sessions/00000000-0000-4000-8000-000000000000/prompts",
        "/api/v1/auth/verify",
    ];
    for n in 0..1_000u64 {
        let body = random_frame(&mut dice, n);
        let route = dice.pick(&routes).to_string();
        let content_type = *dice.pick(&[
            "application/json",
            "text/plain",
            "application/json; charset=utf-8",
        ]);
        let answer = crate::support::http::request(
            &server.url,
            "POST",
            &route,
            &[("Content-Type", content_type)],
            Some(body.as_bytes()),
        )
        .await;
        assert!(
            [201, 400, 401, 403, 404, 413].contains(&answer.status),
            "{route} {body}: {answer:?}"
        );
        let envelope = answer.json();
        assert!(envelope["request_id"].is_string());
        if answer.status != 201 {
            assert_eq!(envelope["success"], false, "{envelope}");
        }
    }
    assert_eq!(
        crate::support::http::get(&server.url, "/health")
            .await
            .status,
        200
    );
}
