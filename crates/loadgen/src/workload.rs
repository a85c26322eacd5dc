//! Workloads: what each load transaction does, its gas limit, and the contracts it needs
//! (bytecode from `contracts/artifacts/*.json`, embedded at build time or read from `--artifacts`).

use std::path::Path;

use alloy::{
    primitives::{Address, Bytes, TxKind, U256},
    sol,
    sol_types::{SolCall, SolValue},
};
use eyre::{Result, WrapErr, eyre};
use serde::{Deserialize, Serialize};

use crate::accounts::Call;

sol! {
    /// `contracts/bench/BenchToken.sol` (the calls the generator makes).
    interface IBenchToken {
        function transfer(address to, uint256 value) external returns (bool);
        function balanceOf(address owner) external view returns (uint256);
    }
    /// `contracts/bench/StorageHeavy.sol` (the calls the generator makes).
    interface IStorageHeavy {
        function touch(uint256 n) external;
        function count(address caller) external view returns (uint256);
    }
}

/// The kind of load transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// ETH transfers of 1 wei from account i to account i+1 (21,000 gas).
    Eth,
    /// BenchToken `transfer(account i+1, 1)` from account i (≈35,000 gas; recipients already hold tokens).
    Erc20,
    /// StorageHeavy `touch(slots)`: `slots` fresh storage slots per call (≈23,000 gas per slot).
    Storage,
}

impl std::fmt::Display for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Eth => "eth",
            Self::Erc20 => "erc20",
            Self::Storage => "storage",
        })
    }
}

/// Token units each load account receives for the erc20 workload (each transfer moves 1 unit).
pub const TOKENS_PER_ACCOUNT: u64 = 1_000_000_000;

impl Workload {
    /// The default gas limit of one load transaction: exact for ETH transfers, a margin above the
    /// measured cost for the contract calls (`slots` is StorageHeavy's `n`).
    pub fn default_gas_limit(self, slots: u64) -> u64 {
        match self {
            Self::Eth => 21_000,
            Self::Erc20 => 60_000,
            Self::Storage => 50_000 + 25_000 * slots,
        }
    }

    /// The `j`-th load transaction of sender `s` of `addrs` (`contract` is the deployed BenchToken
    /// or StorageHeavy; unused for `eth`).
    pub fn call(
        self,
        addrs: &[Address],
        s: usize,
        contract: Address,
        slots: u64,
        gas_limit: u64,
    ) -> Call {
        let next = addrs[(s + 1) % addrs.len()];
        match self {
            Self::Eth => Call {
                to: TxKind::Call(next),
                value: U256::from(1),
                input: Bytes::new(),
                gas_limit,
            },
            Self::Erc20 => Call {
                to: TxKind::Call(contract),
                value: U256::ZERO,
                input: IBenchToken::transferCall {
                    to: next,
                    value: U256::from(1),
                }
                .abi_encode()
                .into(),
                gas_limit,
            },
            Self::Storage => Call {
                to: TxKind::Call(contract),
                value: U256::ZERO,
                input: IStorageHeavy::touchCall {
                    n: U256::from(slots),
                }
                .abi_encode()
                .into(),
                gas_limit,
            },
        }
    }
}

/// The part of a `contracts/artifacts/NAME.json` file the generator uses.
#[derive(Debug, Deserialize)]
struct Artifact {
    bytecode: String,
}

/// Creation bytecode of the bench contracts.
#[derive(Clone, Debug)]
pub struct Artifacts {
    /// BenchToken creation code (constructor takes `uint256 supply`).
    pub load_token: Bytes,
    /// StorageHeavy creation code (no constructor arguments).
    pub storage_heavy: Bytes,
}

fn parse_artifact(name: &str, json: &str) -> Result<Bytes> {
    let a: Artifact =
        serde_json::from_str(json).wrap_err_with(|| format!("artifact {name}.json"))?;
    let code: Bytes = a
        .bytecode
        .parse()
        .map_err(|e| eyre!("artifact {name}.json: bad bytecode: {e}"))?;
    if code.is_empty() {
        return Err(eyre!("artifact {name}.json has empty bytecode"));
    }
    Ok(code)
}

impl Artifacts {
    /// The artifacts embedded at build time from `contracts/artifacts/`.
    pub fn embedded() -> Result<Self> {
        Ok(Self {
            load_token: parse_artifact(
                "BenchToken",
                include_str!("../../../contracts/artifacts/BenchToken.json"),
            )?,
            storage_heavy: parse_artifact(
                "StorageHeavy",
                include_str!("../../../contracts/artifacts/StorageHeavy.json"),
            )?,
        })
    }

    /// Reads `BenchToken.json` and `StorageHeavy.json` from `dir`.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let read = |name: &str| -> Result<Bytes> {
            let path = dir.join(format!("{name}.json"));
            let json = std::fs::read_to_string(&path)
                .wrap_err_with(|| format!("reading {}", path.display()))?;
            parse_artifact(name, &json)
        };
        Ok(Self {
            load_token: read("BenchToken")?,
            storage_heavy: read("StorageHeavy")?,
        })
    }

    /// BenchToken init code minting `supply` to the deployer.
    pub fn load_token_init(&self, supply: U256) -> Bytes {
        let mut code = self.load_token.to_vec();
        code.extend_from_slice(&supply.abi_encode());
        code.into()
    }
}

/// Calldata of BenchToken `transfer(to, value)`.
pub fn token_transfer(to: Address, value: U256) -> Bytes {
    IBenchToken::transferCall { to, value }.abi_encode().into()
}

/// Calldata of BenchToken `balanceOf(owner)`.
pub fn token_balance_of(owner: Address) -> Bytes {
    IBenchToken::balanceOfCall { owner }.abi_encode().into()
}

/// Calldata of StorageHeavy `count(caller)`.
pub fn storage_count(caller: Address) -> Bytes {
    IStorageHeavy::countCall { caller }.abi_encode().into()
}
