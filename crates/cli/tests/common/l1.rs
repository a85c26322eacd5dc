//! An L1 for end-to-end tests that must outlive the node (restarts, crashes, reconstruct): anvil
//! started by the test with keel's contracts deployed for the dev genesis, a client signing with
//! every dev key, and the genesis and deployment files the node reads.

use std::{path::Path, time::Duration};

use alloy::{
    primitives::Address,
    providers::{DynProvider, Provider},
};
use keel_l1::{
    Anvil, AnvilConfig, DeployConfig, Deployment,
    contracts::{CommonBridge::CommonBridgeInstance, OnChainProposer},
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
        let genesis_path = dir.join("genesis.json");
        std::fs::write(
            &genesis_path,
            serde_json::to_string_pretty(&dev::dev_genesis()).expect("genesis json"),
        )
        .expect("write the genesis");
        Self::deploy(&genesis_path, block_time, validium, signers, threshold).await
    }

    /// [`TestL1::start`] (no validium) for the L2 genesis in `genesis_file` (e.g. written by
    /// `keel l2 genesis`) instead of the dev genesis; `genesis_file` is what `keel l2 --network`
    /// and `reconstruct` then read. Its files go next to `genesis_file`.
    pub async fn start_with_genesis_file(genesis_file: &Path, block_time: Option<u64>) -> Self {
        Self::deploy(genesis_file, block_time, false, &[0], 1).await
    }

    /// Starts anvil and deploys for the genesis at `genesis_path`; the deployment file goes in
    /// the same directory.
    async fn deploy(
        genesis_path: &Path,
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
        let genesis: keel_types::Genesis =
            serde_json::from_str(&std::fs::read_to_string(genesis_path).expect("read the genesis"))
                .expect("a genesis file");
        let dir = genesis_path.parent().expect("the genesis file's directory");
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

/// The OnChainProposer's `lastCommittedBatch`.
pub async fn l1_last_committed(l1: &TestL1) -> u64 {
    OnChainProposer::new(l1.proposer(), &l1.provider)
        .lastCommittedBatch()
        .call()
        .await
        .expect("lastCommittedBatch")
        .to()
}

/// The OnChainProposer's `lastVerifiedBatch`.
pub async fn l1_last_verified(l1: &TestL1) -> u64 {
    OnChainProposer::new(l1.proposer(), &l1.provider)
        .lastVerifiedBatch()
        .call()
        .await
        .expect("lastVerifiedBatch")
        .to()
}
