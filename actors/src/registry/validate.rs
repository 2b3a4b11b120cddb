//! Checking a `session.create` before a session exists: limits, permission mode, and a `cwd`
//! that must lie inside `sessions.allowed_roots` once symlinks are resolved (for a user of
//! `claude.run_as`, checked as that user's OS account).

use std::path::{Path, PathBuf};

use crate::capabilities::check_effort;
use crate::capabilities::modes::check_permission_mode;
use crate::command::CreateSession;
use crate::config::expand_tilde;
use crate::error::{RelayError, RelayResult};
use crate::ids::{SessionId, UserId};
use crate::run_as::{CwdCheckError, OsAccount};
use crate::session_info::{now_ts, PermissionMode, SessionInfo, SessionStatus};

use super::Registry;

impl Registry {
    /// Checks a `session.create` whose `cwd` is already checked and builds the session object.
    pub(super) fn new_session(
        &self,
        user: &UserId,
        create: CreateSession,
        cwd: String,
    ) -> RelayResult<SessionInfo> {
        let owned = self.sessions.values().filter(|s| &s.owner == user).count();
        let max = self.config.sessions.max_per_user;
        if owned >= max {
            return Err(RelayError::Forbidden(format!(
                "you already have {owned} sessions; the limit is {max}"
            )));
        }
        let mode = create
            .permission_mode
            .unwrap_or_else(PermissionMode::default_mode);
        check_permission_mode(mode.as_str(), &[], &self.config.sessions)?;
        if let Some(effort) = &create.effort {
            check_effort(None, create.model.as_deref(), effort).map_err(RelayError::BadRequest)?;
        }
        for (name, value) in [
            ("title", &create.title),
            ("model", &create.model),
            ("resume_claude_session_id", &create.resume_claude_session_id),
        ] {
            if value.as_ref().is_some_and(|v| v.len() > 1024) {
                return Err(RelayError::BadRequest(format!("{name} is too long")));
            }
        }
        if create.model.as_ref().is_some_and(|m| m.starts_with('-')) {
            return Err(RelayError::BadRequest(
                "model must not start with '-'".into(),
            ));
        }
        let now = now_ts();
        Ok(SessionInfo {
            id: SessionId::new(),
            owner: user.clone(),
            title: create.title,
            cwd,
            model: create.model,
            effort: create.effort,
            permission_mode: mode,
            stream_deltas: create.stream_deltas.unwrap_or(true),
            status: SessionStatus::Idle,
            paused: false,
            claude_session_id: create.resume_claude_session_id,
            created_at: now.clone(),
            updated_at: now,
            last_seq: 0,
            queue_length: 0,
            pending_permissions: Vec::new(),
            allowed_rules: Vec::new(),
            terminal_command: None,
            continued_from: create.continued_from,
        })
    }

    /// `cwd` must be an existing directory inside an allowed root, symlinks resolved.
    pub(super) fn check_cwd(&self, cwd: &str) -> RelayResult<String> {
        let path = absolute_cwd(cwd, crate::config::expand_home)?;
        // One answer for a path that does not exist, is not a directory or lies outside the
        // roots: the error must not tell what exists outside them.
        let refused = || {
            RelayError::Forbidden(format!(
                "cwd {cwd} is not a directory inside sessions.allowed_roots"
            ))
        };
        let resolved = path.canonicalize().map_err(|_| refused())?;
        let roots = self.config.sessions.resolved_roots();
        if !roots.iter().any(|root| resolved.starts_with(root)) || !resolved.is_dir() {
            return Err(refused());
        }
        Ok(path_text(&resolved))
    }
}

/// Runs the session of a conversation from Claude Code's history in that conversation's
/// `folder`: a `cwd` the client gave must be that folder.
pub(super) fn use_folder(create: &mut CreateSession, folder: &Path) -> RelayResult<()> {
    let folder_text = path_text(folder);
    if !create.cwd.is_empty() {
        let given = crate::config::expand_home(&create.cwd).canonicalize().ok();
        if given.as_deref() != Some(folder) {
            return Err(RelayError::BadRequest(format!(
                "conversation {} ran in {folder_text}: leave cwd out or give that folder",
                create.resume_claude_session_id.as_deref().unwrap_or("")
            )));
        }
    }
    create.cwd = folder_text;
    Ok(())
}

/// Checks `cwd` for a user whose Claude runs as `account`: `~` is the account's home, the
/// account itself must be able to enter the directory, and its physical path must lie inside
/// `roots` (the allowed roots for that home). Every refusal is the same answer, so a user learns
/// nothing about paths outside the roots or another account's files.
pub(super) async fn check_cwd_as(
    account: OsAccount,
    roots: Vec<PathBuf>,
    cwd: String,
) -> RelayResult<String> {
    let path = absolute_cwd(&cwd, |cwd| expand_tilde(cwd, &account.home))?;
    let refused = || {
        RelayError::Forbidden(format!(
            "cwd {cwd} is not a directory inside sessions.allowed_roots that your OS account can enter"
        ))
    };
    let physical = match account.enter_dir(&path).await {
        Ok(physical) => physical,
        Err(CwdCheckError::NotEnterable) => return Err(refused()),
        Err(CwdCheckError::Sudo(message)) => {
            log::warn!("session.create as {}: {message}", account.name);
            return Err(RelayError::Unavailable(message));
        }
    };
    if !roots.iter().any(|root| physical.starts_with(root)) {
        return Err(refused());
    }
    Ok(path_text(&physical))
}

/// `cwd` with `~` expanded by `expand`; it must be given and absolute.
fn absolute_cwd(cwd: &str, expand: impl Fn(&str) -> PathBuf) -> RelayResult<PathBuf> {
    if cwd.is_empty() {
        return Err(RelayError::BadRequest("cwd is required".into()));
    }
    let path = expand(cwd);
    if !path.is_absolute() {
        return Err(RelayError::BadRequest(format!(
            "cwd must be an absolute path: {cwd}"
        )));
    }
    Ok(path)
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}
