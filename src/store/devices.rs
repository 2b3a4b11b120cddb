//! The SQL of the `devices` and `pairing_codes` tables (schema version 3): phones paired with a
//! one-time code, and the codes, stored only as the hex SHA-256 of their text. The logic around
//! them (making codes, pairing, signing in, revoking) is in `crate::auth::devices`; this module
//! only reads and writes rows, on a plain connection like the tokens table, since `pocket-relay
//! pair` and `pocket-relay devices` run in another process while the server runs.
//!
//! Must never: return or log a code's hash, mark a code used twice, or leave a revoked device
//! with a live token.

use actors::store::StoreError;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::schema::failed;

/// A stored device, as it may be shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRecord {
    pub id: String,
    pub user: String,
    /// The OpenSSH public key line, without comment.
    pub public_key: String,
    pub name: String,
    pub created_at: String,
    pub last_seen_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// A device to register with a pairing code.
pub struct NewDevice<'a> {
    pub id: &'a str,
    pub public_key: &'a str,
    pub name: &'a str,
    pub now: &'a str,
}

/// What [`pair`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Paired {
    /// The device is registered for this user; the code is used up.
    Device { user: String },
    /// No such code, or it was used or has expired (it is used up now in any case).
    NoCode,
    /// The key already belongs to a live device; nothing changed, the code stays usable.
    KeyTaken,
}

const COLUMNS: &str = "id, user, public_key, name, created_at, last_seen_at, revoked_at";

/// Stores a new pairing code (its hash) for `user`, and forgets codes that expired before
/// `now`.
pub fn insert_code(
    conn: &Connection,
    hash: &str,
    user: &str,
    now: &str,
    expires_at: &str,
) -> Result<(), StoreError> {
    let what = "cannot store a pairing code";
    conn.execute(
        "DELETE FROM pairing_codes WHERE expires_at < ?1",
        params![now],
    )
    .map_err(|e| failed(what, e))?;
    conn.execute(
        "INSERT INTO pairing_codes (hash, user, created_at, expires_at, used_at)
         VALUES (?1, ?2, ?3, ?4, NULL)",
        params![hash, user, now, expires_at],
    )
    .map(|_| ())
    .map_err(|e| failed(what, e))
}

/// Uses the code of hash `code_hash` (if it is unused and expires after `device.now`) to
/// register `device`, in one write transaction: two processes or requests cannot both use it.
/// Timestamps compare as text: they are all RFC 3339 in UTC with milliseconds.
pub fn pair(
    conn: &mut Connection,
    code_hash: &str,
    device: &NewDevice<'_>,
) -> Result<Paired, StoreError> {
    let what = "cannot pair a device";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| failed(what, e))?;
    let user: Option<String> = tx
        .query_row(
            "SELECT user FROM pairing_codes
             WHERE hash = ?1 AND used_at IS NULL AND expires_at > ?2",
            params![code_hash, device.now],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| failed(what, e))?;
    let Some(user) = user else {
        // Whatever it was, it can never be used again.
        tx.execute(
            "UPDATE pairing_codes SET used_at = ?2 WHERE hash = ?1 AND used_at IS NULL",
            params![code_hash, device.now],
        )
        .map_err(|e| failed(what, e))?;
        tx.commit().map_err(|e| failed(what, e))?;
        return Ok(Paired::NoCode);
    };
    let taken = tx
        .query_row(
            "SELECT 1 FROM devices WHERE public_key = ?1 AND revoked_at IS NULL",
            [device.public_key],
            |_| Ok(()),
        )
        .optional()
        .map_err(|e| failed(what, e))?;
    if taken.is_some() {
        return Ok(Paired::KeyTaken);
    }
    tx.execute(
        "UPDATE pairing_codes SET used_at = ?2 WHERE hash = ?1",
        params![code_hash, device.now],
    )
    .map_err(|e| failed(what, e))?;
    tx.execute(
        "INSERT INTO devices (id, user, public_key, name, created_at, last_seen_at, revoked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, NULL, NULL)",
        params![device.id, user, device.public_key, device.name, device.now],
    )
    .map_err(|e| failed(what, e))?;
    tx.commit().map_err(|e| failed(what, e))?;
    Ok(Paired::Device { user })
}

/// The live (not revoked) device whose key is `public_key`, if any.
pub fn find_live_by_key(
    conn: &Connection,
    public_key: &str,
) -> Result<Option<DeviceRecord>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM devices WHERE public_key = ?1 AND revoked_at IS NULL");
    conn.prepare_cached(&sql)
        .and_then(|mut select| select.query_row([public_key], record).optional())
        .map_err(|e| failed("cannot look up a device", e))
}

/// Records a sign-in of device `id` at `now`.
pub fn touch(conn: &Connection, id: &str, now: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE devices SET last_seen_at = ?2 WHERE id = ?1",
        params![id, now],
    )
    .map(|_| ())
    .map_err(|e| failed("cannot record a device's sign-in", e))
}

/// The devices (of `user`, or everyone's), revoked ones too when `with_revoked`; oldest first.
pub fn list(
    conn: &Connection,
    user: Option<&str>,
    with_revoked: bool,
) -> Result<Vec<DeviceRecord>, StoreError> {
    let what = "cannot list the devices";
    let sql = format!(
        "SELECT {COLUMNS} FROM devices
         WHERE (?1 IS NULL OR user = ?1) AND (?2 OR revoked_at IS NULL)
         ORDER BY created_at, id"
    );
    let mut select = conn.prepare(&sql).map_err(|e| failed(what, e))?;
    let rows = select
        .query_map(params![user, with_revoked], record)
        .map_err(|e| failed(what, e))?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(what, e))
}

/// How many live devices there are (of `user`, or in all).
pub fn count_live(conn: &Connection, user: Option<&str>) -> Result<u64, StoreError> {
    conn.query_row(
        "SELECT COUNT(*) FROM devices WHERE revoked_at IS NULL AND (?1 IS NULL OR user = ?1)",
        params![user],
        |row| row.get(0),
    )
    .map_err(|e| failed("cannot count the devices", e))
}

/// Revokes the live device `id` (only if it is `user`'s, when given), every token issued to
/// it and its push subscriptions, in one transaction. Answers the device as it was, or `None` when there is no such live
/// device (of that user).
pub fn revoke(
    conn: &mut Connection,
    id: &str,
    user: Option<&str>,
    now: &str,
) -> Result<Option<(DeviceRecord, usize)>, StoreError> {
    let what = format!("cannot revoke device {id}");
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| failed(&what, e))?;
    let sql = format!(
        "SELECT {COLUMNS} FROM devices
         WHERE id = ?1 AND revoked_at IS NULL AND (?2 IS NULL OR user = ?2)"
    );
    let found = tx
        .query_row(&sql, params![id, user], record)
        .optional()
        .map_err(|e| failed(&what, e))?;
    let Some(device) = found else {
        return Ok(None);
    };
    tx.execute(
        "UPDATE devices SET revoked_at = ?2 WHERE id = ?1",
        params![id, now],
    )
    .map_err(|e| failed(&what, e))?;
    let tokens = super::tokens::revoke_device(&tx, id, now)?;
    super::push::delete_of_device(&tx, id)?;
    tx.commit().map_err(|e| failed(&what, e))?;
    Ok(Some((device, tokens)))
}

fn record(row: &Row<'_>) -> Result<DeviceRecord, rusqlite::Error> {
    Ok(DeviceRecord {
        id: row.get(0)?,
        user: row.get(1)?,
        public_key: row.get(2)?,
        name: row.get(3)?,
        created_at: row.get(4)?,
        last_seen_at: row.get(5)?,
        revoked_at: row.get(6)?,
    })
}
