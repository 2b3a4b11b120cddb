//! A session: one Claude Code conversation in one working directory, as an actor.
//!
//! The rules live in [`core::SessionCore`], which has no I/O: this actor only turns what it
//! receives (client requests from the registry, the process's lines, the queue processor's word
//! about the slot, timers) into [`core::Input`]s and carries out the [`core::Effect`]s that come
//! back: launching, writing to and stopping the Claude process, telling the queue processor how
//! the slot is used, starting timers, and answering clients once their events are durable. It
//! writes the core's event log to the store and fans committed events out to its subscribers.
//! It never talks to a socket: clients reach it through the registry, and it reaches them
//! through their [`ClientSink`](crate::client::ClientSink)s.

pub mod core;
mod delivery;
mod history;
mod requests;
mod shutdown;
mod subscribers;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

pub use self::core::EventLog;
pub use self::core::StopReason;
pub use requests::{InitSession, SessionRequest};
pub use shutdown::ShutdownSession;
pub use subscribers::{Replay, ReplayCaughtUp};

use self::core::{status_name, Answer, Effect, Input, SessionCore};
use crate::agent_slots::AgentSlots;
use crate::claude_process::{AgentEvent, Backlog, ClaudeProcess, LaunchSpec, StopAgent, WriteLine};
use crate::config::DomainConfig;
use crate::event::EncodedDelta;
use crate::ids::PermissionRequestId;
use crate::queue::{QueueProcessor, SlotSignal, SlotUse};
use crate::registry::SessionGone;
use crate::session_info::SessionInfo;
use crate::store::{EventStore, StoredSession};
use subscribers::Subscribers;

/// Where the session stands with its registry and its world.
pub struct SessionDeps {
    pub config: Arc<DomainConfig>,
    pub metrics: Arc<crate::metrics::RelayMetrics>,
    pub store: Arc<dyn EventStore>,
    pub slots: Addr<AgentSlots>,
    pub gone: Recipient<SessionGone>,
    /// Told each conversation id the session's Claude Code reports.
    pub conversations: Recipient<crate::registry::ConversationSeen>,
    /// Told of every committed event that matters beyond this session's subscribers.
    pub watchers: crate::watch::Watchers,
}

/// The session actor: the core's rules, and the I/O they ask for.
pub struct Session {
    core: SessionCore,
    deps: SessionDeps,
    subscribers: Subscribers,
    /// Deltas waiting for the events before them to be committed.
    held_deltas: VecDeque<Arc<EncodedDelta>>,
    queue: Option<Addr<QueueProcessor>>,
    /// The living process, by the id the core gave it.
    process: Option<(u64, Addr<ClaudeProcess>)>,
    /// Permission requests' timeouts (`permissions.timeout_s`).
    timers: HashMap<PermissionRequestId, SpawnHandle>,
    /// Requests waiting for the process to end (`session.stop`, shutdown).
    exit_waiters: Vec<tokio::sync::oneshot::Sender<()>>,
    /// Waiting for the running prompt to end (shutdown).
    turn_waiters: Vec<tokio::sync::oneshot::Sender<()>>,
    store_backoff: Duration,
    /// Uncommitted events, shared with the Claude process for backpressure.
    backlog: Arc<Backlog>,
    /// A flush is on its way: events emitted until it runs join the same batch.
    flush_scheduled: bool,
}

impl Session {
    /// A session that is new: it records its creation when it gets [`InitSession`].
    pub fn new(info: SessionInfo, deps: SessionDeps) -> Self {
        let core = SessionCore::new(info, deps.config.clone(), deps.metrics.clone());
        Session::with_core(core, deps)
    }

    /// A session read back from the store.
    pub fn restore(stored: StoredSession, deps: SessionDeps) -> Self {
        let core = SessionCore::restore(stored, deps.config.clone(), deps.metrics.clone());
        Session::with_core(core, deps)
    }

    fn with_core(core: SessionCore, deps: SessionDeps) -> Self {
        Session {
            core,
            deps,
            subscribers: Subscribers::default(),
            held_deltas: VecDeque::new(),
            queue: None,
            process: None,
            timers: HashMap::new(),
            exit_waiters: Vec::new(),
            turn_waiters: Vec::new(),
            store_backoff: Duration::from_millis(100),
            backlog: Arc::default(),
            flush_scheduled: false,
        }
    }

    /// Applies `input` to the core and carries out what it asks; answers a client's answer,
    /// if the input brought one.
    fn run(&mut self, input: Input, ctx: &mut Context<Self>) -> Option<Answer> {
        let mut inputs = VecDeque::from([input]);
        let mut answer = None;
        while let Some(input) = inputs.pop_front() {
            for effect in self.core.apply(input) {
                match effect {
                    Effect::Answer(given) => answer = Some(*given),
                    Effect::Launch { agent, spec } => {
                        let result = self.launch(agent, &spec, ctx);
                        inputs.push_back(Input::Launched { agent, result });
                    }
                    effect => self.perform(effect, ctx),
                }
            }
        }
        self.update_backlog();
        self.schedule_flush(ctx);
        answer
    }

    fn perform(&mut self, effect: Effect, ctx: &mut Context<Self>) {
        match effect {
            Effect::Write(line) => {
                if let Some((_, addr)) = &self.process {
                    addr.do_send(WriteLine(line));
                }
            }
            Effect::Stop(mode) => {
                if let Some((_, addr)) = &self.process {
                    addr.do_send(StopAgent(mode));
                }
            }
            Effect::Slot(slot) => self.slot(slot),
            Effect::StartTimer(id, after) => {
                let key = id.clone();
                let timer = ctx.run_later(after, move |act, ctx| {
                    act.timers.remove(&id);
                    act.run(Input::PermissionTimedOut(id), ctx);
                });
                self.timers.insert(key, timer);
            }
            Effect::CancelTimer(id) => {
                if let Some(timer) = self.timers.remove(&id) {
                    ctx.cancel_future(timer);
                }
            }
            Effect::ConversationSeen(claude_session_id) => {
                let session = self.core.info().id;
                let seen = crate::registry::ConversationSeen {
                    session,
                    claude_session_id,
                };
                self.deps.conversations.do_send(seen);
            }
            Effect::Delta(line) => self.send_delta(&line),
            Effect::ProcessGone => {
                self.process = None;
                for waiter in self.exit_waiters.drain(..) {
                    let _ = waiter.send(());
                }
            }
            Effect::TurnEnded => {
                for waiter in self.turn_waiters.drain(..) {
                    let _ = waiter.send(());
                }
            }
            // Taken apart by `run`.
            Effect::Answer(_) | Effect::Launch { .. } => {}
        }
    }

    /// Starts Claude Code; the error says what could not start, and as whom.
    fn launch(
        &mut self,
        agent: u64,
        spec: &LaunchSpec,
        ctx: &mut Context<Self>,
    ) -> Result<(), String> {
        let config = &self.deps.config.claude;
        let owner = ctx.address().recipient();
        match ClaudeProcess::launch(agent, spec, config, owner, self.backlog.clone()) {
            Ok(addr) => {
                self.process = Some((agent, addr));
                Ok(())
            }
            Err(error) => {
                let program = spec.program(config);
                Err(match &spec.run_as {
                    Some(account) => format!(
                        "cannot start `{program}` to run `{}` as {} (claude.run_as): {error}",
                        config.binary, account.name
                    ),
                    None => format!("cannot start `{program}`: {error}"),
                })
            }
        }
    }

    fn slot(&self, slot: SlotUse) {
        if let Some(queue) = &self.queue {
            queue.do_send(slot);
        }
    }
}

impl Actor for Session {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let status = status_name(self.core.status());
        self.deps.metrics.session_status(None, Some(status));
        let idle = Duration::from_secs(self.deps.config.claude.idle_timeout_s.max(1));
        let id = self.core.info().id;
        let session = ctx.address().recipient();
        let queue = QueueProcessor::new(id, session, self.deps.slots.clone(), idle).start();
        self.queue = Some(queue);
        self.run(Input::Start, ctx);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        let status = status_name(self.core.status());
        self.deps.metrics.session_status(Some(status), None);
        if let Some((_, addr)) = &self.process {
            addr.do_send(StopAgent(crate::claude_process::StopMode::Kill));
        }
        self.slot(SlotUse::Stop);
        let id = self.core.info().id;
        self.deps.gone.do_send(SessionGone { id });
    }
}

impl Handler<SlotSignal> for Session {
    type Result = ();

    fn handle(&mut self, msg: SlotSignal, ctx: &mut Context<Self>) {
        self.run(Input::Slot(msg), ctx);
    }
}

impl Handler<AgentEvent> for Session {
    type Result = ();

    fn handle(&mut self, msg: AgentEvent, ctx: &mut Context<Self>) {
        let input = Input::Agent {
            agent: msg.agent,
            signal: msg.signal,
        };
        self.run(input, ctx);
    }
}
