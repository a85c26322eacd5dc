//! `eth_sendRawTransaction` and `eth_sendRawTransactionSync` (EIP-7966), and the [`TxIngest`]
//! task behind them: transactions that arrive at about the same time (e.g. the calls of one
//! JSON-RPC batch) are admitted together, their signatures recovered in parallel on the rayon
//! pool, off the async threads that serve requests.

use std::{sync::Arc, time::Duration};

use alloy_primitives::{B256, Bytes};
use jsonrpsee::{RpcModule, core::RegisterMethodError, types::ErrorObjectOwned};
use keel_chain::{Mempool, MempoolError};
use tokio::sync::{broadcast::error::RecvError, mpsc, oneshot};

use crate::{
    RpcContext,
    error::{RpcError, RpcResult},
};

/// Most transactions admitted in one go.
const MAX_INGEST_BATCH: usize = 2_048;
/// Requests that may wait for the intake before senders are pushed back.
const INGEST_QUEUE: usize = 65_536;
/// EIP-7966: the transaction is in the pool but was not included within the timeout.
const SYNC_TIMEOUT_CODE: i32 = 4;
/// Longest timeout a caller may ask `eth_sendRawTransactionSync` for.
const MAX_SYNC_TIMEOUT: Duration = Duration::from_secs(60);

type Reply = oneshot::Sender<Result<B256, MempoolError>>;

/// Hands raw transactions to the mempool in batches.
#[derive(Debug, Clone)]
pub(crate) struct TxIngest {
    queue: mpsc::Sender<(Bytes, Reply)>,
}

impl TxIngest {
    /// Start the intake task on the current tokio runtime.
    pub fn spawn(mempool: Arc<Mempool>) -> Self {
        let (queue, mut requests) = mpsc::channel::<(Bytes, Reply)>(INGEST_QUEUE);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_INGEST_BATCH);
            while requests.recv_many(&mut batch, MAX_INGEST_BATCH).await > 0 {
                let taken = std::mem::take(&mut batch);
                let pool = mempool.clone();
                let outcome = tokio::task::spawn_blocking(move || {
                    let raws: Vec<&[u8]> = taken.iter().map(|(raw, _)| raw.as_ref()).collect();
                    let results = pool.add_raw_batch(&raws);
                    (taken, results)
                })
                .await;
                let Ok((taken, results)) = outcome else {
                    // The blocking task panicked: its callers see their reply channel close.
                    tracing::error!("transaction intake batch failed");
                    continue;
                };
                for ((_, reply), result) in taken.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
        });
        Self { queue }
    }

    /// Admit one raw transaction; resolves once the mempool has decided.
    pub async fn submit(&self, raw: Bytes) -> RpcResult<B256> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((raw, reply))
            .await
            .map_err(|_| RpcError::Internal("transaction intake stopped".into()))?;
        let result = answer
            .await
            .map_err(|_| RpcError::Internal("transaction intake dropped the request".into()))?;
        Ok(result?)
    }
}

pub(crate) fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_async_method("eth_sendRawTransaction", |params, ctx, _| async move {
        let raw: Bytes = params.one()?;
        ctx.ingest.submit(raw).await.map_err(ErrorObjectOwned::from)
    })?;
    module.register_async_method("eth_sendRawTransactionSync", |params, ctx, _| async move {
        let mut seq = params.sequence();
        let raw: Bytes = seq.next()?;
        let timeout_ms: Option<u64> = seq.optional_next()?;
        send_sync(&ctx, raw, timeout_ms).await
    })?;
    Ok(())
}

/// Submit and wait until a block includes the transaction, then return its receipt.
async fn send_sync(
    ctx: &RpcContext,
    raw: Bytes,
    timeout_ms: Option<u64>,
) -> Result<serde_json::Value, ErrorObjectOwned> {
    let timeout = timeout_ms
        .map(Duration::from_millis)
        .unwrap_or(ctx.config.send_sync_timeout)
        .min(MAX_SYNC_TIMEOUT);
    // Subscribe before submitting so the including block or slice can't slip by unseen.
    let mut heads = ctx.chain.subscribe();
    let mut slices = ctx.chain.preconfirmations().subscribe();
    let hash = ctx.ingest.submit(raw).await?;
    let wait = async {
        loop {
            if let Some(receipt) = crate::eth_blocks::transaction_receipt(ctx, hash)? {
                return Ok::<_, RpcError>(receipt);
            }
            // Woken by each new head and each preconfirmed slice; a slice holding the
            // transaction answers without a lookup.
            loop {
                tokio::select! {
                    head = heads.recv() => match head {
                        Ok(_) | Err(RecvError::Lagged(_)) => break,
                        Err(RecvError::Closed) => {
                            return Err(RpcError::Internal("the chain stopped".into()));
                        }
                    },
                    slice = slices.recv() => match slice {
                        Ok(event) => {
                            if let Some(tx) = event.slice.transaction(&hash) {
                                return Ok(crate::convert::preconfirmed_receipt(&event.block, tx));
                            }
                        }
                        // Missed slices: look the transaction up.
                        Err(RecvError::Lagged(_)) => break,
                        // No producer publishes: blocks alone answer.
                        Err(RecvError::Closed) => {}
                    },
                }
            }
        }
    };
    match tokio::time::timeout(timeout, wait).await {
        Ok(Ok(receipt)) => {
            serde_json::to_value(receipt).map_err(|e| RpcError::Internal(e.to_string()).into())
        }
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(ErrorObjectOwned::owned(
            SYNC_TIMEOUT_CODE,
            format!(
                "the transaction was added to the mempool but wasn't processed within {}ms",
                timeout.as_millis()
            ),
            Some(hash),
        )),
    }
}
