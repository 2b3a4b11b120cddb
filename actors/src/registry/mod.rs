//! The registry: the one router between clients and sessions.
//!
//! It knows every live session (and who owns it) and every connected client. A client's
//! [`Request`] comes here from any transport; the registry checks ownership (another user's
//! session is `not_found`, never `forbidden`), creates and lists sessions itself, and forwards
//! subscriptions and deletions to the session actor, which answers directly. Every other
//! operation on a session skips it: the [`Router`] transports send to looks the session up in
//! the registry's [`Directory`] (which only the registry writes) and asks the session itself. A
//! subscription registers the client's sink with the session, which from then on delivers
//! events to it without a hop through here.

mod clients;
mod directory;
mod dirs;
mod history;
mod messages;
mod pending;
mod validate;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use actix::prelude::*;
use futures_util::future::join_all;

use crate::agent_slots::AgentSlots;
use crate::command::{Caller, Command, CreateSession, Reply, Request, SessionOp};
use crate::config::DomainConfig;
use crate::error::{RelayError, RelayResult};
use crate::ids::{ConnectionId, SessionId, UserId};
use crate::inbox::{Inbox, InboxRequest};
use crate::metrics::RelayMetrics;
use crate::session::{InitSession, Session, SessionDeps, SessionRequest, ShutdownSession};
use crate::session_info::ContinuedFrom;
use crate::store::{EventStore, StoreError};

pub use directory::{Directory, Router};
pub use messages::*;

struct SessionEntry {
    addr: Addr<Session>,
    owner: UserId,
    /// The Claude Code conversation ids this session has run, which its owner may resume.
    conversations: HashSet<String>,
}

impl SessionEntry {
    fn new(addr: Addr<Session>, owner: UserId, conversation: Option<String>) -> SessionEntry {
        SessionEntry {
            addr,
            owner,
            conversations: conversation.into_iter().collect(),
        }
    }
}

/// The registry actor.
pub struct Registry {
    config: Arc<DomainConfig>,
    metrics: Arc<RelayMetrics>,
    store: Arc<dyn EventStore>,
    slots: Addr<AgentSlots>,
    watchers: crate::watch::Watchers,
    /// The approval inbox, which hears every session's permission events through `watchers`.
    inbox: Addr<Inbox>,
    sessions: HashMap<SessionId, SessionEntry>,
    /// Who owns which session, published for the [`Router`]; written only here, beside
    /// `sessions`.
    directory: Directory,
    clients: HashMap<ConnectionId, ClientInfo>,
    /// Summaries of Claude Code's own transcripts, read so far.
    history: Arc<crate::claude_history::HistoryIndex>,
    shutting_down: bool,
}

impl Registry {
    /// Starts the registry, the approval inbox (one more of `watchers`) and every session the
    /// store holds; answers the router that clients' requests go to (the registry's own address
    /// is [`Router::registry`]).
    pub fn start(
        config: DomainConfig,
        store: Arc<dyn EventStore>,
        metrics: Arc<RelayMetrics>,
        watchers: crate::watch::Watchers,
    ) -> Result<Router, StoreError> {
        let stored = store.load_sessions()?;
        let config = Arc::new(config);
        let slots = crate::agent_slots::AgentSlots::new(config.claude.max_running).start();
        let directory = Directory::default();
        let published = directory.clone();
        // The inbox and the registry know each other: the inbox's address exists before it runs.
        let inbox_context = Context::<Inbox>::new();
        let inbox = inbox_context.address();
        let watchers = watchers.and(inbox.clone().recipient());
        let inbox_metrics = metrics.clone();
        let addr = Registry::create(move |ctx| {
            let mut registry = Registry {
                config,
                metrics,
                store,
                slots,
                watchers,
                inbox,
                sessions: HashMap::new(),
                directory,
                clients: HashMap::new(),
                history: Arc::default(),
                shutting_down: false,
            };
            log::info!("restoring {} stored sessions", stored.len());
            for session in stored {
                let owner = session.info.owner.clone();
                let id = session.info.id;
                let conversation = session.info.claude_session_id.clone();
                let addr = Session::restore(session, registry.deps(ctx)).start();
                registry.add(id, SessionEntry::new(addr, owner, conversation));
            }
            registry
        });
        inbox_context.run(Inbox::new(addr.clone(), inbox_metrics));
        Ok(Router::new(addr, published))
    }

    /// A live session, in the books and in the directory.
    fn add(&mut self, id: SessionId, entry: SessionEntry) {
        let (owner, addr) = (entry.owner.clone(), entry.addr.clone());
        self.sessions.insert(id, entry);
        self.directory.insert(id, owner, addr);
    }

    /// A session gone, from the books and from the directory.
    fn forget(&mut self, id: &SessionId) {
        self.sessions.remove(id);
        self.directory.remove(id);
    }

    fn deps(&self, ctx: &mut Context<Self>) -> SessionDeps {
        SessionDeps {
            config: self.config.clone(),
            metrics: self.metrics.clone(),
            store: self.store.clone(),
            slots: self.slots.clone(),
            gone: ctx.address().recipient(),
            conversations: ctx.address().recipient(),
            watchers: self.watchers.clone(),
        }
    }

    /// The session `id` if `user` owns it; anything else is `not_found`.
    fn owned(&self, user: &UserId, id: &str) -> RelayResult<(SessionId, Addr<Session>)> {
        self.directory.owned(user, id)
    }

    /// The OS account `user`'s Claude runs as (`claude.run_as`), if any; `forbidden` when a
    /// mapping is required and `user` has none.
    fn os_account_of(&self, user: &UserId) -> RelayResult<Option<crate::run_as::OsAccount>> {
        self.config
            .run_as
            .for_user(user.as_str())
            .map(|account| account.cloned())
            .map_err(|error| RelayError::Forbidden(error.to_string()))
    }

    fn create_session(
        &mut self,
        caller: Caller,
        mut create: CreateSession,
        ctx: &mut Context<Self>,
    ) -> ResponseActFuture<Self, RelayResult<Reply>> {
        let Some(conversation) = create.resume_claude_session_id.clone() else {
            return self.create_in_cwd(caller, create, ctx);
        };
        let check = self.check_resume_source(&caller.user, conversation, create.force);
        Box::pin(check.into_actor(self).then(
            move |checked, act, ctx| -> ResponseActFuture<Self, _> {
                match checked {
                    Ok(history::ResumeCheck { folder, messages }) => {
                        if let Some(folder) = folder {
                            if let Err(error) = validate::use_folder(&mut create, &folder) {
                                return Box::pin(actix::fut::ready(Err(error)));
                            }
                        }
                        create.continued_from =
                            create.resume_claude_session_id.clone().zip(messages).map(
                                |(claude_session_id, messages)| ContinuedFrom {
                                    claude_session_id,
                                    messages,
                                },
                            );
                        act.create_in_cwd(caller, create, ctx)
                    }
                    Err(error) => Box::pin(actix::fut::ready(Err(error))),
                }
            },
        ))
    }

    /// Creates the session once a resumed conversation is checked: its `cwd` next.
    fn create_in_cwd(
        &mut self,
        caller: Caller,
        create: CreateSession,
        ctx: &mut Context<Self>,
    ) -> ResponseActFuture<Self, RelayResult<Reply>> {
        let account = match self.os_account_of(&caller.user) {
            Ok(account) => account,
            Err(error) => return Box::pin(actix::fut::ready(Err(error))),
        };
        let Some(account) = account else {
            let cwd = match self.check_cwd(&create.cwd) {
                Ok(cwd) => cwd,
                Err(error) => return Box::pin(actix::fut::ready(Err(error))),
            };
            return self.start_session(caller, create, cwd, ctx);
        };
        let roots = self.config.sessions.roots_for_home(&account.home);
        let check = validate::check_cwd_as(account, roots, create.cwd.clone());
        Box::pin(
            check
                .into_actor(self)
                .then(move |checked, act, ctx| match checked {
                    Ok(cwd) => act.start_session(caller, create, cwd, ctx),
                    Err(error) => Box::pin(actix::fut::ready(Err(error))),
                }),
        )
    }

    /// Creates the session once its `cwd` is checked.
    fn start_session(
        &mut self,
        caller: Caller,
        create: CreateSession,
        cwd: String,
        ctx: &mut Context<Self>,
    ) -> ResponseActFuture<Self, RelayResult<Reply>> {
        if self.shutting_down {
            return Box::pin(actix::fut::ready(Err(RelayError::Unavailable(
                "the server is shutting down".into(),
            ))));
        }
        let info = match self.new_session(&caller.user, create, cwd) {
            Ok(info) => info,
            Err(error) => return Box::pin(actix::fut::ready(Err(error))),
        };
        let id = info.id;
        log::info!("session {id} created by {} in {}", caller.user, info.cwd);
        let conversation = info.claude_session_id.clone();
        let addr = Session::new(info, self.deps(ctx)).start();
        self.add(
            id,
            SessionEntry::new(addr.clone(), caller.user, conversation),
        );
        Box::pin(
            async move { addr.send(InitSession).await }
                .into_actor(self)
                .map(move |result, act, _| match result {
                    Ok(Ok(session)) => Ok(Reply::Session(session)),
                    Ok(Err(error)) => {
                        act.forget(&id);
                        Err(error)
                    }
                    Err(_) => Err(RelayError::Internal("the new session stopped".into())),
                }),
        )
    }

    fn list(&self, caller: &Caller) -> ResponseActFuture<Self, RelayResult<Reply>> {
        let infos = self.owned_infos(caller);
        Box::pin(
            async move {
                let mut sessions = infos.await;
                sessions.sort_by(|a, b| a.created_at.cmp(&b.created_at));
                Ok(Reply::Sessions(sessions))
            }
            .into_actor(self),
        )
    }
}

impl Actor for Registry {
    type Context = Context<Self>;
}

impl Handler<Request> for Registry {
    type Result = ResponseActFuture<Self, RelayResult<Reply>>;

    fn handle(&mut self, msg: Request, ctx: &mut Context<Self>) -> Self::Result {
        if self.shutting_down {
            return Box::pin(actix::fut::ready(Err(RelayError::Unavailable(
                "the server is shutting down".into(),
            ))));
        }
        let caller = msg.caller;
        match msg.command {
            Command::Create(create) => self.create_session(caller, create, ctx),
            Command::List => self.list(&caller),
            Command::Dirs { path } => self.dirs(&caller, path),
            Command::PendingPermissions => self.pending_permissions(&caller),
            Command::Inbox(op) => {
                let asked = self.inbox.send(InboxRequest { caller, op });
                Box::pin(
                    async move {
                        asked.await.unwrap_or_else(|_| {
                            Err(RelayError::Unavailable("the inbox stopped".into()))
                        })
                    }
                    .into_actor(self),
                )
            }
            command @ (Command::ClaudeSessions(_)
            | Command::ClaudeMessages { .. }
            | Command::ClaudeRunning) => self.history(&caller, command),
            Command::Session { session_id, op } => {
                let (id, addr) = match self.owned(&caller.user, &session_id) {
                    Ok(found) => found,
                    Err(error) => return Box::pin(actix::fut::ready(Err(error))),
                };
                let subscription = match &op {
                    SessionOp::Subscribe { .. } => Some(true),
                    SessionOp::Unsubscribe => Some(false),
                    _ => None,
                };
                let connection = caller.connection.clone();
                let deleting = matches!(op, SessionOp::Delete).then(|| caller.user.clone());
                let ask = addr.send(SessionRequest { caller, op });
                Box::pin(ask.into_actor(self).map(move |answer, act, _| {
                    let reply = match answer {
                        Ok(reply) => reply?,
                        // A deleted session stops as soon as its deletion is committed, which
                        // may be before its answer is delivered: gone means deleted.
                        Err(_) if deleting.is_some() => Reply::Empty,
                        Err(_) => return Err(RelayError::SessionNotFound(id.to_string())),
                    };
                    if let (Some(subscribed), Some(connection)) = (subscription, connection) {
                        act.note_subscription(&connection, id, subscribed);
                    }
                    if let Some(user) = deleting {
                        log::info!("session {id} deleted by {user}");
                    }
                    Ok(reply)
                }))
            }
        }
    }
}

impl Handler<SessionGone> for Registry {
    type Result = ();

    fn handle(&mut self, msg: SessionGone, _: &mut Context<Self>) {
        self.forget(&msg.id);
        for client in self.clients.values_mut() {
            client.subscriptions.retain(|s| *s != msg.id);
        }
    }
}

impl Handler<ConversationSeen> for Registry {
    type Result = ();

    fn handle(&mut self, msg: ConversationSeen, _: &mut Context<Self>) {
        if let Some(entry) = self.sessions.get_mut(&msg.session) {
            entry.conversations.insert(msg.claude_session_id);
        }
    }
}

impl Handler<Stats> for Registry {
    type Result = MessageResult<Stats>;

    fn handle(&mut self, _: Stats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(RegistryStats {
            sessions: self.sessions.len(),
            clients: self.clients.len(),
        })
    }
}

impl Handler<Shutdown> for Registry {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: Shutdown, _: &mut Context<Self>) -> Self::Result {
        self.shutting_down = true;
        self.directory.close();
        for client in self.clients.values() {
            client.closer.do_send(GoingAway);
        }
        let asks: Vec<_> = self
            .sessions
            .values()
            .map(|entry| entry.addr.send(ShutdownSession { grace: msg.grace }))
            .collect();
        log::info!(
            "shutting down {} sessions (grace {:?})",
            asks.len(),
            msg.grace
        );
        Box::pin(async move {
            join_all(asks).await;
        })
    }
}
