//! The `keel l2` settings of the L1ProofSender (`verifyBatches` to L1) and how the node starts it.
//!
//! **Which L1 account sends `verifyBatches`.** By default the committer's: the proof sender shares
//! the committer's L1 sender, so commits and verifications take nonces from one sequence and one
//! journal, and nothing can race for a nonce. `--proof-coordinator.l1-private-key` (the flag's
//! name in the peer stack, ethrex) gives it an account of its own instead (its own nonce sequence,
//! the same journal in the store, the committer's fee caps and confirmations): useful when the
//! sequencer's key should only commit. `verifyBatches` is permissionless, so any funded account
//! will do. Without either key (and not --dev), batches are not verified.

use std::{sync::Arc, time::Duration};

use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::{Address, B256};
use clap::Args;
use eyre::WrapErr;
use keel_l1::{
    L1Client, L1ClientConfig,
    sender::{L1Sender, L1SenderConfig},
};
use keel_sequencer::{
    L1ProofSender, L1ProofSenderConfig, StoreJournal, Supervisor,
    l1_proof_sender::DEFAULT_MAX_BATCHES_PER_VERIFY,
};
use keel_storage::Store;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::l1_config::L1Settings;

/// How proven batches are verified on L1.
#[derive(Debug, Args)]
#[command(next_help_heading = "Proof sender (verifyBatches to L1)")]
pub struct ProofSenderArgs {
    /// Most batches verified by one `verifyBatches` transaction: the sender sends the longest run
    /// of consecutive committed batches that each have enough valid attestations, up to this.
    #[arg(
        long = "proof-sender.max-batches",
        env = "KEEL_PROOF_SENDER_MAX_BATCHES",
        default_value_t = DEFAULT_MAX_BATCHES_PER_VERIFY,
        value_name = "BATCHES"
    )]
    pub max_batches: u64,
    /// Milliseconds between looks for newly proven batches (and for batches L1 verified
    /// otherwise). Default 1000 (250 with --dev).
    #[arg(
        long = "proof-sender.poll-interval",
        env = "KEEL_PROOF_SENDER_POLL_INTERVAL",
        value_name = "MS"
    )]
    pub poll_interval_ms: Option<u64>,
    /// Private key (hex) of the L1 account that sends `verifyBatches`. Default: the committer's
    /// account (--committer.l1-private-key, one nonce sequence for commits and verifications).
    /// Without either key no batch is verified.
    #[arg(
        long = "proof-coordinator.l1-private-key",
        env = "KEEL_PROOF_COORDINATOR_L1_PRIVATE_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub verifier_l1_private_key: Option<B256>,
}

/// Starts the proof sender under `supervisor` (as `l1_proof_sender`), sending through
/// `committer_sender` unless --proof-coordinator.l1-private-key names another account, for
/// which a sender with `sender_config` is made. Returns the sending account, or `None` when no
/// key is available (then it only warns).
#[allow(clippy::too_many_arguments)]
pub fn spawn(
    args: &ProofSenderArgs,
    dev: bool,
    l1: &L1Settings,
    store: &Store,
    committer_sender: Option<Arc<L1Sender>>,
    sender_config: L1SenderConfig,
    supervisor: &mut Supervisor,
    token: CancellationToken,
) -> eyre::Result<Option<Address>> {
    let client =
        L1Client::new(L1ClientConfig::new(l1.eth_rpc_url.clone())).wrap_err("--eth.rpc-url")?;
    let sender = match (args.verifier_l1_private_key, committer_sender) {
        (Some(key), committer) => {
            let signer = PrivateKeySigner::from_bytes(&key)
                .wrap_err("--proof-coordinator.l1-private-key")?;
            match committer.filter(|c| c.address() == signer.address()) {
                Some(shared) => shared,
                None => Arc::new(L1Sender::new(
                    client.clone(),
                    signer,
                    L1SenderConfig {
                        metrics_label: "proof_sender",
                        ..sender_config
                    },
                    Arc::new(StoreJournal::new(store.clone())),
                )),
            }
        }
        (None, Some(committer)) => committer,
        (None, None) => {
            warn!(
                "no --proof-coordinator.l1-private-key nor --committer.l1-private-key: proven \
                 batches are not verified on L1"
            );
            return Ok(None);
        }
    };
    let address = sender.address();
    let poll_interval =
        Duration::from_millis(
            args.poll_interval_ms
                .unwrap_or(if dev { 250 } else { 1_000 }),
        );
    let proof_sender = L1ProofSender::new(
        L1ProofSenderConfig {
            on_chain_proposer: l1.on_chain_proposer,
            deploy_block: l1.deploy_block.unwrap_or(0),
            max_batches: args.max_batches.max(1),
            poll_interval: poll_interval.max(Duration::from_millis(1)),
        },
        store.clone(),
        client,
        sender,
    );
    supervisor.spawn("l1_proof_sender", proof_sender.run(token));
    Ok(Some(address))
}
