//! The folder picker's command: the caller's roots and recent working directories, or one
//! directory's subdirectories ([`crate::dirs`]), read on tokio's blocking threads.
//!
//! For a user of `claude.run_as` a listing is refused (`forbidden`): the relay would list as its
//! own account, which may see what the user's OS account cannot (or not see what it can). The
//! roots and the recent directories are still answered: they come from the configuration and
//! the user's own sessions.

use std::future::Future;

use actix::prelude::*;

use super::Registry;
use crate::command::{Caller, Reply, SessionOp};
use crate::dirs::{self, DirRoots, DirsAnswer, DirsError};
use crate::error::{RelayError, RelayResult};
use crate::session_info::SessionInfo;

impl Registry {
    /// The session objects of the caller's sessions, in no order.
    pub(super) fn owned_infos(&self, caller: &Caller) -> impl Future<Output = Vec<SessionInfo>> {
        let replies = self.ask_owned(caller, || SessionOp::Get);
        async move {
            let infos = replies.await.into_iter().filter_map(|reply| match reply {
                Reply::Session(info) => Some(info),
                _ => None,
            });
            infos.collect()
        }
    }

    /// `Command::Dirs`.
    pub(super) fn dirs(
        &self,
        caller: &Caller,
        path: Option<String>,
    ) -> ResponseActFuture<Self, RelayResult<Reply>> {
        let account = match self.os_account_of(&caller.user) {
            Ok(account) => account,
            Err(error) => return Box::pin(actix::fut::ready(Err(error))),
        };
        let sessions = self.config.sessions.clone();
        if let Some(path) = path {
            if let Some(account) = account {
                log::info!("{}: folder listing refused (claude.run_as)", caller.user);
                return Box::pin(actix::fut::ready(
                    Err(DirsError::RunAs(account.name).into()),
                ));
            }
            let listed = blocking(move || {
                dirs::list(&sessions.resolved_roots(), &path).map_err(RelayError::from)
            });
            return Box::pin(
                async move { Ok(Reply::Dirs(DirsAnswer::Listing(listed.await?))) }.into_actor(self),
            );
        }
        let infos = self.owned_infos(caller);
        let roots = blocking(move || {
            let roots = match &account {
                Some(account) => sessions.roots_for_home(&account.home),
                None => sessions.resolved_roots(),
            };
            Ok(dirs::roots_text(&roots))
        });
        Box::pin(
            async move {
                let recent = infos
                    .await
                    .into_iter()
                    .map(|info| (info.cwd, info.updated_at))
                    .collect();
                Ok(Reply::Dirs(DirsAnswer::Roots(DirRoots {
                    roots: roots.await?,
                    recent: dirs::recent(recent),
                })))
            }
            .into_actor(self),
        )
    }
}

/// Runs `read` on tokio's blocking threads.
pub(super) async fn blocking<T: Send + 'static>(
    read: impl FnOnce() -> RelayResult<T> + Send + 'static,
) -> RelayResult<T> {
    tokio::task::spawn_blocking(read)
        .await
        .unwrap_or_else(|error| {
            Err(RelayError::Internal(format!(
                "a folder read failed: {error}"
            )))
        })
}
