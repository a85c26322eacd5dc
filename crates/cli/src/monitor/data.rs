//! What the monitor shows, collected from the node: the store (head, recent blocks and their
//! L2 → L1 messages, batches and their status, deposits seen and included), the mempool
//! (counts) and the L1Watcher's status (L1 head). Collection is incremental: each refresh reads
//! the blocks that arrived since the last one (at most [`RECENT_BLOCKS`]), and the batches only
//! when a batch number moved; nothing scans the chain.

use std::{
    collections::VecDeque,
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use alloy_primitives::{B256, U256};
use keel_chain::{Blockchain, Mempool};
use keel_sequencer::l1_watcher::L1WatcherStatus;
use keel_storage::{ChainReader, StoreError};
use keel_types::L1Message;
use tokio::sync::watch;

/// Blocks kept for the recent-blocks table.
pub const RECENT_BLOCKS: usize = 32;
/// L2 → L1 messages kept for the withdrawals table.
pub const RECENT_WITHDRAWALS: usize = 16;
/// The window the rates are measured over.
pub const RATE_WINDOW: Duration = Duration::from_secs(10);

/// Where the monitor reads from.
#[derive(Clone)]
pub struct Sources {
    pub chain: Blockchain,
    pub mempool: Option<Arc<Mempool>>,
    /// The L1Watcher's status, when the node watches an L1.
    pub l1_status: Option<watch::Receiver<L1WatcherStatus>>,
}

/// One block of the recent-blocks table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRow {
    pub number: u64,
    pub hash: B256,
    pub txs: usize,
    /// Of them, privileged (deposits and other L1 messages).
    pub privileged: usize,
    pub gas_used: u64,
    pub gas_limit: u64,
    /// Unix seconds.
    pub timestamp: u64,
}

/// A sealed batch and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRow {
    pub number: u64,
    pub first_block: u64,
    pub last_block: u64,
    /// The L1 block of its commit (committed) or verification (verified), if any.
    pub l1_block: Option<u64>,
}

/// Batches by status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batches {
    /// The last sealed batch (0: none).
    pub sealed: u64,
    /// The last batch committed on L1 (0: none).
    pub committed: u64,
    /// The last batch verified on L1 (0: none).
    pub verified: u64,
    pub last_sealed: Option<BatchRow>,
    pub last_committed: Option<BatchRow>,
    pub last_verified: Option<BatchRow>,
}

/// Where a withdrawal (an L2 → L1 message) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithdrawalStatus {
    /// In an L2 block, not yet in a sealed batch.
    InBlock,
    Sealed(u64),
    Committed(u64),
    /// Its batch is verified on L1: it can be claimed there.
    Claimable(u64),
}

/// An L2 → L1 message of a recent block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithdrawalRow {
    pub block: u64,
    pub tx_hash: B256,
    pub message_id: U256,
    pub status: WithdrawalStatus,
}

/// Deposits (privileged transactions from L1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deposits {
    /// Read from L1 and stored (ids 0..seen).
    pub seen: u64,
    /// Included in L2 blocks.
    pub included: u64,
    /// Held by the mempool's privileged lane.
    pub in_pool: usize,
}

impl Deposits {
    /// Seen but not yet included.
    pub fn waiting(&self) -> u64 {
        self.seen.saturating_sub(self.included)
    }
}

/// The L1 as the watcher last saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct L1View {
    pub head: Option<u64>,
    pub cursor: Option<u64>,
    pub unreachable: bool,
    pub last_error: Option<String>,
}

/// Per-second rates over the last [`RATE_WINDOW`] (none until two refreshes apart).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    pub blocks: Option<f64>,
    pub txs: Option<f64>,
    pub gas: Option<f64>,
}

/// The mempool's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pool {
    pub pending: usize,
    pub queued: usize,
    pub privileged: usize,
}

/// Everything one frame shows.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Unix seconds when taken (for block ages).
    pub now: u64,
    pub chain_id: u64,
    pub l2_head: u64,
    pub l2_head_hash: B256,
    pub l1: Option<L1View>,
    pub rates: Rates,
    pub pool: Option<Pool>,
    pub deposits: Deposits,
    pub batches: Batches,
    /// Newest first.
    pub blocks: Vec<BlockRow>,
    /// Newest first.
    pub withdrawals: Vec<WithdrawalRow>,
    /// The last refresh's read error, if it failed (the previous figures are kept).
    pub error: Option<String>,
}

/// A sample for the rates: when, the head, and the txs and gas counted so far.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    head: u64,
    txs: u64,
    gas: u64,
}

/// Collects [`Snapshot`]s, remembering what it already read.
pub struct Collector {
    sources: Sources,
    snapshot: Snapshot,
    /// Txs and gas of the blocks read since the start.
    txs_total: u64,
    gas_total: u64,
    samples: VecDeque<Sample>,
    /// The batch numbers the batch figures were read at.
    batch_marks: Option<(u64, u64, u64)>,
}

impl Collector {
    pub fn new(sources: Sources) -> Self {
        let chain_id = sources.chain.spec().chain_id;
        Self {
            sources,
            snapshot: Snapshot {
                chain_id,
                ..Snapshot::default()
            },
            txs_total: 0,
            gas_total: 0,
            samples: VecDeque::new(),
            batch_marks: None,
        }
    }

    /// Reads what changed since the last call and returns the figures. A read error is kept in
    /// [`Snapshot::error`] with the previous figures.
    pub fn collect(&mut self) -> &Snapshot {
        self.snapshot.now = unix_now();
        match self.refresh() {
            Ok(()) => self.snapshot.error = None,
            Err(e) => self.snapshot.error = Some(e.to_string()),
        }
        &self.snapshot
    }

    fn refresh(&mut self) -> Result<(), StoreError> {
        self.refresh_blocks()?;
        self.refresh_batches()?;
        self.refresh_deposits()?;
        if let Some(mempool) = &self.sources.mempool {
            let status = mempool.status();
            self.snapshot.pool = Some(Pool {
                pending: status.pending,
                queued: status.queued,
                privileged: mempool.privileged_len(),
            });
            self.snapshot.deposits.in_pool = mempool.privileged_len();
        }
        if let Some(status) = &self.sources.l1_status {
            let status = status.borrow();
            self.snapshot.l1 = Some(L1View {
                head: status.l1_head,
                cursor: status.l1_cursor,
                unreachable: status.l1_unreachable,
                last_error: status.last_error.clone(),
            });
        }
        self.update_rates();
        Ok(())
    }

    /// Reads the blocks above the last one seen (the newest [`RECENT_BLOCKS`] of them), or
    /// starts over after a reorg.
    fn refresh_blocks(&mut self) -> Result<(), StoreError> {
        let reader = self.sources.chain.store().reader()?;
        let Some(head_hash) = reader.head_hash()? else {
            return Ok(());
        };
        if head_hash == self.snapshot.l2_head_hash && !self.snapshot.blocks.is_empty() {
            return Ok(());
        }
        let head = reader.block_number(&head_hash)?.unwrap_or_default();
        // A reorg replaced the newest block we showed: read the window again.
        let newest = self.snapshot.blocks.first().map(|b| (b.number, b.hash));
        let still_canonical = match newest {
            Some((number, hash)) => number <= head && reader.canonical_hash(number)? == Some(hash),
            None => false,
        };
        if !still_canonical {
            self.snapshot.blocks.clear();
            self.snapshot.withdrawals.clear();
        }
        // The first refresh reads the window without counting it in the rates.
        let counted = newest.is_some() && still_canonical;
        let from = match (newest, still_canonical) {
            (Some((number, _)), true) => number + 1,
            _ => 0,
        }
        .max(head.saturating_sub(RECENT_BLOCKS as u64 - 1));
        for number in from..=head {
            let Some(hash) = reader.canonical_hash(number)? else {
                continue;
            };
            let (Some(header), Some(body)) = (reader.header(&hash)?, reader.body(&hash)?) else {
                continue;
            };
            let receipts = reader.receipts(&hash)?.unwrap_or_default();
            for (tx, receipt) in body.transactions.iter().zip(&receipts) {
                for message in receipt.logs().iter().filter_map(L1Message::from_log) {
                    self.snapshot.withdrawals.insert(
                        0,
                        WithdrawalRow {
                            block: number,
                            tx_hash: *tx.tx_hash(),
                            message_id: message.message_id,
                            status: WithdrawalStatus::InBlock,
                        },
                    );
                }
            }
            let row = BlockRow {
                number,
                hash,
                txs: body.transactions.len(),
                privileged: body
                    .transactions
                    .iter()
                    .filter(|tx| tx.is_privileged())
                    .count(),
                gas_used: header.gas_used,
                gas_limit: header.gas_limit,
                timestamp: header.timestamp,
            };
            if counted {
                self.txs_total += row.txs as u64;
                self.gas_total += row.gas_used;
            }
            self.snapshot.blocks.insert(0, row);
        }
        self.snapshot.blocks.truncate(RECENT_BLOCKS);
        self.snapshot.withdrawals.truncate(RECENT_WITHDRAWALS);
        self.snapshot.l2_head = head;
        self.snapshot.l2_head_hash = head_hash;
        // New withdrawals need their batch looked up.
        self.batch_marks = None;
        Ok(())
    }

    /// Reads the batch figures when a batch number moved (or new blocks came).
    fn refresh_batches(&mut self) -> Result<(), StoreError> {
        let store = self.sources.chain.store();
        let sealed = store.last_batch()?;
        let marks = (
            sealed.as_ref().map_or(0, |b| b.number),
            store.last_committed_batch()?,
            store.last_verified_batch()?,
        );
        if self.batch_marks == Some(marks) {
            return Ok(());
        }
        let (sealed_n, committed, verified) = marks;
        let row = |number: u64, l1_block: Option<u64>| -> Result<Option<BatchRow>, StoreError> {
            Ok(store.batch(number)?.map(|b| BatchRow {
                number: b.number,
                first_block: b.first_block,
                last_block: b.last_block,
                l1_block,
            }))
        };
        let batches = Batches {
            sealed: sealed_n,
            committed,
            verified,
            last_sealed: sealed.map(|b| BatchRow {
                number: b.number,
                first_block: b.first_block,
                last_block: b.last_block,
                l1_block: None,
            }),
            last_committed: if committed > 0 {
                row(
                    committed,
                    store.batch_commit(committed)?.map(|c| c.l1_block),
                )?
            } else {
                None
            },
            last_verified: if verified > 0 {
                row(
                    verified,
                    store.batch_verification(verified)?.map(|v| v.l1_block),
                )?
            } else {
                None
            },
        };
        for withdrawal in &mut self.snapshot.withdrawals {
            let batch = match batches.last_sealed.as_ref() {
                Some(last) if withdrawal.block <= last.last_block => {
                    store.batch_number_of_block(withdrawal.block)?
                }
                _ => None,
            };
            withdrawal.status = match batch {
                None => WithdrawalStatus::InBlock,
                Some(n) if n <= verified => WithdrawalStatus::Claimable(n),
                Some(n) if n <= committed => WithdrawalStatus::Committed(n),
                Some(n) => WithdrawalStatus::Sealed(n),
            };
        }
        self.snapshot.batches = batches;
        self.batch_marks = Some(marks);
        Ok(())
    }

    fn refresh_deposits(&mut self) -> Result<(), StoreError> {
        let progress = self.sources.chain.store().l1_watcher_progress()?;
        self.snapshot.deposits.seen = progress.last_privileged_id.map_or(0, |id| id + 1);
        self.snapshot.deposits.included = progress.included_up_to.map_or(0, |id| id + 1);
        Ok(())
    }

    fn update_rates(&mut self) {
        let now = Instant::now();
        self.samples.push_back(Sample {
            at: now,
            head: self.snapshot.l2_head,
            txs: self.txs_total,
            gas: self.gas_total,
        });
        while self
            .samples
            .front()
            .is_some_and(|s| now.duration_since(s.at) > RATE_WINDOW)
        {
            self.samples.pop_front();
        }
        let (Some(first), Some(last)) = (self.samples.front(), self.samples.back()) else {
            return;
        };
        let secs = last.at.duration_since(first.at).as_secs_f64();
        if secs < 0.5 {
            return;
        }
        self.snapshot.rates = Rates {
            blocks: Some(last.head.saturating_sub(first.head) as f64 / secs),
            txs: Some(last.txs.saturating_sub(first.txs) as f64 / secs),
            gas: Some(last.gas.saturating_sub(first.gas) as f64 / secs),
        };
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
