//! revm's view of keel state: accounts, storage and code from the flat state, block hashes from
//! the canonical chain.

use alloy_primitives::{Address, B256, U256};
use keel_state::{ChainReader, StateReader};
use revm::{
    bytecode::Bytecode,
    database_interface::{DBErrorMarker, DatabaseRef},
    primitives::KECCAK_EMPTY,
    state::AccountInfo,
};

/// A state read failed during execution (`E`: the reader's own error, e.g. the store's).
/// Execution stops; nothing is written.
#[derive(Debug, thiserror::Error)]
pub enum StoreDbError<E> {
    #[error(transparent)]
    Store(E),
    #[error("code {0} is referenced by an account but missing from the store")]
    MissingCode(B256),
}

impl<E: std::error::Error + Send + Sync + 'static> DBErrorMarker for StoreDbError<E> {}

/// Adapter from keel's readers to revm's [`DatabaseRef`]: state from `state` (the flat state, or
/// a trie-backed state for a side chain, or a witness), block hashes from `chain`.
pub struct StoreDb<'a, S, C> {
    state: &'a S,
    chain: &'a C,
    /// Set when executing on a block that is not the head: BLOCKHASH then follows its ancestry
    /// instead of the canonical chain.
    parent: Option<(u64, B256)>,
}

impl<S, C> std::fmt::Debug for StoreDb<'_, S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreDb")
            .field("parent", &self.parent)
            .finish_non_exhaustive()
    }
}

impl<'a, S, C> StoreDb<'a, S, C> {
    /// State from `state`; block hashes from the canonical chain of `chain`.
    pub fn new(state: &'a S, chain: &'a C) -> Self {
        Self {
            state,
            chain,
            parent: None,
        }
    }

    /// Block hashes from the ancestry of block `number` (`hash`) instead of the canonical chain.
    pub fn with_parent(mut self, number: u64, hash: B256) -> Self {
        self.parent = Some((number, hash));
        self
    }
}

impl<S, C> DatabaseRef for StoreDb<'_, S, C>
where
    S: StateReader,
    S::Error: std::error::Error + Send + Sync + 'static,
    C: ChainReader<Error = S::Error>,
{
    type Error = StoreDbError<S::Error>;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self
            .state
            .account(&address)
            .map_err(StoreDbError::Store)?
            .map(|a| AccountInfo {
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
            .state
            .code(&code_hash)
            .map_err(StoreDbError::Store)?
            .ok_or(StoreDbError::MissingCode(code_hash))?;
        Ok(Bytecode::new_raw(code))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        self.state
            .storage(&address, &B256::from(index))
            .map_err(StoreDbError::Store)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        let Some((mut at, mut hash)) = self.parent else {
            return Ok(self
                .chain
                .canonical_hash(number)
                .map_err(StoreDbError::Store)?
                .unwrap_or_default());
        };
        // revm asks only for the 256 most recent blocks: a short walk up the parents.
        while at > number {
            let Some(header) = self.chain.header(&hash).map_err(StoreDbError::Store)? else {
                return Ok(B256::ZERO);
            };
            hash = header.parent_hash;
            at -= 1;
        }
        Ok(if at == number { hash } else { B256::ZERO })
    }
}
