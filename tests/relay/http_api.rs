//! The REST API (protocol §4): the same sessions, events and errors as the WebSocket, in one
//! envelope, with the status that fits.

use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::http::{get, post_json, request};
use crate::support::in_process::InProcessServer;

fn assert_envelope_error(body: &Value, code: &str) {
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string());
    assert!(body["request_id"].as_str().is_some_and(|r| !r.is_empty()));
}

#[tokio::test]
async fn sessions_over_rest_share_state_with_the_websocket() {
    let server = InProcessServer::start();
    let base = server.url.clone();
    let created = post_json(
        &base,
        "/api/v1/sessions",
        &json!({"cwd": server.project(), "title": "rest"}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let body = created.json();
    assert_eq!(body["success"], true);
    assert_eq!(body["request_id"], created.header("x-request-id").unwrap());
    let session = body["data"]["session"]["id"].as_str().unwrap().to_string();

    // The WebSocket sees the session created over REST, and a prompt queued over REST.
    let mut phone = Client::connect(&server.ws_url()).await;
    phone.subscribe(&session, 0).await;
    let queued = request(
        &base,
        "POST",
        &format!("/api/v1/sessions/{session}/prompts"),
        &[("Content-Type", "application/json")],
        Some(br#"{"text": "hello over rest", "prompt_id": "rest-1"}"#),
    )
    .await;
    assert_eq!(queued.status, 202, "{}", queued.body);
    assert_eq!(queued.json()["data"]["prompt_id"], "rest-1");
    phone.wait_prompt_end("rest-1").await;

    let listed = get(&base, "/api/v1/sessions").await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()["data"]["sessions"][0]["id"], session.as_str());
    let one = get(&base, &format!("/api/v1/sessions/{session}")).await;
    assert_eq!(one.json()["data"]["session"]["title"], "rest");

    // Paging through the store.
    let page = get(
        &base,
        &format!("/api/v1/sessions/{session}/events?after_seq=0&limit=2"),
    )
    .await;
    assert_eq!(page.status, 200);
    let data = page.json()["data"].clone();
    assert_eq!(data["events"].as_array().unwrap().len(), 2);
    assert_eq!(data["events"][0]["seq"], 1);
    assert_eq!(data["events"][1]["seq"], 2);
    let next = get(
        &base,
        &format!("/api/v1/sessions/{session}/events?after_seq=2&limit=1000"),
    )
    .await;
    let rest = next.json()["data"]["events"].as_array().unwrap().clone();
    assert_eq!(rest.first().map(|e| e["seq"].clone()), Some(json!(3)));
    assert_eq!(rest.last().unwrap()["seq"], next.json()["data"]["last_seq"]);

    // Control routes answer like their WebSocket twins.
    let paused = request(
        &base,
        "POST",
        &format!("/api/v1/sessions/{session}/pause"),
        &[],
        None,
    )
    .await;
    assert_eq!(paused.status, 200);
    assert_eq!(paused.json()["data"]["session"]["paused"], true);
    let resumed = request(
        &base,
        "POST",
        &format!("/api/v1/sessions/{session}/resume"),
        &[],
        None,
    )
    .await;
    assert_eq!(resumed.json()["data"]["session"]["paused"], false);
    let interrupted = request(
        &base,
        "POST",
        &format!("/api/v1/sessions/{session}/interrupt"),
        &[],
        None,
    )
    .await;
    assert_eq!(interrupted.json()["data"], json!({"interrupted": false}));
    let stopped = request(
        &base,
        "POST",
        &format!("/api/v1/sessions/{session}/stop"),
        &[],
        None,
    )
    .await;
    assert_eq!(stopped.json()["data"]["session"]["status"], "stopped");
    let unknown_permission = post_json(
        &base,
        &format!("/api/v1/sessions/{session}/permissions/nope"),
        &json!({"decision": "allow"}),
    )
    .await;
    assert_eq!(unknown_permission.status, 404);
    assert_envelope_error(&unknown_permission.json(), "not_found");

    // The WebSocket client shows up among the caller's clients.
    let clients = get(&base, "/api/v1/clients").await;
    let list = clients.json()["data"]["clients"]
        .as_array()
        .unwrap()
        .clone();
    assert!(list.iter().any(|c| c["transport"] == "websocket"
        && c["subscriptions"][0] == session.as_str()
        && c["client"] == json!({"name": "relay-tests", "version": "1"})
        && c["capabilities"] == json!(["permissions"])));

    let deleted = request(
        &base,
        "DELETE",
        &format!("/api/v1/sessions/{session}"),
        &[],
        None,
    )
    .await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.json()["data"], json!({}));
    let gone = get(&base, &format!("/api/v1/sessions/{session}")).await;
    assert_eq!(gone.status, 404);
    assert_envelope_error(&gone.json(), "not_found");
}

#[tokio::test]
async fn bad_requests_get_the_envelope_and_the_right_status() {
    let server = InProcessServer::start();
    let base = server.url.clone();
    let path = "/api/v1/sessions";
    let not_json = request(
        &base,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        Some(b"{nope"),
    )
    .await;
    assert_eq!(not_json.status, 400);
    assert_envelope_error(&not_json.json(), "bad_request");
    let wrong_type = request(
        &base,
        "POST",
        path,
        &[("Content-Type", "text/plain")],
        Some(b"{}"),
    )
    .await;
    assert_eq!(wrong_type.status, 400);
    assert_envelope_error(&wrong_type.json(), "bad_request");
    let missing = post_json(&base, path, &json!({"title": "no cwd"})).await;
    assert_eq!(missing.status, 400);
    let mistyped = post_json(&base, path, &json!({"cwd": 42})).await;
    assert_eq!(mistyped.status, 400);
    let forbidden = post_json(&base, path, &json!({"cwd": "/"})).await;
    assert_eq!(forbidden.status, 403);
    assert_envelope_error(&forbidden.json(), "forbidden");
    // Over the body limit of every route but a prompt's (which may carry images): the longest
    // prompt text and 64 KiB.
    let huge = "x".repeat(400_000);
    let too_large = post_json(
        &base,
        path,
        &json!({"cwd": server.project(), "title": huge}),
    )
    .await;
    assert_eq!(too_large.status, 413);
    assert_envelope_error(&too_large.json(), "too_large");
    let bad_query = get(
        &base,
        "/api/v1/sessions/00000000-0000-4000-8000-000000000000/events?after_seq=minus",
    )
    .await;
    assert_eq!(bad_query.status, 400);
    let no_route = get(&base, "/api/v1/nothing-here").await;
    assert_eq!(no_route.status, 404);
    assert_envelope_error(&no_route.json(), "not_found");
    // The server is still fine.
    assert_eq!(get(&base, "/health").await.status, 200);
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_security_headers() {
    let server = InProcessServer::start();
    let base = server.url.clone();
    let echoed = request(
        &base,
        "GET",
        "/api/v1/sessions",
        &[("X-Request-Id", "trace-42")],
        None,
    )
    .await;
    assert_eq!(echoed.header("x-request-id"), Some("trace-42"));
    assert_eq!(echoed.json()["request_id"], "trace-42");
    let fresh = get(&base, "/health").await;
    assert!(fresh
        .header("x-request-id")
        .is_some_and(|id| id.len() >= 16));
    assert_eq!(fresh.header("x-content-type-options"), Some("nosniff"));
    assert!(fresh.header("referrer-policy").is_some());
    let not_json = get(&base, "/nothing").await;
    assert!(not_json.header("x-request-id").is_some());
    // A foreign page may not open a WebSocket.
    let foreign = request(
        &base,
        "GET",
        "/ws",
        &[
            ("Origin", "https://evil.example"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ],
        None,
    )
    .await;
    assert_eq!(foreign.status, 403);
}

#[tokio::test]
async fn ready_checks_the_store_and_the_claude_binary() {
    let server = InProcessServer::start();
    let ready = get(&server.url, "/ready").await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.json()["checks"]["store"], "ok");
    assert_eq!(ready.json()["checks"]["claude_binary"], "ok");

    let broken = InProcessServer::start_with(
        crate::support::home::Settings::default().set("claude", "binary = \"/nonexistent/claude\""),
    );
    let not_ready = get(&broken.url, "/ready").await;
    assert_eq!(not_ready.status, 503);
    assert_eq!(not_ready.json()["ready"], false);
    assert_eq!(not_ready.json()["checks"]["store"], "ok");
    assert!(not_ready.json()["checks"]["claude_binary"]
        .as_str()
        .unwrap()
        .contains("/nonexistent/claude"));
}

#[tokio::test]
async fn cors_allows_the_configured_origins_only() {
    let server = InProcessServer::start_with(
        crate::support::home::Settings::default()
            .set("cors", "allowed_origins = [\"https://app.example\"]"),
    );
    let preflight = |origin: &'static str| {
        let base = server.url.clone();
        async move {
            request(
                &base,
                "OPTIONS",
                "/api/v1/sessions",
                &[
                    ("Origin", origin),
                    ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", "content-type"),
                ],
                None,
            )
            .await
        }
    };
    let allowed = preflight("https://app.example").await;
    assert_eq!(allowed.status, 200, "{allowed:?}");
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let refused = preflight("https://evil.example").await;
    assert!(
        refused.header("access-control-allow-origin").is_none(),
        "{refused:?}"
    );
    let simple = request(
        &server.url,
        "GET",
        "/api/v1/sessions",
        &[("Origin", "https://app.example")],
        None,
    )
    .await;
    assert_eq!(
        simple.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert!(simple
        .header("access-control-expose-headers")
        .is_some_and(|h| h.to_ascii_lowercase().contains("x-request-id")));
}
