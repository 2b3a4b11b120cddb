//! `replay`: how fast a stored history reaches a client that reconnects from 0, and whether the
//! server's memory stays flat while it streams (the replay is paged and flow-controlled).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{check_alive, cpu_figures, mib, Env};
use crate::client::{Conn, Incoming, Link};
use crate::frame::Frame;
use crate::proc_stats::{rss_bytes, settled_rss, CpuBreakdownMeter, CpuMeter, RssSampler};
use crate::report::{Comparison, Report};
use crate::server::ServerOptions;
use crate::Error;

/// How often the server's RSS is sampled during the replay.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// Events (assistant lines) the session stores before the replay
    #[arg(long, default_value_t = 100_000)]
    pub events: u64,
    /// Lines per second load-claude writes them at (high: as fast as the relay takes them)
    #[arg(long, default_value_t = 1_000_000.0)]
    pub rate: f64,
    /// Load the session this many times (N events each) before the replay, reading the server's
    /// RSS after each: tells memory held per burst from memory reused between bursts
    #[arg(long, default_value_t = 1)]
    pub loads: u32,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            events: 100_000,
            rate: 1_000_000.0,
            loads: 1,
        }
    }
}

impl Args {
    fn to_args(&self) -> Vec<String> {
        vec![
            "--events".into(),
            self.events.to_string(),
            "--rate".into(),
            self.rate.to_string(),
            "--loads".into(),
            self.loads.to_string(),
        ]
    }
}

pub async fn run(env: &Env, args: &Args) -> Result<Report, Error> {
    let mut server = env.start_server(ServerOptions::one_session()).await?;
    let pid = server.pid();
    let rss_rest = rss_bytes(pid)?;
    let mut writer = Conn::open(server.addr, Link::default()).await?;
    let session = writer.create_session(&server.project()).await?;
    let mut fill_time = Duration::ZERO;
    let mut rss_after_loads = Vec::new();
    for _ in 0..args.loads.max(1) {
        fill_time += fill(&mut writer, server.addr, &session, args).await?;
        rss_after_loads.push(rss_bytes(pid)?);
    }
    drop(writer);
    eprintln!(
        "[bench] replay: {} events stored in {:.1} s; replaying",
        args.events,
        fill_time.as_secs_f64()
    );
    let rss_before = settled_rss(pid, Duration::from_secs(5)).await?;

    let mut reader = Conn::open(server.addr, Link::default()).await?;
    let sampler = RssSampler::start(pid, SAMPLE_EVERY);
    let cpu = CpuMeter::start(pid);
    let breakdown = CpuBreakdownMeter::start(pid);
    let started = Instant::now();
    let last_seq = reader.subscribe(&session, 0).await?;
    let (received, gaps) = read_until(&mut reader, last_seq).await?;
    let elapsed = started.elapsed();
    let server_cpu = cpu.percent();
    let breakdown = breakdown.read();
    let samples = sampler.stop().await;
    check_alive(&mut server)?;

    let min = samples.iter().copied().min().unwrap_or(0);
    let max = samples.iter().copied().max().unwrap_or(0);
    let rate = received as f64 / elapsed.as_secs_f64().max(1e-9);
    let mut report = Report::new("replay", env.command("replay", &args.to_args()));
    report.figure(
        "lines_loaded",
        args.events * u64::from(args.loads.max(1)),
        "",
    );
    report.float("load_time", fill_time.as_secs_f64(), "s");
    report.float(
        "ingest_rate",
        last_seq as f64 / fill_time.as_secs_f64().max(1e-9),
        "events/s",
    );
    report.figure("events_replayed", received, "");
    report.figure("last_seq", last_seq, "");
    report.figure("seq_gaps", gaps, "");
    report.float("replay_time", elapsed.as_secs_f64(), "s");
    report.float("replay_rate", rate, "events/s");
    report.float("server_cpu_during_replay", server_cpu, "% of one core");
    cpu_figures(&mut report, &breakdown);
    report.float("server_rss_at_rest", mib(rss_rest as f64), "MiB");
    if rss_after_loads.len() > 1 {
        for (i, rss) in rss_after_loads.iter().enumerate() {
            report.float(
                &format!("server_rss_after_load_{}", i + 1),
                mib(*rss as f64),
                "MiB",
            );
        }
    }
    report.float(
        "server_rss_after_load_before_replay",
        mib(rss_before as f64),
        "MiB",
    );
    report.float("server_rss_min_during_replay", mib(min as f64), "MiB");
    report.float("server_rss_max_during_replay", mib(max as f64), "MiB");
    report.float(
        "server_rss_growth_during_replay",
        mib(max.saturating_sub(rss_before) as f64),
        "MiB",
    );
    report.figure("rss_samples", samples.len(), "");
    report.target(
        "replay rate",
        rate,
        Comparison::AtLeast,
        200_000.0,
        "events/s",
    );
    Ok(report)
}

/// Has load-claude write `events` more lines into the session; answers how long storing them
/// took (prompt sent → the session idle again and every event durable). Nobody subscribes
/// meanwhile: a live subscriber this far behind a burst is cut off (4008).
async fn fill(
    writer: &mut Conn,
    addr: SocketAddr,
    session: &str,
    args: &Args,
) -> Result<Duration, Error> {
    let target = writer.last_seq(session).await? + args.events;
    let started = Instant::now();
    let text = format!("load {} {}", args.events, args.rate);
    writer
        .request(
            "session.prompt",
            json!({"session_id": session, "text": text}),
        )
        .await?;
    // Generous: at least a minute, plus a millisecond per event.
    let deadline = Instant::now() + Duration::from_secs(60) + Duration::from_millis(args.events);
    loop {
        // The session object runs ahead of the store (its last_seq counts events not yet
        // committed), so the end is the session idle *and* the store holding its last event.
        let data = writer
            .request("session.get", json!({"session_id": session}))
            .await?;
        let info = &data["session"];
        let assigned = info["last_seq"].as_u64().unwrap_or(0);
        let idle = info["status"] == "idle" && info["queue_length"].as_u64() == Some(0);
        if idle && assigned >= target && stored_seq(addr, session).await >= Some(assigned) {
            return Ok(started.elapsed());
        }
        if Instant::now() > deadline {
            return Err(format!("the load did not finish in time ({assigned} events)").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The highest durable seq of a session, from a one-event page of `GET …/events`.
pub(crate) async fn stored_seq(addr: SocketAddr, session: &str) -> Option<u64> {
    let path = format!("/api/v1/sessions/{session}/events?after_seq=0&limit=1");
    let body = crate::http::get(addr, &path).await?;
    let page: serde_json::Value = serde_json::from_str(&body).ok()?;
    page["data"]["last_seq"].as_u64()
}

/// Reads the replay until the event with `last_seq`; answers events received and seq gaps.
async fn read_until(reader: &mut Conn, last_seq: u64) -> Result<(u64, u64), Error> {
    let (mut received, mut gaps, mut previous) = (0u64, 0u64, 0u64);
    while previous < last_seq {
        let Incoming::Text(text, _) = reader.recv(Duration::from_secs(30)).await? else {
            return Err(format!("closed after {received} replayed events").into());
        };
        let Some(frame) = Frame::parse(&text) else {
            continue;
        };
        let (true, Some(seq)) = (frame.is_event(), frame.seq) else {
            continue;
        };
        received += 1;
        if seq != previous + 1 {
            gaps += 1;
        }
        previous = seq;
    }
    Ok((received, gaps))
}
