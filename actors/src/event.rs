//! The one event type every transport sends (protocol §2), and its encoded form.
//!
//! An [`Event`] is built and given its `seq` only by the session's event log; it is encoded to
//! JSON once ([`EncodedEvent`]) and that text is what the store keeps and every client receives.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::ids::{PermissionRequestId, PromptId, Seq, SessionId};
use crate::session_info::{SessionInfo, SessionStatus};

/// Why a prompt could not complete (`prompt.failed.error.code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptFailure {
    Interrupted,
    AgentCrashed,
    SpawnFailed,
    ServerRestarted,
    SessionStopped,
    SessionDeleted,
}

impl PromptFailure {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            PromptFailure::Interrupted => "interrupted",
            PromptFailure::AgentCrashed => "agent_crashed",
            PromptFailure::SpawnFailed => "spawn_failed",
            PromptFailure::ServerRestarted => "server_restarted",
            PromptFailure::SessionStopped => "session_stopped",
            PromptFailure::SessionDeleted => "session_deleted",
        }
    }
}

/// `prompt.failed.error`.
#[derive(Clone, Debug, Serialize)]
pub struct PromptError {
    pub code: PromptFailure,
    pub message: String,
}

/// `prompt.completed`: what Claude's `result` message said about a prompt.
#[derive(Clone, Debug, Serialize)]
pub struct PromptOutcome {
    pub prompt_id: PromptId,
    pub is_error: bool,
    pub result: Option<String>,
    pub claude_session_id: Option<String>,
    pub cost_usd: Option<f64>,
    pub duration_ms: Option<u64>,
    pub num_turns: Option<u64>,
    pub usage: Option<Value>,
}

/// Claude Code's request to use a tool, as `permission.requested` carries it; the approval
/// inbox shows the same fields (see [`crate::inbox::Pending`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PermissionRequest {
    pub request_id: PermissionRequestId,
    pub tool_name: String,
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestions: Option<Value>,
}

/// Who or what resolved a permission request (`permission.resolved.by`).
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum ResolvedBy {
    Client {
        user: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        connection_id: Option<String>,
    },
    Timeout {
        timeout: bool,
    },
    Reason {
        reason: String,
    },
}

/// The kinds of event and their data (protocol §2). Serialized without a tag: the kind travels
/// beside it, from [`EventData::kind`].
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum EventData {
    SessionCreated {
        session: SessionInfo,
    },
    SessionStatus {
        status: SessionStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    SessionUpdated {
        session: SessionInfo,
    },
    PromptQueued {
        prompt_id: PromptId,
        text: String,
        position: usize,
    },
    PromptStarted {
        prompt_id: PromptId,
    },
    PromptCompleted(PromptOutcome),
    PromptFailed {
        prompt_id: PromptId,
        error: PromptError,
    },
    AgentOutput {
        message: Box<RawValue>,
    },
    /// A stdout line of Claude Code that is not a JSON object; never dropped silently.
    AgentInvalidOutput {
        text: String,
        error: String,
    },
    AgentStderr {
        text: String,
    },
    AgentExited {
        code: Option<i32>,
        signal: Option<i32>,
        expected: bool,
    },
    PermissionRequested(PermissionRequest),
    PermissionResolved {
        request_id: PermissionRequestId,
        decision: &'static str,
        by: ResolvedBy,
        /// With `always`: the rules remembered (empty: none was suggested, a plain allow).
        #[serde(skip_serializing_if = "Option::is_none")]
        rules_added: Option<Vec<String>>,
    },
}

impl EventData {
    /// The event's `kind` on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            EventData::SessionCreated { .. } => "session.created",
            EventData::SessionStatus { .. } => "session.status",
            EventData::SessionUpdated { .. } => "session.updated",
            EventData::PromptQueued { .. } => "prompt.queued",
            EventData::PromptStarted { .. } => "prompt.started",
            EventData::PromptCompleted(_) => "prompt.completed",
            EventData::PromptFailed { .. } => "prompt.failed",
            EventData::AgentOutput { .. } => "agent.output",
            EventData::AgentInvalidOutput { .. } => "agent.invalid_output",
            EventData::AgentStderr { .. } => "agent.stderr",
            EventData::AgentExited { .. } => "agent.exited",
            EventData::PermissionRequested(_) => "permission.requested",
            EventData::PermissionResolved { .. } => "permission.resolved",
        }
    }
}

/// An event as protocol §2 shows it: `{session_id, seq, ts, kind, data}`.
#[derive(Serialize)]
struct EventWire<'a> {
    session_id: SessionId,
    seq: Seq,
    ts: &'a str,
    kind: &'static str,
    data: &'a EventData,
}

/// An event encoded once, shared by the store and every client that receives it.
#[derive(Debug)]
pub struct EncodedEvent {
    pub session_id: SessionId,
    pub seq: Seq,
    pub kind: String,
    /// The event object, as the store and every transport carry it.
    pub json: ByteString,
    /// The event as a transport wraps it for its own wire, made by the first connection that
    /// sends it and shared by every other one, so it too is encoded once. The domain never reads
    /// or fills it.
    pub wire: OnceLock<ByteString>,
    /// When the store committed it (live events), for the fan-out latency metric.
    pub committed_at: OnceLock<Instant>,
}

impl EncodedEvent {
    /// Encodes a freshly sequenced event. Only the session's event log calls this.
    pub(crate) fn encode(session_id: SessionId, seq: Seq, ts: &str, data: &EventData) -> Arc<Self> {
        let wire = EventWire {
            session_id,
            seq,
            ts,
            kind: data.kind(),
            data,
        };
        // Serializing plain data into a String cannot fail.
        let json = serde_json::to_string(&wire).unwrap_or_else(|_| String::from("{}"));
        Arc::new(Self::from_stored(
            session_id,
            seq,
            data.kind().to_string(),
            json,
        ))
    }

    /// Wraps an event read back from the store.
    pub fn from_stored(session_id: SessionId, seq: Seq, kind: String, json: String) -> Self {
        EncodedEvent {
            session_id,
            seq,
            kind,
            json: ByteString::from(json),
            wire: OnceLock::new(),
            committed_at: OnceLock::new(),
        }
    }
}

/// A live token-streaming line (protocol §2 "Live deltas"): never stored, never sequenced.
#[derive(Debug)]
pub struct EncodedDelta {
    pub session_id: SessionId,
    /// The seq of the last event before it.
    pub after_seq: Seq,
    /// The `stream_event` line itself.
    pub message: ByteString,
    /// The delta object as protocol §2 shows it, `{"type":"delta", session_id, after_seq,
    /// message}`, which every transport sends as it is.
    pub json: ByteString,
}

impl EncodedDelta {
    /// Encodes a `stream_event` line once for every subscriber.
    pub(crate) fn encode(session_id: SessionId, after_seq: Seq, line: &RawValue) -> Arc<Self> {
        let json = format!(
            "{{\"type\":\"delta\",\"session_id\":\"{session_id}\",\"after_seq\":{after_seq},\"message\":{}}}",
            line.get()
        );
        Arc::new(EncodedDelta {
            session_id,
            after_seq,
            message: ByteString::from(line.get().to_string()),
            json: ByteString::from(json),
        })
    }
}
