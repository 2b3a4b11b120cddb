//! The parts of a server frame the benchmark looks at, parsed without building a `Value`: the
//! clients of a fan-out run read hundreds of thousands of frames a second on the same cores as
//! the server, so parsing borrows from the frame and skips what it does not name.

use std::borrow::Cow;

use serde::Deserialize;

/// `{"type": …, "seq": …, "kind": …, "data": {…}}`; every field but `type` is optional.
#[derive(Deserialize)]
pub struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    pub ty: Cow<'a, str>,
    #[serde(default)]
    pub seq: Option<u64>,
    #[serde(default, borrow)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub data: Option<Data<'a>>,
}

#[derive(Deserialize)]
pub struct Data<'a> {
    /// `agent.output`: the stdout line of Claude Code.
    #[serde(default)]
    pub message: Option<AgentLine>,
    /// `prompt.*` events.
    #[serde(default, borrow)]
    pub prompt_id: Option<Cow<'a, str>>,
    /// `prompt.completed`: the turn's time as Claude Code itself measured it.
    #[serde(default)]
    pub duration_ms: Option<u64>,
}

/// An `agent.output` line; `load-claude` stamps its assistant lines with `sent_ns`.
#[derive(Deserialize)]
pub struct AgentLine {
    #[serde(default)]
    pub sent_ns: Option<u64>,
}

impl<'a> Frame<'a> {
    /// `None` for text that is not a JSON object with a `type`.
    pub fn parse(text: &'a str) -> Option<Frame<'a>> {
        serde_json::from_str(text).ok()
    }

    pub fn is_event(&self) -> bool {
        self.ty == "event"
    }

    pub fn kind_is(&self, kind: &str) -> bool {
        self.kind.as_deref() == Some(kind)
    }

    /// The `sent_ns` stamp of an `agent.output` assistant line from `load-claude`.
    pub fn sent_ns(&self) -> Option<u64> {
        self.data.as_ref()?.message.as_ref()?.sent_ns
    }

    pub fn prompt_id(&self) -> Option<&str> {
        self.data.as_ref()?.prompt_id.as_deref()
    }

    pub fn duration_ms(&self) -> Option<u64> {
        self.data.as_ref()?.duration_ms
    }
}
