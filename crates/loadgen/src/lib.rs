//! `keel-loadgen`: a JSON-RPC load generator that measures sustained included throughput of any
//! Ethereum endpoint (keel, anvil, …), one target after the other with the same workload.
//!
//! It owns: deterministic load accounts and their funding from a funder key ([`accounts`],
//! [`setup`]), the workloads and their bench contracts ([`workload`]), parallel pre-signing,
//! batched `eth_sendRawTransaction` submission ([`submit`]), inclusion tracking by block polling
//! ([`track`]), the report ([`report`]) and spawning anvil for comparison runs ([`anvil`]).
//! It must not depend on keel's own crates: it talks to nodes only over JSON-RPC, so it measures
//! keel and anvil the same way. Timing belongs in `docs/benchmarks.md`, never in tests.
//!
//! A run per target: derive the accounts → setup (untimed: deploy, fund, read nonces) → pre-sign
//! every transaction (untimed, rayon) → timed phase (submitter and tracker run concurrently) →
//! report. See `docs/loadgen.md`.
//!
//! Two more modes compare targets in one run: `reads` ([`reads`]: closed-loop read-call
//! throughput over a lean HTTP/1.1 client, [`http1`]) and `sync-latency` ([`sync_latency`]:
//! `eth_sendRawTransactionSync` latency under a paced open-loop load).

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

// The binary's (src/main.rs) log setup; a package's dependencies are shared by its lib and bin.
use tracing_subscriber as _;

pub mod accounts;
pub mod anvil;
pub mod cli;
pub mod http1;
pub mod modes;
pub mod reads;
pub mod report;
pub mod rpc;
pub mod setup;
pub mod stats;
pub mod submit;
pub mod sync_latency;
pub mod track;
pub mod workload;

use std::{
    path::PathBuf,
    str::FromStr,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::primitives::{Address, map::B256Map};
use eyre::{Result, WrapErr, bail, eyre};

pub use report::{RunReport, TargetFailure, TargetReport};
pub use workload::Workload;

use crate::{
    accounts::{Key, Presigned, parse_key},
    anvil::spawn_anvil,
    report::Meta,
    rpc::Rpc,
    setup::SetupOpts,
    submit::{Live, SubmitOpts},
    track::TrackOpts,
    workload::Artifacts,
};

/// Where a target's endpoint is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// An HTTP JSON-RPC URL.
    Url(String),
    /// Start anvil on a free port for this target and stop it afterwards.
    SpawnAnvil,
}

/// A named endpoint to measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Name in the report.
    pub name: String,
    /// Endpoint.
    pub endpoint: Endpoint,
}

impl FromStr for Target {
    type Err = String;

    /// `NAME=URL` or `NAME=spawn-anvil`.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let (name, url) = s
            .split_once('=')
            .ok_or_else(|| format!("expected NAME=URL or NAME=spawn-anvil, got `{s}`"))?;
        let name = name.trim();
        let url = url.trim();
        if name.is_empty() || url.is_empty() {
            return Err(format!("expected NAME=URL or NAME=spawn-anvil, got `{s}`"));
        }
        let endpoint = if url == "spawn-anvil" {
            Endpoint::SpawnAnvil
        } else {
            Endpoint::Url(url.to_string())
        };
        Ok(Self {
            name: name.to_string(),
            endpoint,
        })
    }
}

/// Settings of a run (all targets share them).
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Workload.
    pub workload: Workload,
    /// Load accounts.
    pub accounts: usize,
    /// Transactions per account.
    pub txs_per_account: usize,
    /// Transactions per JSON-RPC batch request (also the largest batch of setup queries).
    pub batch_size: usize,
    /// Batch requests in flight at once.
    pub concurrency: usize,
    /// Most submitted-but-not-included transactions over all senders (0 = no limit).
    pub max_inflight: usize,
    /// Most submitted-but-not-included transactions per sender (0 = no limit); also bounds the
    /// funder's pending setup transactions.
    pub max_inflight_per_sender: usize,
    /// Funder private key (hex).
    pub funder_key: String,
    /// Seed of the load account keys.
    pub seed: String,
    /// Gas limit per load transaction (default: per workload).
    pub gas_limit: Option<u64>,
    /// StorageHeavy slots per call.
    pub slots: u64,
    /// maxFeePerGas override, wei.
    pub max_fee: Option<u128>,
    /// maxPriorityFeePerGas override, wei.
    pub tip: Option<u128>,
    /// Directory with BenchToken.json / StorageHeavy.json (default: the embedded artifacts).
    pub artifacts_dir: Option<PathBuf>,
    /// anvil binary for spawn-anvil targets (default: tools/node_modules/.bin/anvil, PATH).
    pub anvil_bin: Option<PathBuf>,
    /// Limit of the timed phase.
    pub timeout: Duration,
    /// Stop this long after the last inclusion once everything was submitted.
    pub stall: Duration,
    /// Block polling interval.
    pub poll: Duration,
    /// Progress line interval (zero = none).
    pub progress: Duration,
    /// Fetch `eth_getBlockReceipts` of every block during the timed phase (exact gas and status;
    /// too slow on anvil).
    pub receipts: bool,
    /// Without `receipts`: how many included transactions' receipts to check for reverts after
    /// the timed phase.
    pub check_receipts: usize,
    /// Limit for each setup step to be included.
    pub setup_timeout: Duration,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            workload: Workload::Eth,
            accounts: 1000,
            txs_per_account: 60,
            batch_size: 100,
            concurrency: 8,
            max_inflight: 0,
            max_inflight_per_sender: 0,
            funder_key: accounts::DEFAULT_FUNDER_KEY.into(),
            seed: "keel-loadgen".into(),
            gas_limit: None,
            slots: 5,
            max_fee: None,
            tip: None,
            artifacts_dir: None,
            anvil_bin: None,
            timeout: Duration::from_secs(300),
            stall: Duration::from_secs(30),
            poll: Duration::from_millis(100),
            progress: Duration::from_secs(2),
            receipts: false,
            check_receipts: 200,
            setup_timeout: Duration::from_secs(120),
            request_timeout: Duration::from_secs(60),
        }
    }
}

impl LoadConfig {
    fn validate(&self) -> Result<()> {
        if self.accounts == 0 || self.txs_per_account == 0 {
            bail!("--accounts and --txs-per-account must be at least 1");
        }
        if self.accounts.saturating_mul(self.txs_per_account) > u32::MAX as usize {
            bail!("too many transactions (accounts × txs-per-account must fit in u32)");
        }
        if self.batch_size == 0 || self.concurrency == 0 {
            bail!("--batch-size and --concurrency must be at least 1");
        }
        Ok(())
    }

    fn gas_limit(&self) -> u64 {
        self.gas_limit
            .unwrap_or_else(|| self.workload.default_gas_limit(self.slots))
    }
}

/// The accounts, funder and contracts shared by every target of a run.
struct Shared {
    keys: Arc<Vec<Key>>,
    addrs: Arc<Vec<Address>>,
    funder: Key,
    artifacts: Artifacts,
}

/// Runs every target in order; a target that fails is recorded in
/// [`RunReport::failures`] and the next one still runs. Errors only for bad settings.
pub async fn run(cfg: &LoadConfig, targets: &[Target]) -> Result<RunReport> {
    cfg.validate()?;
    if targets.is_empty() {
        bail!("no targets: pass --target NAME=URL (and/or --spawn-anvil)");
    }
    let funder = parse_key(&cfg.funder_key)?;
    let artifacts = match &cfg.artifacts_dir {
        Some(dir) => Artifacts::from_dir(dir)?,
        None => Artifacts::embedded()?,
    };
    let (n, seed) = (cfg.accounts, cfg.seed.clone());
    let keys = tokio::task::spawn_blocking(move || accounts::derive_accounts(&seed, n))
        .await
        .map_err(|e| eyre!("deriving accounts: {e}"))?;
    let addrs = accounts::addresses(&keys);
    let shared = Shared {
        keys: Arc::new(keys),
        addrs: Arc::new(addrs),
        funder,
        artifacts,
    };

    let (targets, failures) = for_each_target(targets, |t| run_target(cfg, t, &shared)).await;
    Ok(RunReport { targets, failures })
}

/// Run `run` on each target in turn; a target that fails is reported (and logged) and the
/// others still run.
pub(crate) async fn for_each_target<'t, R, F, Fut>(
    targets: &'t [Target],
    mut run: F,
) -> (Vec<R>, Vec<TargetFailure>)
where
    F: FnMut(&'t Target) -> Fut,
    Fut: std::future::Future<Output = Result<R>>,
{
    let (mut reports, mut failures) = (Vec::new(), Vec::new());
    for t in targets {
        match run(t).await {
            Ok(r) => reports.push(r),
            Err(e) => {
                let error = format!("{e:#}");
                eprintln!("[{}] failed: {error}", t.name);
                failures.push(TargetFailure {
                    name: t.name.clone(),
                    error,
                });
            }
        }
    }
    (reports, failures)
}

async fn run_target(cfg: &LoadConfig, target: &Target, shared: &Shared) -> Result<TargetReport> {
    let name = target.name.as_str();
    let mut _anvil = None;
    let url = match &target.endpoint {
        Endpoint::Url(u) => u.clone(),
        Endpoint::SpawnAnvil => {
            let a = spawn_anvil(cfg.anvil_bin.as_deref())
                .await
                .wrap_err_with(|| format!("target `{name}`"))?;
            eprintln!("[{name}] started anvil at {}", a.url);
            let url = a.url.clone();
            _anvil = Some(a);
            url
        }
    };
    let rpc = Rpc::new(name, &url, cfg.concurrency + 2, cfg.request_timeout)?;
    let chain_id = rpc
        .chain_id()
        .await
        .wrap_err_with(|| format!("target `{name}` at {url} does not answer eth_chainId"))?;

    // Setup (untimed).
    let t_setup = Instant::now();
    let gas_limit = cfg.gas_limit();
    eprintln!(
        "[{name}] chain {chain_id}: setting up {} accounts for the {} workload",
        cfg.accounts, cfg.workload
    );
    let setup = setup::run(
        &rpc,
        &SetupOpts {
            workload: cfg.workload,
            keys: &shared.keys,
            addrs: &shared.addrs,
            txs_per_account: cfg.txs_per_account,
            gas_limit,
            slots: cfg.slots,
            batch_size: cfg.batch_size,
            max_pending_per_sender: cfg.max_inflight_per_sender,
            max_fee: cfg.max_fee,
            tip: cfg.tip,
            artifacts: &shared.artifacts,
            funder: &shared.funder,
            inclusion_timeout: cfg.setup_timeout,
        },
    )
    .await?;
    let setup_secs = t_setup.elapsed().as_secs_f64();
    eprintln!(
        "[{name}] setup done in {setup_secs:.1}s: funded {} accounts{}",
        setup.funded_accounts,
        if setup.contract.is_zero() {
            String::new()
        } else {
            format!(", contract {}", setup.contract)
        }
    );

    // Pre-signing (untimed).
    let t_sign = Instant::now();
    let pre: Presigned = {
        let (keys, addrs) = (shared.keys.clone(), shared.addrs.clone());
        let (nonces, params, contract) = (setup.nonces.clone(), setup.params, setup.contract);
        let (workload, slots, m) = (cfg.workload, cfg.slots, cfg.txs_per_account);
        tokio::task::spawn_blocking(move || {
            accounts::presign(&keys, &nonces, m, &params, |s, _| {
                workload.call(&addrs, s, contract, slots, gas_limit)
            })
        })
        .await
        .map_err(|e| eyre!("signing: {e}"))??
    };
    let sign_secs = t_sign.elapsed().as_secs_f64();
    let mut index: B256Map<u32> = B256Map::default();
    index.reserve(pre.len());
    for (p, h) in pre.hashes.iter().enumerate() {
        index.insert(*h, p as u32);
    }
    if index.len() != pre.len() {
        bail!("duplicate transaction hashes among the pre-signed transactions");
    }
    let start_block = rpc.block_number().await?;
    eprintln!(
        "[{name}] signed {} transactions in {sign_secs:.1}s; submitting after block {start_block}",
        pre.len()
    );

    // Timed phase.
    let senders = pre.senders;
    let live = Arc::new(Live::new(senders));
    let pre = Arc::new(pre);
    let t0 = Instant::now();
    let deadline = t0 + cfg.timeout;
    let submit_opts = SubmitOpts {
        batch_size: cfg.batch_size,
        concurrency: cfg.concurrency,
        max_inflight: cfg.max_inflight,
        max_inflight_per_sender: cfg.max_inflight_per_sender,
    };
    let track_opts = TrackOpts {
        poll: cfg.poll,
        progress: cfg.progress,
        stall: cfg.stall,
        receipts: cfg.receipts,
    };
    let submitter = {
        let (rpc, pre, live) = (rpc.clone(), pre.clone(), live.clone());
        tokio::spawn(
            async move { submit::submit(&rpc, &pre, submit_opts, &live, t0, deadline).await },
        )
    };
    let tracker = {
        let (rpc, live) = (rpc.clone(), live.clone());
        tokio::spawn(async move {
            track::track(
                &rpc,
                &index,
                senders,
                start_block,
                &live,
                track_opts,
                t0,
                deadline,
            )
            .await
        })
    };
    let sub = submitter.await.map_err(|e| eyre!("submitter task: {e}"))?;
    let mut trk = tracker.await.map_err(|e| eyre!("tracker task: {e}"))?;
    if !trk.receipts {
        let checked = track::check_receipts(
            &rpc,
            &pre.hashes,
            &trk.seen_us,
            cfg.check_receipts,
            cfg.batch_size,
        )
        .await;
        match checked {
            Ok((checked, reverted)) => {
                trk.receipts_checked = checked;
                trk.reverted = reverted;
            }
            Err(e) => eprintln!("[{name}] warning: checking receipts failed: {e:#}"),
        }
    }

    let meta = Meta {
        name: name.to_string(),
        url,
        workload: cfg.workload,
        chain_id,
        contract: (!setup.contract.is_zero()).then_some(setup.contract),
        accounts: cfg.accounts,
        txs_per_account: cfg.txs_per_account,
        gas_limit,
        max_fee: setup.params.max_fee,
        tip: setup.params.tip,
        base_fee: setup.base_fee,
        setup_secs,
        sign_secs,
    };
    Ok(report::build(meta, &sub, &trk))
}
