//! `connections`: what an idle subscribed client costs the server. RSS at rest, then N clients
//! each `hello` and `session.subscribe` to one session and stay connected; the growth divided
//! by N is the memory per connection.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use super::{check_alive, kib, mib, Env};
use crate::client::{Conn, Incoming, Link};
use crate::proc_stats::{rss_bytes, settled_rss};
use crate::report::{Comparison, Report};
use crate::server::ServerOptions;
use crate::Error;

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// WebSocket clients to connect
    #[arg(long, default_value_t = 10_000)]
    pub clients: usize,
    /// Connections being opened at once
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// At most this many seconds, after the last client subscribed, for the server's memory to
    /// settle before it is read
    #[arg(long, default_value_t = 2.0)]
    pub settle: f64,
    /// How far each client goes, to tell what the memory is spent on: the WebSocket upgrade
    /// only, `hello`, or `hello` and `session.subscribe`
    #[arg(long, value_enum, default_value_t = Stage::Subscribe)]
    pub stage: Stage,
}

/// How far a client goes before it idles.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Upgrade,
    Hello,
    Subscribe,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Upgrade => "upgrade",
            Stage::Hello => "hello",
            Stage::Subscribe => "subscribe",
        }
    }
}

impl Default for Args {
    fn default() -> Self {
        Args {
            clients: 10_000,
            concurrency: 64,
            settle: 2.0,
            stage: Stage::Subscribe,
        }
    }
}

impl Args {
    fn to_args(&self) -> Vec<String> {
        vec![
            "--clients".into(),
            self.clients.to_string(),
            "--concurrency".into(),
            self.concurrency.to_string(),
            "--settle".into(),
            self.settle.to_string(),
            "--stage".into(),
            self.stage.name().into(),
        ]
    }
}

pub async fn run(env: &Env, args: &Args) -> Result<Report, Error> {
    let mut server = env
        .start_server(ServerOptions {
            max_running: 4,
            max_sessions: 10,
            client_buffer: None,
            // Upgrade-only clients never say hello; keep them connected while we measure.
            handshake_timeout_s: (args.stage == Stage::Upgrade).then_some(3600),
            claude: None,
        })
        .await?;
    let pid = server.pid();
    let rss_rest = rss_bytes(pid)?;
    let session = {
        let mut control = Conn::open(server.addr, Link::default()).await?;
        control.create_session(&server.project()).await?
    };
    let rss_before = settled_rss(pid, Duration::from_secs(5)).await?;

    eprintln!("[bench] connections: opening {} clients", args.clients);
    let dropped = Arc::new(AtomicUsize::new(0));
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<Result<(), String>>();
    let permits = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let mut clients = JoinSet::new();
    let started = Instant::now();
    for _ in 0..args.clients {
        let (addr, session) = (server.addr, session.clone());
        let (permits, ready, dropped) = (permits.clone(), ready_tx.clone(), dropped.clone());
        let stage = args.stage;
        clients.spawn(async move {
            let permit = permits.acquire_owned().await;
            let opened = async {
                if stage == Stage::Upgrade {
                    return Conn::connect(addr, Link::default()).await;
                }
                let mut conn = Conn::open(addr, Link::default()).await?;
                if stage == Stage::Subscribe {
                    conn.subscribe(&session, 0).await?;
                }
                Ok::<_, Error>(conn)
            }
            .await;
            drop(permit);
            let mut conn = match opened {
                Ok(conn) => conn,
                Err(error) => {
                    let _ = ready.send(Err(error.to_string()));
                    return;
                }
            };
            let _ = ready.send(Ok(()));
            drop(ready);
            // Stay connected, reading whatever comes (the short replay, pings).
            loop {
                match conn.recv(Duration::from_secs(24 * 3600)).await {
                    Ok(Incoming::Text(..)) => continue,
                    _ => {
                        dropped.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
            }
        });
    }
    drop(ready_tx);
    let (mut connected, mut failures, mut first_error) = (0usize, 0usize, None);
    while let Some(outcome) = ready_rx.recv().await {
        match outcome {
            Ok(()) => connected += 1,
            Err(error) => {
                failures += 1;
                first_error.get_or_insert(error);
            }
        }
        if (connected + failures) % 1000 == 0 {
            eprintln!("[bench] connections: {connected} subscribed, {failures} failed");
        }
    }
    let connect_time = started.elapsed();
    let rss_after = settled_rss(pid, Duration::from_secs_f64(args.settle.max(0.0))).await?;
    check_alive(&mut server)?;
    let client_rss = rss_bytes(std::process::id()).unwrap_or(0);
    let still_open = connected.saturating_sub(dropped.load(Ordering::Relaxed));
    clients.abort_all();

    let per_connection = if connected > 0 {
        (rss_after as f64 - rss_before as f64) / connected as f64
    } else {
        0.0
    };
    let mut report = Report::new("connections", env.command("connections", &args.to_args()));
    report.figure("stage", args.stage.name(), "");
    report.figure("clients_requested", args.clients, "");
    report.figure("clients_subscribed", connected, "");
    report.figure("clients_failed", failures, "");
    report.figure("clients_still_open_at_measurement", still_open, "");
    report.float("server_rss_at_rest", mib(rss_rest as f64), "MiB");
    report.float(
        "server_rss_with_session_no_clients",
        mib(rss_before as f64),
        "MiB",
    );
    report.float("server_rss_with_clients", mib(rss_after as f64), "MiB");
    report.float("server_bytes_per_connection", per_connection, "B");
    report.float("server_per_connection", kib(per_connection), "KiB");
    report.float(
        "connect_and_subscribe_time",
        connect_time.as_secs_f64(),
        "s",
    );
    report.float(
        "connect_rate",
        connected as f64 / connect_time.as_secs_f64().max(1e-9),
        "clients/s",
    );
    report.float("bench_process_rss", mib(client_rss as f64), "MiB");
    report.target(
        "memory per connection",
        kib(per_connection),
        Comparison::AtMost,
        8.0,
        "KiB",
    );
    report.target(
        "memory at rest",
        mib(rss_rest as f64),
        Comparison::Below,
        20.0,
        "MiB",
    );
    if let Some(error) = first_error {
        report.note(format!("first connect failure: {error}"));
    }
    Ok(report)
}
