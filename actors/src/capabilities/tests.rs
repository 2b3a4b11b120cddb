use serde_json::{json, Value};

use super::modes::{check_permission_mode, modes_from_refusal, selectable_modes, PINNED_MODES};
use super::*;
use crate::config::SessionsConfig;
use crate::error::RelayError;

/// The real `initialize` answer of Claude Code 2.1.330 (trimmed: 7 of its 44 commands, 2 of its
/// 5 agents), as the CLI wrote it on stdout.
const REAL_2_1_330: &str = include_str!("initialize-2.1.330.json");
/// The same from 2.1.197, which has no version, no current mode and no `builtin` flags.
const REAL_2_1_197: &str = include_str!("initialize-2.1.197.json");

fn body(line: &str) -> Value {
    let line: Value = serde_json::from_str(line).expect("fixture is JSON");
    line["response"]["response"].clone()
}

#[test]
fn the_real_initialize_answer_gives_commands_models_efforts_agents_and_styles() {
    let (caps, mode) = Capabilities::from_initialize(&body(REAL_2_1_330));
    assert_eq!(mode.as_deref(), Some("default"));
    assert_eq!(caps.claude_code_version.as_deref(), Some("2.1.330"));
    let names: Vec<&str> = caps.commands.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "debug",
            "code-review",
            "clear",
            "compact",
            "effort",
            "model",
            "usage"
        ]
    );
    let review = &caps.commands[1];
    assert_eq!(review.aliases, ["review"]);
    assert!(review
        .argument_hint
        .starts_with("[low|medium|high|xhigh|max]"));
    assert!(review.description.len() > 20);
    let models: Vec<&str> = caps.models.iter().map(|m| m.value.as_str()).collect();
    assert_eq!(models, ["default", "opus", "fable", "sonnet", "haiku"]);
    let sonnet = caps
        .model("claude-sonnet-5-5")
        .expect("found by its full name");
    assert_eq!(sonnet.value, "sonnet");
    assert_eq!(sonnet.display_name, "Sonnet");
    assert!(sonnet.supports_effort);
    assert_eq!(sonnet.effort_levels, PINNED_EFFORTS);
    assert_eq!(caps.agents[1].name, "Explore");
    assert_eq!(caps.agents[1].model.as_deref(), Some("inherit"));
    assert_eq!(caps.output_style.as_deref(), Some("default"));
    assert_eq!(
        caps.output_styles,
        ["default", "Proactive", "Concise", "Explanatory", "Learning"]
    );
    assert!(
        caps.permission_modes.is_empty(),
        "initialize does not list them"
    );
}

#[test]
fn an_older_cli_answer_without_version_or_mode_still_reads() {
    let (caps, mode) = Capabilities::from_initialize(&body(REAL_2_1_197));
    assert_eq!(mode, None);
    assert_eq!(caps.claude_code_version, None);
    assert_eq!(caps.commands.len(), 2);
    assert_eq!(caps.models.len(), 2);
    assert_eq!(caps.agents[0].name, "claude");
}

#[test]
fn empty_odd_or_missing_answers_give_empty_capabilities_and_never_fail() {
    for odd in [
        json!(null),
        json!({}),
        json!("text"),
        json!([1, 2]),
        json!({"commands": "nope", "models": {"a": 1}, "agents": 3}),
        json!({"commands": [{"description": "no name"}, 7, {"name": ""}],
               "models": [{"displayName": "no value"}], "claude_code_version": 2}),
    ] {
        let (caps, mode) = Capabilities::from_initialize(&odd);
        assert_eq!(caps, Capabilities::default(), "{odd}");
        assert_eq!(mode, None);
    }
}

#[test]
fn unknown_fields_are_ignored_and_agents_may_be_bare_names() {
    let answer = json!({
        "commands": [{"name": "x", "newField": {"deep": true}}],
        "agents": ["Plan", {"name": "Explore"}],
        "models": [{"value": "m", "supportedEffortLevels": ["low"], "futureFlag": 1}],
        "something_new": [1]
    });
    let (caps, _) = Capabilities::from_initialize(&answer);
    assert_eq!(caps.commands[0].name, "x");
    assert_eq!(caps.agents.len(), 2);
    assert!(
        caps.models[0].supports_effort,
        "levels listed: it takes them"
    );
}

#[test]
fn stored_capabilities_read_back_equal() {
    let (mut caps, _) = Capabilities::from_initialize(&body(REAL_2_1_330));
    caps.permission_modes = vec!["default".into(), "plan".into()];
    let stored = serde_json::to_string(&caps).expect("serializes");
    let back: Capabilities = serde_json::from_str(&stored).expect("reads back");
    assert_eq!(back, caps);
    let older: Capabilities = serde_json::from_str("{}").expect("missing fields are fine");
    assert_eq!(older, Capabilities::default());
}

#[test]
fn models_are_checked_against_the_list_when_there_is_one() {
    let (caps, _) = Capabilities::from_initialize(&body(REAL_2_1_330));
    assert!(caps.check_model("sonnet").is_ok());
    assert!(caps.check_model("claude-opus-5-5").is_ok());
    let error = caps.check_model("gpt-9").expect_err("not offered");
    assert!(
        error.contains("default, opus, fable, sonnet, haiku"),
        "{error}"
    );
    assert!(Capabilities::default().check_model("anything-goes").is_ok());
}

#[test]
fn efforts_follow_the_model_or_the_pinned_list() {
    let (mut caps, _) = Capabilities::from_initialize(&body(REAL_2_1_330));
    assert!(check_effort(Some(&caps), Some("haiku"), "xhigh").is_ok());
    assert!(check_effort(None, None, "max").is_ok());
    let error = check_effort(Some(&caps), Some("opus"), "extreme").expect_err("not offered");
    assert!(error.contains("low, medium, high, xhigh, max"), "{error}");
    caps.models[1].supports_effort = false;
    let error = check_effort(Some(&caps), Some("opus"), "low").expect_err("no effort");
    assert!(error.contains("takes no effort"), "{error}");
    assert_eq!(effort_levels(None, Some("x")), PINNED_EFFORTS);
}

#[test]
fn the_modes_come_from_the_clis_refusal() {
    // What 2.1.330 answers to a bad `set_permission_mode`.
    let refusal = "Cannot set permission mode: must be one of acceptEdits, auto, \
                   bypassPermissions, default, dontAsk, plan";
    let modes = modes_from_refusal(refusal).expect("a list");
    assert_eq!(
        modes,
        [
            "acceptEdits",
            "auto",
            "bypassPermissions",
            "default",
            "dontAsk",
            "plan"
        ]
    );
    assert_eq!(modes_from_refusal("Unsupported control request"), None);
    assert_eq!(modes_from_refusal("must be one of"), None);
}

fn sessions(allow_bypass: bool) -> SessionsConfig {
    SessionsConfig {
        allow_bypass_permissions: allow_bypass,
        ..SessionsConfig::default()
    }
}

#[test]
fn every_mode_the_cli_accepts_is_valid_and_others_are_refused_naming_the_valid_ones() {
    let none: Vec<String> = Vec::new();
    for mode in PINNED_MODES.iter().chain(&["manual"]) {
        check_permission_mode(mode, &none, &sessions(true)).expect(mode);
    }
    let learned = vec!["default".to_string(), "plan".into(), "newMode".into()];
    check_permission_mode("newMode", &learned, &sessions(false)).expect("the CLI named it");
    match check_permission_mode("auto", &learned, &sessions(false)) {
        Err(RelayError::BadRequest(message)) => {
            assert!(
                message.contains("valid: default, plan, newMode"),
                "{message}"
            )
        }
        other => panic!("expected bad_request, got {other:?}"),
    }
    match check_permission_mode("yolo", &none, &sessions(true)) {
        Err(RelayError::BadRequest(message)) => assert!(
            message.contains("default, acceptEdits, plan, dontAsk, auto, bypassPermissions"),
            "{message}"
        ),
        other => panic!("expected bad_request, got {other:?}"),
    }
}

#[test]
fn bypass_needs_the_configuration_and_is_only_offered_with_it() {
    let none: Vec<String> = Vec::new();
    assert!(matches!(
        check_permission_mode("bypassPermissions", &none, &sessions(false)),
        Err(RelayError::Forbidden(_))
    ));
    assert!(!selectable_modes(&none, &sessions(false)).contains(&"bypassPermissions".into()));
    assert!(selectable_modes(&none, &sessions(true)).contains(&"bypassPermissions".into()));
}
