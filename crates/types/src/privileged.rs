//! Privileged transactions (type `0x7e`), the L1→L2 path (docs/architecture.md, Chain rules;
//! docs/contracts.md, CommonBridge): their encoding, their hash (byte for byte the one the L1
//! bridge queues), the privileged rolling hash a batch commits to, and L1→L2 address aliasing.

use alloy_primitives::{Address, B256, Bytes, U160, U256, address, keccak256};
use alloy_rlp::{RlpDecodable, RlpEncodable};

/// The EIP-2718 type byte of a privileged transaction.
pub const PRIVILEGED_TX_TYPE: u8 = 0x7e;

/// Added (mod 2^160) to a contract's address when it calls `sendToL2` on L1.
pub const L1_ALIAS_OFFSET: Address = address!("0x4b65000000000000000000000000000000004b65");

/// An L1→L2 transaction built from a bridge `PrivilegedTxSent` event. Unsigned; `nonce` is the
/// bridge's `transactionId`.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct PrivilegedTx {
    pub chain_id: u64,
    pub nonce: u64,
    pub from: Address,
    pub to: Address,
    pub value: U256,
    pub gas_limit: u64,
    pub data: Bytes,
}

impl PrivilegedTx {
    /// `keccak256(u256(chain_id) ‖ from ‖ to ‖ u256(nonce) ‖ u256(value) ‖ u256(gas_limit) ‖
    /// keccak256(data))`: its L2 transaction hash and the hash the L1 bridge queues.
    pub fn hash(&self) -> B256 {
        let mut buf = Vec::with_capacity(32 + 20 + 20 + 32 * 4);
        buf.extend_from_slice(&U256::from(self.chain_id).to_be_bytes::<32>());
        buf.extend_from_slice(self.from.as_slice());
        buf.extend_from_slice(self.to.as_slice());
        buf.extend_from_slice(&U256::from(self.nonce).to_be_bytes::<32>());
        buf.extend_from_slice(&self.value.to_be_bytes::<32>());
        buf.extend_from_slice(&U256::from(self.gas_limit).to_be_bytes::<32>());
        buf.extend_from_slice(keccak256(&self.data).as_slice());
        keccak256(buf)
    }

    /// `0x7e ‖ rlp([chain_id, nonce, from, to, value, gas_limit, data])`.
    pub fn encoded_2718(&self) -> Vec<u8> {
        let mut out = vec![PRIVILEGED_TX_TYPE];
        alloy_rlp::Encodable::encode(self, &mut out);
        out
    }

    /// Decode `0x7e ‖ rlp(...)`, rejecting another type byte or trailing bytes.
    pub fn decode_2718(bytes: &[u8]) -> Result<Self, alloy_rlp::Error> {
        let Some((&PRIVILEGED_TX_TYPE, mut rest)) = bytes.split_first() else {
            return Err(alloy_rlp::Error::Custom("not a privileged transaction"));
        };
        let tx = <Self as alloy_rlp::Decodable>::decode(&mut rest)?;
        if !rest.is_empty() {
            return Err(alloy_rlp::Error::UnexpectedLength);
        }
        Ok(tx)
    }
}

/// The privileged rolling hash of a batch: `bytes2(n) ‖ low 30 bytes of keccak256(h1 ‖ … ‖ hn)`
/// over its privileged transaction hashes in L1 order; zero when it has none. `None` if there are
/// more than `u16::MAX` hashes (the L1 bridge takes `uint16 n`).
pub fn privileged_rolling_hash(hashes: &[B256]) -> Option<B256> {
    if hashes.is_empty() {
        return Some(B256::ZERO);
    }
    let n = u16::try_from(hashes.len()).ok()?;
    let mut concat = Vec::with_capacity(hashes.len() * 32);
    for hash in hashes {
        concat.extend_from_slice(hash.as_slice());
    }
    let digest = keccak256(concat);
    let mut out = [0u8; 32];
    out[..2].copy_from_slice(&n.to_be_bytes());
    out[2..].copy_from_slice(&digest[2..]);
    Some(B256::from(out))
}

/// The L2 `from` of a privileged transaction sent by an L1 contract: its address plus
/// [`L1_ALIAS_OFFSET`], mod 2^160 (EOAs keep their address).
pub fn apply_l1_alias(l1_address: Address) -> Address {
    let sum = U160::from_be_slice(l1_address.as_slice())
        .wrapping_add(U160::from_be_slice(L1_ALIAS_OFFSET.as_slice()));
    Address::from(sum.to_be_bytes::<20>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PrivilegedTx {
        PrivilegedTx {
            chain_id: 1_729_001,
            nonce: 3,
            from: Address::with_last_byte(0xff),
            to: Address::with_last_byte(0xff),
            value: U256::from(10u64).pow(U256::from(18u64)),
            gas_limit: 100_000,
            data: Bytes::from_static(&[0xde, 0xad]),
        }
    }

    #[test]
    fn hash_is_the_packed_preimage() {
        let tx = sample();
        let mut pre = Vec::new();
        pre.extend_from_slice(&U256::from(1_729_001u64).to_be_bytes::<32>());
        pre.extend_from_slice(tx.from.as_slice());
        pre.extend_from_slice(tx.to.as_slice());
        pre.extend_from_slice(&U256::from(3u64).to_be_bytes::<32>());
        pre.extend_from_slice(&tx.value.to_be_bytes::<32>());
        pre.extend_from_slice(&U256::from(100_000u64).to_be_bytes::<32>());
        pre.extend_from_slice(keccak256([0xde, 0xad]).as_slice());
        assert_eq!(tx.hash(), keccak256(pre));
        let mut other = tx.clone();
        other.nonce = 4;
        assert_ne!(other.hash(), tx.hash());
    }

    #[test]
    fn encoding_round_trips_and_rejects_garbage() {
        let tx = sample();
        let raw = tx.encoded_2718();
        assert_eq!(raw[0], 0x7e);
        assert_eq!(PrivilegedTx::decode_2718(&raw), Ok(tx));
        let mut trailing = raw.clone();
        trailing.push(0);
        assert!(PrivilegedTx::decode_2718(&trailing).is_err());
        assert!(PrivilegedTx::decode_2718(&raw[..raw.len() - 1]).is_err());
        assert!(PrivilegedTx::decode_2718(&[0x02]).is_err());
        assert!(PrivilegedTx::decode_2718(&[]).is_err());
    }

    #[test]
    fn rolling_hash_prefixes_the_count() {
        assert_eq!(privileged_rolling_hash(&[]), Some(B256::ZERO));
        let hashes = [B256::repeat_byte(1), B256::repeat_byte(2)];
        let rolling = privileged_rolling_hash(&hashes).expect("fits");
        assert_eq!(&rolling[..2], &[0, 2]);
        let digest = keccak256([[1u8; 32], [2u8; 32]].concat());
        assert_eq!(&rolling[2..], &digest[2..]);
        assert_ne!(privileged_rolling_hash(&hashes[..1]), Some(rolling));
        assert_eq!(privileged_rolling_hash(&vec![B256::ZERO; 70_000]), None);
    }

    #[test]
    fn aliasing_adds_the_offset_mod_2_160() {
        assert_eq!(apply_l1_alias(Address::ZERO), L1_ALIAS_OFFSET);
        assert_eq!(
            apply_l1_alias(address!("0x0000000000000000000000000000000000000001")),
            address!("0x4b65000000000000000000000000000000004b66")
        );
        // Wraps around.
        assert_eq!(
            apply_l1_alias(address!("0xffffffffffffffffffffffffffffffffffffffff")),
            address!("0x4b65000000000000000000000000000000004b64")
        );
    }
}
