//! Bringing nodes into memory on demand, and witness recording.

use alloy_primitives::{B256, keccak256, map::B256Set};
use alloy_trie::{Nibbles, nodes::RlpNode};

use crate::{
    NodeStore, TrieError,
    node::{MAX_NIBBLES, Node, NodeKind, NodeRef, decode_node},
};

/// Owns the store and the recording state; kept apart from the tree so the
/// tree can be borrowed mutably while nodes are loaded.
pub(crate) struct Resolver<S> {
    pub(crate) store: S,
    /// `None` for the account trie, `Some(keccak256(address))` for a storage trie.
    pub(crate) owner: Option<B256>,
    /// Paths holding a stored node in the store as of the last commit, among
    /// the nodes in memory: everything loaded since, plus what the last
    /// commit left. `Trie::commit` diffs it against what is there now.
    pub(crate) on_disk: Vec<Nibbles>,
    recorder: Option<Recorder>,
    /// Scratch buffer for re-encoding nodes that are recorded from memory.
    buf: Vec<u8>,
}

#[derive(Default)]
struct Recorder {
    seen: B256Set,
    /// In first-visit order, so witnesses are deterministic.
    nodes: Vec<Vec<u8>>,
}

impl Recorder {
    fn record(&mut self, hash: B256, rlp: impl FnOnce() -> Option<Vec<u8>>) {
        if !self.seen.contains(&hash)
            && let Some(rlp) = rlp()
        {
            self.seen.insert(hash);
            self.nodes.push(rlp);
        }
    }
}

impl<S: NodeStore> Resolver<S> {
    pub(crate) fn new(store: S, owner: Option<B256>) -> Self {
        Self {
            store,
            owner,
            on_disk: Vec::new(),
            recorder: None,
            buf: Vec::new(),
        }
    }

    pub(crate) fn start_recording(&mut self) {
        self.recorder.get_or_insert_with(Recorder::default);
    }

    pub(crate) fn take_recorded(&mut self) -> Vec<Vec<u8>> {
        self.recorder
            .as_mut()
            .map(|rec| {
                rec.seen.clear();
                std::mem::take(&mut rec.nodes)
            })
            .unwrap_or_default()
    }

    /// Returns the node behind `r` (found at `path`), loading it from the
    /// store if needed.
    ///
    /// While recording, every pre-existing hash-referenced node passed here is
    /// recorded -- not only store loads but also nodes already in memory from
    /// before recording started, or the witness would miss them.
    pub(crate) fn visit<'a>(
        &mut self,
        r: &'a mut NodeRef,
        path: Nibbles,
    ) -> Result<&'a mut Node, TrieError> {
        let depth = path.len();
        if let NodeRef::Hash(hash) = r {
            let hash = *hash;
            let bytes = self
                .store
                .node(self.owner.as_ref(), &path, &hash)?
                .ok_or(TrieError::MissingNode(hash))?;
            // The root is referenced by hash whatever its size; below the root
            // a hash reference must stay one, or the parent's encoding changes.
            let rlp = if depth == 0 && bytes.len() < 32 {
                RlpNode::from_raw_rlp(&bytes)?
            } else {
                RlpNode::word_rlp(&hash)
            };
            let node = decode_node(&bytes, rlp)?;
            if let Some(rec) = &mut self.recorder {
                rec.record(hash, || Some(bytes));
            }
            *r = NodeRef::Node(Box::new(node));
            self.on_disk.push(path);
        } else if let (Some(rec), NodeRef::Node(node)) = (&mut self.recorder, &*r)
            && !node.dirty
        {
            let buf = &mut self.buf;
            let mut encode = || {
                buf.clear();
                node.encode_cached(buf).then(|| buf.clone())
            };
            match node.rlp.as_ref().and_then(RlpNode::as_hash) {
                Some(hash) => rec.record(hash, encode),
                // An inline root still has a store entry under its keccak.
                None if depth == 0 => {
                    if let Some(rlp) = encode() {
                        rec.record(keccak256(&rlp), || Some(rlp));
                    }
                }
                None => {}
            }
        }
        let NodeRef::Node(node) = r else {
            unreachable!("resolved just above")
        };
        check_depth(node, depth)?;
        Ok(node)
    }
}

/// Rejects nodes whose path would exceed 64 nibbles. Malformed store data is
/// caught here, before any mutation, so later path joins cannot overflow.
fn check_depth(node: &Node, depth: usize) -> Result<(), TrieError> {
    let ok = match &node.kind {
        NodeKind::Branch { children, .. } => {
            depth < MAX_NIBBLES || children.iter().all(Option::is_none)
        }
        _ => depth + node.key_len() <= MAX_NIBBLES,
    };
    if ok {
        Ok(())
    } else {
        Err(TrieError::decode("node path exceeds 64 nibbles"))
    }
}
