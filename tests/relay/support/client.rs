//! A protocol v1 client over a real WebSocket, as a phone app would be: the shared client
//! ([`test_support::ws::Conn`], the benchmark's too) with what a test needs on top: frames read
//! while waiting for something else are kept, every event and delta is recorded, and a failure
//! panics.

use std::collections::VecDeque;

use serde_json::{json, Value};
use test_support::ws::{Conn, Incoming};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::PATIENCE;

type Stream = MaybeTlsStream<TcpStream>;

/// One connected client.
pub struct Client {
    conn: Conn<Stream>,
    /// Frames read while waiting for something else.
    stash: VecDeque<Value>,
    /// The `welcome` frame.
    pub welcome: Value,
    /// Every event received, in order.
    pub events: Vec<Value>,
    /// Every delta received, in order.
    pub deltas: Vec<Value>,
    /// Every approval-inbox change (`inbox` frame) received, in order.
    pub inbox: Vec<Value>,
}

/// How a connection ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Closed {
    pub code: u16,
    pub reason: String,
}

impl Client {
    /// Connects and says hello.
    pub async fn connect(url: &str) -> Client {
        let mut client = Client::connect_raw(url).await;
        client
            .send(json!({"type": "hello", "protocol": 1, "client": {"name": "relay-tests", "version": "1"}, "capabilities": ["permissions"]}))
            .await;
        let welcome = client.recv().await.expect("welcome");
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        client.welcome = welcome;
        client
    }

    /// Connects without the handshake.
    pub async fn connect_raw(url: &str) -> Client {
        let conn = Conn::connect_url(url)
            .await
            .unwrap_or_else(|error| panic!("connect to {url}: {error}"));
        Client::with(conn)
    }

    /// Wraps a socket already connected (say, with headers of the test's choosing).
    pub fn from_socket(ws: WebSocketStream<Stream>) -> Client {
        Client::with(Conn::from_socket(ws))
    }

    fn with(conn: Conn<Stream>) -> Client {
        Client {
            conn,
            stash: VecDeque::new(),
            welcome: Value::Null,
            events: Vec::new(),
            deltas: Vec::new(),
            inbox: Vec::new(),
        }
    }

    /// Sends one JSON frame.
    pub async fn send(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    /// Sends one text frame as is.
    pub async fn send_text(&mut self, text: &str) {
        self.send_message(Message::text(text)).await;
    }

    /// Sends a raw message (binary frames, oversize frames).
    pub async fn send_message(&mut self, message: Message) {
        self.conn.send_message(message).await.expect("send");
    }

    /// The next frame from the server; `None` once the connection is closed.
    pub async fn recv(&mut self) -> Option<Value> {
        if let Some(frame) = self.stash.pop_front() {
            return Some(frame);
        }
        self.read_frame().await.ok()
    }

    /// Reads one frame; `Err` with the close when the connection ends.
    async fn read_frame(&mut self) -> Result<Value, Closed> {
        let incoming = self.conn.recv(PATIENCE).await.expect("a frame in time");
        match incoming {
            Incoming::Text(text, _) => {
                let frame: Value = serde_json::from_str(&text).expect("frames are JSON");
                match frame["type"].as_str() {
                    Some("event") => self.events.push(frame.clone()),
                    Some("delta") => self.deltas.push(frame.clone()),
                    Some("inbox") => self.inbox.push(frame.clone()),
                    _ => {}
                }
                Ok(frame)
            }
            Incoming::Closed(code, reason) => Err(Closed {
                code: code.unwrap_or(u16::from(CloseCode::Status)),
                reason,
            }),
            Incoming::Dropped => Err(Closed {
                code: 1006,
                reason: "connection dropped".into(),
            }),
        }
    }

    /// Reads until the server closes; answers the close code (frames before it are kept).
    pub async fn closed(&mut self) -> Closed {
        loop {
            match self.read_frame().await {
                Ok(frame) => self.stash.push_back(frame),
                Err(closed) => return closed,
            }
        }
    }

    /// Sends a request and waits for its `response` (other frames are kept for later).
    pub async fn request(&mut self, kind: &str, fields: Value) -> Value {
        let id = self
            .conn
            .send_request(kind, fields)
            .await
            .expect("send a request");
        self.response(&id).await
    }

    /// Waits for the response with `id`.
    pub async fn response(&mut self, id: &str) -> Value {
        let mut held = VecDeque::new();
        loop {
            let frame = match self.read_frame().await {
                Ok(frame) => frame,
                Err(closed) => panic!("closed while waiting for response {id}: {closed:?}"),
            };
            if frame["type"] == "response" && frame["id"] == id {
                held.extend(self.stash.drain(..));
                self.stash = held;
                return frame;
            }
            held.push_back(frame);
        }
    }

    /// A request that must succeed; answers its `data`.
    pub async fn ok(&mut self, kind: &str, fields: Value) -> Value {
        let answer = self.request(kind, fields).await;
        assert_eq!(answer["ok"], true, "{kind} failed: {answer}");
        answer["data"].clone()
    }

    /// A request that must fail; answers its error code.
    pub async fn err(&mut self, kind: &str, fields: Value) -> String {
        let answer = self.request(kind, fields).await;
        assert_eq!(answer["ok"], false, "{kind} should fail: {answer}");
        answer["error"]["code"].as_str().unwrap_or("").to_string()
    }

    /// Creates a session in `cwd`; answers its id.
    pub async fn create(&mut self, cwd: &str) -> String {
        let data = self.ok("session.create", json!({"cwd": cwd})).await;
        data["session"]["id"].as_str().expect("id").to_string()
    }

    /// Subscribes from `after_seq`; answers the response data.
    pub async fn subscribe(&mut self, session: &str, after_seq: u64) -> Value {
        self.ok(
            "session.subscribe",
            json!({"session_id": session, "after_seq": after_seq}),
        )
        .await
    }

    /// Queues a prompt; answers its prompt id.
    pub async fn prompt(&mut self, session: &str, text: &str) -> String {
        let data = self
            .ok(
                "session.prompt",
                json!({"session_id": session, "text": text}),
            )
            .await;
        data["prompt_id"].as_str().expect("prompt_id").to_string()
    }

    /// The next event frame (deltas and other frames are skipped, deltas recorded).
    pub async fn next_event(&mut self) -> Value {
        loop {
            let frame = self
                .recv()
                .await
                .expect("connection closed while waiting for an event");
            if frame["type"] == "event" {
                return frame;
            }
        }
    }

    /// Reads events until the last one received has a seq of at least `seq`.
    pub async fn read_through(&mut self, seq: u64) {
        while self
            .events
            .last()
            .and_then(|e| e["seq"].as_u64())
            .unwrap_or(0)
            < seq
        {
            self.next_event().await;
        }
    }

    /// Waits for the first event that matches `pred`; answers it.
    pub async fn wait_event(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let event = self.next_event().await;
            if pred(&event) {
                return event;
            }
        }
    }

    /// Waits for an event of `kind` whose data field `key` equals `value`.
    pub async fn wait_kind(&mut self, kind: &str) -> Value {
        self.wait_event(|e| e["kind"] == kind).await
    }

    /// The end (`prompt.completed` or `prompt.failed`) of `prompt_id`: already received, or the
    /// next one to come.
    pub async fn wait_prompt_end(&mut self, prompt_id: &str) -> Value {
        let is_end = |e: &Value| {
            (e["kind"] == "prompt.completed" || e["kind"] == "prompt.failed")
                && e["data"]["prompt_id"] == prompt_id
        };
        if let Some(end) = self.events.iter().find(|e| is_end(e)) {
            return end.clone();
        }
        self.wait_event(|e| {
            (e["kind"] == "prompt.completed" || e["kind"] == "prompt.failed")
                && e["data"]["prompt_id"] == prompt_id
        })
        .await
    }

    /// The seqs of the events received for `session`, in order.
    pub fn seqs(&self, session: &str) -> Vec<u64> {
        self.events
            .iter()
            .filter(|e| e["session_id"] == session)
            .filter_map(|e| e["seq"].as_u64())
            .collect()
    }

    /// Drops the connection without a close handshake (a phone losing its network).
    pub async fn drop_connection(self) {
        drop(self.conn);
    }
}
