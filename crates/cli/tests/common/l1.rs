//! An L1 for end-to-end tests that must outlive the node (restarts, crashes, reconstruct): anvil
//! started by the test with keel's contracts deployed for the dev genesis, a client signing with
//! every dev key, and the genesis and deployment files the node reads.

use std::{path::Path, time::Duration};

use alloy::{
    primitives::Address,
    providers::{DynProvider, Provider},
};
use keel_l1::{
    Anvil, AnvilConfig, DeployConfig, Deployment, contracts::CommonBridge::CommonBridgeInstance,
    deploy,
};
use keel_types::dev;
use serde_json::Value;

/// Anvil with keel's contracts, and the files for `keel l2`.
pub struct TestL1 {
    pub anvil: Anvil,
    pub provider: DynProvider,
    pub deployment: Deployment,
    pub deployment_file: String,
    pub genesis_file: String,
}

impl TestL1 {
    /// Starts anvil (`block_time` seconds per block, or automine) and deploys with dev account
    /// 0 as owner, sequencer and prover signer.
    pub async fn start(dir: &Path, block_time: Option<u64>, validium: bool) -> Self {
        Self::start_with_verifier(dir, block_time, validium, &[0], 1).await
    }

    /// [`TestL1::start`] with the AttestationVerifier's signers (dev account indices) and
    /// threshold given.
    pub async fn start_with_verifier(
        dir: &Path,
        block_time: Option<u64>,
        validium: bool,
        signers: &[usize],
        threshold: u64,
    ) -> Self {
        let anvil = Anvil::spawn(&AnvilConfig {
            block_time,
            ..AnvilConfig::default()
        })
        .await
        .expect("anvil starts");
        let provider = keel_l1::dev_wallet_provider(anvil.url.parse().expect("url"));
        let genesis = dev::dev_genesis();
        let genesis_path = dir.join("genesis.json");
        std::fs::write(
            &genesis_path,
            serde_json::to_string_pretty(&genesis).expect("genesis json"),
        )
        .expect("write the genesis");
        let owner = dev::DEV_ACCOUNTS[0].0;
        let config = DeployConfig {
            owner,
            sequencers: vec![owner],
            verifier_signers: signers.iter().map(|i| dev::DEV_ACCOUNTS[*i].0).collect(),
            verifier_threshold: threshold,
            inclusion_max_wait: 3600,
            max_privileged_gas_limit: 10_000_000,
            validium,
            receipt_timeout: Duration::from_secs(30),
            ..DeployConfig::for_genesis(&genesis, owner).expect("deploy config")
        };
        let deployment_path = dir.join("deployment.json");
        let outcome = deploy(&provider, owner, &config, &deployment_path)
            .await
            .expect("the contracts deploy");
        Self {
            anvil,
            provider,
            deployment: outcome.deployment,
            deployment_file: deployment_path.to_str().expect("utf-8").to_string(),
            genesis_file: genesis_path.to_str().expect("utf-8").to_string(),
        }
    }

    pub fn bridge(&self) -> CommonBridgeInstance<&DynProvider> {
        CommonBridgeInstance::new(
            self.deployment.contracts.common_bridge.proxy,
            &self.provider,
        )
    }

    pub fn proposer(&self) -> Address {
        self.deployment.contracts.on_chain_proposer.proxy
    }

    /// Runs `keel l2 reconstruct` from this L1 into `datadir` (plus `extra` arguments).
    pub fn reconstruct(&self, datadir: &Path, extra: &[&str]) -> std::process::Output {
        let mut args = vec![
            "l2",
            "reconstruct",
            "--eth.rpc-url",
            &self.anvil.url,
            "--l1.deployment",
            &self.deployment_file,
            "--network",
            &self.genesis_file,
            "--datadir",
            datadir.to_str().expect("utf-8"),
        ];
        args.extend_from_slice(extra);
        super::keel(&args)
    }

    pub async fn rpc(&self, method: &'static str, params: Value) -> Value {
        self.provider
            .raw_request(method.into(), params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }
}
