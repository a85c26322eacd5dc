//! Checking that the store holds one consistent state at its head: the flat tables (`ACCOUNTS`,
//! `STORAGE`) and the trie agree leaf for leaf, and the trie's root is the head header's
//! `state_root`. After a crash this is what "a block is stored whole or not at all" means for the
//! state; `keel l2 verify-state` runs it on a datadir.
//!
//! The tries are read only through [`keel_trie::NodeStore`] (owner, path, hash), with every
//! node re-hashed by [`TrieLeaves`], so the check does not depend on how trie nodes are keyed in
//! the store: a new node layout needs no change here, only checks of its own (e.g. that no
//! unreachable node is left behind).
//!
//! Cost: one pass over the flat tables and every trie node; memory for 52 bytes per account (the
//! flat accounts in hashed-key order, to meet the trie's order) plus one account's slots at a
//! time.

use alloy_primitives::{Address, B256, KECCAK256_EMPTY, U256, keccak256};
use alloy_trie::{HashBuilder, Nibbles, TrieAccount};
use keel_trie::{TrieError, TrieLeaves};

use crate::{ChainReader, StateReader, Store, StoreError, StoreReader, codec::decode};

/// What a successful check covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateReport {
    pub head_number: u64,
    pub head_hash: B256,
    /// The head header's state root, which the trie and the flat state both have.
    pub state_root: B256,
    /// Accounts (each a flat entry and an account-trie leaf).
    pub accounts: u64,
    /// Storage slots (each a flat entry and a storage-trie leaf).
    pub slots: u64,
}

/// Why [`verify_state`] failed: the store could not be read, or it is inconsistent.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No block has been written yet: there is no state to check.
    #[error("the store has no head block")]
    NoHead,
    /// The first inconsistency found.
    #[error("state at head block {number} ({hash}) is inconsistent: {mismatch}")]
    Mismatch {
        number: u64,
        hash: B256,
        mismatch: Box<Mismatch>,
    },
}

impl VerifyError {
    /// The inconsistency, if that is what this is (not a read failure).
    pub fn mismatch(&self) -> Option<&Mismatch> {
        match self {
            Self::Mismatch { mismatch, .. } => Some(mismatch),
            _ => None,
        }
    }
}

/// Which trie a [`Mismatch`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrieName {
    Account,
    /// The storage trie of this account.
    Storage(Address),
}

impl std::fmt::Display for TrieName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Account => write!(f, "the account trie"),
            Self::Storage(address) => write!(f, "the storage trie of {address}"),
        }
    }
}

/// An inconsistency between the head header, the flat state and the trie.
#[derive(Debug, thiserror::Error)]
pub enum Mismatch {
    /// The head block itself is not whole.
    #[error("head block: {0}")]
    HeadBlock(String),
    #[error("account {address}: the flat state has {flat:?}, the trie has {trie:?}")]
    Account {
        address: Address,
        flat: TrieAccount,
        trie: TrieAccount,
    },
    #[error("account {address} is in the flat state but not in the trie")]
    AccountNotInTrie { address: Address },
    #[error("the trie has an account at key {hashed_address} that the flat state lacks")]
    AccountNotInFlat { hashed_address: B256 },
    #[error("code {code_hash} of account {address} is not stored")]
    MissingCode { address: Address, code_hash: B256 },
    #[error("slot {slot} of {address}: the flat state has {flat}, the trie has {trie}")]
    Slot {
        address: Address,
        slot: B256,
        flat: U256,
        trie: U256,
    },
    #[error("slot {slot} = {value} of {address} is in the flat state but not in the trie")]
    SlotNotInTrie {
        address: Address,
        slot: B256,
        value: U256,
    },
    #[error(
        "the storage trie of {address} has a slot at key {hashed_slot} (= {value}) that the flat \
         state lacks"
    )]
    SlotNotInFlat {
        address: Address,
        hashed_slot: B256,
        value: U256,
    },
    #[error("slot {slot} = {value} of {address} is in the flat state, which has no such account")]
    OrphanSlot {
        address: Address,
        slot: B256,
        value: U256,
    },
    #[error("account {address} has storage root {account}, its flat slots have root {flat}")]
    StorageRoot {
        address: Address,
        account: B256,
        flat: B256,
    },
    #[error("the head header has state root {header}, the flat state has root {flat}")]
    StateRoot { header: B256, flat: B256 },
    /// A leaf that is not a well-formed account or slot.
    #[error("{trie} has a malformed leaf at {key:?}: {reason}")]
    Leaf {
        trie: TrieName,
        key: Nibbles,
        reason: String,
    },
    /// A trie node is missing, does not hash to its reference, or does not decode.
    #[error("{trie}: {error}")]
    Trie { trie: TrieName, error: TrieError },
}

/// Internal failure: a read error or an inconsistency (wrapped with the head at the top).
/// Boxed: the happy path returns it from every step.
enum Failure {
    Store(StoreError),
    Mismatch(Box<Mismatch>),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<Mismatch> for Failure {
    fn from(m: Mismatch) -> Self {
        Self::Mismatch(Box::new(m))
    }
}

impl From<redb::StorageError> for Failure {
    fn from(e: redb::StorageError) -> Self {
        Self::Store(e.into())
    }
}

/// A failed trie walk: the store's own read errors stay read errors, everything else (a
/// missing, stale or malformed node) is an inconsistency.
fn trie_failure(trie: TrieName, error: TrieError) -> Failure {
    match error {
        TrieError::Store(_) => Failure::Store(StoreError::Trie(error)),
        error => Mismatch::Trie { trie, error }.into(),
    }
}

impl Store {
    /// [`verify_state`] on a snapshot of the store (a node may keep writing meanwhile).
    pub fn verify_state(&self) -> Result<StateReport, VerifyError> {
        verify_state(&self.reader()?)
    }
}

/// Checks that the snapshot's state is whole at its head: the head block's header, body and
/// receipts are there; every flat account is an account-trie leaf with the same value and vice
/// versa; every flat slot of each account is a leaf of its storage trie (under the account's
/// storage root) with the same value and vice versa, and no slot belongs to a missing account;
/// every account's code is stored; and the account trie's root is the head header's state
/// root. Stops at the first inconsistency.
pub fn verify_state(reader: &StoreReader) -> Result<StateReport, VerifyError> {
    let (head_hash, header) = reader.head()?.ok_or(VerifyError::NoHead)?;
    let run = || -> Result<(u64, u64), Failure> {
        check_head_block(reader, head_hash, header.number)?;
        let accounts = check_accounts(reader, header.state_root)?;
        let slots = check_storage(reader)?;
        Ok((accounts, slots))
    };
    match run() {
        Ok((accounts, slots)) => Ok(StateReport {
            head_number: header.number,
            head_hash,
            state_root: header.state_root,
            accounts,
            slots,
        }),
        Err(Failure::Store(e)) => Err(e.into()),
        Err(Failure::Mismatch(mismatch)) => Err(VerifyError::Mismatch {
            number: header.number,
            hash: head_hash,
            mismatch,
        }),
    }
}

/// The head is canonical and its body and receipts are stored and agree in length.
fn check_head_block(reader: &StoreReader, hash: B256, number: u64) -> Result<(), Failure> {
    let bad = |reason: String| Failure::from(Mismatch::HeadBlock(reason));
    if reader.canonical_hash(number)? != Some(hash) {
        return Err(bad(format!("not the canonical block {number}")));
    }
    let body = reader
        .body(&hash)?
        .ok_or_else(|| bad("no body".to_string()))?;
    let receipts = reader
        .receipts(&hash)?
        .ok_or_else(|| bad("no receipts".to_string()))?;
    if body.transactions.len() != receipts.len() {
        return Err(bad(format!(
            "{} transactions but {} receipts",
            body.transactions.len(),
            receipts.len()
        )));
    }
    Ok(())
}

/// Flat accounts against the account trie under `state_root`; returns the number of accounts.
fn check_accounts(reader: &StoreReader, state_root: B256) -> Result<u64, Failure> {
    // The trie is in hashed-key order, the flat table in address order: sort the addresses by
    // their hashed key to walk both together.
    let mut index = Vec::new();
    for entry in reader.iter_accounts()? {
        let (address, account) = entry?;
        if account.code_hash != KECCAK256_EMPTY && reader.code(&account.code_hash)?.is_none() {
            return Err(Mismatch::MissingCode {
                address,
                code_hash: account.code_hash,
            }
            .into());
        }
        index.push((keccak256(address), address));
    }
    index.sort_unstable();

    let mut flat_root = HashBuilder::default();
    let mut flat = index.iter().peekable();
    let mut buf = Vec::new();
    for leaf in TrieLeaves::new(reader, state_root) {
        let (key, value) = match leaf {
            Ok(leaf) => leaf,
            // The head's root node itself is not stored: the trie is not at the head's root.
            Err(e) if is_root_missing(&e, state_root) => {
                return Err(Mismatch::StateRoot {
                    header: state_root,
                    flat: flat_state_root(reader, &index)?,
                }
                .into());
            }
            Err(e) => return Err(trie_failure(TrieName::Account, e)),
        };
        let hashed = hashed_key(TrieName::Account, key)?;
        let trie_account: TrieAccount =
            decode("account leaf", &value).map_err(|e| Mismatch::Leaf {
                trie: TrieName::Account,
                key,
                reason: e.to_string(),
            })?;
        // Flat accounts before this key are missing from the trie.
        if let Some((_, address)) = flat.next_if(|(h, _)| *h < hashed) {
            return Err(Mismatch::AccountNotInTrie { address: *address }.into());
        }
        let Some((_, address)) = flat.next_if(|(h, _)| *h == hashed) else {
            return Err(Mismatch::AccountNotInFlat {
                hashed_address: hashed,
            }
            .into());
        };
        let flat_account = reader
            .account(address)?
            .ok_or(Mismatch::AccountNotInTrie { address: *address })?;
        if flat_account != trie_account {
            return Err(Mismatch::Account {
                address: *address,
                flat: flat_account,
                trie: trie_account,
            }
            .into());
        }
        buf.clear();
        alloy_rlp::Encodable::encode(&flat_account, &mut buf);
        flat_root.add_leaf(key, &buf);
    }
    if let Some((_, address)) = flat.next() {
        return Err(Mismatch::AccountNotInTrie { address: *address }.into());
    }
    // Every leaf matched and every node hashed to its reference; the root rebuilt from the flat
    // state also catches a stored trie of the right leaves in a non-canonical shape.
    let flat = flat_root.root();
    if flat != state_root {
        return Err(Mismatch::StateRoot {
            header: state_root,
            flat,
        }
        .into());
    }
    Ok(index.len() as u64)
}

/// Whether a walk failed at the root node itself (rather than below it).
fn is_root_missing(error: &TrieError, root: B256) -> bool {
    match error {
        TrieError::MissingNode(hash) => *hash == root,
        TrieError::StaleNode(stale) => stale.path.is_empty(),
        _ => false,
    }
}

/// The root of the flat accounts (`index` sorted by hashed address), for reporting.
fn flat_state_root(reader: &StoreReader, index: &[(B256, Address)]) -> Result<B256, Failure> {
    let mut builder = HashBuilder::default();
    let mut buf = Vec::new();
    for (hashed, address) in index {
        if let Some(account) = reader.account(address)? {
            buf.clear();
            alloy_rlp::Encodable::encode(&account, &mut buf);
            builder.add_leaf(Nibbles::unpack(hashed), &buf);
        }
    }
    Ok(builder.root())
}

/// Flat slots against each account's storage trie; returns the number of slots.
fn check_storage(reader: &StoreReader) -> Result<u64, Failure> {
    let mut slots = reader.iter_storage()?.peekable();
    let mut count = 0u64;
    let mut account_slots = Vec::new();
    for entry in reader.iter_accounts()? {
        let (address, account) = entry?;
        // Both tables are in address order: slots before this account have no account.
        account_slots.clear();
        while let Some(entry) = slots.next_if(|s| !matches!(s, Ok(s) if s.0 > address)) {
            let (slot_address, slot, value) = entry?;
            if slot_address != address {
                return Err(Mismatch::OrphanSlot {
                    address: slot_address,
                    slot,
                    value,
                }
                .into());
            }
            account_slots.push((keccak256(slot), slot, value));
        }
        count += account_slots.len() as u64;
        check_account_storage(reader, address, account.storage_root, &mut account_slots)?;
    }
    if let Some(entry) = slots.next() {
        let (address, slot, value) = entry?;
        return Err(Mismatch::OrphanSlot {
            address,
            slot,
            value,
        }
        .into());
    }
    Ok(count)
}

/// One account's flat slots (`(keccak(slot), slot, value)`, any order) against its storage trie.
fn check_account_storage(
    reader: &StoreReader,
    address: Address,
    storage_root: B256,
    flat_slots: &mut [(B256, B256, U256)],
) -> Result<(), Failure> {
    let trie = TrieName::Storage(address);
    flat_slots.sort_unstable();
    let mut flat = flat_slots.iter().peekable();
    let mut flat_root = HashBuilder::default();
    let mut buf = Vec::new();
    for leaf in TrieLeaves::new_storage(reader, keccak256(address), storage_root) {
        let (key, value) = leaf.map_err(|e| trie_failure(trie, e))?;
        let hashed = hashed_key(trie, key)?;
        let trie_value: U256 = decode("storage leaf", &value).map_err(|e| Mismatch::Leaf {
            trie,
            key,
            reason: e.to_string(),
        })?;
        if let Some((_, slot, value)) = flat.next_if(|(h, _, _)| *h < hashed) {
            return Err(Mismatch::SlotNotInTrie {
                address,
                slot: *slot,
                value: *value,
            }
            .into());
        }
        let Some((_, slot, flat_value)) = flat.next_if(|(h, _, _)| *h == hashed) else {
            return Err(Mismatch::SlotNotInFlat {
                address,
                hashed_slot: hashed,
                value: trie_value,
            }
            .into());
        };
        if *flat_value != trie_value {
            return Err(Mismatch::Slot {
                address,
                slot: *slot,
                flat: *flat_value,
                trie: trie_value,
            }
            .into());
        }
        buf.clear();
        alloy_rlp::Encodable::encode(flat_value, &mut buf);
        flat_root.add_leaf(key, &buf);
    }
    if let Some((_, slot, value)) = flat.next() {
        return Err(Mismatch::SlotNotInTrie {
            address,
            slot: *slot,
            value: *value,
        }
        .into());
    }
    let flat = flat_root.root();
    if flat != storage_root {
        return Err(Mismatch::StorageRoot {
            address,
            account: storage_root,
            flat,
        }
        .into());
    }
    Ok(())
}

/// A leaf's key as the 32-byte hashed key it must be.
fn hashed_key(trie: TrieName, key: Nibbles) -> Result<B256, Failure> {
    if key.len() != 64 {
        return Err(Mismatch::Leaf {
            trie,
            key,
            reason: format!("a key of {} nibbles, not 64", key.len()),
        }
        .into());
    }
    Ok(B256::from_slice(&key.pack()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use alloy_primitives::Bytes;
    use keel_trie::{EMPTY_ROOT_HASH, EmptyNodeStore, Trie, TrieDiff, TrieWrites};
    use keel_types::{BlockBody, Header};

    use super::*;
    use crate::{BlockWrite, StateChanges};

    const CODE: &[u8] = &[0x60, 0x01, 0x60, 0x00, 0x55, 0x00];

    fn addr(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    fn slot(n: u64) -> B256 {
        B256::from(U256::from(n))
    }

    /// A whole state: accounts (their storage roots filled in by `tries`) and their slots.
    #[derive(Clone, Default)]
    struct State {
        accounts: BTreeMap<Address, TrieAccount>,
        slots: BTreeMap<Address, BTreeMap<B256, U256>>,
    }

    impl State {
        fn genesis() -> Self {
            let mut state = Self::default();
            for (n, balance) in [(1u8, 100u64), (2, 0), (3, 7)] {
                state.accounts.insert(
                    addr(n),
                    TrieAccount {
                        nonce: u64::from(n),
                        balance: U256::from(balance),
                        storage_root: EMPTY_ROOT_HASH,
                        code_hash: KECCAK256_EMPTY,
                    },
                );
            }
            // Account 2 is a contract with three slots.
            if let Some(contract) = state.accounts.get_mut(&addr(2)) {
                contract.code_hash = keccak256(CODE);
            }
            state.slots.insert(
                addr(2),
                (1..=3u64).map(|i| (slot(i), U256::from(i * 10))).collect(),
            );
            state
        }

        /// Fills in the storage roots; returns the state root and every trie node (content-
        /// addressed: writing the whole trie again each block is harmless).
        fn tries(&mut self) -> (B256, TrieWrites) {
            let mut storage = Vec::new();
            for (address, account) in &mut self.accounts {
                let mut trie =
                    Trie::new_storage(EmptyNodeStore, keccak256(address), EMPTY_ROOT_HASH);
                for (slot, value) in self.slots.get(address).into_iter().flatten() {
                    trie.insert(keccak256(slot).as_slice(), alloy_rlp::encode(value))
                        .unwrap();
                }
                let updates = trie.commit();
                account.storage_root = updates.root;
                storage.push((keccak256(address), TrieDiff::from(updates)));
            }
            let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
            for (address, account) in &self.accounts {
                trie.insert(keccak256(address).as_slice(), alloy_rlp::encode(account))
                    .unwrap();
            }
            let updates = trie.commit();
            let root = updates.root;
            (root, TrieWrites::new(TrieDiff::from(updates), storage, []))
        }

        /// Every account and slot as changes (a full overwrite of what it holds).
        fn changes(&self) -> StateChanges {
            StateChanges {
                accounts: self
                    .accounts
                    .iter()
                    .map(|(a, acc)| (*a, Some(*acc)))
                    .collect(),
                wiped_storage: Vec::new(),
                storage: self
                    .slots
                    .iter()
                    .flat_map(|(a, slots)| slots.iter().map(|(s, v)| (*a, *s, *v)))
                    .collect(),
                codes: vec![(keccak256(CODE), Bytes::from_static(CODE))],
            }
        }
    }

    /// Writes a block on top of `parent` (`None`: the genesis) with `state` changes, trie
    /// `nodes` and header `state_root`; returns its header.
    fn write(
        store: &Store,
        parent: Option<&Header>,
        state: &StateChanges,
        trie: &TrieWrites,
        state_root: B256,
    ) -> Header {
        let header = Header {
            parent_hash: parent.map_or(B256::ZERO, Header::hash_slow),
            number: parent.map_or(0, |p| p.number + 1),
            state_root,
            gas_limit: 30_000_000,
            ..Default::default()
        };
        let body = BlockBody {
            transactions: Vec::new(),
            ommers: Vec::new(),
            withdrawals: Some(Default::default()),
        };
        store
            .write_block(&BlockWrite {
                hash: header.hash_slow(),
                header: &header,
                body: &body,
                receipts: &[],
                tx_hashes: &[],
                senders: &[],
                state,
                trie,
            })
            .unwrap();
        header
    }

    /// A store at a consistent genesis; its header and state.
    fn consistent() -> (Store, Header, State) {
        let store = Store::in_memory().unwrap();
        let mut state = State::genesis();
        let (root, nodes) = state.tries();
        let genesis = write(&store, None, &state.changes(), &nodes, root);
        (store, genesis, state)
    }

    /// A block on a consistent genesis whose flat `changes` the trie (still at the genesis
    /// root) does not have; returns the mismatch found.
    fn behind_the_tries_back(changes: StateChanges) -> Mismatch {
        let (store, genesis, _) = consistent();
        write(
            &store,
            Some(&genesis),
            &changes,
            &TrieWrites::default(),
            genesis.state_root,
        );
        match store.verify_state() {
            Err(VerifyError::Mismatch {
                number, mismatch, ..
            }) => {
                assert_eq!(number, 1);
                *mismatch
            }
            other => panic!("not a mismatch: {other:?}"),
        }
    }

    #[test]
    fn consistent_store_passes() {
        let (store, genesis, mut state) = consistent();
        let report = store.verify_state().unwrap();
        assert_eq!(
            report,
            StateReport {
                head_number: 0,
                head_hash: genesis.hash_slow(),
                state_root: genesis.state_root,
                accounts: 3,
                slots: 3,
            }
        );

        // A consistent block on top: a changed slot, a new slot, a new account with storage.
        state
            .slots
            .entry(addr(2))
            .or_default()
            .insert(slot(2), U256::from(99));
        state
            .slots
            .entry(addr(2))
            .or_default()
            .insert(slot(7), U256::from(1));
        state.accounts.insert(addr(9), TrieAccount::default());
        state
            .slots
            .entry(addr(9))
            .or_default()
            .insert(slot(1), U256::from(5));
        let (root, nodes) = state.tries();
        let block = write(&store, Some(&genesis), &state.changes(), &nodes, root);
        let report = store.verify_state().unwrap();
        assert_eq!(
            (report.head_number, report.head_hash),
            (1, block.hash_slow())
        );
        assert_eq!((report.accounts, report.slots), (4, 5));
        assert_eq!(report.state_root, root);
    }

    #[test]
    fn empty_store_has_no_head() {
        let store = Store::in_memory().unwrap();
        assert!(matches!(store.verify_state(), Err(VerifyError::NoHead)));
    }

    #[test]
    fn altered_flat_account_is_reported() {
        let mut changed = State::genesis().tries_applied().accounts[&addr(1)];
        changed.balance += U256::from(1);
        let m = behind_the_tries_back(StateChanges {
            accounts: vec![(addr(1), Some(changed))],
            ..Default::default()
        });
        assert!(
            matches!(&m, Mismatch::Account { address, flat, trie }
                if *address == addr(1) && *flat == changed && trie.balance == U256::from(100)),
            "{m}"
        );
    }

    #[test]
    fn missing_slot_is_reported() {
        // Zero deletes the flat slot; the storage trie still has it.
        let m = behind_the_tries_back(StateChanges {
            storage: vec![(addr(2), slot(2), U256::ZERO)],
            ..Default::default()
        });
        assert!(
            matches!(&m, Mismatch::SlotNotInFlat { address, hashed_slot, value }
                if *address == addr(2) && *hashed_slot == keccak256(slot(2))
                    && *value == U256::from(20)),
            "{m}"
        );
    }

    #[test]
    fn extra_slot_is_reported() {
        let m = behind_the_tries_back(StateChanges {
            storage: vec![(addr(2), slot(4), U256::from(4))],
            ..Default::default()
        });
        assert!(
            matches!(&m, Mismatch::SlotNotInTrie { address, slot: s, value }
                if *address == addr(2) && *s == slot(4) && *value == U256::from(4)),
            "{m}"
        );
    }

    #[test]
    fn changed_slot_is_reported() {
        let m = behind_the_tries_back(StateChanges {
            storage: vec![(addr(2), slot(3), U256::from(31))],
            ..Default::default()
        });
        assert!(
            matches!(&m, Mismatch::Slot { address, slot: s, flat, trie }
                if *address == addr(2) && *s == slot(3) && *flat == U256::from(31)
                    && *trie == U256::from(30)),
            "{m}"
        );
    }

    #[test]
    fn slot_of_a_missing_account_is_reported() {
        let m = behind_the_tries_back(StateChanges {
            storage: vec![(addr(5), slot(1), U256::from(1))],
            ..Default::default()
        });
        assert!(
            matches!(&m, Mismatch::OrphanSlot { address, .. } if *address == addr(5)),
            "{m}"
        );
    }

    #[test]
    fn extra_and_missing_accounts_are_reported() {
        let m = behind_the_tries_back(StateChanges {
            accounts: vec![(addr(4), Some(TrieAccount::default()))],
            ..Default::default()
        });
        assert!(
            matches!(&m, Mismatch::AccountNotInTrie { address } if *address == addr(4)),
            "{m}"
        );
        let m = behind_the_tries_back(StateChanges {
            accounts: vec![(addr(3), None)],
            ..Default::default()
        });
        assert!(
            matches!(&m, Mismatch::AccountNotInFlat { hashed_address }
                if *hashed_address == keccak256(addr(3))),
            "{m}"
        );
    }

    #[test]
    fn a_block_whose_root_the_trie_does_not_have_is_refused() {
        // The store itself refuses a head whose state root its tries don't have, so the
        // verifier never meets one written through write_block.
        let (store, genesis, _) = consistent();
        let bogus = B256::repeat_byte(0x42);
        let header = Header {
            parent_hash: genesis.hash_slow(),
            number: 1,
            state_root: bogus,
            gas_limit: 30_000_000,
            ..Default::default()
        };
        let body = BlockBody {
            transactions: Vec::new(),
            ommers: Vec::new(),
            withdrawals: Some(Default::default()),
        };
        let refused = store.write_block(&BlockWrite {
            hash: header.hash_slow(),
            header: &header,
            body: &body,
            receipts: &[],
            tx_hashes: &[],
            senders: &[],
            state: &StateChanges::default(),
            trie: &TrieWrites::default(),
        });
        assert!(refused.is_err());
        let report = store.verify_state().expect("still the consistent genesis");
        assert_eq!(report.head_number, 0);
    }

    #[test]
    fn missing_code_is_reported() {
        let store = Store::in_memory().unwrap();
        let mut state = State::genesis();
        let (root, nodes) = state.tries();
        let mut changes = state.changes();
        changes.codes.clear();
        write(&store, None, &changes, &nodes, root);
        let err = store.verify_state().unwrap_err();
        assert!(
            matches!(err.mismatch(), Some(Mismatch::MissingCode { address, .. })
                if *address == addr(2)),
            "{err}"
        );
    }

    #[test]
    fn missing_trie_node_is_reported() {
        let store = Store::in_memory().unwrap();
        let mut state = State::genesis();
        let (root, mut nodes) = state.tries();
        // Drop the contract's storage-trie root node.
        let storage_root = state.accounts[&addr(2)].storage_root;
        let owner = keccak256(addr(2));
        for (o, diff) in &mut nodes.storage {
            if *o == owner {
                diff.nodes.retain(|(path, _, _)| !path.is_empty());
            }
        }
        write(&store, None, &state.changes(), &nodes, root);
        let err = store.verify_state().unwrap_err();
        assert!(
            matches!(err.mismatch(), Some(Mismatch::Trie {
                trie: TrieName::Storage(a),
                error: TrieError::MissingNode(h),
            }) if *a == addr(2) && *h == storage_root),
            "{err}"
        );
    }

    impl State {
        /// The genesis with its storage roots filled in.
        fn tries_applied(mut self) -> Self {
            self.tries();
            self
        }
    }
}
