//! Execution needs only the `keel-state` read traits, not the database: a block runs over a plain
//! in-memory implementation with its own error type (as a prover's witness-backed state will).

use std::{collections::HashMap, sync::Arc};

use alloy_consensus::{BlockBody, Header};
use alloy_primitives::{Address, B256, Bytes, U256, address};
use alloy_trie::TrieAccount;
use keel_evm::{StoreDb, execute_block};
use keel_state::{ChainReader, StateError, StateReader};
use keel_types::{
    Block, BlockBody as KeelBody, ChainSpec, PrivilegedTx, Receipt, Transaction, dev,
    genesis_header,
};

/// Accounts, slots, code and block hashes in maps; its own error type.
#[derive(Default)]
struct MapState {
    accounts: HashMap<Address, TrieAccount>,
    storage: HashMap<(Address, B256), U256>,
    code: HashMap<B256, Bytes>,
    hashes: HashMap<u64, B256>,
}

#[derive(Debug, thiserror::Error)]
enum MapError {
    #[error(transparent)]
    State(#[from] StateError),
}

impl StateReader for MapState {
    type Error = MapError;

    fn account(&self, address: &Address) -> Result<Option<TrieAccount>, MapError> {
        Ok(self.accounts.get(address).copied())
    }
    fn storage(&self, address: &Address, slot: &B256) -> Result<U256, MapError> {
        Ok(self
            .storage
            .get(&(*address, *slot))
            .copied()
            .unwrap_or_default())
    }
    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, MapError> {
        Ok(self.code.get(code_hash).cloned())
    }
}

impl ChainReader for MapState {
    type Error = MapError;

    fn header(&self, _: &B256) -> Result<Option<Header>, MapError> {
        Ok(None)
    }
    fn body(&self, _: &B256) -> Result<Option<KeelBody>, MapError> {
        Ok(None)
    }
    fn receipts(&self, _: &B256) -> Result<Option<Vec<Receipt>>, MapError> {
        Ok(None)
    }
    fn canonical_hash(&self, number: u64) -> Result<Option<B256>, MapError> {
        Ok(self.hashes.get(&number).copied())
    }
    fn block_number(&self, _: &B256) -> Result<Option<u64>, MapError> {
        Ok(None)
    }
    fn tx_location(&self, _: &B256) -> Result<Option<(B256, u64)>, MapError> {
        Ok(None)
    }
    fn head_hash(&self) -> Result<Option<B256>, MapError> {
        Ok(None)
    }
    fn genesis_hash(&self) -> Result<Option<B256>, MapError> {
        Ok(self.hashes.get(&0).copied())
    }
}

#[test]
fn a_block_executes_over_a_reader_that_is_not_the_database() {
    let genesis = dev::dev_genesis();
    let spec = Arc::new(ChainSpec::from_genesis(&genesis).expect("dev genesis"));
    let parent = genesis_header(&genesis, &spec);
    let mut state = MapState::default();
    for (address, account) in &genesis.alloc {
        let trie = account.clone().into_trie_account();
        if let Some(code) = &account.code {
            state.code.insert(trie.code_hash, code.clone());
        }
        for (slot, value) in account.storage.iter().flatten() {
            state
                .storage
                .insert((*address, *slot), U256::from_be_bytes(value.0));
        }
        state.accounts.insert(*address, trie);
    }
    state.hashes.insert(0, parent.hash_slow());

    // A privileged transfer (no signature needed) from a funded dev account to a fresh address.
    let from = dev::DEV_ACCOUNTS[1].0;
    let to = address!("0x00000000000000000000000000000000000c0ffe");
    let value = U256::from(123_456_789u64);
    let tx = PrivilegedTx {
        chain_id: genesis.config.chain_id,
        nonce: 0,
        from,
        to,
        value,
        gas_limit: 100_000,
        data: Bytes::new(),
    };
    let header = Header {
        parent_hash: parent.hash_slow(),
        number: 1,
        gas_limit: parent.gas_limit,
        timestamp: parent.timestamp + 1,
        base_fee_per_gas: parent.next_block_base_fee(spec.base_fee_params),
        withdrawals_root: parent.withdrawals_root,
        blob_gas_used: parent.blob_gas_used.map(|_| 0),
        excess_blob_gas: parent.excess_blob_gas.map(|_| 0),
        parent_beacon_block_root: parent.parent_beacon_block_root,
        requests_hash: parent.requests_hash,
        // The dev chain has the L1 fee rule: the block keeps the genesis L1 prices.
        extra_data: keel_types::fees::DEFAULT_FEE_PARAMS.prices.to_extra_data(),
        ..Header::default()
    };
    let block = Block {
        header,
        body: BlockBody {
            transactions: vec![Transaction::privileged(tx)],
            ommers: Vec::new(),
            withdrawals: parent.withdrawals_root.map(|_| Default::default()),
        },
    };

    let outcome = execute_block(&spec, StoreDb::new(&state, &state), &block, &[from])
        .expect("the block executes over the map");
    assert_eq!(outcome.receipts.len(), 1);
    assert!(outcome.receipts[0].status(), "the transfer succeeds");
    assert_eq!(outcome.gas_used, 21_000);
    let received = outcome
        .bundle
        .account(&to)
        .and_then(|a| a.info.as_ref())
        .map(|info| info.balance);
    assert_eq!(received, Some(value), "the recipient got exactly the value");
    let sender = state.accounts[&from].balance;
    assert_eq!(
        outcome
            .bundle
            .account(&from)
            .and_then(|a| a.info.as_ref())
            .map(|info| info.balance),
        Some(sender - value),
        "privileged txs pay no gas: the sender loses exactly the value"
    );
}
