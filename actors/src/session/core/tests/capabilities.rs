//! What the CLI can do: asked of each new process before its first turn, kept, announced when
//! it changes; the model and permission mode checked against it.

use serde_json::{json, Value};

use super::{code, line, Harness};
use crate::command::{Reply, SessionOp, SetModel};
use crate::config::{DomainConfig, SessionsConfig};
use crate::queue::SlotSignal;
use crate::session::core::{Answer, Input};
use crate::session_info::PermissionMode;
use crate::store::EventStore;

/// The real `initialize` answer of 2.1.330, trimmed (the same fixture as the parser's tests).
fn real_initialize() -> Value {
    let line: Value = serde_json::from_str(include_str!(
        "../../../capabilities/initialize-2.1.330.json"
    ))
    .expect("fixture");
    line["response"]["response"].clone()
}

const REFUSAL: &str = "Cannot set permission mode: must be one of acceptEdits, auto, \
                       bypassPermissions, default, dontAsk, plan";

/// The CLI answers our control request `request_id`.
fn answer(session: &mut Harness, request_id: &Value, result: Result<Value, &str>) {
    let response = match result {
        Ok(body) => json!({"subtype": "success", "request_id": request_id, "response": body}),
        Err(error) => json!({"subtype": "error", "request_id": request_id, "error": error,
                             "error_code": "invalid_mode"}),
    };
    session.agent(line(
        json!({"type": "control_response", "response": response}),
    ));
}

/// The last control request written, as `(request_id, request)`.
fn last_control(session: &Harness) -> (Value, Value) {
    let written = session.written();
    let request = written
        .iter()
        .rev()
        .find(|l| l["type"] == "control_request")
        .expect("a control request");
    (request["request_id"].clone(), request["request"].clone())
}

/// Starts a process for a prompt; answers the id of its `initialize` request.
fn start(session: &mut Harness) -> Value {
    let prompt = format!("p-{}", session.effects.len());
    session.prompt("one", &prompt).expect("queued");
    session.slot(SlotSignal::Ready);
    last_control(session).0
}

/// A session whose process started and answered `initialize` and the mode probe as 2.1.330.
fn learned() -> Harness {
    let mut session = Harness::new();
    start_and_learn(&mut session);
    session
}

fn start_and_learn(session: &mut Harness) {
    let id = start(session);
    let (_, request) = last_control(session);
    assert_eq!(request, json!({"subtype": "initialize", "hooks": null}));
    answer(session, &id, Ok(real_initialize()));
    let (id, probe) = last_control(session);
    assert_eq!(probe["subtype"], "set_permission_mode");
    answer(session, &id, Err(REFUSAL));
}

fn capabilities(session: &mut Harness) -> Value {
    match session.request(SessionOp::Capabilities) {
        Ok(Reply::Capabilities(view)) => serde_json::to_value(view).expect("serializes"),
        other => panic!("answered {other:?}"),
    }
}

#[test]
fn initialize_goes_first_and_the_turn_is_written_right_after_it() {
    let mut session = Harness::new();
    session.prompt("one", "p-1").expect("queued");
    session.slot(SlotSignal::Ready);
    let written = session.written();
    assert_eq!(written[0]["request"]["subtype"], "initialize");
    assert_eq!(
        written[1]["type"], "user",
        "the prompt does not wait for the answer"
    );
}

#[test]
fn the_answer_is_kept_stored_and_announced_once() {
    let mut session = learned();
    let view = capabilities(&mut session);
    assert_eq!(view["known"], true);
    let caps = &view["capabilities"];
    assert_eq!(caps["claude_code_version"], "2.1.330");
    assert_eq!(caps["commands"][0]["name"], "debug");
    assert_eq!(caps["models"][3]["value"], "sonnet");
    assert_eq!(
        caps["permission_modes"],
        json!([
            "acceptEdits",
            "auto",
            "bypassPermissions",
            "default",
            "dontAsk",
            "plan"
        ])
    );
    assert_eq!(
        view["permission_modes"],
        json!(["acceptEdits", "auto", "default", "dontAsk", "plan"]),
        "bypass is not offered without the configuration"
    );
    assert_eq!(
        view["effort_levels"],
        json!(["low", "medium", "high", "xhigh", "max"])
    );
    let announced = |s: &Harness| {
        let events = s.events();
        events
            .iter()
            .filter(|(k, _)| k == "session.capabilities")
            .count()
    };
    assert_eq!(announced(&session), 1);
    // The next process says the same: nothing new to announce.
    session.agent(super::result_line("success"));
    session.agent(crate::claude_process::AgentSignal::Exited {
        code: Some(0),
        signal: None,
        expected: true,
    });
    start_and_learn(&mut session);
    assert_eq!(announced(&session), 1);
    let stored = session.store.load_sessions().expect("loads");
    let kept = stored[0]
        .capabilities
        .as_ref()
        .expect("stored beside the session");
    assert_eq!(kept.models.len(), 5);
}

#[test]
fn without_an_answer_the_pinned_lists_apply() {
    let mut session = Harness::new();
    let view = capabilities(&mut session);
    assert_eq!(view["known"], false);
    assert_eq!(view["capabilities"], Value::Null);
    assert_eq!(
        view["permission_modes"],
        json!(["default", "acceptEdits", "plan", "dontAsk", "auto"])
    );
    // An older CLI that refuses initialize changes nothing.
    let id = start(&mut session);
    answer(
        &mut session,
        &id,
        Err("Unsupported control request subtype: initialize"),
    );
    assert_eq!(capabilities(&mut session)["known"], false);
}

#[test]
fn an_older_cli_that_takes_the_probe_gets_its_mode_back() {
    let mut session = Harness::new();
    let id = start(&mut session);
    answer(
        &mut session,
        &id,
        Ok(json!({"commands": [{"name": "compact"}]})),
    );
    let (id, _) = last_control(&session);
    answer(&mut session, &id, Ok(json!({"mode": "pocket-relay-probe"})));
    let (_, restore) = last_control(&session);
    assert_eq!(
        restore,
        json!({"subtype": "set_permission_mode", "mode": "default"})
    );
    let view = capabilities(&mut session);
    assert_eq!(view["known"], true);
    assert_eq!(view["capabilities"]["permission_modes"], json!([]));
    assert_eq!(session.core.info().permission_mode.as_str(), "default");
}

#[test]
fn modes_are_checked_against_what_the_cli_named() {
    let mut session = learned();
    let bad = SessionOp::SetPermissionMode(PermissionMode::new("yolo"));
    assert_eq!(code(session.request(bad)), "bad_request");
    let bypass = SessionOp::SetPermissionMode(PermissionMode::new("bypassPermissions"));
    assert_eq!(code(session.request(bypass)), "forbidden");
    let asked = session.apply(Input::Request {
        caller: super::alice(),
        op: SessionOp::SetPermissionMode(PermissionMode::new("dontAsk")),
    });
    assert!(matches!(asked, Some(Answer::Control { .. })));
}

#[test]
fn a_live_refusal_is_reported_and_its_list_of_modes_kept() {
    let mut session = learned();
    let Some(Answer::Control { then, .. }) = session.apply(Input::Request {
        caller: super::alice(),
        op: SessionOp::SetPermissionMode(PermissionMode::new("plan")),
    }) else {
        panic!("waits for the CLI");
    };
    // A CLI that dropped `plan` since it was asked.
    let refusal = "Cannot set permission mode: must be one of default, acceptEdits";
    let refused = session.apply(Input::ControlAnswered {
        then,
        result: Some(Err(refusal.into())),
    });
    let Some(Answer::Now(Err(error))) = refused else {
        panic!("answered {refused:?}");
    };
    assert_eq!(error.code().as_str(), "bad_request");
    assert!(error.to_string().contains(refusal), "{error}");
    let view = capabilities(&mut session);
    assert_eq!(view["permission_modes"], json!(["default", "acceptEdits"]));
    let plan = SessionOp::SetPermissionMode(PermissionMode::new("plan"));
    assert_eq!(code(session.request(plan)), "bad_request");
    let announced = session.events();
    let count = announced
        .iter()
        .filter(|(k, _)| k == "session.capabilities");
    assert_eq!(count.count(), 2);
}

#[test]
fn the_mode_the_cli_reports_becomes_the_sessions() {
    let mut session = learned();
    let status = json!({"type": "system", "subtype": "status", "status": null,
                        "permissionMode": "plan"});
    session.agent(line(status));
    assert_eq!(session.core.info().permission_mode.as_str(), "plan");
    let updated = session.events();
    let last = updated
        .iter()
        .rev()
        .find(|(k, _)| k == "session.updated")
        .expect("updated");
    assert_eq!(last.1["session"]["permission_mode"], "plan");
}

fn set_model(model: &str, effort: Option<&str>) -> SessionOp {
    SessionOp::SetModel(SetModel {
        model: model.into(),
        effort: effort.map(str::to_string),
    })
}

#[test]
fn without_a_process_the_model_applies_at_the_next_start() {
    let mut session = Harness::new();
    let reply = session
        .request(set_model("sonnet", Some("high")))
        .expect("set");
    let Reply::Session(info) = reply else {
        panic!("answered {reply:?}");
    };
    assert_eq!(info.model.as_deref(), Some("sonnet"));
    assert_eq!(info.effort.as_deref(), Some("high"));
    session.prompt("one", "p-1").expect("queued");
    session.slot(SlotSignal::Ready);
    let spec = session.effects.iter().find_map(|e| match e {
        crate::session::core::Effect::Launch { spec, .. } => Some(spec.clone()),
        _ => None,
    });
    let args = spec.expect("launched").args(&Default::default());
    let joined = args.join(" ");
    assert!(joined.contains("--model sonnet"), "{joined}");
    assert!(joined.contains("--effort high"), "{joined}");
    // The pinned efforts apply while the CLI never said.
    assert_eq!(
        code(session.request(set_model("x", Some("extreme")))),
        "bad_request"
    );
}

#[test]
fn a_live_model_change_goes_through_set_model_then_the_effort() {
    let mut session = learned();
    let Some(Answer::Control { then, .. }) = session.apply(Input::Request {
        caller: super::alice(),
        op: set_model("haiku", Some("low")),
    }) else {
        panic!("waits for the CLI");
    };
    let (_, request) = last_control(&session);
    assert_eq!(request, json!({"subtype": "set_model", "model": "haiku"}));
    let Some(Answer::Control { then, .. }) = session.apply(Input::ControlAnswered {
        then,
        result: Some(Ok(json!({"model": "claude-haiku-5-5"}))),
    }) else {
        panic!("the effort goes next");
    };
    let (_, request) = last_control(&session);
    assert_eq!(
        request,
        json!({"subtype": "apply_flag_settings", "settings": {"effortLevel": "low"}})
    );
    let done = session.apply(Input::ControlAnswered {
        then,
        result: Some(Ok(Value::Null)),
    });
    assert!(matches!(done, Some(Answer::Stored { reply: None, .. })));
    assert_eq!(session.core.info().model.as_deref(), Some("haiku"));
    assert_eq!(session.core.info().effort.as_deref(), Some("low"));
}

#[test]
fn models_and_efforts_the_cli_does_not_offer_are_refused_naming_the_valid_ones() {
    let mut session = learned();
    match session.request(set_model("gpt-9", None)) {
        Err(error) => {
            assert_eq!(error.code().as_str(), "bad_request");
            assert!(
                error
                    .to_string()
                    .contains("default, opus, fable, sonnet, haiku"),
                "{error}"
            );
        }
        Ok(reply) => panic!("accepted: {reply:?}"),
    }
    assert_eq!(
        code(session.request(set_model("opus", Some("ultra")))),
        "bad_request"
    );
    assert_eq!(
        code(session.request(set_model("--evil", None))),
        "bad_request"
    );
}

#[test]
fn bypass_is_offered_when_the_configuration_allows_it() {
    let config = DomainConfig {
        sessions: SessionsConfig {
            allow_bypass_permissions: true,
            ..SessionsConfig::default()
        },
        ..DomainConfig::default()
    };
    let mut session = Harness::with_config(config);
    start_and_learn(&mut session);
    let view = capabilities(&mut session);
    assert_eq!(view["allow_bypass_permissions"], true);
    assert!(view["permission_modes"]
        .as_array()
        .expect("a list")
        .contains(&json!("bypassPermissions")));
    let spec = session.effects.iter().find_map(|e| match e {
        crate::session::core::Effect::Launch { spec, .. } => Some(spec.clone()),
        _ => None,
    });
    let args = spec.expect("launched").args(&Default::default());
    assert!(args.contains(&"--allow-dangerously-skip-permissions".to_string()));
}
