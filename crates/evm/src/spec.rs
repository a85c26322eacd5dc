//! keel's chain spec seen through alloy-evm's spec traits.

use alloy_evm::eth::spec::EthExecutorSpec;
use alloy_hardforks::{EthereumHardfork, EthereumHardforks, ForkCondition};
use alloy_primitives::Address;
use keel_types::ChainSpec;
use std::sync::Arc;

/// A shared [`ChainSpec`] in the shape alloy-evm's executor accepts (it must be `'static`).
#[derive(Debug, Clone)]
pub struct EvmSpec(pub Arc<ChainSpec>);

impl EthereumHardforks for EvmSpec {
    fn ethereum_fork_activation(&self, fork: EthereumHardfork) -> ForkCondition {
        self.0.ethereum_fork_activation(fork)
    }
}

impl EthExecutorSpec for EvmSpec {
    fn deposit_contract_address(&self) -> Option<Address> {
        self.0.deposit_contract
    }
}

/// The revm fork rules in force for a block at `timestamp` and `number`.
pub fn spec_id_at(
    spec: &Arc<ChainSpec>,
    timestamp: u64,
    number: u64,
) -> revm::primitives::hardfork::SpecId {
    alloy_evm::spec_by_timestamp_and_block_number(&EvmSpec(spec.clone()), timestamp, number)
}

/// The gas a transaction must at least have to be included at fork `spec_id`: its intrinsic gas
/// or, from Prague, the EIP-7623 calldata floor, whichever is more.
pub fn intrinsic_gas(
    spec_id: revm::primitives::hardfork::SpecId,
    tx: &keel_types::Transaction,
) -> u64 {
    use alloy_consensus::Transaction as _;
    let (accounts, slots) = tx.access_list().map_or((0, 0), |list| {
        (
            list.len() as u64,
            list.iter().map(|item| item.storage_keys.len() as u64).sum(),
        )
    });
    let auths = tx.authorization_list().map_or(0, |a| a.len() as u64);
    let gas = revm::context_interface::cfg::gas::calculate_initial_tx_gas(
        spec_id,
        tx.input(),
        tx.is_create(),
        accounts,
        slots,
        auths,
        None,
    );
    (gas.initial_regular_gas + gas.initial_state_gas).max(gas.floor_gas)
}
