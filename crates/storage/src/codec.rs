//! Decoding helpers: every byte string read back from the store goes through here, so corruption
//! becomes a [`StoreError::Corrupt`] instead of a panic.

use alloy_rlp::Decodable;

use crate::StoreError;

pub fn decode<T: Decodable>(what: &'static str, mut bytes: &[u8]) -> Result<T, StoreError> {
    let value = T::decode(&mut bytes).map_err(|e| StoreError::corrupt(what, e))?;
    if !bytes.is_empty() {
        return Err(StoreError::corrupt(what, "trailing bytes"));
    }
    Ok(value)
}
