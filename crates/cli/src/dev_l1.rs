//! The L1 of `keel l2 --dev`: an anvil started by the node (keel's pinned one, installed on
//! demand, or one on PATH: [`crate::l1_tools`]) with keel's contracts deployed by dev account 0, which is also the owner, a sequencer
//! and the prover signer. The committer sends from its own key
//! ([`keel_l1::dev_committer_signer`]), funded with 1,000 ETH by dev account 0 and registered as a
//! sequencer, so that developers using the dev accounts on L1 never take its nonces. Anvil is
//! stopped with the node.

use std::time::Duration;

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::U256,
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
};
use eyre::{WrapErr, eyre};
use keel_l1::{Anvil, AnvilConfig, DeployConfig, deploy};
use keel_types::{Genesis, dev};
use tracing::info;

use crate::l1_config::L1Settings;

/// A running dev L1: anvil (killed on drop), the deployment's directory and the settings.
pub struct DevL1 {
    /// Stopped when the node drops it.
    _anvil: Anvil,
    pub settings: L1Settings,
    /// Holds the deployment file; removed with the node.
    _dir: tempfile::TempDir,
}

/// Starts anvil and deploys the contracts for `genesis`.
pub async fn start(genesis: &Genesis) -> eyre::Result<DevL1> {
    // One L1 block a second, like a (fast) real L1: commits then get confirmations.
    let anvil_config = AnvilConfig {
        bin: Some(crate::l1_tools::dev_anvil().await?),
        block_time: Some(1),
        ..AnvilConfig::default()
    };
    let anvil = Anvil::spawn(&anvil_config).await.map_err(|e| {
        eyre!("{e}\n`keel l2 --dev` runs its own L1; or pass --eth.rpc-url and --l1.deployment")
    })?;
    let (deployer, key) = dev::DEV_ACCOUNTS[0];
    let committer = keel_l1::dev_committer_signer().address();
    let signer = PrivateKeySigner::from_bytes(&key).wrap_err("dev key")?;
    let url = anvil.url.parse().wrap_err("anvil url")?;
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url);
    let config = DeployConfig {
        owner: deployer,
        // Owner actions go through a timelock even in dev, with no delay.
        timelock_delay: Some(0),
        sequencers: vec![deployer, committer],
        verifier_signers: vec![deployer],
        verifier_threshold: 1,
        inclusion_max_wait: 3600,
        max_privileged_gas_limit: 10_000_000,
        validium: false,
        receipt_timeout: Duration::from_secs(30),
        ..DeployConfig::for_genesis(genesis, deployer).wrap_err("deploy config")?
    };
    let dir = tempfile::tempdir().wrap_err("a directory for the dev deployment file")?;
    let file = dir.path().join("deployment.json");
    let outcome = deploy(&provider, deployer, &config, &file)
        .await
        .wrap_err("deploying the contracts on the dev L1")?;
    let funding = TransactionRequest::default()
        .with_from(deployer)
        .with_to(committer)
        .with_value(U256::from(1_000u64) * U256::from(10u64).pow(U256::from(18u64)));
    provider
        .send_transaction(funding)
        .await
        .wrap_err("funding the dev committer")?
        .with_timeout(Some(Duration::from_secs(30)))
        .get_receipt()
        .await
        .wrap_err("funding the dev committer")?;
    let c = outcome.deployment.contracts;
    info!(url = %anvil.url, bridge = %c.common_bridge.proxy, proposer = %c.on_chain_proposer.proxy, "dev L1 ready");
    let settings = L1Settings {
        eth_rpc_url: vec![anvil.url.clone()],
        bridge: c.common_bridge.proxy,
        on_chain_proposer: c.on_chain_proposer.proxy,
        deploy_block: outcome.deployment.deploy_block,
        l1_chain_id: Some(outcome.deployment.l1_chain_id),
    };
    Ok(DevL1 {
        _anvil: anvil,
        settings,
        _dir: dir,
    })
}
