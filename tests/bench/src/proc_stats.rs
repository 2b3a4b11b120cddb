//! What the benchmark reads about processes from `/proc` (memory, CPU time), and the open-file
//! limit it raises for itself and the server it starts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The RSS of `pid` once it has stopped moving (three readings 100 ms apart within 64 KiB of
/// each other), or the latest reading after `at_most`: memory "at rest" is read when the process
/// is at rest, not after a guessed pause.
pub async fn settled_rss(pid: u32, at_most: std::time::Duration) -> std::io::Result<u64> {
    const STEADY: u64 = 64 * 1024;
    let deadline = tokio::time::Instant::now() + at_most;
    let mut readings = vec![rss_bytes(pid)?];
    let mut every = tokio::time::interval(std::time::Duration::from_millis(100));
    every.tick().await;
    loop {
        let last3 = &readings[readings.len().saturating_sub(3)..];
        let steady = last3.len() == 3
            && last3.iter().max().copied().unwrap_or(0) - last3.iter().min().copied().unwrap_or(0)
                <= STEADY;
        if steady || tokio::time::Instant::now() >= deadline {
            return Ok(readings[readings.len() - 1]);
        }
        every.tick().await;
        readings.push(rss_bytes(pid)?);
    }
}

/// Resident memory (`VmRSS`) of a process, in bytes.
pub fn rss_bytes(pid: u32) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| std::io::Error::other("no VmRSS line"))
}

/// Reads a process's RSS at a fixed interval until stopped: memory during a run, not only after.
pub struct RssSampler {
    running: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<u64>>,
}

impl RssSampler {
    pub fn start(pid: u32, every: Duration) -> RssSampler {
        let running = Arc::new(AtomicBool::new(true));
        let still = running.clone();
        let task = tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut tick = tokio::time::interval(every);
            while still.load(Ordering::Relaxed) {
                tick.tick().await;
                if let Ok(rss) = rss_bytes(pid) {
                    samples.push(rss);
                }
            }
            samples
        });
        RssSampler { running, task }
    }

    /// Stops sampling; answers the readings in bytes, in order.
    pub async fn stop(self) -> Vec<u64> {
        self.running.store(false, Ordering::Relaxed);
        self.task.await.unwrap_or_default()
    }
}

/// CPU time (user + system) a process has used so far.
pub fn cpu_time(pid: &str) -> std::io::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may contain spaces; the fields after it are plain numbers.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| std::io::Error::other("bad /proc stat"))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of proc(5); `fields[0]` is field 3 (state).
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let total = ticks(11) + ticks(12);
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(Duration::from_nanos(total * 1_000_000_000 / per_second))
}

/// CPU use of a process over an interval, as a percentage of one core.
pub struct CpuMeter {
    pid: String,
    start_cpu: Duration,
    start: Instant,
}

impl CpuMeter {
    /// Starts measuring `pid` ("self" for this process).
    pub fn start(pid: impl ToString) -> CpuMeter {
        let pid = pid.to_string();
        let start_cpu = cpu_time(&pid).unwrap_or_default();
        CpuMeter {
            pid,
            start_cpu,
            start: Instant::now(),
        }
    }

    /// Percent of one core used since `start` (200 = both cores of a 2-core machine).
    pub fn percent(&self) -> f64 {
        let used = cpu_time(&self.pid)
            .unwrap_or_default()
            .saturating_sub(self.start_cpu);
        let wall = self.start.elapsed().as_secs_f64().max(1e-9);
        used.as_secs_f64() / wall * 100.0
    }
}

/// The whole machine's CPU time by state, in ticks, from the `cpu` line of `/proc/stat`.
#[derive(Clone, Copy, Default)]
struct MachineTicks {
    user: u64,
    kernel: u64,
    idle: u64,
    steal: u64,
}

impl MachineTicks {
    fn read() -> MachineTicks {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<u64> = stat
            .lines()
            .find_map(|line| line.strip_prefix("cpu "))
            .map(|rest| {
                rest.split_whitespace()
                    .map(|f| f.parse().unwrap_or(0))
                    .collect()
            })
            .unwrap_or_default();
        // proc(5): user nice system idle iowait irq softirq steal (guest time is inside user).
        let at = |i: usize| fields.get(i).copied().unwrap_or(0);
        MachineTicks {
            user: at(0) + at(1),
            kernel: at(2) + at(5) + at(6),
            idle: at(3) + at(4),
            steal: at(7),
        }
    }

    fn total(&self) -> u64 {
        self.user + self.kernel + self.idle + self.steal
    }
}

/// How busy the whole machine was over an interval, in percent of all its cores: whatever the
/// per-process meters miss (softirq time is charged to no process) shows here.
pub struct MachineUse {
    /// Not idle: 100 means every core was busy all the time.
    pub busy: f64,
    /// User space of every process.
    pub user: f64,
    /// The kernel: system calls, interrupts and softirqs (loopback TCP is mostly here).
    pub kernel: f64,
    /// Taken by the hypervisor.
    pub steal: f64,
}

/// Measures [`MachineUse`] from its start.
struct MachineCpuMeter {
    start: MachineTicks,
}

impl MachineCpuMeter {
    pub fn start() -> MachineCpuMeter {
        MachineCpuMeter {
            start: MachineTicks::read(),
        }
    }

    pub fn usage(&self) -> MachineUse {
        let now = MachineTicks::read();
        let total = now.total().saturating_sub(self.start.total()).max(1) as f64;
        let share = |now: u64, then: u64| now.saturating_sub(then) as f64 / total * 100.0;
        let idle = share(now.idle, self.start.idle);
        MachineUse {
            busy: 100.0 - idle,
            user: share(now.user, self.start.user),
            kernel: share(now.kernel, self.start.kernel),
            steal: share(now.steal, self.start.steal),
        }
    }
}

/// Where the CPU went over an interval: by the measured process's threads, and on the whole
/// machine. Every timed scenario reports both, so they are measured together.
pub struct CpuBreakdown {
    pub threads: Vec<ThreadUse>,
    pub machine: MachineUse,
}

/// Measures a [`CpuBreakdown`] from its start.
pub struct CpuBreakdownMeter {
    threads: ThreadCpuMeter,
    machine: MachineCpuMeter,
}

impl CpuBreakdownMeter {
    /// Starts measuring `pid`'s threads and the machine.
    pub fn start(pid: u32) -> CpuBreakdownMeter {
        CpuBreakdownMeter {
            threads: ThreadCpuMeter::start(pid),
            machine: MachineCpuMeter::start(),
        }
    }

    pub fn read(&self) -> CpuBreakdown {
        CpuBreakdown {
            threads: self.threads.busiest(),
            machine: self.machine.usage(),
        }
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; the server inherits it. Answers the new
/// soft limit.
pub fn raise_open_files() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit for the call to fill in and read.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur)
}

/// Processors online, for reading CPU percentages.
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Per thread name (`comm`): CPU time, time spent runnable but waiting for a CPU (from
/// `schedstat`: contention for the cores), and how many threads carry the name.
#[derive(Clone, Copy, Default)]
struct ThreadTimes {
    cpu: Duration,
    waiting: Duration,
    count: usize,
}

fn threads_cpu(pid: u32) -> std::collections::BTreeMap<String, ThreadTimes> {
    let mut by_name = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return by_name;
    };
    for task in tasks.flatten() {
        let tid = task.file_name().to_string_lossy().into_owned();
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let Ok(cpu) = cpu_time(&format!("{pid}/task/{tid}")) else {
            continue;
        };
        let waiting = std::fs::read_to_string(task.path().join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map(Duration::from_nanos)
            .unwrap_or_default();
        let entry: &mut ThreadTimes = by_name.entry(name.trim().to_string()).or_default();
        entry.cpu += cpu;
        entry.waiting += waiting;
        entry.count += 1;
    }
    by_name
}

/// One row of [`ThreadCpuMeter::busiest`].
pub struct ThreadUse {
    pub name: String,
    pub count: usize,
    /// CPU used, in percent of one core.
    pub cpu: f64,
    /// Time runnable but not running, in percent of the wall time (per thread, summed).
    pub waiting: f64,
}

/// Where a process spends its CPU over an interval, by thread name.
struct ThreadCpuMeter {
    pid: u32,
    start: std::collections::BTreeMap<String, ThreadTimes>,
    started: Instant,
}

impl ThreadCpuMeter {
    pub fn start(pid: u32) -> ThreadCpuMeter {
        ThreadCpuMeter {
            pid,
            start: threads_cpu(pid),
            started: Instant::now(),
        }
    }

    /// Threads by name since `start`, busiest first; those under 0.5% of a core are left out.
    pub fn busiest(&self) -> Vec<ThreadUse> {
        let wall = self.started.elapsed().as_secs_f64().max(1e-9);
        let mut rows: Vec<ThreadUse> = threads_cpu(self.pid)
            .into_iter()
            .map(|(name, now)| {
                let before = self.start.get(&name).copied().unwrap_or_default();
                let cpu = now.cpu.saturating_sub(before.cpu).as_secs_f64();
                let waiting = now.waiting.saturating_sub(before.waiting).as_secs_f64();
                ThreadUse {
                    name,
                    count: now.count,
                    cpu: cpu / wall * 100.0,
                    waiting: waiting / wall * 100.0,
                }
            })
            .filter(|row| row.cpu >= 0.5)
            .collect();
        rows.sort_by(|a, b| b.cpu.total_cmp(&a.cpu));
        rows
    }
}

/// CPU used by the live children of `pid` (the agents a relay started), as a percentage of one
/// core over `over`: for children started at the beginning of that interval.
pub fn children_cpu_percent(pid: u32, over: Duration) -> f64 {
    children_cpu(pid).as_secs_f64() / over.as_secs_f64().max(1e-9) * 100.0
}

/// Total CPU time used so far by the live children of `pid`.
fn children_cpu(pid: u32) -> Duration {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    let parent = pid.to_string();
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| {
                    let rest = stat.rsplit_once(')')?.1.to_string();
                    rest.split_whitespace().nth(1).map(|ppid| ppid == parent)
                })
                .unwrap_or(false)
        })
        .filter_map(|child| cpu_time(&child).ok())
        .sum()
}
