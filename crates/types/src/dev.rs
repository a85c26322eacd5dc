//! The dev chain: the L2 genesis `keel l2 --dev` starts from. It funds the ten accounts of the
//! standard test mnemonic (the ones anvil and hardhat fund, so wallets and scripts written for
//! those work unchanged) and predeploys the L2 system contracts (`CommonBridgeL2`, `Messenger`),
//! Multicall3 and the EIP-2935 block-hash history contract — it is [`l2_genesis`] with the dev
//! accounts funded.

use alloy_genesis::Genesis;
use alloy_primitives::{Address, B256, Bytes, U256, address, b256};

use crate::{
    fees::{DEFAULT_FEE_PARAMS, FeeConfig},
    l2_genesis::{L2FeeGenesis, L2GenesisConfig, l2_genesis},
};

/// The mnemonic whose first ten accounts the dev genesis funds.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// Address and private key of the mnemonic's accounts `m/44'/60'/0'/0/{0..9}` (public test keys:
/// never use them for anything of value).
pub const DEV_ACCOUNTS: [(Address, B256); 10] = [
    (
        address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
        b256!("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"),
    ),
    (
        address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
        b256!("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"),
    ),
    (
        address!("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"),
        b256!("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"),
    ),
    (
        address!("0x90F79bf6EB2c4f870365E785982E1f101E93b906"),
        b256!("0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"),
    ),
    (
        address!("0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"),
        b256!("0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"),
    ),
    (
        address!("0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"),
        b256!("0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba"),
    ),
    (
        address!("0x976EA74026E726554dB657fA54763abd0C3a0aa9"),
        b256!("0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e"),
    ),
    (
        address!("0x14dC79964da2C08b23698B3D3cc7Ca32193d9955"),
        b256!("0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356"),
    ),
    (
        address!("0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f"),
        b256!("0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97"),
    ),
    (
        address!("0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"),
        b256!("0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6"),
    ),
];

/// keel's default L2 chain id (docs/architecture.md, Chain rules).
pub const DEFAULT_L2_CHAIN_ID: u64 = 1_729_001;

/// Multicall3's canonical address on every chain.
pub const MULTICALL3_ADDRESS: Address = address!("0xcA11bde05977b3631167028862bE2a173976CA11");

/// Multicall3's canonical runtime code (see `contracts/predeploys/README.md`).
pub fn multicall3_code() -> Bytes {
    let hex = include_str!("../../../contracts/predeploys/Multicall3.runtime.hex").trim();
    // The file is committed and checked by a test; an unreadable one is a build defect.
    hex.parse().unwrap_or_default()
}

/// Runtime code of a committed contract artifact (`contracts/artifacts/NAME.json`).
fn artifact_runtime(json: &str) -> Bytes {
    // The artifacts are committed and checked by a test; an unreadable one is a build defect.
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| v["deployedBytecode"].as_str()?.parse().ok())
        .unwrap_or_default()
}

/// `CommonBridgeL2`'s runtime code.
pub fn l2_bridge_code() -> Bytes {
    artifact_runtime(include_str!(
        "../../../contracts/artifacts/CommonBridgeL2.json"
    ))
}

/// `Messenger`'s runtime code.
pub fn messenger_code() -> Bytes {
    artifact_runtime(include_str!("../../../contracts/artifacts/Messenger.json"))
}

/// `GasPriceOracle`'s runtime code (the L1 fee rule's predeploy, `crate::fees`).
pub fn gas_price_oracle_code() -> Bytes {
    artifact_runtime(include_str!(
        "../../../contracts/artifacts/GasPriceOracle.json"
    ))
}

/// Gas limit of dev blocks: high enough that throughput, not the limit, decides how much fits.
pub const DEV_GAS_LIMIT: u64 = 1_000_000_000;

/// Balance of each funded dev account: one million ether.
pub fn dev_balance() -> U256 {
    U256::from(1_000_000u64) * U256::from(10u64).pow(U256::from(18u64))
}

/// Where the dev chain's L1 fees go: the OP Stack's `L1FeeVault` address.
pub const DEV_L1_FEE_VAULT: Address = address!("0x420000000000000000000000000000000000001A");

/// Where the dev chain's operator fees go: the OP Stack's `OperatorFeeVault` address.
pub const DEV_OPERATOR_FEE_VAULT: Address = address!("0x420000000000000000000000000000000000001B");

/// The dev chain's L1 fee rule: [`DEFAULT_FEE_PARAMS`], the L1 fees to [`DEV_L1_FEE_VAULT`], the
/// operator fees to [`DEV_OPERATOR_FEE_VAULT`], and as the `GasPriceOracle`'s owner the dev L1
/// deployer, dev account 0 (`DEV_ACCOUNTS[0]`, which deploys the dev L1 contracts and governs
/// their timelock: crates/cli/src/dev_l1.rs), **unaliased**: on the dev chain its key changes the
/// scalars with a plain L2 transaction. (A real chain's owner is the L2 alias of its L1 timelock,
/// so only an L1 message can; the timelock's address isn't known to this crate.)
pub fn dev_fee_genesis() -> L2FeeGenesis {
    L2FeeGenesis {
        config: FeeConfig {
            l1_fee_vault: Some(DEV_L1_FEE_VAULT),
            operator_fee_vault: Some(DEV_OPERATOR_FEE_VAULT),
        },
        params: DEFAULT_FEE_PARAMS,
        owner: DEV_ACCOUNTS[0].0,
    }
}

/// The dev genesis: [`l2_genesis`] with the defaults (Prague from block 0, chain id
/// [`DEFAULT_L2_CHAIN_ID`], gas limit [`DEV_GAS_LIMIT`], base fee 1 gwei) and the ten dev accounts
/// funded with [`dev_balance`] each; `extraData` is `"keel dev"`.
pub fn dev_genesis() -> Genesis {
    let config = L2GenesisConfig {
        extra_data: Bytes::from_static(b"keel dev"),
        funded: DEV_ACCOUNTS
            .iter()
            .map(|(address, _)| (*address, dev_balance()))
            .collect(),
        // The dev chain has the L1 fee rule (docs/fees.md), with the dev vaults.
        fees: Some(dev_fee_genesis()),
        ..L2GenesisConfig::default()
    };
    // Chain id 1729001, distinct non-predeploy addresses: the config is valid by construction
    // (and `dev_genesis_is_a_valid_prague_chain` checks it).
    l2_genesis(&config).expect("the dev genesis config is valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ChainSpec;

    /// The dev genesis state root: the root of batch 0 that dev deployments hand to
    /// `OnChainProposer`, and what existing dev datadirs were built on.
    const DEV_GENESIS_STATE_ROOT: B256 =
        b256!("0xd1f4baffd663d6385907871b4842f6ddd91b91233ae95e969c3598673c944578");

    #[test]
    fn dev_genesis_state_root_is_stable() {
        let genesis = dev_genesis();
        assert_eq!(crate::genesis_state_root(&genesis), DEV_GENESIS_STATE_ROOT);
        assert_eq!(genesis.config.chain_id, DEFAULT_L2_CHAIN_ID);
        assert_eq!(genesis.extra_data.as_ref(), b"keel dev");
        ChainSpec::from_genesis(&genesis).expect("valid genesis");
    }

    #[test]
    fn multicall3_is_the_canonical_code() {
        let code = multicall3_code();
        assert_eq!(code.len(), 0xee0);
        // Code hash of Multicall3 on Ethereum mainnet.
        assert_eq!(
            alloy_primitives::keccak256(&code),
            b256!("0xd5c15df687b16f2ff992fc8d767b4216323184a2bbc6ee2f9c398c318e770891")
        );
    }

    #[test]
    fn dev_accounts_derive_from_the_mnemonic() {
        use alloy_signer_local::{MnemonicBuilder, coins_bip39::English};
        for (i, (address, key)) in DEV_ACCOUNTS.iter().enumerate() {
            let signer = MnemonicBuilder::<English>::default()
                .phrase(DEV_MNEMONIC)
                .index(i as u32)
                .expect("index")
                .build()
                .expect("derive");
            assert_eq!(signer.address(), *address, "account {i}");
            assert_eq!(B256::from_slice(&signer.to_bytes()[..]), *key, "key {i}");
        }
    }

    #[test]
    fn dev_genesis_is_a_valid_prague_chain() {
        let genesis = dev_genesis();
        let json = serde_json::to_string(&genesis).expect("serializes");
        let (_, spec) = ChainSpec::from_genesis_json(&json).expect("valid genesis");
        assert_eq!(spec.chain_id, DEFAULT_L2_CHAIN_ID);
        assert!(spec.prague_time == Some(0));
        assert_eq!(genesis.alloc.len(), 15);
        assert!(l2_bridge_code().len() > 1_000);
        assert!(messenger_code().len() > 100);
    }

    #[test]
    fn dev_fee_genesis_builds_a_chain_with_the_rule() {
        let fees = dev_fee_genesis();
        assert_eq!(fees.params, DEFAULT_FEE_PARAMS);
        assert_eq!(fees.owner, DEV_ACCOUNTS[0].0);
        let config = L2GenesisConfig {
            funded: DEV_ACCOUNTS
                .iter()
                .map(|(address, _)| (*address, dev_balance()))
                .collect(),
            fees: Some(fees),
            ..L2GenesisConfig::default()
        };
        let genesis = l2_genesis(&config).expect("valid");
        let spec = ChainSpec::from_genesis(&genesis).expect("valid genesis");
        assert_eq!(
            spec.fees,
            Some(FeeConfig {
                l1_fee_vault: Some(DEV_L1_FEE_VAULT),
                operator_fee_vault: Some(DEV_OPERATOR_FEE_VAULT),
            })
        );
        assert_eq!(genesis.alloc.len(), 15);
        assert_eq!(
            genesis.alloc[&crate::fees::GAS_PRICE_ORACLE_ADDRESS].code,
            Some(gas_price_oracle_code())
        );
    }
}
