//! `keel export`: write canonical blocks back to an RLP file.

use std::{io::Write, path::PathBuf};

use clap::Args;
use eyre::{OptionExt, WrapErr};
use keel_chain::rlp_file::encode_block;
use keel_storage::ChainReader;
use keel_types::Block;
use tracing::info;

use crate::datadir;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Directory of the node's database.
    #[arg(long, env = "KEEL_DATADIR", value_name = "DIR")]
    pub datadir: PathBuf,
    /// First block to export.
    #[arg(long, default_value_t = 1)]
    pub first: u64,
    /// Last block to export (default: the head).
    #[arg(long)]
    pub last: Option<u64>,
    /// Output file (overwritten).
    #[arg(value_name = "FILE.rlp")]
    pub file: PathBuf,
}

pub fn run(args: ExportArgs) -> eyre::Result<()> {
    let store = datadir::open_existing_store(&args.datadir)?;
    let reader = store.reader()?;
    let (_, head) = reader.head()?.ok_or_eyre("the datadir has no blocks")?;
    let last = args.last.unwrap_or(head.number).min(head.number);
    if args.first > last {
        eyre::bail!(
            "empty range: --first {} is after the last block {last}",
            args.first
        );
    }
    let file = std::fs::File::create(&args.file)
        .wrap_err_with(|| format!("creating {}", args.file.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let mut buf = Vec::new();
    for number in args.first..=last {
        let hash = reader
            .canonical_hash(number)?
            .ok_or_eyre(format!("block {number} missing"))?;
        let header = reader
            .header(&hash)?
            .ok_or_eyre(format!("header {number} missing"))?;
        let body = reader
            .body(&hash)?
            .ok_or_eyre(format!("body {number} missing"))?;
        buf.clear();
        encode_block(&Block { header, body }, &mut buf);
        out.write_all(&buf)?;
    }
    out.flush()?;
    info!(first = args.first, last, file = %args.file.display(), "exported");
    println!(
        "exported {} blocks ({}..={last})",
        last - args.first + 1,
        args.first
    );
    Ok(())
}
