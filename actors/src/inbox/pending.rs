//! What the approval inbox shows: a pending permission request with the session it belongs to
//! ([`Pending`]), and a change to a user's inbox encoded once for all of that user's
//! connections ([`InboxFrame`]).

use std::sync::Arc;

use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::PermissionRequest;
use crate::ids::{PermissionRequestId, Seq, SessionId};
use crate::watch::Committed;

/// One pending permission request as `GET /api/v1/permissions` and the inbox show it: what
/// Claude asked, where (the session's title and folder), and when (its `permission.requested`
/// event's `ts` and `seq`).
#[derive(Clone, Debug, Serialize)]
pub struct Pending {
    pub session_id: SessionId,
    pub session_title: Option<String>,
    pub cwd: String,
    #[serde(flatten)]
    pub request: PermissionRequest,
    pub requested_at: String,
    pub seq: Seq,
}

/// Oldest first over all sessions: by time asked, then by session and seq (one session's
/// requests keep their order however close in time).
pub fn oldest_first(pending: &mut [Pending]) {
    pending.sort_by(|a, b| {
        (a.requested_at.as_str(), a.session_id, a.seq).cmp(&(
            b.requested_at.as_str(),
            b.session_id,
            b.seq,
        ))
    });
}

/// A change to a user's inbox.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
enum Change<'a> {
    Added(&'a Pending),
    Removed {
        session_id: SessionId,
        request_id: &'a PermissionRequestId,
        decision: &'a str,
    },
}

/// `{"type":"inbox","data":…}` as every transport sends it.
#[derive(Serialize)]
struct Wire<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    data: Change<'a>,
}

/// A committed event as the store keeps it; only what the inbox reads.
#[derive(Deserialize)]
struct StoredEvent {
    seq: Seq,
    ts: String,
    kind: String,
    data: Value,
}

/// `permission.resolved`'s data; only what the inbox reads.
#[derive(Deserialize)]
struct Resolved {
    request_id: PermissionRequestId,
    decision: String,
}

/// One change to an inbox, encoded once.
#[derive(Debug)]
pub struct InboxFrame {
    pub session_id: SessionId,
    pub request_id: PermissionRequestId,
    /// `added` (true) or `removed`.
    pub added: bool,
    /// The frame as protocol §6.5 shows it.
    pub json: ByteString,
}

impl InboxFrame {
    /// The change a committed event makes to its owner's inbox: `added` for
    /// `permission.requested`, `removed` for `permission.resolved`, none for anything else.
    pub fn from_committed(committed: &Committed) -> Option<Arc<InboxFrame>> {
        let kind = committed.event.kind.as_str();
        if kind != "permission.requested" && kind != "permission.resolved" {
            return None;
        }
        let stored: StoredEvent = match serde_json::from_str(&committed.event.json) {
            Ok(stored) => stored,
            Err(error) => {
                log::error!("inbox: unreadable {kind} event: {error}");
                return None;
            }
        };
        let session_id = committed.event.session_id;
        let frame = if stored.kind == "permission.requested" {
            let request: PermissionRequest = serde_json::from_value(stored.data).ok()?;
            let pending = Pending {
                session_id,
                session_title: committed.title.clone(),
                cwd: committed.cwd.clone(),
                request,
                requested_at: stored.ts,
                seq: stored.seq,
            };
            InboxFrame::added(&pending)
        } else {
            let resolved: Resolved = serde_json::from_value(stored.data).ok()?;
            InboxFrame::removed(session_id, &resolved.request_id, &resolved.decision)
        };
        Some(Arc::new(frame))
    }

    /// `{"type":"inbox","data":{"added":Pending}}`.
    pub fn added(pending: &Pending) -> InboxFrame {
        InboxFrame::encode(
            pending.session_id,
            &pending.request.request_id,
            Change::Added(pending),
        )
    }

    /// `{"type":"inbox","data":{"removed":{session_id, request_id, decision}}}`.
    pub fn removed(
        session_id: SessionId,
        request_id: &PermissionRequestId,
        decision: &str,
    ) -> InboxFrame {
        let change = Change::Removed {
            session_id,
            request_id,
            decision,
        };
        InboxFrame::encode(session_id, request_id, change)
    }

    fn encode(session_id: SessionId, request_id: &PermissionRequestId, data: Change) -> Self {
        let added = matches!(data, Change::Added(_));
        let wire = Wire {
            kind: "inbox",
            data,
        };
        // Serializing plain data into a String cannot fail.
        let json = serde_json::to_string(&wire).unwrap_or_else(|_| String::from("{}"));
        InboxFrame {
            session_id,
            request_id: request_id.clone(),
            added,
            json: ByteString::from(json),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EncodedEvent, EventData, ResolvedBy};
    use crate::ids::UserId;
    use serde_json::json;

    fn request(id: &str) -> PermissionRequest {
        PermissionRequest {
            request_id: PermissionRequestId::new(id),
            tool_name: "Bash".into(),
            input: json!({"command": "ls"}),
            description: None,
            tool_use_id: Some("toolu_1".into()),
            blocked_path: None,
            suggestions: None,
        }
    }

    fn committed(session: SessionId, seq: Seq, data: &EventData) -> Committed {
        Committed {
            owner: UserId::new("alice"),
            title: Some("Refactor".into()),
            cwd: "/home/alice/app".into(),
            event: EncodedEvent::encode(session, seq, "2026-01-02T03:04:05.678Z", data),
        }
    }

    #[test]
    fn a_stored_request_becomes_an_added_frame_with_its_session() {
        let session = SessionId::new();
        let event = EventData::PermissionRequested(request("r1"));
        let frame = InboxFrame::from_committed(&committed(session, 7, &event)).expect("a frame");
        assert!(frame.added);
        let wire: Value = serde_json::from_str(&frame.json).unwrap();
        assert_eq!(
            wire,
            json!({"type": "inbox", "data": {"added": {
                "session_id": session, "session_title": "Refactor", "cwd": "/home/alice/app",
                "request_id": "r1", "tool_name": "Bash", "input": {"command": "ls"},
                "tool_use_id": "toolu_1", "requested_at": "2026-01-02T03:04:05.678Z", "seq": 7}}})
        );
    }

    #[test]
    fn a_resolution_becomes_a_removed_frame_with_its_decision() {
        let session = SessionId::new();
        let event = EventData::PermissionResolved {
            request_id: PermissionRequestId::new("r1"),
            decision: "cancelled",
            by: ResolvedBy::Reason {
                reason: "interrupted".into(),
            },
            rules_added: None,
        };
        let frame = InboxFrame::from_committed(&committed(session, 9, &event)).expect("a frame");
        assert!(!frame.added);
        let wire: Value = serde_json::from_str(&frame.json).unwrap();
        assert_eq!(
            wire,
            json!({"type": "inbox", "data": {"removed": {
                "session_id": session, "request_id": "r1", "decision": "cancelled"}}})
        );
    }

    #[test]
    fn other_events_change_no_inbox() {
        let event = EventData::SessionStatus {
            status: crate::session_info::SessionStatus::Idle,
            reason: None,
        };
        assert!(InboxFrame::from_committed(&committed(SessionId::new(), 3, &event)).is_none());
    }

    #[test]
    fn oldest_first_orders_by_time_then_session_then_seq() {
        let (a, b) = (SessionId::new(), SessionId::new());
        let (first, second) = if a < b { (a, b) } else { (b, a) };
        let at = |session, seq, ts: &str| Pending {
            session_id: session,
            session_title: None,
            cwd: "/".into(),
            request: request(&format!("{seq}")),
            requested_at: ts.into(),
            seq,
        };
        let mut list = vec![
            at(second, 4, "2026-01-01T00:00:01.000Z"),
            at(first, 9, "2026-01-01T00:00:02.000Z"),
            at(first, 5, "2026-01-01T00:00:01.000Z"),
            at(second, 3, "2026-01-01T00:00:01.000Z"),
        ];
        oldest_first(&mut list);
        let order: Vec<_> = list.iter().map(|p| (p.session_id, p.seq)).collect();
        assert_eq!(
            order,
            vec![(first, 5), (second, 3), (second, 4), (first, 9)]
        );
    }
}
