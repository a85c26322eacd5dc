//! Latency summaries and error tallies shared by the `reads` and `sync-latency` modes.

use std::collections::HashMap;

use serde::Serialize;

use crate::report::percentile;

/// Percentiles of a set of latencies, in the unit they were recorded in (nearest rank).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Number of samples.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

impl Summary {
    /// Summarizes `samples` (sorted in place).
    pub fn of(samples: &mut [u64]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        let sum: u128 = samples.iter().map(|&x| u128::from(x)).sum();
        Self {
            count: samples.len() as u64,
            mean: sum as f64 / samples.len() as f64,
            p50: percentile(samples, 0.50),
            p90: percentile(samples, 0.90),
            p99: percentile(samples, 0.99),
            max: *samples.last().unwrap_or(&0),
        }
    }
}

/// Error messages and how often each occurred.
#[derive(Debug, Clone, Default)]
pub struct Errors(HashMap<String, u64>);

impl Errors {
    /// Counts one occurrence of `msg`.
    pub fn add(&mut self, msg: impl Into<String>) {
        *self.0.entry(msg.into()).or_default() += 1;
    }

    /// Adds another tally to this one.
    pub fn merge(&mut self, other: Errors) {
        for (k, v) in other.0 {
            *self.0.entry(k).or_default() += v;
        }
    }

    /// Total count.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Messages, most frequent first (then alphabetical).
    pub fn sorted(&self) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self.0.iter().map(|(k, v)| (k.clone(), *v)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }
}

/// `a / b` as a ratio, or `None` when it means nothing (`b` zero or either not finite).
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0 && a.is_finite() && b.is_finite()).then(|| a / b)
}

/// A ratio as `2.13x`, or `-`.
pub fn fmt_ratio(r: Option<f64>) -> String {
    match r {
        Some(r) if r >= 100.0 => format!("{r:.0}x"),
        Some(r) if r >= 10.0 => format!("{r:.1}x"),
        Some(r) => format!("{r:.2}x"),
        None => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_percentiles() {
        let mut v: Vec<u64> = (1..=1000).rev().collect();
        let s = Summary::of(&mut v);
        assert_eq!(s.count, 1000);
        assert_eq!((s.p50, s.p90, s.p99, s.max), (500, 900, 990, 1000));
        assert!((s.mean - 500.5).abs() < 1e-9);
        assert_eq!(Summary::of(&mut []), Summary::default());
        let s = Summary::of(&mut [42]);
        assert_eq!((s.p50, s.p99, s.max), (42, 42, 42));
    }

    #[test]
    fn errors_and_ratios() {
        let mut e = Errors::default();
        e.add("b");
        e.add("a");
        let mut f = Errors::default();
        f.add("b");
        e.merge(f);
        assert_eq!(e.total(), 3);
        assert_eq!(e.sorted(), vec![("b".into(), 2), ("a".into(), 1)]);
        assert_eq!(fmt_ratio(ratio(2130.0, 1000.0)), "2.13x");
        assert_eq!(fmt_ratio(ratio(1.0, 0.0)), "-");
        assert_eq!(fmt_ratio(ratio(25.0, 1.0)), "25.0x");
    }
}
