//! Which permission modes a client may choose: the ones the session's Claude Code accepts, not a
//! list frozen in the relay. The CLI does not list them in `initialize`; it names them when it
//! refuses a mode (`invalid_mode`: "must be one of acceptEdits, auto, …"), so the relay asks it
//! once per process with a mode no CLI has ([`PROBE_MODE`]) and keeps the list it answers. Until
//! a CLI said, the pinned CLI's list applies.

use crate::config::SessionsConfig;
use crate::error::{RelayError, RelayResult};

/// The modes the pinned CLI (2.1.330) accepts in `set_permission_mode`, used until the session's
/// own CLI named its list.
pub const PINNED_MODES: [&str; 6] = [
    "default",
    "acceptEdits",
    "plan",
    "dontAsk",
    "auto",
    "bypassPermissions",
];

/// Other names the CLI takes for a mode: 2.1.330's `--permission-mode` offers `manual`, which
/// starts in `default`, and `set_permission_mode` answers `manual` with `{"mode":"default"}`.
pub const MODE_ALIASES: [(&str, &str); 1] = [("manual", "default")];

/// The mode that needs `sessions.allow_bypass_permissions`.
pub const BYPASS: &str = "bypassPermissions";

/// A mode no CLI accepts, sent once per process to learn the valid ones from the refusal.
pub const PROBE_MODE: &str = "pocket-relay-probe";

/// The modes named in the CLI's `invalid_mode` error text, if it names any.
pub fn modes_from_refusal(error: &str) -> Option<Vec<String>> {
    let (_, list) = error.split_once("must be one of")?;
    let modes: Vec<String> = list
        .split(',')
        .map(|m| m.trim().trim_end_matches('.').trim())
        .filter(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(str::to_string)
        .collect();
    (!modes.is_empty()).then_some(modes)
}

/// The modes valid for a session whose CLI named `known` (empty: it never said).
pub fn valid_modes(known: &[String]) -> Vec<String> {
    if known.is_empty() {
        PINNED_MODES.iter().map(|m| m.to_string()).collect()
    } else {
        known.to_vec()
    }
}

/// The modes a client may choose: the valid ones, without `bypassPermissions` unless the
/// configuration allows it.
pub fn selectable_modes(known: &[String], sessions: &SessionsConfig) -> Vec<String> {
    valid_modes(known)
        .into_iter()
        .filter(|m| m != BYPASS || sessions.allow_bypass_permissions)
        .collect()
}

/// Whether `mode` may be chosen (at `session.create` and `session.set_permission_mode` alike):
/// one the CLI accepts (or an alias of one), and `bypassPermissions` only with
/// `sessions.allow_bypass_permissions`.
pub fn check_permission_mode(
    mode: &str,
    known: &[String],
    sessions: &SessionsConfig,
) -> RelayResult<()> {
    let valid = valid_modes(known);
    let target = MODE_ALIASES
        .iter()
        .find(|(alias, _)| *alias == mode)
        .map_or(mode, |(_, target)| target);
    if !valid.iter().any(|m| m == target) {
        return Err(RelayError::BadRequest(format!(
            "permission mode {mode:?} is not one this Claude Code accepts; valid: {}",
            valid.join(", ")
        )));
    }
    if target == BYPASS && !sessions.allow_bypass_permissions {
        return Err(RelayError::Forbidden(
            "bypassPermissions is not allowed here (sessions.allow_bypass_permissions)".into(),
        ));
    }
    Ok(())
}
