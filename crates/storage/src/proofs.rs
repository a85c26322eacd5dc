//! Proof tables (docs/architecture.md, Rollup tables): the proofs provers submitted for each
//! committed batch, one per signer, as the ProofCoordinator checked and stored them; and where each
//! batch was verified on L1 (the L1ProofSender's `verifyBatches`).
//!
//! A proof is stored once per (batch, signer): a second submission by the same signer is not a
//! second proof. Verifications are recorded in batch order.

use alloy_primitives::{Address, B256, Bytes};
use alloy_rlp::{RlpDecodable, RlpEncodable};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use crate::{Store, StoreError, rollup::open_read};

/// (batch number, signer) → `version ‖ rlp(StoredProof)`.
const BATCH_PROOFS: TableDefinition<(u64, [u8; 20]), &[u8]> = TableDefinition::new("batch_proofs");
/// Batch number → `version ‖ rlp(BatchVerification)`.
const BATCH_VERIFICATIONS: TableDefinition<u64, &[u8]> =
    TableDefinition::new("batch_verifications");

/// The version byte every record starts with.
const PROOF_ENCODING_VERSION: u8 = 1;

/// A checked proof of a batch.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StoredProof {
    /// The backend that made it (`exec`).
    pub backend: String,
    /// The public inputs it proves (the encoded layout of `keel_types::PublicInputs`).
    pub public_inputs: Bytes,
    /// The proof bytes (for `exec`, a 65-byte signature).
    pub proof: Bytes,
}

/// Where a batch was verified on L1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BatchVerification {
    /// The `verifyBatches` transaction.
    pub tx_hash: B256,
    /// The L1 block it landed in.
    pub l1_block: u64,
}

/// Creates the tables (at [`Store`] open).
pub(crate) fn create_tables(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(BATCH_PROOFS)?;
    txn.open_table(BATCH_VERIFICATIONS)?;
    Ok(())
}

fn encode(value: &impl alloy_rlp::Encodable) -> Vec<u8> {
    let mut out = vec![PROOF_ENCODING_VERSION];
    value.encode(&mut out);
    out
}

fn decode<T: alloy_rlp::Decodable>(what: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&PROOF_ENCODING_VERSION, rest)) => {
            alloy_rlp::decode_exact(rest).map_err(|e| StoreError::corrupt(what, e))
        }
        Some((version, _)) => Err(StoreError::corrupt(
            what,
            format!("record version {version}, this keel reads {PROOF_ENCODING_VERSION}"),
        )),
        None => Err(StoreError::corrupt(what, "empty record")),
    }
}

impl Store {
    /// Store `proof` of `batch` by `signer`. Returns `false` (and writes nothing) if that signer
    /// already has a proof of that batch.
    pub fn store_proof(
        &self,
        batch: u64,
        signer: Address,
        proof: &StoredProof,
    ) -> Result<bool, StoreError> {
        let txn = self.database().begin_write()?;
        let stored = {
            let mut table = txn.open_table(BATCH_PROOFS)?;
            let key = (batch, signer.0.0);
            if table.get(key)?.is_some() {
                false
            } else {
                table.insert(key, encode(proof).as_slice())?;
                true
            }
        };
        txn.commit()?;
        self.committed();
        Ok(stored)
    }

    /// The proofs of `batch`, by signer (in signer order).
    pub fn batch_proofs(&self, batch: u64) -> Result<Vec<(Address, StoredProof)>, StoreError> {
        let txn = self.database().begin_read()?;
        let Some(table) = open_read(&txn, BATCH_PROOFS)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in table.range((batch, [0u8; 20])..=(batch, [0xffu8; 20]))? {
            let (key, value) = entry?;
            out.push((
                Address::from(key.value().1),
                decode("batch proof", value.value())?,
            ));
        }
        Ok(out)
    }

    /// Record that batches `first..=last` were verified on L1 by `verification`. They must
    /// follow the last verified batch and be committed.
    pub fn mark_batches_verified(
        &self,
        first: u64,
        last: u64,
        verification: &BatchVerification,
    ) -> Result<(), StoreError> {
        let last_committed = self.last_committed_batch()?;
        let txn = self.database().begin_write()?;
        {
            let mut table = txn.open_table(BATCH_VERIFICATIONS)?;
            let last_verified = table.last()?.map_or(0, |(k, _)| k.value());
            if first != last_verified + 1 || last < first || last > last_committed {
                return Err(StoreError::corrupt(
                    "batch verification",
                    format!(
                        "batches {first}..={last} can't be marked verified: last verified \
                         {last_verified}, last committed {last_committed}"
                    ),
                ));
            }
            let record = encode(verification);
            for batch in first..=last {
                table.insert(batch, record.as_slice())?;
            }
        }
        txn.commit()?;
        self.committed();
        Ok(())
    }

    /// Where batch `number` was verified on L1, if it was.
    pub fn batch_verification(&self, number: u64) -> Result<Option<BatchVerification>, StoreError> {
        let txn = self.database().begin_read()?;
        let Some(table) = open_read(&txn, BATCH_VERIFICATIONS)? else {
            return Ok(None);
        };
        table
            .get(number)?
            .map(|v| decode("batch verification", v.value()))
            .transpose()
    }

    /// The last batch recorded as verified on L1 (0: none).
    pub fn last_verified_batch(&self) -> Result<u64, StoreError> {
        let txn = self.database().begin_read()?;
        let Some(table) = open_read(&txn, BATCH_VERIFICATIONS)? else {
            return Ok(0);
        };
        Ok(table.last()?.map_or(0, |(k, _)| k.value()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proof(byte: u8) -> StoredProof {
        StoredProof {
            backend: "exec".into(),
            public_inputs: Bytes::from(vec![byte; 352]),
            proof: Bytes::from(vec![byte; 65]),
        }
    }

    #[test]
    fn one_proof_per_signer_and_batch() {
        let store = Store::in_memory().expect("store");
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        assert!(store.store_proof(3, b, &proof(1)).expect("store"));
        assert!(store.store_proof(3, a, &proof(2)).expect("store"));
        assert!(
            !store.store_proof(3, a, &proof(9)).expect("store"),
            "duplicate"
        );
        assert!(store.store_proof(4, a, &proof(4)).expect("store"));
        let proofs = store.batch_proofs(3).expect("read");
        assert_eq!(proofs, vec![(a, proof(2)), (b, proof(1))]);
        assert!(store.batch_proofs(2).expect("read").is_empty());
    }

    #[test]
    fn verifications_must_follow_and_be_committed() {
        let store = Store::in_memory().expect("store");
        let v = BatchVerification {
            tx_hash: B256::repeat_byte(7),
            l1_block: 9,
        };
        // Nothing committed yet.
        assert!(store.mark_batches_verified(1, 1, &v).is_err());
        assert_eq!(store.last_verified_batch().expect("read"), 0);
        assert_eq!(store.batch_verification(1).expect("read"), None);
    }
}
