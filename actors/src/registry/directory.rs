//! Which live session belongs to whom, and where it is: a read-mostly copy of the registry's
//! sessions that the registry alone writes, so that a client's operation on its own session
//! reaches the session without a round trip through the registry.
//!
//! [`Router`] is what transports send their requests to: operations on a session go straight to
//! it (after the same ownership check the registry makes), and the registry hears afterwards of
//! subscriptions; creating, listing and deleting go through the registry, and so does everything
//! once the server shuts down.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix::Addr;
use dashmap::DashMap;
use futures_util::future::{ready, BoxFuture};
use futures_util::FutureExt;

use super::{Registry, SubscriptionChanged};
use crate::command::{Caller, Command, Reply, Request, SessionOp};
use crate::error::{RelayError, RelayResult};
use crate::ids::{SessionId, UserId};
use crate::session::{Session, SessionRequest};

/// The live sessions' owners and addresses.
#[derive(Clone, Default)]
pub struct Directory {
    sessions: Arc<DashMap<SessionId, (UserId, Addr<Session>)>>,
    /// The server shuts down: every request goes to the registry, which refuses it.
    closing: Arc<AtomicBool>,
}

impl Directory {
    pub(super) fn insert(&self, id: SessionId, owner: UserId, addr: Addr<Session>) {
        self.sessions.insert(id, (owner, addr));
    }

    pub(super) fn remove(&self, id: &SessionId) {
        self.sessions.remove(id);
    }

    pub(super) fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
    }

    /// The session `id` if `user` owns it; anything else is `not_found`.
    pub(super) fn owned(&self, user: &UserId, id: &str) -> RelayResult<(SessionId, Addr<Session>)> {
        SessionId::parse(id)
            .and_then(|sid| {
                let entry = self.sessions.get(&sid)?;
                let (owner, addr) = entry.value();
                (owner == user).then(|| (sid, addr.clone()))
            })
            .ok_or_else(|| RelayError::SessionNotFound(id.to_string()))
    }
}

/// Where a transport sends a client's request.
#[derive(Clone)]
pub struct Router {
    registry: Addr<Registry>,
    directory: Directory,
}

impl Router {
    pub(super) fn new(registry: Addr<Registry>, directory: Directory) -> Self {
        Router {
            registry,
            directory,
        }
    }

    /// The registry itself, for clients coming and going, statistics and shutdown.
    pub fn registry(&self) -> &Addr<Registry> {
        &self.registry
    }

    /// Runs `request` on behalf of its caller; answers its reply. The request is on its way
    /// when this returns, so one connection's requests reach their session in the order sent.
    pub fn send(&self, request: Request) -> BoxFuture<'static, RelayResult<Reply>> {
        let Request { caller, command } = request;
        let command = match command {
            Command::Session { session_id, op } if self.direct(&op) => {
                return self.to_session(caller, &session_id, op);
            }
            command => command,
        };
        let asked = self.registry.send(Request { caller, command });
        let shutting_down = || RelayError::Unavailable("the server is shutting down".into());
        async move { asked.await.unwrap_or_else(|_| Err(shutting_down())) }.boxed()
    }

    /// Asks the session itself, after the registry's ownership check; the registry hears of a
    /// subscription's start or end afterwards, to end it when the client leaves.
    fn to_session(
        &self,
        caller: Caller,
        session_id: &str,
        op: SessionOp,
    ) -> BoxFuture<'static, RelayResult<Reply>> {
        let (id, addr) = match self.directory.owned(&caller.user, session_id) {
            Ok(found) => found,
            Err(error) => return ready(Err(error)).boxed(),
        };
        let subscribed = match &op {
            SessionOp::Subscribe { .. } => Some(true),
            SessionOp::Unsubscribe => Some(false),
            _ => None,
        };
        let note = subscribed.zip(caller.connection.clone());
        let registry = self.registry.clone();
        let asked = addr.send(SessionRequest { caller, op });
        async move {
            // A session that stopped was deleted.
            let reply = asked
                .await
                .unwrap_or_else(|_| Err(RelayError::SessionNotFound(id.to_string())))?;
            if let Some((subscribed, connection)) = note {
                registry.do_send(SubscriptionChanged {
                    connection,
                    session: id,
                    subscribed,
                });
            }
            Ok(reply)
        }
        .boxed()
    }

    /// Whether `op` may skip the registry: a deletion goes through it (it logs and forgets the
    /// session), and so does everything once the server shuts down (it refuses).
    fn direct(&self, op: &SessionOp) -> bool {
        !matches!(op, SessionOp::Delete) && !self.directory.closing.load(Ordering::SeqCst)
    }
}
