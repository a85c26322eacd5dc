//! `keel import`: validate, execute and store blocks from an RLP file.
//!
//! With an L1 (`--eth.rpc-url` and `--l1.deployment` or `--l1.bridge-address`), every privileged
//! transaction is checked against the L1 bridge's queue before its block is executed
//! ([`crate::privileged_check`]); without one, they are trusted and the import says so.

use std::path::PathBuf;

use clap::Args;
use eyre::WrapErr;
use keel_chain::{
    Blockchain,
    importer::{ImportStats, SyncPolicy, import_checked_blocks},
    rlp_file::RlpBlocks,
};
use keel_l1::L1ReadBound;
use keel_types::{Block, ChainSpec};
use tracing::{info, warn};

use crate::{datadir, l1_config::L1Args, privileged_check::L1PrivilegedCheck};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Genesis file (geth-style JSON) of the chain the blocks belong to.
    #[arg(long, env = "KEEL_NETWORK", value_name = "GENESIS.json")]
    pub network: PathBuf,
    /// Directory of the node's database; created from the genesis if new, appended to otherwise.
    #[arg(long, env = "KEEL_DATADIR", value_name = "DIR")]
    pub datadir: PathBuf,
    /// Recent-state window, in blocks: side chains of the file that fork deeper than this below
    /// the head are refused.
    #[arg(
        long = "state.history",
        env = "KEEL_STATE_HISTORY",
        value_name = "BLOCKS",
        default_value_t = keel_storage::DEFAULT_STATE_HISTORY
    )]
    pub state_history: u64,
    /// File of concatenated RLP-encoded blocks.
    #[arg(value_name = "FILE.rlp")]
    pub file: PathBuf,
    /// Fsync the datadir at least every this many imported blocks. Every block is written
    /// atomically regardless; a crash loses at most the blocks since the last fsync, and running
    /// the import again brings them back.
    #[arg(long = "import.sync-blocks", env = "KEEL_IMPORT_SYNC_BLOCKS", default_value_t = SyncPolicy::default().every_blocks, value_name = "N")]
    pub sync_blocks: u64,
    /// Fsync the datadir at least this often during an import, in seconds.
    #[arg(long = "import.sync-secs", env = "KEEL_IMPORT_SYNC_SECS", default_value_t = SyncPolicy::default().every.as_secs(), value_name = "SECS")]
    pub sync_secs: u64,
    /// After the import, give the database file's free pages back to the file system (as
    /// `geth import` compacts its database at the end). redb grows its file in steps of up to
    /// double its size and an import frees many pages, so this can halve the datadir (0.05 s for
    /// the import benchmark's 128 MiB file). `--import.compact false` skips it.
    #[arg(long = "import.compact", env = "KEEL_IMPORT_COMPACT", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub compact: bool,
    /// The L1 the blocks' privileged transactions (deposits, type 0x7e) are checked against:
    /// with --eth.rpc-url and --l1.deployment FILE or --l1.bridge-address, each one must hash to
    /// what the L1 bridge queued under its id, or its block is refused and the import stops
    /// there. Without them they are trusted: a block file can then mint anything.
    /// (--l1.on-chain-proposer-address is not used by the import.)
    #[command(flatten)]
    pub l1: L1Args,
    /// The L1 block the bridge's queue is read at, fixed when the import starts: `safe`
    /// (default), `finalized`, `latest`, or N blocks below the head. A block whose deposit is
    /// above it is refused as not on L1 (yet).
    #[arg(
        long = "import.l1-read-up-to",
        env = "KEEL_IMPORT_L1_READ_UP_TO",
        default_value_t = L1ReadBound::Safe,
        value_name = "safe|finalized|latest|N"
    )]
    pub l1_read_up_to: L1ReadBound,
}

pub fn run(args: ImportArgs) -> eyre::Result<()> {
    let json = std::fs::read_to_string(&args.network)
        .wrap_err_with(|| format!("reading genesis {}", args.network.display()))?;
    let (genesis, spec) = ChainSpec::from_genesis_json(&json)
        .wrap_err_with(|| format!("genesis {}", args.network.display()))?;
    let file = std::fs::File::open(&args.file)
        .wrap_err_with(|| format!("opening blocks {}", args.file.display()))?;
    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let blocks = RlpBlocks::new(std::io::BufReader::with_capacity(1 << 20, file));

    let mut l1_check = match args
        .l1
        .resolve_bridge(spec.chain_id, keel_types::genesis_state_root(&genesis))?
    {
        Some((urls, bridge)) => Some(L1PrivilegedCheck::connect(
            urls,
            bridge,
            args.l1_read_up_to,
            spec.chain_id,
        )?),
        None => None,
    };
    let mut warned = false;
    let check = |block: &Block| match l1_check.as_mut() {
        Some(l1) => l1.check(block),
        None => {
            if !warned && block.body.transactions.iter().any(|tx| tx.is_privileged()) {
                warned = true;
                warn!(
                    number = block.header.number,
                    "no L1 configured: the privileged transactions (deposits, type 0x7e) of the \
                     imported blocks are trusted, not checked against the L1 bridge (give \
                     --eth.rpc-url and --l1.deployment or --l1.bridge-address to check them)"
                );
            }
            Ok(())
        }
    };

    let store = datadir::open_store(&args.datadir)?;
    let chain = Blockchain::open(store, &genesis, spec)?.with_state_history(args.state_history);
    let (start_number, _) = chain.head()?;
    info!(file = %args.file.display(), bytes, head = start_number, "importing");

    let progress = |stats: &ImportStats| {
        if stats.imported.is_multiple_of(100) {
            info!(
                number = stats.last_number,
                imported = stats.imported,
                "progress"
            );
        }
    };
    let mut stats = ImportStats::default();
    let policy = SyncPolicy {
        every_blocks: args.sync_blocks.max(1),
        every: std::time::Duration::from_secs(args.sync_secs),
    };
    match import_checked_blocks(&chain, blocks, policy, &mut stats, progress, check) {
        Ok(()) => {}
        Err(e) => {
            let (head_number, head_hash) = chain.head()?;
            eyre::bail!(
                "{e}\nimported {} blocks; the store is at block {head_number} ({head_hash})",
                stats.imported
            );
        }
    }
    if let Some(l1) = &l1_check {
        info!(
            privileged_txs = l1.checked,
            l1_block = l1.l1_block(),
            "privileged transactions checked against the L1 bridge"
        );
    }
    let secs = stats.elapsed.as_secs_f64();
    if stats.imported == 0 {
        info!(already_known = stats.already_known, "nothing new imported");
    } else {
        info!(
            imported = stats.imported,
            already_known = stats.already_known,
            txs = stats.txs,
            secs = format!("{secs:.2}"),
            mgas_per_s = format!("{:.1}", stats.gas as f64 / 1e6 / secs.max(1e-9)),
            "import done"
        );
    }
    let (number, hash) = chain.head()?;
    drop(chain);
    if args.compact && args.datadir != std::path::Path::new(datadir::MEMORY) {
        compact(&datadir::db_path(&args.datadir))?;
    }
    println!("head {number} {hash}");
    Ok(())
}

fn compact(db: &std::path::Path) -> eyre::Result<()> {
    info!(file = %db.display(), "compacting the database");
    let started = std::time::Instant::now();
    let done = keel_storage::compact_file(db)
        .wrap_err_with(|| format!("compacting {} (the imported blocks are kept)", db.display()))?;
    let mib = |b: u64| format!("{:.1}", b as f64 / (1 << 20) as f64);
    info!(
        before_mib = mib(done.before_bytes),
        after_mib = mib(done.after_bytes),
        secs = format!("{:.2}", started.elapsed().as_secs_f64()),
        "database compacted"
    );
    Ok(())
}
