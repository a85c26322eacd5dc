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
