//! `eth_subscribe` / `eth_unsubscribe` over WebSocket: `newHeads`, `logs` and
//! `newPendingTransactions` (hashes, or full transactions with `true`), notified as geth does
//! (`eth_subscription` messages, one per header, log or transaction; geth-style hex ids); and
//! keel's `preconfirmations`: one message per slice of preconfirmed transactions,
//! `{blockNumber, slice, receipts}` (docs/preconfirmations.md).
//!
//! Each subscription is one task fed by a broadcast channel (new canonical heads from the
//! chain, new transactions from the mempool), which never blocks the sender. A head that does
//! not extend the last one delivered (a reorg, or a gap) is reconciled against the store: the
//! blocks that left the chain give `removed: true` logs, the blocks that joined it are
//! delivered in order. A subscriber too slow to keep up (its connection's buffer full, so the
//! broadcast overtakes it) skips the missed items with a warning and continues from the head.

use std::sync::Arc;

use alloy_primitives::{B256, U64};
use alloy_rpc_types_eth::Log;
use jsonrpsee::{
    PendingSubscriptionSink, RpcModule, SubscriptionMessage, SubscriptionSink,
    core::{RegisterMethodError, traits::IdProvider},
    types::{ErrorObjectOwned, Params, SubscriptionId},
};
use keel_chain::{NewBlock, preconf::SliceEvent};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast::{self, error::RecvError};
use tracing::{debug, warn};

use crate::{
    RpcContext,
    convert::rpc_header,
    error::{RpcError, RpcResult},
    filters::{
        ChainDiff, Cursor, announced_transaction, chain_diff, diff_logs, format_id, head_cursor,
        new_id, pending_rpc_transaction,
    },
    logs::{LogFilter, block_logs},
};

/// Subscription ids as geth makes them: 16 random bytes as a hex quantity.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct GethIdProvider;

impl IdProvider for GethIdProvider {
    fn next_id(&self) -> SubscriptionId<'static> {
        SubscriptionId::Str(format_id(new_id()).into())
    }
}

/// geth's code for an unknown subscription name.
const METHOD_NOT_FOUND: i32 = -32601;

enum Kind {
    NewHeads,
    Logs(LogFilter),
    PendingTxs {
        full: bool,
    },
    /// keel's: each slice of preconfirmed transactions as the BlockProducer publishes it.
    Preconfirmations,
}

fn parse_kind(params: &Params<'static>) -> Result<Kind, ErrorObjectOwned> {
    let mut seq = params.sequence();
    let name: String = seq.next()?;
    let extra: Option<Value> = seq.optional_next()?;
    let too_many = || {
        ErrorObjectOwned::from(RpcError::invalid_params(
            "too many arguments, want at most 1",
        ))
    };
    match name.as_str() {
        "newHeads" => match extra {
            None | Some(Value::Null) => Ok(Kind::NewHeads),
            Some(_) => Err(too_many()),
        },
        "logs" => {
            let filter = LogFilter::from_json_arg(extra.unwrap_or(Value::Null), 1)?;
            filter.reject_pending()?;
            Ok(Kind::Logs(filter))
        }
        "preconfirmations" => match extra {
            None | Some(Value::Null) => Ok(Kind::Preconfirmations),
            Some(_) => Err(too_many()),
        },
        "newPendingTransactions" => {
            let full = match extra {
                None | Some(Value::Null) => false,
                Some(Value::Bool(full)) => full,
                Some(_) => {
                    return Err(RpcError::invalid_params(
                        "invalid argument 1: expected a boolean (true for full transactions)",
                    )
                    .into());
                }
            };
            Ok(Kind::PendingTxs { full })
        }
        other => Err(ErrorObjectOwned::owned(
            METHOD_NOT_FOUND,
            format!("no {other:?} subscription in eth namespace"),
            None::<()>,
        )),
    }
}

pub(crate) fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_subscription(
        "eth_subscribe",
        "eth_subscription",
        "eth_unsubscribe",
        |params, pending, ctx, _| async move {
            let kind = match parse_kind(&params) {
                Ok(kind) => kind,
                Err(e) => {
                    pending.reject(e).await;
                    return;
                }
            };
            serve(ctx, pending, kind).await;
        },
    )?;
    Ok(())
}

async fn serve(ctx: Arc<RpcContext>, pending: PendingSubscriptionSink, kind: Kind) {
    // Subscribe before reading the head, so no block falls between the two.
    match kind {
        Kind::PendingTxs { full } => {
            let txs = ctx.mempool.subscribe();
            let Ok(sink) = pending.accept().await else {
                return;
            };
            pending_txs(&ctx, sink, txs, full).await;
        }
        Kind::Preconfirmations => {
            let slices = ctx.chain.preconfirmations().subscribe();
            let Ok(sink) = pending.accept().await else {
                return;
            };
            preconfirmations(sink, slices).await;
        }
        Kind::NewHeads | Kind::Logs(_) => {
            let heads = ctx.chain.subscribe();
            let start = {
                let ctx = ctx.clone();
                blocking(move || head_cursor(&*ctx.reader()?)).await
            };
            let cursor = match start {
                Ok(cursor) => cursor,
                Err(e) => {
                    pending.reject(e).await;
                    return;
                }
            };
            let Ok(sink) = pending.accept().await else {
                return;
            };
            let follower = Follower {
                ctx: ctx.clone(),
                heads,
                cursor,
            };
            match kind {
                Kind::Logs(filter) => logs(follower, sink, filter).await,
                _ => new_heads(follower, sink).await,
            }
        }
    }
    debug!("subscription ended");
}

/// Run store reads off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> RpcResult<T> + Send + 'static,
) -> Result<T, ErrorObjectOwned> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(ErrorObjectOwned::from),
        Err(e) => Err(RpcError::Internal(format!("store read failed: {e}")).into()),
    }
}

/// Send one notification; `false` once the subscriber is gone.
async fn notify(sink: &SubscriptionSink, item: &impl Serialize) -> bool {
    let message = match serde_json::value::to_raw_value(item) {
        Ok(raw) => SubscriptionMessage::from(raw),
        Err(e) => {
            warn!(error = %e, "cannot serialize a subscription notification");
            return true;
        }
    };
    sink.send(message).await.is_ok()
}

/// What happened to the canonical chain since the last step.
enum Step {
    /// A new head on top of the last one.
    Extended(Arc<NewBlock>),
    /// The chain moved otherwise (a reorg, or blocks seen out of order): the difference.
    Reconciled(ChainDiff),
}

/// Follows the canonical head for one subscription.
struct Follower {
    ctx: Arc<RpcContext>,
    heads: broadcast::Receiver<Arc<NewBlock>>,
    cursor: Cursor,
}

impl Follower {
    /// The next change of the chain, or `None` when the subscriber left or the chain stopped.
    async fn next(&mut self, sink: &SubscriptionSink) -> Option<Step> {
        loop {
            let event = tokio::select! {
                _ = sink.closed() => return None,
                event = self.heads.recv() => event,
            };
            match event {
                Ok(block) if block.block.header.parent_hash == self.cursor.hash => {
                    self.cursor = Cursor {
                        number: block.block.header.number,
                        hash: block.hash,
                    };
                    return Some(Step::Extended(block));
                }
                Ok(_) => {
                    let ctx = self.ctx.clone();
                    let from = self.cursor;
                    match blocking(move || chain_diff(&*ctx.reader()?, from)).await {
                        Ok((diff, head)) => {
                            self.cursor = head;
                            if diff.added.is_empty() && diff.removed.is_empty() {
                                continue;
                            }
                            return Some(Step::Reconciled(diff));
                        }
                        Err(e) => {
                            warn!(error = %e.message(), "subscription cannot read the chain");
                            return None;
                        }
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    warn!(
                        missed,
                        subscription = ?sink.subscription_id(),
                        "subscriber too slow: skipping to the head"
                    );
                    let ctx = self.ctx.clone();
                    match blocking(move || head_cursor(&*ctx.reader()?)).await {
                        Ok(head) => self.cursor = head,
                        Err(_) => return None,
                    }
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

async fn new_heads(mut follower: Follower, sink: SubscriptionSink) {
    while let Some(step) = follower.next(&sink).await {
        let headers = match step {
            Step::Extended(block) => {
                vec![rpc_header(block.block.header.clone(), block.hash, None)]
            }
            Step::Reconciled(diff) => diff
                .added
                .into_iter()
                .map(|(hash, header)| rpc_header(header, hash, None))
                .collect(),
        };
        for header in &headers {
            if !notify(&sink, header).await {
                return;
            }
        }
    }
}

async fn logs(mut follower: Follower, sink: SubscriptionSink, filter: LogFilter) {
    let filter = Arc::new(filter);
    while let Some(step) = follower.next(&sink).await {
        let logs: Vec<Log> = match step {
            Step::Extended(block) => {
                let header = &block.block.header;
                if !filter.number_in_bounds(header.number) {
                    continue;
                }
                match block_logs(
                    &filter,
                    block.hash,
                    header,
                    &block.block.body.transactions,
                    &block.receipts,
                    false,
                ) {
                    Ok(logs) => logs,
                    Err(e) => {
                        warn!(error = %e, "logs subscription cannot read a block");
                        continue;
                    }
                }
            }
            Step::Reconciled(diff) => {
                let ctx = follower.ctx.clone();
                let filter = filter.clone();
                match blocking(move || diff_logs(&*ctx.reader()?, &filter, &diff)).await {
                    Ok(logs) => logs,
                    Err(e) => {
                        warn!(error = %e.message(), "logs subscription cannot read the chain");
                        return;
                    }
                }
            }
        };
        for log in &logs {
            if !notify(&sink, log).await {
                return;
            }
        }
    }
}

/// One notification of the `preconfirmations` subscription: a slice of the block being built.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SliceNotification {
    block_number: U64,
    /// The slice's place in the block, from 0.
    slice: U64,
    /// The slice's receipts, in block order (block hash zero: the block isn't sealed yet).
    receipts: Vec<crate::convert::RpcReceipt>,
}

async fn preconfirmations(sink: SubscriptionSink, mut slices: broadcast::Receiver<SliceEvent>) {
    loop {
        let event = tokio::select! {
            _ = sink.closed() => return,
            event = slices.recv() => event,
        };
        let sent = match event {
            Ok(event) => {
                let receipts = event
                    .slice
                    .txs
                    .iter()
                    .map(|tx| crate::convert::preconfirmed_receipt(&event.block, tx))
                    .collect();
                let notification = SliceNotification {
                    block_number: U64::from(event.block.number),
                    slice: U64::from(event.slice.seq),
                    receipts,
                };
                notify(&sink, &notification).await
            }
            Err(RecvError::Lagged(missed)) => {
                warn!(
                    missed,
                    subscription = ?sink.subscription_id(),
                    "preconfirmation subscriber too slow: slices skipped"
                );
                true
            }
            Err(RecvError::Closed) => return,
        };
        if !sent {
            return;
        }
    }
}

async fn pending_txs(
    ctx: &Arc<RpcContext>,
    sink: SubscriptionSink,
    mut txs: broadcast::Receiver<B256>,
    full: bool,
) {
    loop {
        let event = tokio::select! {
            _ = sink.closed() => return,
            event = txs.recv() => event,
        };
        let sent = match event {
            Ok(hash) if full => {
                let tx = match ctx.mempool.get(&hash) {
                    Some(pooled) => Some(pending_rpc_transaction(&pooled)),
                    // Included meanwhile (the subscriber lags): read it from the chain.
                    None => {
                        let ctx = ctx.clone();
                        blocking(move || Ok(announced_transaction(&ctx, &hash)))
                            .await
                            .ok()
                            .flatten()
                    }
                };
                match tx {
                    Some(tx) => notify(&sink, &tx).await,
                    // Replaced or dropped: nothing to show.
                    None => true,
                }
            }
            Ok(hash) => notify(&sink, &hash).await,
            Err(RecvError::Lagged(missed)) => {
                warn!(
                    missed,
                    subscription = ?sink.subscription_id(),
                    "pending transaction subscriber too slow: hashes skipped"
                );
                true
            }
            Err(RecvError::Closed) => return,
        };
        if !sent {
            return;
        }
    }
}
