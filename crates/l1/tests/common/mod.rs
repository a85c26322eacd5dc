//! Shared setup of the L1 contract tests: a real anvil (Prague) started per test, the contracts
//! deployed with `keel_l1::deploy`, and a client whose wallet holds the ten dev keys.
//!
//! Roles (dev account index): 0 owner and deployer, 1 sequencer, 2..=4 prover signers
//! (threshold 2), 5..=9 users.

#![allow(dead_code)]

use std::time::Duration;

use alloy::{
    eips::eip4844::builder::{SidecarBuilder, SimpleCoder},
    network::{TransactionBuilder, TransactionBuilder4844},
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
    sol_types::{SolCall, SolError},
};
use keel_l1::{
    Anvil, AnvilConfig, DeployConfig, Deployment,
    contracts::{
        AttestationVerifier::AttestationVerifierInstance, CommonBridge::CommonBridgeInstance,
        OnChainProposer, OnChainProposer::OnChainProposerInstance,
    },
    deploy,
};
use keel_types::{PublicInputs, dev};

pub const OWNER: usize = 0;
pub const SEQUENCER: usize = 1;
pub const SIGNERS: [usize; 3] = [2, 3, 4];
pub const THRESHOLD: u64 = 2;
pub const USER: usize = 5;
pub const INCLUSION_MAX_WAIT: u64 = 3600;
pub const MAX_PRIVILEGED_GAS: u64 = 10_000_000;

pub fn addr(i: usize) -> Address {
    dev::DEV_ACCOUNTS[i].0
}

pub fn signer(i: usize) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&dev::DEV_ACCOUNTS[i].1).expect("dev key")
}

pub fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// The configuration the tests deploy with.
pub fn test_config() -> DeployConfig {
    DeployConfig {
        owner: addr(OWNER),
        sequencers: vec![addr(SEQUENCER)],
        verifier_signers: SIGNERS.iter().map(|&i| addr(i)).collect(),
        verifier_threshold: THRESHOLD,
        inclusion_max_wait: INCLUSION_MAX_WAIT,
        max_privileged_gas_limit: MAX_PRIVILEGED_GAS,
        validium: false,
        receipt_timeout: Duration::from_secs(30),
        ..DeployConfig::for_genesis(&dev::dev_genesis(), addr(OWNER)).expect("deploy config")
    }
}

/// A running anvil with the contracts deployed.
pub struct L1 {
    pub anvil: Anvil,
    pub provider: DynProvider,
    pub deployment: Deployment,
    pub dir: tempfile::TempDir,
}

/// A client of `url` that signs with any of the ten dev keys (chosen by the tx's `from`).
pub fn wallet_provider(url: &str) -> DynProvider {
    keel_l1::dev_wallet_provider(url.parse().expect("url"))
}

impl L1 {
    /// Anvil plus the contracts deployed with [`test_config`].
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Anvil plus the contracts deployed with [`test_config`] changed by `change`.
    pub async fn start_with(change: impl FnOnce(&mut DeployConfig)) -> Self {
        let anvil = Anvil::spawn(&AnvilConfig::default())
            .await
            .expect("anvil starts");
        let provider = wallet_provider(&anvil.url);
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = test_config();
        change(&mut config);
        let outcome = deploy(
            &provider,
            addr(OWNER),
            &config,
            &dir.path().join("deployment.json"),
        )
        .await
        .expect("deploys");
        Self {
            anvil,
            provider,
            deployment: outcome.deployment,
            dir,
        }
    }

    pub fn bridge(&self) -> CommonBridgeInstance<&DynProvider> {
        CommonBridgeInstance::new(
            self.deployment.contracts.common_bridge.proxy,
            &self.provider,
        )
    }

    pub fn proposer(&self) -> OnChainProposerInstance<&DynProvider> {
        OnChainProposerInstance::new(
            self.deployment.contracts.on_chain_proposer.proxy,
            &self.provider,
        )
    }

    pub fn verifier(&self) -> AttestationVerifierInstance<&DynProvider> {
        AttestationVerifierInstance::new(
            self.deployment.contracts.attestation_verifier.proxy,
            &self.provider,
        )
    }

    /// Moves anvil's clock forward and mines a block.
    pub async fn increase_time(&self, secs: u64) {
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_increaseTime".into(), (secs,))
            .await
            .expect("evm_increaseTime");
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_mine".into(), ())
            .await
            .expect("evm_mine");
    }

    /// Sends `tx` and returns its receipt, or the error (a revert at estimation or execution).
    pub async fn send(&self, tx: TransactionRequest) -> Result<TransactionReceipt, String> {
        let pending = self
            .provider
            .send_transaction(tx)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let receipt = pending
            .with_timeout(Some(Duration::from_secs(60)))
            .get_receipt()
            .await
            .map_err(|e| format!("{e:?}"))?;
        if receipt.status() {
            Ok(receipt)
        } else {
            Err(format!("reverted: {:?}", receipt.transaction_hash))
        }
    }

    /// `commitBatch` from `from` as an EIP-4844 transaction carrying one blob (`blob` = its
    /// payload), or as a plain transaction if `blob` is `None`.
    pub async fn commit(
        &self,
        from: usize,
        batch: &Batch,
        blob: Option<&[u8]>,
    ) -> Result<TransactionReceipt, String> {
        let call = OnChainProposer::commitBatchCall {
            batchNumber: U256::from(batch.number),
            newStateRoot: batch.new_state_root,
            withdrawalsRoot: batch.withdrawals_root,
            privilegedRollingHash: batch.privileged_rolling_hash,
            lastBlockHash: batch.last_block_hash,
            nonPrivilegedTxCount: U256::from(batch.non_privileged_tx_count),
            lastBlockTimestamp: batch.last_block_timestamp,
        };
        let mut tx = TransactionRequest::default()
            .with_from(addr(from))
            .with_to(self.deployment.contracts.on_chain_proposer.proxy)
            .with_input(Bytes::from(call.abi_encode()));
        if let Some(payload) = blob {
            let sidecar = SidecarBuilder::<SimpleCoder>::from_slice(payload)
                .build_4844()
                .expect("blob sidecar");
            tx = tx.with_blob_sidecar_4844(sidecar);
        }
        self.send(tx).await
    }

    /// Batch 0 as the previous batch of batch 1: (genesis state root, genesis block hash).
    pub fn genesis(&self) -> (B256, B256) {
        (
            self.deployment.genesis_state_root,
            self.deployment.genesis_block_hash,
        )
    }

    /// The concatenated 65-byte signatures of dev accounts `signers` over the attestation digest
    /// of `public_inputs` for this deployment's OnChainProposer on anvil.
    pub fn attest(&self, public_inputs: &PublicInputs, signers: &[usize]) -> Bytes {
        attest_for(
            public_inputs,
            self.deployment.l1_chain_id,
            self.deployment.contracts.on_chain_proposer.proxy,
            signers,
        )
    }

    /// The public inputs of committed batch `number` as the contract builds them.
    pub async fn public_inputs_on_l1(&self, number: u64) -> Bytes {
        self.proposer()
            .publicInputs(U256::from(number))
            .call()
            .await
            .expect("publicInputs")
    }

    /// `verifyBatches(first, proofs)` from a user account.
    pub async fn verify(
        &self,
        first: u64,
        proofs: Vec<Vec<Bytes>>,
    ) -> Result<TransactionReceipt, String> {
        let call = OnChainProposer::verifyBatchesCall {
            firstBatch: U256::from(first),
            proofs,
        };
        let tx = TransactionRequest::default()
            .with_from(addr(USER))
            .with_to(self.deployment.contracts.on_chain_proposer.proxy)
            .with_input(Bytes::from(call.abi_encode()));
        self.send(tx).await
    }

    pub async fn balance(&self, who: Address) -> U256 {
        self.provider.get_balance(who).await.expect("balance")
    }
}

/// The fields of a `commitBatch`.
#[derive(Debug, Clone)]
pub struct Batch {
    pub number: u64,
    pub new_state_root: B256,
    pub withdrawals_root: B256,
    pub privileged_rolling_hash: B256,
    pub last_block_hash: B256,
    pub non_privileged_tx_count: u64,
    pub last_block_timestamp: u64,
}

impl Batch {
    /// A batch with arbitrary but distinct roots and no privileged txs or withdrawals.
    pub fn simple(number: u64) -> Self {
        Self {
            number,
            new_state_root: B256::repeat_byte(0x10 + number as u8),
            withdrawals_root: B256::ZERO,
            privileged_rolling_hash: B256::ZERO,
            last_block_hash: B256::repeat_byte(0x80 + number as u8),
            non_privileged_tx_count: 3,
            // Any past time works (not after L1's clock, not before the previous batch's).
            last_block_timestamp: number,
        }
    }

    /// This batch as the previous one of the next: (state root, last block hash).
    pub fn as_previous(&self) -> (B256, B256) {
        (self.new_state_root, self.last_block_hash)
    }

    /// Its public inputs, built in Rust.
    pub fn public_inputs(&self, previous: (B256, B256), blob_versioned_hash: B256) -> PublicInputs {
        let (initial_state_root, previous_last_block_hash) = previous;
        PublicInputs {
            initial_state_root,
            final_state_root: self.new_state_root,
            withdrawals_root: self.withdrawals_root,
            privileged_rolling_hash: self.privileged_rolling_hash,
            blob_versioned_hash,
            last_block_hash: self.last_block_hash,
            chain_id: dev::DEFAULT_L2_CHAIN_ID,
            non_privileged_tx_count: self.non_privileged_tx_count,
            previous_last_block_hash,
            batch_number: self.number,
            last_block_timestamp: self.last_block_timestamp,
        }
    }
}

/// A call of `to` with `input` from dev account `from` (for [`L1::send`]).
pub fn call(from: usize, to: Address, input: impl Into<Bytes>) -> TransactionRequest {
    TransactionRequest::default()
        .with_from(addr(from))
        .with_to(to)
        .with_input(input.into())
}

/// The concatenated 65-byte signatures of dev accounts `signers` over the attestation digest of
/// `public_inputs` for `proposer` on L1 chain `l1_chain_id`.
pub fn attest_for(
    public_inputs: &PublicInputs,
    l1_chain_id: u64,
    proposer: Address,
    signers: &[usize],
) -> Bytes {
    let keys: Vec<PrivateKeySigner> = signers.iter().map(|&i| signer(i)).collect();
    let refs: Vec<&PrivateKeySigner> = keys.iter().collect();
    keel_l1::attest(public_inputs, l1_chain_id, proposer, &refs).expect("sign")
}

/// Asserts that `result` failed with the custom error `E` (its selector is in the revert data).
#[track_caller]
pub fn assert_reverts_with<E: SolError, T: std::fmt::Debug>(result: Result<T, String>) {
    let err = result.expect_err(&format!("expected a revert with {}", E::SIGNATURE));
    let selector = alloy::hex::encode(E::SELECTOR);
    assert!(
        err.contains(&selector),
        "expected {} (0x{selector}), got: {err}",
        E::SIGNATURE
    );
}

/// The versioned hash of the blob that [`L1::commit`] sends for `payload`.
pub fn blob_versioned_hash(payload: &[u8]) -> B256 {
    let sidecar = SidecarBuilder::<SimpleCoder>::from_slice(payload)
        .build_4844()
        .expect("blob sidecar");
    sidecar.versioned_hash_for_blob(0).expect("one blob")
}
