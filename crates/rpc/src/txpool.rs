//! The `txpool_` namespace: `status`, `content`, `contentFrom` and `inspect`, shaped as geth's
//! (counts as hex quantities; transactions keyed by checksummed sender, then by decimal nonce).

use std::collections::BTreeMap;

use alloy_consensus::Transaction as _;
use alloy_primitives::{Address, U64};
use jsonrpsee::{RpcModule, core::RegisterMethodError, types::ErrorObjectOwned};
use keel_chain::mempool::PooledTx;
use serde::Serialize;

use crate::{RpcContext, convert::pending_transaction_json};

#[derive(Debug, Clone, Serialize)]
struct Status {
    pending: U64,
    queued: U64,
}

/// `{pending: {sender: {nonce: T}}, queued: ...}`; BTreeMaps sort the keys as geth's JSON
/// encoder does.
#[derive(Debug, Clone, Serialize)]
struct Content<T> {
    pending: BTreeMap<String, BTreeMap<String, T>>,
    queued: BTreeMap<String, BTreeMap<String, T>>,
}

/// One sender's transactions, `{pending: {nonce: T}, queued: ...}`.
#[derive(Debug, Clone, Serialize)]
struct SenderContent<T> {
    pending: BTreeMap<String, T>,
    queued: BTreeMap<String, T>,
}

fn group<T>(
    txs: &[std::sync::Arc<PooledTx>],
    show: impl Fn(&PooledTx) -> T,
) -> BTreeMap<String, BTreeMap<String, T>> {
    let mut out: BTreeMap<String, BTreeMap<String, T>> = BTreeMap::new();
    for tx in txs {
        out.entry(tx.sender.to_checksum(None))
            .or_default()
            .insert(tx.nonce.to_string(), show(tx));
    }
    out
}

fn transaction(tx: &PooledTx) -> serde_json::Value {
    pending_transaction_json(tx.tx.clone(), tx.sender)
}

/// geth's one-line summary: `to: value wei + gas gas × price wei`.
fn summary(tx: &PooledTx) -> String {
    let price = tx.tx.gas_price().unwrap_or(tx.tx.max_fee_per_gas());
    let head = match tx.tx.to() {
        Some(to) => to.to_checksum(None),
        None => "contract creation".to_string(),
    };
    format!(
        "{head}: {} wei + {} gas × {price} wei",
        tx.tx.value(),
        tx.tx.gas_limit()
    )
}

pub(crate) fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_method("txpool_status", |_, ctx, _| {
        let status = ctx.mempool.status();
        Ok::<_, ErrorObjectOwned>(Status {
            pending: U64::from(status.pending),
            queued: U64::from(status.queued),
        })
    })?;
    module.register_blocking_method("txpool_content", |_, ctx, _| {
        let content = ctx.mempool.content();
        Ok::<_, ErrorObjectOwned>(Content {
            pending: group(&content.pending, transaction),
            queued: group(&content.queued, transaction),
        })
    })?;
    module.register_blocking_method("txpool_contentFrom", |params, ctx, _| {
        let address: Address = params.one()?;
        let content = ctx.mempool.content();
        let of = |txs: &[std::sync::Arc<PooledTx>]| {
            txs.iter()
                .filter(|tx| tx.sender == address)
                .map(|tx| (tx.nonce.to_string(), transaction(tx)))
                .collect::<BTreeMap<_, _>>()
        };
        Ok::<_, ErrorObjectOwned>(SenderContent {
            pending: of(&content.pending),
            queued: of(&content.queued),
        })
    })?;
    module.register_blocking_method("txpool_inspect", |_, ctx, _| {
        let content = ctx.mempool.content();
        Ok::<_, ErrorObjectOwned>(Content {
            pending: group(&content.pending, summary),
            queued: group(&content.queued, summary),
        })
    })?;
    Ok(())
}
