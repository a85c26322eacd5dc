//! The state diff of a batch (docs/committer.md, State diff formats): what a batch's blob carries
//! so that anyone can replay every batch over the genesis state and get the committed state roots
//! back.
//!
//! Two encodings of the same [`StateDiff`], told apart by their first byte ([`DiffVersion`]):
//! v1, below (format in docs/committer.md, v1), and v2, keel's denser one (module [`v2`], spec in
//! `docs/committer.md`). [`StateDiff::decode`] reads both.
//!
//! The v1 format, byte for byte (all integers big-endian, `uN` = N bits):
//!
//! ```text
//! version u8 (= 1)
//! last block: tx_root u256 ‖ receipts_root u256 ‖ parent_hash u256 ‖ gas_limit u64 ‖ gas_used u64 ‖
//!             timestamp u64 ‖ block_number u64 ‖ base_fee_per_gas u64
//! modified accounts: count u16, then per account:
//!     type u8 (sum of: 1 balance, 2 nonce, 4 storage, 8 new bytecode, 16 known bytecode; 8 and 16 exclusive)
//!     address u160
//!     [balance u256]                    if type & 1
//!     [nonce_increase u16]              if type & 2
//!     [n u16, (key u256, value u256)×n] if type & 4
//!     [len u16, bytecode]               if type & 8
//!     [code_hash u256]                  if type & 16
//! withdrawal logs: count u16, (to u160 ‖ amount u256 ‖ tx_hash u256)×count
//! privileged tx logs: count u16, (to u160 ‖ value u256)×count
//! ```
//!
//! What keel adds to make the encoding canonical (one [`StateDiff`] ↔ one byte string, so the
//! prover can compare a decoded diff with the one it recomputes):
//! - accounts are in strictly ascending address order (each address at most once), and each
//!   account's slots in strictly ascending key order (each slot once, with its last written value);
//!   [`StateDiff::encode`] refuses anything else and [`StateDiff::decode`] rejects it;
//! - the storage flag (4) is set exactly when the account has at least one slot: a decoded account
//!   with flag 4 and `n = 0` is rejected;
//! - a type byte with bits above 16 set, or with both 8 and 16, is rejected.
//!
//! Decoding never panics and never allocates more than a small multiple of its input.

pub mod v2;

use alloy_consensus::Header;
use alloy_primitives::{Address, B256, Bytes, U256};

/// The version byte of state diff v1.
pub const STATE_DIFF_V1: u8 = 1;
/// The version byte of state diff v2.
pub const STATE_DIFF_V2: u8 = 2;

/// A state diff encoding, named by its leading version byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum DiffVersion {
    /// The fixed-width format (docs/committer.md, v1).
    V1 = STATE_DIFF_V1,
    /// keel's denser format (variable-length integers, no leading zeros).
    V2 = STATE_DIFF_V2,
}

impl DiffVersion {
    /// Every version this crate reads and writes.
    pub const ALL: [Self; 2] = [Self::V1, Self::V2];

    /// The version byte that starts an encoding of this version.
    pub fn byte(self) -> u8 {
        self as u8
    }

    /// The version of an encoding, from its first byte.
    pub fn of_encoding(bytes: &[u8]) -> Result<Self, StateDiffError> {
        match bytes.first() {
            None => Err(StateDiffError::Truncated {
                offset: 0,
                needed: 1,
                available: 0,
            }),
            Some(&byte) => Self::try_from(byte),
        }
    }
}

impl TryFrom<u8> for DiffVersion {
    type Error = StateDiffError;

    fn try_from(byte: u8) -> Result<Self, StateDiffError> {
        match byte {
            STATE_DIFF_V1 => Ok(Self::V1),
            STATE_DIFF_V2 => Ok(Self::V2),
            other => Err(StateDiffError::BadVersion(other)),
        }
    }
}

impl std::fmt::Display for DiffVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v{}", self.byte())
    }
}

/// Account type bit: the account carries its final balance.
pub const TYPE_BALANCE: u8 = 1;
/// Account type bit: the account carries its nonce increase.
pub const TYPE_NONCE: u8 = 2;
/// Account type bit: the account carries storage writes.
pub const TYPE_STORAGE: u8 = 4;
/// Account type bit: the account carries new bytecode in full.
pub const TYPE_NEW_CODE: u8 = 8;
/// Account type bit: the account carries the hash of bytecode already known (deployed before).
pub const TYPE_KNOWN_CODE: u8 = 16;
const TYPE_ALL: u8 = TYPE_BALANCE | TYPE_NONCE | TYPE_STORAGE | TYPE_NEW_CODE | TYPE_KNOWN_CODE;

/// Encoded size of the version byte and the last block header.
const HEADER_LEN: usize = 1 + 3 * 32 + 5 * 8;
/// Encoded size of one withdrawal log.
const WITHDRAWAL_LEN: usize = 20 + 32 + 32;
/// Encoded size of one privileged transaction log.
const PRIVILEGED_LEN: usize = 20 + 32;

/// Errors encoding or decoding a [`StateDiff`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateDiffError {
    #[error("too many {what} for v1: {count} (a u16 count allows at most 65535)")]
    TooMany { what: &'static str, count: usize },
    #[error("account {address} writes {count} storage slots (v1's u16 count allows at most 65535)")]
    TooManySlots { address: Address, count: usize },
    #[error("bytecode of {address} is {len} bytes (v1's u16 length allows at most 65535)")]
    CodeTooLong { address: Address, len: usize },
    #[error("nonce of {address} increases by {increase} (v1's u16 allows at most 65535)")]
    NonceIncreaseTooLarge { address: Address, increase: u64 },
    #[error("account {0} appears more than once")]
    DuplicateAddress(Address),
    #[error("accounts are not in ascending address order (at {0})")]
    UnsortedAccounts(Address),
    #[error("storage slot {key} of account {address} appears more than once")]
    DuplicateSlot { address: Address, key: B256 },
    #[error("storage of account {address} is not in ascending key order (at {key})")]
    UnsortedStorage { address: Address, key: B256 },
    #[error("account {0} has the storage flag but no slots")]
    EmptyStorage(Address),
    #[error("truncated state diff: {needed} bytes needed at offset {offset}, {available} left")]
    Truncated {
        offset: usize,
        needed: usize,
        available: usize,
    },
    #[error(
        "unsupported state diff version {0} (supported: {STATE_DIFF_V1} = v1, {STATE_DIFF_V2} = v2)"
    )]
    BadVersion(u8),
    #[error("{0} trailing bytes after the state diff")]
    TrailingBytes(usize),
    #[error("account type {0:#04x} has both new bytecode and known bytecode")]
    BothCodeKinds(u8),
    #[error("account type {0:#04x} has unknown bits")]
    UnknownTypeBits(u8),
    #[error("v2 account type {0:#04x}: balance length code above 33")]
    BadBalanceLength(u8),
    #[error("v2 account extension byte {0:#04x} is zero or has unknown bits")]
    BadExtension(u8),
    #[error("variable-length integer at offset {offset} is not minimal")]
    NonMinimalVarint { offset: usize },
    #[error("variable-length integer at offset {offset} overflows a u64")]
    VarintOverflow { offset: usize },
    #[error("integer at offset {offset} has a leading zero byte (not minimal)")]
    LeadingZero { offset: usize },
    #[error("integer length {len} at offset {offset} is above 32 bytes")]
    IntegerTooLong { offset: usize, len: usize },
    #[error("escaped slot length {len} at offset {offset} has a shorter code (or is above 31)")]
    NonMinimalLength { offset: usize, len: usize },
}

/// The fields of the batch's last block header that the state diff carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DiffHeader {
    pub tx_root: B256,
    pub receipts_root: B256,
    pub parent_hash: B256,
    pub gas_limit: u64,
    pub gas_used: u64,
    pub timestamp: u64,
    pub block_number: u64,
    pub base_fee_per_gas: u64,
}

impl DiffHeader {
    /// The diff fields of `header` (`base_fee_per_gas` 0 if the header has none).
    pub fn from_header(header: &Header) -> Self {
        Self {
            tx_root: header.transactions_root,
            receipts_root: header.receipts_root,
            parent_hash: header.parent_hash,
            gas_limit: header.gas_limit,
            gas_used: header.gas_used,
            timestamp: header.timestamp,
            block_number: header.number,
            base_fee_per_gas: header.base_fee_per_gas.unwrap_or_default(),
        }
    }
}

/// How an account's code changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeChange {
    /// Bytecode not seen before, in full (type bit 8).
    New(Bytes),
    /// Bytecode already known, by its keccak256 hash (type bit 16).
    Known(B256),
}

/// The final values of one modified account.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountDiff {
    pub address: Address,
    /// The final balance (type bit 1).
    pub balance: Option<U256>,
    /// How much the nonce grew over the batch (type bit 2). v1 holds at most `u16::MAX`.
    pub nonce_increase: Option<u64>,
    /// Storage writes (type bit 4 when non-empty): the last value written to each slot, in strictly
    /// ascending key order.
    pub storage: Vec<(B256, U256)>,
    /// New or known bytecode (type bit 8 or 16).
    pub code: Option<CodeChange>,
}

impl AccountDiff {
    /// The type byte this account encodes with in v1.
    pub fn type_byte(&self) -> u8 {
        let mut ty = 0;
        if self.balance.is_some() {
            ty |= TYPE_BALANCE;
        }
        if self.nonce_increase.is_some() {
            ty |= TYPE_NONCE;
        }
        if !self.storage.is_empty() {
            ty |= TYPE_STORAGE;
        }
        match self.code {
            Some(CodeChange::New(_)) => ty |= TYPE_NEW_CODE,
            Some(CodeChange::Known(_)) => ty |= TYPE_KNOWN_CODE,
            None => {}
        }
        ty
    }

    fn encoded_len(&self) -> usize {
        1 + 20
            + self.balance.map_or(0, |_| 32)
            + self.nonce_increase.map_or(0, |_| 2)
            + if self.storage.is_empty() {
                0
            } else {
                2 + 64 * self.storage.len()
            }
            + match &self.code {
                Some(CodeChange::New(code)) => 2 + code.len(),
                Some(CodeChange::Known(_)) => 32,
                None => 0,
            }
    }
}

/// A withdrawal made in the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WithdrawalLog {
    pub to: Address,
    pub amount: U256,
    pub tx_hash: B256,
}

/// A privileged (L1→L2) transaction included in the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrivilegedLog {
    pub to: Address,
    pub value: U256,
}

/// The state diff of a batch (encoded as v1 or v2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateDiff {
    pub last_header: DiffHeader,
    /// Modified accounts in strictly ascending address order.
    pub accounts: Vec<AccountDiff>,
    pub withdrawals: Vec<WithdrawalLog>,
    pub privileged: Vec<PrivilegedLog>,
}

impl StateDiff {
    /// Sorts the accounts by address and each account's storage by key (stably: duplicates stay,
    /// and [`encode`](Self::encode) still refuses them).
    pub fn sort(&mut self) {
        self.accounts.sort_by_key(|account| account.address);
        for account in &mut self.accounts {
            account.storage.sort_by_key(|(key, _)| *key);
        }
    }

    /// Encodes the diff in `version` ([`encode`](Self::encode) or
    /// [`encode_v2`](Self::encode_v2)).
    pub fn encode_as(&self, version: DiffVersion) -> Result<Vec<u8>, StateDiffError> {
        match version {
            DiffVersion::V1 => self.encode(),
            DiffVersion::V2 => self.encode_v2(),
        }
    }

    /// The length of [`encode_as`](Self::encode_as)'s output (whether or not it would succeed).
    pub fn encoded_len_as(&self, version: DiffVersion) -> usize {
        match version {
            DiffVersion::V1 => self.encoded_len(),
            DiffVersion::V2 => self.encoded_len_v2(),
        }
    }

    /// Checks the order [`encode`](Self::encode) and [`encode_v2`](Self::encode_v2) require:
    /// accounts in strictly ascending address order, each account's slots in strictly ascending
    /// key order. Cheap: allocates nothing.
    pub fn check_order(&self) -> Result<(), StateDiffError> {
        let mut previous: Option<Address> = None;
        for account in &self.accounts {
            check_address_order(previous, account.address)?;
            previous = Some(account.address);
            let mut previous_key = None;
            for (key, _) in &account.storage {
                check_slot_order(account.address, previous_key, *key)?;
                previous_key = Some(*key);
            }
        }
        Ok(())
    }

    /// The length of v1 [`encode`](Self::encode)'s output (whether or not it would succeed).
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN
            + 2
            + self
                .accounts
                .iter()
                .map(AccountDiff::encoded_len)
                .sum::<usize>()
            + 2
            + WITHDRAWAL_LEN * self.withdrawals.len()
            + 2
            + PRIVILEGED_LEN * self.privileged.len()
    }

    /// Encodes the diff as v1. Fails if a count, length or nonce increase does not fit its u16, or
    /// if accounts or slots are not in strictly ascending order (which includes duplicates).
    pub fn encode(&self) -> Result<Vec<u8>, StateDiffError> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.push(STATE_DIFF_V1);
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
            out.extend_from_slice(&word.to_be_bytes());
        }

        out.extend_from_slice(&count_u16("modified accounts", self.accounts.len())?.to_be_bytes());
        let mut previous: Option<Address> = None;
        for account in &self.accounts {
            check_address_order(previous, account.address)?;
            previous = Some(account.address);
            encode_account(account, &mut out)?;
        }

        out.extend_from_slice(&count_u16("withdrawal logs", self.withdrawals.len())?.to_be_bytes());
        for log in &self.withdrawals {
            out.extend_from_slice(log.to.as_slice());
            out.extend_from_slice(&log.amount.to_be_bytes::<32>());
            out.extend_from_slice(log.tx_hash.as_slice());
        }

        out.extend_from_slice(
            &count_u16("privileged tx logs", self.privileged.len())?.to_be_bytes(),
        );
        for log in &self.privileged {
            out.extend_from_slice(log.to.as_slice());
            out.extend_from_slice(&log.value.to_be_bytes::<32>());
        }
        Ok(out)
    }

    /// Decodes a v1 or v2 diff (by its version byte), rejecting anything
    /// [`encode`](Self::encode) or [`encode_v2`](Self::encode_v2) would not produce: truncated
    /// input, an unknown version, trailing bytes, unknown or contradictory type bits, out-of-order
    /// or duplicate accounts and slots, a storage flag with no slots, and in v2 any non-minimal
    /// integer or length.
    pub fn decode(bytes: &[u8]) -> Result<Self, StateDiffError> {
        Self::decode_versioned(bytes).map(|(diff, _)| diff)
    }

    /// [`decode`](Self::decode), also saying which version the bytes were.
    pub fn decode_versioned(bytes: &[u8]) -> Result<(Self, DiffVersion), StateDiffError> {
        let version = DiffVersion::of_encoding(bytes)?;
        let diff = match version {
            DiffVersion::V1 => Self::decode_v1(bytes)?,
            DiffVersion::V2 => v2::decode(bytes)?,
        };
        Ok((diff, version))
    }

    fn decode_v1(bytes: &[u8]) -> Result<Self, StateDiffError> {
        let mut r = Reader { buf: bytes, pos: 0 };
        let version = r.u8()?;
        if version != STATE_DIFF_V1 {
            return Err(StateDiffError::BadVersion(version));
        }
        let last_header = DiffHeader {
            tx_root: r.b256()?,
            receipts_root: r.b256()?,
            parent_hash: r.b256()?,
            gas_limit: r.u64()?,
            gas_used: r.u64()?,
            timestamp: r.u64()?,
            block_number: r.u64()?,
            base_fee_per_gas: r.u64()?,
        };

        // Capacities are bounded by what the remaining input could hold, so a large count in a
        // short input allocates nothing big.
        let count = usize::from(r.u16()?);
        let mut accounts = Vec::with_capacity(count.min(r.remaining() / 21));
        let mut previous: Option<Address> = None;
        for _ in 0..count {
            let account = decode_account(&mut r)?;
            check_address_order(previous, account.address)?;
            previous = Some(account.address);
            accounts.push(account);
        }

        let count = usize::from(r.u16()?);
        let mut withdrawals = Vec::with_capacity(count.min(r.remaining() / WITHDRAWAL_LEN));
        for _ in 0..count {
            withdrawals.push(WithdrawalLog {
                to: r.address()?,
                amount: r.u256()?,
                tx_hash: r.b256()?,
            });
        }

        let count = usize::from(r.u16()?);
        let mut privileged = Vec::with_capacity(count.min(r.remaining() / PRIVILEGED_LEN));
        for _ in 0..count {
            privileged.push(PrivilegedLog {
                to: r.address()?,
                value: r.u256()?,
            });
        }

        if r.remaining() != 0 {
            return Err(StateDiffError::TrailingBytes(r.remaining()));
        }
        Ok(Self {
            last_header,
            accounts,
            withdrawals,
            privileged,
        })
    }
}

fn count_u16(what: &'static str, count: usize) -> Result<u16, StateDiffError> {
    u16::try_from(count).map_err(|_| StateDiffError::TooMany { what, count })
}

fn check_address_order(previous: Option<Address>, address: Address) -> Result<(), StateDiffError> {
    match previous {
        Some(prev) if prev == address => Err(StateDiffError::DuplicateAddress(address)),
        Some(prev) if prev > address => Err(StateDiffError::UnsortedAccounts(address)),
        _ => Ok(()),
    }
}

fn check_slot_order(
    address: Address,
    previous: Option<B256>,
    key: B256,
) -> Result<(), StateDiffError> {
    match previous {
        Some(prev) if prev == key => Err(StateDiffError::DuplicateSlot { address, key }),
        Some(prev) if prev > key => Err(StateDiffError::UnsortedStorage { address, key }),
        _ => Ok(()),
    }
}

fn encode_account(account: &AccountDiff, out: &mut Vec<u8>) -> Result<(), StateDiffError> {
    out.push(account.type_byte());
    out.extend_from_slice(account.address.as_slice());
    if let Some(balance) = account.balance {
        out.extend_from_slice(&balance.to_be_bytes::<32>());
    }
    if let Some(increase) = account.nonce_increase {
        let increase16 =
            u16::try_from(increase).map_err(|_| StateDiffError::NonceIncreaseTooLarge {
                address: account.address,
                increase,
            })?;
        out.extend_from_slice(&increase16.to_be_bytes());
    }
    if !account.storage.is_empty() {
        let n = u16::try_from(account.storage.len()).map_err(|_| StateDiffError::TooManySlots {
            address: account.address,
            count: account.storage.len(),
        })?;
        out.extend_from_slice(&n.to_be_bytes());
        let mut previous = None;
        for (key, value) in &account.storage {
            check_slot_order(account.address, previous, *key)?;
            previous = Some(*key);
            out.extend_from_slice(key.as_slice());
            out.extend_from_slice(&value.to_be_bytes::<32>());
        }
    }
    match &account.code {
        Some(CodeChange::New(code)) => {
            let len = u16::try_from(code.len()).map_err(|_| StateDiffError::CodeTooLong {
                address: account.address,
                len: code.len(),
            })?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(code);
        }
        Some(CodeChange::Known(hash)) => out.extend_from_slice(hash.as_slice()),
        None => {}
    }
    Ok(())
}

fn decode_account(r: &mut Reader<'_>) -> Result<AccountDiff, StateDiffError> {
    let ty = r.u8()?;
    if ty & !TYPE_ALL != 0 {
        return Err(StateDiffError::UnknownTypeBits(ty));
    }
    if ty & TYPE_NEW_CODE != 0 && ty & TYPE_KNOWN_CODE != 0 {
        return Err(StateDiffError::BothCodeKinds(ty));
    }
    let address = r.address()?;
    let balance = if ty & TYPE_BALANCE != 0 {
        Some(r.u256()?)
    } else {
        None
    };
    let nonce_increase = if ty & TYPE_NONCE != 0 {
        Some(u64::from(r.u16()?))
    } else {
        None
    };
    let mut storage = Vec::new();
    if ty & TYPE_STORAGE != 0 {
        let n = usize::from(r.u16()?);
        if n == 0 {
            return Err(StateDiffError::EmptyStorage(address));
        }
        storage.reserve(n.min(r.remaining() / 64));
        let mut previous = None;
        for _ in 0..n {
            let key = r.b256()?;
            check_slot_order(address, previous, key)?;
            previous = Some(key);
            storage.push((key, r.u256()?));
        }
    }
    let code = if ty & TYPE_NEW_CODE != 0 {
        let len = usize::from(r.u16()?);
        Some(CodeChange::New(Bytes::copy_from_slice(r.take(len)?)))
    } else if ty & TYPE_KNOWN_CODE != 0 {
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

/// A bounds-checked cursor over the input: every read either returns the bytes or `Truncated`.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], StateDiffError> {
        let rest = &self.buf[self.pos..];
        let Some((head, _)) = rest.split_at_checked(n) else {
            return Err(StateDiffError::Truncated {
                offset: self.pos,
                needed: n,
                available: rest.len(),
            });
        };
        self.pos += n;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StateDiffError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, StateDiffError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, StateDiffError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, StateDiffError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn b256(&mut self) -> Result<B256, StateDiffError> {
        Ok(B256::from(self.array::<32>()?))
    }

    fn u256(&mut self) -> Result<U256, StateDiffError> {
        Ok(U256::from_be_bytes(self.array::<32>()?))
    }

    fn address(&mut self) -> Result<Address, StateDiffError> {
        Ok(Address::from(self.array::<20>()?))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloy_primitives::hex;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// `encoded` with a few bytes changed, its tail cut by up to an eighth and a few bytes added;
    /// the version byte is set back to `version` so the rest of the decoder gets exercised.
    pub(crate) fn mutate(
        mut bytes: Vec<u8>,
        version: u8,
        edits: &[(prop::sample::Index, u8)],
        cut: prop::sample::Index,
        extra: &[u8],
    ) -> Vec<u8> {
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = *byte;
        }
        bytes[0] = version;
        let keep = bytes.len() - cut.index(bytes.len()) / 8;
        bytes.truncate(keep);
        bytes.extend_from_slice(extra);
        bytes
    }

    pub(crate) fn unhex(parts: &[&str]) -> Vec<u8> {
        hex::decode(parts.concat()).unwrap()
    }

    pub(crate) fn header() -> DiffHeader {
        DiffHeader {
            tx_root: B256::repeat_byte(0x11),
            receipts_root: B256::repeat_byte(0x22),
            parent_hash: B256::repeat_byte(0x33),
            gas_limit: 30_000_000,
            gas_used: 21_000,
            timestamp: 0x0102_0304,
            block_number: 7,
            base_fee_per_gas: 1_000_000_000,
        }
    }

    /// The version byte and the header above, written out by hand.
    fn header_hex() -> String {
        [
            "01".to_string(),
            "11".repeat(32),
            "22".repeat(32),
            "33".repeat(32),
            "0000000001c9c380".into(), // gas_limit 30_000_000
            "0000000000005208".into(), // gas_used 21_000
            "0000000001020304".into(), // timestamp
            "0000000000000007".into(), // block_number
            "000000003b9aca00".into(), // base fee 1 gwei
        ]
        .concat()
    }

    #[test]
    fn golden_empty_diff() {
        let diff = StateDiff {
            last_header: header(),
            ..Default::default()
        };
        let expected = unhex(&[&header_hex(), "0000", "0000", "0000"]);
        assert_eq!(expected.len(), 137 + 6);
        assert_eq!(diff.encode().unwrap(), expected);
        assert_eq!(diff.encoded_len(), expected.len());
        assert_eq!(StateDiff::decode(&expected).unwrap(), diff);
    }

    #[test]
    fn golden_tiny_diff() {
        let diff = StateDiff {
            last_header: header(),
            accounts: vec![
                AccountDiff {
                    address: Address::repeat_byte(0xaa),
                    balance: Some(U256::from(1_000_000_000_000_000_000u64)),
                    nonce_increase: Some(3),
                    storage: vec![
                        (B256::with_last_byte(1), U256::from(0xff)),
                        (B256::with_last_byte(2), U256::ZERO),
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
        };
        let z = |n: usize| "00".repeat(n);
        let expected = unhex(&[
            &header_hex(),
            "0003", // three accounts
            // 0xaa…: balance | nonce | storage
            "07",
            &"aa".repeat(20),
            &z(24),
            "0de0b6b3a7640000", // balance 1 ether
            "0003",             // nonce +3
            "0002",             // two slots
            &z(31),
            "01",
            &z(31),
            "ff", // slot 1 = 0xff
            &z(31),
            "02",
            &z(32), // slot 2 = 0
            // 0xbb…: new bytecode
            "08",
            &"bb".repeat(20),
            "0003",
            "6000f3",
            // 0xcc…: nonce | known bytecode
            "12",
            &"cc".repeat(20),
            "0001",
            &"dd".repeat(32),
            // one withdrawal
            "0001",
            &"ee".repeat(20),
            &z(31),
            "05",
            &"ff".repeat(32),
            // one privileged tx
            "0001",
            &"12".repeat(20),
            &z(30),
            "0100",
        ]);
        assert_eq!(diff.encode().unwrap(), expected);
        assert_eq!(diff.encoded_len(), expected.len());
        assert_eq!(StateDiff::decode(&expected).unwrap(), diff);
    }

    #[test]
    fn from_header_takes_the_diff_fields() {
        let h = Header {
            transactions_root: B256::repeat_byte(1),
            receipts_root: B256::repeat_byte(2),
            parent_hash: B256::repeat_byte(3),
            gas_limit: 4,
            gas_used: 5,
            timestamp: 6,
            number: 7,
            base_fee_per_gas: Some(8),
            ..Default::default()
        };
        let d = DiffHeader::from_header(&h);
        assert_eq!(
            d,
            DiffHeader {
                tx_root: B256::repeat_byte(1),
                receipts_root: B256::repeat_byte(2),
                parent_hash: B256::repeat_byte(3),
                gas_limit: 4,
                gas_used: 5,
                timestamp: 6,
                block_number: 7,
                base_fee_per_gas: 8,
            }
        );
    }

    fn account(byte: u8) -> AccountDiff {
        AccountDiff {
            address: Address::repeat_byte(byte),
            balance: Some(U256::from(1)),
            ..Default::default()
        }
    }

    #[test]
    fn encode_refuses_duplicates_and_disorder() {
        let mut diff = StateDiff {
            accounts: vec![account(1), account(1)],
            ..Default::default()
        };
        assert_eq!(
            diff.encode(),
            Err(StateDiffError::DuplicateAddress(Address::repeat_byte(1)))
        );
        diff.accounts = vec![account(2), account(1)];
        assert_eq!(
            diff.encode(),
            Err(StateDiffError::UnsortedAccounts(Address::repeat_byte(1)))
        );
        diff.sort();
        assert!(diff.encode().is_ok());

        let key = B256::with_last_byte(9);
        diff.accounts[0].storage = vec![(key, U256::from(1)), (key, U256::from(2))];
        assert_eq!(
            diff.encode(),
            Err(StateDiffError::DuplicateSlot {
                address: Address::repeat_byte(1),
                key
            })
        );
        diff.accounts[0].storage = vec![(key, U256::from(1)), (B256::ZERO, U256::from(2))];
        assert_eq!(
            diff.encode(),
            Err(StateDiffError::UnsortedStorage {
                address: Address::repeat_byte(1),
                key: B256::ZERO
            })
        );
        diff.sort();
        assert!(diff.encode().is_ok());
    }

    #[test]
    fn encode_refuses_u16_overflows() {
        let mut diff = StateDiff {
            withdrawals: vec![WithdrawalLog::default(); 65_536],
            ..Default::default()
        };
        assert_eq!(
            diff.encode(),
            Err(StateDiffError::TooMany {
                what: "withdrawal logs",
                count: 65_536
            })
        );
        diff.withdrawals.pop();
        assert!(diff.encode().is_ok());

        let mut diff = StateDiff {
            privileged: vec![PrivilegedLog::default(); 65_536],
            ..Default::default()
        };
        assert!(matches!(
            diff.encode(),
            Err(StateDiffError::TooMany { count: 65_536, .. })
        ));
        diff.privileged.clear();

        diff.accounts = (0..65_536u32)
            .map(|i| AccountDiff {
                address: Address::left_padding_from(&i.to_be_bytes()),
                ..Default::default()
            })
            .collect();
        assert!(matches!(
            diff.encode(),
            Err(StateDiffError::TooMany { count: 65_536, .. })
        ));
        diff.accounts.truncate(1);

        diff.accounts[0].storage = (0..65_536u32)
            .map(|i| (B256::left_padding_from(&i.to_be_bytes()), U256::ZERO))
            .collect();
        assert!(matches!(
            diff.encode(),
            Err(StateDiffError::TooManySlots { count: 65_536, .. })
        ));
        diff.accounts[0].storage.pop();
        assert!(diff.encode().is_ok());
        diff.accounts[0].storage.clear();

        diff.accounts[0].code = Some(CodeChange::New(vec![0; 65_536].into()));
        assert!(matches!(
            diff.encode(),
            Err(StateDiffError::CodeTooLong { len: 65_536, .. })
        ));
        diff.accounts[0].code = Some(CodeChange::New(vec![0; 65_535].into()));
        let encoded = diff.encode().unwrap();
        assert_eq!(StateDiff::decode(&encoded).unwrap(), diff);

        diff.accounts[0].nonce_increase = Some(65_536);
        assert_eq!(
            diff.encode(),
            Err(StateDiffError::NonceIncreaseTooLarge {
                address: diff.accounts[0].address,
                increase: 65_536
            })
        );
        diff.accounts[0].nonce_increase = Some(65_535);
        let encoded = diff.encode().unwrap();
        assert_eq!(StateDiff::decode(&encoded).unwrap(), diff);
    }

    #[test]
    fn versions() {
        assert_eq!(DiffVersion::try_from(1), Ok(DiffVersion::V1));
        assert_eq!(DiffVersion::try_from(2), Ok(DiffVersion::V2));
        assert_eq!(DiffVersion::try_from(0), Err(StateDiffError::BadVersion(0)));
        assert_eq!(DiffVersion::V2.to_string(), "v2");
        let diff = StateDiff::default();
        for version in DiffVersion::ALL {
            let bytes = diff.encode_as(version).unwrap();
            assert_eq!(bytes[0], version.byte());
            assert_eq!(bytes.len(), diff.encoded_len_as(version));
            assert_eq!(
                StateDiff::decode_versioned(&bytes),
                Ok((diff.clone(), version))
            );
        }
        assert!(matches!(
            DiffVersion::of_encoding(&[]),
            Err(StateDiffError::Truncated { offset: 0, .. })
        ));
    }

    fn empty_encoding() -> Vec<u8> {
        StateDiff::default().encode().unwrap()
    }

    /// An encoding of an empty diff except for the accounts section, given as raw bytes.
    fn with_accounts(count: u16, accounts: &[u8]) -> Vec<u8> {
        let mut bytes = empty_encoding();
        bytes.truncate(HEADER_LEN);
        bytes.extend_from_slice(&count.to_be_bytes());
        bytes.extend_from_slice(accounts);
        bytes.extend_from_slice(&[0, 0, 0, 0]);
        bytes
    }

    #[test]
    fn decode_rejects_malformed_input() {
        assert!(matches!(
            StateDiff::decode(&[]),
            Err(StateDiffError::Truncated { offset: 0, .. })
        ));
        let good = empty_encoding();
        for len in 0..good.len() {
            assert!(
                matches!(
                    StateDiff::decode(&good[..len]),
                    Err(StateDiffError::Truncated { .. })
                ),
                "prefix of {len} bytes"
            );
        }

        let mut bad = good.clone();
        for version in [0, 3, 0xff] {
            bad[0] = version;
            assert_eq!(
                StateDiff::decode(&bad),
                Err(StateDiffError::BadVersion(version))
            );
        }
        assert_eq!(
            StateDiffError::BadVersion(3).to_string(),
            "unsupported state diff version 3 (supported: 1 = v1, 2 = v2)"
        );

        let mut long = good.clone();
        long.push(0);
        assert_eq!(
            StateDiff::decode(&long),
            Err(StateDiffError::TrailingBytes(1))
        );

        let mut account = vec![TYPE_NEW_CODE | TYPE_KNOWN_CODE];
        account.extend_from_slice(&[0xab; 20]);
        assert_eq!(
            StateDiff::decode(&with_accounts(1, &account)),
            Err(StateDiffError::BothCodeKinds(0x18))
        );
        for ty in [0x20, 0x40, 0x80, 0xff] {
            account[0] = ty;
            assert_eq!(
                StateDiff::decode(&with_accounts(1, &account)),
                Err(StateDiffError::UnknownTypeBits(ty))
            );
        }

        account[0] = TYPE_STORAGE;
        account.extend_from_slice(&[0, 0]);
        assert_eq!(
            StateDiff::decode(&with_accounts(1, &account)),
            Err(StateDiffError::EmptyStorage(Address::repeat_byte(0xab)))
        );

        // A type-0 account (touched, nothing carried) is valid; twice is a duplicate.
        let mut zero = vec![0u8];
        zero.extend_from_slice(&[0xab; 20]);
        assert!(StateDiff::decode(&with_accounts(1, &zero)).is_ok());
        let twice = [zero.clone(), zero.clone()].concat();
        assert_eq!(
            StateDiff::decode(&with_accounts(2, &twice)),
            Err(StateDiffError::DuplicateAddress(Address::repeat_byte(0xab)))
        );
        let mut lower = zero.clone();
        lower[1..].copy_from_slice(&[0x01; 20]);
        let unsorted = [zero, lower].concat();
        assert_eq!(
            StateDiff::decode(&with_accounts(2, &unsorted)),
            Err(StateDiffError::UnsortedAccounts(Address::repeat_byte(0x01)))
        );

        // A huge count over a short input is just truncated.
        assert!(matches!(
            StateDiff::decode(&with_accounts(u16::MAX, &[])),
            Err(StateDiffError::Truncated { .. })
        ));
    }

    pub(crate) fn arb_b256() -> impl Strategy<Value = B256> {
        any::<[u8; 32]>().prop_map(B256::from)
    }

    /// Integers of every byte length: small, u64, full-width, and full-width shifted right by a
    /// random amount (so each length from 0 to 32 bytes turns up).
    pub(crate) fn arb_u256() -> impl Strategy<Value = U256> {
        prop_oneof![
            (0u64..300).prop_map(U256::from),
            any::<u64>().prop_map(U256::from),
            any::<[u8; 32]>().prop_map(U256::from_be_bytes),
            (any::<[u8; 32]>(), 0usize..=256)
                .prop_map(|(b, shift)| U256::from_be_bytes(b) >> shift),
        ]
    }

    /// Slot keys: small integers (simple contracts) or hashes (mappings), of every length.
    fn arb_slot_key() -> impl Strategy<Value = [u8; 32]> {
        arb_u256().prop_map(|k| k.to_be_bytes::<32>())
    }

    fn arb_header() -> impl Strategy<Value = DiffHeader> {
        (arb_b256(), arb_b256(), arb_b256(), any::<[u64; 5]>()).prop_map(
            |(tx_root, receipts_root, parent_hash, w)| DiffHeader {
                tx_root,
                receipts_root,
                parent_hash,
                gas_limit: w[0],
                gas_used: w[1],
                timestamp: w[2],
                block_number: w[3],
                base_fee_per_gas: w[4],
            },
        )
    }

    fn arb_code() -> impl Strategy<Value = Option<CodeChange>> {
        prop_oneof![
            Just(None),
            prop::collection::vec(any::<u8>(), 0..200)
                .prop_map(|code| Some(CodeChange::New(code.into()))),
            arb_b256().prop_map(|hash| Some(CodeChange::Known(hash))),
        ]
    }

    /// Nonce increases: v1 holds u16s only, v2 any u64.
    fn arb_nonce_increase(wide: bool) -> impl Strategy<Value = u64> {
        prop_oneof![
            0u64..300,
            any::<u16>().prop_map(u64::from),
            any::<u64>().prop_map(move |n| if wide { n } else { n & 0xffff }),
        ]
    }

    fn arb_account_body(wide_nonces: bool) -> impl Strategy<Value = AccountDiff> {
        (
            prop::option::of(arb_u256()),
            prop::option::of(arb_nonce_increase(wide_nonces)),
            prop::collection::btree_map(arb_slot_key(), arb_u256(), 0..6),
            arb_code(),
        )
            .prop_map(|(balance, nonce_increase, storage, code)| AccountDiff {
                address: Address::ZERO,
                balance,
                nonce_increase,
                storage: storage
                    .into_iter()
                    .map(|(k, v)| (B256::from(k), v))
                    .collect(),
                code,
            })
    }

    /// A random diff in canonical form (sorted, no duplicates) that v1 can encode, for this
    /// module's, v2's and the blob module's property tests.
    pub(crate) fn arb_state_diff() -> impl Strategy<Value = StateDiff> {
        arb_diff(false)
    }

    /// Like [`arb_state_diff`] with nonce increases beyond v1's u16.
    pub(crate) fn arb_state_diff_wide() -> impl Strategy<Value = StateDiff> {
        arb_diff(true)
    }

    fn arb_diff(wide_nonces: bool) -> impl Strategy<Value = StateDiff> {
        (
            arb_header(),
            prop::collection::btree_map(any::<[u8; 20]>(), arb_account_body(wide_nonces), 0..8),
            prop::collection::vec(
                (any::<[u8; 20]>(), arb_u256(), arb_b256()).prop_map(|(to, amount, tx_hash)| {
                    WithdrawalLog {
                        to: to.into(),
                        amount,
                        tx_hash,
                    }
                }),
                0..5,
            ),
            prop::collection::vec(
                (any::<[u8; 20]>(), arb_u256()).prop_map(|(to, value)| PrivilegedLog {
                    to: to.into(),
                    value,
                }),
                0..5,
            ),
        )
            .prop_map(|(last_header, accounts, withdrawals, privileged)| {
                let accounts: BTreeMap<_, _> = accounts;
                StateDiff {
                    last_header,
                    accounts: accounts
                        .into_iter()
                        .map(|(address, body)| AccountDiff {
                            address: address.into(),
                            ..body
                        })
                        .collect(),
                    withdrawals,
                    privileged,
                }
            })
    }

    proptest! {
        #[test]
        fn round_trip(diff in arb_state_diff()) {
            let bytes = diff.encode().unwrap();
            prop_assert_eq!(bytes.len(), diff.encoded_len());
            prop_assert_eq!(StateDiff::decode(&bytes).unwrap(), diff);
        }

        /// Arbitrary bytes never panic, and whatever decodes re-encodes to the same bytes.
        #[test]
        fn decode_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            if let Ok((diff, version)) = StateDiff::decode_versioned(&bytes) {
                prop_assert_eq!(diff.encode_as(version).unwrap(), bytes);
            }
        }

        /// Same, starting from valid encodings with a few bytes changed, cut or added, which
        /// reaches far deeper into the decoder than random bytes do.
        #[test]
        fn decode_mutated_encodings(
            diff in arb_state_diff(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in any::<prop::sample::Index>(),
            extra in prop::collection::vec(any::<u8>(), 0..3),
        ) {
            let bytes = mutate(diff.encode().unwrap(), STATE_DIFF_V1, &edits, cut, &extra);
            if let Ok(decoded) = StateDiff::decode(&bytes) {
                prop_assert_eq!(decoded.encode().unwrap(), bytes);
            }
        }
    }
}
