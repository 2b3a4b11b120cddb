//! Paired devices (issue 16): a phone's key pair, registered with a one-time pairing code made
//! on the machine (`pocket-relay pair`), then signing in by the same challenge–response as a key
//! of `auth.authorized_keys`. Revoking a device revokes its tokens (so its live streams end, see
//! [`super::live`]) and its key signs in no more.
//!
//! A pairing code is 256 random bits in unpadded base64url, valid `auth.pairing_ttl_s`, single
//! use; only its SHA-256 is stored. Every failed use (unknown, used, expired, malformed) is the
//! same [`AuthError::Unauthorized`]. Must never: log or store a code, accept one twice, or let a
//! revoked device's key sign in.

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use rusqlite::Connection;
use serde::Serialize;
use ssh_key::public::KeyData;
use ssh_key::{Algorithm, PublicKey};

use super::tokens::{hash, hex, random, timestamp};
use super::{Auth, AuthError};
use crate::store;
use crate::store::devices::{DeviceRecord, NewDevice, Paired};
use actors::ids::UserId;

/// The length of a pairing code: 32 bytes in unpadded base64url.
const CODE_LEN: usize = 43;

/// The longest device name accepted, in characters.
const MAX_NAME_CHARS: usize = 64;

/// A pairing code just made: the only time its text exists.
#[derive(Clone, PartialEq, Eq)]
pub struct PairingCode {
    pub code: String,
    pub user: String,
    /// RFC 3339, UTC, milliseconds.
    pub expires_at: String,
}

impl std::fmt::Debug for PairingCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairingCode")
            .field("code", &"<redacted>")
            .field("user", &self.user)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The answer to `POST /api/v1/auth/pair`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PairedDevice {
    pub device_id: String,
    pub user: String,
}

/// The devices and pairing codes of one store file, on its own connection.
pub struct Devices {
    conn: Mutex<Connection>,
}

impl Devices {
    /// Opens the store file at `path` (creating and migrating it if needed).
    pub fn open(path: &Path) -> Result<Devices, AuthError> {
        Ok(Devices {
            conn: Mutex::new(store::open_connection(path)?),
        })
    }

    /// A new single-use code that pairs a device for `user`, valid `ttl_s` from `now`.
    pub fn new_code(
        &self,
        user: &str,
        ttl_s: u64,
        now: DateTime<Utc>,
    ) -> Result<PairingCode, AuthError> {
        let expires = i64::try_from(ttl_s.max(1))
            .ok()
            .and_then(Duration::try_seconds)
            .and_then(|ttl| now.checked_add_signed(ttl))
            .ok_or_else(|| AuthError::BadRequest(format!("a ttl of {ttl_s} s is too long")))?;
        let code = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random::<32>()?);
        let expires_at = timestamp(expires);
        store::devices::insert_code(
            &self.lock(),
            &hash(&code),
            user,
            &timestamp(now),
            &expires_at,
        )?;
        Ok(PairingCode {
            code,
            user: user.to_string(),
            expires_at,
        })
    }

    /// Registers the key of `public_key_line` as a device named `name`, using up `code`.
    pub fn pair(
        &self,
        code: &str,
        public_key_line: &str,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<PairedDevice, AuthError> {
        let public_key = device_key(public_key_line)?;
        let name = device_name(name)?;
        let well_formed = code.len() == CODE_LEN
            && code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(AuthError::Unauthorized);
        }
        let device_id = hex(&random::<6>()?);
        let device = NewDevice {
            id: &device_id,
            public_key: &public_key,
            name,
            now: &timestamp(now),
        };
        match store::devices::pair(&mut self.lock(), &hash(code), &device)? {
            Paired::Device { user } => Ok(PairedDevice { device_id, user }),
            Paired::NoCode => Err(AuthError::Unauthorized),
            Paired::KeyTaken => Err(AuthError::Conflict(
                "this public key is already a paired device's".into(),
            )),
        }
    }

    /// The live device whose key is `key`, if any.
    pub fn find_live(&self, key: &KeyData) -> Result<Option<DeviceRecord>, AuthError> {
        match canonical(key) {
            Some(line) => Ok(store::devices::find_live_by_key(&self.lock(), &line)?),
            None => Ok(None),
        }
    }

    /// Records a sign-in of device `id` at `now`.
    pub fn touch(&self, id: &str, now: DateTime<Utc>) -> Result<(), AuthError> {
        Ok(store::devices::touch(&self.lock(), id, &timestamp(now))?)
    }

    /// The devices of `user` (everyone's when `None`), revoked ones too when `with_revoked`.
    pub fn list(
        &self,
        user: Option<&str>,
        with_revoked: bool,
    ) -> Result<Vec<DeviceRecord>, AuthError> {
        Ok(store::devices::list(&self.lock(), user, with_revoked)?)
    }

    /// How many live devices `user` has (everyone, when `None`).
    pub fn count_live(&self, user: Option<&str>) -> Result<u64, AuthError> {
        Ok(store::devices::count_live(&self.lock(), user)?)
    }

    /// Revokes the live device `id` and its tokens; with `user`, only that user's device. Any
    /// other is [`AuthError::NotFound`], the same for another user's as for an unknown one.
    pub fn revoke(
        &self,
        id: &str,
        user: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<DeviceRecord, AuthError> {
        match store::devices::revoke(&mut self.lock(), id, user, &timestamp(now))? {
            Some((device, tokens)) => {
                log::info!(
                    "auth: device {id} ({:?}) of user {} revoked, and {tokens} token(s) of it",
                    device.name,
                    device.user
                );
                Ok(device)
            }
            None => Err(AuthError::NotFound(format!("no device {id}"))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic elsewhere while holding the lock leaves the connection usable.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Auth {
    /// `POST /api/v1/auth/pair`: registers a device with a pairing code, asked from `client`.
    pub async fn pair(
        &self,
        code: &str,
        public_key_line: &str,
        name: &str,
        client: Option<IpAddr>,
    ) -> Result<PairedDevice, AuthError> {
        let ip = client.map_or_else(|| "-".to_string(), |ip| ip.to_string());
        let (code, key, name) = (
            code.to_string(),
            public_key_line.to_string(),
            name.to_string(),
        );
        let now = (self.clock)();
        let paired = self
            .db
            .run(move |tables| tables.devices.pair(&code, &key, &name, now))
            .await?;
        match paired {
            Ok(paired) => {
                log::info!(
                    "auth: device {} paired for user {} from {ip}",
                    paired.device_id,
                    paired.user
                );
                Ok(paired)
            }
            Err(AuthError::Unauthorized) => {
                log::info!("auth: pairing failed from {ip}: unknown, used or expired code");
                Err(AuthError::Unauthorized)
            }
            Err(error) => Err(error),
        }
    }

    /// How many live devices `user` has.
    pub async fn count_devices(&self, user: &UserId) -> Result<u64, AuthError> {
        let user = user.clone();
        self.db
            .run(move |tables| tables.devices.count_live(Some(user.as_str())))
            .await?
    }

    /// The live devices of `user`, oldest first.
    pub async fn devices_of(&self, user: &UserId) -> Result<Vec<DeviceRecord>, AuthError> {
        let user = user.clone();
        self.db
            .run(move |tables| tables.devices.list(Some(user.as_str()), false))
            .await?
    }

    /// Revokes `user`'s live device `id` and its tokens at `now`, and ends the live streams of
    /// those tokens at once (the watcher would within a tick). Another user's device, an
    /// unknown or an already revoked one: [`AuthError::NotFound`].
    pub async fn revoke_device(
        &self,
        id: &str,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> Result<DeviceRecord, AuthError> {
        let (device, owner) = (id.to_string(), user.clone());
        let revoked = self
            .db
            .run(move |tables| tables.devices.revoke(&device, Some(owner.as_str()), now))
            .await??;
        self.live.end_device(id);
        Ok(revoked)
    }

    /// The user and token label of a paired device's key, with the device's id; the inner
    /// `Err` (a refusal, its reason for the log only) when no live device has it.
    pub(super) async fn device_signer(
        &self,
        key: KeyData,
    ) -> Result<Result<super::Signer, &'static str>, AuthError> {
        let found = self
            .db
            .run(move |tables| tables.devices.find_live(&key))
            .await??;
        Ok(match found {
            Some(device) => Ok((
                device.user,
                format!("device:{}", device.id),
                Some(device.id),
            )),
            None => Err("the key is neither in auth.authorized_keys nor a paired device's"),
        })
    }
}

/// The OpenSSH line of `key` without comment: how a device's key is stored and looked up.
fn canonical(key: &KeyData) -> Option<String> {
    PublicKey::from(key.clone()).to_openssh().ok()
}

/// A device's key: an Ed25519 or ECDSA OpenSSH public key line (what WebCrypto makes).
fn device_key(line: &str) -> Result<String, AuthError> {
    let refuse = || {
        AuthError::BadRequest(
            "public_key must be one OpenSSH public key line (ssh-ed25519 or ecdsa-sha2-*)".into(),
        )
    };
    let line = line.trim();
    if line.is_empty() || line.len() > super::MAX_KEY_LINE || line.contains(['\n', '\r']) {
        return Err(refuse());
    }
    let key = PublicKey::from_openssh(line).map_err(|_| refuse())?;
    match key.algorithm() {
        Algorithm::Ed25519 | Algorithm::Ecdsa { .. } => {
            canonical(key.key_data()).ok_or_else(refuse)
        }
        _ => Err(refuse()),
    }
}

/// A device's name: 1 to 64 characters, no control characters, trimmed.
fn device_name(name: &str) -> Result<&str, AuthError> {
    let name = name.trim();
    let fine = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && !name.chars().any(char::is_control);
    if fine {
        Ok(name)
    } else {
        Err(AuthError::BadRequest(format!(
            "device_name must be 1 to {MAX_NAME_CHARS} characters, none of them control characters"
        )))
    }
}

#[cfg(test)]
mod tests;
