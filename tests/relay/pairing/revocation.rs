//! A stolen phone is revoked, from another of its user's devices (REST) or from the machine
//! (`pocket-relay devices revoke`): its open WebSocket closes with 4003 within a second, its
//! token gets 401, and its key signs in no more. Another user can neither see nor revoke it.

use std::time::Duration;

use tokio::time::{timeout_at, Instant};

use super::Phone;
use super::{command, pair_command, paired, refused, server, sign_in, sign_in_with, with_token};
use crate::support::client::Client;
use crate::support::operator::connect_as;
use crate::support::server::TestServer;

/// The promise is one second; the rest is room for a loaded machine.
const WITHIN: Duration = Duration::from_millis(1500);

/// A device paired for `user` and signed in: its id, its token and its open WebSocket.
struct Signed {
    phone: Phone,
    id: String,
    token: String,
    ws: Client,
}

async fn pair_and_connect(server: &TestServer, user: &str, phone: Phone) -> Signed {
    let code = pair_command(server, user);
    let id = paired(server, &code, &phone, user).await;
    let data = sign_in(server, &phone).await;
    let token = data["token"].as_str().expect("a token").to_string();
    let ws = connect_as(server, &token).await;
    Signed {
        phone,
        id,
        token,
        ws,
    }
}

/// `device`'s WebSocket closes with 4003 by `deadline`, its token is refused and its key can no
/// longer get a challenge verified.
async fn cut_off(server: &TestServer, device: &mut Signed, deadline: Instant) {
    let closed = timeout_at(deadline, device.ws.closed())
        .await
        .expect("the WebSocket closed in time");
    assert_eq!(closed.code, 4003);
    let answer = with_token(server, "GET", "/api/v1/sessions", &device.token).await;
    refused(&answer);
    refused(&sign_in_with(server, &device.phone, serde_json::json!({})).await);
}

/// The ids of the devices `token`'s user sees.
async fn listed(server: &TestServer, token: &str) -> Vec<String> {
    let answer = with_token(server, "GET", "/api/v1/devices", token).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()["data"]["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .map(|d| d["id"].as_str().expect("an id").to_string())
        .collect()
}

#[tokio::test]
async fn a_revoked_device_is_cut_off_at_once_from_rest_and_from_the_cli() {
    let server = server(&[]);
    let mut phone = pair_and_connect(&server, "alice", Phone::p256("phone")).await;
    let mut tablet = pair_and_connect(&server, "alice", Phone::ed25519("tablet")).await;
    let mut bob = pair_and_connect(&server, "bob", Phone::p256("bob's phone")).await;

    // Bob sees only his own device, and alice's do not exist for him.
    assert_eq!(listed(&server, &bob.token).await, vec![bob.id.clone()]);
    let path = format!("/api/v1/devices/{}", phone.id);
    let answer = with_token(&server, "DELETE", &path, &bob.token).await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    assert_eq!(answer.json()["error"]["code"], "not_found");
    let mut alice_sees = listed(&server, &tablet.token).await;
    alice_sees.sort();
    let mut both = vec![phone.id.clone(), tablet.id.clone()];
    both.sort();
    assert_eq!(alice_sees, both);

    // The tablet revokes the stolen phone.
    let answer = with_token(&server, "DELETE", &path, &tablet.token).await;
    let revoked = Instant::now();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["data"]["device_id"], phone.id.as_str());
    cut_off(&server, &mut phone, revoked + WITHIN).await;
    assert_eq!(
        listed(&server, &tablet.token).await,
        vec![tablet.id.clone()]
    );
    let again = with_token(&server, "DELETE", &path, &tablet.token).await;
    assert_eq!(again.status, 404, "{}", again.body);
    assert_eq!(
        tablet.ws.request("ping", serde_json::json!({})).await["ok"],
        true
    );

    // The machine revokes the tablet.
    let (ok, _, stderr) = command(&server, &["devices", "revoke", &tablet.id]);
    let revoked = Instant::now();
    assert!(ok, "{stderr}");
    cut_off(&server, &mut tablet, revoked + WITHIN).await;
    let (ok, _, _) = command(&server, &["devices", "revoke", "no-such-device"]);
    assert!(!ok);

    // Listed with their revocation times; bob's goes on.
    let (_, list, _) = command(&server, &["devices", "list"]);
    let revoked: Vec<&str> = list
        .lines()
        .filter(|line| line.split(' ').nth(4).is_some_and(|r| r != "-"))
        .collect();
    assert_eq!(revoked.len(), 2, "{list}");
    assert_eq!(
        bob.ws.request("ping", serde_json::json!({})).await["ok"],
        true
    );
    let log = server.log();
    assert!(
        log.contains(&format!("user alice revoked device {}", phone.id)),
        "{log}"
    );
}
