//! The SQL of the notification tables (schema version 4): Web Push subscriptions, notification
//! levels, and the one VAPID key pair. The rules around them are in `crate::notify`; this module
//! only reads and writes rows, on a plain connection (the `store-notify` thread's in the server;
//! a device revoked by `pocket-relay devices revoke` drops its subscriptions in the revoking
//! transaction, see [`delete_of_device`]).
//!
//! Must never: log an endpoint or a key, or show one user another's subscription.

use actors::store::StoreError;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::schema::failed;

/// A stored push subscription.
#[derive(Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    pub id: String,
    pub user: String,
    pub device_id: Option<String>,
    /// The push service URL: a capability, never logged or shown whole.
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
    pub created_at: String,
}

impl std::fmt::Debug for SubscriptionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriptionRecord")
            .field("id", &self.id)
            .field("user", &self.user)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "id, user, device_id, endpoint, p256dh, auth, created_at";

/// Stores `new`; an existing subscription with the same endpoint is replaced (kept with its id
/// when it has the same owner). Answers the stored row and whether it is a new one.
pub fn upsert(
    conn: &mut Connection,
    new: &SubscriptionRecord,
) -> Result<(SubscriptionRecord, bool), StoreError> {
    let what = "cannot store a push subscription";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| failed(what, e))?;
    let sql = format!("SELECT {COLUMNS} FROM push_subscriptions WHERE endpoint = ?1");
    let existing = tx
        .query_row(&sql, [&new.endpoint], record)
        .optional()
        .map_err(|e| failed(what, e))?;
    let (stored, created) = match existing {
        Some(old) if old.user == new.user && old.device_id == new.device_id => {
            tx.execute(
                "UPDATE push_subscriptions SET p256dh = ?2, auth = ?3 WHERE id = ?1",
                params![old.id, new.p256dh, new.auth],
            )
            .map_err(|e| failed(what, e))?;
            let stored = SubscriptionRecord {
                p256dh: new.p256dh.clone(),
                auth: new.auth.clone(),
                ..old
            };
            (stored, false)
        }
        other => {
            if let Some(old) = other {
                tx.execute("DELETE FROM push_subscriptions WHERE id = ?1", [&old.id])
                    .map_err(|e| failed(what, e))?;
            }
            tx.execute(
                "INSERT INTO push_subscriptions (id, user, device_id, endpoint, p256dh, auth, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    new.id,
                    new.user,
                    new.device_id,
                    new.endpoint,
                    new.p256dh,
                    new.auth,
                    new.created_at
                ],
            )
            .map_err(|e| failed(what, e))?;
            (new.clone(), true)
        }
    };
    tx.commit().map_err(|e| failed(what, e))?;
    Ok((stored, created))
}

/// `user`'s subscriptions, oldest first.
pub fn of_user(conn: &Connection, user: &str) -> Result<Vec<SubscriptionRecord>, StoreError> {
    let what = "cannot list push subscriptions";
    let sql =
        format!("SELECT {COLUMNS} FROM push_subscriptions WHERE user = ?1 ORDER BY created_at, id");
    let mut select = conn.prepare_cached(&sql).map_err(|e| failed(what, e))?;
    let rows = select
        .query_map([user], record)
        .map_err(|e| failed(what, e))?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(what, e))
}

/// Whether subscription `id` is still stored.
pub fn exists(conn: &Connection, id: &str) -> Result<bool, StoreError> {
    conn.prepare_cached("SELECT 1 FROM push_subscriptions WHERE id = ?1")
        .and_then(|mut select| select.exists([id]))
        .map_err(|e| failed("cannot look up a push subscription", e))
}

/// Deletes subscription `id` (only `user`'s, when given); whether there was one.
pub fn delete(conn: &Connection, id: &str, user: Option<&str>) -> Result<bool, StoreError> {
    conn.execute(
        "DELETE FROM push_subscriptions WHERE id = ?1 AND (?2 IS NULL OR user = ?2)",
        params![id, user],
    )
    .map(|n| n > 0)
    .map_err(|e| failed("cannot delete a push subscription", e))
}

/// Deletes every subscription of device `device_id` (inside the revoking transaction).
pub fn delete_of_device(conn: &Connection, device_id: &str) -> Result<usize, StoreError> {
    conn.execute(
        "DELETE FROM push_subscriptions WHERE device_id = ?1",
        [device_id],
    )
    .map_err(|e| failed("cannot delete a device's push subscriptions", e))
}

/// `user`'s levels: `("", level)` for the user's own, `(session_id, level)` per session.
pub fn levels(conn: &Connection, user: &str) -> Result<Vec<(String, String)>, StoreError> {
    let what = "cannot read notification levels";
    let mut select = conn
        .prepare_cached("SELECT session_id, level FROM notify_levels WHERE user = ?1")
        .map_err(|e| failed(what, e))?;
    let rows = select
        .query_map([user], |row| Ok((row.get(0)?, row.get(1)?)))
        .map_err(|e| failed(what, e))?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(what, e))
}

/// Sets `user`'s level for `session_id` (`""`: the user's own); `None` removes it.
pub fn set_level(
    conn: &Connection,
    user: &str,
    session_id: &str,
    level: Option<&str>,
) -> Result<(), StoreError> {
    let what = "cannot store a notification level";
    match level {
        Some(level) => conn.execute(
            "INSERT INTO notify_levels (user, session_id, level) VALUES (?1, ?2, ?3)
             ON CONFLICT (user, session_id) DO UPDATE SET level = excluded.level",
            params![user, session_id, level],
        ),
        None => conn.execute(
            "DELETE FROM notify_levels WHERE user = ?1 AND session_id = ?2",
            params![user, session_id],
        ),
    }
    .map(|_| ())
    .map_err(|e| failed(what, e))
}

/// The stored VAPID private key, or `make()`'s stored now (whichever process wins keeps its key).
pub fn vapid_key(conn: &Connection, make: String, now: &str) -> Result<String, StoreError> {
    let what = "cannot read or store the VAPID key";
    conn.execute(
        "INSERT INTO vapid_key (id, private_key, created_at) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO NOTHING",
        params![make, now],
    )
    .map_err(|e| failed(what, e))?;
    conn.query_row(
        "SELECT private_key FROM vapid_key WHERE id = 1",
        [],
        |row| row.get(0),
    )
    .map_err(|e| failed(what, e))
}

fn record(row: &Row<'_>) -> Result<SubscriptionRecord, rusqlite::Error> {
    Ok(SubscriptionRecord {
        id: row.get(0)?,
        user: row.get(1)?,
        device_id: row.get(2)?,
        endpoint: row.get(3)?,
        p256dh: row.get(4)?,
        auth: row.get(5)?,
        created_at: row.get(6)?,
    })
}
