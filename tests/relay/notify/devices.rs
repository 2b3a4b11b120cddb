//! Subscriptions belong to paired devices (the real binary, sign-in on): each user sees only
//! theirs; a phone showing a session is not buzzed about it while the user's other phone is;
//! revoking a device, from another device or from the machine, drops its subscriptions. The
//! server's log names failing endpoints by host and never holds a secret: the webhook secret,
//! the ntfy token, an endpoint's path or a subscription's keys.

use serde_json::{json, Value};
use test_support::receiver::{Receiver, Reply};

use super::browser::Browser;
use super::{allow, api, data, payloads, push_where, request_id, subscribe, RM_BUILD};
use crate::pairing::phone::Phone;
use crate::pairing::{command, pair_command, paired, sign_in};
use crate::support::client::Client;
use crate::support::operator::{connect_as, issue};
use crate::support::server::{Settings, TestServer};

const SECRET: &str = "hook-secret-9c41d";
const TOKEN: &str = "tk_ntfy_0b7e55";

/// A paired, signed-in phone: its device id, token and WebSocket.
struct Device {
    id: String,
    token: String,
    ws: Client,
}

async fn pair_phone(server: &TestServer, user: &str, name: &'static str) -> Device {
    let phone = Phone::p256(name);
    let code = pair_command(server, user);
    let id = paired(server, &code, &phone, user).await;
    let token = sign_in(server, &phone).await["token"]
        .as_str()
        .expect("a token")
        .to_string();
    let ws = connect_as(server, &token).await;
    Device { id, token, ws }
}

/// The ids of the subscriptions `token`'s user sees.
async fn listed(server: &TestServer, token: &str) -> Vec<Value> {
    let answer = api(
        server,
        "GET",
        "/api/v1/push/subscriptions",
        Some(token),
        None,
    )
    .await;
    data(&answer, 200)["subscriptions"]
        .as_array()
        .expect("a list")
        .clone()
}

fn ids(subscriptions: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = subscriptions
        .iter()
        .map(|s| s["id"].as_str().expect("an id").to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn subscriptions_follow_their_devices_and_no_secret_reaches_the_log() {
    let push = Receiver::start().await.expect("a fake push service");
    let sink = Receiver::start()
        .await
        .expect("a failing ntfy and webhook host");
    sink.always("/", Reply::Status(500));
    push.always("/push/failing", Reply::Status(502));
    let server = TestServer::start_with(
        Settings::default()
            .set("auth", "enabled = true")
            .set("auth", "authorized_keys = \"authorized_keys\"")
            .set("notify", "retries = 1")
            .set("notify", "retry_base_ms = 50")
            .set(
                "notify",
                &format!(
                    "ntfy = [{{ url = \"{}/topic-8d2f\", token = \"{TOKEN}\" }}]",
                    sink.url
                ),
            )
            .set(
                "notify",
                &format!(
                    "webhook = [{{ url = \"{}/hook-path-31aa\", secret = \"{SECRET}\" }}]",
                    sink.url
                ),
            ),
    );
    let mut phone = pair_phone(&server, "alice", "phone").await;
    let tablet = pair_phone(&server, "alice", "tablet").await;
    let bob = pair_phone(&server, "bob", "bob's phone").await;
    let key = super::vapid_key(&server, Some(&phone.token)).await;

    let on_phone = Browser::new(format!("{}/push/phone-cap-4411", push.url));
    let on_tablet = Browser::new(format!("{}/push/tablet-cap-7720", push.url));
    let on_bob = Browser::new(format!("{}/push/bob-cap-1234", push.url));
    let laptop_token = issue(&server, "alice");
    let failing = Browser::new(format!("{}/push/failing-cap-5151", push.url));
    let phone_sub = subscribe(&server, Some(&phone.token), &on_phone).await;
    assert_eq!(phone_sub["device_id"], phone.id.as_str());
    let tablet_sub = subscribe(&server, Some(&tablet.token), &on_tablet).await;
    let bob_sub = subscribe(&server, Some(&bob.token), &on_bob).await;
    let failing_sub = subscribe(&server, Some(&laptop_token), &failing).await;
    assert!(failing_sub["device_id"].is_null());

    // Each user sees their own; another user's is not theirs to delete.
    let alice_sees = ids(&listed(&server, &tablet.token).await);
    let mut expected = ids(&[phone_sub.clone(), tablet_sub.clone(), failing_sub.clone()]);
    expected.sort();
    assert_eq!(alice_sees, expected);
    assert_eq!(
        ids(&listed(&server, &bob.token).await),
        ids(&[bob_sub.clone()])
    );
    let path = format!(
        "/api/v1/push/subscriptions/{}",
        phone_sub["id"].as_str().unwrap_or("")
    );
    assert_eq!(
        api(&server, "DELETE", &path, Some(&bob.token), None)
            .await
            .status,
        404
    );

    // The phone shows the session: the tablet is buzzed, the phone is not, bob never.
    let session = phone.ws.create(&server.project()).await;
    phone.ws.subscribe(&session, 0).await;
    phone
        .ws
        .ok("client.viewing", json!({"session_id": session}))
        .await;
    phone.ws.prompt(&session, RM_BUILD).await;
    let request = request_id(&phone.ws.wait_kind("permission.requested").await);
    let (got, asked) = push_where(&push, &on_tablet, |p| p["kind"] == "approval").await;
    super::browser::check_vapid(&got, &key, &push.url);
    assert_eq!(asked["request_id"], request.as_str());
    phone
        .ws
        .ok("client.viewing", json!({"session_id": null}))
        .await;
    phone
        .ws
        .ok("session.permission", allow(&session, &request))
        .await;
    push_where(&push, &on_phone, |p| p["kind"] == "completed").await;
    assert!(payloads(&push, &on_phone)
        .iter()
        .all(|p| p["kind"] != "approval"));

    // The tablet is revoked from the phone: its subscription goes with it.
    let revoke = format!("/api/v1/devices/{}", tablet.id);
    assert_eq!(
        api(&server, "DELETE", &revoke, Some(&phone.token), None)
            .await
            .status,
        200
    );
    let left = ids(&listed(&server, &phone.token).await);
    assert!(
        !left.contains(&tablet_sub["id"].as_str().unwrap_or("").to_string()),
        "{left:?}"
    );
    phone.ws.prompt(&session, RM_BUILD).await;
    let request = request_id(&phone.ws.wait_kind("permission.requested").await);
    push_where(&push, &on_phone, |p| p["request_id"] == request.as_str()).await;
    assert!(payloads(&push, &on_tablet)
        .iter()
        .all(|p| p["request_id"] != request.as_str()));

    // The phone is revoked on the machine: its subscription goes too.
    let (ok, _, stderr) = command(&server, &["devices", "revoke", &phone.id]);
    assert!(ok, "{stderr}");
    let left = ids(&listed(&server, &laptop_token).await);
    assert_eq!(left, ids(&[failing_sub.clone()]));
    assert!(payloads(&push, &on_bob).is_empty());

    // The failing endpoints were tried and logged by host; no secret is in the log.
    sink.wait_until(crate::support::PATIENCE, |all| all.len() >= 4)
        .await
        .expect("tries");
    push.wait_until(crate::support::PATIENCE, |all| {
        all.iter()
            .filter(|r| r.path.starts_with("/push/failing"))
            .count()
            >= 2
    })
    .await
    .expect("tries of the failing push service");
    let host = sink.url.trim_start_matches("http://").to_string();
    let log = wait_for_log(&server, "webhook notification", &host).await;
    assert!(log.contains("failed after 2 tries: HTTP 500"), "{log}");
    let keys = |b: &Browser| {
        let json = b.subscription_json();
        [
            json["keys"]["p256dh"].as_str().unwrap_or("").to_string(),
            json["keys"]["auth"].as_str().unwrap_or("").to_string(),
        ]
    };
    let mut secrets = vec![
        SECRET.to_string(),
        TOKEN.to_string(),
        "topic-8d2f".into(),
        "hook-path-31aa".into(),
        "phone-cap-4411".into(),
        "tablet-cap-7720".into(),
        "bob-cap-1234".into(),
        "failing-cap-5151".into(),
        phone.token.clone(),
        laptop_token.clone(),
    ];
    for browser in [&on_phone, &on_tablet, &on_bob, &failing] {
        secrets.extend(keys(browser));
    }
    for secret in secrets {
        assert!(!log.contains(&secret), "{secret} is in the log:\n{log}");
    }
}

/// The server's log once it has a line with both `what` and `host` (it is written as things
/// happen, so it is read again until then).
async fn wait_for_log(server: &TestServer, what: &str, host: &str) -> String {
    let mut log = String::new();
    crate::support::eventually("the failure's log line", crate::support::PATIENCE, || {
        log = server.log();
        log.lines()
            .any(|l| l.contains(what) && l.contains(host) && l.contains("failed after"))
    })
    .await;
    log
}
