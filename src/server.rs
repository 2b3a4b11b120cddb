//! Starting and stopping the server. [`Server::build`] takes its world from outside (the
//! configuration and a bound listener), so `main`, tests and benchmarks start the same server.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Addr;
use actix_http::Protocol;
use actix_service::{map_config, IntoServiceFactory, ServiceFactoryExt};
use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::dev::AppConfig;
use actix_web::dev::ServerHandle;
use actix_web::{web, App};
use actors::metrics::RelayMetrics;
use actors::registry::{Registry, Router, Shutdown};
use actors::store::{EventStore, StoreError};

use crate::config::Config;
use crate::connection_limit::{ConnectionLimiter, LimitedStream};
use crate::limits::RateLimits;
use crate::perimeter::{Perimeter, Reach};
use crate::store::SqliteStore;
use crate::transport;

/// What every request handler can reach.
pub struct AppState {
    pub config: Arc<Config>,
    pub registry: Addr<Registry>,
    /// Where clients' requests go (straight to their session when the registry need not see
    /// them).
    pub router: Router,
    /// For readiness checks only; everything else reaches the store through the sessions.
    pub store: Arc<dyn EventStore>,
    /// What the relay records.
    pub metrics: Arc<RelayMetrics>,
    /// Sign-in and token checks.
    pub auth: Arc<crate::auth::Auth>,
    /// Per-user request budgets.
    pub limits: Arc<RateLimits>,
    /// The registry `GET /metrics` encodes.
    pub metrics_registry: Arc<prometheus_client::registry::Registry>,
    /// Notifications: the VAPID key, push subscriptions, levels, who views what.
    pub notify: Arc<crate::notify::Notify>,
    /// The `Host` and `Origin` values the server answers.
    pub perimeter: Perimeter,
    /// The largest request body read, in bytes.
    pub body_limit: usize,
    pub started: Instant,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("auth: {0}")]
    Auth(#[from] crate::auth::AuthError),
    #[error("configuration: {0}")]
    Perimeter(#[from] crate::perimeter::PerimeterError),
    #[error("{0}")]
    RunAs(#[from] actors::run_as::RunAsError),
    #[error("notifications: {0}")]
    Notify(#[from] crate::notify::NotifyError),
}

/// A started server: its address, and what stopping it needs.
pub struct Server {
    http: actix_server::Server,
    handle: ServerHandle,
    registry: Addr<Registry>,
    store: Arc<SqliteStore>,
    config: Arc<Config>,
    limits: Arc<RateLimits>,
    /// The thread that ends live streams of revoked tokens, when auth is on.
    watcher: Option<crate::auth::live::Watcher>,
    url: String,
}

impl Server {
    /// Opens the store, restores the sessions and serves on `listener`. Must run inside an
    /// actix system.
    pub fn build(config: Config, listener: TcpListener) -> Result<Server, StartError> {
        let config = Arc::new(config);
        let domain = config.domain()?;
        let store = Arc::new(SqliteStore::open(&config.storage)?);
        let mut metrics_registry = prometheus_client::registry::Registry::default();
        let metrics = Arc::new(RelayMetrics::register(&mut metrics_registry));
        let (notify, notifier) = crate::notify::start(&config, &mut metrics_registry)?;
        let router = Registry::start(
            domain,
            store.clone() as Arc<dyn EventStore>,
            metrics.clone(),
            actors::watch::Watchers::new(vec![notifier.recipient()]),
        )?;
        let registry = router.registry().clone();
        let limits = Arc::new(RateLimits::new(
            config.limits.requests_per_minute,
            metrics.clone(),
        ));
        let auth = Arc::new(crate::auth::Auth::new(&config.auth, &config.storage.path)?);
        let watcher = if config.auth.enabled {
            Some(auth.watch_revocations(&config.storage.path)?)
        } else {
            None
        };
        let addr = listener.local_addr()?;
        let tls = match (&config.tls.cert, &config.tls.key) {
            (Some(cert), Some(key)) => Some(crate::tls::server_config(cert, key)?),
            _ => None,
        };
        let perimeter = Perimeter::new(&Reach {
            local: addr,
            scheme: if tls.is_some() { "https" } else { "http" },
            public_url: config.server.public_url.as_deref(),
            allowed_hosts: &config.server.allowed_hosts,
            allowed_origins: &config.cors.allowed_origins,
        })?;
        let body_limit = config.limits.max_prompt_bytes + 64 * 1024;
        let state = web::Data::new(AppState {
            auth,
            config: config.clone(),
            registry: registry.clone(),
            router,
            store: store.clone() as Arc<dyn EventStore>,
            limits: limits.clone(),
            metrics,
            notify,
            metrics_registry: Arc::new(metrics_registry),
            perimeter,
            body_limit,
            started: Instant::now(),
        });
        let allowed_origins = config.cors.allowed_origins.clone();
        let upgrade_state = state.clone();
        let app = move || {
            App::new()
                .app_data(state.clone())
                .app_data(crate::http::extract::json_config(body_limit))
                .app_data(crate::http::extract::query_config())
                .wrap(crate::http::headers::cors(&allowed_origins))
                .wrap(actix_web::middleware::from_fn(crate::http::guards::guard))
                .wrap(actix_web::middleware::from_fn(
                    crate::http::headers::security,
                ))
                .wrap(actix_web::middleware::from_fn(
                    crate::http::request_id::middleware,
                ))
                .configure(crate::http::routes)
                .default_service(web::to(crate::http::app::app_or_not_found))
                .into_factory()
                .map_err(|error: actix_web::Error| error.error_response())
        };
        let builder = actix_server::Server::build()
            .disable_signals()
            .shutdown_timeout(1);
        let limiter = ConnectionLimiter::new(
            config.limits.connections_per_ip,
            config.server.trusted_proxies.clone(),
        );
        let server_config = config.server.clone();
        let (builder, scheme) = match tls {
            Some(tls) => {
                let builder = builder.listen("pocket-relay", listener, move || {
                    let acceptor = transport::tls_acceptor(tls.clone(), &server_config);
                    let http = transport::http_service(addr, &server_config)
                        .upgrade(crate::ws::upgrade::service(upgrade_state.clone()))
                        .finish(map_config(app(), |_| AppConfig::default()));
                    transport::admit(limiter.clone())
                        .map_err(|refused| log::debug!("{refused}"))
                        .and_then(acceptor.map_err(|error| log::debug!("TLS: {error:?}")))
                        .and_then(|io: TlsStream<LimitedStream>| {
                            let peer = io.get_ref().0.tcp().peer_addr().ok();
                            std::future::ready(Ok((io, Protocol::Http1, peer)))
                        })
                        .and_then(http.map_err(|error| log::debug!("connection: {error}")))
                })?;
                (builder, "https")
            }
            None => {
                let builder = builder.listen("pocket-relay", listener, move || {
                    let http = transport::http_service(addr, &server_config)
                        .upgrade(crate::ws::upgrade::service(upgrade_state.clone()))
                        .finish(map_config(app(), |_| AppConfig::default()));
                    transport::admit(limiter.clone())
                        .and_then(transport::plain)
                        .map_err(|refused| log::debug!("{refused}"))
                        .and_then(http.map_err(|error| log::debug!("connection: {error}")))
                })?;
                (builder, "http")
            }
        };
        let http = builder.run();
        let handle = http.handle();
        Ok(Server {
            http,
            handle,
            registry,
            store,
            config,
            limits,
            watcher,
            url: format!("{scheme}://{addr}"),
        })
    }

    /// `http://ip:port`, with the real port.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Serves until SIGINT or SIGTERM, then shuts down as [`Server::run`] does.
    pub async fn run_until_signal(self) -> std::io::Result<()> {
        let signal = signal()?;
        self.run(signal).await
    }

    /// Serves until `shutdown` completes, then shuts down as protocol §6 says: stop accepting,
    /// give the sessions their grace, flush the store, stop serving. Everything the server
    /// started is stopped when this returns (the store's and the token watcher's threads, the
    /// agent processes), so one process may start and stop servers many times.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let Server {
            http,
            handle,
            registry,
            store,
            config,
            limits,
            watcher,
            ..
        } = self;
        let serving = actix::spawn(http);
        let forgetting = actix::spawn(async move {
            let mut every_minute = tokio::time::interval(Duration::from_secs(60));
            loop {
                every_minute.tick().await;
                limits.forget_idle();
            }
        });
        shutdown.await;
        log::info!("shutting down");
        handle.pause().await;
        let grace = Duration::from_secs(config.server.shutdown_grace_s);
        if let Err(error) = registry.send(Shutdown { grace }).await {
            log::error!("shutdown of the sessions failed: {error}");
        }
        store.flush_and_close();
        handle.stop(false).await;
        let _ = serving.await;
        forgetting.abort();
        if let Some(mut watcher) = watcher {
            watcher.stop();
        }
        log::info!("stopped");
        Ok(())
    }
}

/// Completes at the first SIGTERM or SIGINT; the handlers are in place once this returns.
fn signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => log::info!("SIGTERM"),
            _ = int.recv() => log::info!("SIGINT"),
        }
    })
}
