//! A connection whose peer went silent (a phone that lost its network without a FIN) is found
//! by the heartbeat and closed. A raw socket is used so that nothing answers the server's pings.

use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::home::Settings;
use crate::support::in_process::InProcessServer;
use crate::support::raw_ws::{client_text, parse_frames, upgrade_request};
use crate::support::PATIENCE;

#[tokio::test]
async fn a_silent_connection_is_closed_by_the_heartbeat() {
    let server = InProcessServer::start_with(Settings::default().set("server", "heartbeat_s = 1"));
    let host = server.url.trim_start_matches("http://").to_string();
    let mut socket = TcpStream::connect(&host).await.unwrap();
    socket
        .write_all(&upgrade_request(&host, "/ws", ""))
        .await
        .unwrap();
    socket
        .write_all(&client_text(r#"{"type":"hello","protocol":1}"#))
        .await
        .unwrap();
    let started = Instant::now();

    // Read everything the server sends, answering nothing, until it hangs up.
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(PATIENCE, socket.read(&mut buf))
            .await
            .expect("the server should close a silent connection")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        received.extend_from_slice(&buf[..n]);
    }
    let elapsed = started.elapsed();
    assert!(received.starts_with(b"HTTP/1.1 101"), "a 101 answer");
    let header_end = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers")
        + 4;
    let frames = parse_frames(&received[header_end..]);
    let opcodes: Vec<u8> = frames.iter().map(|(op, _)| *op).collect();
    assert!(opcodes.contains(&0x1), "welcome first: {opcodes:?}");
    assert!(
        opcodes.iter().filter(|op| **op == 0x9).count() >= 2,
        "pings were sent: {opcodes:?}"
    );
    assert_eq!(
        opcodes.last(),
        Some(&0x8),
        "a close frame last: {opcodes:?}"
    );
    // Closed after about three silent heartbeats, not at once and not never.
    assert!(
        elapsed.as_secs_f64() >= 2.5,
        "closed too early: {elapsed:?}"
    );
}
