//! `floor`: the fan-out scenario's load and clients against `floor-relay`, which only encodes
//! made-up events and writes them to the subscribers' sockets (no store, no agent processes, no
//! parsing). Whatever latency its clients see is the machine's own share of `fanout`'s: the
//! sockets, the scheduler and the bench's clients, which every relay pays on these cores. With
//! `--agents` the events are the lines of one `load-claude` process per session, read from its
//! pipe and forwarded unparsed: the share every relay that runs its agents as processes pays.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use super::fanout::{dropped, start_clients, FanoutArgs, SlowPlan};
use super::Env;
use crate::parent_death::die_with_parent;
use crate::proc_stats::{children_cpu_percent, CpuBreakdownMeter, CpuMeter};
use crate::report::Report;
use crate::server::{first_line, KilledOnDrop};
use crate::stats::Summary;
use crate::Error;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct Args {
    /// The load, as for fanout; --client-buffer sets floor-relay's queue per client (1024 unless
    /// given, as the server's default)
    #[command(flatten)]
    pub load: FanoutArgs,
    /// Start every session's events at the same moments (default: spread over the period)
    #[arg(long)]
    pub aligned: bool,
    /// Take the events from one load-claude process per session, as the relay does, forwarded
    /// without parsing (default: floor-relay makes them up)
    #[arg(long, conflicts_with = "aligned")]
    pub agents: bool,
    /// The floor-relay binary [default: `floor-relay` next to this executable]
    #[arg(long, value_name = "PATH")]
    pub floor_relay: Option<PathBuf>,
}

impl Args {
    fn to_args(&self) -> Vec<String> {
        let mut args = self.load.to_args();
        if self.aligned {
            args.push("--aligned".into());
        }
        if self.agents {
            args.push("--agents".into());
        }
        if let Some(path) = &self.floor_relay {
            args.extend(["--floor-relay".into(), path.to_string_lossy().into_owned()]);
        }
        args
    }
}

pub async fn run(env: &Env, args: &Args) -> Result<Report, Error> {
    let load = &args.load;
    let path = match &args.floor_relay {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("floor-relay"),
    };
    let mut command = Command::new(&path);
    command
        .args([
            load.sessions.to_string(),
            load.clients.to_string(),
            load.rate.to_string(),
            load.events_per_session().to_string(),
            load.client_buffer.unwrap_or(1024).to_string(),
        ])
        .args(args.aligned.then_some("--aligned"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if args.agents {
        command.arg("--agents").arg(&env.bins.load_claude);
    }
    die_with_parent(&mut command);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", path.display()))?;
    let stdout = child.stdout.take();
    let relay = KilledOnDrop(child);
    let line = stdout
        .and_then(first_line)
        .ok_or("floor-relay did not print its address")?;
    let addr = line
        .strip_prefix("listening on ")
        .ok_or_else(|| format!("unexpected first line {line:?}"))?
        .trim()
        .parse()?;
    let pid = relay.0.id();
    eprintln!("[bench] floor-relay pid {pid} on {addr}");

    let sessions: Vec<String> = (0..load.sessions)
        .map(|k| format!("floor-{k:030}"))
        .collect();
    let drain_ns = Default::default();
    let setup_started = Instant::now();
    // The relay starts its sessions once the last client has subscribed: the load, and what is
    // measured of it, begins here.
    let (tasks, _, _) =
        start_clients(addr, load, &sessions, SlowPlan::default(), &drain_ns).await?;
    let setup = setup_started.elapsed();
    let relay_cpu = CpuMeter::start(pid);
    let bench_cpu = CpuMeter::start("self");
    let cpu = CpuBreakdownMeter::start(pid);
    let started = Instant::now();
    let mut seen = Vec::with_capacity(tasks.len());
    for task in tasks {
        seen.push(task.await.map_err(|e| e.to_string())?);
    }
    let duration = started.elapsed();
    let (relay_cpu, bench_cpu, cpu) = (relay_cpu.percent(), bench_cpu.percent(), cpu.read());
    // The agents started with the load, so all their CPU time belongs to this run.
    let agents_cpu = children_cpu_percent(pid, duration);
    drop(relay);

    let mut latencies: Vec<u64> = seen
        .iter()
        .flat_map(|s| s.latencies.iter().copied())
        .collect();
    let lat = Summary::of(&mut latencies);
    let expected = load.events_per_session();
    let dropped = dropped(&seen, expected);
    let mut report = Report::new("floor", env.command("floor", &args.to_args()));
    report.figure("sessions", load.sessions, "");
    report.figure("clients_per_session", load.clients, "");
    report.float("rate_per_session", load.rate, "events/s");
    report.float("load_duration", load.seconds(), "s");
    report.figure("sessions_aligned", args.aligned, "");
    report.figure("agent_processes", args.agents, "");
    report.float("setup_connect_subscribe", setup.as_secs_f64(), "s");
    report.latency("latency", &lat);
    report.figure("dropped", dropped, "");
    report.figure(
        "clients_completed",
        seen.iter().filter(|s| s.completed).count(),
        "",
    );
    report.figure(
        "clients_failed",
        seen.iter().filter(|s| s.error.is_some()).count(),
        "",
    );
    report.float("run_duration", duration.as_secs_f64(), "s");
    report.float("floor_relay_cpu", relay_cpu, "% of one core");
    report.float("bench_process_cpu", bench_cpu, "% of one core");
    if args.agents {
        report.float("load_claude_processes_cpu", agents_cpu, "% of one core");
    }
    super::cpu_figures(&mut report, &cpu);
    if let Some(error) = seen.iter().find_map(|s| s.error.as_ref()) {
        report.note(format!("first client error: {error}"));
    }
    report.note(
        "no target: this is what the machine allows a relay that only writes to sockets; \
         compare latency_p99 with the fanout scenario's at the same load",
    );
    Ok(report)
}
