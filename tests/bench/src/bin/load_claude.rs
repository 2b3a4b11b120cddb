//! `load-claude`: a fake Claude Code CLI made for load, driven by `pocket-relay-bench`.
//!
//! It speaks just enough of the headless stream-json protocol (one JSON object per line on stdin
//! and stdout, as `claude -p --input-format stream-json --output-format stream-json` does) for the
//! relay to run prompts through it, and stays small so that what a benchmark measures is the
//! relay, not its fake. For scripted behaviour (permissions, interrupts, crashes) the tests use
//! `tests/fakes/src/bin/fake_claude.rs` instead.
//!
//! Per user turn (`{"type":"user","message":{"content":"text" | [blocks]}}`), in arrival order:
//! - a `system/init` line;
//! - when the prompt text is exactly `load N RATE`: N `assistant` lines, RATE per second (RATE 0
//!   or `max`: as fast as possible), each carrying `"sent_ns"` (nanoseconds since the UNIX epoch
//!   when it was written) at top level and a small text block; any other prompt: one assistant
//!   line (`echo: <prompt>`);
//! - a `result` line.
//!
//! Every line is flushed as it is written. A `control_request` gets an empty success answer, other
//! lines are ignored. EOF on stdin: exit 0. Command-line flags are ignored except `--resume ID` and
//! `--session-id ID`, which set the session id it reports.

use std::io::{self, BufRead, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

fn main() {
    let session_id = session_id_from_args();
    let stdin = io::stdin();
    let mut out = io::BufWriter::new(io::stdout().lock());
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let written = match msg.get("type").and_then(Value::as_str) {
            Some("user") => turn(&mut out, &session_id, &prompt_text(&msg)),
            Some("control_request") => emit(
                &mut out,
                &json!({"type": "control_response", "response": {
                    "subtype": "success", "request_id": msg.get("request_id"), "response": {}}}),
            ),
            _ => Ok(()),
        };
        if written.is_err() {
            // The relay closed our stdout: nobody is listening any more.
            std::process::exit(0);
        }
    }
}

/// One turn: init, the assistant lines, the result.
fn turn(out: &mut impl Write, session_id: &str, prompt: &str) -> io::Result<()> {
    let started = Instant::now();
    emit(
        out,
        &json!({"type": "system", "subtype": "init", "session_id": session_id,
                "cwd": ".", "model": "load", "tools": [], "mcp_servers": [],
                "permissionMode": "default", "claude_code_version": "load"}),
    )?;
    match parse_load(prompt) {
        Some((count, rate)) => {
            for i in 0..count {
                if rate > 0.0 {
                    // Pace against the start, so that a late line does not delay the next ones.
                    let due = started + Duration::from_secs_f64(i as f64 / rate);
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                }
                assistant(out, session_id, &format!("line {}", i + 1))?;
            }
        }
        None => assistant(out, session_id, &format!("echo: {prompt}"))?,
    }
    let ms = started.elapsed().as_millis() as u64;
    emit(
        out,
        &json!({"type": "result", "subtype": "success", "is_error": false, "result": "done",
                "stop_reason": "end_turn", "duration_ms": ms, "duration_api_ms": ms,
                "num_turns": 1, "session_id": session_id, "total_cost_usd": 0.0,
                "usage": {"input_tokens": 1, "output_tokens": 1}}),
    )
}

/// One `assistant` line stamped with the time it is written. Written by hand, not through a
/// `Value`, because it is the hot path and `sent_ns` is a `u128`.
fn assistant(out: &mut impl Write, session_id: &str, text: &str) -> io::Result<()> {
    let text = serde_json::to_string(text)?;
    let session_id = serde_json::to_string(session_id)?;
    let sent_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    writeln!(
        out,
        r#"{{"type":"assistant","message":{{"type":"message","role":"assistant","model":"load","content":[{{"type":"text","text":{text}}}]}},"session_id":{session_id},"sent_ns":{sent_ns}}}"#
    )?;
    out.flush()
}

fn emit(out: &mut impl Write, line: &Value) -> io::Result<()> {
    serde_json::to_writer(&mut *out, line)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// `load N RATE` → (N, RATE lines per second; 0 = unpaced).
fn parse_load(prompt: &str) -> Option<(u64, f64)> {
    let mut words = prompt.split_whitespace();
    if words.next()? != "load" {
        return None;
    }
    let count = words.next()?.parse().ok()?;
    let rate = match words.next()? {
        "max" => 0.0,
        rate => rate
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite() && *r >= 0.0)?,
    };
    words.next().is_none().then_some((count, rate))
}

/// The prompt as text: a string content, or its text blocks joined with newlines.
fn prompt_text(msg: &Value) -> String {
    match msg.pointer("/message/content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// `--resume ID` or `--session-id ID` (also `--flag=ID`), else an id made from pid and time.
fn session_id_from_args() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    for (i, arg) in args.iter().enumerate() {
        for flag in ["--resume", "-r", "--session-id"] {
            if arg == flag {
                if let Some(id) = args.get(i + 1) {
                    return id.clone();
                }
            }
            if let Some(id) = arg.strip_prefix(flag).and_then(|s| s.strip_prefix('=')) {
                return id.to_string();
            }
        }
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 40);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        mixed >> 32,
        (mixed >> 16) & 0xffff,
        mixed & 0xfff,
        std::process::id() & 0xfff,
        nanos & 0xffff_ffff_ffff
    )
}
