//! What a fan-out run measured, and how it reads as figures.

use std::collections::BTreeMap;
use std::time::Duration;

use super::subscriber::{dropped, Seen};
use super::FanoutArgs;
use crate::proc_stats::CpuBreakdown;
use crate::report::{Comparison, Report};
use crate::scenarios::{cpu_figures, mib};
use crate::server_metrics;
use crate::stats::{ms, Summary};

/// Everything a fan-out run measured, for the two scenarios to report.
pub struct Outcome {
    pub fast: Vec<Seen>,
    pub slow: Vec<Seen>,
    pub expected: u64,
    pub duration: Duration,
    pub stored: u64,
    pub server_cpu: f64,
    pub bench_cpu: f64,
    /// Where the CPU went during the load: the server's threads, the whole machine.
    pub cpu: CpuBreakdown,
    /// CPU of all load-claude processes over the run, in percent of one core.
    pub agents_cpu: f64,
    pub setup: Duration,
    pub server_view: Vec<(String, server_metrics::Delta)>,
    /// Slow consumers the server counted during the run (`/metrics`), if it told.
    pub slow_cut: Option<f64>,
    /// When the slow clients began to drain, after the start of the load, if before its end.
    pub drained_at: Option<Duration>,
    /// The server's largest RSS during the load, in bytes (read every 200 ms).
    pub server_rss_peak: Option<u64>,
}

impl Outcome {
    /// Latency, loss and throughput of the clients that read.
    pub fn describe(&self, args: &FanoutArgs, report: &mut Report) {
        let mut before: Vec<u64> = Vec::new();
        for seen in &self.fast {
            before.extend_from_slice(&seen.latencies);
        }
        let mut latencies = before.clone();
        for seen in &self.fast {
            latencies.extend_from_slice(&seen.latencies_after_drain);
        }
        let lat = Summary::of(&mut latencies);
        let received: u64 = self.fast.iter().map(Seen::received).sum();
        let dropped = dropped(&self.fast, self.expected);
        let frames: u64 = self.fast.iter().map(|s| s.events).sum();
        let secs = self.duration.as_secs_f64().max(1e-9);
        report.figure("sessions", args.sessions, "");
        report.figure("clients_per_session", args.clients, "");
        report.figure("reading_clients", self.fast.len(), "");
        report.float("rate_per_session", args.rate, "events/s");
        report.float("load_duration", args.seconds(), "s");
        report.float("setup_connect_subscribe", self.setup.as_secs_f64(), "s");
        report.latency("latency", &lat);
        if let Some(at) = self.drained_at {
            let quiet = Summary::of(&mut before);
            report.float("slow_drain_started_after", at.as_secs_f64(), "s");
            report.float("latency_p50_lines_sent_before_drain", ms(quiet.p50), "ms");
            report.float("latency_p99_lines_sent_before_drain", ms(quiet.p99), "ms");
        }
        report.figure("lines_expected_per_client", self.expected, "");
        report.figure("lines_received_total", received, "");
        report.figure("dropped", dropped, "");
        report.figure(
            "seq_gaps",
            self.fast.iter().map(|s| s.gaps).sum::<u64>(),
            "",
        );
        report.figure(
            "clients_completed",
            self.fast.iter().filter(|s| s.completed).count(),
            "",
        );
        report.figure(
            "clients_closed_early",
            self.fast.iter().filter(|s| s.closed.is_some()).count(),
            "",
        );
        report.figure(
            "clients_failed",
            self.fast.iter().filter(|s| s.error.is_some()).count(),
            "",
        );
        report.float("run_duration", secs, "s");
        report.figure("events_stored", self.stored, "");
        report.float("events_stored_rate", self.stored as f64 / secs, "events/s");
        report.float("frames_delivered_rate", frames as f64 / secs, "frames/s");
        report.float("server_cpu", self.server_cpu, "% of one core");
        if let Some(peak) = self.server_rss_peak {
            report.float("server_rss_peak", mib(peak as f64), "MiB");
        }
        report.float("bench_process_cpu", self.bench_cpu, "% of one core");
        report.float(
            "load_claude_processes_cpu",
            self.agents_cpu,
            "% of one core",
        );
        cpu_figures(report, &self.cpu);
        for (name, delta) in &self.server_view {
            let short = name
                .trim_start_matches("relay_")
                .trim_end_matches("_seconds");
            report.float(&format!("server_{short}_mean"), delta.mean_ms, "ms");
            report.float(
                &format!("server_{short}_p50_at_most"),
                delta.p50_ms_at_most,
                "ms",
            );
            report.float(
                &format!("server_{short}_p99_at_most"),
                delta.p99_ms_at_most,
                "ms",
            );
            report.float(&format!("server_{short}_count"), delta.count, "");
        }
        let closes = close_codes(&self.fast);
        if !closes.is_empty() {
            report.note(format!("reading clients closed early: {closes:?}"));
        }
        if let Some(error) = self.fast.iter().find_map(|s| s.error.as_ref()) {
            report.note(format!("first client error: {error}"));
        }
        report.target("latency p99", ms(lat.p99), Comparison::Below, 10.0, "ms");
        report.target("dropped", dropped as f64, Comparison::AtMost, 0.0, "lines");
    }
}

/// Close codes seen ("none" for a connection that ended without a close frame), with counts.
pub fn close_codes(seen: &[Seen]) -> BTreeMap<String, usize> {
    let mut codes = BTreeMap::new();
    for closed in seen.iter().filter_map(|s| s.closed) {
        let key = closed.map_or_else(|| "none".to_string(), |c| c.to_string());
        *codes.entry(key).or_insert(0) += 1;
    }
    codes
}
