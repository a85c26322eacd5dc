//! Insertion and removal. Both recurse along the key's path, load whatever
//! they need on the way down (before mutating anything), and mark changed
//! nodes dirty on the way back up.

use std::mem;

use alloy_primitives::B256;
use alloy_trie::Nibbles;

use crate::{
    NodeStore, TrieError,
    node::{Node, NodeKind, NodeRef, join_path, push_path},
    resolver::Resolver,
};

/// Stand-in while a child is moved out of its parent; always overwritten
/// before the parent is used again.
const PLACEHOLDER: NodeRef = NodeRef::Hash(B256::ZERO);

/// Inserts `value` (non-empty) at `rem`, the key's remaining path below `r`,
/// which sits at path `prefix`. Returns whether anything changed.
pub(crate) fn insert<S: NodeStore>(
    res: &mut Resolver<S>,
    r: &mut NodeRef,
    rem: Nibbles,
    prefix: Nibbles,
    value: Vec<u8>,
) -> Result<bool, TrieError> {
    let node = res.visit(r, prefix)?;
    let changed = match &mut node.kind {
        NodeKind::Leaf { key, value: old } => {
            if *key == rem {
                // Rewriting an unchanged value must not dirty the path.
                if *old == value {
                    return Ok(false);
                }
                *old = value;
            } else {
                let (key, old) = (*key, mem::take(old));
                node.kind = split(key, NodeSlot::Leaf(old), rem, value);
            }
            true
        }
        NodeKind::Extension { key, child } => {
            if rem.starts_with(key) {
                let len = key.len();
                insert(res, child, rem.slice(len..), join_path(prefix, key), value)?
            } else {
                let (key, child) = (*key, mem::replace(child, PLACEHOLDER));
                node.kind = split(key, NodeSlot::Extension(child), rem, value);
                true
            }
        }
        NodeKind::Branch {
            children,
            value: branch_value,
        } => match rem.first() {
            None => {
                if branch_value.as_ref() == Some(&value) {
                    return Ok(false);
                }
                *branch_value = Some(value);
                true
            }
            Some(nibble) => match &mut children[usize::from(nibble)] {
                Some(child) => {
                    insert(res, child, rem.slice(1..), push_path(prefix, nibble), value)?
                }
                slot @ None => {
                    *slot = Some(leaf(rem.slice(1..), value));
                    true
                }
            },
        },
    };
    if changed {
        node.touch();
    }
    Ok(changed)
}

/// What an existing leaf or extension carried below its key.
enum NodeSlot {
    Leaf(Vec<u8>),
    Extension(NodeRef),
}

/// Replaces a leaf/extension with key `key` that diverges from the new key
/// `rem`: a branch at the divergence point, under an extension holding the
/// shared prefix if there is one.
fn split(key: Nibbles, existing: NodeSlot, rem: Nibbles, value: Vec<u8>) -> NodeKind {
    let common = key.common_prefix_length(&rem);
    let mut children: Box<[Option<NodeRef>; 16]> = Box::default();
    let mut branch_value = None;

    // The existing node moves below the branch, minus the consumed nibbles.
    // (For an extension, `key` never equals the common prefix: the caller
    // descends in that case.)
    match (existing, key.get(common)) {
        (NodeSlot::Leaf(old), None) => branch_value = Some(old),
        (NodeSlot::Leaf(old), Some(nibble)) => {
            children[usize::from(nibble)] = Some(leaf(key.slice(common + 1..), old));
        }
        (NodeSlot::Extension(child), Some(nibble)) => {
            let rest = key.slice(common + 1..);
            let moved = if rest.is_empty() {
                child
            } else {
                NodeRef::new(NodeKind::Extension { key: rest, child })
            };
            children[usize::from(nibble)] = Some(moved);
        }
        (NodeSlot::Extension(child), None) => {
            // Unreachable by the caller's check; keep the child rather than drop data.
            children[0] = Some(child);
        }
    }
    match rem.get(common) {
        None => branch_value = Some(value),
        Some(nibble) => children[usize::from(nibble)] = Some(leaf(rem.slice(common + 1..), value)),
    }

    let branch = NodeKind::Branch {
        children,
        value: branch_value,
    };
    if common == 0 {
        branch
    } else {
        NodeKind::Extension {
            key: key.slice(..common),
            child: NodeRef::new(branch),
        }
    }
}

fn leaf(key: Nibbles, value: Vec<u8>) -> NodeRef {
    NodeRef::new(NodeKind::Leaf { key, value })
}

/// Outcome of [`remove`] for the parent.
pub(crate) enum Removal {
    Unchanged,
    Changed,
    /// The subtree is now empty; the parent must drop the reference.
    Emptied,
}

/// Removes `rem` (the key's remaining path) from the subtree at `r`, keeping
/// the subtree canonical: no branch with a single entry, no extension above a
/// leaf or another extension.
pub(crate) fn remove<S: NodeStore>(
    res: &mut Resolver<S>,
    r: &mut NodeRef,
    rem: Nibbles,
    prefix: Nibbles,
) -> Result<Removal, TrieError> {
    let node = res.visit(r, prefix)?;
    match &mut node.kind {
        NodeKind::Leaf { key, .. } => {
            return Ok(if *key == rem {
                Removal::Emptied
            } else {
                Removal::Unchanged
            });
        }
        NodeKind::Extension { key, child } => {
            if !rem.starts_with(key) {
                return Ok(Removal::Unchanged);
            }
            let key = *key;
            match remove(res, child, rem.slice(key.len()..), join_path(prefix, &key))? {
                Removal::Unchanged => return Ok(Removal::Unchanged),
                // Only possible over a (non-canonical) leaf child.
                Removal::Emptied => return Ok(Removal::Emptied),
                Removal::Changed => {
                    // The child branch may have collapsed into a leaf or
                    // extension: absorb it so no extension points at one.
                    if let Some(merged) = absorb(key, child) {
                        node.kind = merged;
                    }
                }
            }
        }
        NodeKind::Branch { children, value } => {
            match rem.first() {
                None => {
                    if value.is_none() {
                        return Ok(Removal::Unchanged);
                    }
                    // Load a lone remaining child before mutating.
                    if let Some((idx, only)) = single_child(children, None) {
                        res.visit(only, push_path(prefix, idx as u8))?;
                    }
                    *value = None;
                }
                Some(nibble) => {
                    let idx = usize::from(nibble);
                    let Some(child) = &mut children[idx] else {
                        return Ok(Removal::Unchanged);
                    };
                    let child_rem = rem.slice(1..);
                    // If the removal will empty this slot and leave a single
                    // child, that sibling must be loaded to merge with it. Do
                    // it now so a missing node fails before any mutation.
                    let child_node = res.visit(child, push_path(prefix, nibble))?;
                    let empties =
                        matches!(&child_node.kind, NodeKind::Leaf { key, .. } if *key == child_rem);
                    if empties
                        && value.is_none()
                        && let Some((sib, sibling)) = single_child(children, Some(idx))
                    {
                        res.visit(sibling, push_path(prefix, sib as u8))?;
                    }
                    let Some(child) = &mut children[idx] else {
                        return Ok(Removal::Unchanged);
                    };
                    match remove(res, child, child_rem, push_path(prefix, nibble))? {
                        Removal::Unchanged => return Ok(Removal::Unchanged),
                        Removal::Changed => {}
                        Removal::Emptied => children[idx] = None,
                    }
                }
            }
            match collapse(res, children, value, prefix)? {
                Collapse::Keep => {}
                Collapse::Empty => return Ok(Removal::Emptied),
                Collapse::Into(kind) => node.kind = kind,
            }
        }
    }
    node.touch();
    Ok(Removal::Changed)
}

/// The only child of a branch (and its slot) once slot `except` is gone, if
/// the branch would then have exactly one child.
fn single_child(
    children: &mut [Option<NodeRef>; 16],
    except: Option<usize>,
) -> Option<(usize, &mut NodeRef)> {
    let mut rest = children
        .iter_mut()
        .enumerate()
        .filter(|(i, _)| Some(*i) != except)
        .filter_map(|(i, c)| c.as_mut().map(|c| (i, c)));
    let only = rest.next()?;
    rest.next().is_none().then_some(only)
}

enum Collapse {
    Keep,
    Empty,
    Into(NodeKind),
}

/// Normalizes a branch after one entry was removed.
fn collapse<S: NodeStore>(
    res: &mut Resolver<S>,
    children: &mut [Option<NodeRef>; 16],
    value: &mut Option<Vec<u8>>,
    prefix: Nibbles,
) -> Result<Collapse, TrieError> {
    let mut present = children
        .iter()
        .enumerate()
        .filter(|(_, c)| c.is_some())
        .map(|(i, _)| i);
    let (first, second) = (present.next(), present.next());
    match (first, second, value.is_some()) {
        (None, _, false) => Ok(Collapse::Empty),
        (None, _, true) => {
            let value = value.take().unwrap_or_default();
            Ok(Collapse::Into(NodeKind::Leaf {
                key: Nibbles::new(),
                value,
            }))
        }
        (Some(idx), None, false) => {
            let Some(child) = &mut children[idx] else {
                return Ok(Collapse::Keep);
            };
            // Already loaded on the way down for canonical tries.
            res.visit(child, push_path(prefix, idx as u8))?;
            let nibble = Nibbles::from_nibbles_unchecked([idx as u8]);
            Ok(Collapse::Into(absorb(nibble, child).unwrap_or_else(|| {
                NodeKind::Extension {
                    key: nibble,
                    child: mem::replace(child, PLACEHOLDER),
                }
            })))
        }
        _ => Ok(Collapse::Keep),
    }
}

/// If `child` is a leaf or extension, returns it with `prefix` prepended
/// (taking its contents); `None` for a branch or an unresolved node.
///
/// Path lengths cannot overflow: `Resolver::visit` checked the child fits
/// below its depth, and `prefix` is exactly the path down to it.
fn absorb(prefix: Nibbles, child: &mut NodeRef) -> Option<NodeKind> {
    let NodeRef::Node(child) = child else {
        return None;
    };
    let Node { kind, .. } = &mut **child;
    match kind {
        NodeKind::Leaf { key, value } => Some(NodeKind::Leaf {
            key: join_path(prefix, key),
            value: mem::take(value),
        }),
        NodeKind::Extension { key, child } => Some(NodeKind::Extension {
            key: join_path(prefix, key),
            child: mem::replace(child, PLACEHOLDER),
        }),
        NodeKind::Branch { .. } => None,
    }
}
