//! The session object clients see (protocol §3 "Session object") and the small enums it holds.

use serde::{Deserialize, Serialize};

use crate::ids::{PermissionRequestId, Seq, SessionId, UserId};

/// A session's lifecycle state, as reported in `session.status` events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Idle,
    Waiting,
    Starting,
    Running,
    AwaitingPermission,
    Stopped,
    Crashed,
}

/// A Claude Code permission mode (`default`, `acceptEdits`, `plan`, …): any name the session's
/// CLI accepts, checked by [`crate::capabilities::modes`] where a client chooses one. Protocol v1
/// had a closed list of four; stored sessions with those values load unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PermissionMode(String);

impl PermissionMode {
    /// `default`: the CLI asks before anything not allowed by a rule.
    pub fn default_mode() -> Self {
        PermissionMode("default".into())
    }

    /// A mode by its name (unchecked: check it with `capabilities::modes` first).
    pub fn new(name: impl Into<String>) -> Self {
        PermissionMode(name.into())
    }

    /// The name, as the CLI's `--permission-mode` flag and `set_permission_mode` take it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it is the CLI's default mode (no flag needed at launch).
    pub fn is_default(&self) -> bool {
        self.0 == "default"
    }
}

/// The session object of protocol §3: what `session.get` returns and events carry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: SessionId,
    pub owner: UserId,
    pub title: Option<String>,
    pub cwd: String,
    pub model: Option<String>,
    /// The effort level asked for (`--effort`, `session.set_model`); `None`: the CLI's default.
    #[serde(default)]
    pub effort: Option<String>,
    pub permission_mode: PermissionMode,
    pub stream_deltas: bool,
    pub status: SessionStatus,
    pub paused: bool,
    pub claude_session_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub last_seq: Seq,
    pub queue_length: usize,
    pub pending_permissions: Vec<PermissionRequestId>,
    /// Rules a client allowed `always` in this session, in Claude Code's syntax (`Bash(npm test)`,
    /// `mcp__x__y`): only what the CLI suggested for those requests. Every later process is
    /// started with them (`--settings`), so the answer outlives the process; a client can remove
    /// them (`session.remove_rule`).
    #[serde(default)]
    pub allowed_rules: Vec<String>,
    /// What to type in a terminal to take the conversation over (`cd <cwd> && claude --resume
    /// <claude_session_id>`), once the session has a Claude conversation; derived, never stored.
    #[serde(default, skip_deserializing)]
    pub terminal_command: Option<String>,
    /// The conversation from Claude Code's history this session continues, so that every device
    /// (not only the one that tapped "Continue here") shows what was said before above its turns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continued_from: Option<ContinuedFrom>,
}

/// Which history conversation a session continues, and how many of its messages there were then.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContinuedFrom {
    pub claude_session_id: String,
    /// The conversation's messages when the session was created: the earlier part to show.
    pub messages: usize,
}

/// `cd <cwd> && claude --resume <id>`, the folder quoted for a POSIX shell.
pub fn terminal_command(cwd: &str, claude_session_id: &str) -> String {
    let folder = shlex::try_quote(cwd).map_or_else(|_| format!("'{cwd}'"), |q| q.into_owned());
    let id = shlex::try_quote(claude_session_id)
        .map_or_else(|_| claude_session_id.to_string(), |q| q.into_owned());
    format!("cd {folder} && claude --resume {id}")
}

/// The current time as protocol v1 writes it: RFC 3339, UTC, milliseconds.
pub fn now_ts() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session stored by an older build, whose "always" answers were whole tools.
    const OLD_ROW: &str = r#"{"id":"0646becb-74bc-4fcf-ae0b-b4ba1fab9e95","owner":"local",
        "title":null,"cwd":"/p","model":null,"permission_mode":"default","stream_deltas":true,
        "status":"stopped","paused":false,"claude_session_id":null,"created_at":"t",
        "updated_at":"t","last_seq":3,"queue_length":0,"pending_permissions":[],
        "always_allowed":["Bash"]}"#;

    #[test]
    fn the_terminal_command_quotes_the_folder() {
        assert_eq!(
            terminal_command(
                "/home/me/my project's",
                "6652a9e8-3aee-4cc6-8d8a-837ae4f5fd6d"
            ),
            "cd \"/home/me/my project's\" && claude --resume 6652a9e8-3aee-4cc6-8d8a-837ae4f5fd6d"
        );
        assert_eq!(
            terminal_command("/srv/plain", "x"),
            "cd /srv/plain && claude --resume x"
        );
    }

    #[test]
    fn whole_tools_allowed_by_an_older_build_are_not_carried_over() {
        let info: SessionInfo = serde_json::from_str(OLD_ROW).expect("an old row loads");
        assert!(info.allowed_rules.is_empty());
        let written = serde_json::to_value(&info).expect("serializes");
        assert!(written.get("always_allowed").is_none());
        assert_eq!(written["allowed_rules"], serde_json::json!([]));
        assert_eq!(info.permission_mode, PermissionMode::default_mode());
        assert_eq!(info.effort, None);
    }

    #[test]
    fn every_v1_mode_still_loads_and_writes_back_the_same() {
        for mode in ["default", "acceptEdits", "plan", "bypassPermissions"] {
            let row = OLD_ROW.replace(
                r#""permission_mode":"default""#,
                &format!(r#""permission_mode":"{mode}""#),
            );
            let info: SessionInfo = serde_json::from_str(&row).expect("an old row loads");
            assert_eq!(info.permission_mode.as_str(), mode);
            let written = serde_json::to_value(&info).expect("serializes");
            assert_eq!(written["permission_mode"], mode);
        }
    }
}
