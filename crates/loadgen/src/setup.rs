//! The untimed setup of a target: chain id and fees, contract deployment, funding the load
//! accounts (ETH, and BenchToken for erc20) from the funder, and the load accounts' nonces.

use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, TxKind, U256};
use eyre::{Result, bail, eyre};
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::{
    accounts::{Call, Key, SignedTx, TxParams, sign},
    rpc::{Rpc, quantity},
    workload::{
        Artifacts, TOKENS_PER_ACCOUNT, Workload, storage_count, token_balance_of, token_transfer,
    },
};

/// One gwei in wei.
pub const GWEI: u128 = 1_000_000_000;

/// Gas limit of the funder's ETH transfers.
const FUND_GAS: u64 = 21_000;
/// Gas limit of the funder's BenchToken transfers (fresh recipient ≈ 52,000).
const TOKEN_FUND_GAS: u64 = 80_000;
/// Most funder transactions sent before waiting for their inclusion (keel's mempool, like geth's,
/// bounds how far a sender's nonces may run ahead; keel's default is 1,000).
pub const SETUP_ROUND: usize = 500;
/// Gas limit used when `eth_estimateGas` of a deployment fails.
const DEPLOY_GAS_FALLBACK: u64 = 3_000_000;

/// What the setup needs to know.
#[derive(Debug)]
pub struct SetupOpts<'a> {
    /// Workload.
    pub workload: Workload,
    /// The load accounts.
    pub keys: &'a [Key],
    /// Their addresses.
    pub addrs: &'a [Address],
    /// Load transactions per account.
    pub txs_per_account: usize,
    /// Gas limit of one load transaction.
    pub gas_limit: u64,
    /// StorageHeavy slots per call.
    pub slots: u64,
    /// Largest JSON-RPC batch.
    pub batch_size: usize,
    /// Largest number of the funder's transactions pending at once (0 = no limit).
    pub max_pending_per_sender: usize,
    /// `maxFeePerGas` override, wei.
    pub max_fee: Option<u128>,
    /// `maxPriorityFeePerGas` override, wei.
    pub tip: Option<u128>,
    /// Contract bytecode.
    pub artifacts: &'a Artifacts,
    /// The funder.
    pub funder: &'a Key,
    /// How long to wait for setup transactions to be included.
    pub inclusion_timeout: Duration,
}

/// The outcome of the setup.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Chain id, fees.
    pub params: TxParams,
    /// Base fee of the latest block when the setup started, wei.
    pub base_fee: u128,
    /// The deployed BenchToken / StorageHeavy (zero for `eth`).
    pub contract: Address,
    /// Next nonce of each load account.
    pub nonces: Vec<u64>,
    /// How many load accounts were topped up with ETH.
    pub funded_accounts: usize,
    /// ETH sent to the load accounts, wei.
    pub funded_wei: U256,
}

/// Reads the chain id and chooses the fees: `maxPriorityFeePerGas` from the node (1 gwei if it
/// has no opinion), `maxFeePerGas` = 2 × the latest base fee + tip, unless overridden.
pub async fn fees(rpc: &Rpc, max_fee: Option<u128>, tip: Option<u128>) -> Result<(TxParams, u128)> {
    let chain_id = rpc.chain_id().await?;
    let latest: Value = rpc
        .call("eth_getBlockByNumber", json!(["latest", false]))
        .await?;
    let base_fee = match latest.get("baseFeePerGas") {
        Some(v) if !v.is_null() => quantity(v, "baseFeePerGas")?,
        _ => 0,
    };
    let tip = match tip {
        Some(t) => t,
        None => match rpc.call_raw("eth_maxPriorityFeePerGas", json!([])).await? {
            Ok(v) => quantity(&v, "eth_maxPriorityFeePerGas")?,
            Err(_) => GWEI,
        },
    };
    let max_fee = max_fee.unwrap_or(2 * base_fee + tip).max(1);
    Ok((
        TxParams {
            chain_id,
            max_fee,
            tip: tip.min(max_fee),
        },
        base_fee,
    ))
}

/// Polls `eth_getTransactionReceipt` until the transaction is included; returns the receipt.
pub async fn wait_receipt(rpc: &Rpc, hash: B256, timeout: Duration) -> Result<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let r: Value = rpc.call("eth_getTransactionReceipt", json!([hash])).await?;
        if !r.is_null() {
            return Ok(r);
        }
        if Instant::now() >= deadline {
            bail!(
                "target `{}`: transaction {hash} not included after {timeout:?}",
                rpc.name()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls the `latest` nonce of `addr` until it reaches `nonce`.
pub async fn wait_nonce(rpc: &Rpc, addr: Address, nonce: u64, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let n = rpc.nonce(addr, "latest").await?;
        if n >= nonce {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "target `{}`: setup transactions of {addr} not included after {timeout:?} \
                 (nonce {n}, waiting for {nonce})",
                rpc.name()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends the funder's signed transactions (consecutive nonces, in order) in batches, in rounds of
/// at most `window` (0 = [`SETUP_ROUND`]) that each wait for inclusion.
async fn send_in_order(
    rpc: &Rpc,
    from: Address,
    first_nonce: u64,
    txs: &[SignedTx],
    batch_size: usize,
    window: usize,
    timeout: Duration,
) -> Result<()> {
    let window = if window == 0 {
        SETUP_ROUND
    } else {
        window.min(SETUP_ROUND)
    };
    let mut nonce = first_nonce;
    for chunk in txs.chunks(window) {
        for batch in chunk.chunks(batch_size.max(1)) {
            if let Some((hash, e)) = rpc.send_raw_batch(batch).await? {
                bail!(
                    "target `{}`: setup transaction {hash} rejected: {e}",
                    rpc.name()
                );
            }
        }
        nonce += chunk.len() as u64;
        wait_nonce(rpc, from, nonce, timeout).await?;
    }
    Ok(())
}

/// Deploys `init` from the funder at `nonce`; returns the contract address.
async fn deploy(
    rpc: &Rpc,
    funder: &Key,
    params: &TxParams,
    nonce: u64,
    init: alloy::primitives::Bytes,
    what: &str,
    timeout: Duration,
) -> Result<Address> {
    let gas_limit = match rpc
        .call_raw(
            "eth_estimateGas",
            json!([{"from": funder.address(), "data": init}]),
        )
        .await?
    {
        Ok(v) => (quantity(&v, "eth_estimateGas")? as u64).saturating_mul(13) / 10,
        Err(_) => DEPLOY_GAS_FALLBACK,
    };
    let tx = sign(
        funder,
        params,
        nonce,
        Call {
            to: TxKind::Create,
            value: U256::ZERO,
            input: init,
            gas_limit,
        },
    )?;
    rpc.send_raw(&tx.raw)
        .await
        .map_err(|e| eyre!("deploying {what}: {e}"))?;
    let receipt = wait_receipt(rpc, tx.hash, timeout).await?;
    if receipt.get("status").and_then(Value::as_str) != Some("0x1") {
        bail!(
            "target `{}`: deploying {what} failed: receipt {receipt}",
            rpc.name()
        );
    }
    let addr = funder.address().create(nonce);
    match receipt
        .get("contractAddress")
        .and_then(Value::as_str)
        .map(str::parse::<Address>)
    {
        Some(Ok(a)) if a == addr => Ok(a),
        Some(Ok(a)) => bail!(
            "target `{}`: {what} deployed at {a}, expected {addr}",
            rpc.name()
        ),
        _ => Ok(addr),
    }
}

/// Runs the setup: deploys the workload's contract, funds the load accounts (each to at least
/// the cost of its transactions at the chosen max fee, topping up to twice that so a rerun with
/// the same sizes needs no funding), distributes tokens for erc20, and reads the nonces.
pub async fn run(rpc: &Rpc, o: &SetupOpts<'_>) -> Result<Setup> {
    let (params, base_fee) = fees(rpc, o.max_fee, o.tip).await?;
    let funder = o.funder.address();
    let mut nonce = rpc.nonce(funder, "pending").await?;
    let funder_balance = rpc.balance(funder).await?;

    // Contract.
    let contract = match o.workload {
        Workload::Eth => Address::ZERO,
        Workload::Erc20 => {
            let supply = U256::from(TOKENS_PER_ACCOUNT) * U256::from(o.addrs.len() as u64 + 1);
            let init = o.artifacts.load_token_init(supply);
            let a = deploy(
                rpc,
                o.funder,
                &params,
                nonce,
                init,
                "BenchToken",
                o.inclusion_timeout,
            )
            .await?;
            nonce += 1;
            a
        }
        Workload::Storage => {
            let init = o.artifacts.storage_heavy.clone();
            let a = deploy(
                rpc,
                o.funder,
                &params,
                nonce,
                init,
                "StorageHeavy",
                o.inclusion_timeout,
            )
            .await?;
            nonce += 1;
            a
        }
    };

    // ETH top-ups.
    let value = if o.workload == Workload::Eth {
        U256::from(1)
    } else {
        U256::ZERO
    };
    let per_tx = U256::from(o.gas_limit) * U256::from(params.max_fee) + value;
    let need = per_tx * U256::from(o.txs_per_account);
    let calls: Vec<(&str, Value)> = o
        .addrs
        .iter()
        .map(|a| ("eth_getBalance", json!([a, "latest"])))
        .collect();
    let balances = rpc.batch_all(&calls, o.batch_size).await?;
    let mut fund_calls: Vec<(Address, Call)> = Vec::new();
    let mut funded_wei = U256::ZERO;
    for (addr, bal) in o.addrs.iter().zip(&balances) {
        let bal: U256 = serde_json::from_value(bal.clone())
            .map_err(|e| eyre!("eth_getBalance({addr}): unexpected result {bal}: {e}"))?;
        if bal < need {
            let amount = need * U256::from(2) - bal;
            funded_wei += amount;
            fund_calls.push((
                *addr,
                Call {
                    to: TxKind::Call(*addr),
                    value: amount,
                    input: Default::default(),
                    gas_limit: FUND_GAS,
                },
            ));
        }
    }
    let funded_accounts = fund_calls.len();
    if o.workload == Workload::Erc20 {
        for addr in o.addrs {
            fund_calls.push((
                *addr,
                Call {
                    to: TxKind::Call(contract),
                    value: U256::ZERO,
                    input: token_transfer(*addr, U256::from(TOKENS_PER_ACCOUNT)),
                    gas_limit: TOKEN_FUND_GAS,
                },
            ));
        }
    }
    let fee_cost: U256 = fund_calls
        .iter()
        .map(|(_, c)| U256::from(c.gas_limit) * U256::from(params.max_fee))
        .fold(U256::ZERO, |a, b| a + b);
    let total = funded_wei + fee_cost;
    if total > funder_balance {
        bail!(
            "target `{}`: funder {funder} has {} wei but funding {} accounts needs {} wei \
             (lower --accounts/--txs-per-account or use another --funder-key)",
            rpc.name(),
            funder_balance,
            funded_accounts,
            total
        );
    }
    if !fund_calls.is_empty() {
        let first = nonce;
        let signed: Vec<SignedTx> = fund_calls
            .into_par_iter()
            .enumerate()
            .map(|(i, (_, call))| sign(o.funder, &params, first + i as u64, call))
            .collect::<Result<_>>()?;
        send_in_order(
            rpc,
            funder,
            first,
            &signed,
            o.batch_size,
            o.max_pending_per_sender,
            o.inclusion_timeout,
        )
        .await?;
    }

    // Sanity checks of the state the load needs.
    if let Some(first) = o.addrs.first() {
        match o.workload {
            Workload::Eth => {}
            Workload::Erc20 => {
                let v: alloy::primitives::Bytes = rpc
                    .call(
                        "eth_call",
                        json!([{"to": contract, "data": token_balance_of(*first)}, "latest"]),
                    )
                    .await?;
                let bal = U256::try_from_be_slice(&v).unwrap_or_default();
                if bal < U256::from(o.txs_per_account) {
                    bail!(
                        "target `{}`: account {first} holds {bal} BenchToken units after funding",
                        rpc.name()
                    );
                }
            }
            Workload::Storage => {
                let _: alloy::primitives::Bytes = rpc
                    .call(
                        "eth_call",
                        json!([{"to": contract, "data": storage_count(*first)}, "latest"]),
                    )
                    .await?;
            }
        }
        let call = o.workload.call(o.addrs, 0, contract, o.slots, o.gas_limit);
        let to = match call.to {
            TxKind::Call(a) => a,
            TxKind::Create => Address::ZERO,
        };
        let est = rpc
            .call_raw(
                "eth_estimateGas",
                json!([{"from": first, "to": to, "value": call.value, "data": call.input}]),
            )
            .await?;
        match est {
            Ok(v) => {
                let est = quantity(&v, "eth_estimateGas")? as u64;
                if est > o.gas_limit {
                    bail!(
                        "target `{}`: a {} transaction needs {est} gas (eth_estimateGas) but the gas \
                         limit is {}; pass a larger --gas-limit",
                        rpc.name(),
                        o.workload,
                        o.gas_limit
                    );
                }
            }
            Err(e) => eprintln!(
                "[{}] warning: eth_estimateGas of a load transaction failed: {e}",
                rpc.name()
            ),
        }
    }

    let calls: Vec<(&str, Value)> = o
        .addrs
        .iter()
        .map(|a| ("eth_getTransactionCount", json!([a, "pending"])))
        .collect();
    let nonces = rpc
        .batch_all(&calls, o.batch_size)
        .await?
        .iter()
        .map(|v| quantity(v, "eth_getTransactionCount").map(|n| n as u64))
        .collect::<Result<Vec<_>>>()?;

    Ok(Setup {
        params,
        base_fee,
        contract,
        nonces,
        funded_accounts,
        funded_wei,
    })
}
