//! The budget of Claude Code processes over all sessions (`claude.max_running`).
//!
//! A session's queue holds a slot for as long as its process lives. When every slot is taken and
//! another session needs one, the process that has been idle longest is asked to stop; when every
//! slot runs a prompt, the newcomer waits (its session shows `waiting`) in arrival order.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use actix::prelude::*;

use crate::ids::SessionId;

/// A slot is now yours: start the process.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SlotGranted;

/// Please stop your idle process and release the slot.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReleaseIdleSlot;

/// Ask for a slot; `true` when granted at once, else [`SlotGranted`] comes later.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct AcquireSlot {
    pub session: SessionId,
    pub granted: Recipient<SlotGranted>,
    pub reclaim: Recipient<ReleaseIdleSlot>,
}

/// Give a slot back (the process ended), or stop waiting for one.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReleaseSlot {
    pub session: SessionId,
}

/// The holder's process is idle (may be reclaimed) or busy.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SlotIdle {
    pub session: SessionId,
    pub idle: bool,
}

/// How many processes run and how many sessions wait.
#[derive(Message)]
#[rtype(result = "(usize, usize)")]
pub struct SlotUsage;

struct Holder {
    idle_since: Option<Instant>,
    reclaim: Recipient<ReleaseIdleSlot>,
    reclaiming: bool,
}

struct Waiter {
    session: SessionId,
    granted: Recipient<SlotGranted>,
    reclaim: Recipient<ReleaseIdleSlot>,
}

/// The actor that hands out process slots.
pub struct AgentSlots {
    max: usize,
    holders: HashMap<SessionId, Holder>,
    waiting: VecDeque<Waiter>,
}

impl AgentSlots {
    /// A budget of `max` processes (at least one).
    pub fn new(max: usize) -> Self {
        AgentSlots {
            max: max.max(1),
            holders: HashMap::new(),
            waiting: VecDeque::new(),
        }
    }

    fn grant_waiters(&mut self) {
        while self.holders.len() < self.max {
            let Some(waiter) = self.waiting.pop_front() else {
                break;
            };
            self.holders.insert(
                waiter.session,
                Holder {
                    idle_since: None,
                    reclaim: waiter.reclaim,
                    reclaiming: false,
                },
            );
            waiter.granted.do_send(SlotGranted);
        }
        self.reclaim_for_waiters();
    }

    /// Asks the longest-idle holders to stop, one for each waiter not yet provided for.
    fn reclaim_for_waiters(&mut self) {
        let in_progress = self.holders.values().filter(|h| h.reclaiming).count();
        let mut needed = self.waiting.len().saturating_sub(in_progress);
        while needed > 0 {
            let oldest = self
                .holders
                .iter_mut()
                .filter(|(_, h)| !h.reclaiming)
                .filter_map(|(id, h)| h.idle_since.map(|since| (since, *id)))
                .min();
            let Some((_, session)) = oldest else {
                break;
            };
            if let Some(holder) = self.holders.get_mut(&session) {
                log::info!("session {session}: stopping its idle agent to free a slot");
                holder.reclaiming = true;
                holder.reclaim.do_send(ReleaseIdleSlot);
            }
            needed -= 1;
        }
    }
}

impl Actor for AgentSlots {
    type Context = Context<Self>;
}

impl Handler<AcquireSlot> for AgentSlots {
    type Result = bool;

    fn handle(&mut self, msg: AcquireSlot, _: &mut Context<Self>) -> bool {
        if self.holders.contains_key(&msg.session) {
            return true;
        }
        if self.holders.len() < self.max && self.waiting.is_empty() {
            self.holders.insert(
                msg.session,
                Holder {
                    idle_since: None,
                    reclaim: msg.reclaim,
                    reclaiming: false,
                },
            );
            return true;
        }
        if !self.waiting.iter().any(|w| w.session == msg.session) {
            self.waiting.push_back(Waiter {
                session: msg.session,
                granted: msg.granted,
                reclaim: msg.reclaim,
            });
        }
        self.reclaim_for_waiters();
        false
    }
}

impl Handler<ReleaseSlot> for AgentSlots {
    type Result = ();

    fn handle(&mut self, msg: ReleaseSlot, _: &mut Context<Self>) {
        self.holders.remove(&msg.session);
        self.waiting.retain(|w| w.session != msg.session);
        self.grant_waiters();
    }
}

impl Handler<SlotIdle> for AgentSlots {
    type Result = ();

    fn handle(&mut self, msg: SlotIdle, _: &mut Context<Self>) {
        if let Some(holder) = self.holders.get_mut(&msg.session) {
            holder.idle_since = msg.idle.then(Instant::now);
            if !msg.idle {
                holder.reclaiming = false;
            }
        }
        if msg.idle {
            self.reclaim_for_waiters();
        }
    }
}

impl Handler<SlotUsage> for AgentSlots {
    type Result = MessageResult<SlotUsage>;

    fn handle(&mut self, _: SlotUsage, _: &mut Context<Self>) -> Self::Result {
        MessageResult((self.holders.len(), self.waiting.len()))
    }
}
