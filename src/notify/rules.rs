//! What notifies, and at which level (protocol §13.3): a plain type that reads a committed
//! event and answers the notice it makes, if any. The notifier keeps one [`Rules`] and delivers
//! what it answers; nothing here does I/O.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A notification level: of a user, or of one session (which overrides the user's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Approvals, finished and failed prompts, crashes.
    All,
    /// Only approvals (and their resolution).
    Approvals,
    None,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::All => "all",
            Level::Approvals => "approvals",
            Level::None => "none",
        }
    }

    pub fn parse(text: &str) -> Option<Level> {
        match text {
            "all" => Some(Level::All),
            "approvals" => Some(Level::Approvals),
            "none" => Some(Level::None),
            _ => None,
        }
    }

    /// Whether a notice of `kind` goes out at this level.
    pub fn allows(self, kind: Kind) -> bool {
        match self {
            Level::All => true,
            Level::Approvals => matches!(kind, Kind::Approval | Kind::Resolved),
            Level::None => false,
        }
    }
}

/// What a notification is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Approval,
    Completed,
    Failed,
    Crashed,
    Resolved,
}

impl Kind {
    /// The second half of the tag: approvals and their resolution replace each other, the
    /// session's status notifications each other.
    pub fn tag_part(self) -> &'static str {
        match self {
            Kind::Approval | Kind::Resolved => "approval",
            Kind::Completed | Kind::Failed | Kind::Crashed => "status",
        }
    }
}

/// One thing worth telling, before it is shaped for a channel.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub kind: Kind,
    pub session_id: String,
    /// The session's title, or its folder's name.
    pub place: String,
    /// Approvals still pending in the session (after this event).
    pub count: usize,
    /// The request it is about (approval, resolved).
    pub request_id: Option<String>,
    /// The tool (approval), for `include_content` only.
    pub tool: Option<String>,
    /// A short summary of the request, the answer or the failure, for `include_content` only.
    pub summary: Option<String>,
}

impl Notice {
    /// `pocket-relay:<session_id>:<approval|status>`.
    pub fn tag(&self) -> String {
        format!("pocket-relay:{}:{}", self.session_id, self.kind.tag_part())
    }
}

/// The longest summary, in characters.
const SUMMARY_CHARS: usize = 120;

/// Prompt failure codes the person caused themselves: no notification.
const SELF_INFLICTED: &[&str] = &["interrupted", "session_stopped", "session_deleted"];

/// The notifier's memory: the approvals pending per session, to say how many a notification
/// stands for.
#[derive(Default)]
pub struct Rules {
    pending: HashMap<String, BTreeSet<String>>,
}

impl Rules {
    /// The notice `event` (a committed event object of a session titled `title` in `cwd`)
    /// makes, if any; updates the pending approvals either way.
    pub fn notice(&mut self, title: Option<&str>, cwd: &str, event: &Value) -> Option<Notice> {
        let session_id = event["session_id"].as_str()?.to_string();
        let data = &event["data"];
        let text = |v: &Value| v.as_str().map(str::to_string);
        let (kind, request_id, tool, summary) = match event["kind"].as_str()? {
            "permission.requested" => {
                let request_id = text(&data["request_id"])?;
                self.pending
                    .entry(session_id.clone())
                    .or_default()
                    .insert(request_id.clone());
                let tool = text(&data["tool_name"]);
                let summary = request_summary(data);
                (Kind::Approval, Some(request_id), tool, summary)
            }
            "permission.resolved" => {
                let request_id = text(&data["request_id"])?;
                if let Some(open) = self.pending.get_mut(&session_id) {
                    open.remove(&request_id);
                    if open.is_empty() {
                        self.pending.remove(&session_id);
                    }
                }
                let decision = text(&data["decision"]);
                (Kind::Resolved, Some(request_id), None, decision)
            }
            "prompt.completed" if data["is_error"] == true => {
                (Kind::Failed, None, None, text(&data["result"]).map(short))
            }
            "prompt.completed" => (
                Kind::Completed,
                None,
                None,
                text(&data["result"]).map(short),
            ),
            "prompt.failed" => {
                let code = data["error"]["code"].as_str().unwrap_or("");
                if SELF_INFLICTED.contains(&code) {
                    return None;
                }
                (
                    Kind::Failed,
                    None,
                    None,
                    text(&data["error"]["message"]).map(short),
                )
            }
            "session.status" if data["status"] == "crashed" => {
                (Kind::Crashed, None, None, text(&data["reason"]).map(short))
            }
            _ => return None,
        };
        let count = self.pending.get(&session_id).map_or(0, BTreeSet::len);
        Some(Notice {
            kind,
            session_id,
            place: place(title, cwd),
            count,
            request_id,
            tool,
            summary,
        })
    }
}

/// How a person recognises the session: its title, else its folder's name.
fn place(title: Option<&str>, cwd: &str) -> String {
    match title.map(str::trim).filter(|t| !t.is_empty()) {
        Some(title) => title.to_string(),
        None => cwd
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .filter(|name| !name.is_empty())
            .unwrap_or(cwd)
            .to_string(),
    }
}

/// What a request asks, in a line: the command, the file, the description, else the input.
fn request_summary(data: &Value) -> Option<String> {
    let input = &data["input"];
    ["command", "file_path", "path", "url", "pattern"]
        .iter()
        .find_map(|field| input[field].as_str().map(str::to_string))
        .or_else(|| data["description"].as_str().map(str::to_string))
        .or_else(|| (!input.is_null()).then(|| input.to_string()))
        .map(short)
}

/// At most [`SUMMARY_CHARS`] characters on one line, with `…` when cut.
fn short(text: impl AsRef<str>) -> String {
    let line: String = text
        .as_ref()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if line.chars().count() <= SUMMARY_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(SUMMARY_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, data: Value) -> Value {
        json!({"session_id": "s1", "seq": 3, "ts": "t", "kind": kind, "data": data})
    }

    #[test]
    fn levels_let_through_what_they_say() {
        use Kind::*;
        for kind in [Approval, Completed, Failed, Crashed, Resolved] {
            assert!(Level::All.allows(kind));
            assert!(!Level::None.allows(kind));
            assert_eq!(
                Level::Approvals.allows(kind),
                matches!(kind, Approval | Resolved)
            );
        }
        assert_eq!(Level::parse("approvals"), Some(Level::Approvals));
        assert_eq!(Level::parse("some"), None);
    }

    #[test]
    fn requests_count_until_resolved_and_tags_pair_them() {
        let mut rules = Rules::default();
        let ask = |id: &str| {
            event(
                "permission.requested",
                json!({"request_id": id, "tool_name": "Bash", "input": {"command": "rm -rf build"}}),
            )
        };
        let first = rules
            .notice(Some("Fix CI"), "/home/a/p", &ask("r1"))
            .expect("a notice");
        assert_eq!(first.kind, Kind::Approval);
        assert_eq!(first.count, 1);
        assert_eq!(first.place, "Fix CI");
        assert_eq!(first.tool.as_deref(), Some("Bash"));
        assert_eq!(first.summary.as_deref(), Some("rm -rf build"));
        assert_eq!(first.tag(), "pocket-relay:s1:approval");
        assert_eq!(
            rules
                .notice(None, "/home/a/p/", &ask("r2"))
                .expect("n")
                .count,
            2
        );
        let resolved = rules
            .notice(
                None,
                "/home/a/p",
                &event(
                    "permission.resolved",
                    json!({"request_id": "r1", "decision": "allow"}),
                ),
            )
            .expect("a notice");
        assert_eq!(resolved.kind, Kind::Resolved);
        assert_eq!(resolved.count, 1);
        assert_eq!(resolved.place, "p");
        assert_eq!(resolved.tag(), first.tag());
    }

    #[test]
    fn ends_notify_unless_the_person_caused_them() {
        let mut rules = Rules::default();
        let done = event(
            "prompt.completed",
            json!({"prompt_id": "p", "is_error": false, "result": "All tests pass"}),
        );
        let notice = rules.notice(None, "/p", &done).expect("completed");
        assert_eq!(
            (notice.kind, notice.tag()),
            (Kind::Completed, "pocket-relay:s1:status".into())
        );
        let api_error = event(
            "prompt.completed",
            json!({"is_error": true, "result": "API Error"}),
        );
        assert_eq!(
            rules.notice(None, "/p", &api_error).expect("n").kind,
            Kind::Failed
        );
        for (code, notifies) in [
            ("agent_crashed", true),
            ("spawn_failed", true),
            ("interrupted", false),
            ("session_stopped", false),
            ("session_deleted", false),
        ] {
            let failed = event(
                "prompt.failed",
                json!({"error": {"code": code, "message": "m"}}),
            );
            assert_eq!(
                rules.notice(None, "/p", &failed).is_some(),
                notifies,
                "{code}"
            );
        }
        let crashed = event("session.status", json!({"status": "crashed"}));
        assert_eq!(
            rules.notice(None, "/p", &crashed).expect("n").kind,
            Kind::Crashed
        );
        let idle = event("session.status", json!({"status": "idle"}));
        assert!(rules.notice(None, "/p", &idle).is_none());
        let updated = event("session.updated", json!({"session": {}}));
        assert!(rules.notice(None, "/p", &updated).is_none());
    }

    #[test]
    fn summaries_are_one_short_line() {
        let long = "x ".repeat(200);
        let cut = short(&long);
        assert_eq!(cut.chars().count(), SUMMARY_CHARS);
        assert!(cut.ends_with('…'));
        assert_eq!(short("a\n  b"), "a b");
        let data = json!({"input": {"file_path": "/etc/hosts"}, "description": "d"});
        assert_eq!(request_summary(&data).as_deref(), Some("/etc/hosts"));
        let data = json!({"input": {"x": 1}});
        assert_eq!(request_summary(&data).as_deref(), Some(r#"{"x":1}"#));
    }
}
