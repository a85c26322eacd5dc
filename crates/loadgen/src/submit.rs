//! The timed submission: sends the pre-signed transactions as JSON-RPC batch arrays of
//! `eth_sendRawTransaction` with bounded concurrency, nonce order per sender, and optional
//! windows on submitted-but-not-included transactions.

use std::{
    collections::BTreeMap,
    pin::pin,
    sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
    time::{Duration, Instant},
};

use futures::{StreamExt, stream::FuturesUnordered};
use serde::Deserialize;
use tokio::sync::Notify;

use crate::{
    accounts::Presigned,
    rpc::{Rpc, RpcError, snippet},
};

/// Counters shared by the submitter and the block tracker while a target runs.
#[derive(Debug)]
pub struct Live {
    /// Transactions sent (in a request that was started).
    pub sent: AtomicU64,
    /// Transactions the node rejected or that got no answer.
    pub rejected: AtomicU64,
    /// Load transactions seen in a block.
    pub included: AtomicU64,
    /// Load transactions of each sender seen in a block.
    pub included_per_sender: Vec<AtomicU32>,
    /// Set when the submitter has nothing more to send.
    pub submit_done: AtomicBool,
    /// Woken by the tracker after each new block.
    pub new_block: Notify,
}

impl Live {
    /// Counters for `senders` senders.
    pub fn new(senders: usize) -> Self {
        Self {
            sent: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            included: AtomicU64::new(0),
            included_per_sender: (0..senders).map(|_| AtomicU32::new(0)).collect(),
            submit_done: AtomicBool::new(false),
            new_block: Notify::new(),
        }
    }

    /// Sent, not rejected, and not (yet) seen in a block.
    pub fn outstanding(&self) -> u64 {
        let accepted = self
            .sent
            .load(Ordering::Relaxed)
            .saturating_sub(self.rejected.load(Ordering::Relaxed));
        accepted.saturating_sub(self.included.load(Ordering::Relaxed))
    }
}

/// Submission settings.
#[derive(Debug, Clone, Copy)]
pub struct SubmitOpts {
    /// Transactions per JSON-RPC batch request.
    pub batch_size: usize,
    /// Batch requests in flight at once.
    pub concurrency: usize,
    /// Most transactions submitted but not yet included, over all senders (0 = no limit).
    pub max_inflight: usize,
    /// Most transactions of one sender submitted but not yet included (0 = no limit).
    pub max_inflight_per_sender: usize,
}

/// Distinct submission error messages with their counts (at most [`ErrorLog::MAX_DISTINCT`]
/// messages are kept; the rest count under "other errors").
#[derive(Debug, Default, Clone)]
pub struct ErrorLog {
    /// Message → count.
    pub counts: BTreeMap<String, u64>,
}

impl ErrorLog {
    /// Distinct messages kept.
    pub const MAX_DISTINCT: usize = 20;

    /// Records `n` occurrences of `msg`.
    pub fn add(&mut self, msg: &str, n: u64) {
        let mut msg: String = msg.chars().take(200).collect();
        if !self.counts.contains_key(&msg) && self.counts.len() >= Self::MAX_DISTINCT {
            msg = "other errors".into();
        }
        *self.counts.entry(msg).or_default() += n;
    }

    /// The messages, most frequent first.
    pub fn top(&self) -> Vec<(String, u64)> {
        let mut v: Vec<_> = self.counts.iter().map(|(m, c)| (m.clone(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }
}

/// What the submitter did.
#[derive(Debug, Clone)]
pub struct SubmitOutcome {
    /// Submit time of each position in µs since the run's start (`u64::MAX` = not sent).
    pub submit_us: Vec<u64>,
    /// Transactions sent.
    pub sent: u64,
    /// Transactions rejected (JSON-RPC error, missing answer, or failed HTTP request).
    pub rejected: u64,
    /// Transactions not sent: an earlier nonce of the same sender was rejected, or the timeout hit.
    pub skipped: u64,
    /// Rejection messages.
    pub errors: ErrorLog,
    /// Batch requests sent.
    pub requests: u64,
    /// µs since start when the last answer came back.
    pub done_us: u64,
}

#[derive(Deserialize)]
struct SendResponse {
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    error: Option<RpcError>,
}

/// The answer to one batch: per id, `None` = accepted, `Some(msg)` = rejected.
fn parse_batch_reply(body: &[u8], ids: &[usize]) -> Result<Vec<(usize, Option<String>)>, String> {
    let items: Vec<SendResponse> = match serde_json::from_slice(body) {
        Ok(items) => items,
        Err(_) => {
            // A single object answers the whole batch: an error, or garbage.
            return Err(match serde_json::from_slice::<SendResponse>(body) {
                Ok(SendResponse { error: Some(e), .. }) => format!("batch rejected: {e}"),
                _ => format!("unparsable batch response: {}", snippet(body)),
            });
        }
    };
    let mut answered: std::collections::HashMap<usize, Option<String>> = items
        .into_iter()
        .filter_map(|r| Some((r.id? as usize, r.error.map(|e| e.to_string()))))
        .collect();
    Ok(ids
        .iter()
        .map(|&p| {
            let r = answered
                .remove(&p)
                .unwrap_or_else(|| Some("no answer in the batch response".into()));
            (p, r)
        })
        .collect())
}

/// The number of leading batches that must have been answered before batch `k` is sent, so
/// that the previous nonce of every sender in it has reached the node first. Position `p`'s
/// previous nonce sits at `p - senders`.
fn required_prefix(k: usize, batch: usize, senders: usize, total: usize) -> usize {
    let last = ((k + 1) * batch).min(total) - 1;
    if last < senders {
        return 0;
    }
    let dep = (last - senders) / batch;
    (dep + 1).min(k)
}

/// Sends every pre-signed transaction, stopping early at `deadline`.
pub async fn submit(
    rpc: &Rpc,
    pre: &Presigned,
    opts: SubmitOpts,
    live: &Live,
    t0: Instant,
    deadline: Instant,
) -> SubmitOutcome {
    let total = pre.len();
    let senders = pre.senders.max(1);
    let b = opts.batch_size.max(1);
    let nbatches = total.div_ceil(b);
    let mut out = SubmitOutcome {
        submit_us: vec![u64::MAX; total],
        sent: 0,
        rejected: 0,
        skipped: 0,
        errors: ErrorLog::default(),
        requests: 0,
        done_us: 0,
    };
    let mut answered = vec![false; nbatches];
    let mut prefix = 0usize;
    let mut failed_sender = vec![false; senders];
    let mut inflight = FuturesUnordered::new();
    let per_sender = opts.max_inflight_per_sender as u64;

    // Records the answer to batch `k`.
    let handle = |k: usize,
                  ids: Vec<usize>,
                  reply: eyre::Result<alloy::primitives::Bytes>,
                  out: &mut SubmitOutcome,
                  failed_sender: &mut [bool],
                  answered: &mut [bool],
                  prefix: &mut usize| {
        let results = match reply {
            Ok(body) => parse_batch_reply(&body, &ids),
            Err(e) => Err(format!("{e}")),
        };
        let mut reject = |p: usize, msg: &str, out: &mut SubmitOutcome| {
            out.rejected += 1;
            out.errors.add(msg, 1);
            failed_sender[p % senders] = true;
        };
        match results {
            Ok(rs) => {
                for (p, err) in rs {
                    if let Some(msg) = err {
                        reject(p, &msg, out);
                    }
                }
            }
            Err(msg) => {
                for &p in &ids {
                    reject(p, &msg, out);
                }
            }
        }
        live.rejected.store(out.rejected, Ordering::Relaxed);
        answered[k] = true;
        while *prefix < answered.len() && answered[*prefix] {
            *prefix += 1;
        }
        out.done_us = t0.elapsed().as_micros() as u64;
    };

    let window_ok = |k: usize, failed_sender: &[bool]| -> bool {
        let start = k * b;
        let end = ((k + 1) * b).min(total);
        if opts.max_inflight > 0 {
            let outstanding = live.outstanding();
            if outstanding > 0 && outstanding + (end - start) as u64 > opts.max_inflight as u64 {
                return false;
            }
        }
        if per_sender > 0 {
            for p in start..end {
                let s = p % senders;
                if failed_sender[s] {
                    continue;
                }
                let j = (p / senders) as u64;
                let done = live.included_per_sender[s].load(Ordering::Relaxed) as u64;
                if j >= done + per_sender {
                    return false;
                }
            }
        }
        true
    };

    let mut k = 0;
    while k < nbatches {
        if Instant::now() >= deadline {
            break;
        }
        if inflight.len() >= opts.concurrency.max(1)
            || prefix < required_prefix(k, b, senders, total)
        {
            if let Some((kk, ids, reply)) = inflight.next().await {
                handle(
                    kk,
                    ids,
                    reply,
                    &mut out,
                    &mut failed_sender,
                    &mut answered,
                    &mut prefix,
                );
            }
            continue;
        }
        if !window_ok(k, &failed_sender) {
            let mut notified = pin!(live.new_block.notified());
            notified.as_mut().enable();
            if window_ok(k, &failed_sender) {
                continue;
            }
            tokio::select! {
                Some((kk, ids, reply)) = inflight.next(), if !inflight.is_empty() => {
                    handle(kk, ids, reply, &mut out, &mut failed_sender, &mut answered, &mut prefix);
                }
                _ = notified => {}
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
            continue;
        }

        let start = k * b;
        let end = ((k + 1) * b).min(total);
        let ids: Vec<usize> = (start..end)
            .filter(|&p| !failed_sender[p % senders])
            .collect();
        if ids.is_empty() {
            answered[k] = true;
            while prefix < nbatches && answered[prefix] {
                prefix += 1;
            }
            k += 1;
            continue;
        }
        let mut body = Vec::with_capacity(
            ids.iter()
                .map(|&p| pre.requests[p].len() + 1)
                .sum::<usize>()
                + 2,
        );
        body.push(b'[');
        for (i, &p) in ids.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(pre.requests[p].as_bytes());
        }
        body.push(b']');
        let now = t0.elapsed().as_micros() as u64;
        for &p in &ids {
            out.submit_us[p] = now;
        }
        out.sent += ids.len() as u64;
        out.requests += 1;
        live.sent.store(out.sent, Ordering::Relaxed);
        let rpc = rpc.clone();
        inflight.push(async move {
            let reply = rpc.post(body).await;
            (k, ids, reply)
        });
        k += 1;
    }
    while let Some((kk, ids, reply)) = inflight.next().await {
        handle(
            kk,
            ids,
            reply,
            &mut out,
            &mut failed_sender,
            &mut answered,
            &mut prefix,
        );
    }
    out.skipped = total as u64 - out.sent;
    live.submit_done.store(true, Ordering::Release);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_keeps_nonce_order() {
        // 1000 senders, batches of 100: batch 10 holds the second nonce of senders 0..100,
        // whose first nonces are in batch 0.
        assert_eq!(required_prefix(9, 100, 1000, 60_000), 0);
        assert_eq!(required_prefix(10, 100, 1000, 60_000), 1);
        assert_eq!(required_prefix(25, 100, 1000, 60_000), 16);
        // Fewer senders than a batch: each batch waits for all earlier ones.
        assert_eq!(required_prefix(0, 100, 20, 100), 0);
        assert_eq!(required_prefix(3, 100, 20, 1000), 3);
        // 150 senders, batch 100: batch 1 (100..200) needs batch 0 (first nonces 0..50).
        assert_eq!(required_prefix(1, 100, 150, 300), 1);
    }

    #[test]
    fn batch_reply_parsing() {
        let body = br#"[{"jsonrpc":"2.0","id":7,"result":"0x01"},{"jsonrpc":"2.0","id":5,"error":{"code":-32000,"message":"nonce too low"}}]"#;
        let r = parse_batch_reply(body, &[5, 6, 7]).unwrap();
        assert_eq!(r[0], (5, Some("nonce too low (code -32000)".into())));
        assert_eq!(r[1], (6, Some("no answer in the batch response".into())));
        assert_eq!(r[2], (7, None));
        let whole =
            br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch too large"}}"#;
        assert!(
            parse_batch_reply(whole, &[1])
                .unwrap_err()
                .contains("batch too large")
        );
        assert!(parse_batch_reply(b"<html>", &[1]).is_err());
    }
}
