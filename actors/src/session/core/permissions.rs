//! Claude's requests to use a tool (`can_use_tool`), from the moment they become a stored
//! `permission.requested` event until exactly one `permission.resolved` closes them: a client's
//! decision (the first valid one wins), the timeout (`permissions.timeout_s`, 0 = never), or the
//! request becoming moot (cancelled by the CLI, turn or process over, server restarted).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{Effect, SessionCore};
use crate::command::{Caller, Decision, PermissionAnswer};
use crate::error::{RelayError, RelayResult};
use crate::event::{EventData, PermissionRequest, ResolvedBy};
use crate::ids::{PermissionRequestId, Seq};
use crate::inbox::Pending;
use crate::permission_rules::always_allow;
use crate::session_info::{now_ts, SessionStatus};

/// A request waiting for a decision.
struct Open {
    cli_request_id: String,
    /// What Claude asked, as its `permission.requested` event says.
    request: PermissionRequest,
    /// That event's seq and time, for the approval inbox.
    seq: Seq,
    requested_at: String,
    /// When it was asked, for the wait-time metric.
    asked_at: Instant,
}

/// The open requests in the order they were asked, and the ids of closed ones (to tell
/// `conflict` from `not_found`).
#[derive(Default)]
pub struct Permissions {
    open: Vec<(PermissionRequestId, Open)>,
    closed: HashSet<PermissionRequestId>,
}

impl Permissions {
    /// The open requests' ids, oldest first (the session object's `pending_permissions`).
    pub fn ids(&self) -> Vec<PermissionRequestId> {
        self.open.iter().map(|(id, _)| id.clone()).collect()
    }

    fn get(&self, id: &PermissionRequestId) -> Option<&Open> {
        self.open
            .iter()
            .find(|(open, _)| open == id)
            .map(|(_, p)| p)
    }

    fn remove(&mut self, id: &PermissionRequestId) -> Option<Open> {
        let at = self.open.iter().position(|(open, _)| open == id)?;
        Some(self.open.remove(at).1)
    }

    /// Remembers a request resolved before a restart.
    pub fn mark_closed(&mut self, id: PermissionRequestId) {
        self.closed.insert(id);
    }
}

fn text_field(request: &Value, key: &str) -> Option<String> {
    request.get(key).and_then(Value::as_str).map(str::to_string)
}

/// The answer's own contradictions, before any request is looked up.
fn check(answer: &PermissionAnswer) -> RelayResult<()> {
    let bad = |text: &str| Err(RelayError::BadRequest(text.into()));
    if answer.decision == Decision::Deny && answer.updated_input.is_some() {
        return bad("updated_input only goes with allow");
    }
    if answer.always && answer.updated_input.is_some() {
        return bad("always cannot go with updated_input: Claude Code's rule is for the input it asked about");
    }
    match &answer.updated_input {
        Some(input) if !input.is_object() => bad("updated_input must be an object"),
        _ => Ok(()),
    }
}

impl SessionCore {
    pub(super) fn on_permission_request(&mut self, cli_request_id: String, request: Value) {
        let request_id = PermissionRequestId::random();
        let asked = PermissionRequest {
            request_id: request_id.clone(),
            tool_name: text_field(&request, "tool_name").unwrap_or_default(),
            input: request.get("input").cloned().unwrap_or_else(|| json!({})),
            description: text_field(&request, "description"),
            tool_use_id: text_field(&request, "tool_use_id"),
            blocked_path: text_field(&request, "blocked_path"),
            suggestions: request.get("permission_suggestions").cloned(),
        };
        log::info!(
            "session {}: permission {request_id} requested for {}",
            self.info.id,
            asked.tool_name
        );
        if let secs @ 1.. = self.config.permissions.timeout_s {
            let timer = Effect::StartTimer(request_id.clone(), Duration::from_secs(secs));
            self.effect(timer);
        }
        let requested_at = now_ts();
        let seq = self.emit_at(EventData::PermissionRequested(asked.clone()), &requested_at);
        let open = Open {
            cli_request_id,
            request: asked,
            seq,
            requested_at,
            asked_at: Instant::now(),
        };
        self.permissions.open.push((request_id, open));
        self.metrics.permissions_pending.inc();
        self.touch();
        self.set_status(SessionStatus::AwaitingPermission, None);
    }

    /// The open requests whose `permission.requested` is stored, oldest first, as the approval
    /// inbox shows them: one not yet stored is not announced to anyone (see [`crate::watch`]).
    pub fn pending_permissions(&self) -> Vec<Pending> {
        let stored = self.log.stored_seq();
        self.permissions
            .open
            .iter()
            .filter(|(_, open)| open.seq <= stored)
            .map(|(_, open)| Pending {
                session_id: self.info.id,
                session_title: self.info.title.clone(),
                cwd: self.info.cwd.clone(),
                request: open.request.clone(),
                requested_at: open.requested_at.clone(),
                seq: open.seq,
            })
            .collect()
    }

    /// A client's decision; the first valid one wins, later ones get `conflict`. With `always`,
    /// answers the rules it remembered (see [`crate::permission_rules`]).
    pub(super) fn answer_permission(
        &mut self,
        answer: PermissionAnswer,
        caller: &Caller,
    ) -> RelayResult<Option<Vec<String>>> {
        check(&answer)?;
        let Some(pending) = self.permissions.get(&answer.request_id) else {
            let id = &answer.request_id;
            return Err(if self.permissions.closed.contains(id) {
                RelayError::Conflict(format!("permission request {id} is already resolved"))
            } else {
                RelayError::NotFound(format!("no permission request {id}"))
            });
        };
        let cli_request_id = pending.cli_request_id.clone();
        let mut rules_added = None;
        let body = match answer.decision {
            Decision::Allow => {
                let input = answer.updated_input.clone();
                let mut body = json!({
                    "behavior": "allow",
                    "updatedInput": input.unwrap_or_else(|| pending.request.input.clone()),
                });
                if let Some(id) = &pending.request.tool_use_id {
                    body["toolUseID"] = json!(id);
                }
                if answer.always {
                    // Only the CLI's own allow rules for this request, kept in the session.
                    let always = always_allow(pending.request.suggestions.as_ref());
                    if !always.updates.is_empty() {
                        body["updatedPermissions"] = json!(always.updates);
                    }
                    rules_added = Some(always.rules);
                }
                body
            }
            Decision::Deny => {
                let message = answer
                    .message
                    .clone()
                    .unwrap_or_else(|| format!("denied by {} from pocket-relay", caller.user));
                if answer.interrupt {
                    if let Some(turn) = &mut self.agent.turn {
                        turn.interrupted = true;
                    }
                }
                json!({"behavior": "deny", "message": message, "interrupt": answer.interrupt})
            }
        };
        self.answer_cli(&cli_request_id, Ok(body));
        let decision = match answer.decision {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
        };
        log::info!(
            "session {}: permission {} {decision} by {} (always: {}, rules added: {:?})",
            self.info.id,
            answer.request_id,
            caller.user,
            answer.always,
            rules_added
        );
        if let Some(rules) = &rules_added {
            self.remember_rules(rules);
        }
        let by = ResolvedBy::Client {
            user: caller.user.to_string(),
            connection_id: caller.connection.as_ref().map(|c| c.to_string()),
        };
        self.close_permission(&answer.request_id, decision, by, rules_added.clone());
        Ok(rules_added)
    }

    pub(super) fn permission_timed_out(&mut self, id: &PermissionRequestId) {
        let Some(pending) = self.permissions.get(id) else {
            return;
        };
        let cli_id = pending.cli_request_id.clone();
        let secs = self.config.permissions.timeout_s;
        log::info!(
            "session {}: permission {id} timed out after {secs}s",
            self.info.id
        );
        let message = format!("no decision within {secs} seconds; denied by pocket-relay");
        self.answer_cli(&cli_id, Ok(json!({"behavior": "deny", "message": message})));
        let by = ResolvedBy::Timeout { timeout: true };
        self.close_permission(id, "deny", by, None);
    }

    /// Closes every open request as `cancelled` (the turn or the process ended).
    pub(super) fn cancel_permissions(&mut self, reason: &str) {
        for id in self.permissions.ids() {
            let by = ResolvedBy::Reason {
                reason: reason.into(),
            };
            self.close_permission(&id, "cancelled", by, None);
        }
    }

    pub(super) fn cancel_permission_by_cli_id(&mut self, cli_id: &str, reason: &str) {
        let found = self
            .permissions
            .open
            .iter()
            .find(|(_, p)| p.cli_request_id == cli_id)
            .map(|(id, _)| id.clone());
        if let Some(id) = found {
            let by = ResolvedBy::Reason {
                reason: reason.into(),
            };
            self.close_permission(&id, "cancelled", by, None);
        }
    }

    pub(super) fn close_permission(
        &mut self,
        id: &PermissionRequestId,
        decision: &'static str,
        by: ResolvedBy,
        rules_added: Option<Vec<String>>,
    ) {
        if let Some(pending) = self.permissions.remove(id) {
            if self.config.permissions.timeout_s > 0 {
                self.effect(Effect::CancelTimer(id.clone()));
            }
            self.metrics.permissions_pending.dec();
            let waited = pending.asked_at.elapsed().as_secs_f64();
            self.metrics.permission_wait_seconds.observe(waited);
        }
        self.permissions.closed.insert(id.clone());
        self.touch();
        self.emit(EventData::PermissionResolved {
            request_id: id.clone(),
            decision,
            by,
            rules_added,
        });
        // Back to running only while the turn goes on: when the turn or the process has ended,
        // the caller sets the status that fits (idle, stopped, crashed) right after.
        let turn_goes_on = self.agent.turn_running() && self.agent.has_process();
        if self.permissions.open.is_empty()
            && self.status == SessionStatus::AwaitingPermission
            && turn_goes_on
        {
            self.set_status(SessionStatus::Running, None);
        }
    }
}
