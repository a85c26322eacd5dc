//! Preconfirmations: the block being built, published slice by slice before it is sealed.
//!
//! The BlockProducer executes transactions as they arrive on top of the block it is building
//! and, every few milliseconds (or as soon as it runs out of candidates), publishes what it
//! executed since the last time as a [`Slice`]: the transactions in block order, their receipts
//! (as the sealed block will hold them) and the state they changed. The [`PendingBlock`] is
//! every slice so far over the head the block builds on; the RPC reads receipts and `"pending"`
//! state from it and notifies subscribers of each slice. Once the block is stored, its parent is
//! no longer the head and readers ignore the pending block until the next one starts.
//!
//! [`SliceSource`] is the block's transaction source that does the slicing: the candidates of
//! the block's start (privileged transactions first, then the pool's best), then whatever the
//! pool admits until the block's deadline.

use std::{
    collections::{HashMap, HashSet},
    fmt::Write as _,
    fs::File,
    io::{Seek, Write},
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_consensus::{Transaction as _, constants::KECCAK_EMPTY};
use alloy_primitives::{Address, B256, Bytes, U256};
use keel_evm::{EvmState, SkipReason, TxSource};
use keel_types::{Receipt, Transaction};
use parking_lot::{Mutex, RwLock};
use tokio::sync::broadcast;

use crate::mempool::{BestTransactions, BlockCandidates, Mempool};

/// How many slices a slow subscriber may fall behind before it misses some.
pub const SLICE_EVENT_CAPACITY: usize = 4096;

/// A transaction executed into the pending block.
#[derive(Debug, Clone)]
pub struct PreconfirmedTx {
    pub hash: B256,
    pub tx: Transaction,
    pub sender: Address,
    /// As the sealed block will hold it (cumulative gas included).
    pub receipt: Receipt,
    /// Position in the block.
    pub index: u64,
    /// Gas used by this transaction alone.
    pub gas_used: u64,
    /// Block-wide index of its first log.
    pub first_log_index: u64,
}

/// An account as a slice left it: `None` if it no longer exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingAccount {
    pub nonce: u64,
    pub balance: U256,
    pub code_hash: B256,
}

/// What one slice's transactions changed, with the values after the slice.
#[derive(Debug, Default)]
pub struct SliceState {
    accounts: HashMap<Address, Option<PendingAccount>>,
    storage: HashMap<(Address, B256), U256>,
    /// Accounts whose storage was cleared (destroyed or created) in the slice: a slot the slice
    /// didn't write then reads zero.
    cleared: HashSet<Address>,
    codes: HashMap<B256, Bytes>,
}

impl SliceState {
    /// Record a transaction's changes (revm's state after it, touched accounts only).
    fn record(&mut self, changes: &EvmState) {
        for (address, account) in changes {
            if !account.is_touched() {
                continue;
            }
            if account.is_selfdestructed() {
                self.accounts.insert(*address, None);
                self.storage.retain(|(a, _), _| a != address);
                self.cleared.insert(*address);
                continue;
            }
            if account.is_created() {
                self.storage.retain(|(a, _), _| a != address);
                self.cleared.insert(*address);
            }
            let info = &account.info;
            self.accounts.insert(
                *address,
                Some(PendingAccount {
                    nonce: info.nonce,
                    balance: info.balance,
                    code_hash: info.code_hash,
                }),
            );
            if info.code_hash != KECCAK_EMPTY
                && let Some(code) = &info.code
            {
                self.codes
                    .entry(info.code_hash)
                    .or_insert_with(|| code.original_bytes());
            }
            for (slot, value) in &account.storage {
                if value.is_changed() {
                    self.storage
                        .insert((*address, B256::from(*slot)), value.present_value);
                }
            }
        }
    }
}

/// Transactions published together, and what they changed. Each slice links to the one
/// before it, so that publishing one costs the same however many the block has.
#[derive(Debug)]
pub struct Slice {
    /// 0 for the block's first slice.
    pub seq: u64,
    pub txs: Vec<PreconfirmedTx>,
    by_hash: HashMap<B256, usize>,
    state: SliceState,
    previous: Option<Arc<Slice>>,
}

impl Slice {
    /// One of the slice's transactions, by hash.
    pub fn transaction(&self, hash: &B256) -> Option<&PreconfirmedTx> {
        self.by_hash.get(hash).map(|i| &self.txs[*i])
    }
}

impl Drop for Slice {
    /// Unlink the chain one slice at a time: a block of many slices would otherwise be dropped
    /// by recursion as deep as it is long.
    fn drop(&mut self) {
        let mut previous = self.previous.take();
        while let Some(slice) = previous {
            previous = match Arc::try_unwrap(slice) {
                Ok(mut slice) => slice.previous.take(),
                Err(_) => None,
            };
        }
    }
}

/// The block being built: the head it builds on, its fixed fields, and the slices so far.
#[derive(Debug, Clone)]
pub struct PendingBlock {
    pub number: u64,
    pub parent_hash: B256,
    pub timestamp: u64,
    pub base_fee: u64,
    pub gas_limit: u64,
    pub coinbase: Address,
    /// What its ordinary transactions are charged at beyond gas, on a chain with the L1 fee
    /// rule (docs/fees.md): the receipts show it.
    pub fees: Option<keel_types::FeeParams>,
    /// The newest slice (it links to the earlier ones).
    last: Option<Arc<Slice>>,
}

impl PendingBlock {
    /// A block with nothing executed yet.
    pub fn new(
        number: u64,
        parent_hash: B256,
        timestamp: u64,
        base_fee: u64,
        gas_limit: u64,
        coinbase: Address,
    ) -> Self {
        Self {
            number,
            parent_hash,
            timestamp,
            base_fee,
            gas_limit,
            coinbase,
            fees: None,
            last: None,
        }
    }

    /// The slices, newest first.
    pub fn slices(&self) -> impl Iterator<Item = &Slice> {
        std::iter::successors(self.last.as_deref(), |slice| slice.previous.as_deref())
    }

    /// How many slices were published.
    pub fn slice_count(&self) -> u64 {
        self.last.as_ref().map_or(0, |slice| slice.seq + 1)
    }

    /// A preconfirmed transaction by hash.
    pub fn transaction(&self, hash: &B256) -> Option<&PreconfirmedTx> {
        self.slices().find_map(|slice| slice.transaction(hash))
    }

    /// Transactions preconfirmed so far.
    pub fn len(&self) -> usize {
        self.slices().map(|s| s.txs.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.slices().all(|s| s.txs.is_empty())
    }

    /// The account after the preconfirmed transactions, if they changed it (`Some(None)`: they
    /// destroyed it); `None` if they didn't touch it (read the head's state).
    pub fn account(&self, address: &Address) -> Option<Option<PendingAccount>> {
        self.slices()
            .find_map(|slice| slice.state.accounts.get(address).copied())
    }

    /// A storage slot after the preconfirmed transactions, if they wrote or cleared it.
    pub fn storage(&self, address: &Address, slot: &B256) -> Option<U256> {
        for slice in self.slices() {
            if let Some(value) = slice.state.storage.get(&(*address, *slot)) {
                return Some(*value);
            }
            if slice.state.cleared.contains(address) {
                return Some(U256::ZERO);
            }
        }
        None
    }

    /// Code the preconfirmed transactions deployed.
    pub fn code(&self, code_hash: &B256) -> Option<Bytes> {
        self.slices()
            .find_map(|slice| slice.state.codes.get(code_hash).cloned())
    }
}

/// One published slice, for subscribers.
#[derive(Debug, Clone)]
pub struct SliceEvent {
    pub block: Arc<PendingBlock>,
    pub slice: Arc<Slice>,
}

/// Where the pending block is published and read. Shared by the chain's clones.
#[derive(Debug)]
pub struct Preconfirmations {
    current: RwLock<Option<Arc<PendingBlock>>>,
    events: broadcast::Sender<SliceEvent>,
    /// Where published transactions are noted until their block is sealed, so that a restart
    /// after a crash can report those it dropped ([`Preconfirmations::with_journal`]).
    journal: Mutex<Option<File>>,
}

impl Default for Preconfirmations {
    fn default() -> Self {
        Self {
            current: RwLock::new(None),
            events: broadcast::channel(SLICE_EVENT_CAPACITY).0,
            journal: Mutex::new(None),
        }
    }
}

/// What [`read_journal`] found: transactions preconfirmed before the node stopped, by block.
pub type JournalEntries = Vec<(u64, B256)>;

/// The transactions a journal written by [`Preconfirmations::with_journal`] holds: those
/// preconfirmed but not sealed when the node stopped (empty after a clean stop). A missing file
/// holds none; a line that doesn't parse (a write cut short by the crash) is skipped.
pub fn read_journal(path: &Path) -> std::io::Result<JournalEntries> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .filter_map(|line| {
            let (number, hash) = line.split_once(' ')?;
            Some((number.parse().ok()?, hash.parse().ok()?))
        })
        .collect())
}

impl Preconfirmations {
    /// The pending block, if one is being built. Check its `parent_hash` against the head you
    /// read: once the block is stored it no longer applies.
    pub fn current(&self) -> Option<Arc<PendingBlock>> {
        self.current.read().clone()
    }

    /// Each slice as it is published.
    pub fn subscribe(&self) -> broadcast::Receiver<SliceEvent> {
        self.events.subscribe()
    }

    /// Note every published transaction in the file at `path` (truncated now and whenever a
    /// block is sealed), one `NUMBER HASH` line each, written before the slice is published.
    /// Not fsynced: it outlives a crash of the process, not of the machine. Read it with
    /// [`read_journal`] before starting the producer.
    pub fn with_journal(self, path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)?;
        *self.journal.lock() = Some(file);
        Ok(self)
    }

    /// A new block started (nothing executed yet).
    pub fn start(&self, block: PendingBlock) {
        *self.current.write() = Some(Arc::new(block));
    }

    /// The pending block is sealed (stored) or abandoned.
    pub fn clear(&self) {
        *self.current.write() = None;
        if let Some(file) = self.journal.lock().as_mut()
            && let Err(e) = file.set_len(0).and_then(|()| file.rewind())
        {
            tracing::warn!(error = %e, "can't truncate the preconfirmation journal");
        }
    }

    fn publish(&self, block: Arc<PendingBlock>, slice: Arc<Slice>) {
        if let Some(file) = self.journal.lock().as_mut() {
            let mut lines = String::with_capacity(slice.txs.len() * 88);
            for tx in &slice.txs {
                let _ = writeln!(lines, "{} {}", block.number, tx.hash);
            }
            if let Err(e) = file.write_all(lines.as_bytes()) {
                tracing::warn!(error = %e, "can't write the preconfirmation journal");
            }
        }
        *self.current.write() = Some(block.clone());
        // No subscriber is fine.
        let _ = self.events.send(SliceEvent { block, slice });
    }
}

/// When a [`SliceSource`] publishes and when it ends the block.
#[derive(Debug, Clone, Copy)]
pub struct SliceTiming {
    /// The block takes no new transactions after this.
    pub deadline: Instant,
    /// Longest time executed transactions wait to be published while candidates keep coming.
    pub slice_time: Duration,
}

/// How long a waiting [`SliceSource`] sleeps between checks of its stop condition.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// The transaction source of a preconfirming block: see the module docs.
pub struct SliceSource<'a> {
    mempool: &'a Mempool,
    hub: &'a Preconfirmations,
    timing: SliceTiming,
    /// Ends the block early (shutdown), sealing what it holds.
    stop: &'a (dyn Fn() -> bool + Sync),
    /// The block's starting candidates, then `None` once they ran out.
    start: BlockCandidates,
    start_done: bool,
    /// The pool's later arrivals, refreshed whenever the candidates run out.
    later: Option<BestTransactions>,
    /// Whether the last candidate came from `start`.
    last_from_start: bool,
    seen_arrivals: u64,
    /// The pool's arrival number after the last candidates taken.
    next_arrival: u64,
    next_nonce: HashMap<Address, u64>,
    stopped: HashSet<Address>,
    invalid: Vec<(B256, Address, String)>,
    block: Arc<PendingBlock>,
    // The slice being executed.
    txs: Vec<PreconfirmedTx>,
    state: SliceState,
    slice_started: Instant,
    next_index: u64,
    next_log_index: u64,
    cumulative_gas: u64,
}

impl<'a> SliceSource<'a> {
    /// `start` are the block's candidates, taken after `seen_arrivals` was read from
    /// [`Mempool::arrivals`] and `next_arrival` from [`Mempool::next_arrival`]. Publishes
    /// `block` (empty) as the pending block.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        mempool: &'a Mempool,
        hub: &'a Preconfirmations,
        block: PendingBlock,
        start: BlockCandidates,
        seen_arrivals: u64,
        next_arrival: u64,
        timing: SliceTiming,
        stop: &'a (dyn Fn() -> bool + Sync),
    ) -> Self {
        hub.start(block.clone());
        Self {
            mempool,
            hub,
            timing,
            stop,
            start,
            start_done: false,
            later: None,
            last_from_start: true,
            seen_arrivals,
            next_arrival,
            next_nonce: HashMap::new(),
            stopped: HashSet::new(),
            invalid: Vec::new(),
            block: Arc::new(block),
            txs: Vec::new(),
            state: SliceState::default(),
            slice_started: Instant::now(),
            next_index: 0,
            next_log_index: 0,
            cumulative_gas: 0,
        }
    }

    /// What the builder found invalid, for [`Mempool::on_new_block`].
    pub fn invalid(&self) -> Vec<(B256, Address, String)> {
        let mut all = self.start.invalid();
        all.extend(self.invalid.iter().cloned());
        if let Some(later) = &self.later {
            all.extend(later.invalid.iter().cloned());
        }
        all
    }

    /// Transactions published so far.
    pub fn published(&self) -> usize {
        self.next_index as usize - self.txs.len()
    }

    /// Publish the transactions executed since the last slice, if any.
    pub fn publish(&mut self) {
        if self.txs.is_empty() {
            return;
        }
        let txs = std::mem::take(&mut self.txs);
        let by_hash = txs.iter().enumerate().map(|(i, tx)| (tx.hash, i)).collect();
        let slice = Arc::new(Slice {
            seq: self.block.slice_count(),
            txs,
            by_hash,
            state: std::mem::take(&mut self.state),
            previous: self.block.last.clone(),
        });
        let mut block = PendingBlock::clone(&self.block);
        block.last = Some(slice.clone());
        self.block = Arc::new(block);
        self.hub.publish(self.block.clone(), slice);
        metrics::counter!("keel_preconfirmation_slices_total").increment(1);
    }

    fn next_candidate(&mut self) -> Option<(Transaction, Address)> {
        if !self.start_done {
            if let Some(candidate) = self.start.next_tx() {
                self.last_from_start = true;
                return Some(candidate);
            }
            self.start_done = true;
        }
        let candidate = self.later.as_mut()?.next_tx();
        self.last_from_start = false;
        candidate
    }

    /// Take the pool's transactions admitted since the candidates were last taken.
    fn refresh(&mut self) {
        if let Some(old) = self.later.take() {
            self.invalid.extend(old.invalid);
        }
        self.later = Some(self.mempool.arrived_since(
            self.block.base_fee,
            &mut self.next_arrival,
            &self.next_nonce,
            &self.stopped,
        ));
    }
}

impl TxSource for SliceSource<'_> {
    fn next_tx(&mut self) -> Option<(Transaction, Address)> {
        loop {
            if !self.txs.is_empty() && self.slice_started.elapsed() >= self.timing.slice_time {
                self.publish();
            }
            if let Some(candidate) = self.next_candidate() {
                if self.txs.is_empty() {
                    self.slice_started = Instant::now();
                }
                return Some(candidate);
            }
            // Out of candidates: publish, then wait for the pool until the deadline.
            self.publish();
            let now = Instant::now();
            if now >= self.timing.deadline || (self.stop)() {
                return None;
            }
            let wait = (self.timing.deadline - now).min(STOP_CHECK);
            let arrivals = self.mempool.wait_for_arrivals(self.seen_arrivals, wait);
            if arrivals != self.seen_arrivals {
                self.seen_arrivals = arrivals;
                self.refresh();
            }
        }
    }

    fn skipped(&mut self, tx_hash: B256, sender: Address, reason: SkipReason) {
        if self.last_from_start {
            self.start.skipped(tx_hash, sender, reason);
        } else if let Some(later) = &mut self.later {
            later.skipped(tx_hash, sender, reason);
        }
        // Privileged transactions come only from the start; their lane keeps its own order.
        self.stopped.insert(sender);
    }

    fn state_changed(&mut self, changes: &EvmState) {
        self.state.record(changes);
    }

    fn included(&mut self, tx: &Transaction, sender: Address, receipt: Receipt) {
        let cumulative = receipt.cumulative_gas_used();
        let logs = receipt.logs().len() as u64;
        if !tx.is_privileged() {
            self.next_nonce.insert(sender, tx.nonce() + 1);
        }
        self.txs.push(PreconfirmedTx {
            hash: *tx.tx_hash(),
            tx: tx.clone(),
            sender,
            receipt,
            index: self.next_index,
            gas_used: cumulative - self.cumulative_gas,
            first_log_index: self.next_log_index,
        });
        self.next_index += 1;
        self.next_log_index += logs;
        self.cumulative_gas = cumulative;
    }
}
