//! Polled filters: `eth_newFilter`, `eth_newBlockFilter`, `eth_newPendingTransactionFilter`,
//! `eth_getFilterChanges`, `eth_getFilterLogs`, `eth_uninstallFilter`.
//!
//! Block and log filters keep only a cursor (the last block they reported); a poll reads what
//! the canonical chain gained since from the store, so no block is lost between polls however
//! far apart they are, and memory does not grow with the chain. A cursor that left the canonical
//! chain (a reorg) is walked back to the fork: log filters then report the old blocks' logs with
//! `removed: true`, as geth does. Pending-transaction filters hold a receiver of the mempool's
//! broadcast (a fixed-size ring shared by all receivers); a filter polled so rarely that more
//! than the ring's capacity arrived in between loses the oldest hashes (with a warning).
//!
//! A filter not polled for `filter_timeout` is gone ("filter not found"); expired filters are
//! swept whenever a filter is installed or removed, and the number of filters is capped.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use alloy_consensus::transaction::SignerRecoverable;
use alloy_primitives::{B256, U256};
use alloy_rpc_types_eth::Log;
use jsonrpsee::{RpcModule, core::RegisterMethodError, types::ErrorObjectOwned};
use keel_chain::mempool::PooledTx;
use keel_storage::{ChainReader, StoreReader};
use keel_types::Header;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::broadcast::{self, error::TryRecvError};
use tracing::warn;

use crate::{
    RpcContext,
    convert::{RpcTransaction, rpc_transaction},
    error::{RpcError, RpcResult},
    logs::{LogFilter, query_logs, stored_block_logs},
};

/// Most filters installed at once; past it `eth_new*Filter` fails until some expire.
const MAX_FILTERS: usize = 100_000;

/// A new random id in geth's format: 16 random bytes as a hex quantity (`0x` and no leading
/// zeros). Used for filter and subscription ids.
pub(crate) fn new_id() -> u128 {
    rand::random()
}

pub(crate) fn format_id(id: u128) -> String {
    format!("{id:#x}")
}

/// A filter id from a request: hex (crate::params has already refused anything but a quantity
/// without leading zeros, the form the ids are given out in).
fn parse_id(value: &Value) -> Option<u128> {
    let s = value.as_str()?;
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    if digits.is_empty() || digits.len() > 64 {
        return None;
    }
    let n = U256::from_str_radix(digits, 16).ok()?;
    u128::try_from(n).ok()
}

/// A position on the chain: the last block a consumer has seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub number: u64,
    pub hash: B256,
}

/// The head of the store as a cursor.
pub(crate) fn head_cursor(reader: &StoreReader) -> RpcResult<Cursor> {
    let (hash, header) = reader
        .head()?
        .ok_or_else(|| RpcError::Internal("no head block".into()))?;
    Ok(Cursor {
        number: header.number,
        hash,
    })
}

/// What the canonical chain did since a cursor: blocks that left it (oldest first) and blocks
/// that joined it up to the head (oldest first).
#[derive(Debug, Default)]
pub(crate) struct ChainDiff {
    pub removed: Vec<(B256, Header)>,
    pub added: Vec<(B256, Header)>,
}

/// Compare `from` with the store's head. Returns the diff and the new cursor (the head).
pub(crate) fn chain_diff(reader: &StoreReader, from: Cursor) -> RpcResult<(ChainDiff, Cursor)> {
    let head = head_cursor(reader)?;
    let mut diff = ChainDiff::default();
    // Walk back from the cursor to the canonical chain.
    let mut at = from;
    while reader.canonical_hash(at.number)? != Some(at.hash) {
        let Some(header) = reader.header(&at.hash)? else {
            // Unknown block (can't happen with one store): resume from the canonical chain.
            break;
        };
        let Some(parent_number) = at.number.checked_sub(1) else {
            break;
        };
        let parent = Cursor {
            number: parent_number,
            hash: header.parent_hash,
        };
        diff.removed.push((at.hash, header));
        at = parent;
    }
    diff.removed.reverse();
    for number in at.number.saturating_add(1)..=head.number {
        let hash = reader
            .canonical_hash(number)?
            .ok_or_else(|| RpcError::Internal(format!("canonical block {number} missing")))?;
        let header = reader
            .header(&hash)?
            .ok_or_else(|| RpcError::Internal(format!("header of {hash} missing")))?;
        diff.added.push((hash, header));
    }
    Ok((diff, head))
}

/// The logs a diff removed (marked `removed`) and added, in that order, that pass `filter`,
/// including its numeric block bounds.
pub(crate) fn diff_logs(
    reader: &StoreReader,
    filter: &LogFilter,
    diff: &ChainDiff,
) -> RpcResult<Vec<Log>> {
    let mut logs = Vec::new();
    let sides = [(&diff.removed, true), (&diff.added, false)];
    for (blocks, removed) in sides {
        for (hash, header) in blocks {
            if filter.number_in_bounds(header.number) {
                logs.extend(stored_block_logs(reader, filter, *hash, header, removed)?);
            }
        }
    }
    Ok(logs)
}

/// A transaction of the pool as geth shows a pending one: no block fields, and `gasPrice` the
/// fee cap for EIP-1559 transactions.
pub(crate) fn pending_rpc_transaction(pooled: &PooledTx) -> RpcTransaction {
    rpc_transaction(pooled.tx.clone(), pooled.sender, None)
}

/// A transaction that entered the pool, in the pending shape (as geth reports what entered the
/// pool, even if it is mined by the time it is reported). Looked up in the pool, else in the
/// canonical chain (it was included meanwhile); `None` if it is in neither (replaced or
/// dropped).
pub(crate) fn announced_transaction(ctx: &RpcContext, hash: &B256) -> Option<RpcTransaction> {
    if let Some(pooled) = ctx.mempool.get(hash) {
        return Some(pending_rpc_transaction(&pooled));
    }
    let mined = || -> RpcResult<Option<RpcTransaction>> {
        let reader = ctx.reader()?;
        let Some((block, index)) = reader.tx_location(hash)? else {
            return Ok(None);
        };
        let tx = reader.body(&block)?.and_then(|body| {
            usize::try_from(index)
                .ok()
                .and_then(|i| body.transactions.into_iter().nth(i))
        });
        let Some(tx) = tx else {
            return Ok(None);
        };
        let Ok(sender) = tx.recover_signer() else {
            return Ok(None);
        };
        Ok(Some(rpc_transaction(tx, sender, None)))
    };
    mined().unwrap_or_else(|e| {
        warn!(error = %e, %hash, "cannot read an announced transaction");
        None
    })
}

enum FilterKind {
    Blocks {
        cursor: Cursor,
    },
    Logs {
        filter: LogFilter,
        cursor: Cursor,
    },
    PendingTxs {
        hashes: broadcast::Receiver<B256>,
        full: bool,
    },
}

struct Installed {
    /// Milliseconds since [`Filters::epoch`] of the last poll.
    last_poll: AtomicU64,
    kind: Mutex<FilterKind>,
}

/// Installed filters (`eth_newFilter` and friends), removed when not polled for a while.
pub(crate) struct Filters {
    timeout: Duration,
    epoch: Instant,
    installed: Mutex<HashMap<u128, Arc<Installed>>>,
}

impl std::fmt::Debug for Filters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filters")
            .field("timeout", &self.timeout)
            .field("installed", &self.installed.lock().len())
            .finish()
    }
}

fn not_found() -> RpcError {
    RpcError::server("filter not found")
}

impl Filters {
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            epoch: Instant::now(),
            installed: Mutex::new(HashMap::new()),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn expired(&self, filter: &Installed, now: u64) -> bool {
        let idle = now.saturating_sub(filter.last_poll.load(Ordering::Relaxed));
        u128::from(idle) > self.timeout.as_millis()
    }

    fn sweep(&self, installed: &mut HashMap<u128, Arc<Installed>>) {
        let now = self.now_ms();
        installed.retain(|_, filter| !self.expired(filter, now));
    }

    fn install(&self, kind: FilterKind) -> RpcResult<String> {
        let mut installed = self.installed.lock();
        self.sweep(&mut installed);
        if installed.len() >= MAX_FILTERS {
            return Err(RpcError::LimitExceeded(format!(
                "too many filters installed (at most {MAX_FILTERS})"
            )));
        }
        let filter = Arc::new(Installed {
            last_poll: AtomicU64::new(self.now_ms()),
            kind: Mutex::new(kind),
        });
        let mut id = new_id();
        while installed.contains_key(&id) {
            id = new_id();
        }
        installed.insert(id, filter);
        Ok(format_id(id))
    }

    /// The live filter with this id; an expired one is removed.
    fn get(&self, id: &Value) -> RpcResult<Arc<Installed>> {
        let id = parse_id(id).ok_or_else(not_found)?;
        let mut installed = self.installed.lock();
        let filter = installed.get(&id).cloned().ok_or_else(not_found)?;
        if self.expired(&filter, self.now_ms()) {
            installed.remove(&id);
            return Err(not_found());
        }
        Ok(filter)
    }

    fn uninstall(&self, id: &Value) -> bool {
        let Some(id) = parse_id(id) else {
            return false;
        };
        let mut installed = self.installed.lock();
        let now = self.now_ms();
        let found = installed
            .remove(&id)
            .is_some_and(|filter| !self.expired(&filter, now));
        self.sweep(&mut installed);
        found
    }

    /// Number of live filters (for tests and metrics).
    #[cfg(test)]
    fn len(&self) -> usize {
        let mut installed = self.installed.lock();
        self.sweep(&mut installed);
        installed.len()
    }
}

/// What `eth_getFilterChanges` returns: block hashes, pending transaction hashes or
/// transactions, or logs.
fn filter_changes(ctx: &RpcContext, id: &Value) -> RpcResult<Value> {
    let filter = ctx.filters.get(id)?;
    filter
        .last_poll
        .store(ctx.filters.now_ms(), Ordering::Relaxed);
    // Polls of one filter run one at a time; other filters are not held up.
    let mut kind = filter.kind.lock();
    match &mut *kind {
        FilterKind::Blocks { cursor } => {
            let reader = ctx.reader()?;
            let (diff, head) = chain_diff(&reader, *cursor)?;
            *cursor = head;
            let hashes: Vec<B256> = diff.added.iter().map(|(hash, _)| *hash).collect();
            json(&hashes)
        }
        FilterKind::Logs { filter, cursor } => {
            let reader = ctx.reader()?;
            let (diff, head) = chain_diff(&reader, *cursor)?;
            let logs = diff_logs(&reader, filter, &diff)?;
            *cursor = head;
            json(&logs)
        }
        FilterKind::PendingTxs { hashes, full } => {
            let mut received = Vec::new();
            loop {
                match hashes.try_recv() {
                    Ok(hash) => received.push(hash),
                    Err(TryRecvError::Lagged(missed)) => {
                        warn!(
                            missed,
                            "pending transaction filter polled too rarely: hashes lost"
                        );
                    }
                    Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                }
            }
            if *full {
                // A transaction replaced or dropped since (in neither pool nor chain) is skipped.
                let txs: Vec<RpcTransaction> = received
                    .iter()
                    .filter_map(|hash| announced_transaction(ctx, hash))
                    .collect();
                json(&txs)
            } else {
                json(&received)
            }
        }
    }
}

fn json<T: serde::Serialize>(value: &T) -> RpcResult<Value> {
    serde_json::to_value(value).map_err(|e| RpcError::Internal(e.to_string()))
}

fn new_log_filter(ctx: &RpcContext, value: Value) -> RpcResult<String> {
    let filter = LogFilter::from_json(value)?;
    filter.reject_pending()?;
    if let crate::logs::LogBlocks::Range {
        from: Some(alloy_rpc_types_eth::BlockNumberOrTag::Number(from)),
        to: Some(alloy_rpc_types_eth::BlockNumberOrTag::Number(to)),
    } = filter.blocks
        && from > to
    {
        return Err(RpcError::invalid_params("invalid block range params"));
    }
    let cursor = head_cursor(&*ctx.reader()?)?;
    ctx.filters.install(FilterKind::Logs { filter, cursor })
}

fn filter_logs(ctx: &RpcContext, id: &Value) -> RpcResult<Vec<Log>> {
    let installed = ctx.filters.get(id)?;
    let filter = match &*installed.kind.lock() {
        FilterKind::Logs { filter, .. } => filter.clone(),
        _ => return Err(not_found()),
    };
    query_logs(ctx, &filter)
}

pub(crate) fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_blocking_method("eth_newFilter", |params, ctx, _| {
        let value: Value = params.one()?;
        new_log_filter(&ctx, value).map_err(ErrorObjectOwned::from)
    })?;
    module.register_blocking_method("eth_newBlockFilter", |_, ctx, _| {
        let cursor = ctx.reader().and_then(|reader| head_cursor(&reader))?;
        ctx.filters
            .install(FilterKind::Blocks { cursor })
            .map_err(ErrorObjectOwned::from)
    })?;
    module.register_method("eth_newPendingTransactionFilter", |params, ctx, _| {
        let full: Option<bool> = params.sequence().optional_next()?;
        ctx.filters
            .install(FilterKind::PendingTxs {
                hashes: ctx.mempool.subscribe(),
                full: full.unwrap_or(false),
            })
            .map_err(ErrorObjectOwned::from)
    })?;
    module.register_blocking_method("eth_getFilterChanges", |params, ctx, _| {
        let id: Value = params.one()?;
        filter_changes(&ctx, &id).map_err(ErrorObjectOwned::from)
    })?;
    module.register_blocking_method("eth_getFilterLogs", |params, ctx, _| {
        let id: Value = params.one()?;
        filter_logs(&ctx, &id).map_err(ErrorObjectOwned::from)
    })?;
    module.register_method("eth_uninstallFilter", |params, ctx, _| {
        let id: Value = params.one()?;
        Ok::<_, ErrorObjectOwned>(ctx.filters.uninstall(&id))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_geth_quantities() {
        assert_eq!(format_id(0), "0x0");
        assert_eq!(format_id(0xabc), "0xabc");
        assert_eq!(parse_id(&json!("0x0abc")), Some(0xabc));
        assert_eq!(parse_id(&json!("0xABC")), Some(0xabc));
        assert_eq!(parse_id(&json!("abc")), None);
        assert_eq!(parse_id(&json!("0x")), None);
        assert_eq!(parse_id(&json!(12)), None);
        // Wider than an id: no such filter.
        assert_eq!(parse_id(&json!(format!("0x1{}", "0".repeat(32)))), None);
        let id = format_id(new_id());
        assert!(id.starts_with("0x") && !id.starts_with("0x0") || id == "0x0");
    }

    #[test]
    fn filters_expire_without_polls() {
        let filters = Filters::new(Duration::from_millis(50));
        let cursor = Cursor {
            number: 0,
            hash: B256::ZERO,
        };
        let id = filters.install(FilterKind::Blocks { cursor }).unwrap();
        let id = json!(id);
        assert!(filters.get(&id).is_ok());
        assert_eq!(filters.len(), 1);
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(
            filters.get(&id).err().map(|e| e.to_string()).as_deref(),
            Some("filter not found")
        );
        assert_eq!(filters.len(), 0);
        assert!(!filters.uninstall(&id));
    }
}
