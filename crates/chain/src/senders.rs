//! Sender recovery, in parallel: it is the most CPU-heavy step that doesn't depend on state.

use alloy_consensus::transaction::SignerRecoverable;
use alloy_primitives::Address;
use rayon::prelude::*;

use crate::BlockError;
use keel_types::Transaction;

/// Below this many transactions the thread hand-off costs more than it saves.
const PARALLEL_THRESHOLD: usize = 16;

/// Recover every transaction's sender (libsecp256k1), failing on the first bad signature.
pub fn recover_senders(txs: &[Transaction]) -> Result<Vec<Address>, BlockError> {
    let recover = |(index, tx): (usize, &Transaction)| {
        tx.recover_signer()
            .map_err(|_| BlockError::Signature { index })
    };
    if txs.len() < PARALLEL_THRESHOLD {
        txs.iter().enumerate().map(recover).collect()
    } else {
        txs.par_iter().enumerate().map(recover).collect()
    }
}
