//! Building the [`ProverInput`] of a sealed batch from the store: its blocks, the execution
//! witness recorded by re-executing them over the trie (`keel_chain::record_witness`), its blob
//! and the versioned hash it was sealed with.

use alloy_primitives::{Address, B256, Bytes};
use keel_chain::{Blockchain, WitnessError, record_witness};
use keel_prover::ProverInput;
use keel_storage::StoreError;
use keel_types::{BlobError, pack_blob};

/// Why a batch's prover input could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ProverInputError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("batch {0} is not sealed")]
    UnknownBatch(u64),
    #[error("witness of batch {batch}: {source}")]
    Witness { batch: u64, source: WitnessError },
    #[error("blob of batch {batch}: {source}")]
    Blob { batch: u64, source: BlobError },
}

/// Where the batch's attestations are checked: the chain config and the L1 side.
#[derive(Debug, Clone)]
pub struct ProverInputContext {
    /// The L2 genesis's `config` object, as JSON.
    pub chain_config: String,
    pub l1_chain_id: u64,
    pub on_chain_proposer: Address,
}

/// The prover input of sealed batch `number`.
pub fn build_prover_input(
    chain: &Blockchain,
    context: &ProverInputContext,
    number: u64,
) -> Result<ProverInput, ProverInputError> {
    let store = chain.store();
    let batch = store
        .batch(number)?
        .ok_or(ProverInputError::UnknownBatch(number))?;
    let reader = store.reader()?;
    let recorded = record_witness(
        &reader,
        chain.spec_arc(),
        batch.first_block,
        batch.last_block,
    )
    .map_err(|source| ProverInputError::Witness {
        batch: number,
        source,
    })?;
    let (blob, blob_versioned_hash) = match store.batch_blob(number)? {
        Some(sealed) => {
            let packed = pack_blob(&sealed.payload).map_err(|source| ProverInputError::Blob {
                batch: number,
                source,
            })?;
            (Some(Bytes::from(packed.to_vec())), sealed.versioned_hash)
        }
        None => (None, B256::ZERO),
    };
    Ok(ProverInput {
        batch_number: number,
        chain_config: context.chain_config.clone(),
        l1_chain_id: context.l1_chain_id,
        on_chain_proposer: context.on_chain_proposer,
        blocks: recorded
            .blocks
            .iter()
            .map(|block| Bytes::from(alloy_rlp::encode(block)))
            .collect(),
        witness: recorded.witness,
        blob,
        blob_versioned_hash,
    })
}
