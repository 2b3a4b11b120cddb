//! Web Push end to end: the app's subscription, the encrypted payload of a permission request
//! and of its resolution, decrypted and verified as the browser and push service would.

use serde_json::json;
use test_support::receiver::Receiver;

use super::browser::{check_vapid, Browser};
use super::{
    allow, api, data, notify_settings, payloads, push_where, pushes, request_id, subscribe,
    vapid_key, RM_BUILD,
};
use crate::support::client::Client;
use crate::support::in_process::InProcessServer;

#[tokio::test]
async fn a_permission_request_reaches_the_phone_encrypted_signed_and_private() {
    let push = Receiver::start().await.expect("a fake push service");
    let server = InProcessServer::start_with(notify_settings(&[]));
    let key = vapid_key(&server, None).await;
    assert_eq!(
        base64_len(&key),
        65,
        "the applicationServerKey is an uncompressed P-256 point"
    );
    let phone = Browser::new(format!("{}/push/phone", push.url));
    let subscription = subscribe(&server, None, &phone).await;
    let host = push.url.trim_start_matches("http://");
    assert_eq!(subscription["endpoint_host"], host);
    assert!(subscription["device_id"].is_null());
    let id = subscription["id"].as_str().expect("an id").to_string();
    // The same endpoint again replaces it; the list shows it once, without its path or keys.
    let again = api(
        &server,
        "POST",
        "/api/v1/push/subscriptions",
        None,
        Some(phone.subscription_json()),
    )
    .await;
    assert_eq!(data(&again, 200)["subscription"]["id"], id.as_str());
    let listed = data(
        &api(&server, "GET", "/api/v1/push/subscriptions", None, None).await,
        200,
    );
    assert_eq!(listed["subscriptions"].as_array().map(Vec::len), Some(1));
    assert!(!listed.to_string().contains("/push/phone"), "{listed}");
    // Subscriptions that cannot work are refused.
    for bad in [
        json!({"endpoint": "http://push.example.com/x", "keys": phone.subscription_json()["keys"]}),
        json!({"endpoint": format!("{}/push/x", push.url), "keys": {"p256dh": "AAAA", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}),
        json!({"endpoint": format!("{}/push/x", push.url)}),
    ] {
        let answer = api(
            &server,
            "POST",
            "/api/v1/push/subscriptions",
            None,
            Some(bad),
        )
        .await;
        assert_eq!(answer.status, 400, "{}", answer.body);
        assert_eq!(answer.json()["error"]["code"], "bad_request");
    }

    let mut app = Client::connect(&server.ws_url()).await;
    let session = app.create(&server.project()).await;
    app.subscribe(&session, 0).await;
    app.prompt(&session, RM_BUILD).await;
    let requested = app.wait_kind("permission.requested").await;
    let request = request_id(&requested);

    let received = pushes(&push, "/push/phone", 1).await;
    let first = &received[0];
    let claims = check_vapid(first, &key, &push.url);
    assert_eq!(claims["sub"], "mailto:pocket-relay@localhost");
    assert_eq!(first.header("urgency"), Some("high"));
    assert!(first
        .header("ttl")
        .and_then(|t| t.parse::<u64>().ok())
        .is_some_and(|t| t > 0));
    let payload = phone.decrypt(first);
    assert_eq!(payload["v"], 1);
    assert_eq!(payload["kind"], "approval");
    assert_eq!(payload["session_id"], session.as_str());
    assert_eq!(payload["tag"], format!("pocket-relay:{session}:approval"));
    assert_eq!(payload["title"], "Claude needs your approval");
    assert_eq!(payload["body"], "in project");
    assert_eq!(payload["url"], format!("/#/s/{session}"));
    assert_eq!(payload["count"], 1);
    assert_eq!(payload["request_id"], request.as_str());
    assert!(payload["id"].as_str().is_some_and(|id| id.len() >= 32));
    let text = payload.to_string();
    assert!(
        !text.contains("Bash") && !text.contains("rm -rf"),
        "content leaked: {text}"
    );

    // Answered: a silent `resolved` with nothing left pending closes the tag.
    app.ok("session.permission", allow(&session, &request))
        .await;
    let (received, resolved) = push_where(&push, &phone, |p| p["kind"] == "resolved").await;
    check_vapid(&received, &key, &push.url);
    assert_eq!(resolved["kind"], "resolved");
    assert_eq!(resolved["request_id"], request.as_str());
    assert_eq!(resolved["count"], 0);
    assert_eq!(resolved["tag"], payload["tag"]);
    assert_ne!(resolved["id"], payload["id"]);

    // The finished prompt is told under the session's status tag.
    let (_, done) = push_where(&push, &phone, |p| p["kind"] == "completed").await;
    assert_eq!(done["title"], "Claude finished");
    assert_eq!(done["tag"], format!("pocket-relay:{session}:status"));
    assert_eq!(done["body"], "in project");
    let before = payloads(&push, &phone).len();

    // Unsubscribed: the next request is not pushed to it (a second phone is the witness).
    let witness = Browser::new(format!("{}/push/witness", push.url));
    subscribe(&server, None, &witness).await;
    let path = format!("/api/v1/push/subscriptions/{id}");
    assert_eq!(
        data(&api(&server, "DELETE", &path, None, None).await, 200),
        json!({})
    );
    assert_eq!(api(&server, "DELETE", &path, None, None).await.status, 404);
    app.prompt(&session, RM_BUILD).await;
    let witnessed = pushes(&push, "/push/witness", 1).await;
    assert_eq!(witness.decrypt(&witnessed[0])["kind"], "approval");
    assert_eq!(payloads(&push, &phone).len(), before);
}

#[tokio::test]
async fn with_include_content_the_notification_names_the_tool_and_the_command() {
    let push = Receiver::start().await.expect("a fake push service");
    let server = InProcessServer::start_with(notify_settings(&[
        "include_content = true",
        "vapid_subject = \"mailto:ops@example.com\"",
    ]));
    let key = vapid_key(&server, None).await;
    let phone = Browser::new(format!("{}/push/phone", push.url));
    subscribe(&server, None, &phone).await;
    let mut app = Client::connect(&server.ws_url()).await;
    let session = app.create(&server.project()).await;
    app.prompt(&session, RM_BUILD).await;
    let received = pushes(&push, "/push/phone", 1).await;
    assert_eq!(
        check_vapid(&received[0], &key, &push.url)["sub"],
        "mailto:ops@example.com"
    );
    let payload = phone.decrypt(&received[0]);
    assert_eq!(payload["tool"], "Bash");
    assert_eq!(payload["summary"], "rm -rf build");
    assert_eq!(payload["body"], "Bash: rm -rf build — in project");
}

/// The length of base64url text once decoded.
fn base64_len(text: &str) -> usize {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .expect("base64url")
        .len()
}
