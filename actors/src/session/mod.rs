//! A session: one Claude Code conversation in one working directory, as an actor.
//!
//! The session owns its state and its event log (the only place a `seq` is assigned), fans
//! committed events out to its subscribers, and drives its Claude process: it turns the queue's
//! [`QueueSignal::Run`] into a process and a user turn, and the process's lines into events.
//! It never talks to a socket: clients reach it through the registry, and it reaches them
//! through their [`ClientSink`](crate::client::ClientSink)s.

mod agent;
mod control;
mod event_log;
mod history;
mod permissions;
mod requests;
mod restore;
mod rules;
mod shutdown;
mod subscribers;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

pub use agent::{AgentStopReason, QueueSignal};
pub use event_log::EventLog;
pub use requests::{InitSession, SessionRequest};
pub use shutdown::ShutdownSession;
pub use subscribers::{ReplayCaughtUp, ReplayTask};

use crate::agent_slots::AgentSlots;
use crate::claude_process::ClaudeProcess;
use crate::config::DomainConfig;
use crate::event::{EncodedDelta, EventData};
use crate::ids::{PromptId, Seq, SessionId};
use crate::queue::{QueueCommand, QueueProcessor, QueuedPrompt};
use crate::registry::SessionGone;
use crate::session_info::{now_ts, SessionInfo, SessionStatus};
use crate::store::EventStore;
use control::HostControl;
use permissions::PendingPermissions;
use subscribers::Subscribers;

/// The running Claude process of a session.
struct AgentHandle {
    id: u64,
    addr: Addr<ClaudeProcess>,
    /// Why we asked it to stop, once we did.
    stopping: Option<AgentStopReason>,
    /// It holds an "always" rule the session has since forgotten: replace it before the next
    /// prompt.
    stale: bool,
}

/// Where the session stands with its registry and its world.
pub struct SessionDeps {
    pub config: Arc<DomainConfig>,
    pub metrics: Arc<crate::metrics::RelayMetrics>,
    pub store: Arc<dyn EventStore>,
    pub slots: Addr<AgentSlots>,
    pub gone: Recipient<SessionGone>,
    /// Told each conversation id the session's Claude Code reports.
    pub conversations: Recipient<crate::registry::ConversationSeen>,
}

/// The session actor.
pub struct Session {
    info: SessionInfo,
    deps: SessionDeps,
    log: EventLog,
    subscribers: Subscribers,
    /// Deltas waiting for the events before them to be committed.
    held_deltas: VecDeque<Arc<EncodedDelta>>,
    queue: Option<Addr<QueueProcessor>>,
    /// Prompts ever queued here, for idempotent retries: id → (position, seq of `prompt.queued`).
    prompts: HashMap<PromptId, (usize, Seq)>,
    /// Prompts to hand the queue when it starts (restored after a restart).
    restored_queue: Vec<QueuedPrompt>,
    running: Option<PromptId>,
    /// A prompt the queue started while the process was being replaced (see `rules`).
    parked: Option<QueuedPrompt>,
    /// When the running prompt started, for the prompt-duration metric.
    prompt_clock: Option<(PromptId, std::time::Instant)>,
    /// The running prompt was interrupted: its end is a failure (`interrupted`).
    interrupted: bool,
    agent: Option<AgentHandle>,
    next_agent_id: u64,
    control: HostControl,
    permissions: PendingPermissions,
    /// Requests waiting for the process to end (`session.stop`).
    stop_waiters: Vec<tokio::sync::oneshot::Sender<()>>,
    /// Waiting for the running prompt to end (shutdown).
    turn_waiters: Vec<tokio::sync::oneshot::Sender<()>>,
    store_backoff: Duration,
    deleted: bool,
    leftovers: restore::Leftovers,
    /// Uncommitted events, shared with the Claude process for backpressure.
    backlog: Arc<crate::claude_process::Backlog>,
    /// A [`FlushLog`] is on its way: events emitted until it runs join the same batch.
    flush_scheduled: bool,
}

/// Writes what the session emitted while handling one message as one batch. Sent to itself by
/// [`Session::emit`], so it runs after the handler that emitted: a turn's `result`, its
/// `prompt.completed` and the status change that follows normally reach the store, and the client,
/// in one commit rather than in two in a row.
#[derive(Message)]
#[rtype(result = "()")]
struct FlushLog;

impl Session {
    fn with_state(info: SessionInfo, deps: SessionDeps, last_seq: Seq) -> Self {
        Session {
            log: EventLog::new(
                info.id,
                last_seq,
                (deps.config.limits.client_buffer / 4).clamp(1, 512),
            ),
            info,
            deps,
            subscribers: Subscribers::default(),
            held_deltas: VecDeque::new(),
            queue: None,
            prompts: HashMap::new(),
            restored_queue: Vec::new(),
            running: None,
            parked: None,
            prompt_clock: None,
            interrupted: false,
            agent: None,
            next_agent_id: 1,
            control: HostControl::default(),
            permissions: PendingPermissions::default(),
            stop_waiters: Vec::new(),
            turn_waiters: Vec::new(),
            store_backoff: Duration::from_millis(100),
            deleted: false,
            leftovers: restore::Leftovers::default(),
            backlog: Arc::default(),
            flush_scheduled: false,
        }
    }

    /// The session's id.
    pub fn id(&self) -> SessionId {
        self.info.id
    }

    /// Records an event and schedules its write for when the current message is handled;
    /// returns its seq.
    fn emit(&mut self, data: EventData, ctx: &mut Context<Self>) -> Seq {
        self.count_prompt(&data);
        let seq = self.log.append(&data);
        self.update_backlog();
        if !self.flush_scheduled {
            self.flush_scheduled = true;
            ctx.notify(FlushLog);
        }
        seq
    }

    /// Changes the status, with a `session.status` event when it really changed.
    fn set_status(
        &mut self,
        status: SessionStatus,
        reason: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        if self.info.status == status {
            return;
        }
        self.deps.metrics.session_status(
            Some(status_name(self.info.status)),
            Some(status_name(status)),
        );
        log::info!("session {}: status {:?}", self.info.id, status);
        self.info.status = status;
        self.touch();
        self.emit(EventData::SessionStatus { status, reason }, ctx);
    }

    /// Tells the process how many events wait for the store (it pauses reading when too many).
    fn update_backlog(&self) {
        let waiting = self.log.last_assigned() - self.log.stored_seq();
        self.backlog
            .set(usize::try_from(waiting).unwrap_or(usize::MAX));
    }

    /// Records the prompt metrics for a prompt's start or end.
    fn count_prompt(&mut self, data: &EventData) {
        let (prompt_id, outcome) = match data {
            EventData::PromptStarted { prompt_id } => {
                self.prompt_clock = Some((prompt_id.clone(), std::time::Instant::now()));
                return;
            }
            EventData::PromptCompleted(outcome) if outcome.is_error => {
                (&outcome.prompt_id, "error")
            }
            EventData::PromptCompleted(outcome) => (&outcome.prompt_id, "completed"),
            EventData::PromptFailed { prompt_id, error } => (prompt_id, error.code.as_str()),
            _ => return,
        };
        let seconds = match &self.prompt_clock {
            Some((running, started)) if running == prompt_id => {
                Some(started.elapsed().as_secs_f64())
            }
            _ => None,
        };
        if seconds.is_some() {
            self.prompt_clock = None;
        }
        self.deps.metrics.prompt_ended(outcome, seconds);
    }

    /// Notes that the session object changed, so the store gets the new one.
    fn touch(&mut self) {
        self.info.updated_at = now_ts();
        self.log.save_snapshot(&self.info);
    }

    /// Emits `session.updated` with the current session object.
    fn announce_update(&mut self, ctx: &mut Context<Self>) {
        self.touch();
        let session = self.info.clone();
        self.emit(EventData::SessionUpdated { session }, ctx);
    }

    /// Writes the next batch of the log, if there is one and none is in flight.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        let Some(batch) = self.log.next_batch() else {
            return;
        };
        self.write_batch(batch, ctx);
    }

    fn write_batch(&mut self, batch: crate::store::WriteBatch, ctx: &mut Context<Self>) {
        let write = self.deps.store.write(batch);
        let started = std::time::Instant::now();
        ctx.spawn(
            write
                .into_actor(self)
                .map(move |result, act, ctx| match result {
                    Ok(()) => {
                        let seconds = started.elapsed().as_secs_f64();
                        act.deps.metrics.store_write_seconds.observe(seconds);
                        act.on_committed(ctx)
                    }
                    Err(error) => act.on_write_failed(error.to_string(), ctx),
                }),
        );
    }

    fn on_committed(&mut self, ctx: &mut Context<Self>) {
        self.store_backoff = Duration::from_millis(100);
        let now = std::time::Instant::now();
        for event in self.log.committed() {
            let _ = event.committed_at.set(now);
            let kind = crate::metrics::KindLabel {
                kind: event.kind.clone(),
            };
            self.deps.metrics.events_stored.get_or_create(&kind).inc();
            let slow = self.subscribers.broadcast(&event);
            self.deps.metrics.slow_consumers.inc_by(slow);
        }
        let stored = self.log.stored_seq();
        // The session object reports what clients can have seen: the committed seq.
        self.info.last_seq = stored;
        self.update_backlog();
        while let Some(delta) = self.held_deltas.front() {
            if delta.after_seq > stored {
                break;
            }
            if let Some(delta) = self.held_deltas.pop_front() {
                self.subscribers.broadcast_delta(&delta);
            }
        }
        if self.deleted && self.log.last_assigned() == stored {
            self.subscribers.clear();
            ctx.stop();
            return;
        }
        self.flush(ctx);
    }

    /// The store refused a batch: waiting requests hear `unavailable`; the batch is retried as it
    /// was, so nothing is lost and no seq is skipped.
    fn on_write_failed(&mut self, error: String, ctx: &mut Context<Self>) {
        log::error!(
            "session {}: store write failed, will retry: {error}",
            self.info.id
        );
        self.log.failed(&error);
        let delay = self.store_backoff;
        self.store_backoff = (delay * 2).min(Duration::from_secs(5));
        ctx.run_later(delay, |act, ctx| {
            if let Some(batch) = act.log.retry_batch() {
                act.write_batch(batch, ctx);
            }
        });
    }

    /// Sends a live delta now, or once the events before it are committed.
    fn send_delta(&mut self, line: &serde_json::value::RawValue) {
        if self.subscribers.is_empty() {
            return;
        }
        let delta = EncodedDelta::encode(self.info.id, self.log.last_assigned(), line);
        if delta.after_seq <= self.log.stored_seq() && self.held_deltas.is_empty() {
            self.subscribers.broadcast_delta(&delta);
        } else {
            self.held_deltas.push_back(delta);
        }
    }

    fn queue(&self, command: QueueCommand) {
        if let Some(queue) = &self.queue {
            queue.do_send(command);
        }
    }
}

impl Actor for Session {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let status = status_name(self.info.status);
        self.deps.metrics.session_status(None, Some(status));
        let queue = QueueProcessor::new(
            self.info.id,
            ctx.address(),
            self.deps.slots.clone(),
            std::mem::take(&mut self.restored_queue),
            self.info.paused,
            Duration::from_secs(self.deps.config.claude.idle_timeout_s.max(1)),
        )
        .start();
        self.queue = Some(queue);
        self.close_leftovers(ctx);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        let status = status_name(self.info.status);
        self.deps.metrics.session_status(Some(status), None);
        if let Some(agent) = &self.agent {
            agent.addr.do_send(crate::claude_process::StopAgent(
                crate::claude_process::StopMode::Kill,
            ));
        }
        if let Some(queue) = self.queue.take() {
            queue.do_send(QueueCommand::Stop);
        }
        self.deps.gone.do_send(SessionGone { id: self.info.id });
    }
}

impl Session {
    /// The replay that brings `sink` from `after` to the live stream.
    fn replay_task(
        &self,
        sink: crate::client::ClientSink,
        after: Seq,
        generation: u64,
        cancel: tokio_util::sync::CancellationToken,
        ctx: &mut Context<Self>,
    ) -> ReplayTask {
        ReplayTask {
            store: self.deps.store.clone(),
            session_id: self.info.id,
            sink,
            after,
            generation,
            cancel,
            done: ctx.address().recipient(),
            metrics: self.deps.metrics.clone(),
        }
    }
}

impl Handler<FlushLog> for Session {
    type Result = ();

    fn handle(&mut self, _: FlushLog, ctx: &mut Context<Self>) {
        self.flush_scheduled = false;
        self.flush(ctx);
    }
}

impl Handler<ReplayCaughtUp> for Session {
    type Result = ();

    fn handle(&mut self, msg: ReplayCaughtUp, ctx: &mut Context<Self>) {
        if let Some((sink, cancel)) = self.subscribers.caught_up(&msg, self.log.stored_seq()) {
            // Events were committed after the replay's last read: read on from there.
            let task = self.replay_task(sink, msg.up_to, msg.generation, cancel, ctx);
            actix::spawn(task.run());
        }
    }
}

/// A status's name on the wire, as a metrics label.
fn status_name(status: SessionStatus) -> &'static str {
    match status {
        SessionStatus::Idle => "idle",
        SessionStatus::Waiting => "waiting",
        SessionStatus::Starting => "starting",
        SessionStatus::Running => "running",
        SessionStatus::AwaitingPermission => "awaiting_permission",
        SessionStatus::Stopped => "stopped",
        SessionStatus::Crashed => "crashed",
    }
}
