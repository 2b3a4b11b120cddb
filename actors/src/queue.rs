//! A session's prompt queue processor: decides *when* the next prompt runs.
//!
//! Prompts run one at a time in arrival order. Before one starts, the queue holds a process slot
//! (see [`crate::agent_slots`]); a paused queue starts nothing new; an idle process is stopped
//! after `claude.idle_timeout_s`, or sooner when another session needs its slot. What running a
//! prompt means (spawning the CLI, writing the turn, recording events) is the session's business:
//! the queue only tells it [`RunPrompt`]. The queue's contents are stored by the session's event
//! log (`prompt.queued` / `prompt.started` / completion), so they survive a restart.

use std::collections::VecDeque;
use std::time::Duration;

use actix::prelude::*;

use crate::agent_slots::{
    AcquireSlot, AgentSlots, ReleaseIdleSlot, ReleaseSlot, SlotGranted, SlotIdle,
};
use crate::ids::{PromptId, SessionId};
use crate::session::{AgentStopReason, QueueSignal, Session};

/// A prompt waiting its turn.
#[derive(Clone, Debug)]
pub struct QueuedPrompt {
    pub prompt_id: PromptId,
    pub text: String,
}

/// Messages the session sends its queue.
#[derive(Message, Debug)]
#[rtype(result = "Vec<PromptId>")]
pub enum QueueCommand {
    /// A new prompt, at the back.
    Enqueue(QueuedPrompt),
    /// The running prompt finished (completed or failed); the process may still live.
    TurnEnded,
    /// The process is gone (exited, or never started); its slot is free.
    AgentGone,
    /// Start no new prompt (true) or go on (false).
    SetPaused(bool),
    /// Forget every waiting prompt; answers their ids (stop, delete).
    DropWaiting,
    /// Shutting down: start nothing more.
    Drain,
    /// The session is gone: stop this actor.
    Stop,
}

/// Whether this queue holds a process slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    None,
    Requested,
    Held,
}

/// The queue processor of one session.
pub struct QueueProcessor {
    session_id: SessionId,
    session: Addr<Session>,
    slots: Addr<AgentSlots>,
    waiting: VecDeque<QueuedPrompt>,
    running: bool,
    paused: bool,
    draining: bool,
    slot: Slot,
    idle_timeout: Duration,
    idle_timer: Option<SpawnHandle>,
}

impl QueueProcessor {
    /// A queue for `session`, starting with the prompts restored from the store.
    pub fn new(
        session_id: SessionId,
        session: Addr<Session>,
        slots: Addr<AgentSlots>,
        restored: Vec<QueuedPrompt>,
        paused: bool,
        idle_timeout: Duration,
    ) -> Self {
        QueueProcessor {
            session_id,
            session,
            slots,
            waiting: restored.into(),
            running: false,
            paused,
            draining: false,
            slot: Slot::None,
            idle_timeout,
            idle_timer: None,
        }
    }

    /// Starts the next prompt if it may run now, else arranges for it (a slot) or for idling.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        if self.running {
            return;
        }
        if self.paused || self.draining || self.waiting.is_empty() {
            self.become_idle(ctx);
            return;
        }
        match self.slot {
            Slot::Held => self.start_next(ctx),
            Slot::Requested => {}
            Slot::None => self.request_slot(ctx),
        }
    }

    fn start_next(&mut self, ctx: &mut Context<Self>) {
        let Some(prompt) = self.waiting.pop_front() else {
            return;
        };
        if let Some(timer) = self.idle_timer.take() {
            ctx.cancel_future(timer);
        }
        self.slots.do_send(SlotIdle {
            session: self.session_id,
            idle: false,
        });
        self.running = true;
        self.session.do_send(QueueSignal::Run(prompt));
    }

    fn request_slot(&mut self, ctx: &mut Context<Self>) {
        self.slot = Slot::Requested;
        let ask = AcquireSlot {
            session: self.session_id,
            granted: ctx.address().recipient(),
            reclaim: ctx.address().recipient(),
        };
        self.slots
            .send(ask)
            .into_actor(self)
            .map(|granted, act, ctx| match granted {
                Ok(true) => {
                    act.slot = Slot::Held;
                    act.pump(ctx);
                }
                Ok(false) => act.session.do_send(QueueSignal::Waiting),
                Err(_) => act.slot = Slot::None,
            })
            .wait(ctx);
    }

    /// Nothing to run: let the slot be reclaimed, and stop the process after the idle timeout.
    fn become_idle(&mut self, ctx: &mut Context<Self>) {
        match self.slot {
            Slot::Held => {
                self.slots.do_send(SlotIdle {
                    session: self.session_id,
                    idle: true,
                });
                if self.idle_timer.is_none() {
                    let timeout = self.idle_timeout;
                    self.idle_timer = Some(ctx.run_later(timeout, |act, _| {
                        act.idle_timer = None;
                        if !act.running {
                            act.session
                                .do_send(QueueSignal::StopAgent(AgentStopReason::Idle));
                        }
                    }));
                }
            }
            Slot::Requested => {
                // Paused or drained while waiting: give the place in line up.
                self.slots.do_send(ReleaseSlot {
                    session: self.session_id,
                });
                self.slot = Slot::None;
            }
            Slot::None => {}
        }
    }
}

impl Actor for QueueProcessor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.pump(ctx);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        if self.slot != Slot::None {
            self.slots.do_send(ReleaseSlot {
                session: self.session_id,
            });
        }
    }
}

impl Handler<QueueCommand> for QueueProcessor {
    type Result = Vec<PromptId>;

    fn handle(&mut self, msg: QueueCommand, ctx: &mut Context<Self>) -> Vec<PromptId> {
        let mut dropped = Vec::new();
        match msg {
            QueueCommand::Enqueue(prompt) => self.waiting.push_back(prompt),
            QueueCommand::TurnEnded => self.running = false,
            QueueCommand::AgentGone => {
                self.running = false;
                if let Some(timer) = self.idle_timer.take() {
                    ctx.cancel_future(timer);
                }
                if self.slot == Slot::Held {
                    self.slots.do_send(ReleaseSlot {
                        session: self.session_id,
                    });
                    self.slot = Slot::None;
                }
            }
            QueueCommand::SetPaused(paused) => self.paused = paused,
            QueueCommand::DropWaiting => {
                dropped = self.waiting.drain(..).map(|p| p.prompt_id).collect();
            }
            QueueCommand::Drain => self.draining = true,
            QueueCommand::Stop => {
                ctx.stop();
                return dropped;
            }
        }
        self.pump(ctx);
        dropped
    }
}

impl Handler<SlotGranted> for QueueProcessor {
    type Result = ();

    fn handle(&mut self, _: SlotGranted, ctx: &mut Context<Self>) {
        self.slot = Slot::Held;
        self.pump(ctx);
    }
}

impl Handler<ReleaseIdleSlot> for QueueProcessor {
    type Result = ();

    fn handle(&mut self, _: ReleaseIdleSlot, _: &mut Context<Self>) {
        if !self.running {
            self.session
                .do_send(QueueSignal::StopAgent(AgentStopReason::SlotNeeded));
        }
    }
}
