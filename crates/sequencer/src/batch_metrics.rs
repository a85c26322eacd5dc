//! The batch series shared by the BatchSealer, the L1Committer and the L1ProofSender.

use keel_l1::sender::ConfirmedTx;

/// `kind` label of an L1 transaction that commits a batch.
pub(crate) const COMMIT: &str = "commit";
/// `kind` label of an L1 transaction that verifies batches.
pub(crate) const VERIFY: &str = "verify";

/// Set `keel_batch_last{status}` (`sealed`, `committed` or `verified`) to batch `number`.
pub(crate) fn set_last(status: &'static str, number: u64) {
    metrics::gauge!("keel_batch_last", "status" => status).set(number as f64);
}

/// Add a confirmed L1 transaction's gas, blob gas and fee (gas × effective price + blob gas ×
/// blob price, in wei) to the `kind` series.
pub(crate) fn record_confirmed(kind: &'static str, confirmed: &ConfirmedTx) {
    let blob_gas = confirmed.blob_gas_used.unwrap_or(0);
    let fee = u128::from(confirmed.gas_used)
        .saturating_mul(confirmed.effective_gas_price)
        .saturating_add(u128::from(blob_gas).saturating_mul(confirmed.blob_gas_price.unwrap_or(0)));
    metrics::counter!("keel_l1_tx_gas_used_total", "kind" => kind).increment(confirmed.gas_used);
    metrics::counter!("keel_l1_tx_blob_gas_used_total", "kind" => kind).increment(blob_gas);
    metrics::counter!("keel_l1_tx_fee_wei_total", "kind" => kind)
        .increment(u64::try_from(fee).unwrap_or(u64::MAX));
}
