//! A token revoked (by the `pocket-relay token revoke` command, another process on the same
//! store) or expired ends every stream opened with it within a second, whatever the transport:
//! the WebSocket closes with 4003, an SSE stream ends with `event: error` (`unauthorized`), an
//! NDJSON prompt stream ends with an `unauthorized` error line. Other tokens' streams go on.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio::time::{timeout_at, Instant};

use crate::support::client::Client;
use crate::support::operator::{connect_as, token_command};
use crate::support::server::{Settings, TestServer};
use crate::support::streaming::Streaming;

/// How long after the revocation or expiry every stream must have ended: the promise is one
/// second; the rest is room for a loaded machine's scheduling.
const WITHIN: Duration = Duration::from_millis(1500);

fn signed_in_server() -> TestServer {
    TestServer::start_with(Settings::default().set("auth", "enabled = true"))
}

/// A token for `user`: (token, id, expires_at), from `token issue`'s two outputs.
fn issue(server: &TestServer, user: &str, extra: &[&str]) -> (String, String, DateTime<Utc>) {
    let mut args = vec!["issue", "--user", user];
    args.extend_from_slice(extra);
    let (stdout, stderr) = token_command(server, &args);
    // stderr: "token <id> for user <user> expires <time>"
    let said = stderr
        .lines()
        .find(|l| l.starts_with("token "))
        .unwrap_or_else(|| panic!("{stderr}"));
    let words: Vec<&str> = said.split_whitespace().collect();
    let expires = DateTime::parse_from_rfc3339(words[6]).expect("an expiry");
    (
        stdout.trim().to_string(),
        words[1].to_string(),
        expires.with_timezone(&Utc),
    )
}

/// The three transports opened with one token, with the session quiet (a prompt sleeping).
struct Open {
    ws: Client,
    sse: Streaming,
    ndjson: Streaming,
}

/// Opens an SSE stream, an NDJSON prompt stream (a prompt that sleeps 30 s) and a WebSocket
/// subscription with `token`, on `session`, and reads each up to the last event before the
/// prompt sleeps, so anything they carry from now on is new.
async fn open_all(server: &TestServer, token: &str, session: &str) -> Open {
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];
    let mut sse = Streaming::open(
        &server.url,
        "GET",
        &format!("/api/v1/sessions/{session}/stream"),
        &auth,
        b"",
    )
    .await;
    assert_eq!(sse.status, 200);
    let body = json!({"text": "sleep 30000", "prompt_id": "sleeper"}).to_string();
    let mut ndjson = Streaming::open(
        &server.url,
        "POST",
        &format!("/api/v1/sessions/{session}/prompts?stream=ndjson"),
        &[auth[0], ("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await;
    assert_eq!(ndjson.status, 200);
    // After the prompt's system/init line, the session learns Claude's session id, and (in
    // whichever order) what the CLI can do: the last events until the sleep ends.
    let (mut init, mut learned, mut capabilities) = (false, false, false);
    let quiet_seq = loop {
        let line = ndjson.line().await.expect("the prompt's events");
        let event: Value = serde_json::from_str(&line).expect("JSON");
        init |= event["kind"] == "agent.output" && event["data"]["message"]["type"] == "system";
        learned |= init && event["kind"] == "session.updated";
        capabilities |= event["kind"] == "session.capabilities";
        if learned && capabilities {
            break event["seq"].as_u64().expect("a seq");
        }
    };
    // The SSE stream up to the end of that event's message.
    let mut at_quiet = false;
    while let Some(line) = sse.line().await {
        at_quiet |= line == format!("id: {quiet_seq}");
        if at_quiet && line.is_empty() {
            break;
        }
    }
    let mut ws = connect_as(server, token).await;
    ws.ok(
        "session.subscribe",
        json!({"session_id": session, "after_seq": quiet_seq}),
    )
    .await;
    Open { ws, sse, ndjson }
}

/// Waits, until `deadline`, for each transport to end; checks how it ended and that no event
/// came first. Answers when the first (SSE) ended.
async fn all_end_by(open: &mut Open, deadline: Instant) -> DateTime<Utc> {
    // SSE: the unauthorized error, then the end; no event (`id:`) on the way.
    let mut sse_lines = Vec::new();
    while let Some(line) = timeout_at(deadline, open.sse.line())
        .await
        .expect("the SSE stream ended in time")
    {
        sse_lines.push(line);
    }
    let sse_ended = Utc::now();
    assert!(
        !sse_lines.iter().any(|l| l.starts_with("id:")),
        "an event after the end: {sse_lines:?}"
    );
    let data = sse_lines
        .iter()
        .skip_while(|l| *l != "event: error")
        .nth(1)
        .and_then(|l| l.strip_prefix("data: "))
        .unwrap_or_else(|| panic!("no error message: {sse_lines:?}"));
    let error: Value = serde_json::from_str(data).expect("JSON");
    assert_eq!(error["code"], "unauthorized", "{error}");

    // NDJSON: one error line, then the end.
    let mut lines = Vec::new();
    while let Some(line) = timeout_at(deadline, open.ndjson.line())
        .await
        .expect("the NDJSON stream ended in time")
    {
        lines.push(line);
    }
    assert_eq!(lines.len(), 1, "{lines:?}");
    let last: Value = serde_json::from_str(&lines[0]).expect("JSON");
    assert_eq!(last["error"]["code"], "unauthorized", "{last}");

    // WebSocket: 4003, with no event before it.
    let events = open.ws.events.len();
    let closed = timeout_at(deadline, open.ws.closed())
        .await
        .expect("the WebSocket closed in time");
    assert_eq!(closed.code, 4003);
    assert_eq!(
        open.ws.events.len(),
        events,
        "an event after the revocation"
    );
    sse_ended
}

#[tokio::test]
async fn a_revoked_token_ends_its_websocket_sse_and_ndjson_streams_within_a_second() {
    let server = signed_in_server();
    let (token, id, _) = issue(&server, "alice", &[]);
    let (other, _, _) = issue(&server, "alice", &["--label", "laptop"]);
    let mut owner = connect_as(&server, &other).await;
    let session = owner.create(&server.project()).await;
    let mut open = open_all(&server, &token, &session).await;

    token_command(&server, &["revoke", &id]);
    let revoked = Instant::now();
    all_end_by(&mut open, revoked + WITHIN).await;

    // The same user's other token goes on, on every transport; the revoked one is refused.
    assert_eq!(owner.request("ping", json!({})).await["ok"], true);
    let other_auth = format!("Bearer {other}");
    let mut sse = Streaming::open(
        &server.url,
        "GET",
        &format!("/api/v1/sessions/{session}/stream?after_seq=0"),
        &[("Authorization", other_auth.as_str())],
        b"",
    )
    .await;
    assert_eq!(sse.status, 200);
    assert_eq!(sse.line().await.as_deref(), Some("id: 1"));
    let refused = Streaming::open(
        &server.url,
        "GET",
        &format!("/api/v1/sessions/{session}/stream"),
        &[("Authorization", format!("Bearer {token}").as_str())],
        b"",
    )
    .await;
    assert_eq!(refused.status, 401);
    let log = server.log();
    assert!(log.contains(&format!("token {id} revoked")), "{log}");
    assert!(!log.contains(&token), "a token was logged");
}

#[tokio::test]
async fn an_expiring_token_ends_every_stream_within_a_second_of_its_expiry() {
    let server = signed_in_server();
    let (long, _, _) = issue(&server, "alice", &[]);
    let mut owner = connect_as(&server, &long).await;
    let session = owner.create(&server.project()).await;
    let (token, _, expires_at) = issue(&server, "alice", &["--ttl", "3"]);
    let mut open = open_all(&server, &token, &session).await;

    let left = (expires_at - Utc::now())
        .to_std()
        .expect("opened before the expiry");
    let deadline = Instant::now() + left + WITHIN;
    let ended = all_end_by(&mut open, deadline).await;
    // Not before it expired (the same machine's clock).
    assert!(ended >= expires_at, "ended {} early", expires_at - ended);
    assert_eq!(owner.request("ping", json!({})).await["ok"], true);
    assert!(server.log().contains("expired: ending its"));
}
