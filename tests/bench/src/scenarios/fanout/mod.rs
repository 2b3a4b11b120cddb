//! `fanout`: live delivery under load. S sessions each run `load E*T E` in load-claude (E
//! assistant lines a second for T seconds, each stamped with `sent_ns`), C clients subscribed
//! to each; every client measures receive time − `sent_ns` of every line, checks that `seq`
//! has no gap and counts what it got against what was sent. The slow-consumers scenario runs the
//! same with a share of clients that never read.

mod outcome;
mod subscriber;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;

use super::{check_alive, Env};
use crate::client::{now_ns, Conn, Link};
use crate::proc_stats::{children_cpu_percent, CpuBreakdownMeter, CpuMeter, RssSampler};
use crate::report::Report;
use crate::server::ServerOptions;
use crate::server_metrics;
use crate::Error;
pub use outcome::{close_codes, Outcome};
pub use subscriber::dropped;
use subscriber::{failed, Client, Seen};

#[derive(clap::Args, Clone, Debug)]
pub struct FanoutArgs {
    /// Sessions producing events at the same time
    #[arg(long, default_value_t = 100)]
    pub sessions: usize,
    /// Events (assistant lines) per second per session
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Subscribed clients per session
    #[arg(long, default_value_t = 10)]
    pub clients: usize,
    /// Seconds each session produces events [default: 10; slow-consumers: 30]
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Connections being opened at once during setup
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Set the server's limits.client_buffer (default: the server's own default)
    #[arg(long)]
    pub client_buffer: Option<usize>,
}

impl Default for FanoutArgs {
    fn default() -> Self {
        FanoutArgs {
            sessions: 100,
            rate: 100.0,
            clients: 10,
            seconds: None,
            concurrency: 64,
            client_buffer: None,
        }
    }
}

impl FanoutArgs {
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "--sessions".into(),
            self.sessions.to_string(),
            "--rate".into(),
            self.rate.to_string(),
            "--clients".into(),
            self.clients.to_string(),
            "--seconds".into(),
            self.seconds().to_string(),
            "--concurrency".into(),
            self.concurrency.to_string(),
        ];
        if let Some(buffer) = self.client_buffer {
            args.extend(["--client-buffer".into(), buffer.to_string()]);
        }
        args
    }

    /// Seconds of load, 10 unless given.
    pub fn seconds(&self) -> f64 {
        self.seconds.unwrap_or(10.0)
    }

    /// Assistant lines each session sends.
    pub fn events_per_session(&self) -> u64 {
        (self.rate * self.seconds()).round().max(0.0) as u64
    }
}

/// Which clients never read, and the link they are on.
#[derive(Clone, Copy, Debug, Default)]
pub struct SlowPlan {
    /// Percent of all clients that stop reading after subscribing.
    pub percent: f64,
    /// Their sockets' receive buffer and segment size.
    pub link: Link,
}

impl SlowPlan {
    /// Spreads the slow clients evenly: client `i` is slow when the running share crosses a whole
    /// number there (every 10th client for 10%).
    fn is_slow(&self, i: usize) -> bool {
        let share = |n: usize| (n as f64 * self.percent / 100.0).floor();
        self.percent > 0.0 && share(i + 1) > share(i)
    }
}

impl FanoutArgs {
    fn server_options(&self) -> ServerOptions {
        ServerOptions {
            max_running: self.sessions + 2,
            max_sessions: self.sessions + 5,
            client_buffer: self.client_buffer,
            handshake_timeout_s: None,
            claude: None,
        }
    }
}

pub async fn run(env: &Env, args: &FanoutArgs) -> Result<Report, Error> {
    let outcome = measure(env, args, SlowPlan::default()).await?;
    let mut report = Report::new("fanout", env.command("fanout", &args.to_args()));
    outcome.describe(args, &mut report);
    Ok(report)
}

/// Sets up the server, sessions and clients, runs the load, collects what every client saw.
pub async fn measure(env: &Env, args: &FanoutArgs, slow: SlowPlan) -> Result<Outcome, Error> {
    let mut server = env.start_server(args.server_options()).await?;
    let mut control = Conn::open(server.addr, Link::default()).await?;
    let mut sessions = Vec::with_capacity(args.sessions);
    for _ in 0..args.sessions {
        sessions.push(control.create_session(&server.project()).await?);
    }
    let setup_started = Instant::now();
    let drain_ns = Arc::new(AtomicU64::new(0));
    let (fast_tasks, slow_tasks, drain) =
        start_clients(server.addr, args, &sessions, slow, &drain_ns).await?;
    let setup = setup_started.elapsed();
    let mut before = Vec::with_capacity(sessions.len());
    for session in &sessions {
        before.push(control.last_seq(session).await?);
    }
    let metrics_before = server_metrics::snapshot(server.addr).await;

    eprintln!(
        "[bench] fanout: {} sessions × {} clients subscribed in {:.1} s; load {} events at {}/s",
        args.sessions,
        args.clients,
        setup.as_secs_f64(),
        args.events_per_session(),
        args.rate
    );
    let server_cpu = CpuMeter::start(server.pid());
    let cpu = CpuBreakdownMeter::start(server.pid());
    let bench_cpu = CpuMeter::start("self");
    let rss = RssSampler::start(server.pid(), Duration::from_millis(200));
    let started = Instant::now();
    let started_ns = now_ns();
    send_prompts(&mut control, &sessions, args).await?;
    let baseline = metrics_before
        .as_deref()
        .and_then(|text| server_metrics::value(text, SLOW_COUNTER));
    let watcher = match (slow_tasks.len(), baseline) {
        (0, _) | (_, None) => None,
        (count, Some(baseline)) => Some(tokio::spawn(drain_when_all_cut(
            server.addr,
            baseline + count as f64,
            drain.clone(),
            drain_ns.clone(),
        ))),
    };
    let mut fast = Vec::with_capacity(fast_tasks.len());
    for task in fast_tasks {
        fast.push(task.await.unwrap_or_else(|e| failed(e.to_string())));
    }
    let ended = fast
        .iter()
        .filter_map(|s| s.done_at)
        .max()
        .unwrap_or_else(Instant::now);
    let duration = ended.saturating_duration_since(started);
    let (server_cpu, bench_cpu, cpu) = (server_cpu.percent(), bench_cpu.percent(), cpu.read());
    let server_rss_peak = rss.stop().await.into_iter().max();
    // The agents started with the prompts, so all their CPU time belongs to this run.
    let agents_cpu = children_cpu_percent(server.pid(), started.elapsed());
    check_alive(&mut server)?;
    let metrics_after = server_metrics::snapshot(server.addr).await;

    let mut stored = 0;
    for (session, before) in sessions.iter().zip(before) {
        stored += control.last_seq(session).await?.saturating_sub(before);
    }
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    let drained_at = match drain_ns.load(Ordering::Relaxed) {
        0 => None,
        at => Some(Duration::from_nanos(at.saturating_sub(started_ns))),
    };
    let _ = drain.send(true);
    let mut slow_seen = Vec::with_capacity(slow_tasks.len());
    for task in slow_tasks {
        slow_seen.push(task.await.unwrap_or_else(|e| failed(e.to_string())));
    }
    let (server_view, slow_cut) = match (metrics_before, metrics_after) {
        (Some(b), Some(a)) => (
            HISTOGRAMS
                .iter()
                .map(|name| {
                    let delta = server_metrics::histogram(&a, name)
                        .since(&server_metrics::histogram(&b, name));
                    (name.to_string(), delta)
                })
                .collect(),
            server_metrics::value(&a, SLOW_COUNTER)
                .map(|after| after - server_metrics::value(&b, SLOW_COUNTER).unwrap_or(0.0)),
        ),
        _ => (Vec::new(), None),
    };
    Ok(Outcome {
        fast,
        slow: slow_seen,
        expected: args.events_per_session(),
        duration,
        stored,
        server_cpu,
        bench_cpu,
        cpu,
        agents_cpu,
        setup,
        server_view,
        slow_cut,
        drained_at,
        server_rss_peak,
    })
}

/// The server's histograms that tell where live latency goes: waiting for the store's commit,
/// then from the commit to the client's socket.
const HISTOGRAMS: [&str; 2] = ["relay_store_write_seconds", "relay_fanout_seconds"];
/// Clients the server cut off as slow consumers.
const SLOW_COUNTER: &str = "relay_slow_consumers_total";

pub type Tasks = Vec<JoinHandle<Seen>>;

/// Opens the slow clients' drain as soon as the server has counted `target` slow consumers
/// (`/metrics`): it gives up on a close frame it could not queue within 30 s, so a drain at the
/// end of a long run would find no 4008 left to read. Notes when it did, in `drain_ns`.
async fn drain_when_all_cut(
    addr: SocketAddr,
    target: f64,
    drain: Arc<watch::Sender<bool>>,
    drain_ns: Arc<AtomicU64>,
) {
    let mut every = tokio::time::interval(Duration::from_millis(500));
    loop {
        every.tick().await;
        let Some(text) = server_metrics::snapshot(addr).await else {
            continue;
        };
        if server_metrics::value(&text, SLOW_COUNTER).is_some_and(|cut| cut >= target) {
            drain_ns.store(now_ns(), Ordering::Relaxed);
            let _ = drain.send(true);
            eprintln!("[bench] every slow client was cut off; draining them now");
            return;
        }
    }
}

/// Connects and subscribes every client; answers once all are subscribed. Slow clients wait for
/// the returned signal before they read again.
pub async fn start_clients(
    addr: SocketAddr,
    args: &FanoutArgs,
    sessions: &[String],
    slow: SlowPlan,
    drain_ns: &Arc<AtomicU64>,
) -> Result<(Tasks, Tasks, Arc<watch::Sender<bool>>), Error> {
    let total = sessions.len() * args.clients;
    let permits = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<Result<(), String>>();
    let (drain_tx, drain_rx) = watch::channel(false);
    let (mut fast, mut slow_tasks) = (Vec::new(), Vec::new());
    for i in 0..total {
        let session = sessions[i / args.clients.max(1)].clone();
        let is_slow = slow.is_slow(i);
        let client = Client {
            addr,
            session,
            permits: permits.clone(),
            ready: ready_tx.clone(),
            link: if is_slow { slow.link } else { Link::default() },
            drain_ns: drain_ns.clone(),
        };
        if is_slow {
            slow_tasks.push(tokio::spawn(client.run_slow(drain_rx.clone())));
        } else {
            fast.push(tokio::spawn(client.run_fast()));
        }
    }
    drop(ready_tx);
    let mut subscribed = 0;
    while let Some(outcome) = ready_rx.recv().await {
        if let Err(error) = outcome {
            for task in fast.iter().chain(slow_tasks.iter()) {
                task.abort();
            }
            return Err(format!("a client could not subscribe: {error}").into());
        }
        subscribed += 1;
        if subscribed % 1000 == 0 {
            eprintln!("[bench] fanout: {subscribed}/{total} subscribed");
        }
    }
    Ok((fast, slow_tasks, Arc::new(drain_tx)))
}

/// `session.prompt` `load N RATE` for every session, sent together, then their responses.
async fn send_prompts(
    control: &mut Conn,
    sessions: &[String],
    args: &FanoutArgs,
) -> Result<(), Error> {
    let text = format!("load {} {}", args.events_per_session(), args.rate);
    let mut ids = Vec::with_capacity(sessions.len());
    for session in sessions {
        ids.push(
            control
                .send_request(
                    "session.prompt",
                    json!({"session_id": session, "text": text}),
                )
                .await?,
        );
    }
    control.responses(&ids).await?;
    Ok(())
}
