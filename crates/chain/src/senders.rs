//! Sender recovery, in parallel: it is the most CPU-heavy step that doesn't depend on state.

use alloy_consensus::transaction::SignerRecoverable;
use alloy_primitives::Address;
use rayon::prelude::*;

use crate::BlockError;
use keel_types::Transaction;

/// Below this many transactions the thread hand-off costs more than it saves.
const PARALLEL_THRESHOLD: usize = 16;

/// Recover every transaction's sender (libsecp256k1) on the rayon pool, failing on the first bad
/// signature. A privileged transaction has no signature: its sender is its `from`.
pub fn recover_senders(txs: &[Transaction]) -> Result<Vec<Address>, BlockError> {
    if txs.len() < PARALLEL_THRESHOLD {
        recover_senders_on_this_thread(txs)
    } else {
        txs.par_iter().enumerate().map(recover).collect()
    }
}

/// Recover senders without the rayon pool: for a thread that already runs beside the importer
/// (the import pipeline), where fanning out would only compete with the block being executed.
pub fn recover_senders_on_this_thread(txs: &[Transaction]) -> Result<Vec<Address>, BlockError> {
    txs.iter().enumerate().map(recover).collect()
}

fn recover((index, tx): (usize, &Transaction)) -> Result<Address, BlockError> {
    tx.recover_signer()
        .map_err(|_| BlockError::Signature { index })
}
