//! Applying batch state diffs (docs/committer.md, Rebuilding from L1) to a store, as `keel l2
//! reconstruct` does: starting from the genesis, each batch's [`StateDiff`] is applied to the flat
//! state and the persistent trie (the same incremental [`Trie`] the block path updates), the new
//! state root is checked against the one committed on L1, and the batch's last block is stored as a
//! **checkpoint** (see [`keel_storage::checkpoint`]): a header rebuilt from the diff, stored under
//! the committed block hash, canonical and the head. A [`Blockchain`](crate::Blockchain) then opens
//! on the store and builds the next block on top of it.
//!
//! Applying an account's diff: start from its current record (or the empty account), set the
//! balance if given, add the nonce increase, set the code hash (type 8: the given code; type 16:
//! a code of this diff or of the store's code table, else [`DiffApplyError::UnknownCode`]), write
//! the slots (0 deletes). An account that then has nonce 0, balance 0, no code and no storage is
//! **deleted** (EIP-161; see [`crate::batch_diff`] for why the builder emits such accounts).
//!
//! The rebuilt header carries the diff's fields (number, parent hash, transactions and receipts
//! roots, gas limit and used, timestamp, base fee) and the computed state root; the rest is what
//! keel's block producer sets by default, as it can't be known from the diff: beneficiary zero,
//! empty extra data, `mix_hash = keccak256(parent_hash)` (the producer's `prev_randao`), logs
//! bloom zero; and what every keel block has: empty ommers, zero difficulty and nonce, empty
//! withdrawals root, no blob gas used or excess (the L2 rejects blob txs), zero beacon root, the
//! requests hash of an empty list. So it does **not** hash to the committed hash, by design: the
//! committed hash is what the next block's `parent_hash` must be.
//!
//! Known gap: the blocks between checkpoints are not stored, so `BLOCKHASH` of such a block reads
//! zero on a reconstructed node (the EIP-2935 history contract's storage is in the state and
//! correct).

use std::collections::HashMap;

use alloy_consensus::EMPTY_OMMER_ROOT_HASH;
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256};
use alloy_rlp::Encodable;
use alloy_trie::EMPTY_ROOT_HASH;
use keel_storage::{
    ChainReader, CheckpointError, CheckpointWrite, StateChanges, StateReader, Store, StoreError,
};
use keel_trie::{Trie, TrieDiff, TrieWrites};
use keel_types::{ChainSpec, CodeChange, DiffHeader, Genesis, Header, StateDiff, genesis_header};

use crate::batch_diff::{empty_account, is_empty};

/// Why a batch diff was not applied (nothing is written then).
#[derive(Debug, thiserror::Error)]
pub enum DiffApplyError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("trie: {0}")]
    Trie(#[from] keel_trie::TrieError),
    #[error("writing the checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("the store has no genesis: open it with Blockchain::open first")]
    NoGenesis,
    #[error("the store holds genesis {stored}, but the given genesis is {given}")]
    GenesisMismatch { stored: B256, given: B256 },
    #[error("the store has no head block")]
    NoHead,
    #[error("the diff's last block {number} is not above the head block {head_number}")]
    NotAboveHead { number: u64, head_number: u64 },
    #[error("account {address} names bytecode {code_hash}, which is neither in the diff nor known")]
    UnknownCode { address: Address, code_hash: B256 },
    #[error("the nonce of account {0} overflows")]
    NonceOverflow(Address),
    /// The diff does not lead to the committed state root.
    #[error("the diff gives state root {computed}, but {expected} was committed")]
    RootMismatch { expected: B256, computed: B256 },
}

/// One committed batch to apply.
#[derive(Debug, Clone, Copy)]
pub struct BatchCheckpoint<'a> {
    /// The batch number (recorded with the codes it publishes).
    pub batch_number: u64,
    /// Its state diff (decoded from the blob).
    pub diff: &'a StateDiff,
    /// The hash of the batch's last block, as committed on L1.
    pub committed_block_hash: B256,
    /// The state root committed on L1 for the batch.
    pub expected_state_root: B256,
}

/// A checkpoint written by [`DiffApplier::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedCheckpoint {
    /// The committed hash it is stored under.
    pub hash: B256,
    /// The header rebuilt from the diff.
    pub header: Header,
}

/// Applies batch diffs to a store that holds the genesis and the checkpoints applied so far.
#[derive(Debug, Clone)]
pub struct DiffApplier {
    store: Store,
    spec: ChainSpec,
    genesis_codes: Vec<B256>,
}

impl DiffApplier {
    /// An applier on `store`, which must hold `genesis` (e.g. from [`crate::Blockchain::open`]).
    pub fn new(store: Store, genesis: &Genesis, spec: ChainSpec) -> Result<Self, DiffApplyError> {
        let given = genesis_header(genesis, &spec).hash_slow();
        match store.reader()?.genesis_hash()? {
            None => return Err(DiffApplyError::NoGenesis),
            Some(stored) if stored != given => {
                return Err(DiffApplyError::GenesisMismatch { stored, given });
            }
            Some(_) => {}
        }
        Ok(Self {
            store,
            spec,
            genesis_codes: genesis_code_hashes(genesis),
        })
    }

    /// The store written to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Apply `batch` on the head's state. If the resulting state root is the committed one, write
    /// the state, the trie nodes, the codes, the published-code records (the genesis codes too,
    /// on the first batch) and the checkpoint in one write transaction; otherwise write nothing
    /// and return [`DiffApplyError::RootMismatch`].
    pub fn apply(&self, batch: &BatchCheckpoint<'_>) -> Result<AppliedCheckpoint, DiffApplyError> {
        let diff = batch.diff;
        let reader = self.store.reader()?;
        let (head_hash, head) = reader.head()?.ok_or(DiffApplyError::NoHead)?;
        let number = diff.last_header.block_number;
        if number <= head.number {
            return Err(DiffApplyError::NotAboveHead {
                number,
                head_number: head.number,
            });
        }

        let new_codes: HashMap<B256, Bytes> = diff
            .accounts
            .iter()
            .filter_map(|a| match &a.code {
                Some(CodeChange::New(code)) => Some((keccak256(code), code.clone())),
                _ => None,
            })
            .collect();

        let mut changes = StateChanges::default();
        let mut storage_diffs = Vec::new();
        let mut wiped = Vec::new();
        let mut account_trie = Trie::new(&reader, head.state_root);
        let mut buf = Vec::with_capacity(128);
        for account in &diff.accounts {
            let address = account.address;
            let current = reader.account(&address)?;
            let mut record = current.unwrap_or_else(empty_account);
            if let Some(balance) = account.balance {
                record.balance = balance;
            }
            if let Some(increase) = account.nonce_increase {
                record.nonce = record
                    .nonce
                    .checked_add(increase)
                    .ok_or(DiffApplyError::NonceOverflow(address))?;
            }
            match &account.code {
                Some(CodeChange::New(code)) => record.code_hash = keccak256(code),
                Some(CodeChange::Known(code_hash)) => {
                    if !new_codes.contains_key(code_hash) && reader.code(code_hash)?.is_none() {
                        return Err(DiffApplyError::UnknownCode {
                            address,
                            code_hash: *code_hash,
                        });
                    }
                    record.code_hash = *code_hash;
                }
                None => {}
            }
            let mut storage_diff = None;
            if !account.storage.is_empty() {
                let mut storage_trie =
                    Trie::new_storage(&reader, keccak256(address), record.storage_root);
                for (slot, value) in &account.storage {
                    let key = keccak256(slot);
                    if value.is_zero() {
                        storage_trie.remove(key.as_slice())?;
                    } else {
                        storage_trie.insert(key.as_slice(), alloy_rlp::encode(value))?;
                    }
                }
                let updates = storage_trie.commit();
                record.storage_root = updates.root;
                storage_diff = Some(TrieDiff::from(updates));
            }

            let key = keccak256(address);
            if is_empty(&record) {
                if current.is_some() {
                    // Deleting an account clears its storage in the flat state too, and its
                    // storage trie (its nodes were never loaded, so the trie is wiped whole).
                    account_trie.remove(key.as_slice())?;
                    changes.accounts.push((address, None));
                    wiped.push(key);
                }
                continue;
            }
            if let Some(diff) = storage_diff {
                storage_diffs.push((key, diff));
            }
            buf.clear();
            record.encode(&mut buf);
            account_trie.insert(key.as_slice(), buf.clone())?;
            changes.accounts.push((address, Some(record)));
            changes.storage.extend(
                account
                    .storage
                    .iter()
                    .map(|(slot, value)| (address, *slot, *value)),
            );
        }
        let updates = account_trie.commit();
        let state_root = updates.root;
        if state_root != batch.expected_state_root {
            return Err(DiffApplyError::RootMismatch {
                expected: batch.expected_state_root,
                computed: state_root,
            });
        }
        let trie = TrieWrites::new(updates.into(), storage_diffs, wiped);

        let mut published: Vec<(B256, u64)> = Vec::new();
        if head.number == 0 {
            published.extend(self.genesis_codes.iter().map(|hash| (*hash, 0)));
        }
        published.extend(new_codes.keys().map(|hash| (*hash, batch.batch_number)));
        changes.codes = new_codes.into_iter().collect();

        let header = checkpoint_header(&self.spec, &diff.last_header, state_root);
        drop(reader);
        self.store.write_checkpoint(&CheckpointWrite {
            hash: batch.committed_block_hash,
            header: &header,
            parent_head: head_hash,
            state: &changes,
            trie: &trie,
            published_codes: &published,
        })?;
        Ok(AppliedCheckpoint {
            hash: batch.committed_block_hash,
            header,
        })
    }
}

/// The header of a checkpoint: the diff's fields, `state_root`, and the rest as keel's block
/// producer sets it by default (see the module docs).
pub fn checkpoint_header(spec: &ChainSpec, diff: &DiffHeader, state_root: B256) -> Header {
    let ts = diff.timestamp;
    let blob = spec.blob_params_at(ts).is_some();
    Header {
        parent_hash: diff.parent_hash,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: Address::ZERO,
        state_root,
        transactions_root: diff.tx_root,
        receipts_root: diff.receipts_root,
        logs_bloom: Default::default(),
        difficulty: U256::ZERO,
        number: diff.block_number,
        gas_limit: diff.gas_limit,
        gas_used: diff.gas_used,
        timestamp: ts,
        extra_data: Bytes::new(),
        mix_hash: keccak256(diff.parent_hash),
        nonce: Default::default(),
        base_fee_per_gas: Some(diff.base_fee_per_gas),
        withdrawals_root: spec
            .is_shanghai_active_at_timestamp(ts)
            .then_some(EMPTY_ROOT_HASH),
        blob_gas_used: blob.then_some(0),
        excess_blob_gas: blob.then_some(0),
        parent_beacon_block_root: blob.then_some(B256::ZERO),
        requests_hash: spec
            .is_prague_active_at_timestamp(ts)
            .then_some(EMPTY_REQUESTS_HASH),
        // Later forks' fields, absent as in every keel block.
        ..Default::default()
    }
}

/// Hashes of the genesis bytecodes: published by the genesis itself (batch 0).
pub fn genesis_code_hashes(genesis: &Genesis) -> Vec<B256> {
    let mut hashes: Vec<B256> = genesis
        .alloc
        .values()
        .filter_map(|account| account.code.as_ref())
        .filter(|code| !code.is_empty())
        .map(keccak256)
        .filter(|hash| *hash != KECCAK256_EMPTY)
        .collect();
    hashes.sort();
    hashes.dedup();
    hashes
}
