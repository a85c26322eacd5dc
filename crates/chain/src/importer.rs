//! Bulk import of a stream of blocks (an RLP block file), pipelined: decode and recover senders
//! one block ahead, execute block N+1 while block N is written, and make the store durable in
//! groups. Shared by `keel import` and the import benchmark so both measure and do the
//! same thing.
//!
//! A caller can refuse blocks before they are executed with a [`BlockCheck`] (`keel import`
//! checks privileged transactions against the L1 bridge with one): a refused block is not
//! executed and nothing of it is stored, the blocks before it are, and the import stops there.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use crate::{
    Blockchain, ChainError, ExecutedBlock, HeadExecution, ImportOutcome, ImportTimings,
    PendingOverlay, PreparedBlock, rlp_file::RlpFileError,
};
use alloy_primitives::B256;
use keel_types::Block;

/// Blocks decoded and recovered ahead of the one being imported.
const PIPELINE_DEPTH: usize = 2;

/// How often imported blocks are fsynced. Every block is written atomically either way; a crash
/// loses at most the blocks since the last sync, and the next run imports them again.
#[derive(Debug, Clone, Copy)]
pub struct SyncPolicy {
    pub every_blocks: u64,
    pub every: Duration,
}

impl Default for SyncPolicy {
    fn default() -> Self {
        Self {
            every_blocks: 128,
            every: Duration::from_secs(5),
        }
    }
}

/// Running totals of an import.
#[derive(Debug, Clone, Default)]
pub struct ImportStats {
    pub imported: u64,
    pub already_known: u64,
    /// Valid blocks of a shorter side chain: stored, not canonical.
    pub side_chain: u64,
    pub gas: u64,
    pub txs: u64,
    /// Sum of the per-block phase timings.
    pub timings: ImportTimings,
    pub elapsed: Duration,
    /// Number of the last block imported.
    pub last_number: u64,
}

/// Why an import stopped early. The store holds every block before the failing one.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Decode(#[from] RlpFileError),
    #[error("block {position} of the file rejected: {source}")]
    Rejected {
        /// Position in the file, from 1.
        position: usize,
        #[source]
        source: ChainError,
    },
    /// The caller's [`BlockCheck`] refused the block: nothing of it was stored.
    #[error("block {position} of the file (number {number}, hash {hash}) refused: {reason}")]
    Refused {
        /// Position in the file, from 1.
        position: usize,
        /// Its number.
        number: u64,
        /// Its hash.
        hash: B256,
        /// Why, as the check said.
        reason: String,
    },
    #[error(transparent)]
    Store(#[from] keel_storage::StoreError),
    #[error("the block writer thread panicked")]
    WriterPanicked,
}

/// Import every block of `blocks` (e.g. an [`RlpBlocks`](crate::rlp_file::RlpBlocks) over a
/// file) into `chain`, keeping running totals in `stats` (they stay valid when the import stops
/// early). `on_block` sees the totals after each imported block (for progress logs). On error, the
/// blocks before the failing one stay imported and durable.
pub fn import_blocks(
    chain: &Blockchain,
    blocks: impl Iterator<Item = Result<Block, RlpFileError>> + Send,
    policy: SyncPolicy,
    stats: &mut ImportStats,
    on_block: impl FnMut(&ImportStats),
) -> Result<(), ImportError> {
    import_checked_blocks(chain, blocks, policy, stats, on_block, |_: &Block| Ok(()))
}

/// Checks a block before it is executed; `Err(reason)` refuses it. Called once per block, in
/// file order, on the decoding thread (one block or two ahead of the one being executed).
pub trait BlockCheck: Send {
    /// `Ok` to import `block`, `Err(why)` to refuse it and stop the import.
    fn check(&mut self, block: &Block) -> Result<(), String>;
}

impl<F: FnMut(&Block) -> Result<(), String> + Send> BlockCheck for F {
    fn check(&mut self, block: &Block) -> Result<(), String> {
        self(block)
    }
}

/// [`import_blocks`] with `check` run on every block before it is executed: the first block it
/// refuses stops the import with [`ImportError::Refused`], nothing of that block stored and
/// every block before it imported and durable.
pub fn import_checked_blocks(
    chain: &Blockchain,
    blocks: impl Iterator<Item = Result<Block, RlpFileError>> + Send,
    policy: SyncPolicy,
    stats: &mut ImportStats,
    mut on_block: impl FnMut(&ImportStats),
    check: impl BlockCheck,
) -> Result<(), ImportError> {
    let store = chain.store();
    store.set_deferred_sync(true);
    let started = Instant::now();
    let result = import_all(chain, blocks, policy, stats, &mut on_block, check);
    store.set_deferred_sync(false);
    let synced = store.sync();
    stats.elapsed = started.elapsed();
    result?;
    Ok(synced?)
}

fn import_all(
    chain: &Blockchain,
    blocks: impl Iterator<Item = Result<Block, RlpFileError>> + Send,
    policy: SyncPolicy,
    stats: &mut ImportStats,
    on_block: &mut impl FnMut(&ImportStats),
    mut check: impl BlockCheck,
) -> Result<(), ImportError> {
    // Three stages on their own threads: decoding and sender recovery run one block ahead; the
    // main thread validates, executes and merkleizes block N+1 on the store with block N laid over
    // it (`PendingOverlay`) while a writer thread writes block N. Writes stay in order, one whole
    // block per write transaction, so crash safety is unchanged.
    std::thread::scope(|scope| {
        let (tx, rx) =
            std::sync::mpsc::sync_channel::<Result<PreparedBlock, ImportError>>(PIPELINE_DEPTH);
        scope.spawn(move || {
            for (index, block) in blocks.enumerate() {
                let item = match block {
                    Ok(block) => match check.check(&block) {
                        Ok(()) => Ok(PreparedBlock::new(block)),
                        Err(reason) => Err(ImportError::Refused {
                            position: index + 1,
                            number: block.header.number,
                            hash: block.header.hash_slow(),
                            reason,
                        }),
                    },
                    Err(e) => Err(ImportError::Decode(e)),
                };
                let stop = item.is_err();
                if tx.send(item).is_err() || stop {
                    break; // the importer stopped, or will at this item
                }
            }
        });
        let mut writer = Writer {
            chain,
            policy,
            last_sync: Instant::now(),
            unsynced: 0,
        };
        let mut pending: Option<Pending<'_>> = None;
        let result = (|| {
            for (index, prepared) in rx.into_iter().enumerate() {
                let prepared = prepared?;
                let rejected = |source| ImportError::Rejected {
                    position: index + 1,
                    source,
                };
                let base = chain.store().reader()?;
                let executed = match &pending {
                    Some(p) => {
                        chain.execute_on_head(&PendingOverlay::new(&base, &p.block), prepared)
                    }
                    None => chain.execute_on_head(&base, prepared),
                };
                // Whatever happened to this block, the previous one is written first.
                writer.finish(pending.take(), stats, on_block)?;
                let executed = executed.map_err(rejected)?;
                match executed {
                    HeadExecution::Executed(block) => {
                        let block = Arc::new(*block);
                        let write = Arc::clone(&block);
                        let handle = scope.spawn(move || chain.commit_executed(&write));
                        pending = Some(Pending {
                            block,
                            handle,
                            index,
                        });
                    }
                    HeadExecution::NotOnHead(prepared) => {
                        // Known or on a side chain: the ordinary path, with nothing in flight.
                        let outcome = chain.import_prepared(&prepared).map_err(rejected)?;
                        writer.record(
                            outcome,
                            prepared.block.body.transactions.len(),
                            stats,
                            on_block,
                        )?;
                    }
                }
            }
            Ok(())
        })();
        let finished = writer.finish(pending.take(), stats, on_block);
        result.and(finished)
    })
}

/// A block being written on the writer thread.
struct Pending<'scope> {
    block: Arc<ExecutedBlock>,
    handle: std::thread::ScopedJoinHandle<'scope, Result<Duration, ChainError>>,
    /// Position of the block in the input, from 0.
    index: usize,
}

/// Accounts for written blocks and fsyncs by the policy.
struct Writer<'a> {
    chain: &'a Blockchain,
    policy: SyncPolicy,
    last_sync: Instant,
    unsynced: u64,
}

impl Writer<'_> {
    /// Wait for the pending write (if any) and account for it.
    fn finish(
        &mut self,
        pending: Option<Pending<'_>>,
        stats: &mut ImportStats,
        on_block: &mut impl FnMut(&ImportStats),
    ) -> Result<(), ImportError> {
        let Some(Pending {
            block,
            handle,
            index,
        }) = pending
        else {
            return Ok(());
        };
        let commit = handle
            .join()
            .map_err(|_| ImportError::WriterPanicked)?
            .map_err(|source| ImportError::Rejected {
                position: index + 1,
                source,
            })?;
        let mut timings = block.timings;
        timings.commit = commit;
        let outcome = ImportOutcome::Imported {
            number: block.block.header.number,
            hash: block.hash,
            gas_used: block.gas_used,
            timings,
        };
        self.record(
            outcome,
            block.block.body.transactions.len(),
            stats,
            on_block,
        )
    }

    /// Count one block's outcome, and fsync when the policy says so (never while a write is in
    /// flight: `finish` joined it first).
    fn record(
        &mut self,
        outcome: ImportOutcome,
        txs: usize,
        stats: &mut ImportStats,
        on_block: &mut impl FnMut(&ImportStats),
    ) -> Result<(), ImportError> {
        let number = match outcome {
            ImportOutcome::Imported {
                number,
                gas_used,
                timings,
                ..
            } => {
                stats.gas += gas_used;
                stats.timings.execution += timings.execution;
                stats.timings.state_root += timings.state_root;
                stats.timings.commit += timings.commit;
                number
            }
            ImportOutcome::Reorged { number, .. } => number,
            ImportOutcome::SideChain { .. } => {
                stats.side_chain += 1;
                return Ok(());
            }
            ImportOutcome::AlreadyKnown { .. } => {
                stats.already_known += 1;
                return Ok(());
            }
        };
        stats.imported += 1;
        stats.txs += txs as u64;
        stats.last_number = number;
        self.unsynced += 1;
        if self.unsynced >= self.policy.every_blocks
            || self.last_sync.elapsed() >= self.policy.every
        {
            let sync_started = Instant::now();
            self.chain.store().sync()?;
            stats.timings.commit += sync_started.elapsed();
            self.last_sync = Instant::now();
            self.unsynced = 0;
        }
        on_block(stats);
        Ok(())
    }
}
