//! A conversation started at the desk with the real Claude Code CLI, listed and read through the
//! server, continued on the phone with its context, and handed back to the terminal
//! (`claude --resume`), which goes on with the phone's turn in it. The CLI runs against the
//! project's fake Anthropic API; its `RECALL` prompt answers the earlier prompts it was sent.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::real_claude::{real_claude, Rig};
use crate::support::client::Client;
use crate::support::http::{get, post_json};

/// Runs the CLI as a person at a terminal would (`claude -p …` in the project, the same HOME
/// and API as the server's sessions); answers its JSON result.
fn at_the_desk(rig: &Rig, claude: &Path, args: &[&str]) -> Value {
    let scratch = rig.scratch.path();
    let output = Command::new(claude)
        .args(args)
        .args(["--output-format", "json"])
        .current_dir(rig.server.project())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", scratch.join("home"))
        .env("TMPDIR", scratch.join("tmp"))
        .env("CLAUDE_CODE_TMPDIR", scratch.join("tmp"))
        .env("XDG_RUNTIME_DIR", scratch.join("run"))
        .env(
            "ANTHROPIC_BASE_URL",
            format!("http://127.0.0.1:{}", rig.api.port),
        )
        .env("ANTHROPIC_API_KEY", "sk-fake")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("CLAUDE_CODE_MAX_RETRIES", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run the real CLI");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the CLI failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

async fn listed(rig: &Rig, id: &str) -> Value {
    let answer = get(&rig.server.url, "/api/v1/claude/sessions").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let page = answer.json();
    page["data"]["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .find(|c| c["claude_session_id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} is not listed: {page}"))
}

#[tokio::test]
async fn a_desk_conversation_continues_on_the_phone_with_its_context_and_goes_back() {
    let Some(claude) = real_claude() else { return };
    let rig = Rig::start(&claude);

    let desk = at_the_desk(&rig, &claude, &["-p", "my cat is called Tom"]);
    let id = desk["session_id"].as_str().expect("session id").to_string();
    assert_eq!(desk["result"], "hello from fake");

    // The history lists it, with what the CLI recorded.
    let conversation = listed(&rig, &id).await;
    assert_eq!(conversation["cwd"], rig.server.project().as_str());
    assert_eq!(conversation["title"], "my cat is called Tom");
    assert_eq!(conversation["message_count"], 2, "{conversation}");
    assert_eq!(conversation["running"], Value::Null);
    let path = format!("/api/v1/claude/sessions/{id}/messages");
    let messages = get(&rig.server.url, &path).await.json();
    let items = messages["data"]["messages"]
        .as_array()
        .expect("messages")
        .clone();
    assert_eq!(items[0]["message"]["type"], "user");
    assert_eq!(
        items[0]["message"]["message"]["content"],
        "my cat is called Tom"
    );
    assert_eq!(items[1]["message"]["type"], "assistant");
    assert_eq!(
        items[1]["message"]["message"]["content"][0]["text"],
        "hello from fake"
    );

    // On the phone: the same conversation, in its folder, remembering what was said.
    let mut phone = Client::connect(&rig.server.ws_url()).await;
    let created = phone
        .ok("session.create", json!({"resume_claude_session_id": id}))
        .await;
    let session = created["session"]["id"].as_str().expect("id").to_string();
    phone.subscribe(&session, 0).await;
    let prompt = phone.prompt(&session, "RECALL").await;
    let end = phone.wait_prompt_end(&prompt).await;
    assert_eq!(end["kind"], "prompt.completed", "{end}");
    assert_eq!(
        end["data"]["result"],
        "you said before: my cat is called Tom"
    );
    assert_eq!(end["data"]["claude_session_id"], id.as_str());
    let after = listed(&rig, &id).await;
    assert!(after["message_count"].as_u64() > Some(2), "{after}");

    // Handed back: the terminal's `claude --resume` goes on with the phone's turn in it.
    let released = post_json(
        &rig.server.url,
        &format!("/api/v1/sessions/{session}/release"),
        &json!({}),
    )
    .await;
    assert_eq!(released.status, 200, "{}", released.body);
    let info = &released.json()["data"]["session"];
    assert_eq!(info["status"], "stopped");
    let command = info["terminal_command"].as_str().expect("terminal command");
    assert!(
        command.ends_with(&format!("claude --resume {id}")),
        "{command}"
    );
    let back = at_the_desk(&rig, &claude, &["-p", "--resume", &id, "RECALL again"]);
    assert_eq!(back["session_id"], id.as_str());
    assert_eq!(
        back["result"],
        "you said before: my cat is called Tom | RECALL"
    );
}
