//! The stateless batch program: [`prove_batch`]. Pure: its only input is the [`ProverInput`], its
//! only output the public inputs or the reason the batch is not valid.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    sync::Arc,
};

use alloy_consensus::transaction::SignerRecoverable;
use alloy_eips::eip4844::{
    BYTES_PER_BLOB, c_kzg, env_settings::EnvKzgSettings, kzg_to_versioned_hash,
};
use alloy_primitives::{Address, B256, KECCAK256_EMPTY};
use alloy_trie::EMPTY_ROOT_HASH;
use keel_evm::{
    BlockError, StoreDb, batch_diff::StateDiffAccumulator, compute_state_update, execute_block,
    validate_body, validate_header, validate_outcome,
};
use keel_types::{
    CodeChange, L1Message, PublicInputs, StateDiff, decode_state_diff_payload,
    privileged_rolling_hash, unpack_blob, withdrawals_root,
};
use rayon::prelude::*;

use crate::{
    InputError, ProverInput,
    witness_state::{WitnessReadError, WitnessState},
};

/// Why a batch does not prove. Each failure of the witness, the blocks or the blob has its own
/// variant, so a rejected batch says what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("the batch has no blocks")]
    NoBlocks,
    #[error("the witness has no parent header")]
    NoParentHeader,
    #[error("witness header {index} is not the parent of the header before it")]
    HeaderChain { index: usize },
    #[error(
        "block {number} does not follow the previous block (parent hash {got}, expected {expected})"
    )]
    ParentHash {
        number: u64,
        expected: B256,
        got: B256,
    },
    #[error(
        "the witness holds node {0}, which no trie under the initial state root reaches (the witness was altered, or lacks a node above it)"
    )]
    UnreachableWitnessNode(B256),
    #[error("the witness lacks trie node {node}, needed by block {block}")]
    MissingWitnessNode { block: u64, node: B256 },
    #[error("the witness lacks trie node {0}, needed to build the state diff")]
    MissingDiffNode(B256),
    #[error("block {number} is invalid: {error}")]
    InvalidBlock { number: u64, error: BlockError },
    #[error("block {number}: transaction {index} has an invalid signature")]
    Signature { number: u64, index: usize },
    #[error("block {number}: state root {got} in the header, {computed} computed")]
    StateRoot {
        number: u64,
        computed: B256,
        got: B256,
    },
    #[error("witness read: {0}")]
    Read(WitnessReadError),
    #[error("account {0} had storage and was destroyed: the diff can't be computed statelessly")]
    DestroyedWithStorage(Address),
    #[error("state diff: {0}")]
    Diff(String),
    #[error("the blob is {0} bytes, a blob is 131072")]
    BlobSize(usize),
    #[error("the blob does not decode: {0}")]
    BlobDecode(String),
    #[error("the blob's state diff differs from the batch's ({0})")]
    BlobDiffMismatch(String),
    #[error("the blob's versioned hash is {computed}, the commit has {committed}")]
    BlobHashMismatch { computed: B256, committed: B256 },
    #[error("validium batch with a committed blob hash {0}, or a blob without one")]
    BlobPresence(B256),
    #[error("KZG: {0}")]
    Kzg(String),
    #[error("more than 65535 privileged transactions in one batch")]
    TooManyPrivileged,
}

/// Load what the program needs once per process (the KZG trusted setup, ~150 ms), so the first
/// batch is not slower than the others. Calling it is optional.
pub fn warm_up() {
    let _ = EnvKzgSettings::Default.get();
}

/// Re-execute the batch statelessly and return its public inputs (see the crate docs).
pub fn prove_batch(input: &ProverInput) -> Result<PublicInputs, ProgramError> {
    let spec = Arc::new(input.chain_spec()?);
    let blocks = input.decode_blocks()?;
    let headers = input.decode_headers()?;
    let parent = headers.first().ok_or(ProgramError::NoParentHeader)?;
    if blocks.is_empty() {
        return Err(ProgramError::NoBlocks);
    }

    // Ancestors are authenticated by the parent chain from the parent header.
    let mut by_hash = HashMap::with_capacity(headers.len());
    let mut hashes = Vec::with_capacity(headers.len());
    for header in &headers {
        hashes.push(header.hash_slow());
    }
    for (index, pair) in headers.windows(2).enumerate() {
        if pair[0].parent_hash != hashes[index + 1] {
            return Err(ProgramError::HeaderChain { index: index + 1 });
        }
    }
    for (header, hash) in headers.iter().zip(&hashes) {
        by_hash.insert(*hash, header.clone());
    }
    let parent_hash = hashes[0];
    let initial_root = parent.state_root;

    let mut state = WitnessState::new(
        &input.witness.state,
        &input.witness.codes,
        by_hash,
        initial_root,
    );
    if let Some(node) = state
        .unreachable_nodes(initial_root, &input.witness.state)
        .first()
    {
        return Err(ProgramError::UnreachableWitnessNode(*node));
    }

    let mut previous = (parent.clone(), parent_hash);
    let mut touched: BTreeMap<Address, BTreeSet<B256>> = BTreeMap::new();
    let mut destroyed = HashSet::new();
    let mut privileged = Vec::new();
    let mut non_privileged = 0u64;
    let mut leaves = Vec::new();
    let mut acc = StateDiffAccumulator::new();

    for block in &blocks {
        let number = block.header.number;
        let invalid = |error| ProgramError::InvalidBlock { number, error };
        if block.header.parent_hash != previous.1 {
            return Err(ProgramError::ParentHash {
                number,
                expected: previous.1,
                got: block.header.parent_hash,
            });
        }
        validate_header(&spec, &block.header, &previous.0).map_err(invalid)?;
        validate_body(block).map_err(invalid)?;
        // Signature recovery dominates a batch of transfers: spread it over the cores.
        let senders = block
            .body
            .transactions
            .par_iter()
            .enumerate()
            .map(|(index, tx)| {
                tx.recover_signer()
                    .map_err(|_| ProgramError::Signature { number, index })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let db = StoreDb::new(&state, &state).with_parent(previous.0.number, previous.1);
        let outcome = match execute_block(&spec, db, block, &senders) {
            Ok(outcome) => outcome,
            Err(e) => {
                if let Some(node) = state.missing_node() {
                    return Err(ProgramError::MissingWitnessNode {
                        block: number,
                        node,
                    });
                }
                return Err(invalid(BlockError::Execution(e.to_string())));
            }
        };
        validate_outcome(&block.header, &outcome).map_err(invalid)?;
        let update =
            compute_state_update(&state, state.root(), &outcome.bundle).map_err(|e| match state
                .missing_node()
            {
                Some(node) => ProgramError::MissingWitnessNode {
                    block: number,
                    node,
                },
                None => ProgramError::Read(e),
            })?;
        if update.state_root != block.header.state_root {
            return Err(ProgramError::StateRoot {
                number,
                computed: update.state_root,
                got: block.header.state_root,
            });
        }

        for (address, account) in &outcome.bundle.state {
            let slots = touched.entry(*address).or_default();
            slots.extend(account.storage.keys().map(|k| B256::from(*k)));
            if account.was_destroyed() {
                destroyed.insert(*address);
            }
        }
        for (tx, receipt) in block.body.transactions.iter().zip(&outcome.receipts) {
            if tx.is_privileged() {
                privileged.push(*tx.tx_hash());
            } else {
                non_privileged += 1;
            }
            leaves.extend(
                receipt
                    .logs()
                    .iter()
                    .filter_map(L1Message::from_log)
                    .map(|m| m.leaf()),
            );
        }
        acc.add_block_logs(
            block.header.clone(),
            &block.body.transactions,
            &outcome.receipts,
        );

        let hash = block.header.hash_slow();
        state.advance(
            update.trie.into_hashes().collect(),
            &update.changes.codes,
            hash,
            block.header.clone(),
        );
        previous = (block.header.clone(), hash);
    }
    let (last_header, last_hash) = previous;
    let final_root = state.root();

    let blob_versioned_hash = match &input.blob {
        None => {
            if input.blob_versioned_hash != B256::ZERO {
                return Err(ProgramError::BlobPresence(input.blob_versioned_hash));
            }
            B256::ZERO // validium: no diff published, none to check
        }
        Some(blob) => {
            track_diff(
                &state,
                &mut acc,
                &touched,
                &destroyed,
                initial_root,
                final_root,
            )?;
            check_blob(blob, input.blob_versioned_hash, &acc)?
        }
    };
    let privileged_rolling_hash = if privileged.is_empty() {
        B256::ZERO
    } else {
        privileged_rolling_hash(&privileged).ok_or(ProgramError::TooManyPrivileged)?
    };

    Ok(PublicInputs {
        initial_state_root: initial_root,
        final_state_root: final_root,
        withdrawals_root: withdrawals_root(&leaves),
        privileged_rolling_hash,
        blob_versioned_hash,
        last_block_hash: last_hash,
        chain_id: spec.chain_id,
        non_privileged_tx_count: non_privileged,
        previous_last_block_hash: parent_hash,
        batch_number: input.batch_number,
        last_block_timestamp: last_header.timestamp,
    })
}

/// Feed the diff accumulator every touched account and slot, before the first block (under
/// `initial_root`) and after the last (under `final_root`).
fn track_diff(
    state: &WitnessState,
    acc: &mut StateDiffAccumulator,
    touched: &BTreeMap<Address, BTreeSet<B256>>,
    destroyed: &HashSet<Address>,
    initial_root: B256,
    final_root: B256,
) -> Result<(), ProgramError> {
    let read = |e: WitnessReadError| match state.missing_node() {
        Some(node) => ProgramError::MissingDiffNode(node),
        None => ProgramError::Read(e),
    };
    for (address, slots) in touched {
        let pre = state.account_at(initial_root, address).map_err(read)?;
        let post = state.account_at(final_root, address).map_err(read)?;
        if destroyed.contains(address) && pre.is_some_and(|a| a.storage_root != EMPTY_ROOT_HASH) {
            return Err(ProgramError::DestroyedWithStorage(*address));
        }
        let pre_storage = pre.map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
        let post_storage = post.map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
        if let Some(post) = post
            && post.code_hash != KECCAK256_EMPTY
            && post.code_hash != pre.map_or(KECCAK256_EMPTY, |a| a.code_hash)
            && let Some(code) = state.code_by_hash(&post.code_hash)
        {
            acc.add_code(post.code_hash, code.clone());
        }
        acc.account(*address, pre).post = post;
        for slot in slots {
            let before = state.storage_at(address, pre_storage, slot).map_err(read)?;
            let after = state
                .storage_at(address, post_storage, slot)
                .map_err(read)?;
            if let Some(entry) = acc.slot(address, *slot, before) {
                entry.1 = after;
            }
        }
    }

    Ok(())
}

/// Check that the blob holds the batch's state diff and has the committed versioned hash; returns
/// that hash.
fn check_blob(
    blob: &alloy_primitives::Bytes,
    committed_hash: B256,
    acc: &StateDiffAccumulator,
) -> Result<B256, ProgramError> {
    if committed_hash == B256::ZERO {
        return Err(ProgramError::BlobPresence(B256::ZERO));
    }
    let bytes: &[u8; BYTES_PER_BLOB] = blob
        .as_ref()
        .try_into()
        .map_err(|_| ProgramError::BlobSize(blob.len()))?;
    let payload = unpack_blob(bytes).map_err(|e| ProgramError::BlobDecode(e.to_string()))?;
    let committed =
        decode_state_diff_payload(&payload).map_err(|e| ProgramError::BlobDecode(e.to_string()))?;
    // The only freedom the sequencer has: naming a bytecode published earlier by its hash.
    let known: HashSet<B256> = committed
        .accounts
        .iter()
        .filter_map(|a| match &a.code {
            Some(CodeChange::Known(hash)) => Some(*hash),
            _ => None,
        })
        .collect();
    let expected = acc
        .build(|hash| known.contains(hash))
        .map_err(|e| ProgramError::Diff(e.to_string()))?;
    if expected != committed {
        return Err(ProgramError::BlobDiffMismatch(describe_mismatch(
            &expected, &committed,
        )));
    }

    // The commitment only: the KZG proof a blob transaction carries is the committer's business.
    let blob = c_kzg::Blob::from_bytes(bytes).map_err(|e| ProgramError::Kzg(e.to_string()))?;
    let commitment = EnvKzgSettings::Default
        .get()
        .blob_to_kzg_commitment(&blob)
        .map_err(|e| ProgramError::Kzg(e.to_string()))?;
    let computed = kzg_to_versioned_hash(commitment.to_bytes().as_slice());
    if computed != committed_hash {
        return Err(ProgramError::BlobHashMismatch {
            computed,
            committed: committed_hash,
        });
    }
    Ok(computed)
}

/// The first difference between two diffs, for the error message.
fn describe_mismatch(expected: &StateDiff, got: &StateDiff) -> String {
    if expected.last_header != got.last_header {
        return "last block header".into();
    }
    if expected.withdrawals != got.withdrawals {
        return "withdrawal logs".into();
    }
    if expected.privileged != got.privileged {
        return "privileged tx logs".into();
    }
    if expected.accounts.len() != got.accounts.len() {
        return format!(
            "{} accounts computed, {} in the blob",
            expected.accounts.len(),
            got.accounts.len()
        );
    }
    expected
        .accounts
        .iter()
        .zip(&got.accounts)
        .find(|(a, b)| a != b)
        .map_or_else(
            || "ordering".into(),
            |(a, _)| format!("account {}", a.address),
        )
}
