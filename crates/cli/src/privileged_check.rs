//! The check `keel import` runs on blocks from elsewhere when it has an L1: every privileged
//! transaction (type `0x7e`: a deposit or an L1→L2 call, which mints or moves funds without a
//! signature) must be the one the L1 bridge queued under its id. Its hash (the bridge's
//! `keccak256(u256(l2ChainId) ‖ from ‖ to ‖ u256(id) ‖ u256(value) ‖ u256(gasLimit) ‖
//! keccak256(data))`, [`PrivilegedTx::hash`]) must equal `privilegedTxHashes(id)` read at one L1
//! block, the import's read bound, fixed when the import starts. Without it, whoever wrote the
//! block file could mint any amount to anyone.

use std::time::Duration;

use alloy::{eips::BlockId, sol_types::SolCall};
use alloy_primitives::{Address, B256, U256};
use eyre::{WrapErr, bail};
use futures::{StreamExt, TryStreamExt, stream};
use keel_l1::{
    L1Client, L1ClientConfig, L1ClientError, L1ReadBound,
    contracts::CommonBridge::{l2ChainIdCall, privilegedTxHashesCall},
};
use keel_types::{Block, PrivilegedTx};
use tracing::{debug, info};

/// `privilegedTxHashes` calls in flight at once (one block's privileged txs are read together).
const CONCURRENCY: usize = 16;

/// Checks each block's privileged transactions against the L1 bridge (see the module docs).
pub struct L1PrivilegedCheck {
    runtime: tokio::runtime::Runtime,
    client: L1Client,
    bridge: Address,
    bound: L1ReadBound,
    /// The L1 block every hash is read at.
    at: u64,
    /// Privileged txs checked so far.
    pub checked: u64,
}

impl L1PrivilegedCheck {
    /// Connects to `urls`, finds the L1 block `bound` stands at now and checks that `bridge` is
    /// the bridge of the L2 `l2_chain_id`.
    pub fn connect(
        urls: Vec<String>,
        bridge: Address,
        bound: L1ReadBound,
        l2_chain_id: u64,
    ) -> eyre::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .wrap_err("starting the L1 client's runtime")?;
        let client = L1Client::new(L1ClientConfig {
            max_elapsed: Duration::from_secs(30),
            ..L1ClientConfig::new(urls)
        })
        .wrap_err("--eth.rpc-url")?;
        let (at, chain_id) = runtime.block_on(async {
            let position = client
                .read_position(bound)
                .await
                .wrap_err_with(|| format!("finding the L1 block to read at ({bound})"))?;
            let Some(at) = position.block else {
                bail!(
                    "the L1 (head {}) has no block at the read bound {bound} yet",
                    position.head
                );
            };
            // At the head: the bridge may be younger than the read bound.
            let chain_id: U256 = client
                .call_sol(bridge, &l2ChainIdCall {}, BlockId::latest())
                .await
                .wrap_err_with(|| {
                    format!(
                        "reading l2ChainId() of the L1 bridge {bridge} (is it keel's \
                         CommonBridge?)"
                    )
                })?;
            Ok((at, chain_id))
        })?;
        if chain_id != U256::from(l2_chain_id) {
            bail!(
                "the L1 bridge {bridge} is for L2 chain id {chain_id}, the genesis has \
                 {l2_chain_id}: wrong --l1.bridge-address or --network"
            );
        }
        info!(
            %bridge,
            l1_block = at,
            read_up_to = %bound,
            "privileged transactions are checked against the L1 bridge's queue at this L1 block"
        );
        Ok(Self {
            runtime,
            client,
            bridge,
            bound,
            at,
            checked: 0,
        })
    }

    /// The L1 block the hashes are read at.
    pub fn l1_block(&self) -> u64 {
        self.at
    }

    /// `Err(why)` if a privileged tx of `block` is not the one the bridge queued under its id.
    pub fn check(&mut self, block: &Block) -> Result<(), String> {
        let txs: Vec<&PrivilegedTx> = block
            .body
            .transactions
            .iter()
            .filter_map(|tx| tx.as_privileged())
            .collect();
        if txs.is_empty() {
            return Ok(());
        }
        let (client, bridge, at) = (&self.client, self.bridge, self.at);
        let queued: Vec<B256> = self
            .runtime
            .block_on(
                stream::iter(txs.iter().map(|tx| tx.nonce))
                    .map(|id| async move {
                        let call = privilegedTxHashesCall { id: U256::from(id) };
                        let out = client
                            .call(bridge, call.abi_encode().into(), at.into())
                            .await?;
                        // No code at `at`: the bridge was deployed after the read bound, so
                        // nothing was queued yet (`connect` found it at the head).
                        if out.is_empty() {
                            return Ok(B256::ZERO);
                        }
                        privilegedTxHashesCall::abi_decode_returns(&out).map_err(|e| {
                            L1ClientError::Decode {
                                what: privilegedTxHashesCall::SIGNATURE,
                                message: e.to_string(),
                            }
                        })
                    })
                    .buffered(CONCURRENCY)
                    .try_collect(),
            )
            .map_err(|e| {
                format!(
                    "reading the L1 bridge's privileged tx hashes failed, so the block is not \
                     checked (run the import again): {e}"
                )
            })?;
        for (tx, on_l1) in txs.iter().zip(queued) {
            let computed = tx.hash();
            if on_l1 == B256::ZERO {
                return Err(format!(
                    "privileged tx {id} (from {from} to {to}, value {value}) is not in the L1 \
                     bridge's queue at L1 block {at} (read up to {bound}): L1 never sent it, or \
                     it is not {bound} on L1 yet",
                    id = tx.nonce,
                    from = tx.from,
                    to = tx.to,
                    value = tx.value,
                    bound = self.bound,
                ));
            }
            if computed != on_l1 {
                return Err(format!(
                    "privileged tx {id} (from {from} to {to}, value {value}) hashes to \
                     {computed} but the L1 bridge queued {on_l1} under id {id}: it is not the \
                     transaction L1 sent (chain id, sender, recipient, value, gas limit or data \
                     differ)",
                    id = tx.nonce,
                    from = tx.from,
                    to = tx.to,
                    value = tx.value,
                ));
            }
        }
        self.checked += txs.len() as u64;
        debug!(
            number = block.header.number,
            privileged_txs = txs.len(),
            "privileged txs match the L1 bridge"
        );
        Ok(())
    }
}
