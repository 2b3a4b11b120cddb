//! `slow-consumers`: the fan-out run with a share of clients that subscribe and then never read.
//! The reading clients must not suffer (their p99, nothing dropped), and the server should cut
//! the others off with 4008 once their queue (`limits.client_buffer`) overflows; at the end each
//! slow client reads what is left, down to its close frame.
//!
//! It runs 90 s by default rather than fanout's 10: on loopback a client that stops reading
//! absorbs about 7,700 of these events (~2.5 MB of kernel socket buffers, then the 1,024-event
//! queue) before the server cuts it off, and 10 s at 100/s sends only 1,000. Not much longer
//! either: the server gives up on a close frame it could not queue within 30 s, so a client cut
//! off long before the end would find no 4008 frame left to read (the server's own count,
//! `relay_slow_consumers_total`, is reported as well).

use super::fanout::{self, close_codes, FanoutArgs, SlowPlan};
use super::Env;
use crate::report::{Comparison, Report};
use crate::Error;

/// Load seconds when not given: long enough to overflow a non-reading client.
const DEFAULT_SECONDS: f64 = 90.0;

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    #[command(flatten)]
    pub fanout: FanoutArgs,
    /// Percent of the clients that never read after subscribing
    #[arg(long, default_value_t = 10.0)]
    pub slow_percent: f64,
    /// SO_RCVBUF of the slow clients in bytes, to make them fill up like a phone on a bad link;
    /// 0 keeps the kernel default. The server is only told to close a client whose queue of
    /// limits.client_buffer (1024) events overflows, so the events a slow client is sent must
    /// exceed that plus what the socket buffers on both sides hold.
    #[arg(long, default_value_t = 4096)]
    pub slow_rcvbuf: u32,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            fanout: FanoutArgs {
                seconds: Some(DEFAULT_SECONDS),
                ..FanoutArgs::default()
            },
            slow_percent: 10.0,
            slow_rcvbuf: 4096,
        }
    }
}

impl Args {
    fn to_args(&self) -> Vec<String> {
        let mut args = self.fanout.to_args();
        args.extend([
            "--slow-percent".into(),
            self.slow_percent.to_string(),
            "--slow-rcvbuf".into(),
            self.slow_rcvbuf.to_string(),
        ]);
        args
    }
}

pub async fn run(env: &Env, args: &Args) -> Result<Report, Error> {
    let mut args = args.clone();
    args.fanout.seconds = Some(args.fanout.seconds.unwrap_or(DEFAULT_SECONDS));
    let args = &args;
    let plan = SlowPlan {
        percent: args.slow_percent,
        recv_buffer: (args.slow_rcvbuf > 0).then_some(args.slow_rcvbuf),
    };
    let outcome = fanout::measure(env, &args.fanout, plan).await?;
    let mut report = Report::new(
        "slow-consumers",
        env.command("slow-consumers", &args.to_args()),
    );
    outcome.describe(&args.fanout, &mut report);
    let codes = close_codes(&outcome.slow);
    let closed_4008 = codes.get("4008").copied().unwrap_or(0);
    let got_everything = outcome
        .slow
        .iter()
        .filter(|s| s.completed && s.closed.is_none())
        .count();
    let slow_events: u64 = outcome.slow.iter().map(|s| s.events).sum();
    report.figure("slow_clients", outcome.slow.len(), "");
    if let Some(cut) = outcome.slow_cut {
        report.float("server_counted_slow_consumers", cut, "");
    }
    report.figure("slow_closed_4008", closed_4008, "");
    report.figure(
        "slow_closed_other",
        codes.values().sum::<usize>() - closed_4008,
        "",
    );
    report.figure("slow_never_cut_off_got_everything", got_everything, "");
    report.figure("slow_events_read_at_drain", slow_events, "");
    report.note(format!("slow clients' endings by close code: {codes:?}"));
    if closed_4008 < outcome.slow.len() {
        let per_client = outcome.expected;
        report.note(format!(
            "{} slow clients were not closed with 4008: each was sent about {per_client} lines, \
             which the server's queue (limits.client_buffer) plus the socket buffers may hold \
             without overflowing (raise --seconds or lower --client-buffer), or they were cut \
             off more than 30 s before the end and the server gave up on their close frame \
             (compare server_counted_slow_consumers)",
            outcome.slow.len() - closed_4008
        ));
    }
    report.target(
        "slow clients closed with 4008",
        closed_4008 as f64,
        Comparison::AtLeast,
        outcome.slow.len() as f64,
        "clients",
    );
    Ok(report)
}
