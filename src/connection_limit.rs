//! `limits.connections_per_ip`: how many connections one client address may hold at once, so a
//! single client cannot take every file descriptor (slow headers, slow bodies, idle sockets).
//!
//! A connection is counted from the moment it is accepted until its socket is closed: the
//! permit travels inside the socket ([`LimitedStream`]), through the HTTP dispatcher and, after
//! a WebSocket upgrade, into the connection's reader and writer. A connection over the limit is
//! closed at once, before a byte is read.

use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_codec::{AsyncRead, AsyncWrite, ReadBuf};
use actix_rt::net::{ActixStream, Ready, TcpStream};
use dashmap::DashMap;

use crate::client_addr::ProxyNet;

/// The open connections per client address.
#[derive(Debug)]
pub struct ConnectionLimiter {
    /// 0 = no limit.
    per_ip: usize,
    /// `server.trusted_proxies`: they carry many clients' connections and are not limited.
    proxies: Vec<ProxyNet>,
    open: DashMap<IpAddr, usize>,
}

impl ConnectionLimiter {
    pub fn new(per_ip: usize, proxies: Vec<ProxyNet>) -> Arc<ConnectionLimiter> {
        Arc::new(ConnectionLimiter {
            per_ip,
            proxies,
            open: DashMap::new(),
        })
    }

    /// A permit for one more connection from `ip`, or `None` when it holds its limit already.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<ConnectionPermit> {
        let limited = self.per_ip != 0 && !self.proxies.iter().any(|p| p.contains(ip));
        let mut open = self.open.entry(ip).or_insert(0);
        if limited && *open >= self.per_ip {
            return None;
        }
        *open += 1;
        Some(ConnectionPermit {
            limiter: self.clone(),
            ip,
        })
    }

    /// Connections `ip` holds now.
    pub fn open_from(&self, ip: IpAddr) -> usize {
        self.open.get(&ip).map(|n| *n).unwrap_or(0)
    }
}

/// One counted connection; dropping it (with the socket) frees its place.
#[derive(Debug)]
pub struct ConnectionPermit {
    limiter: Arc<ConnectionLimiter>,
    ip: IpAddr,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let gone = {
            let Some(mut open) = self.limiter.open.get_mut(&self.ip) else {
                return;
            };
            *open = open.saturating_sub(1);
            *open == 0
        };
        if gone {
            self.limiter.open.remove_if(&self.ip, |_, open| *open == 0);
        }
    }
}

/// A TCP socket that carries its connection's permit.
pub struct LimitedStream {
    io: TcpStream,
    _permit: ConnectionPermit,
}

impl LimitedStream {
    pub fn new(io: TcpStream, permit: ConnectionPermit) -> LimitedStream {
        LimitedStream {
            io,
            _permit: permit,
        }
    }

    pub fn tcp(&self) -> &TcpStream {
        &self.io
    }
}

impl AsyncRead for LimitedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

impl ActixStream for LimitedStream {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<Ready>> {
        ActixStream::poll_read_ready(&self.io, cx)
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<Ready>> {
        ActixStream::poll_write_ready(&self.io, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_holds_at_most_its_limit_and_gets_places_back() {
        let limiter = ConnectionLimiter::new(2, Vec::new());
        let ip: IpAddr = [127, 0, 0, 2].into();
        let other: IpAddr = [127, 0, 0, 3].into();
        let first = limiter.admit(ip).expect("first");
        let _second = limiter.admit(ip).expect("second");
        assert!(limiter.admit(ip).is_none());
        assert!(
            limiter.admit(other).is_some(),
            "another address is not held"
        );
        drop(first);
        assert_eq!(limiter.open_from(ip), 1);
        assert!(limiter.admit(ip).is_some());
    }

    #[test]
    fn a_trusted_proxy_is_not_limited() {
        let proxy = ProxyNet::try_from("127.0.0.9".to_string()).unwrap();
        let limiter = ConnectionLimiter::new(1, vec![proxy]);
        let ip: IpAddr = [127, 0, 0, 9].into();
        let _permits: Vec<_> = (0..5).map(|_| limiter.admit(ip).unwrap()).collect();
        assert_eq!(limiter.open_from(ip), 5);
    }

    #[test]
    fn zero_means_no_limit() {
        let limiter = ConnectionLimiter::new(0, Vec::new());
        let ip: IpAddr = [127, 0, 0, 2].into();
        let permits: Vec<_> = (0..1000).map(|_| limiter.admit(ip).unwrap()).collect();
        assert_eq!(limiter.open_from(ip), 1000);
        drop(permits);
        assert_eq!(limiter.open_from(ip), 0);
    }
}
