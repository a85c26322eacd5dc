//! Decoding helpers: every byte string read back from the store goes through here, so corruption
//! becomes a [`StoreError::Corrupt`] instead of a panic.

use alloy_consensus::{Eip658Value, ReceiptEnvelope, TxType};
use alloy_eips::Typed2718;
use alloy_primitives::{Address, B256, Log, U256};
use alloy_rlp::{Decodable, Encodable, Header};
use alloy_trie::{EMPTY_ROOT_HASH, KECCAK_EMPTY, TrieAccount};
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

/// The fields of a row written by [`encode_receipt_row`].
struct ReceiptRow {
    ty: u8,
    status: Eip658Value,
    cumulative_gas_used: u64,
    gas_used: u64,
    first_log_index: u64,
    logs: Vec<Log>,
}

fn decode_row(mut bytes: &[u8]) -> Result<ReceiptRow, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::corrupt("receipt", e);
    let buf = &mut bytes;
    let header = alloy_rlp::Header::decode(buf).map_err(|e| corrupt(&e))?;
    if !header.list || header.payload_length != buf.len() {
        return Err(corrupt(&"not one RLP list"));
    }
    let row = ReceiptRow {
        ty: u8::decode(buf).map_err(|e| corrupt(&e))?,
        status: Eip658Value::decode(buf).map_err(|e| corrupt(&e))?,
        cumulative_gas_used: u64::decode(buf).map_err(|e| corrupt(&e))?,
        gas_used: u64::decode(buf).map_err(|e| corrupt(&e))?,
        first_log_index: u64::decode(buf).map_err(|e| corrupt(&e))?,
        logs: Vec::<Log>::decode(buf).map_err(|e| corrupt(&e))?,
    };
    if !buf.is_empty() {
        return Err(corrupt(&"trailing bytes"));
    }
    Ok(row)
}

/// The logs of a row written by [`encode_receipt_row`], without the receipt's bloom (a keccak
/// per address and topic).
pub(crate) fn decode_receipt_logs(bytes: &[u8]) -> Result<Vec<Log>, StoreError> {
    Ok(decode_row(bytes)?.logs)
}

/// Decode a row written by [`encode_receipt_row`].
pub(crate) fn decode_receipt_row(bytes: &[u8]) -> Result<StoredReceipt, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::corrupt("receipt", e);
    let ReceiptRow {
        ty,
        status,
        cumulative_gas_used,
        gas_used,
        first_log_index,
        logs,
    } = decode_row(bytes)?;
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

/// The last 66 bytes of an account-trie leaf whose account has no storage and no code (nearly
/// every leaf): the RLP strings of the empty storage root and of the empty code hash.
const EMPTY_ACCOUNT_TAIL: [u8; 66] = {
    let mut tail = [0u8; 66];
    tail[0] = 0xa0;
    tail[33] = 0xa0;
    let (root, code) = (EMPTY_ROOT_HASH.0, KECCAK_EMPTY.0);
    let mut i = 0;
    while i < 32 {
        tail[1 + i] = root[i];
        tail[34 + i] = code[i];
        i += 1;
    }
    tail
};

/// Marks a stored trie node whose [`EMPTY_ACCOUNT_TAIL`] was left out. No node's RLP starts with
/// it: `0xff` would be a list whose length takes 8 bytes.
const TAIL_OMITTED: u8 = 0xff;

/// An `ACCOUNT_TRIE` value: the node's RLP, except that a leaf of an account without storage or
/// code is stored without the 66 bytes every such leaf ends with (the hash it is checked against
/// is always the full RLP's): a funded EOA's leaf takes 65 bytes less, about 45 instead of 110.
pub(crate) fn encode_trie_node(rlp: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    match rlp.strip_suffix(&EMPTY_ACCOUNT_TAIL[..]) {
        Some(head) => {
            let mut out = Vec::with_capacity(1 + head.len());
            out.push(TAIL_OMITTED);
            out.extend_from_slice(head);
            out.into()
        }
        None => rlp.into(),
    }
}

/// The node RLP of an [`encode_trie_node`] value.
pub(crate) fn decode_trie_node(stored: &[u8]) -> Vec<u8> {
    match stored.split_first() {
        Some((&TAIL_OMITTED, head)) => [head, &EMPTY_ACCOUNT_TAIL[..]].concat(),
        _ => stored.to_vec(),
    }
}

/// `SENDERS` value: the addresses back to back.
/// A flat-state account (`ACCOUNTS`, and the accounts of state diffs): `rlp([nonce, balance])`
/// for an account without code or storage (nearly all of them), `rlp([nonce, balance,
/// storage root, code hash])` otherwise. A funded EOA takes about 14 bytes instead of the trie
/// encoding's 70; the trie leaf keeps the full encoding, since its hash is what the root commits to.
pub(crate) fn encode_account(account: &TrieAccount, out: &mut Vec<u8>) {
    let plain = account.storage_root == EMPTY_ROOT_HASH && account.code_hash == KECCAK_EMPTY;
    let mut payload_length = account.nonce.length() + account.balance.length();
    if !plain {
        payload_length += account.storage_root.length() + account.code_hash.length();
    }
    Header {
        list: true,
        payload_length,
    }
    .encode(out);
    account.nonce.encode(out);
    account.balance.encode(out);
    if !plain {
        account.storage_root.encode(out);
        account.code_hash.encode(out);
    }
}

/// Decode [`encode_account`]'s form.
pub(crate) fn decode_account(mut bytes: &[u8]) -> Result<TrieAccount, StoreError> {
    let corrupt = |e: alloy_rlp::Error| StoreError::corrupt("account", e);
    let header = Header::decode(&mut bytes).map_err(corrupt)?;
    if !header.list || header.payload_length != bytes.len() {
        return Err(StoreError::corrupt("account", "not one RLP list"));
    }
    let nonce = u64::decode(&mut bytes).map_err(corrupt)?;
    let balance = U256::decode(&mut bytes).map_err(corrupt)?;
    let mut account = TrieAccount {
        nonce,
        balance,
        storage_root: EMPTY_ROOT_HASH,
        code_hash: KECCAK_EMPTY,
    };
    if !bytes.is_empty() {
        account.storage_root = B256::decode(&mut bytes).map_err(corrupt)?;
        account.code_hash = B256::decode(&mut bytes).map_err(corrupt)?;
        if !bytes.is_empty() {
            return Err(StoreError::corrupt("account", "trailing bytes"));
        }
    }
    Ok(account)
}

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

    #[test]
    fn accounts_round_trip_and_an_eoa_is_small() {
        let eoa = TrieAccount {
            nonce: 1_000,
            balance: U256::from(10u64).pow(U256::from(21)),
            storage_root: EMPTY_ROOT_HASH,
            code_hash: KECCAK_EMPTY,
        };
        let contract = TrieAccount {
            nonce: 1,
            balance: U256::ZERO,
            storage_root: B256::repeat_byte(7),
            code_hash: B256::repeat_byte(9),
        };
        // Code without storage and storage without code keep both fields.
        let code_only = TrieAccount {
            storage_root: EMPTY_ROOT_HASH,
            ..contract
        };
        for account in [eoa, contract, code_only, TrieAccount::default()] {
            let mut out = Vec::new();
            encode_account(&account, &mut out);
            assert_eq!(decode_account(&out).expect("decodes"), account);
        }
        let mut out = Vec::new();
        encode_account(&eoa, &mut out);
        assert_eq!(out.len(), 14, "{}", alloy_primitives::hex::encode(&out));
        assert!(alloy_rlp::encode(eoa).len() >= 70);
    }

    #[test]
    fn malformed_accounts_are_corrupt() {
        let mut good = Vec::new();
        encode_account(&TrieAccount::default(), &mut good);
        let mut trailing = good.clone();
        trailing.push(0x80);
        let mut three = Vec::new();
        Header {
            list: true,
            payload_length: 3,
        }
        .encode(&mut three);
        three.extend([0x01, 0x02, 0x03]);
        for bad in [vec![], vec![0xc5, 0x01], vec![0x80], trailing, three] {
            assert!(
                matches!(decode_account(&bad), Err(StoreError::Corrupt { .. })),
                "{bad:?}"
            );
        }
    }

    /// An EOA's leaf is stored without its constant tail and read back whole; other nodes are
    /// stored as they are.
    #[test]
    fn trie_nodes_round_trip_and_eoa_leaves_shrink() {
        use keel_trie::{EmptyNodeStore, Trie};
        let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
        let eoa = TrieAccount {
            nonce: 3,
            balance: U256::from(10u64).pow(U256::from(18)),
            storage_root: EMPTY_ROOT_HASH,
            code_hash: KECCAK_EMPTY,
        };
        let contract = TrieAccount {
            code_hash: B256::repeat_byte(0x11),
            ..eoa
        };
        for i in 0..200u64 {
            let account = if i % 10 == 0 { contract } else { eoa };
            trie.insert(
                alloy_primitives::keccak256(i.to_be_bytes()).as_slice(),
                alloy_rlp::encode(account),
            )
            .unwrap();
        }
        let nodes = trie.commit().nodes;
        let (mut shrunk, mut kept) = (0, 0);
        for (_, _, rlp) in &nodes {
            let stored = encode_trie_node(rlp);
            if stored.len() < rlp.len() {
                assert_eq!(stored.len() + 65, rlp.len());
                shrunk += 1;
            } else {
                assert_eq!(&stored[..], &rlp[..]);
                kept += 1;
            }
            assert_eq!(&decode_trie_node(&stored), rlp);
        }
        assert_eq!(shrunk, 180, "every EOA leaf");
        assert!(
            kept > 20,
            "contract leaves and branches are kept as they are"
        );
    }

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
