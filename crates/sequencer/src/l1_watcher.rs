//! The [`L1Watcher`]: turns the L1 bridge's `PrivilegedTxSent` events into [`PrivilegedTx`]s for
//! the L2 (docs/bridge.md).
//!
//! Every `watch_interval` it:
//!
//! 1. scans the bridge's `PrivilegedTxSent` logs from its persisted cursor + 1 up to its **read
//!    bound** ([`L1ReadBound`]: L1's `safe` block by default, or `finalized`, `latest`, or
//!    `head − N`), at most `max_block_step` blocks per poll (it polls again at once while it is
//!    behind). Nothing above the bound is read, so nothing above it is ever handed over: an L1
//!    reorg that stays above the bound can't take back a deposit the L2 executed;
//! 2. builds each [`PrivilegedTx`] (chain id = the L2's, nonce = `transactionId`, the other fields
//!    from the event) and checks it: ids must follow the last stored id without a gap (a gap
//!    means a missed log), and its hash must equal the bridge's `privilegedTxHashes(id)` (read at
//!    the last block of the scan). At the first failure it stops: what came before is kept, the
//!    rest is left for the next poll and the cursor stays before the offending block, so a bad
//!    tx is never handed over and never skipped. The refusal is logged as an error;
//! 3. stores the new txs and the new cursor in one write transaction
//!    ([`Store::record_privileged_txs`]), so a restart neither loses nor repeats a deposit; ids
//!    at or below the last stored one (a block scanned again after a refusal) are skipped;
//! 4. hands the new txs, in id order, to a [`PrivilegedTxSink`] (the mempool's privileged lane).
//!
//! **Restart.** The store keeps every privileged tx seen and an *included* marker that the block
//! producer advances ([`Store::set_privileged_included_up_to`]). At start (its first poll) the
//! watcher hands the sink the stored txs above the marker again, since the sink (in memory)
//! starts empty; then it continues from its cursor.
//!
//! **L1 outages.** The [`L1Client`] fails over between URLs and retries; when it reports the L1
//! unreachable, the watcher logs a warning, records it in its [`L1WatcherStatus`] and tries again
//! at the next tick. Nothing is written, so nothing is lost. It never dies on an error.
//!
//! **Read bound.** Each poll asks the L1 for the head and for the bound's block
//! ([`L1Client::read_position`]). An L1 without the `safe`/`finalized` tags (pre-merge, some dev
//! chains) makes every poll fail with [`L1ClientError::UnsupportedTag`], logged as an error
//! (once, then at debug level) that says to read up to `latest` or a block count instead.
//!
//! L1 reorgs below the read bound (deeper than `safe`, or than the block delay) are not handled:
//! choose the bound accordingly.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use alloy::{
    eips::BlockId,
    primitives::{Address, B256, U256},
    rpc::types::Log,
    sol_types::SolEvent,
};
use futures::{StreamExt, TryStreamExt, stream};
use keel_l1::{
    L1Client, L1ClientError, L1ReadBound,
    contracts::CommonBridge::{PrivilegedTxSent, privilegedTxHashesCall},
};
use keel_storage::{
    Store, StoreError,
    rollup::{L1WatcherProgress, RollupError},
};
use keel_types::PrivilegedTx;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

/// Default `--watcher.watch-interval`.
pub const DEFAULT_WATCH_INTERVAL: Duration = Duration::from_millis(1000);
/// Default `--watcher.read-up-to`: L1's `safe` block.
pub const DEFAULT_READ_BOUND: L1ReadBound = L1ReadBound::Safe;
/// Time between two `L1 watcher progress` info logs.
const PROGRESS_LOG_INTERVAL: Duration = Duration::from_secs(60);
/// Default `--watcher.max-block-step`.
pub const DEFAULT_MAX_BLOCK_STEP: u64 = 5000;

/// How many `privilegedTxHashes` calls are in flight at once.
const HASH_CHECK_CONCURRENCY: usize = 16;

/// Where and how the watcher reads L1.
#[derive(Debug, Clone)]
pub struct L1WatcherConfig {
    /// The CommonBridge proxy.
    pub bridge: Address,
    /// Time between polls once caught up.
    pub watch_interval: Duration,
    /// The highest L1 block read: `safe` (default), `finalized`, `latest` or `head − N`
    /// (reorg safety: a deposit is only handed over once its block is at or below it).
    pub read_bound: L1ReadBound,
    /// Most L1 blocks scanned per poll.
    pub max_block_step: u64,
    /// The first L1 block to scan when the store has no cursor yet (the bridge's deploy block:
    /// a deposit before it would be a gap the watcher can't get past).
    pub start_block: u64,
    /// The L2 chain id, part of every privileged tx and its hash.
    pub l2_chain_id: u64,
}

impl L1WatcherConfig {
    /// The defaults for `bridge` on the L2 `l2_chain_id`, scanning from `start_block`.
    pub fn new(bridge: Address, l2_chain_id: u64, start_block: u64) -> Self {
        Self {
            bridge,
            watch_interval: DEFAULT_WATCH_INTERVAL,
            read_bound: DEFAULT_READ_BOUND,
            max_block_step: DEFAULT_MAX_BLOCK_STEP,
            start_block,
            l2_chain_id,
        }
    }
}

/// Receives the privileged txs the watcher found, in id order. The mempool's privileged lane
/// implements it. `push` is called from the watcher's task: it must not block.
///
/// At start the watcher hands over again the stored txs that no block includes yet, so a sink
/// that outlives a watcher should ignore ids it already holds.
pub trait PrivilegedTxSink: Send + Sync {
    /// Takes `txs` (consecutive ids, ascending; never empty).
    fn push(&self, txs: Vec<PrivilegedTx>);

    /// The L1 block timestamp of pushed txs, `(id, timestamp)`, where the L1 gave it with the
    /// event's log (for the deposit inclusion lag metric). Called before `push`; ignored by
    /// default.
    fn l1_timestamps(&self, _times: &[(u64, u64)]) {}
}

/// A [`PrivilegedTxSink`] that keeps everything pushed to it, in order (tests, tools).
#[derive(Debug)]
pub struct MemorySink {
    txs: Mutex<Vec<PrivilegedTx>>,
    count: watch::Sender<usize>,
}

impl Default for MemorySink {
    fn default() -> Self {
        Self {
            txs: Mutex::new(Vec::new()),
            count: watch::Sender::new(0),
        }
    }
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything pushed so far, in order (duplicates included, if any were pushed).
    pub fn txs(&self) -> Vec<PrivilegedTx> {
        self.txs.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many txs were pushed.
    pub fn len(&self) -> usize {
        *self.count.borrow()
    }

    /// True if nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until at least `n` txs were pushed; false on timeout.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> bool {
        let mut rx = self.count.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|c| *c >= n))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

impl PrivilegedTxSink for MemorySink {
    fn push(&self, txs: Vec<PrivilegedTx>) {
        let mut all = self.txs.lock().unwrap_or_else(|e| e.into_inner());
        all.extend(txs);
        let n = all.len();
        drop(all);
        self.count.send_replace(n);
    }
}

/// `(id, L1 block timestamp)` of the `found` txs whose block's timestamp one of `logs` carries
/// (`blockTimestamp`, which not every L1 node returns).
fn l1_timestamps(logs: &[Log], found: &[(u64, PrivilegedTx)]) -> Vec<(u64, u64)> {
    let by_block: std::collections::HashMap<u64, u64> = logs
        .iter()
        .filter_map(|log| Some((log.block_number?, log.block_timestamp?)))
        .collect();
    found
        .iter()
        .filter_map(|(l1_block, tx)| Some((tx.nonce, *by_block.get(l1_block)?)))
        .collect()
}

/// Why the watcher stopped before an event (it will look at it again at the next poll).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The tx built from the event does not hash to what the bridge queued under its id.
    #[error(
        "privileged tx {id} (L1 block {l1_block}) hashes to {computed} but the bridge queued \
         {on_l1}: wrong L2 chain id, or a bad L1 RPC answer"
    )]
    HashMismatch {
        /// Its id.
        id: u64,
        /// The L1 block of its event.
        l1_block: u64,
        /// The hash of the tx built here.
        computed: B256,
        /// `privilegedTxHashes(id)` on L1.
        on_l1: B256,
    },
    /// An id was skipped: a log is missing (an incomplete RPC answer, or a start block after
    /// the bridge's first deposits).
    #[error(
        "privileged tx ids must be consecutive: expected {expected}, found {found} in L1 block \
         {l1_block} (a missed log; is the start block before the bridge's deployment?)"
    )]
    Gap {
        /// The id that should come next.
        expected: u64,
        /// The id found.
        found: u64,
        /// The L1 block of its event.
        l1_block: u64,
    },
    /// The event could not be read as a privileged tx.
    #[error("malformed PrivilegedTxSent in L1 block {l1_block}: {reason}")]
    Malformed {
        /// The L1 block of the log.
        l1_block: u64,
        /// What is wrong.
        reason: String,
    },
}

impl Refusal {
    /// The L1 block of the refused event.
    pub fn l1_block(&self) -> u64 {
        match self {
            Self::HashMismatch { l1_block, .. }
            | Self::Gap { l1_block, .. }
            | Self::Malformed { l1_block, .. } => *l1_block,
        }
    }
}

/// Why a poll failed (nothing was written or handed over; the next poll retries).
#[derive(Debug, thiserror::Error)]
pub enum L1WatcherError {
    /// The L1 request failed ([`L1ClientError::Unreachable`] when L1 is down).
    #[error(transparent)]
    L1(#[from] L1ClientError),
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the rollup tables failed or was refused.
    #[error(transparent)]
    Rollup(#[from] RollupError),
    /// The blocking store task failed.
    #[error("the L1 watcher's store task failed: {0}")]
    Task(String),
}

impl L1WatcherError {
    /// True if the L1 was unreachable (a transient condition).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::L1(e) if e.is_unreachable())
    }
}

/// What one poll did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollOutcome {
    /// The L1 head seen.
    pub l1_head: u64,
    /// The highest L1 block the read bound allowed (`None`: none yet).
    pub l1_read_bound: Option<u64>,
    /// The L1 blocks scanned (inclusive), `None` if no new block was old enough.
    pub scanned: Option<(u64, u64)>,
    /// The cursor after the poll: the last L1 block fully processed.
    pub l1_cursor: Option<u64>,
    /// The txs stored and handed to the sink by this poll, in id order.
    pub delivered: Vec<PrivilegedTx>,
    /// The event the poll stopped at, if any.
    pub refused: Option<Refusal>,
    /// True if the cursor reached the read bound (nothing left to scan now).
    pub caught_up: bool,
}

/// The watcher's state for monitoring, updated after every poll.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct L1WatcherStatus {
    /// The last L1 head seen.
    pub l1_head: Option<u64>,
    /// The last read bound seen: the highest L1 block the watcher may read.
    pub l1_read_bound: Option<u64>,
    /// The last L1 block fully processed.
    pub l1_cursor: Option<u64>,
    /// The highest privileged tx id stored.
    pub last_privileged_id: Option<u64>,
    /// Polls since the last successful one (0 when the last poll succeeded).
    pub consecutive_failures: u64,
    /// True while the last poll found the L1 unreachable.
    pub l1_unreachable: bool,
    /// The error of the last poll, or the refusal it stopped at; `None` if it went through.
    pub last_error: Option<String>,
    /// What L1 charged at the last poll that could read it (base fee of its latest block and
    /// blob base fee): the prices the L1 fee rule moves toward (docs/fees.md).
    pub l1_prices: Option<keel_types::L1Prices>,
}

/// Follows the L1 bridge and hands its privileged txs to a sink. See the module docs.
pub struct L1Watcher {
    config: L1WatcherConfig,
    client: L1Client,
    store: Store,
    sink: Arc<dyn PrivilegedTxSink>,
    status: watch::Sender<L1WatcherStatus>,
    /// False until the stored pending txs were handed to the sink.
    resumed: bool,
    /// True once an unsupported read-bound tag was logged as an error (then at debug level).
    unsupported_logged: bool,
    /// When the last progress line was logged.
    last_progress_log: Option<std::time::Instant>,
}

impl std::fmt::Debug for L1Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L1Watcher")
            .field("config", &self.config)
            .field("client", &self.client)
            .field("resumed", &self.resumed)
            .finish_non_exhaustive()
    }
}

impl L1Watcher {
    /// A watcher of `config.bridge` through `client`, keeping its progress in `store` and
    /// handing the txs to `sink`. Nothing happens until [`L1Watcher::poll`] or
    /// [`L1Watcher::run`].
    pub fn new(
        config: L1WatcherConfig,
        client: L1Client,
        store: Store,
        sink: Arc<dyn PrivilegedTxSink>,
    ) -> Self {
        Self {
            config,
            client,
            store,
            sink,
            status: watch::Sender::new(L1WatcherStatus::default()),
            resumed: false,
            unsupported_logged: false,
            last_progress_log: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &L1WatcherConfig {
        &self.config
    }

    /// Follows the watcher's status (updated after every poll).
    pub fn status(&self) -> watch::Receiver<L1WatcherStatus> {
        self.status.subscribe()
    }

    /// Hands the sink the stored txs that no L2 block includes yet (done by the first poll).
    /// Returns how many.
    fn resume(&mut self) -> Result<usize, L1WatcherError> {
        let pending = self.store.pending_privileged_txs()?;
        let n = pending.len();
        if let (Some(first), Some(last)) = (pending.first(), pending.last()) {
            info!(
                count = n,
                first_id = first.nonce,
                last_id = last.nonce,
                "handing over again the privileged txs stored but not yet included"
            );
            self.sink.push(pending);
        }
        self.resumed = true;
        Ok(n)
    }

    /// One poll: scan the next L1 range, check, store and hand over what it holds. Logs and
    /// records in the status what went wrong; never panics on an L1 or store failure.
    pub async fn poll(&mut self) -> Result<PollOutcome, L1WatcherError> {
        let result = self.poll_inner().await;
        self.status.send_modify(|s| match &result {
            Ok(outcome) => {
                s.l1_head = Some(outcome.l1_head);
                s.l1_read_bound = outcome.l1_read_bound;
                s.l1_cursor = outcome.l1_cursor;
                if let Some(tx) = outcome.delivered.last() {
                    s.last_privileged_id = Some(tx.nonce);
                }
                s.l1_unreachable = false;
                match &outcome.refused {
                    None => {
                        s.consecutive_failures = 0;
                        s.last_error = None;
                    }
                    Some(refusal) => {
                        s.consecutive_failures += 1;
                        s.last_error = Some(refusal.to_string());
                    }
                }
            }
            Err(e) => {
                s.consecutive_failures += 1;
                s.l1_unreachable = e.is_unreachable();
                s.last_error = Some(e.to_string());
            }
        });
        match &result {
            Ok(PollOutcome {
                refused: Some(refusal),
                ..
            }) => error!(
                error = %refusal,
                "refusing a privileged tx from L1; the watcher will not advance past it"
            ),
            Ok(outcome) => self.log_progress(outcome),
            Err(L1WatcherError::L1(e @ L1ClientError::UnsupportedTag { .. })) => {
                if self.unsupported_logged {
                    debug!(error = %e, "L1 watcher: read bound unsupported by the L1");
                } else {
                    self.unsupported_logged = true;
                    error!(
                        error = %e,
                        read_up_to = %self.config.read_bound,
                        "the L1 watcher can't find its read bound on this L1, so it reads \
                         nothing; restart with --watcher.read-up-to latest or a number of blocks"
                    );
                }
            }
            Err(e) if e.is_unreachable() => {
                warn!(error = %e, "L1 unreachable; the watcher retries at the next tick")
            }
            Err(e) => error!(error = %e, "L1 watcher poll failed; retrying at the next tick"),
        }
        result
    }

    async fn poll_inner(&mut self) -> Result<PollOutcome, L1WatcherError> {
        if !self.resumed {
            self.resume()?;
        }
        let progress = self.store.l1_watcher_progress()?;
        if self.status.borrow().last_privileged_id.is_none() {
            let last = progress.last_privileged_id;
            self.status.send_modify(|s| s.last_privileged_id = last);
        }
        let from = progress
            .l1_cursor
            .map_or(self.config.start_block, |c| c + 1);
        let position = self.client.read_position(self.config.read_bound).await?;
        self.read_prices().await;
        let head = position.head;
        metrics::gauge!("keel_l1_head_block").set(head as f64);
        let idle = PollOutcome {
            l1_head: head,
            l1_read_bound: position.block,
            scanned: None,
            l1_cursor: progress.l1_cursor,
            delivered: Vec::new(),
            refused: None,
            caught_up: true,
        };
        // Never past the bound: logs, hash checks and the cursor all stay at or below it.
        let Some(safe) = position.block.filter(|safe| *safe >= from) else {
            return Ok(idle);
        };
        let step = self.config.max_block_step.max(1);
        let to = safe.min(from.saturating_add(step - 1));

        let logs = self
            .client
            .get_logs(
                self.config.bridge,
                PrivilegedTxSent::SIGNATURE_HASH,
                from,
                to,
            )
            .await?;
        let (mut found, mut refused) = self.read_events(&logs, &progress, from);
        if let Some((k, refusal)) = self.check_hashes(&found, to).await? {
            found.truncate(k);
            refused = Some(refusal);
        }

        // The cursor: the whole range, or up to the block before the refused event.
        let cursor = match &refused {
            None => Some(to),
            Some(r) => r.l1_block().checked_sub(1),
        };
        let times = l1_timestamps(&logs, &found);
        let txs: Vec<PrivilegedTx> = found.into_iter().map(|(_, tx)| tx).collect();
        if !txs.is_empty() || cursor != progress.l1_cursor {
            let store = self.store.clone();
            let write = txs.clone();
            tokio::task::spawn_blocking(move || store.record_privileged_txs(&write, cursor))
                .await
                .map_err(|e| L1WatcherError::Task(e.to_string()))??;
        }
        if let Some(cursor) = cursor {
            metrics::gauge!("keel_l1_watcher_cursor_block").set(cursor as f64);
        }
        metrics::counter!("keel_deposits_seen_total").increment(txs.len() as u64);
        if !times.is_empty() {
            self.sink.l1_timestamps(&times);
        }
        if let (Some(first), Some(last)) = (txs.first(), txs.last()) {
            info!(
                count = txs.len(),
                first_id = first.nonce,
                last_id = last.nonce,
                l1_from = from,
                l1_to = to,
                l1_read_bound = safe,
                l1_head = head,
                "privileged txs found on L1"
            );
            self.sink.push(txs.clone());
        } else {
            debug!(
                l1_from = from,
                l1_to = to,
                l1_read_bound = safe,
                l1_head = head,
                "no privileged txs"
            );
        }
        Ok(PollOutcome {
            l1_head: head,
            l1_read_bound: position.block,
            scanned: Some((from, to)),
            l1_cursor: cursor.or(progress.l1_cursor),
            delivered: txs,
            caught_up: refused.is_none() && to == safe,
            refused,
        })
    }

    /// Logs where the watcher stands at info level, at most every [`PROGRESS_LOG_INTERVAL`]
    /// (and at the first poll): the head, the read bound, the cursor and the last id.
    /// Read L1's prices into the status. A failure keeps the last ones (blocks then keep
    /// charging at their parent's prices) and does not stop the poll: privileged transactions
    /// matter more than a fresh price.
    async fn read_prices(&mut self) {
        match self.client.prices().await {
            Ok((base_fee, blob_base_fee)) => {
                let saturate = |v: u128| u64::try_from(v).unwrap_or(u64::MAX);
                let prices = keel_types::L1Prices {
                    base_fee: saturate(base_fee),
                    blob_base_fee: saturate(blob_base_fee),
                };
                metrics::gauge!("keel_l1_base_fee_wei").set(prices.base_fee as f64);
                metrics::gauge!("keel_l1_blob_base_fee_wei").set(prices.blob_base_fee as f64);
                self.status.send_modify(|s| s.l1_prices = Some(prices));
            }
            Err(e) => warn!(error = %e, "could not read L1's prices; keeping the last ones"),
        }
    }

    fn log_progress(&mut self, outcome: &PollOutcome) {
        let now = std::time::Instant::now();
        if self
            .last_progress_log
            .is_some_and(|t| now.duration_since(t) < PROGRESS_LOG_INTERVAL)
        {
            return;
        }
        self.last_progress_log = Some(now);
        let last_privileged_id = self.status.borrow().last_privileged_id;
        info!(
            l1_head = outcome.l1_head,
            l1_read_bound = ?outcome.l1_read_bound,
            read_up_to = %self.config.read_bound,
            l1_cursor = ?outcome.l1_cursor,
            last_privileged_id = ?last_privileged_id,
            caught_up = outcome.caught_up,
            "L1 watcher progress"
        );
    }

    /// The txs of `logs` after the last stored id, up to the first gap or malformed event.
    fn read_events(
        &self,
        logs: &[Log],
        progress: &L1WatcherProgress,
        from: u64,
    ) -> (Vec<(u64, PrivilegedTx)>, Option<Refusal>) {
        let mut expected = progress.next_privileged_id();
        let mut found = Vec::new();
        for log in logs {
            let l1_block = log.block_number.unwrap_or(from);
            let tx = match self.privileged_tx_of(log) {
                Ok(tx) => tx,
                Err(reason) => return (found, Some(Refusal::Malformed { l1_block, reason })),
            };
            if tx.nonce < expected {
                debug!(id = tx.nonce, l1_block, "privileged tx already stored");
                continue;
            }
            if tx.nonce > expected {
                let gap = Refusal::Gap {
                    expected,
                    found: tx.nonce,
                    l1_block,
                };
                return (found, Some(gap));
            }
            expected += 1;
            found.push((l1_block, tx));
        }
        (found, None)
    }

    /// The privileged tx an event describes.
    fn privileged_tx_of(&self, log: &Log) -> Result<PrivilegedTx, String> {
        privileged_tx_of_log(self.config.bridge, self.config.l2_chain_id, log)
    }

    /// Compares each tx's hash with the bridge's queue at L1 block `at`; the index of the first
    /// mismatch and why.
    async fn check_hashes(
        &self,
        found: &[(u64, PrivilegedTx)],
        at: u64,
    ) -> Result<Option<(usize, Refusal)>, L1ClientError> {
        let bridge = self.config.bridge;
        let ids: Vec<u64> = found.iter().map(|(_, tx)| tx.nonce).collect();
        let client = self.client.clone();
        let queued: Vec<B256> = stream::iter(ids)
            .map(move |id| {
                let client = client.clone();
                async move {
                    let call = privilegedTxHashesCall { id: U256::from(id) };
                    client.call_sol(bridge, &call, BlockId::number(at)).await
                }
            })
            .buffered(HASH_CHECK_CONCURRENCY)
            .try_collect()
            .await?;
        for (k, ((l1_block, tx), on_l1)) in found.iter().zip(queued).enumerate() {
            let computed = tx.hash();
            if computed != on_l1 {
                let refusal = Refusal::HashMismatch {
                    id: tx.nonce,
                    l1_block: *l1_block,
                    computed,
                    on_l1,
                };
                return Ok(Some((k, refusal)));
            }
        }
        Ok(None)
    }

    /// Polls until `shutdown` is cancelled: at once again while behind the L1, else every
    /// `watch_interval`. Errors are logged and retried; the loop never dies on one.
    pub async fn run(mut self, shutdown: CancellationToken) {
        info!(
            bridge = %self.config.bridge,
            watch_interval_ms = self.config.watch_interval.as_millis() as u64,
            read_up_to = %self.config.read_bound,
            max_block_step = self.config.max_block_step,
            start_block = self.config.start_block,
            l2_chain_id = self.config.l2_chain_id,
            l1_rpc_urls = self.client.config().urls.len(),
            "L1 watcher started"
        );
        loop {
            let polled = tokio::select! {
                result = self.poll() => Some(result),
                _ = shutdown.cancelled() => break,
            };
            let behind = matches!(
                polled,
                Some(Ok(PollOutcome {
                    caught_up: false,
                    refused: None,
                    ..
                }))
            );
            if behind {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.watch_interval) => {}
                _ = shutdown.cancelled() => break,
            }
        }
        debug!("L1 watcher stopped");
    }
}

/// The privileged tx a `PrivilegedTxSent` log of `bridge` describes on the L2 `l2_chain_id`, or why
/// the log is not one (another emitter, bad topics or data, a field over 64 bits). Public for the
/// fuzz target that feeds it arbitrary logs.
pub fn privileged_tx_of_log(
    bridge: Address,
    l2_chain_id: u64,
    log: &Log,
) -> Result<PrivilegedTx, String> {
    if log.address() != bridge {
        return Err(format!("emitted by {}, not the bridge", log.address()));
    }
    let event = log
        .log_decode::<PrivilegedTxSent>()
        .map_err(|e| e.to_string())?;
    event
        .inner
        .data
        .to_privileged_tx(l2_chain_id)
        .map_err(|e| e.to_string())
}
