//! The L2 genesis builder behind `keel l2 genesis` and the `--dev` chain: a Prague-from-block-0
//! chain config, the funded accounts asked for, and the predeploys every keel L2 carries
//! (docs/architecture.md, Chain rules; docs/contracts.md, L2 system contracts): `CommonBridgeL2` at
//! `0x…ffff`, `Messenger` at `0x…fffe`, Multicall3 at its canonical address and the EIP-2935
//! block-hash history contract. A chain with the L1 fee rule ([`L2GenesisConfig::fees`],
//! docs/fees.md) also gets `keelFees` in its chain config and the `GasPriceOracle` at
//! [`GAS_PRICE_ORACLE_ADDRESS`]. The state root of the result ([`crate::genesis_state_root`]) is
//! what the deployer hands to `OnChainProposer` as the root of batch 0.

use std::collections::BTreeMap;

use alloy_genesis::{ChainConfig, Genesis, GenesisAccount};
use alloy_primitives::{Address, B256, Bytes, U256};

use crate::{
    dev::{
        DEFAULT_L2_CHAIN_ID, DEV_GAS_LIMIT, MULTICALL3_ADDRESS, gas_price_oracle_code,
        l2_bridge_code, messenger_code, multicall3_code,
    },
    fees::{FEE_CONFIG_KEY, FeeConfig, FeeParams, GAS_PRICE_ORACLE_ADDRESS, slots},
    rules::{L2_BRIDGE_ADDRESS, MESSENGER_ADDRESS},
};

/// Default base fee of the genesis block: 1 gwei.
pub const DEFAULT_BASE_FEE_PER_GAS: u64 = 1_000_000_000;

/// Default gas limit of the genesis block (and so of the first blocks): 1e9.
pub const DEFAULT_GAS_LIMIT: u64 = DEV_GAS_LIMIT;

/// What varies from one keel L2 genesis to another. Everything else (the fork schedule, the
/// predeploys) is fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L2GenesisConfig {
    /// EIP-155 chain id of the L2 (must not be 0).
    pub chain_id: u64,
    /// Gas limit of the genesis block.
    pub gas_limit: u64,
    /// Base fee per gas of the genesis block, in wei.
    pub base_fee_per_gas: u64,
    /// Timestamp of the genesis block (Prague is active from it).
    pub timestamp: u64,
    /// `extraData` of the genesis header (part of the genesis hash, not of the state root).
    pub extra_data: Bytes,
    /// Accounts to fund and their balances in wei. Each address at most once, and never a
    /// predeploy's address (nor the `GasPriceOracle`'s, even on a chain without the fee rule).
    pub funded: Vec<(Address, U256)>,
    /// The L1 fee rule (docs/fees.md): `Some` gives the chain config `keelFees` and predeploys
    /// the `GasPriceOracle`; `None` builds a chain without the rule (no L1 or operator fee).
    pub fees: Option<L2FeeGenesis>,
}

/// The L1 fee rule of a new chain: where the fees go (a chain rule, in the chain config), the
/// starting prices and scalars and the owner (both in the `GasPriceOracle`'s storage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2FeeGenesis {
    /// The vaults, written to the genesis `config` under `keelFees`.
    pub config: FeeConfig,
    /// The L1 prices until the first block brings L1's, and the scalars.
    pub params: FeeParams,
    /// The oracle's owner, the only account that may change the scalars: the L2 alias of the L1
    /// governor (`crate::apply_l1_alias` of the timelock), so only an L1 message can.
    pub owner: Address,
}

impl L2FeeGenesis {
    /// The `GasPriceOracle`'s genesis storage: [`FeeParams::storage`] and the owner.
    pub fn oracle_storage(&self) -> BTreeMap<B256, B256> {
        let mut storage: BTreeMap<B256, B256> = self.params.storage().into_iter().collect();
        storage.insert(slots::OWNER.into(), self.owner.into_word());
        storage
    }
}

impl Default for L2GenesisConfig {
    fn default() -> Self {
        Self {
            chain_id: DEFAULT_L2_CHAIN_ID,
            gas_limit: DEFAULT_GAS_LIMIT,
            base_fee_per_gas: DEFAULT_BASE_FEE_PER_GAS,
            timestamp: 0,
            extra_data: Bytes::new(),
            funded: Vec::new(),
            fees: None,
        }
    }
}

/// Why an L2 genesis can't be built from a config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum L2GenesisError {
    /// Chain id 0 isn't a valid EIP-155 chain id.
    #[error("chain id 0 is not a valid chain id (EIP-155); pick a non-zero one")]
    ZeroChainId,
    /// A funded account would overwrite a predeploy.
    #[error("can't fund {address}: it is the address of the {name} predeploy")]
    FundsPredeploy {
        address: Address,
        name: &'static str,
    },
    /// The same account was listed twice.
    #[error("account {0} is funded more than once; give each address a single balance")]
    FundedTwice(Address),
}

/// A contract in every keel L2 genesis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Predeploy {
    /// Contract name, for messages.
    pub name: &'static str,
    /// Where it lives.
    pub address: Address,
    /// Its runtime code.
    pub code: Bytes,
}

/// The predeploys of every keel L2 genesis, each with nonce 1 (as if deployed by a contract
/// creation, so a `CREATE` from it can't collide with an existing address).
pub fn predeploys() -> [Predeploy; 4] {
    [
        Predeploy {
            name: "CommonBridgeL2",
            address: L2_BRIDGE_ADDRESS,
            code: l2_bridge_code(),
        },
        Predeploy {
            name: "Messenger",
            address: MESSENGER_ADDRESS,
            code: messenger_code(),
        },
        Predeploy {
            name: "Multicall3",
            address: MULTICALL3_ADDRESS,
            code: multicall3_code(),
        },
        Predeploy {
            name: "EIP-2935 history",
            address: alloy_eips::eip2935::HISTORY_STORAGE_ADDRESS,
            code: alloy_eips::eip2935::HISTORY_STORAGE_CODE.clone(),
        },
    ]
}

/// The `GasPriceOracle` predeploy of a chain with the L1 fee rule, at
/// [`GAS_PRICE_ORACLE_ADDRESS`] (its storage comes from [`L2FeeGenesis::oracle_storage`]). Its
/// address can't be funded on any chain.
pub fn gas_price_oracle_predeploy() -> Predeploy {
    Predeploy {
        name: "GasPriceOracle",
        address: GAS_PRICE_ORACLE_ADDRESS,
        code: gas_price_oracle_code(),
    }
}

/// The chain config of a keel L2: every fork up to Prague active from block 0 / time 0.
pub fn l2_chain_config(chain_id: u64) -> ChainConfig {
    ChainConfig {
        chain_id,
        homestead_block: Some(0),
        eip150_block: Some(0),
        eip155_block: Some(0),
        eip158_block: Some(0),
        byzantium_block: Some(0),
        constantinople_block: Some(0),
        petersburg_block: Some(0),
        istanbul_block: Some(0),
        berlin_block: Some(0),
        london_block: Some(0),
        merge_netsplit_block: Some(0),
        terminal_total_difficulty: Some(U256::ZERO),
        terminal_total_difficulty_passed: true,
        shanghai_time: Some(0),
        cancun_time: Some(0),
        prague_time: Some(0),
        ..Default::default()
    }
}

/// Builds the L2 genesis of `config`: the predeploys plus the funded accounts, and with
/// [`L2GenesisConfig::fees`] the fee rule (`keelFees` and the `GasPriceOracle`).
pub fn l2_genesis(config: &L2GenesisConfig) -> Result<Genesis, L2GenesisError> {
    if config.chain_id == 0 {
        return Err(L2GenesisError::ZeroChainId);
    }
    let predeploys = predeploys();
    let oracle = gas_price_oracle_predeploy();
    let mut alloc = BTreeMap::new();
    for &(address, balance) in &config.funded {
        if let Some(p) = predeploys
            .iter()
            .chain([&oracle])
            .find(|p| p.address == address)
        {
            return Err(L2GenesisError::FundsPredeploy {
                address,
                name: p.name,
            });
        }
        let account = GenesisAccount::default().with_balance(balance);
        if alloc.insert(address, account).is_some() {
            return Err(L2GenesisError::FundedTwice(address));
        }
    }
    for p in predeploys {
        alloc.insert(
            p.address,
            GenesisAccount::default()
                .with_code(Some(p.code))
                .with_nonce(Some(1)),
        );
    }
    let mut chain_config = l2_chain_config(config.chain_id);
    if let Some(fees) = &config.fees {
        alloc.insert(
            oracle.address,
            GenesisAccount::default()
                .with_code(Some(oracle.code))
                .with_nonce(Some(1))
                .with_storage(Some(fees.oracle_storage())),
        );
        chain_config.extra_fields.insert(
            FEE_CONFIG_KEY.to_string(),
            // Two optional addresses: serializing them can't fail.
            serde_json::to_value(fees.config).expect("a FeeConfig serializes"),
        );
    }
    Ok(Genesis {
        config: chain_config,
        alloc,
        gas_limit: config.gas_limit,
        base_fee_per_gas: Some(u128::from(config.base_fee_per_gas)),
        difficulty: U256::ZERO,
        timestamp: config.timestamp,
        extra_data: config.extra_data.clone(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChainSpec, dev, genesis_header, genesis_state_root};
    use alloy_primitives::{address, keccak256};

    fn one_ether() -> U256 {
        U256::from(10u64).pow(U256::from(18u64))
    }

    #[test]
    fn default_config_has_only_the_predeploys() {
        let genesis = l2_genesis(&L2GenesisConfig::default()).unwrap();
        assert_eq!(genesis.config.chain_id, DEFAULT_L2_CHAIN_ID);
        assert_eq!(genesis.gas_limit, 1_000_000_000);
        assert_eq!(genesis.base_fee_per_gas, Some(1_000_000_000));
        assert_eq!(genesis.timestamp, 0);
        assert_eq!(genesis.alloc.len(), 4);
        let spec = ChainSpec::from_genesis(&genesis).expect("valid chain config");
        assert_eq!(spec.prague_time, Some(0));
        let header = genesis_header(&genesis, &spec);
        assert_eq!(header.state_root, genesis_state_root(&genesis));
        assert_eq!(header.base_fee_per_gas, Some(1_000_000_000));
        assert!(header.requests_hash.is_some(), "Prague active at genesis");
    }

    #[test]
    fn predeploys_carry_the_artifact_code() {
        let genesis = l2_genesis(&L2GenesisConfig::default()).unwrap();
        let expect = [
            (L2_BRIDGE_ADDRESS, dev::l2_bridge_code()),
            (MESSENGER_ADDRESS, dev::messenger_code()),
            (MULTICALL3_ADDRESS, dev::multicall3_code()),
            (
                alloy_eips::eip2935::HISTORY_STORAGE_ADDRESS,
                alloy_eips::eip2935::HISTORY_STORAGE_CODE.clone(),
            ),
        ];
        for (address, code) in expect {
            let account = &genesis.alloc[&address];
            assert!(!code.is_empty(), "artifact code of {address} is empty");
            assert_eq!(account.code.as_ref(), Some(&code), "code at {address}");
            assert_eq!(account.nonce, Some(1), "nonce at {address}");
            assert_eq!(account.balance, U256::ZERO, "balance at {address}");
        }
        // Multicall3 must be byte-identical to the canonical deployment.
        assert_eq!(
            genesis.alloc[&MULTICALL3_ADDRESS]
                .code
                .as_ref()
                .map(keccak256),
            Some(alloy_primitives::b256!(
                "0xd5c15df687b16f2ff992fc8d767b4216323184a2bbc6ee2f9c398c318e770891"
            ))
        );
    }

    #[test]
    fn funds_the_given_accounts() {
        let a = address!("0x1111111111111111111111111111111111111111");
        let b = address!("0x2222222222222222222222222222222222222222");
        let config = L2GenesisConfig {
            chain_id: 42,
            gas_limit: 30_000_000,
            base_fee_per_gas: 7,
            timestamp: 1_700_000_000,
            extra_data: Bytes::from_static(b"hello"),
            funded: vec![(a, U256::from(5) * one_ether()), (b, U256::from(1))],
            fees: None,
        };
        let genesis = l2_genesis(&config).unwrap();
        assert_eq!(genesis.alloc.len(), 6);
        assert_eq!(genesis.alloc[&a].balance, U256::from(5) * one_ether());
        assert_eq!(genesis.alloc[&a].nonce, None);
        assert_eq!(genesis.alloc[&a].code, None);
        assert_eq!(genesis.alloc[&b].balance, U256::from(1));
        assert_eq!(genesis.config.chain_id, 42);
        assert_eq!(genesis.gas_limit, 30_000_000);
        assert_eq!(genesis.base_fee_per_gas, Some(7));
        assert_eq!(genesis.timestamp, 1_700_000_000);
        assert_eq!(genesis.extra_data, Bytes::from_static(b"hello"));

        // Funding changes the root; the same config always gives the same root.
        let empty = l2_genesis(&L2GenesisConfig::default()).unwrap();
        assert_ne!(genesis_state_root(&genesis), genesis_state_root(&empty));
        assert_eq!(
            genesis_state_root(&genesis),
            genesis_state_root(&l2_genesis(&config).unwrap())
        );
        // The funding order doesn't matter.
        let mut reversed = config.clone();
        reversed.funded.reverse();
        assert_eq!(l2_genesis(&reversed).unwrap(), genesis);
    }

    #[test]
    fn json_round_trip_keeps_the_root() {
        let genesis = dev::dev_genesis();
        let json = serde_json::to_string_pretty(&genesis).unwrap();
        let (parsed, spec) = ChainSpec::from_genesis_json(&json).unwrap();
        assert_eq!(spec.chain_id, DEFAULT_L2_CHAIN_ID);
        assert_eq!(genesis_state_root(&parsed), genesis_state_root(&genesis));
        assert_eq!(
            genesis_header(&parsed, &spec).hash_slow(),
            genesis_header(&genesis, &spec).hash_slow()
        );
    }

    #[test]
    fn refuses_chain_id_zero() {
        let config = L2GenesisConfig {
            chain_id: 0,
            ..Default::default()
        };
        let err = l2_genesis(&config).unwrap_err();
        assert_eq!(err, L2GenesisError::ZeroChainId);
        assert!(err.to_string().contains("chain id 0"));
    }

    #[test]
    fn refuses_funding_a_predeploy() {
        for p in predeploys() {
            let config = L2GenesisConfig {
                funded: vec![
                    (
                        address!("0x1111111111111111111111111111111111111111"),
                        U256::from(1),
                    ),
                    (p.address, one_ether()),
                ],
                ..Default::default()
            };
            let err = l2_genesis(&config).unwrap_err();
            assert_eq!(
                err,
                L2GenesisError::FundsPredeploy {
                    address: p.address,
                    name: p.name
                }
            );
            assert!(err.to_string().contains(p.name), "{err}");
        }
    }

    fn fee_genesis() -> L2FeeGenesis {
        L2FeeGenesis {
            config: FeeConfig {
                l1_fee_vault: Some(address!("0x000000000000000000000000000000000000f001")),
                operator_fee_vault: None,
            },
            params: FeeParams {
                prices: crate::L1Prices {
                    base_fee: 12_000_000_000,
                    blob_base_fee: 3,
                },
                scalars: crate::FeeScalars {
                    base_fee_scalar: 145_000,
                    blob_base_fee_scalar: 1_135_000,
                    operator_fee_scalar: 7,
                    operator_fee_constant: 1_000,
                },
            },
            owner: address!("0x5555555555555555555555555555555555555555"),
        }
    }

    #[test]
    fn fees_predeploy_the_oracle_with_its_storage() {
        let fees = fee_genesis();
        let config = L2GenesisConfig {
            fees: Some(fees),
            ..Default::default()
        };
        let genesis = l2_genesis(&config).unwrap();
        assert_eq!(genesis.alloc.len(), 5);
        let oracle = &genesis.alloc[&GAS_PRICE_ORACLE_ADDRESS];
        let code = dev::gas_price_oracle_code();
        assert!(code.len() > 500, "artifact code of the oracle");
        assert_eq!(oracle.code.as_ref(), Some(&code));
        assert_eq!(oracle.nonce, Some(1));
        assert_eq!(oracle.balance, U256::ZERO);
        let storage = oracle.storage.as_ref().expect("storage");
        let word = |v: u64| B256::from(U256::from(v));
        let expect = [
            (slots::L1_BASE_FEE, word(12_000_000_000)),
            (slots::BLOB_BASE_FEE, word(3)),
            (slots::BASE_FEE_SCALAR, word(145_000)),
            (slots::BLOB_BASE_FEE_SCALAR, word(1_135_000)),
            (slots::OPERATOR_FEE_SCALAR, word(7)),
            (slots::OPERATOR_FEE_CONSTANT, word(1_000)),
            (
                slots::OWNER,
                alloy_primitives::b256!(
                    "0x0000000000000000000000005555555555555555555555555555555555555555"
                ),
            ),
        ];
        assert_eq!(storage.len(), expect.len());
        for (slot, value) in expect {
            assert_eq!(storage.get(&B256::from(slot)), Some(&value), "slot {slot}");
        }
        // What the node reads back from the oracle is what was configured.
        let read = |slot: U256| -> Result<U256, ()> {
            Ok(storage
                .get(&B256::from(slot))
                .map_or(U256::ZERO, |v| U256::from_be_bytes(v.0)))
        };
        assert_eq!(FeeParams::from_storage(read), Ok(fees.params));

        // The chain config carries the vaults, and the spec parses them back (also from JSON).
        let spec = ChainSpec::from_genesis(&genesis).expect("valid chain config");
        assert_eq!(spec.fees, Some(fees.config));
        let json = serde_json::to_string_pretty(&genesis).unwrap();
        assert!(json.contains("\"keelFees\""), "{json}");
        let (parsed, spec) = ChainSpec::from_genesis_json(&json).unwrap();
        assert_eq!(spec.fees, Some(fees.config));
        assert_eq!(genesis_state_root(&parsed), genesis_state_root(&genesis));

        // The rule changes the root, and the oracle's storage is part of it.
        let none = l2_genesis(&L2GenesisConfig::default()).unwrap();
        assert_ne!(genesis_state_root(&genesis), genesis_state_root(&none));
        let mut other = fees;
        other.params.scalars.base_fee_scalar += 1;
        let other = l2_genesis(&L2GenesisConfig {
            fees: Some(other),
            ..Default::default()
        })
        .unwrap();
        assert_ne!(genesis_state_root(&other), genesis_state_root(&genesis));
    }

    #[test]
    fn no_fees_adds_nothing() {
        let genesis = l2_genesis(&L2GenesisConfig::default()).unwrap();
        assert!(!genesis.alloc.contains_key(&GAS_PRICE_ORACLE_ADDRESS));
        assert!(genesis.config.extra_fields.get(FEE_CONFIG_KEY).is_none());
        assert!(genesis.config.extra_fields.is_empty());
        assert_eq!(ChainSpec::from_genesis(&genesis).unwrap().fees, None);
        let json = serde_json::to_string(&genesis).unwrap();
        assert!(!json.contains("keelFees"), "{json}");
    }

    #[test]
    fn refuses_funding_the_oracle_with_or_without_fees() {
        for fees in [None, Some(fee_genesis())] {
            let config = L2GenesisConfig {
                funded: vec![(GAS_PRICE_ORACLE_ADDRESS, one_ether())],
                fees,
                ..Default::default()
            };
            let err = l2_genesis(&config).unwrap_err();
            assert_eq!(
                err,
                L2GenesisError::FundsPredeploy {
                    address: GAS_PRICE_ORACLE_ADDRESS,
                    name: "GasPriceOracle"
                }
            );
            assert!(err.to_string().contains("GasPriceOracle"), "{err}");
        }
    }

    #[test]
    fn refuses_funding_an_account_twice() {
        let a = address!("0x1111111111111111111111111111111111111111");
        let config = L2GenesisConfig {
            funded: vec![(a, U256::from(1)), (a, U256::from(2))],
            ..Default::default()
        };
        assert_eq!(
            l2_genesis(&config).unwrap_err(),
            L2GenesisError::FundedTwice(a)
        );
    }
}
