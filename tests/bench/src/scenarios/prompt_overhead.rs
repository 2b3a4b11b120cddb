//! `prompt-overhead`: what the relay adds to a prompt. Turn by turn, a prompt through the relay
//! (`session.prompt` sent → `prompt.completed` received) and the same turn written to a process
//! of the same `claude` driven directly over its pipes (user line written → `result` line read),
//! the two in alternating order: load-claude, and with `--claude` also the real CLI against the
//! fake Anthropic API.
//!
//! The real CLI's own time varies by tens of ms from turn to turn, far more than the relay adds.
//! So each turn's wall time has the CLI's own measure of the turn taken off (`duration_ms` of its
//! `result`, which the relay passes on in `prompt.completed`), on both paths, and the figure is
//! the median of the pairs' differences of what is left, with its 95% confidence interval over
//! 400 pairs by default. The plain difference of wall times is reported as well.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use super::{check_alive, cpu_figures, Env};
use crate::client::{Conn, Incoming, Link, PATIENCE};
use crate::fake_api::FakeApi;
use crate::frame::Frame;
use crate::proc_stats::{CpuBreakdownMeter, CpuMeter};
use crate::report::{Comparison, Report};
use crate::server::{ClaudeSetup, ServerOptions};
use crate::stats::{ms, ns, MedianInterval, Summary};
use crate::Error;

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// Prompts measured on each path
    #[arg(long, default_value_t = 200)]
    pub prompts: usize,
    /// Prompts sent first and not measured (the first one starts the process)
    #[arg(long, default_value_t = 5)]
    pub warmup: usize,
    /// Also measure follow-up prompts with this Claude Code CLI (the real one) against the
    /// project's fake Anthropic API, through the relay and driven directly
    #[arg(long, value_name = "PATH")]
    pub claude: Option<PathBuf>,
    /// The fake Anthropic API for `--claude` [default: `fake-anthropic` next to this executable;
    /// build it: cargo build --release -p pocket-relay-fakes]
    #[arg(long, value_name = "PATH")]
    pub fake_anthropic: Option<PathBuf>,
    /// Prompts measured on each path with `--claude`
    #[arg(long, default_value_t = 400)]
    pub claude_prompts: usize,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            prompts: 200,
            warmup: 5,
            claude: None,
            fake_anthropic: None,
            claude_prompts: 400,
        }
    }
}

impl Args {
    fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "--prompts".into(),
            self.prompts.to_string(),
            "--warmup".into(),
            self.warmup.to_string(),
        ];
        if let Some(claude) = &self.claude {
            args.push("--claude".into());
            args.push(claude.to_string_lossy().into_owned());
            if let Some(api) = &self.fake_anthropic {
                args.push("--fake-anthropic".into());
                args.push(api.to_string_lossy().into_owned());
            }
            args.push("--claude-prompts".into());
            args.push(self.claude_prompts.to_string());
        }
        args
    }
}

/// The command line the relay gives Claude Code for a session without live deltas (the bench's
/// sessions are created with `stream_deltas: false`), so both paths run the same process.
fn claude_args(cwd: &str) -> Vec<String> {
    actors::claude_process::LaunchSpec {
        cwd: cwd.into(),
        model: None,
        permission_mode: actors::session_info::PermissionMode::default_mode(),
        effort: None,
        allow_bypass: false,
        stream_deltas: false,
        resume: None,
        allowed_rules: Vec::new(),
        run_as: None,
    }
    .args(&actors::config::ClaudeConfig::default())
}

pub async fn run(env: &Env, args: &Args) -> Result<Report, Error> {
    let mut server = env.start_server(ServerOptions::one_session()).await?;
    let mut conn = Conn::open(server.addr, Link::default()).await?;
    let session = conn.create_session(&server.project()).await?;
    conn.subscribe(&session, 0).await?;
    let mut direct = Direct::start(&env.bins.load_claude, &[], &server.project())?;
    let cpu = CpuMeter::start(server.pid());
    let breakdown = CpuBreakdownMeter::start(server.pid());
    let (relay, direct) =
        interleaved(&mut conn, &session, &mut direct, args.warmup, args.prompts).await?;
    let (relay, direct) = (walls(&relay), walls(&direct));
    let server_cpu = cpu.percent();
    let breakdown = breakdown.read();
    check_alive(&mut server)?;

    let (mut relay, mut direct) = (relay, direct);
    let relay = Summary::of(&mut relay);
    let direct = Summary::of(&mut direct);
    let added_p50 = ms(relay.p50) - ms(direct.p50);
    let mut report = Report::new(
        "prompt-overhead",
        env.command("prompt-overhead", &args.to_args()),
    );
    report.figure("prompts", args.prompts, "");
    report.float("relay_p50", ms(relay.p50), "ms");
    report.float("relay_p99", ms(relay.p99), "ms");
    report.float("relay_max", ms(relay.max), "ms");
    report.float("relay_mean", ms(relay.mean), "ms");
    report.float("direct_p50", ms(direct.p50), "ms");
    report.float("direct_p99", ms(direct.p99), "ms");
    report.float("direct_max", ms(direct.max), "ms");
    report.float("direct_mean", ms(direct.mean), "ms");
    report.float("added_p50", added_p50, "ms");
    report.float("added_p99", ms(relay.p99) - ms(direct.p99), "ms");
    report.float(
        "ratio_p50",
        relay.p50 as f64 / (direct.p50 as f64).max(1.0),
        "x",
    );
    report.float(
        "server_cpu_during_relay_prompts",
        server_cpu,
        "% of one core",
    );
    cpu_figures(&mut report, &breakdown);
    report.target(
        "added by the relay at p50",
        added_p50,
        Comparison::Below,
        2.0,
        "ms",
    );
    drop(server);
    if let Some(claude) = &args.claude {
        real_cli(env, args, claude, &mut report).await?;
    }
    Ok(report)
}

/// Follow-up prompts in a live session of the real CLI, through the relay and over its pipes.
async fn real_cli(env: &Env, args: &Args, claude: &Path, report: &mut Report) -> Result<(), Error> {
    let api_binary = match &args.fake_anthropic {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .map(|dir| dir.join("fake-anthropic"))
            .ok_or("cannot tell where this executable lives")?,
    };
    let claude = &claude
        .canonicalize()
        .map_err(|e| format!("no Claude Code CLI at {}: {e}", claude.display()))?;
    let api = FakeApi::start(&api_binary)?;
    let scratch = crate::server::ScratchDir::new(env.bins.keep_dir)?;
    let claude_env = api.claude_env(scratch.path())?;
    let mut server = env
        .start_server(ServerOptions {
            claude: Some(ClaudeSetup {
                binary: claude.to_path_buf(),
                env: claude_env.clone(),
            }),
            ..ServerOptions::one_session()
        })
        .await?;
    let mut conn = Conn::open(server.addr, Link::default()).await?;
    let session = conn.create_session(&server.project()).await?;
    conn.subscribe(&session, 0).await?;
    let mut direct = Direct::start(claude, &claude_env, &server.project())?;
    // The first prompt starts the CLI; the second is the first follow-up.
    let (relay_turns, direct_turns) =
        interleaved(&mut conn, &session, &mut direct, 2, args.claude_prompts).await?;
    check_alive(&mut server)?;
    let (mut relay, mut direct) = (walls(&relay_turns), walls(&direct_turns));
    let paired = paired_differences_ms(&relay, &direct);
    let mut relay_outside: Vec<f64> = relay_turns.iter().filter_map(Turn::outside_ms).collect();
    let mut direct_outside: Vec<f64> = direct_turns.iter().filter_map(Turn::outside_ms).collect();
    let mut outside_differences: Vec<f64> = relay_turns
        .iter()
        .zip(&direct_turns)
        .filter_map(|(r, d)| Some(r.outside_ms()? - d.outside_ms()?))
        .collect();
    if outside_differences.len() < relay_turns.len() {
        return Err("a turn's result carried no duration_ms".into());
    }
    let relay_outside = MedianInterval::of(&mut relay_outside);
    let direct_outside = MedianInterval::of(&mut direct_outside);
    let outside = MedianInterval::of(&mut outside_differences);
    let relay = Summary::of(&mut relay);
    let direct = Summary::of(&mut direct);
    let added_p50 = ms(relay.p50) - ms(direct.p50);
    report.figure("claude_prompts", args.claude_prompts, "");
    report.float("claude_relay_p50", ms(relay.p50), "ms");
    report.float("claude_relay_p99", ms(relay.p99), "ms");
    report.float("claude_direct_p50", ms(direct.p50), "ms");
    report.float("claude_direct_p99", ms(direct.p99), "ms");
    report.float("claude_added_p50", added_p50, "ms");
    report.median_interval("claude_added_median_of_pairs", &paired, "ms");
    report.float(
        "claude_relay_beyond_cli_time_p50",
        relay_outside.median,
        "ms",
    );
    report.float(
        "claude_direct_beyond_cli_time_p50",
        direct_outside.median,
        "ms",
    );
    report.median_interval("claude_added_beyond_cli_time", &outside, "ms");
    // The CLI's own time (its `duration_ms`) varies by tens of ms from turn to turn. Each turn's
    // wall time minus that leaves what happened outside the CLI's clock: the pipes, and on the
    // relay's path the relay. The median of each pair's difference of those is what the relay
    // adds, without the CLI's variance; the plain difference of wall times is reported too.
    report.target(
        "added by the relay to a real CLI follow-up, beyond the CLI's own time (median of pairs)",
        outside.median,
        Comparison::Below,
        2.0,
        "ms",
    );
    Ok(())
}

/// One measured turn: its wall time, and its time as `claude` itself reported it (`duration_ms`
/// of its `result`).
struct Turn {
    wall: Duration,
    claude_ms: Option<u64>,
}

impl Turn {
    /// Wall time not spent inside Claude Code's own clock, in ms.
    fn outside_ms(&self) -> Option<f64> {
        Some(self.wall.as_secs_f64() * 1e3 - self.claude_ms? as f64)
    }
}

/// The wall times of `turns` in ns.
fn walls(turns: &[Turn]) -> Vec<u64> {
    turns.iter().map(|turn| ns(turn.wall)).collect()
}

/// One prompt through the relay, with a prompt id of our own so that its `prompt.completed` is
/// recognised whether it comes before or after the response.
async fn through_relay(conn: &mut Conn, session: &str, i: usize) -> Result<Turn, Error> {
    let prompt_id = format!("overhead-{i}");
    let started = Instant::now();
    conn.send_request(
        "session.prompt",
        json!({"session_id": session, "text": format!("ping {i}"), "prompt_id": prompt_id}),
    )
    .await?;
    loop {
        let Incoming::Text(text, _) = conn.recv(PATIENCE).await? else {
            return Err("the server closed the connection".into());
        };
        let Some(frame) = Frame::parse(&text) else {
            continue;
        };
        if frame.prompt_id() != Some(prompt_id.as_str()) {
            continue;
        }
        if frame.kind_is("prompt.completed") {
            return Ok(Turn {
                wall: started.elapsed(),
                claude_ms: frame.duration_ms(),
            });
        }
        if frame.kind_is("prompt.failed") {
            return Err(format!("prompt {prompt_id} failed: {text}").into());
        }
    }
}

/// `warmup` + `prompts` turns, each sent through the relay and written to `direct` one after the
/// other, so that both paths see the same machine at the same moment; answers the measured
/// turns. Which path goes first alternates: whatever one turn leaves running (the CLI writing its
/// transcript, the relay storing the turn's last events) falls on the other path as often as not.
async fn interleaved(
    conn: &mut Conn,
    session: &str,
    direct: &mut Direct,
    warmup: usize,
    prompts: usize,
) -> Result<(Vec<Turn>, Vec<Turn>), Error> {
    let mut relay_turns = Vec::with_capacity(prompts);
    let mut direct_turns = Vec::with_capacity(prompts);
    for i in 0..warmup + prompts {
        let (relay, direct) = if i % 2 == 0 {
            let relay = through_relay(conn, session, i).await?;
            (relay, direct.turn(i).await?)
        } else {
            let direct = direct.turn(i).await?;
            (through_relay(conn, session, i).await?, direct)
        };
        if i >= warmup {
            relay_turns.push(relay);
            direct_turns.push(direct);
        }
    }
    Ok((relay_turns, direct_turns))
}

/// The median of `relay[i] - direct[i]` in ms (the samples in turn order), with its interval.
fn paired_differences_ms(relay: &[u64], direct: &[u64]) -> MedianInterval {
    let mut differences: Vec<f64> = relay
        .iter()
        .zip(direct)
        .map(|(r, d)| (*r as f64 - *d as f64) / 1e6)
        .collect();
    MedianInterval::of(&mut differences)
}

/// `claude` (load-claude or the real CLI, with `vars` in its environment) driven directly over
/// its pipes, with the command line the relay would give it.
struct Direct {
    _child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Direct {
    fn start(claude: &Path, vars: &[(String, String)], cwd: &str) -> Result<Direct, Error> {
        let mut child = Command::new(claude)
            .args(claude_args(cwd))
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("claude has no pipes".into());
        };
        Ok(Direct {
            _child: child,
            stdin,
            lines: BufReader::new(stdout).lines(),
        })
    }

    /// One user turn, from writing it to reading its `result` line.
    async fn turn(&mut self, i: usize) -> Result<Turn, Error> {
        let turn =
            json!({"type": "user", "message": {"role": "user", "content": format!("ping {i}")}});
        let started = Instant::now();
        self.stdin.write_all(format!("{turn}\n").as_bytes()).await?;
        self.stdin.flush().await?;
        loop {
            let line = tokio::time::timeout(PATIENCE, self.lines.next_line())
                .await
                .map_err(|_| "claude did not answer in time")??
                .ok_or("claude ended early")?;
            let wall = started.elapsed();
            if let Some(claude_ms) = result_duration(&line) {
                return Ok(Turn { wall, claude_ms });
            }
        }
    }
}

/// `Some(duration_ms)` when `line` is a `result` line.
fn result_duration(line: &str) -> Option<Option<u64>> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    (value["type"] == "result").then(|| value["duration_ms"].as_u64())
}
