//! revm's view of keel state: accounts, storage and code from the flat state, block hashes from
//! the canonical chain.

use alloy_primitives::{Address, B256, U256};
use keel_storage::{ChainReader, StateReader, StoreError};
use revm::{
    bytecode::Bytecode,
    database_interface::{DBErrorMarker, DatabaseRef},
    primitives::KECCAK_EMPTY,
    state::AccountInfo,
};

/// A store read failed during execution. Execution stops; nothing is written.
#[derive(Debug, thiserror::Error)]
pub enum StoreDbError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("code {0} is referenced by an account but missing from the store")]
    MissingCode(B256),
}

impl DBErrorMarker for StoreDbError {}

/// Adapter from keel's readers to revm's [`DatabaseRef`].
#[derive(Debug)]
pub struct StoreDb<'a, R> {
    reader: &'a R,
}

impl<'a, R> StoreDb<'a, R> {
    pub fn new(reader: &'a R) -> Self {
        Self { reader }
    }

    pub fn reader(&self) -> &'a R {
        self.reader
    }
}

impl<R: StateReader + ChainReader> DatabaseRef for StoreDb<'_, R> {
    type Error = StoreDbError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self.reader.account(&address)?.map(|a| AccountInfo {
            balance: a.balance,
            nonce: a.nonce,
            code_hash: a.code_hash,
            account_id: None,
            code: None,
        }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        let code = self
            .reader
            .code(&code_hash)?
            .ok_or(StoreDbError::MissingCode(code_hash))?;
        Ok(Bytecode::new_raw(code))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        Ok(self.reader.storage(&address, &B256::from(index))?)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        Ok(self.reader.canonical_hash(number)?.unwrap_or_default())
    }
}
