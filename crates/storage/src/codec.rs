//! Decoding helpers: every byte string read back from the store goes through here, so corruption
//! becomes a [`StoreError::Corrupt`] instead of a panic.

use alloy_consensus::{Eip658Value, ReceiptEnvelope, TxType};
use alloy_eips::Typed2718;
use alloy_primitives::{Address, Log};
use alloy_rlp::{Decodable, Encodable};
use keel_types::{Receipt, privileged::PRIVILEGED_TX_TYPE};

use crate::{StoreError, StoredReceipt};

pub fn decode<T: Decodable>(what: &'static str, mut bytes: &[u8]) -> Result<T, StoreError> {
    let value = T::decode(&mut bytes).map_err(|e| StoreError::corrupt(what, e))?;
    if !bytes.is_empty() {
        return Err(StoreError::corrupt(what, "trailing bytes"));
    }
    Ok(value)
}

/// One receipt row of `RECEIPTS`: `rlp([tx type, status, cumulative gas, gas used, first log
/// index, logs])`. The bloom is left out (recomputed from the logs on read: it is 256 bytes a
/// receipt, more than a transfer's whole row); gas used and the first log index are stored so a
/// lookup needs no other receipt of the block.
pub(crate) fn encode_receipt_row(
    receipt: &Receipt,
    gas_used: u64,
    first_log_index: u64,
    out: &mut Vec<u8>,
) {
    let inner = &receipt.as_receipt_with_bloom().receipt;
    let ty = receipt.ty();
    let payload_length = ty.length()
        + inner.status.length()
        + inner.cumulative_gas_used.length()
        + gas_used.length()
        + first_log_index.length()
        + alloy_rlp::list_length(&inner.logs);
    alloy_rlp::Header {
        list: true,
        payload_length,
    }
    .encode(out);
    ty.encode(out);
    inner.status.encode(out);
    inner.cumulative_gas_used.encode(out);
    gas_used.encode(out);
    first_log_index.encode(out);
    alloy_rlp::encode_list(&inner.logs, out);
}

/// Decode a row written by [`encode_receipt_row`].
pub(crate) fn decode_receipt_row(mut bytes: &[u8]) -> Result<StoredReceipt, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::corrupt("receipt", e);
    let buf = &mut bytes;
    let header = alloy_rlp::Header::decode(buf).map_err(|e| corrupt(&e))?;
    if !header.list || header.payload_length != buf.len() {
        return Err(corrupt(&"not one RLP list"));
    }
    let ty = u8::decode(buf).map_err(|e| corrupt(&e))?;
    let status = Eip658Value::decode(buf).map_err(|e| corrupt(&e))?;
    let cumulative_gas_used = u64::decode(buf).map_err(|e| corrupt(&e))?;
    let gas_used = u64::decode(buf).map_err(|e| corrupt(&e))?;
    let first_log_index = u64::decode(buf).map_err(|e| corrupt(&e))?;
    let logs = Vec::<Log>::decode(buf).map_err(|e| corrupt(&e))?;
    if !buf.is_empty() {
        return Err(corrupt(&"trailing bytes"));
    }
    let with_bloom = alloy_consensus::Receipt {
        status,
        cumulative_gas_used,
        logs,
    }
    .with_bloom();
    let receipt = if ty == PRIVILEGED_TX_TYPE {
        Receipt::Privileged(with_bloom)
    } else {
        let tx_type = TxType::try_from(ty).map_err(|e| corrupt(&e))?;
        Receipt::Ethereum(ReceiptEnvelope::from_typed(tx_type, with_bloom))
    };
    Ok(StoredReceipt {
        receipt,
        gas_used,
        first_log_index,
    })
}

/// `SENDERS` value: the addresses back to back.
pub(crate) fn encode_senders(senders: &[Address], out: &mut Vec<u8>) {
    out.reserve(senders.len() * 20);
    for sender in senders {
        out.extend_from_slice(sender.as_slice());
    }
}

pub(crate) fn decode_senders(bytes: &[u8]) -> Result<Vec<Address>, StoreError> {
    if !bytes.len().is_multiple_of(20) {
        return Err(StoreError::corrupt(
            "senders",
            format!("{} bytes is not a whole number of addresses", bytes.len()),
        ));
    }
    Ok(bytes.chunks_exact(20).map(Address::from_slice).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::TxReceipt;

    /// A transfer's receipt (no logs) is a few bytes once the bloom is left out: receipts must
    /// not dominate the datadir's bytes per transfer (issue 15 targets 500 in all).
    #[test]
    fn a_transfer_receipt_row_is_small_and_round_trips() {
        let receipt = Receipt::Ethereum(ReceiptEnvelope::Eip1559(
            alloy_consensus::Receipt {
                status: Eip658Value::Eip658(true),
                cumulative_gas_used: 10_500_000,
                logs: Vec::new(),
            }
            .with_bloom(),
        ));
        let mut row = Vec::new();
        encode_receipt_row(&receipt, 21_000, 0, &mut row);
        let mut network = Vec::new();
        receipt.encode(&mut network);
        assert!(row.len() <= 16, "{} bytes", row.len());
        assert!(network.len() > 256, "the network form carries the bloom");
        let back = decode_receipt_row(&row).unwrap();
        assert_eq!(back.receipt, receipt);
        assert_eq!(back.receipt.bloom(), receipt.bloom());
        assert_eq!((back.gas_used, back.first_log_index), (21_000, 0));
    }

    #[test]
    fn malformed_rows_are_corrupt_not_panics() {
        let mut row = Vec::new();
        let receipt = Receipt::Privileged(alloy_consensus::Receipt::<Log>::default().with_bloom());
        encode_receipt_row(&receipt, 0, 0, &mut row);
        for end in 0..row.len() {
            assert!(
                decode_receipt_row(&row[..end]).is_err(),
                "prefix of {end} bytes"
            );
        }
        let mut trailing = row.clone();
        trailing.push(0);
        assert!(decode_receipt_row(&trailing).is_err());
        // An unknown transaction type.
        let mut unknown = row.clone();
        unknown[1] = 0x50;
        assert!(matches!(
            decode_receipt_row(&unknown),
            Err(StoreError::Corrupt {
                what: "receipt",
                ..
            })
        ));
        assert!(decode_senders(&[0; 21]).is_err());
        assert_eq!(decode_senders(&[]).unwrap(), Vec::<Address>::new());
    }
}
