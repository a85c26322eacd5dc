//! An upper bound of a block's state diff v1 size (docs/committer.md, Batching), kept as the block
//! is built, so that the block builder can stop before a block's own diff outgrows a blob.
//!
//! A batch is sealed before the block that would make its diff overflow a blob, so every single
//! block's diff must fit one, or a batch could become unsendable. The bound counts, in the v1
//! encoding:
//!
//! - the version byte and last-block header (137 bytes) and the three u16 counts (6 bytes);
//! - per distinct account written (touched by a committed change): type, address, balance and
//!   nonce increase (1 + 20 + 32 + 2), whatever actually changed;
//! - per distinct storage slot whose value a transaction changed: key and value (64), plus the
//!   u16 slot count once per account with storage;
//! - per account whose code changed: the larger of the code in full (u16 length + bytes) and a
//!   known code's hash (32);
//! - per withdrawal: 84 bytes, counted per transaction as the larger of the L2 bridge's
//!   `WithdrawalInitiated`/`ERC20WithdrawalInitiated` logs and the messenger's `L1Message` logs
//!   (each withdrawal emits one of each, so the bound holds whichever the batch diff is built
//!   from);
//! - per privileged transaction: 52 bytes.
//!
//! The real diff only carries what changed over the whole batch (final values, each account and
//! slot once), so it is never larger than this bound of any of its blocks' changes put together.
//! Only each transaction's own changes are looked at (its `EvmState` before commit), so keeping
//! the bound costs a few hash-set lookups per written account and slot.

use alloy_primitives::{
    Address, B256, Log, U256, keccak256,
    map::{HashMap, HashSet},
};
use keel_types::rules::{L2_BRIDGE_ADDRESS, MESSENGER_ADDRESS};
use revm::{
    database::{TransitionAccount, TransitionState},
    primitives::KECCAK_EMPTY,
    state::{Account, AccountInfo, EvmState},
};

/// The version byte and the last block's header fields.
pub const DIFF_HEADER_BYTES: usize = 1 + 3 * 32 + 5 * 8;
/// The u16 counts of modified accounts, withdrawal logs and privileged transaction logs.
pub const DIFF_COUNTS_BYTES: usize = 3 * 2;
/// What every diff carries, even an empty one.
pub const DIFF_FIXED_BYTES: usize = DIFF_HEADER_BYTES + DIFF_COUNTS_BYTES;
/// One modified account at most, without storage or code: type, address, balance, nonce increase.
pub const ACCOUNT_BYTES: usize = 1 + 20 + 32 + 2;
/// The u16 slot count of an account with storage writes.
pub const STORAGE_COUNT_BYTES: usize = 2;
/// One storage write: key and value.
pub const SLOT_BYTES: usize = 32 + 32;
/// A known bytecode, by hash.
pub const CODE_HASH_BYTES: usize = 32;
/// The u16 length before a new bytecode.
pub const CODE_LEN_BYTES: usize = 2;
/// One withdrawal log: to, amount, tx hash.
pub const WITHDRAWAL_LOG_BYTES: usize = 20 + 32 + 32;
/// One privileged transaction log: to, value.
pub const PRIVILEGED_LOG_BYTES: usize = 20 + 32;

/// Counted for a changed code the state does not hold in full (revm always does for new code;
/// this only keeps the bound an upper bound should it not): the longest a u16 length allows.
const UNKNOWN_CODE_BYTES: usize = CODE_LEN_BYTES + u16::MAX as usize;

/// An upper bound of the state diff v1 size of the changes recorded so far (see the module
/// documentation for what is counted).
#[derive(Debug, Clone)]
pub struct DiffSizeBound {
    accounts: HashMap<Address, AccountBound>,
    bytes: usize,
    /// `WithdrawalInitiated` and `ERC20WithdrawalInitiated` of the L2 bridge.
    withdrawal_topics: [B256; 2],
    /// `L1Message` of the messenger.
    message_topic: B256,
}

/// What is counted for one account so far.
#[derive(Debug, Clone, Default)]
struct AccountBound {
    slots: HashSet<U256>,
    code_bytes: usize,
}

impl Default for DiffSizeBound {
    fn default() -> Self {
        Self::new()
    }
}

impl DiffSizeBound {
    /// The bound of an empty diff: [`DIFF_FIXED_BYTES`].
    pub fn new() -> Self {
        Self {
            accounts: HashMap::default(),
            bytes: DIFF_FIXED_BYTES,
            withdrawal_topics: [
                keccak256("WithdrawalInitiated(address,address,uint256,uint256)"),
                keccak256(
                    "ERC20WithdrawalInitiated(address,address,address,address,uint256,uint256)",
                ),
            ],
            message_topic: keccak256("L1Message(address,bytes32,uint256)"),
        }
    }

    /// The bound so far, in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Distinct accounts counted so far.
    pub fn accounts(&self) -> usize {
        self.accounts.len()
    }

    /// Add `bytes` for changes not seen through the other methods (space kept for the changes
    /// made after the last transaction, for instance).
    pub fn reserve(&mut self, bytes: usize) {
        self.bytes += bytes;
    }

    /// Count one privileged transaction's log.
    pub fn add_privileged(&mut self) {
        self.bytes += PRIVILEGED_LOG_BYTES;
    }

    /// How much recording a transaction's `state` changes and `logs` would add to the bound.
    pub fn cost(&self, state: &EvmState, logs: &[Log]) -> usize {
        let accounts: usize = state
            .iter()
            .filter(|(_, account)| account.is_touched())
            .map(|(address, account)| {
                self.account_cost(address, changed_slots(account), evm_code_bytes(account))
            })
            .sum();
        accounts + self.withdrawals_cost(logs)
    }

    /// Record a transaction's `state` changes and `logs`; returns the bytes added. The state is
    /// what revm returns before it is committed: only touched accounts and changed slots count,
    /// as only those are committed.
    pub fn record(&mut self, state: &EvmState, logs: &[Log]) -> usize {
        let before = self.bytes;
        for (address, account) in state.iter().filter(|(_, a)| a.is_touched()) {
            self.record_account(*address, changed_slots(account), evm_code_bytes(account));
        }
        self.bytes += self.withdrawals_cost(logs);
        self.bytes - before
    }

    /// Record the changes committed to a `State` so far (its transitions), for changes made
    /// outside a transaction: the block's system calls. Returns the bytes added.
    pub fn record_transitions(&mut self, transitions: &TransitionState) -> usize {
        let before = self.bytes;
        for (address, account) in &transitions.transitions {
            let slots = account
                .storage
                .iter()
                .filter(|(_, slot)| slot.is_changed())
                .map(|(key, _)| *key);
            self.record_account(*address, slots, transition_code_bytes(account));
        }
        self.bytes - before
    }

    fn account_cost(
        &self,
        address: &Address,
        slots: impl Iterator<Item = U256>,
        code_bytes: usize,
    ) -> usize {
        match self.accounts.get(address) {
            None => {
                let slots = slots.count();
                ACCOUNT_BYTES + storage_bytes(false, slots) + code_bytes
            }
            Some(known) => {
                let new_slots = slots.filter(|key| !known.slots.contains(key)).count();
                storage_bytes(!known.slots.is_empty(), new_slots)
                    + code_bytes.saturating_sub(known.code_bytes)
            }
        }
    }

    fn record_account(
        &mut self,
        address: Address,
        slots: impl Iterator<Item = U256>,
        code_bytes: usize,
    ) {
        let mut added = 0;
        let known = self.accounts.entry(address).or_insert_with(|| {
            added += ACCOUNT_BYTES;
            AccountBound::default()
        });
        let had_storage = !known.slots.is_empty();
        let mut new_slots = 0;
        for key in slots {
            if known.slots.insert(key) {
                new_slots += 1;
            }
        }
        added += storage_bytes(had_storage, new_slots);
        if code_bytes > known.code_bytes {
            added += code_bytes - known.code_bytes;
            known.code_bytes = code_bytes;
        }
        self.bytes += added;
    }

    /// The withdrawal logs a transaction's `logs` may add to the diff.
    fn withdrawals_cost(&self, logs: &[Log]) -> usize {
        let topic0 = |log: &&Log| log.topics().first().copied();
        let initiated = logs
            .iter()
            .filter(|log| {
                log.address == L2_BRIDGE_ADDRESS
                    && topic0(log).is_some_and(|t| self.withdrawal_topics.contains(&t))
            })
            .count();
        let messages = logs
            .iter()
            .filter(|log| {
                log.address == MESSENGER_ADDRESS && topic0(log) == Some(self.message_topic)
            })
            .count();
        WITHDRAWAL_LOG_BYTES * initiated.max(messages)
    }
}

/// The slots of `account` a transaction changed.
fn changed_slots(account: &Account) -> impl Iterator<Item = U256> + '_ {
    account
        .storage
        .iter()
        .filter(|(_, slot)| slot.is_changed())
        .map(|(key, _)| *key)
}

/// What the code of a transaction's `account` may add: nothing if unchanged.
fn evm_code_bytes(account: &Account) -> usize {
    let changed =
        account.is_created() || account.info.code_hash != account.original_info().code_hash;
    if changed {
        code_bytes(&account.info)
    } else {
        0
    }
}

/// What the code of an account changed by a system call may add: nothing if unchanged.
fn transition_code_bytes(account: &TransitionAccount) -> usize {
    let hash = |info: &Option<AccountInfo>| info.as_ref().map_or(KECCAK_EMPTY, |i| i.code_hash);
    match &account.info {
        Some(info) if hash(&account.info) != hash(&account.previous_info) => code_bytes(info),
        _ => 0,
    }
}

/// The most a changed code can take in the diff: in full, or by hash if it was known already.
/// A removed code (empty) still counts as a hash, in case the diff has to say so.
fn code_bytes(info: &AccountInfo) -> usize {
    let full = match &info.code {
        Some(code) => CODE_LEN_BYTES + code.len(),
        None if info.code_hash == KECCAK_EMPTY => CODE_LEN_BYTES,
        None => UNKNOWN_CODE_BYTES,
    };
    full.max(CODE_HASH_BYTES)
}

/// The bytes `new_slots` more storage writes add to an account that already had some or not.
fn storage_bytes(had_storage: bool, new_slots: usize) -> usize {
    if new_slots == 0 {
        return 0;
    }
    let count = if had_storage { 0 } else { STORAGE_COUNT_BYTES };
    count + SLOT_BYTES * new_slots
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Bytes, LogData, address};
    use revm::{
        bytecode::Bytecode,
        state::{EvmStorageSlot, TransactionId},
    };

    use super::*;

    fn touched(info: AccountInfo, slots: &[(u64, u64, u64)]) -> Account {
        let mut account = Account::from(info);
        for &(key, original, present) in slots {
            account.storage.insert(
                U256::from(key),
                EvmStorageSlot::new_changed(
                    U256::from(original),
                    U256::from(present),
                    TransactionId::ZERO,
                ),
            );
        }
        account.mark_touch();
        account
    }

    fn log(address: Address, signature: &str) -> Log {
        Log {
            address,
            data: LogData::new_unchecked(vec![keccak256(signature)], Bytes::new()),
        }
    }

    #[test]
    fn empty_bound_is_the_header_and_counts() {
        assert_eq!(DIFF_FIXED_BYTES, 143);
        assert_eq!(DiffSizeBound::new().bytes(), 143);
    }

    #[test]
    fn accounts_and_slots_count_once_across_transactions() {
        let a = address!("0x00000000000000000000000000000000000000aa");
        let b = address!("0x00000000000000000000000000000000000000bb");
        let mut bound = DiffSizeBound::new();
        // a: balance change and two slots, one of them written back to its value (not changed).
        let first = EvmState::from_iter([
            (a, touched(AccountInfo::default(), &[(1, 0, 5), (2, 7, 7)])),
            (b, touched(AccountInfo::default(), &[])),
        ]);
        let cost = bound.cost(&first, &[]);
        assert_eq!(cost, 2 * ACCOUNT_BYTES + STORAGE_COUNT_BYTES + SLOT_BYTES);
        assert_eq!(bound.record(&first, &[]), cost);
        // Again slot 1 (known), and slot 3 (new): only the new slot counts, without a count.
        let second =
            EvmState::from_iter([(a, touched(AccountInfo::default(), &[(1, 5, 6), (3, 0, 1)]))]);
        assert_eq!(bound.cost(&second, &[]), SLOT_BYTES);
        assert_eq!(bound.record(&second, &[]), SLOT_BYTES);
        // b's first slot brings its count.
        let third = EvmState::from_iter([(b, touched(AccountInfo::default(), &[(9, 0, 1)]))]);
        assert_eq!(bound.record(&third, &[]), STORAGE_COUNT_BYTES + SLOT_BYTES);
        assert_eq!(
            bound.bytes(),
            DIFF_FIXED_BYTES + 2 * ACCOUNT_BYTES + 2 * STORAGE_COUNT_BYTES + 3 * SLOT_BYTES
        );
        assert_eq!(bound.accounts(), 2);
    }

    #[test]
    fn untouched_accounts_do_not_count() {
        let mut state = EvmState::default();
        state.insert(
            Address::repeat_byte(1),
            Account::from(AccountInfo::default()),
        );
        let bound = DiffSizeBound::new();
        assert_eq!(bound.cost(&state, &[]), 0);
    }

    #[test]
    fn new_code_counts_in_full_and_small_code_as_a_hash() {
        let big = Bytecode::new_raw(Bytes::from(vec![0x5b; 100]));
        let small = Bytecode::new_raw(Bytes::from(vec![0x00; 3]));
        let mut deployed = touched(AccountInfo::default().with_code(big), &[]);
        deployed.mark_created();
        let mut tiny = touched(AccountInfo::default().with_code(small), &[]);
        tiny.mark_created();
        let bound = DiffSizeBound::new();
        let one = EvmState::from_iter([(Address::repeat_byte(1), deployed)]);
        assert_eq!(bound.cost(&one, &[]), ACCOUNT_BYTES + CODE_LEN_BYTES + 100);
        let two = EvmState::from_iter([(Address::repeat_byte(2), tiny)]);
        assert_eq!(bound.cost(&two, &[]), ACCOUNT_BYTES + CODE_HASH_BYTES);
        // An existing contract called: its code did not change.
        let code = Bytecode::new_raw(Bytes::from(vec![0x5b; 100]));
        let called = touched(AccountInfo::default().with_code(code), &[]);
        let three = EvmState::from_iter([(Address::repeat_byte(3), called)]);
        assert_eq!(bound.cost(&three, &[]), ACCOUNT_BYTES);
    }

    #[test]
    fn withdrawals_count_by_bridge_event_or_messenger_message() {
        let bound = DiffSizeBound::new();
        let eth = log(
            L2_BRIDGE_ADDRESS,
            "WithdrawalInitiated(address,address,uint256,uint256)",
        );
        let erc20 = log(
            L2_BRIDGE_ADDRESS,
            "ERC20WithdrawalInitiated(address,address,address,address,uint256,uint256)",
        );
        let message = log(MESSENGER_ADDRESS, "L1Message(address,bytes32,uint256)");
        let deposit = log(L2_BRIDGE_ADDRESS, "DepositProcessed(address,uint256)");
        let elsewhere = log(
            Address::repeat_byte(9),
            "WithdrawalInitiated(address,address,uint256,uint256)",
        );
        let state = EvmState::default();
        assert_eq!(bound.cost(&state, &[deposit.clone(), elsewhere]), 0);
        // A withdrawal emits both: counted once.
        assert_eq!(
            bound.cost(&state, &[message.clone(), eth.clone()]),
            WITHDRAWAL_LOG_BYTES
        );
        assert_eq!(
            bound.cost(&state, &[eth, erc20, message, deposit]),
            2 * WITHDRAWAL_LOG_BYTES
        );
    }
}
