//! Inclusion tracking: polls `eth_blockNumber` and fetches every new block with
//! `eth_getBlockByNumber(n, false)` (timestamp, gasUsed, transaction hashes; with
//! [`TrackOpts::receipts`] also `eth_getBlockReceipts(n)` in the same batch request, for exact
//! per-transaction gas and status), recording the wall-clock time each load transaction was first
//! seen in a block. Prints progress to stderr. [`check_receipts`] verifies the status of a sample
//! of included transactions afterwards.

use std::{
    collections::BTreeMap,
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use alloy::primitives::{B256, U64, map::B256Map};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{rpc::Rpc, submit::Live};

/// Tracker settings.
#[derive(Debug, Clone, Copy)]
pub struct TrackOpts {
    /// Pause between `eth_blockNumber` polls.
    pub poll: Duration,
    /// Progress line interval (zero = no progress lines).
    pub progress: Duration,
    /// Stop when submission is over and nothing new was included for this long.
    pub stall: Duration,
    /// Also fetch `eth_getBlockReceipts` of every block, for exact per-transaction gas and
    /// status. Off by default: anvil builds block receipts in time quadratic in the block size
    /// (≈5 s for a 3,600-transaction block), which stalls both the tracker and the node.
    pub receipts: bool,
}

/// One block seen by the tracker.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct BlockStat {
    /// Block timestamp, seconds.
    pub timestamp: u64,
    /// All transactions in the block.
    pub txs: u64,
    /// Load transactions in the block.
    pub load_txs: u64,
    /// Gas used by the block's load transactions (from receipts; the block's gasUsed when the
    /// node has no `eth_getBlockReceipts`).
    pub load_gas: u64,
    /// µs since start when the tracker saw the block.
    pub seen_us: u64,
}

/// What the tracker saw.
#[derive(Debug, Clone, Default)]
pub struct TrackOutcome {
    /// First-seen time of each position, µs since start (`u64::MAX` = never seen).
    pub seen_us: Vec<u64>,
    /// Blocks from the start block to the last one fetched.
    pub blocks: BTreeMap<u64, BlockStat>,
    /// Load transactions whose receipt was checked (all included ones with `receipts`).
    pub receipts_checked: u64,
    /// Checked load transactions whose receipt status is 0 (reverted).
    pub reverted: u64,
    /// Transactions that are not load transactions in blocks that hold load transactions
    /// (their gas counts in gas/s when it comes from the blocks' gasUsed).
    pub other_txs: u64,
    /// Stopped by the timeout.
    pub timed_out: bool,
    /// Stopped because nothing new was included for the stall time after submission ended.
    pub stalled: bool,
    /// Whether gas came from receipts (else from the blocks' gasUsed).
    pub receipts: bool,
    /// Errors of the polling requests (the tracker retries), with the last message.
    pub poll_errors: u64,
    /// The last polling error.
    pub last_poll_error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockLite {
    number: U64,
    timestamp: U64,
    gas_used: U64,
    #[serde(default)]
    transactions: Vec<B256>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReceiptLite {
    transaction_hash: B256,
    gas_used: U64,
    #[serde(default)]
    status: Option<U64>,
}

/// Tracks inclusion until every accepted transaction was seen, the stall time passed after the
/// submission ended, or `deadline`.
#[allow(clippy::too_many_arguments)]
pub async fn track(
    rpc: &Rpc,
    index: &B256Map<u32>,
    senders: usize,
    start_block: u64,
    live: &Live,
    opts: TrackOpts,
    t0: Instant,
    deadline: Instant,
) -> TrackOutcome {
    let total = index.len();
    let mut out = TrackOutcome {
        seen_us: vec![u64::MAX; total],
        receipts: opts.receipts,
        ..Default::default()
    };
    let mut next = start_block;
    let mut included = 0u64;
    let mut last_progress = (Instant::now(), 0u64);
    let mut last_inclusion = Instant::now();
    let mut last_ok_poll = Instant::now();
    let name = rpc.name().to_string();
    let mut warned_receipts = false;

    loop {
        let head = match rpc.block_number().await {
            Ok(h) => {
                last_ok_poll = Instant::now();
                Some(h)
            }
            Err(e) => {
                out.poll_errors += 1;
                out.last_poll_error = Some(format!("{e}"));
                None
            }
        };
        if let Some(head) = head {
            while next <= head {
                let tag = format!("{next:#x}");
                let mut calls = vec![("eth_getBlockByNumber", json!([tag, false]))];
                if out.receipts {
                    calls.push(("eth_getBlockReceipts", json!([tag])));
                }
                let replies = match rpc.batch(&calls).await {
                    Ok(r) => r,
                    Err(e) => {
                        out.poll_errors += 1;
                        out.last_poll_error = Some(format!("{e}"));
                        break;
                    }
                };
                let seen_us = t0.elapsed().as_micros() as u64;
                let mut replies = replies.into_iter();
                let block = match replies.next() {
                    Some(Ok(v)) if !v.is_null() => serde_json::from_value::<BlockLite>(v),
                    Some(Ok(_)) => break, // not available yet
                    Some(Err(e)) => {
                        out.poll_errors += 1;
                        out.last_poll_error = Some(format!("eth_getBlockByNumber({next}): {e}"));
                        break;
                    }
                    None => break,
                };
                let block = match block {
                    Ok(b) if b.number.to::<u64>() == next => b,
                    Ok(b) => {
                        out.poll_errors += 1;
                        out.last_poll_error = Some(format!(
                            "asked for block {next}, got {}",
                            b.number.to::<u64>()
                        ));
                        break;
                    }
                    Err(e) => {
                        out.poll_errors += 1;
                        out.last_poll_error = Some(format!("block {next}: {e}"));
                        break;
                    }
                };
                let receipts: Option<Vec<ReceiptLite>> = match replies.next() {
                    Some(Ok(v)) => match serde_json::from_value(v) {
                        Ok(r) => Some(r),
                        Err(e) => {
                            out.poll_errors += 1;
                            out.last_poll_error = Some(format!("receipts of block {next}: {e}"));
                            break;
                        }
                    },
                    Some(Err(e)) => {
                        // No eth_getBlockReceipts: fall back to block hashes and gasUsed.
                        if !warned_receipts {
                            eprintln!(
                                "[{name}] warning: eth_getBlockReceipts failed ({e}); gas/s uses the \
                                 gasUsed of blocks holding load transactions"
                            );
                            warned_receipts = true;
                        }
                        out.receipts = false;
                        None
                    }
                    None => None,
                };

                let mut stat = BlockStat {
                    timestamp: block.timestamp.to(),
                    txs: block.transactions.len() as u64,
                    seen_us,
                    ..Default::default()
                };
                let mark = |hash: &B256, stat: &mut BlockStat, out: &mut TrackOutcome| -> bool {
                    let Some(&p) = index.get(hash) else {
                        return false;
                    };
                    let p = p as usize;
                    if out.seen_us[p] != u64::MAX {
                        return false;
                    }
                    out.seen_us[p] = seen_us;
                    stat.load_txs += 1;
                    live.included_per_sender[p % senders].fetch_add(1, Ordering::Relaxed);
                    true
                };
                match receipts {
                    Some(receipts) => {
                        for r in &receipts {
                            if mark(&r.transaction_hash, &mut stat, &mut out) {
                                stat.load_gas += r.gas_used.to::<u64>();
                                out.receipts_checked += 1;
                                if r.status.is_some_and(|s| s.is_zero()) {
                                    out.reverted += 1;
                                }
                            }
                        }
                    }
                    None => {
                        for h in &block.transactions {
                            mark(h, &mut stat, &mut out);
                        }
                        if stat.load_txs > 0 {
                            stat.load_gas = block.gas_used.to();
                        }
                    }
                }
                if stat.load_txs > 0 {
                    out.other_txs += stat.txs - stat.load_txs;
                    included += stat.load_txs;
                    live.included.store(included, Ordering::Relaxed);
                    last_inclusion = Instant::now();
                }
                out.blocks.insert(next, stat);
                live.new_block.notify_waiters();
                next += 1;
            }
        }

        let now = Instant::now();
        if !opts.progress.is_zero() && now.duration_since(last_progress.0) >= opts.progress {
            let dt = now.duration_since(last_progress.0).as_secs_f64();
            let rate = (included - last_progress.1) as f64 / dt;
            eprintln!(
                "[{name}] {:>6.1}s  sent {}/{}  rejected {}  included {}  ({:.0} tx/s over the last {:.1}s)  block {}",
                t0.elapsed().as_secs_f64(),
                live.sent.load(Ordering::Relaxed),
                total,
                live.rejected.load(Ordering::Relaxed),
                included,
                rate,
                dt,
                next.saturating_sub(1),
            );
            last_progress = (now, included);
        }

        let done = live.submit_done.load(Ordering::Acquire);
        let accepted = live
            .sent
            .load(Ordering::Relaxed)
            .saturating_sub(live.rejected.load(Ordering::Relaxed));
        if included as usize >= total || (done && included >= accepted) {
            break;
        }
        if now >= deadline {
            out.timed_out = true;
            break;
        }
        if now.duration_since(last_ok_poll) >= opts.stall {
            eprintln!(
                "[{name}] giving up: eth_blockNumber failed for {:?}: {}",
                opts.stall,
                out.last_poll_error.as_deref().unwrap_or("?")
            );
            out.stalled = true;
            break;
        }
        if done && now.duration_since(last_inclusion) >= opts.stall {
            out.stalled = true;
            break;
        }
        tokio::time::sleep(opts.poll).await;
    }
    out
}

/// Fetches the timestamp of block `n` (`eth_getBlockByNumber(n, false)`).
pub async fn block_timestamp(rpc: &Rpc, n: u64) -> eyre::Result<u64> {
    let b: Value = rpc
        .call("eth_getBlockByNumber", json!([format!("{n:#x}"), false]))
        .await?;
    let b: BlockLite = serde_json::from_value(b)
        .map_err(|e| eyre::eyre!("target `{}`: block {n}: {e}", rpc.name()))?;
    Ok(b.timestamp.to())
}

/// Fetches the receipts of up to `max` included load transactions, spread evenly over the
/// included ones (`eth_getTransactionReceipt`, in batches of `batch_size`), and returns
/// (checked, reverted).
pub async fn check_receipts(
    rpc: &Rpc,
    hashes: &[B256],
    seen_us: &[u64],
    max: usize,
    batch_size: usize,
) -> eyre::Result<(u64, u64)> {
    let included: Vec<usize> = (0..seen_us.len())
        .filter(|&p| seen_us[p] != u64::MAX)
        .collect();
    if included.is_empty() || max == 0 {
        return Ok((0, 0));
    }
    let n = included.len().min(max);
    let sample: Vec<B256> = (0..n)
        .map(|i| hashes[included[i * included.len() / n]])
        .collect();
    let calls: Vec<(&str, Value)> = sample
        .iter()
        .map(|h| ("eth_getTransactionReceipt", json!([h])))
        .collect();
    let mut checked = 0;
    let mut reverted = 0;
    for r in rpc.batch_all(&calls, batch_size).await? {
        if r.is_null() {
            continue;
        }
        checked += 1;
        if r.get("status").and_then(Value::as_str) == Some("0x0") {
            reverted += 1;
        }
    }
    Ok((checked, reverted))
}
