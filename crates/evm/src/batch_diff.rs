//! The rules that turn a batch's pre-state, post-state and logs into its [`StateDiff`]
//! (docs/committer.md, State diff formats), with no storage behind them: the sequencer feeds
//! [`StateDiffAccumulator`] from its store (`keel_chain::BatchDiffBuilder`), the stateless prover
//! from its witness tries, and both get the same diff from [`StateDiffAccumulator::build`].
//!
//! For every account the batch touched, comparing its state after the batch's last block
//! (*post*) with its state before the first block (*pre*; a missing account counts as nonce 0,
//! balance 0, no code, no storage):
//! - **balance** (type 1): the post balance, if it differs from the pre balance;
//! - **nonce** (type 2): post − pre nonce, if positive (a u16: more is an error);
//! - **storage** (type 4): every slot whose post value differs from its pre value, with the post
//!   value (0 for a cleared slot);
//! - **code**: if the code hash changed, the bytecode in full (type 8) unless it was already
//!   published (`known_code(hash)`, or an earlier account of the same diff carries it in full), in
//!   which case only its hash (type 16);
//! - an account whose post state equals its pre-state is left out entirely.
//!
//! An account that existed before and is gone after is emitted with balance 0 and its old slots
//! as 0 (the applier deletes every account that ends empty); one that would end *existing and
//! empty*, or deleted while it had a nonce or code, can't be represented
//! ([`DiffBuildError::Unrepresentable`]).
//!
//! **Withdrawal logs**: each `WithdrawalInitiated` / `ERC20WithdrawalInitiated` event of the L2
//! bridge, in block and log order: `(receiverOnL1, amount, tx hash)`. **Privileged logs**: each
//! privileged (0x7e) transaction, included or failed, in block order: `(to, value)`.

use std::collections::{BTreeMap, HashMap, HashSet};

use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};
use keel_types::{
    AccountDiff, CodeChange, DiffHeader, Header, PrivilegedLog, Receipt, StateDiff, StateDiffError,
    Transaction, WithdrawalLog, rules::L2_BRIDGE_ADDRESS,
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

/// Why a state diff could not be built from what was accumulated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiffBuildError {
    #[error("no block was added")]
    Empty,
    #[error("bytecode {0} is needed in full but was not given")]
    MissingCode(B256),
    #[error("the batch does not fit a v1 state diff: {0}")]
    TooLarge(StateDiffError),
    #[error("account {address}: {reason}")]
    Unrepresentable {
        address: Address,
        reason: &'static str,
    },
}

/// One account's state before the batch (`pre`) and after the last block added (`post`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedAccount {
    pub pre: Option<TrieAccount>,
    pub post: Option<TrieAccount>,
    /// slot → (pre value, post value)
    pub slots: BTreeMap<B256, (U256, U256)>,
}

/// What a batch's state diff is built from: tracked accounts and slots, new bytecodes, logs and
/// the last header. See the module docs for the rules.
#[derive(Debug, Clone, Default)]
pub struct StateDiffAccumulator {
    last_header: Option<Header>,
    accounts: BTreeMap<Address, TrackedAccount>,
    /// Bytecode of every code hash an account took in the batch.
    codes: HashMap<B256, Bytes>,
    withdrawals: Vec<WithdrawalLog>,
    privileged: Vec<PrivilegedLog>,
    slot_count: usize,
    code_bytes: usize,
}

impl StateDiffAccumulator {
    pub fn new() -> Self {
        Self::default()
    }

    /// The tracked entry of `address`, created with `pre` (and no post) the first time.
    pub fn account(&mut self, address: Address, pre: Option<TrieAccount>) -> &mut TrackedAccount {
        self.accounts
            .entry(address)
            .or_insert_with(|| TrackedAccount {
                pre,
                post: None,
                slots: BTreeMap::new(),
            })
    }

    /// The tracked entry of `address`, if any.
    pub fn tracked_mut(&mut self, address: &Address) -> Option<&mut TrackedAccount> {
        self.accounts.get_mut(address)
    }

    /// The tracked accounts.
    pub fn accounts(&self) -> &BTreeMap<Address, TrackedAccount> {
        &self.accounts
    }

    /// Track `slot` of the already tracked `address` with pre value `pre` the first time (post =
    /// pre), and return its (pre, post) entry. `None` if the account is not tracked.
    pub fn slot(&mut self, address: &Address, slot: B256, pre: U256) -> Option<&mut (U256, U256)> {
        let tracked = self.accounts.get_mut(address)?;
        Some(tracked.slots.entry(slot).or_insert_with(|| {
            self.slot_count += 1;
            (pre, pre)
        }))
    }

    /// Whether the bytecode of `hash` is held.
    pub fn has_code(&self, hash: &B256) -> bool {
        self.codes.contains_key(hash)
    }

    /// Hold the bytecode of `hash` (a code an account took in the batch).
    pub fn add_code(&mut self, hash: B256, code: Bytes) {
        if let std::collections::hash_map::Entry::Vacant(entry) = self.codes.entry(hash) {
            self.code_bytes += code.len();
            entry.insert(code);
        }
    }

    /// Add one block's privileged and withdrawal logs and make it the last block.
    pub fn add_block_logs(
        &mut self,
        header: Header,
        transactions: &[Transaction],
        receipts: &[Receipt],
    ) {
        for (tx, receipt) in transactions.iter().zip(receipts) {
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
        self.last_header = Some(header);
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
    pub fn build(&self, known_code: impl Fn(&B256) -> bool) -> Result<StateDiff, DiffBuildError> {
        let header = self.last_header.as_ref().ok_or(DiffBuildError::Empty)?;
        let mut published_here = HashSet::new();
        let mut accounts = Vec::new();
        for (address, tracked) in &self.accounts {
            let address = *address;
            let unrepresentable = |reason| DiffBuildError::Unrepresentable { address, reason };
            let pre = tracked.pre.unwrap_or_else(empty_account);
            let storage: Vec<(B256, U256)> = tracked
                .slots
                .iter()
                .filter(|(_, (pre, post))| pre != post)
                .map(|(slot, (_, post))| (*slot, *post))
                .collect();
            if storage.len() > usize::from(u16::MAX) {
                return Err(DiffBuildError::TooLarge(StateDiffError::TooManySlots {
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
                    return Err(DiffBuildError::TooLarge(StateDiffError::TooMany {
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
                    .ok_or(DiffBuildError::MissingCode(post.code_hash))?;
                if code.len() > usize::from(u16::MAX) {
                    return Err(DiffBuildError::TooLarge(StateDiffError::CodeTooLong {
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
                return Err(DiffBuildError::TooLarge(StateDiffError::TooMany {
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

/// The account EIP-161 treats as absent.
pub fn empty_account() -> TrieAccount {
    TrieAccount {
        nonce: 0,
        balance: U256::ZERO,
        storage_root: EMPTY_ROOT_HASH,
        code_hash: KECCAK256_EMPTY,
    }
}

/// Nonce 0, balance 0, no code, no storage.
pub fn is_empty(account: &TrieAccount) -> bool {
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
