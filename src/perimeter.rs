//! Which `Host` and `Origin` values the server answers: the defence against DNS rebinding and
//! cross-site requests, for every HTTP route and the WebSocket upgrade alike.
//!
//! The server's own names come from its configuration and the address it listens on, never from
//! the request: loopback names and addresses when it listens on loopback (or on every address),
//! the address it is bound to, `server.public_url`'s host and `server.allowed_hosts`. A request
//! naming any other `Host` is refused. The server's own origins are those names with its scheme
//! and port (and `server.public_url` as written), plus `cors.allowed_origins`; a state-changing
//! request or a WebSocket upgrade from any other origin, or one a browser marks cross-site, is
//! refused before it runs. Must never: trust the `Host` header to say what "own" means.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use actix_web::http::header::{self, HeaderMap};
use actix_web::http::Method;
use actors::error::RelayError;
use url::Url;

/// Why the configured names cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PerimeterError {
    #[error("server.public_url {0:?} is not an http or https URL")]
    PublicUrl(String),
    #[error("server.allowed_hosts: {0:?} is not a host name or IP address")]
    AllowedHost(String),
    #[error("cors.allowed_origins: {0:?} is not an origin like https://app.example")]
    AllowedOrigin(String),
}

/// A host as compared: a lower-case domain name without a trailing dot, or an IP address.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum HostName {
    Domain(String),
    Ip(IpAddr),
}

impl HostName {
    /// Parses the host part of a `Host` header or a URL (IPv6 in brackets).
    fn parse(text: &str) -> Option<HostName> {
        if text.is_empty() || text.len() > 253 {
            return None;
        }
        match url::Host::parse(text).ok()? {
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                (!name.is_empty()).then_some(HostName::Domain(name))
            }
            url::Host::Ipv4(ip) => Some(HostName::Ip(ip.into())),
            url::Host::Ipv6(ip) => Some(HostName::Ip(ip.into())),
        }
    }

    fn is_loopback(&self) -> bool {
        match self {
            HostName::Domain(name) => name == "localhost",
            HostName::Ip(ip) => ip.is_loopback(),
        }
    }
}

/// A web origin: scheme, host and port (the default port of the scheme when none is written).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Origin {
    scheme: String,
    host: HostName,
    port: u16,
}

impl Origin {
    fn parse(text: &str) -> Option<Origin> {
        let url = Url::parse(text).ok()?;
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        let host = HostName::parse(url.host_str()?)?;
        Some(Origin {
            scheme: url.scheme().to_string(),
            host,
            port: url.port_or_known_default()?,
        })
    }

    /// An `Origin` header: exactly `scheme://host[:port]`, nothing after it.
    fn parse_header(text: &str) -> Option<Origin> {
        let rest = text
            .strip_prefix("http://")
            .or_else(|| text.strip_prefix("https://"))?;
        if rest.is_empty() || rest.contains(['/', '@', '?', '#', '\\']) {
            return None;
        }
        Origin::parse(text)
    }
}

/// The names and origins this server answers, built once at start.
#[derive(Clone, Debug)]
pub struct Perimeter {
    /// Any loopback name or address is one of ours.
    loopback: bool,
    hosts: BTreeSet<HostName>,
    /// Our own origins and `cors.allowed_origins`.
    origins: BTreeSet<Origin>,
}

/// What the server is configured to be reached by.
pub struct Reach<'a> {
    /// Where it listens (with the real port).
    pub local: SocketAddr,
    /// `https` when it serves TLS.
    pub scheme: &'a str,
    pub public_url: Option<&'a str>,
    pub allowed_hosts: &'a [String],
    pub allowed_origins: &'a [String],
}

impl Perimeter {
    /// The perimeter of a server reached as `reach` says.
    pub fn new(reach: &Reach<'_>) -> Result<Perimeter, PerimeterError> {
        let bound = reach.local.ip();
        let loopback = bound.is_loopback() || bound.is_unspecified();
        let mut hosts = BTreeSet::new();
        if !bound.is_unspecified() {
            hosts.insert(HostName::Ip(bound));
        }
        for name in reach.allowed_hosts {
            let host = HostName::parse(name.trim())
                .ok_or_else(|| PerimeterError::AllowedHost(name.clone()))?;
            hosts.insert(host);
        }
        let mut origins = BTreeSet::new();
        if let Some(url) = reach.public_url {
            let origin =
                Origin::parse(url).ok_or_else(|| PerimeterError::PublicUrl(url.to_string()))?;
            hosts.insert(origin.host.clone());
            origins.insert(origin);
        }
        for origin in reach.allowed_origins {
            let parsed = Origin::parse_header(origin.trim_end_matches('/'))
                .ok_or_else(|| PerimeterError::AllowedOrigin(origin.clone()))?;
            origins.insert(parsed);
        }
        if bound.is_unspecified() && hosts.is_empty() {
            log::warn!(
                "listening on every address, but only loopback names are answered: set \
                 server.public_url or server.allowed_hosts to the names phones use"
            );
        }
        let mut own: Vec<HostName> = hosts.iter().cloned().collect();
        if loopback {
            own.extend([
                HostName::Domain("localhost".into()),
                HostName::Ip([127, 0, 0, 1].into()),
                HostName::Ip(std::net::Ipv6Addr::LOCALHOST.into()),
            ]);
        }
        for host in own {
            origins.insert(Origin {
                scheme: reach.scheme.to_string(),
                host,
                port: reach.local.port(),
            });
        }
        Ok(Perimeter {
            loopback,
            hosts,
            origins,
        })
    }

    /// Whether a `Host` header value names this server.
    pub fn is_own_host(&self, value: &str) -> bool {
        let Some(host) = split_host(value).and_then(HostName::parse) else {
            return false;
        };
        (self.loopback && host.is_loopback()) || self.hosts.contains(&host)
    }

    /// Whether an `Origin` header value is this server's own or an allowed one.
    pub fn is_allowed_origin(&self, value: &str) -> bool {
        let Some(origin) = Origin::parse_header(value) else {
            return false;
        };
        if self.origins.contains(&origin) {
            return true;
        }
        // Any loopback name of ours on our port and scheme is the same server.
        self.loopback
            && origin.host.is_loopback()
            && self.origins.iter().any(|own| {
                own.host.is_loopback() && own.port == origin.port && own.scheme == origin.scheme
            })
    }

    /// Refuses a request that names a foreign `Host`, or that changes state (any method but
    /// `GET`, `HEAD` and `OPTIONS`) from a foreign origin.
    pub fn check_request(&self, method: &Method, headers: &HeaderMap) -> Result<(), RelayError> {
        self.check_host(headers)?;
        let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if safe {
            return Ok(());
        }
        self.check_origin(headers)
    }

    /// Refuses a WebSocket upgrade that names a foreign `Host` or comes from a foreign origin
    /// (browsers do not apply CORS to WebSockets).
    pub fn check_upgrade(&self, headers: &HeaderMap) -> Result<(), RelayError> {
        self.check_host(headers)?;
        self.check_origin(headers)
    }

    fn check_host(&self, headers: &HeaderMap) -> Result<(), RelayError> {
        let host = headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok());
        match host {
            Some(host) if self.is_own_host(host) => Ok(()),
            Some(host) => {
                log::warn!("refused a request for host {:?}", printable(host));
                Err(RelayError::Forbidden(format!(
                    "this server does not answer to the host {:?} (server.allowed_hosts)",
                    printable(host)
                )))
            }
            None => Err(RelayError::Forbidden(
                "a request must name this server in `Host`".into(),
            )),
        }
    }

    /// A present `Origin` must be allowed; without one, a browser's `Sec-Fetch-Site` must not
    /// say the request comes from another site.
    fn check_origin(&self, headers: &HeaderMap) -> Result<(), RelayError> {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            if self.is_allowed_origin(origin) {
                return Ok(());
            }
            log::warn!("refused a request from origin {:?}", printable(origin));
            return Err(RelayError::Forbidden(format!(
                "origin {:?} is not allowed (cors.allowed_origins)",
                printable(origin)
            )));
        }
        let site = headers
            .get("sec-fetch-site")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("none");
        if matches!(site, "cross-site" | "same-site") {
            log::warn!("refused a {site} request without an origin");
            return Err(RelayError::Forbidden(format!(
                "a {site} request is not allowed"
            )));
        }
        Ok(())
    }
}

/// The host part of a `Host` header: `name`, `name:port`, `[v6]` or `[v6]:port`.
fn split_host(value: &str) -> Option<&str> {
    let value = value.trim();
    if value.starts_with('[') {
        let end = value.find(']')?;
        let rest = &value[end + 1..];
        if !(rest.is_empty() || valid_port(rest.strip_prefix(':')?)) {
            return None;
        }
        return Some(&value[..=end]);
    }
    match value.rsplit_once(':') {
        Some((host, port)) if valid_port(port) => Some(host),
        Some(_) => None,
        None => Some(value),
    }
    .filter(|host| {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
    })
}

fn valid_port(port: &str) -> bool {
    !port.is_empty() && port.len() <= 5 && port.parse::<u16>().is_ok()
}

/// A header value safe to log and echo: at most 100 visible ASCII characters.
fn printable(value: &str) -> String {
    value
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
