//! A session's queue processor: the actor that gets the session's prompt queue a Claude process
//! slot, and keeps time while the queue is idle.
//!
//! What waits and in which order is the session core's ([`crate::session::core`]): it starts a
//! prompt itself, at once, when its process lives and is idle. Only when it has no process does
//! it ask this actor for a slot ([`SlotUse::Want`]); this actor is the one owner of the slot
//! (none, asked for, held): it queues for one at [`crate::agent_slots`], tells the session
//! [`SlotSignal::Ready`] (or [`SlotSignal::Waiting`] while every slot is busy), marks it idle or
//! busy there, ends an idle process after `claude.idle_timeout_s` ([`SlotSignal::IdleTimeout`]),
//! passes on another session's need of the slot ([`SlotSignal::Reclaim`]), and gives it back.
//!
//! Must never: know a prompt, or decide whether one runs.

use std::time::Duration;

use actix::prelude::*;

use crate::agent_slots::{
    AcquireSlot, AgentSlots, ReleaseIdleSlot, ReleaseSlot, SlotGranted, SlotIdle,
};
use crate::ids::SessionId;

/// How the session uses its slot.
#[derive(Message, Clone, Copy, Debug, PartialEq, Eq)]
#[rtype(result = "()")]
pub enum SlotUse {
    /// A prompt waits and no process lives: get a slot (answered by [`SlotSignal::Ready`]).
    Want,
    /// A turn started: the process is not to be reclaimed.
    Busy,
    /// Nothing runs: the slot may be reclaimed, and the process ends after the idle timeout;
    /// a place in line is given up.
    Idle,
    /// The process is gone: the slot goes back.
    Release,
    /// The session is gone: give everything back and stop.
    Stop,
}

/// What the queue processor tells its session.
#[derive(Message, Clone, Copy, Debug, PartialEq, Eq)]
#[rtype(result = "()")]
pub enum SlotSignal {
    /// The slot is held: start the process.
    Ready,
    /// Every slot runs a prompt: the session waits its turn.
    Waiting,
    /// Idle for `claude.idle_timeout_s`: stop the process.
    IdleTimeout,
    /// Another session needs the slot: stop the process if it is idle.
    Reclaim,
}

/// Whether the session holds a process slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    None,
    Requested,
    Held,
}

/// The queue processor of one session.
pub struct QueueProcessor {
    session_id: SessionId,
    session: Recipient<SlotSignal>,
    slots: Addr<AgentSlots>,
    slot: Slot,
    idle_timeout: Duration,
    idle_timer: Option<SpawnHandle>,
}

impl QueueProcessor {
    /// The queue processor of `session`.
    pub fn new(
        session_id: SessionId,
        session: Recipient<SlotSignal>,
        slots: Addr<AgentSlots>,
        idle_timeout: Duration,
    ) -> Self {
        QueueProcessor {
            session_id,
            session,
            slots,
            slot: Slot::None,
            idle_timeout,
            idle_timer: None,
        }
    }

    fn want(&mut self, ctx: &mut Context<Self>) {
        match self.slot {
            Slot::Held => self.session.do_send(SlotSignal::Ready),
            Slot::Requested => {}
            Slot::None => {
                self.slot = Slot::Requested;
                let ask = AcquireSlot {
                    session: self.session_id,
                    granted: ctx.address().recipient(),
                    reclaim: ctx.address().recipient(),
                };
                self.slots
                    .send(ask)
                    .into_actor(self)
                    .map(|granted, act, _| match granted {
                        Ok(true) => {
                            act.slot = Slot::Held;
                            act.session.do_send(SlotSignal::Ready);
                        }
                        Ok(false) => act.session.do_send(SlotSignal::Waiting),
                        Err(_) => act.slot = Slot::None,
                    })
                    .wait(ctx);
            }
        }
    }

    fn mark_idle(&mut self, idle: bool) {
        let session = self.session_id;
        self.slots.do_send(SlotIdle { session, idle });
    }

    fn cancel_timer(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.idle_timer.take() {
            ctx.cancel_future(timer);
        }
    }

    fn release(&mut self, ctx: &mut Context<Self>) {
        self.cancel_timer(ctx);
        if self.slot != Slot::None {
            let session = self.session_id;
            self.slots.do_send(ReleaseSlot { session });
            self.slot = Slot::None;
        }
    }
}

impl Actor for QueueProcessor {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Context<Self>) {
        if self.slot != Slot::None {
            let session = self.session_id;
            self.slots.do_send(ReleaseSlot { session });
        }
    }
}

impl Handler<SlotUse> for QueueProcessor {
    type Result = ();

    fn handle(&mut self, msg: SlotUse, ctx: &mut Context<Self>) {
        match (msg, self.slot) {
            (SlotUse::Want, _) => self.want(ctx),
            (SlotUse::Busy, _) => {
                self.cancel_timer(ctx);
                self.mark_idle(false);
            }
            (SlotUse::Idle, Slot::Held) => {
                self.mark_idle(true);
                if self.idle_timer.is_none() {
                    let timer = ctx.run_later(self.idle_timeout, |act, _| {
                        act.idle_timer = None;
                        act.session.do_send(SlotSignal::IdleTimeout);
                    });
                    self.idle_timer = Some(timer);
                }
            }
            // Paused or drained while waiting: give the place in line up.
            (SlotUse::Idle, Slot::Requested) => self.release(ctx),
            (SlotUse::Idle, Slot::None) => {}
            (SlotUse::Release, _) => self.release(ctx),
            (SlotUse::Stop, _) => ctx.stop(),
        }
    }
}

impl Handler<SlotGranted> for QueueProcessor {
    type Result = ();

    fn handle(&mut self, _: SlotGranted, _: &mut Context<Self>) {
        self.slot = Slot::Held;
        self.session.do_send(SlotSignal::Ready);
    }
}

impl Handler<ReleaseIdleSlot> for QueueProcessor {
    type Result = ();

    fn handle(&mut self, _: ReleaseIdleSlot, _: &mut Context<Self>) {
        self.session.do_send(SlotSignal::Reclaim);
    }
}
