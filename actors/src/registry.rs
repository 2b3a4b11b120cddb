//! The registry: the one router between clients and sessions.
//!
//! It knows every live session (and who owns it) and every connected client. A client's
//! [`Request`] comes here from any transport; the registry checks ownership (another user's
//! session is `not_found`, never `forbidden`), creates and lists sessions itself, and forwards
//! everything else to the session actor, which answers directly. A subscription registers the
//! client's sink with the session, which from then on delivers events to it without a hop
//! through here.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures_util::future::join_all;
use serde::Serialize;
use serde_json::Value;

use crate::agent_slots::AgentSlots;
use crate::command::{Caller, Command, CreateSession, Reply, Request, SessionOp};
use crate::config::DomainConfig;
use crate::error::{RelayError, RelayResult};
use crate::ids::{ConnectionId, SessionId, UserId};
use crate::metrics::RelayMetrics;
use crate::session::{InitSession, Session, SessionDeps, SessionRequest, ShutdownSession};
use crate::session_info::{now_ts, PermissionMode, SessionInfo, SessionStatus};
use crate::store::{EventStore, StoreError};

/// A connected client, as `GET /api/v1/clients` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ClientInfo {
    pub connection_id: ConnectionId,
    #[serde(skip)]
    pub user: UserId,
    pub transport: &'static str,
    pub client: Value,
    pub capabilities: Vec<String>,
    pub connected_at: String,
    pub subscriptions: Vec<SessionId>,
    /// Tells the connection to close because the server is going away.
    #[serde(skip)]
    pub closer: Recipient<GoingAway>,
}

/// The server is going away: close the connection (WebSocket code 1001).
#[derive(Message)]
#[rtype(result = "()")]
pub struct GoingAway;

/// A client connected (after its handshake).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ClientConnected(pub ClientInfo);

/// A client went away: its subscriptions end.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ClientDisconnected(pub ConnectionId);

/// The connected clients of one user.
#[derive(Message)]
#[rtype(result = "Vec<ClientInfo>")]
pub struct ListClients(pub UserId);

/// A session actor stopped (deleted).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionGone {
    pub id: SessionId,
}

/// Shut down: start no new prompt, let running ones finish for up to `grace`, stop every agent
/// and write everything down. Resolves when done.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown {
    pub grace: Duration,
}

/// How many sessions and clients the registry knows (for `/health` and metrics).
#[derive(Message)]
#[rtype(result = "RegistryStats")]
pub struct Stats;

/// Counts for monitoring.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RegistryStats {
    pub sessions: usize,
    pub clients: usize,
}

struct SessionEntry {
    addr: Addr<Session>,
    owner: UserId,
}

/// The registry actor.
pub struct Registry {
    config: Arc<DomainConfig>,
    metrics: Arc<RelayMetrics>,
    store: Arc<dyn EventStore>,
    slots: Addr<AgentSlots>,
    sessions: HashMap<SessionId, SessionEntry>,
    clients: HashMap<ConnectionId, ClientInfo>,
    shutting_down: bool,
}

impl Registry {
    /// Starts the registry and every session the store holds.
    pub fn start(
        config: DomainConfig,
        store: Arc<dyn EventStore>,
        metrics: Arc<RelayMetrics>,
    ) -> Result<Addr<Registry>, StoreError> {
        let stored = store.load_sessions()?;
        let config = Arc::new(config);
        let slots = crate::agent_slots::AgentSlots::new(config.claude.max_running).start();
        Ok(Registry::create(move |ctx| {
            let mut registry = Registry {
                config,
                metrics,
                store,
                slots,
                sessions: HashMap::new(),
                clients: HashMap::new(),
                shutting_down: false,
            };
            log::info!("restoring {} stored sessions", stored.len());
            for session in stored {
                let owner = session.info.owner.clone();
                let id = session.info.id;
                let addr = Session::restore(session, registry.deps(ctx)).start();
                registry.sessions.insert(id, SessionEntry { addr, owner });
            }
            registry
        }))
    }

    fn deps(&self, ctx: &mut Context<Self>) -> SessionDeps {
        SessionDeps {
            config: self.config.clone(),
            metrics: self.metrics.clone(),
            store: self.store.clone(),
            slots: self.slots.clone(),
            gone: ctx.address().recipient(),
        }
    }

    /// Checks a `session.create` and builds the new session object.
    fn new_session(&self, user: &UserId, create: CreateSession) -> RelayResult<SessionInfo> {
        let owned = self.sessions.values().filter(|s| &s.owner == user).count();
        let max = self.config.sessions.max_per_user;
        if owned >= max {
            return Err(RelayError::Forbidden(format!(
                "you already have {owned} sessions; the limit is {max}"
            )));
        }
        let mode = create.permission_mode.unwrap_or(PermissionMode::Default);
        if mode == PermissionMode::BypassPermissions
            && !self.config.sessions.allow_bypass_permissions
        {
            return Err(RelayError::Forbidden(
                "bypassPermissions is not allowed here (sessions.allow_bypass_permissions)".into(),
            ));
        }
        let cwd = self.check_cwd(&create.cwd)?;
        for (name, value) in [
            ("title", &create.title),
            ("model", &create.model),
            ("resume_claude_session_id", &create.resume_claude_session_id),
        ] {
            if value.as_ref().is_some_and(|v| v.len() > 1024) {
                return Err(RelayError::BadRequest(format!("{name} is too long")));
            }
        }
        if create.model.as_ref().is_some_and(|m| m.starts_with('-')) {
            return Err(RelayError::BadRequest(
                "model must not start with '-'".into(),
            ));
        }
        if create
            .resume_claude_session_id
            .as_ref()
            .is_some_and(|m| m.starts_with('-'))
        {
            return Err(RelayError::BadRequest(
                "resume_claude_session_id must not start with '-'".into(),
            ));
        }
        let now = now_ts();
        Ok(SessionInfo {
            id: SessionId::new(),
            owner: user.clone(),
            title: create.title,
            cwd,
            model: create.model,
            permission_mode: mode,
            stream_deltas: create.stream_deltas.unwrap_or(true),
            status: SessionStatus::Idle,
            paused: false,
            claude_session_id: create.resume_claude_session_id,
            created_at: now.clone(),
            updated_at: now,
            last_seq: 0,
            queue_length: 0,
            pending_permissions: Vec::new(),
            always_allowed: Vec::new(),
        })
    }

    /// `cwd` must be an existing directory inside an allowed root, symlinks resolved.
    fn check_cwd(&self, cwd: &str) -> RelayResult<String> {
        if cwd.is_empty() {
            return Err(RelayError::BadRequest("cwd is required".into()));
        }
        let path = crate::config::expand_home(cwd);
        if !path.is_absolute() {
            return Err(RelayError::BadRequest(format!(
                "cwd must be an absolute path: {cwd}"
            )));
        }
        let resolved = path
            .canonicalize()
            .map_err(|error| RelayError::BadRequest(format!("cwd {cwd}: {error}")))?;
        if !resolved.is_dir() {
            return Err(RelayError::BadRequest(format!(
                "cwd {cwd} is not a directory"
            )));
        }
        let roots = self.config.sessions.resolved_roots();
        if !roots.iter().any(|root| resolved.starts_with(root)) {
            return Err(RelayError::Forbidden(format!(
                "cwd {cwd} is outside sessions.allowed_roots"
            )));
        }
        Ok(path_text(&resolved))
    }

    /// The session `id` if `user` owns it; anything else is `not_found`.
    fn owned(&self, user: &UserId, id: &str) -> RelayResult<(SessionId, Addr<Session>)> {
        SessionId::parse(id)
            .and_then(|sid| self.sessions.get(&sid).map(|entry| (sid, entry)))
            .filter(|(_, entry)| &entry.owner == user)
            .map(|(sid, entry)| (sid, entry.addr.clone()))
            .ok_or_else(|| RelayError::SessionNotFound(id.to_string()))
    }

    fn create_session(
        &mut self,
        caller: Caller,
        create: CreateSession,
        ctx: &mut Context<Self>,
    ) -> ResponseActFuture<Self, RelayResult<Reply>> {
        let info = match self.new_session(&caller.user, create) {
            Ok(info) => info,
            Err(error) => return Box::pin(actix::fut::ready(Err(error))),
        };
        let id = info.id;
        log::info!("session {id} created by {} in {}", caller.user, info.cwd);
        let addr = Session::new(info, self.deps(ctx)).start();
        self.sessions.insert(
            id,
            SessionEntry {
                addr: addr.clone(),
                owner: caller.user,
            },
        );
        Box::pin(
            async move { addr.send(InitSession).await }
                .into_actor(self)
                .map(move |result, act, _| match result {
                    Ok(Ok(session)) => Ok(Reply::Session(session)),
                    Ok(Err(error)) => {
                        act.sessions.remove(&id);
                        Err(error)
                    }
                    Err(_) => Err(RelayError::Internal("the new session stopped".into())),
                }),
        )
    }

    fn list(&self, caller: &Caller) -> ResponseActFuture<Self, RelayResult<Reply>> {
        let asks: Vec<_> = self
            .sessions
            .values()
            .filter(|entry| entry.owner == caller.user)
            .map(|entry| {
                entry.addr.send(SessionRequest {
                    caller: caller.clone(),
                    op: SessionOp::Get,
                })
            })
            .collect();
        Box::pin(
            async move {
                let mut sessions: Vec<SessionInfo> = join_all(asks)
                    .await
                    .into_iter()
                    .filter_map(|answer| match answer {
                        Ok(Ok(Reply::Session(info))) => Some(info),
                        _ => None,
                    })
                    .collect();
                sessions.sort_by(|a, b| a.created_at.cmp(&b.created_at));
                Ok(Reply::Sessions(sessions))
            }
            .into_actor(self),
        )
    }
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
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
                    let reply = answer
                        .unwrap_or_else(|_| Err(RelayError::SessionNotFound(id.to_string())))?;
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

impl Registry {
    fn note_subscription(
        &mut self,
        connection: &ConnectionId,
        session: SessionId,
        subscribed: bool,
    ) {
        if let Some(client) = self.clients.get_mut(connection) {
            client.subscriptions.retain(|s| *s != session);
            if subscribed {
                client.subscriptions.push(session);
            }
        }
    }
}

impl Handler<ClientConnected> for Registry {
    type Result = ();

    fn handle(&mut self, msg: ClientConnected, _: &mut Context<Self>) {
        self.metrics.client(msg.0.transport, 1);
        self.clients.insert(msg.0.connection_id.clone(), msg.0);
    }
}

impl Handler<ClientDisconnected> for Registry {
    type Result = ();

    fn handle(&mut self, msg: ClientDisconnected, _: &mut Context<Self>) {
        let Some(client) = self.clients.remove(&msg.0) else {
            return;
        };
        self.metrics.client(client.transport, -1);
        let sessions: HashSet<_> = client.subscriptions.into_iter().collect();
        for id in sessions {
            if let Some(entry) = self.sessions.get(&id) {
                entry.addr.do_send(SessionRequest {
                    caller: Caller {
                        user: client.user.clone(),
                        connection: Some(msg.0.clone()),
                    },
                    op: SessionOp::Unsubscribe,
                });
            }
        }
    }
}

impl Handler<ListClients> for Registry {
    type Result = Vec<ClientInfo>;

    fn handle(&mut self, msg: ListClients, _: &mut Context<Self>) -> Vec<ClientInfo> {
        self.clients
            .values()
            .filter(|c| c.user == msg.0)
            .cloned()
            .collect()
    }
}

impl Handler<SessionGone> for Registry {
    type Result = ();

    fn handle(&mut self, msg: SessionGone, _: &mut Context<Self>) {
        self.sessions.remove(&msg.id);
        for client in self.clients.values_mut() {
            client.subscriptions.retain(|s| *s != msg.id);
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
