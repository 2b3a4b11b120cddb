//! The relay's metrics, registered in an explicit Prometheus registry handed in at start (no
//! globals). Actors hold an `Arc<RelayMetrics>` and record what they do; `GET /metrics` encodes
//! the registry. Labels never carry a session id, a user or anything a client sent.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// `{kind}`: an event kind.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

/// `{transport}`: websocket or sse.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransportLabel {
    pub transport: String,
}

/// `{status}`: a session status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: String,
}

/// `{outcome}`: completed, or a failure code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

/// `{route, status}` of an HTTP request (the route pattern, never the raw path).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabel {
    pub route: String,
    pub status: u16,
}

fn latency() -> Histogram {
    // 50 µs … ~26 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 20))
}

fn durations() -> Histogram {
    // 10 ms … ~90 min.
    Histogram::new(exponential_buckets(0.01, 2.0, 20))
}

/// Every metric the relay records.
pub struct RelayMetrics {
    pub clients: Family<TransportLabel, Gauge>,
    pub sessions: Family<StatusLabel, Gauge>,
    pub agents_running: Gauge,
    pub events_stored: Family<KindLabel, Counter>,
    pub store_write_seconds: Histogram,
    pub fanout_seconds: Histogram,
    pub replay_events: Counter,
    pub prompts: Family<OutcomeLabel, Counter>,
    pub prompt_seconds: Histogram,
    pub permissions_pending: Gauge,
    pub permission_wait_seconds: Histogram,
    pub slow_consumers: Counter,
    /// Connections dropped because the client took nothing within the closing patience.
    pub abandoned_connections: Counter,
    pub rate_limited: Counter,
    pub http_requests: Family<HttpLabel, Counter>,
}

impl RelayMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = RelayMetrics {
            clients: Family::default(),
            sessions: Family::default(),
            agents_running: Gauge::default(),
            events_stored: Family::default(),
            store_write_seconds: latency(),
            fanout_seconds: latency(),
            replay_events: Counter::default(),
            prompts: Family::default(),
            prompt_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 20)),
            permissions_pending: Gauge::default(),
            permission_wait_seconds: durations(),
            slow_consumers: Counter::default(),
            abandoned_connections: Counter::default(),
            rate_limited: Counter::default(),
            http_requests: Family::default(),
        };
        let r = registry.sub_registry_with_prefix("relay");
        r.register(
            "clients",
            "Connected clients by transport",
            metrics.clients.clone(),
        );
        r.register("sessions", "Sessions by status", metrics.sessions.clone());
        r.register(
            "agents_running",
            "Claude Code processes running",
            metrics.agents_running.clone(),
        );
        r.register(
            "events_stored",
            "Events stored, by kind",
            metrics.events_stored.clone(),
        );
        r.register(
            "store_write_seconds",
            "Time to commit a batch of events",
            metrics.store_write_seconds.clone(),
        );
        r.register(
            "fanout_seconds",
            "Time from an event's commit to its encoding for a client's socket",
            metrics.fanout_seconds.clone(),
        );
        r.register(
            "replay_events",
            "Stored events served by replays",
            metrics.replay_events.clone(),
        );
        r.register(
            "prompts",
            "Prompts ended, by outcome",
            metrics.prompts.clone(),
        );
        r.register(
            "prompt_seconds",
            "Time from a prompt's start to its end",
            metrics.prompt_seconds.clone(),
        );
        r.register(
            "permission_requests_pending",
            "Permission requests waiting for a decision",
            metrics.permissions_pending.clone(),
        );
        r.register(
            "permission_wait_seconds",
            "Time a permission request waited for its resolution",
            metrics.permission_wait_seconds.clone(),
        );
        r.register(
            "slow_consumers",
            "Clients cut off for not reading",
            metrics.slow_consumers.clone(),
        );
        r.register(
            "abandoned_connections",
            "Connections dropped without their closing frame: the client read nothing for 3 × heartbeat_s",
            metrics.abandoned_connections.clone(),
        );
        r.register(
            "rate_limited",
            "Requests answered rate_limited",
            metrics.rate_limited.clone(),
        );
        r.register(
            "http_requests",
            "HTTP requests by route and status",
            metrics.http_requests.clone(),
        );
        metrics
    }

    /// Metrics registered nowhere (for code that runs without a server).
    pub fn detached() -> Self {
        Self::register(&mut Registry::default())
    }

    /// Moves one session from status `from` (if any) to `to` (if any).
    pub fn session_status(&self, from: Option<&str>, to: Option<&str>) {
        if let Some(from) = from {
            self.sessions
                .get_or_create(&StatusLabel {
                    status: from.to_string(),
                })
                .dec();
        }
        if let Some(to) = to {
            self.sessions
                .get_or_create(&StatusLabel {
                    status: to.to_string(),
                })
                .inc();
        }
    }

    /// One client connected (+1) or left (-1) on `transport`.
    pub fn client(&self, transport: &str, delta: i64) {
        self.clients
            .get_or_create(&TransportLabel {
                transport: transport.to_string(),
            })
            .inc_by(delta);
    }

    /// A prompt ended with `outcome` after `seconds` (when it had started).
    pub fn prompt_ended(&self, outcome: &str, seconds: Option<f64>) {
        self.prompts
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_string(),
            })
            .inc();
        if let Some(seconds) = seconds {
            self.prompt_seconds.observe(seconds);
        }
    }
}
