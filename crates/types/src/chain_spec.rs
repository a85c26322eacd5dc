//! The chain specification: chain id, fork schedule, fee and blob parameters, built from the
//! `config` section of a geth-style genesis file.

use alloy_eips::{eip1559::BaseFeeParams, eip7840::BlobParams};
use alloy_genesis::{ChainConfig, Genesis};
use alloy_hardforks::{EthereumChainHardforks, EthereumHardfork, EthereumHardforks, ForkCondition};
use alloy_primitives::{Address, U256};

use crate::fees::{FEE_CONFIG_KEY, FeeConfig};

/// Why a genesis' chain config can't be used.
#[derive(Debug, thiserror::Error)]
pub enum ChainSpecError {
    /// keel only runs post-merge chains.
    #[error("genesis config must be post-merge: set \"terminalTotalDifficulty\": 0 (found {0:?})")]
    NotPostMerge(Option<U256>),
    /// A fork that needs an earlier one was scheduled before it.
    #[error("fork order: {later} is scheduled at {later_time} but {earlier} is not active by then")]
    ForkOrder {
        earlier: &'static str,
        later: &'static str,
        later_time: u64,
    },
    /// The file couldn't be parsed.
    #[error("invalid genesis JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// `config.keelFees` is not a fee configuration.
    #[error("invalid \"keelFees\" in the genesis config (docs/fees.md): {0}")]
    Fees(serde_json::Error),
}

/// Everything about a chain's rules that doesn't change from block to block.
#[derive(Debug, Clone)]
pub struct ChainSpec {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Fork activations (pre-merge forks and Paris at genesis; later forks by timestamp).
    pub hardforks: EthereumChainHardforks,
    /// EIP-1559 base fee parameters (denominator 8, elasticity 2 on Ethereum).
    pub base_fee_params: BaseFeeParams,
    /// Blob parameters per fork (Cancun, Prague, ...), from `blobSchedule` or the defaults.
    pub blob_schedule: alloy_eips::eip7892::BlobScheduleBlobParams,
    /// EIP-6110 deposit contract, if the chain has one (an L2 doesn't).
    pub deposit_contract: Option<Address>,
    /// Timestamps of the timestamp-activated forks, for quick checks and errors.
    pub shanghai_time: Option<u64>,
    pub cancun_time: Option<u64>,
    pub prague_time: Option<u64>,
    pub osaka_time: Option<u64>,
    /// Where an L2 sends the base fee (`base fee per gas × gas used`, credited after the block's
    /// transactions); `None` burns it, as on Ethereum. A chain rule: every node of a chain must
    /// agree on it.
    pub base_fee_vault: Option<Address>,
    /// The L1 fee rule (docs/fees.md), when the genesis `config` has `keelFees`: a chain rule.
    pub fees: Option<FeeConfig>,
}

impl ChainSpec {
    /// Parse a genesis JSON document and build its chain spec.
    pub fn from_genesis_json(json: &str) -> Result<(Genesis, ChainSpec), ChainSpecError> {
        let genesis: Genesis = serde_json::from_str(json)?;
        let spec = ChainSpec::from_genesis(&genesis)?;
        Ok((genesis, spec))
    }

    /// Build the chain spec from a parsed genesis.
    pub fn from_genesis(genesis: &Genesis) -> Result<Self, ChainSpecError> {
        let config = &genesis.config;
        match config.terminal_total_difficulty {
            Some(ttd) if ttd.is_zero() => {}
            other if config.terminal_total_difficulty_passed && other.is_some() => {}
            other => return Err(ChainSpecError::NotPostMerge(other)),
        }
        check_fork_order(config)?;

        let block = |b: Option<u64>| ForkCondition::Block(b.unwrap_or(0));
        let time = |t: Option<u64>| t.map_or(ForkCondition::Never, ForkCondition::Timestamp);
        let hardforks = EthereumChainHardforks::new([
            (EthereumHardfork::Frontier, ForkCondition::Block(0)),
            (EthereumHardfork::Homestead, block(config.homestead_block)),
            (EthereumHardfork::Tangerine, block(config.eip150_block)),
            (EthereumHardfork::SpuriousDragon, block(config.eip158_block)),
            (EthereumHardfork::Byzantium, block(config.byzantium_block)),
            (
                EthereumHardfork::Constantinople,
                block(config.constantinople_block),
            ),
            (EthereumHardfork::Petersburg, block(config.petersburg_block)),
            (EthereumHardfork::Istanbul, block(config.istanbul_block)),
            (EthereumHardfork::Berlin, block(config.berlin_block)),
            (EthereumHardfork::London, block(config.london_block)),
            (
                EthereumHardfork::Paris,
                ForkCondition::TTD {
                    activation_block_number: config.merge_netsplit_block.unwrap_or(0),
                    fork_block: Some(config.merge_netsplit_block.unwrap_or(0)),
                    total_difficulty: U256::ZERO,
                },
            ),
            (EthereumHardfork::Shanghai, time(config.shanghai_time)),
            (EthereumHardfork::Cancun, time(config.cancun_time)),
            (EthereumHardfork::Prague, time(config.prague_time)),
            (EthereumHardfork::Osaka, time(config.osaka_time)),
        ]);

        // Forks missing from `blobSchedule` get Ethereum's parameters.
        let blob_schedule = config.blob_schedule_blob_params();

        Ok(Self {
            chain_id: config.chain_id,
            hardforks,
            base_fee_params: BaseFeeParams::ethereum(),
            blob_schedule,
            deposit_contract: config.deposit_contract_address,
            shanghai_time: config.shanghai_time,
            cancun_time: config.cancun_time,
            prague_time: config.prague_time,
            osaka_time: config.osaka_time,
            base_fee_vault: None,
            fees: config
                .extra_fields
                .get_deserialized::<FeeConfig>(FEE_CONFIG_KEY)
                .transpose()
                .map_err(ChainSpecError::Fees)?,
        })
    }

    /// The EIP-1559 base fee of the block that follows `parent` (zero after a pre-London parent).
    pub fn next_base_fee(&self, parent: &alloy_consensus::Header) -> u64 {
        parent
            .next_block_base_fee(self.base_fee_params)
            .unwrap_or_default()
    }

    /// Override the EIP-1559 elasticity multiplier (an L2 may choose another than Ethereum's 2).
    pub fn with_elasticity(mut self, elasticity: u64) -> Self {
        self.base_fee_params.elasticity_multiplier = elasticity.max(1) as u128;
        self
    }

    /// Send the base fee to `vault` instead of burning it.
    pub fn with_base_fee_vault(mut self, vault: Option<Address>) -> Self {
        self.base_fee_vault = vault;
        self
    }

    /// Blob parameters in force at `timestamp`, or `None` before Cancun.
    pub fn blob_params_at(&self, timestamp: u64) -> Option<BlobParams> {
        if self.is_osaka_active_at_timestamp(timestamp) {
            Some(self.blob_schedule.osaka)
        } else if self.is_prague_active_at_timestamp(timestamp) {
            Some(self.blob_schedule.prague)
        } else if self.is_cancun_active_at_timestamp(timestamp) {
            Some(self.blob_schedule.cancun)
        } else {
            None
        }
    }
}

impl EthereumHardforks for ChainSpec {
    fn ethereum_fork_activation(&self, fork: EthereumHardfork) -> ForkCondition {
        self.hardforks.ethereum_fork_activation(fork)
    }
}

/// Timestamp forks must be scheduled in order (Shanghai ≤ Cancun ≤ Prague ≤ Osaka).
fn check_fork_order(config: &ChainConfig) -> Result<(), ChainSpecError> {
    let forks = [
        ("shanghai", config.shanghai_time),
        ("cancun", config.cancun_time),
        ("prague", config.prague_time),
        ("osaka", config.osaka_time),
    ];
    for pair in forks.windows(2) {
        let (earlier, earlier_time) = pair[0];
        let (later, later_time) = pair[1];
        if let Some(later_time) = later_time
            && earlier_time.is_none_or(|t| t > later_time)
        {
            return Err(ChainSpecError::ForkOrder {
                earlier,
                later,
                later_time,
            });
        }
    }
    Ok(())
}
