//! The session's part of a server shutdown: start nothing new, let the running prompt finish
//! within the grace period, stop the process, and answer once everything is stored.

use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::core::Input;
use super::Session;

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
        if self.core.turn_running() {
            self.turn_waiters.push(tx);
        } else {
            let _ = tx.send(());
        }
        rx
    }
}

impl Handler<ShutdownSession> for Session {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, msg: ShutdownSession, ctx: &mut Context<Self>) -> Self::Result {
        self.run(Input::Drain, ctx);
        let turn = self.turn_ended();
        Box::pin(
            async move {
                let _ = tokio::time::timeout(msg.grace, turn).await;
            }
            .into_actor(self)
            .then(|_, act, ctx| {
                act.run(Input::Halt, ctx);
                let exited = act.process_exited();
                async move {
                    let _ = tokio::time::timeout(Duration::from_secs(10), exited).await;
                }
                .into_actor(act)
            })
            .then(|_, act, _| {
                let last = act.core.log().last_assigned();
                let stored = act.core.log().wait_for(last);
                async move {
                    let _ = tokio::time::timeout(Duration::from_secs(10), stored).await;
                }
                .into_actor(act)
            }),
        )
    }
}
