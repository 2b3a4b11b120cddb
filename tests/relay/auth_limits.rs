//! Sign-in under attack: a flood of challenge requests from one address (many keys, or one key
//! many times) is limited per address and per key, so another key from another address still
//! signs in; the address is the forwarded one only behind `server.trusted_proxies`, and a forged
//! `X-Forwarded-For` from anyone else changes nothing.

use serde_json::{json, Value};
use ssh_key::private::Ed25519Keypair;
use ssh_key::{HashAlg, LineEnding, PrivateKey};

use crate::support::http::{request, Response};
use crate::support::server::{Settings, TestServer};

/// An Ed25519 key made from `seed`, with `comment` (the user name).
fn key(seed: u8, comment: &str) -> PrivateKey {
    let mut key = PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]));
    key.set_comment(comment);
    key
}

fn public_line(key: &PrivateKey) -> String {
    key.public_key().to_openssh().expect("an OpenSSH line")
}

/// A server that authorizes `alice` (seed 1), with extra `[server]` lines.
fn server(server_lines: &[&str]) -> TestServer {
    // A path relative to the server's directory (its working directory), written once it runs:
    // the file is read again when it changes.
    let mut settings = Settings::default()
        .set("auth", "enabled = true")
        .set("auth", "authorized_keys = \"authorized_keys\"");
    for line in server_lines {
        settings = settings.set("server", line);
    }
    let server = TestServer::start_with(settings);
    let line = format!("{}\n", public_line(&key(1, "alice")));
    std::fs::write(server.dir.path().join("authorized_keys"), line).expect("keys");
    server
}

/// `POST path` with a JSON body and, when given, `X-Forwarded-For`.
async fn post(server: &TestServer, path: &str, body: &Value, forwarded: Option<&str>) -> Response {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(forwarded) = forwarded {
        headers.push(("X-Forwarded-For", forwarded));
    }
    let body = body.to_string();
    request(&server.url, "POST", path, &headers, Some(body.as_bytes())).await
}

async fn challenge(server: &TestServer, key: &PrivateKey, forwarded: Option<&str>) -> Response {
    let body = json!({ "public_key": public_line(key) });
    post(server, "/api/v1/auth/challenge", &body, forwarded).await
}

/// A whole sign-in of `key` from `forwarded`; answers the verify response.
async fn sign_in(server: &TestServer, key: &PrivateKey, forwarded: Option<&str>) -> Response {
    let answer = challenge(server, key, forwarded).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let data = answer.json()["data"].clone();
    let nonce = data["nonce"].as_str().expect("a nonce");
    let signature = key
        .sign("pocket-relay", HashAlg::Sha512, nonce.as_bytes())
        .expect("sign")
        .to_pem(LineEnding::LF)
        .expect("armor");
    let body = json!({ "challenge_id": data["challenge_id"], "signature": signature });
    post(server, "/api/v1/auth/verify", &body, forwarded).await
}

/// Sends `count` challenge requests (of `keys(i)`), answering how many were granted; every
/// refusal is 429 `rate_limited` with a `Retry-After`.
async fn flood(
    server: &TestServer,
    count: u8,
    keys: impl Fn(u8) -> PrivateKey,
    forwarded: Option<&str>,
) -> usize {
    let mut granted = 0;
    for i in 0..count {
        let answer = challenge(server, &keys(i), forwarded).await;
        match answer.status {
            200 => granted += 1,
            429 => {
                assert_eq!(answer.json()["error"]["code"], "rate_limited");
                assert!(answer.header("retry-after").is_some());
            }
            other => panic!("{other}: {}", answer.body),
        }
    }
    granted
}

#[tokio::test]
async fn a_challenge_flood_from_one_address_does_not_lock_out_another_key_or_address() {
    let server = server(&["trusted_proxies = [\"127.0.0.1\"]"]);
    let alice = key(1, "alice");
    // One address, many keys: at most auth.max_challenges_per_ip (10) unanswered at once.
    let many = flood(&server, 40, |i| key(100 + i, "x"), Some("203.0.113.66")).await;
    assert_eq!(many, 10);
    // Made-up hops to the left of what the proxy saw change nothing.
    let forged = flood(
        &server,
        5,
        |i| key(200 + i, "x"),
        Some("198.51.100.99, 203.0.113.66"),
    )
    .await;
    assert_eq!(forged, 0);
    // Another address floods alice's own (public) key: each new challenge replaces the key's
    // oldest (auth.max_challenges_per_key), so it is the address's request rate (a burst of 20)
    // that stops it.
    let same_key = flood(&server, 30, |_| key(1, "alice"), Some("203.0.113.67")).await;
    assert_eq!(same_key, 20);

    // Alice, from her own address, still gets a challenge and signs in; so does a client of
    // the proxy itself (no header).
    let answer = sign_in(&server, &alice, Some("198.51.100.5")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["data"]["user"], "alice");
    let answer = sign_in(&server, &alice, None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // The audit log names the forwarded address.
    let log = server.log();
    assert!(log.contains("with key SHA256:"), "{log}");
    assert!(log.contains("from 198.51.100.5: token"), "{log}");
    assert!(log.contains("too many unanswered sign-in challenges from 203.0.113.66"));
}

#[tokio::test]
async fn a_forged_forwarded_for_from_an_untrusted_peer_does_not_evade_the_limit() {
    // No trusted proxies: the header is the client's word, and ignored.
    let server = server(&[]);
    let mut granted = 0;
    for i in 0..30u8 {
        let forged = format!("203.0.113.{i}");
        granted += flood(&server, 1, |_| key(100 + i, "x"), Some(&forged)).await;
    }
    assert_eq!(granted, 10, "the forged addresses were believed");
    let log = server.log();
    assert!(log.contains("sign-in challenges from 127.0.0.1"), "{log}");
    assert!(!log.contains("203.0.113."), "{log}");

    // Behind a trusted proxy the limit is the forwarded address's: one is full, another not.
    let proxied = self::server(&["trusted_proxies = [\"127.0.0.0/8\"]"]);
    let full = flood(&proxied, 12, |i| key(100 + i, "x"), Some("203.0.113.7")).await;
    assert_eq!(full, 10);
    assert_eq!(
        flood(&proxied, 1, |_| key(150, "x"), Some("203.0.113.7")).await,
        0
    );
    assert_eq!(
        flood(&proxied, 1, |_| key(150, "x"), Some("203.0.113.8")).await,
        1
    );
}
