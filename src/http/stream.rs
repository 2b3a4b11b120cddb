//! `GET /api/v1/sessions/{id}/stream`: a session's events as Server-Sent Events (protocol §4).
//!
//! The stream is a client connection like a WebSocket: it registers with the registry (transport
//! `sse`), subscribes through the same `session.subscribe` command with its own bounded
//! [`ClientSink`], and drains that queue into the response body. A consumer too slow for
//! `limits.client_buffer` is cut off (the stream ends) and resumes with `Last-Event-ID`, losing
//! nothing. It must never write anything but what the sink delivers, plus heartbeat comments.

use std::time::Duration;

use actix::{
    Actor, ActorContext, ActorFutureExt, Addr, AsyncContext, Context, Handler, WrapFuture,
};
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use actors::client::{ClientSink, Outbound};
use actors::command::{Caller, Command, Reply, SessionOp};
use actors::error::RelayError;
use actors::event::{EncodedDelta, EncodedEvent};
use actors::ids::{ConnectionId, Seq};
use actors::registry::{ClientConnected, ClientDisconnected, ClientInfo, GoingAway, Registry};
use actors::session_info::now_ts;
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::call;
use super::caller::HttpCaller;
use super::envelope::ApiError;
use crate::auth::TokenWatch;
use crate::server::AppState;

/// Ends a stream when the server goes away: the registry's handle on one HTTP stream.
struct StreamCloser {
    end: CancellationToken,
}

impl Actor for StreamCloser {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // The actor lives exactly as long as its stream.
        let end = self.end.clone();
        ctx.spawn(
            async move { end.cancelled().await }
                .into_actor(self)
                .map(|_, _, ctx: &mut Context<Self>| ctx.stop()),
        );
    }
}

impl Handler<GoingAway> for StreamCloser {
    type Result = ();

    fn handle(&mut self, _: GoingAway, _: &mut Context<Self>) {
        self.end.cancel();
    }
}

/// An HTTP stream registered as a client (`GET /api/v1/clients` lists it). Dropping it, which
/// happens when the body ends or the client hangs up, ends its subscriptions.
pub(crate) struct ClientRegistration {
    registry: Addr<Registry>,
    id: ConnectionId,
    end: CancellationToken,
    /// Ends when the caller's token is revoked or expires (none without auth).
    watch: Option<TokenWatch>,
}

impl ClientRegistration {
    /// Registers a new connection of `caller` over `transport`, ended by `watch` if given.
    pub(crate) fn connect(
        registry: Addr<Registry>,
        caller: &Caller,
        transport: &'static str,
        req: &HttpRequest,
        watch: Option<TokenWatch>,
    ) -> ClientRegistration {
        let id = ConnectionId::random();
        let end = CancellationToken::new();
        let closer = StreamCloser { end: end.clone() }.start();
        let client = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|agent| json!({ "user_agent": agent.chars().take(256).collect::<String>() }));
        let client = actors::registry::client_description(client.as_ref());
        registry.do_send(ClientConnected(ClientInfo {
            connection_id: id.clone(),
            user: caller.user.clone(),
            transport,
            client,
            capabilities: Vec::new(),
            connected_at: now_ts(),
            subscriptions: Vec::new(),
            closer: closer.recipient(),
        }));
        ClientRegistration {
            registry,
            id,
            end,
            watch,
        }
    }

    /// The caller, speaking through this connection.
    pub(crate) fn caller(&self, caller: &Caller) -> Caller {
        Caller {
            user: caller.user.clone(),
            connection: Some(self.id.clone()),
        }
    }

    /// Cancelled when the server goes away.
    pub(crate) fn end(&self) -> &CancellationToken {
        &self.end
    }

    /// Completes when the caller's token is revoked or expires; never without auth.
    pub(crate) async fn revoked(&self) {
        match &self.watch {
            Some(watch) => watch.ended().await,
            None => std::future::pending().await,
        }
    }
}

impl Drop for ClientRegistration {
    fn drop(&mut self) {
        self.end.cancel();
        self.registry.do_send(ClientDisconnected(self.id.clone()));
    }
}

/// A live subscription of one registered connection: its queue and its overflow signal.
pub(crate) struct Subscription {
    pub(crate) outbound: mpsc::Receiver<Outbound>,
    pub(crate) overflow: CancellationToken,
}

/// Subscribes `registration` to `session_id` after `after_seq` with a fresh queue (replacing any
/// earlier subscription of that connection), and starts the replay once the answer is in.
pub(crate) async fn subscribe(
    state: &AppState,
    caller: &Caller,
    registration: &ClientRegistration,
    session_id: &str,
    after_seq: Seq,
) -> Result<Subscription, RelayError> {
    let (sink, outbound, overflow) =
        ClientSink::channel(registration.id.clone(), state.config.limits.client_buffer);
    let command = Command::Session {
        session_id: session_id.to_string(),
        op: SessionOp::Subscribe { after_seq, sink },
    };
    match call(state, registration.caller(caller), command).await? {
        Reply::Subscribed { replay, .. } => {
            actix::spawn(replay.run());
            Ok(Subscription { outbound, overflow })
        }
        other => Err(RelayError::Internal(format!(
            "subscribe answered {other:?}"
        ))),
    }
}

/// The query of the stream route. Other parameters, such as the `token` an `EventSource` sends,
/// are ignored here (authentication reads them).
#[derive(Deserialize)]
pub struct StreamQuery {
    #[serde(default)]
    after_seq: Option<String>,
}

/// Where to resume: `Last-Event-ID` wins over `?after_seq=`; neither means from the start.
fn resume_point(req: &HttpRequest, query: &StreamQuery) -> Result<Seq, RelayError> {
    let header = req
        .headers()
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("?").trim().to_string())
        .filter(|v| !v.is_empty());
    let (name, value) = match (header, &query.after_seq) {
        (Some(value), _) => ("Last-Event-ID", value),
        (None, Some(value)) => ("after_seq", value.trim().to_string()),
        (None, None) => return Ok(0),
    };
    value
        .parse()
        .map_err(|_| RelayError::BadRequest(format!("{name} must be a seq number, not {value:?}")))
}

/// `GET /api/v1/sessions/{id}/stream`.
pub async fn stream(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
    query: web::Query<StreamQuery>,
) -> Result<HttpResponse, ApiError> {
    let after_seq = resume_point(&req, &query)?;
    let watch = caller.watch(&state);
    let registration =
        ClientRegistration::connect(state.registry.clone(), &caller.0, "sse", &req, watch);
    let subscription = subscribe(&state, &caller.0, &registration, &id, after_seq).await?;
    let heartbeat = Duration::from_secs(state.config.server.heartbeat_s.max(1));
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(sse_body(registration, subscription, heartbeat)))
}

/// What the body stream owns; dropping it (the client hung up) unregisters the client.
struct SseState {
    subscription: Subscription,
    heartbeat: tokio::time::Interval,
    registration: ClientRegistration,
    /// The token was revoked: the last message went out.
    ended: bool,
}

/// The response body: every queued item as an SSE message, a comment every `heartbeat`, and the
/// end when the client overflows its queue or the server goes away; when the token is revoked
/// or expires, a last `event: error` message (`unauthorized`), then the end.
fn sse_body(
    registration: ClientRegistration,
    subscription: Subscription,
    heartbeat: Duration,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    let start = tokio::time::Instant::now() + heartbeat;
    let state = SseState {
        subscription,
        heartbeat: tokio::time::interval_at(start, heartbeat),
        registration,
        ended: false,
    };
    stream::unfold(state, |mut state| async move {
        if state.ended {
            return None;
        }
        let chunk = loop {
            let item = tokio::select! {
                biased;
                _ = state.registration.revoked() => {
                    state.ended = true;
                    break super::revoked::sse_message();
                }
                _ = state.subscription.overflow.cancelled() => return None,
                _ = state.registration.end().cancelled() => return None,
                item = state.subscription.outbound.recv() => item,
                _ = state.heartbeat.tick() => break Bytes::from_static(b": ping\n\n"),
            };
            match item? {
                Outbound::Event(event) => break event_message(&event),
                Outbound::Delta(delta) => break delta_message(&delta),
                Outbound::Answer(_) | Outbound::Inbox(_) => continue,
            }
        };
        Some((Ok(chunk), state))
    })
}

/// `id: <seq>`, `event: <kind>`, `data: <event object>`.
fn event_message(event: &EncodedEvent) -> Bytes {
    let mut text = format!("id: {}\nevent: {}\n", event.seq, event.kind);
    push_data(&mut text, &event.json);
    Bytes::from(text)
}

/// `event: delta`, `data: <the delta object>`, no `id:` (deltas have no seq).
fn delta_message(delta: &EncodedDelta) -> Bytes {
    let mut text = String::from("event: delta\n");
    push_data(&mut text, &delta.json);
    Bytes::from(text)
}

/// `data:` lines and the blank line ending the message. JSON may hold raw line breaks only as
/// whitespace, so splitting it over several `data:` lines keeps it intact.
fn push_data(text: &mut String, data: &str) {
    for line in data.split(['\n', '\r']).filter(|l| !l.is_empty()) {
        text.push_str("data: ");
        text.push_str(line);
        text.push('\n');
    }
    text.push('\n');
}

#[cfg(test)]
mod tests {
    use super::push_data;

    #[test]
    fn data_never_carries_a_raw_line_break() {
        let mut text = String::new();
        push_data(&mut text, "{\"a\":\r\n1}");
        assert_eq!(text, "data: {\"a\":\ndata: 1}\n\n");
    }
}
