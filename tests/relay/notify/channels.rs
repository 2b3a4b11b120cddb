//! ntfy and webhooks against local receivers: the text and headers ntfy gets (with its token),
//! the webhook's JSON body, its id header and its HMAC-SHA256 signature, checked here.

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use test_support::receiver::{Received, Receiver};

use super::{allow, notify_settings, request_id, RM_BUILD};
use crate::support::client::Client;
use crate::support::in_process::InProcessServer;
use crate::support::PATIENCE;

const SECRET: &str = "webhook-secret-5e1f";
const TOKEN: &str = "tk_ntfy_token_77a2";

/// Waits for a request at `path` whose body satisfies `pred`.
async fn request_where(receiver: &Receiver, path: &str, pred: impl Fn(&[u8]) -> bool) -> Received {
    receiver
        .wait_until(PATIENCE, |all| {
            all.iter().any(|r| r.path == path && pred(&r.body))
        })
        .await
        .unwrap_or_else(|| panic!("no such request at {path}"))
        .into_iter()
        .find(|r| r.path == path && pred(&r.body))
        .expect("found")
}

/// The webhook body, after checking its signature with the secret.
fn verified(request: &Received) -> Value {
    let signature = request
        .header("x-pocket-relay-signature")
        .expect("a signature header");
    let hex = signature.strip_prefix("sha256=").expect("sha256=");
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("a key");
    mac.update(&request.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hex, expected, "the HMAC-SHA256 of the body");
    let body: Value = serde_json::from_slice(&request.body).expect("JSON");
    assert_eq!(request.header("x-pocket-relay-id"), body["id"].as_str());
    assert_eq!(request.header("content-type"), Some("application/json"));
    body
}

#[tokio::test]
async fn ntfy_and_webhooks_get_the_notification_signed_and_private() {
    let ntfy = Receiver::start().await.expect("an ntfy server");
    let hook = Receiver::start().await.expect("a webhook receiver");
    let server = InProcessServer::start_with(
        notify_settings(&[
            &format!("ntfy = [{{ url = \"{}/my-topic\", token = \"{TOKEN}\" }}]", ntfy.url),
            &format!(
                "webhook = [{{ url = \"{}/hook\", secret = \"{SECRET}\" }}, {{ url = \"{}/bob\", secret = \"x\", user = \"bob\" }}]",
                hook.url, hook.url
            ),
        ])
        .set("server", "public_url = \"https://relay.example.ts.net\""),
    );
    let mut app = Client::connect(&server.ws_url()).await;
    let session = app.create(&server.project()).await;
    app.subscribe(&session, 0).await;
    app.prompt(&session, RM_BUILD).await;
    let request = request_id(&app.wait_kind("permission.requested").await);

    let posted = request_where(&ntfy, "/my-topic", |_| true).await;
    assert_eq!(posted.method, "POST");
    assert_eq!(String::from_utf8_lossy(&posted.body), "in project");
    assert_eq!(posted.header("title"), Some("Claude needs your approval"));
    assert_eq!(posted.header("priority"), Some("high"));
    assert_eq!(posted.header("tags"), Some("bell"));
    assert_eq!(
        posted.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        posted.header("click"),
        Some(format!("https://relay.example.ts.net/#/s/{session}").as_str())
    );

    let hooked = request_where(&hook, "/hook", |b| {
        String::from_utf8_lossy(b).contains("approval")
    })
    .await;
    let body = verified(&hooked);
    assert_eq!(body["kind"], "approval");
    assert_eq!(body["user"], "local");
    assert_eq!(body["session_id"], session.as_str());
    assert_eq!(body["request_id"], request.as_str());
    assert_eq!(body["title"], "Claude needs your approval");
    let text = body.to_string();
    assert!(!text.contains("rm -rf") && !text.contains("Bash"), "{text}");

    // The answer: the webhook hears of it, ntfy (which cannot take a message back) does not.
    app.ok("session.permission", allow(&session, &request))
        .await;
    let resolved = request_where(&hook, "/hook", |b| {
        String::from_utf8_lossy(b).contains("resolved")
    })
    .await;
    assert_eq!(verified(&resolved)["count"], json!(0));
    ntfy.wait_until(PATIENCE, |all| {
        all.iter()
            .any(|r| r.header("title") == Some("Claude finished"))
    })
    .await
    .expect("ntfy heard of the finished prompt");
    request_where(&hook, "/hook", |b| {
        String::from_utf8_lossy(b).contains("completed")
    })
    .await;
    let ntfy_titles: Vec<_> = ntfy
        .received()
        .iter()
        .filter_map(|r| r.header("title").map(str::to_string))
        .collect();
    assert!(
        ntfy_titles.iter().all(|t| t != "Answered"),
        "{ntfy_titles:?}"
    );
    // bob's webhook hears nothing of local's sessions.
    assert!(hook.received_at("/bob").is_empty());
}
