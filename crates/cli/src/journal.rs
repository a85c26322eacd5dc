//! The mempool journal, `DIR/txpool.journal` (one hex-encoded transaction per line): the pool
//! appends every transaction it admits before the RPC acknowledges it, so a restart — after a
//! clean shutdown or a crash of the process — admits them again (see
//! `keel_chain::mempool::journal`). The node compacts it now and then and at shutdown.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use eyre::WrapErr;
use keel_chain::Mempool;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// File name of the journal inside a datadir.
pub const FILE: &str = "txpool.journal";

/// File name of the preconfirmation journal inside a datadir: the transactions preconfirmed
/// but not yet sealed (docs/preconfirmations.md, "Restarts and failures").
pub const PRECONFIRMED_FILE: &str = "preconfirmed.journal";

/// How often the node checks whether the journal is due for a compaction.
const COMPACT_EVERY: Duration = Duration::from_secs(1);

fn path(datadir: &Path) -> PathBuf {
    datadir.join(FILE)
}

/// Admit the journal's transactions again and start journaling admissions (nothing for an
/// in-memory node). Those no longer valid (included meanwhile, or now underpriced) are dropped
/// with a count in the log. Call it before the pool is shared.
pub fn restore(datadir: &Path, mempool: &Mempool) -> eyre::Result<()> {
    if datadir == Path::new(crate::datadir::MEMORY) {
        return Ok(());
    }
    let file = path(datadir);
    let (restored, dropped) = mempool
        .open_journal(&file)
        .wrap_err("opening the mempool journal")?;
    if dropped > 0 {
        warn!(
            dropped,
            "journaled transactions no longer valid were dropped"
        );
    }
    if restored > 0 || dropped > 0 {
        info!(restored, file = %file.display(), "restored the mempool from the journal");
    }
    Ok(())
}

/// Compact the journal every [`COMPACT_EVERY`] when it has grown well past the pool, until
/// `token` is cancelled.
pub fn spawn_compaction(mempool: Arc<Mempool>, token: CancellationToken) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(COMPACT_EVERY);
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let pool = mempool.clone();
            match tokio::task::spawn_blocking(move || pool.compact_journal(false)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => error!(error = %e, "compacting the mempool journal failed"),
                Err(e) => error!(error = %e, "compacting the mempool journal panicked"),
            }
        }
    });
}

/// Rewrite the journal with the pool's transactions (at a clean shutdown).
pub fn save(mempool: &Mempool) -> eyre::Result<()> {
    if mempool
        .compact_journal(true)
        .wrap_err("writing the mempool journal")?
    {
        info!(txs = mempool.len(), "saved the mempool");
    }
    Ok(())
}

/// Report the transactions preconfirmed before the node last stopped that no block holds (a
/// crash before their block was sealed voided their preconfirmation; the mempool journal gives
/// them back to the pool), then start a fresh preconfirmation
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
                "a transaction preconfirmed before the node stopped was never sealed: its \
                 preconfirmation is void (the mempool journal gives it back to the pool, so a \
                 later block includes it unless it is no longer valid)"
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
