//! Percentiles over latency samples, and the median of paired differences with its confidence.

use std::time::Duration;

/// Summary of a set of durations (nanoseconds).
#[derive(Clone, Copy, Debug, Default)]
pub struct Summary {
    pub count: usize,
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
    pub mean: u64,
}

impl Summary {
    /// Sorts `samples` in place and summarises them.
    pub fn of(samples: &mut [u64]) -> Summary {
        if samples.is_empty() {
            return Summary::default();
        }
        samples.sort_unstable();
        let sum: u128 = samples.iter().map(|&s| u128::from(s)).sum();
        Summary {
            count: samples.len(),
            p50: percentile(samples, 50.0),
            p99: percentile(samples, 99.0),
            max: samples[samples.len() - 1],
            mean: (sum / samples.len() as u128) as u64,
        }
    }
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Nanoseconds as milliseconds.
pub fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// A duration as nanoseconds.
pub fn ns(d: Duration) -> u64 {
    d.as_nanos().min(u128::from(u64::MAX)) as u64
}

/// A median with its distribution-free 95% confidence interval.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MedianInterval {
    pub median: f64,
    pub low: f64,
    pub high: f64,
}

impl MedianInterval {
    /// Sorts `values` in place. The interval is the pair of order statistics at ranks
    /// n/2 − 1.96·√n/2 and 1 + n/2 + 1.96·√n/2 (1-based; the normal approximation of the
    /// binomial), which covers the true median with about 95% probability whatever the
    /// distribution of the values.
    pub fn of(values: &mut [f64]) -> MedianInterval {
        if values.is_empty() {
            return MedianInterval::default();
        }
        values.sort_by(f64::total_cmp);
        let n = values.len() as f64;
        let half_width = 1.96 * n.sqrt() / 2.0;
        let last = values.len() - 1;
        let low = ((n / 2.0 - half_width).floor().max(1.0) as usize - 1).min(last);
        let high = ((1.0 + n / 2.0 + half_width).ceil() as usize).clamp(1, values.len()) - 1;
        MedianInterval {
            median: values[values.len() / 2],
            low: values[low],
            high: values[high],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_of_a_median_brackets_it_and_narrows_with_more_values() {
        let mut few: Vec<f64> = (0..100).map(f64::from).collect();
        let mut many: Vec<f64> = (0..10_000).map(|i| f64::from(i) / 100.0).collect();
        let few = MedianInterval::of(&mut few);
        let many = MedianInterval::of(&mut many);
        assert_eq!(few.median, 50.0);
        assert_eq!((few.low, few.high), (39.0, 60.0));
        assert!(many.low < many.median && many.median < many.high);
        assert!(many.high - many.low < (few.high - few.low) / 5.0);
    }
}
