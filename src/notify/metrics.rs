//! The notifier's figures in `/metrics` (protocol §8): deliveries sent and failed per channel,
//! subscriptions removed, and the time from an event's commit to its delivery. Labels carry the
//! channel only: never a user, an endpoint or a session.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// `{channel}`: webpush, ntfy or webhook.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabel {
    pub channel: &'static str,
}

/// Every figure the notifier records.
pub struct NotifyMetrics {
    /// Deliveries the endpoint accepted (2xx).
    pub sent: Family<ChannelLabel, Counter>,
    /// Failed attempts (each try that got a 4xx/5xx, a network error or no answer in time),
    /// and notifications dropped because too many deliveries were in flight.
    pub failed: Family<ChannelLabel, Counter>,
    /// Push subscriptions removed because their endpoint answered 404 or 410.
    pub removed: Counter,
    /// From the event's commit to the endpoint's accepting answer.
    pub latency: Family<ChannelLabel, Histogram>,
}

impl NotifyMetrics {
    /// Creates the metrics and registers them in `registry` as `relay_notify_*`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = NotifyMetrics {
            sent: Family::default(),
            failed: Family::default(),
            removed: Counter::default(),
            // 1 ms … ~65 s.
            latency: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.001, 2.0, 17))
            }),
        };
        let r = registry.sub_registry_with_prefix("relay_notify");
        r.register(
            "sent",
            "Notification deliveries accepted, by channel",
            metrics.sent.clone(),
        );
        r.register(
            "failed",
            "Notification delivery attempts that failed, by channel",
            metrics.failed.clone(),
        );
        r.register(
            "removed",
            "Push subscriptions removed after their endpoint answered 404 or 410",
            metrics.removed.clone(),
        );
        r.register(
            "latency_seconds",
            "Time from an event's commit to its delivery's acceptance, by channel",
            metrics.latency.clone(),
        );
        metrics
    }

    pub fn sent(&self, channel: &'static str, seconds: f64) {
        self.sent.get_or_create(&ChannelLabel { channel }).inc();
        self.latency
            .get_or_create(&ChannelLabel { channel })
            .observe(seconds);
    }

    pub fn failed(&self, channel: &'static str) {
        self.failed.get_or_create(&ChannelLabel { channel }).inc();
    }
}
