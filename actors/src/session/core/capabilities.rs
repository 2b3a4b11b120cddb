//! Learning what the session's Claude Code can do. Each new process is sent `initialize` before
//! its first turn (the CLI reads stdin in order, so the turn is written right after and waits for
//! nothing), then a `set_permission_mode` with a mode no CLI has, whose refusal lists the valid
//! modes. What it says is kept (and stored) as the session's capabilities; a change is announced
//! with a `session.capabilities` event. An older CLI that answers `initialize` with an error, or
//! not at all, leaves the last known capabilities as they were.
//!
//! The mode the CLI reports (`initialize`'s `current_permission_mode`, a `system/status` line's
//! `permissionMode`) becomes the session's: the CLI may change it itself (a plan approved, an
//! alias such as `manual` resolved to `default`).

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use super::control::{ControlResult, OwnRequest};
use super::SessionCore;
use crate::capabilities::modes::{modes_from_refusal, PROBE_MODE};
use crate::capabilities::{Capabilities, CapabilitiesView};
use crate::event::EventData;
use crate::session_info::PermissionMode;

/// A `system/status` line's mode, when it carries one.
#[derive(Deserialize)]
struct StatusLine {
    #[serde(default, rename = "permissionMode")]
    permission_mode: Option<String>,
}

impl SessionCore {
    /// What a client sees of the session's capabilities now.
    pub(super) fn capabilities_view(&self) -> CapabilitiesView {
        CapabilitiesView::new(
            self.capabilities.clone(),
            self.info.model.as_deref(),
            &self.config.sessions,
        )
    }

    /// The modes the session's CLI named (empty: it never did).
    pub(super) fn known_modes(&self) -> &[String] {
        self.capabilities
            .as_deref()
            .map_or(&[], |c| c.permission_modes.as_slice())
    }

    /// A new process started: ask it what it can do, before its first turn.
    pub(super) fn ask_capabilities(&mut self) {
        self.learning = None;
        let request = json!({"subtype": "initialize", "hooks": null});
        self.own_request(request, OwnRequest::Initialize);
    }

    /// The CLI answered one of the session's own control requests.
    pub(super) fn own_answer(&mut self, own: OwnRequest, result: ControlResult) {
        match (own, result) {
            (OwnRequest::Initialize, Ok(body)) => {
                let (capabilities, mode) = Capabilities::from_initialize(&body);
                if let Some(mode) = mode {
                    self.mode_reported(&mode);
                }
                self.learning = Some(capabilities);
                let probe = json!({"subtype": "set_permission_mode", "mode": PROBE_MODE});
                self.own_request(probe, OwnRequest::ModeProbe);
            }
            (OwnRequest::Initialize, Err(error)) => log::info!(
                "session {}: Claude Code did not answer initialize: {error}",
                self.info.id
            ),
            (OwnRequest::ModeProbe, result) => {
                let Some(mut capabilities) = self.learning.take() else {
                    return;
                };
                match result {
                    Err(error) => {
                        capabilities.permission_modes =
                            modes_from_refusal(&error).unwrap_or_default();
                    }
                    Ok(_) => {
                        // An older CLI takes any mode: put the session's back.
                        let mode = self.info.permission_mode.as_str().to_string();
                        let restore = json!({"subtype": "set_permission_mode", "mode": mode});
                        self.own_request(restore, OwnRequest::Quiet);
                    }
                }
                self.adopt_capabilities(capabilities);
            }
            (OwnRequest::Quiet, _) => {}
        }
    }

    /// The CLI refused a client's mode: when its refusal names the modes it accepts, those are
    /// the valid ones from now on (announced like any change).
    pub(super) fn mode_refused(&mut self, refusal: &str) {
        let Some(modes) = modes_from_refusal(refusal) else {
            return;
        };
        let Some(known) = self.capabilities.as_deref() else {
            return;
        };
        let updated = Capabilities {
            permission_modes: modes,
            ..known.clone()
        };
        self.adopt_capabilities(updated);
    }

    /// Keeps (and stores) what the CLI said, announcing it when it changed.
    fn adopt_capabilities(&mut self, capabilities: Capabilities) {
        if self.capabilities.as_deref() == Some(&capabilities) {
            return;
        }
        log::info!(
            "session {}: Claude Code {} offers {} commands, {} models, {} permission modes",
            self.info.id,
            capabilities.claude_code_version.as_deref().unwrap_or("?"),
            capabilities.commands.len(),
            capabilities.models.len(),
            capabilities.permission_modes.len()
        );
        let capabilities = Arc::new(capabilities);
        self.capabilities = Some(capabilities.clone());
        self.touch();
        self.log.save_capabilities(capabilities);
        let view = self.capabilities_view();
        self.emit(EventData::SessionCapabilities(view));
    }

    /// A `system/status` line: the CLI's mode may have changed.
    pub(super) fn on_status_line(&mut self, raw: &str) {
        if let Ok(StatusLine {
            permission_mode: Some(mode),
        }) = serde_json::from_str(raw)
        {
            self.mode_reported(&mode);
        }
    }

    /// The CLI says it is in `mode`: the session's mode follows (never to the probe's).
    pub(super) fn mode_reported(&mut self, mode: &str) {
        if mode == PROBE_MODE || mode.is_empty() || mode == self.info.permission_mode.as_str() {
            return;
        }
        self.info.permission_mode = PermissionMode::new(mode);
        self.announce_update();
    }
}

/// The text of a control answer's `mode` field, if any.
pub(super) fn answered_mode(body: &Value) -> Option<&str> {
    body.get("mode")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
}
