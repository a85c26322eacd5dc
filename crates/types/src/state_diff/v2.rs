//! State diff v2: keel's dense, canonical encoding of a [`StateDiff`] (spec and rationale in
//! `docs/committer.md`, section "State diff formats").
//!
//! ```text
//! diff       = 0x02 ‖ tx_root[32] ‖ receipts_root[32] ‖ parent_hash[32]
//!              ‖ gas_limit uvar ‖ gas_used uvar ‖ timestamp uvar ‖ block_number uvar ‖ base_fee uvar
//!              ‖ n uvar ‖ account×n ‖ n uvar ‖ withdrawal×n ‖ n uvar ‖ privileged×n
//! account    = type u8 ‖ address[20] ‖ [balance be(B)] ‖ [nonce_increase uvar] ‖ [ext u8]
//!              ‖ [n uvar (≥ 1) ‖ slot×n] ‖ [len uvar ‖ code[len]] ‖ [code_hash[32]]
//!   type     = bits 0–5: 0 no balance, 1 + B a balance of B bytes (B ≤ 32)
//!              bit 6: nonce increase present; bit 7: ext present
//!   ext      = bit 0 storage, bit 1 new code, bit 2 known code (nonzero, not both 1 and 2)
//! slot       = lens u8 ‖ [key_len u8] ‖ [value_len u8] ‖ key be(K) ‖ value be(V)
//!   lens     = key code << 4 | value code; code 0–12 = that length, 13 = 20, 14 = 32,
//!              15 = an explicit length byte follows (13–31 except 20)
//! withdrawal = to[20] ‖ amount u256var ‖ tx_hash[32]
//! privileged = to[20] ‖ value u256var
//! uvar       = unsigned LEB128, minimal, < 2^64
//! be(L)      = L bytes big-endian without leading zeros (zero is 0 bytes)
//! u256var    = L u8 (≤ 32) ‖ be(L)
//! ```
//!
//! Canonical: every field has exactly one encoding (minimal varints, no leading zeros, the
//! shortest length code), optional parts are present exactly when the struct has them, and
//! accounts and slots are strictly ascending, so one [`StateDiff`] has one v2 byte string.

use super::{
    AccountDiff, CodeChange, DiffHeader, PrivilegedLog, Reader, STATE_DIFF_V2, StateDiff,
    StateDiffError, WithdrawalLog, check_address_order, check_slot_order,
};
use alloy_primitives::{Address, B256, Bytes, U256};

/// Type byte bits 0–5: the balance's length code (0 absent, 1 + byte length otherwise).
pub const TYPE_BALANCE_MASK: u8 = 0x3f;
/// The largest balance length code: a 32-byte balance.
const MAX_BALANCE_CODE: u8 = 33;
/// Type byte bit 6: a nonce increase follows.
pub const TYPE_NONCE: u8 = 0x40;
/// Type byte bit 7: an extension byte follows.
pub const TYPE_EXT: u8 = 0x80;
/// Extension bit: storage writes follow.
pub const EXT_STORAGE: u8 = 1;
/// Extension bit: new bytecode follows in full.
pub const EXT_NEW_CODE: u8 = 2;
/// Extension bit: the hash of known bytecode follows.
pub const EXT_KNOWN_CODE: u8 = 4;
const EXT_ALL: u8 = EXT_STORAGE | EXT_NEW_CODE | EXT_KNOWN_CODE;

/// Slot length code: an explicit length byte follows.
const LEN_ESCAPE: u8 = 15;

/// Fewest bytes one account takes (type byte and address).
const MIN_ACCOUNT_LEN: usize = 1 + 20;
/// Fewest bytes one withdrawal log takes.
const MIN_WITHDRAWAL_LEN: usize = 20 + 1 + 32;
/// Fewest bytes one privileged log takes.
const MIN_PRIVILEGED_LEN: usize = 20 + 1;

/// Bytes of `v` as a minimal unsigned LEB128.
fn uvar_len(v: u64) -> usize {
    let bits = 64 - v.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

fn put_uvar(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// `usize` as a `u64` (lossless on every supported target).
fn len_u64(len: usize) -> u64 {
    len as u64
}

/// Appends the minimal big-endian bytes of `v` (none for zero).
fn put_be(out: &mut Vec<u8>, v: &U256) {
    let bytes = v.to_be_bytes::<32>();
    out.extend_from_slice(&bytes[32 - v.byte_len()..]);
}

/// The nibble code of a slot key or value length (15: an explicit length byte follows).
fn len_code(len: usize) -> u8 {
    match len {
        0..=12 => len as u8,
        20 => 13,
        32 => 14,
        _ => LEN_ESCAPE,
    }
}

/// The length a nibble code stands for (`None` for the escape).
fn code_len(code: u8) -> Option<usize> {
    match code {
        0..=12 => Some(usize::from(code)),
        13 => Some(20),
        14 => Some(32),
        _ => None,
    }
}

fn slot_len(key: &B256, value: &U256) -> usize {
    let key_len = U256::from_be_bytes(key.0).byte_len();
    let value_len = value.byte_len();
    1 + usize::from(len_code(key_len) == LEN_ESCAPE)
        + usize::from(len_code(value_len) == LEN_ESCAPE)
        + key_len
        + value_len
}

fn put_slot(out: &mut Vec<u8>, key: &B256, value: &U256) {
    let key = U256::from_be_bytes(key.0);
    let (key_len, value_len) = (key.byte_len(), value.byte_len());
    let (key_code, value_code) = (len_code(key_len), len_code(value_len));
    out.push(key_code << 4 | value_code);
    // Lengths are at most 32, so they fit a byte.
    if key_code == LEN_ESCAPE {
        out.push(key_len as u8);
    }
    if value_code == LEN_ESCAPE {
        out.push(value_len as u8);
    }
    put_be(out, &key);
    put_be(out, value);
}

fn ext_byte(account: &AccountDiff) -> u8 {
    let mut ext = 0;
    if !account.storage.is_empty() {
        ext |= EXT_STORAGE;
    }
    match account.code {
        Some(CodeChange::New(_)) => ext |= EXT_NEW_CODE,
        Some(CodeChange::Known(_)) => ext |= EXT_KNOWN_CODE,
        None => {}
    }
    ext
}

impl AccountDiff {
    /// The type byte this account encodes with in v2.
    pub fn type_byte_v2(&self) -> u8 {
        // A balance length is at most 32, so its code fits the low six bits.
        let mut ty = self.balance.map_or(0, |b| 1 + b.byte_len() as u8);
        if self.nonce_increase.is_some() {
            ty |= TYPE_NONCE;
        }
        if ext_byte(self) != 0 {
            ty |= TYPE_EXT;
        }
        ty
    }

    fn encoded_len_v2(&self) -> usize {
        MIN_ACCOUNT_LEN
            + self.balance.map_or(0, |b| b.byte_len())
            + self.nonce_increase.map_or(0, uvar_len)
            + usize::from(ext_byte(self) != 0)
            + if self.storage.is_empty() {
                0
            } else {
                uvar_len(len_u64(self.storage.len()))
                    + self
                        .storage
                        .iter()
                        .map(|(key, value)| slot_len(key, value))
                        .sum::<usize>()
            }
            + match &self.code {
                Some(CodeChange::New(code)) => uvar_len(len_u64(code.len())) + code.len(),
                Some(CodeChange::Known(_)) => 32,
                None => 0,
            }
    }

    fn encode_v2(&self, out: &mut Vec<u8>) -> Result<(), StateDiffError> {
        out.push(self.type_byte_v2());
        out.extend_from_slice(self.address.as_slice());
        if let Some(balance) = &self.balance {
            put_be(out, balance);
        }
        if let Some(increase) = self.nonce_increase {
            put_uvar(out, increase);
        }
        let ext = ext_byte(self);
        if ext != 0 {
            out.push(ext);
        }
        if !self.storage.is_empty() {
            put_uvar(out, len_u64(self.storage.len()));
            let mut previous = None;
            for (key, value) in &self.storage {
                check_slot_order(self.address, previous, *key)?;
                previous = Some(*key);
                put_slot(out, key, value);
            }
        }
        match &self.code {
            Some(CodeChange::New(code)) => {
                put_uvar(out, len_u64(code.len()));
                out.extend_from_slice(code);
            }
            Some(CodeChange::Known(hash)) => out.extend_from_slice(hash.as_slice()),
            None => {}
        }
        Ok(())
    }
}

fn header_len_v2(h: &DiffHeader) -> usize {
    1 + 3 * 32
        + [
            h.gas_limit,
            h.gas_used,
            h.timestamp,
            h.block_number,
            h.base_fee_per_gas,
        ]
        .into_iter()
        .map(uvar_len)
        .sum::<usize>()
}

impl StateDiff {
    /// The length of [`encode_v2`](Self::encode_v2)'s output, computed without encoding (exact
    /// whenever the encoding succeeds).
    pub fn encoded_len_v2(&self) -> usize {
        header_len_v2(&self.last_header)
            + uvar_len(len_u64(self.accounts.len()))
            + self
                .accounts
                .iter()
                .map(AccountDiff::encoded_len_v2)
                .sum::<usize>()
            + uvar_len(len_u64(self.withdrawals.len()))
            + self
                .withdrawals
                .iter()
                .map(|log| 20 + 1 + log.amount.byte_len() + 32)
                .sum::<usize>()
            + uvar_len(len_u64(self.privileged.len()))
            + self
                .privileged
                .iter()
                .map(|log| 20 + 1 + log.value.byte_len())
                .sum::<usize>()
    }

    /// Encodes the diff as v2. Fails only if accounts or slots are not in strictly ascending
    /// order (which includes duplicates): v2 has no count or length limits.
    pub fn encode_v2(&self) -> Result<Vec<u8>, StateDiffError> {
        let mut out = Vec::with_capacity(self.encoded_len_v2());
        out.push(STATE_DIFF_V2);
        let h = &self.last_header;
        out.extend_from_slice(h.tx_root.as_slice());
        out.extend_from_slice(h.receipts_root.as_slice());
        out.extend_from_slice(h.parent_hash.as_slice());
        for word in [
            h.gas_limit,
            h.gas_used,
            h.timestamp,
            h.block_number,
            h.base_fee_per_gas,
        ] {
            put_uvar(&mut out, word);
        }

        put_uvar(&mut out, len_u64(self.accounts.len()));
        let mut previous: Option<Address> = None;
        for account in &self.accounts {
            check_address_order(previous, account.address)?;
            previous = Some(account.address);
            account.encode_v2(&mut out)?;
        }

        put_uvar(&mut out, len_u64(self.withdrawals.len()));
        for log in &self.withdrawals {
            out.extend_from_slice(log.to.as_slice());
            put_u256var(&mut out, &log.amount);
            out.extend_from_slice(log.tx_hash.as_slice());
        }

        put_uvar(&mut out, len_u64(self.privileged.len()));
        for log in &self.privileged {
            out.extend_from_slice(log.to.as_slice());
            put_u256var(&mut out, &log.value);
        }
        Ok(out)
    }
}

fn put_u256var(out: &mut Vec<u8>, v: &U256) {
    out.push(v.byte_len() as u8);
    put_be(out, v);
}

impl Reader<'_> {
    /// A minimal unsigned LEB128 below 2^64.
    fn uvar(&mut self) -> Result<u64, StateDiffError> {
        let offset = self.pos;
        let mut value = 0u64;
        for i in 0..10 {
            let byte = self.u8()?;
            let group = u64::from(byte & 0x7f);
            // The tenth byte holds bit 63 only.
            if i == 9 && group > 1 {
                return Err(StateDiffError::VarintOverflow { offset });
            }
            value |= group << (7 * i);
            if byte & 0x80 == 0 {
                // A zero last group (other than a lone 0x00) means a shorter encoding existed.
                if byte == 0 && i > 0 {
                    return Err(StateDiffError::NonMinimalVarint { offset });
                }
                return Ok(value);
            }
        }
        Err(StateDiffError::VarintOverflow { offset })
    }

    /// A count: a uvar, saturated to `usize` (a count that large is simply truncated input).
    fn count(&mut self) -> Result<usize, StateDiffError> {
        Ok(usize::try_from(self.uvar()?).unwrap_or(usize::MAX))
    }

    /// `len` (≤ 32) big-endian bytes without a leading zero.
    fn be(&mut self, len: usize) -> Result<U256, StateDiffError> {
        let offset = self.pos;
        if len > 32 {
            return Err(StateDiffError::IntegerTooLong { offset, len });
        }
        let bytes = self.take(len)?;
        if bytes.first() == Some(&0) {
            return Err(StateDiffError::LeadingZero { offset });
        }
        let mut word = [0u8; 32];
        word[32 - len..].copy_from_slice(bytes);
        Ok(U256::from_be_bytes(word))
    }

    fn u256var(&mut self) -> Result<U256, StateDiffError> {
        let len = usize::from(self.u8()?);
        self.be(len)
    }

    /// The length a slot's nibble code stands for, reading the escape byte if there is one.
    fn slot_field_len(&mut self, code: u8) -> Result<usize, StateDiffError> {
        if let Some(len) = code_len(code) {
            return Ok(len);
        }
        let offset = self.pos;
        let len = usize::from(self.u8()?);
        if len > 31 || len_code(len) != LEN_ESCAPE {
            return Err(StateDiffError::NonMinimalLength { offset, len });
        }
        Ok(len)
    }
}

/// Decodes a v2 diff (the version byte included), rejecting every non-canonical encoding.
pub(super) fn decode(bytes: &[u8]) -> Result<StateDiff, StateDiffError> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let version = r.u8()?;
    if version != STATE_DIFF_V2 {
        return Err(StateDiffError::BadVersion(version));
    }
    let last_header = DiffHeader {
        tx_root: r.b256()?,
        receipts_root: r.b256()?,
        parent_hash: r.b256()?,
        gas_limit: r.uvar()?,
        gas_used: r.uvar()?,
        timestamp: r.uvar()?,
        block_number: r.uvar()?,
        base_fee_per_gas: r.uvar()?,
    };

    // Capacities are bounded by how many items the remaining input could hold, so a huge count
    // in a short input allocates nothing big; every item takes at least one byte, so the loops
    // end with the input.
    let count = r.count()?;
    let mut accounts = Vec::with_capacity(count.min(r.remaining() / MIN_ACCOUNT_LEN));
    let mut previous: Option<Address> = None;
    for _ in 0..count {
        let account = decode_account(&mut r)?;
        check_address_order(previous, account.address)?;
        previous = Some(account.address);
        accounts.push(account);
    }

    let count = r.count()?;
    let mut withdrawals = Vec::with_capacity(count.min(r.remaining() / MIN_WITHDRAWAL_LEN));
    for _ in 0..count {
        withdrawals.push(WithdrawalLog {
            to: r.address()?,
            amount: r.u256var()?,
            tx_hash: r.b256()?,
        });
    }

    let count = r.count()?;
    let mut privileged = Vec::with_capacity(count.min(r.remaining() / MIN_PRIVILEGED_LEN));
    for _ in 0..count {
        privileged.push(PrivilegedLog {
            to: r.address()?,
            value: r.u256var()?,
        });
    }

    if r.remaining() != 0 {
        return Err(StateDiffError::TrailingBytes(r.remaining()));
    }
    Ok(StateDiff {
        last_header,
        accounts,
        withdrawals,
        privileged,
    })
}

fn decode_account(r: &mut Reader<'_>) -> Result<AccountDiff, StateDiffError> {
    let ty = r.u8()?;
    let balance_code = ty & TYPE_BALANCE_MASK;
    if balance_code > MAX_BALANCE_CODE {
        return Err(StateDiffError::BadBalanceLength(ty));
    }
    let address = r.address()?;
    let balance = match balance_code {
        0 => None,
        code => Some(r.be(usize::from(code - 1))?),
    };
    let nonce_increase = if ty & TYPE_NONCE != 0 {
        Some(r.uvar()?)
    } else {
        None
    };
    let ext = if ty & TYPE_EXT != 0 {
        let ext = r.u8()?;
        if ext == 0 || ext & !EXT_ALL != 0 {
            return Err(StateDiffError::BadExtension(ext));
        }
        if ext & EXT_NEW_CODE != 0 && ext & EXT_KNOWN_CODE != 0 {
            return Err(StateDiffError::BothCodeKinds(ext));
        }
        ext
    } else {
        0
    };

    let mut storage = Vec::new();
    if ext & EXT_STORAGE != 0 {
        let n = r.count()?;
        if n == 0 {
            return Err(StateDiffError::EmptyStorage(address));
        }
        // A slot takes at least its lens byte.
        storage.reserve(n.min(r.remaining()));
        let mut previous = None;
        for _ in 0..n {
            let lens = r.u8()?;
            let key_len = r.slot_field_len(lens >> 4)?;
            let value_len = r.slot_field_len(lens & 0x0f)?;
            let key = B256::from(r.be(key_len)?.to_be_bytes::<32>());
            check_slot_order(address, previous, key)?;
            previous = Some(key);
            storage.push((key, r.be(value_len)?));
        }
    }
    let code = if ext & EXT_NEW_CODE != 0 {
        let len = r.count()?;
        Some(CodeChange::New(Bytes::copy_from_slice(r.take(len)?)))
    } else if ext & EXT_KNOWN_CODE != 0 {
        Some(CodeChange::Known(r.b256()?))
    } else {
        None
    };
    Ok(AccountDiff {
        address,
        balance,
        nonce_increase,
        storage,
        code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state_diff::DiffVersion;
    use crate::state_diff::tests::{arb_state_diff, arb_state_diff_wide, header, mutate, unhex};
    use alloy_primitives::hex;
    use proptest::prelude::*;

    /// The version byte and the header above, written out by hand (LEB128 computed on paper).
    fn header_hex() -> String {
        [
            "02".to_string(),
            "11".repeat(32),
            "22".repeat(32),
            "33".repeat(32),
            "8087a70e".into(),   // gas_limit 30_000_000 = 0x1c9c380
            "88a401".into(),     // gas_used 21_000
            "84868808".into(),   // timestamp 0x01020304
            "07".into(),         // block_number
            "8094ebdc03".into(), // base fee 1 gwei = 0x3b9aca00
        ]
        .concat()
    }

    #[test]
    fn golden_empty_diff() {
        let diff = StateDiff {
            last_header: header(),
            ..Default::default()
        };
        let expected = unhex(&[&header_hex(), "00", "00", "00"]);
        assert_eq!(expected.len(), 1 + 96 + (4 + 3 + 4 + 1 + 5) + 3);
        assert_eq!(diff.encode_v2().unwrap(), expected);
        assert_eq!(diff.encoded_len_v2(), expected.len());
        assert_eq!(StateDiff::decode(&expected).unwrap(), diff);
    }

    fn golden_diff() -> StateDiff {
        StateDiff {
            last_header: header(),
            accounts: vec![
                AccountDiff {
                    address: Address::repeat_byte(0xaa),
                    balance: Some(U256::from(1_000_000_000_000_000_000u64)),
                    nonce_increase: Some(3),
                    storage: vec![
                        (B256::with_last_byte(1), U256::from(0xff)),
                        (B256::with_last_byte(2), U256::ZERO),
                        (B256::left_padding_from(&[1, 0]), U256::from(1) << 112),
                        (B256::repeat_byte(0xff), U256::from_be_slice(&[0x12; 20])),
                    ],
                    code: None,
                },
                AccountDiff {
                    address: Address::repeat_byte(0xbb),
                    code: Some(CodeChange::New(Bytes::from_static(&[0x60, 0x00, 0xf3]))),
                    ..Default::default()
                },
                AccountDiff {
                    address: Address::repeat_byte(0xcc),
                    nonce_increase: Some(1),
                    code: Some(CodeChange::Known(B256::repeat_byte(0xdd))),
                    ..Default::default()
                },
                AccountDiff {
                    address: Address::repeat_byte(0xde),
                    balance: Some(U256::ZERO),
                    nonce_increase: Some(300),
                    ..Default::default()
                },
            ],
            withdrawals: vec![WithdrawalLog {
                to: Address::repeat_byte(0xee),
                amount: U256::from(5),
                tx_hash: B256::repeat_byte(0xff),
            }],
            privileged: vec![PrivilegedLog {
                to: Address::repeat_byte(0x12),
                value: U256::from(0x100),
            }],
        }
    }

    #[test]
    fn golden_small_diff() {
        let diff = golden_diff();
        let expected = unhex(&[
            &header_hex(),
            "04", // four accounts
            // 0xaa…: balance of 8 bytes (code 9) | nonce (0x40) | ext (0x80)
            "c9",
            &"aa".repeat(20),
            "0de0b6b3a7640000", // 1 ether
            "03",               // nonce +3
            "01",               // ext: storage
            "04",               // four slots
            "11",
            "01",
            "ff", // slot 1 = 0xff: key 1 byte, value 1 byte
            "10",
            "02", // slot 2 = 0: key 1 byte, value 0 bytes
            "2f",
            "0f", // slot 0x0100: key 2 bytes, value escaped: 15 bytes
            "0100",
            &["01", &"00".repeat(14)].concat(), // 1 << 112
            "ed",                               // key code 14 (32 bytes), value code 13 (20 bytes)
            &"ff".repeat(32),
            &"12".repeat(20),
            // 0xbb…: ext only, new bytecode
            "80",
            &"bb".repeat(20),
            "02",
            "03",
            "6000f3",
            // 0xcc…: nonce | ext, known bytecode
            "c0",
            &"cc".repeat(20),
            "01",
            "04",
            &"dd".repeat(32),
            // 0xde…: zero balance (code 1, no bytes) | nonce 300
            "41",
            &"de".repeat(20),
            "ac02",
            // one withdrawal of 5
            "01",
            &"ee".repeat(20),
            "0105",
            &"ff".repeat(32),
            // one privileged tx of 0x100
            "01",
            &"12".repeat(20),
            "020100",
        ]);
        assert_eq!(
            hex::encode(diff.encode_v2().unwrap()),
            hex::encode(&expected)
        );
        assert_eq!(diff.encoded_len_v2(), expected.len());
        assert_eq!(
            StateDiff::decode_versioned(&expected).unwrap(),
            (diff.clone(), DiffVersion::V2)
        );
        // The same diff in v1 is far larger.
        assert!(diff.encoded_len() > expected.len() + 150);
    }

    #[test]
    fn varint_boundaries() {
        for v in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            1 << 63,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_uvar(&mut out, v);
            assert_eq!(out.len(), uvar_len(v), "{v}");
            let mut r = Reader { buf: &out, pos: 0 };
            assert_eq!(r.uvar(), Ok(v));
            assert_eq!(r.remaining(), 0);
        }
        let mut out = Vec::new();
        put_uvar(&mut out, u64::MAX);
        assert_eq!(out, unhex(&[&"ff".repeat(9), "01"]));
    }

    #[test]
    fn no_v1_limits() {
        let mut diff = StateDiff {
            last_header: DiffHeader {
                gas_limit: u64::MAX,
                ..Default::default()
            },
            accounts: (0..70_000u32)
                .map(|i| AccountDiff {
                    address: Address::left_padding_from(&i.to_be_bytes()),
                    ..Default::default()
                })
                .collect(),
            withdrawals: vec![WithdrawalLog::default(); 70_000],
            privileged: vec![PrivilegedLog::default(); 70_000],
        };
        diff.accounts[0].nonce_increase = Some(u64::MAX);
        diff.accounts[0].storage = (0..70_000u32)
            .map(|i| (B256::left_padding_from(&i.to_be_bytes()), U256::from(i)))
            .collect();
        diff.accounts[1].code = Some(CodeChange::New(vec![0x5b; 70_000].into()));
        assert!(diff.encode().is_err());
        let bytes = diff.encode_v2().unwrap();
        assert_eq!(bytes.len(), diff.encoded_len_v2());
        assert_eq!(StateDiff::decode(&bytes).unwrap(), diff);
    }

    #[test]
    fn encode_refuses_duplicates_and_disorder() {
        let account = |byte| AccountDiff {
            address: Address::repeat_byte(byte),
            ..Default::default()
        };
        let mut diff = StateDiff {
            accounts: vec![account(2), account(1)],
            ..Default::default()
        };
        let unsorted = Err(StateDiffError::UnsortedAccounts(Address::repeat_byte(1)));
        assert_eq!(diff.encode_v2(), unsorted);
        assert_eq!(diff.check_order(), unsorted.map(|_| ()));
        diff.accounts = vec![account(1), account(1)];
        assert_eq!(
            diff.encode_v2(),
            Err(StateDiffError::DuplicateAddress(Address::repeat_byte(1)))
        );
        diff.accounts.pop();
        let key = B256::with_last_byte(9);
        diff.accounts[0].storage = vec![(key, U256::from(1)), (key, U256::from(2))];
        let duplicate = Err(StateDiffError::DuplicateSlot {
            address: Address::repeat_byte(1),
            key,
        });
        assert_eq!(diff.encode_v2(), duplicate);
        assert_eq!(diff.check_order(), duplicate.map(|_| ()));
        diff.accounts[0].storage = vec![(key, U256::from(1)), (B256::ZERO, U256::from(2))];
        assert!(matches!(
            diff.encode_v2(),
            Err(StateDiffError::UnsortedStorage { .. })
        ));
        diff.sort();
        assert_eq!(diff.check_order(), Ok(()));
        assert!(diff.encode_v2().is_ok());
    }

    /// An empty v2 diff (default header) with the given accounts section.
    fn with_accounts(count: &str, accounts: &[&str]) -> Vec<u8> {
        let empty = StateDiff::default().encode_v2().unwrap();
        let header = &empty[..empty.len() - 3];
        let mut bytes = header.to_vec();
        bytes.extend(unhex(&[count]));
        bytes.extend(unhex(accounts));
        bytes.extend_from_slice(&[0, 0]);
        bytes
    }

    fn decode(bytes: &[u8]) -> Result<StateDiff, StateDiffError> {
        StateDiff::decode(bytes)
    }

    #[test]
    fn decode_rejects_non_canonical_input() {
        let good = StateDiff::default().encode_v2().unwrap();
        assert_eq!(good.len(), 1 + 96 + 5 + 3);
        assert_eq!(decode(&good), Ok(StateDiff::default()));
        for len in 0..good.len() {
            assert!(
                matches!(decode(&good[..len]), Err(StateDiffError::Truncated { .. })),
                "prefix of {len} bytes"
            );
        }

        // Trailing bytes.
        let mut long = good.clone();
        long.push(0);
        assert_eq!(decode(&long), Err(StateDiffError::TrailingBytes(1)));

        // Varints: a zero last group, or more than 64 bits.
        let a = "aa".repeat(20);
        let mut padded = good[..97].to_vec();
        padded.extend_from_slice(&[0x80, 0x00, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            decode(&padded),
            Err(StateDiffError::NonMinimalVarint { offset: 97 })
        );
        assert_eq!(
            decode(&with_accounts("8100", &[])),
            Err(StateDiffError::NonMinimalVarint { offset: 102 })
        );
        let mut big = good[..97].to_vec();
        big.extend(unhex(&[&"ff".repeat(9), "02"]));
        assert_eq!(
            decode(&big),
            Err(StateDiffError::VarintOverflow { offset: 97 })
        );
        let mut big = good[..97].to_vec();
        big.extend(unhex(&[&"ff".repeat(10), "01"]));
        assert_eq!(
            decode(&big),
            Err(StateDiffError::VarintOverflow { offset: 97 })
        );
        assert_eq!(
            decode(&with_accounts("01", &["40", &a, "8000"])),
            Err(StateDiffError::NonMinimalVarint { offset: 124 })
        );

        // Balances: no leading zero, length code at most 33.
        assert_eq!(
            decode(&with_accounts("01", &["02", &a, "00"])),
            Err(StateDiffError::LeadingZero { offset: 124 })
        );
        assert!(decode(&with_accounts("01", &["02", &a, "01"])).is_ok());
        assert!(decode(&with_accounts("01", &["21", &a, &"ff".repeat(32)])).is_ok());
        for ty in [0x22, 0x3f, 0x62, 0xff] {
            assert_eq!(
                decode(&with_accounts("01", &[&format!("{ty:02x}"), &a])),
                Err(StateDiffError::BadBalanceLength(ty))
            );
        }

        // Extension byte: nonzero, known bits only, one code kind.
        for ext in [0x00, 0x08, 0x10, 0x80] {
            assert_eq!(
                decode(&with_accounts("01", &["80", &a, &format!("{ext:02x}")])),
                Err(StateDiffError::BadExtension(ext))
            );
        }
        assert_eq!(
            decode(&with_accounts("01", &["80", &a, "06"])),
            Err(StateDiffError::BothCodeKinds(6))
        );

        // Storage: at least one slot, minimal keys and values, shortest length codes, ascending.
        assert_eq!(
            decode(&with_accounts("01", &["80", &a, "01", "00"])),
            Err(StateDiffError::EmptyStorage(Address::repeat_byte(0xaa)))
        );
        assert!(decode(&with_accounts("01", &["80", &a, "01", "01", "00"])).is_ok());
        assert_eq!(
            decode(&with_accounts("01", &["80", &a, "01", "01", "10", "00"])),
            Err(StateDiffError::LeadingZero { offset: 127 })
        );
        assert_eq!(
            decode(&with_accounts("01", &["80", &a, "01", "01", "01", "00"])),
            Err(StateDiffError::LeadingZero { offset: 127 })
        );
        for len in [0u8, 5, 12, 20, 32, 33, 0xff] {
            assert_eq!(
                decode(&with_accounts(
                    "01",
                    &["80", &a, "01", "01", "0f", &format!("{len:02x}")]
                )),
                Err(StateDiffError::NonMinimalLength {
                    offset: 127,
                    len: usize::from(len)
                })
            );
        }
        // A 13-byte value has no code of its own: escaped is the only encoding.
        assert!(
            decode(&with_accounts(
                "01",
                &["80", &a, "01", "01", "0f", "0d", &"01".repeat(13)]
            ))
            .is_ok()
        );
        assert_eq!(
            decode(&with_accounts(
                "01",
                &["80", &a, "01", "02", "10", "02", "10", "01"]
            )),
            Err(StateDiffError::UnsortedStorage {
                address: Address::repeat_byte(0xaa),
                key: B256::with_last_byte(1)
            })
        );
        assert_eq!(
            decode(&with_accounts("01", &["80", &a, "01", "02", "00", "00"])),
            Err(StateDiffError::DuplicateSlot {
                address: Address::repeat_byte(0xaa),
                key: B256::ZERO
            })
        );

        // Accounts: strictly ascending.
        let b = "bb".repeat(20);
        assert!(decode(&with_accounts("02", &["00", &a, "00", &b])).is_ok());
        assert_eq!(
            decode(&with_accounts("02", &["00", &b, "00", &a])),
            Err(StateDiffError::UnsortedAccounts(Address::repeat_byte(0xaa)))
        );
        assert_eq!(
            decode(&with_accounts("02", &["00", &a, "00", &a])),
            Err(StateDiffError::DuplicateAddress(Address::repeat_byte(0xaa)))
        );
        // A huge count over a short input is just truncated.
        assert!(matches!(
            decode(&with_accounts(&["ff".repeat(9), "01".into()].concat(), &[])),
            Err(StateDiffError::Truncated { .. })
        ));

        // Withdrawal and privileged amounts: at most 32 bytes, no leading zero.
        let mut logs = good[..good.len() - 2].to_vec();
        logs.extend(unhex(&["01", &"ee".repeat(20), "21", &"01".repeat(33)]));
        assert_eq!(
            decode(&logs),
            Err(StateDiffError::IntegerTooLong {
                offset: 125,
                len: 33
            })
        );
        let mut logs = good[..good.len() - 1].to_vec();
        logs.extend(unhex(&["01", &"ee".repeat(20), "0200ff"]));
        assert_eq!(
            decode(&logs),
            Err(StateDiffError::LeadingZero { offset: 126 })
        );
    }

    proptest! {
        #[test]
        fn round_trip(diff in arb_state_diff_wide()) {
            let bytes = diff.encode_v2().unwrap();
            prop_assert_eq!(bytes.len(), diff.encoded_len_v2());
            prop_assert_eq!(StateDiff::decode_versioned(&bytes).unwrap(), (diff, DiffVersion::V2));
        }

        /// Where v1 can encode a diff too, both decode to the same diff.
        #[test]
        fn v1_and_v2_agree(diff in arb_state_diff()) {
            let v1 = StateDiff::decode(&diff.encode().unwrap()).unwrap();
            let v2 = StateDiff::decode(&diff.encode_v2().unwrap()).unwrap();
            prop_assert_eq!(&v1, &v2);
            prop_assert_eq!(v2, diff);
        }

        /// Arbitrary bytes after the v2 version byte never panic, and whatever decodes re-encodes
        /// to the same bytes.
        #[test]
        fn decode_arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..600)) {
            let mut bytes = vec![STATE_DIFF_V2];
            bytes.extend_from_slice(&body);
            if let Ok(diff) = StateDiff::decode(&bytes) {
                prop_assert_eq!(diff.encode_v2().unwrap(), bytes);
            }
        }

        /// Same, from valid encodings with a few bytes changed, cut or added.
        #[test]
        fn decode_mutated_encodings(
            diff in arb_state_diff_wide(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in any::<prop::sample::Index>(),
            extra in prop::collection::vec(any::<u8>(), 0..3),
        ) {
            let bytes = mutate(diff.encode_v2().unwrap(), STATE_DIFF_V2, &edits, cut, &extra);
            if let Ok(decoded) = StateDiff::decode(&bytes) {
                prop_assert_eq!(decoded.encode_v2().unwrap(), bytes);
            }
        }
    }
}
