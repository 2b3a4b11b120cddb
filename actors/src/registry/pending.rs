//! `Command::PendingPermissions`: the approval inbox's list, gathered from the caller's own
//! sessions, each of which owns its open requests.

use std::future::Future;

use actix::prelude::*;
use futures_util::future::join_all;

use super::Registry;
use crate::command::{Caller, Reply, SessionOp};
use crate::error::RelayResult;
use crate::inbox::oldest_first;
use crate::session::SessionRequest;

impl Registry {
    /// Asks each of the caller's sessions `op` (made anew for each); answers the replies, in no
    /// order. A session deleted meanwhile, or one that refused, is left out.
    pub(super) fn ask_owned(
        &self,
        caller: &Caller,
        op: fn() -> SessionOp,
    ) -> impl Future<Output = Vec<Reply>> {
        let asks: Vec<_> = self
            .sessions
            .values()
            .filter(|entry| entry.owner == caller.user)
            .map(|entry| {
                let caller = caller.clone();
                entry.addr.send(SessionRequest { caller, op: op() })
            })
            .collect();
        async move {
            let answers = join_all(asks).await.into_iter();
            answers.filter_map(|answer| answer.ok()?.ok()).collect()
        }
    }

    /// Every stored, unanswered permission request of `caller`'s sessions, oldest first.
    pub(super) fn pending_permissions(
        &self,
        caller: &Caller,
    ) -> ResponseActFuture<Self, RelayResult<Reply>> {
        let replies = self.ask_owned(caller, || SessionOp::PendingPermissions);
        Box::pin(
            async move {
                let lists = replies.await.into_iter().filter_map(|reply| match reply {
                    Reply::Permissions(list) => Some(list),
                    _ => None,
                });
                let mut pending: Vec<_> = lists.flatten().collect();
                oldest_first(&mut pending);
                Ok(Reply::Permissions(pending))
            }
            .into_actor(self),
        )
    }
}
