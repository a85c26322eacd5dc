//! Where a read runs. A read of the head's state, or of one block or transaction, is a handful of
//! lookups in the store's shared snapshot: cheaper than the hop to tokio's blocking pool, whose
//! thread switches took most of the node's CPU under load (docs/benchmarks.md, "Reads"). Those
//! run on the connection's own task. Reads whose cost has no small bound (an older block's state,
//! rebuilt from the reverts back to it; EVM calls; log ranges; proofs) stay on the blocking pool,
//! so that they can't stall the other connections of an async worker.
//!
//! EVM executions (`eth_call` and its kin, [`register_evm`]) also take one of
//! `RpcConfig::max_concurrent_calls` slots first: a flood of expensive calls (loops to the gas cap)
//! then keeps at most that many threads busy, and the block producer and the cheap reads keep
//! their share of the cores. The calls beyond wait their turn in arrival order (as reth queues them
//! on its CPU pool); one that waited `RpcConfig::call_queue_timeout` is refused with -32005.

use jsonrpsee::{
    IntoResponse, RpcModule, core::RegisterMethodError, types::ErrorObjectOwned, types::Params,
};
use serde_json::value::RawValue;

use crate::{RpcContext, error::RpcError};

/// Whether the block parameter at `position` of `params` names the head's state: absent, `null`,
/// or one of the tags that mean the head. A number or a hash might be deep history, and so may
/// `safe` and `finalized` (they follow L1, docs/rpc.md, Block tags).
pub(crate) fn reads_head(params: &Params<'_>, position: usize) -> bool {
    match param(params, position) {
        Err(()) | Ok(None | Some("null")) => true,
        Ok(Some(tag)) => matches!(tag, r#""latest""# | r#""pending""#),
    }
}

/// The raw JSON text of parameter `position` (`None` when absent), or `Err` for parameters that
/// are not a JSON array (the method itself reports those).
fn param<'a>(params: &'a Params<'_>, position: usize) -> Result<Option<&'a str>, ()> {
    let Some(raw) = params.as_str() else {
        return Ok(None);
    };
    let values: Vec<&RawValue> = serde_json::from_str(raw).map_err(|_| ())?;
    Ok(values.get(position).map(|v| v.get().trim()))
}

/// `eth_getBlockBy*` without full transactions (the second parameter not `true`).
pub(crate) fn hashes_only(params: &Params<'_>) -> bool {
    !matches!(param(params, 1), Ok(Some("true")))
}

/// Register `read`, run on the connection's task when `cheap(params)` holds, else on the blocking
/// pool.
pub(crate) fn register_read<R, F>(
    module: &mut RpcModule<RpcContext>,
    name: &'static str,
    cheap: fn(&Params<'_>) -> bool,
    read: F,
) -> Result<(), RegisterMethodError>
where
    F: Fn(Params<'static>, &RpcContext) -> Result<R, ErrorObjectOwned>
        + Clone
        + Send
        + Sync
        + 'static,
    R: serde::Serialize + Clone + Send + 'static,
    Result<R, ErrorObjectOwned>: IntoResponse,
{
    module.register_async_method(name, move |params, ctx, _| {
        let read = read.clone();
        async move {
            if cheap(&params) {
                return read(params, &ctx);
            }
            tokio::task::spawn_blocking(move || read(params, &ctx))
                .await
                .map_err(|e| ErrorObjectOwned::from(RpcError::Internal(e.to_string())))?
        }
    })?;
    Ok(())
}

/// Register `run`, an EVM execution: it waits (in arrival order) for one of the
/// `max_concurrent_calls` slots, at most `call_queue_timeout`, then runs on the blocking pool
/// holding the slot. No slot in time: error -32005 "server busy". A caller that goes away while
/// its call runs does not free the slot before the execution ends.
pub(crate) fn register_evm<R, F>(
    module: &mut RpcModule<RpcContext>,
    name: &'static str,
    run: F,
) -> Result<(), RegisterMethodError>
where
    F: Fn(Params<'static>, &RpcContext) -> Result<R, ErrorObjectOwned>
        + Clone
        + Send
        + Sync
        + 'static,
    R: serde::Serialize + Clone + Send + 'static,
    Result<R, ErrorObjectOwned>: IntoResponse,
{
    module.register_async_method(name, move |params, ctx, _| {
        let run = run.clone();
        async move {
            let wait = ctx.config.call_queue_timeout;
            let waiting = GaugeGuard::up(metrics::gauge!("keel_rpc_evm_calls_waiting"));
            let slot = tokio::time::timeout(wait, ctx.evm_slots.clone().acquire_owned()).await;
            drop(waiting);
            let permit = match slot {
                Ok(Ok(permit)) => permit,
                Ok(Err(closed)) => return Err(RpcError::Internal(closed.to_string()).into()),
                Err(_) => {
                    metrics::counter!("keel_rpc_evm_calls_busy_total", "method" => name)
                        .increment(1);
                    return Err(RpcError::LimitExceeded(format!(
                        "server busy: {} EVM calls running and no slot freed within {} ms, \
                         try again later",
                        ctx.config.max_concurrent_calls,
                        wait.as_millis()
                    ))
                    .into());
                }
            };
            let running = GaugeGuard::up(metrics::gauge!("keel_rpc_evm_calls_running"));
            tokio::task::spawn_blocking(move || {
                let result = run(params, &ctx);
                // The gauge goes down before the slot is freed, so that it never shows more
                // running calls than slots (a waiting call takes the slot at once).
                drop(running);
                drop(permit);
                result
            })
            .await
            .map_err(|e| ErrorObjectOwned::from(RpcError::Internal(e.to_string())))?
        }
    })?;
    Ok(())
}

/// A gauge raised by one while the guard lives (also when its future is dropped midway: a
/// caller that went away no longer counts as waiting).
struct GaugeGuard(metrics::Gauge);

impl GaugeGuard {
    fn up(gauge: metrics::Gauge) -> Self {
        gauge.increment(1.0);
        Self(gauge)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// [`register_read`] for methods whose block parameter is at `POSITION`: cheap when it is the
/// head.
pub(crate) fn head_at<const POSITION: usize>(params: &Params<'_>) -> bool {
    reads_head(params, POSITION)
}

/// [`register_read`] for methods that always read a bounded amount (one block's header and
/// body, one transaction, one receipt).
pub(crate) fn always(_: &Params<'_>) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(json: &'static str) -> Params<'static> {
        Params::new(Some(json))
    }

    #[test]
    fn head_tags_and_absent_blocks_are_cheap_numbers_and_hashes_are_not() {
        assert!(reads_head(&params(r#"["0x01"]"#), 1));
        assert!(reads_head(&params(r#"["0x01", null]"#), 1));
        assert!(reads_head(&params(r#"["0x01", "latest"]"#), 1));
        assert!(reads_head(&params(r#"["0x01", "pending"]"#), 1));
        assert!(reads_head(&params(r#"["0x01", "0x2", "latest"]"#), 2));
        assert!(!reads_head(&params(r#"["0x01", "0x2", "finalized"]"#), 2));
        assert!(!reads_head(&params(r#"["0x01", "safe"]"#), 1));
        assert!(!reads_head(&params(r#"["0x01", "0x10"]"#), 1));
        assert!(!reads_head(&params(r#"["0x01", "earliest"]"#), 1));
        assert!(!reads_head(
            &params(r#"["0x01", {"blockHash": "0x00"}]"#),
            1
        ));
    }

    #[test]
    fn blocks_with_full_transactions_are_not_cheap() {
        assert!(hashes_only(&params(r#"["latest"]"#)));
        assert!(hashes_only(&params(r#"["latest", false]"#)));
        assert!(!hashes_only(&params(r#"["latest", true]"#)));
    }
}
