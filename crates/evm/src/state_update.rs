//! From execution's state changes to the new state root: update each touched storage trie, then
//! the account trie, on the persistent trie. Work is proportional to what the block changed.
//!
//! Generic over where the parent state's nodes come from: the node's database, or a prover's
//! witness. Both compute the root with this one function.

use alloy_primitives::{Address, B256, keccak256};
use alloy_rlp::Encodable;
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};
use keel_state::{StateChanges, StateReader};
use keel_trie::{NodeStore, Trie, TrieDiff, TrieError, TrieWrites};
use rayon::prelude::*;
use revm::database::{BundleAccount, BundleState};

/// From this many touched storage tries on, they are updated in parallel.
const PARALLEL_STORAGE_TRIES: usize = 8;

/// The new state root, the flat-state changes and the trie changes of one block.
#[derive(Debug, Default)]
pub struct StateUpdate {
    pub state_root: B256,
    pub changes: StateChanges,
    /// Path-keyed trie changes; [`TrieWrites::hashes`] for content-addressed stores.
    pub trie: TrieWrites,
}

/// One account's new record and the changes of its storage trie.
struct AccountUpdate {
    address: Address,
    account: Option<TrieAccount>,
    /// The old storage is gone (account deleted or self-destructed): its
    /// trie is deleted whole, and `storage_diff` builds the new one from empty.
    wiped: bool,
    storage: Vec<(B256, alloy_primitives::U256)>,
    storage_diff: TrieDiff,
}

/// Apply `bundle` (one block's changes) to the state at `parent_root`, read through `reader`.
pub fn compute_state_update<R>(
    reader: &R,
    parent_root: B256,
    bundle: &BundleState,
) -> Result<StateUpdate, R::Error>
where
    R: StateReader + NodeStore + Sync,
    R::Error: From<TrieError> + Send,
{
    // Storage tries are independent of each other: build them in parallel when there are enough
    // to pay for the fan-out; plain balance/nonce changes are cheap and stay on this thread.
    let accounts: Vec<(&Address, &BundleAccount)> = bundle.state.iter().collect();
    let with_storage = accounts
        .iter()
        .filter(|(_, a)| !a.storage.is_empty())
        .count();
    let update = |(address, account): &(&Address, &BundleAccount)| {
        account_update(reader, **address, account)
    };
    let updates = if with_storage >= PARALLEL_STORAGE_TRIES {
        accounts
            .par_iter()
            .map(update)
            .collect::<Result<Vec<_>, _>>()?
    } else {
        accounts.iter().map(update).collect::<Result<Vec<_>, _>>()?
    };

    let mut trie = Trie::new(reader, parent_root);
    let mut out = StateUpdate::default();
    let mut storage_diffs = Vec::new();
    let mut wiped_owners = Vec::new();
    let mut buf = Vec::with_capacity(128);
    for update in updates.into_iter().flatten() {
        let key = keccak256(update.address);
        match &update.account {
            Some(account) => {
                buf.clear();
                account.encode(&mut buf);
                trie.insert(key.as_slice(), buf.clone())?;
            }
            None => trie.remove(key.as_slice())?,
        }
        if !update.storage_diff.is_empty() {
            storage_diffs.push((key, update.storage_diff));
        }
        if update.wiped {
            out.changes.wiped_storage.push(update.address);
            wiped_owners.push(key);
        }
        out.changes.storage.extend(
            update
                .storage
                .into_iter()
                .map(|(slot, value)| (update.address, slot, value)),
        );
        out.changes.accounts.push((update.address, update.account));
    }
    let updates = trie.commit();
    out.state_root = updates.root;
    out.trie = TrieWrites::new(updates.into(), storage_diffs, wiped_owners);
    out.changes.codes = bundle
        .contracts
        .iter()
        .filter(|(hash, _)| **hash != alloy_primitives::KECCAK256_EMPTY)
        .map(|(hash, code)| (*hash, code.original_bytes()))
        .collect();
    Ok(out)
}

/// The new record of one account, or `None` if the block left it as it was.
fn account_update<R>(
    reader: &R,
    address: Address,
    account: &BundleAccount,
) -> Result<Option<AccountUpdate>, R::Error>
where
    R: StateReader + NodeStore,
    R::Error: From<TrieError>,
{
    let wiped = account.was_destroyed();
    let Some(info) = &account.info else {
        if account.original_info.is_none() && !wiped {
            return Ok(None); // never existed, still doesn't
        }
        return Ok(Some(AccountUpdate {
            address,
            account: None,
            wiped: true,
            storage: Vec::new(),
            storage_diff: TrieDiff::default(),
        }));
    };

    // Slots whose value differs from what the flat state holds.
    let storage: Vec<(B256, alloy_primitives::U256)> = account
        .storage
        .iter()
        .filter(|(_, slot)| {
            if wiped {
                !slot.present_value.is_zero()
            } else {
                slot.is_changed()
            }
        })
        .map(|(key, slot)| (B256::from(*key), slot.present_value))
        .collect();
    if !wiped && storage.is_empty() && account.original_info.as_ref() == Some(info) {
        return Ok(None);
    }

    let old_root = if wiped {
        EMPTY_ROOT_HASH
    } else {
        reader
            .account(&address)?
            .map_or(EMPTY_ROOT_HASH, |a| a.storage_root)
    };
    let (storage_root, storage_diff) = if storage.is_empty() {
        (old_root, TrieDiff::default())
    } else {
        let mut trie = Trie::new_storage(reader, keccak256(address), old_root);
        for (slot, value) in &storage {
            let key = keccak256(slot);
            if value.is_zero() {
                trie.remove(key.as_slice())?;
            } else {
                trie.insert(key.as_slice(), alloy_rlp::encode(value))?;
            }
        }
        let updates = trie.commit();
        (updates.root, updates.into())
    };

    Ok(Some(AccountUpdate {
        address,
        account: Some(TrieAccount {
            nonce: info.nonce,
            balance: info.balance,
            storage_root,
            code_hash: info.code_hash,
        }),
        wiped,
        storage,
        storage_diff,
    }))
}
