//! Who is told what: the levels (all, approvals, none; per user and per session, over REST and
//! the WebSocket), and no push to a device while its app shows the session (`client.viewing`).

use serde_json::{json, Value};
use test_support::receiver::Receiver;

use super::browser::Browser;
use super::{
    allow, api, data, notify_settings, payloads, push_where, request_id, subscribe, RM_BUILD,
};
use crate::support::client::Client;
use crate::support::in_process::InProcessServer;

/// `PUT path {level}` → the settings.
async fn put_level(server: &InProcessServer, path: &str, level: Value) -> Value {
    data(
        &api(server, "PUT", path, None, Some(json!({ "level": level }))).await,
        200,
    )
}

#[tokio::test]
async fn levels_per_user_and_per_session_decide_what_is_pushed() {
    let push = Receiver::start().await.expect("a fake push service");
    let server = InProcessServer::start_with(notify_settings(&[]));
    let phone = Browser::new(format!("{}/push/phone", push.url));
    subscribe(&server, None, &phone).await;
    let settings = data(
        &api(&server, "GET", "/api/v1/notifications/settings", None, None).await,
        200,
    );
    assert_eq!(settings, json!({"level": "all", "sessions": {}}));

    let mut app = Client::connect(&server.ws_url()).await;
    let quiet = app.create(&server.project()).await;
    let loud = app.create(&server.new_project("loud")).await;
    app.subscribe(&quiet, 0).await;
    app.subscribe(&loud, 0).await;

    // approvals: a finished prompt is not pushed, a request is.
    let after = put_level(
        &server,
        "/api/v1/notifications/settings",
        json!("approvals"),
    )
    .await;
    assert_eq!(after["level"], "approvals");
    let prompt = app.prompt(&loud, "hello").await;
    app.wait_prompt_end(&prompt).await;
    app.prompt(&loud, RM_BUILD).await;
    let requested = app.wait_kind("permission.requested").await;
    let (_, asked) = push_where(&push, &phone, |p| p["kind"] == "approval").await;
    assert_eq!(asked["session_id"], loud.as_str());
    assert!(payloads(&push, &phone)
        .iter()
        .all(|p| p["kind"] != "completed"));
    app.ok("session.permission", allow(&loud, &request_id(&requested)))
        .await;
    push_where(&push, &phone, |p| p["kind"] == "resolved").await;

    // none for one session (over the WebSocket), all for the user: that session is silent.
    app.ok("notifications.set", json!({"level": "all"})).await;
    let after = app
        .ok(
            "notifications.set_session",
            json!({"session_id": quiet, "level": "none"}),
        )
        .await;
    assert_eq!(after["sessions"][&quiet], "none");
    assert_eq!(app.ok("notifications.settings", json!({})).await, after);
    app.prompt(&quiet, RM_BUILD).await;
    let silent = request_id(&app.wait_kind("permission.requested").await);
    app.prompt(&loud, "hello").await;
    push_where(&push, &phone, |p| {
        p["kind"] == "completed" && p["session_id"] == loud.as_str()
    })
    .await;
    assert!(payloads(&push, &phone)
        .iter()
        .all(|p| p["session_id"] != quiet.as_str()));

    // Back to the user's level: the quiet session's next request is pushed.
    let path = format!("/api/v1/sessions/{quiet}/notifications");
    let after = put_level(&server, &path, Value::Null).await;
    assert_eq!(after, json!({"level": "all", "sessions": {}}));
    app.ok("session.permission", allow(&quiet, &silent)).await;
    push_where(&push, &phone, |p| {
        p["kind"] == "completed" && p["session_id"] == quiet.as_str()
    })
    .await;

    // Bad levels, and sessions that are not the caller's.
    let bad = api(
        &server,
        "PUT",
        "/api/v1/notifications/settings",
        None,
        Some(json!({"level": "loud"})),
    )
    .await;
    assert_eq!(
        (bad.status, bad.json()["error"]["code"].clone()),
        (400, json!("bad_request"))
    );
    let missing = api(
        &server,
        "PUT",
        "/api/v1/sessions/nope/notifications",
        None,
        Some(json!({"level": "none"})),
    )
    .await;
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert_eq!(
        app.err("notifications.set", json!({"level": 3})).await,
        "bad_request"
    );
}

#[tokio::test]
async fn a_phone_showing_the_session_is_not_buzzed_about_it() {
    let push = Receiver::start().await.expect("a fake push service");
    let hook = Receiver::start().await.expect("a webhook receiver");
    let server = InProcessServer::start_with(notify_settings(&[&format!(
        "webhook = [{{ url = \"{}/hook\", secret = \"s\" }}]",
        hook.url
    )]));
    let phone = Browser::new(format!("{}/push/phone", push.url));
    subscribe(&server, None, &phone).await;
    let mut app = Client::connect(&server.ws_url()).await;
    let session = app.create(&server.project()).await;
    app.subscribe(&session, 0).await;

    // The app shows the session: the request reaches the webhook, not the phone.
    assert_eq!(
        app.ok("client.viewing", json!({"session_id": session}))
            .await,
        json!({})
    );
    app.prompt(&session, RM_BUILD).await;
    let request = request_id(&app.wait_kind("permission.requested").await);
    hook.wait_until(crate::support::PATIENCE, |all| {
        all.iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains("\"approval\""))
    })
    .await
    .expect("the webhook heard of the request");

    // Hidden again: what follows is pushed, and the request never was.
    assert_eq!(
        app.ok("client.viewing", json!({"session_id": null})).await,
        json!({})
    );
    app.ok("session.permission", allow(&session, &request))
        .await;
    push_where(&push, &phone, |p| p["kind"] == "completed").await;
    assert!(payloads(&push, &phone)
        .iter()
        .all(|p| p["kind"] != "approval"));
    assert_eq!(
        app.err("client.viewing", json!({"session_id": 5})).await,
        "bad_request"
    );

    // A closed connection views nothing any more.
    app.ok("client.viewing", json!({"session_id": session}))
        .await;
    app.send_message(tokio_tungstenite::tungstenite::Message::Close(None))
        .await;
    app.closed().await;
    let mut other = Client::connect(&server.ws_url()).await;
    other.subscribe(&session, 0).await;
    other.prompt(&session, RM_BUILD).await;
    push_where(&push, &phone, |p| p["kind"] == "approval").await;
}
