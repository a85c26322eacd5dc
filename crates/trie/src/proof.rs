//! Merkle proofs in the `eth_getProof` format: the RLP of every
//! hash-referenced node on the key's path, root first. Inline nodes are not
//! listed separately; they are inside their parent's RLP.

use alloy_primitives::{B256, Bytes, keccak256};
use alloy_trie::EMPTY_ROOT_HASH;

use crate::{
    NodeStore, Trie, TrieError,
    node::{NodeKind, RawNode, RawRef, decode_raw},
    trie::key_nibbles,
};

impl<S: NodeStore> Trie<S> {
    /// Inclusion or exclusion proof for `key`: the nodes from the root along
    /// the key's path, as far as the path exists. Empty for the empty trie.
    pub fn proof(&mut self, key: &[u8]) -> Result<Vec<Bytes>, TrieError> {
        let full = key_nibbles(key)?;
        let mut rem = full;
        // Hash pending changes so every node's reference is cached.
        self.root();
        let mut proof = Vec::new();
        let Some(mut cur) = self.root.as_mut() else {
            return Ok(proof);
        };
        let mut depth = 0;
        loop {
            let node = self.resolver.visit(cur, full.slice(..depth))?;
            let hash_referenced = node.rlp.as_ref().is_some_and(|rlp| rlp.is_hash());
            if depth == 0 || hash_referenced {
                self.buf.clear();
                if !node.encode_cached(&mut self.buf) {
                    return Err(TrieError::decode("unhashed node on proof path"));
                }
                proof.push(Bytes::copy_from_slice(&self.buf));
            }
            match &mut node.kind {
                NodeKind::Leaf { .. } => break,
                NodeKind::Extension { key, child } => {
                    if !rem.starts_with(key) {
                        break;
                    }
                    rem = rem.slice(key.len()..);
                    depth += key.len();
                    cur = child;
                }
                NodeKind::Branch { children, .. } => {
                    let Some(nibble) = rem.first() else { break };
                    let Some(child) = &mut children[usize::from(nibble)] else {
                        break;
                    };
                    rem = rem.slice(1..);
                    depth += 1;
                    cur = child;
                }
            }
        }
        Ok(proof)
    }
}

/// Verify a proof produced by [`Trie::proof`] (or by geth's `eth_getProof`):
/// `Ok(Some(value))` for inclusion, `Ok(None)` for a valid exclusion proof,
/// `Err` if the proof is invalid or doesn't match the root.
///
/// Every proof element must be used: trailing unrelated nodes are rejected.
pub fn verify_proof(root: B256, key: &[u8], proof: &[Bytes]) -> Result<Option<Vec<u8>>, TrieError> {
    let mut rem = key_nibbles(key)?;
    if proof.is_empty() {
        return if root == EMPTY_ROOT_HASH {
            Ok(None)
        } else {
            Err(TrieError::InvalidProof(
                "empty proof for a non-empty root".into(),
            ))
        };
    }

    let mut elements = proof.iter();
    let mut next = RawRef::Hash(root);
    let mut at_root = true;
    let value = loop {
        let bytes: &[u8] = match next {
            RawRef::Empty => break None,
            RawRef::Inline(bytes) => bytes,
            RawRef::Hash(hash) => {
                let element = elements.next().ok_or_else(|| {
                    TrieError::InvalidProof(format!("proof ends before node {hash}"))
                })?;
                if keccak256(element) != hash {
                    return Err(TrieError::InvalidProof(format!(
                        "proof node does not hash to {hash}"
                    )));
                }
                element
            }
        };
        match decode_raw(bytes)? {
            // keccak(0x80) is the empty root: only valid at the top.
            RawNode::Empty if at_root => break None,
            RawNode::Empty => return Err(TrieError::decode("empty node below the root")),
            RawNode::Leaf { key, value } => break (key == rem).then(|| value.to_vec()),
            RawNode::Extension { key, child } => {
                if !rem.starts_with(&key) {
                    break None;
                }
                rem = rem.slice(key.len()..);
                next = child;
            }
            RawNode::Branch { children, value } => {
                let Some(nibble) = rem.first() else {
                    break value.map(<[u8]>::to_vec);
                };
                rem = rem.slice(1..);
                next = children[usize::from(nibble)];
            }
        }
        at_root = false;
    };
    if elements.next().is_some() {
        return Err(TrieError::InvalidProof(
            "unused nodes after the key's path".into(),
        ));
    }
    Ok(value)
}
