//! [`L1Sender`]: the one nonce-safe sender of L1 transactions, shared by every component that
//! writes to L1 (the committer, the proof sender).
//!
//! A **job** is one logical transaction of the caller, named by a kind (`"commit"`) and a key (a
//! batch number). For each job the sender:
//!
//! 1. waits until the L1's fees are within the configured caps (logging why it waits),
//! 2. simulates the call (`eth_estimateGas`): a revert is [`SendError::Reverted`], with the
//!    custom error decoded, and nothing is sent,
//! 3. allocates a nonce (L1's pending nonce, never below one a journaled job of this account
//!    holds), signs, **stores the signed transaction in the [`SendJournal`]**, then broadcasts,
//! 4. follows it: replaces it with bumped fees (same nonce) when it is not mined within
//!    `bump_after_blocks` blocks, waits `confirmations` blocks on top of its block, and
//!    rebroadcasts it if an L1 reorg drops it.
//!
//! **Restart safety.** Every transaction is journaled before it is broadcast, and all of a job's
//! transactions share one nonce, so at most one of them can land. A sender (new or restarted)
//! asked for a journaled job never signs a fresh one: it looks for a receipt of any journaled
//! hash, else rebroadcasts the newest journaled transaction, and if L1's nonce has moved past
//! the job's nonce with none of its hashes mined it stops with [`SendError::NonceTaken`].
//!
//! **L1 outages** are logged once per outage and retried with backoff; they become an error
//! ([`SendError::L1Unavailable`]) only after `give_up_after`, if set.

mod blob;
mod fees;
mod journal;

use std::{
    collections::HashSet,
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy::{
    consensus::{
        SignableTransaction, TxEip1559, TxEip4844, TxEip4844Variant, TxEip4844WithSidecar,
        TxEnvelope,
    },
    eips::{
        BlockNumberOrTag,
        eip2718::{Decodable2718, Encodable2718},
        eip7594::BlobTransactionSidecarVariant,
    },
    network::{TransactionBuilder, TxSignerSync},
    primitives::{Address, B256, Bytes, TxKind, U256},
    providers::Provider,
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
    sol_types::SolInterface,
    transports::{RpcError, TransportError},
};
use tracing::{debug, info, warn};

pub use blob::{BlobError, blob_sidecar, versioned_hash};
use fees::{Fees, Market};
pub use journal::{JournalEntry, JournalError, MemoryJournal, SendJournal, SentTx};

use crate::{L1Client, L1ClientError, contracts, fault};

const GWEI: u128 = 1_000_000_000;

/// Limits and timing of an [`L1Sender`].
#[derive(Debug, Clone)]
pub struct L1SenderConfig {
    /// Cap on the max fee per gas (wei). Default 200 gwei. When the L1 needs more (base fee +
    /// tip), the sender waits instead of sending, and no replacement goes above it.
    pub max_fee_per_gas: u128,
    /// Cap on the priority fee per gas (wei). Default 10 gwei.
    pub max_priority_fee_per_gas: u128,
    /// Cap on the max fee per blob gas (wei). Default 100 gwei.
    pub max_fee_per_blob_gas: u128,
    /// A transaction not mined within this many L1 blocks after its broadcast is replaced with
    /// bumped fees. Default 3 (about 36 s on Ethereum).
    pub bump_after_blocks: u64,
    /// A transaction counts as done when this many blocks are on top of its block. Default 3.
    pub confirmations: u64,
    /// How often the L1 is polled (fees, receipts, head). Default 2 s.
    pub poll_interval: Duration,
    /// Longest back-off between retries while the L1 is unreachable. Default 30 s.
    pub max_backoff: Duration,
    /// Give up with [`SendError::L1Unavailable`] after the L1 has been unreachable this long.
    /// Default `None`: keep retrying.
    pub give_up_after: Option<Duration>,
    /// The `account` label of this sender's metric series (`keel_l1_sender_*`): `committer`
    /// (default) or `proof_sender`.
    pub metrics_label: &'static str,
}

impl Default for L1SenderConfig {
    fn default() -> Self {
        Self {
            max_fee_per_gas: 200 * GWEI,
            max_priority_fee_per_gas: 10 * GWEI,
            max_fee_per_blob_gas: 100 * GWEI,
            bump_after_blocks: 3,
            confirmations: 3,
            poll_interval: Duration::from_secs(2),
            max_backoff: Duration::from_secs(30),
            give_up_after: None,
            metrics_label: "committer",
        }
    }
}

/// What to send: a call (or a blob transaction when `blob` is set).
#[derive(Debug, Clone, Default)]
pub struct L1TxRequest {
    /// The recipient.
    pub to: Address,
    /// The calldata.
    pub input: Bytes,
    /// The value (wei).
    pub value: U256,
    /// The gas limit; estimated (plus 20%) if `None`.
    pub gas_limit: Option<u64>,
    /// The blob sidecar: makes it an EIP-4844 transaction. [`blob_sidecar`] builds an EIP-4844
    /// sidecar, which Prague L1s take; EIP-7594 (cell proofs) sidecars are sent as given.
    pub blob: Option<BlobTransactionSidecarVariant>,
}

impl L1TxRequest {
    /// A call of `to` with calldata `input`, no value, estimated gas and no blob.
    pub fn call(to: Address, input: impl Into<Bytes>) -> Self {
        Self {
            to,
            input: input.into(),
            ..Self::default()
        }
    }

    /// With `value` wei.
    pub fn with_value(mut self, value: U256) -> Self {
        self.value = value;
        self
    }

    /// With a fixed gas limit (no estimation; the call is still simulated first).
    pub fn with_gas_limit(mut self, gas_limit: u64) -> Self {
        self.gas_limit = Some(gas_limit);
        self
    }

    /// With a blob sidecar (an EIP-4844 transaction).
    pub fn with_blob(mut self, sidecar: impl Into<BlobTransactionSidecarVariant>) -> Self {
        self.blob = Some(sidecar.into());
        self
    }
}

/// A job's transaction, mined and confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmedTx {
    /// The hash of the transaction that landed (one of the job's journaled ones).
    pub tx_hash: B256,
    /// Its nonce.
    pub nonce: u64,
    /// The L1 block it is in.
    pub block_number: u64,
    /// That block's hash.
    pub block_hash: B256,
    /// Gas used.
    pub gas_used: u64,
    /// The price paid per gas (wei).
    pub effective_gas_price: u128,
    /// Blob gas used (blob transactions).
    pub blob_gas_used: Option<u64>,
    /// The price paid per blob gas (blob transactions).
    pub blob_gas_price: Option<u128>,
}

/// Why a send did not end with a confirmed transaction.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The call reverts (in the simulation before the first broadcast, or mined with status 0).
    /// Retrying the same call won't help.
    #[error("L1 transaction reverted: {reason}")]
    Reverted {
        /// The decoded revert reason (custom error with its fields, `Error(string)`, panic), or
        /// the raw revert data in hex when it does not decode.
        reason: String,
        /// The raw revert data (empty if unknown).
        data: Bytes,
        /// The mined transaction, when it reverted on chain.
        tx_hash: Option<B256>,
    },
    /// The L1 node refused to simulate the call for another reason than a revert (e.g.
    /// insufficient funds).
    #[error("L1 refused the transaction: {0}")]
    Rejected(String),
    /// L1's nonce of the account moved past the job's nonce, and none of the job's transactions
    /// is mined: another transaction took the nonce. Nothing more is sent for the job.
    #[error(
        "nonce {nonce} of job {kind}/{key} was used by another transaction (account nonce is \
         now {account_nonce}); none of the job's transactions landed"
    )]
    NonceTaken {
        /// The job's kind.
        kind: String,
        /// The job's key.
        key: u64,
        /// The job's nonce.
        nonce: u64,
        /// L1's nonce of the account.
        account_nonce: u64,
    },
    /// The journaled job was signed by another account than this sender's.
    #[error("job {kind}/{key} is journaled for account {journaled}, not this sender's {ours}")]
    WrongAccount {
        /// The job's kind.
        kind: String,
        /// The job's key.
        key: u64,
        /// The journaled account.
        journaled: Address,
        /// This sender's account.
        ours: Address,
    },
    /// Another `send` of this sender is already running the job.
    #[error("job {kind}/{key} is already being sent")]
    Busy {
        /// The job's kind.
        kind: String,
        /// The job's key.
        key: u64,
    },
    /// The L1 was unreachable for longer than `give_up_after`.
    #[error("L1 unreachable for {elapsed:?}: {last_error}")]
    L1Unavailable {
        /// How long.
        elapsed: Duration,
        /// The last error.
        last_error: String,
    },
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Signing or encoding failed, or the journal holds a transaction that does not decode.
    #[error("L1 transaction: {0}")]
    Transaction(String),
}

/// Turns revert data into a readable reason, or `None` if it doesn't know the error.
pub type RevertDecoder = Arc<dyn Fn(&[u8]) -> Option<String> + Send + Sync>;

/// Decodes a revert of keel's L1 contracts: their custom errors (by name, with fields), then
/// Solidity's `Error(string)` and `Panic(uint256)`.
pub fn decode_keel_revert(data: &[u8]) -> Option<String> {
    if let Ok(e) = contracts::OnChainProposer::OnChainProposerErrors::abi_decode(data) {
        return Some(format!("{e:?}"));
    }
    if let Ok(e) = contracts::CommonBridge::CommonBridgeErrors::abi_decode(data) {
        return Some(format!("{e:?}"));
    }
    if let Ok(e) = contracts::AttestationVerifier::AttestationVerifierErrors::abi_decode(data) {
        return Some(format!("{e:?}"));
    }
    alloy::sol_types::decode_revert_reason(data)
}

/// The one sender of L1 transactions of an account (see the module docs). Share it (`Arc`)
/// between the components that send from that account.
pub struct L1Sender {
    client: L1Client,
    signer: PrivateKeySigner,
    config: L1SenderConfig,
    journal: Arc<dyn SendJournal>,
    decoder: RevertDecoder,
    /// Held from nonce allocation until the job's first transaction is journaled, so two jobs
    /// never take one nonce.
    nonce_lock: tokio::sync::Mutex<()>,
    /// Jobs a `send` is running now.
    active: Mutex<HashSet<(String, u64)>>,
    chain_id: tokio::sync::OnceCell<u64>,
}

impl std::fmt::Debug for L1Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L1Sender")
            .field("account", &self.signer.address())
            .field("client", &self.client)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Removes a job from the active set when its `send` ends (or its future is dropped).
struct ActiveJob<'a> {
    active: &'a Mutex<HashSet<(String, u64)>>,
    job: (String, u64),
}

impl Drop for ActiveJob<'_> {
    fn drop(&mut self) {
        if let Ok(mut set) = self.active.lock() {
            set.remove(&self.job);
        }
    }
}

/// What `follow` knows about a job in flight.
struct Job {
    entry: JournalEntry,
    /// L1 head when the newest transaction was (re)broadcast.
    sent_at: u64,
    /// Broadcast the newest transaction again on the next poll (resumed job, reorg).
    rebroadcast: bool,
    /// The receipt seen (block hash), to notice a reorg.
    mined: Option<(B256, B256)>,
    /// Consecutive polls on which L1's nonce was past the job's with no receipt.
    nonce_past_polls: u32,
    /// When the "can't bump past the cap" warning was last given.
    cap_warned: Option<Instant>,
}

/// The gas limit for an estimate: 20% headroom.
fn with_headroom(estimate: u64) -> u64 {
    estimate.saturating_add(estimate / 5)
}

fn is_known_tx_error(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    // geth: "already known"; reth: "already imported"; anvil: "transaction already imported".
    m.contains("already known") || m.contains("already imported") || m.contains("known transaction")
}

impl L1Sender {
    /// A sender signing with `signer`, talking to L1 through `client`, journaling in `journal`.
    /// Reverts are decoded with [`decode_keel_revert`] unless
    /// [`L1Sender::with_revert_decoder`] says otherwise.
    pub fn new(
        client: L1Client,
        signer: PrivateKeySigner,
        config: L1SenderConfig,
        journal: Arc<dyn SendJournal>,
    ) -> Self {
        Self {
            client,
            signer,
            config,
            journal,
            decoder: Arc::new(decode_keel_revert),
            nonce_lock: tokio::sync::Mutex::new(()),
            active: Mutex::new(HashSet::new()),
            chain_id: tokio::sync::OnceCell::new(),
        }
    }

    /// Reads the account's balance once (one `eth_getBalance`, no retry) into
    /// `keel_l1_sender_balance_ether{account}`. Done after each confirmed transaction; call it
    /// at start too. A failure is logged at debug level and changes nothing.
    pub async fn record_balance(&self) {
        let me = self.address();
        match self
            .client
            .request("eth_getBalance", |p| async move {
                p.get_balance(me).latest().await
            })
            .await
        {
            Ok(wei) => {
                let wei = u128::try_from(wei).unwrap_or(u128::MAX);
                metrics::gauge!("keel_l1_sender_balance_ether", "account" => self.config.metrics_label)
                    .set(wei as f64 / 1e18);
            }
            Err(e) => debug!(account = %me, error = %e, "can't read the L1 sender's balance"),
        }
    }

    /// Sets `keel_l1_sender_nonce{account}` (the account's next nonce).
    fn record_nonce(&self, next: u64) {
        metrics::gauge!("keel_l1_sender_nonce", "account" => self.config.metrics_label)
            .set(next as f64);
    }

    /// Uses `decoder` for revert data (e.g. the error enum of another contract).
    pub fn with_revert_decoder(mut self, decoder: RevertDecoder) -> Self {
        self.decoder = decoder;
        self
    }

    /// The sending account.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The configuration.
    pub fn config(&self) -> &L1SenderConfig {
        &self.config
    }

    /// The journal.
    pub fn journal(&self) -> &Arc<dyn SendJournal> {
        &self.journal
    }

    /// The journaled jobs of this sender's account that the caller has not finished, by nonce:
    /// after a restart, call [`L1Sender::send`] for each (or [`L1Sender::finish`] it).
    pub fn pending_jobs(&self) -> Result<Vec<JournalEntry>, SendError> {
        let me = self.address();
        let mut jobs: Vec<_> = self
            .journal
            .entries()?
            .into_iter()
            .filter(|e| e.from == me)
            .collect();
        jobs.sort_by_key(|e| e.nonce);
        Ok(jobs)
    }

    /// Forgets job (`kind`, `key`) (done, or given up by the caller). Finishing a job whose
    /// transaction never landed frees its nonce for the next job.
    pub fn finish(&self, kind: &str, key: u64) -> Result<(), SendError> {
        Ok(self.journal.finish(kind, key)?)
    }

    /// Sends job (`kind`, `key`) and waits until its transaction is confirmed (see the module
    /// docs). A journaled job is resumed, and then `request` is not used: the journaled
    /// transaction is what gets (re)sent and bumped.
    pub async fn send(
        &self,
        kind: &str,
        key: u64,
        request: L1TxRequest,
    ) -> Result<ConfirmedTx, SendError> {
        let _active = self.claim(kind, key)?;
        let job = match self.journal.load(kind, key)? {
            Some(entry) => {
                if entry.from != self.address() {
                    return Err(SendError::WrongAccount {
                        kind: kind.into(),
                        key,
                        journaled: entry.from,
                        ours: self.address(),
                    });
                }
                if entry.txs.is_empty() {
                    return Err(SendError::Transaction(format!(
                        "journal entry of {kind}/{key} holds no transaction"
                    )));
                }
                info!(
                    kind,
                    key,
                    nonce = entry.nonce,
                    txs = entry.txs.len(),
                    "resuming journaled L1 send job"
                );
                let head = self
                    .l1("eth_blockNumber", |c| async move { c.block_number().await })
                    .await?;
                Job {
                    entry,
                    sent_at: head,
                    rebroadcast: true,
                    mined: None,
                    nonce_past_polls: 0,
                    cap_warned: None,
                }
            }
            None => self.start(kind, key, &request).await?,
        };
        self.follow(job).await
    }

    /// Simulates `request` from this sender's account (`eth_estimateGas`) and returns the gas
    /// limit to use (the estimate plus 20%, or `request.gas_limit`). A revert is
    /// [`SendError::Reverted`].
    pub async fn simulate(&self, request: &L1TxRequest) -> Result<u64, SendError> {
        let mut tx = TransactionRequest::default()
            .with_from(self.address())
            .with_to(request.to)
            .with_input(request.input.clone())
            .with_value(request.value);
        if let Some(sidecar) = &request.blob {
            tx.blob_versioned_hashes = Some(sidecar.versioned_hashes().collect());
            tx.max_fee_per_blob_gas = Some(self.config.max_fee_per_blob_gas);
        }
        if let Some(gas) = request.gas_limit {
            tx.gas = Some(gas);
        }
        let answer = self
            .l1("eth_estimateGas", |c| {
                let tx = tx.clone();
                async move {
                    c.request("eth_estimateGas", |p| {
                        let tx = tx.clone();
                        async move { answer_or_refusal(p.estimate_gas(tx).await) }
                    })
                    .await
                }
            })
            .await?;
        match answer {
            Ok(estimate) => Ok(request.gas_limit.unwrap_or(with_headroom(estimate))),
            Err(refusal) => Err(self.refusal_error(&refusal, None)),
        }
    }

    fn claim(&self, kind: &str, key: u64) -> Result<ActiveJob<'_>, SendError> {
        let job = (kind.to_string(), key);
        let mut set = self
            .active
            .lock()
            .map_err(|_| SendError::Transaction("active job set poisoned".into()))?;
        if !set.insert(job.clone()) {
            return Err(SendError::Busy {
                kind: kind.into(),
                key,
            });
        }
        Ok(ActiveJob {
            active: &self.active,
            job,
        })
    }

    fn refusal_error(&self, refusal: &Refusal, tx_hash: Option<B256>) -> SendError {
        match refusal.data.clone() {
            Some(data) => SendError::Reverted {
                reason: (self.decoder)(&data).unwrap_or_else(|| {
                    format!("{} (data 0x{})", refusal.message, alloy::hex::encode(&data))
                }),
                data,
                tx_hash,
            },
            None if refusal.message.to_ascii_lowercase().contains("revert") => {
                SendError::Reverted {
                    reason: refusal.message.clone(),
                    data: Bytes::new(),
                    tx_hash,
                }
            }
            None => SendError::Rejected(format!("{} (code {})", refusal.message, refusal.code)),
        }
    }

    /// Runs an L1 request until it succeeds, retrying every failure with backoff (a warning
    /// once per outage), up to `give_up_after`.
    async fn l1<T, F, Fut>(&self, what: &'static str, f: F) -> Result<T, SendError>
    where
        F: Fn(L1Client) -> Fut,
        Fut: Future<Output = Result<T, L1ClientError>>,
    {
        let mut outage: Option<Instant> = None;
        let mut backoff = self.config.poll_interval;
        loop {
            match f(self.client.clone()).await {
                Ok(value) => {
                    if let Some(since) = outage {
                        info!(what, after = ?since.elapsed(), "L1 reachable again");
                    }
                    return Ok(value);
                }
                Err(e) => {
                    let since = *outage.get_or_insert_with(|| {
                        warn!(what, error = %e, "L1 request failed; retrying with backoff until it answers");
                        Instant::now()
                    });
                    if let Some(limit) = self.config.give_up_after
                        && since.elapsed() >= limit
                    {
                        return Err(SendError::L1Unavailable {
                            elapsed: since.elapsed(),
                            last_error: e.to_string(),
                        });
                    }
                    debug!(what, error = %e, ?backoff, "L1 request failed");
                    tokio::time::sleep(backoff).await;
                    backoff =
                        (backoff * 2).min(self.config.max_backoff.max(self.config.poll_interval));
                }
            }
        }
    }

    async fn chain_id(&self) -> Result<u64, SendError> {
        self.chain_id
            .get_or_try_init(|| self.l1("eth_chainId", |c| async move { c.chain_id().await }))
            .await
            .copied()
    }

    /// The L1's fee market now.
    async fn market(&self, blob: bool) -> Result<Market, SendError> {
        let history = self
            .l1("eth_feeHistory", |c| async move {
                c.request("eth_feeHistory", |p| async move {
                    p.get_fee_history(1, BlockNumberOrTag::Latest, &[]).await
                })
                .await
            })
            .await?;
        // [latest block's base fee, next block's]: pay for the higher one.
        let base_fee = history.base_fee_per_gas.iter().copied().max().unwrap_or(0);
        let tip = self
            .l1("eth_maxPriorityFeePerGas", |c| async move {
                c.request("eth_maxPriorityFeePerGas", |p| async move {
                    p.get_max_priority_fee_per_gas().await
                })
                .await
            })
            .await?;
        let blob_base_fee = if blob {
            Some(
                self.l1("eth_blobBaseFee", |c| async move {
                    c.request(
                        "eth_blobBaseFee",
                        |p| async move { p.get_blob_base_fee().await },
                    )
                    .await
                })
                .await?,
            )
        } else {
            None
        };
        Ok(Market {
            base_fee,
            tip,
            blob_base_fee,
        })
    }

    /// Waits until the L1's fees are within the caps; the fees of a new transaction.
    async fn fees_within_caps(&self, kind: &str, key: u64, blob: bool) -> Result<Fees, SendError> {
        let mut warned: Option<Instant> = None;
        loop {
            let market = self.market(blob).await?;
            match fees::initial(market, &self.config) {
                Ok(fees) => {
                    if warned.is_some() {
                        info!(kind, key, "L1 fees back within the caps");
                    }
                    return Ok(fees);
                }
                Err(over) => {
                    if warned.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                        warn!(
                            kind,
                            key,
                            fee = over.field,
                            needed = over.needed,
                            cap = over.cap,
                            "L1 fees above the configured cap: waiting before sending"
                        );
                        warned = Some(Instant::now());
                    } else {
                        debug!(
                            kind,
                            key,
                            fee = over.field,
                            needed = over.needed,
                            cap = over.cap,
                            "L1 fees still above the cap"
                        );
                    }
                    tokio::time::sleep(self.config.poll_interval).await;
                }
            }
        }
    }

    /// A new job: fees, simulation, nonce, sign, journal, broadcast.
    async fn start(&self, kind: &str, key: u64, request: &L1TxRequest) -> Result<Job, SendError> {
        let fees = self
            .fees_within_caps(kind, key, request.blob.is_some())
            .await?;
        let gas_limit = self.simulate(request).await?;
        let chain_id = self.chain_id().await?;
        let me = self.address();

        let _nonce = self.nonce_lock.lock().await;
        let pending = self
            .l1("eth_getTransactionCount", |c| async move {
                c.request("eth_getTransactionCount", |p| async move {
                    p.get_transaction_count(me).pending().await
                })
                .await
            })
            .await?;
        let journaled_floor = self
            .journal
            .entries()?
            .iter()
            .filter(|e| e.from == me)
            .map(|e| e.nonce + 1)
            .max()
            .unwrap_or(0);
        let nonce = pending.max(journaled_floor);

        let sent = self.sign(build_tx(request, chain_id, nonce, gas_limit, fees), fees)?;
        let entry = JournalEntry {
            kind: kind.into(),
            key,
            from: me,
            nonce,
            txs: vec![sent.clone()],
        };
        self.journal.store(&entry)?;
        let head = self
            .l1("eth_blockNumber", |c| async move { c.block_number().await })
            .await?;
        info!(kind, key, nonce, hash = %sent.hash, max_fee_per_gas = fees.max_fee_per_gas,
            max_priority_fee_per_gas = fees.max_priority_fee_per_gas,
            max_fee_per_blob_gas = ?fees.max_fee_per_blob_gas, gas_limit,
            "broadcasting L1 transaction");
        self.broadcast(&sent).await?;
        metrics::counter!("keel_l1_sender_transactions_sent_total", "account" => self.config.metrics_label)
            .increment(1);
        self.record_nonce(nonce + 1);
        drop(_nonce);
        fault::point("l1sender.after-broadcast");
        Ok(Job {
            entry,
            sent_at: head,
            rebroadcast: false,
            mined: None,
            nonce_past_polls: 0,
            cap_warned: None,
        })
    }

    fn sign(&self, unsigned: Unsigned, fees: Fees) -> Result<SentTx, SendError> {
        let sign_err = |e: alloy::signers::Error| SendError::Transaction(format!("signing: {e}"));
        let envelope: TxEnvelope = match unsigned {
            Unsigned::Eip1559(mut tx) => {
                let sig = self
                    .signer
                    .sign_transaction_sync(&mut tx)
                    .map_err(sign_err)?;
                tx.into_signed(sig).into()
            }
            Unsigned::Eip4844(mut tx) => {
                let sig = self
                    .signer
                    .sign_transaction_sync(&mut tx)
                    .map_err(sign_err)?;
                tx.into_signed(sig).into()
            }
        };
        Ok(SentTx {
            hash: *envelope.tx_hash(),
            raw: envelope.encoded_2718().into(),
            max_fee_per_gas: fees.max_fee_per_gas,
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
            max_fee_per_blob_gas: fees.max_fee_per_blob_gas,
        })
    }

    /// Broadcasts a journaled transaction. A node's refusal is logged, not returned: the job's
    /// state on L1 (receipt, nonce) decides what happens next.
    async fn broadcast(&self, tx: &SentTx) -> Result<(), SendError> {
        let raw = tx.raw.clone();
        let answer = self
            .l1("eth_sendRawTransaction", |c| {
                let raw = raw.clone();
                async move {
                    c.request("eth_sendRawTransaction", |p| {
                        let raw = raw.clone();
                        async move {
                            answer_or_refusal(
                                p.send_raw_transaction(&raw)
                                    .await
                                    .map(|pending| *pending.tx_hash()),
                            )
                        }
                    })
                    .await
                }
            })
            .await?;
        match answer {
            Ok(hash) if hash != tx.hash => warn!(ours = %tx.hash, node = %hash,
                "L1 node reports another hash for our transaction"),
            Ok(_) => {}
            Err(refusal) if is_known_tx_error(&refusal.message) => {
                debug!(hash = %tx.hash, "L1 node already has the transaction")
            }
            Err(refusal) => warn!(hash = %tx.hash, code = refusal.code, error = %refusal.message,
                "L1 node refused the transaction; will check the nonce and retry"),
        }
        Ok(())
    }

    /// The receipt of one of the job's transactions, newest first.
    async fn find_receipt(
        &self,
        entry: &JournalEntry,
    ) -> Result<Option<TransactionReceipt>, SendError> {
        for tx in entry.txs.iter().rev() {
            let hash = tx.hash;
            let receipt = self
                .l1("eth_getTransactionReceipt", |c| async move {
                    c.request("eth_getTransactionReceipt", |p| async move {
                        p.get_transaction_receipt(hash).await
                    })
                    .await
                })
                .await?;
            if receipt.is_some() {
                return Ok(receipt);
            }
        }
        Ok(None)
    }

    /// Follows a broadcast job to confirmation: receipts, bumps, reorgs.
    async fn follow(&self, mut job: Job) -> Result<ConfirmedTx, SendError> {
        let me = self.address();
        let kind = job.entry.kind.clone();
        let key = job.entry.key;
        let nonce = job.entry.nonce;
        loop {
            // Nonce before receipts: if our transaction took the nonce, its receipt is visible by
            // the time we look for it.
            let account_nonce = self
                .l1("eth_getTransactionCount", |c| async move {
                    c.request("eth_getTransactionCount", |p| async move {
                        p.get_transaction_count(me).latest().await
                    })
                    .await
                })
                .await?;
            self.record_nonce(account_nonce);
            let head = self
                .l1("eth_blockNumber", |c| async move { c.block_number().await })
                .await?;
            match self.find_receipt(&job.entry).await? {
                Some(receipt) => {
                    job.nonce_past_polls = 0;
                    let block = receipt.block_number.unwrap_or(head);
                    let block_hash = receipt.block_hash.unwrap_or_default();
                    let seen = (receipt.transaction_hash, block_hash);
                    if job.mined != Some(seen) {
                        info!(kind, key, nonce, hash = %receipt.transaction_hash, block,
                            status = receipt.status(), "L1 transaction mined");
                        let first = job.mined.is_none();
                        job.mined = Some(seen);
                        if first {
                            fault::point("l1sender.after-receipt");
                        }
                    }
                    if !receipt.status() {
                        return Err(self.mined_revert(&job.entry, &receipt).await);
                    }
                    if head >= block.saturating_add(self.config.confirmations) {
                        let canonical = self
                            .l1("eth_getBlockByNumber", |c| async move {
                                c.request("eth_getBlockByNumber", |p| async move {
                                    p.get_block_by_number(block.into()).await
                                })
                                .await
                            })
                            .await?
                            .map(|b| b.header.hash);
                        if canonical == Some(block_hash) {
                            info!(kind, key, nonce, hash = %receipt.transaction_hash, block,
                                confirmations = head - block, "L1 transaction confirmed");
                            self.record_balance().await;
                            return Ok(ConfirmedTx {
                                tx_hash: receipt.transaction_hash,
                                nonce,
                                block_number: block,
                                block_hash,
                                gas_used: receipt.gas_used,
                                effective_gas_price: receipt.effective_gas_price,
                                blob_gas_used: receipt.blob_gas_used,
                                blob_gas_price: receipt.blob_gas_price,
                            });
                        }
                        debug!(
                            kind,
                            key, block, "receipt's block is not canonical (reorg under way)"
                        );
                    }
                }
                None => {
                    if let Some((hash, block_hash)) = job.mined.take() {
                        warn!(kind, key, nonce, %hash, %block_hash,
                            "L1 reorg dropped the mined transaction; rebroadcasting it");
                        job.rebroadcast = true;
                    }
                    if account_nonce > nonce {
                        job.nonce_past_polls += 1;
                        // Twice in a row, so a lagging node behind a failover can't fool us.
                        if job.nonce_past_polls >= 2 {
                            return Err(SendError::NonceTaken {
                                kind,
                                key,
                                nonce,
                                account_nonce,
                            });
                        }
                    } else {
                        job.nonce_past_polls = 0;
                        if job.rebroadcast {
                            if let Some(last) = job.entry.last() {
                                info!(kind, key, nonce, hash = %last.hash,
                                    "rebroadcasting journaled L1 transaction");
                                self.broadcast(last).await?;
                            }
                            job.rebroadcast = false;
                            job.sent_at = head;
                        } else if head >= job.sent_at.saturating_add(self.config.bump_after_blocks)
                        {
                            self.bump(&mut job, head).await?;
                        }
                    }
                }
            }
            tokio::time::sleep(self.config.poll_interval).await;
        }
    }

    /// Replaces the job's newest transaction with one paying more (same nonce), within the
    /// caps; else keeps (and rebroadcasts) the newest one.
    async fn bump(&self, job: &mut Job, head: u64) -> Result<(), SendError> {
        let Some(last) = job.entry.last().cloned() else {
            return Ok(());
        };
        let old = Fees {
            max_fee_per_gas: last.max_fee_per_gas,
            max_priority_fee_per_gas: last.max_priority_fee_per_gas,
            max_fee_per_blob_gas: last.max_fee_per_blob_gas,
        };
        let market = self.market(old.max_fee_per_blob_gas.is_some()).await?;
        job.sent_at = head;
        match fees::replacement(old, market, &self.config) {
            Ok(fees) => {
                let unsigned = unsigned_from_raw(&last.raw)?.with_fees(fees);
                let sent = self.sign(unsigned, fees)?;
                job.entry.txs.push(sent.clone());
                self.journal.store(&job.entry)?;
                warn!(kind = job.entry.kind, key = job.entry.key, nonce = job.entry.nonce,
                    old = %last.hash, new = %sent.hash, max_fee_per_gas = fees.max_fee_per_gas,
                    max_priority_fee_per_gas = fees.max_priority_fee_per_gas,
                    max_fee_per_blob_gas = ?fees.max_fee_per_blob_gas,
                    "L1 transaction not mined in time: broadcasting a replacement with bumped fees");
                metrics::counter!("keel_l1_sender_fee_bumps_total", "account" => self.config.metrics_label)
                    .increment(1);
                self.broadcast(&sent).await
            }
            Err(over) => {
                if job
                    .cap_warned
                    .is_none_or(|t| t.elapsed() >= Duration::from_secs(60))
                {
                    warn!(
                        kind = job.entry.kind,
                        key = job.entry.key,
                        nonce = job.entry.nonce,
                        fee = over.field,
                        needed = over.needed,
                        cap = over.cap,
                        "L1 transaction not mined, and a replacement would pass the fee cap: \
                         keeping the current one"
                    );
                    job.cap_warned = Some(Instant::now());
                }
                // It may have been dropped from the pool meanwhile.
                self.broadcast(&last).await
            }
        }
    }

    /// The error for a job transaction mined with status 0; the reason comes from re-running
    /// the call on the parent block's state (best effort: other transactions of the block may
    /// have changed the outcome).
    async fn mined_revert(&self, entry: &JournalEntry, receipt: &TransactionReceipt) -> SendError {
        let hash = receipt.transaction_hash;
        let fallback = |why: String| SendError::Reverted {
            reason: why,
            data: Bytes::new(),
            tx_hash: Some(hash),
        };
        let Some(block) = receipt.block_number else {
            return fallback("reverted on L1".into());
        };
        let Some(raw) = entry
            .txs
            .iter()
            .find(|t| t.hash == hash)
            .map(|t| t.raw.clone())
        else {
            return fallback(format!("reverted on L1 in block {block}"));
        };
        let Ok(unsigned) = unsigned_from_raw(&raw) else {
            return fallback(format!("reverted on L1 in block {block}"));
        };
        let request = unsigned.call_request(self.address());
        let answer = self
            .l1("eth_call", |c| {
                let request = request.clone();
                async move {
                    c.request("eth_call", |p| {
                        let request = request.clone();
                        async move {
                            answer_or_refusal(
                                p.call(request).block(block.saturating_sub(1).into()).await,
                            )
                        }
                    })
                    .await
                }
            })
            .await;
        match answer {
            Ok(Err(refusal)) => match self.refusal_error(&refusal, Some(hash)) {
                SendError::Reverted {
                    reason,
                    data,
                    tx_hash,
                } => SendError::Reverted {
                    reason: format!("{reason} (mined in block {block})"),
                    data,
                    tx_hash,
                },
                _ => fallback(format!("reverted on L1 in block {block}")),
            },
            _ => fallback(format!(
                "reverted on L1 in block {block} (no reason recovered)"
            )),
        }
    }
}

/// A node's error answer.
#[derive(Debug, Clone)]
struct Refusal {
    code: i64,
    message: String,
    /// Revert data, if the answer carries any.
    data: Option<Bytes>,
}

/// Lets a node's error answer (other than a rate limit) through as a value, so the caller sees
/// the revert data; transport failures stay errors (for failover and retries).
fn answer_or_refusal<T>(
    result: Result<T, TransportError>,
) -> Result<Result<T, Refusal>, TransportError> {
    match result {
        Ok(v) => Ok(Ok(v)),
        Err(RpcError::ErrorResp(payload)) if !payload.is_retry_err() => Ok(Err(Refusal {
            code: payload.code,
            message: payload.message.to_string(),
            data: payload.as_revert_data(),
        })),
        Err(e) => Err(e),
    }
}

/// An unsigned job transaction.
enum Unsigned {
    Eip1559(TxEip1559),
    Eip4844(TxEip4844Variant),
}

fn build_tx(
    request: &L1TxRequest,
    chain_id: u64,
    nonce: u64,
    gas_limit: u64,
    fees: Fees,
) -> Unsigned {
    match &request.blob {
        None => Unsigned::Eip1559(TxEip1559 {
            chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: fees.max_fee_per_gas,
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
            to: TxKind::Call(request.to),
            value: request.value,
            access_list: Default::default(),
            input: request.input.clone(),
        }),
        Some(sidecar) => Unsigned::Eip4844(TxEip4844Variant::TxEip4844WithSidecar(
            TxEip4844WithSidecar {
                tx: TxEip4844 {
                    chain_id,
                    nonce,
                    gas_limit,
                    max_fee_per_gas: fees.max_fee_per_gas,
                    max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
                    to: request.to,
                    value: request.value,
                    access_list: Default::default(),
                    blob_versioned_hashes: sidecar.versioned_hashes().collect(),
                    max_fee_per_blob_gas: fees.max_fee_per_blob_gas.unwrap_or_default(),
                    input: request.input.clone(),
                },
                sidecar: sidecar.clone(),
            },
        )),
    }
}

/// The unsigned transaction inside a journaled raw one (to re-sign it with other fees).
fn unsigned_from_raw(raw: &Bytes) -> Result<Unsigned, SendError> {
    let envelope = TxEnvelope::decode_2718(&mut raw.as_ref()).map_err(|e| {
        SendError::Transaction(format!("journaled transaction does not decode: {e}"))
    })?;
    match envelope {
        TxEnvelope::Eip1559(signed) => Ok(Unsigned::Eip1559(signed.strip_signature())),
        TxEnvelope::Eip4844(signed) => Ok(Unsigned::Eip4844(signed.strip_signature())),
        other => Err(SendError::Transaction(format!(
            "journaled transaction of unexpected type {}",
            other.tx_type()
        ))),
    }
}

impl Unsigned {
    fn with_fees(self, fees: Fees) -> Self {
        match self {
            Self::Eip1559(mut tx) => {
                tx.max_fee_per_gas = fees.max_fee_per_gas;
                tx.max_priority_fee_per_gas = fees.max_priority_fee_per_gas;
                Self::Eip1559(tx)
            }
            Self::Eip4844(mut variant) => {
                let tx = match &mut variant {
                    TxEip4844Variant::TxEip4844(tx) => tx,
                    TxEip4844Variant::TxEip4844WithSidecar(with) => &mut with.tx,
                };
                tx.max_fee_per_gas = fees.max_fee_per_gas;
                tx.max_priority_fee_per_gas = fees.max_priority_fee_per_gas;
                if let Some(blob) = fees.max_fee_per_blob_gas {
                    tx.max_fee_per_blob_gas = blob;
                }
                Self::Eip4844(variant)
            }
        }
    }

    /// The call this transaction makes, for `eth_call`.
    fn call_request(&self, from: Address) -> TransactionRequest {
        let (to, input, value, hashes) = match self {
            Self::Eip1559(tx) => (tx.to.to().copied(), tx.input.clone(), tx.value, None),
            Self::Eip4844(variant) => {
                let tx = variant.tx();
                (
                    Some(tx.to),
                    tx.input.clone(),
                    tx.value,
                    Some(tx.blob_versioned_hashes.clone()),
                )
            }
        };
        let mut request = TransactionRequest::default()
            .with_from(from)
            .with_input(input)
            .with_value(value);
        if let Some(to) = to {
            request = request.with_to(to);
        }
        request.blob_versioned_hashes = hashes;
        request
    }
}
