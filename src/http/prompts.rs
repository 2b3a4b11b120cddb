//! `POST /api/v1/sessions/{id}/prompts`: queue a prompt (`session.prompt`), and with
//! `?stream=ndjson` follow it: one event object per line from its `prompt.queued` to its
//! `prompt.completed` or `prompt.failed`.
//!
//! The streaming form subscribes before it queues the prompt, so no event of the prompt can slip
//! by; a client that hangs up only ends its own subscription, never the prompt.

use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse, Responder};
use actors::client::Outbound;
use actors::command::{Caller, Command, EventsQuery, NewPrompt, Reply, SessionOp};
use actors::error::RelayError;
use actors::event::EncodedEvent;
use actors::ids::{PromptId, Seq};
use futures_util::stream::{self, Stream};
use serde::Deserialize;

use super::call;
use super::caller::HttpCaller;
use super::envelope::{Answer, ApiError};
use super::stream::{subscribe, ClientRegistration, Subscription};
use crate::protocol::reply_data;
use crate::server::AppState;

/// The route, whose body limit is a prompt's with its images (every other body is small).
pub const ROUTE: &str = "/api/v1/sessions/{id}/prompts";

/// `?stream=ndjson` asks for the prompt's events instead of the 202.
#[derive(Deserialize)]
pub struct PromptQuery {
    #[serde(default)]
    stream: Option<String>,
}

/// `POST /api/v1/sessions/{id}/prompts[?stream=ndjson]`.
pub async fn prompt(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
    query: web::Query<PromptQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: NewPrompt =
        super::extract::json_body(&req, payload.into_inner(), state.prompt_body_limit).await?;
    match query.stream.as_deref() {
        None => {
            let op = body.into_op(&state.config.limits)?;
            let command = Command::Session {
                session_id: id.into_inner(),
                op,
            };
            let reply = call(&state, caller.0, command).await?;
            Ok(Answer::with_status(StatusCode::ACCEPTED, reply_data(&reply)).respond_to(&req))
        }
        Some("ndjson") => {
            let run = follow(&req, state, caller, id.into_inner(), body).await?;
            Ok(HttpResponse::Ok()
                .content_type("application/x-ndjson")
                .insert_header((header::CACHE_CONTROL, "no-cache"))
                .insert_header(("X-Accel-Buffering", "no"))
                .streaming(ndjson_body(run)))
        }
        Some(other) => {
            let failure = RelayError::BadRequest(format!("stream must be `ndjson`, not {other:?}"));
            Err(failure.into())
        }
    }
}

/// One prompt being followed: its subscription and how far its events have come.
struct PromptRun {
    state: web::Data<AppState>,
    caller: Caller,
    session_id: String,
    prompt_id: PromptId,
    registration: ClientRegistration,
    subscription: Subscription,
    /// The last seq taken from the queue (replays after a resubscription repeat nothing).
    last_seq: Seq,
    /// Where the queue was last picked up again; a second time at the same seq gives up.
    resumed_at: Option<Seq>,
    started: bool,
    finished: bool,
}

/// Subscribes, queues the prompt, and answers the run to stream; every error comes before the
/// response starts, so it goes out in the envelope.
async fn follow(
    req: &HttpRequest,
    state: web::Data<AppState>,
    caller: HttpCaller,
    session_id: String,
    body: NewPrompt,
) -> Result<PromptRun, RelayError> {
    let watch = caller.watch(&state);
    let caller = caller.0;
    let on = |op| Command::Session {
        session_id: session_id.clone(),
        op,
    };
    let since = match call(&state, caller.clone(), on(SessionOp::Get)).await? {
        Reply::Session(info) => info.last_seq,
        _ => 0,
    };
    let registration =
        ClientRegistration::connect(state.registry.clone(), &caller, "ndjson", req, watch);
    let mut subscription = subscribe(&state, &caller, &registration, &session_id, since).await?;
    let chosen = body.prompt_id.is_some();
    // Our own id when the client gave none, so the stream can tell this prompt's events apart.
    let prompt_id = body.prompt_id.clone().unwrap_or_else(PromptId::random);
    let op = NewPrompt {
        prompt_id: Some(prompt_id.clone()),
        ..body
    }
    .into_op(&state.config.limits)?;
    let prompt_id = match call(&state, caller.clone(), on(op)).await? {
        Reply::Prompt { prompt_id, .. } => prompt_id,
        _ => prompt_id,
    };
    if chosen && !queued_since(&state, &caller, &session_id, since, &prompt_id).await? {
        // A retry of an earlier prompt: its events lie before `since`.
        subscription = subscribe(&state, &caller, &registration, &session_id, 0).await?;
    }
    Ok(PromptRun {
        state,
        caller,
        session_id,
        prompt_id,
        registration,
        subscription,
        last_seq: 0,
        resumed_at: None,
        started: false,
        finished: false,
    })
}

/// Whether `prompt_id` was queued after `since` (a new prompt) rather than before (a retry).
async fn queued_since(
    state: &AppState,
    caller: &Caller,
    session_id: &str,
    since: Seq,
    prompt_id: &PromptId,
) -> Result<bool, RelayError> {
    let mut after = since;
    loop {
        let op = SessionOp::Events(EventsQuery::after(after, 1000));
        let command = Command::Session {
            session_id: session_id.to_string(),
            op,
        };
        let Reply::Events { events, last_seq } = call(state, caller.clone(), command).await? else {
            return Err(RelayError::Internal(
                "events answered something else".into(),
            ));
        };
        if events
            .iter()
            .any(|e| e.kind == "prompt.queued" && is_of(e, prompt_id))
        {
            return Ok(true);
        }
        match events.last() {
            Some(last) if last.seq < last_seq => after = last.seq,
            _ => return Ok(false),
        }
    }
}

/// Just enough of an event object to see whose prompt it is.
#[derive(Deserialize)]
struct Peek {
    #[serde(default)]
    data: PeekData,
}

#[derive(Default, Deserialize)]
struct PeekData {
    #[serde(default)]
    prompt_id: Option<String>,
}

/// Whether the event's `data.prompt_id` is `prompt_id`.
fn is_of(event: &EncodedEvent, prompt_id: &PromptId) -> bool {
    serde_json::from_str::<Peek>(&event.json)
        .ok()
        .and_then(|peek| peek.data.prompt_id)
        .is_some_and(|id| id == prompt_id.as_str())
}

impl PromptRun {
    /// Whether `event` belongs in the stream: the prompt's own events until it starts, then
    /// everything of its run; notes the end.
    fn keep(&mut self, event: &EncodedEvent) -> bool {
        let ending = matches!(event.kind.as_str(), "prompt.completed" | "prompt.failed");
        // Once the prompt runs, only its end needs a look inside.
        let ours = (ending || !self.started) && is_of(event, &self.prompt_id);
        if ours && event.kind == "prompt.started" {
            self.started = true;
        }
        if ours && ending {
            self.finished = true;
        }
        ours || self.started
    }

    /// The next line, or `None` when the prompt ended, the client is gone or the server stops;
    /// when the token is revoked or expires, a last line with the `unauthorized` error.
    async fn next_line(&mut self) -> Option<Bytes> {
        loop {
            if self.finished {
                return None;
            }
            let item = tokio::select! {
                biased;
                _ = self.registration.revoked() => {
                    self.finished = true;
                    return Some(super::revoked::ndjson_line());
                }
                _ = self.registration.end().cancelled() => return None,
                item = self.subscription.outbound.recv() => item,
            };
            match item {
                Some(Outbound::Event(event)) => {
                    if event.seq <= self.last_seq {
                        continue;
                    }
                    self.last_seq = event.seq;
                    if self.keep(&event) {
                        let mut line = Vec::with_capacity(event.json.len() + 1);
                        line.extend_from_slice(event.json.as_bytes());
                        line.push(b'\n');
                        return Some(Bytes::from(line));
                    }
                }
                Some(_) => continue,
                // The session let go of the queue (the client read too slowly): resume after
                // the last event taken, unless that already failed to help.
                None => {
                    if self.resumed_at == Some(self.last_seq) {
                        return None;
                    }
                    self.resumed_at = Some(self.last_seq);
                    let resumed = subscribe(
                        &self.state,
                        &self.caller,
                        &self.registration,
                        &self.session_id,
                        self.last_seq,
                    )
                    .await;
                    match resumed {
                        Ok(subscription) => self.subscription = subscription,
                        Err(_) => return None,
                    }
                }
            }
        }
    }
}

/// The response body: one event object per line.
fn ndjson_body(run: PromptRun) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    stream::unfold(run, |mut run| async move {
        let line = run.next_line().await?;
        Some((Ok(line), run))
    })
}
