//! Events that matter beyond a session's own subscribers: a permission request, a finished or
//! failed prompt, a crash. Whoever must hear of them over all sessions (notifications, the
//! approval inbox) registers a [`Recipient<Committed>`] once at start, and each session tells it
//! of every such event right after the store committed it, so nothing is announced that the
//! relay could still lose.

use std::sync::Arc;

use actix::prelude::*;

use crate::event::EncodedEvent;
use crate::ids::UserId;
use crate::session_info::SessionInfo;

/// The kinds [`Watchers`] hear of; every other kind stays with the session's subscribers.
pub const WATCHED_KINDS: &[&str] = &[
    "permission.requested",
    "permission.resolved",
    "prompt.completed",
    "prompt.failed",
    "session.status",
];

/// One committed event of a [`WATCHED_KINDS`] kind, with what a watcher needs to know of its
/// session (its owner and how a person recognises it).
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct Committed {
    pub owner: UserId,
    pub title: Option<String>,
    pub cwd: String,
    pub event: Arc<EncodedEvent>,
}

/// Everyone that hears of committed [`WATCHED_KINDS`] events, shared by every session.
#[derive(Clone, Default)]
pub struct Watchers(Arc<Vec<Recipient<Committed>>>);

impl Watchers {
    /// The watchers that hear of every session's watched events.
    pub fn new(recipients: Vec<Recipient<Committed>>) -> Self {
        Watchers(Arc::new(recipients))
    }

    /// These watchers and `recipient` (the registry adds the approval inbox this way).
    pub fn and(&self, recipient: Recipient<Committed>) -> Self {
        let mut all = self.0.as_ref().clone();
        all.push(recipient);
        Watchers::new(all)
    }

    /// Whether anyone hears of `event` (its kind is watched and there are watchers).
    pub fn watch(&self, event: &EncodedEvent) -> bool {
        !self.0.is_empty() && WATCHED_KINDS.contains(&event.kind.as_str())
    }

    /// Tells every watcher of `event`, committed in the session `info` describes (the caller
    /// checked [`Watchers::watch`]).
    pub fn tell(&self, info: &SessionInfo, event: &Arc<EncodedEvent>) {
        let committed = Committed {
            owner: info.owner.clone(),
            title: info.title.clone(),
            cwd: info.cwd.clone(),
            event: event.clone(),
        };
        for watcher in self.0.iter() {
            watcher.do_send(committed.clone());
        }
    }
}
