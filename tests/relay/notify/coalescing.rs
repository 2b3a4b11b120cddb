//! Bursts: Claude asks for ten tools at once (parallel tool use); the phone gets the first at
//! once and then one update that says ten, under the same tag, instead of ten notifications.
//! Answered everywhere, the tag's last word says nothing is left.

use serde_json::Value;
use test_support::receiver::Receiver;

use super::browser::Browser;
use super::{allow, notify_settings, payloads, push_where, request_id, subscribe};
use crate::support::client::Client;
use crate::support::in_process::InProcessServer;

#[tokio::test]
async fn ten_requests_in_a_second_make_one_notification_that_says_ten() {
    let push = Receiver::start().await.expect("a fake push service");
    let server = InProcessServer::start_with(notify_settings(&[]));
    let phone = Browser::new(format!("{}/push/phone", push.url));
    subscribe(&server, None, &phone).await;
    let mut app = Client::connect(&server.ws_url()).await;
    let session = app.create(&server.project()).await;
    app.subscribe(&session, 0).await;
    app.prompt(&session, "permissions 10 Bash").await;
    let mut requests = Vec::new();
    while requests.len() < 10 {
        requests.push(request_id(&app.wait_kind("permission.requested").await));
    }
    let tag = format!("pocket-relay:{session}:approval");

    let (_, last) = push_where(&push, &phone, |p| p["count"] == 10).await;
    assert_eq!(last["kind"], "approval");
    assert_eq!(last["tag"], tag.as_str());
    assert_eq!(last["body"], "10 requests in project");
    assert_eq!(last["url"], "/#/inbox");
    assert!(
        last.get("request_id").is_none(),
        "no Allow/Deny for ten at once"
    );
    let shown = payloads(&push, &phone);
    let first = &shown[0];
    assert_eq!(first["count"], 1);
    assert_eq!(first["request_id"], requests[0].as_str());
    assert!(
        shown.len() <= 3,
        "far fewer than ten pushes: {}",
        shown.len()
    );
    assert_eq!(last_for(&shown, &tag)["count"], 10);

    // All answered: the tag's last notification closes it.
    for request in &requests {
        app.ok("session.permission", allow(&session, request)).await;
    }
    push_where(&push, &phone, |p| {
        p["kind"] == "resolved" && p["count"] == 0
    })
    .await;
    let shown = payloads(&push, &phone);
    let closing = last_for(&shown, &tag);
    assert_eq!(
        (closing["kind"].as_str(), closing["count"].as_u64()),
        (Some("resolved"), Some(0))
    );
    let approvals = shown.iter().filter(|p| p["tag"] == tag.as_str()).count();
    assert!(
        approvals <= 5,
        "ten requests and ten answers made {approvals} pushes"
    );
}

/// The last payload for `tag`: what the phone shows for it.
fn last_for<'a>(shown: &'a [Value], tag: &str) -> &'a Value {
    shown
        .iter()
        .rev()
        .find(|p| p["tag"] == tag)
        .expect("a notification with the tag")
}
