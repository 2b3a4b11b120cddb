//! The configuration sections the domain reads (`claude.*`, `sessions.*`, `permissions.*`,
//! `limits.*`). The server's `Config` embeds them, so each key is declared exactly once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// `claude.*`: how the Claude Code subprocess is started and how many may run.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClaudeConfig {
    /// The Claude Code executable, a path or a name looked up in `PATH`.
    pub binary: String,
    /// Added to every invocation, after the relay's own flags.
    pub extra_args: Vec<String>,
    /// Extra environment for the subprocess.
    pub env: BTreeMap<String, String>,
    /// An idle process is stopped after this many seconds; the next prompt resumes it.
    pub idle_timeout_s: u64,
    /// Agent processes at once over all sessions.
    pub max_running: usize,
    /// Relay user name → OS account: that user's Claude runs as the account, through
    /// `sudo -n -u <account>` (see `run_as.rs`).
    pub run_as: BTreeMap<String, String>,
    /// Refuse sessions of users that have no entry in `run_as`.
    pub run_as_required: bool,
}

impl Default for ClaudeConfig {
    fn default() -> Self {
        ClaudeConfig {
            binary: "claude".into(),
            extra_args: Vec::new(),
            env: BTreeMap::new(),
            idle_timeout_s: 600,
            max_running: 4,
            run_as: BTreeMap::new(),
            run_as_required: false,
        }
    }
}

/// `sessions.*`: what a client may ask for when it creates a session.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionsConfig {
    /// A session's `cwd` must lie inside one of these (after resolving symlinks; `~` is `$HOME`).
    pub allowed_roots: Vec<String>,
    /// Whether `bypassPermissions` may be chosen.
    pub allow_bypass_permissions: bool,
    /// Sessions one user may own.
    pub max_per_user: usize,
    /// Who may list and read this machine's Claude Code history (`/api/v1/claude/…`). Unset:
    /// everyone when sign-in is off, no one when it is on.
    pub history_users: Option<Vec<String>>,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        SessionsConfig {
            allowed_roots: vec!["~".into()],
            allow_bypass_permissions: false,
            max_per_user: 100,
            history_users: None,
        }
    }
}

impl SessionsConfig {
    /// Whether `mode` may be chosen, at `session.create` and `session.set_permission_mode`
    /// alike: `bypassPermissions` only with `sessions.allow_bypass_permissions`.
    pub fn check_permission_mode(
        &self,
        mode: crate::session_info::PermissionMode,
    ) -> crate::error::RelayResult<()> {
        if mode == crate::session_info::PermissionMode::BypassPermissions
            && !self.allow_bypass_permissions
        {
            return Err(crate::error::RelayError::Forbidden(
                "bypassPermissions is not allowed here (sessions.allow_bypass_permissions)".into(),
            ));
        }
        Ok(())
    }

    /// The allowed roots with `~` expanded; roots that do not exist are left out.
    pub fn resolved_roots(&self) -> Vec<PathBuf> {
        self.allowed_roots
            .iter()
            .filter_map(|root| expand_home(root).canonicalize().ok())
            .collect()
    }

    /// The allowed roots of an OS account's sessions, `~` being `home`. A root the relay can
    /// resolve is resolved; one it cannot see into (inside another account's private home) is
    /// kept as written, which can only refuse more, never allow more.
    pub fn roots_for_home(&self, home: &Path) -> Vec<PathBuf> {
        self.allowed_roots
            .iter()
            .map(|root| expand_tilde(root, home))
            .filter(|root| root.is_absolute())
            .map(|root| root.canonicalize().unwrap_or(root))
            .collect()
    }
}

/// Expands a leading `~` to `$HOME`.
pub fn expand_home(path: &str) -> PathBuf {
    match std::env::var_os("HOME") {
        Some(home) => expand_tilde(path, Path::new(&home)),
        None => PathBuf::from(path),
    }
}

/// Expands a leading `~` (alone or followed by `/`) to `home`.
pub fn expand_tilde(path: &str, home: &Path) -> PathBuf {
    match path.strip_prefix('~') {
        Some("") => home.to_path_buf(),
        Some(rest) if rest.starts_with('/') => home.join(rest.trim_start_matches('/')),
        _ => PathBuf::from(path),
    }
}

/// `permissions.*`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PermissionsConfig {
    /// 0 waits forever; otherwise a request is denied after this many seconds.
    pub timeout_s: u64,
}

/// `limits.*`: the bounds that protect the server from one client.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest inbound WebSocket frame; larger ones close the connection with 1009.
    pub max_frame_bytes: usize,
    /// Largest prompt text.
    pub max_prompt_bytes: usize,
    /// Frames queued for one client before it is cut off as a slow consumer (WebSocket: 4008; an
    /// SSE stream ends; an NDJSON stream catches up from the store).
    pub client_buffer: usize,
    /// Requests per minute per user over all transports.
    pub requests_per_minute: u32,
    /// Connections one TCP peer address may hold open at once (HTTP and WebSocket together;
    /// `server.trusted_proxies` are exempt); 0 = no limit.
    pub connections_per_ip: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_frame_bytes: 1_048_576,
            max_prompt_bytes: 262_144,
            client_buffer: 1024,
            requests_per_minute: 600,
            connections_per_ip: 512,
        }
    }
}

/// Everything the domain actors need, handed to the registry at start.
#[derive(Clone, Debug, Default)]
pub struct DomainConfig {
    pub claude: ClaudeConfig,
    pub sessions: SessionsConfig,
    pub permissions: PermissionsConfig,
    pub limits: LimitsConfig,
    /// `claude.run_as` with every OS account looked up.
    pub run_as: crate::run_as::RunAsAccounts,
    /// Whether sign-in is on (`auth.enabled`): who may read Claude Code's history depends on it.
    pub auth_enabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_is_the_given_home_only_alone_or_before_a_slash() {
        let home = Path::new("/home/alice");
        assert_eq!(expand_tilde("~", home), PathBuf::from("/home/alice"));
        assert_eq!(
            expand_tilde("~/p/q", home),
            PathBuf::from("/home/alice/p/q")
        );
        assert_eq!(expand_tilde("~bob/p", home), PathBuf::from("~bob/p"));
        assert_eq!(expand_tilde("/srv/~", home), PathBuf::from("/srv/~"));
    }
}
