//! Writing the genesis block into an empty store.

use alloy_primitives::{B256, keccak256};
use alloy_rlp::Encodable;
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};
use keel_storage::{BlockWrite, StateChanges, Store};
use keel_trie::{EmptyNodeStore, Trie, TrieDiff, TrieWrites};
use keel_types::{BlockBody, ChainSpec, Genesis, genesis_header};

use crate::ChainError;

/// Build the genesis state on the trie, check its root against the header, and write both.
pub fn write_genesis(
    store: &Store,
    genesis: &Genesis,
    spec: &ChainSpec,
) -> Result<B256, ChainError> {
    let header = genesis_header(genesis, spec);
    let hash = header.hash_slow();

    let mut changes = StateChanges::default();
    let mut storage_diffs = Vec::new();
    let mut account_trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
    for (address, account) in &genesis.alloc {
        let mut storage_trie =
            Trie::new_storage(EmptyNodeStore, keccak256(address), EMPTY_ROOT_HASH);
        for (slot, value) in account.storage_slots() {
            if value.is_zero() {
                continue;
            }
            storage_trie.insert(keccak256(slot).as_slice(), alloy_rlp::encode(value))?;
            changes.storage.push((*address, slot, value));
        }
        let storage = storage_trie.commit();
        let storage_root = storage.root;
        storage_diffs.push((keccak256(address), TrieDiff::from(storage)));
        let code_hash = match account.code.as_ref().filter(|c| !c.is_empty()) {
            Some(code) => {
                let code_hash = keccak256(code);
                changes.codes.push((code_hash, code.clone()));
                code_hash
            }
            None => alloy_primitives::KECCAK256_EMPTY,
        };
        let record = TrieAccount {
            nonce: account.nonce.unwrap_or(0),
            balance: account.balance,
            storage_root,
            code_hash,
        };
        let mut buf = Vec::with_capacity(110);
        record.encode(&mut buf);
        account_trie.insert(keccak256(address).as_slice(), buf)?;
        changes.accounts.push((*address, Some(record)));
    }
    let accounts = account_trie.commit();
    if accounts.root != header.state_root {
        return Err(ChainError::GenesisStateRoot {
            computed: accounts.root,
            header: header.state_root,
        });
    }
    let trie = TrieWrites::new(accounts.into(), storage_diffs, []);

    let body = BlockBody {
        transactions: Vec::new(),
        ommers: Vec::new(),
        withdrawals: header.withdrawals_root.map(|_| Default::default()),
    };
    store.write_block(&BlockWrite {
        hash,
        header: &header,
        body: &body,
        receipts: &[],
        tx_hashes: &[],
        senders: &[],
        state: &changes,
        trie: &trie,
    })?;
    Ok(hash)
}
