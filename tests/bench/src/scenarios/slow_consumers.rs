//! `slow-consumers`: the fan-out run with a share of clients that subscribe and then never read.
//! The reading clients must not suffer (their p99, nothing dropped), and the server should cut
//! the others off with 4008 once their queue (`limits.client_buffer`) overflows; at the end each
//! slow client reads what is left, down to its close frame.
//!
//! It runs 30 s by default rather than fanout's 10: a client that stops reading absorbs a few
//! hundred of these events in kernel socket buffers, then the 1,024-event queue, before the
//! server cuts it off (about 14 s at 100/s here). The slow clients are on a link like a phone's
//! on a bad network: a 4 KiB receive buffer and 1,400-byte segments (see [`Link`]). They start
//! draining as soon as the server has counted them all as slow consumers
//! (`relay_slow_consumers_total`), not at the end: the server gives up on a close frame it could
//! not send within 3 × `heartbeat_s`, so a later drain would find no 4008 frame left. Latency is
//! reported for all lines and for the lines sent before that drain began.

use super::fanout::{self, close_codes, FanoutArgs, Outcome, SlowPlan};
use super::Env;
use crate::client::Link;
use crate::report::{Comparison, Report};
use crate::Error;

/// Load seconds when not given: long enough to overflow a non-reading client.
const DEFAULT_SECONDS: f64 = 30.0;

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
    /// TCP_MAXSEG of the slow clients in bytes, the segment size of a real link (Ethernet
    /// carries 1,460); 0 keeps loopback's 65,483, with which a client whose receive buffer is
    /// this small can stall after draining (see `Link::mss` in the bench's source)
    #[arg(long, default_value_t = 1400)]
    pub slow_mss: u32,
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
            slow_mss: 1400,
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
            "--slow-mss".into(),
            self.slow_mss.to_string(),
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
        link: Link {
            recv_buffer: (args.slow_rcvbuf > 0).then_some(args.slow_rcvbuf),
            mss: (args.slow_mss > 0).then_some(args.slow_mss),
        },
    };
    let outcome = fanout::measure(env, &args.fanout, plan).await?;
    let mut report = Report::new(
        "slow-consumers",
        env.command("slow-consumers", &args.to_args()),
    );
    outcome.describe(&args.fanout, &mut report);
    describe_slow(&outcome, &mut report);
    Ok(report)
}

/// What became of the clients that never read.
fn describe_slow(outcome: &Outcome, report: &mut Report) {
    let slow = outcome.slow.len();
    let codes = close_codes(&outcome.slow);
    let closed_4008 = codes.get("4008").copied().unwrap_or(0);
    let without_close = codes.get("none").copied().unwrap_or(0);
    let got_everything = outcome
        .slow
        .iter()
        .filter(|s| s.completed && s.closed.is_none())
        .count();
    let read: Vec<u64> = outcome.slow.iter().map(|s| s.events).collect();
    report.figure("slow_clients", slow, "");
    if let Some(cut) = outcome.slow_cut {
        report.float("server_counted_slow_consumers", cut, "");
    }
    report.figure("slow_close_frame_4008_read", closed_4008, "");
    report.figure("slow_ended_without_close_frame", without_close, "");
    report.figure(
        "slow_closed_other_code",
        codes.values().sum::<usize>() - closed_4008 - without_close,
        "",
    );
    report.figure("slow_never_cut_off_got_everything", got_everything, "");
    report.figure(
        "slow_events_read_at_drain_min",
        read.iter().min().copied().unwrap_or(0),
        "",
    );
    report.figure(
        "slow_events_read_at_drain_max",
        read.iter().max().copied().unwrap_or(0),
        "",
    );
    report.note(format!("slow clients' endings by close code: {codes:?}"));
    if without_close > 0 {
        report.note(format!(
            "{without_close} slow clients found no close frame, only the end of the connection: \
             the server's writer gives up on a close frame it could not send within \
             3 × heartbeat_s (90 s here), and they were cut off longer than that before they \
             read again"
        ));
    }
    if got_everything > 0 {
        report.note(format!(
            "{got_everything} slow clients were never cut off: the ~{} lines each was sent fit \
             in limits.client_buffer plus the socket buffers (raise --seconds or lower \
             --client-buffer)",
            outcome.expected
        ));
    }
    if let Some(cut) = outcome.slow_cut {
        report.target(
            "slow clients cut off as slow consumers (server count)",
            cut,
            Comparison::AtLeast,
            slow as f64,
            "clients",
        );
    }
    report.target(
        "slow clients that read the 4008 close frame",
        closed_4008 as f64,
        Comparison::AtLeast,
        slow as f64,
        "clients",
    );
}
