//! The `sudo` command lines of `claude.run_as`: starting Claude, checking a directory, and
//! killing what is left of a process group, each as the user's OS account.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use super::OsAccount;

/// The `sudo` executable, looked up in the relay's `PATH`.
pub const SUDO: &str = "sudo";
/// The one command the sudoers rule allows; it enters the directory and sets the environment.
pub const ENV: &str = "/usr/bin/env";
/// How long a check or a kill through `sudo` may take.
const SUDO_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a session's directory is refused for an account.
#[derive(Debug, thiserror::Error)]
pub enum CwdCheckError {
    /// Missing, not a directory, or the account may not enter it (one answer for all).
    #[error("the account cannot enter the directory")]
    NotEnterable,
    /// `sudo` could not run the check: not installed, or no sudoers rule.
    #[error("{0}")]
    Sudo(String),
}

impl OsAccount {
    /// `sudo -n -H -u ACCOUNT -- /usr/bin/env`, in its own session (no controlling terminal, so
    /// sudo never puts the command on a pseudo-terminal, and its process group is its pid).
    fn sudo(&self) -> Command {
        let mut command = Command::new(SUDO);
        command
            .args(["-n", "-H", "-u", &self.name, "--", ENV])
            .current_dir("/")
            .kill_on_drop(true);
        // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                nix::unistd::setsid()
                    .map(drop)
                    .map_err(std::io::Error::from)
            });
        }
        command
    }

    /// The command that starts `program args` as this account in `cwd` with `env` added.
    pub fn launch_command(
        &self,
        cwd: &Path,
        env: &BTreeMap<String, String>,
        program: &str,
        args: &[String],
    ) -> Command {
        let mut command = self.sudo();
        command.arg("-C").arg(cwd).arg("--");
        command.args(env.iter().map(|(name, value)| format!("{name}={value}")));
        command.arg(program).args(args);
        command
    }

    /// Enters `path` as this account and answers its physical path (symlinks resolved).
    pub async fn enter_dir(&self, path: &Path) -> Result<PathBuf, CwdCheckError> {
        let mut command = self.sudo();
        command
            .arg("-C")
            .arg(path)
            .args(["--", "pwd", "-P"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let output = match tokio::time::timeout(SUDO_TIMEOUT, command.output()).await {
            Ok(Ok(output)) => output,
            Ok(Err(error)) => {
                return Err(CwdCheckError::Sudo(format!(
                    "cannot run `{SUDO}` for claude.run_as: {error}"
                )))
            }
            Err(_) => {
                return Err(CwdCheckError::Sudo(format!(
                    "`{SUDO} -u {}` did not answer within {SUDO_TIMEOUT:?}",
                    self.name
                )))
            }
        };
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            if let Some(line) = stderr.lines().find(|l| l.starts_with("sudo:")) {
                return Err(CwdCheckError::Sudo(format!(
                    "`{SUDO} -n -u {} -- {ENV}` refused (see the sudoers rule for claude.run_as): {line}",
                    self.name
                )));
            }
            return Err(CwdCheckError::NotEnterable);
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let physical = PathBuf::from(text.trim_end_matches('\n'));
        if physical.is_absolute() {
            Ok(physical)
        } else {
            Err(CwdCheckError::NotEnterable)
        }
    }

    /// Sends SIGKILL, as this account, to what is left of process group `pgid` (the relay may
    /// not signal another account's processes itself).
    pub async fn kill_group(&self, pgid: i32) {
        let mut command = self.sudo();
        command
            .args(["sh", "-c", "kill -s KILL -- \"-$1\"", "sh"])
            .arg(pgid.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match tokio::time::timeout(SUDO_TIMEOUT, command.output()).await {
            Ok(Ok(output)) if output.status.success() => {}
            Ok(Ok(output)) => log::debug!(
                "kill of process group {pgid} as {}: {}",
                self.name,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            Ok(Err(error)) => {
                log::warn!("cannot kill process group {pgid} as {}: {error}", self.name)
            }
            Err(_) => log::warn!("killing process group {pgid} as {} timed out", self.name),
        }
    }
}

/// Sends `signal` to process group `pgid` as the relay; a group already gone is not an error.
pub fn signal_group(pgid: i32, signal: nix::sys::signal::Signal) {
    use nix::unistd::Pid;
    match nix::sys::signal::killpg(Pid::from_raw(pgid), signal) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(error) => log::debug!("{signal} to process group {pgid}: {error}"),
    }
}
