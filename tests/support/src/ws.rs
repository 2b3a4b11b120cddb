//! A lean protocol v1 client over a real WebSocket. Thousands of these share one tokio runtime
//! in the benchmark, so a connection holds only its socket and tungstenite's small buffers;
//! every read has a deadline, so a silent server fails the caller rather than hanging it. The
//! relay's tests wrap it in their own `Client`, which keeps frames and asserts.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::Error;

/// How long a setup step (connect, hello, a request) may take.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// What came off the socket.
pub enum Incoming {
    /// A text frame, with the wall-clock time it was read (nanoseconds since the UNIX epoch).
    Text(String, u64),
    /// The server closed: the close code, if the close frame carried one, and its reason.
    Closed(Option<u16>, String),
    /// The connection ended without a close frame.
    Dropped,
}

/// How a client's socket differs from a plain loopback one, set before it connects.
#[derive(Clone, Copy, Debug, Default)]
pub struct Link {
    /// `SO_RCVBUF`: a small one makes a client that stops reading fill up quickly, like a phone
    /// on a bad link.
    pub recv_buffer: Option<u32>,
    /// `TCP_MAXSEG`, the largest segment the client announces. Loopback's is 65,483 bytes; with
    /// a receive window of a few KiB that lets the server's segment size exceed the window the
    /// client opens after a stall, and Linux then sends only on its zero-window probe timer,
    /// which has backed off to a minute or more: the client looks stuck. Real links carry at
    /// most ~1,460 bytes per segment.
    pub mss: Option<u32>,
}

/// One WebSocket connection: plain TCP for the benchmark, maybe TLS for the tests.
pub struct Conn<S = TcpStream> {
    ws: WebSocketStream<S>,
    next_id: u64,
}

/// Nanoseconds since the UNIX epoch, the clock `load-claude` stamps `sent_ns` with.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl Conn<TcpStream> {
    /// Opens the WebSocket over a socket set up as `link` says.
    pub async fn connect(addr: SocketAddr, link: Link) -> Result<Conn, Error> {
        let open = async {
            let socket = TcpSocket::new_v4()?;
            if let Some(size) = link.recv_buffer {
                socket.set_recv_buffer_size(size)?;
            }
            if let Some(mss) = link.mss {
                socket2::SockRef::from(&socket).set_tcp_mss(mss)?;
            }
            let stream = socket.connect(addr).await?;
            stream.set_nodelay(true)?;
            let url = format!("ws://{addr}/ws");
            let (ws, _) = tokio_tungstenite::client_async(url, stream).await?;
            Ok::<_, Error>(ws)
        };
        let ws = tokio::time::timeout(PATIENCE, open)
            .await
            .map_err(|_| "connect timed out")??;
        Ok(Conn::from_socket(ws))
    }

    /// Connects and completes the `hello`/`welcome` handshake.
    pub async fn open(addr: SocketAddr, link: Link) -> Result<Conn, Error> {
        let mut conn = Conn::connect(addr, link).await?;
        conn.send(&json!({"type": "hello", "protocol": 1,
                          "client": {"name": "pocket-relay-bench", "version": "1"}}))
            .await?;
        loop {
            match conn.recv(PATIENCE).await? {
                Incoming::Text(text, _) => {
                    let frame: Value = serde_json::from_str(&text)?;
                    match frame["type"].as_str() {
                        Some("welcome") => return Ok(conn),
                        Some("error") => return Err(format!("hello refused: {frame}").into()),
                        _ => continue,
                    }
                }
                _ => return Err("closed during the handshake".into()),
            }
        }
    }
}

impl Conn<MaybeTlsStream<TcpStream>> {
    /// Opens the WebSocket at `url` (`ws://…` or `wss://…`, with a query string if any).
    pub async fn connect_url(url: &str) -> Result<Self, Error> {
        let (ws, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(url))
            .await
            .map_err(|_| "connect timed out")??;
        Ok(Conn::from_socket(ws))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// Wraps a socket already connected (say, over TLS or with headers of the caller's choosing).
    pub fn from_socket(ws: WebSocketStream<S>) -> Conn<S> {
        Conn { ws, next_id: 0 }
    }

    /// Sends one JSON frame.
    pub async fn send(&mut self, frame: &Value) -> Result<(), Error> {
        self.send_message(Message::text(frame.to_string())).await
    }

    /// Sends any message as is (binary frames, oversize frames, text that is not JSON).
    pub async fn send_message(&mut self, message: Message) -> Result<(), Error> {
        tokio::time::timeout(PATIENCE, self.ws.send(message))
            .await
            .map_err(|_| "send timed out")??;
        Ok(())
    }

    /// Sends a request with a fresh id; answers that id.
    pub async fn send_request(&mut self, kind: &str, fields: Value) -> Result<String, Error> {
        self.next_id += 1;
        let id = format!("q{}", self.next_id);
        let mut frame = fields;
        frame["id"] = json!(id);
        frame["type"] = json!(kind);
        self.send(&frame).await?;
        Ok(id)
    }

    /// Sends a request and waits for its `response`; other frames are skipped. Answers `data`
    /// of a successful response, an error otherwise.
    pub async fn request(&mut self, kind: &str, fields: Value) -> Result<Value, Error> {
        let id = self.send_request(kind, fields).await?;
        self.response(&id).await
    }

    /// Waits for the response to `id` (frames before it are skipped).
    pub async fn response(&mut self, id: &str) -> Result<Value, Error> {
        let mut answers = self.responses(&[id.to_string()]).await?;
        answers.pop().ok_or_else(|| "no response".into())
    }

    /// Waits for the responses to all of `ids`, which may come in any order (requests to
    /// different sessions run concurrently); answers their `data` in the order of `ids`.
    pub async fn responses(&mut self, ids: &[String]) -> Result<Vec<Value>, Error> {
        let mut answers: Vec<Option<Value>> = vec![None; ids.len()];
        let mut missing = ids.len();
        while missing > 0 {
            let Incoming::Text(text, _) = self.recv(PATIENCE).await? else {
                return Err("closed while waiting for responses".into());
            };
            let mut frame: Value = serde_json::from_str(&text)?;
            if frame["type"] != "response" {
                continue;
            }
            let Some(i) = ids.iter().position(|id| frame["id"] == id.as_str()) else {
                continue;
            };
            if frame["ok"] != true {
                return Err(format!("request {} failed: {frame}", ids[i]).into());
            }
            if answers[i].replace(frame["data"].take()).is_none() {
                missing -= 1;
            }
        }
        Ok(answers.into_iter().flatten().collect())
    }

    /// The next text frame or the end of the connection; `Err` after `wait` without any.
    pub async fn recv(&mut self, wait: Duration) -> Result<Incoming, Error> {
        // One deadline for the whole wait: the server's pings must not keep a caller waiting.
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .map_err(|_| "no frame in time")?;
            return Ok(match next {
                Some(Ok(Message::Text(text))) => Incoming::Text(text, now_ns()),
                Some(Ok(Message::Close(close))) => match close {
                    Some(close) => Incoming::Closed(Some(close.code.into()), close.reason.into()),
                    None => Incoming::Closed(None, String::new()),
                },
                // Pings are answered by tungstenite on the next read or write.
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => Incoming::Dropped,
            });
        }
    }

    /// Closes with 1000, briefly waiting for the server's answer; errors are ignored.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            self.ws.close(None).await?;
            while self.ws.next().await.is_some() {}
            Ok::<(), Error>(())
        })
        .await;
    }

    /// `session.create` in `cwd` without live deltas; answers the session id.
    pub async fn create_session(&mut self, cwd: &str) -> Result<String, Error> {
        let data = self
            .request(
                "session.create",
                json!({"cwd": cwd, "stream_deltas": false}),
            )
            .await?;
        data["session"]["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| "session.create answered no id".into())
    }

    /// `session.subscribe` from `after_seq`; answers the session's `last_seq` at that moment.
    pub async fn subscribe(&mut self, session: &str, after_seq: u64) -> Result<u64, Error> {
        let data = self
            .request(
                "session.subscribe",
                json!({"session_id": session, "after_seq": after_seq}),
            )
            .await?;
        Ok(data["last_seq"].as_u64().unwrap_or(0))
    }

    /// The session's current `last_seq`.
    pub async fn last_seq(&mut self, session: &str) -> Result<u64, Error> {
        let data = self
            .request("session.get", json!({"session_id": session}))
            .await?;
        Ok(data["session"]["last_seq"].as_u64().unwrap_or(0))
    }
}
