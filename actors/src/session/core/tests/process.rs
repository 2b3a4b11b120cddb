//! The process's life: stopped when idle or needed elsewhere, resuming the conversation, and
//! our control requests to it.

use serde_json::json;

use super::{line, result_line, Harness};
use crate::claude_process::{AgentSignal, StopMode};
use crate::command::SessionOp;
use crate::queue::{SlotSignal, SlotUse};
use crate::session::core::{Answer, Effect, Input};
use crate::session_info::SessionStatus;

#[test]
fn idle_and_reclaim_stop_only_an_idle_process() {
    let mut session = Harness::new();
    session.prompt("one", "p-1").expect("queued");
    session.slot(SlotSignal::Ready);
    session.forget_effects();
    session.slot(SlotSignal::Reclaim);
    session.slot(SlotSignal::IdleTimeout);
    assert!(
        session.stops().is_empty(),
        "a running turn keeps its process"
    );
    session.agent(result_line("success"));
    assert_eq!(session.slot_uses(SlotUse::Idle), 1);
    session.slot(SlotSignal::IdleTimeout);
    assert_eq!(session.stops(), [StopMode::Graceful]);
    session.agent(AgentSignal::Exited {
        code: Some(0),
        signal: None,
        expected: true,
    });
    assert_eq!(session.core.status(), SessionStatus::Stopped);
    assert_eq!(session.slot_uses(SlotUse::Release), 1);
}

#[test]
fn the_conversation_is_learnt_once_and_resumed_by_the_next_process() {
    let mut session = Harness::new();
    session.prompt("one", "p-1").expect("queued");
    session.slot(SlotSignal::Ready);
    let init = json!({"type": "system", "subtype": "init", "session_id": "conv-9"});
    session.agent(line(init.clone()));
    session.agent(line(init));
    let seen = session
        .effects
        .iter()
        .filter(|e| matches!(e, Effect::ConversationSeen(c) if c == "conv-9"));
    assert_eq!(seen.count(), 1);
    session.agent(AgentSignal::Exited {
        code: Some(0),
        signal: None,
        expected: true,
    });
    session.prompt("two", "p-2").expect("queued");
    session.slot(SlotSignal::Ready);
    let resumed = session.effects.iter().rev().find_map(|e| match e {
        Effect::Launch { spec, .. } => Some(spec.resume.clone()),
        _ => None,
    });
    assert_eq!(resumed, Some(Some("conv-9".to_string())));
}

#[test]
fn a_permission_mode_applies_once_the_cli_accepts_it() {
    let mut session = Harness::new();
    session.prompt("one", "p-1").expect("queued");
    session.slot(SlotSignal::Ready);
    let mode = crate::session_info::PermissionMode::new("acceptEdits");
    let op = SessionOp::SetPermissionMode(mode.clone());
    let asked = session.apply(Input::Request {
        caller: super::alice(),
        op,
    });
    let Some(Answer::Control { then, .. }) = asked else {
        panic!("the mode waits for the CLI");
    };
    assert_eq!(
        session.written().pop().expect("asked")["request"]["mode"],
        "acceptEdits"
    );
    assert_eq!(
        session.core.info().permission_mode,
        crate::session_info::PermissionMode::default_mode()
    );
    let refused = session.apply(Input::ControlAnswered {
        then: then.clone(),
        result: Some(Err("no".into())),
    });
    assert!(matches!(refused, Some(Answer::Now(Err(_)))));
    let accepted = session.apply(Input::ControlAnswered {
        then,
        result: Some(Ok(json!({}))),
    });
    assert!(matches!(accepted, Some(Answer::Stored { reply: None, .. })));
    assert_eq!(session.core.info().permission_mode, mode);
}
