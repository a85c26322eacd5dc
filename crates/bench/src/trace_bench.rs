//! The cost of tracing: produce a block (e.g. 1,000 ERC20 transfers; the producer bounded by gas
//! only, not by its state diff budget) on a redb datadir, then trace it through the node's RPC methods in process (`debug_traceBlockByNumber`, JSON in and
//! out, no network) with `callTracer` and with `noopTracer`, and compare each with the block's
//! execution time in the producer.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use keel_chain::{Mempool, MempoolConfig};
use keel_rpc::{RpcConfig, RpcContext};

use keel_sequencer::BlockProducerConfig;

use crate::{chaingen::ChainGenConfig, produce_bench::produce_with};

/// What [`run`] measured.
#[derive(Debug)]
pub struct TraceReport {
    /// The traced block: its number and transactions.
    pub block: u64,
    pub txs: usize,
    /// The producer's execution of that block.
    pub execution: Duration,
    /// Each run of `debug_traceBlockByNumber` with `callTracer`, and the answer's size.
    pub call_tracer: Vec<Duration>,
    pub call_tracer_bytes: usize,
    /// Each run with `noopTracer` (the replay with an inspector attached, nothing recorded).
    pub noop_tracer: Vec<Duration>,
}

/// Produce `config`'s blocks in `dir`, then trace the one with the most transactions `runs`
/// times with each tracer.
pub fn run(
    config: &ChainGenConfig,
    dir: &std::path::Path,
    runs: usize,
) -> eyre::Result<TraceReport> {
    let producer = BlockProducerConfig {
        gas_limit: Some(config.gas_limit),
        max_state_diff_bytes: None,
        ..BlockProducerConfig::default()
    };
    let (produced, chain, _) = produce_with(config, 100, dir, producer)?;
    let &(block, txs, execution) = produced
        .per_block
        .iter()
        .max_by_key(|(_, txs, _)| *txs)
        .ok_or_else(|| eyre::eyre!("no block produced"))?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let mempool = Arc::new(Mempool::new(MempoolConfig::default(), chain.clone()));
        let ctx = RpcContext::new(RpcConfig::default(), chain, mempool);
        let module = keel_rpc::methods(ctx)?;
        let trace = |tracer: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"debug_traceBlockByNumber","params":["{block:#x}",{{"tracer":"{tracer}","timeout":"60s"}}]}}"#
            )
        };
        let mut report = TraceReport {
            block,
            txs,
            execution,
            call_tracer: Vec::new(),
            call_tracer_bytes: 0,
            noop_tracer: Vec::new(),
        };
        for _ in 0..runs.max(1) {
            for tracer in ["callTracer", "noopTracer"] {
                let request = trace(tracer);
                let started = Instant::now();
                let (response, _) = module.raw_json_request(&request, 1).await?;
                let took = started.elapsed();
                let value: serde_json::Value = serde_json::from_str(response.get())?;
                let traced = value["result"].as_array().map_or(0, Vec::len);
                if traced != report.txs {
                    eyre::bail!("{tracer}: {traced} traces for {} transactions: {:.300}", report.txs, response.get());
                }
                if tracer == "callTracer" {
                    report.call_tracer.push(took);
                    report.call_tracer_bytes = response.get().len();
                } else {
                    report.noop_tracer.push(took);
                }
            }
        }
        Ok(report)
    })
}
