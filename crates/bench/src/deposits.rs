//! `keel-bench deposits`: how fast deposits flow from L1 into L2 blocks, in one process.
//!
//! Anvil (Prague, block gas limit 300M) with keel's L1 contracts deployed; automine is turned off,
//! N ETH deposits (`CommonBridge.deposit`) are sent from the ten dev accounts, each to its own L2
//! recipient with its own amount, then `evm_mine` mines them into as few L1 blocks as fit. Two L2
//! nodes (dev genesis, redb store in a temporary directory, mempool, [`BlockProducer`],
//! [`L1Watcher`] with no block delay, caught up with the L1 before the deposits) then each:
//!
//! 1. **watcher**: `poll()` until all N are in the mempool's privileged lane (log scan, one
//!    `privilegedTxHashes` `eth_call` per deposit, one store write, the push into the lane);
//! 2. **production**: `produce_block()` until all N are in L2 blocks (execution, state root,
//!    commit), one node with the default privileged budget, the other with a larger one;
//! 3. **verification**: every recipient holds exactly its amount on L2, every privileged receipt
//!    succeeded, the ids are `0..N` in order: a broken pipeline is an error, not a figure.
//!
//! End to end is from the first `evm_mine` to the block holding the last deposit; the node's
//! tick intervals (`--watcher.watch-interval`, the block time) come on top of it. The parts of a
//! poll are then replayed outside the watcher (`eth_getLogs`, the hash checks 16 in flight as the
//! watcher does them, the store write, the push into the lane) to show where its time goes.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::{
    eips::BlockId,
    network::TransactionBuilder,
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
    sol_types::SolEvent,
};
use eyre::{WrapErr, bail, eyre};
use futures::{StreamExt, TryStreamExt, stream};
use keel_chain::{Blockchain, Mempool, MempoolConfig};
use keel_l1::{
    Anvil, AnvilConfig, DeployConfig, L1Client, L1ClientConfig,
    contracts::CommonBridge::{CommonBridgeInstance, PrivilegedTxSent, privilegedTxHashesCall},
};
use keel_sequencer::{
    BlockProducer, BlockProducerConfig, L1Watcher, L1WatcherConfig, PrivilegedTxSink,
};
use keel_storage::{StateReader, Store};
use keel_types::{ChainSpec, PrivilegedTx, dev};

use crate::l1_gas::thousands;

/// Default `--deposits`.
pub const DEFAULT_DEPOSITS: usize = 2000;
/// Anvil's block gas limit: ~2,250 deposits fit in one block (sent with a ~133k gas limit each;
/// they use ~102k).
pub const L1_GAS_LIMIT: u64 = 300_000_000;
/// The hash checks the watcher keeps in flight (`HASH_CHECK_CONCURRENCY` in the L1Watcher).
const WATCHER_HASH_CHECKS_IN_FLIGHT: usize = 16;
/// L1 transactions in flight while sending the deposits.
const SEND_CONCURRENCY: usize = 16;
/// The max fee of the deposits: well above anvil's base fee, even after a few full blocks.
const MAX_FEE_PER_GAS: u128 = 50_000_000_000;
const MAX_PRIORITY_FEE_PER_GAS: u128 = 1_000_000_000;

/// How to run the benchmark.
#[derive(Debug, Clone)]
pub struct DepositsOptions {
    /// How many deposits.
    pub deposits: usize,
    /// The privileged tx count of the second node's budget (its gas budget is the whole block);
    /// `None` for `deposits` (all in one block if the block's gas allows).
    pub max_privileged_per_block: Option<usize>,
    /// The anvil binary; found with `keel_l1::find_anvil` if unset.
    pub anvil: Option<PathBuf>,
    /// Where the temporary datadirs go; default: the system temp.
    pub workdir: Option<PathBuf>,
}

impl Default for DepositsOptions {
    fn default() -> Self {
        Self {
            deposits: DEFAULT_DEPOSITS,
            max_privileged_per_block: None,
            anvil: None,
            workdir: None,
        }
    }
}

/// The L1 side: sending and mining the deposits.
#[derive(Debug, Clone)]
pub struct L1Side {
    /// `web3_clientVersion` of the anvil.
    pub client_version: String,
    pub block_gas_limit: u64,
    /// The gas limit each deposit was sent with (the estimate of the first + 10%).
    pub deposit_gas_limit: u64,
    /// Sending all of them (`eth_sendRawTransaction`, automine off).
    pub send: Duration,
    /// The `evm_mine` calls until the pool was empty.
    pub mine: Duration,
    /// L1 blocks the deposits landed in.
    pub blocks: u64,
    /// `gasUsed` of the deposits, summed.
    pub gas_used: u64,
}

/// One L2 node fed the deposits: its watcher and its block production.
#[derive(Debug, Clone)]
pub struct NodeRun {
    /// `default` or `larger`.
    pub name: &'static str,
    /// The producer's privileged budget per block.
    pub max_privileged_txs: usize,
    pub max_privileged_gas: u64,
    /// `poll()` calls until every deposit was in the lane, and their time.
    pub polls: usize,
    pub watcher: Duration,
    /// L2 blocks until every deposit was included, and their time.
    pub blocks: usize,
    /// Privileged txs in each of those blocks.
    pub per_block: Vec<usize>,
    pub production: Duration,
    /// Summed over the blocks.
    pub execution: Duration,
    pub state_root: Duration,
    pub commit: Duration,
    /// L2 gas used by the blocks.
    pub l2_gas_used: u64,
    /// From the first `evm_mine` to the end of the block holding the last deposit.
    pub end_to_end: Duration,
}

/// The parts of one poll, replayed outside the watcher over the same deposits.
#[derive(Debug, Clone)]
pub struct PollParts {
    /// `eth_getLogs` over the deposit blocks.
    pub get_logs: Duration,
    /// One `privilegedTxHashes(id)` `eth_call` per deposit, 16 in flight.
    pub hash_checks: Duration,
    /// The same calls one at a time.
    pub hash_checks_sequential: Duration,
    /// `Store::record_privileged_txs` of all of them (one redb write) on a fresh store.
    pub store_write: Duration,
    /// `Mempool::add_privileged` of all of them into an empty lane.
    pub lane_push: Duration,
}

/// What [`run`] measured.
#[derive(Debug, Clone)]
pub struct DepositsReport {
    pub deposits: usize,
    pub l1: L1Side,
    pub runs: Vec<NodeRun>,
    pub parts: PollParts,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

/// A rate rounded to a whole number, with thousands separators.
fn per_sec(n: usize, d: Duration) -> String {
    thousands(rate(n, d).round() as u64)
}

/// `1.234 s` or `56.7 ms`.
fn human(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.3} s", d.as_secs_f64())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    }
}

fn budget(txs: usize, gas: u64) -> String {
    format!("{} txs, {} gas", thousands(txs as u64), thousands(gas))
}

impl DepositsReport {
    /// The report as JSON (times in seconds).
    pub fn to_json(&self) -> serde_json::Value {
        let runs: Vec<serde_json::Value> = self
            .runs
            .iter()
            .map(|r| {
                serde_json::json!({
                    "budget": r.name,
                    "maxPrivilegedTxsPerBlock": r.max_privileged_txs,
                    "maxPrivilegedGasPerBlock": r.max_privileged_gas,
                    "watcher": {
                        "polls": r.polls,
                        "seconds": secs(r.watcher),
                        "depositsPerSecond": rate(self.deposits, r.watcher),
                    },
                    "production": {
                        "blocks": r.blocks,
                        "privilegedPerBlock": r.per_block,
                        "seconds": secs(r.production),
                        "privilegedTxsPerSecond": rate(self.deposits, r.production),
                        "executionSeconds": secs(r.execution),
                        "stateRootSeconds": secs(r.state_root),
                        "commitSeconds": secs(r.commit),
                        "l2GasUsed": r.l2_gas_used,
                    },
                    "endToEndSeconds": secs(r.end_to_end),
                })
            })
            .collect();
        serde_json::json!({
            "deposits": self.deposits,
            "l1": {
                "clientVersion": self.l1.client_version,
                "blockGasLimit": self.l1.block_gas_limit,
                "depositGasLimit": self.l1.deposit_gas_limit,
                "sendSeconds": secs(self.l1.send),
                "mineSeconds": secs(self.l1.mine),
                "blocks": self.l1.blocks,
                "gasUsed": self.l1.gas_used,
            },
            "runs": runs,
            "pollParts": {
                "getLogsSeconds": secs(self.parts.get_logs),
                "hashChecksSeconds": secs(self.parts.hash_checks),
                "hashChecksInFlight": WATCHER_HASH_CHECKS_IN_FLIGHT,
                "hashChecksSequentialSeconds": secs(self.parts.hash_checks_sequential),
                "storeWriteSeconds": secs(self.parts.store_write),
                "lanePushSeconds": secs(self.parts.lane_push),
            },
            "verified": true,
        })
    }

    /// The report as text tables.
    pub fn to_table(&self) -> String {
        let n = self.deposits;
        let l1 = &self.l1;
        let mut out = format!(
            "{} ETH deposits from {} dev accounts on {} (prague, block gas limit {})\n\
             L1: sent in {} (automine off, gas limit {} each), mined by evm_mine into {} block{} \
             ({} gas) in {}\n\n",
            thousands(n as u64),
            dev::DEV_ACCOUNTS.len(),
            l1.client_version,
            thousands(l1.block_gas_limit),
            human(l1.send),
            thousands(l1.deposit_gas_limit),
            l1.blocks,
            if l1.blocks == 1 { "" } else { "s" },
            thousands(l1.gas_used),
            human(l1.mine),
        );

        let rows: Vec<[String; 10]> = self
            .runs
            .iter()
            .map(|r| {
                [
                    format!(
                        "{} ({})",
                        r.name,
                        budget(r.max_privileged_txs, r.max_privileged_gas)
                    ),
                    format!("{} / {}", human(r.watcher), r.polls),
                    per_sec(n, r.watcher),
                    r.blocks.to_string(),
                    human(r.production),
                    per_sec(n, r.production),
                    human(r.execution),
                    human(r.state_root),
                    human(r.commit),
                    human(r.end_to_end),
                ]
            })
            .collect();
        let header = [
            "privileged budget per L2 block",
            "watcher / polls",
            "deposits/s",
            "L2 blocks",
            "production",
            "priv. tx/s",
            "execution",
            "state root",
            "commit",
            "end to end",
        ];
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                rows.iter()
                    .map(|r| r[i].chars().count())
                    .chain([header[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[&str]| {
            let mut s = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i == 0 {
                    s.push_str(&format!("{cell:<w$}", w = widths[i]));
                } else {
                    s.push_str(&format!("  {cell:>w$}", w = widths[i]));
                }
            }
            s.push('\n');
            s
        };
        out.push_str(&line(&header));
        for row in &rows {
            let cells: Vec<&str> = row.iter().map(String::as_str).collect();
            out.push_str(&line(&cells));
        }
        for r in &self.runs {
            let per_block: Vec<String> = r.per_block.iter().map(|c| c.to_string()).collect();
            out.push_str(&format!(
                "  {}: privileged txs per L2 block {}; {} L2 gas\n",
                r.name,
                per_block.join(" + "),
                thousands(r.l2_gas_used)
            ));
        }

        let p = &self.parts;
        let parts = [
            (
                format!(
                    "eth_getLogs ({} L1 block{})",
                    l1.blocks,
                    if l1.blocks == 1 { "" } else { "s" }
                ),
                p.get_logs,
                String::new(),
            ),
            (
                format!("privilegedTxHashes eth_calls, {WATCHER_HASH_CHECKS_IN_FLIGHT} in flight"),
                p.hash_checks,
                format!("{}/s", per_sec(n, p.hash_checks)),
            ),
            (
                "privilegedTxHashes eth_calls, one at a time".to_string(),
                p.hash_checks_sequential,
                format!(
                    "{}/s (not what the watcher does)",
                    per_sec(n, p.hash_checks_sequential)
                ),
            ),
            (
                "store write (record_privileged_txs)".to_string(),
                p.store_write,
                String::new(),
            ),
            (
                "push into the privileged lane".to_string(),
                p.lane_push,
                String::new(),
            ),
        ];
        let label_width = parts.iter().map(|(l, _, _)| l.len()).max().unwrap_or(0);
        out.push_str(&format!(
            "\none poll, replayed part by part over the same {} deposits:\n",
            thousands(n as u64)
        ));
        for (label, time, note) in &parts {
            let line = format!("  {label:<label_width$}  {:>9}  {note}", human(*time));
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push_str(&format!(
            "\nverified: on each node all {} recipients hold exactly their amount on L2, every \
             privileged receipt succeeded, ids 0 to {} in order\n",
            thousands(n as u64),
            thousands(n as u64 - 1)
        ));
        out
    }
}

fn addr(i: usize) -> Address {
    dev::DEV_ACCOUNTS[i].0
}

/// The L2 recipient of deposit `i`: an address no genesis account uses.
fn recipient(i: usize) -> Address {
    Address::left_padding_from(&(0xde_0000_0000u64 + i as u64).to_be_bytes())
}

/// What deposit `i` sends: distinct per deposit, so a duplicate or a mix-up shows.
fn amount(i: usize) -> U256 {
    U256::from(1_000_000_000_000u64) * U256::from(i as u64 + 1)
}

/// An L2 node on a fresh redb store: chain (dev genesis), mempool, producer, watcher.
struct Node {
    name: &'static str,
    limits: (usize, u64),
    chain: Blockchain,
    mempool: Arc<Mempool>,
    producer: BlockProducer,
    watcher: L1Watcher,
    _dir: tempfile::TempDir,
}

fn tempdir(workdir: Option<&Path>) -> eyre::Result<tempfile::TempDir> {
    match workdir {
        Some(w) => tempfile::tempdir_in(w),
        None => tempfile::tempdir(),
    }
    .wrap_err("creating a temporary datadir")
}

/// A chain and mempool on a fresh redb store in `dir`, from the dev genesis.
fn open_chain(dir: &Path) -> eyre::Result<(Blockchain, Arc<Mempool>)> {
    let genesis = dev::dev_genesis();
    let spec = ChainSpec::from_genesis(&genesis).wrap_err("dev genesis")?;
    let store = Store::open(dir.join("keel.redb")).wrap_err("opening the redb store")?;
    let chain = Blockchain::open(store, &genesis, spec).wrap_err("opening the chain")?;
    let mempool = Arc::new(Mempool::new(MempoolConfig::default(), chain.clone()));
    Ok((chain, mempool))
}

impl Node {
    fn new(
        name: &'static str,
        producer_config: BlockProducerConfig,
        watcher_config: L1WatcherConfig,
        l1_url: &str,
        workdir: Option<&Path>,
    ) -> eyre::Result<Self> {
        let dir = tempdir(workdir)?;
        let (chain, mempool) = open_chain(dir.path())?;
        let limits = producer_config.privileged_limits(dev::DEV_GAS_LIMIT);
        let producer = BlockProducer::new(producer_config, chain.clone(), mempool.clone());
        let client = L1Client::new(L1ClientConfig::new([l1_url])).wrap_err("L1 client")?;
        let sink: Arc<dyn PrivilegedTxSink> = mempool.clone();
        let watcher = L1Watcher::new(watcher_config, client, chain.store().clone(), sink);
        Ok(Self {
            name,
            limits: (limits.max_txs, limits.max_gas),
            chain,
            mempool,
            producer,
            watcher,
            _dir: dir,
        })
    }

    /// Polls until caught up with the L1 (before the deposits).
    async fn catch_up(&mut self) -> eyre::Result<()> {
        for _ in 0..100 {
            let outcome = self.watcher.poll().await.wrap_err("L1Watcher poll")?;
            if let Some(refused) = outcome.refused {
                bail!("the watcher refused an event before the deposits: {refused}");
            }
            if !outcome.delivered.is_empty() {
                bail!("the watcher found privileged txs before the deposits were sent");
            }
            if outcome.caught_up {
                return Ok(());
            }
        }
        bail!("the watcher did not catch up with the L1 in 100 polls")
    }

    /// Polls until `n` deposits were handed to the lane; the polls and what they delivered.
    async fn watch(&mut self, n: usize) -> eyre::Result<(usize, Vec<PrivilegedTx>)> {
        let mut delivered = Vec::with_capacity(n);
        let mut polls = 0;
        while delivered.len() < n {
            let outcome = self.watcher.poll().await.wrap_err("L1Watcher poll")?;
            polls += 1;
            if let Some(refused) = outcome.refused {
                bail!("the watcher refused a deposit: {refused}");
            }
            let empty = outcome.delivered.is_empty();
            delivered.extend(outcome.delivered);
            if outcome.caught_up && delivered.len() < n {
                bail!(
                    "the watcher caught up with the L1 having delivered {} of {n} deposits",
                    delivered.len()
                );
            }
            if empty && polls > 1000 {
                bail!("the watcher delivers nothing after {polls} polls");
            }
        }
        Ok((polls, delivered))
    }

    /// Produces blocks until `n` privileged txs are included; checks their receipts and order.
    async fn produce(&self, n: usize) -> eyre::Result<NodeRun> {
        let mut run = NodeRun {
            name: self.name,
            max_privileged_txs: self.limits.0,
            max_privileged_gas: self.limits.1,
            polls: 0,
            watcher: Duration::ZERO,
            blocks: 0,
            per_block: Vec::new(),
            production: Duration::ZERO,
            execution: Duration::ZERO,
            state_root: Duration::ZERO,
            commit: Duration::ZERO,
            l2_gas_used: 0,
            end_to_end: Duration::ZERO,
        };
        let mut next_id = 0u64;
        let started = Instant::now();
        while (next_id as usize) < n {
            let producer = self.producer.clone();
            let built =
                tokio::task::spawn_blocking(move || producer.produce_block().map_err(Box::new))
                    .await
                    .map_err(|e| eyre!("the block producer thread failed: {e}"))?
                    .wrap_err("producing a block")?
                    .ok_or_else(|| eyre!("the producer made no block"))?;
            let mut count = 0;
            for (tx, receipt) in built.block.body.transactions.iter().zip(&built.receipts) {
                let Some(privileged) = tx.as_privileged() else {
                    continue;
                };
                if privileged.nonce != next_id {
                    bail!(
                        "block {} includes privileged tx {} where {next_id} was due",
                        built.block.header.number,
                        privileged.nonce
                    );
                }
                if !receipt.status() {
                    bail!("the L2 receipt of deposit {next_id} failed");
                }
                next_id += 1;
                count += 1;
            }
            if count == 0 {
                bail!(
                    "block {} includes no privileged tx with {} of {n} left in the lane",
                    built.block.header.number,
                    n - next_id as usize
                );
            }
            run.blocks += 1;
            run.per_block.push(count);
            run.execution += built.timings.execution;
            run.state_root += built.timings.state_root;
            run.commit += built.timings.commit;
            run.l2_gas_used += built.block.header.gas_used;
        }
        run.production = started.elapsed();
        Ok(run)
    }

    /// Every recipient holds exactly its amount; the lane is empty, the marker at the last id.
    fn verify(&self, n: usize) -> eyre::Result<()> {
        let reader = self.chain.store().reader()?;
        for i in 0..n {
            let balance = reader
                .account(&recipient(i))?
                .map_or(U256::ZERO, |a| a.balance);
            if balance != amount(i) {
                bail!(
                    "{} budget: recipient {i} ({}) holds {balance} wei on L2, expected {}",
                    self.name,
                    recipient(i),
                    amount(i)
                );
            }
        }
        if self.mempool.privileged_len() != 0 {
            bail!(
                "{} budget: {} privileged txs left in the lane",
                self.name,
                self.mempool.privileged_len()
            );
        }
        let marker = self.chain.store().l1_watcher_progress()?.included_up_to;
        if marker != Some(n as u64 - 1) {
            bail!(
                "{} budget: the included marker is {marker:?}, expected {}",
                self.name,
                n - 1
            );
        }
        Ok(())
    }
}

async fn rpc(
    provider: &DynProvider,
    method: &'static str,
    params: serde_json::Value,
) -> eyre::Result<serde_json::Value> {
    provider
        .raw_request(method.into(), params)
        .await
        .wrap_err(method)
}

/// Transactions in anvil's pool, pending and queued.
async fn pool_size(provider: &DynProvider) -> eyre::Result<u64> {
    let status = rpc(provider, "txpool_status", serde_json::json!([])).await?;
    let field = |name: &str| -> eyre::Result<u64> {
        let v = &status[name];
        if let Some(n) = v.as_u64() {
            return Ok(n);
        }
        let s = v
            .as_str()
            .ok_or_else(|| eyre!("txpool_status.{name} missing: {status}"))?;
        u64::from_str_radix(s.trim_start_matches("0x"), 16)
            .map_err(|e| eyre!("txpool_status.{name} = {s}: {e}"))
    };
    Ok(field("pending")? + field("queued")?)
}

/// Starts anvil, deploys, sends and mines the deposits, runs two nodes over them and verifies.
pub async fn run(options: &DepositsOptions) -> eyre::Result<DepositsReport> {
    let n = options.deposits;
    if n == 0 {
        bail!("--deposits must be at least 1");
    }
    let larger_txs = options.max_privileged_per_block.unwrap_or(n).max(1);
    let workdir = options.workdir.as_deref();

    // ---------------------------------------------------------------- L1 and deployment
    let anvil = Anvil::spawn(&AnvilConfig {
        bin: options.anvil.clone(),
        extra_args: vec!["--gas-limit".into(), L1_GAS_LIMIT.to_string()],
        ..AnvilConfig::default()
    })
    .await
    .wrap_err("starting anvil")?;
    let url = anvil
        .url
        .parse()
        .map_err(|e| eyre!("anvil url {}: {e}", anvil.url))?;
    let provider = keel_l1::dev_wallet_provider(url);
    let client_version = provider
        .get_client_version()
        .await
        .wrap_err("web3_clientVersion")?;
    let config = DeployConfig {
        owner: addr(0),
        sequencers: vec![addr(1)],
        verifier_signers: vec![addr(2)],
        verifier_threshold: 1,
        inclusion_max_wait: 3600,
        max_privileged_gas_limit: 10_000_000,
        validium: false,
        receipt_timeout: Duration::from_secs(60),
        ..DeployConfig::for_genesis(&dev::dev_genesis(), addr(0)).map_err(|e| eyre::eyre!("{e}"))?
    };
    let deploy_dir = tempfile::tempdir().wrap_err("temporary directory")?;
    let outcome = keel_l1::deploy(
        &provider,
        addr(0),
        &config,
        &deploy_dir.path().join("deployment.json"),
    )
    .await
    .wrap_err("deploying the L1 contracts")?;
    let bridge_address = outcome.deployment.contracts.common_bridge.proxy;
    let bridge = CommonBridgeInstance::new(bridge_address, &provider);
    let first_id: u64 = bridge
        .transactionId()
        .call()
        .await
        .wrap_err("transactionId")?
        .try_into()
        .map_err(|_| eyre!("transactionId does not fit in u64"))?;
    if first_id != 0 {
        bail!("the fresh bridge already queued {first_id} privileged txs");
    }

    // ---------------------------------------------------------------- L2 nodes, caught up
    let mut watcher_config = L1WatcherConfig::new(
        bridge_address,
        dev::DEFAULT_L2_CHAIN_ID,
        outcome.deployment.deploy_block.unwrap_or(0),
    );
    watcher_config.read_bound = keel_l1::L1ReadBound::Latest;
    let default_budget = BlockProducerConfig::default();
    let larger_budget = BlockProducerConfig {
        max_privileged_gas_per_block: Some(dev::DEV_GAS_LIMIT),
        max_privileged_txs_per_block: larger_txs,
        ..BlockProducerConfig::default()
    };
    let mut nodes = vec![
        Node::new(
            "default",
            default_budget,
            watcher_config.clone(),
            &anvil.url,
            workdir,
        )?,
        Node::new(
            "larger",
            larger_budget,
            watcher_config.clone(),
            &anvil.url,
            workdir,
        )?,
    ];
    for node in &mut nodes {
        node.catch_up().await?;
    }
    for i in 0..n {
        let balance = nodes[0]
            .chain
            .store()
            .reader()?
            .account(&recipient(i))?
            .map_or(U256::ZERO, |a| a.balance);
        if !balance.is_zero() {
            bail!("recipient {i} ({}) is funded at genesis", recipient(i));
        }
    }

    // ---------------------------------------------------------------- send, automine off
    let chain_id = provider.get_chain_id().await.wrap_err("eth_chainId")?;
    let estimate = provider
        .estimate_gas(
            bridge
                .deposit(recipient(0))
                .value(amount(0))
                .from(addr(0))
                .into_transaction_request(),
        )
        .await
        .wrap_err("estimating a deposit")?;
    let deposit_gas_limit = estimate + estimate / 10;
    let senders = dev::DEV_ACCOUNTS.len();
    let mut nonces = Vec::with_capacity(senders);
    for i in 0..senders {
        nonces.push(
            provider
                .get_transaction_count(addr(i))
                .await
                .wrap_err("eth_getTransactionCount")?,
        );
    }
    let mut requests: Vec<TransactionRequest> = Vec::with_capacity(n);
    for i in 0..n {
        let sender = i % senders;
        let tx = bridge
            .deposit(recipient(i))
            .value(amount(i))
            .from(addr(sender))
            .into_transaction_request()
            .with_nonce(nonces[sender])
            .with_gas_limit(deposit_gas_limit)
            .with_max_fee_per_gas(MAX_FEE_PER_GAS)
            .with_max_priority_fee_per_gas(MAX_PRIORITY_FEE_PER_GAS)
            .with_chain_id(chain_id);
        nonces[sender] += 1;
        requests.push(tx);
    }
    rpc(&provider, "evm_setAutomine", serde_json::json!([false])).await?;
    let head_before = provider.get_block_number().await.wrap_err("head")?;
    let started = Instant::now();
    let hashes: Vec<B256> = stream::iter(requests)
        .map(|tx| {
            let provider = provider.clone();
            async move {
                provider
                    .send_transaction(tx)
                    .await
                    .map(|pending| *pending.tx_hash())
            }
        })
        .buffered(SEND_CONCURRENCY)
        .try_collect()
        .await
        .wrap_err("sending a deposit")?;
    let send = started.elapsed();
    if pool_size(&provider).await? != n as u64 {
        bail!("anvil's pool does not hold the {n} deposits sent");
    }

    // ---------------------------------------------------------------- mine
    let t0 = Instant::now();
    let mut mined = 0u64;
    while pool_size(&provider).await? > 0 {
        rpc(&provider, "evm_mine", serde_json::json!([])).await?;
        mined += 1;
        if mined > (n as u64).div_ceil(100) + 10 {
            bail!("the deposits are still not mined after {mined} blocks");
        }
    }
    let mine = t0.elapsed();

    // ---------------------------------------------------------------- the two nodes
    let mut runs = Vec::new();
    let mut delivered_txs = Vec::new();
    for (k, node) in nodes.iter_mut().enumerate() {
        let started = Instant::now();
        let (polls, delivered) = node.watch(n).await?;
        let watcher = started.elapsed();
        if node.mempool.privileged_len() != n {
            bail!(
                "the lane holds {} privileged txs after the watcher delivered {n}",
                node.mempool.privileged_len()
            );
        }
        let mut run = node.produce(n).await?;
        // The first node runs right after mining; the second's watcher starts later, so its
        // end to end is mining + its own watcher and production.
        run.end_to_end = if k == 0 {
            t0.elapsed()
        } else {
            mine + started.elapsed()
        };
        run.polls = polls;
        run.watcher = watcher;
        node.verify(n)?;
        runs.push(run);
        if k == 0 {
            delivered_txs = delivered;
        }
    }

    rpc(&provider, "evm_setAutomine", serde_json::json!([true])).await?;

    // Check the L1 side (after the nodes ran, so it is not in their end to end): every deposit
    // mined and succeeded, ids 0..n queued.
    let head = provider.get_block_number().await.wrap_err("head")?;
    let mut gas_used = 0;
    let mut landed = 0usize;
    let mut deposit_blocks = 0u64;
    for number in head_before + 1..=head {
        let receipts = provider
            .get_block_receipts(BlockId::number(number))
            .await
            .wrap_err("eth_getBlockReceipts")?
            .ok_or_else(|| eyre!("no receipts for L1 block {number}"))?;
        if receipts.is_empty() {
            continue;
        }
        deposit_blocks += 1;
        for r in &receipts {
            if !r.status() {
                bail!("deposit {} reverted on L1", r.transaction_hash);
            }
            gas_used += r.gas_used;
            landed += 1;
        }
    }
    if landed != hashes.len() {
        bail!("{landed} of {} deposits landed on L1", hashes.len());
    }
    let queued: u64 = bridge
        .transactionId()
        .call()
        .await
        .wrap_err("transactionId")?
        .try_into()
        .map_err(|_| eyre!("transactionId does not fit in u64"))?;
    if queued != n as u64 {
        bail!("the bridge queued {queued} privileged txs, expected {n}");
    }

    // ---------------------------------------------------------------- a poll, part by part
    let client = L1Client::new(L1ClientConfig::new([anvil.url.as_str()])).wrap_err("L1 client")?;
    let started = Instant::now();
    let logs = client
        .get_logs(
            bridge_address,
            PrivilegedTxSent::SIGNATURE_HASH,
            head_before + 1,
            head,
        )
        .await
        .wrap_err("eth_getLogs")?;
    let get_logs = started.elapsed();
    if logs.len() != n {
        bail!("eth_getLogs returned {} logs for {n} deposits", logs.len());
    }
    let check = |in_flight: usize| {
        let client = client.clone();
        let txs = &delivered_txs;
        async move {
            let started = Instant::now();
            let queued: Vec<B256> = stream::iter(txs.iter().map(|tx| tx.nonce))
                .map(|id| {
                    let client = client.clone();
                    async move {
                        let call = privilegedTxHashesCall { id: U256::from(id) };
                        client
                            .call_sol(bridge_address, &call, BlockId::number(head))
                            .await
                    }
                })
                .buffered(in_flight)
                .try_collect()
                .await
                .wrap_err("privilegedTxHashes")?;
            let elapsed = started.elapsed();
            for (tx, on_l1) in txs.iter().zip(queued) {
                if tx.hash() != on_l1 {
                    bail!(
                        "deposit {} does not hash to what the bridge queued",
                        tx.nonce
                    );
                }
            }
            Ok::<_, eyre::Report>(elapsed)
        }
    };
    let hash_checks = check(WATCHER_HASH_CHECKS_IN_FLIGHT).await?;
    let hash_checks_sequential = check(1).await?;
    let dir = tempdir(workdir)?;
    let (chain, mempool) = open_chain(dir.path())?;
    let started = Instant::now();
    chain
        .store()
        .record_privileged_txs(&delivered_txs, Some(head))
        .wrap_err("record_privileged_txs")?;
    let store_write = started.elapsed();
    let started = Instant::now();
    let added = mempool.add_privileged(delivered_txs.clone());
    let lane_push = started.elapsed();
    if added != n {
        bail!("the lane took {added} of {n} privileged txs");
    }

    Ok(DepositsReport {
        deposits: n,
        l1: L1Side {
            client_version,
            block_gas_limit: L1_GAS_LIMIT,
            deposit_gas_limit,
            send,
            mine,
            blocks: deposit_blocks,
            gas_used,
        },
        runs,
        parts: PollParts {
            get_logs,
            hash_checks,
            hash_checks_sequential,
            store_write,
            lane_push,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_and_amounts_are_distinct_and_unfunded() {
        let genesis = dev::dev_genesis();
        let mut seen = std::collections::HashSet::new();
        for i in 0..DEFAULT_DEPOSITS {
            assert!(seen.insert(recipient(i)));
            assert!(!genesis.alloc.contains_key(&recipient(i)));
            assert!(amount(i) > amount(i.saturating_sub(1)) || i == 0);
        }
    }
}
