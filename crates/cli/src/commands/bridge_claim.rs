//! `keel bridge claim` and `keel bridge status`: where an L2 withdrawal stands (pending, in a
//! block, in a sealed / committed / verified batch, claimed on L1), and its claim on the L1
//! bridge once its batch is verified.
//!
//! The withdrawals of an L2 transaction are its `WithdrawalInitiated` / `ERC20WithdrawalInitiated`
//! events of the L2 bridge (receiver, amount, tokens, message id); `keel_getWithdrawalProof`
//! gives each message's batch and Merkle proof, `keel_getBatchByNumber` the batch's status, and
//! the L1 bridge's `claimedMessages(id)` whether it was claimed. Receipts are read as JSON: a
//! failed deposit's refund is a withdrawal made by a privileged transaction (type `0x7e`).

use std::time::Duration;

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    providers::{DynProvider, Provider},
    rpc::types::Log,
};
use clap::Args;
use eyre::{WrapErr, bail, eyre};
use keel_l1::contracts::{CommonBridge, l2::CommonBridgeL2};
use serde_json::Value;

use super::{
    bridge::{Endpoints, KeyArg, client, signer},
    bridge_l1::{format_eth, resolve_l1},
};

/// The pseudo-address that stands for ETH in withdrawal messages (`CommonBridge.ETH`).
const ETH: Address = Address::new([0xee; 20]);

#[derive(Debug, Args)]
pub struct ClaimArgs {
    /// The L2 transaction that withdrew (every withdrawal it made is claimed).
    #[arg(long = "tx-hash", value_name = "L2_TX")]
    pub tx_hash: B256,
    /// Wait until the withdrawal's batch is verified on L1, then claim. Without it, a withdrawal
    /// whose batch is not verified yet is not claimed: the command says where it is and fails.
    #[arg(long)]
    pub wait: bool,
    /// Seconds to wait with --wait.
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
    #[command(flatten)]
    pub key: KeyArg,
    #[command(flatten)]
    pub endpoints: Endpoints,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The L2 transaction that withdrew.
    #[arg(long = "tx-hash", value_name = "L2_TX")]
    pub tx_hash: B256,
    #[command(flatten)]
    pub endpoints: Endpoints,
}

/// What is withdrawn by one message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Asset {
    Eth,
    Erc20 {
        token_l1: Address,
        token_l2: Address,
    },
}

/// One withdrawal of the transaction.
#[derive(Debug, Clone)]
struct Withdrawal {
    message_id: U256,
    asset: Asset,
    receiver: Address,
    amount: U256,
    /// Set once its batch is sealed.
    proof: Option<MessageProof>,
    /// Claimed on L1.
    claimed: bool,
}

#[derive(Debug, Clone)]
struct MessageProof {
    batch: u64,
    proof: Vec<B256>,
}

impl Withdrawal {
    /// The message data the L1 bridge recomputes: `keccak256(tokenL1 ‖ tokenL2 ‖ receiver ‖
    /// amount)`, with the ETH pseudo-address for both tokens of an ETH withdrawal.
    fn message_hash(&self) -> B256 {
        let (l1, l2) = match self.asset {
            Asset::Eth => (ETH, ETH),
            Asset::Erc20 { token_l1, token_l2 } => (token_l1, token_l2),
        };
        let mut packed = Vec::with_capacity(92);
        packed.extend_from_slice(l1.as_slice());
        packed.extend_from_slice(l2.as_slice());
        packed.extend_from_slice(self.receiver.as_slice());
        packed.extend_from_slice(&self.amount.to_be_bytes::<32>());
        keccak256(packed)
    }

    fn describe(&self) -> String {
        match &self.asset {
            Asset::Eth => format!("{} to {}", format_eth(self.amount), self.receiver),
            Asset::Erc20 { token_l1, token_l2 } => format!(
                "{} of token {token_l1} (L2 {token_l2}) to {}",
                self.amount, self.receiver
            ),
        }
    }
}

/// Where the transaction's withdrawals stand.
#[derive(Debug, Clone)]
enum Stage {
    /// Known to the node, not in a block.
    Pending,
    /// In a block, not yet in a sealed batch.
    InBlock(u64),
    /// In a batch with this status.
    InBatch {
        block: u64,
        batch: u64,
        status: String,
        commit_tx: Option<B256>,
        verify_tx: Option<B256>,
    },
}

struct Report {
    stage: Stage,
    withdrawals: Vec<Withdrawal>,
}

impl Report {
    fn verified(&self) -> bool {
        matches!(&self.stage, Stage::InBatch { status, .. } if status == "verified")
    }

    fn all_claimed(&self) -> bool {
        !self.withdrawals.is_empty() && self.withdrawals.iter().all(|w| w.claimed)
    }

    /// One line saying where the withdrawal is.
    fn summary(&self) -> String {
        if self.all_claimed() {
            return "claimed".into();
        }
        match &self.stage {
            Stage::Pending => "pending (not in a block yet)".into(),
            Stage::InBlock(block) => format!("in block {block} (its batch is not sealed yet)"),
            Stage::InBatch {
                block,
                batch,
                status,
                commit_tx,
                verify_tx,
            } => {
                let mut s = format!("in block {block}, batch {batch}: {status}");
                match (status.as_str(), commit_tx, verify_tx) {
                    ("verified", _, Some(tx)) => s.push_str(&format!(" (L1 tx {tx}); claimable")),
                    ("committed", Some(tx), _) => {
                        s.push_str(&format!(" (L1 tx {tx}); waiting for its proofs"))
                    }
                    ("sealed", _, _) => s.push_str("; waiting for its commit to L1"),
                    _ => {}
                }
                s
            }
        }
    }
}

fn quantity(value: &Value) -> Option<u64> {
    value
        .as_str()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
}

/// The withdrawals announced in an L2 receipt's logs (the L2 bridge's events).
fn withdrawals_in_logs(logs: &[Log]) -> Vec<Withdrawal> {
    let mut out = Vec::new();
    for log in logs {
        if log.address() != keel_types::rules::L2_BRIDGE_ADDRESS {
            continue;
        }
        if let Ok(e) = log.log_decode::<CommonBridgeL2::WithdrawalInitiated>() {
            let e = e.inner.data;
            out.push(Withdrawal {
                message_id: e.messageId,
                asset: Asset::Eth,
                receiver: e.receiverOnL1,
                amount: e.amount,
                proof: None,
                claimed: false,
            });
        } else if let Ok(e) = log.log_decode::<CommonBridgeL2::ERC20WithdrawalInitiated>() {
            let e = e.inner.data;
            out.push(Withdrawal {
                message_id: e.messageId,
                asset: Asset::Erc20 {
                    token_l1: e.tokenL1,
                    token_l2: e.tokenL2,
                },
                receiver: e.receiverOnL1,
                amount: e.amount,
                proof: None,
                claimed: false,
            });
        }
    }
    out
}

/// Reads where `tx_hash`'s withdrawals are, on L2 and (claims) on L1.
async fn report(
    l2: &DynProvider,
    l1: &DynProvider,
    bridge: Address,
    tx_hash: B256,
) -> eyre::Result<Report> {
    let receipt: Option<Value> = l2
        .raw_request("eth_getTransactionReceipt".into(), (tx_hash,))
        .await
        .wrap_err("asking L2 for the receipt")?;
    let Some(receipt) = receipt else {
        let tx: Option<Value> = l2
            .raw_request("eth_getTransactionByHash".into(), (tx_hash,))
            .await
            .wrap_err("asking L2 for the transaction")?;
        if tx.is_none() {
            bail!("the L2 node does not know transaction {tx_hash}");
        }
        return Ok(Report {
            stage: Stage::Pending,
            withdrawals: Vec::new(),
        });
    };
    let block = quantity(&receipt["blockNumber"])
        .ok_or_else(|| eyre!("the L2 receipt of {tx_hash} has no block number"))?;
    let logs: Vec<Log> = serde_json::from_value(receipt["logs"].clone())
        .wrap_err("the L2 receipt's logs don't decode")?;
    let mut withdrawals = withdrawals_in_logs(&logs);
    if withdrawals.is_empty() {
        bail!("L2 transaction {tx_hash} made no withdrawal (no WithdrawalInitiated event)");
    }
    let proofs: Value = l2
        .raw_request("keel_getWithdrawalProof".into(), (tx_hash,))
        .await
        .wrap_err("keel_getWithdrawalProof")?;
    let stage = match proofs.as_array() {
        None => Stage::InBlock(block),
        Some(entries) => {
            let mut batch_number = None;
            for entry in entries {
                let id: U256 = serde_json::from_value(entry["messageId"].clone())
                    .wrap_err("keel_getWithdrawalProof: messageId")?;
                let hash: B256 = serde_json::from_value(entry["messageHash"].clone())
                    .wrap_err("keel_getWithdrawalProof: messageHash")?;
                let batch = quantity(&entry["batchNumber"])
                    .ok_or_else(|| eyre!("keel_getWithdrawalProof: batchNumber"))?;
                let proof: Vec<B256> = serde_json::from_value(entry["proof"].clone())
                    .wrap_err("keel_getWithdrawalProof: proof")?;
                let Some(w) = withdrawals.iter_mut().find(|w| w.message_id == id) else {
                    // Another contract's message (not a bridge withdrawal): nothing to claim.
                    continue;
                };
                if w.message_hash() != hash {
                    bail!(
                        "message {id}: the node's message hash {hash} is not the one of the \
                         withdrawal event ({})",
                        w.message_hash()
                    );
                }
                w.proof = Some(MessageProof { batch, proof });
                batch_number = Some(batch);
            }
            if let Some(w) = withdrawals.iter().find(|w| w.proof.is_none()) {
                bail!(
                    "the node gives no proof for message {} of {tx_hash}",
                    w.message_id
                );
            }
            let batch = batch_number.ok_or_else(|| eyre!("no withdrawal proof"))?;
            let json: Value = l2
                .raw_request("keel_getBatchByNumber".into(), (format!("{batch:#x}"),))
                .await
                .wrap_err("keel_getBatchByNumber")?;
            let status = json["status"]
                .as_str()
                .ok_or_else(|| eyre!("keel_getBatchByNumber({batch}) has no status: {json}"))?
                .to_string();
            let tx = |field: &str| {
                serde_json::from_value::<Option<B256>>(json[field].clone())
                    .ok()
                    .flatten()
            };
            Stage::InBatch {
                block,
                batch,
                status,
                commit_tx: tx("commitTxHash"),
                verify_tx: tx("verifyTxHash"),
            }
        }
    };
    let l1_bridge = CommonBridge::new(bridge, l1);
    for w in &mut withdrawals {
        w.claimed = l1_bridge
            .claimedMessages(w.message_id)
            .call()
            .await
            .wrap_err("reading claimedMessages from the L1 bridge")?;
    }
    Ok(Report { stage, withdrawals })
}

fn print_report(tx_hash: B256, r: &Report) {
    println!("L2 tx:      {tx_hash}");
    for w in &r.withdrawals {
        let state = if w.claimed { "claimed" } else { "not claimed" };
        println!("message {}: {} ({state})", w.message_id, w.describe());
    }
    println!("status:     {}", r.summary());
}

/// `keel bridge status`.
pub async fn status(a: StatusArgs) -> eyre::Result<()> {
    let (l1_url, bridge) = resolve_l1(&a.endpoints).await?;
    let l1 = client(&l1_url, None)?;
    let l2 = client(&a.endpoints.urls.l2_rpc_url, None)?;
    let r = report(&l2, &l1, bridge, a.tx_hash).await?;
    print_report(a.tx_hash, &r);
    Ok(())
}

/// `keel bridge claim`.
pub async fn claim(a: ClaimArgs) -> eyre::Result<()> {
    let signer = signer(&a.key)?;
    let from = signer.address();
    let (l1_url, bridge) = resolve_l1(&a.endpoints).await?;
    let l1 = client(&l1_url, Some(&signer))?;
    let l2 = client(&a.endpoints.urls.l2_rpc_url, None)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(a.timeout);
    let mut last_summary = String::new();
    let r = loop {
        let r = report(&l2, &l1, bridge, a.tx_hash).await?;
        if r.verified() || r.all_claimed() {
            break r;
        }
        let summary = r.summary();
        if !a.wait {
            bail!(
                "not claimable yet: the withdrawal is {summary}. A claim needs its batch \
                 verified on L1; use --wait to wait for it"
            );
        }
        if summary != last_summary {
            println!("waiting: {summary}");
            last_summary = summary.clone();
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "the withdrawal's batch was not verified within {}s: it is {summary}",
                a.timeout
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let l1_bridge = CommonBridge::new(bridge, &l1);
    let mut claimed = 0;
    let mut refused = Vec::new();
    for w in &r.withdrawals {
        if w.claimed {
            println!(
                "message {}: already claimed on L1: not sending a claim (it would revert \
                 with AlreadyClaimed)",
                w.message_id
            );
            refused.push(w.message_id);
            continue;
        }
        let Some(p) = &w.proof else {
            bail!("message {} has no proof", w.message_id);
        };
        let batch = U256::from(p.batch);
        let proof = p.proof.clone();
        let pending = match (&w.asset, w.receiver == from) {
            (Asset::Eth, true) => {
                l1_bridge
                    .claimWithdrawal(w.amount, batch, w.message_id, proof)
                    .send()
                    .await
            }
            (Asset::Eth, false) => {
                l1_bridge
                    .claimWithdrawalFor(w.receiver, w.amount, batch, w.message_id, proof)
                    .send()
                    .await
            }
            (Asset::Erc20 { token_l1, token_l2 }, true) => {
                l1_bridge
                    .claimWithdrawalERC20(
                        *token_l1,
                        *token_l2,
                        w.amount,
                        batch,
                        w.message_id,
                        proof,
                    )
                    .send()
                    .await
            }
            (Asset::Erc20 { token_l1, token_l2 }, false) => {
                l1_bridge
                    .claimWithdrawalERC20For(
                        *token_l1,
                        *token_l2,
                        w.receiver,
                        w.amount,
                        batch,
                        w.message_id,
                        proof,
                    )
                    .send()
                    .await
            }
        };
        let receipt = pending
            .map_err(|e| {
                let reason = e
                    .as_revert_data()
                    .and_then(|data| keel_l1::sender::decode_keel_revert(&data));
                match reason {
                    Some(reason) => eyre!("the L1 bridge refuses the claim: {reason}"),
                    None => eyre!(e),
                }
            })
            .wrap_err_with(|| format!("sending the claim of message {}", w.message_id))?
            .get_receipt()
            .await
            .wrap_err("waiting for the L1 receipt")?;
        if !receipt.status() {
            bail!(
                "the claim of message {} reverted (L1 tx {})",
                w.message_id,
                receipt.transaction_hash
            );
        }
        println!("L1 tx:      {}", receipt.transaction_hash);
        println!("claimed message {}: {}", w.message_id, w.describe());
        claimed += 1;
    }
    if claimed == 0 {
        bail!(
            "nothing claimed: message(s) {} of {} were already claimed",
            refused
                .iter()
                .map(|id| id.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            a.tx_hash
        );
    }
    Ok(())
}
