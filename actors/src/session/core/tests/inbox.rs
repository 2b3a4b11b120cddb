//! What a session tells the approval inbox: its open requests once stored, and none left open
//! once it is deleted.

use serde_json::json;

use super::{line, Harness};
use crate::command::SessionOp;
use crate::session::core::Input;

/// Claude asks to run `rm -rf build`, with the fields the inbox shows.
fn can_use_tool(id: &str) -> crate::claude_process::AgentSignal {
    line(
        json!({"type": "control_request", "request_id": id, "request": {
        "subtype": "can_use_tool", "tool_name": "Bash", "input": {"command": "rm -rf build"},
        "description": "delete the build", "tool_use_id": "toolu_9", "blocked_path": "/tmp/build",
        "permission_suggestions": [{"type": "addRules"}]}}),
    )
}

fn running() -> Harness {
    let mut session = Harness::new();
    session.prompt("go", "p-1").expect("queued");
    session.slot(crate::queue::SlotSignal::Ready);
    session
}

#[test]
fn an_open_request_is_listed_once_stored_with_its_event_seq_and_time() {
    let mut session = running();
    // Applied but not yet written: nobody may be told of it.
    let effects = session.core.apply(Input::Agent {
        agent: session.last_agent(),
        signal: can_use_tool("cli-1"),
    });
    drop(effects);
    assert!(session.core.pending_permissions().is_empty());
    session.commit();

    let listed = session.core.pending_permissions();
    assert_eq!(listed.len(), 1);
    let requested = session
        .committed
        .iter()
        .find(|e| e["kind"] == "permission.requested")
        .expect("the event");
    let pending = serde_json::to_value(&listed[0]).unwrap();
    assert_eq!(pending["session_id"], requested["session_id"]);
    assert_eq!(pending["seq"], requested["seq"]);
    assert_eq!(pending["requested_at"], requested["ts"]);
    assert_eq!(pending["cwd"], "/tmp");
    assert_eq!(pending["session_title"], serde_json::Value::Null);
    for field in [
        "request_id",
        "tool_name",
        "input",
        "description",
        "tool_use_id",
        "blocked_path",
        "suggestions",
    ] {
        assert_eq!(pending[field], requested["data"][field], "{field}");
    }
}

#[test]
fn deleting_a_session_cancels_its_open_requests() {
    let mut session = running();
    session.agent(can_use_tool("cli-1"));
    session.agent(can_use_tool("cli-2"));
    assert_eq!(session.core.pending_permissions().len(), 2);
    session.request(SessionOp::Delete).expect("deleted");
    assert!(session.core.pending_permissions().is_empty());
    let cancelled: Vec<_> = session
        .committed
        .iter()
        .filter(|e| e["kind"] == "permission.resolved")
        .map(|e| {
            (
                e["data"]["decision"].clone(),
                e["data"]["by"]["reason"].clone(),
            )
        })
        .collect();
    assert_eq!(
        cancelled,
        vec![
            (json!("cancelled"), json!("session_deleted")),
            (json!("cancelled"), json!("session_deleted"))
        ]
    );
}
