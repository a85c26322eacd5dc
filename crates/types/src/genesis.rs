//! The genesis block: its state root and header, computed exactly as geth does for the same file.

use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, Header};
use alloy_eips::{eip1559::INITIAL_BASE_FEE, eip7685::EMPTY_REQUESTS_HASH};
use alloy_genesis::Genesis;
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::{B64, B256};
use alloy_trie::{EMPTY_ROOT_HASH, root::state_root_ref_unhashed};

use crate::ChainSpec;

/// State root of the genesis `alloc`.
pub fn genesis_state_root(genesis: &Genesis) -> B256 {
    let accounts: Vec<_> = genesis
        .alloc
        .iter()
        .map(|(address, account)| (*address, account.clone().into_trie_account()))
        .collect();
    state_root_ref_unhashed(accounts.iter().map(|(a, acc)| (a, acc)))
}

/// The genesis header. Fork-dependent fields are present exactly when their fork is active at the
/// genesis timestamp, which is what makes the hash equal to geth's for the same file.
pub fn genesis_header(genesis: &Genesis, spec: &ChainSpec) -> Header {
    let number = genesis.number.unwrap_or(0);
    let ts = genesis.timestamp;
    let london = spec.is_london_active_at_block(number);
    let shanghai = spec.is_shanghai_active_at_timestamp(ts);
    let cancun = spec.is_cancun_active_at_timestamp(ts);
    let prague = spec.is_prague_active_at_timestamp(ts);

    Header {
        parent_hash: genesis.parent_hash.unwrap_or_default(),
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: genesis.coinbase,
        state_root: genesis_state_root(genesis),
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        logs_bloom: Default::default(),
        difficulty: genesis.difficulty,
        number,
        gas_limit: genesis.gas_limit,
        gas_used: 0,
        timestamp: ts,
        extra_data: genesis.extra_data.clone(),
        mix_hash: genesis.mix_hash,
        nonce: B64::from(genesis.nonce),
        base_fee_per_gas: london.then(|| {
            genesis
                .base_fee_per_gas
                .map_or(INITIAL_BASE_FEE, |f| f as u64)
        }),
        withdrawals_root: shanghai.then_some(EMPTY_ROOT_HASH),
        blob_gas_used: cancun.then(|| genesis.blob_gas_used.unwrap_or(0)),
        excess_blob_gas: cancun.then(|| genesis.excess_blob_gas.unwrap_or(0)),
        parent_beacon_block_root: cancun.then_some(B256::ZERO),
        requests_hash: prague.then_some(EMPTY_REQUESTS_HASH),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// geth's dev-mode style genesis; the expected hash is what geth computes for this file
    /// (taken from the block test fixtures' genesis of the same shape is checked by the harness;
    /// here we check field presence rules).
    #[test]
    fn fork_fields_follow_schedule() {
        let json = r#"{
            "config": {"chainId": 1, "terminalTotalDifficulty": 0, "shanghaiTime": 0, "cancunTime": 0},
            "gasLimit": "0x1c9c380", "difficulty": "0x0", "alloc": {}
        }"#;
        let (genesis, spec) = ChainSpec::from_genesis_json(json).unwrap();
        let h = genesis_header(&genesis, &spec);
        assert_eq!(h.base_fee_per_gas, Some(INITIAL_BASE_FEE));
        assert_eq!(h.withdrawals_root, Some(EMPTY_ROOT_HASH));
        assert_eq!(h.excess_blob_gas, Some(0));
        assert_eq!(h.parent_beacon_block_root, Some(B256::ZERO));
        assert_eq!(h.requests_hash, None);
        assert_eq!(h.state_root, EMPTY_ROOT_HASH);
    }

    #[test]
    fn rejects_pre_merge() {
        let json =
            r#"{"config": {"chainId": 1}, "gasLimit": "0x1", "difficulty": "0x1", "alloc": {}}"#;
        assert!(matches!(
            ChainSpec::from_genesis_json(json),
            Err(crate::ChainSpecError::NotPostMerge(None))
        ));
    }

    #[test]
    fn rejects_out_of_order_forks() {
        let json = r#"{"config": {"chainId": 1, "terminalTotalDifficulty": 0, "shanghaiTime": 10, "cancunTime": 5},
            "gasLimit": "0x1", "difficulty": "0x0", "alloc": {}}"#;
        assert!(matches!(
            ChainSpec::from_genesis_json(json),
            Err(crate::ChainSpecError::ForkOrder { .. })
        ));
    }
}
