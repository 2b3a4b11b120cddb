//! The SQL of the `tokens` table (schema version 2): bearer tokens, stored only as the hex
//! SHA-256 of their text. The logic around it (issuing, checking, revoking) is in
//! `crate::auth::tokens`; this module only reads and writes rows.
//!
//! Tokens are written on a plain connection ([`super::open_connection`]), not through the event
//! writer thread: sign-in and the `token` command are rare, and the command runs in another
//! process while the server runs. In the server that connection belongs to a store thread
//! (`store-auth`, see [`super::thread`]; the revocation watcher has its own), never to an async
//! worker.
//!
//! Must never: return or log a hash from a listing, or panic on what it reads from disk.

use actors::store::StoreError;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::schema::failed;

/// A token to insert. `hash` is the hex SHA-256 of the token text.
pub struct NewToken<'a> {
    pub id: &'a str,
    pub hash: &'a str,
    pub user: &'a str,
    pub label: Option<&'a str>,
    pub created_at: &'a str,
    pub expires_at: &'a str,
    /// The paired device it is issued to; such a token is stored only while the device is not
    /// revoked (checked in the same statement, so a revocation cannot be overtaken).
    pub device_id: Option<&'a str>,
}

/// A stored token as it may be shown: everything but its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub user: String,
    pub label: Option<String>,
    pub created_at: Option<String>,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    /// The paired device it was issued to, if any.
    pub device_id: Option<String>,
}

/// What [`revoke`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revoked {
    /// The token was live (or expired) and is now revoked.
    Now,
    /// It had been revoked before; nothing changed.
    Already,
    /// No token has that id.
    Unknown,
}

const COLUMNS: &str = "id, user, label, created_at, expires_at, revoked_at, device_id";

/// Inserts a new token. `Ok(false)`: it names a device that is revoked or unknown, and nothing
/// was stored.
pub fn insert(conn: &Connection, token: &NewToken<'_>) -> Result<bool, StoreError> {
    conn.prepare_cached(
        "INSERT INTO tokens (id, hash, user, label, created_at, expires_at, revoked_at, device_id)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7
         WHERE ?7 IS NULL
            OR EXISTS (SELECT 1 FROM devices WHERE id = ?7 AND revoked_at IS NULL)",
    )
    .and_then(|mut insert| {
        insert.execute(params![
            token.id,
            token.hash,
            token.user,
            token.label,
            token.created_at,
            token.expires_at,
            token.device_id
        ])
    })
    .map(|inserted| inserted == 1)
    .map_err(|e| failed("cannot store a new token", e))
}

/// Revokes every live token of device `device_id` at `now`; answers how many.
pub fn revoke_device(conn: &Connection, device_id: &str, now: &str) -> Result<usize, StoreError> {
    conn.execute(
        "UPDATE tokens SET revoked_at = ?2 WHERE device_id = ?1 AND revoked_at IS NULL",
        params![device_id, now],
    )
    .map_err(|e| {
        failed(
            &format!("cannot revoke the tokens of device {device_id}"),
            e,
        )
    })
}

/// The token whose hash is `hash`, if any (one lookup through the hash's unique index).
pub fn find_by_hash(conn: &Connection, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM tokens WHERE hash = ?1");
    conn.prepare_cached(&sql)
        .and_then(|mut select| select.query_row([hash], record).optional())
        .map_err(|e| failed("cannot look up a token", e))
}

/// Every token, oldest first.
pub fn list(conn: &Connection) -> Result<Vec<TokenRecord>, StoreError> {
    let what = "cannot list the tokens";
    let sql = format!("SELECT {COLUMNS} FROM tokens ORDER BY created_at, id");
    let mut select = conn.prepare(&sql).map_err(|e| failed(what, e))?;
    let rows = select.query_map([], record).map_err(|e| failed(what, e))?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(what, e))
}

/// Marks the token `id` revoked at `now`, unless it already is.
pub fn revoke(conn: &Connection, id: &str, now: &str) -> Result<Revoked, StoreError> {
    let what = format!("cannot revoke token {id}");
    let changed = conn
        .execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, now],
        )
        .map_err(|e| failed(&what, e))?;
    if changed > 0 {
        return Ok(Revoked::Now);
    }
    let exists = conn
        .query_row("SELECT 1 FROM tokens WHERE id = ?1", [id], |_| Ok(()))
        .optional()
        .map_err(|e| failed(&what, e))?;
    Ok(if exists.is_some() {
        Revoked::Already
    } else {
        Revoked::Unknown
    })
}

/// Whether the token `id` still exists and is not revoked (expiry is the caller's business).
/// One lookup through the primary key.
pub fn not_revoked(conn: &Connection, id: &str) -> Result<bool, StoreError> {
    conn.prepare_cached("SELECT revoked_at IS NULL FROM tokens WHERE id = ?1")
        .and_then(|mut select| {
            select
                .query_row([id], |row| row.get::<_, bool>(0))
                .optional()
        })
        .map(|found| found.unwrap_or(false))
        .map_err(|e| failed("cannot check a token", e))
}

/// SQLite's `data_version`: it changes whenever another connection commits to the file, so a
/// watcher can skip its lookups while nothing was written.
pub fn data_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA data_version", [], |row| row.get(0))
        .map_err(|e| failed("cannot read data_version", e))
}

fn record(row: &Row<'_>) -> Result<TokenRecord, rusqlite::Error> {
    Ok(TokenRecord {
        id: row.get(0)?,
        user: row.get(1)?,
        label: row.get(2)?,
        created_at: row.get(3)?,
        expires_at: row.get(4)?,
        revoked_at: row.get(5)?,
        device_id: row.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token<'a>(id: &'a str, hash: &'a str, created_at: &'a str) -> NewToken<'a> {
        NewToken {
            id,
            hash,
            user: "alice",
            label: Some("phone"),
            created_at,
            expires_at: "2099-01-01T00:00:00.000Z",
            device_id: None,
        }
    }

    #[test]
    fn insert_find_list_revoke() {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = super::super::open_connection(&dir.path().join("t.db")).expect("open");
        insert(&conn, &token("a1", "h1", "2025-01-01T00:00:00.000Z")).expect("insert a1");
        insert(&conn, &token("b2", "h2", "2025-01-02T00:00:00.000Z")).expect("insert b2");
        assert!(
            insert(&conn, &token("c3", "h1", "2025-01-03T00:00:00.000Z")).is_err(),
            "hashes are unique"
        );

        let found = find_by_hash(&conn, "h2").expect("find").expect("present");
        assert_eq!(found.id, "b2");
        assert_eq!(found.label.as_deref(), Some("phone"));
        assert_eq!(found.revoked_at, None);
        assert_eq!(find_by_hash(&conn, "nope").expect("find"), None);

        let ids: Vec<String> = list(&conn)
            .expect("list")
            .into_iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(ids, vec!["a1", "b2"]);

        let now = "2025-02-01T00:00:00.000Z";
        assert_eq!(revoke(&conn, "a1", now).expect("revoke"), Revoked::Now);
        assert_eq!(revoke(&conn, "a1", now).expect("revoke"), Revoked::Already);
        assert_eq!(revoke(&conn, "zz", now).expect("revoke"), Revoked::Unknown);
        let revoked = find_by_hash(&conn, "h1").expect("find").expect("present");
        assert_eq!(revoked.revoked_at.as_deref(), Some(now));
        assert!(!not_revoked(&conn, "a1").expect("check"));
        assert!(not_revoked(&conn, "b2").expect("check"));
        assert!(
            !not_revoked(&conn, "zz").expect("check"),
            "an unknown id is not live"
        );
    }
}
