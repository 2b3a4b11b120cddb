//! Notifications (issue 18): the relay's pushes reach a local fake push service, which the test
//! decrypts as the browser would (RFC 8291) and whose VAPID signature it verifies (RFC 8292);
//! ntfy and webhooks reach local receivers; bursts coalesce; levels, viewing and revocation
//! decide who gets what; a dead or slow endpoint delays nothing else; no secret reaches the log.

mod audience;
mod browser;
mod channels;
mod coalescing;
mod delivery;
mod devices;
mod web_push;

use serde_json::{json, Value};
use test_support::receiver::{Received, Receiver};

use crate::support::home::{Home, Settings};
use crate::support::http::{request, with_token, Response};
use crate::support::PATIENCE;
use browser::Browser;

/// `METHOD path` with a JSON body and, when given, a token.
async fn api(
    server: &Home,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Response {
    if let Some(token) = token {
        return with_token(&server.url, token, method, path, body).await;
    }
    let body = body.map(|b| b.to_string());
    let headers: &[(&str, &str)] = match body {
        Some(_) => &[("Content-Type", "application/json")],
        None => &[],
    };
    request(
        &server.url,
        method,
        path,
        headers,
        body.as_deref().map(str::as_bytes),
    )
    .await
}

/// `data` of a successful answer with `status`.
fn data(answer: &Response, status: u16) -> Value {
    assert_eq!(answer.status, status, "{}", answer.body);
    answer.json()["data"].clone()
}

/// The relay's VAPID public key.
async fn vapid_key(server: &Home, token: Option<&str>) -> String {
    let answer = api(server, "GET", "/api/v1/push/vapid", token, None).await;
    data(&answer, 200)["public_key"]
        .as_str()
        .expect("a public key")
        .to_string()
}

/// Registers `browser`'s subscription; answers the subscription object.
async fn subscribe(server: &Home, token: Option<&str>, browser: &Browser) -> Value {
    let answer = api(
        server,
        "POST",
        "/api/v1/push/subscriptions",
        token,
        Some(browser.subscription_json()),
    )
    .await;
    data(&answer, 201)["subscription"].clone()
}

/// Test settings with `[notify]` lines, and short retries.
fn notify_settings(lines: &[&str]) -> Settings {
    let mut settings = Settings::default().set("notify", "retry_base_ms = 100");
    for line in lines {
        settings = settings.set("notify", line);
    }
    settings
}

/// Waits until `receiver` got at least `n` requests at paths starting with `prefix`; answers them.
async fn pushes(receiver: &Receiver, prefix: &str, n: usize) -> Vec<Received> {
    receiver
        .wait_until(PATIENCE, |all| {
            all.iter().filter(|r| r.path.starts_with(prefix)).count() >= n
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "fewer than {n} requests at {prefix}: {:?}",
                receiver
                    .received()
                    .iter()
                    .map(|r| &r.path)
                    .collect::<Vec<_>>()
            )
        })
        .into_iter()
        .filter(|r| r.path.starts_with(prefix))
        .collect()
}

/// Waits for a push to `browser` whose decrypted payload satisfies `pred`; answers the request
/// and the payload.
async fn push_where(
    receiver: &Receiver,
    browser: &Browser,
    pred: impl Fn(&Value) -> bool,
) -> (Received, Value) {
    let path = browser.path();
    let found = receiver
        .wait_until(PATIENCE, |all| {
            all.iter()
                .any(|r| r.path == path && pred(&browser.decrypt(r)))
        })
        .await
        .unwrap_or_else(|| panic!("no such push to {path}"));
    found
        .into_iter()
        .filter(|r| r.path == path)
        .map(|r| {
            let payload = browser.decrypt(&r);
            (r, payload)
        })
        .find(|(_, payload)| pred(payload))
        .expect("found")
}

/// The decrypted payloads `browser` got so far.
fn payloads(receiver: &Receiver, browser: &Browser) -> Vec<Value> {
    receiver
        .received()
        .iter()
        .filter(|r| r.path == browser.path())
        .map(|r| browser.decrypt(r))
        .collect()
}

const RM_BUILD: &str = r#"permission Bash {"command":"rm -rf build"}"#;

/// The `request_id` of a `permission.requested` event.
fn request_id(event: &Value) -> String {
    event["data"]["request_id"]
        .as_str()
        .expect("request_id")
        .to_string()
}

/// `session.permission` allow of `request_id`.
fn allow(session: &str, request_id: &str) -> Value {
    json!({"session_id": session, "request_id": request_id, "decision": "allow"})
}
