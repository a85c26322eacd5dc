//! Load accounts and transaction signing: deterministic keys, the funder key, and the parallel
//! pre-signing of the timed phase's transactions.

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::eip2718::Encodable2718,
    primitives::{Address, B256, Bytes, Signature, TxKind, U256, keccak256},
};
use eyre::{Result, eyre};
use rayon::prelude::*;
use secp256k1::{Message, SECP256K1, SecretKey};

/// A private key and its address. Signs with libsecp256k1, about twice as fast as the pure-Rust
/// signer, which matters when pre-signing hundreds of thousands of transactions.
#[derive(Clone)]
pub struct Key {
    secret: SecretKey,
    address: Address,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Key {
    /// The key with these 32 bytes, if they are a valid secp256k1 scalar.
    pub fn from_bytes(bytes: &B256) -> Option<Self> {
        let secret = SecretKey::from_byte_array(&bytes.0).ok()?;
        let public = secret.public_key(SECP256K1).serialize_uncompressed();
        Some(Self {
            secret,
            address: Address::from_raw_public_key(&public[1..]),
        })
    }

    /// The address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Signs a 32-byte hash (low-s, recoverable).
    pub fn sign_hash(&self, hash: &B256) -> Signature {
        let sig = SECP256K1.sign_ecdsa_recoverable(&Message::from_digest(hash.0), &self.secret);
        let (recid, bytes) = sig.serialize_compact();
        Signature::new(
            U256::from_be_slice(&bytes[..32]),
            U256::from_be_slice(&bytes[32..]),
            i32::from(recid) != 0,
        )
    }
}

/// Private key of the first account of the test mnemonic
/// `test test test test test test test test test test test junk`
/// (address 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266), funded on anvil and on keel's dev chain.
pub const DEFAULT_FUNDER_KEY: &str =
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// Parses a hex private key (with or without 0x).
pub fn parse_key(hex: &str) -> Result<Key> {
    let hex = hex.trim();
    let bytes: B256 = hex.parse().map_err(|e| {
        eyre!(
            "funder key: expected 32 bytes of hex, got `{}…`: {e}",
            &hex[..hex.len().min(6)]
        )
    })?;
    Key::from_bytes(&bytes).ok_or_else(|| eyre!("funder key is not a valid secp256k1 key"))
}

/// The private key of load account `index`: keccak256("keel-loadgen" ‖ seed ‖ index as u64 BE),
/// re-hashed in the (astronomically unlikely) case it is not a valid secp256k1 scalar.
pub fn derive_key(seed: &str, index: u64) -> Key {
    let mut pre = Vec::with_capacity(20 + seed.len());
    pre.extend_from_slice(b"keel-loadgen");
    pre.extend_from_slice(seed.as_bytes());
    pre.extend_from_slice(&index.to_be_bytes());
    let mut key = keccak256(&pre);
    loop {
        match Key::from_bytes(&key) {
            Some(k) => return k,
            None => key = keccak256(key),
        }
    }
}

/// Derives `n` load accounts in parallel.
pub fn derive_accounts(seed: &str, n: usize) -> Vec<Key> {
    (0..n as u64)
        .into_par_iter()
        .map(|i| derive_key(seed, i))
        .collect()
}

/// Fee and chain parameters shared by every transaction of a run.
#[derive(Clone, Copy, Debug)]
pub struct TxParams {
    /// Chain id from `eth_chainId`.
    pub chain_id: u64,
    /// `maxFeePerGas`, wei.
    pub max_fee: u128,
    /// `maxPriorityFeePerGas`, wei.
    pub tip: u128,
}

/// What one transaction does: recipient, value, calldata, gas limit.
#[derive(Clone, Debug)]
pub struct Call {
    /// Recipient (or `TxKind::Create`).
    pub to: TxKind,
    /// Value, wei.
    pub value: U256,
    /// Calldata (or init code).
    pub input: Bytes,
    /// Gas limit.
    pub gas_limit: u64,
}

/// A signed transaction: its hash and EIP-2718 encoding.
#[derive(Clone, Debug)]
pub struct SignedTx {
    /// Transaction hash.
    pub hash: B256,
    /// EIP-2718 encoded bytes (what `eth_sendRawTransaction` takes).
    pub raw: Vec<u8>,
}

/// Signs one EIP-1559 transaction.
pub fn sign(key: &Key, params: &TxParams, nonce: u64, call: Call) -> Result<SignedTx> {
    let tx = TxEip1559 {
        chain_id: params.chain_id,
        nonce,
        gas_limit: call.gas_limit,
        max_fee_per_gas: params.max_fee,
        max_priority_fee_per_gas: params.tip,
        to: call.to,
        value: call.value,
        access_list: Default::default(),
        input: call.input,
    };
    let sig = key.sign_hash(&tx.signature_hash());
    let signed = tx.into_signed(sig);
    let hash = *signed.hash();
    let raw = TxEnvelope::from(signed).encoded_2718();
    Ok(SignedTx { hash, raw })
}

/// The pre-signed transactions of the timed phase, in submission order.
///
/// Position `p` holds the `p / senders`-th transaction of sender `p % senders`: senders are
/// interleaved round-robin, so each batch holds many senders and a sender's transactions appear
/// in nonce order, `senders` positions apart.
#[derive(Debug)]
pub struct Presigned {
    /// Number of senders.
    pub senders: usize,
    /// Transaction hashes by position.
    pub hashes: Vec<B256>,
    /// The JSON-RPC request object for each position
    /// (`{"jsonrpc":"2.0","id":p,"method":"eth_sendRawTransaction","params":["0x…"]}`).
    pub requests: Vec<String>,
}

impl Presigned {
    /// Number of transactions.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

/// Signs `per_sender` transactions for each of `keys` in parallel (rayon), sender `s` starting
/// at `nonces[s]`; `call(s, j)` describes the `j`-th transaction of sender `s`.
pub fn presign<F>(
    keys: &[Key],
    nonces: &[u64],
    per_sender: usize,
    params: &TxParams,
    call: F,
) -> Result<Presigned>
where
    F: Fn(usize, usize) -> Call + Sync,
{
    presign_requests(
        keys,
        nonces,
        per_sender,
        params,
        "eth_sendRawTransaction",
        "",
        call,
    )
}

/// [`presign`] with another method (e.g. `eth_sendRawTransactionSync`) and `extra` appended to
/// the params after the raw transaction (e.g. `,5000`; empty for none).
pub fn presign_requests<F>(
    keys: &[Key],
    nonces: &[u64],
    per_sender: usize,
    params: &TxParams,
    method: &str,
    extra: &str,
    call: F,
) -> Result<Presigned>
where
    F: Fn(usize, usize) -> Call + Sync,
{
    let senders = keys.len();
    if nonces.len() != senders {
        return Err(eyre!(
            "presign: {} nonces for {senders} senders",
            nonces.len()
        ));
    }
    let total = senders * per_sender;
    let signed: Vec<(B256, String)> = (0..total)
        .into_par_iter()
        .map(|p| {
            let (s, j) = (p % senders, p / senders);
            let tx = sign(&keys[s], params, nonces[s] + j as u64, call(s, j))?;
            let mut req = String::with_capacity(80 + 2 * tx.raw.len());
            req.push_str(r#"{"jsonrpc":"2.0","id":"#);
            req.push_str(&p.to_string());
            req.push_str(r#","method":""#);
            req.push_str(method);
            req.push_str(r#"","params":["0x"#);
            req.push_str(&alloy::hex::encode(&tx.raw));
            req.push('"');
            req.push_str(extra);
            req.push_str("]}");
            Ok((tx.hash, req))
        })
        .collect::<Result<_>>()?;
    let (hashes, requests) = signed.into_iter().unzip();
    Ok(Presigned {
        senders,
        hashes,
        requests,
    })
}

/// Addresses of `keys`.
pub fn addresses(keys: &[Key]) -> Vec<Address> {
    keys.iter().map(Key::address).collect()
}

#[cfg(test)]
mod tests {
    use alloy::{
        consensus::{Transaction, transaction::SignerRecoverable},
        eips::eip2718::Decodable2718,
    };

    use super::*;

    #[test]
    fn default_funder_address() {
        let k = parse_key(DEFAULT_FUNDER_KEY).unwrap();
        assert_eq!(
            k.address(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
                .parse::<Address>()
                .unwrap()
        );
        assert!(parse_key("0x1234").is_err());
    }

    #[test]
    fn signed_tx_recovers_to_sender() {
        let k = derive_key("seed", 7);
        assert_eq!(k.address(), derive_key("seed", 7).address());
        assert_ne!(k.address(), derive_key("seed", 8).address());
        let params = TxParams {
            chain_id: 31337,
            max_fee: 3_000_000_000,
            tip: 1_000_000_000,
        };
        let call = Call {
            to: TxKind::Call(Address::repeat_byte(1)),
            value: U256::from(1),
            input: Bytes::new(),
            gas_limit: 21_000,
        };
        let tx = sign(&k, &params, 5, call).unwrap();
        let env = TxEnvelope::decode_2718(&mut tx.raw.as_slice()).unwrap();
        assert_eq!(*env.tx_hash(), tx.hash);
        assert_eq!(env.nonce(), 5);
        assert_eq!(env.recover_signer().unwrap(), k.address());
    }

    #[test]
    fn presigned_request_bodies() {
        let keys = vec![derive_key("s", 0), derive_key("s", 1)];
        let params = TxParams {
            chain_id: 1,
            max_fee: 2,
            tip: 1,
        };
        let call = |_: usize, _: usize| Call {
            to: TxKind::Call(Address::ZERO),
            value: U256::from(1),
            input: Bytes::new(),
            gas_limit: 21_000,
        };
        let plain = presign(&keys, &[0, 5], 2, &params, call).unwrap();
        let sync = presign_requests(
            &keys,
            &[0, 5],
            2,
            &params,
            "eth_sendRawTransactionSync",
            ",5000",
            call,
        )
        .unwrap();
        assert_eq!(plain.hashes, sync.hashes);
        for (p, (a, b)) in plain.requests.iter().zip(&sync.requests).enumerate() {
            let a: serde_json::Value = serde_json::from_str(a).unwrap();
            let b: serde_json::Value = serde_json::from_str(b).unwrap();
            assert_eq!(a["id"], p);
            assert_eq!(a["method"], "eth_sendRawTransaction");
            assert_eq!(b["method"], "eth_sendRawTransactionSync");
            assert_eq!(a["params"].as_array().unwrap().len(), 1);
            assert_eq!(b["params"][0], a["params"][0]);
            assert_eq!(b["params"][1], 5000);
        }
        // Position 3 is sender 1's second transaction: nonce 6.
        let raw: Bytes =
            serde_json::from_str::<serde_json::Value>(&plain.requests[3]).unwrap()["params"][0]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
        let env = TxEnvelope::decode_2718(&mut raw.as_ref()).unwrap();
        assert_eq!(env.nonce(), 6);
    }
}
