//! `GET /api/v1/sessions/{id}/export?format=markdown`: the conversation as a readable Markdown
//! document, rendered from the session's stored events read page by page through the same
//! `events` command as `GET …/events` (never from the store directly), and streamed out as it is
//! rendered so a long session never sits in memory whole.

use std::collections::HashMap;

use actix_web::web::{self, Bytes};
use actix_web::HttpResponse;
use actors::command::{Caller, Command, EventsQuery, Reply, SessionOp};
use actors::error::RelayError;
use actors::event::EncodedEvent;
use actors::ids::Seq;
use actors::session_info::SessionInfo;
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

use super::call;
use super::caller::HttpCaller;
use super::envelope::ApiError;
use crate::server::AppState;

/// Events read per page.
const PAGE: usize = 500;

/// `?format=markdown` (the default, and for now the only format).
#[derive(Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    format: Option<String>,
}

/// `GET /api/v1/sessions/{id}/export`.
pub async fn export(
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    if let Some(other) = query.format.as_deref().filter(|f| *f != "markdown") {
        let failure = RelayError::BadRequest(format!("format must be `markdown`, not {other:?}"));
        return Err(failure.into());
    }
    let id = id.into_inner();
    // Both reads come before the response starts, so their errors go out in the envelope.
    let Reply::Session(info) = call(&state, caller.0.clone(), on(&id, SessionOp::Get)).await?
    else {
        return Err(RelayError::Internal("get answered something else".into()).into());
    };
    let (first, last_seq) = page(&state, &caller.0, &id, 0).await?;
    let export = Export {
        state,
        caller: caller.0,
        session_id: id,
        markdown: Markdown::default(),
        head: Some(header(&info)),
        first: Some(first),
        after: 0,
        last_seq,
        finished: false,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/markdown; charset=utf-8")
        .streaming(export_body(export)))
}

fn on(session_id: &str, op: SessionOp) -> Command {
    Command::Session {
        session_id: session_id.to_string(),
        op,
    }
}

/// A page of events after `after`, and the session's last seq.
async fn page(
    state: &AppState,
    caller: &Caller,
    session_id: &str,
    after: Seq,
) -> Result<(Vec<Arc<EncodedEvent>>, Seq), RelayError> {
    let op = SessionOp::Events(EventsQuery::after(after, PAGE));
    match call(state, caller.clone(), on(session_id, op)).await? {
        Reply::Events { events, last_seq } => Ok((events, last_seq)),
        _ => Err(RelayError::Internal(
            "events answered something else".into(),
        )),
    }
}

/// An export on its way out: where the reading stands.
struct Export {
    state: web::Data<AppState>,
    caller: Caller,
    session_id: String,
    markdown: Markdown,
    head: Option<String>,
    first: Option<Vec<Arc<EncodedEvent>>>,
    after: Seq,
    /// The last seq when the export began: events after it belong to a later export.
    last_seq: Seq,
    finished: bool,
}

impl Export {
    /// The next piece of the document; `None` once it is complete.
    async fn next_chunk(&mut self) -> Option<Result<Bytes, actix_web::Error>> {
        let mut out = self.head.take().unwrap_or_default();
        while !self.finished {
            let events = match self.first.take() {
                Some(events) => events,
                None if self.after >= self.last_seq => Vec::new(),
                None => match page(&self.state, &self.caller, &self.session_id, self.after).await {
                    Ok((events, _)) => events,
                    Err(failure) => {
                        self.finished = true;
                        return Some(Err(actix_web::error::ErrorServiceUnavailable(failure)));
                    }
                },
            };
            let events: Vec<_> = events
                .into_iter()
                .filter(|e| e.seq <= self.last_seq)
                .collect();
            let Some(last) = events.last() else {
                self.finished = true;
                self.markdown.finish(&mut out);
                break;
            };
            self.after = last.seq;
            for event in &events {
                if let Ok(event) = serde_json::from_str::<Value>(&event.json) {
                    self.markdown.event(&mut out, &event);
                }
            }
            if !out.is_empty() {
                break;
            }
        }
        (!out.is_empty()).then(|| Ok(Bytes::from(out)))
    }
}

fn export_body(export: Export) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    stream::unfold(export, |mut export| async move {
        let chunk = export.next_chunk().await?;
        Some((chunk, export))
    })
}

/// The title line and what the session is.
fn header(info: &SessionInfo) -> String {
    let title = info
        .title
        .as_deref()
        .map(one_line)
        .unwrap_or_else(|| format!("Session {}", info.id));
    let mut out = format!("# {title}\n\n");
    out.push_str(&format!("- Session: `{}`\n", info.id));
    out.push_str(&format!("- Working directory: `{}`\n", one_line(&info.cwd)));
    out.push_str(&format!("- Created: {}\n", info.created_at));
    if let Some(model) = &info.model {
        out.push_str(&format!("- Model: {}\n", one_line(model)));
    }
    out.push('\n');
    out
}

/// A line naming a prompt's images (`prompt.queued`'s `images`), e.g. `*2 images: image/png, 67
/// bytes; image/jpeg, 300 bytes*`; `None` without any.
fn images_note(images: &Value) -> Option<String> {
    let images = images.as_array().filter(|list| !list.is_empty())?;
    let each: Vec<String> = images
        .iter()
        .map(|image| {
            let kind = image["media_type"].as_str().unwrap_or("image");
            format!("{kind}, {} bytes", image["bytes"].as_u64().unwrap_or(0))
        })
        .collect();
    let noun = if images.len() == 1 { "image" } else { "images" };
    Some(format!("*{} {noun}: {}*", images.len(), each.join("; ")))
}

/// Renders events one by one; remembers what later events refer back to.
#[derive(Default)]
struct Markdown {
    /// Prompt texts from `prompt.queued`, until the prompt starts or ends.
    queued: HashMap<String, String>,
    /// Tool names of permission requests, until they are resolved.
    asked: HashMap<String, String>,
    /// Whether the last thing written was Claude's text (so "Claude:" is said once per stretch).
    claude_speaking: bool,
}

impl Markdown {
    fn event(&mut self, out: &mut String, event: &Value) {
        let data = &event["data"];
        let prompt_id = data["prompt_id"].as_str().unwrap_or_default();
        match event["kind"].as_str().unwrap_or_default() {
            "prompt.queued" => {
                let text = data["text"].as_str().unwrap_or_default();
                let text = match images_note(&data["images"]) {
                    Some(note) if text.is_empty() => note,
                    Some(note) => format!("{note}\n\n{text}"),
                    None => text.to_string(),
                };
                self.queued.insert(prompt_id.to_string(), text);
            }
            "prompt.started" => self.prompt(out, prompt_id, ""),
            "agent.output" => self.message(out, &data["message"]),
            "permission.requested" => {
                let tool = data["tool_name"].as_str().unwrap_or("a tool");
                let request = data["request_id"].as_str().unwrap_or_default();
                self.asked.insert(request.to_string(), tool.to_string());
                let why = data["description"]
                    .as_str()
                    .map(|d| format!(": {}", one_line(d)));
                self.line(
                    out,
                    &format!(
                        "**Permission asked** for `{tool}`{}",
                        why.unwrap_or_default()
                    ),
                );
            }
            "permission.resolved" => {
                let request = data["request_id"].as_str().unwrap_or_default();
                let tool = self
                    .asked
                    .remove(request)
                    .unwrap_or_else(|| "a tool".into());
                let decision = data["decision"].as_str().unwrap_or("unknown");
                let by = &data["by"];
                let by = match (by["user"].as_str(), by["reason"].as_str()) {
                    (Some(user), _) => format!("by {user}"),
                    (None, Some(reason)) => format!("({reason})"),
                    _ if by["timeout"] == true => "(timed out)".to_string(),
                    _ => String::new(),
                };
                self.line(
                    out,
                    &format!("**Permission for `{tool}`:** {decision} {by}"),
                );
            }
            "prompt.completed" => {
                self.prompt(out, prompt_id, " (never started)");
                self.outcome(out, data);
            }
            "prompt.failed" => {
                self.prompt(out, prompt_id, " (never started)");
                let error = &data["error"];
                let code = error["code"].as_str().unwrap_or("failed");
                let message = error["message"].as_str().unwrap_or_default();
                self.line(
                    out,
                    &format!("**Outcome:** failed ({code}): {}", one_line(message)),
                );
            }
            "agent.exited" if data["expected"] == false => {
                self.line(
                    out,
                    &format!(
                        "*Claude Code exited unexpectedly (code {}, signal {}).*",
                        data["code"], data["signal"]
                    ),
                );
            }
            _ => {}
        }
    }

    /// The heading of a prompt, if it was not written yet.
    fn prompt(&mut self, out: &mut String, prompt_id: &str, note: &str) {
        if let Some(text) = self.queued.remove(prompt_id) {
            self.line(out, &format!("## Prompt{note}\n\n{}", quote(&text)));
        }
    }

    /// Prompts still waiting when the export was taken.
    fn finish(&mut self, out: &mut String) {
        let mut waiting: Vec<_> = self.queued.drain().collect();
        waiting.sort();
        for (_, text) in waiting {
            self.line(
                out,
                &format!("## Prompt (still queued)\n\n{}", quote(&text)),
            );
        }
    }

    fn outcome(&mut self, out: &mut String, data: &Value) {
        let mut facts = Vec::new();
        if let Some(ms) = data["duration_ms"].as_u64() {
            facts.push(format!("{ms} ms"));
        }
        if let Some(turns) = data["num_turns"].as_u64() {
            facts.push(format!("{turns} turn{}", if turns == 1 { "" } else { "s" }));
        }
        if let Some(cost) = data["cost_usd"].as_f64() {
            facts.push(format!("${cost:.4}"));
        }
        let how = if data["is_error"] == true {
            "completed with an error"
        } else {
            "completed"
        };
        let facts = if facts.is_empty() {
            String::new()
        } else {
            format!(" ({})", facts.join(", "))
        };
        let mut text = format!("**Outcome:** {how}{facts}");
        if let Some(result) = data["result"].as_str().filter(|r| !r.is_empty()) {
            text.push_str("\n\n");
            text.push_str(&quote(result));
        }
        self.line(out, &text);
    }

    /// One stdout message of Claude Code: its text, tool calls and tool results.
    fn message(&mut self, out: &mut String, message: &Value) {
        let kind = message["type"].as_str().unwrap_or_default();
        let Some(blocks) = message["message"]["content"].as_array() else {
            return;
        };
        for block in blocks {
            match (kind, block["type"].as_str().unwrap_or_default()) {
                ("assistant", "text") => {
                    let text = block["text"].as_str().unwrap_or_default();
                    if !self.claude_speaking {
                        self.line(out, "**Claude:**");
                    }
                    out.push_str(text.trim_end());
                    out.push_str("\n\n");
                    self.claude_speaking = true;
                }
                ("assistant", "tool_use") => {
                    let name = block["name"].as_str().unwrap_or("a tool");
                    let input = serde_json::to_string_pretty(&block["input"]).unwrap_or_default();
                    self.line(
                        out,
                        &format!("**Tool call:** `{name}`\n\n{}", fence("json", &input)),
                    );
                }
                ("user", "tool_result") => {
                    let label = if block["is_error"] == true {
                        "**Tool result (error):**"
                    } else {
                        "**Tool result:**"
                    };
                    self.line(
                        out,
                        &format!("{label}\n\n{}", fence("", &content_text(&block["content"]))),
                    );
                }
                ("user", "text") => {
                    let text = block["text"].as_str().unwrap_or_default();
                    self.line(out, &format!("*{}*", one_line(text)));
                }
                _ => {}
            }
        }
    }

    /// A paragraph that is not Claude's text.
    fn line(&mut self, out: &mut String, text: &str) {
        self.claude_speaking = false;
        out.push_str(text);
        out.push_str("\n\n");
    }
}

/// A tool result's content: a string, or the text of its blocks.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .map(|b| match b["text"].as_str() {
                Some(text) => text.to_string(),
                None => b.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A fenced block whose fence is longer than any run of backticks inside.
fn fence(lang: &str, content: &str) -> String {
    let longest = content.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let ticks = "`".repeat(longest.max(2) + 1);
    format!("{ticks}{lang}\n{}\n{ticks}", content.trim_end_matches('\n'))
}

/// A block quote of `text`, every line of it.
fn quote(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                ">".to_string()
            } else {
                format!("> {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::{fence, quote};

    #[test]
    fn a_fence_outlasts_the_backticks_inside() {
        assert_eq!(fence("", "a ```b``` c"), "````\na ```b``` c\n````");
        assert_eq!(fence("json", "{}"), "```json\n{}\n```");
    }

    #[test]
    fn a_quote_covers_every_line() {
        assert_eq!(quote("a\n\nb"), "> a\n>\n> b");
    }
}
