//! The L1 fee rule of a keel L2 (docs/fees.md): what an ordinary transaction pays on top of its
//! gas for the L1 data and settlement it causes (the **L1 fee**), and for running the chain (the
//! **operator fee**); where the L1 prices enter a block (its `extraData`); and how fast they may
//! move. Every node, the importer and the prover run these functions, and the `GasPriceOracle`
//! predeploy computes the same numbers for wallets.
//!
//! - A chain has the rule when its genesis `config` carries `keelFees` ([`FeeConfig`]); the L2
//!   genesis then predeploys the `GasPriceOracle` at [`GAS_PRICE_ORACLE_ADDRESS`] with the L1
//!   prices and the scalars in its storage ([`slots`]).
//! - Each block after genesis carries the L1 prices it charges at in its `extraData`
//!   ([`L1Prices::to_extra_data`]). The executor checks that they moved at most
//!   [`L1Prices::max_step`] from the ones in the oracle (the parent's), writes them into the
//!   oracle before the first transaction, and charges every ordinary transaction of the block
//!   with them and the scalars the oracle held then ([`FeeParams`]).
//! - Privileged transactions pay nothing on L2: they paid on L1.

use alloy_primitives::{Address, B256, Bytes, U256, address};
use serde::{Deserialize, Serialize};

/// The `GasPriceOracle` predeploy, at the OP Stack's address so that wallets' OP Stack
/// extensions find it.
pub const GAS_PRICE_ORACLE_ADDRESS: Address =
    address!("0x420000000000000000000000000000000000000F");

/// The `GasPriceOracle`'s storage: one value per slot (contracts/l2/GasPriceOracle.sol).
pub mod slots {
    use alloy_primitives::U256;

    /// The L1 base fee of the current block, in wei (smoothed: see `L1Prices::max_step`).
    pub const L1_BASE_FEE: U256 = U256::from_limbs([0, 0, 0, 0]);
    /// The L1 blob base fee of the current block, in wei.
    pub const BLOB_BASE_FEE: U256 = U256::from_limbs([1, 0, 0, 0]);
    /// The base fee scalar, in millionths (`decimals()` = 6).
    pub const BASE_FEE_SCALAR: U256 = U256::from_limbs([2, 0, 0, 0]);
    /// The blob base fee scalar, in millionths.
    pub const BLOB_BASE_FEE_SCALAR: U256 = U256::from_limbs([3, 0, 0, 0]);
    /// The operator fee per gas used, in wei.
    pub const OPERATOR_FEE_SCALAR: U256 = U256::from_limbs([4, 0, 0, 0]);
    /// The operator fee per transaction, in wei.
    pub const OPERATOR_FEE_CONSTANT: U256 = U256::from_limbs([5, 0, 0, 0]);
    /// The only address that may change the scalars: the L2 alias of the L1 governor, so only
    /// an L1 message (a privileged transaction) can.
    pub const OWNER: U256 = U256::from_limbs([6, 0, 0, 0]);
}

/// Fixed point of the size estimate and the scalars: 6 decimals (`GasPriceOracle.decimals()`).
pub const DECIMALS: u32 = 6;
const ONE: i128 = 1_000_000;

/// The size estimate is `max(MIN_TX_SIZE, SIZE_INTERCEPT + SIZE_COEFFICIENT × txSize)` (in
/// millionths of a byte): the bytes a transaction's changes take in a batch's compressed state
/// diff, the least-squares line of payload bytes per transaction against signed transaction
/// size over `keel-bench da`'s blob-filling workloads (ETH and ERC20 transfers to new
/// recipients: 38.0 B for 120.9 B, 85.5 B for 183.0 B; docs/fees.md, docs/benchmarks.md).
pub const SIZE_COEFFICIENT: i128 = 764_421;
/// See [`SIZE_COEFFICIENT`] (millionths of a byte).
pub const SIZE_INTERCEPT: i128 = -54_415_723;
/// See [`SIZE_COEFFICIENT`] (bytes).
pub const MIN_TX_SIZE: i128 = 20;
/// What `GasPriceOracle.getL1Fee(bytes)` adds to the length of the unsigned transaction it is
/// given, for the signature it lacks (as the OP Stack's oracle does).
pub const SIGNATURE_BYTES: usize = 68;

/// Where the fees of a chain with the rule go: a chain rule, in the genesis `config` under
/// `keelFees`. A vault left out burns its fee.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FeeConfig {
    /// Receives every L1 fee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l1_fee_vault: Option<Address>,
    /// Receives every operator fee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_fee_vault: Option<Address>,
}

/// The key of [`FeeConfig`] in a genesis `config`.
pub const FEE_CONFIG_KEY: &str = "keelFees";

/// What the fee rule can refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeeError {
    /// A block of a chain with the rule must say which L1 prices it charges at.
    #[error(
        "extraData must carry the L1 prices (17 bytes: version 1, L1 base fee u64, blob base fee u64), found {0} bytes"
    )]
    MalformedExtraData(usize),
    /// The prices moved more than the rule allows from the parent's.
    #[error(
        "L1 {which} {next} wei moved too far from the parent's {parent} wei (at most {max_step} per block)"
    )]
    StepTooLarge {
        which: &'static str,
        parent: u64,
        next: u64,
        max_step: u64,
    },
}

/// The L1 prices a block charges at, in wei.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct L1Prices {
    pub base_fee: u64,
    pub blob_base_fee: u64,
}

/// Version byte of the `extraData` encoding.
const EXTRA_DATA_VERSION: u8 = 1;
/// Length of the `extraData` encoding.
pub const EXTRA_DATA_LEN: usize = 17;

impl L1Prices {
    /// The block's `extraData`: `0x01 ‖ base fee (u64 big-endian) ‖ blob base fee (u64)`.
    pub fn to_extra_data(&self) -> Bytes {
        let mut out = Vec::with_capacity(EXTRA_DATA_LEN);
        out.push(EXTRA_DATA_VERSION);
        out.extend_from_slice(&self.base_fee.to_be_bytes());
        out.extend_from_slice(&self.blob_base_fee.to_be_bytes());
        out.into()
    }

    /// Decode [`Self::to_extra_data`]; anything else is refused.
    pub fn from_extra_data(data: &[u8]) -> Result<Self, FeeError> {
        if data.len() != EXTRA_DATA_LEN || data[0] != EXTRA_DATA_VERSION {
            return Err(FeeError::MalformedExtraData(data.len()));
        }
        let word = |at: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&data[at..at + 8]);
            u64::from_be_bytes(bytes)
        };
        Ok(Self {
            base_fee: word(1),
            blob_base_fee: word(9),
        })
    }

    /// Most a price may move in one block from `parent`: an eighth of it (as EIP-1559's base
    /// fee), at least 1 wei, so one L1 spike takes many blocks to reach L2 fees.
    pub fn max_step(parent: u64) -> u64 {
        (parent / 8).max(1)
    }

    /// The prices of the block after one at `self`, moving toward what L1 shows now
    /// (`observed`) by at most [`Self::max_step`].
    pub fn toward(&self, observed: &L1Prices) -> L1Prices {
        let step = |parent: u64, target: u64| {
            let max = Self::max_step(parent);
            if target > parent {
                parent.saturating_add((target - parent).min(max))
            } else {
                parent - (parent - target).min(max)
            }
        };
        L1Prices {
            base_fee: step(self.base_fee, observed.base_fee),
            blob_base_fee: step(self.blob_base_fee, observed.blob_base_fee),
        }
    }

    /// Whether a block with `self`'s prices may follow one with `parent`'s.
    pub fn check_step(&self, parent: &L1Prices) -> Result<(), FeeError> {
        for (which, parent, next) in [
            ("base fee", parent.base_fee, self.base_fee),
            ("blob base fee", parent.blob_base_fee, self.blob_base_fee),
        ] {
            let max_step = Self::max_step(parent);
            if parent.abs_diff(next) > max_step {
                return Err(FeeError::StepTooLarge {
                    which,
                    parent,
                    next,
                    max_step,
                });
            }
        }
        Ok(())
    }
}

/// The scalars of the fee rule, as the oracle holds them (set in the genesis, changed only by
/// the oracle's owner).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeeScalars {
    /// Weight of the L1 base fee, in millionths (× 16 per byte, as calldata gas).
    pub base_fee_scalar: u32,
    /// Weight of the L1 blob base fee per byte, in millionths.
    pub blob_base_fee_scalar: u32,
    /// Operator fee per gas used, in wei.
    pub operator_fee_scalar: u64,
    /// Operator fee per transaction, in wei.
    pub operator_fee_constant: u64,
}

/// Everything a block's fees depend on: its L1 prices and the scalars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeeParams {
    pub prices: L1Prices,
    pub scalars: FeeScalars,
}

/// What one transaction was charged beyond its gas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeeCharge {
    pub l1_fee: U256,
    pub operator_fee: U256,
}

impl FeeCharge {
    pub fn total(&self) -> U256 {
        self.l1_fee.saturating_add(self.operator_fee)
    }
}

/// The estimated size, in millionths of a byte, of a signed transaction of `tx_len` bytes.
pub fn estimated_size(tx_len: usize) -> U256 {
    let len = i128::try_from(tx_len).unwrap_or(i128::MAX / ONE);
    let linear = SIZE_INTERCEPT.saturating_add(SIZE_COEFFICIENT.saturating_mul(len));
    U256::from(linear.max(MIN_TX_SIZE * ONE) as u128)
}

impl FeeParams {
    /// The L1 gas the transaction stands for (`l1GasUsed` of its receipt): 16 per estimated
    /// byte, as calldata.
    pub fn l1_gas_used(&self, tx_len: usize) -> U256 {
        estimated_size(tx_len) * U256::from(16) / U256::from(ONE as u64)
    }

    /// The L1 fee of a signed transaction of `tx_len` bytes (its EIP-2718 encoding):
    /// `size × (16 × baseFeeScalar × l1BaseFee + blobBaseFeeScalar × blobBaseFee) / 1e12`.
    pub fn l1_fee(&self, tx_len: usize) -> U256 {
        let scaled = U256::from(16)
            * U256::from(self.scalars.base_fee_scalar)
            * U256::from(self.prices.base_fee)
            + U256::from(self.scalars.blob_base_fee_scalar) * U256::from(self.prices.blob_base_fee);
        estimated_size(tx_len) * scaled / U256::from(1_000_000_000_000u64)
    }

    /// The operator fee of a transaction that used `gas_used` gas.
    pub fn operator_fee(&self, gas_used: u64) -> U256 {
        U256::from(self.scalars.operator_fee_constant)
            + U256::from(self.scalars.operator_fee_scalar) * U256::from(gas_used)
    }

    /// The charge of a transaction of `tx_len` bytes that used `gas_used` gas.
    pub fn charge(&self, tx_len: usize, gas_used: u64) -> FeeCharge {
        FeeCharge {
            l1_fee: self.l1_fee(tx_len),
            operator_fee: self.operator_fee(gas_used),
        }
    }

    /// The oracle's storage for these params (its owner aside): what the genesis holds.
    pub fn storage(&self) -> [(B256, B256); 6] {
        let word = |v: u64| B256::from(U256::from(v));
        [
            (slots::L1_BASE_FEE.into(), word(self.prices.base_fee)),
            (slots::BLOB_BASE_FEE.into(), word(self.prices.blob_base_fee)),
            (
                slots::BASE_FEE_SCALAR.into(),
                word(self.scalars.base_fee_scalar.into()),
            ),
            (
                slots::BLOB_BASE_FEE_SCALAR.into(),
                word(self.scalars.blob_base_fee_scalar.into()),
            ),
            (
                slots::OPERATOR_FEE_SCALAR.into(),
                word(self.scalars.operator_fee_scalar),
            ),
            (
                slots::OPERATOR_FEE_CONSTANT.into(),
                word(self.scalars.operator_fee_constant),
            ),
        ]
    }

    /// The params from the oracle's storage, read slot by slot with `read` (values that don't
    /// fit their type saturate: only the owner's typed setters write them).
    pub fn from_storage<E>(mut read: impl FnMut(U256) -> Result<U256, E>) -> Result<Self, E> {
        let mut u64_at = |slot| read(slot).map(|v: U256| u64::try_from(v).unwrap_or(u64::MAX));
        let base_fee = u64_at(slots::L1_BASE_FEE)?;
        let blob_base_fee = u64_at(slots::BLOB_BASE_FEE)?;
        let base_fee_scalar = u64_at(slots::BASE_FEE_SCALAR)?;
        let blob_base_fee_scalar = u64_at(slots::BLOB_BASE_FEE_SCALAR)?;
        let operator_fee_scalar = u64_at(slots::OPERATOR_FEE_SCALAR)?;
        let operator_fee_constant = u64_at(slots::OPERATOR_FEE_CONSTANT)?;
        let u32_of = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        Ok(Self {
            prices: L1Prices {
                base_fee,
                blob_base_fee,
            },
            scalars: FeeScalars {
                base_fee_scalar: u32_of(base_fee_scalar),
                blob_base_fee_scalar: u32_of(blob_base_fee_scalar),
                operator_fee_scalar,
                operator_fee_constant,
            },
        })
    }
}

/// Blob gas of the one blob a batch carries (EIP-4844 `GAS_PER_BLOB`).
pub const BLOB_GAS_PER_BATCH: u64 = 131_072;

/// L1 execution gas of one batch: `commitBatch` (159,384) plus a one-batch `verifyBatches` with
/// a 2-of-3 attestation (112,231), as `keel-bench da` measured them (docs/benchmarks.md),
/// rounded up.
pub const DEFAULT_BATCH_L1_GAS: u64 = 272_000;

/// What a batch costs its operator on L1 at `prices`: one blob (none in validium) and
/// `batch_l1_gas` of execution gas (priority fees aside).
pub fn batch_l1_cost(prices: &L1Prices, batch_l1_gas: u64, blob: bool) -> U256 {
    let blob_cost = if blob {
        U256::from(BLOB_GAS_PER_BATCH) * U256::from(prices.blob_base_fee)
    } else {
        U256::ZERO
    };
    blob_cost + U256::from(batch_l1_gas) * U256::from(prices.base_fee)
}

/// The defaults of `keel l2 genesis` and `--dev` (docs/fees.md): scalars that recover a full
/// blob's L1 cost (blob, `commitBatch` and a one-batch `verifyBatches`) with ~10% to spare, and
/// starting prices of 1 gwei (L1 base fee) and 1 wei (blob base fee) until the first block
/// brings L1's.
pub const DEFAULT_FEE_PARAMS: FeeParams = FeeParams {
    prices: L1Prices {
        base_fee: 1_000_000_000,
        blob_base_fee: 1,
    },
    scalars: FeeScalars {
        base_fee_scalar: 145_000,
        blob_base_fee_scalar: 1_135_000,
        operator_fee_scalar: 0,
        operator_fee_constant: 0,
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_data_round_trips_and_refuses_anything_else() {
        let prices = L1Prices {
            base_fee: 12_345_678_901,
            blob_base_fee: 7,
        };
        let data = prices.to_extra_data();
        assert_eq!(data.len(), EXTRA_DATA_LEN);
        assert_eq!(L1Prices::from_extra_data(&data), Ok(prices));
        assert!(L1Prices::from_extra_data(&data[..16]).is_err());
        assert!(L1Prices::from_extra_data(b"keel dev").is_err());
        let mut wrong_version = data.to_vec();
        wrong_version[0] = 2;
        assert!(L1Prices::from_extra_data(&wrong_version).is_err());
        assert!(L1Prices::from_extra_data(&[]).is_err());
    }

    #[test]
    fn prices_move_at_most_an_eighth_per_block() {
        let parent = L1Prices {
            base_fee: 800,
            blob_base_fee: 1,
        };
        let spike = L1Prices {
            base_fee: 1_000_000,
            blob_base_fee: 1_000_000,
        };
        let next = parent.toward(&spike);
        assert_eq!(next.base_fee, 900);
        assert_eq!(next.blob_base_fee, 2);
        assert!(next.check_step(&parent).is_ok());
        assert!(spike.check_step(&parent).is_err());
        let fall = parent.toward(&L1Prices::default());
        assert_eq!(fall.base_fee, 700);
        assert_eq!(fall.blob_base_fee, 0);
        // Reaching the spike takes many blocks.
        let mut prices = parent;
        let mut blocks = 0;
        while prices != spike {
            prices = prices.toward(&spike);
            blocks += 1;
        }
        assert!(blocks > 50, "{blocks}");
    }

    #[test]
    fn fees_follow_the_formula() {
        let params = FeeParams {
            prices: L1Prices {
                base_fee: 10_000_000_000,
                blob_base_fee: 5_000_000_000,
            },
            scalars: FeeScalars {
                base_fee_scalar: 145_000,
                blob_base_fee_scalar: 1_135_000,
                operator_fee_scalar: 3,
                operator_fee_constant: 1_000,
            },
        };
        let size = estimated_size(120);
        assert_eq!(size, U256::from(120 * 764_421 - 54_415_723));
        let scaled = 16u128 * 145_000 * 10_000_000_000 + 1_135_000u128 * 5_000_000_000;
        let want = (120 * 764_421 - 54_415_723) as u128 * scaled / 1_000_000_000_000;
        assert_eq!(params.l1_fee(120), U256::from(want));
        assert_eq!(
            params.l1_gas_used(120),
            U256::from((120 * 764_421 - 54_415_723) * 16 / 1_000_000)
        );
        assert_eq!(params.operator_fee(21_000), U256::from(1_000 + 63_000));
        // Tiny transactions pay for the minimum size.
        assert_eq!(estimated_size(1), U256::from(20_000_000u64));
        assert!(params.l1_fee(usize::MAX) > params.l1_fee(1000));
    }

    #[test]
    fn a_batch_costs_a_blob_and_its_execution_gas() {
        let prices = L1Prices {
            base_fee: 10,
            blob_base_fee: 3,
        };
        assert_eq!(
            batch_l1_cost(&prices, 1_000, true),
            U256::from(3 * 131_072 + 10_000)
        );
        assert_eq!(batch_l1_cost(&prices, 1_000, false), U256::from(10_000));
    }

    #[test]
    fn storage_round_trips() {
        let storage = DEFAULT_FEE_PARAMS.storage();
        let read = |slot: U256| -> Result<U256, ()> {
            Ok(storage
                .iter()
                .find(|(k, _)| U256::from_be_bytes(k.0) == slot)
                .map_or(U256::ZERO, |(_, v)| U256::from_be_bytes(v.0)))
        };
        assert_eq!(FeeParams::from_storage(read), Ok(DEFAULT_FEE_PARAMS));
    }

    #[test]
    fn fee_config_parses_from_genesis_json() {
        let config: FeeConfig =
            serde_json::from_str(r#"{"l1FeeVault": "0x000000000000000000000000000000000000f001"}"#)
                .unwrap();
        assert_eq!(
            config.l1_fee_vault,
            Some(address!("0x000000000000000000000000000000000000f001"))
        );
        assert_eq!(config.operator_fee_vault, None);
        assert!(serde_json::from_str::<FeeConfig>(r#"{"l1FeeValt": "0x00"}"#).is_err());
    }
}
