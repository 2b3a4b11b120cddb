//! The session's rules, with no I/O: the prompt queue, the current turn and its process, the
//! permission requests, our control requests to the CLI, the status, and the event log where
//! every `seq` is born.
//!
//! [`SessionCore::apply`] is the one way in: an [`Input`] (a client's request, a line of the
//! process, a word from the slot keeper, a timer) goes in, and the [`Effect`]s the session actor
//! must carry out come back (launch or stop the process, write a line to it, ask for or give back
//! the process slot, start a timer, answer the client). Events go into the core's own
//! [`EventLog`]; the actor writes its batches to the store and fans committed events out.
//!
//! Must never: touch a socket, a process, a file or a clock-driven timer; it only says what
//! should happen, so the session's stories run as plain unit tests.

mod control;
mod event_log;
mod lines;
mod permissions;
mod process;
mod queue;
mod requests;
mod restore;
mod rules;
mod status;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use tokio::sync::oneshot;

pub use control::ControlResult;
pub use event_log::EventLog;
pub use process::StopReason;
pub use queue::QueuedPrompt;
pub use requests::AfterControl;
pub use status::status_name;

use crate::claude_process::{AgentSignal, LaunchSpec, StopMode};
use crate::command::{Caller, Reply, SessionOp};
use crate::config::DomainConfig;
use crate::error::RelayResult;
use crate::event::EventData;
use crate::ids::{PermissionRequestId, PromptId, Seq, SessionId};
use crate::metrics::RelayMetrics;
use crate::session_info::{now_ts, SessionInfo, SessionStatus};
use control::HostControl;
use permissions::Permissions;
use process::Agent;
use queue::PromptQueue;

/// Something that happened to the session.
#[derive(Debug)]
pub enum Input {
    /// The actor started: close what a previous server left open, and start what waits.
    Start,
    /// A brand-new session: record `session.created`.
    Created,
    /// A client's operation (the actor answers `Get`, `Events`, `Subscribe` and `Unsubscribe`
    /// itself: they are reads and delivery, not rules).
    Request { caller: Caller, op: SessionOp },
    /// The CLI answered (or, `None`, will never answer) a control request a client waits on.
    ControlAnswered {
        then: AfterControl,
        result: Option<ControlResult>,
    },
    /// The outcome of an [`Effect::Launch`].
    Launched {
        agent: u64,
        result: Result<(), String>,
    },
    /// What process `agent` reported.
    Agent { agent: u64, signal: AgentSignal },
    /// The queue processor's word about the process slot.
    Slot(crate::queue::SlotSignal),
    /// A permission request's `permissions.timeout_s` ran out.
    PermissionTimedOut(PermissionRequestId),
    /// The server shuts down: start nothing new.
    Drain,
    /// The shutdown's grace period is over: stop the process (killed when a turn still runs).
    Halt,
}

/// What the session actor must do.
#[derive(Debug)]
pub enum Effect {
    /// Answer the client's request (boxed: answers are large, and most effects are not one).
    Answer(Box<Answer>),
    /// Start Claude Code; report back with [`Input::Launched`] before anything else.
    Launch { agent: u64, spec: LaunchSpec },
    /// Write one line to the process's stdin.
    Write(String),
    /// Stop the process.
    Stop(StopMode),
    /// Tell the queue processor how the session uses its process slot.
    Slot(crate::queue::SlotUse),
    /// Resolve the permission request as timed out after this long (unless it closes first).
    StartTimer(PermissionRequestId, Duration),
    /// The permission request closed: its timer is moot.
    CancelTimer(PermissionRequestId),
    /// Claude Code reported its conversation id (the registry lets the owner resume it).
    ConversationSeen(String),
    /// A live delta, to send once the events before it are committed.
    Delta(Box<RawValue>),
    /// The process is gone (`session.stop` waits for this).
    ProcessGone,
    /// No prompt runs any more (a shutdown waits for this).
    TurnEnded,
}

/// How a client's request is answered.
#[derive(Debug)]
pub enum Answer {
    /// At once.
    Now(RelayResult<Reply>),
    /// Once event `seq` is durable: with `reply`, or (`None`) with the session object as it then
    /// stands.
    Stored { seq: Seq, reply: Option<Reply> },
    /// When the CLI answers: feed [`Input::ControlAnswered`] with `then`, and answer what that
    /// gives.
    Control {
        answer: oneshot::Receiver<ControlResult>,
        then: AfterControl,
    },
    /// Once the process has exited and everything before is durable, with the session object.
    AfterExit,
}

/// One session's state and rules. Every field has one owner, and it is here.
pub struct SessionCore {
    /// The session object's own fields; `status`, `paused`, `queue_length`, `last_seq` and
    /// `pending_permissions` are read from their owners below when the object is shown.
    info: SessionInfo,
    status: SessionStatus,
    config: Arc<DomainConfig>,
    metrics: Arc<RelayMetrics>,
    log: EventLog,
    queue: PromptQueue,
    agent: Agent,
    permissions: Permissions,
    control: HostControl,
    /// Prompts found running by a restart, failed at [`Input::Start`].
    leftovers: Vec<PromptId>,
    /// When the running prompt started, for the prompt-duration metric.
    prompt_clock: Option<(PromptId, Instant)>,
    deleted: bool,
    /// What the input being applied asks of the actor.
    out: Vec<Effect>,
}

impl SessionCore {
    /// A brand-new session; it records its creation at [`Input::Created`].
    pub fn new(info: SessionInfo, config: Arc<DomainConfig>, metrics: Arc<RelayMetrics>) -> Self {
        let queue = PromptQueue::new(info.paused);
        SessionCore::with(info, config, metrics, queue, Vec::new())
    }

    fn with(
        info: SessionInfo,
        config: Arc<DomainConfig>,
        metrics: Arc<RelayMetrics>,
        queue: PromptQueue,
        leftovers: Vec<PromptId>,
    ) -> Self {
        let max_batch = (config.limits.client_buffer / 4).clamp(1, 512);
        SessionCore {
            log: EventLog::new(info.id, info.last_seq, max_batch),
            status: info.status,
            info,
            config,
            metrics,
            queue,
            agent: Agent::default(),
            permissions: Permissions::default(),
            control: HostControl::default(),
            leftovers,
            prompt_clock: None,
            deleted: false,
            out: Vec::new(),
        }
    }

    /// Applies one input; answers what the actor must do, in order.
    pub fn apply(&mut self, input: Input) -> Vec<Effect> {
        match input {
            Input::Start => self.start(),
            Input::Created => self.created(),
            Input::Request { caller, op } => self.request(caller, op),
            Input::ControlAnswered { then, result } => self.control_answered(then, result),
            Input::Launched { agent, result } => self.launched(agent, result),
            Input::Agent { agent, signal } => self.on_agent(agent, signal),
            Input::Slot(signal) => self.on_slot(signal),
            Input::PermissionTimedOut(id) => self.permission_timed_out(&id),
            Input::Drain => self.drain(),
            Input::Halt => self.halt(),
        }
        std::mem::take(&mut self.out)
    }

    /// The session object as clients see it now.
    pub fn info(&self) -> SessionInfo {
        let mut info = self.info.clone();
        info.status = self.status;
        info.paused = self.queue.paused();
        info.queue_length = self.queue.len();
        info.last_seq = self.log.stored_seq();
        info.pending_permissions = self.permissions.ids();
        info.terminal_command = info
            .claude_session_id
            .as_deref()
            .map(|id| crate::session_info::terminal_command(&info.cwd, id));
        info
    }

    /// The session's id.
    pub fn id(&self) -> SessionId {
        self.info.id
    }

    /// The session's status.
    pub fn status(&self) -> SessionStatus {
        self.status
    }

    /// The event log, for the actor to write its batches and learn what was committed.
    pub fn log(&mut self) -> &mut EventLog {
        &mut self.log
    }

    /// Whether the session was deleted (it answers nothing more, and stops once stored).
    pub fn is_deleted(&self) -> bool {
        self.deleted
    }

    /// Whether a prompt runs.
    pub fn turn_running(&self) -> bool {
        self.agent.turn_running()
    }

    /// Whether a Claude process lives.
    pub fn has_process(&self) -> bool {
        self.agent.has_process()
    }

    /// Whether live deltas are wanted at all.
    pub fn stream_deltas(&self) -> bool {
        self.info.stream_deltas
    }

    fn effect(&mut self, effect: Effect) {
        self.out.push(effect);
    }

    /// Answers the client's request being applied.
    fn give(&mut self, answer: Answer) {
        self.out.push(Effect::Answer(Box::new(answer)));
    }

    /// Records an event in the log; answers its seq.
    fn emit(&mut self, data: EventData) -> Seq {
        self.count_prompt(&data);
        self.log.append(&data)
    }

    /// Records an event stamped `ts` in the log; answers its seq.
    fn emit_at(&mut self, data: EventData, ts: &str) -> Seq {
        self.count_prompt(&data);
        self.log.append_at(&data, ts)
    }

    /// Notes that the session object changed, so the store gets the new one.
    fn touch(&mut self) {
        self.info.updated_at = now_ts();
        let info = self.info();
        self.log.save_snapshot(&info);
    }

    /// Emits `session.updated` with the current session object.
    fn announce_update(&mut self) {
        self.touch();
        let session = self.info();
        self.emit(EventData::SessionUpdated { session });
    }

    /// Answers once everything emitted so far is durable, with the session object.
    fn answer_session(&mut self) {
        let seq = self.log.last_assigned();
        self.give(Answer::Stored { seq, reply: None });
    }
}
