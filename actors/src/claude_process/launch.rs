//! The command line and environment of a Claude Code subprocess.

use std::path::PathBuf;
use std::process::Stdio;

use tokio::process::{Child, Command};

use crate::config::ClaudeConfig;
use crate::session_info::PermissionMode;

/// What a session asks for when it starts Claude Code.
#[derive(Clone, Debug)]
pub struct LaunchSpec {
    pub cwd: PathBuf,
    pub model: Option<String>,
    pub permission_mode: PermissionMode,
    /// `--include-partial-messages`, for live deltas.
    pub stream_deltas: bool,
    /// Continue this conversation (`--resume`).
    pub resume: Option<String>,
    /// Rules allowed without asking, in the CLI's syntax; passed as `--settings` JSON (one
    /// string per rule, never split), so nothing is written to the user's settings files.
    pub allowed_rules: Vec<String>,
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
        if self.permission_mode != PermissionMode::Default {
            args.push("--permission-mode".into());
            args.push(self.permission_mode.as_cli_arg().into());
        }
        args.extend(config.extra_args.iter().cloned());
        args
    }

    /// Starts the process with piped stdio; it is killed if its handle is dropped.
    pub fn spawn(&self, config: &ClaudeConfig) -> std::io::Result<Child> {
        Command::new(&config.binary)
            .args(self.args(config))
            .current_dir(&self.cwd)
            .envs(&config.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
    }
}
