//! The deployer behind `keel l2 deploy`: implementations and ERC-1967 proxies of
//! AttestationVerifier, CommonBridge and OnChainProposer, initialized in the proxies' constructors,
//! and the deployment file that `keel l2` reads.
//!
//! With a timelock (what `keel l2 deploy` always does), a seventh step deploys `KeelTimelock`
//! (OpenZeppelin's `TimelockController`), which then owns the three contracts; the configured
//! owner becomes its proposer and executor.
//!
//! The deployments are planned up front: they are the deployer's next six (or seven) transactions,
//! so each contract's address is `CREATE(deployer, firstNonce + i)` and is known before anything is
//! sent. That lets the bridge and the OnChainProposer be initialized with each other's address, and
//! makes a re-run safe: the plan is written to the file before the first transaction, a step whose
//! address already holds code is skipped, and a step is only sent with exactly its planned nonce —
//! so an interrupted deploy resumes without sending anything twice. The three implementations are
//! sent together, then the three proxies: two L1 blocks rather than six.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
    sol_types::{SolCall, SolConstructor},
};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::contracts::{
    AttestationVerifier, CommonBridge, KeelProxy, KeelTimelock, OnChainProposer,
};

/// The least inclusion max wait the bridge accepts (`CommonBridge.MIN_INCLUSION_MAX_WAIT`).
pub const MIN_INCLUSION_MAX_WAIT: u64 = 30 * 60;

/// The least privileged gas cap the bridge accepts (`CommonBridge.MIN_PRIVILEGED_GAS_LIMIT`).
pub const MIN_PRIVILEGED_GAS_LIMIT: u64 = 300_000;

/// The ERC-1967 implementation slot: `keccak256("eip1967.proxy.implementation") - 1`.
pub const IMPLEMENTATION_SLOT: B256 =
    alloy::primitives::b256!("0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc");

/// What to deploy: the parameters the contracts are initialized with.
#[derive(Debug, Clone)]
pub struct DeployConfig {
    /// Who governs the three contracts: with a timelock, its proposer and executor; without, their
    /// owner.
    pub owner: Address,
    /// The timelock's delay in seconds; `None` deploys no timelock and makes `owner` the owner of
    /// the contracts (library use, e.g. contract tests; `keel l2 deploy` always deploys one).
    pub timelock_delay: Option<u64>,
    /// May pause the three contracts, nothing else (zero: nobody besides the owner).
    pub security_council: Address,
    /// Seconds a pause may block withdrawal claims.
    pub max_pause: u64,
    /// The L2 block gas limit (the bridge caps privileged gas limits at it).
    pub l2_block_gas_limit: u64,
    /// Hash of the L2 genesis block (batch 0's last block).
    pub genesis_block_hash: B256,
    /// Addresses allowed to commit batches.
    pub sequencers: Vec<Address>,
    /// Prover signers registered in the AttestationVerifier.
    pub verifier_signers: Vec<Address>,
    /// How many of them must sign a batch.
    pub verifier_threshold: u64,
    /// Seconds a privileged tx may stay pending before batches must include it.
    pub inclusion_max_wait: u64,
    /// Cap on a privileged tx's L2 gas limit.
    pub max_privileged_gas_limit: u64,
    /// Validium: commits carry no blob.
    pub validium: bool,
    /// State root of the L2 genesis (batch 0).
    pub genesis_state_root: B256,
    /// The L2 chain id.
    pub l2_chain_id: u64,
    /// How long to wait for each receipt.
    pub receipt_timeout: Duration,
}

/// A proxy and the implementation behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyAddresses {
    /// The ERC-1967 proxy: the address to use.
    pub proxy: Address,
    /// The implementation it delegates to.
    pub implementation: Address,
}

/// The deployed contracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployedContracts {
    /// CommonBridge.
    pub common_bridge: ProxyAddresses,
    /// OnChainProposer.
    pub on_chain_proposer: ProxyAddresses,
    /// AttestationVerifier.
    pub attestation_verifier: ProxyAddresses,
}

/// The deployment file: where the contracts are and what they were initialized with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// Chain id of the L1 deployed to.
    pub l1_chain_id: u64,
    /// The L2 chain id.
    pub l2_chain_id: u64,
    /// The account that sent the deployments.
    pub deployer: Address,
    /// Its nonce for the first deployment; step `i` uses `firstNonce + i`.
    pub first_nonce: u64,
    /// The governor: the timelock's proposer and executor, or the contracts' owner if there is no
    /// timelock.
    pub owner: Address,
    /// The timelock that owns the contracts, if any.
    #[serde(default)]
    pub timelock: Option<Address>,
    /// Its delay in seconds.
    #[serde(default)]
    pub timelock_delay: Option<u64>,
    /// The security council (may pause; zero for none).
    pub security_council: Address,
    /// Seconds a pause may block claims.
    pub max_pause: u64,
    /// The L2 block gas limit the bridge was initialized with.
    pub l2_block_gas_limit: u64,
    /// L2 genesis state root given to the OnChainProposer.
    pub genesis_state_root: B256,
    /// L2 genesis block hash given to the OnChainProposer.
    pub genesis_block_hash: B256,
    /// Validium mode.
    pub validium: bool,
    /// Sequencers allowed to commit.
    pub sequencers: Vec<Address>,
    /// Registered prover signers.
    pub verifier_signers: Vec<Address>,
    /// Signatures needed per batch.
    pub verifier_threshold: u64,
    /// Inclusion deadline of privileged txs, in seconds.
    pub inclusion_max_wait: u64,
    /// Cap on a privileged tx's L2 gas.
    pub max_privileged_gas_limit: u64,
    /// The contracts.
    pub contracts: DeployedContracts,
    /// L1 block of the first deployment (where an L1 watcher can start scanning).
    pub deploy_block: Option<u64>,
    /// True once every step landed and the links were checked.
    pub complete: bool,
}

/// Why a deployment failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The L1 RPC failed.
    #[error("L1 RPC: {0}")]
    Rpc(String),
    /// Reading or writing the deployment file failed.
    #[error("deployment file {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The existing file is for another chain, deployer or configuration.
    #[error(
        "deployment file {path} was made for {field} {recorded}, not {given}; \
         use another --out file to deploy anew"
    )]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// The field that differs.
        field: &'static str,
        /// What the file says.
        recorded: String,
        /// What was asked for now.
        given: String,
    },
    /// The deployer's nonce no longer matches the plan, so a missing step can't land at its
    /// planned address.
    #[error(
        "step {step} ({name}) was planned for nonce {planned} but the deployer's nonce is {actual}: \
         another transaction used it; use another --out file to deploy anew"
    )]
    NonceMoved {
        /// Step index.
        step: usize,
        /// Step name.
        name: &'static str,
        /// The planned nonce.
        planned: u64,
        /// The deployer's current nonce.
        actual: u64,
    },
    /// A deployment transaction reverted or created nothing at the planned address.
    #[error("step {step} ({name}) failed: {message}")]
    StepFailed {
        /// Step index.
        step: usize,
        /// Step name.
        name: &'static str,
        /// What happened.
        message: String,
    },
    /// After deployment the contracts don't point at each other as planned.
    #[error("post-deploy check failed: {0}")]
    Check(String),
    /// Invalid parameters.
    #[error("invalid deploy configuration: {0}")]
    Config(String),
}

fn rpc_err(e: impl std::fmt::Display) -> DeployError {
    DeployError::Rpc(e.to_string())
}

/// What a deploy run did.
#[derive(Debug, Clone)]
pub struct DeployOutcome {
    /// The deployment (complete).
    pub deployment: Deployment,
    /// Steps sent in this run: name, address, transaction hash.
    pub sent: Vec<(&'static str, Address, B256)>,
    /// Steps found already deployed: name, address.
    pub existing: Vec<(&'static str, Address)>,
}

/// The names of the steps, in nonce order (the last only with a timelock).
pub const STEP_NAMES: [&str; 7] = [
    "AttestationVerifier implementation",
    "CommonBridge implementation",
    "OnChainProposer implementation",
    "AttestationVerifier proxy",
    "CommonBridge proxy",
    "OnChainProposer proxy",
    "KeelTimelock",
];

impl Deployment {
    /// Reads a deployment file.
    pub fn load(path: &Path) -> Result<Self, DeployError> {
        let text = std::fs::read_to_string(path).map_err(|e| DeployError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        serde_json::from_str(&text).map_err(|e| DeployError::File {
            path: path.to_path_buf(),
            message: format!("not a keel deployment file: {e}"),
        })
    }

    /// Writes the file atomically (a temporary file renamed over it).
    pub fn save(&self, path: &Path) -> Result<(), DeployError> {
        let file_err = |e: std::io::Error| DeployError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let json = serde_json::to_string_pretty(self).map_err(|e| DeployError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json + "\n").map_err(file_err)?;
        std::fs::rename(&tmp, path).map_err(file_err)
    }

    /// The planned address of each step.
    pub fn step_addresses(&self) -> Vec<Address> {
        let c = &self.contracts;
        let mut steps = vec![
            c.attestation_verifier.implementation,
            c.common_bridge.implementation,
            c.on_chain_proposer.implementation,
            c.attestation_verifier.proxy,
            c.common_bridge.proxy,
            c.on_chain_proposer.proxy,
        ];
        steps.extend(self.timelock);
        steps
    }

    /// The owner of the three contracts: the timelock if there is one, else the governor.
    pub fn contracts_owner(&self) -> Address {
        self.timelock.unwrap_or(self.owner)
    }

    /// The plan for `config` sent by `deployer` from `first_nonce`.
    fn plan(config: &DeployConfig, l1_chain_id: u64, deployer: Address, first_nonce: u64) -> Self {
        let at = |i: u64| deployer.create(first_nonce + i);
        Self {
            l1_chain_id,
            l2_chain_id: config.l2_chain_id,
            deployer,
            first_nonce,
            owner: config.owner,
            timelock: config.timelock_delay.map(|_| at(6)),
            timelock_delay: config.timelock_delay,
            security_council: config.security_council,
            max_pause: config.max_pause,
            l2_block_gas_limit: config.l2_block_gas_limit,
            genesis_state_root: config.genesis_state_root,
            genesis_block_hash: config.genesis_block_hash,
            validium: config.validium,
            sequencers: config.sequencers.clone(),
            verifier_signers: config.verifier_signers.clone(),
            verifier_threshold: config.verifier_threshold,
            inclusion_max_wait: config.inclusion_max_wait,
            max_privileged_gas_limit: config.max_privileged_gas_limit,
            contracts: DeployedContracts {
                attestation_verifier: ProxyAddresses {
                    implementation: at(0),
                    proxy: at(3),
                },
                common_bridge: ProxyAddresses {
                    implementation: at(1),
                    proxy: at(4),
                },
                on_chain_proposer: ProxyAddresses {
                    implementation: at(2),
                    proxy: at(5),
                },
            },
            deploy_block: None,
            complete: false,
        }
    }

    /// The creation code of step `i` (bytecode and constructor arguments).
    fn creation_code(&self, step: usize) -> Bytes {
        let c = &self.contracts;
        let proxy = |implementation: Address, init: Vec<u8>| -> Bytes {
            let args = KeelProxy::constructorCall {
                implementation,
                data: init.into(),
            }
            .abi_encode();
            [KeelProxy::BYTECODE.as_ref(), &args].concat().into()
        };
        let owner = self.contracts_owner();
        match step {
            0 => AttestationVerifier::BYTECODE.clone(),
            1 => CommonBridge::BYTECODE.clone(),
            2 => OnChainProposer::BYTECODE.clone(),
            3 => proxy(
                c.attestation_verifier.implementation,
                AttestationVerifier::initializeCall {
                    owner_: owner,
                    securityCouncil_: self.security_council,
                    signers: self.verifier_signers.clone(),
                    threshold_: U256::from(self.verifier_threshold),
                }
                .abi_encode(),
            ),
            4 => proxy(
                c.common_bridge.implementation,
                CommonBridge::initializeCall {
                    owner_: owner,
                    securityCouncil_: self.security_council,
                    onChainProposer_: c.on_chain_proposer.proxy,
                    l2ChainId_: U256::from(self.l2_chain_id),
                    inclusionMaxWait_: U256::from(self.inclusion_max_wait),
                    maxPrivilegedGasLimit_: U256::from(self.max_privileged_gas_limit),
                    l2BlockGasLimit_: U256::from(self.l2_block_gas_limit),
                    maxPause_: U256::from(self.max_pause),
                }
                .abi_encode(),
            ),
            5 => proxy(
                c.on_chain_proposer.implementation,
                OnChainProposer::initializeCall {
                    params: OnChainProposer::InitParams {
                        owner,
                        securityCouncil: self.security_council,
                        bridge: c.common_bridge.proxy,
                        genesisStateRoot: self.genesis_state_root,
                        genesisBlockHash: self.genesis_block_hash,
                        l2ChainId: U256::from(self.l2_chain_id),
                        validium: self.validium,
                    },
                    sequencers: self.sequencers.clone(),
                    verifiers_: vec![c.attestation_verifier.proxy],
                }
                .abi_encode(),
            ),
            _ => {
                // The governor proposes and executes; no admin, so role changes go through the
                // timelock too.
                let args = KeelTimelock::constructorCall {
                    minDelay: U256::from(self.timelock_delay.unwrap_or_default()),
                    proposers: vec![self.owner],
                    executors: vec![self.owner],
                    admin: Address::ZERO,
                }
                .abi_encode();
                [KeelTimelock::BYTECODE.as_ref(), &args].concat().into()
            }
        }
    }

    /// Refuses a file made for another chain, deployer or configuration.
    fn check_matches(
        &self,
        path: &Path,
        config: &DeployConfig,
        l1_chain_id: u64,
        deployer: Address,
    ) -> Result<(), DeployError> {
        let mismatch = |field, recorded: String, given: String| {
            Err(DeployError::Mismatch {
                path: path.to_path_buf(),
                field,
                recorded,
                given,
            })
        };
        if self.l1_chain_id != l1_chain_id {
            return mismatch(
                "L1 chain id",
                self.l1_chain_id.to_string(),
                l1_chain_id.to_string(),
            );
        }
        if self.deployer != deployer {
            return mismatch("deployer", self.deployer.to_string(), deployer.to_string());
        }
        let wanted = Self::plan(config, l1_chain_id, deployer, self.first_nonce);
        let fields: [(&'static str, String, String); 14] = [
            (
                "timelock delay",
                format!("{:?}", self.timelock_delay),
                format!("{:?}", wanted.timelock_delay),
            ),
            (
                "security council",
                self.security_council.to_string(),
                wanted.security_council.to_string(),
            ),
            (
                "max pause",
                self.max_pause.to_string(),
                wanted.max_pause.to_string(),
            ),
            (
                "L2 block gas limit",
                self.l2_block_gas_limit.to_string(),
                wanted.l2_block_gas_limit.to_string(),
            ),
            (
                "genesis block hash",
                self.genesis_block_hash.to_string(),
                wanted.genesis_block_hash.to_string(),
            ),
            (
                "L2 chain id",
                self.l2_chain_id.to_string(),
                wanted.l2_chain_id.to_string(),
            ),
            (
                "genesis state root",
                self.genesis_state_root.to_string(),
                wanted.genesis_state_root.to_string(),
            ),
            ("owner", self.owner.to_string(), wanted.owner.to_string()),
            (
                "validium",
                self.validium.to_string(),
                wanted.validium.to_string(),
            ),
            (
                "sequencers",
                format!("{:?}", self.sequencers),
                format!("{:?}", wanted.sequencers),
            ),
            (
                "verifier signers",
                format!("{:?}", self.verifier_signers),
                format!("{:?}", wanted.verifier_signers),
            ),
            (
                "verifier threshold",
                self.verifier_threshold.to_string(),
                wanted.verifier_threshold.to_string(),
            ),
            (
                "inclusion max wait",
                self.inclusion_max_wait.to_string(),
                wanted.inclusion_max_wait.to_string(),
            ),
            (
                "max privileged gas limit",
                self.max_privileged_gas_limit.to_string(),
                wanted.max_privileged_gas_limit.to_string(),
            ),
        ];
        for (field, recorded, given) in fields {
            if recorded != given {
                return mismatch(field, recorded, given);
            }
        }
        Ok(())
    }
}

/// Default [`DeployConfig::inclusion_max_wait`]: one hour.
pub const DEFAULT_INCLUSION_MAX_WAIT: u64 = 3600;
/// Default [`DeployConfig::max_privileged_gas_limit`] (capped at the L2 block gas limit).
pub const DEFAULT_MAX_PRIVILEGED_GAS_LIMIT: u64 = 10_000_000;
/// Default [`DeployConfig::max_pause`]: seven days.
pub const DEFAULT_MAX_PAUSE: u64 = 7 * 24 * 3600;

impl DeployConfig {
    /// A configuration for the L2 `genesis` governed by `owner`, who is also the only sequencer
    /// and the only prover signer (threshold 1), with the default parameters, no timelock and no
    /// security council. Callers change what they need.
    pub fn for_genesis(genesis: &keel_types::Genesis, owner: Address) -> Result<Self, DeployError> {
        let spec = keel_types::ChainSpec::from_genesis(genesis)
            .map_err(|e| DeployError::Config(format!("the L2 genesis: {e}")))?;
        let header = keel_types::genesis_header(genesis, &spec);
        Ok(Self {
            owner,
            timelock_delay: None,
            security_council: Address::ZERO,
            max_pause: DEFAULT_MAX_PAUSE,
            l2_block_gas_limit: header.gas_limit,
            genesis_block_hash: header.hash_slow(),
            sequencers: vec![owner],
            verifier_signers: vec![owner],
            verifier_threshold: 1,
            inclusion_max_wait: DEFAULT_INCLUSION_MAX_WAIT,
            max_privileged_gas_limit: DEFAULT_MAX_PRIVILEGED_GAS_LIMIT.min(header.gas_limit),
            validium: false,
            genesis_state_root: header.state_root,
            l2_chain_id: genesis.config.chain_id,
            receipt_timeout: Duration::from_secs(30),
        })
    }

    fn validate(&self) -> Result<(), DeployError> {
        let bad = |m: &str| Err(DeployError::Config(m.to_string()));
        if self.owner == Address::ZERO {
            return bad("the owner is the zero address");
        }
        if self.sequencers.is_empty() || self.sequencers.contains(&Address::ZERO) {
            return bad("at least one sequencer, none the zero address");
        }
        if self.verifier_signers.contains(&Address::ZERO) {
            return bad("a verifier signer is the zero address");
        }
        if self.verifier_threshold == 0
            || self.verifier_threshold > self.verifier_signers.len() as u64
        {
            return bad("the verifier threshold must be between 1 and the number of signers");
        }
        if self.l2_chain_id == 0 {
            return bad("the L2 chain id is 0");
        }
        if self.inclusion_max_wait < MIN_INCLUSION_MAX_WAIT {
            return Err(DeployError::Config(format!(
                "the inclusion max wait ({} s) is below the contracts' minimum of {MIN_INCLUSION_MAX_WAIT} s",
                self.inclusion_max_wait
            )));
        }
        if self.max_privileged_gas_limit < MIN_PRIVILEGED_GAS_LIMIT
            || self.max_privileged_gas_limit > self.l2_block_gas_limit
        {
            return Err(DeployError::Config(format!(
                "the privileged-tx gas cap ({}) must be between {MIN_PRIVILEGED_GAS_LIMIT} and the \
                 L2 block gas limit ({}), so that every privileged transaction fits a block",
                self.max_privileged_gas_limit, self.l2_block_gas_limit
            )));
        }
        if self.max_pause == 0 {
            return bad("the max pause is 0");
        }
        Ok(())
    }
}

/// Deploys (or finishes deploying) the L1 contracts with `provider`, whose wallet signs for
/// `deployer`, and records them in `out`. If `out` holds a complete deployment whose contracts
/// exist on this chain, nothing is sent.
pub async fn deploy<P: Provider>(
    provider: &P,
    deployer: Address,
    config: &DeployConfig,
    out: &Path,
) -> Result<DeployOutcome, DeployError> {
    config.validate()?;
    let l1_chain_id = provider.get_chain_id().await.map_err(rpc_err)?;
    let mut deployment = if out.exists() {
        let recorded = Deployment::load(out)?;
        recorded.check_matches(out, config, l1_chain_id, deployer)?;
        info!(file = %out.display(), complete = recorded.complete, "found a deployment file");
        recorded
    } else {
        let first_nonce = provider
            .get_transaction_count(deployer)
            .pending()
            .await
            .map_err(rpc_err)?;
        let plan = Deployment::plan(config, l1_chain_id, deployer, first_nonce);
        // The plan goes to disk before the first transaction, so an interrupted run resumes.
        plan.save(out)?;
        info!(file = %out.display(), first_nonce, "planned the deployment");
        plan
    };

    wait_for_no_inflight(provider, deployer, config.receipt_timeout).await?;
    let mut sent = Vec::new();
    let mut existing = Vec::new();
    // Two rounds: the three implementations, then the three proxies (whose constructors need the
    // implementations' code). Within a round the transactions are independent, so they are all sent
    // before any receipt is awaited: two L1 blocks instead of six.
    let addresses = deployment.step_addresses();
    for round in [0..3usize, 3..addresses.len()] {
        let mut in_flight = Vec::new();
        for step in round {
            let (name, address) = (STEP_NAMES[step], addresses[step]);
            let code = provider.get_code_at(address).await.map_err(rpc_err)?;
            if !code.is_empty() {
                existing.push((name, address));
                continue;
            }
            let planned = deployment.first_nonce + step as u64;
            if in_flight.is_empty() {
                // Steps land in nonce order, so the first missing one must hold the next nonce.
                let actual = provider
                    .get_transaction_count(deployer)
                    .latest()
                    .await
                    .map_err(rpc_err)?;
                if actual != planned {
                    return Err(DeployError::NonceMoved {
                        step,
                        name,
                        planned,
                        actual,
                    });
                }
            }
            let tx = TransactionRequest::default()
                .with_from(deployer)
                .with_nonce(planned)
                .with_deploy_code(deployment.creation_code(step));
            let pending = provider.send_transaction(tx).await.map_err(rpc_err)?;
            info!(step = name, %address, tx_hash = %pending.tx_hash(), "sent");
            in_flight.push((step, pending));
        }
        for (step, pending) in in_flight {
            let (name, address) = (STEP_NAMES[step], addresses[step]);
            let tx_hash = *pending.tx_hash();
            let receipt = pending
                .with_timeout(Some(config.receipt_timeout))
                .get_receipt()
                .await
                .map_err(|e| DeployError::StepFailed {
                    step,
                    name,
                    message: format!("no receipt for {tx_hash}: {e}"),
                })?;
            if !receipt.status() {
                return Err(DeployError::StepFailed {
                    step,
                    name,
                    message: format!("transaction {tx_hash} reverted"),
                });
            }
            if receipt.contract_address != Some(address) {
                return Err(DeployError::StepFailed {
                    step,
                    name,
                    message: format!("created {:?}, planned {address}", receipt.contract_address),
                });
            }
            if deployment.deploy_block.is_none() {
                deployment.deploy_block = receipt.block_number;
                deployment.save(out)?;
            }
            sent.push((name, address, tx_hash));
        }
    }

    check_links(provider, &deployment).await?;
    if !deployment.complete {
        deployment.complete = true;
        deployment.save(out)?;
    }
    Ok(DeployOutcome {
        deployment,
        sent,
        existing,
    })
}

/// Waits until the deployer has no transaction in flight (pending nonce == latest nonce), so the
/// step checks see every earlier deployment.
async fn wait_for_no_inflight<P: Provider>(
    provider: &P,
    deployer: Address,
    timeout: Duration,
) -> Result<(), DeployError> {
    let deadline = Instant::now() + timeout;
    loop {
        let latest = provider
            .get_transaction_count(deployer)
            .latest()
            .await
            .map_err(rpc_err)?;
        let pending = provider
            .get_transaction_count(deployer)
            .pending()
            .await
            .map_err(rpc_err)?;
        if latest == pending {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(DeployError::Rpc(format!(
                "the deployer {deployer} still has {} transaction(s) in flight after {timeout:?}",
                pending - latest
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Checks that each proxy points at its implementation and the bridge and proposer at each other.
async fn check_links<P: Provider>(provider: &P, d: &Deployment) -> Result<(), DeployError> {
    let c = &d.contracts;
    for (name, pair) in [
        ("CommonBridge", c.common_bridge),
        ("OnChainProposer", c.on_chain_proposer),
        ("AttestationVerifier", c.attestation_verifier),
    ] {
        let slot = provider
            .get_storage_at(pair.proxy, IMPLEMENTATION_SLOT.into())
            .await
            .map_err(rpc_err)?;
        let implementation = Address::from_word(slot.into());
        if implementation != pair.implementation {
            return Err(DeployError::Check(format!(
                "{name} proxy {} points at {implementation}, expected {}",
                pair.proxy, pair.implementation
            )));
        }
    }
    let bridge = CommonBridge::new(c.common_bridge.proxy, provider);
    let proposer = OnChainProposer::new(c.on_chain_proposer.proxy, provider);
    let linked = bridge.onChainProposer().call().await.map_err(rpc_err)?;
    if linked != c.on_chain_proposer.proxy {
        return Err(DeployError::Check(format!(
            "CommonBridge.onChainProposer() is {linked}, expected {}",
            c.on_chain_proposer.proxy
        )));
    }
    let linked = proposer.bridge().call().await.map_err(rpc_err)?;
    if linked != c.common_bridge.proxy {
        return Err(DeployError::Check(format!(
            "OnChainProposer.bridge() is {linked}, expected {}",
            c.common_bridge.proxy
        )));
    }
    let root = proposer
        .getBatch(U256::ZERO)
        .call()
        .await
        .map_err(rpc_err)?
        .newStateRoot;
    if root != d.genesis_state_root {
        return Err(DeployError::Check(format!(
            "OnChainProposer genesis state root is {root}, expected {}",
            d.genesis_state_root
        )));
    }
    let owner = proposer.owner().call().await.map_err(rpc_err)?;
    if owner != d.contracts_owner() {
        return Err(DeployError::Check(format!(
            "OnChainProposer owner is {owner}, expected {}",
            d.contracts_owner()
        )));
    }
    Ok(())
}
