//! Opening the SQLite file: connection settings (pragmas) and the schema, migrated forward with
//! `PRAGMA user_version`.
//!
//! Must never: drop or rewrite stored data, run a migration twice, or open a file written by a
//! newer schema than it knows (it refuses instead).

use std::path::Path;
use std::time::Duration;

use actors::store::StoreError;
use rusqlite::{Connection, OpenFlags};

/// How long a connection waits for a lock held by another before it gives up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema, one step per version: step `i` takes `user_version` from `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: sessions, their event logs and their prompt queues.
    "CREATE TABLE sessions (
         id TEXT PRIMARY KEY,
         owner TEXT NOT NULL,
         info TEXT NOT NULL,       -- SessionInfo as JSON; its last_seq may be stale
         created_at TEXT NOT NULL
     );
     CREATE TABLE events (
         session_id TEXT NOT NULL,
         seq INTEGER NOT NULL,
         kind TEXT NOT NULL,
         json TEXT NOT NULL,        -- the event object, exactly as clients receive it
         PRIMARY KEY (session_id, seq)
     ) WITHOUT ROWID;
     CREATE TABLE prompts (
         session_id TEXT NOT NULL,
         prompt_id TEXT NOT NULL,
         text TEXT NOT NULL,
         position INTEGER NOT NULL,
         queued_seq INTEGER NOT NULL,
         state TEXT NOT NULL,       -- queued | running | done
         PRIMARY KEY (session_id, prompt_id)
     );
     -- Start-up reads only the prompts still open, in queue order.
     CREATE INDEX prompts_open ON prompts (session_id, queued_seq) WHERE state <> 'done';",
    // 2: bearer tokens (src/auth), stored only as the SHA-256 of their text.
    "CREATE TABLE tokens (
         id TEXT PRIMARY KEY,
         hash TEXT UNIQUE NOT NULL,  -- hex SHA-256 of the token text; the token itself is never stored
         user TEXT NOT NULL,
         label TEXT,
         created_at TEXT,
         expires_at TEXT NOT NULL,
         revoked_at TEXT
     );",
    // 3: paired devices (a phone's key pair, registered with a one-time pairing code), the
    // codes themselves (only their SHA-256), and the device a token was issued to.
    "CREATE TABLE devices (
         id TEXT PRIMARY KEY,
         user TEXT NOT NULL,
         public_key TEXT NOT NULL,   -- OpenSSH public key line without its comment
         name TEXT NOT NULL,
         created_at TEXT NOT NULL,
         last_seen_at TEXT,
         revoked_at TEXT
     );
     -- A key belongs to at most one live device; sign-in looks it up by key.
     CREATE UNIQUE INDEX devices_live_key ON devices (public_key) WHERE revoked_at IS NULL;
     CREATE INDEX devices_user ON devices (user);
     CREATE TABLE pairing_codes (
         hash TEXT PRIMARY KEY,      -- hex SHA-256 of the code; the code itself is never stored
         user TEXT NOT NULL,
         created_at TEXT NOT NULL,
         expires_at TEXT NOT NULL,
         used_at TEXT
     );
     ALTER TABLE tokens ADD COLUMN device_id TEXT;
     CREATE INDEX tokens_device ON tokens (device_id) WHERE device_id IS NOT NULL;",
    // 4: notifications (src/notify): the app's Web Push subscriptions (each owned by a device,
    // or by a user alone), the notification levels, and the server's VAPID key pair.
    "CREATE TABLE push_subscriptions (
         id TEXT PRIMARY KEY,
         user TEXT NOT NULL,
         device_id TEXT,            -- NULL: the user's, signed in without a paired device
         endpoint TEXT UNIQUE NOT NULL,
         p256dh TEXT NOT NULL,      -- base64url, the browser's ECDH public key
         auth TEXT NOT NULL,        -- base64url, the browser's auth secret
         created_at TEXT NOT NULL
     );
     CREATE INDEX push_subscriptions_user ON push_subscriptions (user);
     CREATE INDEX push_subscriptions_device ON push_subscriptions (device_id)
         WHERE device_id IS NOT NULL;
     CREATE TABLE notify_levels (
         user TEXT NOT NULL,
         session_id TEXT NOT NULL,  -- '' is the user's own level
         level TEXT NOT NULL,       -- all | approvals | none
         PRIMARY KEY (user, session_id)
     ) WITHOUT ROWID;
     CREATE TABLE vapid_key (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         private_key TEXT NOT NULL, -- base64url of the P-256 scalar
         created_at TEXT NOT NULL
     );",
];

/// The schema version this build writes.
pub fn current_version() -> u32 {
    MIGRATIONS.len() as u32
}

/// Opens (creating it and its directory if needed) the file for writing, applies the pragmas
/// and migrates the schema. Returns the connection and the schema version it found on disk.
pub fn open_writer(path: &Path) -> Result<(Connection, u32), StoreError> {
    create_parent_dir(path)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags)
        .map_err(|e| failed(&format!("cannot open {}", path.display()), e))?;
    configure_writer(&conn)?;
    let found = migrate(&mut conn)?;
    Ok((conn, found))
}

/// Opens a read-only connection to a file the writer has already created.
pub fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| failed(&format!("cannot open {} for reading", path.display()), e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| failed("cannot set busy_timeout", e))?;
    Ok(conn)
}

/// Wraps a SQLite error in a [`StoreError`] that says what was being done.
pub fn failed(what: &str, error: rusqlite::Error) -> StoreError {
    StoreError::failed(what, error)
}

fn create_parent_dir(path: &Path) -> Result<(), StoreError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::failed(format!("cannot create directory {}", dir.display()), e)
        }),
        _ => Ok(()),
    }
}

/// The writer's settings.
///
/// `journal_mode=WAL` lets readers run while the writer commits. With WAL, `synchronous=NORMAL`
/// does not fsync on every commit: a committed transaction survives a crash of this process (it
/// is in the WAL file, in the OS's page cache), and the file always stays consistent; only a
/// power loss or OS crash may roll back the last commits. Foreign keys stay off: the schema
/// declares none.
fn configure_writer(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| failed("cannot set busy_timeout", e))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(|e| failed("cannot enable WAL mode", e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::unavailable(format!(
            "the database refused WAL mode (journal_mode is {mode})"
        )));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| failed("cannot set synchronous=NORMAL", e))?;
    conn.pragma_update(None, "foreign_keys", "OFF")
        .map_err(|e| failed("cannot set foreign_keys=OFF", e))?;
    Ok(())
}

/// Applies the missing migrations, each in its own transaction with its version bump.
/// Returns the version found before migrating.
fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    let found: u32 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| failed("cannot read the schema version", e))?;
    let known = current_version();
    if found > known {
        return Err(StoreError::unavailable(format!(
            "the database has schema version {found}, newer than this build knows ({known}); \
             refusing to touch it"
        )));
    }
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        apply_migration(conn, step as u32 + 1, sql)?;
    }
    Ok(found)
}

fn apply_migration(conn: &mut Connection, version: u32, sql: &str) -> Result<(), StoreError> {
    let what = format!("migration to schema version {version} failed");
    let tx = conn.transaction().map_err(|e| failed(&what, e))?;
    tx.execute_batch(sql).map_err(|e| failed(&what, e))?;
    tx.pragma_update(None, "user_version", version)
        .map_err(|e| failed(&what, e))?;
    tx.commit().map_err(|e| failed(&what, e))?;
    log::info!("store schema migrated to version {version}");
    Ok(())
}
