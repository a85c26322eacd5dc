//! The node and its chain: `eth_config` (EIP-7910), `eth_capabilities`, `eth_coinbase`, and the
//! methods that need keys the node doesn't hold (`eth_sign`, `eth_signTransaction`,
//! `eth_sendTransaction`).
//!
//! - `eth_config`: the fork configurations from Cancun on (the spec's objects need a blob
//!   schedule), computed from the chain spec: `current` is the last fork active at the head's
//!   timestamp, `next` the first one after it, `last` the last one scheduled (`null`, like `next`,
//!   when none is). The fork id is EIP-2124/6122's CRC32 of the genesis hash and the fork
//!   activations up to the fork's (blocks and timestamps at genesis left out). `precompiles` are
//!   those revm runs for the fork, by the names geth uses; `systemContracts` are the fork's
//!   system contracts that the chain has code for at the head (keel's L2 genesis deploys only the
//!   EIP-2935 history contract: no beacon roots, no request queues, DESIGN §4), the deposit
//!   contract only when the chain config names one.
//! - `eth_capabilities`: blocks, transactions, receipts, logs and state are kept from genesis;
//!   proofs (`eth_getProof`) only within `--state.history` blocks of the head.
//! - `eth_coinbase`: the fee recipient of the blocks this node produces
//!   ([`crate::RpcConfig::coinbase`]).
//! - The key-holding methods answer geth's "unknown account" (-32000), saying the node holds no
//!   keys: sign locally and use `eth_sendRawTransaction`.

use std::collections::BTreeMap;

use alloy_eips::{
    eip2124::ForkHash,
    eip2935, eip4788, eip7002, eip7251,
    eip7910::{EthConfig, EthForkConfig, SystemContract},
};
use alloy_hardforks::{EthereumHardfork, EthereumHardforks, ForkCondition};
use alloy_primitives::{Address, B256, Bytes, U64};
use alloy_rpc_types_eth::TransactionRequest;
use jsonrpsee::{RpcModule, core::RegisterMethodError, types::ErrorObjectOwned};
use keel_storage::{ChainReader, StateReader};
use keel_types::ChainSpec;
use revm::{
    precompile::{PrecompileSpecId, Precompiles},
    primitives::{KECCAK_EMPTY, hardfork::SpecId},
};
use serde::Serialize;

use crate::{
    RpcContext,
    error::{RpcError, RpcResult},
    eth_state::state_after,
};

/// The forks `eth_config` reports, with the revm spec that runs them.
const CONFIG_FORKS: [(EthereumHardfork, SpecId); 3] = [
    (EthereumHardfork::Cancun, SpecId::CANCUN),
    (EthereumHardfork::Prague, SpecId::PRAGUE),
    (EthereumHardfork::Osaka, SpecId::OSAKA),
];

/// The block-activated forks that count in a fork id (EIP-2124), in order.
const BLOCK_FORKS: [EthereumHardfork; 11] = [
    EthereumHardfork::Homestead,
    EthereumHardfork::Dao,
    EthereumHardfork::Tangerine,
    EthereumHardfork::SpuriousDragon,
    EthereumHardfork::Byzantium,
    EthereumHardfork::Constantinople,
    EthereumHardfork::Petersburg,
    EthereumHardfork::Istanbul,
    EthereumHardfork::Berlin,
    EthereumHardfork::London,
    EthereumHardfork::Paris,
];

/// The timestamp-activated forks that count in a fork id, in order.
const TIME_FORKS: [EthereumHardfork; 4] = [
    EthereumHardfork::Shanghai,
    EthereumHardfork::Cancun,
    EthereumHardfork::Prague,
    EthereumHardfork::Osaka,
];

/// The precompiles' names in `eth_config`, by address (geth's names, as in the spec's example).
fn precompile_name(address: &Address) -> Option<&'static str> {
    let bytes = address.as_slice();
    if bytes[..18].iter().any(|b| *b != 0) {
        return None;
    }
    Some(match u16::from_be_bytes([bytes[18], bytes[19]]) {
        0x01 => "ECREC",
        0x02 => "SHA256",
        0x03 => "RIPEMD160",
        0x04 => "ID",
        0x05 => "MODEXP",
        0x06 => "BN254_ADD",
        0x07 => "BN254_MUL",
        0x08 => "BN254_PAIRING",
        0x09 => "BLAKE2F",
        0x0a => "KZG_POINT_EVALUATION",
        0x0b => "BLS12_G1ADD",
        0x0c => "BLS12_G1MSM",
        0x0d => "BLS12_G2ADD",
        0x0e => "BLS12_G2MSM",
        0x0f => "BLS12_PAIRING_CHECK",
        0x10 => "BLS12_MAP_FP_TO_G1",
        0x11 => "BLS12_MAP_FP2_TO_G2",
        0x100 => "P256VERIFY",
        _ => return None,
    })
}

/// EIP-2124's fork hash: CRC32 of the genesis hash, updated with each fork block (above 0) and
/// then each fork timestamp (after the genesis'), each once, in ascending order.
pub(crate) fn fork_hash(
    genesis_hash: B256,
    genesis_timestamp: u64,
    blocks: impl IntoIterator<Item = u64>,
    timestamps: impl IntoIterator<Item = u64>,
) -> [u8; 4] {
    let mut blocks: Vec<u64> = blocks.into_iter().filter(|b| *b > 0).collect();
    blocks.sort_unstable();
    blocks.dedup();
    let mut timestamps: Vec<u64> = timestamps
        .into_iter()
        .filter(|t| *t > genesis_timestamp)
        .collect();
    timestamps.sort_unstable();
    timestamps.dedup();
    let mut hash = ForkHash::from(genesis_hash);
    for activation in blocks.into_iter().chain(timestamps) {
        hash += activation;
    }
    hash.0
}

/// The block a fork activates at, if it is block-activated (Paris: its netsplit block).
fn fork_block(condition: ForkCondition) -> Option<u64> {
    match condition {
        ForkCondition::Block(block) => Some(block),
        ForkCondition::TTD { fork_block, .. } => fork_block,
        _ => None,
    }
}

fn fork_time(spec: &ChainSpec, fork: EthereumHardfork) -> Option<u64> {
    match spec.ethereum_fork_activation(fork) {
        ForkCondition::Timestamp(time) => Some(time),
        _ => None,
    }
}

/// `eth_config`'s answer for a chain whose genesis is `genesis_hash` at `genesis_timestamp`, at
/// a head with `head_timestamp`; `has_code` says whether the head state has code at an address.
pub(crate) fn eth_config(
    spec: &ChainSpec,
    genesis_hash: B256,
    genesis_timestamp: u64,
    head_timestamp: u64,
    has_code: impl Fn(Address) -> RpcResult<bool>,
) -> RpcResult<EthConfig> {
    let blocks: Vec<u64> = BLOCK_FORKS
        .iter()
        .filter_map(|fork| fork_block(spec.ethereum_fork_activation(*fork)))
        .collect();
    let times: Vec<u64> = TIME_FORKS
        .iter()
        .filter_map(|fork| fork_time(spec, *fork))
        .collect();
    // The reported forks with their activation times, in order.
    let scheduled: Vec<(EthereumHardfork, SpecId, u64)> = CONFIG_FORKS
        .iter()
        .filter_map(|(fork, spec_id)| fork_time(spec, *fork).map(|time| (*fork, *spec_id, time)))
        .collect();
    let config = |fork: EthereumHardfork, spec_id: SpecId, time: u64| -> RpcResult<EthForkConfig> {
        let blob_schedule = spec.blob_params_at(time).ok_or_else(|| {
            RpcError::Internal(format!("no blob parameters for {fork} at {time}"))
        })?;
        let fork_id = fork_hash(
            genesis_hash,
            genesis_timestamp,
            blocks.iter().copied(),
            times.iter().copied().filter(|t| *t <= time),
        );
        let precompiles = Precompiles::new(PrecompileSpecId::from_spec_id(spec_id))
            .addresses()
            .map(|address| {
                let name =
                    precompile_name(address).map_or_else(|| address.to_string(), str::to_string);
                (name, *address)
            })
            .collect();
        let mut candidates = vec![(SystemContract::BeaconRoots, eip4788::BEACON_ROOTS_ADDRESS)];
        if spec_id.is_enabled_in(SpecId::PRAGUE) {
            candidates.extend([
                (
                    SystemContract::HistoryStorage,
                    eip2935::HISTORY_STORAGE_ADDRESS,
                ),
                (
                    SystemContract::ConsolidationRequestPredeploy,
                    eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
                ),
                (
                    SystemContract::WithdrawalRequestPredeploy,
                    eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
                ),
            ]);
        }
        let mut system_contracts = BTreeMap::new();
        for (contract, address) in candidates {
            if has_code(address)? {
                system_contracts.insert(contract, address);
            }
        }
        if spec_id.is_enabled_in(SpecId::PRAGUE)
            && let Some(deposit) = spec.deposit_contract
        {
            system_contracts.insert(SystemContract::DepositContract, deposit);
        }
        Ok(EthForkConfig {
            activation_time: time,
            blob_schedule,
            chain_id: spec.chain_id,
            fork_id: Bytes::copy_from_slice(&fork_id),
            precompiles,
            system_contracts,
        })
    };
    let current = scheduled
        .iter()
        .rev()
        .find(|(_, _, time)| *time <= head_timestamp)
        .ok_or_else(|| {
            RpcError::server(
                "eth_config: the chain's head is before Cancun (EIP-7910 starts there)",
            )
        })?;
    let next = scheduled.iter().find(|(_, _, time)| *time > head_timestamp);
    let last = next.and_then(|_| scheduled.last());
    Ok(EthConfig {
        current: config(current.0, current.1, current.2)?,
        next: next
            .map(|(fork, spec_id, time)| config(*fork, *spec_id, *time))
            .transpose()?,
        last: last
            .map(|(fork, spec_id, time)| config(*fork, *spec_id, *time))
            .transpose()?,
    })
}

fn config_of_node(ctx: &RpcContext) -> RpcResult<EthConfig> {
    let reader = ctx.reader()?;
    let (head_hash, head) = reader
        .head()?
        .ok_or_else(|| RpcError::Internal("no head block".into()))?;
    let genesis_hash = reader
        .canonical_hash(0)?
        .ok_or_else(|| RpcError::Internal("no genesis block".into()))?;
    let genesis = reader
        .header(&genesis_hash)?
        .ok_or_else(|| RpcError::Internal("no genesis header".into()))?;
    let state = state_after(ctx, &reader, head_hash, &head, false)?;
    eth_config(
        ctx.chain.spec(),
        genesis_hash,
        genesis.timestamp,
        head.timestamp,
        |address| {
            Ok(state
                .account(&address)?
                .is_some_and(|account| account.code_hash != KECCAK_EMPTY))
        },
    )
}

/// `eth_capabilities`' answer (the spec's `EthCapabilities`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Capabilities {
    head: CapabilitiesHead,
    state: Resource,
    tx: Resource,
    logs: Resource,
    receipts: Resource,
    blocks: Resource,
    stateproofs: Resource,
}

#[derive(Debug, Clone, Serialize)]
struct CapabilitiesHead {
    number: U64,
    hash: B256,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Resource {
    disabled: bool,
    oldest_block: U64,
    #[serde(skip_serializing_if = "Option::is_none")]
    delete_strategy: Option<DeleteStrategy>,
}

impl Resource {
    /// Kept from genesis on, never deleted.
    fn all() -> Self {
        Self {
            disabled: false,
            oldest_block: U64::ZERO,
            delete_strategy: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct DeleteStrategy {
    #[serde(rename = "type")]
    kind: &'static str,
    retention_blocks: U64,
}

fn capabilities(ctx: &RpcContext) -> RpcResult<Capabilities> {
    let (hash, head) = ctx
        .reader()?
        .head()?
        .ok_or_else(|| RpcError::Internal("no head block".into()))?;
    let window = ctx.chain.state_history();
    Ok(Capabilities {
        head: CapabilitiesHead {
            number: U64::from(head.number),
            hash,
        },
        state: Resource::all(),
        tx: Resource::all(),
        logs: Resource::all(),
        receipts: Resource::all(),
        blocks: Resource::all(),
        stateproofs: Resource {
            disabled: false,
            oldest_block: U64::from(head.number.saturating_sub(window)),
            delete_strategy: Some(DeleteStrategy {
                kind: "window",
                retention_blocks: U64::from(window),
            }),
        },
    })
}

/// What the key-holding methods answer: geth's error for an account it has no key for, and
/// what to do instead.
pub(crate) fn no_keys(account: Option<Address>) -> RpcError {
    let account = account.map(|a| format!(" {a}")).unwrap_or_default();
    RpcError::server(format!(
        "unknown account{account}: this node holds no keys; sign the transaction locally and \
         send it with eth_sendRawTransaction"
    ))
}

pub(crate) fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_blocking_method("eth_config", |_, ctx, _| {
        config_of_node(&ctx).map_err(ErrorObjectOwned::from)
    })?;
    module.register_method("eth_capabilities", |_, ctx, _| {
        capabilities(ctx).map_err(ErrorObjectOwned::from)
    })?;
    module.register_method("eth_coinbase", |_, ctx, _| {
        ctx.config.coinbase.ok_or_else(|| {
            ErrorObjectOwned::from(RpcError::server("etherbase must be explicitly specified"))
        })
    })?;
    module.register_method("eth_sign", |params, _, _| {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        let _message: Bytes = seq.next()?;
        Err::<Bytes, _>(ErrorObjectOwned::from(no_keys(Some(address))))
    })?;
    module.register_method("eth_signTransaction", |params, _, _| {
        let request: TransactionRequest = params.one()?;
        Err::<Bytes, _>(ErrorObjectOwned::from(no_keys(request.from)))
    })?;
    module.register_method("eth_sendTransaction", |params, _, _| {
        let request: TransactionRequest = params.one()?;
        Err::<B256, _>(ErrorObjectOwned::from(no_keys(request.from)))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::b256;

    #[test]
    fn fork_hashes_match_mainnet() {
        // EIP-2124's mainnet values (geth's forkid tests).
        let genesis = b256!("d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3");
        let blocks = [
            1_150_000, 1_920_000, 2_463_000, 2_675_000, 4_370_000, 7_280_000, 7_280_000, 9_069_000,
            9_200_000, 12_244_000, 12_965_000, 13_773_000, 15_050_000,
        ];
        let genesis_time = 0;
        assert_eq!(
            fork_hash(genesis, genesis_time, [], []),
            [0xfc, 0x64, 0xec, 0x04]
        );
        assert_eq!(
            fork_hash(genesis, genesis_time, blocks, []),
            [0xf0, 0xaf, 0xd0, 0xe3]
        );
        assert_eq!(
            fork_hash(genesis, genesis_time, blocks, [1_681_338_455]),
            [0xdc, 0xe9, 0x6c, 0x2d]
        );
        assert_eq!(
            fork_hash(
                genesis,
                genesis_time,
                blocks,
                [1_681_338_455, 1_710_338_135]
            ),
            [0x9f, 0x3d, 0x22, 0x54]
        );
        // Forks at genesis don't count.
        assert_eq!(
            fork_hash(genesis, 5, [0, 0], [0, 5]),
            fork_hash(genesis, 5, [], [])
        );
    }

    #[test]
    fn precompile_names_cover_prague() {
        let precompiles = Precompiles::new(PrecompileSpecId::from_spec_id(SpecId::PRAGUE));
        for address in precompiles.addresses() {
            assert!(precompile_name(address).is_some(), "{address} unnamed");
        }
        assert_eq!(precompiles.addresses().count(), 17);
    }
}
