//! Bearer tokens: issued after a sign-in or by `pocket-relay token issue`, checked on every
//! use, listed and revoked by the `token` command.
//!
//! A token is 256 random bits, shown once as `prt_` + base64url. Only its SHA-256 is stored
//! (with a short random id, the user, a label and its times), so the store never holds a
//! usable token. Every check reads the store, so a revocation or an expiry takes effect at
//! once, also when another process (the `token` command) revoked it.
//!
//! Must never: store, log or list a token's text or hash, or accept a revoked or expired one.

use std::path::Path;
use std::sync::Mutex;

use actors::ids::UserId;
use base64::Engine;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rusqlite::Connection;
use sha2::{Digest, Sha256};

use super::AuthError;
use crate::store;
use crate::store::tokens::{NewToken, Revoked, TokenRecord};

/// What every token's text starts with.
pub const TOKEN_PREFIX: &str = "prt_";

/// The length of a token's text: the prefix and 32 bytes in unpadded base64url.
const TOKEN_LEN: usize = TOKEN_PREFIX.len() + 43;

/// A token just issued: the only time its text exists.
#[derive(Clone, PartialEq, Eq)]
pub struct NewlyIssued {
    pub id: String,
    pub token: String,
    pub user: String,
    pub label: Option<String>,
    /// RFC 3339, UTC, milliseconds.
    pub expires_at: String,
}

impl std::fmt::Debug for NewlyIssued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewlyIssued")
            .field("id", &self.id)
            .field("token", &"<redacted>")
            .field("user", &self.user)
            .field("label", &self.label)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A valid token, as a check found it: its id (never its text), its user and its expiry. Live
/// streams keep it to be ended when the token is revoked or expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bearer {
    pub id: String,
    pub user: UserId,
    pub expires_at: DateTime<Utc>,
    /// The paired device the token was issued to, if any.
    pub device_id: Option<String>,
}

/// The tokens table of one store file, on its own connection.
pub struct Tokens {
    conn: Mutex<Connection>,
}

impl Tokens {
    /// Opens the store file at `path` (creating and migrating it if needed).
    pub fn open(path: &Path) -> Result<Tokens, AuthError> {
        let conn = store::open_connection(path)?;
        Ok(Tokens {
            conn: Mutex::new(conn),
        })
    }

    /// Issues a token for `user`, valid for `ttl_s` seconds from `now`; for a paired device
    /// when `device_id` names one, which must not be revoked by then ([`AuthError::Unauthorized`]
    /// otherwise).
    pub fn issue(
        &self,
        user: &str,
        label: Option<&str>,
        ttl_s: u64,
        now: DateTime<Utc>,
        device_id: Option<&str>,
    ) -> Result<NewlyIssued, AuthError> {
        let expires = i64::try_from(ttl_s)
            .ok()
            .and_then(Duration::try_seconds)
            .and_then(|ttl| now.checked_add_signed(ttl))
            .ok_or_else(|| AuthError::BadRequest(format!("a ttl of {ttl_s} s is too long")))?;
        if ttl_s == 0 {
            return Err(AuthError::BadRequest("the ttl must be at least 1 s".into()));
        }
        let token = format!(
            "{TOKEN_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random::<32>()?)
        );
        let issued = NewlyIssued {
            id: hex(&random::<6>()?),
            token,
            user: user.to_string(),
            label: label.map(str::to_string),
            expires_at: timestamp(expires),
        };
        let hash = hash(&issued.token);
        let stored = store::tokens::insert(
            &self.lock(),
            &NewToken {
                id: &issued.id,
                hash: &hash,
                user,
                label,
                created_at: &timestamp(now),
                expires_at: &issued.expires_at,
                device_id,
            },
        )?;
        if !stored {
            log::info!(
                "auth: no token for user {user}: device {} was revoked meanwhile",
                device_id.unwrap_or("-")
            );
            return Err(AuthError::Unauthorized);
        }
        log::info!(
            "auth: token {} issued for user {user} (label {}, expires {})",
            issued.id,
            label.unwrap_or("-"),
            issued.expires_at
        );
        Ok(issued)
    }

    /// The token's id, user and expiry if it is known, not revoked and not expired at `now`.
    /// Every failure is [`AuthError::Unauthorized`]; only a store failure is something else.
    pub fn authenticate(&self, token: &str, now: DateTime<Utc>) -> Result<Bearer, AuthError> {
        if token.len() != TOKEN_LEN || !token.starts_with(TOKEN_PREFIX) {
            return Err(AuthError::Unauthorized);
        }
        let record = store::tokens::find_by_hash(&self.lock(), &hash(token))?
            .ok_or(AuthError::Unauthorized)?;
        if record.revoked_at.is_some() {
            return Err(AuthError::Unauthorized);
        }
        match DateTime::parse_from_rfc3339(&record.expires_at) {
            Ok(expires) if expires.with_timezone(&Utc) > now => Ok(Bearer {
                id: record.id,
                user: UserId::new(record.user),
                expires_at: expires.with_timezone(&Utc),
                device_id: record.device_id,
            }),
            Ok(_) => Err(AuthError::Unauthorized),
            Err(error) => {
                log::error!(
                    "auth: token {} has an unreadable expiry {:?}: {error}",
                    record.id,
                    record.expires_at
                );
                Err(AuthError::Unauthorized)
            }
        }
    }

    /// Every token, oldest first; never their text or hash.
    pub fn list(&self) -> Result<Vec<TokenRecord>, AuthError> {
        Ok(store::tokens::list(&self.lock())?)
    }

    /// Revokes the token `id` at `now`. Revoking a revoked token changes nothing and is not an
    /// error; an unknown id is [`AuthError::NotFound`].
    pub fn revoke(&self, id: &str, now: DateTime<Utc>) -> Result<Revoked, AuthError> {
        let conn = self.lock();
        let outcome = store::tokens::revoke(&conn, id, &timestamp(now))?;
        match outcome {
            Revoked::Unknown => return Err(AuthError::NotFound(format!("no token {id}"))),
            Revoked::Already => log::info!("auth: token {id} was already revoked"),
            Revoked::Now => {
                let what = store::tokens::list(&conn)
                    .ok()
                    .and_then(|all| all.into_iter().find(|t| t.id == id))
                    .map(|t| {
                        format!(
                            " (user {}, label {})",
                            t.user,
                            t.label.as_deref().unwrap_or("-")
                        )
                    })
                    .unwrap_or_default();
                log::info!("auth: token {id} revoked{what}");
            }
        }
        Ok(outcome)
    }

    /// Whether the token `id` exists and is not revoked (the revocation watcher's lookup).
    pub fn not_revoked(&self, id: &str) -> Result<bool, AuthError> {
        Ok(store::tokens::not_revoked(&self.lock(), id)?)
    }

    /// Changes whenever another connection (the server's, or a `token` command's) committed.
    pub fn data_version(&self) -> Result<i64, AuthError> {
        Ok(store::tokens::data_version(&self.lock())?)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic elsewhere while holding the lock leaves the connection usable.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The hex SHA-256 of a token's text: what the store keeps.
pub fn hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Time as protocol v1 writes it: RFC 3339, UTC, milliseconds.
pub fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `N` bytes from the operating system's random source.
pub fn random<const N: usize>() -> Result<[u8; N], AuthError> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| AuthError::Internal(format!("no randomness: {e}")))?;
    Ok(bytes)
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + seconds, 0)
            .single()
            .expect("a valid time")
    }

    fn open() -> (tempfile::TempDir, Tokens) {
        let dir = tempfile::tempdir().expect("temp dir");
        let tokens = Tokens::open(&dir.path().join("store").join("relay.db")).expect("open");
        (dir, tokens)
    }

    #[test]
    fn only_the_hash_is_stored_and_lookup_finds_the_user() {
        let (dir, tokens) = open();
        let issued = tokens
            .issue("alice", Some("phone"), 3600, t(0), None)
            .expect("issue");
        assert!(issued.token.starts_with("prt_"));
        assert_eq!(issued.token.len(), TOKEN_LEN);
        assert_eq!(issued.id.len(), 12);
        assert_eq!(issued.expires_at, "2023-11-14T23:13:20.000Z");
        assert!(!format!("{issued:?}").contains(&issued.token));

        let bearer = tokens.authenticate(&issued.token, t(1)).expect("valid");
        assert_eq!(bearer.user.as_str(), "alice");
        assert_eq!(bearer.id, issued.id);
        assert!(tokens.not_revoked(&issued.id).expect("check"));

        // The file holds the hash, never the token.
        let conn = Connection::open(dir.path().join("store").join("relay.db")).expect("raw");
        let (stored_hash, label): (String, String) = conn
            .query_row("SELECT hash, label FROM tokens", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .expect("row");
        assert_eq!(stored_hash, hash(&issued.token));
        assert_eq!(stored_hash.len(), 64);
        assert_ne!(stored_hash, issued.token);
        assert_eq!(label, "phone");

        // Lookalikes fail.
        let mut other = issued.token.clone();
        other.pop();
        other.push(if issued.token.ends_with('A') {
            'B'
        } else {
            'A'
        });
        for wrong in [other.as_str(), "", "prt_", "Bearer x", &issued.token[4..]] {
            assert!(matches!(
                tokens.authenticate(wrong, t(1)),
                Err(AuthError::Unauthorized)
            ));
        }

        let listed = tokens.list().expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, issued.id);
        assert_eq!(listed[0].user, "alice");
    }

    #[test]
    fn a_token_expires() {
        let (_dir, tokens) = open();
        let issued = tokens.issue("bob", None, 60, t(0), None).expect("issue");
        assert!(tokens.authenticate(&issued.token, t(59)).is_ok());
        assert!(matches!(
            tokens.authenticate(&issued.token, t(60)),
            Err(AuthError::Unauthorized)
        ));
        assert!(matches!(
            tokens.issue("bob", None, 0, t(0), None),
            Err(AuthError::BadRequest(_))
        ));
        assert!(matches!(
            tokens.issue("bob", None, u64::MAX, t(0), None),
            Err(AuthError::BadRequest(_))
        ));
    }

    #[test]
    fn revocation_takes_effect_at_once_also_from_another_connection() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("relay.db");
        let server = Tokens::open(&path).expect("open");
        let cli = Tokens::open(&path).expect("open a second time");
        let keep = cli
            .issue("carol", Some("ci"), 3600, t(0), None)
            .expect("issue");
        let gone = cli
            .issue("carol", Some("laptop"), 3600, t(0), None)
            .expect("issue");
        assert!(server.authenticate(&gone.token, t(1)).is_ok());

        assert_eq!(cli.revoke(&gone.id, t(2)).expect("revoke"), Revoked::Now);
        assert!(matches!(
            server.authenticate(&gone.token, t(3)),
            Err(AuthError::Unauthorized)
        ));
        assert!(server.authenticate(&keep.token, t(3)).is_ok());
        assert_eq!(cli.revoke(&gone.id, t(4)).expect("again"), Revoked::Already);
        assert!(matches!(
            cli.revoke("nope", t(4)),
            Err(AuthError::NotFound(_))
        ));
        let listed = server.list().expect("list");
        let revoked: Vec<bool> = listed.iter().map(|t| t.revoked_at.is_some()).collect();
        assert_eq!(revoked.len(), 2);
        assert_eq!(
            listed
                .iter()
                .find(|t| t.id == gone.id)
                .and_then(|t| t.revoked_at.clone()),
            Some(timestamp(t(2)))
        );
    }
}
