//! The client's address: what per-address limits count and the logs name, for every HTTP route
//! and the WebSocket upgrade alike ([`client_ip`] is the one place it is decided).
//!
//! It is the TCP peer's address, unless the peer is one of `server.trusted_proxies` (addresses or
//! CIDR blocks): then it is the right-most address of `X-Forwarded-For` that is not a trusted
//! proxy itself (each proxy appends the address it got the request from, so everything to the
//! left of the first untrusted hop may be made up by the client). A header from an untrusted
//! peer is ignored whatever it says. Must never: take a forwarded address from a peer that is not
//! trusted.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use actix_web::http::header::HeaderMap;
use serde::{Deserialize, Serialize};

/// The header proxies put the client's address in.
pub const FORWARDED_FOR: &str = "x-forwarded-for";

/// One entry of `server.trusted_proxies`: an address (`10.0.0.1`) or a block (`10.0.0.0/8`,
/// `fd00::/8`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProxyNet {
    addr: IpAddr,
    prefix: u8,
}

/// A `server.trusted_proxies` entry that is not an address or a CIDR block.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not an IP address or CIDR block (like 10.0.0.0/8)")]
pub struct BadProxyNet(String);

impl TryFrom<String> for ProxyNet {
    type Error = BadProxyNet;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let bad = || BadProxyNet(text.clone());
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text.trim(), None),
        };
        let addr = canonical(addr.parse().map_err(|_| bad())?);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.parse().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(ProxyNet { addr, prefix })
    }
}

impl fmt::Display for ProxyNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl From<ProxyNet> for String {
    fn from(net: ProxyNet) -> String {
        net.to_string()
    }
}

impl ProxyNet {
    /// Whether `ip` lies in this block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4 address written as IPv6 (`::ffff:1.2.3.4`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address for a request that came from `peer` with `headers` (see the module).
pub fn client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[ProxyNet],
) -> Option<IpAddr> {
    let peer = canonical(peer?);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = headers
        .get_all(FORWARDED_FOR)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        // Something that is not an address ends the trusted chain: the hop after it is the
        // client as far as anyone trustworthy can tell.
        let Some(ip) = parse_hop(hop.trim()) else {
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    Some(client)
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|a| a.ip()))
        .ok()
        .map(canonical)
}

/// The key per-address limits count under: the address itself for IPv4, its /64 for IPv6 (one
/// subscriber usually holds a whole /64, so single IPv6 addresses would not limit anyone).
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u128::MAX >> 64))),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn nets(list: &[&str]) -> Vec<ProxyNet> {
        list.iter()
            .map(|n| ProxyNet::try_from(n.to_string()).expect("a net"))
            .collect()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                HeaderName::from_static(FORWARDED_FOR),
                HeaderValue::from_str(value).expect("a value"),
            );
        }
        headers
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect("an address"))
    }

    #[test]
    fn blocks_parse_and_match() {
        let list = nets(&["10.0.0.0/8", "127.0.0.1", "fd00::/8", "::ffff:192.168.1.1"]);
        assert!(list[0].contains("10.255.1.2".parse().unwrap()));
        assert!(!list[0].contains("11.0.0.1".parse().unwrap()));
        assert!(list[1].contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(list[2].contains("fd12::1".parse().unwrap()));
        assert!(list[3].contains("192.168.1.1".parse().unwrap()));
        assert_eq!(list[0].to_string(), "10.0.0.0/8");
        for bad in ["", "10.0.0.0/33", "nope", "10.0.0.0/x", "::/129"] {
            assert!(ProxyNet::try_from(bad.to_string()).is_err(), "{bad}");
        }
        assert!(nets(&["0.0.0.0/0"])[0].contains("8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn a_forged_header_from_an_untrusted_peer_is_ignored() {
        let trusted = nets(&["127.0.0.1"]);
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(
            client_ip(ip("198.51.100.7"), &headers, &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(client_ip(ip("127.0.0.1"), &headers, &[]), ip("127.0.0.1"));
        assert_eq!(client_ip(None, &headers, &trusted), None);
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client() {
        let trusted = nets(&["127.0.0.1", "10.0.0.0/8"]);
        let peer = ip("127.0.0.1");
        // The client put a made-up address first; the proxies appended the real ones.
        let headers = forwarded(&["6.6.6.6, 203.0.113.9", "10.1.2.3"]);
        assert_eq!(client_ip(peer, &headers, &trusted), ip("203.0.113.9"));
        // No header: the proxy itself.
        assert_eq!(client_ip(peer, &HeaderMap::new(), &trusted), peer);
        // Garbage ends the chain; ports and brackets are understood.
        let headers = forwarded(&["203.0.113.9, junk, 10.0.0.2"]);
        assert_eq!(client_ip(peer, &headers, &trusted), ip("10.0.0.2"));
        let headers = forwarded(&["[2001:db8::1]:443"]);
        assert_eq!(client_ip(peer, &headers, &trusted), ip("2001:db8::1"));
        let headers = forwarded(&["198.51.100.1:5000"]);
        assert_eq!(client_ip(peer, &headers, &trusted), ip("198.51.100.1"));
        // Every hop trusted: the left-most.
        let headers = forwarded(&["10.0.0.9, 10.0.0.8"]);
        assert_eq!(client_ip(peer, &headers, &trusted), ip("10.0.0.9"));
    }

    #[test]
    fn ipv6_addresses_are_limited_per_64() {
        let a = limit_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = limit_key("2001:db8:1:2:bbbb::2".parse().unwrap());
        assert_eq!(a, b);
        assert_eq!(a, "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        assert_eq!(
            limit_key("1.2.3.4".parse().unwrap()),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
    }
}
