//! What one transcript line says, read tolerantly: the CLI writes many line types (`user`,
//! `assistant`, `attachment`, `queue-operation`, `custom-title`, `ai-title`, `last-prompt`,
//! `cost-state`, …) and adds new ones in new releases. Only the fields named here are read; any
//! other line type, a line that is not JSON, or a field of an unexpected type is skipped.

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{json, Value};

/// The fields of a transcript line that the listing reads (the rest is skipped unparsed).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LineHead {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub cwd: Option<String>,
    #[serde(rename = "gitBranch")]
    pub git_branch: Option<String>,
    pub timestamp: Option<String>,
    #[serde(rename = "isSidechain")]
    pub is_sidechain: Option<bool>,
    #[serde(rename = "isMeta")]
    pub is_meta: Option<bool>,
    /// `custom-title` lines: the name the person gave the conversation (`/rename`).
    #[serde(rename = "customTitle")]
    pub custom_title: Option<String>,
    /// `ai-title` lines: the name the CLI generated.
    #[serde(rename = "aiTitle")]
    pub ai_title: Option<String>,
    /// `summary` lines of older CLIs.
    pub summary: Option<String>,
    pub message: Option<IgnoredAny>,
}

impl LineHead {
    /// Parses a line; `None` when it is not a JSON object of the expected shape.
    pub fn parse(line: &[u8]) -> Option<LineHead> {
        serde_json::from_slice(line).ok()
    }

    /// Whether the line is one of the conversation's messages: a `user` or `assistant` entry of
    /// the main thread that the CLI did not mark as its own (`isMeta`).
    pub fn is_message(&self) -> bool {
        matches!(self.kind.as_deref(), Some("user" | "assistant"))
            && self.is_sidechain != Some(true)
            && self.is_meta != Some(true)
            && self.message.is_some()
    }
}

/// The longest title answered, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// The text a person typed in a `user` line, if it is one: not a tool result, not a
/// `<system-reminder>`, an interruption marker or a slash-command record the CLI writes itself.
pub fn typed_prompt(line: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(line).ok()?;
    let content = value.get("message")?.get("content")?;
    let texts: Vec<&str> = match content {
        Value::String(text) => vec![text.as_str()],
        Value::Array(blocks) => blocks
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect(),
        _ => return None,
    };
    texts
        .into_iter()
        .map(str::trim)
        .find(|text| !text.is_empty() && !is_cli_text(text))
        .map(one_line_title)
}

/// Texts the CLI puts in user messages itself.
fn is_cli_text(text: &str) -> bool {
    [
        "<system-reminder>",
        "[Request interrupted",
        "<command-",
        "<local-command-",
    ]
    .iter()
    .any(|prefix| text.starts_with(prefix))
        || text.starts_with("Caveat: The messages below")
}

/// `text` on one line, cut at [`MAX_TITLE_CHARS`].
pub fn one_line_title(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match joined.char_indices().nth(MAX_TITLE_CHARS) {
        Some((at, _)) => format!("{}…", &joined[..at]),
        None => joined,
    }
}

/// A message line in the shape of an `agent.output` event's `message` (a stream-json line):
/// `{type, message, uuid, timestamp, session_id, parent_tool_use_id}`; the transcript's own
/// bookkeeping fields are left out. `None` for a line that is not a message.
pub fn as_stream_message(line: &[u8], session_id: &str) -> Option<Value> {
    let head = LineHead::parse(line)?;
    if !head.is_message() {
        return None;
    }
    let value: Value = serde_json::from_slice(line).ok()?;
    let message = value.get("message")?;
    if !message.is_object() {
        return None;
    }
    Some(json!({
        "type": head.kind,
        "message": message,
        "uuid": value.get("uuid").cloned().unwrap_or(Value::Null),
        "timestamp": head.timestamp,
        "session_id": session_id,
        "parent_tool_use_id": null,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_prompts_skip_what_the_cli_writes() {
        let prompt = |content: Value| {
            typed_prompt(
                json!({"type": "user", "message": {"content": content}})
                    .to_string()
                    .as_bytes(),
            )
        };
        assert_eq!(
            prompt(json!("  fix   the\nbuild ")),
            Some("fix the build".into())
        );
        assert_eq!(
            prompt(
                json!([{"type": "text", "text": "<system-reminder>x</system-reminder>"},
                          {"type": "text", "text": "real one"}])
            ),
            Some("real one".into())
        );
        assert_eq!(
            prompt(json!([{"type": "tool_result", "content": "hi"}])),
            None
        );
        assert_eq!(prompt(json!("[Request interrupted by user]")), None);
        assert_eq!(prompt(json!("<command-name>/model</command-name>")), None);
        assert_eq!(prompt(json!(42)), None);
        assert_eq!(typed_prompt(b"not json"), None);
    }

    #[test]
    fn long_titles_are_cut() {
        let title = one_line_title(&"é".repeat(500));
        assert_eq!(title.chars().count(), MAX_TITLE_CHARS + 1);
        assert!(title.ends_with('…'));
    }

    #[test]
    fn messages_keep_the_stream_json_shape() {
        let line = json!({"type": "assistant", "uuid": "u1", "timestamp": "t", "cwd": "/p",
            "message": {"role": "assistant", "content": [{"type": "text", "text": "hi"}]}});
        let message = as_stream_message(line.to_string().as_bytes(), "s1").expect("a message");
        assert_eq!(message["type"], "assistant");
        assert_eq!(message["message"]["content"][0]["text"], "hi");
        assert_eq!(message["session_id"], "s1");
        assert!(message.get("cwd").is_none());
        let meta = json!({"type": "user", "isMeta": true, "message": {"content": "x"}});
        assert_eq!(as_stream_message(meta.to_string().as_bytes(), "s1"), None);
        let side = json!({"type": "user", "isSidechain": true, "message": {"content": "x"}});
        assert_eq!(as_stream_message(side.to_string().as_bytes(), "s1"), None);
        let other = json!({"type": "attachment", "message": {"content": "x"}});
        assert_eq!(as_stream_message(other.to_string().as_bytes(), "s1"), None);
        assert_eq!(
            as_stream_message(b"{\"type\":\"user\",\"message\":\"x\"}", "s1"),
            None
        );
    }
}
