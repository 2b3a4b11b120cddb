//! What happens to an accepted socket before the HTTP app sees a request: the per-address
//! connection limit ([`crate::connection_limit`]), TLS when configured, then HTTP/1.1 with the
//! server's timeouts and the WebSocket upgrade. `main`, tests and benchmarks all get this stack
//! through [`crate::server::Server::build`].

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_http::{HttpServiceBuilder, Protocol};
use actix_rt::net::TcpStream;
use actix_service::{fn_service, Service, ServiceFactory};

use crate::config::ServerConfig;
use crate::connection_limit::{ConnectionLimiter, LimitedStream};

/// Why an accepted socket was not served.
#[derive(Debug, thiserror::Error)]
pub enum RefusedConnection {
    #[error("{0} already holds limits.connections_per_ip connections")]
    OverLimit(std::net::IpAddr),
    #[error("the socket has no peer address: {0}")]
    NoPeer(io::Error),
}

/// Counts the socket against its address's limit (or closes it at once) and wraps it with its
/// permit. Frames are small and latency matters: no Nagle delay (it cost ~40 ms per prompt).
pub fn admit(
    limiter: Arc<ConnectionLimiter>,
) -> impl ServiceFactory<
    TcpStream,
    Config = (),
    Response = LimitedStream,
    Error = RefusedConnection,
    InitError = (),
> + Clone {
    fn_service(move |io: TcpStream| {
        let limiter = limiter.clone();
        async move {
            let peer = io.peer_addr().map_err(RefusedConnection::NoPeer)?;
            let Some(permit) = limiter.admit(peer.ip()) else {
                log::debug!("refused a connection from {}: over the limit", peer.ip());
                return Err(RefusedConnection::OverLimit(peer.ip()));
            };
            let _ = io.set_nodelay(true);
            Ok(LimitedStream::new(io, permit))
        }
    })
}

/// A stream as the HTTP service takes it: with its protocol and its peer's address.
pub type Served<T> = (T, Protocol, Option<SocketAddr>);

/// The plain stream with what the HTTP service needs to know of it.
pub fn plain(
    io: LimitedStream,
) -> std::future::Ready<Result<Served<LimitedStream>, RefusedConnection>> {
    let peer = io.tcp().peer_addr().ok();
    std::future::ready(Ok((io, Protocol::Http1, peer)))
}

/// HTTP/1.1 with the server's timeouts: `server.request_timeout_s` for a request's head, and a
/// short keep-alive.
pub fn http_service<T, S>(addr: SocketAddr, server: &ServerConfig) -> HttpServiceBuilder<T, S>
where
    S: ServiceFactory<actix_http::Request, Config = ()>,
    S::Error: Into<actix_http::Response<actix_http::body::BoxBody>> + 'static,
    S::InitError: std::fmt::Debug,
    <S::Service as Service<actix_http::Request>>::Future: 'static,
{
    HttpServiceBuilder::default()
        .keep_alive(Duration::from_secs(5))
        .client_request_timeout(Duration::from_secs(server.request_timeout_s))
        .client_disconnect_timeout(Duration::from_secs(1))
        .local_addr(addr)
}

/// The TLS acceptor for `config`, speaking HTTP/1.1 only, with the request timeout as its
/// handshake timeout.
pub fn tls_acceptor(
    mut config: rustls::ServerConfig,
    server: &ServerConfig,
) -> actix_tls::accept::rustls_0_23::Acceptor {
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut acceptor = actix_tls::accept::rustls_0_23::Acceptor::new(config);
    acceptor.set_handshake_timeout(Duration::from_secs(server.request_timeout_s));
    acceptor
}
