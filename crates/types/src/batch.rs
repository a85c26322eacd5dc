//! A sealed batch: a range of L2 blocks committed to L1 as one unit (docs/committer.md, Batching),
//! and the L2 → L1 messages it carries.

use alloy_primitives::{Address, B256, U256};
use alloy_rlp::{RlpDecodable, RlpEncodable};

use crate::{L1Message, PublicInputs};

/// What the sequencer commits to L1 for a range of blocks.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Batch {
    /// Batch number, from 1 (batch 0 is the genesis).
    pub number: u64,
    /// First L2 block of the batch.
    pub first_block: u64,
    /// Last L2 block of the batch.
    pub last_block: u64,
    /// State root after the last block.
    pub state_root: B256,
    /// Hash of the last block.
    pub last_block_hash: B256,
    /// Rolling hash of the batch's privileged txs (zero if none).
    pub privileged_rolling_hash: B256,
    /// Root of the batch's L1 messages (zero if none).
    pub withdrawals_root: B256,
    /// Number of ordinary (non-privileged) transactions.
    pub non_privileged_tx_count: u64,
}

impl Batch {
    /// The public inputs of this batch's proof. `previous` is the previous batch's (state root,
    /// last block hash); `last_block_timestamp` is this batch's last block's timestamp.
    pub fn public_inputs(
        &self,
        previous: (B256, B256),
        blob_versioned_hash: B256,
        chain_id: u64,
        last_block_timestamp: u64,
    ) -> PublicInputs {
        let (initial_state_root, previous_last_block_hash) = previous;
        PublicInputs {
            initial_state_root,
            final_state_root: self.state_root,
            withdrawals_root: self.withdrawals_root,
            privileged_rolling_hash: self.privileged_rolling_hash,
            blob_versioned_hash,
            last_block_hash: self.last_block_hash,
            chain_id,
            non_privileged_tx_count: self.non_privileged_tx_count,
            previous_last_block_hash,
            batch_number: self.number,
            last_block_timestamp,
        }
    }
}

/// One L2 → L1 message of a batch and the L2 transaction that sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BatchMessage {
    /// The L2 transaction whose receipt carries the message.
    pub tx_hash: B256,
    /// `senderOnL2` of the `L1Message` event.
    pub sender_on_l2: Address,
    /// The message data (for withdrawals, the hash of what is withdrawn).
    pub data: B256,
    /// The message id.
    pub message_id: U256,
}

impl BatchMessage {
    /// The message as a leaf source.
    pub fn message(&self) -> L1Message {
        L1Message {
            sender_on_l2: self.sender_on_l2,
            data: self.data,
            message_id: self.message_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rlp_round_trip() {
        let batch = Batch {
            number: 3,
            first_block: 10,
            last_block: 19,
            state_root: B256::repeat_byte(1),
            last_block_hash: B256::repeat_byte(2),
            privileged_rolling_hash: B256::repeat_byte(3),
            withdrawals_root: B256::ZERO,
            non_privileged_tx_count: 42,
        };
        let bytes = alloy_rlp::encode(&batch);
        assert_eq!(
            alloy_rlp::decode_exact::<Batch>(&bytes).expect("decodes"),
            batch
        );
        let message = BatchMessage {
            tx_hash: B256::repeat_byte(9),
            sender_on_l2: Address::repeat_byte(0xff),
            data: B256::repeat_byte(7),
            message_id: U256::from(5),
        };
        let bytes = alloy_rlp::encode(vec![message, message]);
        assert_eq!(
            alloy_rlp::decode_exact::<Vec<BatchMessage>>(&bytes).expect("decodes"),
            vec![message, message]
        );
    }
}
