//! The command line and environment of a Claude Code subprocess.

use std::path::PathBuf;
use std::process::Stdio;

use tokio::process::{Child, Command};

use crate::config::ClaudeConfig;
use crate::run_as::OsAccount;
use crate::session_info::PermissionMode;

/// What a session asks for when it starts Claude Code.
#[derive(Clone, Debug)]
pub struct LaunchSpec {
    pub cwd: PathBuf,
    pub model: Option<String>,
    pub permission_mode: PermissionMode,
    /// `--effort`: the effort level asked for; `None` leaves the CLI's default.
    pub effort: Option<String>,
    /// `--allow-dangerously-skip-permissions` (`sessions.allow_bypass_permissions`), so that a
    /// client may switch a living process to `bypassPermissions`: without it the CLI refuses
    /// (`bypass_not_launched`).
    pub allow_bypass: bool,
    /// `--include-partial-messages`, for live deltas.
    pub stream_deltas: bool,
    /// Continue this conversation (`--resume`).
    pub resume: Option<String>,
    /// Rules allowed without asking, in the CLI's syntax; passed as `--settings` JSON (one
    /// string per rule, never split), so nothing is written to the user's settings files.
    pub allowed_rules: Vec<String>,
    /// The OS account to run as, through `sudo` (`claude.run_as`); `None` for the relay's own.
    pub run_as: Option<OsAccount>,
}

impl LaunchSpec {
    /// The arguments after the executable, in the order the official SDK uses.
    pub fn args(&self, config: &ClaudeConfig) -> Vec<String> {
        let mut args: Vec<String> = [
            "-p",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
            "--verbose",
            "--permission-prompt-tool",
            "stdio",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if self.stream_deltas {
            args.push("--include-partial-messages".into());
        }
        if let Some(id) = &self.resume {
            // One argument, so the id can never be read as an option or a second value.
            args.push(format!("--resume={id}"));
        }
        if let Some(model) = &self.model {
            args.push("--model".into());
            args.push(model.clone());
        }
        if !self.allowed_rules.is_empty() {
            args.push("--settings".into());
            args.push(crate::permission_rules::settings_arg(&self.allowed_rules));
        }
        if let Some(effort) = &self.effort {
            args.push("--effort".into());
            args.push(effort.clone());
        }
        if !self.permission_mode.is_default() {
            args.push("--permission-mode".into());
            args.push(self.permission_mode.as_str().into());
        }
        if self.allow_bypass {
            args.push("--allow-dangerously-skip-permissions".into());
        }
        args.extend(config.extra_args.iter().cloned());
        args
    }

    /// The executable started: `sudo` for an account of `claude.run_as`, else Claude Code.
    pub fn program<'a>(&self, config: &'a ClaudeConfig) -> &'a str {
        match self.run_as {
            Some(_) => crate::run_as::SUDO,
            None => &config.binary,
        }
    }

    /// Starts the process with piped stdio; it is killed if its handle is dropped.
    pub fn spawn(&self, config: &ClaudeConfig) -> std::io::Result<Child> {
        let mut command = match &self.run_as {
            Some(account) => {
                account.launch_command(&self.cwd, &config.env, &config.binary, &self.args(config))
            }
            None => {
                let mut command = Command::new(&config.binary);
                command
                    .args(self.args(config))
                    .current_dir(&self.cwd)
                    .envs(&config.env);
                command
            }
        };
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
    }
}
