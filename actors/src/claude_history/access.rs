//! Who may read this machine's Claude Code history, where it lives, and which folders it may
//! show: plain rules, unit-tested.

use std::path::{Path, PathBuf};

use crate::config::ClaudeConfig;
use crate::run_as::OsAccount;

/// Whether `user` may list and read Claude Code's own history: the users of
/// `sessions.history_users` when it is set; otherwise everyone when sign-in is off (the one user
/// `local`) and no one when it is on.
pub fn may_read_history(history_users: Option<&[String]>, auth_enabled: bool, user: &str) -> bool {
    match history_users {
        Some(users) => users.iter().any(|allowed| allowed == user),
        None => !auth_enabled,
    }
}

/// The home whose `.claude/` holds the conversations a user's Claude writes: `claude.env`'s
/// `HOME` when set (every session's CLI gets it), else the OS account's home for a user of
/// `claude.run_as`, else the relay's own `$HOME`.
pub fn claude_home(claude: &ClaudeConfig, account: Option<&OsAccount>) -> Option<PathBuf> {
    if let Some(home) = claude.env.get("HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(home));
    }
    if let Some(account) = account {
        return Some(account.home.clone());
    }
    std::env::var_os("HOME").map(PathBuf::from)
}

/// Where one caller's history is read and which folders it may show.
#[derive(Clone, Debug)]
pub struct HistoryPlace {
    /// The home holding `.claude/`.
    pub home: PathBuf,
    /// The allowed roots, resolved.
    pub roots: Vec<PathBuf>,
}

impl HistoryPlace {
    pub fn projects_dir(&self) -> PathBuf {
        self.home.join(".claude").join("projects")
    }

    pub fn sessions_dir(&self) -> PathBuf {
        self.home.join(".claude").join("sessions")
    }

    /// `cwd` with symlinks resolved, if it is an existing directory inside the roots; `None`
    /// otherwise (one answer for outside, missing, or not a directory).
    pub fn folder_inside(&self, cwd: &str) -> Option<PathBuf> {
        let path = Path::new(cwd);
        if !path.is_absolute() {
            return None;
        }
        let resolved = path.canonicalize().ok()?;
        (self.roots.iter().any(|root| resolved.starts_with(root)) && resolved.is_dir())
            .then_some(resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_users_decide_and_default_to_everyone_only_without_sign_in() {
        assert!(may_read_history(None, false, "local"));
        assert!(!may_read_history(None, true, "alice"));
        let listed = ["alice".to_string()];
        assert!(may_read_history(Some(&listed), true, "alice"));
        assert!(!may_read_history(Some(&listed), true, "bob"));
        assert!(!may_read_history(Some(&listed), false, "local"));
        assert!(!may_read_history(Some(&[]), false, "local"));
    }

    #[test]
    fn claude_env_home_comes_first() {
        let mut claude = ClaudeConfig::default();
        claude.env.insert("HOME".into(), "/srv/claude-home".into());
        assert_eq!(
            claude_home(&claude, None),
            Some(PathBuf::from("/srv/claude-home"))
        );
    }

    #[test]
    fn folders_must_resolve_inside_the_roots() {
        let dir = std::env::temp_dir().join(format!("history-access-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("in")).expect("mkdir");
        std::fs::create_dir_all(dir.join("out")).expect("mkdir");
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.join("out"), root.join("escape")).expect("symlink");
        let place = HistoryPlace {
            home: dir.clone(),
            roots: vec![root.canonicalize().expect("root")],
        };
        let text = |p: PathBuf| p.to_string_lossy().into_owned();
        assert!(place.folder_inside(&text(root.join("in"))).is_some());
        assert!(place.folder_inside(&text(root.join("in/../in"))).is_some());
        assert_eq!(place.folder_inside(&text(root.join("in/../../out"))), None);
        assert_eq!(place.folder_inside(&text(root.join("escape"))), None);
        assert_eq!(place.folder_inside(&text(root.join("missing"))), None);
        assert_eq!(place.folder_inside("relative/in"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
