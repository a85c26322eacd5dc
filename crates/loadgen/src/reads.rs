//! `keel-loadgen reads`: read-call throughput, one call at a time, per target.
//!
//! Per target: (1) setup, untimed: deploy BenchToken and fund the load accounts (the erc20
//! workload's setup), then create at least `--log-blocks` blocks with token transfers spread over
//! them (`anvil_mine` when the node has it, else waiting for the node's own blocks), and collect
//! the transfers' hashes; (2) prepare, untimed, a set of request bodies per call with the same
//! shape on every target; (3) per call: `--clients` tasks, each with one keep-alive HTTP/1.1
//! connection sending one request at a time (closed loop), `--warmup-secs` then
//! `--duration-secs` measured. A request counts when it completes inside the measured window;
//! only replies with a non-null `result` count as throughput, every other reply is an error and
//! is reported. See `docs/loadgen.md`.

use std::{
    collections::BTreeSet,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::primitives::{Address, B256, TxKind, U256};
use eyre::{Result, WrapErr, bail, eyre};
use hyper::body::Bytes;
use rayon::prelude::*;
use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use crate::{
    Target, TargetFailure,
    accounts::{Call, Key, SignedTx, sign},
    http1::{Conn, HttpTarget, Reply, classify},
    modes::{Common, Rng, keys, open_target},
    rpc::{Rpc, quantity},
    setup::{self, SetupOpts},
    stats::{Errors, Summary, fmt_ratio, ratio},
    workload::{Artifacts, Workload, token_balance_of, token_transfer},
};

/// A read call the mode measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum ReadCall {
    /// `eth_getBalance(addr, "latest")`: half funded load accounts, half never-seen addresses.
    #[value(name = "eth_getBalance", alias = "balance")]
    GetBalance,
    /// `eth_getBlockByNumber("latest", false)`.
    #[value(name = "eth_getBlockByNumber", alias = "block")]
    GetBlockByNumber,
    /// `eth_call` of BenchToken `balanceOf(addr)` at "latest" (holders and never-seen addresses).
    #[value(name = "eth_call", alias = "call")]
    Call,
    /// `eth_getTransactionReceipt` of the setup's token transfers.
    #[value(name = "eth_getTransactionReceipt", alias = "receipt")]
    GetTransactionReceipt,
    /// `eth_getLogs` of BenchToken over the last `--log-blocks` blocks of the setup.
    #[value(name = "eth_getLogs", alias = "logs")]
    GetLogs,
    /// `eth_getTransactionCount(addr, "latest")`, addresses as for eth_getBalance.
    #[value(name = "eth_getTransactionCount", alias = "nonce")]
    GetTransactionCount,
}

impl ReadCall {
    /// Every call, in the order of the table.
    pub const ALL: [Self; 6] = [
        Self::GetBalance,
        Self::GetBlockByNumber,
        Self::Call,
        Self::GetTransactionReceipt,
        Self::GetLogs,
        Self::GetTransactionCount,
    ];

    /// The JSON-RPC method.
    pub fn method(self) -> &'static str {
        match self {
            Self::GetBalance => "eth_getBalance",
            Self::GetBlockByNumber => "eth_getBlockByNumber",
            Self::Call => "eth_call",
            Self::GetTransactionReceipt => "eth_getTransactionReceipt",
            Self::GetLogs => "eth_getLogs",
            Self::GetTransactionCount => "eth_getTransactionCount",
        }
    }
}

impl std::fmt::Display for ReadCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.method())
    }
}

impl Serialize for ReadCall {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.method())
    }
}

/// Settings of a `reads` run.
#[derive(Debug, Clone)]
pub struct ReadsConfig {
    /// Funder, seed, anvil binary, setup timeout.
    pub common: Common,
    /// Calls to measure, in order.
    pub calls: Vec<ReadCall>,
    /// Concurrent clients (one connection each, one request at a time).
    pub clients: usize,
    /// Measured time per call.
    pub duration: Duration,
    /// Unmeasured time per call before it.
    pub warmup: Duration,
    /// Load accounts (token holders, senders of the transfers).
    pub accounts: usize,
    /// Blocks the setup creates and the `eth_getLogs` range.
    pub log_blocks: u64,
    /// Token transfers spread over those blocks.
    pub transfers: usize,
    /// Distinct request bodies per call (where the call has parameters to vary).
    pub variants: usize,
    /// Timeout of one request in the timed loop.
    pub request_timeout: Duration,
    /// Progress lines on stderr.
    pub progress: bool,
}

impl Default for ReadsConfig {
    fn default() -> Self {
        Self {
            common: Common::default(),
            calls: ReadCall::ALL.to_vec(),
            clients: 16,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            accounts: 100,
            log_blocks: 1000,
            transfers: 2000,
            variants: 4096,
            request_timeout: Duration::from_secs(30),
            progress: true,
        }
    }
}

impl ReadsConfig {
    fn validate(&self) -> Result<()> {
        if self.calls.is_empty() {
            bail!("--calls: nothing to measure");
        }
        if self.clients == 0 || self.duration.is_zero() {
            bail!("--clients and --duration-secs must be positive");
        }
        if self.accounts < 2 || self.transfers == 0 || self.log_blocks == 0 || self.variants == 0 {
            bail!("--accounts must be ≥ 2, --transfers, --log-blocks and --variants ≥ 1");
        }
        Ok(())
    }
}

/// The result of one call on one target.
#[derive(Debug, Clone, Serialize)]
pub struct CallResult {
    /// The call.
    pub call: ReadCall,
    /// Distinct request bodies cycled through.
    pub variants: usize,
    /// Replies with a result inside the measured window.
    pub ok: u64,
    /// Failed requests inside the measured window (JSON-RPC errors, null results, HTTP or
    /// connection failures, timeouts).
    pub errors: u64,
    /// The failures' messages, most frequent first.
    pub error_messages: Vec<(String, u64)>,
    /// Length of the measured window, seconds.
    pub secs: f64,
    /// ok / secs.
    pub req_per_sec: f64,
    /// Latency of the successful requests, microseconds.
    pub latency_us: Summary,
}

/// What the setup left on a target for the calls to read.
#[derive(Debug, Clone, Serialize)]
pub struct ReadSetup {
    /// The BenchToken.
    pub token: Address,
    /// Head when the block creation started.
    pub start_block: u64,
    /// Head when it ended (the `toBlock` of eth_getLogs).
    pub end_block: u64,
    /// The eth_getLogs range.
    pub log_range: (u64, u64),
    /// Token transfers sent (their hashes are the receipts read).
    pub transfers: usize,
    /// Transfer logs of the BenchToken in the range.
    pub logs_in_range: usize,
    /// Blocks of the range holding such logs.
    pub blocks_with_logs: usize,
    /// How the blocks were made: `anvil_mine` or the node's own block producer.
    pub blocks_from: String,
    /// Seconds the setup took.
    pub setup_secs: f64,
}

/// The results of one target.
#[derive(Debug, Clone, Serialize)]
pub struct ReadsTarget {
    /// Target name.
    pub name: String,
    /// Endpoint URL.
    pub url: String,
    /// Chain id.
    pub chain_id: u64,
    /// The setup.
    pub setup: ReadSetup,
    /// Per call, in order.
    pub calls: Vec<CallResult>,
}

/// The result of a `reads` run.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ReadsReport {
    /// Clients per call.
    pub clients: usize,
    /// Measured seconds per call.
    pub duration_secs: f64,
    /// Warmup seconds per call.
    pub warmup_secs: f64,
    /// Targets that ran, in order.
    pub targets: Vec<ReadsTarget>,
    /// Targets that failed.
    pub failures: Vec<TargetFailure>,
}

/// The inputs of the request bodies of one target.
#[derive(Debug, Clone)]
pub struct ReadInputs<'a> {
    /// Seed of the random parameters.
    pub seed: &'a str,
    /// Funded load accounts.
    pub addrs: &'a [Address],
    /// The BenchToken.
    pub token: Address,
    /// Hashes of included transactions.
    pub tx_hashes: &'a [B256],
    /// eth_getLogs `fromBlock`, `toBlock`.
    pub log_range: (u64, u64),
    /// Distinct bodies per call.
    pub variants: usize,
}

fn body(id: usize, method: &str, params: Value) -> Bytes {
    let v = json!({"jsonrpc": "2.0", "id": id + 1, "method": method, "params": params});
    Bytes::from(serde_json::to_vec(&v).expect("JSON of a request"))
}

/// Half funded load accounts, half never-seen addresses.
fn mixed_address(rng: &mut Rng, addrs: &[Address], i: usize) -> Address {
    if i.is_multiple_of(2) && !addrs.is_empty() {
        addrs[rng.below(addrs.len())]
    } else {
        rng.address()
    }
}

/// The request bodies of `call`: `variants` of them where the call has parameters to vary
/// (the same sequence on every target, up to the target's own token address and hashes), one
/// for the block and log queries.
pub fn request_bodies(call: ReadCall, inp: &ReadInputs<'_>) -> Vec<Bytes> {
    let m = call.method();
    let stream = ReadCall::ALL.iter().position(|c| *c == call).unwrap_or(0) as u64;
    let mut rng = Rng::new(inp.seed, 1000 + stream);
    let n = inp.variants.max(1);
    match call {
        ReadCall::GetBalance | ReadCall::GetTransactionCount => (0..n)
            .map(|i| {
                body(
                    i,
                    m,
                    json!([mixed_address(&mut rng, inp.addrs, i), "latest"]),
                )
            })
            .collect(),
        ReadCall::Call => (0..n)
            .map(|i| {
                let who = mixed_address(&mut rng, inp.addrs, i);
                body(
                    i,
                    m,
                    json!([{"to": inp.token, "data": token_balance_of(who)}, "latest"]),
                )
            })
            .collect(),
        ReadCall::GetTransactionReceipt => {
            let mut hashes = inp.tx_hashes.to_vec();
            // Fisher–Yates, then cycle through as many as there are variants.
            for i in (1..hashes.len()).rev() {
                let j = rng.below(i + 1);
                hashes.swap(i, j);
            }
            hashes.truncate(n);
            hashes
                .iter()
                .enumerate()
                .map(|(i, h)| body(i, m, json!([h])))
                .collect()
        }
        ReadCall::GetBlockByNumber => vec![body(0, m, json!(["latest", false]))],
        ReadCall::GetLogs => {
            let (from, to) = inp.log_range;
            vec![body(
                0,
                m,
                json!([{
                    "fromBlock": format!("0x{from:x}"),
                    "toBlock": format!("0x{to:x}"),
                    "address": inp.token,
                }]),
            )]
        }
    }
}

/// The block after which chunk `j` of `chunks` is sent, over `blocks` blocks from `start`: the
/// middle of its share, so chunks land inside the range even if the end overshoots.
pub fn chunk_mark(start: u64, blocks: u64, j: u64, chunks: u64) -> u64 {
    start + ((2 * j + 1) * blocks) / (2 * chunks)
}

/// Number of transfer chunks: one every 5 blocks, at most one per transfer.
pub fn chunk_count(blocks: u64, transfers: usize) -> u64 {
    (blocks / 5).max(1).min(transfers as u64)
}

/// Brings the head to at least `target`: with `anvil_mine` while the node has it, else by waiting
/// for its own blocks (failing after 60 s without a new block).
struct Advancer<'a> {
    rpc: &'a Rpc,
    mine: bool,
    last_head: u64,
    last_change: Instant,
    last_progress: Instant,
    started: Instant,
    progress: bool,
}

impl Advancer<'_> {
    async fn to(&mut self, target: u64, goal: u64, what: &str) -> Result<u64> {
        loop {
            let head = self.rpc.block_number().await?;
            if head != self.last_head {
                self.last_head = head;
                self.last_change = Instant::now();
            }
            if self.progress && self.last_progress.elapsed() >= Duration::from_secs(2) {
                self.last_progress = Instant::now();
                eprintln!(
                    "[{}] creating blocks: head {head}, waiting for {goal} ({what}; {:.0}s)",
                    self.rpc.name(),
                    self.started.elapsed().as_secs_f64()
                );
            }
            if head >= target {
                return Ok(head);
            }
            if self.mine {
                match self
                    .rpc
                    .call_raw("anvil_mine", json!([format!("0x{:x}", target - head)]))
                    .await?
                {
                    Ok(_) => continue,
                    Err(e) => {
                        self.mine = false;
                        eprintln!(
                            "[{}] anvil_mine is not available ({e}): waiting for the node's own \
                             blocks (keel: start it with --block-producer.block-time 20 for 50 \
                             blocks/s)",
                            self.rpc.name()
                        );
                    }
                }
            }
            if self.last_change.elapsed() > Duration::from_secs(60) {
                bail!(
                    "target `{}`: no new block for 60 s (head {head}, waiting for {target})",
                    self.rpc.name()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The untimed setup of a target: token, funding, transfers spread over `log_blocks` blocks.
async fn setup_target(
    rpc: &Rpc,
    cfg: &ReadsConfig,
    funder: &Key,
    keys: &[Key],
    addrs: &[Address],
    artifacts: &Artifacts,
) -> Result<(ReadSetup, Vec<B256>)> {
    let t0 = Instant::now();
    let name = rpc.name().to_string();
    let n = keys.len();
    let per = cfg.transfers.div_ceil(n);
    let gas_limit = Workload::Erc20.default_gas_limit(0);
    let s = setup::run(
        rpc,
        &SetupOpts {
            workload: Workload::Erc20,
            keys,
            addrs,
            txs_per_account: per,
            gas_limit,
            slots: 0,
            batch_size: 100,
            max_pending_per_sender: 0,
            max_fee: None,
            tip: None,
            artifacts,
            funder,
            inclusion_timeout: cfg.common.setup_timeout,
        },
    )
    .await?;
    let token = s.contract;
    eprintln!(
        "[{name}] BenchToken {token}, {} accounts funded; signing {} transfers",
        s.funded_accounts, cfg.transfers
    );

    // The transfers: sender p mod n (nonces in order), to another load account or (one in four)
    // to a fresh address.
    let mut rng = Rng::new(&cfg.common.seed, 7);
    let plan: Vec<(usize, u64, Address, u64)> = (0..cfg.transfers)
        .map(|p| {
            let (sender, j) = (p % n, (p / n) as u64);
            let to = if rng.below(4) == 0 {
                rng.address()
            } else {
                addrs[(sender + 1 + rng.below(n - 1)) % n]
            };
            (sender, s.nonces[sender] + j, to, 1 + rng.below(9) as u64)
        })
        .collect();
    let params = s.params;
    let signed: Vec<SignedTx> = plan
        .par_iter()
        .map(|&(sender, nonce, to, amount)| {
            sign(
                &keys[sender],
                &params,
                nonce,
                Call {
                    to: TxKind::Call(token),
                    value: U256::ZERO,
                    input: token_transfer(to, U256::from(amount)),
                    gas_limit,
                },
            )
        })
        .collect::<Result<_>>()?;
    let hashes: Vec<B256> = signed.iter().map(|t| t.hash).collect();

    // Spread them over the blocks.
    let start = rpc.block_number().await?;
    let blocks = cfg.log_blocks;
    let chunks = chunk_count(blocks, signed.len());
    let goal = start + blocks;
    eprintln!(
        "[{name}] creating {blocks} blocks after {start} with {} transfers in {chunks} chunks",
        signed.len()
    );
    let mut adv = Advancer {
        rpc,
        mine: true,
        last_head: start,
        last_change: Instant::now(),
        last_progress: Instant::now(),
        started: Instant::now(),
        progress: cfg.progress,
    };
    let per_chunk = signed.len().div_ceil(chunks as usize);
    for (j, chunk) in signed.chunks(per_chunk).enumerate() {
        let mark = chunk_mark(start, blocks, j as u64, chunks);
        adv.to(mark, goal, &format!("chunk {}/{chunks}", j + 1))
            .await?;
        for batch in chunk.chunks(100) {
            if let Some((hash, e)) = rpc.send_raw_batch(batch).await? {
                bail!("target `{name}`: transfer {hash} rejected: {e}");
            }
        }
    }
    adv.to(goal, goal, "the last blocks").await?;

    // Every transfer included and successful.
    let deadline = Instant::now() + cfg.common.setup_timeout;
    loop {
        let calls: Vec<(&str, Value)> = hashes
            .iter()
            .map(|h| ("eth_getTransactionReceipt", json!([h])))
            .collect();
        let receipts = rpc.batch_all(&calls, 100).await?;
        let pending = receipts.iter().filter(|r| r.is_null()).count();
        if pending == 0 {
            let reverted = receipts
                .iter()
                .filter(|r| r.get("status").and_then(Value::as_str) != Some("0x1"))
                .count();
            if reverted > 0 {
                bail!("target `{name}`: {reverted} of the setup's token transfers reverted");
            }
            break;
        }
        if Instant::now() >= deadline {
            bail!("target `{name}`: {pending} setup transfers not included in time");
        }
        let head = rpc.block_number().await?;
        adv.to(
            head + 1,
            head + 1,
            &format!("{pending} transfers not included yet"),
        )
        .await?;
    }
    let end = rpc.block_number().await?;
    let from = (end + 1).saturating_sub(blocks);
    let logs: Vec<Value> = rpc
        .call(
            "eth_getLogs",
            json!([{"fromBlock": format!("0x{from:x}"), "toBlock": format!("0x{end:x}"), "address": token}]),
        )
        .await
        .wrap_err("eth_getLogs over the setup's blocks")?;
    let blocks_with_logs = logs
        .iter()
        .filter_map(|l| {
            l.get("blockNumber")
                .and_then(|b| quantity(b, "blockNumber").ok())
        })
        .collect::<BTreeSet<_>>()
        .len();
    let setup = ReadSetup {
        token,
        start_block: start,
        end_block: end,
        log_range: (from, end),
        transfers: hashes.len(),
        logs_in_range: logs.len(),
        blocks_with_logs,
        blocks_from: if adv.mine {
            "anvil_mine".into()
        } else {
            "the node's block producer".into()
        },
        setup_secs: t0.elapsed().as_secs_f64(),
    };
    eprintln!(
        "[{name}] setup done in {:.1}s: blocks {from}..={end} hold {} token logs in {} blocks",
        setup.setup_secs, setup.logs_in_range, setup.blocks_with_logs
    );
    Ok((setup, hashes))
}

/// Runs `clients` closed-loop clients over `bodies` for `warmup` + `duration` on the current
/// runtime; returns the successful requests, the failures and the latencies (µs) of the
/// successes that completed inside the measured window.
pub async fn closed_loop(
    target: &HttpTarget,
    bodies: Arc<Vec<Bytes>>,
    clients: usize,
    warmup: Duration,
    duration: Duration,
    timeout: Duration,
) -> (u64, Errors, Vec<u64>) {
    let start = Instant::now();
    let from = start + warmup;
    let end = from + duration;
    let mut tasks = Vec::with_capacity(clients);
    for c in 0..clients {
        let (target, bodies) = (target.clone(), bodies.clone());
        tasks.push(tokio::spawn(async move {
            let len = bodies.len();
            let mut i = c * len / clients;
            let mut conn: Option<Conn> = None;
            let mut ok = 0u64;
            let mut errors = Errors::default();
            let mut lat: Vec<u64> = Vec::with_capacity(1 << 16);
            loop {
                if Instant::now() >= end {
                    break;
                }
                let c = match conn.as_mut() {
                    Some(c) => c,
                    None => match Conn::connect(&target, timeout).await {
                        Ok(c) => conn.insert(c),
                        Err(e) => {
                            if Instant::now() >= from {
                                errors.add(format!("{e:#}"));
                            }
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    },
                };
                let body = bodies[i % len].clone();
                i += 1;
                let t = Instant::now();
                let r = tokio::time::timeout(timeout, c.post(&target, body)).await;
                let done = Instant::now();
                let counted = done >= from && done < end;
                let reply = match r {
                    Ok(Ok((status, body))) => classify(status, &body),
                    Ok(Err(e)) => {
                        conn = None;
                        Reply::Bad(format!("{e:#}"))
                    }
                    Err(_) => {
                        conn = None;
                        Reply::Bad(format!("no reply within {timeout:?}"))
                    }
                };
                if !counted {
                    continue;
                }
                match reply {
                    Reply::Ok => {
                        ok += 1;
                        lat.push((done - t).as_micros() as u64);
                    }
                    Reply::RpcError { text, .. } => errors.add(text),
                    Reply::Bad(m) => errors.add(m),
                }
            }
            (ok, errors, lat)
        }));
    }
    let mut ok = 0;
    let mut errors = Errors::default();
    let mut lat = Vec::new();
    for t in tasks {
        match t.await {
            Ok((o, e, l)) => {
                ok += o;
                errors.merge(e);
                lat.extend(l);
            }
            Err(e) => errors.add(format!("client task failed: {e}")),
        }
    }
    (ok, errors, lat)
}

async fn run_target(
    cfg: &ReadsConfig,
    target: &Target,
    funder: &Key,
    keys: &[Key],
    addrs: &[Address],
    artifacts: &Artifacts,
) -> Result<ReadsTarget> {
    let name = target.name.as_str();
    let (_anvil, url) = open_target(target, cfg.common.anvil_bin.as_deref()).await?;
    let http = HttpTarget::parse(&url).wrap_err_with(|| format!("target `{name}`"))?;
    let rpc = Rpc::new(name, &url, 4, Duration::from_secs(60))?;
    let chain_id = rpc
        .chain_id()
        .await
        .wrap_err_with(|| format!("target `{name}` at {url} does not answer eth_chainId"))?;
    eprintln!("[{name}] chain {chain_id}: setting up");
    let (setup, hashes) = setup_target(&rpc, cfg, funder, keys, addrs, artifacts).await?;
    let inputs = ReadInputs {
        seed: &cfg.common.seed,
        addrs,
        token: setup.token,
        tx_hashes: &hashes,
        log_range: setup.log_range,
        variants: cfg.variants,
    };
    let mut calls = Vec::with_capacity(cfg.calls.len());
    for &call in &cfg.calls {
        let bodies = Arc::new(request_bodies(call, &inputs));
        let variants = bodies.len();
        let (ok, errors, mut lat) = closed_loop(
            &http,
            bodies,
            cfg.clients,
            cfg.warmup,
            cfg.duration,
            cfg.request_timeout,
        )
        .await;
        let secs = cfg.duration.as_secs_f64();
        let r = CallResult {
            call,
            variants,
            ok,
            errors: errors.total(),
            error_messages: errors.sorted(),
            secs,
            req_per_sec: ok as f64 / secs,
            latency_us: Summary::of(&mut lat),
        };
        eprintln!(
            "[{name}] {call}: {:.0} req/s, p50 {} µs, p99 {} µs, {} errors{}",
            r.req_per_sec,
            r.latency_us.p50,
            r.latency_us.p99,
            r.errors,
            r.error_messages
                .first()
                .map(|(m, _)| format!(" (most frequent: {m})"))
                .unwrap_or_default()
        );
        calls.push(r);
    }
    Ok(ReadsTarget {
        name: name.to_string(),
        url,
        chain_id,
        setup,
        calls,
    })
}

/// Runs the read mode against every target in order; a target that fails is recorded in
/// [`ReadsReport::failures`] and the next one still runs. Errors only for bad settings.
pub async fn run(cfg: &ReadsConfig, targets: &[Target]) -> Result<ReadsReport> {
    cfg.validate()?;
    if targets.is_empty() {
        bail!("no targets: pass --target NAME=URL (and/or --spawn-anvil)");
    }
    let (funder, keys, addrs) = keys(&cfg.common, cfg.accounts).await?;
    let artifacts = Artifacts::embedded().map_err(|e| eyre!("{e:#}"))?;
    let mut report = ReadsReport {
        clients: cfg.clients,
        duration_secs: cfg.duration.as_secs_f64(),
        warmup_secs: cfg.warmup.as_secs_f64(),
        ..ReadsReport::default()
    };
    (report.targets, report.failures) = crate::for_each_target(targets, |t| {
        run_target(cfg, t, &funder, &keys, &addrs, &artifacts)
    })
    .await;
    Ok(report)
}

impl ReadsReport {
    /// Total failed requests over all targets and calls.
    pub fn errors(&self) -> u64 {
        self.targets
            .iter()
            .flat_map(|t| &t.calls)
            .map(|c| c.errors)
            .sum()
    }

    /// req/s of `target` for `call` relative to the last target's, when both measured it.
    pub fn ratio(&self, target: usize, call: ReadCall) -> Option<f64> {
        let last = self.targets.last()?;
        let rate = |t: &ReadsTarget| {
            t.calls
                .iter()
                .find(|c| c.call == call)
                .map(|c| c.req_per_sec)
        };
        ratio(rate(self.targets.get(target)?)?, rate(last)?)
    }

    /// The report as JSON (with each target's req/s ratio to the last target per call).
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(ts) = v.get_mut("targets").and_then(Value::as_array_mut) {
            for (i, t) in ts.iter_mut().enumerate() {
                if let Some(calls) = t.get_mut("calls").and_then(Value::as_array_mut) {
                    for (c, r) in calls.iter_mut().zip(&self.targets[i].calls) {
                        c["ratio_to_last"] = json!(self.ratio(i, r.call));
                    }
                }
            }
        }
        v
    }

    /// The human-readable report: one line per target's setup, a table with one row per call
    /// (req/s, p50, p99 and errors per target, then each target's req/s over the last target's),
    /// and the error messages.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "reads: {} clients (one keep-alive HTTP/1.1 connection each, one request at a time), \
             {:.1}s measured per call after {:.1}s warmup",
            self.clients, self.duration_secs, self.warmup_secs
        );
        for t in &self.targets {
            let s = &t.setup;
            let _ = writeln!(
                out,
                "  {}: {} chain {}, BenchToken {}, {} transfers; eth_getLogs blocks {}..={} hold \
                 {} logs in {} blocks (blocks by {}); setup {:.1}s",
                t.name,
                t.url,
                t.chain_id,
                s.token,
                s.transfers,
                s.log_range.0,
                s.log_range.1,
                s.logs_in_range,
                s.blocks_with_logs,
                s.blocks_from,
                s.setup_secs
            );
        }
        for f in &self.failures {
            let _ = writeln!(out, "  {}: FAILED: {}", f.name, f.error);
        }
        if self.targets.is_empty() {
            return out;
        }
        out.push('\n');
        let last = self.targets.len() - 1;
        let mut calls: Vec<ReadCall> = Vec::new();
        for t in &self.targets {
            for c in &t.calls {
                if !calls.contains(&c.call) {
                    calls.push(c.call);
                }
            }
        }
        let _ = write!(out, "{:<26}", "call");
        for t in &self.targets {
            let _ = write!(
                out,
                " {:>14} {:>7} {:>7} {:>6}",
                format!("{} req/s", t.name),
                "p50 µs",
                "p99 µs",
                "errors"
            );
        }
        for t in &self.targets[..last] {
            let _ = write!(
                out,
                " {:>14}",
                format!("{}/{}", t.name, self.targets[last].name)
            );
        }
        out.push('\n');
        for call in &calls {
            let _ = write!(out, "{:<26}", call.method());
            for t in &self.targets {
                match t.calls.iter().find(|c| c.call == *call) {
                    Some(c) => {
                        let _ = write!(
                            out,
                            " {:>14.0} {:>7} {:>7} {:>6}",
                            c.req_per_sec, c.latency_us.p50, c.latency_us.p99, c.errors
                        );
                    }
                    None => {
                        let _ = write!(out, " {:>14} {:>7} {:>7} {:>6}", "-", "-", "-", "-");
                    }
                }
            }
            for i in 0..last {
                let _ = write!(out, " {:>14}", fmt_ratio(self.ratio(i, *call)));
            }
            out.push('\n');
        }
        let errors = self.errors();
        if errors > 0 {
            let _ = writeln!(out, "\n{errors} failed requests (not counted in req/s):");
            for t in &self.targets {
                for c in t.calls.iter().filter(|c| c.errors > 0) {
                    let _ = writeln!(out, "  {} {}: {} errors", t.name, c.call, c.errors);
                    for (m, n) in c.error_messages.iter().take(3) {
                        let _ = writeln!(out, "    {n} × {m}");
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs<'a>(addrs: &'a [Address], hashes: &'a [B256]) -> ReadInputs<'a> {
        ReadInputs {
            seed: "s",
            addrs,
            token: Address::repeat_byte(0xee),
            tx_hashes: hashes,
            log_range: (1, 1000),
            variants: 64,
        }
    }

    fn parse(b: &Bytes) -> Value {
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn bodies_are_varied_and_deterministic() {
        let addrs: Vec<Address> = (1..=10u8).map(Address::repeat_byte).collect();
        let hashes: Vec<B256> = (1..=20u8).map(B256::repeat_byte).collect();
        let inp = inputs(&addrs, &hashes);

        let bal = request_bodies(ReadCall::GetBalance, &inp);
        assert_eq!(bal.len(), 64);
        assert_eq!(bal, request_bodies(ReadCall::GetBalance, &inp));
        let v = parse(&bal[0]);
        assert_eq!(v["method"], "eth_getBalance");
        assert_eq!(v["params"][1], "latest");
        let who: Vec<Address> = bal
            .iter()
            .map(|b| parse(b)["params"][0].as_str().unwrap().parse().unwrap())
            .collect();
        let known = who.iter().filter(|a| addrs.contains(a)).count();
        assert_eq!(known, 32, "half are funded load accounts");
        let distinct: BTreeSet<_> = who.iter().collect();
        assert!(distinct.len() > 32);
        // Another call kind draws another sequence.
        assert_ne!(
            parse(&request_bodies(ReadCall::GetTransactionCount, &inp)[1])["params"][0],
            v["params"][0].clone()
        );

        let calls = request_bodies(ReadCall::Call, &inp);
        let c = parse(&calls[3]);
        assert_eq!(c["params"][0]["to"], json!(Address::repeat_byte(0xee)));
        assert!(
            c["params"][0]["data"]
                .as_str()
                .unwrap()
                .starts_with("0x70a08231")
        );

        let receipts = request_bodies(ReadCall::GetTransactionReceipt, &inp);
        assert_eq!(receipts.len(), 20, "every hash once");
        let got: BTreeSet<String> = receipts
            .iter()
            .map(|b| parse(b)["params"][0].as_str().unwrap().to_string())
            .collect();
        assert_eq!(got.len(), 20);

        let logs = request_bodies(ReadCall::GetLogs, &inp);
        assert_eq!(logs.len(), 1);
        let f = &parse(&logs[0])["params"][0];
        assert_eq!(f["fromBlock"], "0x1");
        assert_eq!(f["toBlock"], "0x3e8");
        assert_eq!(
            parse(&request_bodies(ReadCall::GetBlockByNumber, &inp)[0])["params"],
            json!(["latest", false])
        );
    }

    #[test]
    fn chunks_land_inside_the_range() {
        assert_eq!(chunk_count(1000, 2000), 200);
        assert_eq!(chunk_count(20, 40), 4);
        assert_eq!(chunk_count(3, 40), 1);
        assert_eq!(chunk_count(1000, 10), 10);
        let marks: Vec<u64> = (0..200).map(|j| chunk_mark(100, 1000, j, 200)).collect();
        assert_eq!(marks[0], 102);
        assert_eq!(marks[199], 1097);
        assert!(marks.windows(2).all(|w| w[1] == w[0] + 5));
        assert_eq!(chunk_mark(0, 3, 0, 1), 1);
    }

    fn result(call: ReadCall, rps: f64, errors: u64) -> CallResult {
        CallResult {
            call,
            variants: 1,
            ok: (rps * 10.0) as u64,
            errors,
            error_messages: if errors > 0 {
                vec![("boom (code -32000)".into(), errors)]
            } else {
                vec![]
            },
            secs: 10.0,
            req_per_sec: rps,
            latency_us: Summary {
                count: 1,
                mean: 100.0,
                p50: 100,
                p90: 150,
                p99: 200,
                max: 300,
            },
        }
    }

    fn target(name: &str, calls: Vec<CallResult>) -> ReadsTarget {
        ReadsTarget {
            name: name.into(),
            url: "http://x".into(),
            chain_id: 1,
            setup: ReadSetup {
                token: Address::ZERO,
                start_block: 0,
                end_block: 1000,
                log_range: (1, 1000),
                transfers: 2000,
                logs_in_range: 2000,
                blocks_with_logs: 200,
                blocks_from: "anvil_mine".into(),
                setup_secs: 1.0,
            },
            calls,
        }
    }

    #[test]
    fn report_ratios_and_table() {
        let r = ReadsReport {
            clients: 16,
            duration_secs: 10.0,
            warmup_secs: 1.0,
            targets: vec![
                target(
                    "keel",
                    vec![
                        result(ReadCall::GetBalance, 21300.0, 0),
                        result(ReadCall::GetLogs, 50.0, 3),
                    ],
                ),
                target(
                    "anvil",
                    vec![
                        result(ReadCall::GetBalance, 10000.0, 0),
                        result(ReadCall::GetLogs, 100.0, 0),
                    ],
                ),
            ],
            failures: vec![],
        };
        assert_eq!(r.ratio(0, ReadCall::GetBalance), Some(2.13));
        assert_eq!(r.ratio(1, ReadCall::GetBalance), Some(1.0));
        assert_eq!(r.ratio(0, ReadCall::Call), None);
        assert_eq!(r.errors(), 3);
        let table = r.render();
        assert!(table.contains("keel/anvil"), "{table}");
        assert!(table.contains("2.13x"), "{table}");
        assert!(table.contains("0.50x"), "{table}");
        assert!(table.contains("keel eth_getLogs: 3 errors"), "{table}");
        assert!(table.contains("3 × boom (code -32000)"), "{table}");
        let j = r.to_json();
        assert_eq!(j["targets"][0]["calls"][0]["call"], "eth_getBalance");
        assert_eq!(j["targets"][0]["calls"][0]["ratio_to_last"], 2.13);
        assert_eq!(j["targets"][1]["calls"][1]["ratio_to_last"], 1.0);
    }
}
