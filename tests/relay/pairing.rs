//! Pairing a phone (issue 16): `pocket-relay pair` prints a QR code and a one-time link, the app
//! registers a key pair it made with the link's code, then signs in by the same SSHSIG
//! challenge–response as `ssh-keygen -Y sign`. Keys are made and signatures produced here with
//! the `ssh-key` crate, as the app's WebCrypto would (ECDSA P-256, Ed25519).

pub(crate) mod phone;
mod revocation;

use serde_json::{json, Value};

use crate::support::http::{get, post_json, request, Response};
use crate::support::server::{Settings, TestServer};
use crate::support::PATIENCE;
use phone::Phone;

/// A server with sign-in on, nobody in `authorized_keys`, and extra `[auth]` lines.
pub(crate) fn server(auth: &[&str]) -> TestServer {
    let mut settings = Settings::default()
        .set("auth", "enabled = true")
        .set("auth", "authorized_keys = \"authorized_keys\"");
    for line in auth {
        settings = settings.set("auth", line);
    }
    TestServer::start_with(settings)
}

/// `pocket-relay ARGS` with the server's configuration: (success, stdout, stderr).
pub(crate) fn command(server: &TestServer, args: &[&str]) -> (bool, String, String) {
    let output = crate::support::operator::cli(server, args);
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (
        output.status.success(),
        text(&output.stdout),
        text(&output.stderr),
    )
}

/// The code of the `…/#pair=<code>` line of `output`.
fn code_in(output: &str) -> String {
    output
        .lines()
        .find_map(|line| line.split_once("/#pair=").map(|(_, code)| code.trim()))
        .unwrap_or_else(|| panic!("no pairing link in {output}"))
        .to_string()
}

/// `pocket-relay pair --user USER --url <the server>`: the code, after checking the output.
pub(crate) fn pair_command(server: &TestServer, user: &str) -> String {
    let (ok, stdout, stderr) = command(server, &["pair", "--user", user, "--url", &server.url]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains('▀') && stdout.contains('▄') && stdout.contains('█'),
        "no QR code of half blocks: {stdout}"
    );
    let link = stdout
        .lines()
        .find(|line| line.contains("#pair="))
        .expect("a link");
    assert!(
        link.starts_with(&format!("{}/#pair=", server.url)),
        "{link}"
    );
    let code = code_in(&stdout);
    assert!(code.len() >= 22, "a code of {} characters", code.len());
    assert!(code
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert!(
        !stderr.contains(&code),
        "the code went to the log: {stderr}"
    );
    assert!(stderr.contains(&format!("for user {user}")), "{stderr}");
    code
}

/// `POST /api/v1/auth/pair` for `phone`.
async fn pair(server: &TestServer, code: &str, phone: &Phone) -> Response {
    let body = json!({"code": code, "public_key": phone.public_key(), "device_name": phone.name});
    post_json(&server.url, "/api/v1/auth/pair", &body).await
}

/// Pairs `phone` with `code`; answers its device id.
pub(crate) async fn paired(server: &TestServer, code: &str, phone: &Phone, user: &str) -> String {
    let answer = pair(server, code, phone).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let data = answer.json()["data"].clone();
    assert_eq!(data["user"], user);
    data["device_id"].as_str().expect("an id").to_string()
}

/// A challenge for `phone`'s key, signed and verified with `extra` fields (`ttl_s`).
async fn sign_in_with(server: &TestServer, phone: &Phone, extra: Value) -> Response {
    let body = json!({ "public_key": phone.public_key() });
    let answer = post_json(&server.url, "/api/v1/auth/challenge", &body).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let data = answer.json()["data"].clone();
    let mut body = json!({
        "challenge_id": data["challenge_id"],
        "signature": phone.sign(data["nonce"].as_str().expect("a nonce")),
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    post_json(&server.url, "/api/v1/auth/verify", &body).await
}

/// A whole sign-in of `phone`; answers `data` (`token`, `user`, `device_id`, `expires_at`).
pub(crate) async fn sign_in(server: &TestServer, phone: &Phone) -> Value {
    let answer = sign_in_with(server, phone, json!({})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()["data"].clone()
}

/// `METHOD path` with `Authorization: Bearer token`.
async fn with_token(server: &TestServer, method: &str, path: &str, token: &str) -> Response {
    let bearer = format!("Bearer {token}");
    request(
        &server.url,
        method,
        path,
        &[("Authorization", bearer.as_str())],
        None,
    )
    .await
}

/// The 401 of a failed pairing or sign-in; answers its error object.
fn refused(answer: &Response) -> Value {
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(
        answer.json()["error"]["code"],
        "unauthorized",
        "{}",
        answer.body
    );
    answer.json()["error"].clone()
}

#[tokio::test]
async fn a_phone_pairs_once_with_its_code_and_signs_in_like_ssh_keygen() {
    let server = server(&[]);
    // Before pairing: the app learns how to sign in, without a token.
    let info = get(&server.url, "/api/v1/auth/info").await;
    assert_eq!(info.status, 200, "{}", info.body);
    let data = info.json()["data"].clone();
    assert_eq!(
        data,
        json!({"auth_enabled": true, "namespace": "pocket-relay"})
    );

    let code = pair_command(&server, "alice");
    let phone = Phone::p256("Alice's phone");
    // A bad request (no name, or not a key) does not use the code up.
    let bad = json!({"code": code, "public_key": phone.public_key(), "device_name": " "});
    let answer = post_json(&server.url, "/api/v1/auth/pair", &bad).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    let bad = json!({"code": code, "public_key": "ssh-ed25519 nope", "device_name": "x"});
    assert_eq!(
        post_json(&server.url, "/api/v1/auth/pair", &bad)
            .await
            .status,
        400
    );
    let device = paired(&server, &code, &phone, "alice").await;

    // Single use: the same code again fails exactly like a wrong one.
    let again = refused(&pair(&server, &code, &Phone::ed25519("mallory")).await);
    let wrong = refused(&pair(&server, &"A".repeat(43), &Phone::ed25519("mallory")).await);
    assert_eq!(again, wrong);

    // Sign-in: challenge, SSHSIG over the nonce, a token for alice naming the device.
    let signed_in = sign_in(&server, &phone).await;
    assert_eq!(signed_in["user"], "alice");
    assert_eq!(signed_in["device_id"], device.as_str());
    let token = signed_in["token"].as_str().expect("a token").to_string();
    let sessions = with_token(&server, "GET", "/api/v1/sessions", &token).await;
    assert_eq!(sessions.status, 200, "{}", sessions.body);

    // A short-lived token on request; not longer than auth.token_ttl_s.
    let short = sign_in_with(&server, &phone, json!({"ttl_s": 60})).await;
    assert_eq!(short.status, 200, "{}", short.body);
    let expires = short.json()["data"]["expires_at"]
        .as_str()
        .map(str::to_string);
    let expires = chrono::DateTime::parse_from_rfc3339(&expires.expect("an expiry")).expect("time");
    let left = expires.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(
        left.num_seconds() <= 60 && left.num_seconds() > 30,
        "{left}"
    );
    let long = sign_in_with(&server, &phone, json!({"ttl_s": 2_592_001})).await;
    assert_eq!(long.status, 400, "{}", long.body);

    // The devices list (REST and CLI) shows it, seen at its sign-in; this token's is `current`.
    let list = with_token(&server, "GET", "/api/v1/devices", &token).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let devices = list.json()["data"]["devices"].clone();
    assert_eq!(devices.as_array().map(Vec::len), Some(1), "{devices}");
    assert_eq!(devices[0]["id"], device.as_str());
    assert_eq!(devices[0]["name"], "Alice's phone");
    assert_eq!(devices[0]["user"], "alice");
    assert_eq!(devices[0]["current"], true);
    assert!(devices[0]["last_seen_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    let (ok, listed, _) = command(&server, &["devices", "list"]);
    assert!(ok);
    let fields: Vec<&str> = listed
        .lines()
        .next()
        .expect("a line")
        .splitn(6, ' ')
        .collect();
    assert_eq!(fields[0], device);
    assert_eq!(fields[1], "alice");
    assert!(fields[3].ends_with('Z'), "last seen: {listed}");
    assert_eq!((fields[4], fields[5]), ("-", "Alice's phone"));

    let info = with_token(&server, "GET", "/api/v1/auth/info", &token).await;
    assert_eq!(info.json()["data"]["paired_devices"], 1, "{}", info.body);

    // Never logged: the code, the token.
    let log = server.log();
    assert!(
        log.contains(&format!("device {device} paired for user alice")),
        "{log}"
    );
    assert!(!log.contains(&code) && !log.contains(&token), "{log}");
}

#[tokio::test]
async fn codes_expire_and_wrong_codes_are_limited_per_address() {
    let server = server(&["pairing_ttl_s = 1"]);
    let code = pair_command(&server, "alice");
    // Wait out its one second (by the clock, not for an event).
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(1100);
    tokio::time::sleep_until(deadline.into()).await;
    let expired = refused(&pair(&server, &code, &Phone::p256("late")).await);

    // Wrong codes from one address: the same 401 up to the sign-in burst, then 429.
    let mut answers = Vec::new();
    for i in 0..40 {
        let answer = pair(&server, &format!("{i:0>43}"), &Phone::ed25519("guess")).await;
        if answer.status == 429 {
            assert_eq!(answer.json()["error"]["code"], "rate_limited");
            assert!(answer
                .header("retry-after")
                .is_some_and(|s| s.parse::<u64>().is_ok()));
            break;
        }
        assert_eq!(refused(&answer), expired);
        answers.push(answer);
    }
    assert!(
        (18..=20).contains(&answers.len()),
        "{} refused before 429",
        answers.len()
    );
    // A good code from that address now waits too.
    let good = pair_command(&server, "alice");
    assert_eq!(pair(&server, &good, &Phone::p256("ok")).await.status, 429);
    assert!(server
        .log()
        .contains("pairing from 127.0.0.1: too many attempts"));
}

#[tokio::test]
async fn the_server_prints_a_pairing_link_at_start_while_nobody_can_sign_in() {
    let mut server = server(&["operators = [\"alice\"]"]);
    // The server writes what it prints after its first line to a file: look until the link is in.
    crate::support::eventually("the pairing link printed at start", PATIENCE, || {
        server.stdout().lines().any(|l| l.contains("/#pair="))
    })
    .await;
    let printed = server.stdout();
    assert!(printed.contains('▀') && printed.contains('█'), "{printed}");
    let code = code_in(&printed);
    let phone = Phone::ed25519("first phone");
    paired(&server, &code, &phone, "alice").await;
    let log = server.log();
    assert!(
        log.contains("printed a pairing link for user alice"),
        "{log}"
    );
    assert!(!log.contains(&code), "{log}");

    // Once a device is paired, a restart prints none.
    server.restart();
    assert_eq!(server.get("/health").await.0, 200);
    assert!(!server.log().contains("printed a pairing link"));
    assert_eq!(sign_in(&server, &phone).await["user"], "alice");
}
