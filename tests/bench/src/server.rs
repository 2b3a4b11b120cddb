//! The server under test: the real `pocket-relay` binary, started on 127.0.0.1:0 with a config in
//! a scratch directory, and killed when the [`BenchServer`] is dropped (and, through
//! `PR_SET_PDEATHSIG`, when the benchmark itself dies), so that no run leaves a server behind.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::parent_death::die_with_parent;
use crate::Error;

/// How long the server may take to print its address.
const START_PATIENCE: Duration = Duration::from_secs(30);

/// Where the binaries are and how the server logs.
#[derive(Clone, Debug)]
pub struct Binaries {
    pub server: PathBuf,
    pub load_claude: PathBuf,
    /// `RUST_LOG` for the server.
    pub server_log: String,
    /// Keep the scratch directory (store, config, server log) after the run.
    pub keep_dir: bool,
}

/// What a scenario needs from the configuration besides the benchmark defaults.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// `claude.max_running`: at least the number of sessions that run at once.
    pub max_running: usize,
    /// `sessions.max_per_user`: at least the number of sessions created.
    pub max_sessions: usize,
    /// `limits.client_buffer`, when the scenario overrides the server's default.
    pub client_buffer: Option<usize>,
    /// `auth.handshake_timeout_s`, for clients that stay connected without `hello`.
    pub handshake_timeout_s: Option<u64>,
    /// Another `claude` than load-claude (the real CLI), with its `claude.env`.
    pub claude: Option<ClaudeSetup>,
}

impl ServerOptions {
    /// One session at a time with load-claude: the prompt and replay scenarios.
    pub fn one_session() -> ServerOptions {
        ServerOptions {
            max_running: 4,
            max_sessions: 10,
            client_buffer: None,
            handshake_timeout_s: None,
            claude: None,
        }
    }
}

/// The real CLI as the server's `claude`.
#[derive(Clone, Debug)]
pub struct ClaudeSetup {
    pub binary: PathBuf,
    pub env: Vec<(String, String)>,
}

/// A running server and its scratch directory.
pub struct BenchServer {
    child: KilledOnDrop,
    pub addr: SocketAddr,
    pub dir: ScratchDir,
}

impl BenchServer {
    /// Writes the config and starts the server; answers once it printed `listening on …`.
    pub fn start(bins: &Binaries, options: &ServerOptions) -> Result<BenchServer, Error> {
        let dir = ScratchDir::new(bins.keep_dir)?;
        std::fs::create_dir_all(dir.path().join("project"))?;
        let config = dir.path().join("config.toml");
        let claude = options
            .claude
            .as_ref()
            .map_or(bins.load_claude.as_path(), |c| c.binary.as_path());
        std::fs::write(&config, config_text(dir.path(), claude, options))?;
        let log = std::fs::File::create(dir.path().join("server.log"))?;
        let mut command = Command::new(&bins.server);
        command
            .arg("--config")
            .arg(&config)
            .current_dir(dir.path())
            .env("RUST_LOG", &bins.server_log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        die_with_parent(&mut command);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bins.server.display()))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err("no stdout pipe".into());
        };
        let mut server = BenchServer {
            child: KilledOnDrop(child),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            dir,
        };
        let line = first_line(stdout).ok_or_else(|| {
            format!(
                "the server did not print its address; log:\n{}",
                server.log()
            )
        })?;
        let url = line
            .strip_prefix("listening on http://")
            .ok_or_else(|| format!("unexpected first line {line:?}"))?;
        server.addr = url
            .trim()
            .parse()
            .map_err(|e| format!("bad address in {line:?}: {e}"))?;
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// The directory sessions are created in.
    pub fn project(&self) -> String {
        self.dir
            .path()
            .join("project")
            .to_string_lossy()
            .into_owned()
    }

    /// The last lines of the server's stderr.
    pub fn log(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Whether the server is still running (it must be, for figures to mean anything).
    pub fn alive(&mut self) -> bool {
        matches!(self.child.0.try_wait(), Ok(None))
    }
}

/// A child process that is killed (and reaped) when this is dropped: the server, floor-relay.
pub struct KilledOnDrop(pub Child);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first stdout line within [`START_PATIENCE`]; the rest is drained so the child never
/// blocks on a full pipe.
pub fn first_line(stdout: std::process::ChildStdout) -> Option<String> {
    test_support::stdout::first_line(stdout, START_PATIENCE, None)
}

/// A TOML basic string (JSON string escapes are valid TOML).
fn toml_str(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "\"\"".into())
}

fn config_text(dir: &Path, claude: &Path, options: &ServerOptions) -> String {
    let root = dir.to_string_lossy();
    // The load comes from one address: no per-address connection limit.
    let mut limits = String::from("requests_per_minute = 100000000\nconnections_per_ip = 0\n");
    if let Some(buffer) = options.client_buffer {
        limits.push_str(&format!("client_buffer = {buffer}\n"));
    }
    let auth = options
        .handshake_timeout_s
        .map(|s| format!("\n[auth]\nhandshake_timeout_s = {s}\n"))
        .unwrap_or_default();
    let claude_env: String = options
        .claude
        .iter()
        .flat_map(|c| c.env.iter())
        .map(|(k, v)| format!("{k} = {}\n", toml_str(v)))
        .collect();
    let claude_env = if claude_env.is_empty() {
        claude_env
    } else {
        format!("\n[claude.env]\n{claude_env}")
    };
    format!(
        "[server]\nbind = \"127.0.0.1:0\"\nheartbeat_s = 30\n\n\
         [storage]\npath = {store}\n\n\
         [claude]\nbinary = {claude}\nmax_running = {max_running}\n\n\
         [sessions]\nallowed_roots = [{root}]\nmax_per_user = {max_sessions}\n\n\
         [limits]\n{limits}{auth}{claude_env}",
        store = toml_str(&format!("{root}/store/relay.db")),
        claude = toml_str(&claude.to_string_lossy()),
        max_running = options.max_running.max(1),
        root = toml_str(&root),
        max_sessions = options.max_sessions.max(1),
    )
}

/// A fresh directory under the system temp dir, removed on drop unless kept.
pub struct ScratchDir {
    path: PathBuf,
    keep: bool,
}

impl ScratchDir {
    pub fn new(keep: bool) -> Result<ScratchDir, Error> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("pocket-relay-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        // Resolve symlinks (e.g. /tmp), so the session cwd check sees the same path we send.
        let path = path.canonicalize()?;
        Ok(ScratchDir { path, keep })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("kept {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
