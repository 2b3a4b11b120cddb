//! `fake-claude`: a stand-in for the Claude Code CLI (`claude`) in pocket-relay's integration tests.
//!
//! It speaks the headless stream-json protocol of
//! `claude -p --input-format stream-json --output-format stream-json --verbose
//! --permission-prompt-tool stdio`: one JSON object per line on stdin and stdout, with the same
//! field names as the real CLI (see `/work/shared/claude-code/README.md`), but with small
//! messages and scripted behaviour. No network, no files besides the optional logs below.
//!
//! # Command line
//!
//! Accepted: `-p`, `--input-format F`, `--output-format F`, `--verbose`,
//! `--permission-prompt-tool stdio`, `--include-partial-messages`, `--resume ID` (`-r ID`),
//! `--session-id ID`, `--model M`, `--permission-mode P`, `--dangerously-skip-permissions`,
//! `--allowedTools RULES` (split on commas and spaces outside parentheses, as the real CLI does;
//! may repeat) and `--settings JSON` (its `permissions.allow` rules; may repeat).
//! `--flag=value` works too. Any other flag is ignored, together with the next argument if that
//! one does not start with `-`. The session id comes from `--resume` or `--session-id`, otherwise
//! it is a fresh random UUID v4.
//!
//! # Environment
//!
//! - `FAKE_CLAUDE_SPAWN_LOG=FILE`: append `{"pid":…,"argv":[…args after argv0…],"cwd":"…"}` as
//!   one line to FILE at start.
//! - `FAKE_CLAUDE_KNOWN_SESSIONS=FILE`: after the first turn's `system/init`, append the session
//!   id to FILE (one per line) unless it is listed already.
//! - `FAKE_CLAUDE_RESUME_FAIL_UNKNOWN` (any value): when the first turn arrives and `--resume ID`
//!   names an id that is not a line of `FAKE_CLAUDE_KNOWN_SESSIONS`, behave like the real CLI:
//!   stderr `No conversation found with session ID: ID`, a `result` with subtype
//!   `error_during_execution` and `is_error: true`, exit 1.
//!
//! # stdin
//!
//! - `{"type":"user","message":{"content":"text" | [blocks]}}`: a turn. Turns queue and run one
//!   at a time in arrival order, while control messages are answered at once.
//! - `control_request` with subtype `initialize` (small success answer), `interrupt` (answer
//!   `{"still_queued":[]}`; the running turn stops), `set_permission_mode` (`{"mode":M}` plus a
//!   `system/status` line; errors `invalid_mode` and `bypass_not_launched` as the real CLI).
//!   Any other subtype gets the error `unsupported_request`.
//! - `control_response`: the answer to our pending `can_use_tool` request.
//! - A line that is not JSON: stderr `Error parsing streaming input line …`, exit 1 at once.
//!   JSON with an unknown `type` is ignored. Blank lines are skipped.
//! - EOF: running and queued turns finish, then exit 0, or 1 if the last `result` was an error.
//!   A turn that can never finish (`stall`, or waiting for a permission answer) ends the process
//!   at once, with the same exit-code rule.
//!
//! # Turns
//!
//! Every turn prints `system/init` (with an extra `fake_argv` field), then acts on the prompt
//! text (a string content, or its text blocks joined with `\n`). The prompt must match one of
//! these directives exactly (word count included), otherwise it is echoed:
//!
//! | prompt | behaviour |
//! |---|---|
//! | anything else | assistant `echo: <prompt>`, result |
//! | `emit N` | N assistant lines `line 1` … `line N`, result |
//! | `stream N MS` | with `--include-partial-messages`: `stream_event`s message_start, content_block_start, N text deltas `chunk I ` (MS ms apart), then the full assistant line, then content_block_stop, message_delta, message_stop; without the flag the same wait, then the assistant line. Then result. Interruptible. |
//! | `slow N MS` | N assistant lines `line I`, MS ms apart, result. Interruptible. |
//! | `sleep MS` | wait MS ms (interruptible), then assistant `echo: sleep MS`, result |
//! | `stall` | nothing after init until `interrupt`, kill or EOF |
//! | `crash` | one assistant line, then exit 3 mid-turn |
//! | `crash-midline` | half a JSON line without newline, then exit 3 |
//! | `garbage` | the stdout line `this is not json {`, then assistant `echo: garbage`, result |
//! | `stderr N` | N stderr lines `stderr line I`, then assistant `echo: stderr N`, result |
//! | `bigline BYTES` | one assistant line with BYTES `x` characters (at most 256 MiB), result |
//! | `error` | synthetic assistant `API Error: 500 fake`, result `subtype:"success"`, `is_error:true` |
//! | `whoami [PATH…]` | assistant text: a JSON object `{euid, user, home, cwd, mark, reads}`: the effective uid, `$USER`, `$HOME`, the working directory, `$FAKE_CLAUDE_MARK`, and for each PATH `ok`, `denied`, `not_found` or `error: …` when reading it (a file, or a directory's listing); result |
//! | `stubborn` | starts `sh` that ignores SIGTERM/SIGHUP/SIGINT and sleeps 600 s (stdio closed, never waited for), assistant `stubborn child PID`, then like `stall` |
//! | `permission TOOL [JSON]` | assistant `tool_use` block, then a `can_use_tool` control_request for TOOL with input JSON (default `{"command":"touch x"}`; not a JSON value → the default), then waits for the answer |
//! | `permissions N TOOL` | parallel tool use, as the real CLI does for several tool calls in one message: N assistant `tool_use` blocks (inputs `{"command":"touch xI"}`), then N `can_use_tool` requests at once; waits for every answer, then a `tool_result` per answer (allowed `ran …`, denied with the deny message), assistant `tools finished`, result |
//!
//! The request's `permission_suggestions` are what the real CLI 2.1.330 sends: for Bash an
//! `addRules` of `Bash(<command>)` (destination `localSettings`), an `addDirectories` of the cwd
//! and a `setMode` `acceptEdits`; for Write/Edit/NotebookEdit only the `setMode`; for any other
//! tool an `addRules` of the bare tool name plus the same two.
//!
//! Permission answers: allow → user `tool_result` `ran TOOL with <updatedInput or input as
//! compact JSON>` (the user line carries the whole answer as `fake_permission_answer`, so tests
//! can see what the CLI was told), assistant `tool finished`, success result. Deny → `tool_result` with
//! `is_error:true` and the deny `message`, then assistant `tool denied` and a success result; with
//! `"interrupt":true` instead a user line `[Request interrupted by user for tool use]` and result
//! `error_during_execution` (`terminal_reason:"aborted_tools"`). The `allow` rules of an answer's
//! `updatedPermissions` `addRules` entries are kept for the rest of the process. A request runs
//! without asking when a rule matches it: the bare tool name matches every use of the tool,
//! `Tool(content)` only the input whose content is exactly that (Bash: `command`; Write, Edit,
//! NotebookEdit, Read: `file_path`; `\`, `(` and `)` escaped with a backslash as the real CLI
//! writes them). Rules also come from `--allowedTools` and `--settings` at launch. Permission
//! mode `bypassPermissions` allows everything, `acceptEdits` Write/Edit/NotebookEdit.
//! Without `--permission-prompt-tool stdio` the tool is denied at once with a
//! `system/permission_denied` line, as the real CLI does.
//!
//! Interrupts: a turn that is streaming, sleeping or stalled prints user
//! `[Request interrupted by user]` and result `error_during_execution`
//! (`terminal_reason:"aborted_streaming"`). A turn waiting for a permission answer first gets a
//! `control_cancel_request` for it (before the interrupt's own answer), then, like the real CLI,
//! a rejected `tool_result`, `[Request interrupted by user for tool use]` and `aborted_tools`.
//! `error_during_execution` results have `errors` and no `result` field, like the real ones.
//! `total_cost_usd` grows by 0.0001 per turn.

#[path = "fake_claude/rules.rs"]
mod rules;

use rules::{answered_rules, launch_rules, rules_allow, suggestions};
use serde_json::{json, Value};
use std::collections::{HashSet, VecDeque};
use std::env;
use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, Write};
use std::process;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Modes `set_permission_mode` accepts without a launch flag.
const PLAIN_MODES: [&str; 5] = ["default", "acceptEdits", "plan", "dontAsk", "auto"];
const BYPASS: &str = "bypassPermissions";
/// Tools that `acceptEdits` lets through without asking.
const EDIT_TOOLS: [&str; 3] = ["Write", "Edit", "NotebookEdit"];
/// Upper bound for `bigline`, so a silly size cannot abort the process on allocation.
const MAX_BIGLINE: usize = 256 << 20;
/// What the real CLI tells the model when the user rejects a tool use.
const REJECTED: &str = "The user doesn't want to proceed with this tool use. The tool use was \
rejected (eg. if it was a file edit, the new_string was NOT written to the file). STOP what you \
are doing and wait for the user to tell you how to proceed.";

// ----------------------------------------------------------------------------------------------
// Command line
// ----------------------------------------------------------------------------------------------

/// Flags without a value.
const BOOL_FLAGS: [&str; 9] = [
    "-p",
    "--print",
    "--verbose",
    "--include-partial-messages",
    "--dangerously-skip-permissions",
    "--allow-dangerously-skip-permissions",
    "--replay-user-messages",
    "-c",
    "--continue",
];
/// Flags that always take the next argument as their value.
const VALUE_FLAGS: [&str; 10] = [
    "--allowedTools",
    "--settings",
    "--input-format",
    "--output-format",
    "--permission-prompt-tool",
    "--resume",
    "-r",
    "--session-id",
    "--model",
    "--permission-mode",
];

struct Config {
    args: Vec<String>,
    cwd: String,
    session_id: String,
    resume: Option<String>,
    model: String,
    initial_mode: String,
    partial_messages: bool,
    prompt_tool_stdio: bool,
    bypass_allowed: bool,
    /// Allow rules from `--allowedTools` and `--settings`: uses that run without asking.
    allowed_rules: HashSet<String>,
}

impl Config {
    fn from_args(args: Vec<String>) -> Config {
        let flags = parse_flags(&args);
        let value = |names: &[&str]| {
            flags
                .iter()
                .rev()
                .find(|(name, _)| names.contains(&name.as_str()))
                .and_then(|(_, v)| v.clone())
        };
        let has = |name: &str| flags.iter().any(|(n, _)| n == name);
        let resume = value(&["--resume", "-r"]);
        let session_id = resume
            .clone()
            .or_else(|| value(&["--session-id"]))
            .unwrap_or_else(uuid_v4);
        let initial_mode = value(&["--permission-mode"]).unwrap_or_else(|| "default".into());
        Config {
            cwd: env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            session_id,
            resume,
            model: value(&["--model"]).unwrap_or_else(|| "fake-model".into()),
            partial_messages: has("--include-partial-messages"),
            prompt_tool_stdio: value(&["--permission-prompt-tool"]).as_deref() == Some("stdio"),
            bypass_allowed: initial_mode == BYPASS || has("--dangerously-skip-permissions"),
            initial_mode,
            allowed_rules: launch_rules(&flags),
            args,
        }
    }
}

/// Splits the arguments into `(flag, value)` pairs, leniently. Positional arguments are dropped.
fn parse_flags(args: &[String]) -> Vec<(String, Option<String>)> {
    let mut flags = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if !arg.starts_with('-') {
            continue;
        }
        if let (true, Some((name, v))) = (arg.starts_with("--"), arg.split_once('=')) {
            flags.push((name.to_string(), Some(v.to_string())));
            continue;
        }
        let next = args.get(i);
        let takes_value = VALUE_FLAGS.contains(&arg.as_str())
            || (!BOOL_FLAGS.contains(&arg.as_str()) && next.is_some_and(|n| !n.starts_with('-')));
        let v = if takes_value { next.cloned() } else { None };
        if takes_value {
            i += 1;
        }
        flags.push((arg.clone(), v));
    }
    flags
}

fn write_spawn_log(cfg: &Config) {
    let Some(path) = env::var_os("FAKE_CLAUDE_SPAWN_LOG") else {
        return;
    };
    let line = json!({"pid": process::id(), "argv": cfg.args, "cwd": cfg.cwd});
    append_line(&path, &line.to_string());
}

fn append_line(path: &std::ffi::OsStr, line: &str) {
    let written = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
    if let Err(e) = written {
        let _ = writeln!(io::stderr(), "fake-claude: cannot append to {path:?}: {e}");
    }
}

// ----------------------------------------------------------------------------------------------
// Ids
// ----------------------------------------------------------------------------------------------

fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    splitmix64(nanos ^ (u64::from(process::id()) << 40) ^ splitmix64(count))
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn uuid_v4() -> String {
    let (a, b) = (random_u64(), random_u64());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

/// `msg_…`, `toolu_…`: a prefix and 24 hex digits, like the real ids.
fn prefixed_id(prefix: &str) -> String {
    format!(
        "{prefix}{:016x}{:08x}",
        random_u64(),
        random_u64() & 0xffff_ffff
    )
}

// ----------------------------------------------------------------------------------------------
// Shared state: output, turn queue, interrupts, permission answers
// ----------------------------------------------------------------------------------------------

struct Pending {
    request_id: String,
    answer: Option<Value>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<String>,
    stdin_closed: bool,
    running: bool,
    interrupted: bool,
    /// Our `can_use_tool` requests still open (several during `permissions N`).
    pending: Vec<Pending>,
    /// Allow rules in force: from the launch flags and from "always" answers.
    rules: HashSet<String>,
    mode: String,
    turns_started: u64,
    results: u64,
    last_result_error: bool,
}

struct Shared {
    cfg: Config,
    /// Held while one stdout line is written, so lines never interleave.
    out: Mutex<()>,
    state: Mutex<State>,
    wake: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn new(cfg: Config) -> Shared {
        let state = State {
            mode: cfg.initial_mode.clone(),
            rules: cfg.allowed_rules.clone(),
            ..State::default()
        };
        Shared {
            cfg,
            out: Mutex::new(()),
            state: Mutex::new(state),
            wake: Condvar::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn emit(&self, v: &Value) {
        self.emit_raw(&format!("{v}\n"));
    }

    fn emit_raw(&self, text: &str) {
        let _guard = lock(&self.out);
        let mut out = io::stdout().lock();
        if out
            .write_all(text.as_bytes())
            .and_then(|_| out.flush())
            .is_err()
        {
            process::exit(1); // stdout is gone: nobody is listening any more
        }
    }

    /// Writes `text` (no newline) and exits with `code` before any other line can follow.
    fn die_after(&self, text: &str, code: i32) -> ! {
        let _guard = lock(&self.out);
        let mut out = io::stdout().lock();
        let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
        process::exit(code);
    }

    fn exit(&self, code: i32) -> ! {
        self.die_after("", code)
    }

    /// Waits until `done` holds, or until `deadline` passes. Returns the state guard.
    fn wait_until(
        &self,
        deadline: Option<Instant>,
        mut done: impl FnMut(&State) -> bool,
    ) -> MutexGuard<'_, State> {
        let mut s = self.state();
        while !done(&s) {
            s = match deadline.map(|d| d.saturating_duration_since(Instant::now())) {
                None => self.wake.wait(s).unwrap_or_else(PoisonError::into_inner),
                Some(left) if left.is_zero() => break,
                Some(left) => {
                    let (s, _) = self
                        .wake
                        .wait_timeout(s, left)
                        .unwrap_or_else(PoisonError::into_inner);
                    s
                }
            };
        }
        s
    }

    /// Sleeps `ms` milliseconds; returns true (early) if the turn got interrupted.
    fn pause(&self, ms: u64) -> bool {
        let deadline = Instant::now().checked_add(Duration::from_millis(ms));
        self.wait_until(deadline, |s| s.interrupted).interrupted
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state());
        self.wake.notify_all();
    }

    /// Blocks until a turn is queued (returns it, marked running) or stdin is closed (None).
    fn next_turn(&self) -> Option<String> {
        let mut s = self.wait_until(None, |s| !s.queue.is_empty() || s.stdin_closed);
        let text = s.queue.pop_front()?;
        s.running = true;
        s.interrupted = false;
        Some(text)
    }

    fn exit_code(&self) -> i32 {
        i32::from(self.state().last_result_error)
    }
}

// ----------------------------------------------------------------------------------------------
// Message builders
// ----------------------------------------------------------------------------------------------

impl Shared {
    fn init_line(&self) -> Value {
        json!({
            "type": "system", "subtype": "init", "cwd": self.cfg.cwd,
            "session_id": self.cfg.session_id, "tools": ["Bash", "Write"], "mcp_servers": [],
            "model": self.cfg.model, "permissionMode": self.state().mode,
            "claude_code_version": "fake", "uuid": uuid_v4(), "fake_argv": self.cfg.args,
        })
    }

    fn assistant_line(&self, msg_id: &str, model: &str, block: Value) -> Value {
        json!({
            "type": "assistant",
            "message": {
                "id": msg_id, "type": "message", "role": "assistant", "model": model,
                "content": [block], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 10, "output_tokens": 5},
            },
            "parent_tool_use_id": null, "session_id": self.cfg.session_id, "uuid": uuid_v4(),
        })
    }

    fn user_line(&self, block: Value) -> Value {
        json!({
            "type": "user", "message": {"role": "user", "content": [block]},
            "parent_tool_use_id": null, "session_id": self.cfg.session_id, "uuid": uuid_v4(),
        })
    }

    fn stream_event(&self, msg_id: &str, event: Value) -> Value {
        json!({
            "type": "stream_event", "event": event, "session_id": self.cfg.session_id,
            "parent_tool_use_id": null, "uuid": uuid_v4(), "api_message_id": msg_id,
        })
    }

    fn status_line(&self, mode: &str) -> Value {
        json!({
            "type": "system", "subtype": "status", "status": null, "permissionMode": mode,
            "uuid": uuid_v4(), "session_id": self.cfg.session_id,
        })
    }
}

fn text_block(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

fn control_success(request_id: &Value, response: Value) -> Value {
    json!({"type": "control_response",
           "response": {"subtype": "success", "request_id": request_id, "response": response}})
}

fn control_error(request_id: &Value, error: &str, code: &str) -> Value {
    json!({"type": "control_response",
           "response": {"subtype": "error", "request_id": request_id, "error": error,
                        "error_code": code}})
}

// ----------------------------------------------------------------------------------------------
// stdin
// ----------------------------------------------------------------------------------------------

fn read_stdin(sh: &Shared) {
    let mut input = io::stdin().lock();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match input.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(msg) => handle_input(sh, &msg),
            Err(_) => {
                let _ = writeln!(
                    io::stderr(),
                    "Error parsing streaming input line (type=unknown, {} chars): SyntaxError",
                    line.chars().count()
                );
                sh.exit(1);
            }
        }
    }
}

fn handle_input(sh: &Shared, msg: &Value) {
    match msg.get("type").and_then(Value::as_str) {
        Some("user") => {
            let text = prompt_text(msg);
            sh.update(|s| s.queue.push_back(text));
        }
        Some("control_request") => handle_control_request(sh, msg),
        Some("control_response") => handle_control_response(sh, msg),
        _ => {}
    }
}

/// The content string, or the text blocks joined with newlines.
fn prompt_text(msg: &Value) -> String {
    match msg.pointer("/message/content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn handle_control_request(sh: &Shared, msg: &Value) {
    let id = msg.get("request_id").cloned().unwrap_or(Value::Null);
    let request = msg.get("request").unwrap_or(&Value::Null);
    match request.get("subtype").and_then(Value::as_str).unwrap_or("") {
        "initialize" => sh.emit(&control_success(&id, initialize_response(sh))),
        "interrupt" => interrupt(sh, &id),
        "set_permission_mode" => {
            set_permission_mode(sh, &id, request.get("mode").and_then(Value::as_str))
        }
        other => sh.emit(&control_error(
            &id,
            &format!("Unsupported control request subtype: {other}"),
            "unsupported_request",
        )),
    }
}

fn initialize_response(sh: &Shared) -> Value {
    let s = sh.state();
    json!({
        "commands": [], "agents": [], "output_style": "default", "models": [],
        "pid": process::id(), "claude_code_version": "fake", "current_permission_mode": s.mode,
        "session_state": if s.running { "running" } else { "idle" },
    })
}

/// Stops the running turn. The state lock is held while answering, so the turn's own
/// interruption lines can only come after the cancel request and the answer.
fn interrupt(sh: &Shared, id: &Value) {
    let mut s = sh.state();
    if s.running {
        s.interrupted = true;
        for p in s.pending.iter().filter(|p| p.answer.is_none()) {
            sh.emit(&json!({"type": "control_cancel_request", "request_id": p.request_id}));
        }
    }
    sh.emit(&control_success(id, json!({"still_queued": []})));
    drop(s);
    sh.wake.notify_all();
}

fn set_permission_mode(sh: &Shared, id: &Value, mode: Option<&str>) {
    let mode = mode.unwrap_or("");
    if mode == BYPASS && !sh.cfg.bypass_allowed {
        let error = "Cannot set permission mode to bypassPermissions because the session was \
                     not launched with --dangerously-skip-permissions";
        return sh.emit(&control_error(id, error, "bypass_not_launched"));
    }
    if mode != BYPASS && !PLAIN_MODES.contains(&mode) {
        let error = "Cannot set permission mode: must be one of acceptEdits, auto, \
                     bypassPermissions, default, dontAsk, plan";
        return sh.emit(&control_error(id, error, "invalid_mode"));
    }
    sh.state().mode = mode.to_string();
    sh.emit(&control_success(id, json!({"mode": mode})));
    sh.emit(&sh.status_line(mode));
}

/// Whether our request `request_id` has its answer.
fn answered(s: &State, request_id: &str) -> bool {
    s.pending
        .iter()
        .any(|p| p.request_id == request_id && p.answer.is_some())
}

/// Takes request `request_id` off the pending ones; answers its answer, if it came.
fn take_answer(s: &mut State, request_id: &str) -> Option<Value> {
    let at = s.pending.iter().position(|p| p.request_id == request_id)?;
    s.pending.remove(at).answer
}

/// Stores the host's answer to our pending `can_use_tool` request. An error answer counts as
/// a deny with the error text as message.
fn handle_control_response(sh: &Shared, msg: &Value) {
    let response = msg.get("response").unwrap_or(&Value::Null);
    let Some(request_id) = response.get("request_id").and_then(Value::as_str) else {
        return;
    };
    let answer = match response.get("subtype").and_then(Value::as_str) {
        Some("success") => response
            .get("response")
            .cloned()
            .unwrap_or_else(|| json!({})),
        _ => {
            let error = response.get("error").and_then(Value::as_str);
            json!({"behavior": "deny", "message": error.unwrap_or("permission request failed")})
        }
    };
    sh.update(|s| {
        if let Some(p) = s
            .pending
            .iter_mut()
            .find(|p| p.request_id == request_id && p.answer.is_none())
        {
            p.answer = Some(answer);
        }
    });
}

// ----------------------------------------------------------------------------------------------
// Turns
// ----------------------------------------------------------------------------------------------

enum Directive<'a> {
    Echo,
    Emit(u64),
    Stream(u64, u64),
    Slow(u64, u64),
    Sleep(u64),
    Stall,
    Crash,
    CrashMidline,
    Garbage,
    Stderr(u64),
    Bigline(u64),
    Error,
    Permission(&'a str, Value),
    Permissions(u64, &'a str),
    Whoami(Vec<&'a str>),
    Stubborn,
}

fn parse_directive(text: &str) -> Directive<'_> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let num = |i: usize| words.get(i).and_then(|w| w.parse::<u64>().ok());
    let parsed = match (words.first().copied(), words.len()) {
        (Some("emit"), 2) => num(1).map(Directive::Emit),
        (Some("stream"), 3) => num(1).zip(num(2)).map(|(n, ms)| Directive::Stream(n, ms)),
        (Some("slow"), 3) => num(1).zip(num(2)).map(|(n, ms)| Directive::Slow(n, ms)),
        (Some("sleep"), 2) => num(1).map(Directive::Sleep),
        (Some("stderr"), 2) => num(1).map(Directive::Stderr),
        (Some("bigline"), 2) => num(1).map(Directive::Bigline),
        (Some("stall"), 1) => Some(Directive::Stall),
        (Some("crash"), 1) => Some(Directive::Crash),
        (Some("crash-midline"), 1) => Some(Directive::CrashMidline),
        (Some("garbage"), 1) => Some(Directive::Garbage),
        (Some("error"), 1) => Some(Directive::Error),
        (Some("permission"), n) if n >= 2 => Some(permission_directive(text)),
        (Some("permissions"), 3) => num(1).map(|n| Directive::Permissions(n, words[2])),
        (Some("whoami"), _) => Some(Directive::Whoami(words[1..].to_vec())),
        (Some("stubborn"), 1) => Some(Directive::Stubborn),
        _ => None,
    };
    parsed.unwrap_or(Directive::Echo)
}

/// `whoami PATH…`: who this process is, and whether it can read each path.
fn whoami(paths: &[&str]) -> Value {
    let uid = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?.to_string();
            line.split_whitespace().nth(2)?.parse::<u64>().ok()
        });
    let reads: serde_json::Map<String, Value> = paths
        .iter()
        .map(|path| {
            let outcome = match fs::metadata(path) {
                Ok(meta) if meta.is_dir() => fs::read_dir(path).map(drop),
                Ok(_) => fs::read(path).map(drop),
                Err(error) => Err(error),
            };
            let text = match outcome {
                Ok(()) => "ok".to_string(),
                Err(error) if error.kind() == io::ErrorKind::PermissionDenied => "denied".into(),
                Err(error) if error.kind() == io::ErrorKind::NotFound => "not_found".into(),
                Err(error) => format!("error: {error}"),
            };
            (path.to_string(), Value::String(text))
        })
        .collect();
    json!({
        "euid": uid,
        "user": env::var("USER").ok(),
        "home": env::var("HOME").ok(),
        "cwd": env::current_dir().ok().map(|d| d.to_string_lossy().into_owned()),
        "mark": env::var("FAKE_CLAUDE_MARK").ok(),
        "reads": reads,
    })
}

/// `stubborn`: a child that ignores SIGTERM (a tool left running), not waited for.
fn stubborn_child() -> io::Result<u32> {
    process::Command::new("sh")
        .args(["-c", "trap '' TERM HUP INT; exec sleep 600"])
        .stdin(process::Stdio::null())
        .stdout(process::Stdio::null())
        .stderr(process::Stdio::null())
        .spawn()
        .map(|child| child.id())
}

/// `permission TOOL [JSON]`: everything after TOOL is the tool input.
fn permission_directive(text: &str) -> Directive<'_> {
    let rest = text
        .trim_start()
        .trim_start_matches("permission")
        .trim_start();
    let (tool, input) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let input =
        serde_json::from_str(input.trim()).unwrap_or_else(|_| json!({"command": "touch x"}));
    Directive::Permission(tool, input)
}

/// How a turn ended.
enum Ending {
    /// Success; the text is the last assistant text.
    Done(String),
    /// An API error reported the way the real CLI does (`subtype:"success"`, `is_error:true`).
    ApiError(String),
    /// Interrupted while streaming, sleeping or stalled.
    Interrupted,
    /// Stopped at a tool: deny with interrupt, or interrupted while asking.
    ToolStop,
    /// stdin closed while the turn could never finish: end the process without a result.
    Abandon,
}

enum Decision {
    /// The input used, and the host's answer (null when no one was asked).
    Allow(Value, Value),
    Deny {
        message: String,
        stop: bool,
    },
    Interrupted,
    Abandon,
}

struct Turn<'a> {
    sh: &'a Shared,
    started: Instant,
    denials: Vec<Value>,
}

impl<'a> Turn<'a> {
    fn new(sh: &'a Shared) -> Turn<'a> {
        Turn {
            sh,
            started: Instant::now(),
            denials: Vec::new(),
        }
    }

    /// Runs one turn from init to result. Returns false if the process should end now.
    fn play(mut self, text: &str) -> bool {
        let first = {
            let mut s = self.sh.state();
            s.turns_started += 1;
            s.turns_started == 1
        };
        if first {
            self.check_resume();
        }
        self.sh.emit(&self.sh.init_line());
        if first {
            remember_session(&self.sh.cfg.session_id);
        }
        match self.run(text) {
            Ending::Abandon => false,
            ending => {
                self.finish(ending);
                true
            }
        }
    }

    fn run(&mut self, text: &str) -> Ending {
        match parse_directive(text) {
            Directive::Echo => self.reply(&format!("echo: {text}")),
            Directive::Emit(n) => self.lines(n, 0),
            Directive::Slow(n, ms) => self.lines(n, ms),
            Directive::Stream(n, ms) => self.stream(n, ms),
            Directive::Sleep(ms) => self.sleep(ms, text),
            Directive::Stall => self.stall(),
            Directive::Crash => {
                self.say("crashing now");
                self.sh.exit(3)
            }
            Directive::CrashMidline => self
                .sh
                .die_after(r#"{"type":"assistant","message":{"id":"msg_"#, 3),
            Directive::Garbage => {
                self.sh.emit_raw("this is not json {\n");
                self.reply("echo: garbage")
            }
            Directive::Stderr(n) => self.stderr(n, text),
            Directive::Bigline(bytes) => {
                let len = usize::try_from(bytes)
                    .unwrap_or(MAX_BIGLINE)
                    .min(MAX_BIGLINE);
                self.reply(&"x".repeat(len))
            }
            Directive::Error => self.api_error("API Error: 500 fake"),
            Directive::Permission(tool, input) => self.permission(tool, input),
            Directive::Permissions(n, tool) => self.permissions(n, tool),
            Directive::Whoami(paths) => self.reply(&whoami(&paths).to_string()),
            Directive::Stubborn => match stubborn_child() {
                Ok(pid) => {
                    self.say(&format!("stubborn child {pid}"));
                    self.stall()
                }
                Err(error) => self.reply(&format!("cannot start a stubborn child: {error}")),
            },
        }
    }

    // --- output helpers ---

    fn say(&self, text: &str) {
        let line =
            self.sh
                .assistant_line(&prefixed_id("msg_"), &self.sh.cfg.model, text_block(text));
        self.sh.emit(&line);
    }

    fn reply(&self, text: &str) -> Ending {
        self.say(text);
        Ending::Done(text.to_string())
    }

    fn tool_result(&self, tool_use_id: &str, content: &str, is_error: bool) {
        let block = json!({"tool_use_id": tool_use_id, "type": "tool_result",
                           "content": content, "is_error": is_error});
        self.sh.emit(&self.sh.user_line(block));
    }

    // --- directives ---

    /// `emit` (no pause) and `slow`: N assistant lines, checking for interrupts in between.
    fn lines(&self, n: u64, ms: u64) -> Ending {
        let mut last = String::new();
        for i in 1..=n {
            if self.sh.pause(if i == 1 { 0 } else { ms }) {
                return Ending::Interrupted;
            }
            last = format!("line {i}");
            self.say(&last);
        }
        Ending::Done(last)
    }

    fn stream(&self, n: u64, ms: u64) -> Ending {
        let msg_id = prefixed_id("msg_");
        let partial = self.sh.cfg.partial_messages;
        let event = |e: Value| {
            if partial {
                self.sh.emit(&self.sh.stream_event(&msg_id, e));
            }
        };
        event(json!({"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": self.sh.cfg.model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 1}}}));
        event(json!({"type": "content_block_start", "index": 0,
                     "content_block": {"type": "text", "text": ""}}));
        let mut text = String::new();
        for i in 1..=n {
            if self.sh.pause(ms) {
                return self.abort_stream(&msg_id, &text);
            }
            let chunk = format!("chunk {i} ");
            event(json!({"type": "content_block_delta", "index": 0,
                         "delta": {"type": "text_delta", "text": chunk}}));
            text.push_str(&chunk);
        }
        let line = self
            .sh
            .assistant_line(&msg_id, &self.sh.cfg.model, text_block(&text));
        self.sh.emit(&line);
        event(json!({"type": "content_block_stop", "index": 0}));
        event(json!({"type": "message_delta",
                     "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                     "usage": {"output_tokens": 5}}));
        event(json!({"type": "message_stop"}));
        Ending::Done(text)
    }

    /// Like the real CLI: the text streamed so far comes as an assistant line marked `aborted`.
    fn abort_stream(&self, msg_id: &str, text: &str) -> Ending {
        if !text.is_empty() {
            let mut line = self
                .sh
                .assistant_line(msg_id, &self.sh.cfg.model, text_block(text));
            line["aborted"] = json!(true);
            self.sh.emit(&line);
        }
        Ending::Interrupted
    }

    fn sleep(&self, ms: u64, text: &str) -> Ending {
        if self.sh.pause(ms) {
            return Ending::Interrupted;
        }
        self.reply(&format!("echo: {text}"))
    }

    fn stall(&self) -> Ending {
        let s = self
            .sh
            .wait_until(None, |s| s.interrupted || s.stdin_closed);
        if s.interrupted {
            Ending::Interrupted
        } else {
            Ending::Abandon
        }
    }

    fn stderr(&self, n: u64, text: &str) -> Ending {
        let mut err = io::stderr().lock();
        for i in 1..=n {
            let _ = writeln!(err, "stderr line {i}");
        }
        drop(err);
        self.reply(&format!("echo: {text}"))
    }

    fn api_error(&self, text: &str) -> Ending {
        let line = self
            .sh
            .assistant_line(&uuid_v4(), "<synthetic>", text_block(text));
        self.sh.emit(&line);
        Ending::ApiError(text.to_string())
    }

    fn permission(&mut self, tool: &str, input: Value) -> Ending {
        let tool_use_id = prefixed_id("toolu_");
        let block = json!({"type": "tool_use", "id": tool_use_id, "name": tool, "input": input});
        let line = self
            .sh
            .assistant_line(&prefixed_id("msg_"), &self.sh.cfg.model, block);
        self.sh.emit(&line);
        let decision = if self.auto_allowed(tool, &input) {
            Decision::Allow(input.clone(), Value::Null)
        } else if !self.sh.cfg.prompt_tool_stdio {
            self.deny_without_prompt(tool, &tool_use_id)
        } else {
            self.ask(tool, &tool_use_id, &input)
        };
        let denial = json!({"tool_name": tool, "tool_use_id": tool_use_id, "tool_input": input});
        match decision {
            Decision::Allow(used, answer) => {
                let block = json!({"tool_use_id": tool_use_id, "type": "tool_result",
                                   "content": format!("ran {tool} with {used}"), "is_error": false});
                let mut line = self.sh.user_line(block);
                if !answer.is_null() {
                    line["fake_permission_answer"] = answer;
                }
                self.sh.emit(&line);
                self.reply("tool finished")
            }
            Decision::Deny { message, stop } => {
                self.denials.push(denial);
                self.tool_result(&tool_use_id, &message, true);
                if stop {
                    Ending::ToolStop
                } else {
                    self.reply("tool denied")
                }
            }
            Decision::Interrupted => {
                self.denials.push(denial);
                self.tool_result(&tool_use_id, REJECTED, true);
                Ending::ToolStop
            }
            Decision::Abandon => Ending::Abandon,
        }
    }

    fn auto_allowed(&self, tool: &str, input: &Value) -> bool {
        let s = self.sh.state();
        rules_allow(&s.rules, tool, input)
            || s.mode == BYPASS
            || (s.mode == "acceptEdits" && EDIT_TOOLS.contains(&tool))
    }

    fn deny_without_prompt(&self, tool: &str, tool_use_id: &str) -> Decision {
        let message = format!("{tool} needs approval and there is no permission prompt tool");
        self.sh.emit(&json!({
            "type": "system", "subtype": "permission_denied", "tool_name": tool,
            "tool_use_id": tool_use_id, "message": message, "uuid": uuid_v4(),
            "session_id": self.sh.cfg.session_id,
        }));
        Decision::Deny {
            message,
            stop: false,
        }
    }

    /// Sends `can_use_tool` and waits for the answer, an interrupt, or the end of stdin.
    fn ask(&self, tool: &str, tool_use_id: &str, input: &Value) -> Decision {
        let request_id = self.request(tool, tool_use_id, input);
        let mut s = self.sh.wait_until(None, |s| {
            s.interrupted || s.stdin_closed || answered(s, &request_id)
        });
        let answer = take_answer(&mut s, &request_id);
        match answer {
            Some(answer) => decide(&answer, input, &mut s.rules),
            None if s.interrupted => Decision::Interrupted,
            None => Decision::Abandon,
        }
    }

    /// `permissions N TOOL`: N tool uses asked at once, each answered on its own.
    fn permissions(&mut self, n: u64, tool: &str) -> Ending {
        let uses: Vec<(String, Value)> = (1..=n)
            .map(|i| {
                (
                    prefixed_id("toolu_"),
                    json!({"command": format!("touch x{i}")}),
                )
            })
            .collect();
        for (id, input) in &uses {
            let block = json!({"type": "tool_use", "id": id, "name": tool, "input": input});
            let line = self
                .sh
                .assistant_line(&prefixed_id("msg_"), &self.sh.cfg.model, block);
            self.sh.emit(&line);
        }
        let asked: Vec<String> = uses
            .iter()
            .map(|(id, input)| self.request(tool, id, input))
            .collect();
        let mut s = self.sh.wait_until(None, |s| {
            s.interrupted || s.stdin_closed || asked.iter().all(|r| answered(s, r))
        });
        let answers: Vec<Option<Value>> = asked.iter().map(|r| take_answer(&mut s, r)).collect();
        if answers.iter().any(Option::is_none) {
            s.pending.clear();
            return if s.interrupted {
                Ending::ToolStop
            } else {
                Ending::Abandon
            };
        }
        let decisions: Vec<Decision> = answers
            .into_iter()
            .zip(&uses)
            .map(|(answer, (_, input))| decide(&answer.unwrap_or_default(), input, &mut s.rules))
            .collect();
        drop(s);
        for ((id, input), decision) in uses.iter().zip(decisions) {
            match decision {
                Decision::Allow(used, _) => {
                    self.tool_result(id, &format!("ran {tool} with {used}"), false)
                }
                Decision::Deny { message, .. } => {
                    self.denials
                        .push(json!({"tool_name": tool, "tool_use_id": id, "tool_input": input}));
                    self.tool_result(id, &message, true);
                }
                Decision::Interrupted | Decision::Abandon => self.tool_result(id, REJECTED, true),
            }
        }
        self.reply("tools finished")
    }

    /// Sends a `can_use_tool` request and records it as pending; answers its request id.
    fn request(&self, tool: &str, tool_use_id: &str, input: &Value) -> String {
        let request_id = uuid_v4();
        self.sh.state().pending.push(Pending {
            request_id: request_id.clone(),
            answer: None,
        });
        self.sh.emit(&json!({
            "type": "control_request", "request_id": request_id,
            "request": {
                "subtype": "can_use_tool", "tool_name": tool, "display_name": tool,
                "input": input, "description": format!("fake wants to use {tool}"),
                "permission_suggestions": suggestions(tool, input, &self.sh.cfg.cwd),
                "blocked_path": null, "tool_use_id": tool_use_id,
            },
        }));
        request_id
    }

    // --- end of turn ---

    fn finish(&self, ending: Ending) {
        let interruption = match ending {
            Ending::Interrupted => Some("[Request interrupted by user]"),
            Ending::ToolStop => Some("[Request interrupted by user for tool use]"),
            _ => None,
        };
        if let Some(text) = interruption {
            self.sh.emit(&self.sh.user_line(text_block(text)));
        }
        let mut result = result_fields(&ending);
        let is_error = result["is_error"].as_bool().unwrap_or(true);
        let cost = {
            let mut s = self.sh.state();
            s.results += 1;
            s.last_result_error = is_error;
            s.results as f64 / 10_000.0
        };
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let common = json!({
            "type": "result", "duration_ms": ms, "duration_api_ms": ms, "num_turns": 1,
            "session_id": self.sh.cfg.session_id, "total_cost_usd": cost,
            "usage": {"input_tokens": 10, "output_tokens": 5},
            "permission_denials": self.denials, "uuid": uuid_v4(),
        });
        if let (Some(fields), Value::Object(common)) = (result.as_object_mut(), common) {
            fields.extend(common);
        }
        self.sh.emit(&result);
    }

    /// The `--resume` check (only with `FAKE_CLAUDE_RESUME_FAIL_UNKNOWN`). Exits on failure.
    fn check_resume(&self) {
        let Some(id) = self.sh.cfg.resume.as_deref() else {
            return;
        };
        if env::var_os("FAKE_CLAUDE_RESUME_FAIL_UNKNOWN").is_none() || known_sessions().contains(id)
        {
            return;
        }
        let error = format!("No conversation found with session ID: {id}");
        let _ = writeln!(io::stderr(), "{error}");
        self.sh.emit(&json!({
            "type": "result", "subtype": "error_during_execution", "duration_ms": 0,
            "duration_api_ms": 0, "is_error": true, "num_turns": 0, "stop_reason": null,
            "session_id": id, "total_cost_usd": 0,
            "usage": {"input_tokens": 0, "output_tokens": 0}, "permission_denials": [],
            "errors": [error], "uuid": uuid_v4(),
        }));
        self.sh.exit(1);
    }
}

/// Turns a `can_use_tool` answer into a decision, recording "always allow" rules.
fn decide(answer: &Value, input: &Value, rules: &mut HashSet<String>) -> Decision {
    if answer.get("behavior").and_then(Value::as_str) != Some("allow") {
        let message = answer.get("message").and_then(Value::as_str);
        return Decision::Deny {
            message: message.unwrap_or("denied").to_string(),
            stop: answer.get("interrupt").and_then(Value::as_bool) == Some(true),
        };
    }
    rules.extend(answered_rules(answer));
    let used = answer
        .get("updatedInput")
        .filter(|v| !v.is_null())
        .unwrap_or(input);
    Decision::Allow(used.clone(), answer.clone())
}

/// The fields of a `result` line that depend on how the turn ended.
fn result_fields(ending: &Ending) -> Value {
    match ending {
        Ending::Done(text) => json!({
            "subtype": "success", "is_error": false, "result": text, "stop_reason": "end_turn",
            "terminal_reason": "completed", "api_error_status": null,
        }),
        Ending::ApiError(text) => json!({
            "subtype": "success", "is_error": true, "result": text,
            "stop_reason": "stop_sequence", "terminal_reason": "api_error",
            "api_error_status": 500,
        }),
        Ending::Interrupted | Ending::Abandon => json!({
            "subtype": "error_during_execution", "is_error": true, "stop_reason": null,
            "terminal_reason": "aborted_streaming", "errors": ["fake: interrupted by user"],
        }),
        Ending::ToolStop => json!({
            "subtype": "error_during_execution", "is_error": true, "stop_reason": "tool_use",
            "terminal_reason": "aborted_tools", "errors": ["fake: stopped at a tool use"],
        }),
    }
}

fn known_sessions() -> HashSet<String> {
    env::var_os("FAKE_CLAUDE_KNOWN_SESSIONS")
        .and_then(|path| fs::read_to_string(path).ok())
        .map(|text| text.lines().map(|l| l.trim().to_string()).collect())
        .unwrap_or_default()
}

fn remember_session(id: &str) {
    match env::var_os("FAKE_CLAUDE_KNOWN_SESSIONS") {
        Some(path) if !known_sessions().contains(id) => append_line(&path, id),
        _ => {}
    }
}

// ----------------------------------------------------------------------------------------------
// main
// ----------------------------------------------------------------------------------------------

/// Runs queued turns one at a time until stdin is closed and the queue is empty.
fn worker(sh: &Shared) -> i32 {
    while let Some(text) = sh.next_turn() {
        let carry_on = Turn::new(sh).play(&text);
        sh.state().running = false;
        if !carry_on {
            break;
        }
    }
    sh.exit_code()
}

fn main() {
    let cfg = Config::from_args(
        env::args_os()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
    );
    write_spawn_log(&cfg);
    let sh = Arc::new(Shared::new(cfg));
    let turns = {
        let sh = Arc::clone(&sh);
        thread::spawn(move || worker(&sh))
    };
    read_stdin(&sh);
    sh.update(|s| s.stdin_closed = true);
    let code = turns.join().unwrap_or(1);
    sh.exit(code);
}
