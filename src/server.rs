//! Starting and stopping the server. [`Server::build`] takes its world from outside (the
//! configuration and a bound listener), so `main`, tests and benchmarks start the same server.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Addr;
use actix_http::HttpServiceBuilder;
use actix_service::{map_config, IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt};
use actix_web::dev::AppConfig;
use actix_web::dev::ServerHandle;
use actix_web::{web, App};
use actors::metrics::RelayMetrics;
use actors::registry::{Registry, Shutdown};
use actors::store::{EventStore, StoreError};

use crate::config::Config;
use crate::limits::RateLimits;
use crate::store::SqliteStore;

/// What every request handler can reach.
pub struct AppState {
    pub config: Arc<Config>,
    pub registry: Addr<Registry>,
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
}

/// A started server: its address, and what stopping it needs.
pub struct Server {
    http: actix_server::Server,
    handle: ServerHandle,
    registry: Addr<Registry>,
    store: Arc<SqliteStore>,
    config: Arc<Config>,
    limits: Arc<RateLimits>,
    url: String,
}

impl Server {
    /// Opens the store, restores the sessions and serves on `listener`. Must run inside an
    /// actix system.
    pub fn build(config: Config, listener: TcpListener) -> Result<Server, StartError> {
        let config = Arc::new(config);
        let store = Arc::new(SqliteStore::open(&config.storage)?);
        let mut metrics_registry = prometheus_client::registry::Registry::default();
        let metrics = Arc::new(RelayMetrics::register(&mut metrics_registry));
        let registry = Registry::start(
            config.domain(),
            store.clone() as Arc<dyn EventStore>,
            metrics.clone(),
        )?;
        let limits = Arc::new(RateLimits::new(
            config.limits.requests_per_minute,
            metrics.clone(),
        ));
        let auth = Arc::new(crate::auth::Auth::new(&config.auth, &config.storage.path)?);
        if config.auth.enabled {
            auth.watch_revocations(&config.storage.path)?;
        }
        let state = web::Data::new(AppState {
            auth,
            config: config.clone(),
            registry: registry.clone(),
            store: store.clone() as Arc<dyn EventStore>,
            limits: limits.clone(),
            metrics,
            metrics_registry: Arc::new(metrics_registry),
            started: Instant::now(),
        });
        let body_limit = config.limits.max_prompt_bytes + 64 * 1024;
        let allowed_origins = config.cors.allowed_origins.clone();
        let addr = listener.local_addr()?;
        let tls = match (&config.tls.cert, &config.tls.key) {
            (Some(cert), Some(key)) => Some(crate::tls::server_config(cert, key)?),
            _ => None,
        };
        let upgrade_state = state.clone();
        let app = move || {
            App::new()
                .app_data(state.clone())
                .app_data(crate::http::extract::json_config(body_limit))
                .app_data(crate::http::extract::query_config())
                .wrap(crate::http::headers::cors(&allowed_origins))
                .wrap(actix_web::middleware::from_fn(
                    crate::http::headers::security,
                ))
                .wrap(actix_web::middleware::from_fn(
                    crate::http::request_id::middleware,
                ))
                .configure(crate::http::routes)
                .default_service(web::to(crate::http::not_found))
                .into_factory()
                .map_err(|error: actix_web::Error| error.error_response())
        };
        let builder = actix_server::Server::build()
            .disable_signals()
            .shutdown_timeout(1);
        let (builder, scheme) = match tls {
            Some(tls) => {
                let builder = builder.listen("pocket-relay", listener, move || {
                    http_service(addr)
                        .upgrade(crate::ws::upgrade::service(upgrade_state.clone()))
                        .finish(map_config(app(), |_| AppConfig::default()))
                        .rustls_0_23(tls.clone())
                })?;
                (builder, "https")
            }
            None => {
                let builder = builder.listen("pocket-relay", listener, move || {
                    http_service(addr)
                        .upgrade(crate::ws::upgrade::service(upgrade_state.clone()))
                        .finish(map_config(app(), |_| AppConfig::default()))
                        .tcp()
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
            url: format!("{scheme}://{addr}"),
        })
    }

    /// `http://ip:port`, with the real port.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Serves until SIGINT or SIGTERM, then shuts down as protocol §6 says.
    pub async fn run_until_signal(self) -> std::io::Result<()> {
        let Server {
            http,
            handle,
            registry,
            store,
            config,
            limits,
            ..
        } = self;
        let serving = actix::spawn(http);
        actix::spawn(async move {
            let mut every_minute = tokio::time::interval(Duration::from_secs(60));
            loop {
                every_minute.tick().await;
                limits.forget_idle();
            }
        });
        wait_for_signal().await?;
        log::info!("shutting down");
        handle.pause().await;
        let grace = Duration::from_secs(config.server.shutdown_grace_s);
        if let Err(error) = registry.send(Shutdown { grace }).await {
            log::error!("shutdown of the sessions failed: {error}");
        }
        store.flush_and_close();
        handle.stop(false).await;
        let _ = serving.await;
        log::info!("stopped");
        Ok(())
    }
}

/// HTTP/1.1 with the server's timeouts. Frames are small and latency matters: no Nagle delay
/// (it cost ~40 ms per prompt).
fn http_service<T, S>(addr: std::net::SocketAddr) -> HttpServiceBuilder<T, S>
where
    S: ServiceFactory<actix_http::Request, Config = ()>,
    S::Error: Into<actix_http::Response<actix_http::body::BoxBody>> + 'static,
    S::InitError: std::fmt::Debug,
    <S::Service as Service<actix_http::Request>>::Future: 'static,
{
    HttpServiceBuilder::default()
        .keep_alive(Duration::from_secs(5))
        .client_request_timeout(Duration::from_secs(5))
        .client_disconnect_timeout(Duration::from_secs(1))
        .tcp_nodelay(true)
        .local_addr(addr)
}

async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => log::info!("SIGTERM"),
        _ = int.recv() => log::info!("SIGINT"),
    }
    Ok(())
}
