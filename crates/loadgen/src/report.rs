//! Per-target results and the comparison table.
//!
//! **Included TPS** = included load transactions / span, where span = (timestamp of the last
//! block holding load transactions − timestamp of the first such block) + one block interval.
//! A block carries the transactions that arrived during the interval *before* it, so `n`
//! blocks cover `n` intervals, not `n − 1`; without the extra interval a run whose load fits in
//! two blocks would look twice as fast as it was, and a one-block run would have a zero span.
//! The interval is the mean over the load blocks, `(ts_last − ts_first) / (n − 1)` with `n` the
//! number of blocks from the first to the last load block; for a single load block (or equal
//! timestamps) it is the gap to the parent block, or 1 s if that is zero too.
//! **gas/s** is the load transactions' gasUsed over the same span. **Latency** runs from the
//! moment the batch request holding a transaction was sent to the moment the polling loop first
//! saw it in a block (so it includes up to one poll interval of polling delay).

use serde::Serialize;

use crate::{submit::SubmitOutcome, track::TrackOutcome, workload::Workload};

/// The result of one target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    /// Target name.
    pub name: String,
    /// Endpoint URL.
    pub url: String,
    /// Workload.
    pub workload: Workload,
    /// Chain id.
    pub chain_id: u64,
    /// The deployed BenchToken / StorageHeavy (none for `eth`).
    pub contract: Option<alloy::primitives::Address>,
    /// Load accounts.
    pub accounts: usize,
    /// Transactions per account.
    pub txs_per_account: usize,
    /// Gas limit of each load transaction.
    pub gas_limit: u64,
    /// maxFeePerGas, wei.
    pub max_fee_per_gas: u128,
    /// maxPriorityFeePerGas, wei.
    pub max_priority_fee_per_gas: u128,
    /// Base fee when the setup started, wei.
    pub base_fee_at_start: u128,
    /// Load transactions planned (accounts × txs per account).
    pub planned: u64,
    /// Sent to the node.
    pub sent: u64,
    /// Rejected by `eth_sendRawTransaction` (or no answer).
    pub rejected: u64,
    /// Not sent (an earlier nonce of the sender was rejected, or the timeout hit).
    pub skipped: u64,
    /// Seen in a block.
    pub included: u64,
    /// Receipts of included load transactions checked (all with --receipts, else a sample).
    pub receipts_checked: u64,
    /// Checked receipts with status 0.
    pub reverted: u64,
    /// Other transactions in the blocks holding load transactions.
    pub other_txs: u64,
    /// Accepted but never seen in a block before the run stopped.
    pub missing: u64,
    /// The run stopped at `--timeout-secs`.
    pub timed_out: bool,
    /// The run stopped because nothing was included for `--stall-secs` after submission ended.
    pub stalled: bool,
    /// First block holding load transactions.
    pub first_block: Option<u64>,
    /// Last block holding load transactions.
    pub last_block: Option<u64>,
    /// Blocks from the first to the last load block.
    pub blocks: u64,
    /// Most load transactions in one block.
    pub max_block_txs: u64,
    /// Span of the load by block timestamps (see the module docs), seconds.
    pub span_secs: f64,
    /// Sustained included transactions per second over `span_secs`.
    pub included_tps: f64,
    /// Gas used by the included load transactions (from receipts), or by the blocks holding them.
    pub gas_used: u128,
    /// Whether gas came from receipts (else from the blocks' gasUsed).
    pub gas_from_receipts: bool,
    /// Gas per second over `span_secs`.
    pub gas_per_sec: f64,
    /// Submit → first seen in a block, median, ms.
    pub latency_p50_ms: f64,
    /// Submit → first seen in a block, 99th percentile, ms.
    pub latency_p99_ms: f64,
    /// Submit → first seen in a block, maximum, ms.
    pub latency_max_ms: f64,
    /// Wall time of the submission (first request sent → last answer), seconds.
    pub submit_secs: f64,
    /// sent / submit_secs.
    pub submit_rate: f64,
    /// Wall time from the first request to the last inclusion seen, seconds.
    pub wall_secs: f64,
    /// Batch requests sent.
    pub requests: u64,
    /// Rejection messages, most frequent first.
    pub errors: Vec<(String, u64)>,
    /// Errors of the polling requests.
    pub poll_errors: u64,
    /// Seconds spent on setup (deploy, funding) and on signing.
    pub setup_secs: f64,
    /// Seconds spent pre-signing.
    pub sign_secs: f64,
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The span of the load in seconds by block timestamps (see the module docs), with the first
/// and last load block and the number of blocks between them.
pub fn load_span(track: &TrackOutcome) -> Option<(f64, u64, u64)> {
    let mut load = track.blocks.iter().filter(|(_, b)| b.load_txs > 0);
    let (&first, fb) = load.next()?;
    let (&last, lb) = track.blocks.iter().rev().find(|(_, b)| b.load_txs > 0)?;
    let n = last - first + 1;
    let (tf, tl) = (fb.timestamp as f64, lb.timestamp as f64);
    let interval = if n >= 2 && tl > tf {
        (tl - tf) / (n - 1) as f64
    } else {
        match first.checked_sub(1).and_then(|p| track.blocks.get(&p)) {
            Some(parent) if fb.timestamp > parent.timestamp => {
                (fb.timestamp - parent.timestamp) as f64
            }
            _ => 1.0,
        }
    };
    Some((tl - tf + interval, first, last))
}

/// Everything [`build`] needs besides the outcomes.
#[derive(Debug, Clone)]
pub struct Meta {
    /// Target name.
    pub name: String,
    /// URL.
    pub url: String,
    /// Workload.
    pub workload: Workload,
    /// Chain id.
    pub chain_id: u64,
    /// The deployed contract, if any.
    pub contract: Option<alloy::primitives::Address>,
    /// Accounts.
    pub accounts: usize,
    /// Transactions per account.
    pub txs_per_account: usize,
    /// Gas limit.
    pub gas_limit: u64,
    /// Max fee.
    pub max_fee: u128,
    /// Tip.
    pub tip: u128,
    /// Base fee.
    pub base_fee: u128,
    /// Setup seconds.
    pub setup_secs: f64,
    /// Signing seconds.
    pub sign_secs: f64,
}

/// Combines what the submitter and the tracker saw into a report.
pub fn build(meta: Meta, sub: &SubmitOutcome, track: &TrackOutcome) -> TargetReport {
    let planned = (meta.accounts * meta.txs_per_account) as u64;
    let mut latencies: Vec<u64> = sub
        .submit_us
        .iter()
        .zip(&track.seen_us)
        .filter(|&(&s, &t)| s != u64::MAX && t != u64::MAX)
        .map(|(&s, &t)| t.saturating_sub(s))
        .collect();
    latencies.sort_unstable();
    let included = track.seen_us.iter().filter(|&&t| t != u64::MAX).count() as u64;
    let included_accepted = latencies.len() as u64;
    let accepted = sub.sent - sub.rejected;
    let gas_used: u128 = track.blocks.values().map(|b| b.load_gas as u128).sum();
    let (span, first, last) = match load_span(track) {
        Some((s, f, l)) => (s, Some(f), Some(l)),
        None => (0.0, None, None),
    };
    let per_sec = |x: f64| if span > 0.0 { x / span } else { 0.0 };
    let first_submit = sub
        .submit_us
        .iter()
        .copied()
        .min()
        .filter(|&t| t != u64::MAX)
        .unwrap_or(0);
    let last_seen = track
        .seen_us
        .iter()
        .copied()
        .filter(|&t| t != u64::MAX)
        .max()
        .unwrap_or(first_submit);
    let submit_secs = sub.done_us.saturating_sub(first_submit) as f64 / 1e6;
    let ms = |us: u64| us as f64 / 1e3;
    TargetReport {
        name: meta.name,
        url: meta.url,
        workload: meta.workload,
        chain_id: meta.chain_id,
        contract: meta.contract,
        accounts: meta.accounts,
        txs_per_account: meta.txs_per_account,
        gas_limit: meta.gas_limit,
        max_fee_per_gas: meta.max_fee,
        max_priority_fee_per_gas: meta.tip,
        base_fee_at_start: meta.base_fee,
        planned,
        sent: sub.sent,
        rejected: sub.rejected,
        skipped: sub.skipped,
        included,
        receipts_checked: track.receipts_checked,
        reverted: track.reverted,
        other_txs: track.other_txs,
        missing: accepted.saturating_sub(included_accepted),
        timed_out: track.timed_out,
        stalled: track.stalled,
        first_block: first,
        last_block: last,
        blocks: match (first, last) {
            (Some(f), Some(l)) => l - f + 1,
            _ => 0,
        },
        max_block_txs: track.blocks.values().map(|b| b.load_txs).max().unwrap_or(0),
        span_secs: span,
        included_tps: per_sec(included as f64),
        gas_used,
        gas_from_receipts: track.receipts,
        gas_per_sec: per_sec(gas_used as f64),
        latency_p50_ms: ms(percentile(&latencies, 0.50)),
        latency_p99_ms: ms(percentile(&latencies, 0.99)),
        latency_max_ms: ms(latencies.last().copied().unwrap_or(0)),
        submit_secs,
        submit_rate: if submit_secs > 0.0 {
            sub.sent as f64 / submit_secs
        } else {
            0.0
        },
        wall_secs: last_seen.saturating_sub(first_submit) as f64 / 1e6,
        requests: sub.requests,
        errors: sub.errors.top(),
        poll_errors: track.poll_errors,
        setup_secs: meta.setup_secs,
        sign_secs: meta.sign_secs,
    }
}

/// A target that failed before producing a report.
#[derive(Debug, Clone, Serialize)]
pub struct TargetFailure {
    /// Target name.
    pub name: String,
    /// The error, with its causes.
    pub error: String,
}

/// The result of a whole run.
#[derive(Debug, Clone, Serialize, Default)]
pub struct RunReport {
    /// Reports of the targets that ran, in order.
    pub targets: Vec<TargetReport>,
    /// Targets that failed.
    pub failures: Vec<TargetFailure>,
}

impl RunReport {
    /// Included TPS of each target relative to the first target that produced a report.
    pub fn ratios(&self) -> Vec<f64> {
        let base = self.targets.first().map(|t| t.included_tps).unwrap_or(0.0);
        self.targets
            .iter()
            .map(|t| {
                if base > 0.0 {
                    t.included_tps / base
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// The report as JSON (targets with their ratio to the first, and failures).
    pub fn to_json(&self) -> serde_json::Value {
        let ratios = self.ratios();
        let targets: Vec<serde_json::Value> = self
            .targets
            .iter()
            .zip(ratios)
            .map(|(t, r)| {
                let mut v = serde_json::to_value(t).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("tps_ratio_to_first".into(), serde_json::json!(r));
                }
                v
            })
            .collect();
        serde_json::json!({ "targets": targets, "failures": self.failures })
    }

    /// The human-readable summary: a detail block per target, then the comparison table.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        for t in &self.targets {
            let _ = writeln!(
                s,
                "{}: {} workload, {} accounts × {} txs, chain {} ({}), gas limit {}, max fee {:.3} gwei, tip {:.3} gwei",
                t.name,
                t.workload,
                t.accounts,
                t.txs_per_account,
                t.chain_id,
                t.url,
                t.gas_limit,
                t.max_fee_per_gas as f64 / 1e9,
                t.max_priority_fee_per_gas as f64 / 1e9
            );
            let _ = writeln!(
                s,
                "  sent {} of {}, rejected {}, skipped {}, included {}, missing {}; reverted {} of {} receipts checked{}",
                t.sent,
                t.planned,
                t.rejected,
                t.skipped,
                t.included,
                t.missing,
                t.reverted,
                t.receipts_checked,
                if t.timed_out {
                    " — stopped at the timeout"
                } else if t.stalled {
                    " — stopped: nothing included for --stall-secs"
                } else {
                    ""
                }
            );
            let _ = writeln!(
                s,
                "  blocks {}..{} ({} blocks, max {} load txs/block), span {:.1}s by block timestamps, wall {:.1}s",
                t.first_block
                    .map(|b| b.to_string())
                    .unwrap_or_else(|| "-".into()),
                t.last_block
                    .map(|b| b.to_string())
                    .unwrap_or_else(|| "-".into()),
                t.blocks,
                t.max_block_txs,
                t.span_secs,
                t.wall_secs
            );
            let _ = writeln!(
                s,
                "  submitted in {:.2}s ({:.0} tx/s, {} requests); setup {:.1}s, signing {:.1}s; latency max {:.0} ms{}",
                t.submit_secs,
                t.submit_rate,
                t.requests,
                t.setup_secs,
                t.sign_secs,
                t.latency_max_ms,
                if t.gas_from_receipts {
                    String::new()
                } else {
                    format!(
                        "; gas/s from the blocks' gasUsed ({} other txs in them)",
                        t.other_txs
                    )
                }
            );
            for (msg, n) in t.errors.iter().take(5) {
                let _ = writeln!(s, "  rejected ×{n}: {msg}");
            }
            if t.poll_errors > 0 {
                let _ = writeln!(s, "  polling errors: {}", t.poll_errors);
            }
        }
        for f in &self.failures {
            let _ = writeln!(s, "{}: FAILED: {}", f.name, f.error);
        }
        if !self.targets.is_empty() {
            let first = self.targets[0].name.clone();
            let _ = writeln!(s);
            let _ = writeln!(
                s,
                "{:<12} {:>15} {:>12} {:>10} {:>10} {:>10} {:>8} {:>8} {:>9}",
                "target",
                "included/sent",
                "incl. TPS",
                "Mgas/s",
                "p50 ms",
                "p99 ms",
                "span s",
                "wall s",
                "TPS ratio"
            );
            for (t, r) in self.targets.iter().zip(self.ratios()) {
                let _ = writeln!(
                    s,
                    "{:<12} {:>15} {:>12.1} {:>10.2} {:>10.0} {:>10.0} {:>8.1} {:>8.1} {:>8.2}×",
                    t.name,
                    format!("{}/{}", t.included, t.sent),
                    t.included_tps,
                    t.gas_per_sec / 1e6,
                    t.latency_p50_ms,
                    t.latency_p99_ms,
                    t.span_secs,
                    t.wall_secs,
                    r
                );
            }
            let _ = writeln!(s, "(TPS ratio: included TPS relative to `{first}`)");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::track::BlockStat;

    fn blocks(v: &[(u64, u64, u64)]) -> TrackOutcome {
        let mut t = TrackOutcome::default();
        for &(n, ts, load) in v {
            t.blocks.insert(
                n,
                BlockStat {
                    timestamp: ts,
                    load_txs: load,
                    ..Default::default()
                },
            );
        }
        t
    }

    #[test]
    fn span_adds_one_interval() {
        // Load in blocks 11..=20 at 1 s spacing: 9 s between first and last + 1 s.
        let t = blocks(
            &(10..=21)
                .map(|n| (n, 100 + n, u64::from((11..=20).contains(&n))))
                .collect::<Vec<_>>(),
        );
        assert_eq!(load_span(&t), Some((10.0, 11, 20)));
        // One load block: the gap to its parent.
        let t = blocks(&[(5, 100, 0), (6, 102, 7)]);
        assert_eq!(load_span(&t), Some((2.0, 6, 6)));
        // Same timestamps, no parent: 1 s.
        let t = blocks(&[(6, 102, 7)]);
        assert_eq!(load_span(&t), Some((1.0, 6, 6)));
        assert_eq!(load_span(&blocks(&[(1, 1, 0)])), None);
    }

    #[test]
    fn percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), 50);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&[7], 0.99), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }
}
