//! The session's stories, told to its core: inputs in, effects and stored events out. No actix
//! system, no process, no socket, no file: the store is a [`MemoryStore`], the process is the
//! lines a test feeds in, and the slot is what a test says the queue processor answered.

mod capabilities;
mod edges;
mod inbox;
mod process;
mod stories;

use std::sync::Arc;

use futures_util::FutureExt;
use serde_json::{json, Value};

use super::{Answer, Effect, Input, SessionCore};
use crate::claude_process::{AgentSignal, LineHead, StopMode};
use crate::command::{Caller, Reply, SessionOp};
use crate::config::DomainConfig;
use crate::error::RelayResult;
use crate::ids::{PromptId, SessionId, UserId};
use crate::metrics::RelayMetrics;
use crate::queue::{SlotSignal, SlotUse};
use crate::session_info::{now_ts, PermissionMode, SessionInfo, SessionStatus};
use crate::store::memory::MemoryStore;
use crate::store::EventStore;

/// A session core, its store, and everything it asked for so far.
struct Harness {
    core: SessionCore,
    store: Arc<MemoryStore>,
    /// Every effect but answers, in order.
    effects: Vec<Effect>,
    /// Whether launches succeed.
    launches: bool,
    /// The id of the last process launched.
    launched: Option<u64>,
    /// Every event committed, whole, in order (the store forgets a deleted session's).
    committed: Vec<Value>,
}

fn new_info() -> SessionInfo {
    let now = now_ts();
    SessionInfo {
        id: SessionId::new(),
        owner: UserId::new("alice"),
        title: None,
        cwd: "/tmp".into(),
        model: None,
        effort: None,
        permission_mode: PermissionMode::default_mode(),
        stream_deltas: true,
        status: SessionStatus::Idle,
        paused: false,
        claude_session_id: None,
        created_at: now.clone(),
        updated_at: now,
        last_seq: 0,
        queue_length: 0,
        pending_permissions: Vec::new(),
        allowed_rules: Vec::new(),
        terminal_command: None,
        continued_from: None,
    }
}

fn alice() -> Caller {
    Caller {
        user: UserId::new("alice"),
        connection: None,
    }
}

/// A stdout line of the process.
fn line(value: Value) -> AgentSignal {
    let text = value.to_string();
    let head: LineHead = serde_json::from_str(&text).expect("a line head");
    let raw = serde_json::value::RawValue::from_string(text).expect("raw JSON");
    AgentSignal::Line(head, raw)
}

fn result_line(subtype: &str) -> AgentSignal {
    line(
        json!({"type": "result", "subtype": subtype, "is_error": subtype != "success",
                "result": "done", "session_id": "conv-1", "duration_ms": 5}),
    )
}

impl Harness {
    /// How the core asked the process to stop, in order.
    fn stops(&self) -> Vec<StopMode> {
        let modes = self.effects.iter().filter_map(|e| match e {
            Effect::Stop(mode) => Some(*mode),
            _ => None,
        });
        modes.collect()
    }

    /// A brand-new session, created and started.
    fn new() -> Harness {
        Harness::with_config(DomainConfig::default())
    }

    fn with_config(config: DomainConfig) -> Harness {
        let metrics = Arc::new(RelayMetrics::detached());
        let core = SessionCore::new(new_info(), Arc::new(config), metrics);
        let mut harness = Harness::on(core, Arc::new(MemoryStore::new()));
        harness.apply(Input::Created);
        harness.apply(Input::Start);
        harness
    }

    fn on(core: SessionCore, store: Arc<MemoryStore>) -> Harness {
        Harness {
            core,
            store,
            effects: Vec::new(),
            launches: true,
            launched: None,
            committed: Vec::new(),
        }
    }

    /// Applies `input` (launches answered at once, as the actor does) and commits what it
    /// emitted; answers the client's answer, if any.
    fn apply(&mut self, input: Input) -> Option<Answer> {
        let mut inputs = vec![input];
        let mut answer = None;
        while let Some(input) = inputs.pop() {
            for effect in self.core.apply(input) {
                match effect {
                    Effect::Answer(given) => answer = Some(*given),
                    Effect::Launch { agent, spec } => {
                        let result = if self.launches {
                            Ok(())
                        } else {
                            Err("cannot start `claude`: not found".to_string())
                        };
                        inputs.push(Input::Launched { agent, result });
                        self.launched = Some(agent);
                        self.effects.push(Effect::Launch { agent, spec });
                    }
                    effect => self.effects.push(effect),
                }
            }
        }
        self.commit();
        answer
    }

    /// Writes every pending batch to the store, as the actor does.
    fn commit(&mut self) {
        while let Some(batch) = self.core.log().next_batch() {
            let written = self.store.write(batch).now_or_never();
            assert!(matches!(written, Some(Ok(()))), "the store took the batch");
            for event in self.core.log().committed() {
                let whole = serde_json::from_str(&event.json).expect("an event");
                self.committed.push(whole);
            }
        }
    }

    /// A client's request; answers its reply (a stored answer is durable already).
    fn request(&mut self, op: SessionOp) -> RelayResult<Reply> {
        match self.apply(Input::Request {
            caller: alice(),
            op,
        }) {
            Some(Answer::Now(reply)) => reply,
            Some(Answer::Stored { seq, reply }) => {
                assert!(seq <= self.core.log().stored_seq(), "answered once stored");
                Ok(reply.unwrap_or_else(|| Reply::Session(self.core.info())))
            }
            other => panic!("answered {other:?}"),
        }
    }

    fn prompt(&mut self, text: &str, id: &str) -> RelayResult<Reply> {
        let prompt_id = Some(PromptId::new(id));
        let text = text.to_string();
        let images = Vec::new();
        self.request(SessionOp::Prompt {
            text,
            prompt_id,
            images,
        })
    }

    /// The current process says something.
    fn agent(&mut self, signal: AgentSignal) {
        let agent = self.last_agent();
        self.apply(Input::Agent { agent, signal });
    }

    fn slot(&mut self, signal: SlotSignal) {
        self.apply(Input::Slot(signal));
    }

    /// The id of the last process launched.
    fn last_agent(&self) -> u64 {
        self.launched.expect("a process was launched")
    }

    /// Every stored event as `(kind, data)`.
    fn events(&self) -> Vec<(String, Value)> {
        let id = self.core.id();
        let read = self.store.read_events(id, 0, usize::MAX).now_or_never();
        let events = read.expect("ready").expect("read");
        let parse = |json: &str| serde_json::from_str::<Value>(json).expect("an event");
        let pairs = events
            .iter()
            .map(|e| (e.kind.clone(), parse(&e.json)["data"].clone()));
        pairs.collect()
    }

    /// The kinds of the stored events from `from` on, with the prompt or status they name.
    fn story(&self, from: usize) -> Vec<String> {
        let events = self.events().into_iter().skip(from);
        let told = events.map(|(kind, data)| {
            let about = data["prompt_id"]
                .as_str()
                .or(data["status"].as_str())
                .or(data["decision"].as_str())
                .or(data["error"]["code"].as_str());
            match about {
                Some(about) => format!("{kind} {about}"),
                None => kind,
            }
        });
        told.collect()
    }

    /// The lines written to the process's stdin, as JSON.
    fn written(&self) -> Vec<Value> {
        let lines = self.effects.iter().filter_map(|e| match e {
            Effect::Write(line) => serde_json::from_str(line).ok(),
            _ => None,
        });
        lines.collect()
    }

    /// How often the core used the slot in this way.
    fn slot_uses(&self, wanted: SlotUse) -> usize {
        let uses = self.effects.iter();
        uses.filter(|e| matches!(e, Effect::Slot(u) if *u == wanted))
            .count()
    }

    /// Clears what was seen so far (the store keeps its events).
    fn forget_effects(&mut self) {
        self.effects.clear();
    }
}

/// The error's code on the wire.
fn code(result: RelayResult<Reply>) -> &'static str {
    match result {
        Err(error) => error.code().as_str(),
        Ok(reply) => panic!("expected an error, got {reply:?}"),
    }
}
