//! The listing over hand-made transcripts: tolerance, paging, the folder filter, the roots, and
//! that nothing is ever written.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::json;

use super::*;

struct Scratch {
    dir: PathBuf,
    place: HistoryPlace,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("history-index-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["home/.claude/projects", "root/a", "root/b", "outside"] {
            std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
        }
        let place = HistoryPlace {
            home: dir.join("home"),
            roots: vec![dir.join("root").canonicalize().expect("root")],
        };
        Scratch { dir, place }
    }

    fn folder(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    /// Writes a transcript for `id` run in `cwd`, its last activity at second `second`.
    fn conversation(&self, id: &str, cwd: &str, second: u32, extra: &str) -> PathBuf {
        let project = self.place.projects_dir().join(cwd.replace('/', "-"));
        std::fs::create_dir_all(&project).expect("project dir");
        let path = project.join(format!("{id}.jsonl"));
        let ts = format!("2026-03-01T10:00:{second:02}.000Z");
        let user = json!({"type": "user", "cwd": cwd, "gitBranch": "main", "timestamp": ts,
            "sessionId": id, "uuid": "u1", "message": {"role": "user", "content": format!("prompt of {id}")}});
        let answer = json!({"type": "assistant", "timestamp": ts, "uuid": "u2",
            "message": {"role": "assistant", "content": [{"type": "text", "text": "answer"}]}});
        std::fs::write(&path, format!("{user}\n{answer}\n{extra}")).expect("write");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn id(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, SystemTime)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).expect("meta");
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let bytes = std::fs::read(&path).expect("read");
                files.push((path, bytes, meta.modified().expect("mtime")));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn lists_newest_first_in_pages_and_filters_by_folder() {
    let s = Scratch::new("paging");
    let (a, b) = (s.folder("root/a"), s.folder("root/b"));
    for n in 1..=5 {
        s.conversation(&id(n), if n % 2 == 0 { &b } else { &a }, n, "");
    }
    let index = HistoryIndex::default();
    let mut query = ConversationsQuery {
        limit: Some(2),
        ..Default::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = index.list(&s.place, &query).expect("page");
        seen.extend(page.sessions.iter().map(|c| c.claude_session_id.clone()));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, [id(5), id(4), id(3), id(2), id(1)]);

    let only_b = ConversationsQuery {
        cwd: Some(b.clone()),
        ..Default::default()
    };
    let page = index.list(&s.place, &only_b).expect("page");
    let ids: Vec<_> = page
        .sessions
        .iter()
        .map(|c| c.claude_session_id.clone())
        .collect();
    assert_eq!(ids, [id(4), id(2)]);
    let first = &page.sessions[0];
    assert_eq!(first.cwd, b);
    assert_eq!(
        first.title.as_deref(),
        Some(format!("prompt of {}", id(4)).as_str())
    );
    assert_eq!(first.message_count, 2);
    assert_eq!(first.git_branch.as_deref(), Some("main"));
    assert_eq!(first.last_activity, "2026-03-01T10:00:04.000Z");
    assert!(first.running.is_none());

    let bad = ConversationsQuery {
        cursor: Some("nonsense".into()),
        ..Default::default()
    };
    assert!(matches!(
        index.list(&s.place, &bad),
        Err(HistoryError::BadRequest(_))
    ));
}

#[test]
fn tolerates_what_it_does_not_know_and_never_writes() {
    let s = Scratch::new("tolerant");
    let a = s.folder("root/a");
    let garbage = concat!(
        "{\"type\":\"from-the-future\",\"x\":{}}\n",
        "\u{0}\u{1}binary garbage\n",
        "[1,2,3]\n",
        "{\"type\":\"user\",\"message\":{\"content\":\"half a li",
    );
    s.conversation(&id(1), &a, 1, garbage);
    let empty = s.place.projects_dir().join("-empty");
    std::fs::create_dir_all(&empty).expect("dir");
    std::fs::write(empty.join(format!("{}.jsonl", id(2))), "").expect("empty file");
    std::fs::write(empty.join("not-a-uuid.jsonl"), "{}\n").expect("other file");
    // A conversation outside the roots, and one in a folder that escapes them by a symlink.
    s.conversation(&id(3), &s.folder("outside"), 3, "");
    #[cfg(unix)]
    std::os::unix::fs::symlink(s.dir.join("outside"), s.dir.join("root/escape")).expect("link");
    s.conversation(&id(4), &s.folder("root/escape"), 4, "");
    s.conversation(&id(5), &s.folder("root/a/../../outside"), 5, "");

    let before = snapshot(&s.dir);
    let index = HistoryIndex::default();
    let page = index
        .list(&s.place, &ConversationsQuery::default())
        .expect("list");
    let ids: Vec<_> = page
        .sessions
        .iter()
        .map(|c| c.claude_session_id.clone())
        .collect();
    assert_eq!(ids, [id(1)], "only the conversation inside the roots");
    assert_eq!(page.sessions[0].message_count, 2);
    for outside in [id(3), id(4), id(5), id(2), "../../etc/passwd".into()] {
        assert!(
            matches!(
                index.find(&s.place, &outside),
                Err(HistoryError::NotFound(_))
            ),
            "{outside}"
        );
        let read = index.messages(&s.place, &outside, &MessagesQuery::default());
        assert!(matches!(read, Err(HistoryError::NotFound(_))), "{outside}");
    }
    let messages = index
        .messages(&s.place, &id(1), &MessagesQuery::default())
        .expect("messages");
    assert_eq!(messages.total, 2);
    assert_eq!(messages.messages.len(), 2);
    assert_eq!(messages.messages[0]["message"]["type"], "user");
    assert_eq!(
        messages.messages[1]["message"]["message"]["content"][0]["text"],
        "answer"
    );
    let filtered = ConversationsQuery {
        cwd: Some(s.folder("outside")),
        ..Default::default()
    };
    assert!(index
        .list(&s.place, &filtered)
        .expect("list")
        .sessions
        .is_empty());
    assert_eq!(
        snapshot(&s.dir),
        before,
        "the files' bytes and mtimes are unchanged"
    );
}

#[test]
fn messages_come_in_pages() {
    let s = Scratch::new("messages");
    let a = s.folder("root/a");
    let more: String = (0..5)
        .map(|n| {
            json!({"type": "user", "message": {"role": "user", "content": format!("p{n}")}})
                .to_string()
                + "\n"
        })
        .collect();
    s.conversation(&id(1), &a, 1, &more);
    let index = HistoryIndex::default();
    let page = |after| {
        let query = MessagesQuery {
            after: Some(after),
            limit: Some(3),
        };
        index.messages(&s.place, &id(1), &query).expect("page")
    };
    let first = page(0);
    assert_eq!(first.total, 7);
    let indexes: Vec<_> = first
        .messages
        .iter()
        .map(|m| m["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [1, 2, 3]);
    assert_eq!(first.next_after, Some(3));
    let last = page(6);
    assert_eq!(last.messages.len(), 1);
    assert_eq!(last.messages[0]["message"]["message"]["content"], "p4");
    assert_eq!(last.next_after, None);
}
