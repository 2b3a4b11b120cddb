//! `pocket-relay-bench`: measures the real `pocket-relay` server over real sockets.
//!
//! Each scenario starts its own server (the release binary, a scratch config and store, the
//! `load-claude` fake as `claude`), drives it with WebSocket clients in this process, samples
//! the server from `/proc`, prints a table and writes JSON. The server is always killed at the
//! end, also when the benchmark fails or is killed itself.

mod client;
mod fake_api;
mod frame;
mod http;
mod parent_death;
mod proc_stats;
mod report;
mod scenarios;
mod server;
mod server_metrics;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use report::Report;
use scenarios::{
    app, connections, fanout, floor, notify, prompt_overhead, replay, slow_consumers, Env,
};
use server::Binaries;

/// Any failure that ends a scenario.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

const LONG_ABOUT: &str = "\
Benchmarks of pocket-relay over real sockets.

Every scenario starts the real server binary on 127.0.0.1:0 with a config in a scratch directory
(its own SQLite store, `claude.binary` = load-claude, a request rate limit high enough not to
matter), raises the open-file limit to the hard limit for itself and the server, drives the server
with WebSocket clients in this process (one tokio runtime), reads the server's memory (VmRSS) and
CPU time (utime+stime) from /proc, prints a table and writes every figure, the targets and the
command line to the JSON file.

Build both binaries in release first:
  cargo build --release -p pocket-relay -p pocket-relay-bench

Exit status: 0 when every target was met, 1 when one was missed, 2 when a scenario failed.";

#[derive(Parser)]
#[command(name = "pocket-relay-bench", version, about = "Benchmarks of pocket-relay over real sockets", long_about = LONG_ABOUT)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Args, Clone)]
struct CommonArgs {
    /// The pocket-relay server binary [default: `pocket-relay` next to this executable]
    #[arg(long, global = true, value_name = "PATH")]
    server: Option<PathBuf>,
    /// The fake claude made for load [default: `load-claude` next to this executable]
    #[arg(long, global = true, value_name = "PATH")]
    load_claude: Option<PathBuf>,
    /// Where to write the results as JSON
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        default_value = "bench-results.json"
    )]
    json: PathBuf,
    /// RUST_LOG for the server (its stderr goes to server.log in the scratch directory)
    #[arg(long, global = true, value_name = "FILTER", default_value = "warn")]
    server_log: String,
    /// Keep the scratch directory (config, store, server log) and print its path
    #[arg(long, global = true)]
    keep_dir: bool,
}

#[derive(Subcommand)]
enum Scenario {
    /// Memory per idle WebSocket connection: N clients each `hello` and subscribe to one session.
    /// Targets: <= 8 KB per connection, < 20 MB at rest.
    Connections(connections::Args),
    /// Live fan-out latency: S sessions producing E events/s for T s, C subscribers each.
    /// Target: p99 < 10 ms, nothing dropped.
    Fanout(fanout::FanoutArgs),
    /// Replay throughput: one session with N stored events, a fresh client subscribes from 0.
    /// Target: >= 200,000 events/s, memory flat.
    Replay(replay::Args),
    /// What the relay adds to a prompt, against load-claude driven directly over its pipes.
    /// Target: < 2 ms at p50.
    PromptOverhead(prompt_overhead::Args),
    /// Fan-out with a share of clients that never read: the others' latency, and 4008 closes.
    SlowConsumers(slow_consumers::Args),
    /// The fan-out load against floor-relay, which only writes made-up events (or, with
    /// --agents, its agents' lines) to the sockets: the latency this machine allows any relay.
    /// No target.
    Floor(floor::Args),
    /// Notifications: D push subscriptions at a local fake push service, R permission requests
    /// (with `fake-claude`, built by `cargo build --release -p pocket-relay-fakes`), then the same
    /// with one more endpoint that never answers. Target: p99 <= 50 ms from the request's commit
    /// to the push's arrival, hanging endpoint or not.
    Notify(notify::Args),
    /// The phone app in Chromium (needs Node.js, `npm ci --prefix tests/e2e` and Chromium):
    /// first-load bytes, the sessions list under Lighthouse's mobile profile, opening a session
    /// of 10,000 events, scrolling up. Targets: <= 150 KB, <= 2 s fresh, <= 300 ms repeat,
    /// <= 300 ms main thread, <= 50 MB JS heap, older pages load.
    App(app::Args),
    /// Every scenario in turn with its defaults (all but `app`, which needs Chromium, and
    /// `notify`, which needs fake-claude).
    All,
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let cli = Cli::parse();
    let bins = match binaries(&cli.common) {
        Ok(bins) => bins,
        Err(error) => {
            eprintln!("pocket-relay-bench: {error}");
            return ExitCode::from(2);
        }
    };
    let nofile = proc_stats::raise_open_files();
    if let Err(error) = &nofile {
        eprintln!("pocket-relay-bench: cannot raise the open-file limit: {error}");
    }
    let env = Env {
        bins,
        prefix: command_prefix(&argv, &cli.common),
        nofile: nofile.unwrap_or(0),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("pocket-relay-bench: {error}");
            return ExitCode::from(2);
        }
    };
    let exact = quote_all(&argv);
    // Scenarios run on this (main) thread: the server is spawned from it, and PR_SET_PDEATHSIG
    // follows the spawning thread.
    let (reports, failure) = runtime.block_on(run(&env, &cli.scenario, &exact));
    for report in &reports {
        report.print();
    }
    let results = json!({
        "invoked": exact,
        "cores": proc_stats::cores(),
        "open_file_limit": env.nofile,
        "results": reports.iter().map(Report::to_json).collect::<Vec<_>>(),
        "error": failure.as_ref().map(|e| e.to_string()),
    });
    let written = serde_json::to_string_pretty(&results)
        .map_err(Error::from)
        .and_then(|text| std::fs::write(&cli.common.json, text + "\n").map_err(Error::from));
    match written {
        Ok(()) => println!("\nresults written to {}", cli.common.json.display()),
        Err(error) => eprintln!(
            "pocket-relay-bench: cannot write {}: {error}",
            cli.common.json.display()
        ),
    }
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    if let Some(error) = failure {
        eprintln!("pocket-relay-bench: {error}");
        return ExitCode::from(2);
    }
    if reports.iter().all(Report::all_met) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Runs the chosen scenario(s); answers the reports made so far and the failure, if any.
async fn run(env: &Env, scenario: &Scenario, exact: &str) -> (Vec<Report>, Option<Error>) {
    let single = |result: Result<Report, Error>| match result {
        Ok(mut report) => {
            report.command = exact.to_string();
            (vec![report], None)
        }
        Err(error) => (Vec::new(), Some(error)),
    };
    match scenario {
        Scenario::Connections(args) => single(connections::run(env, args).await),
        Scenario::Fanout(args) => single(fanout::run(env, args).await),
        Scenario::Replay(args) => single(replay::run(env, args).await),
        Scenario::PromptOverhead(args) => single(prompt_overhead::run(env, args).await),
        Scenario::SlowConsumers(args) => single(slow_consumers::run(env, args).await),
        Scenario::Floor(args) => single(floor::run(env, args).await),
        Scenario::App(args) => single(app::run(env, args).await),
        Scenario::Notify(args) => single(notify::run(env, args).await),
        Scenario::All => {
            // A failed scenario does not stop the others.
            let mut reports = Vec::new();
            let mut failures = Vec::new();
            let mut record = |name: &str, result: Result<Report, Error>| match result {
                Ok(report) => reports.push(report),
                Err(error) => failures.push(format!("{name}: {error}")),
            };
            record(
                "connections",
                connections::run(env, &Default::default()).await,
            );
            record("fanout", fanout::run(env, &Default::default()).await);
            record("replay", replay::run(env, &Default::default()).await);
            record(
                "prompt-overhead",
                prompt_overhead::run(env, &Default::default()).await,
            );
            record(
                "slow-consumers",
                slow_consumers::run(env, &Default::default()).await,
            );
            record("floor", floor::run(env, &Default::default()).await);
            let with_agents = floor::Args {
                agents: true,
                ..Default::default()
            };
            record("floor --agents", floor::run(env, &with_agents).await);
            let failure = (!failures.is_empty()).then(|| Error::from(failures.join("; ")));
            (reports, failure)
        }
    }
}

/// The server and load-claude binaries, by default next to this executable.
fn binaries(common: &CommonArgs) -> Result<Binaries, Error> {
    let here = std::env::current_exe()?
        .parent()
        .map(PathBuf::from)
        .ok_or("cannot tell where this executable lives")?;
    let server = common
        .server
        .clone()
        .unwrap_or_else(|| here.join("pocket-relay"));
    let load_claude = common
        .load_claude
        .clone()
        .unwrap_or_else(|| here.join("load-claude"));
    for (what, path) in [("server", &server), ("load-claude", &load_claude)] {
        if !path.is_file() {
            return Err(format!(
                "no {what} binary at {} (build it: cargo build --release -p pocket-relay -p pocket-relay-bench)",
                path.display()
            )
            .into());
        }
    }
    Ok(Binaries {
        server: server.canonicalize()?,
        load_claude: load_claude.canonicalize()?,
        server_log: common.server_log.clone(),
        keep_dir: common.keep_dir,
    })
}

/// `argv0 [--server P] [--load-claude P]`: what every per-scenario command line starts with.
fn command_prefix(argv: &[String], common: &CommonArgs) -> String {
    let mut words = vec![argv
        .first()
        .cloned()
        .unwrap_or_else(|| "pocket-relay-bench".into())];
    if let Some(server) = &common.server {
        words.extend(["--server".into(), server.to_string_lossy().into_owned()]);
    }
    if let Some(load) = &common.load_claude {
        words.extend(["--load-claude".into(), load.to_string_lossy().into_owned()]);
    }
    quote_all(&words)
}

/// Words joined for a POSIX shell, quoted where needed.
pub fn quote_all(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            let plain = !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
            if plain {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
