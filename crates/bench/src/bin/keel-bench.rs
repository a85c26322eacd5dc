//! keel-bench: generate chains and measure block import.
//!
//! `keel-bench import` generates a chain (ETH or ERC20 transfers), writes it as an RLP file, then
//! imports it into a fresh redb datadir and reports Mgas/s, blocks/s and tx/s, including sender
//! recovery, execution, state-root computation and the commit of every block.
//!
//! `keel-bench l1-gas` deploys keel's L1 contracts on a local anvil and reports the gas of every
//! user- and operator-facing L1 operation (deposits, commits, verification, claims).
//!
//! `keel-bench da` builds chains of ETH and ERC20 transfers (to new recipients, and among a fixed
//! set of traders), follows each batch's state diff block by block, and reports how many transfers
//! one blob holds in each payload encoding, the time to build the fullest blob, the L1 gas and
//! blob gas of committing and verifying it on a local anvil, and (the chains run the L1 fee rule)
//! the L1 fees each fullest batch collected against what it costs on L1.
//!
//! `keel-bench deposits` sends N deposits on a local anvil and times the L1Watcher (until all are
//! in the mempool's privileged lane) and block production (until all are in L2 blocks), then
//! checks every recipient's L2 balance.

use std::{path::PathBuf, time::Instant};

use clap::{Parser, Subcommand, ValueEnum};
use eyre::WrapErr;
use keel_bench::chaingen::{ChainGenConfig, Workload, generate};
use keel_chain::{
    Blockchain,
    importer::{ImportStats, SyncPolicy, import_blocks},
    rlp_file::RlpBlocks,
};
use keel_storage::Store;
use keel_types::ChainSpec;

#[derive(Debug, Parser)]
#[command(
    name = "keel-bench",
    about = "Chain generator, import benchmark, L1 contract gas report and deposit pipeline benchmark for keel"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum WorkloadArg {
    Eth,
    Erc20,
}

#[derive(Debug, clap::Args)]
struct GenArgs {
    /// Number of funded accounts that send and receive.
    #[arg(long, default_value_t = 10_000)]
    accounts: usize,
    /// Number of blocks to generate.
    #[arg(long, default_value_t = 200)]
    blocks: usize,
    /// Transactions per block.
    #[arg(long, default_value_t = 500)]
    txs: usize,
    /// What the transactions do.
    #[arg(long, value_enum, default_value = "eth")]
    workload: WorkloadArg,
    /// Block gas limit.
    #[arg(long, default_value_t = 60_000_000)]
    gas_limit: u64,
    /// Give the chain the L1 fee rule (docs/fees.md) with the default scalars and prices, so
    /// that every transaction also pays an L1 fee into a vault (to time its cost).
    #[arg(long)]
    fees: bool,
}

impl GenArgs {
    fn config(&self) -> ChainGenConfig {
        ChainGenConfig {
            accounts: self.accounts,
            blocks: self.blocks,
            txs_per_block: self.txs,
            workload: match self.workload {
                WorkloadArg::Eth => Workload::EthTransfer,
                WorkloadArg::Erc20 => Workload::Erc20Transfer,
            },
            gas_limit: self.gas_limit,
            seed: 1,
            fees: self.fees.then_some(keel_types::fees::DEFAULT_FEE_PARAMS),
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a chain and write `genesis.json` and `blocks.rlp` into a directory.
    Generate {
        #[command(flatten)]
        gen_args: GenArgs,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Generate a chain, then time its import into a fresh redb datadir.
    Import {
        #[command(flatten)]
        gen_args: GenArgs,
        /// Where to put the datadir (a fresh temporary directory inside it); default: system temp.
        #[arg(long)]
        workdir: Option<PathBuf>,
        /// Import the same chain this many times, each into a fresh datadir, and report each run
        /// and the median (disk and VM noise make single runs vary).
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Time the sequencer's path without the network: mempool admission of every transaction
    /// (in batches, as RPC batches arrive), then block production on a redb datadir until the
    /// pool is empty.
    Produce {
        #[command(flatten)]
        gen_args: GenArgs,
        /// Transactions per admission batch.
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Where to put the datadir; default: system temp.
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// The sequencer over a long life: TRANSFERS ETH transfers to fresh recipients (each a new
    /// account) through mempool admission and the block producer on a fresh redb datadir; prints
    /// tx/s and the datadir's size after every REPORT_EVERY transfers, then the size of each
    /// table. Signing runs on its own thread and is not timed.
    Grow {
        #[arg(long, default_value_t = 10_000_000)]
        transfers: u64,
        #[arg(long, default_value_t = 1_000_000)]
        report_every: u64,
        #[arg(long, default_value_t = 1_000)]
        senders: usize,
        /// Block gas limit (the producer's state diff budget may cut blocks first).
        #[arg(long, default_value_t = 210_000_000)]
        gas_limit: u64,
        /// Transactions per admission batch.
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Transactions signed, admitted and produced per round (must divide --report-every).
        #[arg(long, default_value_t = 20_000)]
        chunk: usize,
        /// redb's page cache in MiB (the node's default: 512).
        #[arg(long, default_value_t = 512)]
        db_cache_mb: usize,
        /// Where to put the datadir; default: system temp.
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// Time tracing against execution: produce the workload's blocks (one block: `--blocks 1`),
    /// then trace the last one through the node's RPC methods in process
    /// (`debug_traceBlockByNumber`, JSON in and out) with `callTracer` and with `noopTracer`;
    /// print each run and the ratio to the block's execution in the producer.
    Trace {
        #[command(flatten)]
        gen_args: GenArgs,
        /// Traces of the block per tracer.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Where to put the datadir; default: system temp.
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// Time the prover against the sequencer on the same batches: produce the workload's blocks
    /// (the sequencer, timed), seal them into batches, build each batch's ProverInput (witness
    /// recorded by re-execution) and re-execute it with the stateless program; print Mgas/s of
    /// both and the witness bytes per transaction.
    Prove {
        #[command(flatten)]
        gen_args: GenArgs,
        /// Where to put the datadir; default: system temp.
        #[arg(long)]
        workdir: Option<PathBuf>,
        /// Repeat the whole measurement this many times (fresh datadir each) and report the
        /// median ratio.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Measure the L1 gas of keel's L1 contracts on a local anvil (Prague): deployment, deposits,
    /// `sendToL2`, `commitBatch`, `verifyBatches` and withdrawal claims.
    L1Gas {
        /// Print the results as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// The anvil binary (default: tools/node_modules/.bin/anvil, else `anvil` on PATH).
        #[arg(long)]
        anvil: Option<PathBuf>,
    },
    /// Time deposits from L1 into L2 blocks: N ETH deposits mined on a local anvil, then the
    /// L1Watcher until all are in the privileged lane and block production until all are
    /// included (default budget, then a larger one), end to end from `evm_mine`; every L2
    /// balance is checked.
    Deposits {
        /// How many deposits (sent from the ten dev accounts).
        #[arg(long, default_value_t = keel_bench::deposits::DEFAULT_DEPOSITS)]
        deposits: usize,
        /// Privileged txs per block of the larger budget (its gas budget is the whole block);
        /// default: --deposits.
        #[arg(long)]
        max_privileged_per_block: Option<usize>,
        /// Print the results as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// The anvil binary (default: tools/node_modules/.bin/anvil, else `anvil` on PATH).
        #[arg(long)]
        anvil: Option<PathBuf>,
        /// Where to put the datadirs; default: system temp.
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// Transfers per blob: real chains (ETH and ERC20 transfers, to new recipients and among a
    /// fixed set of accounts) fed block by block to the batch diff builder; for each of the four
    /// payload encodings (v1/v2 × raw/brotli) the most transfers whose batch fits one blob; the
    /// time to build the fullest blob; the L1 cost of committing and verifying it on anvil; the
    /// L1 fees the chain collected for each fullest batch against that cost at two L1 price
    /// points, and the fit of payload bytes against transaction size; and the same for the
    /// batches as the node seals them (on 1.1× fee coverage or a full blob, whichever first).
    Da {
        /// Funded accounts (the senders; the traders).
        #[arg(long, default_value_t = 1_000)]
        accounts: usize,
        /// Transfers per block while no encoding is near the blob's limit.
        #[arg(long, default_value_t = 50)]
        block_txs: usize,
        /// Stop each workload after this many transfers.
        #[arg(long, default_value_t = 10_000)]
        max_txs: usize,
        /// Seed of recipients and amounts.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Runs of each timed step (medians reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Skip the L1 commit on anvil.
        #[arg(long)]
        no_l1: bool,
        /// Print the results as JSON instead of tables.
        #[arg(long)]
        json: bool,
        /// The anvil binary (default: tools/node_modules/.bin/anvil, else `anvil` on PATH).
        #[arg(long)]
        anvil: Option<PathBuf>,
    },
    /// Time the trie alone: N accounts, then blocks of random account updates (update, root,
    /// commit on a trie opened cold at the previous root, and the write for a redb table).
    Trie {
        #[arg(long, default_value_t = 100_000)]
        accounts: u32,
        #[arg(long, default_value_t = 1_000)]
        updates: u32,
        #[arg(long, default_value_t = 10)]
        blocks: u32,
        /// Where the nodes live between blocks: `memory` (by hash), `redb-path` (the node's
        /// layout: by nibble path, unreachable nodes deleted) or `redb-hash` (by hash, kept).
        #[arg(long, value_enum, default_value = "memory")]
        store: keel_bench::trie_bench::NodeTable,
        /// Directory for the redb file (default: a temporary directory, removed after).
        #[arg(long)]
        workdir: Option<PathBuf>,
        /// With `redb-path`: keep the account trie's nodes down to this many nibbles in memory
        /// across blocks, as the node does (`NodeCache`); `none` reads every node from redb.
        #[arg(long, default_value = "4")]
        cache_depth: String,
    },
}

fn main() -> eyre::Result<()> {
    match Cli::parse().command {
        Command::Generate { gen_args, out } => {
            let chain = generate(&gen_args.config())?;
            std::fs::create_dir_all(&out)?;
            std::fs::write(out.join("genesis.json"), &chain.genesis_json)?;
            std::fs::write(out.join("blocks.rlp"), chain.rlp())?;
            println!(
                "wrote {} blocks, {} txs, {} gas to {}",
                chain.blocks.len(),
                chain.total_txs,
                chain.total_gas,
                out.display()
            );
            Ok(())
        }
        Command::Import {
            gen_args,
            workdir,
            runs,
        } => import(&gen_args, workdir, runs),
        Command::Grow {
            transfers,
            report_every,
            senders,
            gas_limit,
            batch,
            chunk,
            db_cache_mb,
            workdir,
        } => grow(
            keel_bench::grow_bench::GrowConfig {
                transfers,
                report_every,
                senders,
                gas_limit,
                batch,
                chunk,
                db_cache_bytes: db_cache_mb << 20,
            },
            workdir,
        ),
        Command::Produce {
            gen_args,
            batch,
            workdir,
        } => {
            let dir = match &workdir {
                Some(w) => tempfile::tempdir_in(w)?,
                None => tempfile::tempdir()?,
            };
            let r = keel_bench::produce_bench::run(&gen_args.config(), batch, dir.path())?;
            let per_sec = |d: std::time::Duration| r.txs as f64 / d.as_secs_f64();
            println!(
                "admission: {} txs in {:.2}s = {:.0} tx/s (batches of {batch})",
                r.txs,
                r.admission.as_secs_f64(),
                per_sec(r.admission)
            );
            println!(
                "production: {} blocks in {:.2}s = {:.0} tx/s, {:.1} Mgas/s (execution {:.2}s, state root {:.2}s, commit {:.2}s)",
                r.blocks,
                r.production.as_secs_f64(),
                per_sec(r.production),
                r.gas as f64 / 1e6 / r.production.as_secs_f64(),
                r.execution.as_secs_f64(),
                r.state_root.as_secs_f64(),
                r.commit.as_secs_f64()
            );
            println!(
                "end to end (admission + production, one core each would overlap them): {:.0} tx/s",
                per_sec(r.admission + r.production)
            );
            Ok(())
        }
        Command::Trace {
            gen_args,
            runs,
            workdir,
        } => {
            let dir = match &workdir {
                Some(w) => tempfile::tempdir_in(w)?,
                None => tempfile::tempdir()?,
            };
            let r = keel_bench::trace_bench::run(&gen_args.config(), dir.path(), runs)?;
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
            let exec = ms(r.execution);
            println!(
                "block {}: {} txs, execution in the producer {exec:.1} ms",
                r.block, r.txs
            );
            for (name, runs) in [
                ("callTracer", &r.call_tracer),
                ("noopTracer", &r.noop_tracer),
            ] {
                let mut sorted: Vec<f64> = runs.iter().map(|d| ms(*d)).collect();
                sorted.sort_by(f64::total_cmp);
                let median = sorted[sorted.len() / 2];
                let all: Vec<String> = runs.iter().map(|d| format!("{:.1}", ms(*d))).collect();
                println!(
                    "{name}: median {median:.1} ms = {:.2}x execution (runs: {} ms)",
                    median / exec,
                    all.join(", ")
                );
            }
            println!("callTracer answer: {} bytes of JSON", r.call_tracer_bytes);
            Ok(())
        }
        Command::Prove {
            gen_args,
            workdir,
            runs,
        } => {
            let mut ratios = Vec::new();
            for run in 1..=runs.max(1) {
                let dir = match &workdir {
                    Some(w) => tempfile::tempdir_in(w)?,
                    None => tempfile::tempdir()?,
                };
                let r = keel_bench::prove_bench::run(&gen_args.config(), dir.path())?;
                println!(
                    "run {run}: sequencer: {} txs, {:.1} Mgas in {:.2}s = {:.1} Mgas/s",
                    r.txs,
                    r.gas as f64 / 1e6,
                    r.production.as_secs_f64(),
                    r.production_mgas()
                );
                for b in &r.batches {
                    println!(
                        "  batch {}: {} blocks, {} txs, {:.1} Mgas; input built in {:.2}s ({} B, witness {} B = {:.0} B/tx, {} nodes); proved in {:.2}s = {:.1} Mgas/s",
                        b.number,
                        b.blocks,
                        b.txs,
                        b.gas as f64 / 1e6,
                        b.input_build.as_secs_f64(),
                        b.input_bytes,
                        b.witness_bytes,
                        b.witness_bytes as f64 / b.txs.max(1) as f64,
                        b.witness_nodes,
                        b.prove.as_secs_f64(),
                        b.gas as f64 / 1e6 / b.prove.as_secs_f64()
                    );
                }
                let ratio = r.prove_mgas() / r.production_mgas();
                println!(
                    "  stateless re-execution: {:.1} Mgas/s = {:.0}% of the sequencer's production",
                    r.prove_mgas(),
                    100.0 * ratio
                );
                ratios.push(ratio);
            }
            ratios.sort_by(f64::total_cmp);
            println!(
                "median over {} runs: stateless re-execution at {:.0}% of the sequencer's Mgas/s",
                ratios.len(),
                100.0 * ratios[ratios.len() / 2]
            );
            Ok(())
        }
        Command::L1Gas { json, anvil } => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .wrap_err("starting the async runtime")?;
            let report =
                runtime.block_on(keel_bench::l1_gas::run(&keel_bench::l1_gas::L1GasOptions {
                    anvil,
                }))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report.to_json())?);
            } else {
                print!("{}", report.to_table());
            }
            Ok(())
        }
        Command::Deposits {
            deposits,
            max_privileged_per_block,
            json,
            anvil,
            workdir,
        } => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .wrap_err("starting the async runtime")?;
            let options = keel_bench::deposits::DepositsOptions {
                deposits,
                max_privileged_per_block,
                anvil,
                workdir,
            };
            let report = runtime.block_on(keel_bench::deposits::run(&options))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report.to_json())?);
            } else {
                print!("{}", report.to_table());
            }
            Ok(())
        }
        Command::Da {
            accounts,
            block_txs,
            max_txs,
            seed,
            runs,
            no_l1,
            json,
            anvil,
        } => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .wrap_err("starting the async runtime")?;
            let options = keel_bench::da::DaOptions {
                accounts,
                block_txs,
                max_txs,
                seed,
                runs,
                l1: !no_l1,
                anvil,
                ..keel_bench::da::DaOptions::default()
            };
            let report = runtime.block_on(keel_bench::da::run(&options))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report.to_json())?);
            } else {
                print!("{}", report.to_table());
            }
            Ok(())
        }
        Command::Trie {
            accounts,
            updates,
            blocks,
            store,
            workdir,
            cache_depth,
        } => {
            let cache_depth = match cache_depth.as_str() {
                "none" => None,
                depth => Some(depth.parse::<usize>().map_err(|e| {
                    eyre::eyre!("--cache-depth {depth}: {e} (a number of nibbles, or none)")
                })?),
            };
            let dir = match &workdir {
                Some(dir) => tempfile::tempdir_in(dir)?,
                None => tempfile::tempdir()?,
            };
            let report = keel_bench::trie_bench::run(
                accounts,
                updates,
                blocks,
                store,
                cache_depth,
                dir.path(),
            )?;
            println!(
                "built {accounts} leaves in {:.2?} ({} nodes, {store:?}, cache depth {cache_depth:?})",
                report.build, report.nodes
            );
            let n = report.blocks.len().max(1) as u32;
            let mean = |f: fn(&keel_bench::trie_bench::BlockTimes) -> std::time::Duration| {
                report.blocks.iter().map(f).sum::<std::time::Duration>() / n
            };
            println!(
                "per block of {updates} updates (mean of {blocks}): update {:.2?}, root {:.2?}, commit {:.2?}, write {:.2?}; update+root {:.2?}",
                mean(|b| b.update),
                mean(|b| b.root),
                mean(|b| b.commit),
                mean(|b| b.write),
                mean(|b| b.update + b.root),
            );
            if let Some(bytes) = report.file_bytes {
                println!("redb file: {:.1} MiB", mib(bytes));
            }
            Ok(())
        }
    }
}

fn import(gen_args: &GenArgs, workdir: Option<PathBuf>, runs: usize) -> eyre::Result<()> {
    let started = Instant::now();
    let chain = generate(&gen_args.config())?;
    println!(
        "generated {} blocks × {} {:?} txs ({} accounts) in {:.1}s",
        chain.blocks.len(),
        gen_args.txs,
        gen_args.workload,
        gen_args.accounts,
        started.elapsed().as_secs_f64()
    );
    let rlp = chain.rlp();
    let mut rates = Vec::with_capacity(runs);
    for run in 1..=runs.max(1) {
        let dir = match &workdir {
            Some(w) => tempfile::tempdir_in(w)?,
            None => tempfile::tempdir()?,
        };
        let (genesis, spec) = ChainSpec::from_genesis_json(&chain.genesis_json)?;
        let store = Store::open(dir.path().join("keel.redb")).wrap_err("opening datadir")?;
        let blockchain = Blockchain::open(store, &genesis, spec)?;

        let mut stats = ImportStats::default();
        let blocks = RlpBlocks::new(rlp.as_slice());
        import_blocks(
            &blockchain,
            blocks,
            SyncPolicy::default(),
            &mut stats,
            |_| {},
        )?;
        if stats.imported != chain.blocks.len() as u64 {
            eyre::bail!(
                "imported {} of {} blocks",
                stats.imported,
                chain.blocks.len()
            );
        }
        let secs = stats.elapsed.as_secs_f64();
        let mgas = stats.gas as f64 / 1e6 / secs;
        rates.push((
            mgas,
            secs,
            stats.imported as f64 / secs,
            stats.txs as f64 / secs,
        ));
        let phases = stats.timings;
        let pct = |d: std::time::Duration| 100.0 * d.as_secs_f64() / secs;
        let tables = blockchain.store().table_sizes()?;
        let in_use: u64 = tables
            .iter()
            .map(|t| t.stored_bytes + t.overhead_bytes)
            .sum();
        if std::env::var_os("KEEL_BENCH_TABLES").is_some() {
            print_table_sizes(&tables);
        }
        // As `keel import` ends: the datadir's size before and after the compaction it runs.
        drop(blockchain);
        let compact_started = Instant::now();
        let compaction = keel_storage::compact_file(dir.path().join("keel.redb"))?;
        let compact_secs = compact_started.elapsed().as_secs_f64();
        println!(
            "run {run}: {} blocks, {} txs, {:.1} Mgas in {secs:.2}s: {mgas:.1} Mgas/s, {:.1} blocks/s, {:.0} tx/s; \
             busy: exec {:.0}%, state root {:.0}%, write {:.0}% of wall (overlapping); datadir {:.0} MiB, \
             {:.1} MiB after compaction ({compact_secs:.2}s); tables {:.1} MiB in use",
            stats.imported,
            stats.txs,
            stats.gas as f64 / 1e6,
            stats.imported as f64 / secs,
            stats.txs as f64 / secs,
            pct(phases.execution),
            pct(phases.state_root),
            pct(phases.commit),
            mib(compaction.before_bytes),
            mib(compaction.after_bytes),
            mib(in_use)
        );
    }
    rates.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mgas, secs, blocks, txs) = rates[rates.len() / 2];
    println!(
        "median of {}: {mgas:.1} Mgas/s, {blocks:.1} blocks/s, {txs:.0} tx/s ({secs:.2}s); range {:.1}..{:.1} Mgas/s",
        rates.len(),
        rates[0].0,
        rates[rates.len() - 1].0
    );
    Ok(())
}

fn grow(config: keel_bench::grow_bench::GrowConfig, workdir: Option<PathBuf>) -> eyre::Result<()> {
    if config.chunk == 0 || !config.report_every.is_multiple_of(config.chunk as u64) {
        eyre::bail!("--chunk must divide --report-every");
    }
    let dir = match &workdir {
        Some(w) => tempfile::tempdir_in(w)?,
        None => tempfile::tempdir()?,
    };
    println!(
        "{} transfers to fresh recipients from {} senders, gas limit {}, redb cache {} MiB, datadir {}",
        config.transfers,
        config.senders,
        config.gas_limit,
        config.db_cache_bytes >> 20,
        dir.path().display()
    );
    println!(
        "(µs per transfer: admit = mempool admission, then the producer's execution, state root and write)"
    );
    println!("(datadir: the file's length; disk: the space it takes, as du counts it)");
    println!(
        "{:>12} {:>8} {:>10} {:>12} {:>10} {:>9} {:>10} {:>7} {:>7} {:>7} {:>7}",
        "transfers",
        "blocks",
        "tx/s",
        "datadir MiB",
        "B/transfer",
        "disk MiB",
        "B/transfer",
        "admit",
        "exec",
        "root",
        "write"
    );
    let sizes = keel_bench::grow_bench::run(&config, dir.path(), |i| {
        println!(
            "{:>12} {:>8} {:>10.0} {:>12.1} {:>10.0} {:>9.1} {:>10.0} {:>7.1} {:>7.1} {:>7.1} {:>7.1}",
            i.total,
            i.blocks,
            i.tx_per_sec(),
            mib(i.datadir_bytes),
            i.datadir_bytes as f64 / i.total as f64,
            mib(i.disk_bytes),
            i.disk_bytes as f64 / i.total as f64,
            i.us_per_tx(i.admit),
            i.us_per_tx(i.exec),
            i.us_per_tx(i.root),
            i.us_per_tx(i.store)
        );
    })?;
    print_table_sizes(&sizes);
    let stored: u64 = sizes.iter().map(|t| t.stored_bytes).sum();
    let overhead: u64 = sizes.iter().map(|t| t.overhead_bytes).sum();
    println!(
        "all tables: {:.1} MiB stored + {:.1} MiB overhead = {:.0} B/transfer in use (the rest \
         of the file is free pages)",
        mib(stored),
        mib(overhead),
        (stored + overhead) as f64 / config.transfers.max(1) as f64
    );
    Ok(())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// Each non-empty table's entries, stored bytes and redb's overhead on them.
fn print_table_sizes(sizes: &[keel_storage::TableSize]) {
    println!(
        "{:<24} {:>12} {:>12} {:>12}",
        "table", "entries", "stored MiB", "overhead MiB"
    );
    for t in sizes.iter().filter(|t| t.entries > 0) {
        println!(
            "{:<24} {:>12} {:>12.1} {:>12.1}",
            t.name,
            t.entries,
            mib(t.stored_bytes),
            mib(t.overhead_bytes)
        );
    }
}
