//! The transaction and receipt envelopes of a keel block: every Ethereum type (0–4, as
//! [`TxEnvelope`] / [`ReceiptEnvelope`]) plus the privileged transaction (type `0x7e`,
//! docs/architecture.md, Chain rules) and its receipt.
//!
//! Encodings follow EIP-2718 as for any typed transaction: the 2718 form is `type ‖ rlp(body)`
//! (what `transactions_root` and `receipts_root` commit to), and in block bodies and the store a
//! typed item is the RLP string of its 2718 form. A privileged transaction's hash is
//! [`PrivilegedTx::hash`] (the hash the L1 bridge queues), not the keccak of its encoding. It has
//! no signature: its sender is its `from`. Its receipt is encoded like an EIP-1559 receipt with the
//! type byte `0x7e`.

use alloy_consensus::{
    Eip658Value, ReceiptEnvelope, ReceiptWithBloom, Signed, TxEnvelope, TxReceipt,
    crypto::RecoveryError,
    transaction::{SignerRecoverable, TxHashRef},
};
use alloy_eips::{
    Typed2718,
    eip2718::{Decodable2718, Eip2718Error, Eip2718Result, Encodable2718},
    eip2930::AccessList,
    eip7702::SignedAuthorization,
};
use alloy_primitives::{Address, B256, Bloom, Bytes, ChainId, Log, Sealable, Sealed, TxKind, U256};
use alloy_rlp::{BufMut, Decodable, Encodable};

use crate::privileged::{PRIVILEGED_TX_TYPE, PrivilegedTx};

impl Sealable for PrivilegedTx {
    /// The privileged hash (the L1 bridge's), which is also the transaction's L2 hash.
    fn hash_slow(&self) -> B256 {
        self.hash()
    }
}

/// A transaction as carried in a block body: an ordinary signed Ethereum transaction or a
/// privileged (L1→L2) one.
#[derive(Debug, Clone, PartialEq, Eq)]
// No bigger than `TxEnvelope` alone; boxing the common variant would cost an allocation per
// transaction.
#[allow(clippy::large_enum_variant)]
pub enum Transaction {
    /// A signed Ethereum transaction (types 0, 1, 2, 3, 4).
    Ethereum(TxEnvelope),
    /// A privileged transaction (type `0x7e`), sealed with its privileged hash.
    Privileged(Sealed<PrivilegedTx>),
}

impl Transaction {
    /// Wrap a privileged transaction, computing its hash once.
    pub fn privileged(tx: PrivilegedTx) -> Self {
        Self::Privileged(tx.seal_slow())
    }

    /// The transaction hash: keccak256 of the 2718 encoding for an Ethereum transaction, the
    /// privileged hash ([`PrivilegedTx::hash`]) for a privileged one.
    pub fn tx_hash(&self) -> &B256 {
        match self {
            Self::Ethereum(tx) => tx.tx_hash(),
            Self::Privileged(tx) => tx.hash_ref(),
        }
    }

    /// The Ethereum transaction, unless this one is privileged.
    pub fn as_ethereum(&self) -> Option<&TxEnvelope> {
        match self {
            Self::Ethereum(tx) => Some(tx),
            Self::Privileged(_) => None,
        }
    }

    /// The privileged transaction, if this one is.
    pub fn as_privileged(&self) -> Option<&PrivilegedTx> {
        match self {
            Self::Ethereum(_) => None,
            Self::Privileged(tx) => Some(tx.inner()),
        }
    }

    /// Whether this is a privileged transaction (type `0x7e`).
    pub fn is_privileged(&self) -> bool {
        matches!(self, Self::Privileged(_))
    }
}

impl From<TxEnvelope> for Transaction {
    fn from(tx: TxEnvelope) -> Self {
        Self::Ethereum(tx)
    }
}

/// A signed transaction of any Ethereum type, as [`TxEnvelope`] takes it.
impl<T> From<Signed<T>> for Transaction
where
    TxEnvelope: From<Signed<T>>,
{
    fn from(tx: Signed<T>) -> Self {
        Self::Ethereum(tx.into())
    }
}

impl From<PrivilegedTx> for Transaction {
    fn from(tx: PrivilegedTx) -> Self {
        Self::privileged(tx)
    }
}

impl TxHashRef for Transaction {
    fn tx_hash(&self) -> &B256 {
        Self::tx_hash(self)
    }
}

impl Typed2718 for Transaction {
    fn ty(&self) -> u8 {
        match self {
            Self::Ethereum(tx) => tx.ty(),
            Self::Privileged(_) => PRIVILEGED_TX_TYPE,
        }
    }
}

impl Encodable2718 for Transaction {
    fn encode_2718_len(&self) -> usize {
        match self {
            Self::Ethereum(tx) => tx.encode_2718_len(),
            Self::Privileged(tx) => 1 + tx.inner().length(),
        }
    }

    fn encode_2718(&self, out: &mut dyn BufMut) {
        match self {
            Self::Ethereum(tx) => tx.encode_2718(out),
            Self::Privileged(tx) => {
                out.put_u8(PRIVILEGED_TX_TYPE);
                tx.inner().encode(out);
            }
        }
    }

    fn trie_hash(&self) -> B256 {
        *self.tx_hash()
    }
}

impl Decodable2718 for Transaction {
    fn typed_decode(ty: u8, buf: &mut &[u8]) -> Eip2718Result<Self> {
        if ty == PRIVILEGED_TX_TYPE {
            Ok(Self::privileged(PrivilegedTx::decode(buf)?))
        } else {
            TxEnvelope::typed_decode(ty, buf).map(Self::Ethereum)
        }
    }

    fn fallback_decode(buf: &mut &[u8]) -> Eip2718Result<Self> {
        TxEnvelope::fallback_decode(buf).map(Self::Ethereum)
    }
}

/// The network (block body) form: a legacy transaction as its RLP list, a typed one as the RLP
/// string of its 2718 encoding.
impl Encodable for Transaction {
    fn encode(&self, out: &mut dyn BufMut) {
        self.network_encode(out)
    }

    fn length(&self) -> usize {
        self.network_len()
    }
}

impl Decodable for Transaction {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        // Bodies have one encoding only, as in geth: a legacy transaction is its RLP list, a
        // typed one exactly the RLP string of its 2718 form. alloy's `network_decode` is laxer —
        // it reads a bare 2718 envelope (its type byte reads as a one-byte string), and a string
        // header whose length is not the envelope's — so the string is taken apart here.
        let mut rest = *buf;
        let header = alloy_rlp::Header::decode(&mut rest)?;
        if header.list {
            return Ok(Self::fallback_decode(buf)?);
        }
        if buf
            .first()
            .is_some_and(|&b| b < alloy_rlp::EMPTY_STRING_CODE)
        {
            return Err(alloy_rlp::Error::Custom(
                "typed transaction not wrapped in an RLP string",
            ));
        }
        let payload = rest
            .get(..header.payload_length)
            .ok_or(alloy_rlp::Error::InputTooShort)?;
        if payload
            .first()
            .is_none_or(|&ty| ty >= alloy_rlp::EMPTY_STRING_CODE)
        {
            return Err(alloy_rlp::Error::Custom(
                "an RLP string in a body must hold a typed transaction",
            ));
        }
        let mut envelope = payload;
        let tx = Self::decode_2718(&mut envelope)?;
        if !envelope.is_empty() {
            return Err(alloy_rlp::Error::UnexpectedLength);
        }
        *buf = &rest[header.payload_length..];
        Ok(tx)
    }
}

/// A privileged transaction has no signature: its sender is its `from`.
impl SignerRecoverable for Transaction {
    fn recover_signer(&self) -> Result<Address, RecoveryError> {
        match self {
            Self::Ethereum(tx) => tx.recover_signer(),
            Self::Privileged(tx) => Ok(tx.from),
        }
    }

    fn recover_signer_unchecked(&self) -> Result<Address, RecoveryError> {
        match self {
            Self::Ethereum(tx) => tx.recover_signer_unchecked(),
            Self::Privileged(tx) => Ok(tx.from),
        }
    }
}

/// A privileged transaction reads as a call from `from` to `to` that pays no fee: gas price, fee
/// cap and tip all 0, no access list.
impl alloy_consensus::Transaction for Transaction {
    fn chain_id(&self) -> Option<ChainId> {
        match self {
            Self::Ethereum(tx) => tx.chain_id(),
            Self::Privileged(tx) => Some(tx.chain_id),
        }
    }

    fn nonce(&self) -> u64 {
        match self {
            Self::Ethereum(tx) => tx.nonce(),
            Self::Privileged(tx) => tx.nonce,
        }
    }

    fn gas_limit(&self) -> u64 {
        match self {
            Self::Ethereum(tx) => tx.gas_limit(),
            Self::Privileged(tx) => tx.gas_limit,
        }
    }

    fn gas_price(&self) -> Option<u128> {
        match self {
            Self::Ethereum(tx) => tx.gas_price(),
            Self::Privileged(_) => Some(0),
        }
    }

    fn max_fee_per_gas(&self) -> u128 {
        match self {
            Self::Ethereum(tx) => tx.max_fee_per_gas(),
            Self::Privileged(_) => 0,
        }
    }

    fn max_priority_fee_per_gas(&self) -> Option<u128> {
        match self {
            Self::Ethereum(tx) => tx.max_priority_fee_per_gas(),
            Self::Privileged(_) => None,
        }
    }

    fn max_fee_per_blob_gas(&self) -> Option<u128> {
        match self {
            Self::Ethereum(tx) => tx.max_fee_per_blob_gas(),
            Self::Privileged(_) => None,
        }
    }

    fn priority_fee_or_price(&self) -> u128 {
        match self {
            Self::Ethereum(tx) => tx.priority_fee_or_price(),
            Self::Privileged(_) => 0,
        }
    }

    fn effective_gas_price(&self, base_fee: Option<u64>) -> u128 {
        match self {
            Self::Ethereum(tx) => tx.effective_gas_price(base_fee),
            Self::Privileged(_) => 0,
        }
    }

    fn effective_tip_per_gas(&self, base_fee: u64) -> Option<u128> {
        match self {
            Self::Ethereum(tx) => tx.effective_tip_per_gas(base_fee),
            Self::Privileged(_) => Some(0),
        }
    }

    fn is_dynamic_fee(&self) -> bool {
        match self {
            Self::Ethereum(tx) => tx.is_dynamic_fee(),
            Self::Privileged(_) => false,
        }
    }

    fn kind(&self) -> TxKind {
        match self {
            Self::Ethereum(tx) => tx.kind(),
            Self::Privileged(tx) => TxKind::Call(tx.to),
        }
    }

    fn is_create(&self) -> bool {
        match self {
            Self::Ethereum(tx) => tx.is_create(),
            Self::Privileged(_) => false,
        }
    }

    fn value(&self) -> U256 {
        match self {
            Self::Ethereum(tx) => tx.value(),
            Self::Privileged(tx) => tx.value,
        }
    }

    fn input(&self) -> &Bytes {
        match self {
            Self::Ethereum(tx) => tx.input(),
            Self::Privileged(tx) => &tx.data,
        }
    }

    fn access_list(&self) -> Option<&AccessList> {
        match self {
            Self::Ethereum(tx) => tx.access_list(),
            Self::Privileged(_) => None,
        }
    }

    fn blob_versioned_hashes(&self) -> Option<&[B256]> {
        match self {
            Self::Ethereum(tx) => tx.blob_versioned_hashes(),
            Self::Privileged(_) => None,
        }
    }

    fn authorization_list(&self) -> Option<&[SignedAuthorization]> {
        match self {
            Self::Ethereum(tx) => tx.authorization_list(),
            Self::Privileged(_) => None,
        }
    }
}

/// A transaction receipt: an Ethereum one, or that of a privileged transaction (type `0x7e`,
/// the fields of an EIP-1559 receipt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    Ethereum(ReceiptEnvelope),
    Privileged(ReceiptWithBloom),
}

impl Receipt {
    /// The receipt fields and bloom, whatever the type.
    pub fn as_receipt_with_bloom(&self) -> &ReceiptWithBloom {
        match self {
            Self::Ethereum(receipt) => receipt
                .as_receipt_with_bloom()
                .expect("every ReceiptEnvelope variant holds a ReceiptWithBloom"),
            Self::Privileged(receipt) => receipt,
        }
    }

    /// The logs the transaction emitted.
    pub fn logs(&self) -> &[Log] {
        &self.as_receipt_with_bloom().receipt.logs
    }

    /// Gas used by this and the earlier transactions of the block.
    pub fn cumulative_gas_used(&self) -> u64 {
        self.as_receipt_with_bloom().receipt.cumulative_gas_used
    }

    /// Whether the transaction succeeded (EIP-658 status).
    pub fn status(&self) -> bool {
        self.as_receipt_with_bloom().receipt.status.coerce_status()
    }

    /// Whether this is the receipt of a privileged transaction.
    pub fn is_privileged(&self) -> bool {
        matches!(self, Self::Privileged(_))
    }
}

impl From<ReceiptEnvelope> for Receipt {
    fn from(receipt: ReceiptEnvelope) -> Self {
        Self::Ethereum(receipt)
    }
}

impl TxReceipt for Receipt {
    type Log = Log;

    fn status_or_post_state(&self) -> Eip658Value {
        self.as_receipt_with_bloom().receipt.status
    }

    fn status(&self) -> bool {
        Self::status(self)
    }

    fn bloom(&self) -> Bloom {
        self.as_receipt_with_bloom().logs_bloom
    }

    fn bloom_cheap(&self) -> Option<Bloom> {
        Some(self.bloom())
    }

    fn cumulative_gas_used(&self) -> u64 {
        Self::cumulative_gas_used(self)
    }

    fn logs(&self) -> &[Log] {
        Self::logs(self)
    }
}

impl Typed2718 for Receipt {
    fn ty(&self) -> u8 {
        match self {
            Self::Ethereum(receipt) => receipt.ty(),
            Self::Privileged(_) => PRIVILEGED_TX_TYPE,
        }
    }
}

impl Encodable2718 for Receipt {
    fn encode_2718_len(&self) -> usize {
        match self {
            Self::Ethereum(receipt) => receipt.encode_2718_len(),
            Self::Privileged(receipt) => 1 + receipt.length(),
        }
    }

    fn encode_2718(&self, out: &mut dyn BufMut) {
        match self {
            Self::Ethereum(receipt) => receipt.encode_2718(out),
            Self::Privileged(receipt) => {
                out.put_u8(PRIVILEGED_TX_TYPE);
                receipt.encode(out);
            }
        }
    }
}

impl Decodable2718 for Receipt {
    fn typed_decode(ty: u8, buf: &mut &[u8]) -> Eip2718Result<Self> {
        if ty == PRIVILEGED_TX_TYPE {
            Ok(Self::Privileged(ReceiptWithBloom::decode(buf)?))
        } else {
            ReceiptEnvelope::typed_decode(ty, buf).map(Self::Ethereum)
        }
    }

    fn fallback_decode(buf: &mut &[u8]) -> Eip2718Result<Self> {
        ReceiptEnvelope::fallback_decode(buf).map(Self::Ethereum)
    }
}

/// The network (and store) form, as for [`ReceiptEnvelope`].
impl Encodable for Receipt {
    fn encode(&self, out: &mut dyn BufMut) {
        self.network_encode(out)
    }

    fn length(&self) -> usize {
        self.network_len()
    }
}

impl Decodable for Receipt {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Self::network_decode(buf).map_err(|e| match e {
            Eip2718Error::RlpError(e) => e,
            _ => alloy_rlp::Error::Custom("unexpected receipt type"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{SignableTransaction, TxEip1559, TxLegacy};
    use alloy_primitives::Signature;

    fn privileged() -> PrivilegedTx {
        PrivilegedTx {
            chain_id: 1_729_001,
            nonce: 7,
            from: Address::with_last_byte(0xff),
            to: Address::with_last_byte(0xff),
            value: U256::from(5u64),
            gas_limit: 200_000,
            data: Bytes::from_static(&[1, 2, 3]),
        }
    }

    fn signed(legacy: bool) -> TxEnvelope {
        // Encoding and hashing don't check the signature.
        let sig = Signature::new(U256::from(1u64), U256::from(2u64), false);
        if legacy {
            let tx = TxLegacy {
                chain_id: Some(1),
                gas_limit: 21_000,
                gas_price: 1,
                to: TxKind::Call(Address::ZERO),
                ..Default::default()
            };
            tx.into_signed(sig).into()
        } else {
            let tx = TxEip1559 {
                chain_id: 1,
                gas_limit: 21_000,
                max_fee_per_gas: 2,
                to: TxKind::Call(Address::ZERO),
                ..Default::default()
            };
            tx.into_signed(sig).into()
        }
    }

    #[test]
    fn privileged_2718_is_the_privileged_encoding_and_hash_is_the_bridge_hash() {
        let tx = Transaction::privileged(privileged());
        assert_eq!(tx.encoded_2718(), privileged().encoded_2718());
        assert_eq!(*tx.tx_hash(), privileged().hash());
        assert_eq!(tx.trie_hash(), privileged().hash());
        assert_eq!(tx.ty(), 0x7e);
        assert_eq!(
            tx.recover_signer().ok(),
            Some(Address::with_last_byte(0xff))
        );
        let decoded = Transaction::decode_2718_exact(&tx.encoded_2718()).unwrap();
        assert_eq!(decoded, tx);
        assert_eq!(decoded.as_privileged(), Some(&privileged()));
    }

    #[test]
    fn network_form_round_trips_every_kind() {
        let txs = vec![
            Transaction::from(signed(true)),
            Transaction::privileged(privileged()),
            Transaction::from(signed(false)),
        ];
        let mut out = Vec::new();
        txs.encode(&mut out);
        assert_eq!(out.len(), txs.length());
        let back = Vec::<Transaction>::decode(&mut out.as_slice()).unwrap();
        assert_eq!(back, txs);
        // An Ethereum transaction encodes exactly as its TxEnvelope.
        let eth = signed(false);
        assert_eq!(
            alloy_rlp::encode(Transaction::from(eth.clone())),
            alloy_rlp::encode(&eth)
        );
        assert_eq!(Transaction::from(eth.clone()).tx_hash(), eth.tx_hash());
    }

    /// Found by the `tx` fuzz target: alloy's network decoding also reads a typed transaction
    /// without its string header, a second encoding of the same body that re-encodes differently.
    #[test]
    fn a_typed_transaction_in_a_body_must_be_wrapped_in_a_string() {
        for tx in [
            Transaction::from(signed(false)),
            Transaction::privileged(privileged()),
        ] {
            let bare = tx.encoded_2718();
            let err = Transaction::decode(&mut bare.as_slice());
            assert!(err.is_err(), "bare 2718 form accepted in a body: {err:?}");
            let mut wrapped = Vec::new();
            tx.encode(&mut wrapped);
            assert_eq!(Transaction::decode(&mut wrapped.as_slice()), Ok(tx));
        }
    }

    /// Found by the `tx` fuzz target: alloy's network decoding takes a string header whose
    /// length is shorter than the typed envelope after it (it reads the envelope to its end).
    #[test]
    fn a_typed_transaction_string_must_be_exactly_its_envelope() {
        for tx in [
            Transaction::from(signed(false)),
            Transaction::privileged(privileged()),
        ] {
            let envelope = tx.encoded_2718();
            for wrong in [2, envelope.len() - 1] {
                let mut input = Vec::new();
                alloy_rlp::Header {
                    list: false,
                    payload_length: wrong,
                }
                .encode(&mut input);
                input.extend_from_slice(&envelope);
                let decoded = Transaction::decode(&mut input.as_slice());
                assert!(decoded.is_err(), "length {wrong} accepted: {decoded:?}");
            }
            // A legacy transaction inside a string is not a body item either.
            let legacy = Transaction::from(signed(true)).encoded_2718();
            let mut input = Vec::new();
            alloy_rlp::Header {
                list: false,
                payload_length: legacy.len(),
            }
            .encode(&mut input);
            input.extend_from_slice(&legacy);
            assert!(Transaction::decode(&mut input.as_slice()).is_err());
        }
    }

    #[test]
    fn privileged_receipt_is_a_1559_receipt_with_type_0x7e() {
        let inner = alloy_consensus::Receipt {
            status: Eip658Value::Eip658(true),
            cumulative_gas_used: 50_000,
            logs: vec![Log::new_unchecked(
                Address::with_last_byte(1),
                vec![B256::repeat_byte(2)],
                Bytes::from_static(&[3]),
            )],
        };
        let privileged = Receipt::Privileged(inner.clone().with_bloom());
        let eip1559 = ReceiptEnvelope::Eip1559(inner.with_bloom());
        let raw = privileged.encoded_2718();
        assert_eq!(raw[0], 0x7e);
        assert_eq!(raw[1..], eip1559.encoded_2718()[1..]);
        assert_eq!(Receipt::decode_2718_exact(&raw).unwrap(), privileged);
        let list = vec![privileged.clone(), Receipt::from(eip1559.clone())];
        let encoded = alloy_rlp::encode(&list);
        assert_eq!(
            Vec::<Receipt>::decode(&mut encoded.as_slice()).unwrap(),
            list
        );
        assert_eq!(privileged.cumulative_gas_used(), 50_000);
        assert!(privileged.status());
        assert_eq!(privileged.bloom(), eip1559.bloom());
        assert_eq!(privileged.logs().len(), 1);
    }
}
