//! Sign-in (protocol §3, §4 `/api/v1/auth/*`): SSH-key challenges answered with SSHSIG
//! signatures, and the bearer tokens they earn. [`Auth`] is the one entry point; the transports
//! hold it in an `Arc` and call [`Auth::authenticate`] on every token they receive.
//!
//! The flow: a client sends its OpenSSH public key line and gets a challenge (a random nonce,
//! single-use, bound to that key, expiring after `auth.challenge_ttl_s`); it signs the nonce
//! with `ssh-keygen -Y sign -n <auth.namespace>` and sends the armored signature; if the
//! signature is by that key over exactly the nonce, in the namespace, and the key is in
//! `auth.authorized_keys` or a paired device's ([`devices`]), it gets a token for the key's
//! user.
//!
//! Every sign-in failure answers the same [`AuthError::Unauthorized`] with one fixed message,
//! so a client learns nothing about which keys are authorized or what was wrong; the reason is
//! in the server's log. The tokens and devices tables are reached only through a
//! [`StoreThread`] (`store-auth`) that owns their connection: every method that reads or writes
//! them is `async` and only awaits. Must never: log a token, a nonce or a signature, accept a
//! challenge twice, or run a query or a signature check on an async worker.

pub mod challenge;
pub mod devices;
pub mod keys;
pub mod live;
pub mod tokens;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use actors::error::RelayError;
use actors::ids::UserId;
use actors::store::StoreError;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use ssh_key::public::KeyData;
use ssh_key::{Fingerprint, HashAlg, PublicKey, SshSig};

use crate::config::AuthConfig;
use crate::store::thread::StoreThread;
use challenge::{Caps, Challenges, Pending};
use keys::{AuthorizedKey, AuthorizedKeys};
use live::LiveTokens;
pub use live::TokenWatch;
pub use tokens::Bearer;
use tokens::Tokens;

/// The one message of every sign-in or token failure.
pub const UNAUTHORIZED_MESSAGE: &str = "authentication failed";

/// The longest public key line accepted (a 16384-bit RSA key is about 2.8 KiB).
const MAX_KEY_LINE: usize = 16 * 1024;

/// The longest armored signature accepted.
const MAX_SIGNATURE: usize = 64 * 1024;

/// Why a sign-in or token operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Any failed sign-in or token check; deliberately says nothing more.
    #[error("authentication failed")]
    Unauthorized,
    /// The request cannot be read (e.g. `public_key` is not an OpenSSH public key line).
    #[error("{0}")]
    BadRequest(String),
    /// Too many challenges are pending (in all, or from the client's address).
    #[error("too many sign-in challenges are pending; retry in {retry_after_s} s")]
    Busy { retry_after_s: u64 },
    /// No such token or device.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with what is stored (a key paired twice).
    #[error("{0}")]
    Conflict(String),
    /// The tokens or devices tables failed (the cause is kept as the source).
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// The one mapping of sign-in errors to the protocol's (code `unauthorized` for every sign-in
/// failure); the store's error travels on as the source.
impl From<AuthError> for RelayError {
    fn from(error: AuthError) -> RelayError {
        match error {
            AuthError::Unauthorized => RelayError::Unauthorized(UNAUTHORIZED_MESSAGE.into()),
            AuthError::BadRequest(message) => RelayError::BadRequest(message),
            AuthError::Busy { retry_after_s } => RelayError::RateLimited { retry_after_s },
            AuthError::NotFound(message) => RelayError::NotFound(message),
            AuthError::Conflict(message) => RelayError::Conflict(message),
            AuthError::Store(error) => RelayError::StoreUnavailable(error),
            AuthError::Internal(message) => RelayError::Internal(message),
        }
    }
}

/// What the `store-auth` thread owns: the tokens and devices tables, each on its connection.
pub struct Tables {
    pub tokens: Tokens,
    pub devices: devices::Devices,
}

/// The answer to `POST /api/v1/auth/challenge`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Challenge {
    pub challenge_id: String,
    /// What the client signs, exactly: its UTF-8 bytes, no trailing newline.
    pub nonce: String,
    pub namespace: String,
    pub expires_at: String,
}

/// The answer to a successful `POST /api/v1/auth/verify`.
#[derive(Clone, Serialize, PartialEq, Eq)]
pub struct IssuedToken {
    pub token: String,
    pub user: String,
    pub expires_at: String,
    /// The paired device whose key signed in, if it was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"<redacted>")
            .field("user", &self.user)
            .field("expires_at", &self.expires_at)
            .field("device_id", &self.device_id)
            .finish()
    }
}

/// Who signed in: the user, the token's label, and the paired device (if the key is one's).
type Signer = (String, String, Option<String>);

/// Where "now" comes from (a made-up clock in tests).
type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Sign-in and token checks for one server (or one `token` command).
pub struct Auth {
    namespace: String,
    challenge_ttl: Duration,
    token_ttl_s: u64,
    users: BTreeMap<String, String>,
    keys: AuthorizedKeys,
    challenges: Challenges,
    /// The only way to the tokens and devices tables.
    db: StoreThread<Tables>,
    live: Arc<LiveTokens>,
    clock: Clock,
}

impl Auth {
    /// Reads `config.authorized_keys` (a missing file authorizes nobody) and starts the store
    /// thread of the tokens and devices tables of the store at `store_path` (waiting for it to
    /// open the file: a start-up step).
    pub fn new(config: &AuthConfig, store_path: &Path) -> Result<Auth, AuthError> {
        Auth::with_clock(config, store_path, Arc::new(Utc::now))
    }

    fn with_clock(config: &AuthConfig, store_path: &Path, clock: Clock) -> Result<Auth, AuthError> {
        let keys = AuthorizedKeys::new(&config.authorized_keys, !config.enabled);
        if config.enabled {
            log::info!(
                "auth: {} authorized keys in {}",
                keys.len(),
                keys.path().display()
            );
        }
        let ttl_s = i64::try_from(config.challenge_ttl_s.max(1)).unwrap_or(i64::MAX);
        Ok(Auth {
            namespace: config.namespace.clone(),
            challenge_ttl: Duration::try_seconds(ttl_s).unwrap_or(Duration::MAX),
            token_ttl_s: config.token_ttl_s,
            users: config.users.clone(),
            keys,
            challenges: Challenges::new(Caps {
                capacity: challenge::DEFAULT_CAPACITY,
                per_client: config.max_challenges_per_ip,
                per_key: config.max_challenges_per_key,
            }),
            db: open_tables(store_path)?,
            live: Arc::new(LiveTokens::default()),
            clock,
        })
    }

    /// A new challenge for the key of `public_key_line` (an OpenSSH public key line), asked
    /// from the client address `client`. A key that is not authorized gets one too: the refusal
    /// comes at [`Auth::verify`], like every other failure. An address holding
    /// `auth.max_challenges_per_ip` unanswered challenges is refused ([`AuthError::Busy`]).
    pub fn challenge(
        &self,
        public_key_line: &str,
        client: Option<IpAddr>,
    ) -> Result<Challenge, AuthError> {
        let line = public_key_line.trim();
        if line.is_empty() || line.len() > MAX_KEY_LINE || line.contains(['\n', '\r']) {
            return Err(not_a_key());
        }
        let key = PublicKey::from_openssh(line).map_err(|_| not_a_key())?;
        let now = (self.clock)();
        let expires_at = now
            .checked_add_signed(self.challenge_ttl)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let challenge_id = tokens::hex(&tokens::random::<16>()?);
        let nonce = tokens::hex(&tokens::random::<32>()?);
        self.challenges
            .insert(
                challenge_id.clone(),
                Pending {
                    key: key.key_data().clone(),
                    nonce: nonce.clone(),
                    expires_at,
                    client: client.map(crate::client_addr::limit_key),
                    fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
                },
                now,
            )
            .map_err(|refused| {
                match refused {
                    challenge::Refused::Full { .. } => log::warn!(
                        "auth: {} sign-in challenges pending; refusing new ones for now",
                        self.challenges.capacity()
                    ),
                    challenge::Refused::ClientBusy { .. } => {
                        let from = client.map_or_else(|| "-".to_string(), |ip| ip.to_string());
                        log::warn!("auth: too many unanswered sign-in challenges from {from}");
                    }
                }
                AuthError::Busy {
                    retry_after_s: refused.retry_after_s(),
                }
            })?;
        Ok(Challenge {
            challenge_id,
            nonce,
            namespace: self.namespace.clone(),
            expires_at: tokens::timestamp(expires_at),
        })
    }

    /// Answers the challenge `challenge_id` with `armored_signature` (the output of
    /// `ssh-keygen -Y sign`) from a key of `auth.authorized_keys` or of a live paired device.
    /// The challenge is used up whatever the outcome. `ttl_s` asks for a token shorter-lived
    /// than `auth.token_ttl_s` (a larger one, or 0, is a bad request, refused before the
    /// challenge is looked at). Every failure is [`AuthError::Unauthorized`], except a store
    /// that does not answer. The signature is checked on a blocking thread (it may also read
    /// `auth.authorized_keys` again), the tables on the store's.
    pub async fn verify(
        self: &Arc<Self>,
        challenge_id: &str,
        armored_signature: &str,
        peer_ip: Option<IpAddr>,
        ttl_s: Option<u64>,
    ) -> Result<IssuedToken, AuthError> {
        let ttl_s = match ttl_s {
            None => self.token_ttl_s,
            Some(ttl) if ttl >= 1 && ttl <= self.token_ttl_s => ttl,
            Some(_) => {
                return Err(AuthError::BadRequest(format!(
                    "ttl_s must be from 1 to {} (auth.token_ttl_s)",
                    self.token_ttl_s
                )))
            }
        };
        let now = (self.clock)();
        let ip = peer_ip.map_or_else(|| "-".to_string(), |ip| ip.to_string());
        let Some(pending) = self.challenges.take(challenge_id, now) else {
            log::info!("auth: sign-in failed from {ip}: unknown, used or expired challenge");
            return Err(AuthError::Unauthorized);
        };
        let fingerprint = Fingerprint::new(HashAlg::Sha256, &pending.key).to_string();
        let auth = self.clone();
        let armored = armored_signature.to_string();
        let key = pending.key.clone();
        let checked = tokio::task::spawn_blocking(move || {
            auth.check(&pending, &armored)?;
            Ok(auth.listed_signer(&pending.key))
        })
        .await
        .map_err(|e| AuthError::Internal(format!("the signature check did not finish: {e}")))?;
        // A store that does not answer is not a refusal: it fails as itself (503).
        let found = match checked {
            Ok(Some(listed)) => listed,
            Ok(None) => self.device_signer(key).await?,
            Err(reason) => Err(reason),
        };
        let (user, label, device_id) = found.map_err(|reason| {
            log::info!("auth: sign-in failed for key {fingerprint} from {ip}: {reason}");
            AuthError::Unauthorized
        })?;
        let issued = self
            .issue(user.clone(), label, ttl_s, now, device_id.clone())
            .await
            .inspect_err(|error| {
                log::error!(
                    "auth: sign-in of user {user} (key {fingerprint}) from {ip}: \
                     no token: {error}"
                );
            })?;
        log::info!(
            "auth: sign-in of user {user} with key {fingerprint}{} from {ip}: token {}",
            device_id
                .as_deref()
                .map_or_else(String::new, |d| format!(" (device {d})")),
            issued.id
        );
        Ok(IssuedToken {
            token: issued.token,
            user,
            expires_at: issued.expires_at,
            device_id,
        })
    }

    /// Issues a token (on the store thread) and, for a device, records its sign-in.
    async fn issue(
        &self,
        user: String,
        label: String,
        ttl_s: u64,
        now: DateTime<Utc>,
        device_id: Option<String>,
    ) -> Result<tokens::NewlyIssued, AuthError> {
        self.db
            .run(move |tables| {
                let device = device_id.as_deref();
                let issued = tables
                    .tokens
                    .issue(&user, Some(&label), ttl_s, now, device)?;
                if let Some(device) = device {
                    if let Err(error) = tables.devices.touch(device, now) {
                        log::warn!("auth: cannot record the sign-in of device {device}: {error}");
                    }
                }
                Ok(issued)
            })
            .await?
    }

    /// The user of `token`, checked against the store on every call: a revoked or expired
    /// token fails at once. Every failure is [`AuthError::Unauthorized`], except a store that
    /// does not answer ([`AuthError::Store`]). One indexed query, on the store thread.
    pub async fn authenticate(&self, token: &str) -> Result<UserId, AuthError> {
        self.bearer(token).await.map(|bearer| bearer.user)
    }

    /// Like [`Auth::authenticate`], with the token's id and expiry, for a caller that stays
    /// connected and must be ended when the token is revoked or expires ([`Auth::watch`]).
    pub async fn bearer(&self, token: &str) -> Result<Bearer, AuthError> {
        let token = token.to_string();
        let now = (self.clock)();
        self.db
            .run(move |tables| tables.tokens.authenticate(&token, now))
            .await?
    }

    /// A handle that ends when `bearer`'s token is revoked or expires (pushed by the watcher
    /// that [`Auth::watch_revocations`] starts).
    pub fn watch(&self, bearer: &Bearer) -> TokenWatch {
        self.live.watch(bearer)
    }

    /// Starts the one thread that ends live streams of revoked and expired tokens, on its own
    /// connection to the store at `store_path`; it runs until the answered [`live::Watcher`]
    /// is stopped or dropped.
    pub fn watch_revocations(&self, store_path: &Path) -> Result<live::Watcher, AuthError> {
        live::spawn_watcher(&self.live, store_path)
    }

    /// Whether `token` is still valid. A store that does not answer counts as valid, with a
    /// warning.
    pub async fn token_still_valid(&self, token: &str) -> bool {
        match self.authenticate(token).await {
            Ok(_) => true,
            Err(AuthError::Unauthorized) => false,
            Err(error) => {
                log::warn!("auth: cannot check a live token: {error}");
                true
            }
        }
    }

    /// The namespace signatures must be made in.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Everything a valid signature must satisfy; `Err` carries the reason for the log only.
    fn check(&self, pending: &Pending, armored: &str) -> Result<(), &'static str> {
        let armored = armored.trim();
        if armored.is_empty() || armored.len() > MAX_SIGNATURE {
            return Err("no signature, or one too long");
        }
        let signature = SshSig::from_pem(armored).map_err(|_| "not an armored SSH signature")?;
        if signature.namespace() != self.namespace {
            return Err("the signature's namespace is not auth.namespace");
        }
        if signature.public_key() != &pending.key {
            return Err("the signature is by another key than the challenge's");
        }
        PublicKey::from(pending.key.clone())
            .verify(&self.namespace, pending.nonce.as_bytes(), &signature)
            .map_err(|_| "the signature does not verify")?;
        if !user_was_present(&signature) {
            return Err("the security key did not confirm the user's presence");
        }
        Ok(())
    }

    /// Whose `key` is if `auth.authorized_keys` lists it (checked before the paired devices):
    /// `None` when it does not; the inner `Err` is a refusal, with its reason for the log only.
    fn listed_signer(&self, key: &KeyData) -> Option<Result<Signer, &'static str>> {
        let entry = self.keys.lookup(key)?;
        Some(match self.user_for(&entry) {
            Some(user) => Ok((user, format!("ssh:{}", entry.fingerprint), None)),
            None => Err("the key has no comment and auth.users does not map it"),
        })
    }

    /// `auth.users[fingerprint]`, else `auth.users[comment]`, else the comment.
    fn user_for(&self, entry: &AuthorizedKey) -> Option<String> {
        let comment = (!entry.comment.is_empty()).then_some(entry.comment.as_str());
        self.users
            .get(&entry.fingerprint)
            .or_else(|| comment.and_then(|c| self.users.get(c)))
            .map(String::as_str)
            .or(comment)
            .map(str::trim)
            .filter(|user| !user.is_empty())
            .map(str::to_string)
    }
}

/// Starts the `store-auth` thread over the tables of the store file at `path`.
fn open_tables(path: &Path) -> Result<StoreThread<Tables>, AuthError> {
    let path = path.to_path_buf();
    StoreThread::start("store-auth", move || {
        Ok(Tables {
            tokens: Tokens::open(&path)?,
            devices: devices::Devices::open(&path)?,
        })
    })
}

fn not_a_key() -> AuthError {
    AuthError::BadRequest("public_key must be one OpenSSH public key line".into())
}

/// A FIDO security key's signature (`sk-…` keys) says whether the user touched the key: its
/// flags byte, right after the signature proper, has bit 0x01 set. Like OpenSSH, which requires
/// the touch unless told otherwise, a signature without it is refused; other keys have no flags.
fn user_was_present(signature: &SshSig) -> bool {
    use ssh_key::Algorithm;
    const USER_PRESENT: u8 = 0x01;
    /// Flags (1 byte) and counter (4 bytes) end a security key's signature.
    const TRAILER: usize = 5;
    let sig = signature.signature();
    match sig.algorithm() {
        Algorithm::SkEd25519 | Algorithm::SkEcdsaSha2NistP256 => {
            let bytes = sig.as_bytes();
            bytes.len() >= TRAILER && bytes[bytes.len() - TRAILER] & USER_PRESENT != 0
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::sync::Mutex;

    /// The example of the `ssh-key` crate's docs: this key signed "testing" in namespace
    /// "example".
    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti";
    const MESSAGE: &str = "testing";
    const SIGNATURE: &str = "-----BEGIN SSH SIGNATURE-----
U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgsz6u836i33yqAQ3v3qNOJB9l8b
UppPQ+0UMn9cVKq2IAAAAHZXhhbXBsZQAAAAAAAAAGc2hhNTEyAAAAUwAAAAtzc2gtZWQy
NTUxOQAAAEBPEav+tMGNnox4MuzM7rlHyVBajCn8B0kAyiOWwPKprNsG3i6X+voz/WCSik
/FowYwqhgCABUJSvRX3AERVBUP
-----END SSH SIGNATURE-----
";
    const OTHER_KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFyQAHKHGlYxmV3o0q05VJ8LqOJyW/XeMPB2j7eVTi+Z";

    struct Fixture {
        _dir: tempfile::TempDir,
        auth: Arc<Auth>,
        now: Arc<Mutex<DateTime<Utc>>>,
    }

    impl Fixture {
        fn advance(&self, seconds: i64) {
            let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
            *now += Duration::seconds(seconds);
        }

        /// A challenge for `key` through the API, with its nonce replaced by `MESSAGE` so the
        /// fixed signature answers it.
        fn challenge(&self, key: &str) -> String {
            let challenge = self.auth.challenge(key, None).expect("a challenge");
            assert_eq!(challenge.nonce.len(), 64);
            let now = *self.now.lock().unwrap_or_else(|p| p.into_inner());
            let mut pending = self
                .auth
                .challenges
                .take(&challenge.challenge_id, now)
                .expect("pending");
            pending.nonce = MESSAGE.into();
            self.auth
                .challenges
                .insert(challenge.challenge_id.clone(), pending, now)
                .expect("put back");
            challenge.challenge_id
        }
    }

    fn fixture(authorized: &str, users: &[(&str, &str)], namespace: &str) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let keys = dir.path().join("authorized_keys");
        std::fs::write(&keys, authorized).expect("write keys");
        let config = AuthConfig {
            authorized_keys: keys.to_string_lossy().into_owned(),
            namespace: namespace.into(),
            challenge_ttl_s: 60,
            token_ttl_s: 3600,
            users: users
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..AuthConfig::default()
        };
        let start = Utc
            .timestamp_opt(1_700_000_000, 0)
            .single()
            .expect("a valid time");
        let now = Arc::new(Mutex::new(start));
        let clock_now = now.clone();
        let clock: Clock = Arc::new(move || *clock_now.lock().unwrap_or_else(|p| p.into_inner()));
        let auth =
            Arc::new(Auth::with_clock(&config, &dir.path().join("relay.db"), clock).expect("auth"));
        Fixture {
            _dir: dir,
            auth,
            now,
        }
    }

    fn unauthorized<T: std::fmt::Debug>(result: Result<T, AuthError>) {
        match result {
            Err(AuthError::Unauthorized) => {}
            other => panic!("expected Unauthorized, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_valid_signature_earns_a_token_once() {
        let f = fixture(&format!("{KEY} user@example.com\n"), &[], "example");
        let id = f.challenge(&format!("{KEY} any comment\n"));
        let ip = Some(IpAddr::from([127, 0, 0, 1]));
        let issued = f
            .auth
            .verify(&id, SIGNATURE, ip, None)
            .await
            .expect("signed in");
        assert_eq!(issued.user, "user@example.com");
        assert_eq!(issued.expires_at, "2023-11-14T23:13:20.000Z");
        assert!(!format!("{issued:?}").contains(&issued.token));
        assert_eq!(
            f.auth
                .authenticate(&issued.token)
                .await
                .expect("valid")
                .as_str(),
            "user@example.com"
        );
        assert!(f.auth.token_still_valid(&issued.token).await);
        unauthorized(f.auth.verify(&id, SIGNATURE, ip, None).await);

        // The token expires with its ttl, and a revoked one fails at once.
        f.advance(3599);
        assert!(f.auth.token_still_valid(&issued.token).await);
        f.advance(1);
        assert!(!f.auth.token_still_valid(&issued.token).await);
        unauthorized(f.auth.authenticate(&issued.token).await);

        let id = f.challenge(KEY);
        let second = f
            .auth
            .verify(&id, SIGNATURE, None, None)
            .await
            .expect("signed in again");
        // The `token` command's view of the same file.
        let cli = Tokens::open(&f._dir.path().join("relay.db")).expect("open");
        let listed = cli.list().expect("list");
        let record = listed.last().expect("a record");
        assert!(record
            .label
            .as_deref()
            .is_some_and(|l| l.starts_with("ssh:SHA256:")));
        cli.revoke(&record.id, *f.now.lock().expect("now"))
            .expect("revoke");
        unauthorized(f.auth.authenticate(&second.token).await);
    }

    #[tokio::test]
    async fn an_expired_challenge_fails() {
        let f = fixture(&format!("{KEY} alice\n"), &[], "example");
        let id = f.challenge(KEY);
        f.advance(60);
        unauthorized(f.auth.verify(&id, SIGNATURE, None, None).await);
        let id = f.challenge(KEY);
        f.advance(59);
        assert!(f.auth.verify(&id, SIGNATURE, None, None).await.is_ok());
    }

    #[tokio::test]
    async fn every_failure_is_the_same_unauthorized() {
        // Wrong namespace.
        let f = fixture(&format!("{KEY} alice\n"), &[], "pocket-relay");
        let id = f.challenge(KEY);
        unauthorized(f.auth.verify(&id, SIGNATURE, None, None).await);

        // The key is not authorized: it still gets a challenge.
        let f = fixture(&format!("{OTHER_KEY} bob\n"), &[], "example");
        let id = f.challenge(KEY);
        unauthorized(f.auth.verify(&id, SIGNATURE, None, None).await);

        // A signature by another key than the challenge's.
        let f = fixture(&format!("{KEY} alice\n{OTHER_KEY} bob\n"), &[], "example");
        let id = f.challenge(OTHER_KEY);
        unauthorized(f.auth.verify(&id, SIGNATURE, None, None).await);

        // Garbage, an unknown challenge, a tampered signature, a signature over another text.
        let id = f.challenge(KEY);
        unauthorized(f.auth.verify(&id, "not a signature", None, None).await);
        unauthorized(
            f.auth
                .verify("no-such-challenge", SIGNATURE, None, None)
                .await,
        );
        let tampered = SIGNATURE.replace("BPEav", "BPEaw");
        let id = f.challenge(KEY);
        unauthorized(f.auth.verify(&id, &tampered, None, None).await);
        let id = f.auth.challenge(KEY, None).expect("challenge").challenge_id;
        unauthorized(f.auth.verify(&id, SIGNATURE, None, None).await);

        // No comment and no mapping: no user.
        let f = fixture(&format!("{KEY}\n"), &[], "example");
        let id = f.challenge(KEY);
        unauthorized(f.auth.verify(&id, SIGNATURE, None, None).await);

        assert_eq!(
            RelayError::from(AuthError::Unauthorized).to_string(),
            UNAUTHORIZED_MESSAGE
        );
    }

    #[tokio::test]
    async fn users_maps_fingerprints_and_comments() {
        let fingerprint = PublicKey::from_openssh(KEY)
            .expect("key")
            .fingerprint(HashAlg::Sha256)
            .to_string();
        let f = fixture(
            &format!("{KEY} laptop\n"),
            &[(fingerprint.as_str(), "alice"), ("laptop", "bob")],
            "example",
        );
        let id = f.challenge(KEY);
        assert_eq!(
            f.auth
                .verify(&id, SIGNATURE, None, None)
                .await
                .expect("in")
                .user,
            "alice"
        );

        let f = fixture(&format!("{KEY} laptop\n"), &[("laptop", "bob")], "example");
        let id = f.challenge(KEY);
        assert_eq!(
            f.auth
                .verify(&id, SIGNATURE, None, None)
                .await
                .expect("in")
                .user,
            "bob"
        );
    }

    #[tokio::test]
    async fn a_bad_key_line_is_a_bad_request() {
        let f = fixture("", &[], "example");
        for line in [
            "",
            "ssh-ed25519",
            "ssh-ed25519 AAAA",
            "hello world",
            &"a".repeat(20_000),
        ] {
            assert!(matches!(
                f.auth.challenge(line, None),
                Err(AuthError::BadRequest(_))
            ));
        }
        let two_lines = format!("{KEY} a\n{OTHER_KEY} b");
        assert!(matches!(
            f.auth.challenge(&two_lines, None),
            Err(AuthError::BadRequest(_))
        ));
    }
}
