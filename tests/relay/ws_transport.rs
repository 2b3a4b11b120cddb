//! The WebSocket transport byte by byte: the upgrade's answers, frames pipelined behind the
//! request, fragmented messages, interleaved control frames, and the RFC 6455 closes for text
//! that is not UTF-8 and messages over the limit.

use serde_json::Value;

use crate::support::client::Client;
use crate::support::home::{Home, Settings};
use crate::support::http::{get, request};
use crate::support::in_process::InProcessServer;
use crate::support::raw_ws::{
    client_frame, client_text, upgrade_request, RawSocket, CLOSE, CONTINUATION, PING, PONG, TEXT,
};
use crate::support::server::TestServer;

const HELLO: &str = r#"{"type":"hello","protocol":1}"#;

fn host(server: &Home) -> String {
    server.url.trim_start_matches("http://").to_string()
}

fn is_welcome(frame: &Value) -> bool {
    frame["type"] == "welcome"
}

/// Upgrades, sends `hello` and then `frames` in one write, and reads until the server hangs up.
async fn after_hello(server: &Home, frames: &[Vec<u8>]) -> RawSocket {
    let mut bytes = upgrade_request(&host(server), "/ws", "");
    bytes.extend(client_text(HELLO));
    for frame in frames {
        bytes.extend(frame);
    }
    let mut raw = RawSocket::open(&host(server), &bytes).await;
    raw.read_to_end().await;
    raw
}

#[tokio::test]
async fn a_hello_pipelined_behind_the_upgrade_is_answered() {
    let server = InProcessServer::start();
    let mut bytes = upgrade_request(&host(&server), "/ws", "X-Request-Id: upgrade-42\r\n");
    bytes.extend(client_text(HELLO));
    bytes.extend(client_text(r#"{"id":"p","type":"ping"}"#));
    let mut raw = RawSocket::open(&host(&server), &bytes).await;
    let head = raw.head().await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("x-request-id: upgrade-42"), "{head}");
    assert!(lower.contains("x-content-type-options: nosniff"), "{head}");
    raw.read_until(|raw| raw.texts().iter().any(|f| f["id"] == "p"))
        .await;
    let texts = raw.texts();
    assert!(is_welcome(&texts[0]), "{texts:?}");
    assert_eq!(texts[1]["ok"], true, "{texts:?}");
}

#[tokio::test]
async fn fragments_are_put_together_and_pings_between_them_answered() {
    let server = InProcessServer::start();
    let mut raw =
        RawSocket::open(&host(&server), &upgrade_request(&host(&server), "/ws", "")).await;
    let (first, rest) = HELLO.split_at(8);
    let (middle, last) = rest.split_at(10);
    raw.write(&client_frame(TEXT, false, first.as_bytes()))
        .await;
    raw.write(&client_frame(CONTINUATION, false, middle.as_bytes()))
        .await;
    // A control frame may come between the fragments of a message (RFC 6455 §5.4).
    raw.write(&client_frame(PING, true, b"between")).await;
    raw.write(&client_frame(CONTINUATION, true, last.as_bytes()))
        .await;
    raw.read_until(|raw| {
        raw.texts().iter().any(is_welcome)
            && raw
                .frames()
                .iter()
                .any(|(op, payload)| *op == PONG && payload == b"between")
    })
    .await;
    // The connection goes on answering whole messages.
    raw.write(&client_text(r#"{"id":"after","type":"ping"}"#))
        .await;
    raw.read_until(|raw| raw.texts().iter().any(|f| f["id"] == "after"))
        .await;
}

#[tokio::test]
async fn text_that_is_not_utf8_closes_with_1007() {
    let server = InProcessServer::start();
    let raw = after_hello(
        &server,
        &[client_frame(TEXT, true, &[b'{', 0xff, 0xfe, b'}'])],
    )
    .await;
    assert!(raw.texts().iter().any(is_welcome));
    assert_eq!(raw.close_code(), Some(1007));
}

#[tokio::test]
async fn a_fragmented_message_over_the_limit_closes_with_1009() {
    let server =
        InProcessServer::start_with(Settings::default().set("limits", "max_frame_bytes = 4096"));
    // Every fragment is small; together they are over the limit.
    let fragments = [
        client_frame(TEXT, false, &[b' '; 2000]),
        client_frame(CONTINUATION, false, &[b' '; 2000]),
        client_frame(CONTINUATION, true, &[b' '; 2000]),
    ];
    let raw = after_hello(&server, &fragments).await;
    assert!(raw.texts().iter().any(is_welcome));
    assert_eq!(raw.close_code(), Some(1009));
}

#[tokio::test]
async fn a_client_close_is_answered_with_a_close() {
    let server = InProcessServer::start();
    let raw = after_hello(
        &server,
        &[client_frame(CLOSE, true, &1000u16.to_be_bytes())],
    )
    .await;
    assert_eq!(raw.close_code(), Some(1000));
}

#[tokio::test]
async fn upgrades_that_cannot_be_served_get_the_envelope() {
    let server = InProcessServer::start();
    // A WebSocket anywhere but /ws.
    let mut raw = RawSocket::open(
        &host(&server),
        &upgrade_request(&host(&server), "/api/v1/sessions", ""),
    )
    .await;
    raw.read_to_end().await;
    let answer = String::from_utf8_lossy(&raw.received).into_owned();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["code"], "not_found");
    assert!(body["request_id"].is_string());

    // A handshake with a version the server does not speak.
    let bad_version = upgrade_request(&host(&server), "/ws", "")
        .iter()
        .map(|b| *b as char)
        .collect::<String>()
        .replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8");
    let mut raw = RawSocket::open(&host(&server), bad_version.as_bytes()).await;
    raw.read_to_end().await;
    let answer = String::from_utf8_lossy(&raw.received).into_owned();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("\"bad_request\""), "{answer}");

    // A plain GET /ws.
    let plain = get(&server.url, "/ws").await;
    assert_eq!(plain.status, 400);
    assert_eq!(plain.json()["error"]["code"], "bad_request");
    assert!(plain.header("x-request-id").is_some());

    // Every upgrade is counted under its route.
    let metrics = request(&server.url, "GET", "/metrics", &[], None).await;
    assert!(
        metrics
            .body
            .lines()
            .any(|l| l.contains("route=\"/ws\"") && l.contains("status=\"404\"")),
        "{}",
        metrics.body
    );
}

/// A server whose clients are cut off after 16 queued events, and whose writers wait
/// 3 × 2 s for a lagging client.
fn server_with_small_queues() -> TestServer {
    TestServer::start_with(
        Settings::default()
            .set("limits", "client_buffer = 16")
            .set("server", "heartbeat_s = 2"),
    )
}

/// Waits until `/metrics` shows `counter` above 0.
async fn wait_for_counter(server: &Home, counter: &str) {
    let deadline = std::time::Instant::now() + crate::support::PATIENCE;
    loop {
        let metrics = request(&server.url, "GET", "/metrics", &[], None).await;
        let moved = metrics
            .body
            .lines()
            .any(|l| l.starts_with(counter) && !l.ends_with(" 0"));
        if moved {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{counter} did not move in time"
        );
    }
}

/// A raw client (4 KiB receive buffer) subscribed to a session that it then stops reading,
/// until the server has cut it off as a slow consumer and let go of it; and the client that
/// made the events.
async fn silent_client_cut_off(server: &Home) -> (Client, RawSocket) {
    let mut fast = Client::connect(&server.ws_url()).await;
    let session = fast.create(&server.project()).await;
    let mut bytes = upgrade_request(&host(server), "/ws", "");
    bytes.extend(client_text(HELLO));
    bytes.extend(client_text(
        &serde_json::json!({"id": "s", "type": "session.subscribe", "session_id": session, "after_seq": 0})
            .to_string(),
    ));
    let mut slow = RawSocket::open_with_receive_buffer(&host(server), &bytes, Some(4096)).await;
    slow.read_until(|raw| raw.texts().iter().any(|f| f["id"] == "s"))
        .await;
    // Live events it does not read, until the server has cut it off.
    fast.subscribe(&session, 0).await;
    let mut cut_off = false;
    for _ in 0..50 {
        let prompt = fast.prompt(&session, "bigline 100000").await;
        fast.wait_prompt_end(&prompt).await;
        let metrics = request(&server.url, "GET", "/metrics", &[], None).await;
        if metrics
            .body
            .lines()
            .any(|l| l.starts_with("relay_slow_consumers_total") && !l.ends_with(" 0"))
        {
            cut_off = true;
            break;
        }
    }
    assert!(cut_off, "the silent client was never cut off");
    // The server has let go of it: it is no longer listed.
    let deadline = std::time::Instant::now() + crate::support::PATIENCE;
    loop {
        let clients = get(&server.url, "/api/v1/clients").await.json();
        if clients["data"]["clients"].as_array().map(Vec::len) == Some(1) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cut-off client is still listed: {clients}"
        );
    }
    (fast, slow)
}

/// The seqs of the events a raw client received, which must be whole and in order.
fn contiguous_seqs(raw: &RawSocket) -> Vec<u64> {
    let seqs: Vec<u64> = raw
        .texts()
        .iter()
        .filter(|f| f["type"] == "event")
        .filter_map(|f| f["seq"].as_u64())
        .collect();
    assert!(!seqs.is_empty());
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    seqs
}

#[tokio::test]
async fn a_cut_off_client_that_talks_before_reading_again_still_finds_its_4008() {
    let server = server_with_small_queues();
    let (_fast, mut slow) = silent_client_cut_off(&server).await;
    // It pings before reading again: bytes the server must still take, or closing the socket
    // would reset it and throw away the frames the client has not read.
    slow.write(&client_frame(PING, true, b"still here")).await;
    slow.read_to_end().await;
    assert_eq!(slow.close_code(), Some(4008));
    contiguous_seqs(&slow);
}

#[tokio::test]
async fn a_cut_off_client_that_reads_nothing_for_the_whole_patience_is_dropped() {
    let server = server_with_small_queues();
    let (_fast, mut slow) = silent_client_cut_off(&server).await;
    // The writer waited 3 × heartbeat_s (6 s) for the client to take its closing frame.
    wait_for_counter(&server, "relay_abandoned_connections_total").await;
    // The connection is dropped at once: what the kernel already holds still arrives, then the
    // end, with no closing frame (it never went out). It used to stay open for another 12 s.
    slow.read_to_end_within(std::time::Duration::from_secs(4))
        .await;
    assert_eq!(slow.close_code(), None);
    contiguous_seqs(&slow);
}

#[tokio::test]
async fn the_server_raises_its_open_file_limit_for_many_phones() {
    // Started with a soft limit of 256 open files, as many systems start services.
    let server = TestServer::start_with(Settings {
        soft_open_files: Some(256),
        ..Settings::default()
    });
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let open_files: Vec<&str> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(open_files[3], open_files[4], "soft = hard: {open_files:?}");
    // More phones than the soft limit it started with, all answered.
    let mut phones = Vec::new();
    for _ in 0..300 {
        phones.push(Client::connect(&server.ws_url()).await);
    }
    for phone in phones.iter_mut() {
        assert_eq!(
            phone.request("ping", serde_json::json!({})).await["ok"],
            true
        );
    }
}

#[tokio::test]
async fn a_client_that_pings_without_reading_gets_only_the_pongs_there_is_room_for() {
    let server = InProcessServer::start();
    let mut bytes = upgrade_request(&host(&server), "/ws", "");
    bytes.extend(client_text(HELLO));
    let mut raw = RawSocket::open_with_receive_buffer(&host(&server), &bytes, Some(4096)).await;
    raw.read_until(|raw| raw.texts().iter().any(is_welcome))
        .await;
    // 200,000 pings with the largest payload, none read: 25 MB of pongs if each were answered,
    // more than any socket buffer holds.
    const PINGS: usize = 200_000;
    let ping = client_frame(PING, true, &[b'p'; 125]);
    let flood: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 1000)
        .collect();
    for _ in 0..PINGS / 1000 {
        raw.write(&flood).await;
    }
    raw.write(&client_text(r#"{"id":"after","type":"ping"}"#))
        .await;
    raw.read_until(|raw| raw.texts().iter().any(|f| f["id"] == "after"))
        .await;
    let pongs = raw.frames().iter().filter(|(op, _)| *op == PONG).count();
    // What the socket buffers held before the writer had to wait, and a few queued pongs: the
    // server kept no backlog of pongs for a client that does not read them.
    assert!(
        pongs > 0 && pongs < PINGS / 2,
        "{pongs} pongs for {PINGS} pings"
    );
}
