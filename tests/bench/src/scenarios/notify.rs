//! `notify`: how soon a permission request reaches the phones. D push subscriptions (devices) at
//! a local fake push service; R rounds, each a new session whose prompt asks a permission (the
//! fake claude of the tests, `fake-claude`, next to this executable); the latency of each push is
//! from the `permission.requested` event's `ts` (taken before the store commits it, in ms: the
//! figure errs high by < 1 ms) to the push request's last byte at the fake push service. Then the
//! same with one more subscription whose endpoint never answers: the others must not wait for it.
//! One request before the measured ones is not counted (the relay's client connects to the push
//! service then, as it stays connected to a real one between notifications).

use std::time::Duration;

use serde_json::{json, Value};
use test_support::receiver::{Receiver, Reply};

use super::{check_alive, cpu_figures, Env};
use crate::client::{Conn, Incoming, Link, PATIENCE};
use crate::proc_stats::{cpu_time, CpuBreakdownMeter};
use crate::report::{Comparison, Report};
use crate::server::{ClaudeSetup, ServerOptions};
use crate::stats::{ms, Summary};
use crate::Error;

/// A browser's subscription keys: the example of RFC 8291 §5 (every subscription may share them;
/// the fake push service does not decrypt).
const P256DH: &str =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// Push subscriptions (devices)
    #[arg(long, default_value_t = 100)]
    pub devices: usize,
    /// Permission requests per phase (each in a session of its own, so no burst coalesces)
    #[arg(long, default_value_t = 20)]
    pub rounds: usize,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            devices: 100,
            rounds: 20,
        }
    }
}

impl Args {
    fn to_args(&self) -> Vec<String> {
        vec![
            "--devices".into(),
            self.devices.to_string(),
            "--rounds".into(),
            self.rounds.to_string(),
        ]
    }
}

pub async fn run(env: &Env, args: &Args) -> Result<Report, Error> {
    let fake_claude = env.bins.load_claude.with_file_name("fake-claude");
    if !fake_claude.is_file() {
        return Err(format!(
            "no {} (build it: cargo build --release -p pocket-relay-fakes)",
            fake_claude.display()
        )
        .into());
    }
    let push = Receiver::start().await?;
    push.always("/hang", Reply::Hang);
    let sessions = args.rounds * 2 + 2;
    let mut server = env
        .start_server(ServerOptions {
            max_running: sessions,
            max_sessions: sessions,
            client_buffer: None,
            handshake_timeout_s: None,
            claude: Some(ClaudeSetup {
                binary: fake_claude,
                env: Vec::new(),
            }),
        })
        .await?;
    for device in 0..args.devices {
        subscribe(&server, &format!("{}/push/{device}", push.url)).await?;
    }
    let mut conn = Conn::open(server.addr, Link::default()).await?;
    let project = server.project();
    let mut report = Report::new("notify", env.command("notify", &args.to_args()));
    report.figure("devices", args.devices, "");
    report.figure("rounds", args.rounds, "");

    // One request first, not counted: the relay's client opens its connections to the push
    // service (as it keeps them open to a real one between notifications).
    let warm_up = Args {
        rounds: 1,
        ..args.clone()
    };
    phase(&mut conn, &push, &project, &warm_up).await?;
    let pid = server.pid().to_string();
    let breakdown = CpuBreakdownMeter::start(server.pid());
    let cpu_before = cpu_time(&pid)?;
    let mut calm = phase(&mut conn, &push, &project, args).await?;
    let cpu_calm = cpu_time(&pid)?.saturating_sub(cpu_before);
    let calm = Summary::of(&mut calm);
    subscribe(&server, &format!("{}/hang/0", push.url)).await?;
    let mut hanging = phase(&mut conn, &push, &project, args).await?;
    let hanging = Summary::of(&mut hanging);
    let breakdown = breakdown.read();
    check_alive(&mut server)?;

    report.float(
        "server_cpu_per_request",
        cpu_calm.as_secs_f64() * 1000.0 / args.rounds.max(1) as f64,
        "ms",
    );
    cpu_figures(&mut report, &breakdown);
    report.latency("push_latency", &calm);
    report.latency("push_latency_with_a_hanging_endpoint", &hanging);
    report.figure(
        "hanging_endpoint_requests",
        push.received_at("/hang").len(),
        "",
    );
    report.target(
        "push latency p99",
        ms(calm.p99),
        Comparison::AtMost,
        50.0,
        "ms",
    );
    report.target(
        "push latency p99 with a hanging endpoint",
        ms(hanging.p99),
        Comparison::AtMost,
        50.0,
        "ms",
    );
    report.note(
        "latency: from permission.requested's ts (before its commit, ms) to the push's last byte \
         at the fake push service on 127.0.0.1",
    );
    Ok(report)
}

/// Registers a subscription at `endpoint`.
async fn subscribe(server: &crate::server::BenchServer, endpoint: &str) -> Result<(), Error> {
    let body = json!({"endpoint": endpoint, "keys": {"p256dh": P256DH, "auth": AUTH}});
    crate::http::post_json(server.addr, "/api/v1/push/subscriptions", &body.to_string())
        .await
        .map(drop)
        .ok_or_else(|| format!("cannot subscribe {endpoint}").into())
}

/// `args.rounds` permission requests, one per new session; answers each push's latency (ns).
async fn phase(
    conn: &mut Conn,
    push: &Receiver,
    project: &str,
    args: &Args,
) -> Result<Vec<u64>, Error> {
    let mut latencies = Vec::with_capacity(args.rounds * args.devices);
    for _ in 0..args.rounds {
        let before = push.received_at("/push/").len();
        let session = conn.create_session(project).await?;
        conn.subscribe(&session, 0).await?;
        let prompt = conn
            .send_request(
                "session.prompt",
                json!({"session_id": session, "text": r#"permission Bash {"command":"make"}"#}),
            )
            .await?;
        let stored_ns = requested_ts(conn, &session, &prompt).await?;
        let wanted = before + args.devices;
        let received = push
            .wait_until(PATIENCE, |all| {
                all.iter().filter(|r| r.path.starts_with("/push/")).count() >= wanted
            })
            .await
            .ok_or("the pushes did not all arrive")?;
        latencies.extend(
            received
                .iter()
                .filter(|r| r.path.starts_with("/push/"))
                .skip(before)
                .map(|r| r.at_ns.saturating_sub(stored_ns)),
        );
    }
    Ok(latencies)
}

/// The `ts` of the session's `permission.requested` event, in ns since the UNIX epoch, once the
/// prompt `prompt` (a request id) was answered too (the event may come first).
async fn requested_ts(conn: &mut Conn, session: &str, prompt: &str) -> Result<u64, Error> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let (mut answered, mut stored) = (false, None);
    while !answered || stored.is_none() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Incoming::Text(text, _) = conn.recv(left.max(Duration::from_millis(1))).await? else {
            return Err("the connection ended".into());
        };
        let frame: Value = serde_json::from_str(&text)?;
        if frame["type"] == "response" && frame["id"] == prompt {
            if frame["ok"] != true {
                return Err(format!("the prompt failed: {frame}").into());
            }
            answered = true;
        } else if frame["type"] == "event"
            && frame["kind"] == "permission.requested"
            && frame["session_id"] == session
        {
            let ts = frame["ts"].as_str().ok_or("an event without ts")?;
            let when = chrono::DateTime::parse_from_rfc3339(ts)?;
            stored = when
                .timestamp_nanos_opt()
                .and_then(|ns| u64::try_from(ns).ok());
            if stored.is_none() {
                return Err("a ts out of range".into());
            }
        }
    }
    stored.ok_or_else(|| "no permission request".into())
}
