//! The session's part of a server shutdown: start nothing new, let the running prompt finish
//! within the grace period, stop the process, and answer once everything is stored.

use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::{AgentStopReason, Session};
use crate::claude_process::{StopAgent, StopMode};
use crate::queue::QueueCommand;

/// See [`crate::registry::Shutdown`].
#[derive(Message)]
#[rtype(result = "()")]
pub struct ShutdownSession {
    pub grace: Duration,
}

impl Session {
    /// A receiver that resolves when no prompt runs any more.
    fn turn_ended(&mut self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        if self.running.is_none() {
            let _ = tx.send(());
        } else {
            self.turn_waiters.push(tx);
        }
        rx
    }

    /// Tells whoever waits that the running prompt ended.
    pub(super) fn notify_turn_ended(&mut self) {
        for waiter in self.turn_waiters.drain(..) {
            let _ = waiter.send(());
        }
    }

    /// A receiver that resolves when the process has exited (at once when there is none).
    fn agent_exited(&mut self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        if self.agent.is_none() {
            let _ = tx.send(());
        } else {
            self.stop_waiters.push(tx);
        }
        rx
    }
}

impl Handler<ShutdownSession> for Session {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, msg: ShutdownSession, _: &mut Context<Self>) -> Self::Result {
        self.queue(QueueCommand::Drain);
        // Not started yet, so still queued in the store: it runs after the restart.
        self.parked = None;
        let turn = self.turn_ended();
        Box::pin(
            async move {
                let _ = tokio::time::timeout(msg.grace, turn).await;
            }
            .into_actor(self)
            .then(|_, act, ctx| {
                let still_running = act.running.is_some();
                act.stop_agent(AgentStopReason::Shutdown, ctx);
                if still_running {
                    if let Some(agent) = &act.agent {
                        agent.addr.do_send(StopAgent(StopMode::Kill));
                    }
                }
                let exited = act.agent_exited();
                async move {
                    let _ = tokio::time::timeout(Duration::from_secs(10), exited).await;
                }
                .into_actor(act)
            })
            .then(|_, act, _| {
                let stored = act.log.wait_for(act.log.last_assigned());
                async move {
                    let _ = tokio::time::timeout(Duration::from_secs(10), stored).await;
                }
                .into_actor(act)
            }),
        )
    }
}
