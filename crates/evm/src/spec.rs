//! keel's chain spec seen through alloy-evm's spec traits.

use alloy_evm::eth::spec::EthExecutorSpec;
use alloy_hardforks::{EthereumHardfork, EthereumHardforks, ForkCondition};
use alloy_primitives::Address;
use keel_types::ChainSpec;

/// Borrowed view of a [`ChainSpec`] that alloy-evm's executor accepts.
#[derive(Debug, Clone, Copy)]
pub struct EvmSpec<'a>(pub &'a ChainSpec);

impl EthereumHardforks for EvmSpec<'_> {
    fn ethereum_fork_activation(&self, fork: EthereumHardfork) -> ForkCondition {
        self.0.ethereum_fork_activation(fork)
    }
}

impl EthExecutorSpec for EvmSpec<'_> {
    fn deposit_contract_address(&self) -> Option<Address> {
        self.0.deposit_contract
    }
}
