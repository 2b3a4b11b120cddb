//! The last words of an HTTP stream whose token was revoked or expired: SSE and NDJSON streams
//! end with the `unauthorized` error in the protocol's error shape (`{code, message}`), so a
//! client can tell it from the end of a prompt or a dropped connection, and sign in again.

use actix_web::web::Bytes;
use actors::error::RelayError;
use serde_json::json;

use crate::protocol::error_object;

/// Why the stream ends.
const MESSAGE: &str = "the token was revoked or has expired";

fn unauthorized() -> serde_json::Value {
    error_object(&RelayError::Unauthorized(MESSAGE.into()))
}

/// `event: error`, `data: {code, message}`, ending an SSE stream.
pub fn sse_message() -> Bytes {
    Bytes::from(format!("event: error\ndata: {}\n\n", unauthorized()))
}

/// `{"success": false, "error": {code, message}}` (the envelope's error shape), ending an NDJSON
/// prompt stream.
pub fn ndjson_line() -> Bytes {
    let mut line = json!({ "success": false, "error": unauthorized() }).to_string();
    line.push('\n');
    Bytes::from(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_carry_the_unauthorized_error() {
        let sse = String::from_utf8_lossy(&sse_message()).into_owned();
        assert!(sse.starts_with("event: error\ndata: {"), "{sse}");
        assert!(sse.ends_with("}\n\n") && sse.contains("\"code\":\"unauthorized\""));
        let line: serde_json::Value =
            serde_json::from_slice(&ndjson_line()).expect("one JSON line");
        assert_eq!(line["error"]["code"], "unauthorized");
        assert_eq!(line["success"], false);
    }
}
