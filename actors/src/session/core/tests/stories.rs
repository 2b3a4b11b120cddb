//! The session's stories, as a user would tell them.

use serde_json::json;

use super::{alice, code, line, result_line, Harness};
use crate::claude_process::AgentSignal;
use crate::command::{Decision, PermissionAnswer, Reply, SessionOp};
use crate::ids::PermissionRequestId;
use crate::queue::{SlotSignal, SlotUse};
use crate::session::core::{AfterControl, Answer, Input, SessionCore};
use crate::store::EventStore;

/// Claude asks to run `touch x`.
fn can_use_tool(id: &str) -> AgentSignal {
    line(
        json!({"type": "control_request", "request_id": id, "request": {
        "subtype": "can_use_tool", "tool_name": "Bash", "input": {"command": "touch x"}}}),
    )
}

/// A running session: its first prompt started a process and runs.
fn running(prompt: &str) -> Harness {
    let mut session = Harness::new();
    session.prompt(prompt, prompt).expect("queued");
    session.slot(SlotSignal::Ready);
    session
}

/// The id of the open permission request.
fn open_request(session: &Harness) -> PermissionRequestId {
    let pending = session.core.info().pending_permissions;
    pending.first().cloned().expect("a request waits")
}

fn decide(request_id: PermissionRequestId, decision: Decision) -> SessionOp {
    SessionOp::Permission(PermissionAnswer {
        request_id,
        decision,
        updated_input: None,
        always: false,
        message: None,
        interrupt: false,
    })
}

#[test]
fn prompts_run_one_at_a_time_in_arrival_order() {
    let mut session = Harness::new();
    let from = session.events().len();
    let first = session.prompt("one", "p-1").expect("queued");
    let second = session.prompt("two", "p-2").expect("queued");
    assert!(matches!(first, Reply::Prompt { position: 0, .. }));
    assert!(matches!(second, Reply::Prompt { position: 1, .. }));
    assert_eq!(
        session.slot_uses(SlotUse::Want),
        2,
        "asked while no process lives"
    );
    session.slot(SlotSignal::Ready);
    session.agent(result_line("success"));
    // The process lives and is idle: the second prompt starts with no slot asked for.
    assert_eq!(session.slot_uses(SlotUse::Want), 2);
    session.agent(result_line("success"));
    assert_eq!(
        session.story(from),
        [
            "prompt.queued p-1",
            "prompt.queued p-2",
            "session.status starting",
            "prompt.started p-1",
            "session.status running",
            "agent.output",
            "session.updated",
            "prompt.completed p-1",
            "session.status idle",
            "prompt.started p-2",
            "session.status running",
            "agent.output",
            "prompt.completed p-2",
            "session.status idle",
        ]
    );
    let turns: Vec<_> = session
        .written()
        .into_iter()
        .filter(|l| l["type"] == "user")
        .map(|l| l["message"]["content"].clone())
        .collect();
    assert_eq!(turns, [json!("one"), json!("two")]);
    assert_eq!(session.core.info().queue_length, 0);
}

#[test]
fn a_retried_prompt_id_is_queued_once_and_answered_alike() {
    let mut session = Harness::new();
    session.prompt("one", "p-0").expect("queued");
    let first = session.prompt("two", "p-1").expect("queued");
    let again = session.prompt("two", "p-1").expect("answered");
    let position = |reply: Reply| match reply {
        Reply::Prompt {
            prompt_id,
            position,
        } => (prompt_id, position),
        other => panic!("{other:?}"),
    };
    assert_eq!(position(first), position(again));
    let queued = session
        .story(0)
        .iter()
        .filter(|e| *e == "prompt.queued p-1")
        .count();
    assert_eq!(queued, 1);
    assert_eq!(session.core.info().queue_length, 2);
}

#[test]
fn the_first_answer_to_a_permission_request_wins() {
    let mut session = running("p-1");
    session.agent(can_use_tool("cli-7"));
    assert_eq!(
        session.core.info().status,
        crate::session_info::SessionStatus::AwaitingPermission
    );
    let request_id = open_request(&session);
    let allowed = session.request(decide(request_id.clone(), Decision::Allow));
    assert!(matches!(
        allowed,
        Ok(Reply::Permission { rules_added: None })
    ));
    let late = session.request(decide(request_id, Decision::Deny));
    assert_eq!(code(late), "conflict");
    let unknown = session.request(decide(PermissionRequestId::random(), Decision::Deny));
    assert_eq!(code(unknown), "not_found");
    let answer = session.written().pop().expect("an answer to the CLI");
    assert_eq!(answer["response"]["request_id"], "cli-7");
    assert_eq!(answer["response"]["response"]["behavior"], "allow");
    let resolved = session
        .story(0)
        .into_iter()
        .filter(|e| e.starts_with("permission.resolved"));
    assert_eq!(resolved.collect::<Vec<_>>(), ["permission.resolved allow"]);
    assert_eq!(
        session.core.info().status,
        crate::session_info::SessionStatus::Running
    );
}

#[test]
fn an_interrupt_while_a_permission_waits_fails_the_prompt_and_cancels_the_request() {
    let mut session = running("p-1");
    session.agent(can_use_tool("cli-1"));
    let from = session.events().len();
    let asked = session.apply(Input::Request {
        caller: alice(),
        op: SessionOp::Interrupt,
    });
    let Some(Answer::Control { mut answer, then }) = asked else {
        panic!("the interrupt waits for the CLI");
    };
    let interrupt = session.written().pop().expect("a control request");
    assert_eq!(interrupt["request"]["subtype"], "interrupt");
    let request_id = interrupt["request_id"].clone();
    session.agent(line(json!({"type": "control_response", "response": {
        "subtype": "success", "request_id": request_id}})));
    session.agent(result_line("error_during_execution"));
    let result = answer.try_recv().ok();
    assert!(result.is_some(), "the CLI's answer reached the request");
    let replied = session.apply(Input::ControlAnswered {
        then: then.clone(),
        result,
    });
    assert!(matches!(
        replied,
        Some(Answer::Now(Ok(Reply::Interrupted(true))))
    ));
    assert_eq!(then, AfterControl::Interrupt);
    assert_eq!(
        session.story(from),
        [
            "agent.output",
            "session.updated",
            "prompt.failed p-1",
            "permission.resolved cancelled",
            "session.status idle",
        ]
    );
    let failed = &session.events()[from + 2].1;
    assert_eq!(failed["error"]["code"], "interrupted");
    assert!(session.core.info().pending_permissions.is_empty());
}

#[test]
fn a_crash_mid_turn_fails_the_prompt_and_frees_the_slot() {
    let mut session = running("p-1");
    session.prompt("next", "p-2").expect("queued");
    session.agent(can_use_tool("cli-1"));
    let from = session.events().len();
    session.forget_effects();
    session.agent(AgentSignal::Exited {
        code: Some(1),
        signal: None,
        expected: false,
    });
    assert_eq!(
        session.story(from),
        [
            "agent.exited",
            "permission.resolved cancelled",
            "prompt.failed p-1",
            "session.status crashed",
        ]
    );
    assert_eq!(
        session.events()[from + 2].1["error"]["code"],
        "agent_crashed"
    );
    // The slot goes back, and the next prompt asks for one again.
    assert_eq!(session.slot_uses(SlotUse::Release), 1);
    assert_eq!(session.slot_uses(SlotUse::Want), 1);
    assert!(!session.core.has_process());
    session.slot(SlotSignal::Ready);
    assert_eq!(session.story(from + 4)[1], "prompt.started p-2");
}

#[test]
fn after_a_restart_the_running_prompt_fails_and_the_queue_runs_on() {
    let mut before = running("p-1");
    before.prompt("two", "p-2").expect("queued");
    before.prompt("three", "p-3").expect("queued");
    before.agent(can_use_tool("cli-1"));
    let last_seq = before.core.log().stored_seq();
    // The server goes away without a word; the store is all that is left.
    let mut stored = before.store.load_sessions().expect("loaded");
    let stored = stored.pop().expect("one session");
    assert_eq!(stored.info.last_seq, last_seq);
    let metrics = std::sync::Arc::new(crate::metrics::RelayMetrics::detached());
    let config = std::sync::Arc::new(crate::config::DomainConfig::default());
    let core = SessionCore::restore(stored, config, metrics);
    let mut after = Harness::on(core, before.store.clone());
    assert_eq!(after.core.info().queue_length, 2);
    after.apply(Input::Start);
    let from = usize::try_from(last_seq).expect("small");
    assert_eq!(
        after.story(from),
        [
            "prompt.failed p-1",
            "permission.resolved cancelled",
            "session.status stopped",
        ]
    );
    assert_eq!(after.events()[from].1["error"]["code"], "server_restarted");
    assert_eq!(after.slot_uses(SlotUse::Want), 1);
    after.slot(SlotSignal::Ready);
    assert_eq!(
        after.story(from + 3),
        [
            "session.status starting",
            "prompt.started p-2",
            "session.status running"
        ]
    );
    // A retry of a prompt queued before the restart is answered from the store.
    let retried = after.prompt("three", "p-3").expect("answered");
    assert!(
        matches!(retried, Reply::Prompt { position: 2, .. }),
        "{retried:?}"
    );
    assert_eq!(after.core.info().queue_length, 1);
}

#[test]
fn a_prompt_waits_for_a_slot_then_starts() {
    let mut session = Harness::new();
    let from = session.events().len();
    session.prompt("one", "p-1").expect("queued");
    session.slot(SlotSignal::Waiting);
    assert_eq!(
        session.core.info().status,
        crate::session_info::SessionStatus::Waiting
    );
    session.slot(SlotSignal::Ready);
    assert_eq!(
        session.story(from),
        [
            "prompt.queued p-1",
            "session.status waiting",
            "session.status starting",
            "prompt.started p-1",
            "session.status running",
        ]
    );
    let reason = &session.events()[from + 1].1["reason"];
    assert_eq!(reason, "no agent slot free");
    assert_eq!(session.slot_uses(SlotUse::Busy), 1);
}
