//! `Command::PendingPermissions`: the approval inbox's list, gathered from the caller's own
//! sessions, each of which owns its open requests.

use actix::prelude::*;
use futures_util::future::join_all;

use super::Registry;
use crate::command::{Caller, Reply, SessionOp};
use crate::error::RelayResult;
use crate::inbox::oldest_first;
use crate::session::SessionRequest;

impl Registry {
    /// Every stored, unanswered permission request of `caller`'s sessions, oldest first.
    pub(super) fn pending_permissions(
        &self,
        caller: &Caller,
    ) -> ResponseActFuture<Self, RelayResult<Reply>> {
        let asks: Vec<_> = self
            .sessions
            .values()
            .filter(|entry| entry.owner == caller.user)
            .map(|entry| {
                entry.addr.send(SessionRequest {
                    caller: caller.clone(),
                    op: SessionOp::PendingPermissions,
                })
            })
            .collect();
        Box::pin(
            async move {
                let mut pending: Vec<_> = join_all(asks)
                    .await
                    .into_iter()
                    .filter_map(|answer| match answer {
                        Ok(Ok(Reply::Permissions(list))) => Some(list),
                        // Deleted meanwhile: nothing pending there any more.
                        _ => None,
                    })
                    .flatten()
                    .collect();
                oldest_first(&mut pending);
                Ok(Reply::Permissions(pending))
            }
            .into_actor(self),
        )
    }
}
