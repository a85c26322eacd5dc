//! In-memory trie nodes and their RLP encoding/decoding.
//!
//! Leaf and extension encodings come from `alloy_trie::nodes`; branches are
//! encoded and all nodes are decoded here because alloy's types reject branch
//! values, which general (prefix-sharing) keys need.

use alloy_primitives::B256;
use alloy_rlp::{BufMut, EMPTY_STRING_CODE, Encodable, Header};
use alloy_trie::{
    Nibbles,
    nodes::{ExtensionNodeRef, LeafNode, LeafNodeRef, RlpNode},
};

use crate::TrieError;

/// Longest path a trie can hold: 32-byte keys are 64 nibbles, and `Nibbles`
/// cannot hold more.
pub(crate) const MAX_NIBBLES: usize = 64;

/// A child pointer: either still in the store, or in memory.
#[derive(Debug)]
pub(crate) enum NodeRef {
    /// Not loaded yet; resolved through the `NodeStore` when a path needs it.
    Hash(B256),
    Node(Box<Node>),
}

impl NodeRef {
    pub(crate) fn new(kind: NodeKind) -> Self {
        Self::Node(Box::new(Node::new(kind)))
    }

    /// The reference as embedded in the parent, if already known without hashing.
    fn cached_rlp(&self) -> Option<RlpNode> {
        match self {
            Self::Hash(hash) => Some(RlpNode::word_rlp(hash)),
            Self::Node(node) => node.rlp.clone(),
        }
    }

    /// The reference as embedded in the parent, hashing dirty nodes below as
    /// needed. With `sink`, also commits: every dirty node is emitted
    /// (if hash-referenced) and marked clean.
    /// `path` is where this reference sits; it only labels emitted nodes.
    pub(crate) fn update(
        &mut self,
        buf: &mut Vec<u8>,
        sink: &mut Option<&mut NodeSink>,
        path: Nibbles,
    ) -> RlpNode {
        match self {
            Self::Hash(hash) => RlpNode::word_rlp(hash),
            Self::Node(node) => node.update(buf, sink, path),
        }
    }
}

impl NodeRef {
    /// Appends the paths of the stored nodes in memory at or below this
    /// reference (at `path`): the root whatever its size, else nodes
    /// referenced by hash. Unloaded references are skipped: they cannot sit
    /// where a loaded node was, as nodes never move to another path. Call
    /// after hashing, so every reference is cached.
    pub(crate) fn stored_paths(&self, path: Nibbles, out: &mut Vec<Nibbles>) {
        let Self::Node(node) = self else { return };
        let stored = path.is_empty() || node.rlp.as_ref().is_some_and(RlpNode::is_hash);
        // An inline node (< 32 bytes) cannot embed a 33-byte hash reference,
        // so nothing below it is stored.
        if !stored && node.rlp.is_some() {
            return;
        }
        if stored {
            out.push(path);
        }
        match &node.kind {
            NodeKind::Leaf { .. } => {}
            NodeKind::Extension { key, child } => child.stored_paths(join_path(path, key), out),
            NodeKind::Branch { children, .. } => {
                for (i, child) in children.iter().enumerate() {
                    if let Some(child) = child {
                        child.stored_paths(push_path(path, i as u8), out);
                    }
                }
            }
        }
    }
}

/// Where `commit` collects `(path, keccak256(rlp), rlp)` of changed nodes.
pub(crate) type NodeSink = Vec<(Nibbles, B256, Vec<u8>)>;

/// `prefix ‖ key` for in-memory nodes, whose paths `Resolver::visit` (or the
/// update that built them) kept within 64 nibbles. Clamped rather than
/// panicking should that ever not hold: a wrong label is caught by the
/// path store's hash check, a panic would take the node down.
pub(crate) fn join_path(prefix: Nibbles, key: &Nibbles) -> Nibbles {
    if prefix.len() + key.len() <= MAX_NIBBLES {
        prefix.join(key)
    } else {
        prefix.join(&key.slice(..MAX_NIBBLES - prefix.len()))
    }
}

/// `prefix ‖ nibble`, clamped like [`join_path`].
pub(crate) fn push_path(prefix: Nibbles, nibble: u8) -> Nibbles {
    let mut path = prefix;
    if path.len() < MAX_NIBBLES {
        path.push_unchecked(nibble);
    }
    path
}

#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) kind: NodeKind,
    /// Cached reference encoding (inline RLP or hash). `None` means this node
    /// or something below it changed; invariant: `None` implies `None` on
    /// every ancestor, so hashing only descends into changed paths.
    pub(crate) rlp: Option<RlpNode>,
    /// Changed since the last commit (same ancestor invariant as `rlp`).
    pub(crate) dirty: bool,
}

#[derive(Debug)]
pub(crate) enum NodeKind {
    Leaf {
        key: Nibbles,
        value: Vec<u8>,
    },
    Extension {
        key: Nibbles,
        child: NodeRef,
    },
    Branch {
        // Boxed so leaves (the most numerous nodes) stay small.
        children: Box<[Option<NodeRef>; 16]>,
        value: Option<Vec<u8>>,
    },
}

impl Node {
    /// A freshly created (dirty, unhashed) node.
    pub(crate) fn new(kind: NodeKind) -> Self {
        Self {
            kind,
            rlp: None,
            dirty: true,
        }
    }

    /// Marks this node as changed; callers do the same on the way back up.
    pub(crate) fn touch(&mut self) {
        self.rlp = None;
        self.dirty = true;
    }

    /// Length of the path segment this node consumes (0 for branches).
    pub(crate) fn key_len(&self) -> usize {
        match &self.kind {
            NodeKind::Leaf { key, .. } | NodeKind::Extension { key, .. } => key.len(),
            NodeKind::Branch { .. } => 0,
        }
    }

    /// See [`NodeRef::update`].
    fn update(
        &mut self,
        buf: &mut Vec<u8>,
        sink: &mut Option<&mut NodeSink>,
        path: Nibbles,
    ) -> RlpNode {
        let committing = sink.is_some();
        if let Some(rlp) = &self.rlp
            && !(committing && self.dirty)
        {
            return rlp.clone();
        }
        match &mut self.kind {
            NodeKind::Leaf { key, value } => {
                buf.clear();
                LeafNodeRef::new(key, value).encode(buf);
            }
            NodeKind::Extension { key, child } => {
                let child = child.update(buf, sink, join_path(path, key));
                buf.clear();
                ExtensionNodeRef::new(key, &child).encode(buf);
            }
            NodeKind::Branch { children, value } => {
                let mut refs: [Option<RlpNode>; 16] = Default::default();
                for (i, (slot, child)) in refs.iter_mut().zip(children.iter_mut()).enumerate() {
                    if let Some(child) = child {
                        *slot = Some(child.update(buf, sink, push_path(path, i as u8)));
                    }
                }
                buf.clear();
                encode_branch(&refs, value.as_deref(), buf);
            }
        }
        // A dirty node already hashed by `root()` keeps its hash: no re-keccak.
        let rlp = self.rlp.take().unwrap_or_else(|| RlpNode::from_rlp(buf));
        if let Some(out) = sink {
            if let Some(hash) = rlp.as_hash() {
                out.push((path, hash, buf.clone()));
            }
            self.dirty = false;
        }
        self.rlp = Some(rlp.clone());
        rlp
    }

    /// Encodes this node from its children's cached references. Returns
    /// `false` (leaving `out` unspecified) if some child is not hashed yet.
    pub(crate) fn encode_cached(&self, out: &mut Vec<u8>) -> bool {
        match &self.kind {
            NodeKind::Leaf { key, value } => LeafNodeRef::new(key, value).encode(out),
            NodeKind::Extension { key, child } => {
                let Some(child) = child.cached_rlp() else {
                    return false;
                };
                ExtensionNodeRef::new(key, &child).encode(out);
            }
            NodeKind::Branch { children, value } => {
                let mut refs: [Option<RlpNode>; 16] = Default::default();
                for (slot, child) in refs.iter_mut().zip(children.iter()) {
                    if let Some(child) = child {
                        let Some(rlp) = child.cached_rlp() else {
                            return false;
                        };
                        *slot = Some(rlp);
                    }
                }
                encode_branch(&refs, value.as_deref(), out);
            }
        }
        true
    }
}

/// Encodes a 17-item branch node (16 children + value).
fn encode_branch(children: &[Option<RlpNode>; 16], value: Option<&[u8]>, out: &mut dyn BufMut) {
    let children_len: usize = children
        .iter()
        .map(|c| c.as_ref().map_or(1, |c| c.len()))
        .sum();
    let value_len = value.map_or(1, |v| v.length());
    Header {
        list: true,
        payload_length: children_len + value_len,
    }
    .encode(out);
    for child in children {
        match child {
            Some(child) => out.put_slice(child),
            None => out.put_u8(EMPTY_STRING_CODE),
        }
    }
    match value {
        Some(value) => value.encode(out),
        None => out.put_u8(EMPTY_STRING_CODE),
    }
}

/// Decodes a node loaded from the store (or embedded in one) into memory.
/// Hash-referenced children stay unresolved; inline children are decoded
/// right away since they have no store entry of their own.
pub(crate) fn decode_node(bytes: &[u8], rlp: RlpNode) -> Result<Node, TrieError> {
    let kind = match decode_raw(bytes)? {
        RawNode::Empty => return Err(TrieError::decode("empty node below the root")),
        RawNode::Leaf { key, value } => NodeKind::Leaf {
            key,
            value: value.to_vec(),
        },
        RawNode::Extension { key, child } => {
            let child =
                decode_ref(child)?.ok_or_else(|| TrieError::decode("extension without child"))?;
            NodeKind::Extension { key, child }
        }
        RawNode::Branch {
            children: raw,
            value,
        } => {
            let mut children: Box<[Option<NodeRef>; 16]> = Box::default();
            for (slot, raw) in children.iter_mut().zip(raw) {
                *slot = decode_ref(raw)?;
            }
            NodeKind::Branch {
                children,
                value: value.map(<[u8]>::to_vec),
            }
        }
    };
    Ok(Node {
        kind,
        rlp: Some(rlp),
        dirty: false,
    })
}

fn decode_ref(raw: RawRef<'_>) -> Result<Option<NodeRef>, TrieError> {
    Ok(match raw {
        RawRef::Empty => None,
        RawRef::Hash(hash) => Some(NodeRef::Hash(hash)),
        RawRef::Inline(bytes) => {
            // `decode_raw` only yields inline refs shorter than 32 bytes.
            let rlp = RlpNode::from_raw(bytes)
                .ok_or_else(|| TrieError::decode("inline node too large"))?;
            Some(NodeRef::Node(Box::new(decode_node(bytes, rlp)?)))
        }
    })
}

/// A node parsed without copying: shared by store decoding and proof
/// verification.
#[expect(
    clippy::large_enum_variant,
    reason = "short-lived stack value; boxing would allocate on every decode"
)]
pub(crate) enum RawNode<'a> {
    /// `0x80`: only valid as the root of an empty trie.
    Empty,
    Leaf {
        key: Nibbles,
        value: &'a [u8],
    },
    Extension {
        key: Nibbles,
        child: RawRef<'a>,
    },
    Branch {
        children: [RawRef<'a>; 16],
        value: Option<&'a [u8]>,
    },
}

/// A child reference as it appears inside its parent.
#[derive(Clone, Copy)]
pub(crate) enum RawRef<'a> {
    Empty,
    Hash(B256),
    /// The child's own RLP (a list shorter than 32 bytes).
    Inline(&'a [u8]),
}

pub(crate) fn decode_raw(bytes: &[u8]) -> Result<RawNode<'_>, TrieError> {
    let mut buf = bytes;
    let header = Header::decode(&mut buf)?;
    if buf.len() != header.payload_length {
        return Err(TrieError::decode("trailing bytes after node"));
    }
    if !header.list {
        return if header.payload_length == 0 && bytes[0] == EMPTY_STRING_CODE {
            Ok(RawNode::Empty)
        } else {
            Err(TrieError::decode("node is a string, not a list"))
        };
    }

    let mut items = [&[][..]; 17];
    let mut count = 0;
    while !buf.is_empty() {
        let item = next_item(&mut buf)?;
        let slot = items
            .get_mut(count)
            .ok_or_else(|| TrieError::decode("too many list items"))?;
        *slot = item;
        count += 1;
    }

    match count {
        17 => {
            let mut children = [RawRef::Empty; 16];
            for (child, item) in children.iter_mut().zip(&items) {
                *child = raw_ref(item)?;
            }
            let value = Header::decode_bytes(&mut &items[16][..], false)?;
            Ok(RawNode::Branch {
                children,
                value: (!value.is_empty()).then_some(value),
            })
        }
        2 => {
            let path = Header::decode_bytes(&mut &items[0][..], false)?;
            let (key, is_leaf) = decode_path(path)?;
            if is_leaf {
                let value = Header::decode_bytes(&mut &items[1][..], false)?;
                Ok(RawNode::Leaf { key, value })
            } else {
                if key.is_empty() {
                    return Err(TrieError::decode("extension with empty key"));
                }
                match raw_ref(items[1])? {
                    RawRef::Empty => Err(TrieError::decode("extension without child")),
                    child => Ok(RawNode::Extension { key, child }),
                }
            }
        }
        n => Err(TrieError::decode(format!("node has {n} items"))),
    }
}

/// Splits the next complete RLP item (header included) off `buf`.
fn next_item<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], TrieError> {
    let start = *buf;
    let header = Header::decode(buf)?;
    // `Header::decode` has checked that the payload is present.
    let rest = buf
        .get(header.payload_length..)
        .ok_or(alloy_rlp::Error::InputTooShort)?;
    *buf = rest;
    Ok(&start[..start.len() - rest.len()])
}

fn raw_ref(item: &[u8]) -> Result<RawRef<'_>, TrieError> {
    match item {
        [EMPTY_STRING_CODE] => Ok(RawRef::Empty),
        [0xa0, hash @ ..] if hash.len() == 32 => Ok(RawRef::Hash(B256::from_slice(hash))),
        [first, ..] if *first >= 0xc0 && item.len() < 32 => Ok(RawRef::Inline(item)),
        _ => Err(TrieError::decode("invalid child reference")),
    }
}

/// Decodes a hex-prefix ("compact") path; returns the nibbles and whether it
/// is a leaf path.
fn decode_path(encoded: &[u8]) -> Result<(Nibbles, bool), TrieError> {
    let (&first, rest) = encoded
        .split_first()
        .ok_or_else(|| TrieError::decode("empty node path"))?;
    let flag = first & 0xf0;
    let is_leaf = flag & LeafNode::EVEN_FLAG != 0;
    let odd = flag & 0x10 != 0;
    if flag > LeafNode::ODD_FLAG || (!odd && first & 0x0f != 0) {
        return Err(TrieError::decode("invalid node path flag"));
    }
    if rest.len() * 2 + usize::from(odd) > MAX_NIBBLES {
        return Err(TrieError::decode("node path too long"));
    }
    let mut key = Nibbles::new();
    if odd {
        key.push_unchecked(first & 0x0f);
    }
    key.extend_from_slice_unchecked(rest);
    Ok((key, is_leaf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::hex;

    #[test]
    fn path_roundtrip() {
        for nibbles in [&[][..], &[1], &[1, 2], &[0xf, 0, 0xa]] {
            let key = Nibbles::from_nibbles(nibbles);
            for leaf in [true, false] {
                let enc = alloy_trie::nodes::encode_path_leaf(&key, leaf);
                assert_eq!(decode_path(&enc).unwrap(), (key, leaf));
            }
        }
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            &hex!("")[..],
            &hex!("c0"),       // no items
            &hex!("c3010203"), // three items
            &hex!("c28001"),   // empty path
            &hex!("c2410101"), // trailing byte
            &hex!("c3824001"), // path flag 0x4
            &hex!("c20180"),   // even path with a non-zero padding nibble
            &hex!("ff"),       // truncated header
            &hex!("f90211"),   // truncated payload
        ] {
            assert!(decode_raw(bad).is_err(), "{}", hex::encode(bad));
        }
    }

    #[test]
    fn branch_with_value_roundtrip() {
        let mut children: [Option<RlpNode>; 16] = Default::default();
        children[3] = Some(RlpNode::word_rlp(&B256::repeat_byte(7)));
        let mut buf = Vec::new();
        encode_branch(&children, Some(b"hello"), &mut buf);
        let node = decode_node(&buf, RlpNode::from_rlp(&buf)).unwrap();
        let mut again = Vec::new();
        assert!(node.encode_cached(&mut again));
        assert_eq!(buf, again);
        let NodeKind::Branch { children, value } = node.kind else {
            panic!("not a branch")
        };
        assert_eq!(value.as_deref(), Some(&b"hello"[..]));
        assert!(matches!(children[3], Some(NodeRef::Hash(h)) if h == B256::repeat_byte(7)));
    }
}
