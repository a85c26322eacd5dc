//! `keel-bench da`: how many L2 transfers one EIP-4844 blob holds when a batch posts its state
//! diff, in each of the four payload encodings (v1/v2 × raw/brotli), on real chains.
//!
//! Each workload builds a chain with [`ChainGenerator`] (keel's payload builder on an in-memory
//! store) and feeds every block to a [`BatchDiffBuilder`], as the sequencer's batch sealer does.
//! After each block the batch's diff is built and each encoding still fitting is sized; the run
//! ends when none fits any more (or at `max_txs`). Blocks hold `block_txs` transfers while every
//! encoding is far from the limit and shrink as one approaches it (down to one transfer), so the
//! count reported for an encoding is the largest prefix of the transfer sequence whose batch fits,
//! exact to the transfer when the run saw it overflow at the next one.
//!
//! Brotli (`BROTLI_QUALITY`) is the slow part, so a brotli size is only computed once the raw payload
//! of the same version is within [`BROTLI_SLACK`] of the limit: below that the compressed payload
//! cannot exceed it (brotli's worst case adds a few bytes per 64 KiB to incompressible input).
//!
//! For the fullest batch of the first workload it also times what the sealer and committer do
//! with it (build the diff, choose the smallest payload, pack the blob, KZG sidecar), commits it
//! with its blob through keel's real `commitBatch` on anvil to read the L1 gas and blob gas, and
//! verifies it (`verifyBatches`, one batch, 2-of-3 attestations) to read that gas too.
//!
//! The chains run the L1 fee rule (`keel_types::fees`, docs/fees.md) at
//! [`DaOptions::fee_scalars`] and the L1 prices [`DaOptions::chain_prices`]. For each workload's
//! fullest batch the fees collected are the L1 fee vault's balance increase over the batch's
//! blocks, checked against the sum of `FeeParams::l1_fee` over its transactions; the L1 cost is one
//! blob (131,072 blob gas × blob base fee) plus `commitBatch` and `verifyBatches` gas (measured
//! once, on workload 1's batch: the execution gas does not depend on the blob's content) × L1 base
//! fee. Both are given at each of [`PRICE_POINTS`]: fees are `FeeParams::l1_fee` summed over the
//! batch's transaction sizes at those prices (at the chains' own prices, that sum is the vault's).
//!
//! The fullest batch is what a batch held until its blob fills would collect; the node also seals
//! a batch as soon as its fees cover its L1 cost 1.1× (`BatchSealer`, docs/fees.md). So each
//! workload's blocks are also cut into batches the way the node seals them ([`SealedWalk`], one
//! per price point): from the first block, the open batch's fees are summed (the vault's gain at
//! the chains' own prices, checked against Σ `l1_fee`; Σ `l1_fee` at the other point), and the
//! batch is sealed after the first block where they reach [`SEAL_AT_FEE_COVERAGE_PERMILLE`] of
//! `batch_l1_cost(prices, DEFAULT_BATCH_L1_GAS, blob)`, or before a block that would not fit its
//! blob, whichever comes first. Its cost uses the measured commit and verify gas.

use std::{path::PathBuf, time::Duration, time::Instant};

use alloy::{consensus::BlobTransactionSidecar, rpc::types::TransactionReceipt};
use alloy_eips::Encodable2718;
use alloy_primitives::{B256, U256};
use eyre::{WrapErr, bail, eyre};
use keel_chain::{BatchDiffBuilder, BatchDiffError};
use keel_storage::{StateReader, StoreReader};
use keel_types::{
    Block, FeeParams, FeeScalars, L1Prices, StateDiff, Transaction,
    blob::{
        Codec, MAX_BLOB_PAYLOAD, PayloadSizes, encode_state_diff_payload_as, pack_blob,
        smallest_state_diff_payload,
    },
    fees::{self, DEFAULT_FEE_PARAMS, GAS_PRICE_ORACLE_ADDRESS},
    state_diff::DiffVersion,
};
use serde_json::json;

use crate::{
    chaingen::{
        Amounts, ChainGenConfig, ChainGenerator, ETHER, GWEI, L1_FEE_VAULT, Recipients, Workload,
    },
    l1_gas::{Batch, L1Deployment, TWO_OF_THREE, deploy_on_anvil, send, thousands, verify_batches},
};

/// Below `limit - BROTLI_SLACK` bytes of raw payload, the brotli payload surely fits too.
pub const BROTLI_SLACK: usize = 1024;
/// Blob gas of one blob (EIP-4844 `GAS_PER_BLOB`).
pub const GAS_PER_BLOB: u64 = 131_072;

/// L1 prices at which the report compares fees and cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PricePoint {
    pub name: &'static str,
    pub prices: L1Prices,
}

/// The two price points of the report: one where the blob dominates the L1 cost, one where the
/// execution gas of `commitBatch` and `verifyBatches` does.
pub const PRICE_POINTS: [PricePoint; 2] = [
    PricePoint {
        name: "(a) blob-dominated: L1 base fee 1 gwei, blob base fee 10 gwei",
        prices: L1Prices {
            base_fee: GWEI as u64,
            blob_base_fee: 10 * GWEI as u64,
        },
    },
    PricePoint {
        name: "(b) execution-dominated: L1 base fee 20 gwei, blob base fee 1 wei",
        prices: L1Prices {
            base_fee: 20 * GWEI as u64,
            blob_base_fee: 1,
        },
    },
];

/// The four payload encodings, in table order.
pub const ENCODINGS: [(DiffVersion, Codec); 4] = [
    (DiffVersion::V1, Codec::Raw),
    (DiffVersion::V1, Codec::Brotli),
    (DiffVersion::V2, Codec::Raw),
    (DiffVersion::V2, Codec::Brotli),
];

/// `v1 raw`, `v2 brotli`, ….
pub fn encoding_name(version: DiffVersion, codec: Codec) -> &'static str {
    match (version, codec) {
        (DiffVersion::V1, Codec::Raw) => "v1 raw",
        (DiffVersion::V1, Codec::Brotli) => "v1 brotli",
        (DiffVersion::V2, Codec::Raw) => "v2 raw",
        (DiffVersion::V2, Codec::Brotli) => "v2 brotli",
    }
}

/// The shape of a workload's transfers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaWorkload {
    /// Every funded account sends ETH, round-robin, to distinct new recipients (each receives
    /// once).
    EthNewRecipients,
    /// The funded accounts send ETH among themselves (random recipients).
    EthTrading,
    /// As [`EthNewRecipients`](Self::EthNewRecipients) with BenchToken transfers.
    Erc20NewRecipients,
    /// As [`EthTrading`](Self::EthTrading) with BenchToken transfers.
    Erc20Trading,
}

impl DaWorkload {
    /// All four, in report order.
    pub const ALL: [Self; 4] = [
        Self::EthNewRecipients,
        Self::EthTrading,
        Self::Erc20NewRecipients,
        Self::Erc20Trading,
    ];

    /// Short name for tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::EthNewRecipients => "ETH to new recipients",
            Self::EthTrading => "ETH trading",
            Self::Erc20NewRecipients => "ERC20 to new recipients",
            Self::Erc20Trading => "ERC20 trading",
        }
    }

    fn workload(self) -> Workload {
        match self {
            Self::EthNewRecipients | Self::EthTrading => Workload::EthTransfer,
            Self::Erc20NewRecipients | Self::Erc20Trading => Workload::Erc20Transfer,
        }
    }

    fn recipients(self) -> Recipients {
        match self {
            Self::EthNewRecipients | Self::Erc20NewRecipients => Recipients::Fresh,
            Self::EthTrading | Self::Erc20Trading => Recipients::Accounts,
        }
    }
}

/// How to run the benchmark.
#[derive(Debug, Clone)]
pub struct DaOptions {
    /// Funded accounts (the senders; the traders).
    pub accounts: usize,
    /// Transfers per block while no encoding is near the limit.
    pub block_txs: usize,
    /// Stop a workload after this many transfers even if some encoding still fits.
    pub max_txs: usize,
    /// The largest payload that fits (a blob's: [`MAX_BLOB_PAYLOAD`]; smaller in tests).
    pub max_payload: usize,
    /// Seeds recipients and amounts.
    pub seed: u64,
    /// Runs of each timed step (the median is reported).
    pub runs: usize,
    /// Workloads to run; the first one's fullest batch is timed and committed on L1.
    pub workloads: Vec<DaWorkload>,
    /// Commit the fullest batch on a local anvil.
    pub l1: bool,
    /// The anvil binary; found with `keel_l1::find_anvil` if unset.
    pub anvil: Option<PathBuf>,
    /// The scalars of the chains' L1 fee rule (the GasPriceOracle's at genesis).
    pub fee_scalars: FeeScalars,
    /// The L1 prices every block of the chains charges at (the genesis oracle's).
    pub chain_prices: L1Prices,
}

impl Default for DaOptions {
    fn default() -> Self {
        Self {
            accounts: 1_000,
            block_txs: 50,
            max_txs: 10_000,
            max_payload: MAX_BLOB_PAYLOAD,
            seed: 1,
            runs: 5,
            workloads: DaWorkload::ALL.to_vec(),
            l1: true,
            anvil: None,
            fee_scalars: DEFAULT_FEE_PARAMS.scalars,
            chain_prices: PRICE_POINTS[0].prices,
        }
    }
}

/// The largest batch one encoding fits in a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodingFit {
    pub version: DiffVersion,
    pub codec: Codec,
    /// Transfers in the largest prefix whose batch fits (0 if not even the first block fits).
    pub transfers: usize,
    /// Its payload size (codec byte included).
    pub payload_bytes: usize,
    /// Transfers at which the batch first did not fit in this encoding; `None` if the run
    /// stopped at `max_txs` with the batch still fitting. `transfers + 1` means exact.
    pub overflow_at: Option<usize>,
}

impl EncodingFit {
    /// Payload bytes per transfer.
    pub fn bytes_per_transfer(&self) -> f64 {
        self.payload_bytes as f64 / self.transfers.max(1) as f64
    }
}

/// The L1 fees of a workload's fullest batch, and what its sizes say about the size estimate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFees {
    /// The fee params every block of the batch charged at (from the GasPriceOracle, and its
    /// prices from each header's `extraData`).
    pub params: FeeParams,
    /// EIP-2718 length of each of the batch's transactions (none is privileged).
    pub tx_lens: Vec<usize>,
    /// The L1 fee vault's balance increase over the batch's blocks.
    pub collected: U256,
    /// Payload size of the encoding the committer picks for the batch (codec byte included).
    pub payload_bytes: usize,
}

impl BatchFees {
    pub fn transactions(&self) -> usize {
        self.tx_lens.len()
    }

    /// Mean EIP-2718 length of the batch's signed transactions.
    pub fn mean_tx_len(&self) -> f64 {
        self.tx_lens.iter().sum::<usize>() as f64 / self.transactions().max(1) as f64
    }

    /// Mean payload bytes per transaction.
    pub fn payload_per_tx(&self) -> f64 {
        self.payload_bytes as f64 / self.transactions().max(1) as f64
    }

    /// Σ `fees::estimated_size` over the batch's transactions, in bytes.
    pub fn estimated_size(&self) -> f64 {
        let millionths: U256 = self
            .tx_lens
            .iter()
            .map(|&len| fees::estimated_size(len))
            .fold(U256::ZERO, |a, b| a + b);
        u256_f64(millionths) / 1e6
    }

    /// What the chain would have collected for the batch charging at `prices` (the chain's
    /// scalars): Σ `FeeParams::l1_fee`. At the chain's own prices this is [`Self::collected`].
    pub fn fees_at(&self, prices: L1Prices) -> U256 {
        let params = FeeParams {
            prices,
            ..self.params
        };
        self.tx_lens
            .iter()
            .map(|&len| params.l1_fee(len))
            .fold(U256::ZERO, |a, b| a + b)
    }
}

/// What one workload showed.
#[derive(Debug, Clone)]
pub struct WorkloadReport {
    pub workload: DaWorkload,
    /// One per [`ENCODINGS`] entry, same order.
    pub fits: Vec<EncodingFit>,
    /// Transfers in the fullest batch that fits in some encoding.
    pub fullest_transfers: usize,
    /// The encoding `smallest_state_diff_payload` picks for that batch.
    pub chosen: (DiffVersion, Codec),
    /// The four payload sizes of that batch.
    pub fullest_sizes: PayloadSizes,
    /// Accounts and storage slots in that batch's diff.
    pub fullest_accounts: usize,
    pub fullest_slots: usize,
    /// The L1 fees of that batch.
    pub fees: BatchFees,
    /// The run's blocks cut into batches as the node seals them, one walk per [`PRICE_POINTS`]
    /// entry (same order).
    pub sealed: Vec<SealedWalk>,
    /// Blocks built (and fed to the diff builder) in the run.
    pub blocks: usize,
    /// Wall time of the workload (chain building, diffs, encodings).
    pub elapsed: Duration,
}

/// Medians of the steps that turn the fullest batch into a blob transaction's sidecar.
#[derive(Debug, Clone)]
pub struct BlobTimings {
    pub transfers: usize,
    pub runs: usize,
    /// `BatchDiffBuilder::build`.
    pub build: Duration,
    /// `smallest_state_diff_payload` (encodes v1 and v2, brotli on each).
    pub choose: Duration,
    /// `pack_blob`.
    pub pack: Duration,
    /// `keel_l1::sender::blob_sidecar` (KZG commitment and proof) and its versioned hash.
    pub kzg: Duration,
}

impl BlobTimings {
    /// The four steps together.
    pub fn total(&self) -> Duration {
        self.build + self.choose + self.pack + self.kzg
    }
}

/// The L1 cost of committing the fullest batch with its blob.
#[derive(Debug, Clone)]
pub struct L1Cost {
    pub client_version: String,
    pub hardfork: String,
    pub transfers: usize,
    /// `gasUsed` of the first commit ever (one-time zero→nonzero writes), same blob.
    pub first_commit_gas: u64,
    /// `gasUsed` of a later commit of the batch (what every batch pays).
    pub gas_used: u64,
    /// `blobGasUsed` of that receipt.
    pub blob_gas_used: u64,
    pub blob_versioned_hash: B256,
    /// `gasUsed` of `verifyBatches` for the first batch ever (one-time writes), 2-of-3.
    pub first_verify_gas: u64,
    /// `gasUsed` of a later `verifyBatches` of one batch, 2-of-3 (what every batch pays).
    pub verify_gas: u64,
}

impl L1Cost {
    /// L1 execution gas every batch pays: its commit and its share of a one-batch verify.
    pub fn execution_gas(&self) -> u64 {
        self.gas_used + self.verify_gas
    }

    /// What a batch with one blob costs on L1 at `prices`, in wei: (blob, execution).
    pub fn cost_at(&self, prices: L1Prices) -> (U256, U256) {
        (
            U256::from(self.blob_gas_used) * U256::from(prices.blob_base_fee),
            U256::from(self.execution_gas()) * U256::from(prices.base_fee),
        )
    }
}

/// Fees against cost of one batch at one price point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coverage {
    pub point: PricePoint,
    /// Fees collected for the batch at the point's prices (wei).
    pub fees: U256,
    /// Whether `fees` is the chain's own L1 fee vault (the chain ran at these prices).
    pub from_vault: bool,
    /// Blob and execution cost at the point's prices (wei).
    pub blob_cost: U256,
    pub execution_cost: U256,
}

impl Coverage {
    pub fn cost(&self) -> U256 {
        self.blob_cost + self.execution_cost
    }

    /// fees / cost (the target is 1.0–1.2).
    pub fn ratio(&self) -> f64 {
        u256_f64(self.fees) / u256_f64(self.cost()).max(f64::MIN_POSITIVE)
    }
}

/// Fees against cost of `fees`'s batch at each of [`PRICE_POINTS`].
pub fn coverage(fees: &BatchFees, cost: &L1Cost) -> Vec<Coverage> {
    PRICE_POINTS
        .iter()
        .map(|&point| {
            let from_vault = point.prices == fees.params.prices;
            let (blob_cost, execution_cost) = cost.cost_at(point.prices);
            Coverage {
                point,
                fees: if from_vault {
                    fees.collected
                } else {
                    fees.fees_at(point.prices)
                },
                from_vault,
                blob_cost,
                execution_cost,
            }
        })
        .collect()
}

/// The coverage a batch sealed on fees aims at, in thousandths: the node's default
/// (`keel_sequencer::batch_sealer::DEFAULT_SEAL_AT_FEE_COVERAGE_PERMILLE`, 1,100 = 1.1×).
pub const SEAL_AT_FEE_COVERAGE_PERMILLE: u32 =
    keel_sequencer::batch_sealer::DEFAULT_SEAL_AT_FEE_COVERAGE_PERMILLE;

/// What closed a batch of a [`SealedWalk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedBy {
    /// Its L1 fees reached [`SEAL_AT_FEE_COVERAGE_PERMILLE`] of its L1 cost after its last block.
    Fees,
    /// The next block would not have fit its blob.
    Blob,
    /// Neither happened before the run ended: the batch was still open.
    Open,
}

impl SealedBy {
    pub fn name(self) -> &'static str {
        match self {
            Self::Fees => "fees",
            Self::Blob => "blob",
            Self::Open => "open",
        }
    }
}

/// A batch as the node's `BatchSealer` closes it on a busy chain (before its commit time): after
/// the first block where its L1 fees × 1000 reach `batch_l1_cost(last block's prices,
/// DEFAULT_BATCH_L1_GAS, blob)` × [`SEAL_AT_FEE_COVERAGE_PERMILLE`], or before a block that would
/// not fit its blob, whichever comes first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBatch {
    pub sealed_by: SealedBy,
    pub first_block: u64,
    pub last_block: u64,
    /// EIP-2718 length of each of its transactions.
    pub tx_lens: Vec<usize>,
    /// Its L1 fees at the walk's prices: the L1 fee vault's balance increase over its blocks
    /// (checked equal to Σ `FeeParams::l1_fee`) when the chain ran at them, else Σ `l1_fee`.
    pub fees: U256,
    /// The part of `fees` its last block brought.
    pub last_block_fees: U256,
    /// The prices of its last block.
    pub prices: L1Prices,
    /// Payload size of the encoding the committer picks for it (codec byte included).
    pub payload_bytes: usize,
}

impl SealedBatch {
    pub fn transactions(&self) -> usize {
        self.tx_lens.len()
    }

    /// What the seal rule compares the fees with: `batch_l1_cost` with `DEFAULT_BATCH_L1_GAS`.
    pub fn threshold_cost(&self) -> U256 {
        fees::batch_l1_cost(&self.prices, fees::DEFAULT_BATCH_L1_GAS, true)
    }

    /// What it costs on L1: the measured blob gas and commit + verify gas at its last block's
    /// prices, or (without an L1 measurement) `batch_l1_cost` with `DEFAULT_BATCH_L1_GAS`.
    pub fn cost(&self, l1: Option<&L1Cost>) -> U256 {
        match l1 {
            Some(c) => {
                let (blob, execution) = c.cost_at(self.prices);
                blob + execution
            }
            None => self.threshold_cost(),
        }
    }

    /// fees / [`Self::cost`].
    pub fn coverage(&self, l1: Option<&L1Cost>) -> f64 {
        u256_f64(self.fees) / u256_f64(self.cost(l1)).max(f64::MIN_POSITIVE)
    }
}

/// One workload's blocks cut into batches the way the node seals them, at one price point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedWalk {
    pub point: PricePoint,
    /// Whether the fees are the chain's own L1 fee vault (the chain ran at the point's prices).
    pub from_vault: bool,
    /// Every batch of the run in order: the sealed ones, then the one still open at the end (if
    /// it holds a block).
    pub batches: Vec<SealedBatch>,
}

impl SealedWalk {
    /// The batches sealed within the run (by fees or blob).
    pub fn sealed(&self) -> impl Iterator<Item = &SealedBatch> {
        self.batches
            .iter()
            .filter(|b| b.sealed_by != SealedBy::Open)
    }
}

/// Whether some encoding of `diff` fits `limit` bytes (as `fits_one_blob`, at any limit).
fn fits_payload(diff: &StateDiff, limit: usize) -> bool {
    let raw = [DiffVersion::V2, DiffVersion::V1].map(|v| (v, payload_len(diff, v, Codec::Raw)));
    if raw
        .iter()
        .any(|(_, len)| len.is_some_and(|len| len <= limit))
    {
        return true;
    }
    // Brotli only for the versions that can hold the diff, v2 (usually the smaller) first.
    raw.iter()
        .filter(|(_, len)| len.is_some())
        .any(|&(v, _)| payload_len(diff, v, Codec::Brotli).is_some_and(|len| len <= limit))
}

/// The payload the committer picks for `diff`.
fn chosen_payload_len(diff: &StateDiff) -> eyre::Result<usize> {
    Ok(smallest_state_diff_payload(diff)?.payload.len())
}

/// The open batch of a [`Walk`].
#[derive(Debug, Clone)]
struct WalkOpen {
    /// Its own diff builder; `None` while it began at the run's first block, so that the run's
    /// builder (and fit checks) are its.
    builder: Option<BatchDiffBuilder>,
    /// Its diff after its last block.
    diff: StateDiff,
    first_block: u64,
    last_block: u64,
    tx_lens: Vec<usize>,
    fees: U256,
    /// Σ `l1_fee` at the walk's prices (equal to `fees` when they come from the vault).
    summed: U256,
    last_block_fees: U256,
    prices: L1Prices,
}

/// One block of the run, as a [`Walk`] sees it.
struct WalkBlock<'a> {
    reader: &'a StoreReader,
    number: u64,
    /// Whether it is the run's first block.
    first: bool,
    lens: &'a [usize],
    /// The L1 fee vault's balance increase over the block.
    vault_gain: U256,
    /// The run's batch (every block so far) with this block: its diff and whether it fits.
    run_diff: &'a StateDiff,
    run_fits: bool,
    limit: usize,
}

/// Cuts a workload's blocks into batches as the `BatchSealer` does, at one price point.
#[derive(Debug)]
struct Walk {
    point: PricePoint,
    from_vault: bool,
    params: FeeParams,
    open: Option<WalkOpen>,
    batches: Vec<SealedBatch>,
}

impl Walk {
    fn new(point: PricePoint, chain: FeeParams) -> Self {
        Self {
            point,
            from_vault: point.prices == chain.prices,
            params: FeeParams {
                prices: point.prices,
                ..chain
            },
            open: None,
            batches: Vec::new(),
        }
    }

    fn close(&mut self, open: WalkOpen, sealed_by: SealedBy) -> eyre::Result<()> {
        if self.from_vault && open.fees != open.summed {
            bail!(
                "the L1 fee vault gained {} wei over blocks {}..={} but their {} transactions' \
                 l1_fee sum to {} wei",
                open.fees,
                open.first_block,
                open.last_block,
                open.tx_lens.len(),
                open.summed
            );
        }
        self.batches.push(SealedBatch {
            sealed_by,
            first_block: open.first_block,
            last_block: open.last_block,
            payload_bytes: chosen_payload_len(&open.diff)?,
            tx_lens: open.tx_lens,
            fees: open.fees,
            last_block_fees: open.last_block_fees,
            prices: open.prices,
        });
        Ok(())
    }

    /// Adds a block: seals the open batch before it if the block would overflow its blob, then
    /// after it if its fees reach the threshold.
    fn add_block(&mut self, b: &WalkBlock<'_>) -> eyre::Result<()> {
        let no_code = |_: &B256| false;
        let open = match self.open.take() {
            None => None,
            Some(mut open) => {
                let fits = match &mut open.builder {
                    None => {
                        if b.run_fits {
                            open.diff = b.run_diff.clone();
                        }
                        b.run_fits
                    }
                    Some(builder) => {
                        let mut candidate = builder.clone();
                        candidate.add_block(b.reader, b.number)?;
                        match candidate.build(no_code) {
                            Ok(diff) if fits_payload(&diff, b.limit) => {
                                *builder = candidate;
                                open.diff = diff;
                                true
                            }
                            Ok(_) | Err(BatchDiffError::TooLarge(_)) => false,
                            Err(e) => return Err(e.into()),
                        }
                    }
                };
                if fits {
                    Some(open)
                } else {
                    // The diff kept is the batch's without this block.
                    self.close(open, SealedBy::Blob)?;
                    None
                }
            }
        };
        let mut open = match open {
            Some(open) => open,
            None => {
                let (builder, diff) = if b.first {
                    (None, b.run_diff.clone())
                } else {
                    let mut builder = BatchDiffBuilder::new();
                    builder.add_block(b.reader, b.number)?;
                    let diff = builder.build(no_code)?;
                    if !fits_payload(&diff, b.limit) {
                        bail!(
                            "block {} alone does not fit a payload of {} bytes",
                            b.number,
                            b.limit
                        );
                    }
                    (Some(builder), diff)
                };
                WalkOpen {
                    builder,
                    diff,
                    first_block: b.number,
                    last_block: b.number,
                    tx_lens: Vec::new(),
                    fees: U256::ZERO,
                    summed: U256::ZERO,
                    last_block_fees: U256::ZERO,
                    prices: self.params.prices,
                }
            }
        };
        let summed = b
            .lens
            .iter()
            .map(|&len| self.params.l1_fee(len))
            .fold(U256::ZERO, |a, f| a + f);
        let gained = if self.from_vault {
            b.vault_gain
        } else {
            summed
        };
        open.last_block = b.number;
        open.tx_lens.extend_from_slice(b.lens);
        open.summed += summed;
        open.fees += gained;
        open.last_block_fees = gained;
        open.prices = self.params.prices;
        let threshold = fees::batch_l1_cost(&open.prices, fees::DEFAULT_BATCH_L1_GAS, true);
        if !open.fees.is_zero()
            && !threshold.is_zero()
            && open.fees * U256::from(1_000u64)
                >= threshold * U256::from(SEAL_AT_FEE_COVERAGE_PERMILLE)
        {
            self.close(open, SealedBy::Fees)?;
        } else {
            self.open = Some(open);
        }
        Ok(())
    }

    /// The walk's batches, the one still open last.
    fn finish(mut self) -> eyre::Result<SealedWalk> {
        if let Some(open) = self.open.take() {
            self.close(open, SealedBy::Open)?;
        }
        Ok(SealedWalk {
            point: self.point,
            from_vault: self.from_vault,
            batches: self.batches,
        })
    }
}

/// Least-squares line `y = slope × x + intercept` through `points` (x, y); `None` with fewer
/// than two distinct x.
pub fn least_squares(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    if points.len() < 2 || sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    Some((slope, mean_y - slope * mean_x))
}

fn u256_f64(v: U256) -> f64 {
    v.to_string().parse().unwrap_or(f64::INFINITY)
}

/// The fit of payload bytes per transaction against signed transaction size over the workloads
/// whose fullest batch filled the blob (every encoding overflowed).
#[derive(Debug, Clone, PartialEq)]
pub struct SizeFit {
    /// Names of the workloads fitted.
    pub workloads: Vec<&'static str>,
    pub slope: f64,
    /// Bytes.
    pub intercept: f64,
}

/// Everything [`run`] measured.
#[derive(Debug, Clone)]
pub struct DaReport {
    pub options: DaOptions,
    pub workloads: Vec<WorkloadReport>,
    pub timings: Option<BlobTimings>,
    pub l1: Option<L1Cost>,
}

/// The fullest batch of a workload: what it takes to build its blob and commit it.
#[derive(Debug, Clone)]
pub struct FullestBatch {
    /// The batch's diff builder, fed all its blocks.
    pub builder: BatchDiffBuilder,
    pub transfers: usize,
    /// State root and hash of its last block.
    pub state_root: B256,
    pub last_block_hash: B256,
    /// The L1 fee vault's balance increase over its blocks.
    pub collected: U256,
    /// Σ `FeeParams::l1_fee` over its transactions, at the params of their blocks.
    pub summed_fees: U256,
}

/// Per encoding, while a workload runs.
#[derive(Debug, Clone, Copy)]
struct Tracker {
    version: DiffVersion,
    codec: Codec,
    /// Transfers and payload size (unknown for a brotli payload that surely fits) of the
    /// largest batch that fit so far.
    last_fit: (usize, Option<usize>),
    overflow_at: Option<usize>,
    /// Best known upper bound of the current batch's payload size, for sizing the next block.
    bound: usize,
}

/// The payload size of `diff` in one encoding, or `None` if that version cannot hold it.
fn payload_len(diff: &StateDiff, version: DiffVersion, codec: Codec) -> Option<usize> {
    encode_state_diff_payload_as(diff, version, codec)
        .ok()
        .map(|p| p.len())
}

/// The fee params a block charged at, from the GasPriceOracle after it (`reader` at the block),
/// checked against the prices in its header; the EIP-2718 length of each of its transactions; and
/// Σ `l1_fee` over them.
fn block_fees(reader: &StoreReader, block: &Block) -> eyre::Result<(FeeParams, Vec<usize>, U256)> {
    let params = FeeParams::from_storage(|slot| {
        reader.storage(&GAS_PRICE_ORACLE_ADDRESS, &B256::from(slot))
    })?;
    let in_header = L1Prices::from_extra_data(&block.header.extra_data)?;
    if in_header != params.prices {
        bail!(
            "block {} charges at {in_header:?} in its header but the oracle holds {:?}",
            block.header.number,
            params.prices
        );
    }
    let mut lens = Vec::with_capacity(block.body.transactions.len());
    let mut sum = U256::ZERO;
    for tx in &block.body.transactions {
        if !matches!(tx, Transaction::Ethereum(_)) {
            bail!(
                "block {} holds a privileged transaction",
                block.header.number
            );
        }
        let len = tx.encode_2718_len();
        lens.push(len);
        sum += params.l1_fee(len);
    }
    Ok((params, lens, sum))
}

fn vault_balance(reader: &StoreReader) -> eyre::Result<U256> {
    Ok(reader
        .account(&L1_FEE_VAULT)?
        .map_or(U256::ZERO, |account| account.balance))
}

/// Runs one workload: see the module docs. Returns its report and its fullest batch (for timing
/// and committing it).
pub fn measure_workload(
    workload: DaWorkload,
    options: &DaOptions,
) -> eyre::Result<(WorkloadReport, FullestBatch)> {
    let started = Instant::now();
    let limit = options.max_payload;
    let fee_params = FeeParams {
        prices: options.chain_prices,
        scalars: options.fee_scalars,
    };
    let config = ChainGenConfig {
        accounts: options.accounts,
        blocks: 0,
        txs_per_block: options.block_txs,
        workload: workload.workload(),
        gas_limit: 60_000_000,
        seed: options.seed,
        fees: Some(fee_params),
    };
    let mut generator = ChainGenerator::new(&config)?.with_transfers(
        workload.recipients(),
        Amounts::Uniform {
            min: GWEI,
            max: ETHER,
        },
    );
    let vault_at_genesis = vault_balance(&generator.chain().store().reader()?)?;
    let mut vault_before = vault_at_genesis;
    let mut walks = PRICE_POINTS.map(|point| Walk::new(point, fee_params));
    let mut tx_lens = Vec::new();
    let mut summed_fees = U256::ZERO;
    let mut builder = BatchDiffBuilder::new();
    let mut trackers = ENCODINGS.map(|(version, codec)| Tracker {
        version,
        codec,
        last_fit: (0, None),
        overflow_at: None,
        bound: 0,
    });
    let mut previous: Option<StateDiff> = None;
    let mut fullest: Option<FullestBatch> = None;
    let mut blocks = 0;
    let mut next = options.block_txs.max(1);
    // None of the workloads deploys code, so no code is ever named by hash.
    let known_code = |_: &B256| false;
    while trackers.iter().any(|t| t.overflow_at.is_none())
        && generator.transfers() < options.max_txs
    {
        let txs = next.min(options.max_txs - generator.transfers());
        let block = generator.next_block(txs)?;
        blocks += 1;
        let reader = generator.chain().store().reader()?;
        builder.add_block(&reader, block.header.number)?;
        let transfers = generator.transfers();
        let (params, lens, fee) = block_fees(&reader, &block)?;
        if params != fee_params {
            bail!(
                "block {} charged at {params:?}, not the genesis' {fee_params:?}",
                block.header.number
            );
        }
        summed_fees += fee;
        let vault = vault_balance(&reader)?;
        let collected = vault - vault_at_genesis;
        let diff = match builder.build(known_code) {
            Ok(diff) => diff,
            // Past v1's u16 counts: nothing the benchmark sizes reaches them, but stop cleanly.
            Err(BatchDiffError::TooLarge(_)) => break,
            Err(e) => return Err(e.into()),
        };
        let raw_v1 = payload_len(&diff, DiffVersion::V1, Codec::Raw);
        let raw_v2 = payload_len(&diff, DiffVersion::V2, Codec::Raw);
        let mut any_fits = false;
        for t in trackers.iter_mut().filter(|t| t.overflow_at.is_none()) {
            let raw = match t.version {
                DiffVersion::V1 => raw_v1,
                DiffVersion::V2 => raw_v2,
            };
            let (fits, size) = match (t.codec, raw) {
                (Codec::Raw, Some(raw)) => (raw <= limit, Some(raw)),
                (Codec::Brotli, Some(raw)) if raw + BROTLI_SLACK <= limit => (true, None),
                (Codec::Brotli, Some(_)) => match payload_len(&diff, t.version, t.codec) {
                    Some(len) => (len <= limit, Some(len)),
                    None => (false, None),
                },
                (_, None) => (false, None),
            };
            if fits {
                any_fits = true;
                t.last_fit = (transfers, size);
                t.bound = size.or(raw).unwrap_or(limit);
            } else {
                t.overflow_at = Some(transfers);
                if t.last_fit.1.is_none()
                    && let Some(prev) = &previous
                {
                    t.last_fit.1 = payload_len(prev, t.version, t.codec);
                }
            }
        }
        for walk in &mut walks {
            walk.add_block(&WalkBlock {
                reader: &reader,
                number: block.header.number,
                first: blocks == 1,
                lens: &lens,
                vault_gain: vault - vault_before,
                run_diff: &diff,
                run_fits: any_fits,
                limit,
            })?;
        }
        vault_before = vault;
        tx_lens.extend(lens);
        if any_fits {
            fullest = Some(FullestBatch {
                builder: builder.clone(),
                transfers,
                state_root: block.header.state_root,
                last_block_hash: block.header.hash_slow(),
                collected,
                summed_fees,
            });
        }
        // The next block: half the transfers the closest encoding has room for at its average
        // bytes per transfer so far, between one and `block_txs`.
        next = trackers
            .iter()
            .filter(|t| t.overflow_at.is_none())
            .map(|t| {
                let per_transfer = t.bound as f64 / transfers.max(1) as f64;
                let room = limit.saturating_sub(t.bound) as f64 / per_transfer.max(1.0);
                ((room / 2.0) as usize).clamp(1, options.block_txs.max(1))
            })
            .min()
            .unwrap_or(1);
        previous = Some(diff);
    }
    // Encodings still fitting at the end: size their last batch if a brotli size was skipped.
    if let Some(last) = &previous {
        for t in trackers.iter_mut() {
            if t.overflow_at.is_none() && t.last_fit.1.is_none() {
                t.last_fit.1 = payload_len(last, t.version, t.codec);
            }
        }
    }
    let fullest = fullest.ok_or_else(|| {
        eyre!(
            "{}: not even the first block of {} transfers fits a payload of {limit} bytes",
            workload.name(),
            options.block_txs
        )
    })?;
    if fullest.collected != fullest.summed_fees {
        bail!(
            "{}: the L1 fee vault gained {} wei over the fullest batch but its {} transactions' \
             l1_fee sum to {} wei",
            workload.name(),
            fullest.collected,
            fullest.transfers,
            fullest.summed_fees
        );
    }
    let diff = fullest.builder.build(known_code)?;
    let chosen = smallest_state_diff_payload(&diff)?;
    tx_lens.truncate(fullest.transfers);
    let fees = BatchFees {
        params: fee_params,
        tx_lens,
        collected: fullest.collected,
        payload_bytes: chosen.payload.len(),
    };
    let fits = trackers
        .iter()
        .map(|t| EncodingFit {
            version: t.version,
            codec: t.codec,
            transfers: t.last_fit.0,
            payload_bytes: t.last_fit.1.unwrap_or(0),
            overflow_at: t.overflow_at,
        })
        .collect::<Vec<_>>();
    let fullest_transfers = fullest.transfers;
    Ok((
        WorkloadReport {
            workload,
            fits,
            fullest_transfers,
            chosen: (chosen.version, chosen.codec),
            fullest_sizes: chosen.sizes,
            fullest_accounts: diff.accounts.len(),
            fullest_slots: diff.accounts.iter().map(|a| a.storage.len()).sum(),
            fees,
            sealed: walks
                .into_iter()
                .map(Walk::finish)
                .collect::<eyre::Result<_>>()?,
            blocks,
            elapsed: started.elapsed(),
        },
        fullest,
    ))
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

/// Times, `runs` times each, the steps from a batch's diff builder to its blob sidecar; returns
/// the medians and the sidecar.
pub fn time_blob(
    batch: &FullestBatch,
    runs: usize,
) -> eyre::Result<(BlobTimings, BlobTransactionSidecar)> {
    let (builder, transfers) = (&batch.builder, batch.transfers);
    let runs = runs.max(1);
    let (mut build, mut choose, mut pack, mut kzg) = (vec![], vec![], vec![], vec![]);
    let mut sidecar = None;
    for _ in 0..runs {
        let t = Instant::now();
        let diff = builder.build(|_| false)?;
        build.push(t.elapsed());
        let t = Instant::now();
        let chosen = smallest_state_diff_payload(&diff)?;
        choose.push(t.elapsed());
        let t = Instant::now();
        let blob = pack_blob(&chosen.payload)?;
        pack.push(t.elapsed());
        let t = Instant::now();
        let built = keel_l1::sender::blob_sidecar(&blob)?;
        keel_l1::sender::versioned_hash(&built).ok_or_else(|| eyre!("sidecar without blob"))?;
        kzg.push(t.elapsed());
        sidecar = Some(built);
    }
    let sidecar = sidecar.ok_or_else(|| eyre!("no run"))?;
    Ok((
        BlobTimings {
            transfers,
            runs,
            build: median(build),
            choose: median(choose),
            pack: median(pack),
            kzg: median(kzg),
        },
        sidecar,
    ))
}

/// Commits two batches on a fresh anvil with keel's contracts, both carrying `sidecar` (the
/// first pays one-time costs; the second is what every batch pays), then verifies them one
/// `verifyBatches` each, with 2-of-3 attestations (again the second is the steady state).
pub async fn commit_on_l1(
    anvil: Option<PathBuf>,
    sidecar: BlobTransactionSidecar,
    state_root: B256,
    last_block_hash: B256,
    transfers: usize,
) -> eyre::Result<L1Cost> {
    let L1Deployment {
        anvil: _anvil,
        provider,
        client_version,
        hardfork,
        config,
        outcome,
    } = deploy_on_anvil(anvil).await?;
    let proposer = outcome.deployment.contracts.on_chain_proposer.proxy;
    let blob_versioned_hash = keel_l1::sender::versioned_hash(&sidecar)
        .ok_or_else(|| eyre!("the sidecar has no blob"))?;
    let mut receipts: Vec<TransactionReceipt> = Vec::new();
    let mut batches = Vec::new();
    for number in [1u64, 2] {
        let batch = Batch {
            new_state_root: state_root,
            last_block_hash,
            non_privileged_tx_count: transfers as u64,
            ..Batch::simple(number)
        };
        let tx = batch.commit_request(proposer, sidecar.clone());
        receipts.push(send(&provider, &format!("commitBatch({number})"), tx).await?);
        batches.push(batch);
    }
    let mut verify_gas = Vec::new();
    for number in [1u64, 2] {
        let receipt = verify_batches(
            &provider,
            proposer,
            &batches,
            (config.genesis_state_root, config.genesis_block_hash),
            blob_versioned_hash,
            (number, number),
            &TWO_OF_THREE,
        )
        .await?;
        verify_gas.push(receipt.gas_used);
    }
    let later = &receipts[1];
    Ok(L1Cost {
        client_version,
        hardfork,
        transfers,
        first_commit_gas: receipts[0].gas_used,
        gas_used: later.gas_used,
        blob_gas_used: later.blob_gas_used.unwrap_or(0),
        blob_versioned_hash,
        first_verify_gas: verify_gas[0],
        verify_gas: verify_gas[1],
    })
}

/// Runs the workloads, then times and commits the first one's fullest batch.
pub async fn run(options: &DaOptions) -> eyre::Result<DaReport> {
    let mut workloads = Vec::new();
    let mut first_fullest = None;
    for &workload in &options.workloads {
        let (report, fullest) = measure_workload(workload, options)
            .wrap_err_with(|| format!("workload {}", workload.name()))?;
        if first_fullest.is_none() {
            first_fullest = Some(fullest);
        }
        workloads.push(report);
    }
    let (mut timings, mut l1) = (None, None);
    if let Some(batch) = first_fullest {
        let (t, sidecar) = time_blob(&batch, options.runs)?;
        timings = Some(t);
        if options.l1 {
            l1 = Some(
                commit_on_l1(
                    options.anvil.clone(),
                    sidecar,
                    batch.state_root,
                    batch.last_block_hash,
                    batch.transfers,
                )
                .await
                .wrap_err("committing the fullest batch on anvil")?,
            );
        }
    }
    Ok(DaReport {
        options: options.clone(),
        workloads,
        timings,
        l1,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `wei` in gwei, with thousands separators and three decimals.
fn gwei(wei: U256) -> String {
    let milli = wei / U256::from(1_000_000u64);
    let whole = u64::try_from(milli / U256::from(1_000u64)).unwrap_or(u64::MAX);
    let frac = u64::try_from(milli % U256::from(1_000u64)).unwrap_or(0);
    format!("{}.{frac:03}", thousands(whole))
}

/// A size in millionths of a byte as `fees.rs` writes its constants (`820_000`, `-62_000_000`).
fn millionths(bytes: f64) -> String {
    let n = (bytes * 1e6).round() as i64;
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", thousands(n.unsigned_abs()).replace(',', "_"))
}

impl DaReport {
    /// The fit of payload bytes per transaction against signed transaction size, over the
    /// workloads whose fullest batch filled the blob; `None` with fewer than two.
    pub fn size_fit(&self) -> Option<SizeFit> {
        let filling: Vec<&WorkloadReport> = self
            .workloads
            .iter()
            .filter(|w| w.fits.iter().all(|f| f.overflow_at.is_some()))
            .collect();
        let points: Vec<(f64, f64)> = filling
            .iter()
            .map(|w| (w.fees.mean_tx_len(), w.fees.payload_per_tx()))
            .collect();
        let (slope, intercept) = least_squares(&points)?;
        Some(SizeFit {
            workloads: filling.iter().map(|w| w.workload.name()).collect(),
            slope,
            intercept,
        })
    }

    /// The report as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        let workloads: Vec<serde_json::Value> = self
            .workloads
            .iter()
            .map(|w| {
                let fits: Vec<serde_json::Value> = w
                    .fits
                    .iter()
                    .map(|f| {
                        json!({
                            "encoding": encoding_name(f.version, f.codec),
                            "transfers": f.transfers,
                            "payloadBytes": f.payload_bytes,
                            "bytesPerTransfer": f.bytes_per_transfer(),
                            "overflowAt": f.overflow_at,
                        })
                    })
                    .collect();
                let s = &w.fullest_sizes;
                json!({
                    "workload": w.workload.name(),
                    "encodings": fits,
                    "fullest": {
                        "transfers": w.fullest_transfers,
                        "chosen": encoding_name(w.chosen.0, w.chosen.1),
                        "sizes": {
                            "v1Raw": s.v1_raw, "v1Brotli": s.v1_brotli,
                            "v2Raw": s.v2_raw, "v2Brotli": s.v2_brotli,
                        },
                        "accounts": w.fullest_accounts,
                        "slots": w.fullest_slots,
                    },
                    "fees": self.fees_json(w),
                    "sealed": self.sealed_json(w),
                    "blocks": w.blocks,
                    "seconds": w.elapsed.as_secs_f64(),
                })
            })
            .collect();
        let timings = self.timings.as_ref().map(|t| {
            json!({
                "transfers": t.transfers,
                "runs": t.runs,
                "buildMs": ms(t.build),
                "chooseMs": ms(t.choose),
                "packMs": ms(t.pack),
                "kzgMs": ms(t.kzg),
                "totalMs": ms(t.total()),
            })
        });
        let l1 = self.l1.as_ref().map(|c| {
            json!({
                "clientVersion": c.client_version,
                "hardfork": c.hardfork,
                "transfers": c.transfers,
                "firstCommitGasUsed": c.first_commit_gas,
                "gasUsed": c.gas_used,
                "blobGasUsed": c.blob_gas_used,
                "gasPerTransfer": c.gas_used as f64 / c.transfers.max(1) as f64,
                "blobGasPerTransfer": c.blob_gas_used as f64 / c.transfers.max(1) as f64,
                "blobVersionedHash": c.blob_versioned_hash,
                "firstVerifyGasUsed": c.first_verify_gas,
                "verifyGasUsed": c.verify_gas,
            })
        });
        let fit = self.size_fit().map(|f| {
            json!({
                "workloads": f.workloads,
                "slope": f.slope,
                "interceptBytes": f.intercept,
            })
        });
        json!({
            "accounts": self.options.accounts,
            "blockTxs": self.options.block_txs,
            "maxTxs": self.options.max_txs,
            "maxPayload": self.options.max_payload,
            "seed": self.options.seed,
            "workloads": workloads,
            "blobTimings": timings,
            "l1": l1,
            "sizeFit": fit,
        })
    }

    fn sealed_json(&self, w: &WorkloadReport) -> serde_json::Value {
        let l1 = self.l1.as_ref();
        let walks: Vec<serde_json::Value> = w
            .sealed
            .iter()
            .map(|walk| {
                let batches: Vec<serde_json::Value> = walk
                    .batches
                    .iter()
                    .map(|b| {
                        json!({
                            "sealedBy": b.sealed_by.name(),
                            "firstBlock": b.first_block,
                            "lastBlock": b.last_block,
                            "transactions": b.transactions(),
                            "payloadBytes": b.payload_bytes,
                            "feesWei": b.fees.to_string(),
                            "lastBlockFeesWei": b.last_block_fees.to_string(),
                            "thresholdCostWei": b.threshold_cost().to_string(),
                            "costWei": b.cost(l1).to_string(),
                            "coverage": b.coverage(l1),
                        })
                    })
                    .collect();
                json!({
                    "point": walk.point.name,
                    "feesFromVault": walk.from_vault,
                    "sealAtFeeCoveragePermille": SEAL_AT_FEE_COVERAGE_PERMILLE,
                    "thresholdBatchL1Gas": fees::DEFAULT_BATCH_L1_GAS,
                    "costBatchL1Gas": l1.map_or(fees::DEFAULT_BATCH_L1_GAS, L1Cost::execution_gas),
                    "batches": batches,
                })
            })
            .collect();
        json!(walks)
    }

    fn fees_json(&self, w: &WorkloadReport) -> serde_json::Value {
        let f = &w.fees;
        let coverage: Option<Vec<serde_json::Value>> = self.l1.as_ref().map(|cost| {
            coverage(f, cost)
                .iter()
                .map(|c| {
                    json!({
                        "point": c.point.name,
                        "l1BaseFee": c.point.prices.base_fee,
                        "blobBaseFee": c.point.prices.blob_base_fee,
                        "feesWei": c.fees.to_string(),
                        "feesFromVault": c.from_vault,
                        "blobCostWei": c.blob_cost.to_string(),
                        "executionCostWei": c.execution_cost.to_string(),
                        "costWei": c.cost().to_string(),
                        "coverage": c.ratio(),
                    })
                })
                .collect()
        });
        json!({
            "params": f.params,
            "transactions": f.transactions(),
            "meanSignedTxBytes": f.mean_tx_len(),
            "payloadBytes": f.payload_bytes,
            "payloadBytesPerTx": f.payload_per_tx(),
            "estimatedSizeBytes": f.estimated_size(),
            "collectedWei": f.collected.to_string(),
            "coverage": coverage,
        })
    }

    /// The report as aligned text tables.
    pub fn to_table(&self) -> String {
        let o = &self.options;
        let mut out = format!(
            "Transfers per blob ({} funded senders, amounts uniform in 1 gwei..1 ETH, seed {}; \
             payload limit {} B; cell = transfers, payload bytes per transfer; + = still fits at \
             --max-txs, ~ = not refined to one transfer)\n",
            thousands(o.accounts as u64),
            o.seed,
            thousands(o.max_payload as u64)
        );
        let width = 24;
        out.push_str(&format!("{:<width$}", "workload"));
        for (v, c) in ENCODINGS {
            out.push_str(&format!("  {:>18}", encoding_name(v, c)));
        }
        out.push_str("  committer picks\n");
        for w in &self.workloads {
            out.push_str(&format!("{:<width$}", w.workload.name()));
            for f in &w.fits {
                let mark = match f.overflow_at {
                    None => "+",
                    Some(at) if at == f.transfers + 1 => "",
                    Some(_) => "~",
                };
                let cell = format!(
                    "{}{mark} ({:.1} B)",
                    thousands(f.transfers as u64),
                    f.bytes_per_transfer()
                );
                out.push_str(&format!("  {cell:>18}"));
            }
            out.push_str(&format!(
                "  {} at {}\n",
                encoding_name(w.chosen.0, w.chosen.1),
                thousands(w.fullest_transfers as u64)
            ));
        }
        out.push_str(
            "\nThe fullest batch of each workload in all four encodings (payload bytes, codec byte \
             included)\n",
        );
        out.push_str(&format!(
            "{:<width$}  {:>9}  {:>8}  {:>6}  {:>9}  {:>9}  {:>9}  {:>9}  {:>7}  {:>6}\n",
            "workload",
            "transfers",
            "accounts",
            "slots",
            "v1 raw",
            "v1 brotli",
            "v2 raw",
            "v2 brotli",
            "blocks",
            "time"
        ));
        let opt = |s: Option<usize>| s.map_or("-".to_string(), |s| thousands(s as u64));
        for w in &self.workloads {
            let s = &w.fullest_sizes;
            out.push_str(&format!(
                "{:<width$}  {:>9}  {:>8}  {:>6}  {:>9}  {:>9}  {:>9}  {:>9}  {:>7}  {:>5.1}s\n",
                w.workload.name(),
                thousands(w.fullest_transfers as u64),
                thousands(w.fullest_accounts as u64),
                thousands(w.fullest_slots as u64),
                opt(s.v1_raw),
                opt(s.v1_brotli),
                thousands(s.v2_raw as u64),
                thousands(s.v2_brotli as u64),
                w.blocks,
                w.elapsed.as_secs_f64()
            ));
        }
        if let Some(t) = &self.timings {
            out.push_str(&format!(
                "\nTime to build the blob of the fullest batch of the first workload ({} \
                 transfers; median of {}): build diff {:.1} ms, choose payload {:.1} ms, pack \
                 {:.2} ms, KZG sidecar {:.1} ms; total {:.1} ms\n",
                thousands(t.transfers as u64),
                t.runs,
                ms(t.build),
                ms(t.choose),
                ms(t.pack),
                ms(t.kzg),
                ms(t.total())
            ));
        }
        if let Some(c) = &self.l1 {
            let per = |n: u64| n as f64 / c.transfers.max(1) as f64;
            out.push_str(&format!(
                "\nL1 cost of committing it ({}, {}): commitBatch gasUsed {} ({:.2} per \
                 transfer; the first commit ever: {}), blob gas {} ({:.2} per transfer)\n",
                c.client_version,
                c.hardfork,
                thousands(c.gas_used),
                per(c.gas_used),
                thousands(c.first_commit_gas),
                thousands(c.blob_gas_used),
                per(c.blob_gas_used)
            ));
            out.push_str(&format!(
                "verifyBatches of one batch, 2-of-3: gasUsed {} (the first batch ever: {})\n",
                thousands(c.verify_gas),
                thousands(c.first_verify_gas)
            ));
        }
        out.push_str(&self.fee_table());
        out.push_str(&self.sealed_table());
        out
    }

    /// The tables of the batches as the node seals them, one per price point.
    fn sealed_table(&self) -> String {
        let Some(first) = self.workloads.first() else {
            return String::new();
        };
        let l1 = self.l1.as_ref();
        let default_gas = fees::DEFAULT_BATCH_L1_GAS;
        let gas_note = match l1 {
            Some(c) if c.execution_gas() == default_gas => format!(
                "the measured commitBatch + verifyBatches, {} gas, equal to DEFAULT_BATCH_L1_GAS",
                thousands(c.execution_gas())
            ),
            Some(c) => format!(
                "the measured commitBatch + verifyBatches, {} gas, not DEFAULT_BATCH_L1_GAS ({}; \
                 {}{} gas)",
                thousands(c.execution_gas()),
                thousands(default_gas),
                if c.execution_gas() < default_gas {
                    '-'
                } else {
                    '+'
                },
                thousands(c.execution_gas().abs_diff(default_gas))
            ),
            None => format!(
                "not measured (--no-l1): DEFAULT_BATCH_L1_GAS, {} gas",
                thousands(default_gas)
            ),
        };
        let mut out = format!(
            "\nBatches as the node seals them (BatchSealer): after the first block where the \
             batch's L1 fees × 1000 ≥ batch_l1_cost(the block's prices, DEFAULT_BATCH_L1_GAS {}, \
             blob) × {}, or before a block that would not fit the blob, whichever comes first; \
             walked over each workload's blocks from the first. Cost = {} blob gas × blob base \
             fee + L1 execution gas × L1 base fee, the execution gas being {}. First batch of \
             each workload; the last columns count the batches sealed in the run and their mean \
             coverage; gwei\n",
            thousands(default_gas),
            thousands(SEAL_AT_FEE_COVERAGE_PERMILLE.into()),
            thousands(l1.map_or(fees::BLOB_GAS_PER_BATCH, |c| c.blob_gas_used)),
            gas_note,
        );
        let width = 24;
        for (i, point) in PRICE_POINTS.iter().enumerate() {
            let from_vault = first.sealed.get(i).is_some_and(|w| w.from_vault);
            let source = if from_vault {
                "fees: the L1 fee vault's balance increase, checked equal to Σ l1_fee"
            } else {
                "fees: Σ l1_fee over the same transactions at these prices (the chain ran at \
                 another point; the fee is linear in the prices, so this is what it would have \
                 charged), and the seal points re-walked with them"
            };
            out.push_str(&format!("{} ({source})\n", point.name));
            out.push_str(&format!(
                "  {:<width$}  {:>9}  {:>9}  {:>6}  {:>10}  {:>16}  {:>14}  {:>8}  {:>7}  {:>9}\n",
                "workload",
                "sealed by",
                "blocks",
                "txs",
                "payload B",
                "fees",
                "cost",
                "coverage",
                "batches",
                "mean cov."
            ));
            for w in &self.workloads {
                let Some(walk) = w.sealed.get(i) else {
                    continue;
                };
                let Some(batch) = walk.batches.first() else {
                    continue;
                };
                let sealed: Vec<f64> = walk.sealed().map(|b| b.coverage(l1)).collect();
                let mean = if sealed.is_empty() {
                    "-".to_string()
                } else {
                    format!("{:.3}", sealed.iter().sum::<f64>() / sealed.len() as f64)
                };
                out.push_str(&format!(
                    "  {:<width$}  {:>9}  {:>9}  {:>6}  {:>10}  {:>16}  {:>14}  {:>8.3}  {:>7}  \
                     {:>9}\n",
                    w.workload.name(),
                    batch.sealed_by.name(),
                    format!("{}..{}", batch.first_block, batch.last_block),
                    thousands(batch.transactions() as u64),
                    thousands(batch.payload_bytes as u64),
                    gwei(batch.fees),
                    gwei(batch.cost(l1)),
                    batch.coverage(l1),
                    sealed.len(),
                    mean
                ));
            }
        }
        out
    }

    /// The L1 fee tables: sizes, then fees against cost at each price point, then the fit.
    fn fee_table(&self) -> String {
        let Some(first) = self.workloads.first() else {
            return String::new();
        };
        let params = first.fees.params;
        let s = &params.scalars;
        let mut out = format!(
            "\nL1 fees of the fullest batch (keel_types::fees: estimated size = max({} B, {:.6} × \
             signed length {} {:.6} B); scalars: base fee {}, blob base fee {} (millionths), \
             operator fee {} + {}/gas (not counted); the chains ran at L1 base fee {} wei, blob \
             base fee {} wei)\n",
            fees::MIN_TX_SIZE,
            fees::SIZE_COEFFICIENT as f64 / 1e6,
            if fees::SIZE_INTERCEPT < 0 { '-' } else { '+' },
            fees::SIZE_INTERCEPT.unsigned_abs() as f64 / 1e6,
            thousands(s.base_fee_scalar.into()),
            thousands(s.blob_base_fee_scalar.into()),
            thousands(s.operator_fee_constant),
            thousands(s.operator_fee_scalar),
            thousands(params.prices.base_fee),
            thousands(params.prices.blob_base_fee),
        );
        let width = 24;
        out.push_str(&format!(
            "{:<width$}  {:>6}  {:>11}  {:>20}  {:>13}  {:>9}  {:>18}\n",
            "workload",
            "txs",
            "signed B/tx",
            "payload B/tx",
            "Σ est. size B",
            "est. B/tx",
            "fees (vault), gwei"
        ));
        for w in &self.workloads {
            let f = &w.fees;
            let payload = format!(
                "{:.2} ({})",
                f.payload_per_tx(),
                encoding_name(w.chosen.0, w.chosen.1)
            );
            out.push_str(&format!(
                "{:<width$}  {:>6}  {:>11.2}  {:>20}  {:>13}  {:>9.2}  {:>18}\n",
                w.workload.name(),
                thousands(f.transactions() as u64),
                f.mean_tx_len(),
                payload,
                thousands(f.estimated_size().round() as u64),
                f.estimated_size() / f.transactions().max(1) as f64,
                gwei(f.collected)
            ));
        }
        match &self.l1 {
            None => out.push_str(
                "\nNo L1 cost: commitBatch and verifyBatches were not measured (--no-l1).\n",
            ),
            Some(c) => {
                out.push_str(&format!(
                    "\nFees against L1 cost per batch = {} blob gas × blob base fee + (commitBatch {} \
                     + verifyBatches {} = {} gas, measured on anvil above) × L1 base fee; gwei\n",
                    thousands(c.blob_gas_used),
                    thousands(c.gas_used),
                    thousands(c.verify_gas),
                    thousands(c.execution_gas())
                ));
                for point in PRICE_POINTS {
                    out.push_str(&format!("{}\n", point.name));
                    out.push_str(&format!(
                        "  {:<width$}  {:>16}  {:>14}  {:>14}  {:>14}  {:>8}\n",
                        "workload", "fees", "blob cost", "execution cost", "cost", "coverage"
                    ));
                    for w in &self.workloads {
                        let Some(cov) = coverage(&w.fees, c)
                            .into_iter()
                            .find(|cov| cov.point == point)
                        else {
                            continue;
                        };
                        let source = if cov.from_vault { "vault" } else { "Σ l1_fee" };
                        out.push_str(&format!(
                            "  {:<width$}  {:>16}  {:>14}  {:>14}  {:>14}  {:>8.3}  (fees: {source})\n",
                            w.workload.name(),
                            gwei(cov.fees),
                            gwei(cov.blob_cost),
                            gwei(cov.execution_cost),
                            gwei(cov.cost()),
                            cov.ratio()
                        ));
                    }
                }
            }
        }
        match self.size_fit() {
            None => out.push_str(
                "\nNo size fit: fewer than two workloads filled the blob (raise --max-txs).\n",
            ),
            Some(fit) => out.push_str(&format!(
                "\nLeast-squares fit over the blob-filling workloads ({}): payload B/tx = {:.4} × \
                 signed B/tx {} {:.2} B, i.e. SIZE_COEFFICIENT = {}, SIZE_INTERCEPT = {} \
                 (now {} and {})\n",
                fit.workloads.join(", "),
                fit.slope,
                if fit.intercept < 0.0 { '-' } else { '+' },
                fit.intercept.abs(),
                millionths(fit.slope),
                millionths(fit.intercept),
                millionths(fees::SIZE_COEFFICIENT as f64 / 1e6),
                millionths(fees::SIZE_INTERCEPT as f64 / 1e6),
            )),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Workload 1 scaled down: 40 senders, a 6,000-byte payload limit. Every encoding must
    /// overflow, each at exactly one transfer past what it reports, and the v2 raw payload must
    /// hold more transfers than v1 raw.
    #[test]
    fn new_recipients_small() {
        let options = DaOptions {
            accounts: 40,
            block_txs: 20,
            max_txs: 1_000,
            max_payload: 6_000,
            runs: 1,
            workloads: vec![DaWorkload::EthNewRecipients],
            l1: false,
            ..DaOptions::default()
        };
        let (report, fullest) =
            measure_workload(DaWorkload::EthNewRecipients, &options).expect("workload");
        for f in &report.fits {
            assert!(f.transfers > 0, "{f:?}");
            assert_eq!(f.overflow_at, Some(f.transfers + 1), "{f:?}");
            assert!(f.payload_bytes <= options.max_payload, "{f:?}");
            assert!(f.payload_bytes > options.max_payload - 150, "{f:?}");
        }
        let v1_raw = &report.fits[0];
        let v2_raw = &report.fits[2];
        assert!(v2_raw.transfers > v1_raw.transfers, "{report:?}");
        assert!(
            v2_raw.bytes_per_transfer() < v1_raw.bytes_per_transfer(),
            "{report:?}"
        );
        // The fullest batch is the best encoding's, and the committer's pick fits.
        let best = report.fits.iter().map(|f| f.transfers).max().unwrap();
        assert_eq!(report.fullest_transfers, best);
        let diff = fullest.builder.build(|_| false).unwrap();
        let chosen = smallest_state_diff_payload(&diff).unwrap();
        assert!(chosen.payload.len() <= options.max_payload);
        let (timings, sidecar) = time_blob(&fullest, 1).unwrap();
        assert_eq!(timings.transfers, best);
        assert!(keel_l1::sender::versioned_hash(&sidecar).is_some());
        // The chain ran the fee rule: the vault got every transaction's L1 fee (measure_workload
        // checks the sum), at the chain's prices.
        let fees = &report.fees;
        assert_eq!(fees.transactions(), best);
        assert_eq!(fees.payload_bytes, chosen.payload.len());
        assert!(fees.collected > U256::ZERO);
        assert_eq!(fees.fees_at(options.chain_prices), fees.collected);
        assert!(fees.mean_tx_len() > 100.0, "{}", fees.mean_tx_len());
        // Far below the fee threshold at both points, the first batch as the node seals it is
        // the fullest one, sealed before the block that overflowed the blob; the run ends with
        // that block open.
        assert_eq!(report.sealed.len(), PRICE_POINTS.len());
        for walk in &report.sealed {
            let first = &walk.batches[0];
            assert_eq!(first.sealed_by, SealedBy::Blob, "{walk:?}");
            assert_eq!(first.first_block, 1);
            assert_eq!(first.transactions(), best);
            assert_eq!(first.payload_bytes, chosen.payload.len());
            assert_eq!(first.fees, fees.fees_at(walk.point.prices));
            assert_eq!(walk.sealed().count(), 1);
            assert_eq!(walk.batches.last().unwrap().sealed_by, SealedBy::Open);
        }
        assert!(report.sealed[0].from_vault && !report.sealed[1].from_vault);
        assert_eq!(report.sealed[0].batches[0].fees, fees.collected);
        let report = DaReport {
            options: options.clone(),
            workloads: vec![report],
            timings: None,
            l1: Some(cost(156_194, 112_243)),
        };
        let table = report.to_table();
        assert!(table.contains("(fees: vault)"), "{table}");
        assert!(table.contains("(fees: Σ l1_fee)"), "{table}");
        assert!(table.contains("No size fit"), "{table}");
        assert!(
            table.contains("not DEFAULT_BATCH_L1_GAS (272,000; -3,563 gas)"),
            "{table}"
        );
    }

    /// Trading with a blob fee scalar 20× the default: the fees reach 1.1× the cost after a few
    /// blocks, long before a blob fills, so at (a) the run is cut into batches sealed on fees,
    /// each covered 1.1× and less than a block's fees more; at (b) (blob base fee 1 wei) nothing
    /// is sealed.
    #[test]
    fn trading_seals_on_fees() {
        let options = DaOptions {
            accounts: 40,
            block_txs: 10,
            max_txs: 800,
            runs: 1,
            workloads: vec![DaWorkload::EthTrading],
            l1: false,
            fee_scalars: FeeScalars {
                blob_base_fee_scalar: 20 * DEFAULT_FEE_PARAMS.scalars.blob_base_fee_scalar,
                ..DEFAULT_FEE_PARAMS.scalars
            },
            ..DaOptions::default()
        };
        let (report, _) = measure_workload(DaWorkload::EthTrading, &options).expect("workload");
        assert_eq!(report.fullest_transfers, 800);
        let walk = &report.sealed[0];
        assert!(walk.from_vault);
        let sealed: Vec<&SealedBatch> = walk.sealed().collect();
        assert!(sealed.len() >= 3, "{walk:?}");
        let threshold = |b: &SealedBatch| b.threshold_cost() * U256::from(1_100u64);
        for b in &sealed {
            assert_eq!(b.sealed_by, SealedBy::Fees, "{b:?}");
            assert!(b.fees * U256::from(1_000u64) >= threshold(b), "{b:?}");
            assert!(
                (b.fees - b.last_block_fees) * U256::from(1_000u64) < threshold(b),
                "{b:?}"
            );
            let coverage = b.coverage(None);
            assert!((1.1..1.2).contains(&coverage), "{coverage}");
            assert!(b.payload_bytes > 0 && b.payload_bytes < 10_000, "{b:?}");
        }
        // The batches cut the run's blocks without gap or overlap, and their fees add up to the
        // vault's gain over the run.
        let mut next = 1;
        for b in &walk.batches {
            assert_eq!(b.first_block, next, "{walk:?}");
            next = b.last_block + 1;
        }
        assert_eq!(next, report.blocks as u64 + 1);
        let txs: usize = walk.batches.iter().map(SealedBatch::transactions).sum();
        assert_eq!(txs, 800);
        let total = walk.batches.iter().fold(U256::ZERO, |a, b| a + b.fees);
        assert_eq!(total, report.fees.collected);
        // At (b) the fees stay far below the cost: one batch, still open.
        let b = &report.sealed[1];
        assert!(!b.from_vault);
        assert_eq!(b.batches.len(), 1);
        assert_eq!(b.batches[0].sealed_by, SealedBy::Open);
        assert_eq!(
            b.batches[0].fees,
            report.fees.fees_at(PRICE_POINTS[1].prices)
        );
        let report = DaReport {
            options,
            workloads: vec![report],
            timings: None,
            l1: None,
        };
        let table = report.to_table();
        assert!(table.contains("not measured (--no-l1)"), "{table}");
        assert!(
            table.contains("ETH trading                    fees"),
            "{table}"
        );
    }

    fn cost(commit: u64, verify: u64) -> L1Cost {
        L1Cost {
            client_version: String::new(),
            hardfork: String::new(),
            transfers: 0,
            first_commit_gas: 0,
            gas_used: commit,
            blob_gas_used: GAS_PER_BLOB,
            blob_versioned_hash: B256::ZERO,
            first_verify_gas: 0,
            verify_gas: verify,
        }
    }

    #[test]
    fn coverage_at_both_points() {
        let fees = BatchFees {
            params: FeeParams {
                prices: PRICE_POINTS[0].prices,
                scalars: DEFAULT_FEE_PARAMS.scalars,
            },
            tx_lens: vec![110; 1_000],
            collected: U256::from(123u64),
            payload_bytes: 40_000,
        };
        assert_eq!(fees.mean_tx_len(), 110.0);
        assert_eq!(fees.payload_per_tx(), 40.0);
        let size = fees::estimated_size(110);
        assert_eq!(
            fees.estimated_size(),
            1_000.0 * size.to::<u64>() as f64 / 1e6
        );
        let cost = cost(150_000, 100_000);
        let points = coverage(&fees, &cost);
        assert_eq!(points.len(), 2);
        // (a) is the chain's own: the vault's figure.
        assert!(points[0].from_vault);
        assert_eq!(points[0].fees, U256::from(123u64));
        assert_eq!(
            points[0].blob_cost,
            U256::from(131_072u64 * 10 * GWEI as u64)
        );
        assert_eq!(
            points[0].execution_cost,
            U256::from(250_000u64 * GWEI as u64)
        );
        // (b) from the sizes.
        assert!(!points[1].from_vault);
        let params_b = FeeParams {
            prices: PRICE_POINTS[1].prices,
            ..fees.params
        };
        assert_eq!(points[1].fees, params_b.l1_fee(110) * U256::from(1_000u64));
        assert_eq!(points[1].blob_cost, U256::from(131_072u64));
        assert_eq!(
            points[1].cost(),
            U256::from(131_072u64 + 250_000 * 20 * GWEI as u64)
        );
        let ratio = points[1].ratio();
        let want = points[1].fees.to::<u128>() as f64 / points[1].cost().to::<u128>() as f64;
        assert!((ratio - want).abs() < 1e-12, "{ratio} {want}");
        assert_eq!(gwei(U256::from(1_234_567_891_234u64)), "1,234.567");
        assert_eq!(millionths(0.82), "820_000");
        assert_eq!(millionths(-62.0), "-62_000_000");
    }

    #[test]
    fn least_squares_fits_a_line() {
        let (slope, intercept) = least_squares(&[(100.0, 30.0), (200.0, 80.0)]).unwrap();
        assert!((slope - 0.5).abs() < 1e-12 && (intercept + 20.0).abs() < 1e-9);
        let (slope, intercept) = least_squares(&[(0.0, 1.0), (1.0, 2.0), (2.0, 5.0)]).unwrap();
        assert!((slope - 2.0).abs() < 1e-12, "{slope}");
        assert!((intercept - 2.0 / 3.0).abs() < 1e-12, "{intercept}");
        assert_eq!(least_squares(&[(1.0, 1.0)]), None);
        assert_eq!(least_squares(&[(1.0, 1.0), (1.0, 2.0)]), None);
        assert_eq!(least_squares(&[]), None);
    }
}
