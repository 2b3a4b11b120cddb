//! A fuzz of `Host` and `Origin` against the live server (auth off, the default): requests that
//! would create a session or open a WebSocket, with values drawn from the server's own names and
//! from foreign ones made to look like them. Only the own ones may get through; the sessions that
//! exist at the end are exactly the ones the own requests created. `FUZZ_SEED` replays a run.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::client::Client;
use crate::support::dice::Dice;
use crate::support::home::Settings;
use crate::support::in_process::InProcessServer;
use crate::support::PATIENCE;

/// `Host` values that name the server (bound to 127.0.0.1:port).
fn own_hosts(port: u16) -> Vec<String> {
    [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LocalHost:{port}"),
        format!("[::1]:{port}"),
        "127.0.0.1".into(),
        "localhost".into(),
    ]
    .into()
}

/// `Host` values that do not, many made to look as if they did.
fn foreign_hosts(port: u16, dice: &mut Dice) -> Vec<String> {
    let mut hosts: Vec<String> = [
        "evil.example",
        "127.0.0.1.evil.example",
        "localhost.evil.example",
        "evil-localhost",
        "127.0.0.1@evil.example",
        "evil.example@127.0.0.1",
        "127.0.0.1/evil",
        "127.0.0.1 evil",
        "127.0.0.1\tevil",
        "localhost%2e",
        "xn--localhost",
        "10.0.0.1",
        "192.168.1.20",
        "0.0.0.0",
        "[::ffff:7f00:1]x",
        "",
        ":",
        "::1",
        "127.0.0.1:",
        "127.0.0.1:-1",
        "127.0.0.1:65536",
        "127.0.0.1:80:80",
    ]
    .iter()
    .flat_map(|h| [h.to_string(), format!("{h}:{port}")])
    .collect();
    for _ in 0..40 {
        let len = 1 + dice.next() % 40;
        let random: String = (0..len)
            .map(|_| {
                let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789.-:[]@/%";
                alphabet[(dice.next() % alphabet.len() as u64) as usize] as char
            })
            .collect();
        hosts.push(format!("{random}.example"));
    }
    hosts
}

fn own_origins(port: u16) -> Vec<String> {
    [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://[::1]:{port}"),
    ]
    .into()
}

fn foreign_origins(port: u16) -> Vec<String> {
    [
        format!("http://evil.example:{port}"),
        format!("https://127.0.0.1:{port}"),
        "http://127.0.0.1".into(),
        "http://localhost:3000".into(),
        format!("http://127.0.0.1:{port}.evil.example"),
        format!("http://127.0.0.1:{port}@evil.example"),
        format!("http://evil.example#@127.0.0.1:{port}"),
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost.:{port}.evil"),
        "null".into(),
        "file://".into(),
        format!("chrome-extension://abc:{port}"),
        String::new(),
    ]
    .into()
}

/// Sends one request; the status code it got (0 when the connection ended without an answer).
async fn status_of(addr: &str, head: String, body: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("send");
    stream.write_all(body.as_bytes()).await.expect("send body");
    let mut raw = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let read = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
            .await
            .expect("an answer in time");
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
        if raw.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&raw)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn only_the_servers_own_host_and_origin_get_through() {
    let server = InProcessServer::start_with(
        Settings::default()
            .set("sessions", "max_per_user = 10000")
            .set("limits", "requests_per_minute = 0"),
    );
    let addr = server.url.trim_start_matches("http://").to_string();
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    let (mut dice, seed) = Dice::from_env();
    eprintln!("perimeter fuzz: FUZZ_SEED={seed}");
    let own_h = own_hosts(port);
    let foreign_h = foreign_hosts(port, &mut dice);
    let own_o = own_origins(port);
    let foreign_o = foreign_origins(port);
    let body = serde_json::json!({"cwd": server.project()}).to_string();
    let mut created = 0;
    for case in 0..600 {
        let host_is_own = dice.next() % 2 == 0;
        let host = if host_is_own {
            dice.pick(&own_h)
        } else {
            dice.pick(&foreign_h)
        };
        // No Origin (a script), an own one, or a foreign one.
        let (origin_line, origin_ok) = match dice.next() % 3 {
            0 => (String::new(), true),
            1 => (format!("Origin: {}\r\n", dice.pick(&own_o)), true),
            _ => (format!("Origin: {}\r\n", dice.pick(&foreign_o)), false),
        };
        let allowed = host_is_own && origin_ok;
        let upgrade = case % 4 == 0;
        let status = if upgrade {
            let head = format!(
                "GET /ws HTTP/1.1\r\nHost: {host}\r\n{origin_line}Upgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 Sec-WebSocket-Version: 13\r\n\r\n"
            );
            status_of(&addr, head, "").await
        } else {
            let head = format!(
                "POST /api/v1/sessions HTTP/1.1\r\nHost: {host}\r\n{origin_line}\
                 Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            status_of(&addr, head, &body).await
        };
        let through = matches!(status, 101 | 200..=299);
        assert_eq!(
            through, allowed,
            "case {case}: Host {host:?}, {origin_line:?}, upgrade {upgrade}: status {status}"
        );
        if through && !upgrade {
            created += 1;
        }
    }
    let mut phone = Client::connect(&server.ws_url()).await;
    let list = phone.ok("session.list", serde_json::json!({})).await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), created);
}
