//! The state diff of a batch (docs/committer.md, State diff formats), computed from the store: what
//! the batch's blob carries so that anyone can rebuild the L2 state from L1 alone.
//!
//! [`BatchDiffBuilder`] is fed the batch's blocks in order. Each block costs work in proportion to
//! what it changed: the store keeps, for every canonical block, the diff that reverts it
//! (`STATE_REVERTS`), which names every account and slot the block changed with its value before
//! the block. The first time the batch touches a key, that value is the batch's pre-state; the
//! value after the block is read from the flat state when the block is the head (the sequencer's
//! case: it feeds each block as it is made), else through the trie at the block's state root.
//!
//! The rules of what the diff holds live in [`keel_evm::batch_diff`], shared with the stateless
//! prover. The v1 format counts accounts, slots per account, withdrawals and privileged txs in u16
//! and code length in u16: [`BatchDiffBuilder::build`] returns [`BatchDiffError::TooLarge`] past
//! that.

use std::collections::HashSet;

use alloy_primitives::{Address, B256, KECCAK256_EMPTY, U256, keccak256};
use alloy_trie::EMPTY_ROOT_HASH;
use keel_evm::batch_diff::{DiffBuildError, StateDiffAccumulator};
use keel_storage::{ChainReader, StateReader, StoreError, StoreReader};
use keel_trie::{EmptyNodeStore, Trie};
use keel_types::{StateDiff, StateDiffError};

pub use keel_evm::batch_diff::{
    empty_account, erc20_withdrawal_initiated_topic, is_empty, withdrawal_initiated_topic,
};

/// Why a batch's state diff could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum BatchDiffError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("trie: {0}")]
    Trie(#[from] keel_trie::TrieError),
    #[error("the genesis is in no batch")]
    Genesis,
    #[error("block {got} does not follow the batch's last block: expected {expected}")]
    NotNext { expected: u64, got: u64 },
    #[error("canonical block {0} (header, body or receipts) is missing from the store")]
    MissingBlock(u64),
    #[error("the revert diff of block {0} is missing from the store")]
    MissingRevert(u64),
    #[error("bytecode {0} is missing from the store")]
    MissingCode(B256),
    #[error("block {number} has {txs} transactions but {receipts} receipts")]
    ReceiptCount {
        number: u64,
        txs: usize,
        receipts: usize,
    },
    #[error("the revert diff of block {number} has slots of {address} but not the account")]
    InconsistentRevert { number: u64, address: Address },
    #[error(
        "the storage of {address}, wiped and rewritten in block {number}, could not be recovered"
    )]
    IncompleteWipedStorage { number: u64, address: Address },
    #[error("no block was added")]
    Empty,
    #[error("the batch does not fit a v1 state diff: {0}")]
    TooLarge(StateDiffError),
    #[error("account {address}: {reason}")]
    Unrepresentable {
        address: Address,
        reason: &'static str,
    },
}

impl From<DiffBuildError> for BatchDiffError {
    fn from(e: DiffBuildError) -> Self {
        match e {
            DiffBuildError::Empty => Self::Empty,
            DiffBuildError::MissingCode(hash) => Self::MissingCode(hash),
            DiffBuildError::TooLarge(e) => Self::TooLarge(e),
            DiffBuildError::Unrepresentable { address, reason } => {
                Self::Unrepresentable { address, reason }
            }
        }
    }
}

/// Accumulates a batch's blocks and builds its [`StateDiff`]; see the module docs for the rules.
#[derive(Debug, Clone, Default)]
pub struct BatchDiffBuilder {
    first_block: Option<u64>,
    last_block: Option<u64>,
    acc: StateDiffAccumulator,
}

impl BatchDiffBuilder {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// First and last block added, if any.
    pub fn block_range(&self) -> Option<(u64, u64)> {
        self.first_block.zip(self.last_block)
    }

    /// Add canonical block `number`, which must follow the last block added (any block ≥ 1 for
    /// the first). On error the builder is unchanged only if the error came before any state was
    /// read; callers should drop it then.
    pub fn add_block(&mut self, reader: &StoreReader, number: u64) -> Result<(), BatchDiffError> {
        if number == 0 {
            return Err(BatchDiffError::Genesis);
        }
        if let Some(last) = self.last_block
            && number != last + 1
        {
            return Err(BatchDiffError::NotNext {
                expected: last + 1,
                got: number,
            });
        }
        let missing = || BatchDiffError::MissingBlock(number);
        let hash = reader.canonical_hash(number)?.ok_or_else(missing)?;
        let header = reader.header(&hash)?.ok_or_else(missing)?;
        let body = reader.body(&hash)?.ok_or_else(missing)?;
        let receipts = reader.receipts(&hash)?.ok_or_else(missing)?;
        if receipts.len() != body.transactions.len() {
            return Err(BatchDiffError::ReceiptCount {
                number,
                txs: body.transactions.len(),
                receipts: receipts.len(),
            });
        }
        let revert = reader
            .state_revert(&hash)?
            .ok_or(BatchDiffError::MissingRevert(number))?;

        // The state after this block: flat history (the head's flat state with the reverts down
        // to this block laid over it) reaches any canonical depth without the trie.
        let at_head = reader.head_hash()? == Some(hash);
        let view = reader.state_after(hash, None)?;
        let post: &dyn StateReader<Error = StoreError> = &view;

        for (address, old) in &revert.accounts {
            let account = post.account(address)?;
            let tracked = self.acc.account(*address, *old);
            tracked.post = account;
            let pre_code = tracked.pre.map_or(KECCAK256_EMPTY, |a| a.code_hash);
            if let Some(account) = account
                && account.code_hash != pre_code
                && account.code_hash != KECCAK256_EMPTY
                && !self.acc.has_code(&account.code_hash)
            {
                let code = reader
                    .code(&account.code_hash)?
                    .ok_or(BatchDiffError::MissingCode(account.code_hash))?;
                self.acc.add_code(account.code_hash, code);
            }
        }
        for (address, slot, old) in &revert.storage {
            let value = post.storage(address, slot)?;
            let entry =
                self.acc
                    .slot(address, *slot, *old)
                    .ok_or(BatchDiffError::InconsistentRevert {
                        number,
                        address: *address,
                    })?;
            entry.1 = value;
        }
        for address in &revert.wiped_storage {
            self.add_wiped(reader, post, at_head, number, *address)?;
        }

        self.acc
            .add_block_logs(header, &body.transactions, &receipts);
        self.first_block.get_or_insert(number);
        self.last_block = Some(number);
        Ok(())
    }

    /// Account `address`'s storage was wiped in block `number` (self-destructed, possibly created
    /// again): every slot it held is already tracked (the revert lists them), but slots written
    /// after the wipe are named nowhere. They are found among the account's slots at the head and
    /// the slots later blocks changed, and checked against the account's storage root.
    fn add_wiped(
        &mut self,
        reader: &StoreReader,
        post: &dyn StateReader<Error = StoreError>,
        at_head: bool,
        number: u64,
        address: Address,
    ) -> Result<(), BatchDiffError> {
        let Some(tracked) = self.acc.tracked_mut(&address) else {
            return Err(BatchDiffError::InconsistentRevert { number, address });
        };
        // Slots tracked from earlier blocks were wiped too.
        for (slot, (_, value)) in tracked.slots.iter_mut() {
            *value = post.storage(&address, slot)?;
        }
        let storage_root = tracked.post.map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
        if storage_root == EMPTY_ROOT_HASH {
            return Ok(());
        }
        let mut candidates: HashSet<B256> = reader
            .storage_slots(&address)?
            .into_iter()
            .map(|(slot, _)| slot)
            .collect();
        if !at_head {
            let head = reader.head()?.map_or(number, |(_, header)| header.number);
            for later in number + 1..=head {
                let Some(hash) = reader.canonical_hash(later)? else {
                    continue;
                };
                if let Some(revert) = reader.state_revert(&hash)? {
                    candidates.extend(
                        revert
                            .storage
                            .iter()
                            .filter(|(a, _, _)| *a == address)
                            .map(|(_, slot, _)| *slot),
                    );
                }
            }
        }
        let mut found = Vec::new();
        let mut trie = Trie::new_storage(EmptyNodeStore, keccak256(address), EMPTY_ROOT_HASH);
        for slot in candidates {
            let value = post.storage(&address, &slot)?;
            if !value.is_zero() {
                trie.insert(keccak256(slot).as_slice(), alloy_rlp::encode(value))?;
                found.push((slot, value));
            }
        }
        if trie.root() != storage_root {
            return Err(BatchDiffError::IncompleteWipedStorage { number, address });
        }
        for (slot, value) in found {
            // Not listed by the revert: zero before the block, hence before the batch.
            if let Some(entry) = self.acc.slot(&address, slot, U256::ZERO) {
                entry.1 = value;
            }
        }
        Ok(())
    }

    /// An upper bound on the v1 encoded size of the diff [`build`](Self::build) would return,
    /// in O(1): for deciding after each block whether the batch still fits a blob.
    pub fn encoded_len_upper_bound(&self) -> usize {
        self.acc.encoded_len_upper_bound()
    }

    /// The batch's state diff. `known_code(hash)` says whether a bytecode was already published
    /// (by the genesis or an earlier batch) and may be named by hash.
    pub fn build(&self, known_code: impl Fn(&B256) -> bool) -> Result<StateDiff, BatchDiffError> {
        Ok(self.acc.build(known_code)?)
    }

    /// Hashes of the bytecodes `diff` carries in full (to record as published once it is).
    pub fn new_code_hashes(diff: &StateDiff) -> Vec<B256> {
        keel_evm::batch_diff::new_code_hashes(diff)
    }
}
