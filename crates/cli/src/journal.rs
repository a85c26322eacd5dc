//! The mempool journal: on a clean shutdown the node saves the pool's transactions to
//! `DIR/txpool.journal` (one hex-encoded transaction per line) and admits them again on the next
//! start, so a restart doesn't drop transactions users already sent. A crash loses the pool, as
//! in geth between journal rotations.

use std::path::{Path, PathBuf};

use eyre::WrapErr;
use keel_chain::Mempool;
use tracing::{info, warn};

/// File name of the journal inside a datadir.
pub const FILE: &str = "txpool.journal";

/// File name of the preconfirmation journal inside a datadir: the transactions preconfirmed
/// but not yet sealed (docs/preconfirmations.md, "Restarts and failures").
pub const PRECONFIRMED_FILE: &str = "preconfirmed.journal";

fn path(datadir: &Path) -> PathBuf {
    datadir.join(FILE)
}

/// Write the pool to the journal (nothing for an in-memory node).
pub fn save(datadir: &Path, mempool: &Mempool) -> eyre::Result<()> {
    if datadir == Path::new(crate::datadir::MEMORY) {
        return Ok(());
    }
    let txs = mempool.export_raw();
    let mut text = String::with_capacity(txs.iter().map(|t| t.len() * 2 + 1).sum());
    for tx in &txs {
        text.push_str(&hex::encode(tx));
        text.push('\n');
    }
    let file = path(datadir);
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, text).wrap_err_with(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &file).wrap_err_with(|| format!("writing {}", file.display()))?;
    info!(txs = txs.len(), file = %file.display(), "saved the mempool");
    Ok(())
}

/// Admit the journal's transactions again and remove it. Those no longer valid (included
/// meanwhile, or now underpriced) are dropped with a count in the log.
pub fn restore(datadir: &Path, mempool: &Mempool) -> eyre::Result<()> {
    let file = path(datadir);
    if datadir == Path::new(crate::datadir::MEMORY) || !file.exists() {
        return Ok(());
    }
    let text =
        std::fs::read_to_string(&file).wrap_err_with(|| format!("reading {}", file.display()))?;
    let raws: Vec<Vec<u8>> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .filter_map(|line| hex::decode(line.trim()).ok())
        .collect();
    let results = mempool.add_raw_batch(&raws);
    let restored = results.iter().filter(|r| r.is_ok()).count();
    if restored < raws.len() {
        warn!(
            dropped = raws.len() - restored,
            "journaled transactions no longer valid were dropped"
        );
    }
    std::fs::remove_file(&file).wrap_err_with(|| format!("removing {}", file.display()))?;
    info!(restored, "restored the mempool from the journal");
    Ok(())
}

/// Report the transactions preconfirmed before the node last stopped that no block holds (a
/// crash before their block was sealed dropped them), then start a fresh preconfirmation
/// journal in `datadir` (none for an in-memory node). Returns how many were dropped.
pub fn check_preconfirmed(
    datadir: &Path,
    chain: keel_chain::Blockchain,
) -> eyre::Result<(keel_chain::Blockchain, usize)> {
    if datadir == Path::new(crate::datadir::MEMORY) {
        return Ok((chain, 0));
    }
    let file = datadir.join(PRECONFIRMED_FILE);
    let entries = keel_chain::preconf::read_journal(&file)
        .wrap_err_with(|| format!("reading {}", file.display()))?;
    let reader = chain.store().reader()?;
    let mut dropped = 0;
    for (number, hash) in entries {
        if keel_storage::ChainReader::tx_location(&reader, &hash)?.is_none() {
            dropped += 1;
            warn!(
                block = number,
                tx = %hash,
                "a transaction preconfirmed before the node stopped was never sealed: dropped \
                 (its sender has to send it again)"
            );
        }
    }
    drop(reader);
    if dropped > 0 {
        metrics::counter!("keel_preconfirmations_dropped_total").increment(dropped as u64);
    }
    let chain = chain
        .with_preconfirmation_journal(&file)
        .wrap_err_with(|| format!("opening {}", file.display()))?;
    Ok((chain, dropped))
}
