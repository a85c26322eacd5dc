//! The command line of `keel-loadgen`.

use std::{path::PathBuf, time::Duration};

use clap::Parser;

use crate::{
    Endpoint, LoadConfig, Target, Workload,
    accounts::DEFAULT_FUNDER_KEY,
    modes::Common,
    reads::{ReadCall, ReadsConfig},
    sync_latency::SyncConfig,
};

const ABOUT: &str = "Load generator: measures the sustained included TPS, gas/s and \
submit→inclusion latency of Ethereum JSON-RPC endpoints (keel, anvil, …), one after the other \
with the same workload.";

const LONG_ABOUT: &str = "\
Load generator: measures the sustained included TPS, gas/s and submit→inclusion latency of \
Ethereum JSON-RPC endpoints (keel, anvil, …), one after the other with the same workload.

Per target: (1) setup, untimed: read eth_chainId and the fees, deploy BenchToken (erc20) or \
StorageHeavy (storage) from the funder, top up each load account to twice the cost of its \
transactions, hand out tokens (erc20), and wait until all of it is included; (2) pre-sign every \
transaction in parallel, untimed; (3) timed phase: send them as JSON-RPC batch arrays of \
eth_sendRawTransaction while a tracker polls every new block (eth_getBlockByNumber with \
transaction hashes; eth_getBlockReceipts too with --receipts) and records when each transaction \
was first seen in a block; afterwards, check a sample of receipts for reverts.

Load accounts are derived from --seed (keccak256(\"keel-loadgen\" ‖ seed ‖ index)), so reruns \
use the same accounts. Transactions are sent round-robin over the senders (batch k holds \
positions k·B..(k+1)·B of: nonce 0 of every sender, then nonce 1, …); a batch is only sent once \
every batch holding an earlier nonce of one of its senders has been answered, so keep \
--accounts ≥ --batch-size × --concurrency for full pipelining. A rejected transaction is \
counted and its sender's later transactions are skipped.

Report: included TPS = included transactions / span, span = timestamp of the last block with \
load − timestamp of the first + one block interval (n blocks carry n intervals of arrivals; \
the interval is the mean over the load blocks, or the gap to the parent for one block). gas/s \
uses the same span. Latency = batch request sent → the tracker first saw the transaction in a \
block (includes up to --poll-ms of polling delay). The table ends with each target's TPS \
relative to the first target. gas/s counts the gasUsed of the blocks holding load transactions \
(the report shows how many other transactions they held), or the load transactions' own gas \
with --receipts.

Examples:
  keel-loadgen --spawn-anvil --workload eth --accounts 1000 --txs-per-account 60
  keel-loadgen --target keel=http://127.0.0.1:1729 --target anvil=spawn-anvil --workload erc20 \\
      --accounts 500 --txs-per-account 20

spawn-anvil starts tools/node_modules/.bin/anvil (or anvil on PATH) with --block-time 1 \
--gas-limit 3000000000 on a free 127.0.0.1 port and stops it when the target is done.

Other modes (see their --help): `keel-loadgen reads` measures read-call throughput (closed \
loop, 16 keep-alive clients per call); `keel-loadgen sync-latency` measures \
eth_sendRawTransactionSync latency under a paced load.";

/// `keel-loadgen` arguments.
#[derive(Debug, Parser)]
#[command(
    name = "keel-loadgen",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    /// Another measuring mode; without one, the included-TPS run described above.
    #[command(subcommand)]
    pub mode: Option<Mode>,

    /// A target to measure, NAME=URL (HTTP JSON-RPC) or NAME=spawn-anvil; repeatable. Targets
    /// run one after the other, in order.
    #[arg(long = "target", value_name = "NAME=URL")]
    pub targets: Vec<Target>,

    /// Also measure a freshly started anvil, as the last target `anvil`.
    #[arg(long)]
    pub spawn_anvil: bool,

    /// eth: 1-wei transfers to the next account (21,000 gas); erc20: BenchToken transfer of 1
    /// unit to the next account; storage: StorageHeavy touch(--slots) writing fresh slots.
    #[arg(long, value_enum, default_value_t = Workload::Eth)]
    pub workload: Workload,

    /// Number of load accounts (senders).
    #[arg(long, default_value_t = 1000)]
    pub accounts: usize,

    /// Transactions each account sends in the timed phase.
    #[arg(long, default_value_t = 60)]
    pub txs_per_account: usize,

    /// Transactions per JSON-RPC batch request (also the largest batch of setup queries).
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,

    /// Batch requests in flight at once (one HTTP keep-alive connection each).
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,

    /// Most transactions submitted but not yet seen in a block, over all senders; the submitter
    /// waits for new blocks when reached. 0 = no limit (fine for anvil).
    #[arg(long, default_value_t = 0)]
    pub max_inflight: usize,

    /// Most transactions of one sender submitted but not yet seen in a block, for nodes that
    /// limit the mempool per sender (keel: --txpool.max-per-sender, default 1,000). Also bounds
    /// the funder's setup rounds (at most 500 transactions per round anyway). 0 = no limit (fine
    /// for anvil).
    #[arg(long, default_value_t = 0)]
    pub max_inflight_per_sender: usize,

    /// Funder private key (hex). Default: the first account of the test mnemonic
    /// (0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266), funded on anvil and keel's dev chain.
    #[arg(long, default_value = DEFAULT_FUNDER_KEY, hide_default_value = true)]
    pub funder_key: String,

    /// Seed of the load account keys.
    #[arg(long, default_value = "keel-loadgen")]
    pub seed: String,

    /// Gas limit of each load transaction. Default: 21,000 (eth), 60,000 (erc20),
    /// 50,000 + 25,000 × slots (storage).
    #[arg(long)]
    pub gas_limit: Option<u64>,

    /// Fresh storage slots each StorageHeavy call writes (storage workload).
    #[arg(long, default_value_t = 5)]
    pub slots: u64,

    /// maxFeePerGas in gwei. Default: 2 × the latest base fee + tip, so transactions stay valid
    /// while the base fee rises under load.
    #[arg(long)]
    pub max_fee_gwei: Option<f64>,

    /// maxPriorityFeePerGas in gwei. Default: eth_maxPriorityFeePerGas (1 gwei if unsupported).
    #[arg(long)]
    pub tip_gwei: Option<f64>,

    /// Read BenchToken.json and StorageHeavy.json from this directory instead of the artifacts
    /// embedded at build time (contracts/artifacts).
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,

    /// anvil binary for spawn-anvil targets. Default: tools/node_modules/.bin/anvil (searched
    /// from the current directory up), then anvil on PATH.
    #[arg(long, value_name = "PATH")]
    pub anvil_bin: Option<PathBuf>,

    /// Limit of each target's timed phase; transactions not included by then are reported as
    /// missing.
    #[arg(long, default_value_t = 300)]
    pub timeout_secs: u64,

    /// Stop waiting once everything is submitted and nothing new was included for this long.
    #[arg(long, default_value_t = 30)]
    pub stall_secs: u64,

    /// Limit for each setup step (deployment, funding round) to be included.
    #[arg(long, default_value_t = 120)]
    pub setup_timeout_secs: u64,

    /// Block polling interval, milliseconds.
    #[arg(long, default_value_t = 100)]
    pub poll_ms: u64,

    /// Progress line interval on stderr, seconds (0 = none).
    #[arg(long, default_value_t = 2.0)]
    pub progress_secs: f64,

    /// Also fetch eth_getBlockReceipts for every block during the timed phase, for exact
    /// per-transaction gas and revert counts. Off by default: gas/s then uses the gasUsed of the
    /// blocks holding load transactions (exact when the chain carries only the load), and reverts
    /// are checked on a sample afterwards. Don't use with anvil: its eth_getBlockReceipts takes
    /// seconds for a block of a few thousand transactions and stalls the node.
    #[arg(long)]
    pub receipts: bool,

    /// Without --receipts: after the timed phase, fetch the receipts of this many included
    /// transactions (spread evenly) and count reverts. 0 = skip.
    #[arg(long, default_value_t = 200)]
    pub check_receipts: usize,

    /// Print the report as JSON on stdout (progress stays on stderr).
    #[arg(long)]
    pub json: bool,
}

fn gwei(x: f64, flag: &str) -> Result<u128, String> {
    if !x.is_finite() || x < 0.0 {
        return Err(format!("{flag} must be a non-negative number"));
    }
    Ok((x * 1e9).round() as u128)
}

/// `targets`, plus a spawned anvil named `anvil` last with `spawn_anvil`; names must differ.
fn targets(mut targets: Vec<Target>, spawn_anvil: bool) -> Result<Vec<Target>, String> {
    if spawn_anvil {
        targets.push(Target {
            name: "anvil".into(),
            endpoint: Endpoint::SpawnAnvil,
        });
    }
    if targets.is_empty() {
        return Err("no targets: pass --target NAME=URL (repeatable) and/or --spawn-anvil".into());
    }
    let mut names = std::collections::HashSet::new();
    for t in &targets {
        if !names.insert(t.name.clone()) {
            return Err(format!("target name `{}` used twice", t.name));
        }
    }
    Ok(targets)
}

fn secs(x: f64, flag: &str, allow_zero: bool) -> Result<Duration, String> {
    if !x.is_finite() || x < 0.0 || (!allow_zero && x == 0.0) {
        return Err(format!(
            "{flag} must be a {} number",
            if allow_zero {
                "non-negative"
            } else {
                "positive"
            }
        ));
    }
    Ok(Duration::from_secs_f64(x))
}

/// The measuring modes besides the default included-TPS run.
#[derive(Debug, clap::Subcommand)]
pub enum Mode {
    /// Read-call throughput: per call, --clients closed-loop clients (one keep-alive HTTP/1.1
    /// connection each, one request at a time) for --duration-secs, each target in turn; the
    /// table shows req/s, p50 and p99 per target and each target's req/s over the last
    /// target's.
    #[command(long_about = READS_ABOUT)]
    Reads(ReadsArgs),
    /// eth_sendRawTransactionSync (EIP-7966) latency under a paced open-loop load of 1-wei
    /// transfers; the table shows sent, ok, errors, rate, p50/p90/p99/max and each target's
    /// p50/p99 over the last target's.
    #[command(long_about = SYNC_ABOUT)]
    SyncLatency(SyncArgs),
}

const READS_ABOUT: &str = "\
Read-call throughput of each target, one call at a time.

Per target: (1) setup, untimed: deploy BenchToken, fund --accounts load accounts, then create \
--log-blocks blocks with --transfers token transfers spread over them (a chunk every 5 blocks), \
using anvil_mine when the node has it and otherwise waiting for the node's own blocks (start \
keel with `keel l2 --dev --no-monitor --block-producer.block-time 20` for 50 blocks/s); \
(2) prepare --variants request bodies per call, untimed, the same on every target; (3) per \
call, --clients tasks each with one keep-alive HTTP/1.1 connection send one request at a time \
for --warmup-secs, then --duration-secs measured. Only replies with a non-null result count; \
every JSON-RPC error, null result or failed request is counted and listed.

Calls: eth_getBalance (half funded load accounts, half never-seen addresses, \"latest\"); \
eth_getBlockByNumber(\"latest\", false); eth_call of BenchToken balanceOf(addr) at \"latest\" \
(addresses mixed the same way); eth_getTransactionReceipt of the setup's transfers; eth_getLogs \
of BenchToken over the last --log-blocks blocks of the setup; eth_getTransactionCount \
(addresses as for eth_getBalance, \"latest\").

Ratios are each target's req/s over the last target's (put anvil last, e.g. --spawn-anvil). \
spawn-anvil runs anvil with --block-time 1 and its logging turned off.

Example:
  keel-loadgen reads --target keel=http://127.0.0.1:1729 --spawn-anvil";

const SYNC_ABOUT: &str = "\
eth_sendRawTransactionSync (EIP-7966) latency under a paced open-loop load.

Per target: fund --accounts load accounts (untimed), send one eth_sendRawTransactionSync from \
the funder as a probe (a target without the method stops here with the JSON-RPC error), \
pre-sign the 1-wei transfers (sender k mod accounts sends the k-th), then send transaction k \
at t0 + k / --rate, each as its own request over a pool of keep-alive HTTP/1.1 connections \
(at most --max-inflight at once), --warmup-secs unmeasured first. Latency = request sent → \
reply received; a reply counts when it holds a receipt.

Ratios are each target's p50 / p99 over the last target's. spawn-anvil runs anvil with \
--block-time 1 and its logging turned off.

Example:
  keel-loadgen sync-latency --target keel=http://127.0.0.1:1729 --spawn-anvil";

/// Flags every mode shares.
#[derive(Debug, clap::Args)]
pub struct CommonArgs {
    /// A target to measure, NAME=URL (http://) or NAME=spawn-anvil; repeatable; in order.
    #[arg(long = "target", value_name = "NAME=URL")]
    pub targets: Vec<Target>,

    /// Also measure a freshly started anvil, as the last target `anvil`.
    #[arg(long)]
    pub spawn_anvil: bool,

    /// Funder private key (hex). Default: test mnemonic account 0 (0xf39F…2266).
    #[arg(long, default_value = DEFAULT_FUNDER_KEY, hide_default_value = true)]
    pub funder_key: String,

    /// Seed of the load account keys and of the request parameters.
    #[arg(long, default_value = "keel-loadgen")]
    pub seed: String,

    /// anvil binary for spawn-anvil targets (default: tools/node_modules/.bin/anvil, PATH).
    #[arg(long, value_name = "PATH")]
    pub anvil_bin: Option<PathBuf>,

    /// Limit for each setup step to be included.
    #[arg(long, default_value_t = 120)]
    pub setup_timeout_secs: u64,

    /// Print the report as JSON on stdout (progress stays on stderr).
    #[arg(long)]
    pub json: bool,
}

impl CommonArgs {
    fn into_parts(self) -> Result<(Common, Vec<Target>, bool), String> {
        let targets = targets(self.targets, self.spawn_anvil)?;
        Ok((
            Common {
                funder_key: self.funder_key,
                seed: self.seed,
                anvil_bin: self.anvil_bin,
                setup_timeout: Duration::from_secs(self.setup_timeout_secs),
            },
            targets,
            self.json,
        ))
    }
}

/// `keel-loadgen reads` flags.
#[derive(Debug, clap::Args)]
pub struct ReadsArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Calls to measure, comma-separated (short names: balance, block, call, receipt, logs,
    /// nonce).
    #[arg(long, value_enum, value_delimiter = ',', ignore_case = true,
          default_values_t = ReadCall::ALL.to_vec())]
    pub calls: Vec<ReadCall>,

    /// Concurrent clients per call, one keep-alive connection each, one request at a time.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,

    /// Measured seconds per call.
    #[arg(long, default_value_t = 10.0)]
    pub duration_secs: f64,

    /// Unmeasured seconds per call before the measurement.
    #[arg(long, default_value_t = 1.0)]
    pub warmup_secs: f64,

    /// Load accounts (token holders and senders of the setup's transfers).
    #[arg(long, default_value_t = 100)]
    pub accounts: usize,

    /// Blocks the setup creates; also the eth_getLogs range (its last N blocks).
    #[arg(long, default_value_t = 1000)]
    pub log_blocks: u64,

    /// Token transfers the setup spreads over those blocks (their receipts are read).
    #[arg(long, default_value_t = 2000)]
    pub transfers: usize,

    /// Distinct request bodies per call (for the calls with parameters to vary).
    #[arg(long, default_value_t = 4096)]
    pub variants: usize,

    /// Timeout of one request, seconds.
    #[arg(long, default_value_t = 30)]
    pub request_timeout_secs: u64,
}

impl ReadsArgs {
    /// The run settings, the targets and whether to print JSON.
    pub fn into_config(self) -> Result<(ReadsConfig, Vec<Target>, bool), String> {
        let (common, targets, json) = self.common.into_parts()?;
        let cfg = ReadsConfig {
            common,
            calls: self.calls,
            clients: self.clients,
            duration: secs(self.duration_secs, "--duration-secs", false)?,
            warmup: secs(self.warmup_secs, "--warmup-secs", true)?,
            accounts: self.accounts,
            log_blocks: self.log_blocks,
            transfers: self.transfers,
            variants: self.variants,
            request_timeout: Duration::from_secs(self.request_timeout_secs.max(1)),
            progress: true,
        };
        Ok((cfg, targets, json))
    }
}

/// `keel-loadgen sync-latency` flags.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Offered load, transactions per second (open loop: sends follow the schedule whatever
    /// the replies do).
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,

    /// Measured seconds.
    #[arg(long, default_value_t = 20.0)]
    pub duration_secs: f64,

    /// Unmeasured seconds of the same load first.
    #[arg(long, default_value_t = 2.0)]
    pub warmup_secs: f64,

    /// Load accounts; sender k mod N sends the k-th transfer, so one sender's transfers are
    /// N / rate seconds apart.
    #[arg(long, default_value_t = 2000)]
    pub accounts: usize,

    /// Most requests in flight (each on its own connection; keel accepts 1,000 connections).
    #[arg(long, default_value_t = 2000)]
    pub max_inflight: usize,

    /// Pass this timeout (ms) as the method's second parameter (EIP-7966). Default: omitted,
    /// the node's default (anvil 1.7.1 rejects a second parameter).
    #[arg(long)]
    pub sync_timeout_ms: Option<u64>,

    /// Client-side timeout of one request, seconds.
    #[arg(long, default_value_t = 60)]
    pub request_timeout_secs: u64,
}

impl SyncArgs {
    /// The run settings, the targets and whether to print JSON.
    pub fn into_config(self) -> Result<(SyncConfig, Vec<Target>, bool), String> {
        let (common, targets, json) = self.common.into_parts()?;
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return Err("--rate must be a positive number".into());
        }
        let cfg = SyncConfig {
            common,
            rate: self.rate,
            duration: secs(self.duration_secs, "--duration-secs", false)?,
            warmup: secs(self.warmup_secs, "--warmup-secs", true)?,
            accounts: self.accounts,
            max_inflight: self.max_inflight,
            sync_timeout_ms: self.sync_timeout_ms,
            request_timeout: Duration::from_secs(self.request_timeout_secs.max(1)),
            progress: true,
        };
        Ok((cfg, targets, json))
    }
}

impl Args {
    /// The run settings and the targets.
    pub fn into_config(self) -> Result<(LoadConfig, Vec<Target>), String> {
        let targets = targets(self.targets, self.spawn_anvil)?;
        if !(self.progress_secs.is_finite() && self.progress_secs >= 0.0) {
            return Err("--progress-secs must be a non-negative number".into());
        }
        let cfg = LoadConfig {
            workload: self.workload,
            accounts: self.accounts,
            txs_per_account: self.txs_per_account,
            batch_size: self.batch_size,
            concurrency: self.concurrency,
            max_inflight: self.max_inflight,
            max_inflight_per_sender: self.max_inflight_per_sender,
            funder_key: self.funder_key,
            seed: self.seed,
            gas_limit: self.gas_limit,
            slots: self.slots,
            max_fee: self
                .max_fee_gwei
                .map(|g| gwei(g, "--max-fee-gwei"))
                .transpose()?,
            tip: self.tip_gwei.map(|g| gwei(g, "--tip-gwei")).transpose()?,
            artifacts_dir: self.artifacts,
            anvil_bin: self.anvil_bin,
            timeout: Duration::from_secs(self.timeout_secs),
            stall: Duration::from_secs(self.stall_secs),
            poll: Duration::from_millis(self.poll_ms.max(1)),
            progress: Duration::from_secs_f64(self.progress_secs),
            setup_timeout: Duration::from_secs(self.setup_timeout_secs),
            receipts: self.receipts,
            check_receipts: self.check_receipts,
            ..LoadConfig::default()
        };
        Ok((cfg, targets))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        let a = Args::try_parse_from([
            "keel-loadgen",
            "--target",
            "keel=http://127.0.0.1:1729",
            "--target",
            "a2=spawn-anvil",
            "--spawn-anvil",
            "--workload",
            "erc20",
        ])
        .unwrap();
        let (cfg, t) = a.into_config().unwrap();
        assert_eq!(cfg.workload, Workload::Erc20);
        assert_eq!(t[0].endpoint, Endpoint::Url("http://127.0.0.1:1729".into()));
        assert_eq!(t[1].endpoint, Endpoint::SpawnAnvil);
        assert_eq!(t[2].name, "anvil");
        assert!(Args::try_parse_from(["keel-loadgen", "--target", "nourl"]).is_err());
        let dup =
            Args::try_parse_from(["keel-loadgen", "--target", "a=x", "--target", "a=y"]).unwrap();
        assert!(dup.into_config().is_err());
        assert!(
            Args::try_parse_from(["keel-loadgen"])
                .unwrap()
                .into_config()
                .is_err()
        );
    }

    #[test]
    fn parses_modes() {
        let a = Args::try_parse_from([
            "keel-loadgen",
            "reads",
            "--target",
            "keel=http://127.0.0.1:1729",
            "--spawn-anvil",
            "--calls",
            "balance,eth_getLogs",
            "--duration-secs",
            "2.5",
        ])
        .unwrap();
        let Some(Mode::Reads(r)) = a.mode else {
            panic!("reads mode")
        };
        let (cfg, t, json) = r.into_config().unwrap();
        assert_eq!(cfg.calls, vec![ReadCall::GetBalance, ReadCall::GetLogs]);
        assert_eq!(cfg.duration, Duration::from_millis(2500));
        assert_eq!((cfg.clients, cfg.log_blocks), (16, 1000));
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].name, "anvil");
        assert!(!json);

        let a = Args::try_parse_from(["keel-loadgen", "reads", "--spawn-anvil"]).unwrap();
        let Some(Mode::Reads(r)) = a.mode else {
            panic!("reads mode")
        };
        assert_eq!(r.into_config().unwrap().0.calls, ReadCall::ALL.to_vec());

        let a = Args::try_parse_from([
            "keel-loadgen",
            "sync-latency",
            "--spawn-anvil",
            "--rate",
            "500",
            "--json",
        ])
        .unwrap();
        let Some(Mode::SyncLatency(s)) = a.mode else {
            panic!("sync mode")
        };
        let (cfg, _, json) = s.into_config().unwrap();
        assert_eq!(cfg.rate, 500.0);
        assert_eq!(cfg.duration, Duration::from_secs(20));
        assert!(json);

        // The default mode's flags don't mix with a mode.
        assert!(Args::try_parse_from(["keel-loadgen", "--workload", "eth", "reads"]).is_err());
        assert!(
            Args::try_parse_from(["keel-loadgen", "reads", "--calls", "nope", "--spawn-anvil"])
                .is_err()
        );
        // No mode: the default run, unchanged.
        assert!(
            Args::try_parse_from(["keel-loadgen", "--spawn-anvil"])
                .unwrap()
                .mode
                .is_none()
        );
    }
}
