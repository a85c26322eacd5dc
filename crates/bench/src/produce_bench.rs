//! The sequencer's path without the network: signed transactions go through mempool admission
//! (decode, signature recovery, state checks) in RPC-sized batches, then the block producer turns
//! the pool into blocks on a redb datadir. Shows how much of the node's budget each half takes.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_eips::Encodable2718;
use keel_chain::{Blockchain, Mempool, MempoolConfig};
use keel_sequencer::{BlockProducer, BlockProducerConfig};
use keel_storage::Store;
use keel_types::ChainSpec;

use crate::chaingen::{ChainGenConfig, generate};

/// What [`run`] measured.
#[derive(Debug)]
pub struct ProduceReport {
    pub txs: usize,
    pub blocks: usize,
    pub gas: u64,
    /// Admission of every transaction into the pool.
    pub admission: Duration,
    /// Producing blocks until the pool was empty.
    pub production: Duration,
    /// Time in execution, state root and commit, summed over blocks.
    pub execution: Duration,
    pub state_root: Duration,
    pub commit: Duration,
    /// Each block's number, transactions and execution time.
    pub per_block: Vec<(u64, usize, Duration)>,
}

/// Generate the transactions of `config`, admit them in batches of `batch` into a fresh node on a
/// redb datadir in `dir`, then produce blocks of `config.gas_limit` gas until the pool is empty.
pub fn run(
    config: &ChainGenConfig,
    batch: usize,
    dir: &std::path::Path,
) -> eyre::Result<ProduceReport> {
    Ok(produce(config, batch, dir)?.0)
}

/// [`run`], also returning the node's chain (for benchmarks that go on from the produced blocks)
/// and the generated genesis JSON.
pub fn produce(
    config: &ChainGenConfig,
    batch: usize,
    dir: &std::path::Path,
) -> eyre::Result<(ProduceReport, Blockchain, String)> {
    let producer = BlockProducerConfig {
        gas_limit: Some(config.gas_limit),
        ..BlockProducerConfig::default()
    };
    produce_with(config, batch, dir, producer)
}

/// [`produce`] with the block producer configured by `producer` (e.g. no state diff budget, so
/// that only gas bounds a block).
pub fn produce_with(
    config: &ChainGenConfig,
    batch: usize,
    dir: &std::path::Path,
    producer: BlockProducerConfig,
) -> eyre::Result<(ProduceReport, Blockchain, String)> {
    let generated = generate(config)?;
    let raws: Vec<Vec<u8>> = generated
        .blocks
        .iter()
        .flat_map(|b| b.body.transactions.iter().map(|tx| tx.encoded_2718()))
        .collect();
    let (genesis, spec) = ChainSpec::from_genesis_json(&generated.genesis_json)?;
    let store = Store::open(dir.join("keel.redb"))?;
    let chain = Blockchain::open(store, &genesis, spec)?;
    let node_chain = chain.clone();
    let mempool = Arc::new(Mempool::new(
        MempoolConfig {
            max_txs: raws.len() + 1,
            max_per_sender: raws.len() + 1,
            ..MempoolConfig::default()
        },
        chain.clone(),
    ));

    let started = Instant::now();
    for chunk in raws.chunks(batch.max(1)) {
        for result in mempool.add_raw_batch(chunk) {
            result?;
        }
    }
    let admission = started.elapsed();

    let producer = BlockProducer::new(producer, chain, mempool.clone());
    let started = Instant::now();
    let mut report = ProduceReport {
        txs: 0,
        blocks: 0,
        gas: 0,
        admission,
        production: Duration::ZERO,
        execution: Duration::ZERO,
        state_root: Duration::ZERO,
        commit: Duration::ZERO,
        per_block: Vec::new(),
    };
    while !mempool.is_empty() {
        let Some(built) = producer.produce_block()? else {
            break;
        };
        if built.block.body.transactions.is_empty() {
            eyre::bail!(
                "the pool holds {} transactions but the block took none",
                mempool.len()
            );
        }
        report.blocks += 1;
        report.txs += built.block.body.transactions.len();
        report.gas += built.block.header.gas_used;
        report.execution += built.timings.execution;
        report.state_root += built.timings.state_root;
        report.commit += built.timings.commit;
        report.per_block.push((
            built.block.header.number,
            built.block.body.transactions.len(),
            built.timings.execution,
        ));
    }
    report.production = started.elapsed();
    if report.txs != raws.len() {
        eyre::bail!(
            "{} of {} transactions were included",
            report.txs,
            raws.len()
        );
    }
    Ok((report, node_chain, generated.genesis_json))
}
