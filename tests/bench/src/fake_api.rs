//! The real Claude Code CLI, run offline: the project's `fake-anthropic` on loopback answers its
//! API calls, and the CLI gets the environment that points it there and keeps it quiet. Used by
//! the real-CLI half of `prompt-overhead`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::Error;

/// A running `fake-anthropic`, killed on drop.
pub struct FakeApi {
    child: Child,
    pub port: u16,
}

impl FakeApi {
    /// Starts `binary 0` and reads the port it prints first.
    pub fn start(binary: &Path) -> Result<FakeApi, Error> {
        let mut child = Command::new(binary)
            .arg("0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let stdout = child.stdout.take().ok_or("fake-anthropic has no stdout")?;
        let port = crate::server::first_line(stdout).and_then(|line| line.trim().parse().ok());
        match port {
            Some(port) => Ok(FakeApi { child, port }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err("fake-anthropic did not print its port".into())
            }
        }
    }

    /// The CLI's environment: this API, a fake key, no telemetry or updates, and a home and temp
    /// directories of its own under `scratch`.
    pub fn claude_env(&self, scratch: &Path) -> Result<Vec<(String, String)>, Error> {
        let dir = |name: &str| -> Result<String, Error> {
            let path: PathBuf = scratch.join(name);
            std::fs::create_dir_all(&path)?;
            Ok(path.to_string_lossy().into_owned())
        };
        let pairs = [
            (
                "ANTHROPIC_BASE_URL",
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("ANTHROPIC_API_KEY", "sk-fake".into()),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
            ("DISABLE_TELEMETRY", "1".into()),
            ("DISABLE_ERROR_REPORTING", "1".into()),
            ("DISABLE_AUTOUPDATER", "1".into()),
            ("CLAUDE_CODE_MAX_RETRIES", "1".into()),
            ("HOME", dir("claude-home")?),
            ("CLAUDE_CODE_TMPDIR", dir("claude-tmp")?),
            ("TMPDIR", dir("claude-tmp")?),
            ("XDG_RUNTIME_DIR", dir("claude-run")?),
        ];
        Ok(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
