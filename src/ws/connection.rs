//! One WebSocket client connection, as an actor: the handshake (`hello` → `welcome`), requests
//! (parsed, sent through the router, answered), the heartbeat, and closing. Inbound frames arrive
//! as a stream added to the actor; everything outbound goes through the connection's bounded
//! [`ClientSink`] to its writer task, so a client that stops reading is detected and cut off
//! (4008) without ever blocking the actor.

use std::time::{Duration, Instant};

use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, SpawnHandle,
    StreamHandler, WrapFuture,
};
use actors::client::ClientSink;
use actors::command::{Caller, Reply, Request};
use actors::error::RelayError;
use actors::ids::{ConnectionId, UserId};
use actors::registry::{
    client_description, ClientConnected, ClientDisconnected, ClientInfo, GoingAway, Router,
};
use actors::session_info::now_ts;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::authn::WsAuth;
use super::ending::Ending;
use super::frames;
use super::inbound::{Inbound, InboundError};
use super::writer::{Closing, Control, WriterEnd};
use crate::protocol::{parse_command, reply_data};

/// Close codes of protocol v1 §3.
pub mod close {
    pub const AUTH_FAILED: u16 = 4001;
    pub const FORBIDDEN: u16 = 4003;
    pub const GOING_AWAY: u16 = 1001;
    pub const TOO_LARGE: u16 = 1009;
    pub const PROTOCOL: u16 = 4000;
    /// RFC 6455: a frame that breaks the WebSocket protocol.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// RFC 6455: a text message that is not UTF-8.
    pub const NOT_UTF8: u16 = 1007;
}

/// Where the handshake stands.
#[derive(Debug, PartialEq, Eq)]
enum Phase {
    AwaitingHello,
    Ready,
    Closing,
}

/// Settings a connection needs.
#[derive(Clone)]
pub struct ConnectionSettings {
    pub heartbeat: Duration,
    /// How long the writer waits for a lagging client to take the closing frame.
    pub close_patience: Duration,
    pub handshake_timeout: Duration,
    pub limits: std::sync::Arc<crate::limits::RateLimits>,
    /// Notifications: where `client.viewing` and the settings requests go.
    pub notify: std::sync::Arc<crate::notify::Notify>,
}

/// A WebSocket connection actor.
pub struct WsConnection {
    id: ConnectionId,
    /// `local` until sign-in settles at `hello`.
    user: UserId,
    auth: WsAuth,
    /// Where requests go; its registry hears of the connection coming and going.
    router: Router,
    sink: ClientSink,
    control: mpsc::Sender<Control>,
    settings: ConnectionSettings,
    phase: Phase,
    last_seen: Instant,
    /// The timer that closes a connection without `hello`; cancelled at `hello`.
    handshake_timer: Option<SpawnHandle>,
    /// Tells the reader and the writer that the connection is ending.
    ending: Ending,
    /// Whether the handshake ever completed (`hello` accepted, signed in when auth is on).
    handshake_done: bool,
    /// Held while signed in: ends when the token is revoked or expires.
    token_watch: Option<crate::auth::TokenWatch>,
}

impl WsConnection {
    pub fn new(
        id: ConnectionId,
        auth: WsAuth,
        router: Router,
        sink: ClientSink,
        control: mpsc::Sender<Control>,
        settings: ConnectionSettings,
        ending: Ending,
    ) -> Self {
        WsConnection {
            id,
            user: UserId::new("local"),
            auth,
            router,
            sink,
            control,
            settings,
            phase: Phase::AwaitingHello,
            last_seen: Instant::now(),
            handshake_timer: None,
            ending,
            handshake_done: false,
            token_watch: None,
        }
    }

    /// Sends a frame in order with everything else queued for the client: at once when the
    /// queue has room, else as soon as it has.
    fn send(&self, frame: bytestring::ByteString) {
        if let Err(frame) = self.sink.try_push_answer(frame) {
            let sink = self.sink.clone();
            actix::spawn(async move {
                let _ = sink.push_answer(frame).await;
            });
        }
    }

    /// A token revoked or expired while the connection is open closes it with 4003 as soon as
    /// the revocation watcher ends the token's [`crate::auth::TokenWatch`].
    fn watch_token(&mut self, ctx: &mut Context<Self>) {
        let Some(watch) = self.auth.watch() else {
            return;
        };
        let ended = watch.token();
        self.token_watch = Some(watch);
        ctx.spawn(
            async move { ended.cancelled_owned().await }
                .into_actor(self)
                .map(|_, act, ctx| {
                    log::info!("ws {}: token revoked or expired, closing", act.id);
                    act.close(close::FORBIDDEN, "token revoked or expired", None, ctx);
                }),
        );
    }

    /// Closes the connection with `code`, after `last` (an error frame) when given.
    fn close(
        &mut self,
        code: u16,
        reason: &'static str,
        last: Option<bytestring::ByteString>,
        ctx: &mut Context<Self>,
    ) {
        if self.phase == Phase::Closing {
            return;
        }
        log::info!("ws {}: closing with {code} ({reason})", self.id);
        if !self.handshake_done {
            // A client that never completed its handshake gets no more time to take its close
            // than it had to say hello: it must not hold the connection.
            self.ending
                .shorten_patience(self.settings.handshake_timeout);
        }
        self.send_close(Closing { last, code, reason });
        self.linger(ctx);
    }

    /// Hands the closing to the writer. Its control queue is full only while it is stuck writing
    /// to a client that does not read; then the client is cut off as a slow consumer instead.
    fn send_close(&self, closing: Closing) {
        if self
            .control
            .try_send(Control::Close(Box::new(closing)))
            .is_err()
        {
            self.sink.cut_off();
        }
    }

    /// Leaves the registry at once, but keeps reading (and ignoring) what the client still sends
    /// until it closes its side or the writer's patience has run out twice: closing a socket with
    /// unread bytes makes the kernel reset it, and a reset throws away what the client has not
    /// read yet, the closing frame included.
    fn linger(&mut self, ctx: &mut Context<Self>) {
        self.phase = Phase::Closing;
        self.ending.start_closing();
        self.settings.notify.presence().forget(&self.id);
        self.router
            .registry()
            .do_send(ClientDisconnected(self.id.clone()));
        let patience = self.ending.patience() * 2;
        ctx.run_later(patience, |_, ctx| ctx.stop());
    }

    fn on_text(&mut self, text: &str, ctx: &mut Context<Self>) {
        let parsed: Result<Value, _> = serde_json::from_str(text);
        let object = match parsed {
            Ok(Value::Object(object)) => object,
            Ok(_) | Err(_) => {
                let error = RelayError::BadRequest("a frame must be one JSON object".into());
                return self.reject_unreadable(error, ctx);
            }
        };
        let id = match object.get("id") {
            None => None,
            Some(Value::String(id)) => Some(id.clone()),
            Some(_) => {
                let error = RelayError::BadRequest("`id` must be a string".into());
                return self.reject_unreadable(error, ctx);
            }
        };
        let kind = object
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_string);
        match self.phase {
            Phase::AwaitingHello => self.on_first_frame(kind.as_deref(), &object, ctx),
            Phase::Ready => self.on_request(id, kind, object),
            Phase::Closing => {}
        }
    }

    /// A frame whose `id` could not be read: a request-less error, or a close during the handshake.
    fn reject_unreadable(&mut self, error: RelayError, ctx: &mut Context<Self>) {
        let frame = frames::error(None, &error);
        if self.phase == Phase::AwaitingHello {
            self.close(close::PROTOCOL, "bad first frame", Some(frame), ctx);
        } else {
            self.send(frame);
        }
    }

    fn on_first_frame(
        &mut self,
        kind: Option<&str>,
        object: &Map<String, Value>,
        ctx: &mut Context<Self>,
    ) {
        if kind != Some("hello") {
            let error = RelayError::BadRequest("the first frame must be `hello`".into());
            return self.close(
                close::PROTOCOL,
                "bad first frame",
                Some(frames::error(None, &error)),
                ctx,
            );
        }
        let protocol = object.get("protocol").and_then(Value::as_u64);
        if protocol != Some(1) {
            let error = RelayError::UnsupportedProtocol(format!(
                "{:?}; this server speaks 1",
                object.get("protocol")
            ));
            return self.close(
                close::PROTOCOL,
                "unsupported protocol",
                Some(frames::error(None, &error)),
                ctx,
            );
        }
        let hello_token = object
            .get("token")
            .and_then(Value::as_str)
            .map(str::to_string);
        let capabilities = object
            .get("capabilities")
            .and_then(Value::as_array)
            .map(|caps| {
                caps.iter()
                    .filter_map(Value::as_str)
                    .take(32)
                    .map(|c| c.chars().take(64).collect())
                    .collect()
            })
            .unwrap_or_default();
        let client = client_description(object.get("client"));
        // The token is checked on the store's thread; nothing else is handled meanwhile, so no
        // request can overtake the handshake.
        let auth = std::mem::replace(&mut self.auth, WsAuth::Failed);
        ctx.wait(auth.on_hello(hello_token).into_actor(self).map(
            move |(auth, signed_in), act, ctx| {
                act.auth = auth;
                match signed_in {
                    Ok(user) => act.welcome(user, client, capabilities, ctx),
                    Err(error) => {
                        log::info!("ws {}: sign-in failed at hello", act.id);
                        let frame = frames::error(None, &error);
                        act.close(
                            close::AUTH_FAILED,
                            "authentication failed",
                            Some(frame),
                            ctx,
                        );
                    }
                }
            },
        ));
    }

    /// Signed in at `hello` as `user`: the connection is ready, and says `welcome`.
    fn welcome(
        &mut self,
        user: UserId,
        client: Box<serde_json::value::RawValue>,
        capabilities: Vec<String>,
        ctx: &mut Context<Self>,
    ) {
        if self.phase != Phase::AwaitingHello {
            return;
        }
        self.user = user;
        self.phase = Phase::Ready;
        self.handshake_done = true;
        if let Some(timer) = self.handshake_timer.take() {
            ctx.cancel_future(timer);
        }
        self.watch_token(ctx);
        log::info!("ws {}: hello from {} ({client})", self.id, self.user);
        self.router.registry().do_send(ClientConnected(ClientInfo {
            connection_id: self.id.clone(),
            user: self.user.clone(),
            transport: "websocket",
            client,
            capabilities,
            connected_at: now_ts(),
            subscriptions: Vec::new(),
            closer: ctx.address().recipient(),
        }));
        let heartbeat_s = self.settings.heartbeat.as_secs();
        self.send(frames::welcome(
            self.id.as_str(),
            self.user.as_str(),
            heartbeat_s,
        ));
    }

    fn on_request(&mut self, id: Option<String>, kind: Option<String>, object: Map<String, Value>) {
        let Some(id) = id else {
            let error = RelayError::BadRequest("a request needs a string `id`".into());
            return self.send(frames::error(None, &error));
        };
        let Some(kind) = kind else {
            let error = RelayError::BadRequest("a request needs a `type`".into());
            return self.send(frames::error(Some(&id), &error));
        };
        if let Err(error) = self.settings.limits.check(&self.user) {
            return self.send(frames::error(Some(&id), &error));
        }
        if kind == "ping" {
            return self.send(frames::ok(&id, serde_json::json!({})));
        }
        if super::notify_requests::handles(&kind) {
            return self.on_notify_request(id, &kind, &object);
        }
        let command = match parse_command(&kind, &object, Some(&self.sink)) {
            Ok(command) => command,
            Err(error) => return self.send(frames::error(Some(&id), &error)),
        };
        let caller = Caller {
            user: self.user.clone(),
            connection: Some(self.id.clone()),
        };
        let ask = self.router.send(Request { caller, command });
        let sink = self.sink.clone();
        actix::spawn(async move {
            match ask.await {
                Ok(reply) => {
                    if sink
                        .push_answer(frames::ok(&id, reply_data(&reply)))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    // The answer is queued first; the missed events, or the inbox's changes since
                    // its list, follow it.
                    match reply {
                        Reply::Subscribed { replay, .. } => replay.run().await,
                        Reply::InboxSubscribed { live, .. } => drop(live),
                        _ => {}
                    }
                }
                Err(error) => {
                    let _ = sink.push_answer(frames::error(Some(&id), &error)).await;
                }
            }
        });
    }
}

impl WsConnection {
    /// A notification request (`client.viewing`, `notifications.*`), answered here.
    fn on_notify_request(&mut self, id: String, kind: &str, object: &Map<String, Value>) {
        use super::notify_requests::{answer, Asker};
        let asker = Asker {
            notify: self.settings.notify.clone(),
            router: self.router.clone(),
            caller: Caller {
                user: self.user.clone(),
                connection: Some(self.id.clone()),
            },
            connection: self.id.clone(),
            viewer: crate::notify::presence::Viewer::new(self.user.as_str(), self.auth.device_id()),
        };
        let Some(answering) = answer(kind, object, asker) else {
            return;
        };
        let sink = self.sink.clone();
        actix::spawn(async move {
            let frame = match answering.await {
                Ok(data) => frames::ok(&id, data),
                Err(error) => frames::error(Some(&id), &error),
            };
            let _ = sink.push_answer(frame).await;
        });
    }
}

impl Actor for WsConnection {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let heartbeat = self.settings.heartbeat;
        ctx.run_interval(heartbeat, move |act, ctx| {
            if act.phase == Phase::Closing {
                return;
            }
            if act.sink.overflowed() {
                // The writer is already closing with 4008.
                log::info!("ws {}: cut off as a slow consumer", act.id);
                act.linger(ctx);
                return;
            }
            if act.last_seen.elapsed() > heartbeat * 3 {
                log::info!(
                    "ws {}: silent for {:?}, closing",
                    act.id,
                    act.last_seen.elapsed()
                );
                act.close(1000, "heartbeat timeout", None, ctx);
                return;
            }
            // Not queued while earlier ones wait: the client is not reading them.
            let _ = act.control.try_send(Control::Ping);
        });
        self.handshake_timer = Some(ctx.run_later(self.settings.handshake_timeout, |act, ctx| {
            if act.phase != Phase::AwaitingHello {
                return;
            }
            if act.auth.required() {
                let error = RelayError::Unauthorized("no valid token in time".into());
                let frame = frames::error(None, &error);
                act.close(
                    close::AUTH_FAILED,
                    "authentication required",
                    Some(frame),
                    ctx,
                );
            } else {
                let error = RelayError::BadRequest("no `hello` in time".into());
                let frame = frames::error(None, &error);
                act.close(close::PROTOCOL, "no hello", Some(frame), ctx);
            }
        }));
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.settings.notify.presence().forget(&self.id);
        if !self.handshake_done {
            // Wakes a writer stuck on a client that reads nothing; it then waits no longer
            // than the shortened patience.
            self.sink.cut_off();
        }
        if self.phase != Phase::Closing {
            self.send_close(Closing {
                last: None,
                code: 1000,
                reason: "",
            });
            self.router
                .registry()
                .do_send(ClientDisconnected(self.id.clone()));
        }
        log::info!("ws {}: disconnected", self.id);
    }
}

impl StreamHandler<Result<Inbound, InboundError>> for WsConnection {
    fn handle(&mut self, item: Result<Inbound, InboundError>, ctx: &mut Context<Self>) {
        if self.phase == Phase::Closing {
            return;
        }
        self.last_seen = Instant::now();
        match item {
            Ok(Inbound::Text(text)) => self.on_text(&text, ctx),
            Ok(Inbound::Binary) => {
                let error =
                    RelayError::BadRequest("binary frames are not part of the protocol".into());
                self.close(
                    close::PROTOCOL,
                    "binary frame",
                    Some(frames::error(None, &error)),
                    ctx,
                );
            }
            Ok(Inbound::Ping(bytes)) => {
                // RFC 6455 §5.5.3 lets a pong answer only the latest ping: a client that pings
                // without reading gets no more pongs than the control queue holds.
                let _ = self.control.try_send(Control::Pong(Box::new(bytes)));
            }
            Ok(Inbound::Pong) => {}
            Ok(Inbound::Close) => self.close(1000, "closed by the client", None, ctx),
            Err(InboundError::TooLarge) => {
                self.close(close::TOO_LARGE, "frame too large", None, ctx)
            }
            Err(InboundError::NotUtf8) => {
                self.close(close::NOT_UTF8, "text that is not UTF-8", None, ctx)
            }
            Err(InboundError::Protocol(error)) => {
                log::info!("ws {}: protocol error {error}", self.id);
                self.close(close::PROTOCOL_ERROR, "protocol error", None, ctx);
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// The connection's writer is done with the socket.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct WriterFinished(pub WriterEnd);

impl Handler<WriterFinished> for WsConnection {
    type Result = ();

    /// After the closing frame the connection lingers for the client's side of the close; a
    /// client that took nothing for the whole patience, or is gone, is dropped now: stopping
    /// drops the reading half, the last owner of the socket.
    fn handle(&mut self, msg: WriterFinished, ctx: &mut Context<Self>) {
        match msg.0 {
            WriterEnd::Closed => {}
            WriterEnd::Abandoned => {
                log::info!(
                    "ws {}: the client read nothing for {:?}, dropping the connection",
                    self.id,
                    self.settings.close_patience
                );
                ctx.stop();
            }
            WriterEnd::Broken => ctx.stop(),
        }
    }
}

impl Handler<GoingAway> for WsConnection {
    type Result = ();

    fn handle(&mut self, _: GoingAway, ctx: &mut Context<Self>) {
        self.close(close::GOING_AWAY, "server shutting down", None, ctx);
    }
}
