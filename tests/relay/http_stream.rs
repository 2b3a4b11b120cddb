//! Following a session over plain HTTP: Server-Sent Events that resume after `Last-Event-ID`,
//! prompts posted with and without an NDJSON stream of their events, and the Markdown export,
//! all through a small HTTP/1.1 client over a real socket.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::support::client::Client;
use crate::support::home::{Home, Settings};
use crate::support::in_process::InProcessServer;
use crate::support::server::TestServer;
use crate::support::PATIENCE;

/// How the body of a response is framed on the wire.
enum Framing {
    /// `Transfer-Encoding: chunked`; `Some(n)` while inside a chunk with `n` bytes left.
    Chunked(Option<usize>),
    Length(usize),
    UntilClose,
    Done,
}

/// An HTTP/1.1 response read as it arrives, so a stream can be followed line by line.
struct Response {
    socket: TcpStream,
    status: u16,
    headers: Vec<(String, String)>,
    /// Bytes read from the socket and not yet decoded.
    raw: Vec<u8>,
    /// Decoded body bytes not yet consumed.
    body: Vec<u8>,
    framing: Framing,
    eof: bool,
}

impl Response {
    /// Sends a request and reads the status line and headers.
    async fn send(
        server: &Home,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        Response::send_with(server, method, path, headers, body, None).await
    }

    /// `send` with a small receive buffer when given, so that a reader that stops falls behind
    /// quickly.
    async fn send_with(
        server: &Home,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        recv_buffer: Option<u32>,
    ) -> Response {
        let host = server.url.trim_start_matches("http://");
        let addr = host.parse().expect("an ip:port");
        let socket = TcpSocket::new_v4().expect("socket");
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
        }
        let socket = socket.connect(addr).await.expect("connect");
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if method == "POST" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut response = Response {
            socket,
            status: 0,
            headers: Vec::new(),
            raw: Vec::new(),
            body: Vec::new(),
            framing: Framing::UntilClose,
            eof: false,
        };
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        // A server that answers before reading a too-large body may reset the rest of it.
        let _ = response.socket.write_all(&request).await;
        response.read_head().await;
        response
    }

    async fn read_head(&mut self) {
        let end = loop {
            if let Some(end) = find(&self.raw, b"\r\n\r\n") {
                break end;
            }
            assert!(
                self.fill().await,
                "the connection closed before the headers"
            );
        };
        let head = String::from_utf8_lossy(&self.raw[..end]).into_owned();
        self.raw.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        self.status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        for line in lines {
            if let Some((name, value)) = line.split_once(':') {
                self.headers
                    .push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        self.framing = if self.header("transfer-encoding") == Some("chunked") {
            Framing::Chunked(None)
        } else if let Some(length) = self.header("content-length").and_then(|v| v.parse().ok()) {
            Framing::Length(length)
        } else {
            Framing::UntilClose
        };
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Reads more from the socket; false at the end of the connection.
    async fn fill(&mut self) -> bool {
        if self.eof {
            return false;
        }
        let mut buf = [0u8; 16 * 1024];
        let read = tokio::time::timeout(PATIENCE, self.socket.read(&mut buf))
            .await
            .expect("data in time");
        match read {
            Ok(0) | Err(_) => {
                self.eof = true;
                false
            }
            Ok(n) => {
                self.raw.extend_from_slice(&buf[..n]);
                true
            }
        }
    }

    /// Moves what can be decoded from `raw` into `body`.
    fn decode(&mut self) {
        loop {
            match self.framing {
                Framing::Done => return,
                Framing::UntilClose => {
                    self.body.append(&mut self.raw);
                    if self.eof {
                        self.framing = Framing::Done;
                    }
                    return;
                }
                Framing::Length(left) => {
                    let take = left.min(self.raw.len());
                    self.body.extend(self.raw.drain(..take));
                    self.framing = match left - take {
                        0 => Framing::Done,
                        left => Framing::Length(left),
                    };
                    return;
                }
                Framing::Chunked(None) => {
                    let Some(end) = find(&self.raw, b"\r\n") else {
                        return;
                    };
                    let line = String::from_utf8_lossy(&self.raw[..end]).into_owned();
                    self.raw.drain(..end + 2);
                    let size = line.split(';').next().unwrap_or_default().trim();
                    let size = usize::from_str_radix(size, 16).expect("chunk size");
                    self.framing = match size {
                        0 => Framing::Done,
                        size => Framing::Chunked(Some(size)),
                    };
                }
                Framing::Chunked(Some(0)) => {
                    if self.raw.len() < 2 {
                        return;
                    }
                    self.raw.drain(..2);
                    self.framing = Framing::Chunked(None);
                }
                Framing::Chunked(Some(left)) => {
                    let take = left.min(self.raw.len());
                    if take == 0 {
                        return;
                    }
                    self.body.extend(self.raw.drain(..take));
                    self.framing = Framing::Chunked(Some(left - take));
                }
            }
        }
    }

    fn done(&self) -> bool {
        matches!(self.framing, Framing::Done)
    }

    /// The next body line (without its line break); `None` at the end of the body.
    async fn line(&mut self) -> Option<String> {
        loop {
            self.decode();
            if let Some(end) = self.body.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.body.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line[..end]).into_owned();
                return Some(line.trim_end_matches('\r').to_string());
            }
            if self.done() || !self.fill().await {
                self.decode();
                if self.body.is_empty() {
                    return None;
                }
                let rest = String::from_utf8_lossy(&self.body).into_owned();
                self.body.clear();
                return Some(rest);
            }
        }
    }

    /// The rest of the body.
    async fn text(mut self) -> String {
        loop {
            self.decode();
            if self.done() || !self.fill().await {
                self.decode();
                return String::from_utf8_lossy(&self.body).into_owned();
            }
        }
    }

    async fn json(self) -> Value {
        let text = self.text().await;
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn get(server: &Home, path: &str, headers: &[(&str, &str)]) -> Response {
    Response::send(server, "GET", path, headers, b"").await
}

async fn post_json(server: &Home, path: &str, body: &Value) -> Response {
    let headers = [("Content-Type", "application/json")];
    Response::send(server, "POST", path, &headers, body.to_string().as_bytes()).await
}

/// One thing an SSE stream sends.
#[derive(Debug)]
enum Sse {
    Comment(String),
    Message {
        id: Option<u64>,
        event: String,
        data: Value,
    },
}

/// Reads the next SSE comment or message; `None` when the stream ends.
async fn next_sse(stream: &mut Response) -> Option<Sse> {
    let (mut id, mut event, mut data) = (None, String::new(), String::new());
    loop {
        let line = stream.line().await?;
        if line.is_empty() {
            if data.is_empty() {
                continue;
            }
            let data = serde_json::from_str(&data).expect("SSE data is JSON");
            return Some(Sse::Message { id, event, data });
        }
        if let Some(comment) = line.strip_prefix(':') {
            return Some(Sse::Comment(comment.trim().to_string()));
        }
        let (field, value) = line.split_once(':').unwrap_or((line.as_str(), ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => id = Some(value.parse().expect("a numeric id")),
            "event" => event = value.to_string(),
            "data" => {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value);
            }
            other => panic!("unexpected SSE field {other:?}"),
        }
    }
}

/// The next SSE event (comments and deltas skipped), checked against its own data.
async fn next_event(stream: &mut Response, session: &str) -> Value {
    loop {
        match next_sse(stream).await.expect("the stream ended") {
            Sse::Message {
                id: Some(id),
                event,
                data,
            } => {
                assert_eq!(data["seq"], id, "{data}");
                assert_eq!(data["kind"], event.as_str(), "{data}");
                assert_eq!(data["session_id"], session, "{data}");
                return data;
            }
            Sse::Message {
                id: None, event, ..
            } => assert_eq!(event, "delta"),
            Sse::Comment(_) => {}
        }
    }
}

fn stream_path(session: &str) -> String {
    format!("/api/v1/sessions/{session}/stream")
}

fn is_end_of(event: &Value, prompt: &str) -> bool {
    matches!(
        event["kind"].as_str(),
        Some("prompt.completed" | "prompt.failed")
    ) && event["data"]["prompt_id"] == prompt
}

#[tokio::test]
async fn an_sse_stream_resumes_after_last_event_id_with_nothing_lost_or_repeated() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;

    let path = format!("{}?after_seq=0", stream_path(&session));
    let mut stream = get(&server, &path, &[]).await;
    assert_eq!(stream.status, 200);
    assert!(stream
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/event-stream")));
    assert_eq!(stream.header("cache-control"), Some("no-cache"));
    let prompt = phone.prompt(&session, "emit 300").await;
    let mut events = Vec::new();
    while events.len() < 100 {
        events.push(next_event(&mut stream, &session).await);
    }
    drop(stream);

    // The header wins over the query.
    let last = events.last().unwrap()["seq"].to_string();
    let mut resumed = get(&server, &path, &[("Last-Event-ID", &last)]).await;
    assert_eq!(resumed.status, 200);
    loop {
        let event = next_event(&mut resumed, &session).await;
        events.push(event.clone());
        if is_end_of(&event, &prompt) {
            break;
        }
    }
    let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let lines = events
        .iter()
        .filter(|e| e["kind"] == "agent.output" && e["data"]["message"]["type"] == "assistant")
        .count();
    assert_eq!(lines, 300);
    assert_eq!(events.last().unwrap()["kind"], "prompt.completed");

    // While it is open the stream is a connected client.
    let clients = get(&server, "/api/v1/clients", &[]).await.json().await;
    let transports: Vec<&Value> = clients["data"]["clients"]
        .as_array()
        .expect("clients")
        .iter()
        .map(|c| &c["transport"])
        .collect();
    assert!(transports.contains(&&json!("sse")), "{clients}");
}

#[tokio::test]
async fn a_slow_sse_consumer_is_cut_off_and_resumes_without_loss() {
    let server =
        InProcessServer::start_with(Settings::default().set("limits", "client_buffer = 64"));
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    phone.subscribe(&session, 0).await;
    let path = stream_path(&session);
    let mut slow = Response::send_with(&server, "GET", &path, &[], b"", Some(16 * 1024)).await;
    assert_eq!(slow.status, 200);
    // Big lines fill the socket buffers quickly; the stream is not read meanwhile.
    let mut prompt = String::new();
    for _ in 0..100 {
        prompt = phone.prompt(&session, "bigline 100000").await;
    }
    phone.wait_prompt_end(&prompt).await;
    let end = phone.events.last().unwrap()["seq"].as_u64().unwrap();

    // What was on its way arrives, then the stream ends early.
    let mut seqs = Vec::new();
    while let Some(item) = next_sse(&mut slow).await {
        if let Sse::Message { id: Some(id), .. } = item {
            seqs.push(id);
        }
    }
    let last = seqs.last().copied().unwrap_or(0);
    assert!(
        last < end,
        "the slow stream should have been cut off before {end}"
    );

    let mut resumed = get(&server, &path, &[("Last-Event-ID", &last.to_string())]).await;
    while seqs.last() != Some(&end) {
        seqs.push(
            next_event(&mut resumed, &session).await["seq"]
                .as_u64()
                .unwrap(),
        );
    }
    assert_eq!(seqs, (1..=end).collect::<Vec<_>>());
}

#[tokio::test]
async fn live_deltas_arrive_as_sse_messages_without_an_id() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    let mut stream = get(&server, &stream_path(&session), &[]).await;
    let created = next_event(&mut stream, &session).await;
    assert_eq!(created["kind"], "session.created");

    let prompt = phone.prompt(&session, "stream 5 20").await;
    let mut deltas = Vec::new();
    loop {
        match next_sse(&mut stream).await.expect("the stream ended") {
            Sse::Message {
                id: None,
                event,
                data,
            } => {
                assert_eq!(event, "delta");
                deltas.push(data);
            }
            Sse::Message { data, .. } if is_end_of(&data, &prompt) => break,
            _ => {}
        }
    }
    assert!(!deltas.is_empty());
    for delta in &deltas {
        assert_eq!(delta["session_id"], session.as_str());
        assert!(delta["after_seq"].is_u64(), "{delta}");
        assert_eq!(delta["message"]["type"], "stream_event", "{delta}");
    }
}

#[tokio::test]
async fn an_idle_sse_stream_gets_heartbeat_comments() {
    let server = InProcessServer::start_with(Settings::default().set("server", "heartbeat_s = 1"));
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    let mut stream = get(&server, &stream_path(&session), &[]).await;
    let comment = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Sse::Comment(text) = next_sse(&mut stream).await.expect("the stream ended") {
                return text;
            }
        }
    })
    .await
    .expect("a heartbeat comment within 5 s");
    assert_eq!(comment, "ping");

    // A client that hangs up is gone from the list of clients.
    drop(stream);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let clients = get(&server, "/api/v1/clients", &[]).await.json().await;
        let list = clients["data"]["clients"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !list.iter().any(|c| c["transport"] == "sse") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still listed: {clients}"
        );
    }
}

#[tokio::test]
async fn sse_streams_end_cleanly_when_the_server_shuts_down() {
    let mut server = TestServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    let mut stream = get(&server, &stream_path(&session), &[]).await;
    next_event(&mut stream, &session).await;
    assert_eq!(server.terminate(), Some(0));
    while next_sse(&mut stream).await.is_some() {}
    assert!(
        stream.done(),
        "the body should end with its last chunk, not a cut"
    );
}

#[tokio::test]
async fn sse_errors_come_in_the_envelope_before_the_stream() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;

    let unknown = stream_path("6f1c2c9e-8a53-4c57-9d7e-1b1d2a3b4c5d");
    for path in [unknown, stream_path("not-a-uuid")] {
        let answer = get(&server, &path, &[]).await;
        assert_eq!(answer.status, 404);
        let request_id = answer.header("x-request-id").map(str::to_string);
        let body = answer.json().await;
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["code"], "not_found");
        assert!(body["request_id"].is_string());
        assert_eq!(body["request_id"].as_str(), request_id.as_deref());
    }

    let bad_header = get(&server, &stream_path(&session), &[("Last-Event-ID", "x1")]).await;
    assert_eq!(bad_header.status, 400);
    assert_eq!(bad_header.json().await["error"]["code"], "bad_request");
    let path = format!("{}?after_seq=soon&token=abc", stream_path(&session));
    let bad_query = get(&server, &path, &[]).await;
    assert_eq!(bad_query.status, 400);
    assert_eq!(bad_query.json().await["error"]["code"], "bad_request");
}

fn prompts_path(session: &str) -> String {
    format!("/api/v1/sessions/{session}/prompts")
}

/// Reads NDJSON lines until the body ends.
async fn ndjson_lines(mut response: Response) -> Vec<Value> {
    let mut lines = Vec::new();
    while let Some(line) = response.line().await {
        lines.push(serde_json::from_str(&line).expect("each line is JSON"));
    }
    lines
}

#[tokio::test]
async fn a_prompt_posted_over_http_is_accepted_and_runs() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;

    let headers = [
        ("Content-Type", "application/json"),
        ("X-Request-Id", "my-request-1"),
    ];
    let body = json!({"text": "hello over http"}).to_string();
    let answer = Response::send(
        &server,
        "POST",
        &prompts_path(&session),
        &headers,
        body.as_bytes(),
    )
    .await;
    assert_eq!(answer.status, 202);
    assert_eq!(answer.header("x-request-id"), Some("my-request-1"));
    let answer = answer.json().await;
    assert_eq!(answer["success"], true, "{answer}");
    assert_eq!(answer["request_id"], "my-request-1");
    assert_eq!(answer["data"]["position"], 0);
    let prompt = answer["data"]["prompt_id"]
        .as_str()
        .expect("prompt_id")
        .to_string();

    let again = post_json(
        &server,
        &prompts_path(&session),
        &json!({"text": "second", "prompt_id": "p-2"}),
    )
    .await;
    assert_eq!(again.status, 202);
    assert!(again.header("x-request-id").is_some());
    assert_eq!(again.json().await["data"]["prompt_id"], "p-2");

    phone.subscribe(&session, 0).await;
    let done = phone.wait_prompt_end(&prompt).await;
    assert_eq!(done["data"]["result"], "echo: hello over http");
    let done = phone.wait_prompt_end("p-2").await;
    assert_eq!(done["kind"], "prompt.completed");
}

#[tokio::test]
async fn an_ndjson_prompt_streams_its_own_events_to_its_end() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    // Another prompt runs first: none of its events belong in our stream.
    let before = phone.prompt(&session, "emit 3").await;

    let path = format!("{}?stream=ndjson", prompts_path(&session));
    let response = post_json(
        &server,
        &path,
        &json!({"text": "emit 2", "prompt_id": "nd-1"}),
    )
    .await;
    assert_eq!(response.status, 200);
    assert!(response
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/x-ndjson")));
    let lines = ndjson_lines(response).await;
    let first = &lines[0];
    assert_eq!(first["kind"], "prompt.queued", "{first}");
    assert_eq!(first["data"]["prompt_id"], "nd-1");
    assert_eq!(first["data"]["text"], "emit 2");
    let last = lines.last().unwrap();
    assert_eq!(last["kind"], "prompt.completed", "{last}");
    assert_eq!(last["data"]["prompt_id"], "nd-1");
    let started = lines
        .iter()
        .position(|e| e["kind"] == "prompt.started")
        .expect("prompt.started");
    assert!(lines[..started]
        .iter()
        .all(|e| e["data"]["prompt_id"] == "nd-1"));
    assert!(lines
        .iter()
        .all(|e| e["data"]["prompt_id"] != before.as_str()));
    let seqs: Vec<u64> = lines.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let outputs: Vec<&Value> = lines
        .iter()
        .filter(|e| e["kind"] == "agent.output" && e["data"]["message"]["type"] == "assistant")
        .collect();
    assert_eq!(outputs.len(), 2);

    // A retry of the same prompt_id queues nothing and streams the same prompt again.
    let retry = post_json(
        &server,
        &path,
        &json!({"text": "emit 2", "prompt_id": "nd-1"}),
    )
    .await;
    assert_eq!(ndjson_lines(retry).await, lines);

    // Without a prompt_id the server picks one and the stream follows it.
    let plain = post_json(&server, &path, &json!({"text": "plain"})).await;
    let lines = ndjson_lines(plain).await;
    let id = lines[0]["data"]["prompt_id"].clone();
    assert!(id.is_string());
    assert_eq!(lines.last().unwrap()["data"]["prompt_id"], id);
    assert_eq!(lines.last().unwrap()["data"]["result"], "echo: plain");
}

#[tokio::test]
async fn a_client_that_hangs_up_does_not_disturb_its_prompt() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    let path = format!("{}?stream=ndjson", prompts_path(&session));
    let mut response = post_json(&server, &path, &json!({"text": "slow 5 100"})).await;
    assert_eq!(response.status, 200);
    let first: Value = serde_json::from_str(&response.line().await.expect("a line")).unwrap();
    assert_eq!(first["kind"], "prompt.queued");
    let prompt = first["data"]["prompt_id"].as_str().unwrap().to_string();
    drop(response);

    phone.subscribe(&session, 0).await;
    let done = phone.wait_prompt_end(&prompt).await;
    assert_eq!(done["kind"], "prompt.completed", "{done}");
    let lines = phone
        .events
        .iter()
        .filter(|e| e["kind"] == "agent.output" && e["data"]["message"]["type"] == "assistant")
        .count();
    assert_eq!(lines, 5);
}

#[tokio::test]
async fn a_slow_ndjson_reader_still_gets_every_event_of_the_run() {
    let server = TestServer::start_with(Settings::default().set("limits", "client_buffer = 64"));
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    let path = format!("{}?stream=ndjson", prompts_path(&session));
    let headers = [("Content-Type", "application/json")];
    let body = json!({"text": "stall", "prompt_id": "long"}).to_string();
    let mut reader = Response::send_with(
        &server,
        "POST",
        &path,
        &headers,
        body.as_bytes(),
        Some(16 * 1024),
    )
    .await;
    assert_eq!(reader.status, 200);
    // While it stalls, big prompts queue behind it: their `prompt.queued` events belong to its run
    // and overflow the reader, who does not read.
    let text = "y".repeat(200_000);
    for _ in 0..100 {
        phone.prompt(&session, &text).await;
    }
    phone
        .ok("session.interrupt", json!({"session_id": session}))
        .await;
    let mut lines: Vec<Value> = Vec::new();
    while let Some(line) = reader.line().await {
        lines.push(serde_json::from_str(&line).expect("JSON"));
    }
    assert_eq!(lines[0]["kind"], "prompt.queued");
    let last = lines.last().unwrap();
    assert!(is_end_of(last, "long"), "{}", last["kind"]);
    let started = lines
        .iter()
        .position(|e| e["kind"] == "prompt.started")
        .expect("prompt.started");
    let seqs: Vec<u64> = lines[started..]
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    let queued = lines
        .iter()
        .filter(|e| e["kind"] == "prompt.queued")
        .count();
    assert_eq!(queued, 101);
    assert!(
        server.log().contains("slow consumer"),
        "the reader never fell behind"
    );
}

#[tokio::test]
async fn bad_prompt_requests_are_answered_in_the_envelope() {
    let server =
        InProcessServer::start_with(Settings::default().set("limits", "max_prompt_bytes = 1000"));
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    let path = prompts_path(&session);
    let ndjson = format!("{path}?stream=ndjson");

    async fn expect(answer: Response, status: u16, code: &str) {
        assert_eq!(answer.status, status);
        assert!(answer.header("x-request-id").is_some());
        let body = answer.json().await;
        assert_eq!(body["success"], false, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(body["request_id"].is_string(), "{body}");
    }

    let json = [("Content-Type", "application/json")];
    for target in [&path, &ndjson] {
        expect(
            Response::send(&server, "POST", target, &json, b"{not json").await,
            400,
            "bad_request",
        )
        .await;
        expect(
            post_json(&server, target, &json!({"prompt_id": "x"})).await,
            400,
            "bad_request",
        )
        .await;
        let text = [("Content-Type", "text/plain")];
        let body = json!({"text": "hi"}).to_string();
        expect(
            Response::send(&server, "POST", target, &text, body.as_bytes()).await,
            400,
            "bad_request",
        )
        .await;
        let huge = json!({"text": "x".repeat(2000)});
        expect(post_json(&server, target, &huge).await, 413, "too_large").await;
    }
    let unknown = prompts_path("6f1c2c9e-8a53-4c57-9d7e-1b1d2a3b4c5d");
    expect(
        post_json(&server, &unknown, &json!({"text": "hi"})).await,
        404,
        "not_found",
    )
    .await;
    let unknown = format!("{unknown}?stream=ndjson");
    expect(
        post_json(&server, &unknown, &json!({"text": "hi"})).await,
        404,
        "not_found",
    )
    .await;
    let bogus = format!("{path}?stream=sse");
    expect(
        post_json(&server, &bogus, &json!({"text": "hi"})).await,
        400,
        "bad_request",
    )
    .await;
    // A body far over the limit is refused before it is read.
    let enormous = json!({"text": "x".repeat(200_000)});
    expect(post_json(&server, &path, &enormous).await, 413, "too_large").await;

    // Nothing of it was queued.
    let info = phone
        .ok("session.get", json!({"session_id": session}))
        .await;
    assert_eq!(info["session"]["last_seq"], 1);
}

#[tokio::test]
async fn the_markdown_export_tells_the_conversation() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let created = phone
        .ok(
            "session.create",
            json!({"cwd": server.project(), "title": "export demo"}),
        )
        .await;
    let session = created["session"]["id"].as_str().unwrap().to_string();
    phone.subscribe(&session, 0).await;
    let first = phone.prompt(&session, "emit 2").await;
    phone.wait_prompt_end(&first).await;
    let second = phone.prompt(&session, "permission Bash").await;
    let requested = phone.wait_kind("permission.requested").await;
    let request_id = requested["data"]["request_id"].as_str().unwrap();
    phone
        .ok(
            "session.permission",
            json!({"session_id": session, "request_id": request_id, "decision": "allow"}),
        )
        .await;
    phone.wait_prompt_end(&second).await;

    let path = format!("/api/v1/sessions/{session}/export");
    let answer = get(&server, &format!("{path}?format=markdown"), &[]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("content-type"),
        Some("text/markdown; charset=utf-8")
    );
    let markdown = answer.text().await;
    for expected in [
        "# export demo",
        &server.project(),
        "## Prompt\n\n> emit 2",
        "line 1",
        "line 2",
        "## Prompt\n\n> permission Bash",
        "**Tool call:** `Bash`",
        "\"command\": \"touch x\"",
        "**Permission for `Bash`:** allow by local",
        "ran Bash with",
        "tool finished",
        "**Outcome:** completed",
    ] {
        assert!(
            markdown.contains(expected),
            "{expected:?} missing from:\n{markdown}"
        );
    }
    assert_eq!(markdown.matches("## Prompt").count(), 2, "{markdown}");
    // Without `format` it is Markdown too.
    let plain = get(&server, &path, &[]).await.text().await;
    assert_eq!(plain, markdown);

    let html = get(&server, &format!("{path}?format=html"), &[]).await;
    assert_eq!(html.status, 400);
    assert_eq!(html.json().await["error"]["code"], "bad_request");
    let unknown = get(
        &server,
        "/api/v1/sessions/6f1c2c9e-8a53-4c57-9d7e-1b1d2a3b4c5d/export",
        &[],
    )
    .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json().await["error"]["code"], "not_found");
}
