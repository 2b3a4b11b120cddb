//! `app`: the phone app in Chromium against the release server. Stores one session of N events
//! (default 10,000: load-claude's `load` lines, then one last short answer), then runs the Node
//! script `tests/e2e/perf/app-perf.mjs`, which drives Chromium through playwright-core and CDP and
//! answers the figures: first-load bytes, the sessions list under Lighthouse's mobile profile
//! (fresh and from the service worker), main-thread time and JS heap of opening the big session,
//! and whether scrolling up loads older pages.
//!
//! Needs Node.js, `npm ci --prefix tests/e2e` and Chromium (`/usr/bin/chromium`, or `--chromium`).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{check_alive, Env};
use crate::client::{Conn, Link};
use crate::report::{Comparison, Report};
use crate::server::ServerOptions;
use crate::Error;

/// The text of the session's last answer, which the script waits for (load-claude echoes it).
const LAST_PROMPT: &str = "the last answer";
/// How long the browser script may take.
const SCRIPT_PATIENCE: Duration = Duration::from_secs(300);

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// Events the big session stores (at least; its exact last_seq is reported)
    #[arg(long, default_value_t = 10_000)]
    pub events: u64,
    /// The Chromium binary
    #[arg(long, default_value = "/usr/bin/chromium", value_name = "PATH")]
    pub chromium: PathBuf,
    /// The Node.js script that drives it [default: tests/e2e/perf/app-perf.mjs of this source tree]
    #[arg(long, value_name = "PATH")]
    pub script: Option<PathBuf>,
    /// Node.js
    #[arg(long, default_value = "node", value_name = "PATH")]
    pub node: PathBuf,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            events: 10_000,
            chromium: "/usr/bin/chromium".into(),
            script: None,
            node: "node".into(),
        }
    }
}

impl Args {
    fn to_args(&self) -> Vec<String> {
        let mut args = vec!["--events".into(), self.events.to_string()];
        if self.chromium.as_path() != std::path::Path::new("/usr/bin/chromium") {
            args.extend(["--chromium".into(), self.chromium.display().to_string()]);
        }
        if let Some(script) = &self.script {
            args.extend(["--script".into(), script.display().to_string()]);
        }
        args
    }

    fn script(&self) -> PathBuf {
        self.script.clone().unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../e2e/perf/app-perf.mjs")
        })
    }
}

/// (figure, unit, comparison, limit, what) for each target of the brief.
const TARGETS: [(&str, &str, Comparison, f64, &str); 5] = [
    (
        "first_load_kb",
        "KB",
        Comparison::AtMost,
        150.0,
        "first load, all assets compressed",
    ),
    (
        "fresh_list_shown_ms",
        "ms",
        Comparison::AtMost,
        2000.0,
        "sessions list shown, fresh load, mobile profile",
    ),
    (
        "repeat_list_shown_ms",
        "ms",
        Comparison::AtMost,
        300.0,
        "sessions list shown, repeat visit (service worker), mobile profile",
    ),
    (
        "open_10k_main_thread_ms",
        "ms",
        Comparison::AtMost,
        300.0,
        "open the 10,000-event session: main-thread time (CPU 4x slower)",
    ),
    (
        "open_10k_heap_mb",
        "MB",
        Comparison::AtMost,
        50.0,
        "JS heap after opening the 10,000-event session",
    ),
];

pub async fn run(env: &Env, args: &Args) -> Result<Report, Error> {
    let script = args.script();
    if !script.is_file() {
        return Err(format!("no browser script at {}", script.display()).into());
    }
    if !args.chromium.is_file() {
        return Err(format!(
            "no Chromium at {} (apt-get install chromium, or --chromium PATH)",
            args.chromium.display()
        )
        .into());
    }
    let mut server = env.start_server(ServerOptions::one_session()).await?;
    let url = format!("http://{}", server.addr);
    let mut writer = Conn::open(server.addr, Link::default()).await?;
    let session = writer.create_session(&server.project()).await?;
    let started = Instant::now();
    // The turn around the lines and the last answer add 18 events (session.created included).
    let lines = args.events.saturating_sub(18).max(1);
    prompt_and_store(
        &mut writer,
        server.addr,
        &session,
        &format!("load {lines} max"),
    )
    .await?;
    let last_seq = prompt_and_store(&mut writer, server.addr, &session, LAST_PROMPT).await?;
    drop(writer);
    eprintln!(
        "[bench] app: {last_seq} events stored in {:.1} s; starting Chromium",
        started.elapsed().as_secs_f64()
    );

    let mut command = tokio::process::Command::new(&args.node);
    command
        .arg(&script)
        .args(["--url", &url, "--session", &session])
        .args(["--last-text", &format!("echo: {LAST_PROMPT}")])
        .env("POCKET_RELAY_CHROMIUM", &args.chromium)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let output = tokio::time::timeout(SCRIPT_PATIENCE, command.output())
        .await
        .map_err(|_| "the browser script did not finish in time")?
        .map_err(|e| format!("cannot run {}: {e}", args.node.display()))?;
    check_alive(&mut server)?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let answer: Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .ok_or_else(|| {
            format!(
                "the browser script answered no JSON (exit {:?}): {stdout}",
                output.status.code()
            )
        })?;

    let mut report = Report::new("app", env.command("app", &args.to_args()));
    report.figure("session_events", last_seq, "");
    let figures = answer["figures"].as_object().cloned().unwrap_or_default();
    let mut measured = serde_json::Map::new();
    for (key, value) in &figures {
        match value.as_f64() {
            Some(number) if key == "first_load_bytes" => {
                report.figure("first_load", number as u64, "bytes");
                report.float("first_load", number / 1000.0, "KB");
                measured.insert("first_load_kb".into(), json!(number / 1000.0));
            }
            Some(number) => {
                // `x_ms` is the figure `x` in ms (the JSON key gets the unit back).
                let (name, unit) = split_unit(key);
                report.float(name, number, unit);
                measured.insert(key.clone(), json!(number));
            }
            None => report.figure(key, value.clone(), ""),
        }
    }
    let mut unmeasured = Vec::new();
    for (key, unit, comparison, limit, what) in TARGETS {
        match measured.get(key).and_then(Value::as_f64) {
            Some(actual) => report.target(what, actual, comparison, limit, unit),
            None => unmeasured.push(what),
        }
    }
    let scrolls = figures.get("scroll_loads_older").and_then(Value::as_bool);
    report.target(
        "scrolling up loads older pages",
        if scrolls == Some(true) { 1.0 } else { 0.0 },
        Comparison::AtLeast,
        1.0,
        "",
    );
    for missing in answer["missing"].as_array().into_iter().flatten() {
        report.note(format!(
            "not measured: {}",
            missing.as_str().unwrap_or_default()
        ));
    }
    if !unmeasured.is_empty() {
        report.note(format!("no figure for: {}", unmeasured.join("; ")));
        // A figure that could not be measured is not a target met.
        report.target(
            "every target measured",
            (TARGETS.len() - unmeasured.len()) as f64,
            Comparison::AtLeast,
            TARGETS.len() as f64,
            "",
        );
    }
    report.note(
        "Chromium offers brotli only over HTTPS: over plain http the assets come gzip-compressed",
    );
    Ok(report)
}

fn split_unit(key: &str) -> (&str, &'static str) {
    if let Some(name) = key.strip_suffix("_ms") {
        (name, "ms")
    } else if let Some(name) = key.strip_suffix("_mb") {
        (name, "MB")
    } else {
        (key, "")
    }
}

/// Sends a prompt and waits until the session is idle again with every event stored; answers the
/// session's last seq.
async fn prompt_and_store(
    writer: &mut Conn,
    addr: std::net::SocketAddr,
    session: &str,
    text: &str,
) -> Result<u64, Error> {
    let before = writer.last_seq(session).await?;
    writer
        .request(
            "session.prompt",
            json!({"session_id": session, "text": text}),
        )
        .await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let data = writer
            .request("session.get", json!({"session_id": session}))
            .await?;
        let info = &data["session"];
        let assigned = info["last_seq"].as_u64().unwrap_or(0);
        let idle = info["status"] == "idle" && info["queue_length"].as_u64() == Some(0);
        if idle
            && assigned > before + 2
            && super::replay::stored_seq(addr, session).await >= Some(assigned)
        {
            return Ok(assigned);
        }
        if Instant::now() > deadline {
            return Err(format!("the prompt {text:?} did not finish in time").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
