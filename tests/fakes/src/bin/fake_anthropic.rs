//! A fake Anthropic Messages API, so that the real Claude Code CLI can run
//! fully offline on loopback in pocket-relay's tests.
//!
//! It is a small threaded HTTP/1.1 server (std + serde_json only) that answers
//! `POST /v1/messages` with a scripted, streamed (SSE) reply chosen from the
//! newest user prompt. Point the CLI at it with
//! `ANTHROPIC_BASE_URL=http://127.0.0.1:PORT ANTHROPIC_API_KEY=anything
//! CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`.
//!
//! # Command line
//!
//! ```text
//! fake-anthropic [PORT] [--log FILE]
//! ```
//!
//! * `PORT`: TCP port on 127.0.0.1; `0` (the default) picks a free one. The
//!   bound port is printed alone as the first stdout line, then the server
//!   runs until it is killed.
//! * `--log FILE`: append one JSON line per request to FILE:
//!   `{"n", "t", "method", "path", "model", "prompt", "tool_result", "reply"}`,
//!   where `prompt` is the newest user prompt text (or null), `tool_result` the
//!   text of a tool result being answered (or null) and `reply` a label for
//!   the reply chosen (`hello`, `bash_cmd`, `bash_echo`, `bash_risky`, `write`, `slow`,
//!   `tool_finished`, `tool_failed`, `error_500`, `error_429`, `error_529`,
//!   `flaky_500`, `flaky_ok`, `root`, `not_found`, `bad_request`).
//!
//! # Endpoints
//!
//! * `POST /v1/messages` (with or without a query such as `?beta=true`):
//!   always a streamed `text/event-stream` reply with chunked transfer
//!   encoding: `message_start`, `ping`, per block `content_block_start`,
//!   `content_block_delta` (`text_delta` or `input_json_delta`) and
//!   `content_block_stop`, then `message_delta` (stop reason, usage) and
//!   `message_stop`. The requested model is echoed back.
//! * `GET /` and `HEAD /`: 200 (older CLIs probe it).
//! * Anything else: 404 with an Anthropic-style error body.
//!
//! Request bodies are read by `Content-Length` or `Transfer-Encoding:
//! chunked`; connections are kept alive. A client that hangs up mid-stream
//! (the CLI does on interrupt) only ends that connection's thread.
//!
//! # Triggers
//!
//! The prompt is the newest text of the newest `role: "user"` message (the
//! CLI appends `role: "system"` messages after it), skipping the
//! `<system-reminder>` and `[Request interrupted…]` texts the CLI adds.
//! Checked in this order:
//!
//! * that message holds a `tool_result` with no prompt after it (a denied and
//!   interrupted tool call shares a message with the next prompt) → text
//!   `tool finished: <result>` (or
//!   `tool failed: <result>` when `is_error`; the first 80 characters, on one
//!   line), stop reason `end_turn`.
//! * `FAIL500` / `FAIL429` / `FAIL529` → that HTTP error, every time (429
//!   carries `retry-after: 1`).
//! * `FLAKY` → HTTP 500 the first time this prompt is seen, then the text
//!   `recovered after retry`.
//! * a prompt starting `CMD:` → text, then tool_use Bash running the rest
//!   of the prompt (trimmed) as its command, e.g. `CMD:touch first_file.txt`.
//! * `RISKY` → text, then tool_use Bash
//!   `{"command":"touch fake_touched.txt && echo touched"}` (the CLI asks
//!   permission for it).
//! * `TOOL` or `BASH` → text, then tool_use Bash `{"command":"echo hi"}`
//!   (read-only, so the CLI runs it without asking).
//! * `WRITE` → text, then tool_use Write of `fake_written.txt` (content
//!   `written by fake\n`) in the CLI's working directory, taken from its
//!   environment notes (a relative path if none is found).
//! * `RECALL` → text `you said before: <P1> | <P2> | …`, the prompts typed in
//!   the earlier user messages of the history the request carries (`nothing`
//!   when there are none): shows that a resumed conversation kept its context.
//! * `SLOW [COUNT [MS]]` → COUNT text deltas `slow chunk N. `, one every MS
//!   milliseconds (default 30 every 500 ms), e.g. `SLOW 10 50`.
//! * anything else → text `hello from fake`.
//!
//! The tool triggers only fire when the request offers that tool.

use serde_json::{json, Value};
use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const USAGE: &str = "usage: fake-anthropic [PORT] [--log FILE]";

/// Longest request line or header line accepted.
const MAX_LINE_BYTES: u64 = 64 * 1024;
/// Most header lines accepted in one request.
const MAX_HEADERS: usize = 200;
/// Largest request body accepted.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Model named in replies when the request does not name one.
const DEFAULT_MODEL: &str = "claude-fake-1";
/// `SLOW` defaults: how many deltas, and the pause before each.
const SLOW_DEFAULT_COUNT: u64 = 30;
const SLOW_DEFAULT_INTERVAL_MS: u64 = 500;
/// `SLOW` limits, so a typo cannot wedge a test for hours.
const SLOW_MAX_COUNT: u64 = 10_000;
const SLOW_MAX_INTERVAL_MS: u64 = 60_000;
/// How much of a tool result is quoted back.
const TOOL_RESULT_PREVIEW_CHARS: usize = 80;
/// Size of the `input_json_delta` fragments of a tool_use input.
const JSON_FRAGMENT_CHARS: usize = 16;

// ------------------------------------------------------------ command line

/// What the command line asks for.
enum Command {
    Serve(Options),
    Help,
}

struct Options {
    port: u16,
    log: Option<String>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut options = Options { port: 0, log: None };
    let mut port_seen = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--log" => {
                let file = args.next().ok_or("--log needs a FILE")?;
                options.log = Some(file);
            }
            _ if !port_seen && !arg.starts_with('-') => {
                options.port = arg.parse().map_err(|_| format!("bad PORT: {arg}"))?;
                port_seen = true;
            }
            _ => return Err(format!("unexpected argument: {arg}")),
        }
    }
    Ok(Command::Serve(options))
}

fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1)) {
        Ok(Command::Serve(options)) => run(&options),
        Ok(Command::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("fake-anthropic: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(options: &Options) -> ExitCode {
    let state = match State::new(options.log.as_deref()) {
        Ok(state) => Arc::new(state),
        Err(err) => {
            eprintln!("fake-anthropic: cannot open log file: {err}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match TcpListener::bind(("127.0.0.1", options.port)) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!(
                "fake-anthropic: cannot bind 127.0.0.1:{}: {err}",
                options.port
            );
            return ExitCode::FAILURE;
        }
    };
    announce_port(&listener);
    serve(&listener, &state);
    ExitCode::SUCCESS
}

/// Print the bound port alone on the first stdout line. A closed stdout is
/// not fatal: the server keeps serving.
fn announce_port(listener: &TcpListener) {
    let port = listener.local_addr().map(|addr| addr.port()).unwrap_or(0);
    let mut stdout = io::stdout().lock();
    let _ = writeln!(stdout, "{port}");
    let _ = stdout.flush();
}

// ------------------------------------------------------------ shared state

/// What all connections share: the request log and the FLAKY memory.
struct State {
    log: Option<Mutex<File>>,
    flaky_seen: Mutex<HashSet<String>>,
    requests: AtomicU64,
}

impl State {
    fn new(log_path: Option<&str>) -> io::Result<State> {
        let log = match log_path {
            Some(path) => Some(Mutex::new(
                OpenOptions::new().create(true).append(true).open(path)?,
            )),
            None => None,
        };
        Ok(State {
            log,
            flaky_seen: Mutex::new(HashSet::new()),
            requests: AtomicU64::new(0),
        })
    }

    fn next_request_number(&self) -> u64 {
        self.requests.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// True the first time `prompt` is seen by the FLAKY trigger.
    fn first_flaky_sighting(&self, prompt: &str) -> bool {
        lock(&self.flaky_seen).insert(prompt.trim().to_owned())
    }

    /// Append one JSON line to the log, if there is one. Errors are ignored.
    fn log(&self, record: &Value) {
        if let Some(file) = &self.log {
            let mut line = record.to_string();
            line.push('\n');
            let mut file = lock(file);
            let _ = file.write_all(line.as_bytes());
            let _ = file.flush();
        }
    }
}

/// Lock a mutex, ignoring poisoning (no lock holder here can leave bad data).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

// --------------------------------------------------------------- transport

/// Accept connections forever, one thread each.
fn serve(listener: &TcpListener, state: &Arc<State>) {
    for incoming in listener.incoming() {
        match incoming {
            Ok(stream) => spawn_connection(stream, Arc::clone(state)),
            // e.g. out of file descriptors: back off a little and go on.
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Serve one connection on its own thread. If no thread can be started the
/// connection is simply dropped.
fn spawn_connection(stream: TcpStream, state: Arc<State>) {
    let _ = thread::Builder::new()
        .name("fake-anthropic-conn".into())
        .spawn(move || serve_connection(stream, &state));
}

/// Answer requests on one connection until the client closes it, asks to
/// close it, sends garbage, or a write fails (client gone).
fn serve_connection(stream: TcpStream, state: &State) {
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut out = stream;
    loop {
        let request = match read_request(&mut reader, &mut out) {
            Ok(request) => request,
            Err(ReadError::Closed | ReadError::Broken) => return,
            Err(ReadError::Bad(status, message)) => {
                reject_bad_request(&mut out, state, status, message);
                return;
            }
        };
        let keep_alive = request.keep_alive();
        if handle(&request, &mut out, state, keep_alive).is_err() || !keep_alive {
            return;
        }
    }
}

fn reject_bad_request(out: &mut TcpStream, state: &State, status: u16, message: &str) {
    state.log(&json!({
        "n": state.next_request_number(),
        "t": unix_time(),
        "method": Value::Null,
        "path": Value::Null,
        "model": Value::Null,
        "prompt": Value::Null,
        "tool_result": Value::Null,
        "reply": "bad_request",
    }));
    let error = ApiError {
        status,
        kind: "invalid_request_error",
        message,
    };
    let _ = write_api_error(out, &error, false);
}

// ------------------------------------------------------------ HTTP reading

/// Why no request could be read.
enum ReadError {
    /// The client closed the connection between requests.
    Closed,
    /// The connection broke (or the client vanished mid-request).
    Broken,
    /// The request is malformed: answer with this status, then close.
    Bad(u16, &'static str),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> ReadError {
        ReadError::Broken
    }
}

/// One parsed HTTP request.
struct Request {
    method: String,
    /// The request target as sent, query included.
    target: String,
    version: String,
    /// Header names are lowercased.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The target without its query string.
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.header(name).is_some_and(|value| {
            value
                .split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(token))
        })
    }

    fn keep_alive(&self) -> bool {
        if self.version == "HTTP/1.0" {
            self.header_has_token("connection", "keep-alive")
        } else {
            !self.header_has_token("connection", "close")
        }
    }
}

/// Read one request: head, then (after a `100 Continue` if asked) the body.
fn read_request(
    reader: &mut BufReader<TcpStream>,
    out: &mut TcpStream,
) -> Result<Request, ReadError> {
    let mut request = read_head(reader)?;
    if request.header_has_token("expect", "100-continue") {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    request.body = read_body(reader, &request)?;
    Ok(request)
}

/// Read the request line and the headers.
fn read_head(reader: &mut impl BufRead) -> Result<Request, ReadError> {
    let request_line = read_request_line(reader)?;
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad(400, "malformed request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ReadError::Bad(400, "only HTTP/1.x is spoken here"));
    }
    Ok(Request {
        method: method.to_owned(),
        target: target.to_owned(),
        version: version.to_owned(),
        headers: read_headers(reader)?,
        body: Vec::new(),
    })
}

/// The request line, skipping blank lines before it. `Closed` on EOF.
fn read_request_line(reader: &mut impl BufRead) -> Result<String, ReadError> {
    loop {
        match read_line(reader)? {
            None => return Err(ReadError::Closed),
            Some(line) if line.is_empty() => continue,
            Some(line) => return Ok(line),
        }
    }
}

/// Header lines up to the blank line, names lowercased.
fn read_headers(reader: &mut impl BufRead) -> Result<Vec<(String, String)>, ReadError> {
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or(ReadError::Bad(400, "headers cut short"))?;
        if line.is_empty() {
            return Ok(headers);
        }
        if headers.len() >= MAX_HEADERS {
            return Err(ReadError::Bad(431, "too many headers"));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(ReadError::Bad(400, "malformed header line"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
}

/// One CRLF- (or LF-) terminated line without its terminator; `None` at EOF
/// before any byte. Invalid UTF-8 is replaced rather than refused.
fn read_line(reader: &mut impl BufRead) -> Result<Option<String>, ReadError> {
    let mut bytes = Vec::new();
    reader
        .by_ref()
        .take(MAX_LINE_BYTES)
        .read_until(b'\n', &mut bytes)?;
    if bytes.is_empty() {
        return Ok(None);
    }
    if bytes.pop() != Some(b'\n') {
        return Err(ReadError::Bad(400, "line too long or cut short"));
    }
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// The body, framed by `Transfer-Encoding: chunked` or `Content-Length`.
fn read_body(reader: &mut impl BufRead, request: &Request) -> Result<Vec<u8>, ReadError> {
    if request.header_has_token("transfer-encoding", "chunked") {
        return read_chunked_body(reader);
    }
    let length = match request.header("content-length") {
        None => 0,
        Some(value) => value
            .parse::<usize>()
            .map_err(|_| ReadError::Bad(400, "bad content-length"))?,
    };
    if length > MAX_BODY_BYTES {
        return Err(ReadError::Bad(413, "request body too large"));
    }
    read_exact_bytes(reader, length)
}

fn read_chunked_body(reader: &mut impl BufRead) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let size = read_chunk_size(reader)?;
        if size == 0 {
            skip_trailers(reader)?;
            return Ok(body);
        }
        if body.len().saturating_add(size) > MAX_BODY_BYTES {
            return Err(ReadError::Bad(413, "request body too large"));
        }
        body.extend(read_exact_bytes(reader, size)?);
        let end = read_line(reader)?;
        if end.as_deref() != Some("") {
            return Err(ReadError::Bad(400, "chunk not followed by CRLF"));
        }
    }
}

/// A chunk-size line: hex digits, optionally followed by `;extensions`.
fn read_chunk_size(reader: &mut impl BufRead) -> Result<usize, ReadError> {
    let line = read_line(reader)?.ok_or(ReadError::Bad(400, "chunked body cut short"))?;
    let digits = line.split(';').next().unwrap_or("").trim();
    usize::from_str_radix(digits, 16).map_err(|_| ReadError::Bad(400, "bad chunk size"))
}

fn skip_trailers(reader: &mut impl BufRead) -> Result<(), ReadError> {
    for _ in 0..=MAX_HEADERS {
        match read_line(reader)? {
            None => return Err(ReadError::Bad(400, "chunked body cut short")),
            Some(line) if line.is_empty() => return Ok(()),
            Some(_) => {}
        }
    }
    Err(ReadError::Bad(400, "too many trailers"))
}

fn read_exact_bytes(reader: &mut impl BufRead, length: usize) -> Result<Vec<u8>, ReadError> {
    let mut bytes = vec![0; length];
    reader.read_exact(&mut bytes)?;
    Ok(bytes)
}

// ----------------------------------------------------------------- routing

/// Answer one request. An error means the connection is unusable.
fn handle(
    request: &Request,
    out: &mut TcpStream,
    state: &State,
    keep_alive: bool,
) -> io::Result<()> {
    match (request.method.as_str(), request.path()) {
        ("POST", "/v1/messages") => handle_messages(request, out, state, keep_alive),
        ("GET" | "HEAD", "/") => {
            log_simple(state, request, "root");
            let body = json!({"ok": true}).to_string();
            let head_only = request.method == "HEAD";
            write_response(
                out,
                200,
                &[],
                "application/json",
                body.as_bytes(),
                head_only,
                keep_alive,
            )
        }
        _ => {
            log_simple(state, request, "not_found");
            let message = format!("fake server: no {} {}", request.method, request.path());
            let error = ApiError {
                status: 404,
                kind: "not_found_error",
                message: &message,
            };
            if request.method == "HEAD" {
                write_response(out, 404, &[], "application/json", &[], true, keep_alive)
            } else {
                write_api_error(out, &error, keep_alive)
            }
        }
    }
}

/// `POST /v1/messages`: pick a scripted reply, log it, send it.
fn handle_messages(
    request: &Request,
    out: &mut TcpStream,
    state: &State,
    keep_alive: bool,
) -> io::Result<()> {
    let number = state.next_request_number();
    let body: Value = match serde_json::from_slice(&request.body) {
        Ok(body @ Value::Object(_)) => body,
        _ => {
            log_request(
                state,
                number,
                request,
                None,
                &Turn::default(),
                "bad_request",
            );
            let error = ApiError {
                status: 400,
                kind: "invalid_request_error",
                message: "fake server: the body is not a JSON object",
            };
            return write_api_error(out, &error, keep_alive);
        }
    };
    let turn = Turn::from_body(&body);
    let reply = decide(&body, &turn, state);
    log_request(state, number, request, Some(&body), &turn, reply.label());
    match reply {
        Reply::Error { error, .. } => write_api_error(out, &error, keep_alive),
        Reply::Message(message) => {
            stream_message(out, &MessageStream::new(&body, message), keep_alive)
        }
    }
}

fn log_simple(state: &State, request: &Request, reply: &str) {
    let number = state.next_request_number();
    log_request(state, number, request, None, &Turn::default(), reply);
}

fn log_request(
    state: &State,
    number: u64,
    request: &Request,
    body: Option<&Value>,
    turn: &Turn,
    reply: &str,
) {
    let tool_result = turn.tool_result.as_ref().map(|result| result.text.clone());
    state.log(&json!({
        "n": number,
        "t": unix_time(),
        "method": request.method,
        "path": request.target,
        "model": body.and_then(|body| body.get("model")).cloned().unwrap_or(Value::Null),
        "prompt": turn.prompt,
        "tool_result": tool_result,
        "reply": reply,
    }));
}

// ------------------------------------------------------ reading the prompt

/// What the newest user message says.
#[derive(Default)]
struct Turn {
    /// Its newest text typed by the user (see [`is_typed_prompt`]).
    prompt: Option<String>,
    /// Its newest tool_result block, when no prompt was typed after it.
    tool_result: Option<ToolResult>,
}

struct ToolResult {
    text: String,
    is_error: bool,
}

impl Turn {
    /// After a denied-and-interrupted tool call the CLI puts the rejected
    /// tool_result and the user's next prompt in one message: the block that
    /// comes last decides what is answered.
    fn from_body(body: &Value) -> Turn {
        let Some(content) = newest_user_message(body).and_then(|message| message.get("content"))
        else {
            return Turn::default();
        };
        let prompt = newest_prompt(content);
        let tool_result = newest_tool_result(content)
            .filter(|(result_at, _)| comes_after(*result_at, prompt.as_ref()));
        Turn {
            prompt: prompt.map(|(_, text)| text.to_owned()),
            tool_result: tool_result.map(|(_, result)| result),
        }
    }

    fn prompt_text(&self) -> &str {
        self.prompt.as_deref().unwrap_or("")
    }
}

/// Whether block `at` comes after the prompt (true when there is none).
fn comes_after(at: usize, prompt: Option<&(usize, &str)>) -> bool {
    match prompt {
        Some((prompt_at, _)) => at > *prompt_at,
        None => true,
    }
}

/// The newest `role: "user"` message, looking past the `role: "system"`
/// messages the CLI appends.
fn newest_user_message(body: &Value) -> Option<&Value> {
    body.get("messages")?
        .as_array()?
        .iter()
        .rev()
        .find(|message| message.get("role").and_then(Value::as_str) == Some("user"))
}

/// A message's texts (a plain string counts as one text block).
fn text_blocks(content: &Value) -> Vec<&str> {
    match content {
        Value::String(text) => vec![text.as_str()],
        Value::Array(blocks) => blocks.iter().filter_map(block_text).collect(),
        _ => Vec::new(),
    }
}

/// The text of a `type: "text"` block.
fn block_text(block: &Value) -> Option<&str> {
    if block.get("type").and_then(Value::as_str) != Some("text") {
        return None;
    }
    block.get("text").and_then(Value::as_str)
}

/// False for the texts the CLI adds itself: `<system-reminder>` blocks and
/// `[Request interrupted by user…]` markers.
fn is_typed_prompt(text: &str) -> bool {
    let text = text.trim_start();
    !text.starts_with("<system-reminder>") && !text.starts_with("[Request interrupted")
}

/// Block position and text of the newest typed prompt. After a failed turn
/// the CLI merges the next prompt into the same user message, so only the
/// newest counts.
fn newest_prompt(content: &Value) -> Option<(usize, &str)> {
    match content {
        Value::String(text) => Some((0, text.as_str())),
        Value::Array(blocks) => blocks.iter().enumerate().rev().find_map(|(at, block)| {
            block_text(block)
                .filter(|text| is_typed_prompt(text))
                .map(|text| (at, text))
        }),
        _ => None,
    }
}

/// Block position and contents of the newest tool_result.
fn newest_tool_result(content: &Value) -> Option<(usize, ToolResult)> {
    let (at, block) = content
        .as_array()?
        .iter()
        .enumerate()
        .rev()
        .find(|(_, block)| block.get("type").and_then(Value::as_str) == Some("tool_result"))?;
    let result = ToolResult {
        text: tool_result_text(block.get("content").unwrap_or(&Value::Null)),
        is_error: block.get("is_error").and_then(Value::as_bool) == Some(true),
    };
    Some((at, result))
}

/// A tool result's content: a string, or the texts of its blocks.
fn tool_result_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|block| block.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// Names of the tools the request offers.
fn offered_tools(body: &Value) -> HashSet<&str> {
    body.get("tools")
        .and_then(Value::as_array)
        .map(|tools| {
            tools
                .iter()
                .filter_map(|tool| tool.get("name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

/// The CLI's working directory, from the environment notes in the system
/// prompt or in a message (`Primary working directory: /path`).
fn working_directory(body: &Value) -> Option<String> {
    let system = body.get("system").map(text_blocks).unwrap_or_default();
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map(|messages| messages.as_slice())
        .unwrap_or_default();
    let message_texts = messages
        .iter()
        .filter_map(|message| message.get("content"))
        .flat_map(text_blocks);
    system
        .into_iter()
        .chain(message_texts)
        .find_map(directory_after_marker)
}

fn directory_after_marker(text: &str) -> Option<String> {
    ["Primary working directory:", "Working directory:"]
        .iter()
        .filter_map(|marker| text.find(marker).map(|at| &text[at + marker.len()..]))
        .find_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
}

// ---------------------------------------------------------- the script

/// An HTTP error in the Anthropic format.
struct ApiError<'a> {
    status: u16,
    kind: &'a str,
    message: &'a str,
}

/// A content block to stream.
enum Block {
    /// Text sent as these deltas, each after `pause`.
    Text {
        deltas: Vec<String>,
        pause: Duration,
    },
    ToolUse {
        name: &'static str,
        input: Value,
    },
}

/// A successful reply: its blocks and how it stops.
struct Message {
    blocks: Vec<Block>,
    stop_reason: &'static str,
    label: &'static str,
}

enum Reply {
    Error {
        error: ApiError<'static>,
        label: &'static str,
    },
    Message(Message),
}

impl Reply {
    fn label(&self) -> &'static str {
        match self {
            Reply::Error { label, .. } => label,
            Reply::Message(message) => message.label,
        }
    }
}

/// Pick the reply for a `/v1/messages` request (see the module docs).
fn decide(body: &Value, turn: &Turn, state: &State) -> Reply {
    if let Some(result) = &turn.tool_result {
        return tool_result_reply(result);
    }
    let prompt = turn.prompt_text();
    if let Some(reply) = forced_error(prompt) {
        return reply;
    }
    if prompt.contains("FLAKY") {
        return flaky_reply(prompt, state);
    }
    if let Some(reply) = tool_use_reply(body, prompt) {
        return reply;
    }
    if prompt.contains("SLOW") {
        return slow_reply(prompt);
    }
    if prompt.contains("RECALL") {
        return recall_reply(body);
    }
    text_reply("hello from fake", "hello")
}

fn tool_result_reply(result: &ToolResult) -> Reply {
    let preview: String = result
        .text
        .trim()
        .replace('\n', " ")
        .chars()
        .take(TOOL_RESULT_PREVIEW_CHARS)
        .collect();
    if result.is_error {
        text_reply(&format!("tool failed: {preview}"), "tool_failed")
    } else {
        text_reply(&format!("tool finished: {preview}"), "tool_finished")
    }
}

/// The prompts typed in the user messages before the newest one.
fn recall_reply(body: &Value) -> Reply {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map(|m| m.as_slice())
        .unwrap_or_default();
    let users: Vec<&Value> = messages
        .iter()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .collect();
    let earlier: Vec<&str> = users
        .iter()
        .take(users.len().saturating_sub(1))
        .filter_map(|m| m.get("content"))
        .flat_map(text_blocks)
        .filter(|text| is_typed_prompt(text))
        .map(str::trim)
        .collect();
    let said = if earlier.is_empty() {
        "nothing".to_owned()
    } else {
        earlier.join(" | ")
    };
    text_reply(&format!("you said before: {said}"), "recall")
}

fn forced_error(prompt: &str) -> Option<Reply> {
    let (status, kind, message, label) = if prompt.contains("FAIL500") {
        (500, "api_error", "fake internal server error", "error_500")
    } else if prompt.contains("FAIL429") {
        (429, "rate_limit_error", "fake rate limit", "error_429")
    } else if prompt.contains("FAIL529") {
        (529, "overloaded_error", "fake overloaded", "error_529")
    } else {
        return None;
    };
    Some(Reply::Error {
        error: ApiError {
            status,
            kind,
            message,
        },
        label,
    })
}

fn flaky_reply(prompt: &str, state: &State) -> Reply {
    if state.first_flaky_sighting(prompt) {
        Reply::Error {
            error: ApiError {
                status: 500,
                kind: "api_error",
                message: "fake transient error",
            },
            label: "flaky_500",
        }
    } else {
        text_reply("recovered after retry", "flaky_ok")
    }
}

/// CMD:, RISKY, TOOL/BASH and WRITE, when the request offers the tool.
fn tool_use_reply(body: &Value, prompt: &str) -> Option<Reply> {
    let tools = offered_tools(body);
    if let (Some(command), true) = (prompt.strip_prefix("CMD:"), tools.contains("Bash")) {
        return Some(tool_use(
            "Running the command asked for.",
            "Bash",
            json!({"command": command.trim(), "description": "Run a command"}),
            "bash_cmd",
        ));
    }
    if prompt.contains("RISKY") && tools.contains("Bash") {
        return Some(tool_use(
            "Running a command that changes files.",
            "Bash",
            json!({"command": "touch fake_touched.txt && echo touched", "description": "Create a file"}),
            "bash_risky",
        ));
    }
    if (prompt.contains("TOOL") || prompt.contains("BASH")) && tools.contains("Bash") {
        return Some(tool_use(
            "Running a command.",
            "Bash",
            json!({"command": "echo hi", "description": "Print hi"}),
            "bash_echo",
        ));
    }
    if prompt.contains("WRITE") && tools.contains("Write") {
        return Some(tool_use(
            "Writing a file.",
            "Write",
            json!({"file_path": written_file_path(body), "content": "written by fake\n"}),
            "write",
        ));
    }
    None
}

fn written_file_path(body: &Value) -> String {
    match working_directory(body) {
        Some(dir) => format!("{}/fake_written.txt", dir.trim_end_matches('/')),
        None => "fake_written.txt".to_owned(),
    }
}

/// A short text block, then the tool call.
fn tool_use(text: &str, name: &'static str, input: Value, label: &'static str) -> Reply {
    Reply::Message(Message {
        blocks: vec![text_block(text), Block::ToolUse { name, input }],
        stop_reason: "tool_use",
        label,
    })
}

fn slow_reply(prompt: &str) -> Reply {
    let (count, interval_ms) = slow_parameters(prompt);
    let deltas = (0..count).map(|i| format!("slow chunk {i}. ")).collect();
    Reply::Message(Message {
        blocks: vec![Block::Text {
            deltas,
            pause: Duration::from_millis(interval_ms),
        }],
        stop_reason: "end_turn",
        label: "slow",
    })
}

/// `SLOW [COUNT [MS]]`: the numbers right after the word, if any.
fn slow_parameters(prompt: &str) -> (u64, u64) {
    let after = prompt
        .find("SLOW")
        .map(|at| &prompt[at + "SLOW".len()..])
        .unwrap_or("");
    let mut numbers = after
        .split_whitespace()
        .map_while(|word| word.parse::<u64>().ok());
    let count = numbers.next().unwrap_or(SLOW_DEFAULT_COUNT);
    let interval = numbers.next().unwrap_or(SLOW_DEFAULT_INTERVAL_MS);
    (
        count.clamp(1, SLOW_MAX_COUNT),
        interval.min(SLOW_MAX_INTERVAL_MS),
    )
}

fn text_reply(text: &str, label: &'static str) -> Reply {
    Reply::Message(Message {
        blocks: vec![text_block(text)],
        stop_reason: "end_turn",
        label,
    })
}

/// A text block sent in two halves, so there is more than one delta.
fn text_block(text: &str) -> Block {
    let half = text.chars().count() / 2;
    let deltas = [
        text.chars().take(half).collect::<String>(),
        text.chars().skip(half).collect::<String>(),
    ];
    Block::Text {
        deltas: deltas
            .into_iter()
            .filter(|delta| !delta.is_empty())
            .collect(),
        pause: Duration::ZERO,
    }
}

// ------------------------------------------------------------ HTTP writing

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        529 => "Overloaded",
        _ => "Unknown",
    }
}

/// Status line and headers, ending with the blank line.
fn response_head(status: u16, headers: &[(&str, String)], keep_alive: bool) -> String {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("request-id: {}\r\n", new_id("req_")));
    let connection = if keep_alive { "keep-alive" } else { "close" };
    head.push_str(&format!("connection: {connection}\r\n\r\n"));
    head
}

/// A complete response with a Content-Length body (left out for HEAD).
fn write_response(
    out: &mut TcpStream,
    status: u16,
    extra_headers: &[(&str, String)],
    content_type: &str,
    body: &[u8],
    head_only: bool,
    keep_alive: bool,
) -> io::Result<()> {
    let mut headers = vec![
        ("content-type", content_type.to_owned()),
        ("content-length", body.len().to_string()),
    ];
    headers.extend(extra_headers.iter().cloned());
    let mut bytes = response_head(status, &headers, keep_alive).into_bytes();
    if !head_only {
        bytes.extend_from_slice(body);
    }
    out.write_all(&bytes)?;
    out.flush()
}

/// `{"type":"error","error":{...}}` with the retry headers the real API uses.
fn write_api_error(out: &mut TcpStream, error: &ApiError, keep_alive: bool) -> io::Result<()> {
    let body = json!({
        "type": "error",
        "error": {"type": error.kind, "message": error.message},
    })
    .to_string();
    let mut headers = Vec::new();
    match error.status {
        429 => headers.push(("retry-after", "1".to_owned())),
        500 | 529 => headers.push(("x-should-retry", "true".to_owned())),
        _ => {}
    }
    write_response(
        out,
        error.status,
        &headers,
        "application/json",
        body.as_bytes(),
        false,
        keep_alive,
    )
}

/// A `text/event-stream` response body in chunked transfer encoding, one
/// chunk per event, flushed as it goes.
struct SseWriter<'a> {
    out: &'a mut TcpStream,
}

impl<'a> SseWriter<'a> {
    fn start(out: &'a mut TcpStream, keep_alive: bool) -> io::Result<SseWriter<'a>> {
        let headers = [
            ("content-type", "text/event-stream".to_owned()),
            ("cache-control", "no-cache".to_owned()),
            ("transfer-encoding", "chunked".to_owned()),
        ];
        out.write_all(response_head(200, &headers, keep_alive).as_bytes())?;
        out.flush()?;
        Ok(SseWriter { out })
    }

    /// One event; its name is the `type` field of `data`.
    fn event(&mut self, data: &Value) -> io::Result<()> {
        let name = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message");
        self.chunk(format!("event: {name}\ndata: {data}\n\n").as_bytes())
    }

    fn chunk(&mut self, data: &[u8]) -> io::Result<()> {
        let mut bytes = format!("{:x}\r\n", data.len()).into_bytes();
        bytes.extend_from_slice(data);
        bytes.extend_from_slice(b"\r\n");
        self.out.write_all(&bytes)?;
        self.out.flush()
    }

    /// The zero-length chunk that ends the body.
    fn finish(self) -> io::Result<()> {
        self.out.write_all(b"0\r\n\r\n")?;
        self.out.flush()
    }
}

// ------------------------------------------------------------ SSE messages

/// A reply message with the per-request details the events carry.
struct MessageStream {
    id: String,
    model: String,
    input_tokens: usize,
    message: Message,
}

impl MessageStream {
    fn new(body: &Value, message: Message) -> MessageStream {
        MessageStream {
            id: new_id("msg_"),
            model: body
                .get("model")
                .and_then(Value::as_str)
                .unwrap_or(DEFAULT_MODEL)
                .to_owned(),
            input_tokens: estimate_tokens(body.to_string().len()),
            message,
        }
    }

    fn output_tokens(&self) -> usize {
        let chars: usize = self.message.blocks.iter().map(block_size).sum();
        estimate_tokens(chars)
    }
}

/// Roughly four characters per token, at least one.
fn estimate_tokens(chars: usize) -> usize {
    (chars / 4).max(1)
}

fn block_size(block: &Block) -> usize {
    match block {
        Block::Text { deltas, .. } => deltas.iter().map(String::len).sum(),
        Block::ToolUse { input, .. } => input.to_string().len(),
    }
}

/// The whole event sequence of one reply. Fails as soon as the client is
/// gone, which ends the connection.
fn stream_message(out: &mut TcpStream, stream: &MessageStream, keep_alive: bool) -> io::Result<()> {
    let mut sse = SseWriter::start(out, keep_alive)?;
    sse.event(&message_start_event(stream))?;
    sse.event(&json!({"type": "ping"}))?;
    for (index, block) in stream.message.blocks.iter().enumerate() {
        stream_block(&mut sse, index, block)?;
    }
    sse.event(&json!({
        "type": "message_delta",
        "delta": {"stop_reason": stream.message.stop_reason, "stop_sequence": null},
        "usage": {"output_tokens": stream.output_tokens()},
    }))?;
    sse.event(&json!({"type": "message_stop"}))?;
    sse.finish()
}

fn message_start_event(stream: &MessageStream) -> Value {
    json!({
        "type": "message_start",
        "message": {
            "id": stream.id,
            "type": "message",
            "role": "assistant",
            "model": stream.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": {
                "input_tokens": stream.input_tokens,
                "output_tokens": 1,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        },
    })
}

/// content_block_start, its deltas, content_block_stop.
fn stream_block(sse: &mut SseWriter, index: usize, block: &Block) -> io::Result<()> {
    match block {
        Block::Text { deltas, pause } => {
            sse.event(&block_start(index, json!({"type": "text", "text": ""})))?;
            for text in deltas {
                if !pause.is_zero() {
                    thread::sleep(*pause);
                }
                sse.event(&block_delta(
                    index,
                    json!({"type": "text_delta", "text": text}),
                ))?;
            }
        }
        Block::ToolUse { name, input } => {
            let start =
                json!({"type": "tool_use", "id": new_id("toolu_"), "name": name, "input": {}});
            sse.event(&block_start(index, start))?;
            for fragment in fragments(&input.to_string(), JSON_FRAGMENT_CHARS) {
                let delta = json!({"type": "input_json_delta", "partial_json": fragment});
                sse.event(&block_delta(index, delta))?;
            }
        }
    }
    sse.event(&json!({"type": "content_block_stop", "index": index}))
}

fn block_start(index: usize, content_block: Value) -> Value {
    json!({"type": "content_block_start", "index": index, "content_block": content_block})
}

fn block_delta(index: usize, delta: Value) -> Value {
    json!({"type": "content_block_delta", "index": index, "delta": delta})
}

/// `text` cut into pieces of at most `size` characters (the input JSON
/// arrives as partial fragments, as from the real API).
fn fragments(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(size.max(1))
        .map(|piece| piece.iter().collect())
        .collect()
}

// ------------------------------------------------------------------ misc

/// A fresh id such as `msg_1f0c…` (24 hex digits after the prefix).
fn new_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(unix_nanos());
    let high = hasher.finish();
    hasher.write_u8(0);
    let low = hasher.finish();
    format!("{prefix}{high:016x}{:08x}", low as u32)
}

fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0)
}

/// Seconds since the epoch, to the millisecond, for the log.
fn unix_time() -> f64 {
    (unix_nanos() / 1_000_000) as f64 / 1000.0
}
