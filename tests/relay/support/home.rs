//! What every test server has, whether it runs in the test process ([`super::in_process`]) or
//! as the real binary ([`super::server`]): a scratch directory with the configuration, the store,
//! the project directories and the fake `claude`'s spawn log, and the address it serves on. Both
//! dereference to [`Home`], so helpers that take `&Home` work with either.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tempfile::TempDir;

use super::{fake_bin, PATIENCE};

/// A server's scratch directory and address.
pub struct Home {
    /// `http://127.0.0.1:port` (or `https://`), the real port.
    pub url: String,
    pub dir: TempDir,
    /// The `config.toml` the server was started with (the `token` and `pair` commands read it).
    pub config: PathBuf,
}

/// What a test may change in the configuration: extra TOML lines per section.
#[derive(Default, Clone)]
pub struct Settings {
    pub server: Vec<String>,
    pub claude: Vec<String>,
    pub claude_env: Vec<String>,
    pub limits: Vec<String>,
    pub storage: Vec<String>,
    pub sessions: Vec<String>,
    pub permissions: Vec<String>,
    /// Any other section (`auth`, `tls`, `cors`, …), emitted as given.
    pub other: std::collections::BTreeMap<String, Vec<String>>,
    /// Start the server with this soft open-file limit (through `sh -c 'ulimit -Sn N'`).
    pub soft_open_files: Option<u64>,
    /// Environment variables for the server process.
    pub env: Vec<(String, String)>,
}

impl Settings {
    /// `[section]` `key = value` with the value as TOML.
    pub fn set(mut self, section: &str, line: &str) -> Self {
        let list = match section {
            "server" => &mut self.server,
            "claude" => &mut self.claude,
            "claude.env" => &mut self.claude_env,
            "limits" => &mut self.limits,
            "storage" => &mut self.storage,
            "sessions" => &mut self.sessions,
            "permissions" => &mut self.permissions,
            other => self.other.entry(other.to_string()).or_default(),
        };
        list.push(line.to_string());
        self
    }
}

/// Whether `lines` set `key`.
pub fn has_key(lines: &[String], key: &str) -> bool {
    lines.iter().any(|l| l.trim_start().starts_with(key))
}

impl Home {
    /// A fresh temp dir with a `project` directory and a `config.toml` of the test defaults with
    /// `settings` on top; no address yet.
    pub fn new(settings: &Settings) -> Home {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("project")).expect("project dir");
        let config = dir.path().join("config.toml");
        std::fs::write(&config, config_text(dir.path(), settings)).expect("write config");
        Home {
            url: String::new(),
            dir,
            config,
        }
    }

    /// `ws://…/ws`.
    pub fn ws_url(&self) -> String {
        let url = self.url.replacen("https://", "wss://", 1);
        format!("{}/ws", url.replacen("http://", "ws://", 1))
    }

    /// The project directory sessions are created in.
    pub fn project(&self) -> String {
        self.dir
            .path()
            .join("project")
            .to_string_lossy()
            .into_owned()
    }

    /// A new directory inside the allowed root.
    pub fn new_project(&self, name: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(&path).expect("project dir");
        path.to_string_lossy().into_owned()
    }

    /// The fake claude's spawn log: one `{pid, argv, cwd}` per process started.
    pub fn spawns(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("spawns.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The value after `flag` on the command line of the `index`-th process started.
    pub fn spawn_flag(&self, index: usize, flag: &str) -> Option<String> {
        let spawns = self.spawns();
        let argv = spawns.get(index)?["argv"].as_array()?.clone();
        let argv: Vec<String> = argv
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        super::flag_value(&argv, flag).map(str::to_string)
    }

    /// `GET` a path, answering (status, body).
    pub async fn get(&self, path: &str) -> (u16, String) {
        http_get(&self.url, path).await
    }
}

/// A minimal HTTP/1.1 GET over a real socket.
pub async fn http_get(base: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw))
        .await
        .expect("answer in time")
        .expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn config_text(dir: &Path, settings: &Settings) -> String {
    let fake = fake_bin("fake-claude");
    let mut text = String::new();
    let section = |text: &mut String, name: &str, defaults: Vec<String>, extra: &[String]| {
        text.push_str(&format!("[{name}]\n"));
        for line in defaults {
            let key = line.split('=').next().unwrap_or("").trim().to_string();
            if !has_key(extra, &key) {
                text.push_str(&line);
                text.push('\n');
            }
        }
        for line in extra {
            text.push_str(line);
            text.push('\n');
        }
    };
    let d = dir.to_string_lossy();
    section(
        &mut text,
        "server",
        vec![
            "bind = \"127.0.0.1:0\"".into(),
            "heartbeat_s = 5".into(),
            "shutdown_grace_s = 5".into(),
        ],
        &settings.server,
    );
    section(
        &mut text,
        "storage",
        vec![format!("path = \"{d}/store/relay.db\"")],
        &settings.storage,
    );
    section(
        &mut text,
        "claude",
        vec![
            format!("binary = \"{}\"", fake.display()),
            "idle_timeout_s = 600".into(),
        ],
        &settings.claude,
    );
    section(
        &mut text,
        "claude.env",
        vec![format!("FAKE_CLAUDE_SPAWN_LOG = \"{d}/spawns.log\"")],
        &settings.claude_env,
    );
    section(
        &mut text,
        "sessions",
        vec![format!("allowed_roots = [\"{d}\"]")],
        &settings.sessions,
    );
    section(
        &mut text,
        "limits",
        vec!["requests_per_minute = 100000".into()],
        &settings.limits,
    );
    section(&mut text, "permissions", vec![], &settings.permissions);
    for (name, lines) in &settings.other {
        section(&mut text, name, vec![], lines);
    }
    text
}
