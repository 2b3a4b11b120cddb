//! The real Claude Code CLI end to end: pocket-relay runs it as its agent, the CLI talks to the
//! project's fake Anthropic API on loopback, and a client sees what a phone would see.
//!
//! The CLI's path comes from `POCKET_RELAY_TEST_CLAUDE`; without it these tests skip (and fail in
//! CI, where `tests/run` provides it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;

use crate::support::client::Client;
use crate::support::server::{Settings, TestServer};
use crate::support::{fake_bin, first_stdout_line};

/// The real CLI, or `None` (with a note) when this machine has none; CI must have it.
pub(crate) fn real_claude() -> Option<PathBuf> {
    match std::env::var_os("POCKET_RELAY_TEST_CLAUDE") {
        Some(path) if !path.is_empty() => {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "POCKET_RELAY_TEST_CLAUDE={} is not a file",
                path.display()
            );
            Some(path)
        }
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("the real Claude Code CLI is required in CI (run tests/run)");
            }
            eprintln!(
                "skipped: set POCKET_RELAY_TEST_CLAUDE to the real Claude Code CLI to run this test"
            );
            None
        }
    }
}

/// The fake Anthropic API as a child process, killed when dropped.
pub(crate) struct FakeApi {
    child: Child,
    pub(crate) port: u16,
    log: PathBuf,
}

impl FakeApi {
    /// Starts `fake-anthropic 0` and reads the port it prints first.
    fn start(scratch: &Path) -> FakeApi {
        let log = scratch.join("api.log");
        let stderr = std::fs::File::create(scratch.join("api.stderr")).expect("api stderr file");
        let mut child = Command::new(fake_bin("fake-anthropic"))
            .arg("0")
            .arg("--log")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("start fake-anthropic");
        let port = first_stdout_line(&mut child).and_then(|line| line.trim().parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fake-anthropic did not print its port");
        };
        FakeApi { child, port, log }
    }

    /// The requests it answered: one `{n, prompt, tool_result, reply, …}` each.
    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TOML basic string (JSON string escapes are valid TOML).
fn toml_str(text: &str) -> String {
    serde_json::to_string(text).expect("a string")
}

/// The server running the real CLI against the fake API, and the CLI's scratch HOME and temp
/// dirs. Fields drop in order: the server (and with it the CLI), the API, then the scratch.
pub(crate) struct Rig {
    pub(crate) server: TestServer,
    pub(crate) api: FakeApi,
    /// The CLI's HOME is `home` in it, its temp dirs `tmp` and `run`.
    pub(crate) scratch: TempDir,
}

impl Rig {
    pub(crate) fn start(claude: &Path) -> Rig {
        let scratch = tempfile::tempdir().expect("scratch dir");
        for dir in ["home", "tmp", "run"] {
            std::fs::create_dir_all(scratch.path().join(dir)).expect("scratch subdir");
        }
        let api = FakeApi::start(scratch.path());
        let s = |name: &str| toml_str(&scratch.path().join(name).to_string_lossy());
        let base_url = toml_str(&format!("http://127.0.0.1:{}", api.port));
        let settings = Settings::default()
            .set(
                "claude",
                &format!("binary = {}", toml_str(&claude.to_string_lossy())),
            )
            .set("claude.env", &format!("ANTHROPIC_BASE_URL = {base_url}"))
            .set("claude.env", "ANTHROPIC_API_KEY = \"sk-fake\"")
            .set(
                "claude.env",
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = \"1\"",
            )
            .set("claude.env", "DISABLE_TELEMETRY = \"1\"")
            .set("claude.env", "DISABLE_ERROR_REPORTING = \"1\"")
            .set("claude.env", "DISABLE_AUTOUPDATER = \"1\"")
            .set("claude.env", "CLAUDE_CODE_MAX_RETRIES = \"1\"")
            .set("claude.env", &format!("HOME = {}", s("home")))
            .set("claude.env", &format!("CLAUDE_CODE_TMPDIR = {}", s("tmp")))
            .set("claude.env", &format!("TMPDIR = {}", s("tmp")))
            .set("claude.env", &format!("XDG_RUNTIME_DIR = {}", s("run")));
        let server = TestServer::start_with(settings);
        Rig {
            server,
            api,
            scratch,
        }
    }

    /// A connected client with a new session in the project dir, subscribed from the start
    /// (its `session.created` already read).
    async fn phone_with_session(&self) -> (Client, String) {
        let mut phone = Client::connect(&self.server.ws_url()).await;
        let session = phone.create(&self.server.project()).await;
        phone.subscribe(&session, 0).await;
        assert_eq!(phone.next_event().await["kind"], "session.created");
        (phone, session)
    }

    fn project_file(&self, name: &str) -> PathBuf {
        Path::new(&self.server.project()).join(name)
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        // A graceful stop ends the CLI processes too; after a failure, just kill the server (its
        // CLIs then see their stdin close and exit on their own).
        if !std::thread::panicking() {
            self.server.terminate();
        }
    }
}

/// A short name for an event, for checking the order of a story.
fn label(event: &Value) -> String {
    match event["kind"].as_str().unwrap_or("") {
        "session.status" => format!("status:{}", event["data"]["status"].as_str().unwrap_or("?")),
        "agent.output" => {
            let message = &event["data"]["message"];
            let kind = message["type"].as_str().unwrap_or("?");
            match message["subtype"].as_str() {
                Some(subtype) if kind == "system" => format!("output:system/{subtype}"),
                _ => format!("output:{kind}"),
            }
        }
        kind => kind.to_string(),
    }
}

/// The story's labels, without the lines whose number and timing the CLI decides alone:
/// `system/status` progress notes, stderr chunks and `session.updated`.
fn story(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(label)
        .filter(|l| {
            !matches!(
                l.as_str(),
                "output:system/status" | "agent.stderr" | "session.updated"
            )
        })
        .collect()
}

/// The Claude messages (`agent.output` data) among `events`.
fn outputs(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["kind"] == "agent.output")
        .map(|e| &e["data"]["message"])
        .collect()
}

/// The content blocks of one type in the `assistant` or `user` messages among `events`.
fn blocks<'a>(events: &'a [Value], role: &str, block_type: &str) -> Vec<&'a Value> {
    outputs(events)
        .into_iter()
        .filter(|m| m["type"] == role)
        .filter_map(|m| m["message"]["content"].as_array())
        .flatten()
        .filter(|b| b["type"] == block_type)
        .collect()
}

/// The `session_id` of every `system/init` among `events`.
fn init_session_ids(events: &[Value]) -> Vec<String> {
    outputs(events)
        .into_iter()
        .filter(|m| m["type"] == "system" && m["subtype"] == "init")
        .map(|m| {
            m["session_id"]
                .as_str()
                .expect("init session_id")
                .to_string()
        })
        .collect()
}

fn count_kind(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["kind"] == kind).count()
}

/// The events from the `prompt.queued` of `prompt_id` on.
fn events_of_prompt<'a>(events: &'a [Value], prompt_id: &str) -> &'a [Value] {
    let start = events
        .iter()
        .position(|e| e["kind"] == "prompt.queued" && e["data"]["prompt_id"] == prompt_id)
        .expect("the prompt was queued");
    &events[start..]
}

/// Reads every frame (events, deltas, anything) until one matches `until`; answers them in
/// the order they came, the matching one last.
async fn frames_until(phone: &mut Client, until: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut frames = Vec::new();
    loop {
        let frame = phone
            .recv()
            .await
            .expect("connection closed while waiting for a frame");
        let done = until(&frame);
        frames.push(frame);
        if done {
            return frames;
        }
    }
}

fn is_prompt_end(frame: &Value, prompt_id: &str) -> bool {
    frame["type"] == "event"
        && (frame["kind"] == "prompt.completed" || frame["kind"] == "prompt.failed")
        && frame["data"]["prompt_id"] == prompt_id
}

/// Sends a prompt and waits for its end; answers the end event and how long it took.
async fn run_prompt(phone: &mut Client, session: &str, text: &str) -> (Value, Duration) {
    let started = Instant::now();
    let prompt = phone.prompt(session, text).await;
    let end = phone.wait_prompt_end(&prompt).await;
    (end, started.elapsed())
}

/// Waits for the `session.status` event that sets `status`.
async fn wait_status(phone: &mut Client, status: &str) -> Value {
    phone
        .wait_event(|e| e["kind"] == "session.status" && e["data"]["status"] == status)
        .await
}

/// A fresh client subscribing from 0 gets from the store exactly the events `phone` saw live
/// (up to the store's last seq at that moment), and no deltas.
async fn assert_replay_matches(server: &TestServer, session: &str, phone: &mut Client) {
    let mut fresh = Client::connect(&server.ws_url()).await;
    let subscribed = fresh.subscribe(session, 0).await;
    let last = subscribed["last_seq"].as_u64().expect("last_seq");
    let last_seq = |c: &Client| c.seqs(session).last().copied().unwrap_or(0);
    while last_seq(&fresh) < last {
        fresh.next_event().await;
    }
    while last_seq(phone) < last {
        phone.next_event().await;
    }
    let upto = |c: &Client| -> Vec<Value> {
        c.events
            .iter()
            .filter(|e| e["session_id"] == session && e["seq"].as_u64() <= Some(last))
            .cloned()
            .collect()
    };
    let live = upto(phone);
    let stored = upto(&fresh);
    assert_eq!(
        live.iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        (1..=last).collect::<Vec<_>>(),
        "the live client saw every seq once"
    );
    assert_eq!(
        stored, live,
        "the store's copy differs from what was seen live"
    );
    assert!(fresh.deltas.is_empty(), "deltas are never replayed");
}

/// The argv of the live Claude processes whose working directory is `cwd` (Linux `/proc`).
fn cli_processes(cwd: &str, claude: &Path) -> Vec<Vec<String>> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let claude = claude
        .canonicalize()
        .unwrap_or_else(|_| claude.to_path_buf());
    let cwd = Path::new(cwd)
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(cwd));
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let dir = entry.path();
        let is_pid = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
        if !is_pid {
            continue;
        }
        if std::fs::read_link(dir.join("cwd")).ok().as_deref() != Some(cwd.as_path()) {
            continue;
        }
        if std::fs::read_link(dir.join("exe")).ok().as_deref() != Some(claude.as_path()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(dir.join("cmdline")) else {
            continue;
        };
        let argv: Vec<String> = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        found.push(argv);
    }
    found
}

fn arg_after<'a>(argv: &'a [String], flag: &str) -> Option<&'a str> {
    crate::support::flag_value(argv, flag)
}

#[tokio::test]
async fn a_prompt_runs_through_the_real_cli() {
    let Some(claude) = real_claude() else { return };
    let rig = Rig::start(&claude);
    let (mut phone, session) = rig.phone_with_session().await;

    let (done, took) = run_prompt(&mut phone, &session, "hello").await;
    eprintln!("real_claude: first prompt (with the CLI's start) took {took:?}");
    assert_eq!(done["kind"], "prompt.completed", "{done}");
    assert_eq!(done["data"]["result"], "hello from fake");
    assert_eq!(done["data"]["is_error"], false);
    assert!(done["data"]["claude_session_id"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));
    assert!(done["data"]["cost_usd"].is_number(), "{done}");
    wait_status(&mut phone, "idle").await;

    assert_eq!(
        story(&phone.events),
        [
            "session.created",
            "prompt.queued",
            "status:starting",
            "prompt.started",
            "status:running",
            "output:system/init",
            "output:assistant",
            "output:result",
            "prompt.completed",
            "status:idle",
        ],
        "{:#?}",
        phone.events
    );
    let texts = blocks(&phone.events, "assistant", "text");
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0]["text"], "hello from fake");
    let ids = init_session_ids(&phone.events);
    assert_eq!(ids, [done["data"]["claude_session_id"].as_str().unwrap()]);
    // The CLI called the fake API once, with our prompt.
    let requests = rig.api.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["prompt"], "hello");

    assert_replay_matches(&rig.server, &session, &mut phone).await;
}

#[tokio::test]
async fn a_follow_up_prompt_runs_in_the_same_process() {
    let Some(claude) = real_claude() else { return };
    let rig = Rig::start(&claude);
    let (mut phone, session) = rig.phone_with_session().await;

    let (first, took_first) = run_prompt(&mut phone, &session, "hello").await;
    assert_eq!(first["kind"], "prompt.completed", "{first}");
    wait_status(&mut phone, "idle").await;
    let (second, took_second) = run_prompt(&mut phone, &session, "hello again").await;
    eprintln!(
        "real_claude: first prompt took {took_first:?}, the follow-up in the live process {took_second:?}"
    );
    assert_eq!(second["kind"], "prompt.completed", "{second}");
    assert_eq!(second["data"]["result"], "hello from fake");
    let claude_session = first["data"]["claude_session_id"].as_str().unwrap();
    assert_eq!(second["data"]["claude_session_id"], claude_session);
    wait_status(&mut phone, "idle").await;

    // One process: started once, never exited, and it repeated its init with the same id.
    assert_eq!(
        phone
            .events
            .iter()
            .filter(|e| label(e) == "status:starting")
            .count(),
        1
    );
    assert_eq!(count_kind(&phone.events, "agent.exited"), 0);
    assert_eq!(
        init_session_ids(&phone.events),
        [claude_session, claude_session]
    );
    let processes = cli_processes(&rig.server.project(), &claude);
    assert_eq!(processes.len(), 1, "{processes:?}");
    // The second API call carried the whole conversation's newest prompt.
    let requests = rig.api.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[1]["prompt"], "hello again");

    let got = phone
        .ok("session.get", json!({"session_id": session}))
        .await;
    assert_eq!(got["session"]["claude_session_id"], claude_session);
    assert_eq!(got["session"]["status"], "idle");
}

#[tokio::test]
async fn live_deltas_stream_before_the_stored_line_and_are_not_replayed() {
    let Some(claude) = real_claude() else { return };
    let rig = Rig::start(&claude);
    let (mut phone, session) = rig.phone_with_session().await;

    let prompt = phone.prompt(&session, "SLOW 5 100").await;
    let frames = frames_until(&mut phone, |f| is_prompt_end(f, &prompt)).await;
    assert_eq!(frames.last().unwrap()["kind"], "prompt.completed");
    let text_deltas: Vec<(usize, &Value)> = frames
        .iter()
        .enumerate()
        .filter(|(_, f)| f["type"] == "delta")
        .filter(|(_, f)| f["message"]["event"]["delta"]["type"] == "text_delta")
        .collect();
    let streamed: String = text_deltas
        .iter()
        .map(|(_, f)| f["message"]["event"]["delta"]["text"].as_str().unwrap())
        .collect();
    let expected: String = (0..5).map(|i| format!("slow chunk {i}. ")).collect();
    assert_eq!(streamed, expected);
    let assistant_at = frames
        .iter()
        .position(|f| f["kind"] == "agent.output" && f["data"]["message"]["type"] == "assistant")
        .expect("the stored assistant line");
    assert!(
        text_deltas.iter().all(|(at, _)| *at < assistant_at),
        "every text delta comes before the stored assistant line"
    );
    // The stored line holds the whole text the deltas built up.
    assert_eq!(
        frames[assistant_at]["data"]["message"]["message"]["content"][0]["text"],
        expected.as_str()
    );
    // Every delta is a verbatim `stream_event` line, placed after the last event before it.
    let mut last_seq = 0;
    for frame in &frames {
        match frame["type"].as_str() {
            Some("event") => last_seq = frame["seq"].as_u64().unwrap(),
            Some("delta") => {
                assert_eq!(frame["session_id"], session.as_str());
                assert_eq!(frame["message"]["type"], "stream_event");
                assert!(frame.get("seq").is_none(), "deltas have no seq: {frame}");
                if last_seq > 0 {
                    assert_eq!(frame["after_seq"], last_seq, "{frame}");
                }
            }
            _ => {}
        }
    }
    wait_status(&mut phone, "idle").await;

    assert_replay_matches(&rig.server, &session, &mut phone).await;
}

#[tokio::test]
async fn after_stop_the_next_prompt_resumes_the_conversation() {
    let Some(claude) = real_claude() else { return };
    let rig = Rig::start(&claude);
    let (mut phone, session) = rig.phone_with_session().await;

    let (first, _) = run_prompt(&mut phone, &session, "hello").await;
    assert_eq!(first["kind"], "prompt.completed", "{first}");
    let claude_session = first["data"]["claude_session_id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_status(&mut phone, "idle").await;

    let stopped = phone
        .ok("session.stop", json!({"session_id": session}))
        .await;
    assert_eq!(stopped["session"]["status"], "stopped");
    assert_eq!(stopped["session"]["claude_session_id"], claude_session);
    let exited = phone.wait_kind("agent.exited").await;
    assert_eq!(exited["data"]["expected"], true);
    assert_eq!(exited["data"]["code"], 0);
    wait_status(&mut phone, "stopped").await;
    assert!(cli_processes(&rig.server.project(), &claude).is_empty());

    let mark = phone.events.len();
    let (second, took) = run_prompt(&mut phone, &session, "are you back").await;
    eprintln!("real_claude: a prompt that resumed a stopped session took {took:?}");
    assert_eq!(second["kind"], "prompt.completed", "{second}");
    assert_eq!(second["data"]["result"], "hello from fake");
    assert_eq!(second["data"]["claude_session_id"], claude_session.as_str());
    let after = &phone.events[mark..];
    assert_eq!(
        story(after)[..4],
        [
            "prompt.queued",
            "status:starting",
            "prompt.started",
            "status:running"
        ]
    );
    assert_eq!(init_session_ids(after), [claude_session.as_str()]);
    // The new process was started with `--resume <id>`.
    let processes = cli_processes(&rig.server.project(), &claude);
    assert_eq!(processes.len(), 1, "{processes:?}");
    assert_eq!(
        arg_after(&processes[0], "--resume"),
        Some(claude_session.as_str()),
        "{:?}",
        processes[0]
    );
    // The CLI sent the resumed history: the first turn's prompt and reply, then the new one.
    let requests = rig.api.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[1]["prompt"], "are you back");
}

#[tokio::test]
async fn a_read_only_tool_runs_without_asking() {
    let Some(claude) = real_claude() else { return };
    let rig = Rig::start(&claude);
    let (mut phone, session) = rig.phone_with_session().await;

    let (done, took) = run_prompt(&mut phone, &session, "please use a TOOL").await;
    eprintln!("real_claude: a prompt with one Bash tool call took {took:?}");
    assert_eq!(done["kind"], "prompt.completed", "{done}");
    assert!(done["data"]["result"]
        .as_str()
        .is_some_and(|r| r.starts_with("tool finished")));
    assert!(done["data"]["result"].as_str().unwrap().contains("hi"));

    let uses = blocks(&phone.events, "assistant", "tool_use");
    assert_eq!(uses.len(), 1);
    assert_eq!(uses[0]["name"], "Bash");
    assert_eq!(uses[0]["input"]["command"], "echo hi");
    let results = blocks(&phone.events, "user", "tool_result");
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["tool_use_id"], uses[0]["id"]);
    assert_eq!(results[0]["content"], "hi");
    assert_ne!(results[0]["is_error"], true);
    assert_eq!(count_kind(&phone.events, "permission.requested"), 0);
    // Order: the tool call, its result, then the final answer and the result line.
    let order: Vec<&str> = outputs(&phone.events)
        .iter()
        .filter(|m| m["type"] != "system")
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["assistant", "assistant", "user", "assistant", "result"]
    );
}

#[tokio::test]
async fn an_interrupt_ends_a_slow_answer_and_the_process_goes_on() {
    let Some(claude) = real_claude() else { return };
    let rig = Rig::start(&claude);
    let (mut phone, session) = rig.phone_with_session().await;

    let slow = phone.prompt(&session, "SLOW 30 200").await;
    let frames = frames_until(&mut phone, |f| {
        f["type"] == "delta"
            || (f["kind"] == "agent.output" && f["data"]["message"]["type"] == "assistant")
    })
    .await;
    assert!(
        !frames.iter().any(|f| is_prompt_end(f, &slow)),
        "the slow prompt ended before it was interrupted"
    );
    let asked = Instant::now();
    let interrupted = phone
        .ok("session.interrupt", json!({"session_id": session}))
        .await;
    assert_eq!(interrupted, json!({"interrupted": true}));
    let failed = phone.wait_prompt_end(&slow).await;
    eprintln!(
        "real_claude: from session.interrupt to prompt.failed took {:?}",
        asked.elapsed()
    );
    assert_eq!(failed["kind"], "prompt.failed", "{failed}");
    assert_eq!(failed["data"]["error"]["code"], "interrupted");
    wait_status(&mut phone, "idle").await;
    let result = outputs(&phone.events)
        .into_iter()
        .find(|m| m["type"] == "result")
        .expect("the CLI's result line")
        .clone();
    assert_eq!(result["subtype"], "error_during_execution", "{result}");
    // It stopped well before the 30 chunks were out.
    let chunks = phone
        .deltas
        .iter()
        .filter(|d| d["message"]["event"]["delta"]["type"] == "text_delta")
        .count();
    assert!(chunks < 30, "{chunks} chunks arrived");

    let (next, took) = run_prompt(&mut phone, &session, "hello").await;
    eprintln!("real_claude: the prompt after an interrupt took {took:?}");
    assert_eq!(next["kind"], "prompt.completed", "{next}");
    assert_eq!(next["data"]["result"], "hello from fake");
    assert_eq!(count_kind(&phone.events, "agent.exited"), 0);
    assert_eq!(
        phone
            .events
            .iter()
            .filter(|e| label(e) == "status:starting")
            .count(),
        1
    );
}

/// Sends the prompt and waits for its `permission.requested`; answers the request.
async fn wait_permission(phone: &mut Client, session: &str, text: &str) -> (String, Value) {
    let prompt = phone.prompt(session, text).await;
    let requested = phone
        .wait_event(|e| e["kind"] == "permission.requested" || is_prompt_end(e, &prompt))
        .await;
    assert_eq!(requested["kind"], "permission.requested", "{requested}");
    (prompt, requested)
}

#[tokio::test]
async fn a_permission_is_asked_and_allowed_with_a_rewritten_input() {
    let Some(claude) = real_claude() else { return };
    let rig = Rig::start(&claude);
    let (mut phone, session) = rig.phone_with_session().await;

    let asked_at = Instant::now();
    let (prompt, requested) = wait_permission(&mut phone, &session, "do something RISKY").await;
    eprintln!(
        "real_claude: from prompt to permission.requested took {:?}",
        asked_at.elapsed()
    );
    let data = &requested["data"];
    assert_eq!(data["tool_name"], "Bash");
    assert!(data["input"]["command"]
        .as_str()
        .is_some_and(|c| c.contains("touch fake_touched.txt")));
    let request_id = data["request_id"].as_str().expect("request_id").to_string();
    assert!(!request_id.is_empty());
    let tool_use = blocks(&phone.events, "assistant", "tool_use")[0].clone();
    assert_eq!(data["tool_use_id"], tool_use["id"]);
    let status = phone.wait_kind("session.status").await;
    assert_eq!(status["data"]["status"], "awaiting_permission");
    let got = phone
        .ok("session.get", json!({"session_id": session}))
        .await;
    assert_eq!(got["session"]["status"], "awaiting_permission");
    assert_eq!(got["session"]["pending_permissions"], json!([request_id]));

    let answered = phone
        .ok(
            "session.permission",
            json!({
                "session_id": session,
                "request_id": request_id,
                "decision": "allow",
                "updated_input": {"command": "echo rewritten", "description": "x"},
            }),
        )
        .await;
    assert_eq!(answered, json!({}));
    let resolved = phone.wait_kind("permission.resolved").await;
    assert_eq!(resolved["data"]["request_id"], request_id.as_str());
    assert_eq!(resolved["data"]["decision"], "allow");
    assert_eq!(
        resolved["data"]["by"],
        json!({"user": "local", "connection_id": phone.welcome["connection_id"]})
    );
    let running = phone.wait_kind("session.status").await;
    assert_eq!(running["data"]["status"], "running");

    let done = phone.wait_prompt_end(&prompt).await;
    assert_eq!(done["kind"], "prompt.completed", "{done}");
    let results = blocks(&phone.events, "user", "tool_result");
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["content"], "rewritten");
    assert_ne!(results[0]["is_error"], true);
    assert!(done["data"]["result"]
        .as_str()
        .is_some_and(|r| r.starts_with("tool finished") && r.contains("rewritten")));
    assert!(
        !rig.project_file("fake_touched.txt").exists(),
        "the original command ran"
    );
    wait_status(&mut phone, "idle").await;
    let got = phone
        .ok("session.get", json!({"session_id": session}))
        .await;
    assert_eq!(got["session"]["pending_permissions"], json!([]));

    assert_replay_matches(&rig.server, &session, &mut phone).await;
}

#[tokio::test]
async fn a_denial_with_a_message_reaches_claude_and_the_turn_goes_on() {
    let Some(claude) = real_claude() else { return };
    let rig = Rig::start(&claude);
    let (mut phone, session) = rig.phone_with_session().await;

    let (prompt, requested) = wait_permission(&mut phone, &session, "do something RISKY").await;
    let request_id = requested["data"]["request_id"].as_str().unwrap();
    phone
        .ok(
            "session.permission",
            json!({
                "session_id": session,
                "request_id": request_id,
                "decision": "deny",
                "message": "not on my phone",
            }),
        )
        .await;
    let resolved = phone.wait_kind("permission.resolved").await;
    assert_eq!(resolved["data"]["decision"], "deny");
    let done = phone.wait_prompt_end(&prompt).await;
    assert_eq!(done["kind"], "prompt.completed", "{done}");

    let results = blocks(&phone.events, "user", "tool_result");
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["is_error"], true);
    assert!(
        results[0]["content"]
            .to_string()
            .contains("not on my phone"),
        "{}",
        results[0]
    );
    assert!(done["data"]["result"]
        .as_str()
        .is_some_and(|r| r.starts_with("tool failed") && r.contains("not on my phone")));
    let result = outputs(&phone.events)
        .into_iter()
        .find(|m| m["type"] == "result")
        .expect("the result line")
        .clone();
    let denials = result["permission_denials"].as_array().expect("denials");
    assert!(
        denials.iter().any(|d| d["tool_name"] == "Bash"),
        "{denials:?}"
    );
    assert!(!rig.project_file("fake_touched.txt").exists());
    // A second answer is too late.
    assert_eq!(
        phone
            .err(
                "session.permission",
                json!({"session_id": session, "request_id": request_id, "decision": "allow"}),
            )
            .await,
        "conflict"
    );
}

/// Sends `text` and waits for a permission request (answered) or the prompt's end (`None`).
async fn asked_or_done(phone: &mut Client, session: &str, text: &str) -> (String, Option<Value>) {
    let mark = phone.events.len();
    let prompt = phone.prompt(session, text).await;
    let hit = |e: &Value| e["kind"] == "permission.requested" || is_prompt_end(e, &prompt);
    let first = match phone.events[mark..].iter().find(|e| hit(e)).cloned() {
        Some(event) => event,
        None => phone.wait_event(hit).await,
    };
    let asked = (first["kind"] == "permission.requested").then_some(first);
    (prompt, asked)
}

/// Answers the permission request `asked` of `prompt` with `fields` and waits for its end.
async fn decide(
    phone: &mut Client,
    session: &str,
    prompt: &str,
    asked: &Value,
    fields: Value,
) -> Value {
    let mut frame = json!({"session_id": session, "request_id": asked["data"]["request_id"]});
    if let (Some(frame), Some(fields)) = (frame.as_object_mut(), fields.as_object()) {
        frame.extend(fields.clone());
    }
    let answered = phone.ok("session.permission", frame).await;
    let done = phone.wait_prompt_end(prompt).await;
    assert_eq!(done["kind"], "prompt.completed", "{done}");
    answered
}

/// The Claude Code settings files in the project and in the CLI's HOME that exist.
fn settings_files(rig: &Rig) -> Vec<PathBuf> {
    let home = rig.scratch.path().join("home");
    let candidates = [
        rig.project_file(".claude/settings.local.json"),
        rig.project_file(".claude/settings.json"),
        home.join(".claude/settings.json"),
        home.join(".claude/settings.local.json"),
    ];
    candidates.into_iter().filter(|p| p.exists()).collect()
}

/// `first` (allowed always) runs without asking and `second` asks (and is denied), `when`.
async fn only_the_first_runs_unasked(
    phone: &mut Client,
    session: &str,
    rig: &Rig,
    [first, second]: [&str; 2],
    when: &str,
) {
    let (again, asked) = asked_or_done(phone, session, first).await;
    assert!(asked.is_none(), "asked again{when}: {asked:?}");
    assert_eq!(
        phone.wait_prompt_end(&again).await["kind"],
        "prompt.completed"
    );
    let (other, asked) = asked_or_done(phone, session, second).await;
    let asked = asked.unwrap_or_else(|| panic!("another command asks{when}"));
    decide(phone, session, &other, &asked, json!({"decision": "deny"})).await;
    assert!(!rig.project_file("second_file.txt").exists());
}

#[tokio::test]
async fn allow_always_allows_that_command_only_and_writes_no_settings() {
    let Some(claude) = real_claude() else { return };
    let rig = Rig::start(&claude);
    let (mut phone, session) = rig.phone_with_session().await;
    const FIRST: &str = "CMD:touch first_file.txt";
    const SECOND: &str = "CMD:touch second_file.txt";

    let (prompt, asked) = asked_or_done(&mut phone, &session, FIRST).await;
    let asked = asked.expect("the first touch asks");
    let kinds: Vec<&str> = asked["data"]["suggestions"]
        .as_array()
        .expect("suggestions")
        .iter()
        .filter_map(|s| s["type"].as_str())
        .collect();
    assert!(kinds.contains(&"addRules"), "{kinds:?}");
    let always = json!({"decision": "allow", "always": true});
    let answered = decide(&mut phone, &session, &prompt, &asked, always).await;
    assert_eq!(
        answered,
        json!({"rules_added": ["Bash(touch first_file.txt)"]})
    );
    assert!(rig.project_file("first_file.txt").exists());

    // The same process: the same command runs, another one asks.
    only_the_first_runs_unasked(&mut phone, &session, &rig, [FIRST, SECOND], "").await;

    // A new process gets the rule back from the relay, and nothing wider.
    phone
        .ok("session.stop", json!({"session_id": session}))
        .await;
    only_the_first_runs_unasked(
        &mut phone,
        &session,
        &rig,
        [FIRST, SECOND],
        " after the stop",
    )
    .await;
    assert_eq!(count_kind(&phone.events, "agent.exited"), 1);

    // Nothing went into the user's settings, and the mode did not change.
    assert_eq!(settings_files(&rig), Vec::<PathBuf>::new());
    let got = phone
        .ok("session.get", json!({"session_id": session}))
        .await;
    assert_eq!(
        got["session"]["allowed_rules"],
        json!(["Bash(touch first_file.txt)"])
    );
    assert_eq!(got["session"]["permission_mode"], "default");

    // Removed, the rule no longer applies: the CLI that held it in memory is replaced.
    let removed = phone
        .ok(
            "session.remove_rule",
            json!({"session_id": session, "rule": "Bash(touch first_file.txt)"}),
        )
        .await;
    assert_eq!(removed["session"]["allowed_rules"], json!([]));
    let (again, asked) = asked_or_done(&mut phone, &session, FIRST).await;
    let asked = asked.expect("asked again once the rule is removed");
    decide(
        &mut phone,
        &session,
        &again,
        &asked,
        json!({"decision": "deny"}),
    )
    .await;
    assert_eq!(count_kind(&phone.events, "agent.exited"), 2);
}

#[tokio::test]
async fn allow_always_on_a_write_the_cli_suggests_no_rule_for_does_not_widen() {
    let Some(claude) = real_claude() else { return };
    let rig = Rig::start(&claude);
    let (mut phone, session) = rig.phone_with_session().await;

    let (first, asked) = asked_or_done(&mut phone, &session, "please WRITE a file").await;
    let asked = asked.expect("the write asks");
    assert_eq!(asked["data"]["tool_name"], "Write");
    let always = json!({"decision": "allow", "always": true});
    let answered = decide(&mut phone, &session, &first, &asked, always).await;
    assert_eq!(answered, json!({"rules_added": []}));
    let content = std::fs::read_to_string(rig.project_file("fake_written.txt"))
        .expect("the file was written");
    assert_eq!(content, "written by fake\n");

    // Claude Code suggested only `setMode acceptEdits`, which "always" does not apply.
    let (again, asked) = asked_or_done(&mut phone, &session, "please WRITE it again").await;
    let asked = asked.expect("the next write asks again");
    decide(
        &mut phone,
        &session,
        &again,
        &asked,
        json!({"decision": "allow"}),
    )
    .await;
    let got = phone
        .ok("session.get", json!({"session_id": session}))
        .await;
    assert_eq!(got["session"]["allowed_rules"], json!([]));
    assert_eq!(got["session"]["permission_mode"], "default");
    assert_eq!(settings_files(&rig), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn accept_edits_set_on_a_running_process_lets_writes_through() {
    let Some(claude) = real_claude() else { return };
    let rig = Rig::start(&claude);
    let (mut phone, session) = rig.phone_with_session().await;

    let (first, _) = run_prompt(&mut phone, &session, "hello").await;
    assert_eq!(first["kind"], "prompt.completed", "{first}");
    wait_status(&mut phone, "idle").await;

    let changed = phone
        .ok(
            "session.set_permission_mode",
            json!({"session_id": session, "permission_mode": "acceptEdits"}),
        )
        .await;
    assert_eq!(changed["session"]["permission_mode"], "acceptEdits");
    let updated = phone.wait_kind("session.updated").await;
    assert_eq!(updated["data"]["session"]["permission_mode"], "acceptEdits");

    let mark = phone.events.len();
    let (write, _) = run_prompt(&mut phone, &session, "please WRITE a file").await;
    assert_eq!(write["kind"], "prompt.completed", "{write}");
    let after = events_of_prompt(
        &phone.events[mark..],
        write["data"]["prompt_id"].as_str().unwrap(),
    );
    assert_eq!(count_kind(after, "permission.requested"), 0);
    let results = blocks(after, "user", "tool_result");
    assert_eq!(results.len(), 1);
    assert_ne!(results[0]["is_error"], true, "{}", results[0]);
    let content = std::fs::read_to_string(rig.project_file("fake_written.txt"))
        .expect("the file was written");
    assert_eq!(content, "written by fake\n");
    // Still the first process, which learned the mode over the control protocol.
    assert_eq!(count_kind(&phone.events, "agent.exited"), 0);
    let inits: Vec<&Value> = outputs(after)
        .into_iter()
        .filter(|m| m["type"] == "system" && m["subtype"] == "init")
        .collect();
    assert_eq!(inits.len(), 1);
    assert_eq!(inits[0]["permissionMode"], "acceptEdits");

    let got = phone
        .ok("session.get", json!({"session_id": session}))
        .await;
    assert_eq!(got["session"]["permission_mode"], "acceptEdits");
}
