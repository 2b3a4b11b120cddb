//! Claude's requests to use a tool (`can_use_tool`), from the moment they become a stored
//! `permission.requested` event until exactly one `permission.resolved` closes them: a client's
//! decision (the first valid one wins), the timeout (`permissions.timeout_s`, 0 = never), or the
//! request becoming moot (cancelled by the CLI, process gone, server restarted).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use actix::prelude::*;
use serde_json::{json, Value};

use super::Session;
use crate::command::{Caller, Decision, PermissionAnswer};
use crate::error::{RelayError, RelayResult};
use crate::event::{EventData, ResolvedBy};
use crate::ids::PermissionRequestId;
use crate::permission_rules::always_allow;
use crate::session_info::SessionStatus;

/// A request waiting for a decision.
struct Pending {
    cli_request_id: String,
    input: Value,
    tool_use_id: Option<String>,
    /// The CLI's `permission_suggestions`: all that "always" may ever apply.
    suggestions: Option<Value>,
    timer: Option<SpawnHandle>,
    /// When it was asked, for the wait-time metric.
    asked_at: std::time::Instant,
}

/// The session's open permission requests, and the ids of closed ones (to tell `conflict` from
/// `not_found`).
#[derive(Default)]
pub struct PendingPermissions {
    open: BTreeMap<PermissionRequestId, Pending>,
    closed: HashSet<PermissionRequestId>,
}

impl PendingPermissions {
    /// Remembers requests resolved before a restart.
    pub fn mark_closed(&mut self, id: PermissionRequestId) {
        self.closed.insert(id);
    }
}

fn text_field(request: &Value, key: &str) -> Option<String> {
    request.get(key).and_then(Value::as_str).map(str::to_string)
}

impl Session {
    pub(super) fn on_permission_request(
        &mut self,
        cli_request_id: String,
        request: Value,
        ctx: &mut Context<Self>,
    ) {
        let request_id = PermissionRequestId::random();
        let tool_name = text_field(&request, "tool_name").unwrap_or_default();
        let input = request.get("input").cloned().unwrap_or_else(|| json!({}));
        let tool_use_id = text_field(&request, "tool_use_id");
        let suggestions = request.get("permission_suggestions").cloned();
        log::info!(
            "session {}: permission {request_id} requested for {tool_name}",
            self.info.id
        );
        let timer = match self.deps.config.permissions.timeout_s {
            0 => None,
            secs => {
                let id = request_id.clone();
                Some(ctx.run_later(Duration::from_secs(secs), move |act, ctx| {
                    act.permission_timed_out(&id, ctx)
                }))
            }
        };
        self.permissions.open.insert(
            request_id.clone(),
            Pending {
                cli_request_id,
                input: input.clone(),
                tool_use_id: tool_use_id.clone(),
                suggestions: suggestions.clone(),
                timer,
                asked_at: std::time::Instant::now(),
            },
        );
        self.deps.metrics.permissions_pending.inc();
        self.info.pending_permissions.push(request_id.clone());
        self.touch();
        self.emit(
            EventData::PermissionRequested {
                request_id,
                tool_name,
                input,
                description: text_field(&request, "description"),
                tool_use_id,
                blocked_path: text_field(&request, "blocked_path"),
                suggestions,
            },
            ctx,
        );
        self.set_status(SessionStatus::AwaitingPermission, None, ctx);
    }

    /// A client's decision; the first valid one wins, later ones get `conflict`. With `always`,
    /// answers the rules it remembered (see [`crate::permission_rules`]).
    pub(super) fn answer_permission(
        &mut self,
        answer: PermissionAnswer,
        caller: &Caller,
        ctx: &mut Context<Self>,
    ) -> RelayResult<Option<Vec<String>>> {
        if answer.decision == Decision::Deny && answer.updated_input.is_some() {
            return Err(RelayError::BadRequest(
                "updated_input only goes with allow".into(),
            ));
        }
        if answer.always && answer.updated_input.is_some() {
            return Err(RelayError::BadRequest(
                "always cannot go with updated_input: Claude Code's rule is for the input it asked about"
                    .into(),
            ));
        }
        if let Some(input) = &answer.updated_input {
            if !input.is_object() {
                return Err(RelayError::BadRequest(
                    "updated_input must be an object".into(),
                ));
            }
        }
        let Some(pending) = self.permissions.open.get(&answer.request_id) else {
            return Err(if self.permissions.closed.contains(&answer.request_id) {
                RelayError::Conflict(format!(
                    "permission request {} is already resolved",
                    answer.request_id
                ))
            } else {
                RelayError::NotFound(format!("no permission request {}", answer.request_id))
            });
        };
        let mut rules_added = None;
        let body = match answer.decision {
            Decision::Allow => {
                let mut body = json!({
                    "behavior": "allow",
                    "updatedInput": answer.updated_input.clone().unwrap_or_else(|| pending.input.clone()),
                });
                if let Some(id) = &pending.tool_use_id {
                    body["toolUseID"] = json!(id);
                }
                if answer.always {
                    // Only the CLI's own allow rules for this request, kept in the session.
                    let always = always_allow(pending.suggestions.as_ref());
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
                    self.interrupted = true;
                }
                json!({"behavior": "deny", "message": message, "interrupt": answer.interrupt})
            }
        };
        self.answer_cli(&pending.cli_request_id.clone(), Ok(body));
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
            self.remember_rules(rules, ctx);
        }
        let by = ResolvedBy::Client {
            user: caller.user.to_string(),
            connection_id: caller.connection.as_ref().map(|c| c.to_string()),
        };
        self.close_permission(&answer.request_id, decision, by, rules_added.clone(), ctx);
        Ok(rules_added)
    }

    fn permission_timed_out(&mut self, id: &PermissionRequestId, ctx: &mut Context<Self>) {
        let Some(pending) = self.permissions.open.get_mut(id) else {
            return;
        };
        pending.timer = None;
        let cli_id = pending.cli_request_id.clone();
        let secs = self.deps.config.permissions.timeout_s;
        log::info!(
            "session {}: permission {id} timed out after {secs}s",
            self.info.id
        );
        let message = format!("no decision within {secs} seconds; denied by pocket-relay");
        self.answer_cli(&cli_id, Ok(json!({"behavior": "deny", "message": message})));
        let by = ResolvedBy::Timeout { timeout: true };
        self.close_permission(id, "deny", by, None, ctx);
    }

    /// Closes every open request as `cancelled` (the turn or the process ended).
    pub(super) fn cancel_permissions(&mut self, reason: &str, ctx: &mut Context<Self>) {
        let ids: Vec<_> = self.permissions.open.keys().cloned().collect();
        for id in ids {
            self.close_permission(
                &id,
                "cancelled",
                ResolvedBy::Reason {
                    reason: reason.into(),
                },
                None,
                ctx,
            );
        }
    }

    pub(super) fn cancel_permission_by_cli_id(
        &mut self,
        cli_id: &str,
        reason: &str,
        ctx: &mut Context<Self>,
    ) {
        let found = self
            .permissions
            .open
            .iter()
            .find(|(_, p)| p.cli_request_id == cli_id)
            .map(|(id, _)| id.clone());
        if let Some(id) = found {
            self.close_permission(
                &id,
                "cancelled",
                ResolvedBy::Reason {
                    reason: reason.into(),
                },
                None,
                ctx,
            );
        }
    }

    fn close_permission(
        &mut self,
        id: &PermissionRequestId,
        decision: &'static str,
        by: ResolvedBy,
        rules_added: Option<Vec<String>>,
        ctx: &mut Context<Self>,
    ) {
        if let Some(pending) = self.permissions.open.remove(id) {
            if let Some(timer) = pending.timer {
                ctx.cancel_future(timer);
            }
            self.deps.metrics.permissions_pending.dec();
            let waited = pending.asked_at.elapsed().as_secs_f64();
            self.deps.metrics.permission_wait_seconds.observe(waited);
        }
        self.permissions.closed.insert(id.clone());
        self.info.pending_permissions.retain(|p| p != id);
        self.touch();
        self.emit(
            EventData::PermissionResolved {
                request_id: id.clone(),
                decision,
                by,
                rules_added,
            },
            ctx,
        );
        // Back to running only while the turn goes on: when the turn or the process has ended,
        // the caller sets the status that fits (idle, stopped, crashed) right after.
        let turn_goes_on = self.running.is_some() && self.agent.is_some();
        if self.permissions.open.is_empty()
            && self.info.status == SessionStatus::AwaitingPermission
            && turn_goes_on
        {
            self.set_status(SessionStatus::Running, None, ctx);
        }
    }
}
