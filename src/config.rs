//! The server's configuration (protocol §6): built-in defaults, then `config.toml` (or the file
//! given with `--config`), then `POCKET_RELAY__<SECTION>__<KEY>` environment variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use actors::config::{ClaudeConfig, DomainConfig, LimitsConfig, PermissionsConfig, SessionsConfig};
use actors::run_as::{RunAsAccounts, RunAsError};
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Every configuration key, by section.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub claude: ClaudeConfig,
    pub permissions: PermissionsConfig,
    pub sessions: SessionsConfig,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
    pub cors: CorsConfig,
    pub tls: TlsConfig,
    pub metrics: MetricsConfig,
    pub notify: crate::notify::config::NotifyConfig,
}

/// `metrics.*`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `GET /metrics` without a token even when auth is on (for a scraper on a trusted
    /// network).
    pub public: bool,
}

/// `server.*`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free one.
    pub bind: SocketAddr,
    /// WebSocket ping and SSE comment interval; a connection silent for 3× this is closed.
    pub heartbeat_s: u64,
    /// How long running prompts may go on at shutdown.
    pub shutdown_grace_s: u64,
    /// The address people reach the server by (e.g. through Tailscale Serve or a reverse
    /// proxy): its host is one the server answers, and it is the server's own origin.
    pub public_url: Option<String>,
    /// Further host names or addresses the server answers to (`Host`), besides its loopback
    /// names, its bound address and `public_url`'s host.
    pub allowed_hosts: Vec<String>,
    /// Seconds a client has to send a request's head; a slower one is disconnected.
    pub request_timeout_s: u64,
    /// Seconds a client has to send a request's whole body; a slower one is answered
    /// `bad_request` and disconnected.
    pub body_timeout_s: u64,
    /// Reverse proxies (addresses or CIDR blocks) whose `X-Forwarded-For` names the client;
    /// from any other peer the header is ignored.
    pub trusted_proxies: Vec<crate::client_addr::ProxyNet>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8787)),
            heartbeat_s: 15,
            shutdown_grace_s: 10,
            public_url: None,
            allowed_hosts: Vec::new(),
            request_timeout_s: 5,
            body_timeout_s: 10,
            trusted_proxies: Vec::new(),
        }
    }
}

/// `storage.*`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// The SQLite file, created if missing.
    pub path: PathBuf,
    /// Events kept per session (0 = all); older ones are pruned. A subscription resuming after a
    /// pruned event answers `replay_gap`; one from the start replays from the oldest kept event.
    pub retain_events: u64,
    /// The size in MiB at which a commit of the writer finishes copying the WAL back into the
    /// database file and starts it over (a pause of a few milliseconds for every session); a
    /// background thread copies it back continuously, so below this size no commit waits.
    pub wal_limit_mb: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            path: PathBuf::from("data/pocket-relay.db"),
            retain_events: 0,
            wal_limit_mb: 64,
        }
    }
}

/// `auth.*`: sign-in with SSH keys and tokens. With `enabled = false` every client is `local`
/// and only a loopback `server.bind` is accepted.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub enabled: bool,
    pub authorized_keys: String,
    pub namespace: String,
    pub challenge_ttl_s: u64,
    pub token_ttl_s: u64,
    pub handshake_timeout_s: u64,
    pub users: std::collections::BTreeMap<String, String>,
    /// Users whose tokens see every figure of `GET /metrics`; anyone else sees only their own.
    pub operators: Vec<String>,
    /// Sign-in challenges one client address (an IPv6 /64) may hold unanswered at once.
    pub max_challenges_per_ip: usize,
    /// Unanswered challenges per public key; a new one replaces the key's oldest.
    pub max_challenges_per_key: usize,
    /// Seconds a pairing code of `pocket-relay pair` stays valid (it is also single use).
    pub pairing_ttl_s: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            enabled: false,
            authorized_keys: "~/.ssh/authorized_keys".into(),
            namespace: "pocket-relay".into(),
            challenge_ttl_s: 60,
            token_ttl_s: 2_592_000,
            handshake_timeout_s: 10,
            users: Default::default(),
            operators: Vec::new(),
            max_challenges_per_ip: 10,
            max_challenges_per_key: 3,
            pairing_ttl_s: 300,
        }
    }
}

/// `cors.*`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins allowed for HTTP CORS and for WebSocket upgrades.
    pub allowed_origins: Vec<String>,
}

/// `tls.*`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl TlsConfig {
    /// Whether the server serves HTTPS and WSS (validation makes cert and key go together).
    pub fn enabled(&self) -> bool {
        self.cert.is_some() && self.key.is_some()
    }
}

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    #[error("configuration: {0}")]
    Refused(String),
}

impl Config {
    /// Reads `path` (or `./config.toml` when present), then the environment.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        match path {
            Some(path) => {
                if !path.exists() {
                    return Err(ConfigError::Refused(format!("no file {}", path.display())));
                }
                figment = figment.merge(Toml::file(path));
            }
            None if Path::new("config.toml").exists() => {
                figment = figment.merge(Toml::file("config.toml"));
            }
            None => {}
        }
        let config: Config = figment
            .merge(Env::prefixed("POCKET_RELAY__").split("__"))
            .extract()
            .map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    /// Refuses settings that would be unsafe or cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.auth.enabled && !self.server.bind.ip().is_loopback() {
            return Err(ConfigError::Refused(format!(
                "auth.enabled = false is only allowed with a loopback server.bind, not {}",
                self.server.bind
            )));
        }
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err(ConfigError::Refused(
                "tls.cert and tls.key go together: set both or neither".into(),
            ));
        }
        if self.server.heartbeat_s == 0 {
            return Err(ConfigError::Refused(
                "server.heartbeat_s must be at least 1".into(),
            ));
        }
        if self.server.request_timeout_s == 0 || self.server.body_timeout_s == 0 {
            return Err(ConfigError::Refused(
                "server.request_timeout_s and server.body_timeout_s must be at least 1".into(),
            ));
        }
        if self.auth.pairing_ttl_s == 0 {
            return Err(ConfigError::Refused(
                "auth.pairing_ttl_s must be at least 1".into(),
            ));
        }
        if self.storage.wal_limit_mb == 0 {
            return Err(ConfigError::Refused(
                "storage.wal_limit_mb must be at least 1".into(),
            ));
        }
        if self.limits.client_buffer < 2 {
            return Err(ConfigError::Refused(
                "limits.client_buffer must be at least 2".into(),
            ));
        }
        self.notify.validate().map_err(ConfigError::Refused)?;
        self.validate_run_as()
    }

    /// Through `env`, a name with `=` would turn into part of a variable: refuse it.
    fn validate_run_as(&self) -> Result<(), ConfigError> {
        if self.claude.run_as.is_empty() {
            return Ok(());
        }
        if self.claude.binary.contains('=') || self.claude.binary.starts_with('-') {
            return Err(ConfigError::Refused(format!(
                "with claude.run_as, claude.binary must not contain '=' or start with '-': {:?}",
                self.claude.binary
            )));
        }
        if let Some(name) = self
            .claude
            .env
            .keys()
            .find(|name| name.is_empty() || name.contains('='))
        {
            return Err(ConfigError::Refused(format!(
                "with claude.run_as, claude.env names must be non-empty and without '=': {name:?}"
            )));
        }
        Ok(())
    }

    /// The sections the domain actors read, with the OS accounts of `claude.run_as` looked up.
    pub fn domain(&self) -> Result<DomainConfig, RunAsError> {
        Ok(DomainConfig {
            claude: self.claude.clone(),
            sessions: self.sessions.clone(),
            permissions: self.permissions.clone(),
            limits: self.limits.clone(),
            run_as: RunAsAccounts::resolve(&self.claude)?,
            auth_enabled: self.auth.enabled,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wal_limit_of_zero_is_refused() {
        let mut config = Config::default();
        assert!(config.validate().is_ok());
        config.storage.wal_limit_mb = 0;
        let error = config.validate().expect_err("must refuse");
        assert!(error.to_string().contains("wal_limit_mb"), "{error}");
    }

    #[test]
    fn with_run_as_an_env_name_with_an_equals_sign_is_refused() {
        let mut config = Config::default();
        config.claude.env.insert("A=B".into(), "c".into());
        assert!(config.validate().is_ok(), "harmless without run_as");
        config.claude.run_as.insert("alice".into(), "alice".into());
        let error = config.validate().expect_err("must refuse");
        assert!(error.to_string().contains("claude.env"), "{error}");
    }
}
