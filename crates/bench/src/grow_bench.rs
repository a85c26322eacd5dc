//! The sequencer over a long life: millions of ETH transfers to fresh recipients (every one a
//! new account, as an airdrop or a growing user base makes them) through mempool admission and
//! the block producer on a redb datadir, reporting the rate and the datadir's size after each
//! interval. Shows whether speed depends on the chain's age and what each transfer costs on disk.
//!
//! Signing is not timed: a thread signs the next chunk while the node works on the current one.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, mpsc},
    time::{Duration, Instant},
};

use alloy_eips::Encodable2718;
use alloy_primitives::{Address, U256};
use keel_chain::{Blockchain, Mempool, MempoolConfig};
use keel_sequencer::{BlockProducer, BlockProducerConfig};
use keel_storage::{Store, TableSize};
use keel_types::ChainSpec;

use crate::chaingen::{Workload, account_keys, fresh_recipient, genesis_json, sign};

/// What to run.
#[derive(Debug, Clone)]
pub struct GrowConfig {
    /// Transfers in all.
    pub transfers: u64,
    /// Report after every this many transfers.
    pub report_every: u64,
    /// Funded senders, used round-robin.
    pub senders: usize,
    /// Block gas limit (transfers per block = gas limit / 21,000, unless the producer's state
    /// diff budget cuts the block first, as on a real node).
    pub gas_limit: u64,
    /// Transactions per admission batch (as RPC batches arrive).
    pub batch: usize,
    /// Transactions signed, admitted and produced per round.
    pub chunk: usize,
    /// redb's page cache, bytes.
    pub db_cache_bytes: usize,
}

/// One interval of the run.
#[derive(Debug, Clone)]
pub struct Interval {
    /// Transfers included so far.
    pub total: u64,
    pub txs: u64,
    pub blocks: u64,
    /// Admission and production of this interval's transfers.
    pub busy: Duration,
    /// Mempool admission (decoding, sender recovery, nonce and balance checks).
    pub admit: Duration,
    /// The producer's phases, summed over the interval's blocks: execution, state root, and
    /// the block's write transaction.
    pub exec: Duration,
    pub root: Duration,
    pub store: Duration,
    /// Size of the database file after the interval.
    pub datadir_bytes: u64,
    /// Disk space the database file takes (`du`): redb extends its file in steps of up to
    /// 4 GiB, and the part not yet written is a hole that takes no space.
    pub disk_bytes: u64,
}

impl Interval {
    pub fn tx_per_sec(&self) -> f64 {
        self.txs as f64 / self.busy.as_secs_f64()
    }

    /// Microseconds of `phase` per transfer in this interval.
    pub fn us_per_tx(&self, phase: Duration) -> f64 {
        phase.as_secs_f64() * 1e6 / self.txs.max(1) as f64
    }
}

/// The chunks of signed transfers, made on their own thread.
fn spawn_signer(config: &GrowConfig) -> mpsc::Receiver<eyre::Result<Vec<Vec<u8>>>> {
    let (tx, rx) = mpsc::sync_channel(2);
    let config = config.clone();
    std::thread::spawn(move || {
        let signers = account_keys(config.senders);
        let mut nonces = vec![0u64; signers.len()];
        let mut made = 0u64;
        while made < config.transfers {
            let n = (config.chunk as u64).min(config.transfers - made);
            let chunk: eyre::Result<Vec<Vec<u8>>> = (0..n)
                .map(|i| {
                    let index = made + i;
                    let sender = (index % signers.len() as u64) as usize;
                    let to = fresh_recipient(0, index as usize);
                    let nonce = nonces[sender];
                    nonces[sender] += 1;
                    let tx = sign(
                        &signers[sender],
                        nonce,
                        to,
                        Workload::EthTransfer,
                        U256::from(1),
                    )?;
                    Ok(tx.encoded_2718())
                })
                .collect();
            made += n;
            let failed = chunk.is_err();
            if tx.send(chunk).is_err() || failed {
                return;
            }
        }
    });
    rx
}

/// Runs the transfers into a fresh datadir in `dir`, calling `on_interval` after each interval.
/// Returns the table sizes at the end.
pub fn run(
    config: &GrowConfig,
    dir: &Path,
    mut on_interval: impl FnMut(&Interval),
) -> eyre::Result<Vec<TableSize>> {
    let signers = account_keys(config.senders);
    let addresses: Vec<Address> = signers.iter().map(|s| s.address()).collect();
    drop(signers);
    let (genesis, spec) =
        ChainSpec::from_genesis_json(&genesis_json(&addresses, config.gas_limit, None)?)?;
    let db: PathBuf = dir.join("keel.redb");
    let store = Store::open_with_cache(&db, config.db_cache_bytes)?;
    let chain = Blockchain::open(store.clone(), &genesis, spec)?;
    let mempool = Arc::new(Mempool::new(
        MempoolConfig {
            max_txs: config.chunk + 1,
            max_per_sender: config.chunk + 1,
            ..MempoolConfig::default()
        },
        chain.clone(),
    ));
    let producer = BlockProducer::new(
        BlockProducerConfig {
            gas_limit: Some(config.gas_limit),
            ..BlockProducerConfig::default()
        },
        chain,
        mempool.clone(),
    );

    let chunks = spawn_signer(config);
    let mut interval = Interval {
        total: 0,
        txs: 0,
        blocks: 0,
        busy: Duration::ZERO,
        admit: Duration::ZERO,
        exec: Duration::ZERO,
        root: Duration::ZERO,
        store: Duration::ZERO,
        datadir_bytes: 0,
        disk_bytes: 0,
    };
    while interval.total < config.transfers {
        let chunk = chunks
            .recv()
            .map_err(|_| eyre::eyre!("the signing thread stopped"))??;
        let started = Instant::now();
        for batch in chunk.chunks(config.batch.max(1)) {
            for result in mempool.add_raw_batch(batch) {
                result?;
            }
        }
        interval.admit += started.elapsed();
        while !mempool.is_empty() {
            let Some(built) = producer.produce_block()? else {
                break;
            };
            let txs = built.block.body.transactions.len() as u64;
            if txs == 0 {
                eyre::bail!(
                    "the pool holds {} transactions but the block took none",
                    mempool.len()
                );
            }
            interval.txs += txs;
            interval.total += txs;
            interval.blocks += 1;
            interval.exec += built.timings.execution;
            interval.root += built.timings.state_root;
            interval.store += built.timings.commit;
        }
        interval.busy += started.elapsed();
        if interval.total.is_multiple_of(config.report_every.max(1))
            || interval.total >= config.transfers
        {
            let meta = std::fs::metadata(&db)?;
            interval.datadir_bytes = meta.len();
            interval.disk_bytes = std::os::unix::fs::MetadataExt::blocks(&meta) * 512;
            on_interval(&interval);
            interval.txs = 0;
            interval.blocks = 0;
            interval.busy = Duration::ZERO;
            interval.admit = Duration::ZERO;
            interval.exec = Duration::ZERO;
            interval.root = Duration::ZERO;
            interval.store = Duration::ZERO;
        }
    }
    Ok(store.table_sizes()?)
}
