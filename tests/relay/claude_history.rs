//! This machine's Claude Code history through the real server (protocol §15): hand-made
//! transcripts and terminal records in the HOME that `claude.env` gives the CLI, listed and read
//! over REST and WebSocket; the roots and the allowed users; continuing a conversation in its
//! folder (refused while a terminal runs it, unless forced); releasing it back. The files are
//! never written.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::{json, Value};
use tempfile::TempDir;

use crate::support::client::Client;
use crate::support::http::{post_json, request};
use crate::support::operator::{connect_as, issue};
use crate::support::server::{Settings, TestServer};

const A: &str = "11111111-1111-4111-8111-111111111111";
const B: &str = "22222222-2222-4222-8222-222222222222";
const OUTSIDE: &str = "33333333-3333-4333-8333-333333333333";
const ESCAPING: &str = "44444444-4444-4444-8444-444444444444";
const UNKNOWN: &str = "55555555-5555-4555-8555-555555555555";

/// A Claude Code HOME outside the allowed roots, and the server that reads it.
struct Desk {
    home: TempDir,
    outside: TempDir,
    server: TestServer,
}

impl Desk {
    fn start(settings: Settings) -> Desk {
        let home = tempfile::tempdir().expect("claude home");
        let outside = tempfile::tempdir().expect("a folder outside the roots");
        let home_text = serde_json::to_string(&home.path().to_string_lossy()).expect("toml");
        let server =
            TestServer::start_with(settings.set("claude.env", &format!("HOME = {home_text}")));
        Desk {
            home,
            outside,
            server,
        }
    }

    /// A transcript of conversation `id` run in `cwd`, as the CLI writes it (with lines this
    /// reader does not know, garbage, and a half-written last line).
    fn conversation(&self, id: &str, cwd: &str, minute: u32, prompt: &str) {
        let project = self
            .home
            .path()
            .join(".claude/projects")
            .join(cwd.replace('/', "-"));
        std::fs::create_dir_all(&project).expect("project dir");
        let ts = format!("2026-05-01T10:{minute:02}:00.000Z");
        let lines = [
            json!({"type": "queue-operation", "operation": "enqueue", "content": prompt}),
            json!({"type": "user", "cwd": cwd, "gitBranch": "feature/x", "timestamp": ts,
                   "sessionId": id, "uuid": "u1", "message": {"role": "user", "content": prompt}}),
            json!({"type": "attachment", "attachment": {"type": "date"}, "timestamp": ts}),
            json!({"type": "assistant", "timestamp": ts, "uuid": "u2", "message": {"role": "assistant",
                   "content": [{"type": "text", "text": "looking"},
                               {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}]}}),
            json!({"type": "user", "timestamp": ts, "uuid": "u3", "message": {"role": "user",
                   "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "src"}]}}),
            json!({"type": "a-line-type-from-the-future", "x": [1, 2]}),
        ];
        let mut text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        text.push_str("}}not json{{\n{\"type\":\"assistant\",\"message\":{\"content\":[{\"ty");
        std::fs::write(project.join(format!("{id}.jsonl")), text).expect("transcript");
    }

    /// A terminal's record, as the interactive CLI writes it.
    fn terminal(&self, pid: u32, id: &str, cwd: &str) {
        let dir = self.home.path().join(".claude/sessions");
        std::fs::create_dir_all(&dir).expect("sessions dir");
        let record = json!({"pid": pid, "sessionId": id, "cwd": cwd, "status": "busy",
            "kind": "interactive", "startedAt": 1796182442619_i64, "version": "2.1.330"});
        std::fs::write(dir.join(format!("{pid}.json")), record.to_string()).expect("record");
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let answer = request(&self.server.url, "GET", path, &headers, None).await;
        (answer.status, answer.json())
    }
}

/// Every file under `dir` with its bytes and mtime.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, SystemTime)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                let bytes = std::fs::read(entry.path()).expect("read");
                files.push((entry.path(), bytes, meta.modified().expect("mtime")));
            }
        }
    }
    files.sort();
    files
}

fn ids(page: &Value) -> Vec<&str> {
    page["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|c| c["claude_session_id"].as_str().expect("id"))
        .collect()
}

#[tokio::test]
async fn claude_codes_history_is_listed_and_read_inside_the_roots_only_and_never_written() {
    let desk = Desk::start(Settings::default());
    let project = desk.server.project();
    let other = desk.server.new_project("other");
    desk.conversation(A, &project, 1, "fix the flaky test");
    desk.conversation(B, &other, 2, "write the changelog");
    let outside = desk.outside.path().to_string_lossy().into_owned();
    desk.conversation(OUTSIDE, &outside, 3, "secret elsewhere");
    let escape = desk.server.dir.path().join("escape");
    std::os::unix::fs::symlink(desk.outside.path(), &escape).expect("symlink");
    desk.conversation(
        ESCAPING,
        &escape.to_string_lossy(),
        4,
        "secret through a link",
    );
    // A terminal runs A right now (this test's own pid is alive); B's terminal died.
    desk.terminal(std::process::id(), A, &project);
    desk.terminal(4_194_304 + 11, B, &other);
    let before = snapshot(desk.home.path());

    let (status, list) = desk.get("/api/v1/claude/sessions", None).await;
    assert_eq!(status, 200, "{list}");
    let page = &list["data"];
    assert_eq!(
        ids(page),
        [B, A],
        "newest first, only inside the roots: {page}"
    );
    assert_eq!(page["next_cursor"], Value::Null);
    let a = &page["sessions"][1];
    assert_eq!(a["cwd"], project.as_str());
    assert_eq!(a["title"], "fix the flaky test");
    assert_eq!(a["message_count"], 3);
    assert_eq!(a["git_branch"], "feature/x");
    assert_eq!(a["last_activity"], "2026-05-01T10:01:00.000Z");
    assert_eq!(
        a["running"],
        json!({"pid": std::process::id(), "status": "busy"})
    );
    assert_eq!(
        page["sessions"][0]["running"],
        Value::Null,
        "a dead pid is not running"
    );

    let (_, first) = desk.get("/api/v1/claude/sessions?limit=1", None).await;
    assert_eq!(ids(&first["data"]), [B]);
    let cursor = first["data"]["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let path = format!(
        "/api/v1/claude/sessions?limit=1&cursor={}",
        urlencode(&cursor)
    );
    let (_, second) = desk.get(&path, None).await;
    assert_eq!(ids(&second["data"]), [A]);
    let (_, filtered) = desk
        .get(
            &format!("/api/v1/claude/sessions?cwd={}", urlencode(&other)),
            None,
        )
        .await;
    assert_eq!(ids(&filtered["data"]), [B]);
    let (_, running_only) = desk.get("/api/v1/claude/sessions?running=true", None).await;
    assert_eq!(ids(&running_only["data"]), [A]);
    let (_, outside_filter) = desk
        .get(
            &format!("/api/v1/claude/sessions?cwd={}", urlencode(&outside)),
            None,
        )
        .await;
    assert_eq!(ids(&outside_filter["data"]), Vec::<&str>::new());

    let (status, messages) = desk
        .get(
            &format!("/api/v1/claude/sessions/{A}/messages?limit=2"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{messages}");
    let data = &messages["data"];
    assert_eq!(data["total"], 3);
    assert_eq!(data["next_after"], 2);
    let first = &data["messages"][0];
    assert_eq!(first["index"], 1);
    assert_eq!(first["message"]["type"], "user");
    assert_eq!(first["message"]["message"]["content"], "fix the flaky test");
    assert_eq!(
        data["messages"][1]["message"]["message"]["content"][1]["name"],
        "Bash"
    );
    let (_, rest) = desk
        .get(
            &format!("/api/v1/claude/sessions/{A}/messages?after=2"),
            None,
        )
        .await;
    assert_eq!(
        rest["data"]["messages"][0]["message"]["message"]["content"][0]["type"],
        "tool_result"
    );
    assert_eq!(rest["data"]["next_after"], Value::Null);

    // Outside the roots, through a symlink, unknown, not an id: one answer.
    let mut answers = Vec::new();
    for id in [OUTSIDE, ESCAPING, UNKNOWN, "not-an-id"] {
        let (status, answer) = desk
            .get(&format!("/api/v1/claude/sessions/{id}/messages"), None)
            .await;
        assert_eq!(status, 404, "{id}: {answer}");
        assert_eq!(answer["error"]["code"], "not_found");
        answers.push(
            answer["error"]["message"]
                .as_str()
                .unwrap_or("")
                .replace(id, "<id>"),
        );
    }
    assert!(answers.iter().all(|m| m == &answers[2]), "{answers:?}");

    let (_, running) = desk.get("/api/v1/claude/running", None).await;
    let terminals = running["data"]["running"].as_array().expect("running");
    assert_eq!(terminals.len(), 1, "{running}");
    assert_eq!(terminals[0]["claude_session_id"], A);
    assert_eq!(terminals[0]["pid"], std::process::id());
    assert_eq!(terminals[0]["cwd"], project.as_str());

    // The WebSocket answers the same.
    let mut phone = Client::connect(&desk.server.ws_url()).await;
    let listed = phone.ok("claude.sessions", json!({"cwd": project})).await;
    assert_eq!(ids(&listed), [A]);
    let read = phone
        .ok(
            "claude.messages",
            json!({"claude_session_id": A, "after": 2}),
        )
        .await;
    assert_eq!(read, rest["data"]);
    let terminals = phone.ok("claude.running", json!({})).await;
    assert_eq!(terminals, running["data"]);
    let hidden = phone
        .err("claude.messages", json!({"claude_session_id": OUTSIDE}))
        .await;
    assert_eq!(hidden, "not_found");

    assert_eq!(
        snapshot(desk.home.path()),
        before,
        "Claude Code's files are untouched"
    );
}

#[tokio::test]
async fn a_history_conversation_continues_in_its_folder_unless_a_terminal_runs_it_and_is_released_back(
) {
    let desk = Desk::start(Settings::default());
    let folder = desk.server.new_project("desk work");
    desk.conversation(A, &folder, 1, "plan the migration");
    desk.terminal(std::process::id(), A, &folder);
    let outside = desk.outside.path().to_string_lossy().into_owned();
    desk.conversation(OUTSIDE, &outside, 2, "not for the phone");
    let mut phone = Client::connect(&desk.server.ws_url()).await;

    let refused = phone
        .request("session.create", json!({"resume_claude_session_id": A}))
        .await;
    assert_eq!(refused["error"]["code"], "conflict", "{refused}");
    assert_eq!(
        refused["error"]["details"]["running"]["pid"],
        std::process::id()
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("force"),
        "{refused}"
    );
    let elsewhere = desk.server.project();
    let wrong = phone
        .request(
            "session.create",
            json!({"resume_claude_session_id": A, "cwd": elsewhere, "force": true}),
        )
        .await;
    assert_eq!(wrong["error"]["code"], "bad_request", "{wrong}");
    for hidden in [OUTSIDE, UNKNOWN] {
        let answer = phone
            .request(
                "session.create",
                json!({"resume_claude_session_id": hidden}),
            )
            .await;
        assert_eq!(answer["error"]["code"], "not_found", "{answer}");
    }

    let created = phone
        .ok(
            "session.create",
            json!({"resume_claude_session_id": A, "force": true}),
        )
        .await;
    let session = &created["session"];
    let id = session["id"].as_str().expect("id").to_string();
    let real_folder = Path::new(&folder).canonicalize().expect("folder");
    assert_eq!(session["cwd"], real_folder.to_string_lossy().as_ref());
    assert_eq!(session["claude_session_id"], A);
    assert_eq!(
        session["terminal_command"],
        format!("cd '{}' && claude --resume {A}", real_folder.display())
    );
    // Every device learns what it continues (not only the one that tapped "Continue here").
    let listed = phone.ok("claude.sessions", json!({})).await;
    let messages = listed["sessions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["claude_session_id"] == A))
        .map(|c| c["message_count"].clone())
        .expect("the conversation is listed");
    let continued = json!({"claude_session_id": A, "messages": messages});
    assert_eq!(session["continued_from"], continued, "{session}");
    let other = phone.ok("session.get", json!({"session_id": id})).await;
    assert_eq!(other["session"]["continued_from"], continued, "{other}");
    phone.subscribe(&id, 0).await;
    let prompt = phone.prompt(&id, "and now from the phone").await;
    let end = phone.wait_prompt_end(&prompt).await;
    assert_eq!(end["kind"], "prompt.completed", "{end}");
    assert_eq!(desk.server.spawn_flag(0, "--resume").as_deref(), Some(A));
    assert_eq!(
        desk.server.spawns()[0]["cwd"],
        real_folder.to_string_lossy().as_ref()
    );

    let released = post_json(
        &desk.server.url,
        &format!("/api/v1/sessions/{id}/release"),
        &json!({}),
    )
    .await;
    assert_eq!(released.status, 200, "{}", released.body);
    assert_eq!(released.json()["data"]["session"]["status"], "stopped");
    let stopped = phone
        .wait_event(|e| e["kind"] == "session.status" && e["data"]["status"] == "stopped")
        .await;
    assert_eq!(stopped["data"]["reason"], "released");
    // Over the WebSocket too; the session stays and can be continued.
    phone.ok("session.release", json!({"session_id": id})).await;
    let again = phone.prompt(&id, "back on the phone").await;
    assert_eq!(
        phone.wait_prompt_end(&again).await["kind"],
        "prompt.completed"
    );
}

#[tokio::test]
async fn with_sign_in_only_the_listed_users_see_the_history() {
    let settings = Settings::default()
        .set("auth", "enabled = true")
        .set("sessions", "history_users = [\"alice\"]");
    let desk = Desk::start(settings);
    let project = desk.server.project();
    desk.conversation(A, &project, 1, "alice's desk work");
    let alice = issue(&desk.server, "alice");
    let bob = issue(&desk.server, "bob");

    let (status, list) = desk.get("/api/v1/claude/sessions", Some(&alice)).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(ids(&list["data"]), [A]);
    let (status, list) = desk.get("/api/v1/claude/sessions", Some(&bob)).await;
    assert_eq!(
        (status, list["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{list}"
    );
    let (status, _) = desk.get("/api/v1/claude/running", Some(&bob)).await;
    assert_eq!(status, 403);
    let (status, read) = desk
        .get(&format!("/api/v1/claude/sessions/{A}/messages"), Some(&bob))
        .await;
    assert_eq!(
        (status, read["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{read}"
    );
    let mut bobs_phone = connect_as(&desk.server, &bob).await;
    let code = bobs_phone
        .err("session.create", json!({"resume_claude_session_id": A}))
        .await;
    assert_eq!(code, "not_found");
    let mut alices_phone = connect_as(&desk.server, &alice).await;
    let created = alices_phone
        .ok("session.create", json!({"resume_claude_session_id": A}))
        .await;
    assert_eq!(created["session"]["claude_session_id"], A);
}

/// A page of messages is bounded in bytes as well as in count: a conversation of big messages
/// (pasted screenshots, long tool output, each up to the 8 MiB a line may have) comes in several
/// pages even when a client asks for 500 messages at once, so neither the server nor the phone
/// holds hundreds of megabytes for one answer.
#[tokio::test]
async fn a_page_of_big_history_messages_is_bounded_in_bytes_and_pages_on() {
    let desk = Desk::start(Settings::default());
    let project = desk.server.project();
    let dir = desk
        .home
        .path()
        .join(".claude/projects")
        .join(project.replace('/', "-"));
    std::fs::create_dir_all(&dir).expect("project dir");
    // Six messages of 3 MiB each: 18 MiB in all.
    let big = "x".repeat(3 * 1024 * 1024);
    let text: String = (0..6)
        .map(|i| {
            let line = json!({"type": if i % 2 == 0 { "user" } else { "assistant" },
                "cwd": project, "timestamp": format!("2026-05-01T10:00:0{i}.000Z"),
                "uuid": format!("u{i}"), "message": {"role": "user", "content": [
                    {"type": "text", "text": format!("{i}{big}")}]}});
            format!("{line}\n")
        })
        .collect();
    std::fs::write(dir.join(format!("{A}.jsonl")), text).expect("transcript");

    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let (status, page) = desk
            .get(
                &format!("/api/v1/claude/sessions/{A}/messages?limit=500&after={after}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{}", page["error"]);
        let data = &page["data"];
        assert_eq!(data["total"], 6);
        let messages = data["messages"].as_array().expect("messages");
        assert!(!messages.is_empty(), "every page carries a message");
        let bytes: usize = messages.iter().map(|m| m.to_string().len()).sum();
        assert!(
            bytes <= 8 * 1024 * 1024 + 64 * 1024,
            "a page of {} messages holds {bytes} bytes",
            messages.len()
        );
        seen.extend(messages.iter().map(|m| m["index"].as_u64().expect("index")));
        match data["next_after"].as_u64() {
            Some(next) => after = next as usize,
            None => break,
        }
    }
    assert_eq!(
        seen,
        [1, 2, 3, 4, 5, 6],
        "paging on reaches every message once"
    );
}

/// Percent-encodes a query value.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
