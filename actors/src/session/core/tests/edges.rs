//! The rules at the edges: pausing, timeouts, forgetting a rule, a process that cannot start,
//! stopping and deleting, and the slot's idle and reclaim signals.

use serde_json::json;

use super::{code, line, result_line, Harness};
use crate::claude_process::{AgentSignal, StopMode};
use crate::command::{RemoveRule, Reply, SessionOp};
use crate::config::DomainConfig;
use crate::queue::{SlotSignal, SlotUse};
use crate::session::core::{Answer, Effect, Input};
use crate::session_info::SessionStatus;
use crate::store::EventStore;

#[test]
fn a_paused_queue_starts_nothing_until_resumed() {
    let mut session = Harness::new();
    session.request(SessionOp::Pause).expect("paused");
    session.prompt("one", "p-1").expect("queued");
    assert_eq!(session.slot_uses(SlotUse::Want), 0);
    assert!(session.core.info().paused);
    session.request(SessionOp::Resume).expect("resumed");
    assert_eq!(session.slot_uses(SlotUse::Want), 1);
    // A slot granted after a pause goes back at once.
    session.request(SessionOp::Pause).expect("paused");
    session.slot(SlotSignal::Ready);
    assert_eq!(session.slot_uses(SlotUse::Release), 1);
    assert!(!session.core.has_process());
}

#[test]
fn an_unanswered_permission_request_is_denied_at_its_timeout() {
    let mut config = DomainConfig::default();
    config.permissions.timeout_s = 30;
    let mut session = Harness::with_config(config);
    session.prompt("one", "p-1").expect("queued");
    session.slot(SlotSignal::Ready);
    session.agent(line(
        json!({"type": "control_request", "request_id": "cli-1",
        "request": {"subtype": "can_use_tool", "tool_name": "Bash", "input": {}}}),
    ));
    let id = session.core.info().pending_permissions[0].clone();
    assert!(session
        .effects
        .iter()
        .any(|e| matches!(e, Effect::StartTimer(t, _) if *t == id)));
    session.apply(Input::PermissionTimedOut(id.clone()));
    let denied = session.written().pop().expect("an answer");
    assert_eq!(denied["response"]["response"]["behavior"], "deny");
    assert!(session
        .effects
        .iter()
        .any(|e| matches!(e, Effect::CancelTimer(t) if *t == id)));
    assert_eq!(session.core.info().status, SessionStatus::Running);
    // A second timer firing late changes nothing.
    let before = session.events().len();
    session.apply(Input::PermissionTimedOut(id));
    assert_eq!(session.events().len(), before);
}

#[test]
fn a_removed_rule_retires_the_process_before_the_next_prompt() {
    let mut session = Harness::new();
    session.prompt("one", "p-1").expect("queued");
    session.slot(SlotSignal::Ready);
    session.agent(line(
        json!({"type": "control_request", "request_id": "cli-1", "request": {
        "subtype": "can_use_tool", "tool_name": "Bash", "input": {"command": "ls"},
        "permission_suggestions": [{"type": "addRules", "behavior": "allow",
            "destination": "session", "rules": [{"toolName": "Bash", "ruleContent": "ls"}]}]}}),
    ));
    let request_id = session.core.info().pending_permissions[0].clone();
    let always = crate::command::PermissionAnswer {
        request_id,
        decision: crate::command::Decision::Allow,
        updated_input: None,
        always: true,
        message: None,
        interrupt: false,
    };
    session
        .request(SessionOp::Permission(always))
        .expect("allowed");
    assert_eq!(session.core.info().allowed_rules, ["Bash(ls)"]);
    let rule = RemoveRule {
        rule: "Bash(ls)".into(),
    };
    session
        .request(SessionOp::RemoveRule(rule))
        .expect("removed");
    assert!(session.stops().is_empty(), "the turn goes on with the rule");
    session.prompt("two", "p-2").expect("queued");
    session.agent(result_line("success"));
    // The next prompt does not reach the old process: it is stopped, and a new one starts.
    assert_eq!(session.stops(), [StopMode::Graceful]);
    let turns = session
        .written()
        .iter()
        .filter(|l| l["type"] == "user")
        .count();
    assert_eq!(turns, 1);
    let old = session.last_agent();
    session.agent(AgentSignal::Exited {
        code: Some(0),
        signal: None,
        expected: true,
    });
    assert_ne!(session.last_agent(), old);
    let turns = session
        .written()
        .iter()
        .filter(|l| l["type"] == "user")
        .count();
    assert_eq!(turns, 2);
    assert_eq!(
        session.slot_uses(SlotUse::Release),
        0,
        "the new process keeps the slot"
    );
}

#[test]
fn a_process_that_cannot_start_fails_its_prompt() {
    let mut session = Harness::new();
    session.launches = false;
    let from = session.events().len();
    session.prompt("one", "p-1").expect("queued");
    session.slot(SlotSignal::Ready);
    assert_eq!(
        session.story(from),
        [
            "prompt.queued p-1",
            "session.status starting",
            "prompt.failed p-1",
            "session.status crashed"
        ]
    );
    assert_eq!(
        session.events()[from + 2].1["error"]["code"],
        "spawn_failed"
    );
    assert_eq!(session.slot_uses(SlotUse::Release), 1);
}

#[test]
fn stop_fails_what_waits_and_answers_once_the_process_exited() {
    let mut session = Harness::new();
    session.prompt("one", "p-1").expect("queued");
    session.slot(SlotSignal::Ready);
    session.prompt("two", "p-2").expect("queued");
    let stop = session.apply(Input::Request {
        caller: super::alice(),
        op: SessionOp::Stop,
    });
    assert!(matches!(stop, Some(Answer::AfterExit)));
    let written = session.written();
    assert_eq!(
        written.last().expect("an interrupt")["request"]["subtype"],
        "interrupt"
    );
    assert_eq!(session.stops(), [StopMode::Graceful]);
    session.agent(result_line("error_during_execution"));
    session.agent(AgentSignal::Exited {
        code: Some(0),
        signal: None,
        expected: true,
    });
    let failed: Vec<_> = session
        .events()
        .into_iter()
        .filter(|(k, _)| k == "prompt.failed")
        .collect();
    let codes: Vec<_> = failed
        .iter()
        .map(|(_, d)| d["error"]["code"].clone())
        .collect();
    assert_eq!(codes, [json!("session_stopped"), json!("session_stopped")]);
    assert_eq!(session.core.status(), SessionStatus::Stopped);
    assert!(session
        .effects
        .iter()
        .any(|e| matches!(e, Effect::ProcessGone)));
}

#[test]
fn a_deleted_session_kills_its_process_and_answers_nothing_more() {
    let mut session = Harness::new();
    session.prompt("one", "p-1").expect("queued");
    session.slot(SlotSignal::Ready);
    let deleted = session.request(SessionOp::Delete);
    assert!(matches!(deleted, Ok(Reply::Empty)));
    assert!(session.core.is_deleted());
    assert_eq!(session.stops(), [StopMode::Kill]);
    assert!(session.store.load_sessions().expect("loaded").is_empty());
    // The killed process's last words belong to no session.
    let old = session.last_agent();
    session.apply(Input::Agent {
        agent: old,
        signal: AgentSignal::Stderr("bye".into()),
    });
    assert!(session.events().is_empty());
}

#[test]
fn bad_prompts_are_refused_before_anything_is_stored() {
    let mut session = Harness::new();
    let before = session.events().len();
    assert_eq!(code(session.prompt("   ", "p-1")), "bad_request");
    assert_eq!(code(session.prompt("x", &"p".repeat(200))), "bad_request");
    assert_eq!(session.events().len(), before);
}
