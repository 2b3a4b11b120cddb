//! One running Claude Code subprocess, as an actor.
//!
//! It writes what its session sends to the CLI's stdin, turns every stdout line into an
//! [`AgentSignal::Line`] (or [`AgentSignal::Invalid`] when the line is not JSON: nothing is
//! dropped silently), gathers stderr under a rate limit, and reports the exit only after stdout is
//! drained, so the exit is always the last thing its session hears. It never decides anything
//! about prompts or permissions: that is the session's job.

mod backlog;
mod launch;
mod stderr;

use std::process::ExitStatus;
use std::time::Duration;

use actix::prelude::*;
use futures_util::StreamExt;
use serde_json::value::RawValue;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};
use tokio_util::io::ReaderStream;

pub use backlog::Backlog;
pub use launch::LaunchSpec;

use crate::config::ClaudeConfig;
use crate::run_as::{self, OsAccount};
use stderr::StderrBuffer;

/// The longest stdout line kept; a longer one is reported as invalid output, not kept.
pub const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;
/// How long a process asked to stop may take before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long a process started through `sudo` has after SIGTERM before it is killed.
const TERM_GRACE: Duration = Duration::from_secs(3);

/// What a Claude process tells its session.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AgentEvent {
    /// Which process this is, so a session ignores a previous process's last words.
    pub agent: u64,
    pub signal: AgentSignal,
}

/// The things a Claude process can report.
#[derive(Debug)]
pub enum AgentSignal {
    /// A stdout line that parsed as JSON, verbatim, with its `type` and `subtype`.
    Line(LineHead, Box<RawValue>),
    /// A stdout line that is not JSON (or too long), never dropped silently.
    Invalid { text: String, error: String },
    /// Gathered stderr.
    Stderr(String),
    /// The process ended; `expected` is false for a crash.
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
        expected: bool,
    },
}

/// The fields of a stdout line the relay routes on.
#[derive(Debug, Default, serde::Deserialize)]
pub struct LineHead {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub subtype: Option<String>,
    #[serde(default)]
    pub session_id: Option<String>,
}

/// Write one line (a JSON object, no newline) to the CLI's stdin.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WriteLine(pub String);

/// How a process should end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopMode {
    /// Close stdin: the CLI ends its turn, if any, and exits.
    Graceful,
    /// Kill at once.
    Kill,
}

/// Ask the process to end.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopAgent(pub StopMode);

/// A running Claude Code subprocess.
pub struct ClaudeProcess {
    id: u64,
    pid: Option<u32>,
    owner: Recipient<AgentEvent>,
    stdin: Option<mpsc::UnboundedSender<String>>,
    kill: Option<oneshot::Sender<()>>,
    stderr: StderrBuffer,
    stop_requested: bool,
    stdout_done: bool,
    exit: Option<std::io::Result<ExitStatus>>,
}

/// One item of the stdout stream.
struct StdoutLine(Result<String, LinesCodecError>);

/// One chunk of the stderr stream.
struct StderrChunk(Vec<u8>);

impl ClaudeProcess {
    /// Spawns the CLI and the actor that drives it. Fails when the executable cannot start.
    pub fn launch(
        id: u64,
        spec: &LaunchSpec,
        config: &ClaudeConfig,
        owner: Recipient<AgentEvent>,
        backlog: std::sync::Arc<Backlog>,
    ) -> std::io::Result<Addr<ClaudeProcess>> {
        let mut child = spec.spawn(config)?;
        let pid = child.id();
        // Through sudo the child leads its own process group: sudo, Claude and Claude's tools.
        let group = spec
            .run_as
            .clone()
            .zip(pid.and_then(|pid| i32::try_from(pid).ok()));
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(std::io::Error::other("the child's pipes are missing"));
        };
        log::info!("agent {id} started: pid {pid:?} in {}", spec.cwd.display());
        let (stdin_tx, stdin_rx) = mpsc::unbounded_channel();
        actix::spawn(write_stdin(stdin, stdin_rx));
        let (kill_tx, kill_rx) = oneshot::channel();
        Ok(ClaudeProcess::create(move |ctx| {
            // Each line waits for room in the session's backlog before it is taken in.
            ctx.add_stream(
                FramedRead::new(stdout, LinesCodec::new_with_max_length(MAX_LINE_BYTES)).then(
                    move |line| {
                        let backlog = backlog.clone();
                        async move {
                            backlog.wait_for_room().await;
                            StdoutLine(line)
                        }
                    },
                ),
            );
            ctx.add_stream(
                ReaderStream::new(stderr)
                    .filter_map(|chunk| async move { chunk.ok().map(|b| StderrChunk(b.to_vec())) }),
            );
            ctx.spawn(
                actix::fut::wrap_future::<_, ClaudeProcess>(wait_for_exit(child, kill_rx, group))
                    .map(|status, act, ctx| {
                        act.exit = Some(status);
                        act.finish_if_done(ctx);
                    }),
            );
            ctx.run_interval(stderr::WINDOW, |act, _| act.flush_stderr());
            ClaudeProcess {
                id,
                pid,
                owner,
                stdin: Some(stdin_tx),
                kill: Some(kill_tx),
                stderr: StderrBuffer::default(),
                stop_requested: false,
                stdout_done: false,
                exit: None,
            }
        }))
    }
}

/// Writes lines to the CLI's stdin until the sender is dropped, then closes it (EOF).
async fn write_stdin(
    mut stdin: tokio::process::ChildStdin,
    mut rx: mpsc::UnboundedReceiver<String>,
) {
    while let Some(mut line) = rx.recv().await {
        line.push('\n');
        if stdin.write_all(line.as_bytes()).await.is_err() || stdin.flush().await.is_err() {
            break;
        }
    }
}

/// Waits for the child to end, killing it first if asked.
async fn wait_for_exit(
    mut child: tokio::process::Child,
    kill: oneshot::Receiver<()>,
    group: Option<(OsAccount, i32)>,
) -> std::io::Result<ExitStatus> {
    let Some((account, pgid)) = group else {
        return tokio::select! {
            status = child.wait() => status,
            _ = kill => {
                let _ = child.start_kill();
                child.wait().await
            }
        };
    };
    let status = tokio::select! {
        status = child.wait() => status,
        _ = kill => terminate_group(&mut child, &account, pgid).await,
    };
    // Nothing Claude started in its group (a tool left running) outlives it.
    account.kill_group(pgid).await;
    status
}

/// Ends a Claude started through sudo. sudo passes SIGTERM on to Claude but cannot pass on
/// SIGKILL, and the relay may not signal another account's processes: so SIGTERM to the group
/// first; if sudo is still there after [`TERM_GRACE`], SIGKILL to the group from the relay
/// (sudo, and everything when the relay runs as root) and from the account (the rest).
async fn terminate_group(
    child: &mut tokio::process::Child,
    account: &OsAccount,
    pgid: i32,
) -> std::io::Result<ExitStatus> {
    use nix::sys::signal::Signal;
    run_as::signal_group(pgid, Signal::SIGTERM);
    if let Ok(status) = tokio::time::timeout(TERM_GRACE, child.wait()).await {
        return status;
    }
    log::info!(
        "agent process group {pgid} ({}) outlived SIGTERM; killing it",
        account.name
    );
    // sudo is not reaped yet, so the group id cannot have been reused.
    run_as::signal_group(pgid, Signal::SIGKILL);
    account.kill_group(pgid).await;
    child.wait().await
}

impl ClaudeProcess {
    fn send(&self, signal: AgentSignal) {
        self.owner.do_send(AgentEvent {
            agent: self.id,
            signal,
        });
    }

    fn flush_stderr(&mut self) {
        if let Some(text) = self.stderr.take() {
            self.send(AgentSignal::Stderr(text));
        }
    }

    /// Reports the exit once both stdout is drained and the process has ended.
    fn finish_if_done(&mut self, ctx: &mut Context<Self>) {
        if !self.stdout_done {
            return;
        }
        let Some(exit) = self.exit.take() else {
            return;
        };
        self.flush_stderr();
        let (code, signal) = match &exit {
            Ok(status) => (status.code(), exit_signal(status)),
            Err(_) => (None, None),
        };
        let expected = self.stop_requested;
        log::info!(
            "agent {} (pid {:?}) exited: code {code:?} signal {signal:?} expected {expected}",
            self.id,
            self.pid
        );
        self.send(AgentSignal::Exited {
            code,
            signal,
            expected,
        });
        ctx.stop();
    }

    fn on_line(&mut self, line: String) {
        if line.trim().is_empty() {
            return;
        }
        match serde_json::from_str::<Box<RawValue>>(&line) {
            Ok(raw) if raw.get().starts_with('{') => {
                let head = serde_json::from_str::<LineHead>(raw.get()).unwrap_or_default();
                self.send(AgentSignal::Line(head, raw));
            }
            Ok(_) => self.send(AgentSignal::Invalid {
                text: line,
                error: "not a JSON object".into(),
            }),
            Err(error) => self.send(AgentSignal::Invalid {
                text: line,
                error: error.to_string(),
            }),
        }
    }
}

#[cfg(unix)]
fn exit_signal(status: &ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

#[cfg(not(unix))]
fn exit_signal(_: &ExitStatus) -> Option<i32> {
    None
}

impl Actor for ClaudeProcess {
    type Context = Context<Self>;
}

impl StreamHandler<StdoutLine> for ClaudeProcess {
    fn handle(&mut self, item: StdoutLine, _: &mut Context<Self>) {
        match item.0 {
            Ok(line) => self.on_line(line),
            Err(LinesCodecError::MaxLineLengthExceeded) => self.send(AgentSignal::Invalid {
                text: String::new(),
                error: format!("stdout line longer than {MAX_LINE_BYTES} bytes, not kept"),
            }),
            Err(LinesCodecError::Io(error)) => self.send(AgentSignal::Invalid {
                text: String::new(),
                error: format!("stdout unreadable: {error}"),
            }),
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        self.stdout_done = true;
        self.finish_if_done(ctx);
    }
}

impl StreamHandler<StderrChunk> for ClaudeProcess {
    fn handle(&mut self, item: StderrChunk, _: &mut Context<Self>) {
        self.stderr.push(&item.0);
    }

    fn finished(&mut self, _: &mut Context<Self>) {}
}

impl Handler<WriteLine> for ClaudeProcess {
    type Result = ();

    fn handle(&mut self, msg: WriteLine, _: &mut Context<Self>) {
        if let Some(stdin) = &self.stdin {
            let _ = stdin.send(msg.0);
        }
    }
}

impl Handler<StopAgent> for ClaudeProcess {
    type Result = ();

    fn handle(&mut self, msg: StopAgent, ctx: &mut Context<Self>) {
        self.stop_requested = true;
        self.stdin = None;
        match msg.0 {
            StopMode::Kill => self.kill_now(),
            StopMode::Graceful => {
                ctx.run_later(STOP_GRACE, |act, _| act.kill_now());
            }
        }
    }
}

impl ClaudeProcess {
    fn kill_now(&mut self) {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
    }
}
