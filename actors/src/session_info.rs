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

/// Claude Code's permission modes that a client may choose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PermissionMode {
    #[serde(rename = "default")]
    Default,
    #[serde(rename = "acceptEdits")]
    AcceptEdits,
    #[serde(rename = "plan")]
    Plan,
    #[serde(rename = "bypassPermissions")]
    BypassPermissions,
}

impl PermissionMode {
    /// The value of the CLI's `--permission-mode` flag.
    pub fn as_cli_arg(self) -> &'static str {
        match self {
            PermissionMode::Default => "default",
            PermissionMode::AcceptEdits => "acceptEdits",
            PermissionMode::Plan => "plan",
            PermissionMode::BypassPermissions => "bypassPermissions",
        }
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
    }
}
