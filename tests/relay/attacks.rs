//! The attacks of the hardening issue, replayed against the real server as an attacker would run
//! them: a web page that rebinds its name to 127.0.0.1, a cross-site form post, a frame header
//! announcing 2^62 bytes, connections that send headers and then nothing, probes for files
//! outside the roots, and out-of-range numbers. Each must now fail, and nothing may reach a session.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::support::client::Client;
use crate::support::home::{Home, Settings};
use crate::support::http::{request, Response};
use crate::support::in_process::InProcessServer;
use crate::support::raw_ws::{upgrade_request, RawSocket};
use crate::support::server::TestServer;
use crate::support::PATIENCE;

fn addr(server: &Home) -> String {
    server.url.trim_start_matches("http://").to_string()
}

fn port(server: &Home) -> u16 {
    addr(server).rsplit(':').next().unwrap().parse().unwrap()
}

/// One raw request with exactly these header lines (no `Host` unless given), `Connection: close`.
async fn raw_request(server: &Home, head: &str, body: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr(server)).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("send");
    stream.write_all(body).await.expect("send body");
    read_response(&mut stream).await
}

async fn read_response(stream: &mut TcpStream) -> Response {
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw))
        .await
        .expect("an answer in time")
        .expect("read");
    crate::support::http::parse_response(&raw)
}

fn sessions_of(phone_view: &serde_json::Value) -> usize {
    phone_view["sessions"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_rebound_host_name_reaches_nothing() {
    let server = InProcessServer::start();
    let port = port(&server);
    let evil_host = format!("evil.example:{port}");
    let evil_origin = format!("http://evil.example:{port}");
    // The REST API, read and write, as the page's fetch() would send it.
    for (method, path, body) in [
        ("GET", "/api/v1/sessions", None),
        ("GET", "/metrics", None),
        (
            "POST",
            "/api/v1/sessions",
            Some(json!({"cwd": server.project()}).to_string()),
        ),
    ] {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {evil_host}\r\nOrigin: {evil_origin}\r\n\
             Connection: close\r\nContent-Type: application/json\r\n"
        );
        let body = body.unwrap_or_default();
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let answer = raw_request(&server, &head, body.as_bytes()).await;
        assert_eq!(answer.status, 403, "{method} {path}: {}", answer.body);
        assert_eq!(answer.json()["error"]["code"], "forbidden");
    }
    // The WebSocket upgrade, with the page's own origin (equal to http://<Host>).
    let upgrade = upgrade_request(&evil_host, "/ws", &format!("Origin: {evil_origin}\r\n"));
    let mut socket = RawSocket::open(&addr(&server), &upgrade).await;
    let head = socket.head().await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    // Without an Origin (a script outside a browser naming the host) the Host alone refuses it.
    let upgrade = upgrade_request(&evil_host, "/ws", "");
    let mut socket = RawSocket::open(&addr(&server), &upgrade).await;
    assert!(socket.head().await.starts_with("HTTP/1.1 403"));
    // Nothing was created.
    let mut phone = Client::connect(&server.ws_url()).await;
    let list = phone.ok("session.list", json!({})).await;
    assert_eq!(sessions_of(&list), 0, "{list}");
}

#[tokio::test]
async fn a_cross_site_post_is_refused_before_it_runs() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    let path = format!("/api/v1/sessions/{session}/pause");
    // A form post from another site: a simple request, no preflight.
    let forged = request(
        &server.url,
        "POST",
        &path,
        &[
            ("Origin", "http://evil.example"),
            ("Content-Type", "text/plain"),
        ],
        Some(b"x"),
    )
    .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    // A browser that hides the origin still marks the request cross-site.
    let hidden = request(
        &server.url,
        "POST",
        &path,
        &[("Sec-Fetch-Site", "cross-site")],
        None,
    )
    .await;
    assert_eq!(hidden.status, 403, "{}", hidden.body);
    // The same request from the server's own origin works, and JSON needs its content type.
    let own_origin = format!("http://localhost:{}", port(&server));
    let prompt = request(
        &server.url,
        "POST",
        &format!("/api/v1/sessions/{session}/prompts"),
        &[
            ("Origin", own_origin.as_str()),
            ("Content-Type", "text/plain"),
        ],
        Some(br#"{"text":"hi"}"#),
    )
    .await;
    assert_eq!(prompt.status, 400, "{}", prompt.body);
    let info = phone
        .ok("session.get", json!({"session_id": session}))
        .await;
    assert_eq!(info["session"]["paused"], false, "{info}");
    assert_eq!(info["session"]["queue_length"], 0, "{info}");
    let paused = request(
        &server.url,
        "POST",
        &path,
        &[("Origin", own_origin.as_str())],
        None,
    )
    .await;
    assert_eq!(paused.status, 200, "{}", paused.body);
}

/// The server's resident memory in KiB.
fn rss_kib(server: &TestServer) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn a_frame_announcing_two_to_the_62_bytes_is_refused_at_its_header() {
    let server = TestServer::start_with(
        Settings::default()
            .set("auth", "enabled = true")
            .set("limits", "max_frame_bytes = 65536"),
    );
    let before = rss_kib(&server);
    let upgrade = upgrade_request(&addr(&server), "/ws", "");
    let mut socket = RawSocket::open(&addr(&server), &upgrade).await;
    assert!(socket.head().await.starts_with("HTTP/1.1 101"));
    // Not signed in: a binary frame header declaring 2^62 bytes, then 64 MiB of it.
    let mut header = vec![0x82, 0xFF];
    header.extend((1u64 << 62).to_be_bytes());
    header.extend([0x11, 0x22, 0x33, 0x44]);
    socket.write(&header).await;
    let chunk = vec![0x5Au8; 1 << 20];
    for _ in 0..64 {
        if !socket.try_write(&chunk).await {
            break;
        }
    }
    socket.read_until(|s| s.close_code().is_some()).await;
    assert_eq!(socket.close_code(), Some(1009));
    let grown = rss_kib(&server).saturating_sub(before);
    assert!(grown < 16 * 1024, "the server grew by {grown} KiB");
}

#[tokio::test]
async fn a_closing_connection_reads_and_drops_what_it_is_sent() {
    let server = TestServer::start_with(
        Settings::default()
            .set("auth", "enabled = true")
            .set("auth", "handshake_timeout_s = 1"),
    );
    let upgrade = upgrade_request(&addr(&server), "/ws", "");
    let mut socket = RawSocket::open(&addr(&server), &upgrade).await;
    assert!(socket.head().await.starts_with("HTTP/1.1 101"));
    socket.read_until(|s| s.close_code().is_some()).await;
    assert_eq!(socket.close_code(), Some(4001));
    // The connection lingers for the client's side of the close: what it is sent now (a huge
    // frame's header and 64 MiB, far more than socket buffers hold, so the server must read it)
    // is dropped as it arrives.
    let before = rss_kib(&server);
    let mut header = vec![0x82, 0xFF];
    header.extend((1u64 << 62).to_be_bytes());
    header.extend([0, 0, 0, 0]);
    socket.write(&header).await;
    let chunk = vec![0u8; 1 << 20];
    let mut sent = 0;
    for _ in 0..64 {
        if !socket.try_write(&chunk).await {
            break;
        }
        sent += 1;
    }
    let grown = rss_kib(&server).saturating_sub(before);
    assert!(
        grown < 16 * 1024,
        "the server grew by {grown} KiB after {sent} MiB"
    );
}

#[tokio::test]
async fn a_body_declared_over_the_limit_is_refused_before_it_is_read() {
    let server =
        InProcessServer::start_with(Settings::default().set("limits", "max_prompt_bytes = 1024"));
    let mut stream = TcpStream::connect(addr(&server)).await.unwrap();
    let head = format!(
        "POST /api/v1/sessions HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 1099511627776\r\n\r\n",
        addr(&server)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[b'{'; 4096]).await.unwrap();
    // No more body comes: the answer must not wait for it.
    let answer = read_response(&mut stream).await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    assert_eq!(answer.json()["error"]["code"], "too_large");
    // The same on a route that reads no body at all.
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    let mut stream = TcpStream::connect(addr(&server)).await.unwrap();
    let head = format!(
        "POST /api/v1/sessions/{session}/pause HTTP/1.1\r\nHost: {}\r\n\
         Content-Length: 1099511627776\r\n\r\n",
        addr(&server)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_response(&mut stream).await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    let info = phone
        .ok("session.get", json!({"session_id": session}))
        .await;
    assert_eq!(info["session"]["paused"], false, "{info}");
}

#[tokio::test]
async fn only_a_prompt_may_carry_a_body_of_megabytes_the_sign_in_routes_may_not() {
    let server = InProcessServer::start_with(Settings::default().set("auth", "enabled = true"));
    // Two megabytes announced to a route strangers reach: refused before a byte is read.
    for path in ["/api/v1/auth/challenge", "/api/v1/auth/pair"] {
        let answer = announce_two_megabytes(&server, path).await;
        assert_eq!(answer.status, 413, "{path}: {}", answer.body);
        assert_eq!(answer.json()["error"]["code"], "too_large");
    }
    // The same two megabytes to the prompt route pass the size check (and stop at sign-in).
    let path = "/api/v1/sessions/00000000-0000-4000-8000-000000000000/prompts";
    let answer = announce_two_megabytes(&server, path).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
}

/// The server's answer to a JSON POST to `path` that announces two megabytes and sends none.
async fn announce_two_megabytes(server: &InProcessServer, path: &str) -> Response {
    let mut stream = TcpStream::connect(addr(server)).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 2097152\r\n\r\n",
        addr(server)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    read_response(&mut stream).await
}

/// A socket to the server from `source` (another loopback address: another client).
async fn connect_from(source: &str, server: &Home) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{source}:0").parse::<SocketAddr>().unwrap())?;
    socket.connect(addr(server).parse().unwrap()).await
}

/// Whether the server ends the connection (EOF, reset or an answer then EOF) within `wait`.
async fn ended_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut sink = Vec::new();
    tokio::time::timeout(wait, stream.read_to_end(&mut sink))
        .await
        .is_ok()
}

#[tokio::test]
async fn slow_bodies_from_one_address_cannot_hold_the_server() {
    let server = InProcessServer::start_with(
        Settings::default()
            .set("server", "request_timeout_s = 1")
            .set("server", "body_timeout_s = 5")
            .set("limits", "connections_per_ip = 20"),
    );
    let head = format!(
        "POST /api/v1/sessions HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n",
        addr(&server)
    );
    // 200 connections from one address, each sending its headers and then nothing.
    let mut streams = Vec::new();
    for _ in 0..200 {
        if let Ok(mut stream) = connect_from("127.0.0.2", &server).await {
            let _ = stream.write_all(head.as_bytes()).await;
            streams.push(stream);
        }
    }
    // Everyone else is still served meanwhile.
    let health = request(&server.url, "GET", "/health", &[], None).await;
    assert_eq!(health.status, 200);
    // Over the limit: closed at once; the 20 within it are held only for the body timeout.
    let ended = futures_util::future::join_all(
        streams
            .iter_mut()
            .map(|s| ended_within(s, Duration::from_millis(500))),
    )
    .await;
    let held: Vec<TcpStream> = streams
        .into_iter()
        .zip(ended)
        .filter_map(|(stream, ended)| (!ended).then_some(stream))
        .collect();
    assert_eq!(held.len(), 20, "connections held");
    let started = Instant::now();
    let ended = futures_util::future::join_all(
        held.into_iter()
            .map(|mut s| async move { ended_within(&mut s, Duration::from_secs(10)).await }),
    )
    .await;
    assert!(
        ended.iter().all(|e| *e),
        "a slow body was held past its timeout"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // A slow head is cut off by the request timeout.
    let mut slow_head = connect_from("127.0.0.2", &server).await.unwrap();
    slow_head
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    assert!(ended_within(&mut slow_head, Duration::from_secs(4)).await);
}

#[tokio::test]
async fn a_path_outside_the_roots_gets_one_answer_whether_it_exists_or_not() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let file_inside = format!("{}/a-file", server.project());
    std::fs::write(&file_inside, "x").unwrap();
    let mut answers = Vec::new();
    for cwd in [
        "/etc/shadow",
        "/etc",
        "/no/such/dir",
        "/root/.ssh",
        file_inside.as_str(),
    ] {
        let reply = phone.request("session.create", json!({"cwd": cwd})).await;
        let error = &reply["error"];
        let message = error["message"].as_str().unwrap().replace(cwd, "<cwd>");
        answers.push((error["code"].clone(), message));
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "answers differ: {answers:?}"
    );
    assert_eq!(answers[0].0, "forbidden");
}

#[tokio::test]
async fn an_after_seq_beyond_what_a_store_holds_is_a_bad_request() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    for after in ["9223372036854775808", "18446744073709551615"] {
        let path = format!("/api/v1/sessions/{session}/events?after_seq={after}");
        let page = request(&server.url, "GET", &path, &[], None).await;
        assert_eq!(page.status, 400, "{after}: {}", page.body);
        assert_eq!(page.json()["error"]["code"], "bad_request");
    }
    let frame = format!(
        r#"{{"id":"big","type":"session.subscribe","session_id":"{session}","after_seq":18446744073709551615}}"#
    );
    phone.send_text(&frame).await;
    assert_eq!(phone.response("big").await["error"]["code"], "bad_request");
}

#[tokio::test]
async fn a_client_that_never_signs_in_is_dropped_soon_after_its_4001_however_it_behaves() {
    let server = InProcessServer::start_with(
        Settings::default()
            .set("auth", "enabled = true")
            .set("auth", "handshake_timeout_s = 1")
            .set("server", "heartbeat_s = 30"),
    );
    // Never reads (a 4 KiB receive buffer, soon full of pongs) and never stops sending.
    let upgrade = upgrade_request(&addr(&server), "/ws", "");
    let mut socket =
        RawSocket::open_with_receive_buffer(&addr(&server), &upgrade, Some(4096)).await;
    let ping = crate::support::raw_ws::client_frame(0x9, true, &[b'p'; 125]);
    let flood: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 100)
        .collect();
    let started = Instant::now();
    let mut dropped = false;
    while started.elapsed() < Duration::from_secs(20) {
        let write = tokio::time::timeout(Duration::from_secs(1), socket.socket.write_all(&flood));
        match write.await {
            Ok(Ok(())) | Err(_) => {}
            Ok(Err(_)) => {
                dropped = true;
                break;
            }
        }
    }
    let held = started.elapsed();
    assert!(dropped, "still connected after {held:?}");
    // The handshake timeout, then at most as long again for the close: nothing like the
    // minute and a half a signed-in client gets to read its close frame.
    assert!(held < Duration::from_secs(6), "held for {held:?}");
}
