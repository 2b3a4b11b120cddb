//! One module per scenario; each starts its own server, so no scenario measures another's
//! leftovers. What they share: the environment, and starting the server.

pub mod app;
pub mod connections;
pub mod fanout;
pub mod floor;
pub mod notify;
pub mod prompt_overhead;
pub mod replay;
pub mod slow_consumers;

use std::time::Duration;

use crate::server::{BenchServer, Binaries, ServerOptions};
use crate::Error;

/// What every scenario gets from the command line.
pub struct Env {
    pub bins: Binaries,
    /// `pocket-relay-bench [--server …] [--load-claude …]`, to build per-scenario command lines.
    pub prefix: String,
    /// The open-file limit after raising it.
    pub nofile: u64,
}

impl Env {
    /// The command line that runs `scenario` alone with `args`.
    pub fn command(&self, scenario: &str, args: &[String]) -> String {
        let mut line = format!("{} {scenario}", self.prefix);
        if !args.is_empty() {
            line.push(' ');
            line.push_str(&crate::quote_all(args));
        }
        line
    }

    /// Starts a server and waits until its memory has settled (its first RSS reading should be at
    /// rest).
    pub async fn start_server(&self, options: ServerOptions) -> Result<BenchServer, Error> {
        let server = BenchServer::start(&self.bins, &options)?;
        eprintln!(
            "[bench] server pid {} on {} ({})",
            server.pid(),
            server.addr,
            server.dir.path().display()
        );
        crate::proc_stats::settled_rss(server.pid(), Duration::from_secs(5)).await?;
        Ok(server)
    }
}

/// Fails with the server's log when it died during the run.
pub fn check_alive(server: &mut BenchServer) -> Result<(), Error> {
    if server.alive() {
        Ok(())
    } else {
        Err(format!("the server exited during the run; log:\n{}", server.log()).into())
    }
}

/// Where the CPU went during a run, as figures: by the server's threads, then the machine's.
pub fn cpu_figures(report: &mut crate::report::Report, cpu: &crate::proc_stats::CpuBreakdown) {
    thread_figures(report, &cpu.threads);
    machine_figures(report, &cpu.machine);
}

/// The server's CPU by thread name (busiest first), and how long those threads waited for a
/// core while runnable, as figures.
fn thread_figures(report: &mut crate::report::Report, rows: &[crate::proc_stats::ThreadUse]) {
    for row in rows {
        let name = if row.count > 1 {
            format!("{} x{}", row.name, row.count)
        } else {
            row.name.clone()
        };
        report.float(
            &format!("server_thread_cpu[{name}]"),
            row.cpu,
            "% of one core",
        );
        report.float(
            &format!("server_thread_runqueue_wait[{name}]"),
            row.waiting,
            "% of wall time",
        );
    }
}

/// The whole machine's CPU over a run, in percent of all its cores.
fn machine_figures(report: &mut crate::report::Report, usage: &crate::proc_stats::MachineUse) {
    report.float("machine_cpu_busy", usage.busy, "% of all cores");
    report.float("machine_cpu_user", usage.user, "% of all cores");
    report.float("machine_cpu_kernel", usage.kernel, "% of all cores");
    report.float("machine_cpu_steal", usage.steal, "% of all cores");
    if usage.steal >= STEAL_WORTH_NOTING {
        report.note(format!(
            "the hypervisor took {:.1}% of the cores during the run: its latency is not comparable \
             with a run that had them all",
            usage.steal
        ));
    }
}

/// Steal time (percent of all cores) above which a run's latency says more about the host's other
/// guests than about the relay.
const STEAL_WORTH_NOTING: f64 = 1.0;

/// Bytes as KiB / MiB, for figures.
pub fn kib(bytes: f64) -> f64 {
    bytes / 1024.0
}

pub fn mib(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}
