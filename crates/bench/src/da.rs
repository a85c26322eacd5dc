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
//! with it (build the diff, choose the smallest payload, pack the blob, KZG sidecar) and commits
//! it with its blob through keel's real `commitBatch` on anvil to read the L1 gas and blob gas.

use std::{path::PathBuf, time::Duration, time::Instant};

use alloy::{consensus::BlobTransactionSidecar, rpc::types::TransactionReceipt};
use alloy_primitives::B256;
use eyre::{WrapErr, eyre};
use keel_chain::{BatchDiffBuilder, BatchDiffError};
use keel_types::{
    StateDiff,
    blob::{
        Codec, MAX_BLOB_PAYLOAD, PayloadSizes, encode_state_diff_payload_as, pack_blob,
        smallest_state_diff_payload,
    },
    state_diff::DiffVersion,
};
use serde_json::json;

use crate::{
    chaingen::{Amounts, ChainGenConfig, ChainGenerator, ETHER, GWEI, Recipients, Workload},
    l1_gas::{Batch, L1Deployment, deploy_on_anvil, send, thousands},
};

/// Below `limit - BROTLI_SLACK` bytes of raw payload, the brotli payload surely fits too.
pub const BROTLI_SLACK: usize = 1024;
/// Blob gas of one blob (EIP-4844 `GAS_PER_BLOB`).
pub const GAS_PER_BLOB: u64 = 131_072;

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

/// Runs one workload: see the module docs. Returns its report and its fullest batch (for timing
/// and committing it).
pub fn measure_workload(
    workload: DaWorkload,
    options: &DaOptions,
) -> eyre::Result<(WorkloadReport, FullestBatch)> {
    let started = Instant::now();
    let limit = options.max_payload;
    let config = ChainGenConfig {
        accounts: options.accounts,
        blocks: 0,
        txs_per_block: options.block_txs,
        workload: workload.workload(),
        gas_limit: 60_000_000,
        seed: options.seed,
    };
    let mut generator = ChainGenerator::new(&config)?.with_transfers(
        workload.recipients(),
        Amounts::Uniform {
            min: GWEI,
            max: ETHER,
        },
    );
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
        if any_fits {
            fullest = Some(FullestBatch {
                builder: builder.clone(),
                transfers,
                state_root: block.header.state_root,
                last_block_hash: block.header.hash_slow(),
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
    let diff = fullest.builder.build(known_code)?;
    let chosen = smallest_state_diff_payload(&diff)?;
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
/// first pays one-time costs; the second is what every batch pays).
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
        outcome,
        ..
    } = deploy_on_anvil(anvil).await?;
    let proposer = outcome.deployment.contracts.on_chain_proposer.proxy;
    let blob_versioned_hash = keel_l1::sender::versioned_hash(&sidecar)
        .ok_or_else(|| eyre!("the sidecar has no blob"))?;
    let mut receipts: Vec<TransactionReceipt> = Vec::new();
    for number in [1u64, 2] {
        let batch = Batch {
            new_state_root: state_root,
            last_block_hash,
            non_privileged_tx_count: transfers as u64,
            ..Batch::simple(number)
        };
        let tx = batch.commit_request(proposer, sidecar.clone());
        receipts.push(send(&provider, &format!("commitBatch({number})"), tx).await?);
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

impl DaReport {
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
    }
}
