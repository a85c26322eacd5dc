//! L2→L1 messages and the withdrawals Merkle tree of a batch (docs/contracts.md, L2 system
//! contracts).
//!
//! A message's leaf is `keccak256(senderOnL2 ‖ data ‖ uint256(messageId))`. A batch's withdrawals
//! root is a binary tree over its leaves in message order, each parent
//! `keccak256(min(a, b) ‖ max(a, b))` (so OpenZeppelin's `MerkleProof.verify` checks proofs), an
//! odd node promoted unchanged; one leaf is its own root and no leaves give zero.

use alloy_primitives::{Address, B256, U256, keccak256};

/// One `L1Message(senderOnL2, data, messageId)` event of the L2 Messenger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct L1Message {
    pub sender_on_l2: Address,
    pub data: B256,
    pub message_id: U256,
}

/// `keccak256("L1Message(address,bytes32,uint256)")`, the Messenger event's topic.
pub fn l1_message_topic() -> B256 {
    keccak256("L1Message(address,bytes32,uint256)")
}

impl L1Message {
    /// The message a log carries, if it is an `L1Message` event of the L2 Messenger.
    pub fn from_log(log: &alloy_primitives::Log) -> Option<Self> {
        let topics = log.topics();
        if log.address != crate::rules::MESSENGER_ADDRESS
            || topics.len() != 4
            || topics[0] != l1_message_topic()
        {
            return None;
        }
        Some(Self {
            sender_on_l2: Address::from_word(topics[1]),
            data: topics[2],
            message_id: U256::from_be_bytes(topics[3].0),
        })
    }

    /// The leaf this message contributes to its batch's withdrawals tree.
    pub fn leaf(&self) -> B256 {
        let mut buf = [0u8; 20 + 32 + 32];
        buf[..20].copy_from_slice(self.sender_on_l2.as_slice());
        buf[20..52].copy_from_slice(self.data.as_slice());
        buf[52..].copy_from_slice(&self.message_id.to_be_bytes::<32>());
        keccak256(buf)
    }
}

/// A parent node: the hash of the two children, smaller first.
fn parent(a: &B256, b: &B256) -> B256 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(lo.as_slice());
    buf[32..].copy_from_slice(hi.as_slice());
    keccak256(buf)
}

/// The next level up: pairs hashed, an odd last node promoted unchanged.
fn level_up(level: &[B256]) -> Vec<B256> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [a, b] => parent(a, b),
            [a] => *a,
            _ => unreachable!("chunks(2) yields one or two items"),
        })
        .collect()
}

/// The withdrawals root over `leaves` in message order (zero for none).
pub fn withdrawals_root(leaves: &[B256]) -> B256 {
    if leaves.is_empty() {
        return B256::ZERO;
    }
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = level_up(&level);
    }
    level[0]
}

/// The proof of `leaves[index]`: the siblings from the leaf up (a promoted node has none at its
/// level). `None` if `index` is out of range.
pub fn withdrawal_proof(leaves: &[B256], index: usize) -> Option<Vec<B256>> {
    if index >= leaves.len() {
        return None;
    }
    let mut proof = Vec::new();
    let mut level = leaves.to_vec();
    let mut i = index;
    while level.len() > 1 {
        if let Some(sibling) = level.get(i ^ 1) {
            proof.push(*sibling);
        }
        level = level_up(&level);
        i /= 2;
    }
    Some(proof)
}

/// Whether `proof` shows `leaf` under `root`, exactly as OpenZeppelin's `MerkleProof.verify`.
pub fn verify_withdrawal_proof(proof: &[B256], root: B256, leaf: B256) -> bool {
    proof
        .iter()
        .fold(leaf, |node, sibling| parent(&node, sibling))
        == root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<B256> {
        (0..n)
            .map(|i| {
                L1Message {
                    sender_on_l2: Address::with_last_byte(0xff),
                    data: keccak256(i.to_be_bytes()),
                    message_id: U256::from(i + 1),
                }
                .leaf()
            })
            .collect()
    }

    #[test]
    fn small_trees_by_hand() {
        assert_eq!(withdrawals_root(&[]), B256::ZERO);
        let l = leaves(3);
        assert_eq!(withdrawals_root(&l[..1]), l[0]);
        assert_eq!(withdrawals_root(&l[..2]), parent(&l[0], &l[1]));
        // The third leaf is promoted, then paired with the first pair's parent.
        assert_eq!(withdrawals_root(&l), parent(&parent(&l[0], &l[1]), &l[2]));
    }

    #[test]
    fn the_leaf_is_the_packed_encoding() {
        let message = L1Message {
            sender_on_l2: Address::repeat_byte(0x11),
            data: B256::repeat_byte(0x22),
            message_id: U256::from(7),
        };
        let mut packed = Vec::new();
        packed.extend_from_slice(&[0x11; 20]);
        packed.extend_from_slice(&[0x22; 32]);
        packed.extend_from_slice(&U256::from(7).to_be_bytes::<32>());
        assert_eq!(message.leaf(), keccak256(packed));
    }

    #[test]
    fn every_proof_verifies_and_a_wrong_one_does_not() {
        for n in 1..=33 {
            let l = leaves(n);
            let root = withdrawals_root(&l);
            for (i, leaf) in l.iter().enumerate() {
                let proof = withdrawal_proof(&l, i).expect("in range");
                assert!(verify_withdrawal_proof(&proof, root, *leaf), "n={n} i={i}");
                assert!(
                    !verify_withdrawal_proof(&proof, root, keccak256(leaf)),
                    "n={n} i={i}"
                );
                if let Some(first) = proof.first() {
                    let mut bad = proof.clone();
                    bad[0] = keccak256(first);
                    assert!(!verify_withdrawal_proof(&bad, root, *leaf));
                }
            }
            assert_eq!(withdrawal_proof(&l, n), None);
        }
    }
}
