//! Sign-in (protocol §3, §4 `/api/v1/auth/*`, §6 `pocket-relay token …`): real keys made with
//! `ssh-keygen`, real signatures made the way a phone app or a script makes them
//! (`printf %s "$nonce" | ssh-keygen -Y sign -n pocket-relay -f key`), the real server, and the
//! real `token` command run while the server runs.
//!
//! Bearer tokens on the transports are not tested here (they are not wired yet); a token's
//! validity is checked with the library's `Auth::authenticate` on the server's store file,
//! from this process, which is also what shows that a revocation by the command takes effect
//! at once.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine;
use pocket_relay::auth::{Auth, AuthError};
use pocket_relay::config::AuthConfig;
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::support::home::{Home, Settings};
use crate::support::http::{post_json, Response};
use crate::support::in_process::InProcessServer;
use crate::support::server::TestServer;

/// A directory of keys made with `ssh-keygen`, and the `authorized_keys` file that lists some.
struct Keys {
    dir: TempDir,
}

impl Keys {
    fn new() -> Keys {
        Keys {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// `ssh-keygen -t … -N "" -C name -f dir/name`; returns the public key line.
    fn make(&self, name: &str, kind: &[&str]) -> String {
        let status = Command::new("ssh-keygen")
            .args(kind)
            .args(["-q", "-N", "", "-C", name, "-f"])
            .arg(self.path(name))
            .stdin(Stdio::null())
            .status()
            .expect("run ssh-keygen");
        assert!(status.success(), "ssh-keygen failed for {name}");
        self.public(name)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn public(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(&format!("{name}.pub")))
            .expect("read the public key")
            .trim()
            .to_string()
    }

    /// `ssh-keygen -l -E sha256`: `SHA256:…`.
    fn fingerprint(&self, name: &str) -> String {
        let output = Command::new("ssh-keygen")
            .args(["-l", "-E", "sha256", "-f"])
            .arg(self.path(&format!("{name}.pub")))
            .output()
            .expect("run ssh-keygen -l");
        String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .nth(1)
            .expect("a fingerprint")
            .to_string()
    }

    /// Writes `authorized_keys` with the keys of `names`; returns its path.
    fn authorize(&self, names: &[&str]) -> PathBuf {
        let text: String = names
            .iter()
            .map(|name| format!("{}\n", self.public(name)))
            .collect();
        let path = self.path("authorized_keys");
        std::fs::write(&path, text).expect("write authorized_keys");
        path
    }

    /// `printf %s "$nonce" | ssh-keygen -Y sign -n namespace -f dir/name`: the armored
    /// signature.
    fn sign(&self, name: &str, namespace: &str, message: &str) -> String {
        let mut child = Command::new("ssh-keygen")
            .args(["-Y", "sign", "-n", namespace, "-f"])
            .arg(self.path(name))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ssh-keygen -Y sign");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(message.as_bytes())
            .expect("write the message");
        let output = child.wait_with_output().expect("ssh-keygen -Y sign");
        assert!(
            output.status.success(),
            "ssh-keygen -Y sign failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let signature = String::from_utf8(output.stdout).expect("UTF-8");
        assert!(signature.starts_with("-----BEGIN SSH SIGNATURE-----"));
        signature
    }
}

/// A server's settings: `auth.authorized_keys` is `authorized_keys`, with extra `[auth]` lines.
fn settings(authorized_keys: &Path, extra: &[String]) -> Settings {
    let mut settings = Settings::default().set(
        "auth",
        &format!("authorized_keys = \"{}\"", authorized_keys.display()),
    );
    for line in extra {
        settings = settings.set("auth", line);
    }
    settings
}

/// `POST /api/v1/auth/challenge`; returns `(challenge_id, nonce)`.
async fn challenge(server: &Home, public_key: &str) -> (String, String) {
    let answer = post_json(
        &server.url,
        "/api/v1/auth/challenge",
        &json!({ "public_key": public_key }),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let data = answer.json()["data"].clone();
    assert_eq!(data["namespace"], "pocket-relay");
    assert!(data["expires_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    let nonce = data["nonce"].as_str().expect("a nonce").to_string();
    assert!(nonce.len() >= 32, "a nonce of {} characters", nonce.len());
    let id = data["challenge_id"].as_str().expect("an id").to_string();
    (id, nonce)
}

/// `POST /api/v1/auth/verify`.
async fn verify(server: &Home, challenge_id: &str, signature: &str) -> Response {
    post_json(
        &server.url,
        "/api/v1/auth/verify",
        &json!({ "challenge_id": challenge_id, "signature": signature }),
    )
    .await
}

/// A whole sign-in of key `name`; returns the `data` of the answer.
async fn sign_in(server: &Home, keys: &Keys, name: &str) -> Value {
    let (id, nonce) = challenge(server, &keys.public(name)).await;
    let signature = keys.sign(name, "pocket-relay", &nonce);
    let answer = verify(server, &id, &signature).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let body = answer.json();
    assert_eq!(body["success"], true);
    body["data"].clone()
}

/// The 401 every failed sign-in gets; returns its error object.
fn refused(answer: &Response) -> Value {
    assert_eq!(answer.status, 401, "{}", answer.body);
    let body = answer.json();
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    assert!(body["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    body["error"].clone()
}

/// The library's view of the server's tokens, from this process.
fn auth_on(server: &Home, authorized_keys: &Path) -> Auth {
    let config = AuthConfig {
        authorized_keys: authorized_keys.to_string_lossy().into_owned(),
        ..AuthConfig::default()
    };
    Auth::new(&config, &server.dir.path().join("store").join("relay.db")).expect("Auth::new")
}

/// Flips one byte of an armored signature's signature bytes (its last ones).
fn tamper(armored: &str) -> String {
    let b64: String = armored
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let engine = base64::engine::general_purpose::STANDARD;
    let mut raw = engine.decode(b64).expect("base64");
    let at = raw.len() - 5;
    raw[at] ^= 0x01;
    let encoded = engine.encode(raw);
    let body: Vec<&str> = encoded
        .as_bytes()
        .chunks(70)
        .map(|chunk| std::str::from_utf8(chunk).expect("ASCII"))
        .collect();
    format!(
        "-----BEGIN SSH SIGNATURE-----\n{}\n-----END SSH SIGNATURE-----\n",
        body.join("\n")
    )
}

#[tokio::test]
async fn ed25519_and_rsa_keys_sign_in() {
    let keys = Keys::new();
    keys.make("alice", &["-t", "ed25519"]);
    keys.make("bob", &["-t", "rsa", "-b", "2048"]);
    let authorized = keys.authorize(&["alice", "bob"]);
    let bob = keys.fingerprint("bob");
    assert!(bob.starts_with("SHA256:"), "{bob}");
    let server = TestServer::start_with(settings(
        &authorized,
        &[format!("users = {{ \"{bob}\" = \"robert\" }}")],
    ));

    // Ed25519: the user is the key's comment.
    let alice = sign_in(&server, &keys, "alice").await;
    let token = alice["token"].as_str().expect("a token").to_string();
    assert!(token.starts_with("prt_"), "{token}");
    assert_eq!(alice["user"], "alice");
    assert!(alice["expires_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));

    // RSA, mapped to another user by its fingerprint in auth.users.
    let robert = sign_in(&server, &keys, "bob").await;
    assert_eq!(robert["user"], "robert");
    let robert_token = robert["token"].as_str().expect("a token").to_string();
    assert_ne!(robert_token, token);

    // The tokens are valid in the store the server wrote.
    let auth = auth_on(&server, &authorized);
    assert_eq!(
        auth.authenticate(&token).await.expect("valid").as_str(),
        "alice"
    );
    assert_eq!(
        auth.authenticate(&robert_token)
            .await
            .expect("valid")
            .as_str(),
        "robert"
    );

    // Audited, with the key's fingerprint; never a token.
    let log = server.log();
    assert!(
        log.contains(&format!("sign-in of user robert with key {bob}")),
        "{log}"
    );
    assert!(!log.contains(&token) && !log.contains(&robert_token));
}

#[tokio::test]
async fn every_failed_sign_in_gets_the_same_401() {
    let keys = Keys::new();
    keys.make("alice", &["-t", "ed25519"]);
    keys.make("bob", &["-t", "rsa", "-b", "2048"]);
    keys.make("mallory", &["-t", "ed25519"]);
    let authorized = keys.authorize(&["alice", "bob"]);
    let server = TestServer::start_with(settings(&authorized, &[]));
    let alice = keys.public("alice");
    let mut errors = Vec::new();

    // A replayed challenge: the first answer wins, the second is refused.
    let (id, nonce) = challenge(&server, &alice).await;
    let signature = keys.sign("alice", "pocket-relay", &nonce);
    assert_eq!(verify(&server, &id, &signature).await.status, 200);
    errors.push(refused(&verify(&server, &id, &signature).await));

    // Signed in another namespace.
    let (id, nonce) = challenge(&server, &alice).await;
    let signature = keys.sign("alice", "git", &nonce);
    errors.push(refused(&verify(&server, &id, &signature).await));

    // Alice's challenge signed by Bob, who is authorized too.
    let (id, nonce) = challenge(&server, &alice).await;
    let signature = keys.sign("bob", "pocket-relay", &nonce);
    errors.push(refused(&verify(&server, &id, &signature).await));

    // A tampered signature.
    let (id, nonce) = challenge(&server, &alice).await;
    let signature = tamper(&keys.sign("alice", "pocket-relay", &nonce));
    errors.push(refused(&verify(&server, &id, &signature).await));

    // A signature over another text than the nonce (here: with a trailing newline).
    let (id, nonce) = challenge(&server, &alice).await;
    let signature = keys.sign("alice", "pocket-relay", &format!("{nonce}\n"));
    errors.push(refused(&verify(&server, &id, &signature).await));

    // A key that is not in authorized_keys still gets a challenge (no oracle), then 401.
    let (id, nonce) = challenge(&server, &keys.public("mallory")).await;
    let signature = keys.sign("mallory", "pocket-relay", &nonce);
    errors.push(refused(&verify(&server, &id, &signature).await));

    // An unknown challenge, and garbage.
    errors.push(refused(
        &verify(&server, "no-such-challenge", &signature).await,
    ));
    let (id, _) = challenge(&server, &alice).await;
    errors.push(refused(&verify(&server, &id, "hello").await));

    assert!(
        errors.windows(2).all(|pair| pair[0] == pair[1]),
        "the answers differ: {errors:?}"
    );

    // A public key line that does not parse is a bad request, not a sign-in failure.
    let answer = post_json(
        &server.url,
        "/api/v1/auth/challenge",
        &json!({"public_key": "ssh-ed25519 not-base64"}),
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.json()["error"]["code"], "bad_request");
    let answer = post_json(
        &server.url,
        "/api/v1/auth/verify",
        &json!({"challenge_id": 1}),
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);

    let log = server.log();
    assert!(log.contains("sign-in failed for key SHA256:"), "{log}");
    assert!(!log.contains(&nonce), "a nonce was logged");
}

/// Runs `pocket-relay token …` with the server's configuration.
fn token_command(server: &Home, args: &[&str]) -> Output {
    crate::support::operator::cli(server, &[&["token"], args].concat())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn token_command_issues_lists_and_revokes_while_the_server_runs() {
    let keys = Keys::new();
    keys.make("alice", &["-t", "ed25519"]);
    let authorized = keys.authorize(&["alice"]);
    let server = InProcessServer::start_with(settings(&authorized, &[]));
    let signed_in = sign_in(&server, &keys, "alice").await;
    let alice_token = signed_in["token"].as_str().expect("a token").to_string();

    let issued = token_command(&server, &["issue", "--user", "carol", "--label", "ci"]);
    assert!(issued.status.success(), "{}", text(&issued.stderr));
    let stdout = text(&issued.stdout);
    let token = stdout.lines().next().expect("a first line").to_string();
    assert!(token.starts_with("prt_"), "{stdout}");
    let stderr = text(&issued.stderr);
    assert!(!stderr.contains(&token), "the token went to stderr");
    let id = stderr
        .lines()
        .find_map(|line| line.strip_prefix("token "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the id on stderr")
        .to_string();

    let auth = auth_on(&server, &authorized);
    assert_eq!(
        auth.authenticate(&token).await.expect("valid").as_str(),
        "carol"
    );

    // Listed, with alice's sign-in token, never showing a token.
    let listed = token_command(&server, &["list"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let list = text(&listed.stdout);
    assert!(
        !list.contains(&token) && !list.contains(&alice_token),
        "{list}"
    );
    let lines: Vec<Vec<&str>> = list.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines.iter().all(|fields| fields.len() == 5), "{list}");
    let carol = lines
        .iter()
        .find(|fields| fields[0] == id)
        .expect("carol's token is listed");
    assert_eq!(&carol[1..3], &["carol", "ci"]);
    assert!(carol[3].ends_with('Z'));
    assert_eq!(carol[4], "-");
    let alice = lines
        .iter()
        .find(|fields| fields[1] == "alice")
        .expect("alice's token is listed");
    assert!(alice[2].starts_with("ssh:SHA256:"), "{list}");

    // Revoked from the command line: refused at once by the server's store.
    let revoked = token_command(&server, &["revoke", &id]);
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    assert!(matches!(
        auth.authenticate(&token).await,
        Err(AuthError::Unauthorized)
    ));
    assert!(!auth.token_still_valid(&token).await);
    assert!(auth.token_still_valid(&alice_token).await);
    let list = text(&token_command(&server, &["list"]).stdout);
    let carol = list
        .lines()
        .find(|line| line.starts_with(&id))
        .expect("still listed");
    assert!(!carol.ends_with(" -"), "not shown as revoked: {carol}");

    let unknown = token_command(&server, &["revoke", "no-such-id"]);
    assert!(!unknown.status.success());
    let bad = token_command(&server, &["issue", "--user", "two words"]);
    assert!(!bad.status.success());

    // The server still serves sign-ins after another process wrote the store.
    sign_in(&server, &keys, "alice").await;
}

/// A FIDO security key (`sk-ssh-ed25519@openssh.com`), simulated without a device: an Ed25519 key
/// pair that signs what an authenticator signs (SHA-256 of the application, the flags, a counter,
/// SHA-256 of the data), packed the way `ssh-keygen -Y sign` packs a security key's signature.
struct SecurityKey {
    keypair: ssh_key::private::Ed25519Keypair,
    application: String,
}

impl SecurityKey {
    fn new(seed: u8) -> SecurityKey {
        SecurityKey {
            keypair: ssh_key::private::Ed25519Keypair::from_seed(&[seed; 32]),
            application: "ssh:".into(),
        }
    }

    fn key_data(&self) -> ssh_key::public::KeyData {
        ssh_key::public::KeyData::SkEd25519(ssh_key::public::SkEd25519::new(
            self.keypair.public,
            self.application.clone(),
        ))
    }

    /// The `authorized_keys` line.
    fn public(&self, comment: &str) -> String {
        let mut key = ssh_key::PublicKey::from(self.key_data());
        key.set_comment(comment);
        key.to_openssh().expect("an OpenSSH public key")
    }

    /// An armored SSHSIG over `message`; `flags` 0x01 says the user was present.
    fn sign(&self, namespace: &str, message: &str, flags: u8) -> String {
        use ssh_key::sha2::{Digest, Sha256};
        use ssh_key::{Algorithm, HashAlg, LineEnding, Signature, SshSig};
        let signed = SshSig::signed_data(namespace, HashAlg::Sha512, message.as_bytes())
            .expect("signed data");
        let counter = 42u32.to_be_bytes();
        let mut authenticator_data = Sha256::digest(self.application.as_bytes()).to_vec();
        authenticator_data.push(flags);
        authenticator_data.extend(counter);
        authenticator_data.extend(Sha256::digest(&signed));
        let raw: Signature =
            signature::Signer::try_sign(&self.keypair, &authenticator_data).expect("a signature");
        let mut bytes = raw.as_bytes().to_vec();
        bytes.push(flags);
        bytes.extend(counter);
        let signature = Signature::new(Algorithm::SkEd25519, bytes).expect("an sk signature");
        SshSig::new(self.key_data(), namespace, HashAlg::Sha512, signature)
            .expect("an SSHSIG")
            .to_pem(LineEnding::LF)
            .expect("armored")
    }
}

#[tokio::test]
async fn a_fido_security_key_signs_in() {
    let dir = tempfile::tempdir().expect("temp dir");
    let carol = SecurityKey::new(7);
    let authorized = dir.path().join("authorized_keys");
    std::fs::write(&authorized, format!("{}\n", carol.public("carol"))).expect("write keys");
    let server = InProcessServer::start_with(settings(&authorized, &[]));

    let (id, nonce) = challenge(&server, &carol.public("carol")).await;
    let answer = verify(&server, &id, &carol.sign("pocket-relay", &nonce, 0x01)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["data"]["user"], "carol");
    let token = answer.json()["data"]["token"]
        .as_str()
        .expect("a token")
        .to_string();
    let auth = auth_on(&server, &authorized);
    assert_eq!(
        auth.authenticate(&token).await.expect("valid").as_str(),
        "carol"
    );

    // The same key's signature over other data, or in another namespace, is refused.
    let (id, nonce) = challenge(&server, &carol.public("carol")).await;
    let wrong = carol.sign("pocket-relay", &format!("{nonce}x"), 0x01);
    refused(&verify(&server, &id, &wrong).await);
    let (id, nonce) = challenge(&server, &carol.public("carol")).await;
    refused(&verify(&server, &id, &carol.sign("git", &nonce, 0x01)).await);
    // A signature made without a touch (user presence not confirmed) is refused, as OpenSSH does.
    let (id, nonce) = challenge(&server, &carol.public("carol")).await;
    refused(&verify(&server, &id, &carol.sign("pocket-relay", &nonce, 0x00)).await);
    // Another security key with the same comment is not carol's.
    let mallory = SecurityKey::new(8);
    let (id, nonce) = challenge(&server, &mallory.public("carol")).await;
    refused(&verify(&server, &id, &mallory.sign("pocket-relay", &nonce, 0x01)).await);
}
