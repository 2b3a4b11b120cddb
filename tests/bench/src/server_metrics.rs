//! The server's own view, from `GET /metrics` (Prometheus text): the histograms of store commit
//! time and commit-to-socket fan-out time, to tell where latency goes. Optional: a server
//! without the endpoint just yields no figures.

use std::collections::BTreeMap;
use std::net::SocketAddr;

/// One histogram: cumulative bucket counts by upper bound, sum and count.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    buckets: BTreeMap<u64, f64>,
    sum: f64,
    count: f64,
}

/// What changed between two snapshots.
pub struct Delta {
    pub count: f64,
    pub mean_ms: f64,
    /// Upper bound of the bucket holding the quantile, in ms.
    pub p50_ms_at_most: f64,
    pub p99_ms_at_most: f64,
}

impl Histogram {
    pub fn since(&self, before: &Histogram) -> Delta {
        let count = self.count - before.count;
        let sum = self.sum - before.sum;
        let quantile = |q: f64| {
            let want = q * count;
            for (&bound, &n) in &self.buckets {
                let n = n - before.buckets.get(&bound).copied().unwrap_or(0.0);
                if n >= want {
                    return f64::from_bits(bound) * 1000.0;
                }
            }
            f64::INFINITY
        };
        Delta {
            count,
            mean_ms: if count > 0.0 {
                sum / count * 1000.0
            } else {
                0.0
            },
            p50_ms_at_most: quantile(0.5),
            p99_ms_at_most: quantile(0.99),
        }
    }
}

/// The text of `GET /metrics`, if the server has it.
pub async fn snapshot(addr: SocketAddr) -> Option<String> {
    crate::http::get(addr, "/metrics").await
}

/// The value of a counter or gauge without labels (`relay_slow_consumers_total`).
pub fn value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .find_map(|v| v.trim().parse().ok())
}

/// The histogram named `name` (e.g. `relay_fanout_seconds`).
pub fn histogram(text: &str, name: &str) -> Histogram {
    let mut h = Histogram::default();
    for line in text.lines().filter(|l| l.starts_with(name)) {
        let Some((key, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let rest = &key[name.len()..];
        if rest == "_sum" {
            h.sum = value;
        } else if rest == "_count" {
            h.count = value;
        } else if let Some(le) = rest
            .strip_prefix("_bucket{le=\"")
            .and_then(|r| r.strip_suffix("\"}"))
        {
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap_or(f64::INFINITY)
            };
            // f64 bits order like the numbers for positive values.
            h.buckets.insert(bound.to_bits(), value);
        }
    }
    h
}
