//! The [`Blockchain`]: the one place where blocks become chain state.

use std::{
    borrow::Cow,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_consensus::{
    EMPTY_OMMER_ROOT_HASH, Header,
    proofs::{calculate_receipt_root, calculate_transaction_root},
};
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::{Address, B256, Bytes};
use alloy_trie::EMPTY_ROOT_HASH;
use keel_evm::{ExecutionOutcome, StoreDb, TxSource, execute_block};
use keel_storage::{
    BlockWrite, ChainReader, ReorgWrite, StateReader, StateView, Store, StoreError, StoreReader,
};
use keel_trie::NodeStore;
use keel_types::{Block, BlockBody, ChainSpec, Genesis, Receipt, genesis_header};
use tokio::sync::broadcast;
use tracing::{debug, info, warn};

use crate::{
    BlockError, ChainError, StateUpdate, compute_state_update, genesis::write_genesis,
    recover_senders, senders::recover_senders_on_this_thread,
};
use keel_evm::{logs_bloom, validate_body, validate_header, validate_outcome};

/// What importing one block did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// The block was validated, executed and stored as the new head.
    Imported {
        number: u64,
        hash: B256,
        gas_used: u64,
        timings: ImportTimings,
    },
    /// The block extends a side chain that is not (yet) the longest: stored, not canonical.
    SideChain { number: u64, hash: B256 },
    /// The block made its side chain the longest: it is the new head, and `unwound` blocks of the
    /// old chain were taken off the canonical chain.
    Reorged {
        number: u64,
        hash: B256,
        unwound: u64,
    },
    /// The block was already in the store: nothing changed.
    AlreadyKnown { number: u64, hash: B256 },
}

/// Validates, executes and stores blocks on top of the head.
#[derive(Debug, Clone)]
pub struct Blockchain {
    store: Store,
    spec: Arc<ChainSpec>,
    events: broadcast::Sender<Arc<NewBlock>>,
    /// How far below the head a side chain may fork (the recent-state window,
    /// `--state.history`): deeper side blocks are refused with [`ChainError::ReorgTooDeep`].
    state_history: u64,
    /// The block being built, published as it grows (see [`crate::preconf`]).
    preconfirmations: Arc<crate::Preconfirmations>,
}

/// How many new-head events a slow subscriber may fall behind before it misses some.
pub const EVENT_CAPACITY: usize = 256;

/// A block that just became the canonical head, with its receipts.
#[derive(Debug)]
pub struct NewBlock {
    pub hash: B256,
    pub block: Block,
    pub receipts: Vec<Receipt>,
}

/// A block made by [`Blockchain::build_block`] and stored as the head.
#[derive(Debug)]
pub struct BuiltBlock {
    pub hash: B256,
    pub block: Block,
    pub receipts: Vec<Receipt>,
    /// Sender of each transaction in the block.
    pub senders: Vec<Address>,
    pub timings: ImportTimings,
    /// An upper bound of the block's own state diff v1 size, in bytes (see
    /// [`keel_evm::DiffSizeBound`]).
    pub state_diff_bound: usize,
}

impl Blockchain {
    /// Open the chain in `store`, writing `genesis` if the store is empty, or checking that the
    /// store was created from the same genesis otherwise.
    pub fn open(store: Store, genesis: &Genesis, spec: ChainSpec) -> Result<Self, ChainError> {
        let given = genesis_header(genesis, &spec).hash_slow();
        match store.reader()?.genesis_hash()? {
            Some(stored) if stored != given => {
                return Err(ChainError::GenesisMismatch { stored, given });
            }
            Some(_) => {}
            None => {
                write_genesis(&store, genesis, &spec)?;
            }
        }
        Ok(Self {
            store,
            spec: Arc::new(spec),
            events: broadcast::channel(EVENT_CAPACITY).0,
            state_history: keel_storage::DEFAULT_STATE_HISTORY,
            preconfirmations: Arc::default(),
        })
    }

    /// Note preconfirmed transactions in the journal at `path` until their block is sealed
    /// (see [`crate::Preconfirmations::with_journal`]; read the old one with
    /// [`crate::preconf::read_journal`] first). Call before the chain is shared.
    pub fn with_preconfirmation_journal(
        mut self,
        path: &std::path::Path,
    ) -> Result<Self, std::io::Error> {
        self.preconfirmations = Arc::new(crate::Preconfirmations::default().with_journal(path)?);
        Ok(self)
    }

    /// The pending block the BlockProducer publishes as it executes transactions.
    pub fn preconfirmations(&self) -> &Arc<crate::Preconfirmations> {
        &self.preconfirmations
    }

    /// Set the recent-state window (default [`keel_storage::DEFAULT_STATE_HISTORY`]): side
    /// chains forking deeper than this below the head are refused.
    pub fn with_state_history(mut self, blocks: u64) -> Self {
        self.state_history = blocks;
        self
    }

    /// The recent-state window, in blocks.
    pub fn state_history(&self) -> u64 {
        self.state_history
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// The chain spec, shared (for executors and RPC that outlive a borrow).
    pub fn spec_arc(&self) -> &Arc<ChainSpec> {
        &self.spec
    }

    /// Number and hash of the head block.
    pub fn head(&self) -> Result<(u64, B256), ChainError> {
        let (hash, header) = self.store.reader()?.head()?.ok_or(ChainError::NoHead)?;
        Ok((header.number, hash))
    }

    /// Validate, execute and store `block` as the new head. On any error nothing is written.
    pub fn import_block(&self, block: &Block) -> Result<ImportOutcome, ChainError> {
        let hash = block.header.hash_slow();
        self.import_inner(block, hash, || {
            recover_senders(&block.body.transactions).map(Cow::Owned)
        })
    }

    /// [`Blockchain::import_block`] for a block whose hash and senders were computed ahead, e.g.
    /// on another thread while the previous block executed.
    pub fn import_prepared(&self, prepared: &PreparedBlock) -> Result<ImportOutcome, ChainError> {
        self.import_inner(&prepared.block, prepared.hash, || {
            prepared.borrowed_senders()
        })
    }

    /// Senders are recovered lazily, after the cheap checks, so known or orphan blocks cost little.
    fn import_inner<'a>(
        &self,
        block: &Block,
        hash: B256,
        senders: impl FnOnce() -> Result<Cow<'a, [Address]>, BlockError>,
    ) -> Result<ImportOutcome, ChainError> {
        let started = Instant::now();
        let number = block.header.number;
        let reader = self.store.reader()?;
        let ((outcome, update, executed), senders) = match self
            .check_and_execute(&reader, block, hash, senders, started)?
        {
            Checked::Known(known) => {
                return Ok(ImportOutcome::AlreadyKnown {
                    number: known,
                    hash,
                });
            }
            Checked::Side {
                parent,
                head,
                senders,
            } => {
                // A side chain executes on a view of its parent's state, which exists only
                // within the recent-state window; nothing is written if it is deeper.
                let view = reader
                    .state_after(block.header.parent_hash, Some(self.state_history))
                    .map_err(|e| match e {
                        StoreError::StateUnavailable { window, .. } => ChainError::ReorgTooDeep {
                            number,
                            hash,
                            window,
                        },
                        e => e.into(),
                    })?;
                let parent_id = Some((parent.number, block.header.parent_hash));
                let (outcome, update, _) = self
                    .execute_and_merkleize(
                        &view, &reader, parent_id, &parent, block, &senders, started,
                    )
                    .map_err(|e| e.for_block(number, hash))?;
                return self.import_side_block(
                    &reader,
                    &view,
                    hash,
                    block,
                    &outcome.receipts,
                    &senders,
                    &update,
                    head,
                );
            }
            Checked::OnHead { executed, senders } => (*executed, senders),
        };
        let merkleized = started.elapsed();
        self.commit(hash, block, &outcome.receipts, &senders, &update)?;
        let timings = ImportTimings {
            execution: executed,
            state_root: merkleized - executed,
            commit: started.elapsed() - merkleized,
        };
        log_imported(number, hash, block, outcome.gas_used, &timings);
        timings.record();
        Ok(ImportOutcome::Imported {
            number,
            hash,
            gas_used: outcome.gas_used,
            timings,
        })
    }

    /// The checks and execution shared by every import path, over any view of the chain
    /// (`reader`: the store, or the store with a block still being written laid over it). A block
    /// on the head is executed on `reader`'s flat state; a known block or one on a side chain is
    /// reported back without executing.
    fn check_and_execute<'a, R>(
        &self,
        reader: &R,
        block: &Block,
        hash: B256,
        senders: impl FnOnce() -> Result<Cow<'a, [Address]>, BlockError>,
        started: Instant,
    ) -> Result<Checked<'a>, ChainError>
    where
        R: ChainReader<Error = StoreError> + StateReader<Error = StoreError> + NodeStore + Sync,
    {
        let number = block.header.number;
        let invalid = |error: BlockError| ChainError::InvalidBlock {
            number,
            hash,
            error,
        };
        if let Some(known) = reader.block_number(&hash)? {
            return Ok(Checked::Known(known));
        }
        let parent_hash = block.header.parent_hash;
        let parent = reader
            .header(&parent_hash)?
            .ok_or_else(|| invalid(BlockError::UnknownParent(parent_hash)))?;
        let head = reader.head_hash()?.ok_or(ChainError::NoHead)?;

        validate_header(&self.spec, &block.header, &parent).map_err(invalid)?;
        validate_body(block).map_err(invalid)?;
        let senders = senders().map_err(invalid)?;
        if head != parent_hash {
            return Ok(Checked::Side {
                parent: Box::new(parent),
                head,
                senders,
            });
        }
        let executed = self
            .execute_and_merkleize(reader, reader, None, &parent, block, &senders, started)
            .map_err(|e| e.for_block(number, hash))?;
        Ok(Checked::OnHead {
            executed: Box::new(executed),
            senders,
        })
    }

    /// Validate and execute `prepared` on `reader` without writing it, if it extends `reader`'s
    /// head: the first half of a pipelined import, whose second half,
    /// [`Blockchain::commit_executed`], can then run while the next block executes on a
    /// [`PendingOverlay`](crate::PendingOverlay). A known block or one on a side chain is handed
    /// back for [`Blockchain::import_prepared`].
    pub fn execute_on_head<R>(
        &self,
        reader: &R,
        prepared: PreparedBlock,
    ) -> Result<HeadExecution, ChainError>
    where
        R: ChainReader<Error = StoreError> + StateReader<Error = StoreError> + NodeStore + Sync,
    {
        // Decided before any validation, so a side block isn't validated twice.
        if reader.head_hash()? != Some(prepared.block.header.parent_hash) {
            return Ok(HeadExecution::NotOnHead(Box::new(prepared)));
        }
        let started = Instant::now();
        let checked = self.check_and_execute(
            reader,
            &prepared.block,
            prepared.hash,
            || prepared.borrowed_senders(),
            started,
        )?;
        let ((outcome, update, executed), senders) = match checked {
            Checked::OnHead { executed, senders } => (*executed, senders.into_owned()),
            Checked::Known(_) | Checked::Side { .. } => {
                return Ok(HeadExecution::NotOnHead(Box::new(prepared)));
            }
        };
        let timings = ImportTimings {
            execution: executed,
            state_root: started.elapsed() - executed,
            commit: Duration::ZERO,
        };
        Ok(HeadExecution::Executed(Box::new(ExecutedBlock {
            hash: prepared.hash,
            gas_used: outcome.gas_used,
            receipts: outcome.receipts,
            update,
            senders,
            timings,
            block: prepared.block,
        })))
    }

    /// Write a block from [`Blockchain::execute_on_head`] as the new head. Returns the time the
    /// write took. The store refuses it unless its parent is the head by then.
    pub fn commit_executed(&self, executed: &ExecutedBlock) -> Result<Duration, ChainError> {
        let started = Instant::now();
        self.commit(
            executed.hash,
            &executed.block,
            &executed.receipts,
            &executed.senders,
            &executed.update,
        )?;
        let mut timings = executed.timings;
        timings.commit = started.elapsed();
        log_imported(
            executed.block.header.number,
            executed.hash,
            &executed.block,
            executed.gas_used,
            &timings,
        );
        timings.record();
        Ok(timings.commit)
    }

    /// Execute `block` on `state` (its parent's) and compute the new state root; check both against
    /// the header. Returns the outcome, the state update and the time spent executing.
    #[allow(clippy::too_many_arguments)]
    fn execute_and_merkleize<
        S: StateReader<Error = StoreError> + NodeStore + Sync,
        C: ChainReader<Error = StoreError>,
    >(
        &self,
        state: &S,
        reader: &C,
        side_parent: Option<(u64, B256)>,
        parent: &Header,
        block: &Block,
        senders: &[Address],
        started: Instant,
    ) -> Result<(ExecutionOutcome, StateUpdate, Duration), ExecuteError> {
        let mut db = StoreDb::new(state, reader);
        if let Some((number, hash)) = side_parent {
            db = db.with_parent(number, hash);
        }
        let outcome = execute_block(&self.spec, db, block, senders)
            .map_err(|e| ExecuteError::Block(BlockError::Execution(e.to_string())))?;
        validate_outcome(&block.header, &outcome).map_err(ExecuteError::Block)?;
        let executed = started.elapsed();
        let update = compute_state_update(state, parent.state_root, &outcome.bundle)
            .map_err(|e| ExecuteError::Chain(e.into()))?;
        if update.state_root != block.header.state_root {
            return Err(ExecuteError::Block(BlockError::StateRoot {
                expected: update.state_root,
                got: block.header.state_root,
            }));
        }
        Ok((outcome, update, executed))
    }

    /// Store a valid block whose parent is not the head; if its chain is now the longest, make it
    /// canonical (unwinding the old head's blocks to the fork point in the same write).
    #[allow(clippy::too_many_arguments)]
    fn import_side_block(
        &self,
        reader: &StoreReader,
        parent_view: &StateView<'_>,
        hash: B256,
        block: &Block,
        receipts: &[Receipt],
        senders: &[Address],
        update: &StateUpdate,
        head: B256,
    ) -> Result<ImportOutcome, ChainError> {
        let number = block.header.number;
        let write = BlockWrite {
            hash,
            header: &block.header,
            body: &block.body,
            receipts,
            tx_hashes: &[],
            senders,
            state: &update.changes,
            // Not stored for a side block; the reorg below carries the trie.
            trie: &update.trie,
        };
        let head_number = reader.block_number(&head)?.ok_or(ChainError::NoHead)?;
        if number <= head_number {
            self.store.write_side_block(&write, None)?;
            debug!(number, %hash, head_number, "stored side-chain block");
            return Ok(ImportOutcome::SideChain { number, hash });
        }

        // The longest chain now: this block's non-canonical ancestors, oldest first.
        let mut ancestors = Vec::new();
        let mut cursor = block.header.parent_hash;
        loop {
            let header = reader.header(&cursor)?.ok_or_else(|| {
                ChainError::Store(keel_storage::StoreError::UnknownParent {
                    hash,
                    parent: cursor,
                })
            })?;
            if reader.canonical_hash(header.number)? == Some(cursor) {
                break;
            }
            ancestors.push(cursor);
            cursor = header.parent_hash;
        }
        ancestors.reverse();
        // Head's tries → parent's (the view's writes), then the block's own: the new head's.
        let trie = parent_view
            .trie_writes()?
            .clone()
            .compose(update.trie.clone());
        self.store.write_side_block(
            &write,
            Some(ReorgWrite {
                ancestors: &ancestors,
                trie: &trie,
            }),
        )?;
        self.notify(hash, block, receipts);
        let fork_number = number - 1 - ancestors.len() as u64;
        let unwound = head_number - fork_number;
        info!(number, %hash, fork_number, unwound, "reorg: a side chain became the longest");
        Ok(ImportOutcome::Reorged {
            number,
            hash,
            unwound,
        })
    }

    /// Build a block on the head from the candidates of `source` (best first): each is executed
    /// in turn and those that are invalid or don't fit (the gas left, or the state diff budget of
    /// [`BlockAttributes::max_state_diff_bytes`]) are left out and reported to the source.
    /// The header's commitments are filled in and the block is stored as the new head.
    pub fn build_block(
        &self,
        attributes: &BlockAttributes,
        source: &mut impl TxSource,
    ) -> Result<BuiltBlock, ChainError> {
        let started = Instant::now();
        let reader = self.store.reader()?;
        let (parent_hash, parent) = reader.head()?.ok_or(ChainError::NoHead)?;
        let mut header = next_header(&self.spec, &parent, parent_hash, attributes);
        if self.spec.fees.is_some() {
            header.extra_data = next_l1_prices(&reader, attributes.l1_prices)?.to_extra_data();
        }
        let number = header.number;
        let built = keel_evm::build_block(
            &self.spec,
            StoreDb::new(&reader, &reader),
            &header,
            source,
            attributes.max_state_diff_bytes,
        )
        .map_err(|e| ChainError::Build {
            number,
            reason: e.to_string(),
        })?;
        if let Some(budget) = attributes.max_state_diff_bytes
            && built.state_diff_bound > budget
        {
            warn!(
                number,
                bound = built.state_diff_bound,
                budget,
                "the privileged transactions alone exceed the block's state diff budget: the \
                 block ends after them, and its diff may not fit a blob"
            );
        }
        let state_diff_bound = built.state_diff_bound;
        let executed = started.elapsed();
        let outcome = built.outcome;
        let update = compute_state_update(&reader, parent.state_root, &outcome.bundle)?;
        let merkleized = started.elapsed();

        let body = BlockBody {
            transactions: built.transactions,
            ommers: Vec::new(),
            withdrawals: header.withdrawals_root.map(|_| Default::default()),
        };
        header.transactions_root = calculate_transaction_root(&body.transactions);
        header.gas_used = outcome.gas_used;
        header.receipts_root = calculate_receipt_root(&outcome.receipts);
        header.logs_bloom = logs_bloom(&outcome.receipts);
        header.state_root = update.state_root;
        if header.blob_gas_used.is_some() {
            header.blob_gas_used = Some(outcome.blob_gas_used);
        }
        if header.requests_hash.is_some() {
            header.requests_hash = Some(outcome.requests.requests_hash());
        }
        let block = Block { header, body };
        let hash = block.header.hash_slow();
        self.commit(hash, &block, &outcome.receipts, &built.senders, &update)?;
        let timings = ImportTimings {
            execution: executed,
            state_root: merkleized - executed,
            commit: started.elapsed() - merkleized,
        };
        timings.record();
        Ok(BuiltBlock {
            hash,
            block,
            receipts: outcome.receipts,
            senders: built.senders,
            timings,
            state_diff_bound,
        })
    }

    /// New canonical heads as they are stored, for RPC subscriptions, filters and waiters.
    /// A receiver that falls behind by more than [`EVENT_CAPACITY`] blocks gets `Lagged`.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<NewBlock>> {
        self.events.subscribe()
    }

    /// The EIP-1559 base fee of the block that would follow the head.
    pub fn next_base_fee(&self) -> Result<u64, ChainError> {
        let (_, head) = self.store.reader()?.head()?.ok_or(ChainError::NoHead)?;
        Ok(self.spec.next_base_fee(&head))
    }

    /// Store a block whose execution and state update are done.
    fn commit(
        &self,
        hash: B256,
        block: &Block,
        receipts: &[Receipt],
        senders: &[Address],
        update: &StateUpdate,
    ) -> Result<(), ChainError> {
        let tx_hashes: Vec<B256> = block
            .body
            .transactions
            .iter()
            .map(|tx| *tx.tx_hash())
            .collect();
        self.store.write_block(&BlockWrite {
            hash,
            header: &block.header,
            body: &block.body,
            receipts,
            tx_hashes: &tx_hashes,
            senders,
            state: &update.changes,
            trie: &update.trie,
        })?;
        self.notify(hash, block, receipts);
        Ok(())
    }

    /// Tell subscribers about a new head; costs nothing when nobody listens (e.g. during import).
    fn notify(&self, hash: B256, block: &Block, receipts: &[Receipt]) {
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(Arc::new(NewBlock {
                hash,
                block: block.clone(),
                receipts: receipts.to_vec(),
            }));
        }
    }
}

/// Why executing a block failed: the block broke a rule, or the node did.
enum ExecuteError {
    Block(BlockError),
    Chain(ChainError),
}

impl ExecuteError {
    fn for_block(self, number: u64, hash: B256) -> ChainError {
        match self {
            ExecuteError::Block(error) => ChainError::InvalidBlock {
                number,
                hash,
                error,
            },
            ExecuteError::Chain(e) => e,
        }
    }
}

/// What [`Blockchain::check_and_execute`] found.
enum Checked<'a> {
    Known(u64),
    Side {
        parent: Box<Header>,
        head: B256,
        senders: Cow<'a, [Address]>,
    },
    OnHead {
        executed: Box<(ExecutionOutcome, StateUpdate, Duration)>,
        /// Kept to be stored with the block.
        senders: Cow<'a, [Address]>,
    },
}

/// A block validated and executed on top of the head, not yet written.
#[derive(Debug)]
pub struct ExecutedBlock {
    pub hash: B256,
    pub block: Block,
    pub receipts: Vec<Receipt>,
    pub update: StateUpdate,
    /// Sender of each transaction, stored with the block.
    pub senders: Vec<Address>,
    pub gas_used: u64,
    /// Execution and state-root time (the commit is timed by [`Blockchain::commit_executed`]).
    pub timings: ImportTimings,
}

/// What [`Blockchain::execute_on_head`] did with a block.
#[derive(Debug)]
pub enum HeadExecution {
    Executed(Box<ExecutedBlock>),
    /// Known, or not on the head: import it with [`Blockchain::import_prepared`].
    NotOnHead(Box<PreparedBlock>),
}

fn log_imported(number: u64, hash: B256, block: &Block, gas: u64, timings: &ImportTimings) {
    debug!(
        number,
        %hash,
        txs = block.body.transactions.len(),
        gas,
        exec_ms = timings.execution.as_millis() as u64,
        root_ms = timings.state_root.as_millis() as u64,
        store_ms = timings.commit.as_millis() as u64,
        "imported block"
    );
}

/// A decoded block with its hash and recovered senders (or the signature error), ready to import.
#[derive(Debug, Clone)]
pub struct PreparedBlock {
    pub block: Block,
    pub hash: B256,
    pub senders: Result<Vec<Address>, BlockError>,
}

impl PreparedBlock {
    /// The recovered senders, borrowed, or the signature error.
    fn borrowed_senders(&self) -> Result<Cow<'_, [Address]>, BlockError> {
        self.senders
            .as_deref()
            .map(Cow::Borrowed)
            .map_err(Clone::clone)
    }

    /// Hash the header and recover the senders on the calling thread (meant to run beside the
    /// importer, one block ahead).
    pub fn new(block: Block) -> Self {
        let hash = block.header.hash_slow();
        let senders = recover_senders_on_this_thread(&block.body.transactions);
        Self {
            block,
            hash,
            senders,
        }
    }
}

/// Time spent in each phase of importing one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportTimings {
    pub execution: Duration,
    pub state_root: Duration,
    pub commit: Duration,
}

impl ImportTimings {
    /// Record the phases in the `keel_block_{execute,state_root,store}_duration_seconds`
    /// histograms (for every block that becomes the head by being built or imported on it).
    pub fn record(&self) {
        metrics::histogram!("keel_block_execute_duration_seconds")
            .record(self.execution.as_secs_f64());
        metrics::histogram!("keel_block_state_root_duration_seconds")
            .record(self.state_root.as_secs_f64());
        metrics::histogram!("keel_block_store_duration_seconds").record(self.commit.as_secs_f64());
    }
}

/// What the block producer decides about the next block; the rest follows from the parent.
#[derive(Debug, Clone, Default)]
pub struct BlockAttributes {
    pub timestamp: u64,
    pub coinbase: Address,
    pub gas_limit: u64,
    pub prev_randao: B256,
    /// The header's `extraData`, on a chain without the L1 fee rule. With it, `extraData` holds
    /// the block's L1 prices instead (see [`Self::l1_prices`]).
    pub extra_data: Bytes,
    /// On a chain with the L1 fee rule (docs/fees.md): the L1 prices L1 shows now (from the
    /// L1 watcher). The block charges at the parent's prices moved one step toward them
    /// ([`keel_types::L1Prices::toward`]); `None` keeps the parent's.
    pub l1_prices: Option<keel_types::L1Prices>,
    /// Most bytes the block's own state diff v1 may take (an upper bound of it is kept as
    /// transactions are added, see [`keel_evm::build_block`]); `None` for no limit but gas.
    pub max_state_diff_bytes: Option<usize>,
}

/// The timestamp a block built now on `parent` gets: the wall clock in whole seconds, but always
/// past the parent's (so with sub-second block times timestamps run ahead of the clock).
pub fn next_block_timestamp(parent: &Header) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    now.max(parent.timestamp.saturating_add(1))
}

/// The L1 prices of the block built on the head of `reader` (on a chain with the L1 fee rule):
/// the head's, from the `GasPriceOracle`, moved one step toward `observed`.
pub fn next_l1_prices(
    reader: &StoreReader,
    observed: Option<keel_types::L1Prices>,
) -> Result<keel_types::L1Prices, ChainError> {
    use keel_storage::StateReader as _;
    use keel_types::fees::{GAS_PRICE_ORACLE_ADDRESS, slots};
    let read =
        |slot: alloy_primitives::U256| reader.storage(&GAS_PRICE_ORACLE_ADDRESS, &B256::from(slot));
    let u64_of = |v: alloy_primitives::U256| u64::try_from(v).unwrap_or(u64::MAX);
    let parent = keel_types::L1Prices {
        base_fee: u64_of(read(slots::L1_BASE_FEE)?),
        blob_base_fee: u64_of(read(slots::BLOB_BASE_FEE)?),
    };
    Ok(observed.map_or(parent, |observed| parent.toward(&observed)))
}

/// The fee params (docs/fees.md) of the block built on the head of `reader`, on a chain with the
/// L1 fee rule: its L1 prices ([`next_l1_prices`]) and the scalars the oracle holds now.
pub fn next_fee_params(
    reader: &StoreReader,
    observed: Option<keel_types::L1Prices>,
) -> Result<keel_types::FeeParams, ChainError> {
    use keel_storage::StateReader as _;
    use keel_types::fees::GAS_PRICE_ORACLE_ADDRESS;
    let mut params = keel_types::FeeParams::from_storage(|slot| {
        reader.storage(&GAS_PRICE_ORACLE_ADDRESS, &B256::from(slot))
    })?;
    params.prices = next_l1_prices(reader, observed)?;
    Ok(params)
}

/// The header of the child of `parent`, with every commitment still to be filled in.
fn next_header(
    spec: &ChainSpec,
    parent: &Header,
    parent_hash: B256,
    attrs: &BlockAttributes,
) -> Header {
    let ts = attrs.timestamp;
    let blob_params = spec.blob_params_at(ts);
    Header {
        parent_hash,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: attrs.coinbase,
        number: parent.number + 1,
        gas_limit: attrs.gas_limit,
        timestamp: ts,
        extra_data: attrs.extra_data.clone(),
        mix_hash: attrs.prev_randao,
        base_fee_per_gas: parent.next_block_base_fee(spec.base_fee_params),
        withdrawals_root: spec
            .is_shanghai_active_at_timestamp(ts)
            .then_some(EMPTY_ROOT_HASH),
        blob_gas_used: blob_params.map(|_| 0),
        excess_blob_gas: blob_params.map(|p| parent.next_block_excess_blob_gas(p).unwrap_or(0)),
        parent_beacon_block_root: blob_params.map(|_| B256::ZERO),
        requests_hash: spec
            .is_prague_active_at_timestamp(ts)
            .then_some(EMPTY_REQUESTS_HASH),
        ..Default::default()
    }
}
