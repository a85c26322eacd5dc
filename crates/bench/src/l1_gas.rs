//! `keel-bench l1-gas`: the L1 gas of every user- and operator-facing operation of keel's L1
//! contracts, measured on a real anvil (Prague) as the `gasUsed` of each transaction's receipt.
//!
//! One anvil, one deployment as `keel l2 deploy` makes it (3 prover signers, threshold 2, the
//! KeelTimelock owning the contracts, no delay), then in order: the seven deployment transactions; ETH deposits (the first, which pays for zero→nonzero counters, and a later one),
//! a plain-transfer deposit, ERC20 deposits, `sendToL2` with 100k and 1M L2 gas; commits of
//! batches without and with privileged transactions and with a withdrawals root (each an EIP-4844
//! transaction with one blob); verification of one and of five batches at once with 2-of-3 and
//! then 1-of-3 EIP-712 attestations built over `keel_types::PublicInputs` (the threshold changed
//! through the timelock: schedule, execute); claims of an ETH and an ERC20 withdrawal, and one by a
//! relayer for its receiver, with proofs from a 16-leaf withdrawals tree built with `keel_types`.
//!
//! Gas does not depend on the build profile or the machine: the figures are deterministic for a
//! given contract bytecode and hardfork.

use std::{path::PathBuf, time::Duration};

use alloy::{
    consensus::BlobTransactionSidecar,
    eips::eip4844::builder::{SidecarBuilder, SimpleCoder},
    network::{TransactionBuilder, TransactionBuilder4844},
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::{DynProvider, Provider},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use eyre::{WrapErr, bail, eyre};
use keel_l1::{
    Anvil, AnvilConfig, DeployConfig, TimelockCall,
    contracts::{
        AttestationVerifier, CommonBridge::CommonBridgeInstance, OnChainProposer,
        OnChainProposer::OnChainProposerInstance, test::TestToken,
    },
    deploy::STEP_NAMES,
};
use keel_types::{
    L1Message, PublicInputs, dev, privileged_rolling_hash, withdrawal_proof, withdrawals_root,
};

/// Dev account roles (index into `keel_types::dev::DEV_ACCOUNTS`), as in keel-l1's tests.
const OWNER: usize = 0;
const SEQUENCER: usize = 1;
const SIGNERS: [usize; 3] = [2, 3, 4];
/// The prover signers of a 2-of-3 attestation (the deployment's threshold).
pub(crate) const TWO_OF_THREE: [usize; 2] = [SIGNERS[0], SIGNERS[1]];
const USER: usize = 5;
const OTHER_USER: usize = 6;

/// Prover signatures required per batch at deployment.
const THRESHOLD: u64 = 2;
const INCLUSION_MAX_WAIT: u64 = 3600;
const MAX_PRIVILEGED_GAS: u64 = 10_000_000;

/// `CommonBridge.L2_GAS_PER_BURNED_L1_GAS`.
const L2_GAS_PER_BURNED_L1_GAS: u64 = 16;
/// `CommonBridge.ETH_DEPOSIT_GAS_LIMIT` and `ERC20_DEPOSIT_GAS_LIMIT`.
const ETH_DEPOSIT_L2_GAS: u64 = 200_000;
const ERC20_DEPOSIT_L2_GAS: u64 = 300_000;

/// The pseudo-address of ETH in withdrawal messages (`CommonBridge.ETH`).
const ETH: Address = alloy::primitives::address!("0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE");
/// The L2 token the TestToken is bridged into (only its address matters on L1).
const TOKEN_L2: Address = Address::repeat_byte(0x77);
/// Leaves of the withdrawals tree the claims prove against.
const TREE_LEAVES: usize = 16;
/// The blob payload every commit carries.
const BLOB: &[u8] = b"keel-bench l1-gas: the state diff of a batch";

/// Anvil's chain id (part of the attestation domain).
const ANVIL_CHAIN_ID: u64 = 31_337;

/// How to run the benchmark.
#[derive(Debug, Clone, Default)]
pub struct L1GasOptions {
    /// The anvil binary; found with `keel_l1::find_anvil` if unset.
    pub anvil: Option<PathBuf>,
}

/// One measured transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GasRow {
    /// `deployment`, `bridge`, `proposer` or `claims`.
    pub group: &'static str,
    pub operation: String,
    /// `gasUsed` of the receipt (for the total row: the sum).
    pub gas_used: u64,
    pub notes: String,
}

/// What [`run`] measured.
#[derive(Debug, Clone)]
pub struct L1GasReport {
    /// `web3_clientVersion` of the anvil measured on.
    pub client_version: String,
    pub hardfork: String,
    pub rows: Vec<GasRow>,
}

impl L1GasReport {
    /// The report as JSON: `{clientVersion, hardfork, rows: [{group, operation, gasUsed, notes}]}`.
    pub fn to_json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "group": r.group,
                    "operation": r.operation,
                    "gasUsed": r.gas_used,
                    "notes": r.notes,
                })
            })
            .collect();
        serde_json::json!({
            "clientVersion": self.client_version,
            "hardfork": self.hardfork,
            "rows": rows,
        })
    }

    /// The report as an aligned text table (operation, gas used, notes), grouped.
    pub fn to_table(&self) -> String {
        let op_width = self
            .rows
            .iter()
            .map(|r| r.operation.chars().count())
            .chain(["operation".len()])
            .max()
            .unwrap_or(0);
        let gas: Vec<String> = self.rows.iter().map(|r| thousands(r.gas_used)).collect();
        let gas_width = gas
            .iter()
            .map(String::len)
            .chain(["gas used".len()])
            .max()
            .unwrap_or(0);
        let mut out = format!(
            "L1 gas on {} (hardfork {})\n{:<op_width$}  {:>gas_width$}  notes\n",
            self.client_version, self.hardfork, "operation", "gas used"
        );
        let mut group = "";
        for (row, gas) in self.rows.iter().zip(&gas) {
            if row.group != group {
                group = row.group;
                out.push_str(&format!("[{group}]\n"));
            }
            let line = format!(
                "{:<op_width$}  {gas:>gas_width$}  {}",
                row.operation, row.notes
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `2800` → `+2,800`, `-12` → `-12`.
fn signed(n: i64) -> String {
    let sign = if n < 0 { '-' } else { '+' };
    format!("{sign}{}", thousands(n.unsigned_abs()))
}

fn addr(i: usize) -> Address {
    dev::DEV_ACCOUNTS[i].0
}

fn signer(i: usize) -> eyre::Result<PrivateKeySigner> {
    PrivateKeySigner::from_bytes(&dev::DEV_ACCOUNTS[i].1)
        .map_err(|e| eyre!("dev key {i} is not a valid secp256k1 key: {e}"))
}

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// A client of `url` that signs with any of the ten dev keys (chosen by the tx's `from`).
fn wallet_provider(url: &str) -> eyre::Result<DynProvider> {
    let url = url
        .parse()
        .map_err(|e| eyre!("anvil url {url} does not parse: {e}"))?;
    Ok(keel_l1::dev_wallet_provider(url))
}

/// The fields of a `commitBatch`.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    pub(crate) number: u64,
    pub(crate) new_state_root: B256,
    pub(crate) withdrawals_root: B256,
    pub(crate) privileged_rolling_hash: B256,
    pub(crate) last_block_hash: B256,
    pub(crate) non_privileged_tx_count: u64,
    pub(crate) last_block_timestamp: u64,
}

impl Batch {
    /// The sequencer's EIP-4844 `commitBatch` transaction for this batch, carrying `sidecar`.
    pub(crate) fn commit_request(
        &self,
        proposer: Address,
        sidecar: BlobTransactionSidecar,
    ) -> TransactionRequest {
        let call = OnChainProposer::commitBatchCall {
            batchNumber: U256::from(self.number),
            newStateRoot: self.new_state_root,
            withdrawalsRoot: self.withdrawals_root,
            privilegedRollingHash: self.privileged_rolling_hash,
            lastBlockHash: self.last_block_hash,
            nonPrivilegedTxCount: U256::from(self.non_privileged_tx_count),
            lastBlockTimestamp: self.last_block_timestamp,
        };
        TransactionRequest::default()
            .with_from(addr(SEQUENCER))
            .with_to(proposer)
            .with_input(Bytes::from(call.abi_encode()))
            .with_blob_sidecar_4844(sidecar)
    }

    /// A batch with distinct roots and no privileged txs or withdrawals.
    pub(crate) fn simple(number: u64) -> Self {
        Self {
            number,
            new_state_root: keccak256(format!("state root {number}")),
            withdrawals_root: B256::ZERO,
            privileged_rolling_hash: B256::ZERO,
            last_block_hash: keccak256(format!("block hash {number}")),
            non_privileged_tx_count: 100,
            // Any past time works (not after L1's clock, not before the previous batch's).
            last_block_timestamp: number,
        }
    }

    fn public_inputs(&self, previous: (B256, B256), blob_versioned_hash: B256) -> PublicInputs {
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

/// The concatenated 65-byte signatures of `signers` over the attestation digest of
/// `public_inputs` for `proposer` on anvil's chain.
fn attest(
    public_inputs: &PublicInputs,
    proposer: Address,
    signers: &[usize],
) -> eyre::Result<Bytes> {
    let keys = signers
        .iter()
        .map(|&i| signer(i))
        .collect::<eyre::Result<Vec<_>>>()?;
    let refs: Vec<&PrivateKeySigner> = keys.iter().collect();
    keel_l1::attest(public_inputs, ANVIL_CHAIN_ID, proposer, &refs)
        .wrap_err("signing an attestation")
}

/// `keccak256(tokenL1 ‖ tokenL2 ‖ receiver ‖ amount)`: a withdrawal message's data.
fn withdrawal_data(token_l1: Address, token_l2: Address, receiver: Address, amount: U256) -> B256 {
    keccak256(
        [
            token_l1.as_slice(),
            token_l2.as_slice(),
            receiver.as_slice(),
            &amount.to_be_bytes::<32>(),
        ]
        .concat(),
    )
}

fn withdrawal_leaf(data: B256, message_id: u64) -> B256 {
    L1Message {
        sender_on_l2: keel_types::rules::L2_BRIDGE_ADDRESS,
        data,
        message_id: U256::from(message_id),
    }
    .leaf()
}

/// The running anvil, the client and the deployed contracts, and the rows measured so far.
struct Bench {
    // Kept alive (anvil is killed on drop).
    _anvil: Anvil,
    provider: DynProvider,
    bridge: Address,
    proposer: Address,
    verifier: Address,
    genesis_state_root: B256,
    genesis_block_hash: B256,
    sidecar: BlobTransactionSidecar,
    blob_versioned_hash: B256,
    /// Batches committed so far, by number - 1.
    batches: Vec<Batch>,
    rows: Vec<GasRow>,
}

impl Bench {
    fn bridge(&self) -> CommonBridgeInstance<&DynProvider> {
        CommonBridgeInstance::new(self.bridge, &self.provider)
    }

    fn proposer(&self) -> OnChainProposerInstance<&DynProvider> {
        OnChainProposerInstance::new(self.proposer, &self.provider)
    }

    async fn send(&self, what: &str, tx: TransactionRequest) -> eyre::Result<TransactionReceipt> {
        send(&self.provider, what, tx).await
    }

    fn record(&mut self, group: &'static str, operation: &str, gas_used: u64, notes: String) {
        self.rows.push(GasRow {
            group,
            operation: operation.to_string(),
            gas_used,
            notes,
        });
    }

    /// The hashes the bridge queued for privileged txs `first .. first + count`.
    async fn privileged_hashes(&self, first: u64, count: u64) -> eyre::Result<Vec<B256>> {
        let mut hashes = Vec::new();
        for id in first..first + count {
            hashes.push(
                self.bridge()
                    .privilegedTxHashes(U256::from(id))
                    .call()
                    .await
                    .wrap_err("privilegedTxHashes")?,
            );
        }
        Ok(hashes)
    }

    /// Commits the next batch, including the next `privileged` pending privileged txs, with
    /// `withdrawals_root`, as an EIP-4844 transaction from the sequencer carrying one blob.
    async fn commit(
        &mut self,
        privileged: u64,
        withdrawals_root: B256,
    ) -> eyre::Result<TransactionReceipt> {
        let number = self.batches.len() as u64 + 1;
        let mut batch = Batch::simple(number);
        batch.withdrawals_root = withdrawals_root;
        if privileged > 0 {
            let next: u64 = self
                .proposer()
                .nextPrivilegedId()
                .call()
                .await
                .wrap_err("nextPrivilegedId")?
                .try_into()
                .map_err(|_| eyre!("nextPrivilegedId does not fit in u64"))?;
            let hashes = self.privileged_hashes(next, privileged).await?;
            batch.privileged_rolling_hash = privileged_rolling_hash(&hashes)
                .ok_or_else(|| eyre!("{privileged} privileged txs do not fit in a batch"))?;
        }
        let tx = batch.commit_request(self.proposer, self.sidecar.clone());
        let receipt = self.send(&format!("commitBatch({number})"), tx).await?;
        self.batches.push(batch);
        Ok(receipt)
    }

    /// `verifyBatches(first, …)` for batches `first ..= last`, each attested by `signers`, sent
    /// by the sequencer. The public inputs are built in Rust and checked against the contract's.
    async fn verify(
        &self,
        first: u64,
        last: u64,
        signers: &[usize],
    ) -> eyre::Result<TransactionReceipt> {
        let genesis = (self.genesis_state_root, self.genesis_block_hash);
        verify_batches(
            &self.provider,
            self.proposer,
            &self.batches,
            genesis,
            self.blob_versioned_hash,
            (first, last),
            signers,
        )
        .await
    }
}

/// Sends `verifyBatches(first, …)` for batches `first ..= last` of `batches` (all committed, in
/// order from batch 1, each with `blob_versioned_hash`; `genesis` is the state root and block
/// hash before batch 1), each attested by the dev accounts `signers`, from the sequencer. The
/// public inputs are built in Rust and checked against the contract's.
pub(crate) async fn verify_batches(
    provider: &DynProvider,
    proposer: Address,
    batches: &[Batch],
    genesis: (B256, B256),
    blob_versioned_hash: B256,
    (first, last): (u64, u64),
    signers: &[usize],
) -> eyre::Result<TransactionReceipt> {
    let contract = OnChainProposerInstance::new(proposer, provider);
    let mut proofs = Vec::new();
    for number in first..=last {
        let index = usize::try_from(number.saturating_sub(1))?;
        let batch = batches
            .get(index)
            .ok_or_else(|| eyre!("batch {number} was not committed"))?;
        let previous = match index {
            0 => genesis,
            i => (
                batches[i - 1].new_state_root,
                batches[i - 1].last_block_hash,
            ),
        };
        let inputs = batch.public_inputs(previous, blob_versioned_hash);
        let on_l1 = contract
            .publicInputs(U256::from(number))
            .call()
            .await
            .wrap_err("publicInputs")?;
        if on_l1.as_ref() != inputs.encode().as_slice() {
            bail!("the public inputs of batch {number} built in Rust differ from the contract's");
        }
        proofs.push(vec![attest(&inputs, proposer, signers)?]);
    }
    let call = OnChainProposer::verifyBatchesCall {
        firstBatch: U256::from(first),
        proofs,
    };
    let tx = TransactionRequest::default()
        .with_from(addr(SEQUENCER))
        .with_to(proposer)
        .with_input(Bytes::from(call.abi_encode()));
    send(provider, &format!("verifyBatches({first}..={last})"), tx).await
}

/// Sends `tx` and returns its receipt; a failure at estimation or a revert is an error.
pub(crate) async fn send(
    provider: &DynProvider,
    what: &str,
    tx: TransactionRequest,
) -> eyre::Result<TransactionReceipt> {
    let pending = provider
        .send_transaction(tx)
        .await
        .wrap_err_with(|| format!("sending {what}"))?;
    let hash = *pending.tx_hash();
    let receipt = pending
        .with_timeout(Some(Duration::from_secs(60)))
        .get_receipt()
        .await
        .wrap_err_with(|| format!("receipt of {what} ({hash})"))?;
    if !receipt.status() {
        bail!("{what} reverted ({hash})");
    }
    Ok(receipt)
}

/// A local anvil with keel's L1 contracts deployed (3 prover signers, threshold 2), and a client
/// that signs as any dev account.
pub(crate) struct L1Deployment {
    /// Kept alive: anvil is killed on drop.
    pub(crate) anvil: Anvil,
    pub(crate) provider: DynProvider,
    /// `web3_clientVersion` of the anvil.
    pub(crate) client_version: String,
    pub(crate) hardfork: String,
    pub(crate) config: DeployConfig,
    pub(crate) outcome: keel_l1::DeployOutcome,
}

/// Starts anvil (`anvil`, else found with `keel_l1::find_anvil`) and deploys keel's L1 contracts.
pub(crate) async fn deploy_on_anvil(anvil: Option<PathBuf>) -> eyre::Result<L1Deployment> {
    let anvil_config = AnvilConfig {
        bin: anvil,
        ..AnvilConfig::default()
    };
    let hardfork = anvil_config.hardfork.clone();
    let anvil = Anvil::spawn(&anvil_config)
        .await
        .wrap_err("starting anvil")?;
    let provider = wallet_provider(&anvil.url)?;
    let client_version = provider
        .get_client_version()
        .await
        .wrap_err("web3_clientVersion")?;
    let config = DeployConfig {
        owner: addr(OWNER),
        // As `keel l2 deploy` does: the timelock owns the contracts (no delay here, so the owner
        // action below can run at once).
        timelock_delay: Some(0),
        sequencers: vec![addr(SEQUENCER)],
        verifier_signers: SIGNERS.iter().map(|&i| addr(i)).collect(),
        verifier_threshold: THRESHOLD,
        inclusion_max_wait: INCLUSION_MAX_WAIT,
        max_privileged_gas_limit: MAX_PRIVILEGED_GAS,
        validium: false,
        receipt_timeout: Duration::from_secs(60),
        ..DeployConfig::for_genesis(&dev::dev_genesis(), addr(OWNER))
            .map_err(|e| eyre::eyre!("{e}"))?
    };
    let dir = tempfile::tempdir().wrap_err("temporary directory")?;
    let outcome = keel_l1::deploy(
        &provider,
        addr(OWNER),
        &config,
        &dir.path().join("deployment.json"),
    )
    .await
    .wrap_err("deploying the L1 contracts")?;
    if outcome.sent.len() != STEP_NAMES.len() {
        bail!(
            "the deployer sent {} of {} transactions",
            outcome.sent.len(),
            STEP_NAMES.len()
        );
    }
    Ok(L1Deployment {
        anvil,
        provider,
        client_version,
        hardfork,
        config,
        outcome,
    })
}

/// Starts anvil, deploys, runs every operation and returns the gas each used.
pub async fn run(options: &L1GasOptions) -> eyre::Result<L1GasReport> {
    let L1Deployment {
        anvil,
        provider,
        client_version,
        hardfork,
        config,
        outcome,
    } = deploy_on_anvil(options.anvil.clone()).await?;

    // ---------------------------------------------------------------- deployment
    let contracts = outcome.deployment.contracts;
    let sidecar = SidecarBuilder::<SimpleCoder>::from_slice(BLOB)
        .build_4844()
        .map_err(|e| eyre!("building the blob sidecar: {e}"))?;
    let blob_versioned_hash = sidecar
        .versioned_hash_for_blob(0)
        .ok_or_else(|| eyre!("the sidecar has no blob"))?;
    let mut b = Bench {
        _anvil: anvil,
        provider,
        bridge: contracts.common_bridge.proxy,
        proposer: contracts.on_chain_proposer.proxy,
        verifier: contracts.attestation_verifier.proxy,
        genesis_state_root: config.genesis_state_root,
        genesis_block_hash: config.genesis_block_hash,
        sidecar,
        blob_versioned_hash,
        batches: Vec::new(),
        rows: Vec::new(),
    };

    let mut total = 0;
    for (name, address, hash) in &outcome.sent {
        let receipt = b
            .provider
            .get_transaction_receipt(*hash)
            .await
            .wrap_err_with(|| format!("receipt of {name}"))?
            .ok_or_else(|| eyre!("no receipt for {name} ({hash})"))?;
        let code = b
            .provider
            .get_code_at(*address)
            .await
            .wrap_err("eth_getCode")?;
        total += receipt.gas_used;
        let notes = if name.ends_with("proxy") {
            format!(
                "ERC-1967 proxy, runtime code {} B; runs initialize()",
                thousands(code.len() as u64)
            )
        } else {
            format!("runtime code {} B", thousands(code.len() as u64))
        };
        b.record("deployment", name, receipt.gas_used, notes);
    }
    b.record(
        "deployment",
        &format!("total ({} transactions)", outcome.sent.len()),
        total,
        "3 signers, threshold 2; the KeelTimelock owns the three contracts".into(),
    );
    let timelock = outcome
        .deployment
        .timelock
        .ok_or_else(|| eyre!("the deployment has no timelock"))?;

    // ---------------------------------------------------------------- bridge
    let user = addr(USER);
    let eth_burn = ETH_DEPOSIT_L2_GAS / L2_GAS_PER_BURNED_L1_GAS;
    let erc20_burn = ERC20_DEPOSIT_L2_GAS / L2_GAS_PER_BURNED_L1_GAS;

    let tx = b
        .bridge()
        .deposit(Address::repeat_byte(0x21))
        .value(ether(1))
        .from(user)
        .into_transaction_request();
    let first_deposit = b.send("deposit (first)", tx).await?.gas_used;
    b.record(
        "bridge",
        "deposit (ETH), first ever",
        first_deposit,
        format!(
            "one-time: transactionId 0→1; burns {} L1 gas for its {} L2 gas",
            thousands(eth_burn),
            thousands(ETH_DEPOSIT_L2_GAS)
        ),
    );
    let tx = b
        .bridge()
        .deposit(Address::repeat_byte(0x22))
        .value(ether(1))
        .from(user)
        .into_transaction_request();
    let later_deposit = b.send("deposit (later)", tx).await?.gas_used;
    b.record(
        "bridge",
        "deposit (ETH), later",
        later_deposit,
        format!(
            "{} less than the first; burns {}",
            thousands(first_deposit.saturating_sub(later_deposit)),
            thousands(eth_burn)
        ),
    );
    let tx = TransactionRequest::default()
        .with_from(user)
        .with_to(b.bridge)
        .with_value(ether(1));
    let gas = b.send("receive() deposit", tx).await?.gas_used;
    b.record(
        "bridge",
        "receive() (plain ETH transfer)",
        gas,
        format!("deposit to the sender; burns {}", thousands(eth_burn)),
    );

    // ERC20: a TestToken minted to the user, approved and deposited twice.
    let token = *TestToken::deploy(&b.provider)
        .await
        .wrap_err("deploying TestToken")?
        .address();
    let token_contract = TestToken::new(token, &b.provider);
    let tx = token_contract
        .mint(user, U256::from(1_000_000u64))
        .from(user)
        .into_transaction_request();
    b.send("TestToken.mint", tx).await?;
    let token_deposit = U256::from(1_000u64);
    let mut erc20_gas = Vec::new();
    for round in ["first", "later"] {
        let tx = token_contract
            .approve(b.bridge, token_deposit)
            .from(user)
            .into_transaction_request();
        b.send("TestToken.approve", tx).await?;
        let tx = b
            .bridge()
            .depositERC20(token, TOKEN_L2, user, token_deposit)
            .from(user)
            .into_transaction_request();
        erc20_gas.push(
            b.send(&format!("depositERC20 ({round})"), tx)
                .await?
                .gas_used,
        );
    }
    b.record(
        "bridge",
        "depositERC20, first of the token pair",
        erc20_gas[0],
        format!(
            "bridge's token balance and deposits[tokenL1][tokenL2] 0→nonzero; burns {}; the approve is extra",
            thousands(erc20_burn)
        ),
    );
    b.record(
        "bridge",
        "depositERC20, later",
        erc20_gas[1],
        format!("burns {}; the approve is extra", thousands(erc20_burn)),
    );

    let mut send_gas = Vec::new();
    for l2_gas in [100_000u64, 1_000_000] {
        let tx = b
            .bridge()
            .sendToL2(
                Address::repeat_byte(0x99),
                U256::from(l2_gas),
                U256::ZERO,
                Bytes::new(),
            )
            .from(user)
            .into_transaction_request();
        send_gas.push((
            l2_gas,
            b.send(&format!("sendToL2 ({l2_gas} L2 gas)"), tx)
                .await?
                .gas_used,
        ));
    }
    let (low_l2, low) = send_gas[0];
    let (high_l2, high) = send_gas[1];
    b.record(
        "bridge",
        "sendToL2, 100k L2 gas, empty calldata",
        low,
        format!(
            "burns {} L1 gas",
            thousands(low_l2 / L2_GAS_PER_BURNED_L1_GAS)
        ),
    );
    b.record(
        "bridge",
        "sendToL2, 1M L2 gas, empty calldata",
        high,
        format!(
            "burns {}; +{} over 100k (+900k L2 gas / 16 = {})",
            thousands(high_l2 / L2_GAS_PER_BURNED_L1_GAS),
            thousands(high.saturating_sub(low)),
            thousands((high_l2 - low_l2) / L2_GAS_PER_BURNED_L1_GAS)
        ),
    );

    // Enough pending privileged txs for the commits below (1 + 1 + 10).
    let pending: u64 = b
        .bridge()
        .pendingTxCount()
        .call()
        .await
        .wrap_err("pendingTxCount")?
        .try_into()
        .map_err(|_| eyre!("pendingTxCount does not fit in u64"))?;
    for i in pending..12 {
        let tx = b
            .bridge()
            .deposit(Address::repeat_byte(0x30 + i as u8))
            .value(U256::from(1_000u64 + i))
            .from(addr(OTHER_USER))
            .into_transaction_request();
        b.send("filler deposit", tx).await?;
    }

    // ---------------------------------------------------------------- withdrawals tree
    // 16 leaves: an ETH and an ERC20 withdrawal to the user (claimed below), and 14 others.
    let eth_amount = ether(1);
    let token_amount = U256::from(400u64);
    let mut leaves = vec![
        withdrawal_leaf(withdrawal_data(ETH, ETH, user, eth_amount), 1),
        withdrawal_leaf(withdrawal_data(token, TOKEN_L2, user, token_amount), 2),
    ];
    for id in 3..=TREE_LEAVES as u64 {
        let receiver = Address::repeat_byte(0x40 + id as u8);
        leaves.push(withdrawal_leaf(
            withdrawal_data(ETH, ETH, receiver, U256::from(id * 1_000)),
            id,
        ));
    }
    // Message 3, claimed by the user for its receiver (claimWithdrawalFor).
    let for_claim = (Address::repeat_byte(0x43), U256::from(3_000u64));
    let root = withdrawals_root(&leaves);

    // ---------------------------------------------------------------- commits
    let blob_note = |r: &TransactionReceipt| {
        format!(
            "+ 1 blob ({} blob gas, not in gasUsed)",
            thousands(r.blob_gas_used.unwrap_or(0))
        )
    };
    let r = b.commit(1, B256::ZERO).await?;
    b.record(
        "proposer",
        "commitBatch, first batch (1 privileged tx)",
        r.gas_used,
        format!(
            "one-time: lastCommittedBatch and nextPrivilegedId 0→nonzero; {}",
            blob_note(&r)
        ),
    );
    let r = b.commit(0, B256::ZERO).await?;
    let plain_commit = r.gas_used;
    b.record(
        "proposer",
        "commitBatch, no privileged txs",
        plain_commit,
        blob_note(&r),
    );
    let r = b.commit(1, B256::ZERO).await?;
    let one_commit = r.gas_used;
    b.record(
        "proposer",
        "commitBatch, 1 privileged tx",
        one_commit,
        format!(
            "+{} over none: reads the queue for the rolling hash, stores it, bumps nextPrivilegedId",
            thousands(one_commit.saturating_sub(plain_commit))
        ),
    );
    let r = b.commit(10, B256::ZERO).await?;
    b.record(
        "proposer",
        "commitBatch, 10 privileged txs",
        r.gas_used,
        format!(
            "+{} over 1 privileged tx (~{} per extra hash read)",
            thousands(r.gas_used.saturating_sub(one_commit)),
            thousands(r.gas_used.saturating_sub(one_commit) / 9)
        ),
    );
    let withdrawals_batch = b.batches.len() as u64 + 1;
    let r = b.commit(0, root).await?;
    b.record(
        "proposer",
        "commitBatch, with a withdrawals root",
        r.gas_used,
        format!(
            "+{} over none: the root is stored twice (batch commitment, bridge's withdrawalsRoots)",
            thousands(r.gas_used.saturating_sub(plain_commit))
        ),
    );
    // Plain batches for the multi-batch verifications.
    while b.batches.len() < 15 {
        b.commit(0, B256::ZERO).await?;
    }

    // ---------------------------------------------------------------- verification
    let two = TWO_OF_THREE;
    let r = b.verify(1, 1, &two).await?;
    b.record(
        "proposer",
        "verifyBatches, first batch ever, 2-of-3",
        r.gas_used,
        "one-time: lastVerifiedBatch and the bridge's pendingHead 0→nonzero".into(),
    );
    let single2 = b.verify(2, 2, &two).await?.gas_used;
    b.record(
        "proposer",
        "verifyBatches, 1 batch, 2-of-3",
        single2,
        "2 ecrecovers of EIP-712 attestations over the 352-byte public inputs".into(),
    );
    b.verify(3, 3, &two).await?;
    let r = b.verify(4, 4, &two).await?;
    b.record(
        "proposer",
        "verifyBatches, 1 batch with 10 privileged txs, 2-of-3",
        r.gas_used,
        format!(
            "{} vs no privileged txs: dequeuing them is one counter write",
            signed(r.gas_used as i64 - single2 as i64)
        ),
    );
    if withdrawals_batch != 5 {
        bail!("the withdrawals batch is {withdrawals_batch}, expected 5");
    }
    let five2 = b.verify(5, 9, &two).await?.gas_used;
    b.record(
        "proposer",
        "verifyBatches, 5 batches at once, 2-of-3",
        five2,
        format!(
            "{} per batch ({:.0}% of a 1-batch call)",
            thousands(five2 / 5),
            100.0 * (five2 / 5) as f64 / single2 as f64
        ),
    );
    // An owner action goes through the timelock: schedule, then (delay 0 here) execute.
    let call = TimelockCall::new(
        b.verifier,
        AttestationVerifier::setThresholdCall {
            threshold_: U256::from(1),
        }
        .abi_encode(),
    );
    // Recorded after the claims, so the table's groups stay together.
    let schedule_gas = b
        .send(
            "schedule setThreshold(1)",
            call.schedule_tx(timelock, addr(OWNER), 0),
        )
        .await?
        .gas_used;
    let execute_gas = b
        .send(
            "execute setThreshold(1)",
            call.execute_tx(timelock, addr(OWNER)),
        )
        .await?
        .gas_used;
    let one = [SIGNERS[2]];
    let single1 = b.verify(10, 10, &one).await?.gas_used;
    b.record(
        "proposer",
        "verifyBatches, 1 batch, 1-of-3",
        single1,
        format!(
            "{} less than 2-of-3 (one ecrecover and signer check)",
            thousands(single2.saturating_sub(single1))
        ),
    );
    let five1 = b.verify(11, 15, &one).await?.gas_used;
    b.record(
        "proposer",
        "verifyBatches, 5 batches at once, 1-of-3",
        five1,
        format!(
            "{} per batch ({:.0}% of a 1-batch call)",
            thousands(five1 / 5),
            100.0 * (five1 / 5) as f64 / single1 as f64
        ),
    );

    // ---------------------------------------------------------------- claims
    let proof_of = |index: usize| -> eyre::Result<Vec<B256>> {
        withdrawal_proof(&leaves, index).ok_or_else(|| eyre!("no leaf {index}"))
    };
    let proof = proof_of(0)?;
    let siblings = proof.len();
    let tx = b
        .bridge()
        .claimWithdrawal(
            eth_amount,
            U256::from(withdrawals_batch),
            U256::from(1),
            proof,
        )
        .from(user)
        .into_transaction_request();
    let gas = b.send("claimWithdrawal", tx).await?.gas_used;
    let eth_claim = gas;
    b.record(
        "claims",
        "claimWithdrawal (ETH)",
        gas,
        format!("{TREE_LEAVES}-leaf tree, proof of {siblings} siblings; pays 1 ETH to the caller"),
    );
    let tx = b
        .bridge()
        .claimWithdrawalERC20(
            token,
            TOKEN_L2,
            token_amount,
            U256::from(withdrawals_batch),
            U256::from(2),
            proof_of(1)?,
        )
        .from(user)
        .into_transaction_request();
    let gas = b.send("claimWithdrawalERC20", tx).await?.gas_used;
    b.record(
        "claims",
        "claimWithdrawalERC20",
        gas,
        format!(
            "{TREE_LEAVES}-leaf tree, proof of {siblings} siblings; lowers deposits[tokenL1][tokenL2], transfers the token"
        ),
    );
    let (receiver, amount) = for_claim;
    let tx = b
        .bridge()
        .claimWithdrawalFor(
            receiver,
            amount,
            U256::from(withdrawals_batch),
            U256::from(3),
            proof_of(2)?,
        )
        .from(user)
        .into_transaction_request();
    let gas = b.send("claimWithdrawalFor", tx).await?.gas_used;
    b.record(
        "claims",
        "claimWithdrawalFor (ETH, by a relayer)",
        gas,
        format!(
            "pays the message's receiver, not the caller; {} vs claimWithdrawal, 25,000 of it for creating the receiver's account",
            signed(gas as i64 - eth_claim as i64)
        ),
    );
    b.record(
        "governance",
        "timelock schedule (setThreshold)",
        schedule_gas,
        "the governor schedules an owner action; stores its ready time".into(),
    );
    b.record(
        "governance",
        "timelock execute (setThreshold)",
        execute_gas,
        "after the delay: runs the call as the owner, marks the operation done".into(),
    );

    Ok(L1GasReport {
        client_version,
        hardfork,
        rows: b.rows,
    })
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(21_000), "21,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(super::signed(2_800), "+2,800");
        assert_eq!(super::signed(-1_000), "-1,000");
    }
}
