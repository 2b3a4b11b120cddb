//! A minimal HTTP/1.1 client over a real socket, for the few HTTP requests the benchmark makes
//! (`/metrics`, a page of stored events, push subscriptions). Bounded in time; `None` for
//! anything but a 2xx.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The body of `GET path`, if the server answered 200 within 10 s.
pub async fn get(addr: SocketAddr, path: &str) -> Option<String> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    exchange(addr, request, "HTTP/1.1 200").await
}

/// The body of `POST path` with the JSON `body`, if the server answered 2xx within 10 s.
pub async fn post_json(addr: SocketAddr, path: &str, body: &str) -> Option<String> {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    exchange(addr, request, "HTTP/1.1 2").await
}

/// Sends `request`; the answer's body when its status line starts with `ok`.
async fn exchange(addr: SocketAddr, request: String, ok: &str) -> Option<String> {
    let fetch = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.ok()?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n")?;
        head.starts_with(ok).then(|| body.to_string())
    };
    tokio::time::timeout(Duration::from_secs(10), fetch)
        .await
        .ok()
        .flatten()
}
