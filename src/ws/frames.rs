//! The WebSocket frames the server sends: an event with `"type":"event"` in front (protocol §2;
//! deltas go as their own object), `welcome`, `response` and request-less `error` (protocol §3).

use actors::error::RelayError;
use bytestring::ByteString;
use serde_json::{json, Value};

use crate::protocol::error_object;

/// `{"type":"welcome", …}`.
/// `limits` tells the app how large a prompt and its images may be, so it can scale photos down
/// before sending them.
pub fn welcome(
    connection_id: &str,
    user: &str,
    heartbeat_s: u64,
    limits: &actors::config::LimitsConfig,
) -> ByteString {
    frame(json!({
        "type": "welcome",
        "protocol": 1,
        "server": {"name": "pocket-relay", "version": env!("CARGO_PKG_VERSION")},
        "connection_id": connection_id,
        "user": user,
        "heartbeat_s": heartbeat_s,
        "limits": {
            "max_prompt_bytes": limits.max_prompt_bytes,
            "max_image_bytes": limits.max_image_bytes,
            "max_images_per_prompt": limits.max_images_per_prompt,
        },
    }))
}

/// A successful answer to request `id`.
pub fn ok(id: &str, data: Value) -> ByteString {
    frame(json!({"type": "response", "id": id, "ok": true, "data": data}))
}

/// A failed answer: to request `id` when it could be read, else a request-less `error` frame.
pub fn error(id: Option<&str>, error: &RelayError) -> ByteString {
    match id {
        Some(id) => {
            frame(json!({"type": "response", "id": id, "ok": false, "error": error_object(error)}))
        }
        None => frame(json!({"type": "error", "error": error_object(error)})),
    }
}

fn frame(value: Value) -> ByteString {
    ByteString::from(value.to_string())
}

/// `{"type":"event", …the event object's fields…}`, built without re-encoding. Made once per
/// event and kept in its `wire`, so every connection sends the same bytes.
pub fn event(event_json: &str) -> ByteString {
    let fields = event_json.strip_prefix('{').unwrap_or(event_json);
    let mut frame = String::with_capacity(event_json.len() + 16);
    frame.push_str("{\"type\":\"event\",");
    frame.push_str(fields);
    ByteString::from(frame)
}
