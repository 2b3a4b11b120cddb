//! The SQLite implementation of the domain's [`EventStore`]: sessions, their event logs and
//! their prompt queues in one file.
//!
//! Writes go through one writer thread that commits many sessions' batches per transaction
//! ([`writer`]); reads use a small pool of read-only connections on tokio's blocking threads
//! ([`reader`]); the tokens and devices tables are reached through a [`thread::StoreThread`]
//! that owns their connection. Must never: run a query on an async thread, overwrite or reorder
//! a stored event, or panic on what it reads from disk.

mod checkpoint;
pub mod devices;
mod images;
pub mod push;
mod reader;
mod schema;
pub mod thread;
pub mod tokens;
mod writer;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use actors::capabilities::Capabilities;
use actors::event::EncodedEvent;
use actors::ids::{PromptId, Seq, SessionId};
use actors::prompt_images::PromptImage;
use actors::session_info::SessionInfo;
use actors::store::{EventStore, StoreError, StoredPrompt, StoredSession, WriteBatch};
use futures_util::future::{self, BoxFuture, FutureExt};
use rusqlite::{Connection, Row};

use crate::config::StorageConfig;
use reader::{select_earliest_seq, select_events, select_events_before, ReadPool};
use schema::failed;
use writer::Writer;

/// The store: one writer thread and a pool of readers over one SQLite file.
pub struct SqliteStore {
    /// Declared (and so dropped) before the writer, whose final checkpoint it must not race.
    checkpointer: checkpoint::Checkpointer,
    writer: Writer,
    readers: Arc<ReadPool>,
}

impl SqliteStore {
    /// Opens the file at `settings.path`, creating it (and its directory) on first start and
    /// migrating its schema, and starts the writer and checkpoint threads. The file is opened
    /// on a thread of its own, which this waits for (a start-up step), so no SQLite call runs
    /// on the caller's thread, an async one included.
    pub fn open(settings: &StorageConfig) -> Result<SqliteStore, StoreError> {
        on_own_thread(|| SqliteStore::open_here(settings))
    }

    fn open_here(settings: &StorageConfig) -> Result<SqliteStore, StoreError> {
        let path = settings.path.as_path();
        let retain_events = settings.retain_events;
        let (conn, found) = schema::open_writer(path)?;
        log::info!(
            "store opened at {} (schema version {found}, now {}; retain_events {retain_events})",
            path.display(),
            schema::current_version()
        );
        let wal_limit_pages = checkpoint::pages(settings.wal_limit_mb);
        let writer = Writer::start(conn, retain_events, wal_limit_pages)?;
        let checkpointer = checkpoint::Checkpointer::start(path)?;
        Ok(SqliteStore {
            checkpointer,
            writer,
            readers: ReadPool::new(path.to_path_buf()),
        })
    }

    /// Stops taking writes, waits until everything already queued is committed, and stops the
    /// writer thread. Later writes fail with "the store is closed"; reads still work. Blocks the
    /// calling thread; meant for server shutdown. Safe to call more than once.
    pub fn flush_and_close(&self) {
        self.checkpointer.stop();
        if self.writer.close() {
            log::info!("store closed: every queued write is committed");
        }
    }
}

impl EventStore for SqliteStore {
    fn write(&self, batch: WriteBatch) -> BoxFuture<'static, Result<(), StoreError>> {
        match self.writer.submit(batch) {
            Ok(result) => async move {
                result
                    .await
                    .unwrap_or_else(|_| Err(StoreError::unavailable("the store's writer stopped")))
            }
            .boxed(),
            Err(error) => future::ready(Err(error)).boxed(),
        }
    }

    fn read_events(
        &self,
        session_id: SessionId,
        after: Seq,
        limit: usize,
    ) -> BoxFuture<'static, Result<Vec<Arc<EncodedEvent>>, StoreError>> {
        let readers = self.readers.clone();
        readers
            .read(move |conn| select_events(conn, session_id, after, limit))
            .boxed()
    }

    fn read_events_before(
        &self,
        session_id: SessionId,
        before: Seq,
        limit: usize,
    ) -> BoxFuture<'static, Result<Vec<Arc<EncodedEvent>>, StoreError>> {
        let readers = self.readers.clone();
        readers
            .read(move |conn| select_events_before(conn, session_id, before, limit))
            .boxed()
    }

    fn earliest_seq(
        &self,
        session_id: SessionId,
    ) -> BoxFuture<'static, Result<Option<Seq>, StoreError>> {
        let readers = self.readers.clone();
        readers
            .read(move |conn| select_earliest_seq(conn, session_id))
            .boxed()
    }

    fn read_image(
        &self,
        session_id: SessionId,
        prompt_id: PromptId,
        index: usize,
    ) -> BoxFuture<'static, Result<Option<PromptImage>, StoreError>> {
        let readers = self.readers.clone();
        readers
            .read(move |conn| images::select_one(conn, session_id, prompt_id.as_str(), index))
            .boxed()
    }

    fn load_sessions(&self) -> Result<Vec<StoredSession>, StoreError> {
        let sessions = on_own_thread(|| self.readers.read_now(select_sessions))?;
        log::info!("store: {} sessions loaded", sessions.len());
        Ok(sessions)
    }

    fn check(&self) -> BoxFuture<'static, Result<(), StoreError>> {
        if !self.writer.is_running() {
            return future::ready(Err(StoreError::unavailable(
                "the store's writer is not running",
            )))
            .boxed();
        }
        if let Some(error) = self.writer.failing() {
            return future::ready(Err(StoreError::unavailable(format!(
                "writes are failing: {error}"
            ))))
            .boxed();
        }
        let readers = self.readers.clone();
        readers
            .read(|conn| {
                conn.query_row("SELECT 1", [], |_| Ok(()))
                    .map_err(|e| failed("the store does not answer", e))
            })
            .boxed()
    }
}

/// Runs `work` on a thread of its own and waits for it: for the start-up steps that the caller
/// waits for anyway, so that their SQLite calls do not run on the caller's (async) thread.
fn on_own_thread<T: Send>(
    work: impl FnOnce() -> Result<T, StoreError> + Send,
) -> Result<T, StoreError> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("store-open".into())
            .spawn_scoped(scope, work)
            .map_err(|e| StoreError::failed("cannot start a store thread", e))?
            .join()
            .unwrap_or_else(|_| Err(StoreError::unavailable("a store thread panicked")))
    })
}

/// A plain read-write connection to the store's file, for the few tables written outside the
/// writer thread (the tokens of [`tokens`], the devices of [`devices`]), owned by a store thread
/// in the server and by the command in `pocket-relay token|pair|devices`. Creates and migrates the file like
/// [`SqliteStore::open`], so it also works before the server ever ran, and while it runs (WAL
/// lets a second connection, in this process or another, write between the writer's commits).
pub fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    schema::open_writer(path).map(|(conn, _)| conn)
}

/// Every session that parses, with its real last seq and its open prompts. Rows that do not
/// parse are logged and skipped.
fn select_sessions(conn: &Connection) -> Result<Vec<StoredSession>, StoreError> {
    let mut prompts = select_open_prompts(conn)?;
    let what = "cannot read the sessions";
    let mut select = conn
        .prepare(
            "SELECT s.id, s.info, (SELECT MAX(e.seq) FROM events e WHERE e.session_id = s.id),
                    s.capabilities
             FROM sessions s ORDER BY s.created_at, s.id",
        )
        .map_err(|e| failed(what, e))?;
    let mut rows = select.query([]).map_err(|e| failed(what, e))?;
    let mut sessions = Vec::new();
    while let Some(row) = rows.next().map_err(|e| failed(what, e))? {
        if let Some((id, info)) = session_from_row(row) {
            let prompts = prompts.remove(&id).unwrap_or_default();
            let capabilities = capabilities_from_row(&id, row);
            sessions.push(StoredSession {
                info,
                capabilities,
                prompts,
            });
        }
    }
    Ok(sessions)
}

/// A session row as its id and its [`SessionInfo`] with `last_seq` from its events; `None`
/// (logged) when the row cannot be read.
fn session_from_row(row: &Row<'_>) -> Option<(String, SessionInfo)> {
    let read = || -> Result<(String, String, Option<Seq>), rusqlite::Error> {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
    };
    let (id, json, last_seq) = match read() {
        Ok(columns) => columns,
        Err(error) => {
            log::error!("store: skipping an unreadable session row: {error}");
            return None;
        }
    };
    let mut info: SessionInfo = match serde_json::from_str(&json) {
        Ok(info) => info,
        Err(error) => {
            log::error!("store: skipping session {id}: its stored JSON does not parse: {error}");
            return None;
        }
    };
    if info.id.to_string() != id {
        log::error!(
            "store: skipping session row {id}: its JSON names session {}",
            info.id
        );
        return None;
    }
    info.last_seq = last_seq.unwrap_or(0);
    Some((id, info))
}

/// A session row's stored capabilities; `None` when it has none or they do not parse (logged: the
/// next process reports them again).
fn capabilities_from_row(id: &str, row: &Row<'_>) -> Option<Capabilities> {
    let json: Option<String> = row.get(3).ok().flatten();
    match serde_json::from_str(&json?) {
        Ok(capabilities) => Some(capabilities),
        Err(error) => {
            log::warn!("store: session {id}: its stored capabilities do not parse: {error}");
            None
        }
    }
}

/// Every prompt of every session, by session id, in queue order. Done prompts come without
/// their text: the session only needs their ids, to answer retries of them idempotently.
fn select_open_prompts(
    conn: &Connection,
) -> Result<HashMap<String, Vec<StoredPrompt>>, StoreError> {
    let what = "cannot read the prompt queues";
    let mut select = conn
        .prepare(
            "SELECT session_id, prompt_id, CASE WHEN state = 'done' THEN '' ELSE text END,
                    position, state FROM prompts
             ORDER BY session_id, queued_seq",
        )
        .map_err(|e| failed(what, e))?;
    let mut rows = select.query([]).map_err(|e| failed(what, e))?;
    let mut images = images::select_queued(conn)?;
    let mut prompts: HashMap<String, Vec<StoredPrompt>> = HashMap::new();
    while let Some(row) = rows.next().map_err(|e| failed(what, e))? {
        match prompt_from_row(row) {
            Ok((session, mut prompt)) => {
                let key = (session, prompt.prompt_id.as_str().to_string());
                prompt.images = images.remove(&key).unwrap_or_default();
                prompts.entry(key.0).or_default().push(prompt)
            }
            Err(error) => log::error!("store: skipping an unreadable prompt row: {error}"),
        }
    }
    Ok(prompts)
}

fn prompt_from_row(row: &Row<'_>) -> Result<(String, StoredPrompt), rusqlite::Error> {
    let session: String = row.get(0)?;
    let prompt = StoredPrompt {
        prompt_id: PromptId::new(row.get::<_, String>(1)?),
        text: row.get(2)?,
        position: row.get(3)?,
        images: Vec::new(),
        state: row.get(4)?,
    };
    Ok((session, prompt))
}

#[cfg(test)]
mod tests {
    use super::*;

    use actors::session_info::{PermissionMode, SessionStatus};
    use actors::store::PromptChange;
    use futures_util::future::join_all;
    use tempfile::TempDir;

    fn open(retain_events: u64) -> (TempDir, SqliteStore) {
        open_with(retain_events, StorageConfig::default().wal_limit_mb)
    }

    fn open_with(retain_events: u64, wal_limit_mb: u64) -> (TempDir, SqliteStore) {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = StorageConfig {
            path: db_path(&dir),
            retain_events,
            wal_limit_mb,
        };
        let store = SqliteStore::open(&settings).expect("open store");
        (dir, store)
    }

    /// The default settings with the file at `path`.
    fn at(path: &std::path::Path) -> StorageConfig {
        StorageConfig {
            path: path.to_path_buf(),
            ..StorageConfig::default()
        }
    }

    fn db_path(dir: &TempDir) -> std::path::PathBuf {
        dir.path().join("nested").join("relay.db")
    }

    fn info(id: SessionId, last_seq: Seq) -> SessionInfo {
        SessionInfo {
            id,
            owner: actors::ids::UserId::new("local"),
            title: Some("test".into()),
            cwd: "/tmp".into(),
            model: None,
            effort: None,
            permission_mode: PermissionMode::default_mode(),
            stream_deltas: false,
            status: SessionStatus::Idle,
            paused: false,
            claude_session_id: None,
            created_at: "2025-01-01T00:00:00.000Z".into(),
            updated_at: "2025-01-01T00:00:00.000Z".into(),
            last_seq,
            queue_length: 0,
            pending_permissions: Vec::new(),
            allowed_rules: Vec::new(),
            terminal_command: None,
            continued_from: None,
        }
    }

    fn event(id: SessionId, seq: Seq) -> Arc<EncodedEvent> {
        let json = format!(
            r#"{{"session_id":"{id}","seq":{seq},"ts":"2025-01-01T00:00:00.000Z","kind":"agent.stderr","data":{{"text":"line {seq}"}}}}"#
        );
        Arc::new(EncodedEvent::from_stored(
            id,
            seq,
            "agent.stderr".into(),
            json,
        ))
    }

    fn batch(id: SessionId, seqs: std::ops::RangeInclusive<Seq>) -> WriteBatch {
        WriteBatch {
            session_id: id,
            events: seqs.map(|seq| event(id, seq)).collect(),
            snapshot: None,
            capabilities: None,
            prompts: Vec::new(),
            delete: false,
        }
    }

    fn queued(prompt: &str, position: usize, seq: Seq) -> PromptChange {
        PromptChange::Queued {
            prompt_id: PromptId::new(prompt),
            text: format!("do {prompt}"),
            position,
            images: Vec::new(),
            seq,
        }
    }

    fn seqs(events: &[Arc<EncodedEvent>]) -> Vec<Seq> {
        events.iter().map(|event| event.seq).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_sessions_read_back_in_order() {
        let (_dir, store) = open(0);
        let store = Arc::new(store);
        let sessions: Vec<SessionId> = (0..8).map(|_| SessionId::new()).collect();
        let writers = sessions.iter().map(|&id| {
            let store = store.clone();
            tokio::spawn(async move {
                for start in (1..=100).step_by(5) {
                    let mut next = batch(id, start..=start + 4);
                    next.snapshot = Some(info(id, start + 4));
                    store.write(next).await.expect("write");
                }
            })
        });
        for writer in join_all(writers).await {
            writer.expect("writer task");
        }
        for &id in &sessions {
            let all = store.read_events(id, 0, 1000).await.expect("read");
            assert_eq!(seqs(&all), (1..=100).collect::<Vec<_>>());
            assert!(all.iter().all(|event| event.session_id == id));
            assert_eq!(&*all[0].json, &*event(id, 1).json);
            assert!(all[0].json.starts_with("{\"session_id\""));
            let page = store.read_events(id, 50, 10).await.expect("read page");
            assert_eq!(seqs(&page), (51..=60).collect::<Vec<_>>());
            let before = store
                .read_events_before(id, 51, 10)
                .await
                .expect("read back");
            assert_eq!(seqs(&before), (41..=50).collect::<Vec<_>>());
            let first = store
                .read_events_before(id, 4, 10)
                .await
                .expect("read start");
            assert_eq!(seqs(&first), vec![1, 2, 3]);
            assert_eq!(store.earliest_seq(id).await.expect("earliest"), Some(1));
        }
        let loaded = store.load_sessions().expect("load");
        assert_eq!(loaded.len(), 8);
        assert!(loaded.iter().all(|stored| stored.info.last_seq == 100));
        store.check().await.expect("check");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn duplicate_seq_fails_only_its_batch() {
        let _ = env_logger::builder().is_test(true).try_init();
        let (dir, store) = open(0);
        let (a, b, c) = (SessionId::new(), SessionId::new(), SessionId::new());
        store.write(batch(a, 1..=3)).await.expect("first write");

        // Hold the write lock so the writer stalls on a first batch while the next two queue
        // up behind it: they are then committed as one group, and the duplicate must not sink
        // the other session's batch.
        let blocker = Connection::open(db_path(&dir)).expect("raw connection");
        blocker
            .execute_batch("BEGIN IMMEDIATE")
            .expect("take the write lock");
        let stalled = store.write(batch(c, 1..=1));
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let mut duplicate = batch(a, 3..=4);
        duplicate.snapshot = Some(info(a, 4));
        duplicate.prompts.push(queued("p1", 0, 4));
        let mut fine = batch(b, 1..=2);
        fine.snapshot = Some(info(b, 2));
        let (dup_write, fine_write) = (store.write(duplicate), store.write(fine));
        blocker
            .execute_batch("COMMIT")
            .expect("release the write lock");
        let (stalled_result, dup_result, fine_result) =
            futures_util::join!(stalled, dup_write, fine_write);

        stalled_result.expect("the stalled batch commits once the lock is free");
        let error = dup_result.expect_err("a duplicate seq must fail");
        assert!(
            error.to_string().contains("seq 3"),
            "unhelpful error: {error}"
        );
        fine_result.expect("the other session's batch commits");
        // Nothing of the failed batch was kept, and seq 3 was not overwritten.
        assert_eq!(
            seqs(&store.read_events(a, 0, 100).await.expect("read a")),
            vec![1, 2, 3]
        );
        assert_eq!(
            seqs(&store.read_events(b, 0, 100).await.expect("read b")),
            vec![1, 2]
        );
        let loaded = store.load_sessions().expect("load");
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].info.id, b);
    }

    #[tokio::test]
    async fn prompt_states_and_restart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = db_path(&dir);
        let id = SessionId::new();
        {
            let store = SqliteStore::open(&at(&path)).expect("open");
            let mut first = batch(id, 1..=4);
            first.snapshot = Some(info(id, 1));
            first.prompts = vec![queued("p1", 0, 2), queued("p2", 1, 3), queued("p3", 2, 4)];
            store.write(first).await.expect("queue");
            let mut second = batch(id, 5..=6);
            second.prompts = vec![
                PromptChange::Started {
                    prompt_id: PromptId::new("p1"),
                },
                PromptChange::Finished {
                    prompt_id: PromptId::new("p1"),
                },
            ];
            store.write(second).await.expect("run p1");
            let mut third = batch(id, 7..=7);
            third.prompts = vec![PromptChange::Started {
                prompt_id: PromptId::new("p2"),
            }];
            store.write(third).await.expect("start p2");
            store.flush_and_close();
            store.flush_and_close();
            assert!(
                store.write(batch(id, 8..=8)).await.is_err(),
                "closed store accepts writes"
            );
            assert!(store.check().await.is_err(), "closed store reports ready");
        }
        // A row that does not parse is skipped, not fatal.
        let conn = Connection::open(&path).expect("raw connection");
        conn.execute(
            "INSERT INTO sessions (id, owner, info, created_at) VALUES ('broken', 'local', '{not json', '')",
            [],
        )
        .expect("insert broken row");
        drop(conn);

        let store = SqliteStore::open(&at(&path)).expect("reopen");
        let loaded = store.load_sessions().expect("load");
        assert_eq!(loaded.len(), 1);
        let session = &loaded[0];
        assert_eq!(session.info.id, id);
        assert_eq!(
            session.info.last_seq, 7,
            "last_seq comes from the events, not the snapshot"
        );
        let open: Vec<(&str, &str, usize)> = session
            .prompts
            .iter()
            .map(|p| (p.prompt_id.as_str(), p.state.as_str(), p.position))
            .collect();
        assert_eq!(
            open,
            vec![("p1", "done", 0), ("p2", "running", 1), ("p3", "queued", 2)]
        );
        assert_eq!(
            session.prompts[0].text, "",
            "done prompts come without text"
        );
        assert_eq!(session.prompts[2].text, "do p3");
        store
            .write(batch(id, 8..=8))
            .await
            .expect("the log continues after a restart");
    }

    #[tokio::test]
    async fn delete_removes_everything() {
        let (dir, store) = open(0);
        let (gone, kept) = (SessionId::new(), SessionId::new());
        for id in [gone, kept] {
            let mut first = batch(id, 1..=3);
            first.snapshot = Some(info(id, 3));
            first.prompts = vec![queued("p1", 0, 2)];
            store.write(first).await.expect("write");
        }
        let mut last = batch(gone, 4..=4);
        last.delete = true;
        store.write(last).await.expect("delete");

        assert!(store
            .read_events(gone, 0, 100)
            .await
            .expect("read")
            .is_empty());
        assert_eq!(store.earliest_seq(gone).await.expect("earliest"), None);
        let loaded = store.load_sessions().expect("load");
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].info.id, kept);
        assert_eq!(loaded[0].prompts.len(), 1);
        let conn = Connection::open(db_path(&dir)).expect("raw connection");
        let prompts: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM prompts WHERE session_id = ?1",
                [gone.to_string()],
                |row| row.get(0),
            )
            .expect("count");
        assert_eq!(prompts, 0);
    }

    #[tokio::test]
    async fn retention_prunes_old_events() {
        let (_dir, store) = open(10);
        let id = SessionId::new();
        for start in (1..=25).step_by(5) {
            let mut next = batch(id, start..=start + 4);
            next.snapshot = Some(info(id, start + 4));
            store.write(next).await.expect("write");
        }
        assert_eq!(store.earliest_seq(id).await.expect("earliest"), Some(16));
        assert_eq!(
            seqs(&store.read_events(id, 0, 100).await.expect("read")),
            (16..=25).collect::<Vec<_>>()
        );
        assert_eq!(store.load_sessions().expect("load")[0].info.last_seq, 25);
    }

    #[tokio::test]
    async fn prompt_images_live_as_long_as_their_prompt_needs_them() {
        use actors::prompt_images::{ImageType, PromptImage};
        let image = |byte: u8| PromptImage {
            kind: ImageType::Gif,
            bytes: vec![b'G', b'I', b'F', b'8', b'9', b'a', byte].into(),
        };
        let (_dir, store) = open(4);
        let id = SessionId::new();
        // p1 runs to the end; p2 stays queued.
        let mut first = batch(id, 1..=2);
        first.snapshot = Some(info(id, 2));
        for (prompt, seq, images) in [
            ("p1", 1, vec![image(1), image(2)]),
            ("p2", 2, vec![image(3)]),
        ] {
            first.prompts.push(PromptChange::Queued {
                prompt_id: PromptId::new(prompt),
                text: String::new(),
                position: 0,
                images,
                seq,
            });
        }
        first.prompts.push(PromptChange::Started {
            prompt_id: PromptId::new("p1"),
        });
        store.write(first).await.expect("write");
        let read = |prompt: &str, index| store.read_image(id, PromptId::new(prompt), index);
        assert_eq!(read("p1", 1).await.expect("read"), Some(image(2)));
        assert_eq!(read("p1", 2).await.expect("read"), None);
        let loaded = store.load_sessions().expect("load");
        let prompts = &loaded[0].prompts;
        assert!(
            prompts[0].images.is_empty(),
            "a running prompt's go nowhere"
        );
        assert_eq!(
            prompts[1].images,
            vec![image(3)],
            "a queued prompt's come back"
        );

        // Both prompt.queued events pruned: the finished prompt's images go, the queued one's stay.
        let mut second = batch(id, 3..=8);
        second.prompts.push(PromptChange::Finished {
            prompt_id: PromptId::new("p1"),
        });
        store.write(second).await.expect("write");
        assert_eq!(store.earliest_seq(id).await.expect("earliest"), Some(5));
        assert_eq!(read("p1", 0).await.expect("read"), None);
        assert_eq!(read("p2", 0).await.expect("read"), Some(image(3)));

        let mut gone = batch(id, 9..=9);
        gone.delete = true;
        store.write(gone).await.expect("delete");
        assert_eq!(read("p2", 0).await.expect("read"), None);
    }

    #[tokio::test]
    async fn the_wal_is_copied_back_by_the_checkpoint_thread() {
        let (dir, store) = open(0);
        let path = db_path(&dir);
        let wal = path.with_file_name("relay.db-wal");
        let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let before = size(&path);
        let id = SessionId::new();
        // Far more than the 1,000 pages after which a commit would checkpoint by itself.
        for start in (1..=20_000).step_by(500) {
            store
                .write(batch(id, start..=start + 499))
                .await
                .expect("write");
        }
        assert!(size(&wal) > 0, "the writes went to the WAL");
        // No commit checkpoints; the database file grows once the checkpoint thread has run.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while size(&path) <= before {
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint within 20 s (database {} bytes, WAL {} bytes)",
                size(&path),
                size(&wal)
            );
            tokio::task::yield_now().await;
        }
        let events = store.read_events(id, 0, 20_000).await.expect("read");
        assert_eq!(events.len(), 20_000);
    }

    #[tokio::test]
    async fn the_wal_stays_bounded_under_steady_writes() {
        // Without the writer's checkpoint these writes grow the WAL past 90 MB.
        let wal_limit_mb = 4;
        let (dir, store) = open_with(0, wal_limit_mb);
        let wal = db_path(&dir).with_file_name("relay.db-wal");
        let sessions: Vec<SessionId> = (0..8).map(|_| SessionId::new()).collect();
        // Sessions interleaved, as in a busy relay: every commit rewrites each one's last page.
        for round in 0..400u64 {
            let writes = sessions
                .iter()
                .map(|id| store.write(batch(*id, round * 25 + 1..=round * 25 + 25)));
            for result in join_all(writes).await {
                result.expect("write");
            }
        }
        let limit = wal_limit_mb * 1024 * 1024 * 2;
        let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        assert!(size <= limit, "the WAL grew to {size} bytes");
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("future.db");
        let conn = Connection::open(&path).expect("raw connection");
        conn.pragma_update(None, "user_version", 99)
            .expect("set version");
        drop(conn);
        let error = SqliteStore::open(&at(&path)).err().expect("must refuse");
        assert!(
            error.to_string().contains("newer"),
            "unhelpful error: {error}"
        );
    }
}
