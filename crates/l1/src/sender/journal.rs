//! The send journal: what [`super::L1Sender`] records about each job before it broadcasts, so a
//! restarted sender can finish the job without sending a second transaction.

use std::{collections::BTreeMap, sync::Mutex};

use alloy::primitives::{Address, B256, Bytes};
use serde::{Deserialize, Serialize};

/// A journal backend failed (the sender cannot go on safely without it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("send journal: {0}")]
pub struct JournalError(pub String);

/// One signed transaction sent (or about to be sent) for a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentTx {
    /// The transaction hash.
    pub hash: B256,
    /// The signed transaction in network encoding (EIP-2718; a blob transaction with its
    /// sidecar), exactly the bytes given to `eth_sendRawTransaction`.
    pub raw: Bytes,
    /// Its max fee per gas (wei).
    pub max_fee_per_gas: u128,
    /// Its max priority fee per gas (wei).
    pub max_priority_fee_per_gas: u128,
    /// Its max fee per blob gas (wei), for a blob transaction.
    pub max_fee_per_blob_gas: Option<u128>,
}

/// The journaled state of one job: its nonce and every transaction signed for it, oldest first
/// (each later one replaces the earlier ones: same nonce, higher fees).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The caller's namespace (e.g. `"commit"`).
    pub kind: String,
    /// The caller's key within `kind` (e.g. a batch number).
    pub key: u64,
    /// The L1 account that signs the job's transactions.
    pub from: Address,
    /// The nonce every transaction of the job uses.
    pub nonce: u64,
    /// The transactions signed for the job, oldest first; never empty once stored.
    pub txs: Vec<SentTx>,
}

impl JournalEntry {
    /// The newest transaction of the job (the one to rebroadcast).
    pub fn last(&self) -> Option<&SentTx> {
        self.txs.last()
    }
}

/// Durable storage of [`JournalEntry`]s, implemented by the caller over its database.
///
/// Contract: [`SendJournal::store`] must be durable when it returns (the sender broadcasts right
/// after), and [`SendJournal::load`] must return the last stored entry of a job until
/// [`SendJournal::finish`] removes it.
pub trait SendJournal: Send + Sync {
    /// The entry of job (`kind`, `key`), if one is stored.
    fn load(&self, kind: &str, key: u64) -> Result<Option<JournalEntry>, JournalError>;
    /// Stores `entry`, replacing the job's previous entry.
    fn store(&self, entry: &JournalEntry) -> Result<(), JournalError>;
    /// Forgets job (`kind`, `key`): the caller is done with it (confirmed, or given up).
    fn finish(&self, kind: &str, key: u64) -> Result<(), JournalError>;
    /// Every stored entry, of every sender account.
    fn entries(&self) -> Result<Vec<JournalEntry>, JournalError>;
}

/// Journal entries by (kind, key).
type Jobs = BTreeMap<(String, u64), JournalEntry>;

/// An in-memory [`SendJournal`] (tests; a process that doesn't need restart safety).
#[derive(Debug, Default)]
pub struct MemoryJournal {
    entries: Mutex<Jobs>,
}

impl MemoryJournal {
    /// An empty journal.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Jobs>, JournalError> {
        self.entries
            .lock()
            .map_err(|_| JournalError("memory journal lock poisoned".into()))
    }
}

impl SendJournal for MemoryJournal {
    fn load(&self, kind: &str, key: u64) -> Result<Option<JournalEntry>, JournalError> {
        Ok(self.lock()?.get(&(kind.to_string(), key)).cloned())
    }

    fn store(&self, entry: &JournalEntry) -> Result<(), JournalError> {
        self.lock()?
            .insert((entry.kind.clone(), entry.key), entry.clone());
        Ok(())
    }

    fn finish(&self, kind: &str, key: u64) -> Result<(), JournalError> {
        self.lock()?.remove(&(kind.to_string(), key));
        Ok(())
    }

    fn entries(&self) -> Result<Vec<JournalEntry>, JournalError> {
        Ok(self.lock()?.values().cloned().collect())
    }
}
