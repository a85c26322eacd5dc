//! `keel import`: validate, execute and store blocks from an RLP file.

use std::path::PathBuf;

use clap::Args;
use eyre::WrapErr;
use keel_chain::{Blockchain, ImportOutcome, rlp_file::RlpBlocks};
use keel_types::ChainSpec;
use tracing::info;

use crate::datadir;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Genesis file (geth-style JSON) of the chain the blocks belong to.
    #[arg(long, env = "KEEL_NETWORK", value_name = "GENESIS.json")]
    pub network: PathBuf,
    /// Directory of the node's database; created from the genesis if new, appended to otherwise.
    #[arg(long, env = "KEEL_DATADIR", value_name = "DIR")]
    pub datadir: PathBuf,
    /// File of concatenated RLP-encoded blocks.
    #[arg(value_name = "FILE.rlp")]
    pub file: PathBuf,
}

pub fn run(args: ImportArgs) -> eyre::Result<()> {
    let json = std::fs::read_to_string(&args.network)
        .wrap_err_with(|| format!("reading genesis {}", args.network.display()))?;
    let (genesis, spec) = ChainSpec::from_genesis_json(&json)
        .wrap_err_with(|| format!("genesis {}", args.network.display()))?;
    let data = std::fs::read(&args.file)
        .wrap_err_with(|| format!("reading blocks {}", args.file.display()))?;

    let store = datadir::open_store(&args.datadir)?;
    let chain = Blockchain::open(store, &genesis, spec)?;
    let (start_number, _) = chain.head()?;
    info!(file = %args.file.display(), bytes = data.len(), head = start_number, "importing");

    let started = std::time::Instant::now();
    let (mut imported, mut known, mut gas) = (0u64, 0u64, 0u64);
    for (index, block) in RlpBlocks::new(&data).enumerate() {
        let block = block?;
        match chain.import_block(&block) {
            Ok(ImportOutcome::Imported {
                number, gas_used, ..
            }) => {
                imported += 1;
                gas += gas_used;
                if imported % 100 == 0 {
                    info!(number, imported, "progress");
                }
            }
            Ok(ImportOutcome::AlreadyKnown { .. }) => known += 1,
            Err(e) => {
                let (head_number, head_hash) = chain.head()?;
                eyre::bail!(
                    "block #{index} of the file rejected: {e}\nimported {imported} blocks; the store is at block {head_number} ({head_hash})"
                );
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    if imported == 0 {
        info!(already_known = known, "nothing new imported");
    } else {
        info!(
            imported,
            already_known = known,
            secs = format!("{secs:.2}"),
            mgas_per_s = format!("{:.1}", gas as f64 / 1e6 / secs.max(1e-9)),
            "import done"
        );
    }
    let (number, hash) = chain.head()?;
    println!("head {number} {hash}");
    Ok(())
}
