//! The [`Blockchain`]: the one place where blocks become chain state.

use std::{sync::Arc, time::Instant};

use alloy_primitives::B256;
use keel_evm::{StoreDb, execute_block};
use keel_storage::{BlockWrite, ChainReader, Store};
use keel_types::{Block, ChainSpec, Genesis, genesis_header};
use tracing::debug;

use crate::{
    BlockError, ChainError, compute_state_update, genesis::write_genesis, recover_senders,
    validation::{validate_body, validate_header, validate_outcome},
};

/// What importing one block did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// The block was validated, executed and stored as the new head.
    Imported { number: u64, hash: B256, gas_used: u64 },
    /// The block was already in the store: nothing changed.
    AlreadyKnown { number: u64, hash: B256 },
}

/// Validates, executes and stores blocks on top of the head.
#[derive(Debug, Clone)]
pub struct Blockchain {
    store: Store,
    spec: Arc<ChainSpec>,
}

impl Blockchain {
    /// Open the chain in `store`, writing `genesis` if the store is empty, or checking that the
    /// store was created from the same genesis otherwise.
    pub fn open(store: Store, genesis: &Genesis, spec: ChainSpec) -> Result<Self, ChainError> {
        let given = genesis_header(genesis, &spec).hash_slow();
        match store.reader()?.genesis_hash()? {
            Some(stored) if stored != given => {
                return Err(ChainError::GenesisMismatch { stored, given });
            }
            Some(_) => {}
            None => {
                write_genesis(&store, genesis, &spec)?;
            }
        }
        Ok(Self { store, spec: Arc::new(spec) })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// Number and hash of the head block.
    pub fn head(&self) -> Result<(u64, B256), ChainError> {
        let (hash, header) = self.store.reader()?.head()?.ok_or(ChainError::NoHead)?;
        Ok((header.number, hash))
    }

    /// Validate, execute and store `block` as the new head. On any error nothing is written.
    pub fn import_block(&self, block: &Block) -> Result<ImportOutcome, ChainError> {
        let started = Instant::now();
        let hash = block.header.hash_slow();
        let number = block.header.number;
        let invalid = |error: BlockError| ChainError::InvalidBlock { number, hash, error };

        let reader = self.store.reader()?;
        if let Some(known) = reader.block_number(&hash)? {
            return Ok(ImportOutcome::AlreadyKnown { number: known, hash });
        }
        let parent_hash = block.header.parent_hash;
        let parent = reader
            .header(&parent_hash)?
            .ok_or_else(|| invalid(BlockError::UnknownParent(parent_hash)))?;
        let head = reader.head_hash()?.ok_or(ChainError::NoHead)?;
        if head != parent_hash {
            return Err(invalid(BlockError::NotOnHead { parent: parent_hash, head }));
        }

        validate_header(&self.spec, &block.header, &parent).map_err(invalid)?;
        validate_body(block).map_err(invalid)?;
        let senders = recover_senders(&block.body.transactions).map_err(invalid)?;

        let db = StoreDb::new(&reader);
        let outcome = execute_block(&self.spec, db, block, &senders)
            .map_err(|e| invalid(BlockError::Execution(e.to_string())))?;
        validate_outcome(&block.header, &outcome).map_err(invalid)?;
        let executed = started.elapsed();

        let update = compute_state_update(&reader, parent.state_root, &outcome.bundle)?;
        if update.state_root != block.header.state_root {
            return Err(invalid(BlockError::StateRoot {
                expected: update.state_root,
                got: block.header.state_root,
            }));
        }
        let merkleized = started.elapsed();

        let tx_hashes: Vec<B256> = block.body.transactions.iter().map(|tx| *tx.tx_hash()).collect();
        self.store.write_block(&BlockWrite {
            hash,
            header: &block.header,
            body: &block.body,
            receipts: &outcome.receipts,
            tx_hashes: &tx_hashes,
            state: &update.changes,
            trie_nodes: &update.trie_nodes,
        })?;
        debug!(
            number,
            %hash,
            txs = block.body.transactions.len(),
            gas = outcome.gas_used,
            exec_ms = executed.as_millis() as u64,
            root_ms = (merkleized - executed).as_millis() as u64,
            store_ms = (started.elapsed() - merkleized).as_millis() as u64,
            "imported block"
        );
        Ok(ImportOutcome::Imported { number, hash, gas_used: outcome.gas_used })
    }
}
