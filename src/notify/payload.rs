//! The notification object every channel carries (protocol §13.4): the JSON a service worker
//! gets after decryption, the body of a webhook (plus `user`), and the words of an ntfy message.
//! Private by default: without `notify.include_content` it names the session and what kind of
//! thing happened, never the tool, the command, the prompt or the output.

use serde_json::{json, Value};

use super::rules::{Kind, Notice};

/// The payload format's version.
pub const VERSION: u32 = 1;

/// A notice shaped for delivery, with its own id.
#[derive(Clone, Debug, PartialEq)]
pub struct Payload {
    pub id: String,
    pub notice: Notice,
    pub include_content: bool,
}

impl Payload {
    /// `notice` as notification `id`.
    pub fn new(id: String, notice: Notice, include_content: bool) -> Payload {
        Payload {
            id,
            notice,
            include_content,
        }
    }

    /// The title shown.
    pub fn title(&self) -> &'static str {
        match self.notice.kind {
            Kind::Approval => "Claude needs your approval",
            Kind::Completed => "Claude finished",
            Kind::Failed => "A prompt failed",
            Kind::Crashed => "Claude Code stopped unexpectedly",
            Kind::Resolved => "Answered",
        }
    }

    /// The line under the title.
    pub fn body(&self) -> String {
        let n = &self.notice;
        let place = match (n.kind, n.count) {
            (Kind::Approval, count) if count > 1 => format!("{count} requests in {}", n.place),
            _ => format!("in {}", n.place),
        };
        if !self.include_content {
            return place;
        }
        match (n.kind, &n.tool, &n.summary) {
            (Kind::Approval, Some(tool), Some(summary)) => format!("{tool}: {summary} — {place}"),
            (Kind::Approval, Some(tool), None) => format!("{tool} — {place}"),
            (_, _, Some(summary)) => format!("{summary} — {place}"),
            _ => place,
        }
    }

    /// Where a click opens the app.
    pub fn url(&self) -> String {
        if self.notice.kind == Kind::Approval && self.notice.count > 1 {
            "/#/inbox".to_string()
        } else {
            format!("/#/s/{}", self.notice.session_id)
        }
    }

    /// The JSON object (the push payload, and the webhook body without `user`).
    pub fn to_json(&self) -> Value {
        let n = &self.notice;
        let mut object = json!({
            "v": VERSION,
            "id": self.id,
            "kind": n.kind,
            "session_id": n.session_id,
            "tag": n.tag(),
            "count": n.count,
        });
        if n.kind == Kind::Resolved {
            object["request_id"] = json!(n.request_id);
            return object;
        }
        object["title"] = json!(self.title());
        object["body"] = json!(self.body());
        object["url"] = json!(self.url());
        if n.kind == Kind::Approval && n.count == 1 {
            object["request_id"] = json!(n.request_id);
        }
        if self.include_content {
            if let Some(tool) = &n.tool {
                object["tool"] = json!(tool);
            }
            if let Some(summary) = &n.summary {
                object["summary"] = json!(summary);
            }
        }
        object
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval(count: usize) -> Notice {
        Notice {
            kind: Kind::Approval,
            session_id: "s1".into(),
            place: "Fix CI".into(),
            count,
            request_id: Some("r9".into()),
            tool: Some("Bash".into()),
            summary: Some("rm -rf build".into()),
        }
    }

    #[test]
    fn private_by_default() {
        let json = Payload::new("n1".into(), approval(1), false).to_json();
        assert_eq!(json["v"], 1);
        assert_eq!(json["id"], "n1");
        assert_eq!(json["kind"], "approval");
        assert_eq!(json["title"], "Claude needs your approval");
        assert_eq!(json["body"], "in Fix CI");
        assert_eq!(json["url"], "/#/s/s1");
        assert_eq!(json["tag"], "pocket-relay:s1:approval");
        assert_eq!(json["request_id"], "r9");
        assert_eq!(json["count"], 1);
        let text = json.to_string();
        assert!(!text.contains("Bash") && !text.contains("rm -rf"), "{text}");
        assert!(json.get("tool").is_none() && json.get("summary").is_none());
    }

    #[test]
    fn content_when_configured() {
        let json = Payload::new("n1".into(), approval(1), true).to_json();
        assert_eq!(json["tool"], "Bash");
        assert_eq!(json["summary"], "rm -rf build");
        assert_eq!(json["body"], "Bash: rm -rf build — in Fix CI");
    }

    #[test]
    fn several_requests_open_the_inbox_without_actions() {
        let json = Payload::new("n2".into(), approval(10), false).to_json();
        assert_eq!(json["count"], 10);
        assert_eq!(json["body"], "10 requests in Fix CI");
        assert_eq!(json["url"], "/#/inbox");
        assert!(json.get("request_id").is_none());
    }

    #[test]
    fn resolved_says_only_what_closes_or_updates_the_tag() {
        let notice = Notice {
            kind: Kind::Resolved,
            count: 0,
            tool: None,
            summary: Some("allow".into()),
            ..approval(0)
        };
        let json = Payload::new("n3".into(), notice, true).to_json();
        let mut keys: Vec<&str> = json
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "count",
                "id",
                "kind",
                "request_id",
                "session_id",
                "tag",
                "v"
            ]
        );
        assert_eq!(json["kind"], "resolved");
    }

    #[test]
    fn status_kinds_have_their_titles() {
        let status = |kind| Notice {
            kind,
            count: 0,
            request_id: None,
            tool: None,
            summary: Some("All tests pass".into()),
            ..approval(0)
        };
        let done = Payload::new("n".into(), status(Kind::Completed), false);
        assert_eq!(done.to_json()["title"], "Claude finished");
        assert_eq!(done.to_json()["tag"], "pocket-relay:s1:status");
        assert!(!done.to_json().to_string().contains("All tests"));
        let crashed = Payload::new("n".into(), status(Kind::Crashed), false);
        assert_eq!(crashed.title(), "Claude Code stopped unexpectedly");
        let failed = Payload::new("n".into(), status(Kind::Failed), true);
        assert_eq!(failed.body(), "All tests pass — in Fix CI");
    }
}
