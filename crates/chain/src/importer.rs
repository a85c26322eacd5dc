//! Bulk import of a stream of blocks (an RLP block file): decode and recover senders one block ahead on a second
//! thread, import in order, and make the store durable in groups. Shared by `keel import` and the import benchmark so both measure and do the
//! same thing.

use std::time::{Duration, Instant};

use crate::{
    Blockchain, ChainError, ImportOutcome, ImportTimings, PreparedBlock, rlp_file::RlpFileError,
};
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
    #[error(transparent)]
    Store(#[from] keel_storage::StoreError),
}

/// Import every block of `blocks` (e.g. an [`RlpBlocks`] over a file) into `chain`, keeping
/// running totals in `stats` (they stay valid when the import stops early). `on_block` sees the totals after each imported block (for
/// progress logs). On error, the blocks before the failing one stay imported and durable.
pub fn import_blocks(
    chain: &Blockchain,
    blocks: impl Iterator<Item = Result<Block, RlpFileError>> + Send,
    policy: SyncPolicy,
    stats: &mut ImportStats,
    mut on_block: impl FnMut(&ImportStats),
) -> Result<(), ImportError> {
    let store = chain.store();
    store.set_deferred_sync(true);
    let started = Instant::now();
    let result = import_all(chain, blocks, policy, stats, &mut on_block);
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
) -> Result<(), ImportError> {
    // Decoding and sender recovery (the most CPU-heavy step that needs no state) run one block
    // ahead on another thread, while this one executes, merkleizes and commits.
    std::thread::scope(|scope| {
        let (tx, rx) =
            std::sync::mpsc::sync_channel::<Result<PreparedBlock, RlpFileError>>(PIPELINE_DEPTH);
        scope.spawn(move || {
            for block in blocks {
                if tx.send(block.map(PreparedBlock::new)).is_err() {
                    break; // the importer stopped
                }
            }
        });

        let mut last_sync = Instant::now();
        let mut unsynced = 0u64;
        for (index, prepared) in rx.into_iter().enumerate() {
            let prepared = prepared?;
            let outcome =
                chain
                    .import_prepared(&prepared)
                    .map_err(|source| ImportError::Rejected {
                        position: index + 1,
                        source,
                    })?;
            match outcome {
                ImportOutcome::Imported {
                    number,
                    gas_used,
                    timings,
                    ..
                } => {
                    stats.imported += 1;
                    stats.gas += gas_used;
                    stats.txs += prepared.block.body.transactions.len() as u64;
                    stats.last_number = number;
                    stats.timings.execution += timings.execution;
                    stats.timings.state_root += timings.state_root;
                    stats.timings.commit += timings.commit;
                    unsynced += 1;
                    if unsynced >= policy.every_blocks || last_sync.elapsed() >= policy.every {
                        let sync_started = Instant::now();
                        chain.store().sync()?;
                        stats.timings.commit += sync_started.elapsed();
                        last_sync = Instant::now();
                        unsynced = 0;
                    }
                    on_block(stats);
                }
                ImportOutcome::SideChain { .. } => stats.side_chain += 1,
                ImportOutcome::Reorged { number, .. } => {
                    stats.imported += 1;
                    stats.last_number = number;
                    on_block(stats);
                }
                ImportOutcome::AlreadyKnown { .. } => stats.already_known += 1,
            }
        }
        Ok(())
    })
}
