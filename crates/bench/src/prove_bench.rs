//! The prover's side of a batch, timed against the sequencer's: blocks are produced from a
//! generated workload on a redb datadir (the sequencer's production, timed), sealed into batches by
//! the BatchSealer, and for each batch the ProverInput is built from the store (the witness
//! recorded by re-execution, timed) and the stateless program `prove_batch` re-executes it (timed).
//! Reports Mgas/s of both, the ratio, and the witness and input bytes per transaction.

use std::time::{Duration, Instant};

use keel_prover::prove_batch;
use keel_sequencer::{BatchSealer, BatchSealerConfig, ProverInputContext, build_prover_input};

use crate::{chaingen::ChainGenConfig, produce_bench::produce};

/// One batch's figures.
#[derive(Debug)]
pub struct BatchFigures {
    pub number: u64,
    pub blocks: u64,
    pub txs: usize,
    pub gas: u64,
    /// Building the ProverInput (witness recording included).
    pub input_build: Duration,
    pub input_bytes: usize,
    pub witness_bytes: usize,
    pub witness_nodes: usize,
    /// `prove_batch` (tries from the witness, execution, roots, diff, blob and KZG checks).
    pub prove: Duration,
}

/// What [`run`] measured.
#[derive(Debug)]
pub struct ProveReport {
    pub txs: usize,
    pub gas: u64,
    /// The sequencer producing the blocks (execution, state root, commit).
    pub production: Duration,
    pub batches: Vec<BatchFigures>,
}

impl ProveReport {
    pub fn production_mgas(&self) -> f64 {
        self.gas as f64 / 1e6 / self.production.as_secs_f64()
    }

    pub fn prove_mgas(&self) -> f64 {
        let gas: u64 = self.batches.iter().map(|b| b.gas).sum();
        let time: Duration = self.batches.iter().map(|b| b.prove).sum();
        gas as f64 / 1e6 / time.as_secs_f64()
    }
}

/// Produce `config`'s workload on a datadir in `dir`, seal it, then build and prove every batch.
pub fn run(config: &ChainGenConfig, dir: &std::path::Path) -> eyre::Result<ProveReport> {
    let (produced, chain, genesis_json) = produce(config, 100, dir)?;
    let genesis: serde_json::Value = serde_json::from_str(&genesis_json)?;
    let context = ProverInputContext {
        chain_config: genesis["config"].to_string(),
        l1_chain_id: 31337,
        on_chain_proposer: Default::default(),
    };
    // A prover process loads the KZG setup once, not per batch.
    keel_prover::warm_up();
    let sealer = BatchSealer::new(BatchSealerConfig::default(), chain.clone());
    let batches = sealer.seal_now()?;
    let mut report = ProveReport {
        txs: produced.txs,
        gas: produced.gas,
        production: produced.production,
        batches: Vec::new(),
    };
    for batch in batches {
        let started = Instant::now();
        let input = build_prover_input(&chain, &context, batch.number)?;
        let input_build = started.elapsed();
        let blocks = input.decode_blocks()?;
        let started = Instant::now();
        let inputs = prove_batch(&input)?;
        let prove = started.elapsed();
        if inputs.final_state_root != batch.state_root {
            eyre::bail!(
                "batch {}: the program's root differs from the batch's",
                batch.number
            );
        }
        report.batches.push(BatchFigures {
            number: batch.number,
            blocks: batch.last_block - batch.first_block + 1,
            txs: blocks.iter().map(|b| b.body.transactions.len()).sum(),
            gas: blocks.iter().map(|b| b.header.gas_used).sum(),
            input_build,
            input_bytes: input.encode().len(),
            witness_bytes: input.witness.byte_len(),
            witness_nodes: input.witness.state.len(),
            prove,
        });
    }
    Ok(report)
}
