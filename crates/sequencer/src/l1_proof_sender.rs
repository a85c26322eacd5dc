//! The L1ProofSender: once consecutive committed batches each have enough valid attestations in
//! the store (put there by the ProofCoordinator), it sends **one** `verifyBatches(firstBatch,
//! proofs)` to the OnChainProposer for the longest such run (at most `max_batches`), through the
//! node's nonce-safe L1 sender (`keel_l1::sender`), and records the verification once it has its
//! confirmations (docs/prover.md, Verification on L1).
//!
//! - **The run.** From the batch after the last verified one, batch by batch up to the last
//!   committed one: a batch joins the run when, for every verifier the OnChainProposer requires
//!   (`getVerifiers()`, in that order), it has `threshold()` stored proofs from distinct signers
//!   that verifier has registered (`isSigner`), each a 65-byte signature that recovers to its
//!   signer over the EIP-712 attestation digest of the public inputs L1 itself computes for the
//!   batch (`publicInputs(n)`). The first batch that falls short ends the run; nothing after a gap
//!   is sent. A batch's proof for one verifier is the concatenation of those signatures (the
//!   AttestationVerifier accepts them in any order; they are taken in signer-address order).
//!   Every verifier must be an AttestationVerifier: another kind stops the sender with
//!   [`ProofSenderError::UnsupportedVerifier`].
//! - **Restart safety.** Each `verifyBatches` is one job of the shared sender, keyed by its first
//!   batch, journaled before it is broadcast. At start the sender first resumes a journaled job
//!   (the batches it covers are read back from the journaled calldata) instead of building a new
//!   one, so a node killed after sending never sends a second transaction for the same batches;
//!   then it catches up with L1: batches L1 has verified (`lastVerifiedBatch`, `BatchVerified`
//!   events) that the store has not recorded, e.g. verified by someone else (`verifyBatches` is
//!   permissionless), are recorded from their events without sending anything. L1 is read
//!   `confirmations` blocks below its head for this, so a verification an L1 reorg may still drop
//!   is not recorded.
//! - **Never loops blindly.** A `verifyBatches` that L1 refuses (its simulation or its receipt
//!   reverts) stops the sender with the decoded error, which stops the node, unless L1 turns out
//!   to have verified those batches meanwhile. An L1 outage only delays it: reads are retried with
//!   a warning, and the L1 sender retries its own requests.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use alloy::{
    consensus::{Transaction as _, TxEnvelope},
    eips::{BlockId, eip2718::Decodable2718},
    primitives::{Address, B256, Bytes, Signature, U256, keccak256},
    sol_types::{SolCall, SolEvent, SolStruct},
};
use keel_l1::{
    L1Client, L1ClientError,
    contracts::{AttestationVerifier, OnChainProposer},
    fault,
    sender::{JournalEntry, L1Sender, L1TxRequest, SendError},
};
use keel_storage::{Store, StoreError, proofs::BatchVerification};
use keel_types::{PublicInputs, public_inputs::BatchAttestation};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// The journal kind of `verifyBatches` transactions (keyed by their first batch).
pub const VERIFY_JOB: &str = "verify";

/// Default of `max_batches`.
pub const DEFAULT_MAX_BATCHES_PER_VERIFY: u64 = 16;

/// The size of one attestation signature (`r ‖ s ‖ v`).
const SIGNATURE_LEN: usize = 65;

/// The backend name of attestations.
const EXEC_BACKEND: &str = "exec";

/// How the proof sender runs.
#[derive(Debug, Clone)]
pub struct L1ProofSenderConfig {
    /// The OnChainProposer proxy.
    pub on_chain_proposer: Address,
    /// The first L1 block to read `BatchVerified` events from (the deployment's).
    pub deploy_block: u64,
    /// Most batches in one `verifyBatches` (at least 1).
    pub max_batches: u64,
    /// How often to look for newly proven batches.
    pub poll_interval: Duration,
}

/// Why the proof sender stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProofSenderError {
    /// The store failed (or refused a verification record).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// L1 could not be read.
    #[error(transparent)]
    L1(#[from] L1ClientError),
    /// The OnChainProposer requires no verifier.
    #[error("the OnChainProposer {0} has no verifiers: nothing can be proven to it")]
    NoVerifiers(Address),
    /// A required verifier is not an AttestationVerifier.
    #[error(
        "verifier {verifier} of the OnChainProposer does not answer threshold() ({reason}): \
         only AttestationVerifiers are supported"
    )]
    UnsupportedVerifier {
        /// The verifier.
        verifier: Address,
        /// Why its `threshold()` failed.
        reason: String,
    },
    /// This node recorded more verified batches than L1 has.
    #[error(
        "this node recorded batch {local} as verified but L1's lastVerifiedBatch is {l1}; an \
         operator must look (an L1 reorg deeper than the confirmations, or another L1)"
    )]
    L1Behind {
        /// What the store says.
        local: u64,
        /// What L1 says.
        l1: u64,
    },
    /// L1's `BatchVerified` events don't cover what `lastVerifiedBatch` says.
    #[error("L1 verification history: {0}")]
    History(String),
    /// A journaled job is not a `verifyBatches` call.
    #[error("journaled verify job {key}: {reason}")]
    BadJournalEntry {
        /// The job's key.
        key: u64,
        /// What is wrong.
        reason: String,
    },
    /// Sending failed for good (a revert, a nonce taken by someone else).
    #[error("verifying batches {first}..={last}: {source}")]
    Send {
        /// The run's first batch.
        first: u64,
        /// Its last batch.
        last: u64,
        /// Why.
        source: SendError,
    },
}

impl ProofSenderError {
    /// True when L1 is only unreachable for now: retry later.
    pub fn is_unreachable(&self) -> bool {
        match self {
            Self::L1(e) => e.is_unreachable(),
            Self::Send { source, .. } => matches!(source, SendError::L1Unavailable { .. }),
            _ => false,
        }
    }
}

/// A run ready to send: its first batch and, per batch, one proof per verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyRun {
    /// The first batch.
    pub first: u64,
    /// `proofs[i][j]`: the proof of batch `first + i` for verifier `j`.
    pub proofs: Vec<Vec<Bytes>>,
}

impl VerifyRun {
    /// The last batch of the run.
    pub fn last(&self) -> u64 {
        self.first + self.proofs.len() as u64 - 1
    }
}

/// Sends `verifyBatches` for proven batches. See the module docs.
pub struct L1ProofSender {
    config: L1ProofSenderConfig,
    store: Store,
    client: L1Client,
    sender: Arc<L1Sender>,
    l1_chain_id: tokio::sync::OnceCell<u64>,
    /// The last "batch N waits for proofs" state logged, so it is logged once per change.
    waiting: Mutex<Option<(u64, String)>>,
}

impl std::fmt::Debug for L1ProofSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L1ProofSender")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The batches a `verifyBatches` calldata covers.
pub fn decode_verify_call(input: &[u8]) -> Option<(u64, u64)> {
    let call = OnChainProposer::verifyBatchesCall::abi_decode(input).ok()?;
    let first = u64::try_from(call.firstBatch).ok()?;
    let count = call.proofs.len() as u64;
    (count > 0).then(|| (first, first + count - 1))
}

fn journaled_batches(entry: &JournalEntry) -> Result<(u64, u64), ProofSenderError> {
    let bad = |reason: String| ProofSenderError::BadJournalEntry {
        key: entry.key,
        reason,
    };
    let last = entry
        .last()
        .ok_or_else(|| bad("no transaction journaled".into()))?;
    let envelope = TxEnvelope::decode_2718(&mut last.raw.as_ref())
        .map_err(|e| bad(format!("the transaction does not decode: {e}")))?;
    decode_verify_call(envelope.input())
        .ok_or_else(|| bad("not a verifyBatches call with proofs".into()))
}

impl L1ProofSender {
    /// A proof sender for the batches in `store`, reading L1 through `client` and sending
    /// through `sender` (the committer's, or one of its own account).
    pub fn new(
        config: L1ProofSenderConfig,
        store: Store,
        client: L1Client,
        sender: Arc<L1Sender>,
    ) -> Self {
        Self {
            config,
            store,
            client,
            sender,
            l1_chain_id: tokio::sync::OnceCell::new(),
            waiting: Mutex::new(None),
        }
    }

    /// Verifies batches until `shutdown` is cancelled; returns an error when it can't go on.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ProofSenderError> {
        info!(
            proposer = %self.config.on_chain_proposer,
            sender = %self.sender.address(),
            max_batches = self.config.max_batches,
            "L1 proof sender started"
        );
        let mut outage = false;
        loop {
            let started = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                started = self.start() => started,
            };
            match started {
                Ok(()) => {
                    if let Ok(last) = self.store.last_verified_batch() {
                        crate::batch_metrics::set_last("verified", last);
                    }
                    break;
                }
                Err(e) if e.is_unreachable() => self.outage(&mut outage, &e),
                Err(e) => return Err(e),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
        loop {
            let verified = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                verified = self.verify_next() => verified,
            };
            let sent = match verified {
                Ok(sent) => {
                    if outage {
                        info!("L1 reachable again: the proof sender goes on");
                        outage = false;
                    }
                    sent
                }
                Err(e) if e.is_unreachable() => {
                    self.outage(&mut outage, &e);
                    false
                }
                Err(e) => return Err(e),
            };
            if !sent {
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(self.config.poll_interval) => {}
                }
            }
        }
    }

    fn outage(&self, outage: &mut bool, error: &ProofSenderError) {
        if !*outage {
            warn!(error = %error, retry_every = ?self.config.poll_interval,
                "L1 unreachable: the proof sender waits and retries");
            *outage = true;
        } else {
            debug!(error = %error, "L1 still unreachable");
        }
    }

    /// Resumes a journaled `verifyBatches`, then records what L1 has verified (module docs).
    pub async fn start(&self) -> Result<(), ProofSenderError> {
        self.sender.record_balance().await;
        let jobs = self
            .sender
            .pending_jobs()
            .map_err(|source| ProofSenderError::Send {
                first: 0,
                last: 0,
                source,
            })?;
        for entry in jobs.into_iter().filter(|e| e.kind == VERIFY_JOB) {
            let (first, last) = journaled_batches(&entry)?;
            if last <= self.store.last_verified_batch()? {
                self.finish(entry.key);
                continue;
            }
            info!(
                batches = format!("{first}..={last}"),
                nonce = entry.nonce,
                "resuming the journaled verifyBatches instead of sending a new one"
            );
            self.send_run(entry.key, first, last, L1TxRequest::default())
                .await?;
        }
        self.catch_up().await?;
        Ok(())
    }

    /// Records the batches L1 has verified (as of `confirmations` blocks below its head) that the
    /// store has not, from their `BatchVerified` events. Sends nothing. Returns L1's
    /// `lastVerifiedBatch` at its head (which may be ahead of what was recorded).
    pub async fn catch_up(&self) -> Result<u64, ProofSenderError> {
        let proposer = self.config.on_chain_proposer;
        let head = self.client.block_number().await?;
        let l1_latest = self.l1_last_verified(BlockId::latest()).await?;
        let local = self.store.last_verified_batch()?;
        if local > l1_latest {
            return Err(ProofSenderError::L1Behind {
                local,
                l1: l1_latest,
            });
        }
        let settled_block = head.saturating_sub(self.sender.config().confirmations);
        let l1_settled = self
            .l1_last_verified(BlockId::number(settled_block))
            .await?;
        let upto = l1_settled.min(self.store.last_committed_batch()?);
        if upto <= local {
            return Ok(l1_latest);
        }
        let mut events: BTreeMap<u64, (B256, u64)> = BTreeMap::new();
        for log in self
            .client
            .get_logs(
                proposer,
                OnChainProposer::BatchVerified::SIGNATURE_HASH,
                self.config.deploy_block,
                settled_block,
            )
            .await?
        {
            let Some(number) = log
                .topics()
                .get(1)
                .and_then(|t| u64::try_from(U256::from_be_bytes(t.0)).ok())
            else {
                return Err(ProofSenderError::History(
                    "a BatchVerified event without a batch number".into(),
                ));
            };
            let (Some(tx), Some(block)) = (log.transaction_hash, log.block_number) else {
                return Err(ProofSenderError::History(format!(
                    "the BatchVerified event of batch {number} has no transaction or block"
                )));
            };
            events.insert(number, (tx, block));
        }
        let mut first = local + 1;
        while first <= upto {
            let (tx_hash, l1_block) = *events.get(&first).ok_or_else(|| {
                ProofSenderError::History(format!(
                    "L1 has verified batch {first} but no BatchVerified event for it is found \
                     from L1 block {} to {settled_block}",
                    self.config.deploy_block
                ))
            })?;
            let mut last = first;
            while last < upto && events.get(&(last + 1)).is_some_and(|(t, _)| *t == tx_hash) {
                last += 1;
            }
            self.store.mark_batches_verified(
                first,
                last,
                &BatchVerification { tx_hash, l1_block },
            )?;
            info!(
                batches = format!("{first}..={last}"),
                tx = %tx_hash,
                l1_block,
                "found batches already verified on L1; recorded them"
            );
            first = last + 1;
        }
        Ok(l1_latest)
    }

    /// `lastVerifiedBatch()` at `at`; 0 where the proposer has no code yet (a block before
    /// the deployment finished).
    async fn l1_last_verified(&self, at: BlockId) -> Result<u64, ProofSenderError> {
        let call = OnChainProposer::lastVerifiedBatchCall {};
        let out = self
            .client
            .call(
                self.config.on_chain_proposer,
                Bytes::from(call.abi_encode()),
                at,
            )
            .await?;
        if out.is_empty() {
            return Ok(0);
        }
        let last =
            OnChainProposer::lastVerifiedBatchCall::abi_decode_returns(&out).map_err(|e| {
                L1ClientError::Decode {
                    what: OnChainProposer::lastVerifiedBatchCall::SIGNATURE,
                    message: e.to_string(),
                }
            })?;
        Ok(u64::try_from(last).unwrap_or(u64::MAX))
    }

    async fn l1_chain_id(&self) -> Result<u64, ProofSenderError> {
        Ok(*self
            .l1_chain_id
            .get_or_try_init(|| self.client.chain_id())
            .await?)
    }

    /// The longest run of proven batches after the last verified one (module docs), or `None`
    /// if the next batch lacks proofs (or nothing is committed beyond it).
    pub async fn next_run(&self) -> Result<Option<VerifyRun>, ProofSenderError> {
        let first = self.store.last_verified_batch()? + 1;
        let last_committed = self.store.last_committed_batch()?;
        if first > last_committed {
            return Ok(None);
        }
        if self.store.batch_proofs(first)?.is_empty() {
            // Nothing to check on L1 yet.
            self.log_waiting(first, "no attestation".into());
            return Ok(None);
        }
        let proposer = self.config.on_chain_proposer;
        let verifiers = self
            .client
            .call_sol(
                proposer,
                &OnChainProposer::getVerifiersCall {},
                BlockId::latest(),
            )
            .await?;
        if verifiers.is_empty() {
            return Err(ProofSenderError::NoVerifiers(proposer));
        }
        let mut thresholds = Vec::with_capacity(verifiers.len());
        for verifier in &verifiers {
            let threshold = match self
                .client
                .call_sol(
                    *verifier,
                    &AttestationVerifier::thresholdCall {},
                    BlockId::latest(),
                )
                .await
            {
                Ok(t) => usize::try_from(t).unwrap_or(usize::MAX),
                Err(e) if e.is_unreachable() => return Err(e.into()),
                Err(e) => {
                    return Err(ProofSenderError::UnsupportedVerifier {
                        verifier: *verifier,
                        reason: e.to_string(),
                    });
                }
            };
            thresholds.push(threshold.max(1));
        }
        let chain_id = self.l1_chain_id().await?;
        let domain = PublicInputs::attestation_domain(chain_id, proposer);
        let mut registered: HashMap<(Address, Address), bool> = HashMap::new();
        let last = last_committed.min(first.saturating_add(self.config.max_batches.max(1) - 1));
        let mut run = Vec::new();
        'batches: for number in first..=last {
            let l1_inputs = self
                .client
                .call_sol(
                    proposer,
                    &OnChainProposer::publicInputsCall {
                        batchNumber: U256::from(number),
                    },
                    BlockId::latest(),
                )
                .await?;
            let digest = BatchAttestation {
                batchNumber: U256::from(number),
                publicInputsHash: keccak256(&l1_inputs),
            }
            .eip712_signing_hash(&domain);
            let stored = self.store.batch_proofs(number)?;
            let mut per_verifier = Vec::with_capacity(verifiers.len());
            for (verifier, &threshold) in verifiers.iter().zip(&thresholds) {
                let mut proof = Vec::with_capacity(threshold * SIGNATURE_LEN);
                let mut count = 0;
                for (signer, p) in &stored {
                    if count == threshold {
                        break;
                    }
                    if p.backend != EXEC_BACKEND
                        || p.proof.len() != SIGNATURE_LEN
                        || p.public_inputs != l1_inputs
                    {
                        warn!(batch = number, %signer, backend = p.backend,
                            "stored proof does not match L1's public inputs of the batch; not counted");
                        continue;
                    }
                    let recovered = Signature::try_from(p.proof.as_ref())
                        .ok()
                        .and_then(|s| s.recover_address_from_prehash(&digest).ok());
                    if recovered != Some(*signer) {
                        warn!(batch = number, %signer, "stored attestation is not signed by its signer; not counted");
                        continue;
                    }
                    let is_signer = match registered.get(&(*verifier, *signer)) {
                        Some(known) => *known,
                        None => {
                            let known = self
                                .client
                                .call_sol(
                                    *verifier,
                                    &AttestationVerifier::isSignerCall(*signer),
                                    BlockId::latest(),
                                )
                                .await?;
                            registered.insert((*verifier, *signer), known);
                            known
                        }
                    };
                    if !is_signer {
                        debug!(batch = number, %signer, %verifier, "signer not registered; not counted");
                        continue;
                    }
                    proof.extend_from_slice(&p.proof);
                    count += 1;
                }
                if count < threshold {
                    self.log_waiting(
                        number,
                        format!("{count} of {threshold} attestations for verifier {verifier}"),
                    );
                    break 'batches;
                }
                per_verifier.push(Bytes::from(proof));
            }
            run.push(per_verifier);
        }
        if run.is_empty() {
            return Ok(None);
        }
        Ok(Some(VerifyRun { first, proofs: run }))
    }

    fn log_waiting(&self, batch: u64, have: String) {
        if let Ok(mut waiting) = self.waiting.lock() {
            let state = (batch, have);
            if waiting.as_ref() != Some(&state) {
                info!(
                    batch,
                    have = state.1,
                    "batch waits for proofs; the run to verify stops before it"
                );
                *waiting = Some(state);
            }
        }
    }

    /// Records what L1 verified, then sends `verifyBatches` for the next run if there is one;
    /// returns whether it verified something.
    pub async fn verify_next(&self) -> Result<bool, ProofSenderError> {
        let l1_latest = self.catch_up().await?;
        if l1_latest > self.store.last_verified_batch()? {
            // Verified on L1 by someone else, not yet `confirmations` deep: record it then.
            debug!(
                l1_latest,
                "L1 has verified batches not yet settled; waiting"
            );
            return Ok(false);
        }
        let Some(run) = self.next_run().await? else {
            return Ok(false);
        };
        let (first, last) = (run.first, run.last());
        let call = OnChainProposer::verifyBatchesCall {
            firstBatch: U256::from(first),
            proofs: run.proofs,
        };
        let request = L1TxRequest::call(self.config.on_chain_proposer, call.abi_encode());
        info!(
            batches = format!("{first}..={last}"),
            "sending verifyBatches"
        );
        self.send_run(first, first, last, request).await?;
        Ok(true)
    }

    /// Sends (or resumes) job `key` verifying `first..=last`, then records it.
    async fn send_run(
        &self,
        key: u64,
        first: u64,
        last: u64,
        request: L1TxRequest,
    ) -> Result<(), ProofSenderError> {
        let confirmed = match self.sender.send(VERIFY_JOB, key, request).await {
            Ok(confirmed) => confirmed,
            Err(source @ (SendError::Reverted { .. } | SendError::NonceTaken { .. })) => {
                // Someone else may have verified these batches meanwhile.
                let l1_latest = self.catch_up().await?;
                if l1_latest >= last {
                    warn!(batches = format!("{first}..={last}"), error = %source,
                        "verifyBatches failed but L1 has verified these batches: they are \
                         recorded from L1's events");
                    self.finish(key);
                    return Ok(());
                }
                return Err(ProofSenderError::Send {
                    first,
                    last,
                    source,
                });
            }
            Err(source) => {
                return Err(ProofSenderError::Send {
                    first,
                    last,
                    source,
                });
            }
        };
        // Crash tests stop the node here: confirmed on L1, not yet recorded.
        fault::point("proof-sender.after-confirmation");
        let verification = BatchVerification {
            tx_hash: confirmed.tx_hash,
            l1_block: confirmed.block_number,
        };
        let local = self.store.last_verified_batch()?;
        if local + 1 < first {
            // Batches before the run were verified by someone else: record them first.
            self.catch_up().await?;
        }
        let local = self.store.last_verified_batch()?;
        if local < last {
            self.store
                .mark_batches_verified(first.max(local + 1), last, &verification)?;
            metrics::counter!("keel_batches_verified_total")
                .increment(last - first.max(local + 1) + 1);
        }
        crate::batch_metrics::set_last("verified", local.max(last));
        crate::batch_metrics::record_confirmed(crate::batch_metrics::VERIFY, &confirmed);
        self.finish(key);
        info!(
            batches = format!("{first}..={last}"),
            tx = %confirmed.tx_hash,
            l1_block = confirmed.block_number,
            gas_used = confirmed.gas_used,
            since_last_block = %self.since_last_block(last),
            "batches verified on L1: their withdrawals are claimable"
        );
        Ok(())
    }

    /// How long ago batch `number`'s last block was made (from its timestamp): the time from a
    /// withdrawal in that block to it being claimable on L1. `?` if unknown.
    fn since_last_block(&self, number: u64) -> String {
        let timestamp = self
            .store
            .batch(number)
            .ok()
            .flatten()
            .and_then(|batch| {
                let reader = self.store.reader().ok()?;
                keel_storage::ChainReader::header(&reader, &batch.last_block_hash)
                    .ok()
                    .flatten()
            })
            .map(|header| header.timestamp);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        match timestamp {
            Some(t) => format!("{}s", now.saturating_sub(t)),
            None => "?".into(),
        }
    }

    fn finish(&self, key: u64) {
        if let Err(e) = self.sender.finish(VERIFY_JOB, key) {
            warn!(key, error = %e, "can't clear the verify job's journal entry");
        }
    }
}
