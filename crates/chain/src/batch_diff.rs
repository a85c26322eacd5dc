//! The state diff of a batch (DESIGN.md section 8), computed from the store: what the batch's blob
//! carries so that anyone can rebuild the L2 state from L1 alone.
//!
//! [`BatchDiffBuilder`] is fed the batch's blocks in order. Each block costs work in proportion to
//! what it changed: the store keeps, for every canonical block, the diff that reverts it
//! (`STATE_REVERTS`), which names every account and slot the block changed with its value before
//! the block. The first time the batch touches a key, that value is the batch's pre-state; the
//! value after the block is read from the flat state when the block is the head (the sequencer's
//! case: it feeds each block as it is made), else through the trie at the block's state root.
//!
//! # What the diff holds
//!
//! For every account the batch touched, comparing its state after the batch's last block
//! (*final*) with its state before the first block (*pre*; a missing account counts as nonce 0,
//! balance 0, no code, no storage):
//! - **balance** (type 1): the final balance, if it differs from the pre balance;
//! - **nonce** (type 2): final − pre nonce, if positive (a u16: more is an error);
//! - **storage** (type 4): every slot whose final value differs from its pre value, with the final
//!   value (0 for a cleared slot). A slot changed and changed back within the batch is left out;
//! - **code**: if the code hash changed, the bytecode in full (type 8) unless it was already
//!   published (`known_code(hash)`, or an earlier account of the same diff carries it in full), in
//!   which case only its hash (type 16);
//! - an account whose final state equals its pre-state is left out entirely.
//!
//! **Accounts that end empty.** keel's chain follows EIP-161: an account with nonce 0, balance 0,
//! no code and no storage does not exist, and execution never leaves one behind. So the diff
//! represents "the account does not exist" as such an empty account: an account that existed
//! before the batch and is gone after it (only possible, under Cancun's SELFDESTRUCT, for an
//! account that held only a balance before being created over and destroyed in one transaction)
//! is emitted with **balance 0** (always, even if its balance was already 0) and its old slots as
//! 0; the applier ([`crate::diff_apply`]) deletes every account that ends empty. An account that
//! would end *existing and empty*, or deleted while its pre-state had a nonce or code, can't be
//! represented and is an error ([`BatchDiffError::Unrepresentable`]).
//!
//! **Withdrawal logs**: for each `WithdrawalInitiated(senderOnL2, receiverOnL1, amount,
//! messageId)` and `ERC20WithdrawalInitiated(tokenL1, tokenL2, receiverOnL1, senderOnL2, amount,
//! messageId)` event of the L2 bridge, in block and log order: `(receiverOnL1, amount, tx hash)`.
//! **Privileged logs**: for each privileged (0x7e) transaction, included or failed, in block
//! order: `(to, value)`.
//!
//! The v1 format counts accounts, slots per account, withdrawals and privileged txs in u16 and
//! code length in u16: [`BatchDiffBuilder::build`] returns [`BatchDiffError::TooLarge`] past that.

use std::collections::{BTreeMap, HashMap, HashSet};

use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};
use keel_storage::{ChainReader, StateReader, StoreError, StoreReader};
use keel_trie::{EmptyNodeStore, Trie};
use keel_types::{
    AccountDiff, CodeChange, DiffHeader, Header, PrivilegedLog, StateDiff, StateDiffError,
    WithdrawalLog, rules::L2_BRIDGE_ADDRESS,
};

/// `keccak256("WithdrawalInitiated(address,address,uint256,uint256)")`.
pub fn withdrawal_initiated_topic() -> B256 {
    keccak256("WithdrawalInitiated(address,address,uint256,uint256)")
}

/// `keccak256("ERC20WithdrawalInitiated(address,address,address,address,uint256,uint256)")`.
pub fn erc20_withdrawal_initiated_topic() -> B256 {
    keccak256("ERC20WithdrawalInitiated(address,address,address,address,uint256,uint256)")
}

/// Encoded size of the version byte, the last header and the three counts (v1).
const FIXED_LEN: usize = 1 + 3 * 32 + 5 * 8 + 3 * 2;

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

/// One account's pre-state (before the batch) and its state after the last block added.
#[derive(Debug, Clone)]
struct TrackedAccount {
    pre: Option<TrieAccount>,
    post: Option<TrieAccount>,
    /// slot → (pre value, post value)
    slots: BTreeMap<B256, (U256, U256)>,
}

/// Accumulates a batch's blocks and builds its [`StateDiff`]; see the module docs for the rules.
#[derive(Debug, Clone, Default)]
pub struct BatchDiffBuilder {
    first_block: Option<u64>,
    last_block: Option<u64>,
    last_header: Option<Header>,
    accounts: BTreeMap<Address, TrackedAccount>,
    /// Bytecode of every code hash an account took in the batch.
    codes: HashMap<B256, Bytes>,
    withdrawals: Vec<WithdrawalLog>,
    privileged: Vec<PrivilegedLog>,
    slot_count: usize,
    code_bytes: usize,
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

        // The state after this block: the flat state if it is the head, else the trie.
        let at_head = reader.head_hash()? == Some(hash);
        let trie_state = reader.state_at(header.state_root);
        let post: &dyn StateReader<Error = StoreError> = if at_head { reader } else { &trie_state };

        for (address, old) in &revert.accounts {
            let account = post.account(address)?;
            let tracked = self
                .accounts
                .entry(*address)
                .or_insert_with(|| TrackedAccount {
                    pre: *old,
                    post: None,
                    slots: BTreeMap::new(),
                });
            tracked.post = account;
            if let Some(account) = account {
                let pre_code = tracked.pre.map_or(KECCAK256_EMPTY, |a| a.code_hash);
                if account.code_hash != pre_code
                    && account.code_hash != KECCAK256_EMPTY
                    && !self.codes.contains_key(&account.code_hash)
                {
                    let code = reader
                        .code(&account.code_hash)?
                        .ok_or(BatchDiffError::MissingCode(account.code_hash))?;
                    self.code_bytes += code.len();
                    self.codes.insert(account.code_hash, code);
                }
            }
        }
        for (address, slot, old) in &revert.storage {
            let tracked =
                self.accounts
                    .get_mut(address)
                    .ok_or(BatchDiffError::InconsistentRevert {
                        number,
                        address: *address,
                    })?;
            let value = post.storage(address, slot)?;
            let entry = tracked.slots.entry(*slot).or_insert_with(|| {
                self.slot_count += 1;
                (*old, *old)
            });
            entry.1 = value;
        }
        for address in &revert.wiped_storage {
            self.add_wiped(reader, post, at_head, number, *address)?;
        }

        for (tx, receipt) in body.transactions.iter().zip(&receipts) {
            if let Some(privileged) = tx.as_privileged() {
                self.privileged.push(PrivilegedLog {
                    to: privileged.to,
                    value: privileged.value,
                });
            }
            for log in receipt.logs() {
                if let Some((to, amount)) = withdrawal(log) {
                    self.withdrawals.push(WithdrawalLog {
                        to,
                        amount,
                        tx_hash: *tx.tx_hash(),
                    });
                }
            }
        }

        self.first_block.get_or_insert(number);
        self.last_block = Some(number);
        self.last_header = Some(header);
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
        let Some(tracked) = self.accounts.get_mut(&address) else {
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
        let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
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
            let entry = tracked.slots.entry(slot).or_insert_with(|| {
                self.slot_count += 1;
                (U256::ZERO, U256::ZERO)
            });
            entry.1 = value;
        }
        Ok(())
    }

    /// An upper bound on the v1 encoded size of the diff [`build`](Self::build) would return,
    /// in O(1): for deciding after each block whether the batch still fits a blob.
    pub fn encoded_len_upper_bound(&self) -> usize {
        // Per account: type, address, balance, nonce, slot count, code hash.
        FIXED_LEN
            + self.accounts.len() * (1 + 20 + 32 + 2 + 2 + 32)
            + self.slot_count * 64
            + self.codes.len() * 2
            + self.code_bytes
            + self.withdrawals.len() * (20 + 32 + 32)
            + self.privileged.len() * (20 + 32)
    }

    /// The batch's state diff. `known_code(hash)` says whether a bytecode was already published
    /// (by the genesis or an earlier batch) and may be named by hash.
    pub fn build(&self, known_code: impl Fn(&B256) -> bool) -> Result<StateDiff, BatchDiffError> {
        let header = self.last_header.as_ref().ok_or(BatchDiffError::Empty)?;
        let mut published_here = HashSet::new();
        let mut accounts = Vec::new();
        for (address, tracked) in &self.accounts {
            let address = *address;
            let unrepresentable = |reason| BatchDiffError::Unrepresentable { address, reason };
            let pre = tracked.pre.unwrap_or_else(empty_account);
            let storage: Vec<(B256, U256)> = tracked
                .slots
                .iter()
                .filter(|(_, (pre, post))| pre != post)
                .map(|(slot, (_, post))| (*slot, *post))
                .collect();
            if storage.len() > usize::from(u16::MAX) {
                return Err(BatchDiffError::TooLarge(StateDiffError::TooManySlots {
                    address,
                    count: storage.len(),
                }));
            }
            let Some(post) = tracked.post else {
                if tracked.pre.is_none() {
                    continue; // created and destroyed within the batch
                }
                if pre.nonce != 0 || pre.code_hash != KECCAK256_EMPTY {
                    return Err(unrepresentable("deleted, but had a nonce or code before"));
                }
                accounts.push(AccountDiff {
                    address,
                    balance: Some(U256::ZERO),
                    nonce_increase: None,
                    storage,
                    code: None,
                });
                continue;
            };
            if is_empty(&post) {
                return Err(unrepresentable("ends existing and empty (EIP-161)"));
            }
            let nonce_increase = post
                .nonce
                .checked_sub(pre.nonce)
                .ok_or_else(|| unrepresentable("its nonce decreased"))?;
            let nonce_increase = match u16::try_from(nonce_increase) {
                Ok(0) => None,
                Ok(increase) => Some(u64::from(increase)),
                Err(_) => {
                    return Err(BatchDiffError::TooLarge(StateDiffError::TooMany {
                        what: "nonce increments of one account",
                        count: nonce_increase as usize,
                    }));
                }
            };
            let code = if post.code_hash == pre.code_hash {
                None
            } else if post.code_hash == KECCAK256_EMPTY {
                return Err(unrepresentable("its code was removed"));
            } else if known_code(&post.code_hash) || published_here.contains(&post.code_hash) {
                Some(CodeChange::Known(post.code_hash))
            } else {
                let code = self
                    .codes
                    .get(&post.code_hash)
                    .ok_or(BatchDiffError::MissingCode(post.code_hash))?;
                if code.len() > usize::from(u16::MAX) {
                    return Err(BatchDiffError::TooLarge(StateDiffError::CodeTooLong {
                        address,
                        len: code.len(),
                    }));
                }
                published_here.insert(post.code_hash);
                Some(CodeChange::New(code.clone()))
            };
            let diff = AccountDiff {
                address,
                balance: (post.balance != pre.balance).then_some(post.balance),
                nonce_increase,
                storage,
                code,
            };
            if diff.type_byte() != 0 {
                accounts.push(diff);
            }
        }
        for (what, count) in [
            ("modified accounts", accounts.len()),
            ("withdrawal logs", self.withdrawals.len()),
            ("privileged tx logs", self.privileged.len()),
        ] {
            if count > usize::from(u16::MAX) {
                return Err(BatchDiffError::TooLarge(StateDiffError::TooMany {
                    what,
                    count,
                }));
            }
        }
        Ok(StateDiff {
            last_header: DiffHeader::from_header(header),
            accounts,
            withdrawals: self.withdrawals.clone(),
            privileged: self.privileged.clone(),
        })
    }

    /// Hashes of the bytecodes `diff` carries in full (to record as published once it is).
    pub fn new_code_hashes(diff: &StateDiff) -> Vec<B256> {
        diff.accounts
            .iter()
            .filter_map(|a| match &a.code {
                Some(CodeChange::New(code)) => Some(keccak256(code)),
                _ => None,
            })
            .collect()
    }
}

/// The account EIP-161 treats as absent.
pub(crate) fn empty_account() -> TrieAccount {
    TrieAccount {
        nonce: 0,
        balance: U256::ZERO,
        storage_root: EMPTY_ROOT_HASH,
        code_hash: KECCAK256_EMPTY,
    }
}

/// Nonce 0, balance 0, no code, no storage.
pub(crate) fn is_empty(account: &TrieAccount) -> bool {
    *account == empty_account()
}

/// `(receiverOnL1, amount)` of an L2 bridge withdrawal event.
fn withdrawal(log: &alloy_primitives::Log) -> Option<(Address, U256)> {
    if log.address != L2_BRIDGE_ADDRESS {
        return None;
    }
    let topics = log.topics();
    let data = log.data.data.as_ref();
    let word = |i: usize| data.get(32 * i..32 * (i + 1)).map(U256::from_be_slice);
    let first = topics.first()?;
    if *first == withdrawal_initiated_topic() && topics.len() == 3 {
        // (senderOnL2, receiverOnL1) indexed; data: amount, messageId.
        return Some((Address::from_word(topics[2]), word(0)?));
    }
    if *first == erc20_withdrawal_initiated_topic() && topics.len() == 4 {
        // (tokenL1, tokenL2, receiverOnL1) indexed; data: senderOnL2, amount, messageId.
        return Some((Address::from_word(topics[3]), word(1)?));
    }
    None
}
