//! The folder picker (`GET /api/v1/dirs`): subdirectories inside `sessions.allowed_roots` only,
//! one answer for everything outside, and the caller's own recent working directories.

use serde_json::{json, Value};

use crate::support::home::Settings;
use crate::support::http::{request, Response};
use crate::support::in_process::InProcessServer;
use crate::support::operator::issue;

async fn dirs_as(server: &InProcessServer, token: Option<&str>, path: Option<&str>) -> Response {
    let url = match path {
        Some(path) => format!("/api/v1/dirs?path={}", encode(path)),
        None => "/api/v1/dirs".to_string(),
    };
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .as_deref()
        .map(|b| vec![("Authorization", b)])
        .unwrap_or_default();
    request(&server.url, "GET", &url, &headers, None).await
}

/// Percent-encodes a path for a query string.
fn encode(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn names(data: &Value) -> Vec<String> {
    data["dirs"]
        .as_array()
        .expect("dirs")
        .iter()
        .map(|d| d["name"].as_str().expect("name").to_string())
        .collect()
}

#[tokio::test]
async fn lists_subdirectories_inside_the_roots_and_refuses_everything_else_alike() {
    let server = InProcessServer::start();
    let root = server.dir.path().canonicalize().expect("root");
    for sub in ["b-app", "A-lib", ".config", "b-app/src"] {
        std::fs::create_dir_all(root.join(sub)).expect("mkdir");
    }
    std::fs::write(root.join("notes.txt"), "a file").expect("file");
    let outside = tempfile::tempdir().expect("outside dir");
    std::fs::create_dir_all(outside.path().join("secret")).expect("mkdir");
    std::os::unix::fs::symlink(outside.path(), root.join("escape")).expect("symlink out");
    std::os::unix::fs::symlink(root.join("b-app"), root.join("app-link")).expect("symlink in");

    let top = dirs_as(&server, None, None).await;
    assert_eq!(top.status, 200, "{}", top.body);
    let data = top.json()["data"].clone();
    assert_eq!(data["roots"], json!([root.to_string_lossy()]));
    assert_eq!(data["recent"], json!([]));

    let listed = dirs_as(&server, None, Some(&root.to_string_lossy())).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let data = listed.json()["data"].clone();
    // Sorted without regard to case, hidden ones last; files and the escaping symlink left out;
    // the symlink inside the roots listed under the path it leads to.
    // (The server's own directories, such as its store's, are there too.)
    let ours = ["A-lib", "app-link", "b-app", "project", ".config", "escape"];
    let mut listed_names = names(&data);
    listed_names.retain(|name| ours.contains(&name.as_str()));
    assert_eq!(
        listed_names,
        vec!["A-lib", "app-link", "b-app", "project", ".config"]
    );
    assert_eq!(names(&data).last().map(String::as_str), Some(".config"));
    let entry = |name: &str| {
        data["dirs"]
            .as_array()
            .and_then(|dirs| dirs.iter().find(|d| d["name"] == name).cloned())
            .expect("listed")
    };
    let b_app = root.join("b-app").to_string_lossy().into_owned();
    assert_eq!(entry("app-link")["path"], b_app.as_str());
    assert_eq!(data["parent"], Value::Null);
    assert_eq!(data["truncated"], false);
    let deeper = dirs_as(&server, None, entry("b-app")["path"].as_str()).await;
    let deeper = deeper.json()["data"].clone();
    assert_eq!(names(&deeper), vec!["src"]);
    assert_eq!(deeper["parent"], root.to_string_lossy().as_ref());

    // Outside: an existing directory, one that does not exist, a file, a symlink that leads out,
    // `..` out of the root, the filesystem's root: one answer, and it names none of them.
    let mut answers = Vec::new();
    for path in [
        outside.path().to_path_buf(),
        outside.path().join("secret"),
        outside.path().join("no-such-dir"),
        root.join("no-such-dir"),
        root.join("notes.txt"),
        root.join("escape"),
        root.join("escape/secret"),
        root.join(".."),
        "/".into(),
    ] {
        let path = path.to_string_lossy().into_owned();
        let refused = dirs_as(&server, None, Some(&path)).await;
        assert_eq!(refused.status, 403, "{path}: {}", refused.body);
        let error = refused.json()["error"].clone();
        assert_eq!(error["code"], "forbidden", "{path}");
        let message = error["message"]
            .as_str()
            .expect("message")
            .replace(&path, "PATH");
        answers.push(message);
    }
    answers.dedup();
    assert_eq!(answers.len(), 1, "one answer for all: {answers:?}");
    let relative = dirs_as(&server, None, Some("project")).await;
    assert_eq!(relative.json()["error"]["code"], "bad_request");
}

#[tokio::test]
async fn recent_folders_are_the_callers_own_newest_first() {
    let server = InProcessServer::start_with(Settings::default().set("auth", "enabled = true"));
    let (alice, bob) = (issue(&server, "alice"), issue(&server, "bob"));
    let refused = dirs_as(&server, None, None).await;
    assert_eq!(refused.status, 401);
    let create = |token: String, cwd: String| {
        let url = server.url.clone();
        async move {
            let bearer = format!("Bearer {token}");
            let body = json!({ "cwd": cwd }).to_string();
            let created = request(
                &url,
                "POST",
                "/api/v1/sessions",
                &[
                    ("Authorization", &bearer),
                    ("Content-Type", "application/json"),
                ],
                Some(body.as_bytes()),
            )
            .await;
            assert_eq!(created.status, 201, "{}", created.body);
        }
    };
    let (first, second) = (server.new_project("first"), server.new_project("second"));
    let theirs = server.new_project("bobs");
    create(alice.clone(), first.clone()).await;
    create(bob.clone(), theirs.clone()).await;
    create(alice.clone(), second.clone()).await;
    create(alice.clone(), first.clone()).await;

    let mine = dirs_as(&server, Some(&alice), None).await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    let recent = mine.json()["data"]["recent"].clone();
    assert_eq!(recent, json!([first, second]));
    let bobs = dirs_as(&server, Some(&bob), None).await;
    assert_eq!(bobs.json()["data"]["recent"], json!([theirs]));
}

#[tokio::test]
async fn listing_is_refused_for_a_user_of_claude_run_as() {
    let server = InProcessServer::start_with(
        Settings::default()
            .set("auth", "enabled = true")
            .set("claude.run_as", "alice = \"root\""),
    );
    let (alice, bob) = (issue(&server, "alice"), issue(&server, "bob"));
    let project = server.project();
    let refused = dirs_as(&server, Some(&alice), Some(&project)).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let message = refused.json()["error"]["message"].clone();
    assert!(
        message
            .as_str()
            .is_some_and(|m| m.contains("claude.run_as")),
        "{message}"
    );
    // The starting point still answers (configuration and own sessions, no filesystem listing).
    let top = dirs_as(&server, Some(&alice), None).await;
    assert_eq!(top.status, 200, "{}", top.body);
    // A user without an account lists as before.
    let listed = dirs_as(&server, Some(&bob), Some(&project)).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
}
