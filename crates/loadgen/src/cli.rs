//! The command line of `keel-loadgen`.

use std::{path::PathBuf, time::Duration};

use clap::Parser;

use crate::{Endpoint, LoadConfig, Target, Workload, accounts::DEFAULT_FUNDER_KEY};

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
--gas-limit 3000000000 --silent on a free 127.0.0.1 port and stops it when the target is done.";

/// `keel-loadgen` arguments.
#[derive(Debug, Parser)]
#[command(name = "keel-loadgen", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Args {
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

impl Args {
    /// The run settings and the targets.
    pub fn into_config(self) -> Result<(LoadConfig, Vec<Target>), String> {
        let mut targets = self.targets;
        if self.spawn_anvil {
            targets.push(Target {
                name: "anvil".into(),
                endpoint: Endpoint::SpawnAnvil,
            });
        }
        if targets.is_empty() {
            return Err(
                "no targets: pass --target NAME=URL (repeatable) and/or --spawn-anvil".into(),
            );
        }
        let mut names = std::collections::HashSet::new();
        for t in &targets {
            if !names.insert(t.name.clone()) {
                return Err(format!("target name `{}` used twice", t.name));
            }
        }
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
}
