//! The state as the stateless program sees it: partial tries built from the witness's nodes, the
//! witness's codes, and the ancestor headers. It implements the same read traits as the node's
//! database, so the executor and the state-root code run over it unchanged.

use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_rlp::Decodable;
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount, nodes::TrieNode};
use keel_state::{ChainReader, StateError, StateReader};
use keel_trie::{MemoryNodeStore, Nibbles, NodeStore, Trie, TrieError};
use keel_types::{BlockBody, Header, Receipt};

/// A read from the witness failed.
#[derive(Debug, thiserror::Error)]
pub enum WitnessReadError {
    #[error("trie: {0}")]
    Trie(#[from] TrieError),
    #[error(transparent)]
    State(#[from] StateError),
}

/// Partial tries over the witness nodes, at a current state root.
#[derive(Debug)]
pub struct WitnessState {
    nodes: MemoryNodeStore,
    codes: HashMap<B256, Bytes>,
    /// Ancestor headers by hash (the parent of the first block and older, plus the batch's own
    /// blocks as they are executed).
    headers: HashMap<B256, Header>,
    root: B256,
    /// The first node asked for and not found: tells a witness missing a node apart from an
    /// invalid block when execution fails.
    missing: Mutex<Option<B256>>,
}

impl WitnessState {
    /// The witness's nodes (keyed by their own hash), codes (by their hash) and `headers`, at
    /// state root `root`.
    pub fn new(
        nodes: &[Bytes],
        codes: &[Bytes],
        headers: HashMap<B256, Header>,
        root: B256,
    ) -> Self {
        let mut store = MemoryNodeStore::default();
        store.insert_rlps(nodes.iter().map(|n| n.to_vec()));
        Self {
            nodes: store,
            codes: codes.iter().map(|c| (keccak256(c), c.clone())).collect(),
            headers,
            root,
            missing: Mutex::new(None),
        }
    }

    /// The current state root.
    pub fn root(&self) -> B256 {
        self.root
    }

    /// Move to the state after a block: its new trie nodes (computed here, so trusted), its new
    /// codes, its header and its state root.
    pub fn advance(
        &mut self,
        nodes: Vec<(B256, Vec<u8>)>,
        codes: &[(B256, Bytes)],
        hash: B256,
        header: Header,
    ) {
        self.root = header.state_root;
        self.nodes.insert_nodes(nodes);
        for (hash, code) in codes {
            self.codes.entry(*hash).or_insert_with(|| code.clone());
        }
        self.headers.insert(hash, header);
    }

    /// The first node that was asked for and missing, if any.
    pub fn missing_node(&self) -> Option<B256> {
        *self.missing.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `address`'s account under state root `root`.
    pub fn account_at(
        &self,
        root: B256,
        address: &Address,
    ) -> Result<Option<TrieAccount>, WitnessReadError> {
        self.lookup(None, root, keccak256(address))?
            .map(|bytes| {
                alloy_rlp::decode_exact(&bytes)
                    .map_err(|e| WitnessReadError::State(StateError::corrupt("account leaf", e)))
            })
            .transpose()
    }

    /// Slot `slot` of `address`'s storage trie with root `storage_root`.
    pub fn storage_at(
        &self,
        address: &Address,
        storage_root: B256,
        slot: &B256,
    ) -> Result<U256, WitnessReadError> {
        Ok(self
            .lookup(Some(keccak256(address)), storage_root, keccak256(slot))?
            .map(|bytes| {
                alloy_rlp::decode_exact::<U256>(&bytes)
                    .map_err(|e| WitnessReadError::State(StateError::corrupt("storage leaf", e)))
            })
            .transpose()?
            .unwrap_or_default())
    }

    /// A bytecode by hash, from the witness or a block of the batch.
    pub fn code_by_hash(&self, hash: &B256) -> Option<&Bytes> {
        self.codes.get(hash)
    }

    /// `owner`: `None` for the account trie, else keccak256 of the storage trie's address.
    fn lookup(
        &self,
        owner: Option<B256>,
        root: B256,
        key: B256,
    ) -> Result<Option<Vec<u8>>, WitnessReadError> {
        if root == EMPTY_ROOT_HASH {
            return Ok(None);
        }
        let mut trie = match owner {
            None => Trie::new(self, root),
            Some(owner) => Trie::new_storage(self, owner, root),
        };
        Ok(trie.get(key.as_slice())?)
    }

    /// Hashes of witness nodes that no trie under `root` reaches (the account trie and the
    /// storage tries of the accounts it holds): nodes altered or not belonging to the state.
    pub fn unreachable_nodes(&self, root: B256, witness: &[Bytes]) -> Vec<B256> {
        let mut reached = HashSet::new();
        let mut pending: Vec<(B256, bool)> = vec![(root, true)];
        while let Some((hash, accounts)) = pending.pop() {
            if !reached.insert(hash) {
                continue;
            }
            let Some(rlp) = self.nodes.nodes.get(&hash) else {
                continue; // partial: not every node is in a witness
            };
            walk_node(rlp, accounts, &mut pending);
        }
        witness
            .iter()
            .map(keccak256)
            .filter(|hash| !reached.contains(hash))
            .collect()
    }
}

/// Queue the hashed children of the node `rlp` (of the account trie if `accounts`), following
/// inline children, and account leaves into their storage tries.
fn walk_node(rlp: &[u8], accounts: bool, pending: &mut Vec<(B256, bool)>) {
    let Ok(node) = TrieNode::decode(&mut &rlp[..]) else {
        return; // a malformed node is never reached by a lookup that succeeds
    };
    let mut child = |child: &[u8]| match alloy_trie::nodes::RlpNode::from_raw(child) {
        Some(rlp_node) if rlp_node.is_hash() => {
            if let Some(hash) = rlp_node.as_hash() {
                pending.push((hash, accounts));
            }
        }
        _ => walk_node(child, accounts, pending),
    };
    match node {
        TrieNode::EmptyRoot => {}
        TrieNode::Branch(branch) => {
            for c in &branch.stack {
                child(c);
            }
        }
        TrieNode::Extension(ext) => child(&ext.child),
        TrieNode::Leaf(leaf) => {
            if accounts
                && let Ok(account) = alloy_rlp::decode_exact::<TrieAccount>(&leaf.value)
                && account.storage_root != EMPTY_ROOT_HASH
            {
                pending.push((account.storage_root, false));
            }
        }
    }
}

impl NodeStore for WitnessState {
    // Content-addressed: the owner and path do not matter.
    fn node(
        &self,
        owner: Option<&B256>,
        path: &Nibbles,
        hash: &B256,
    ) -> Result<Option<Vec<u8>>, TrieError> {
        let node = self.nodes.node(owner, path, hash)?;
        if node.is_none() {
            self.missing
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert(*hash);
            // A missing node is an error here, not an empty subtree.
            return Err(TrieError::MissingNode(*hash));
        }
        Ok(node)
    }
}

impl StateReader for WitnessState {
    type Error = WitnessReadError;

    fn account(&self, address: &Address) -> Result<Option<TrieAccount>, WitnessReadError> {
        self.account_at(self.root, address)
    }

    fn storage(&self, address: &Address, slot: &B256) -> Result<U256, WitnessReadError> {
        let Some(account) = self.account(address)? else {
            return Ok(U256::ZERO);
        };
        self.storage_at(address, account.storage_root, slot)
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, WitnessReadError> {
        Ok(self.codes.get(code_hash).cloned())
    }
}

/// Block hashes for `BLOCKHASH`: only the ancestry walk from a parent is served
/// (`StoreDb::with_parent`), through [`ChainReader::header`]; the rest is not part of a witness.
impl ChainReader for WitnessState {
    type Error = WitnessReadError;

    fn header(&self, hash: &B256) -> Result<Option<Header>, WitnessReadError> {
        Ok(self.headers.get(hash).cloned())
    }
    fn body(&self, _hash: &B256) -> Result<Option<BlockBody>, WitnessReadError> {
        Ok(None)
    }
    fn receipts(&self, _hash: &B256) -> Result<Option<Vec<Receipt>>, WitnessReadError> {
        Ok(None)
    }
    fn canonical_hash(&self, _number: u64) -> Result<Option<B256>, WitnessReadError> {
        Ok(None)
    }
    fn block_number(&self, hash: &B256) -> Result<Option<u64>, WitnessReadError> {
        Ok(self.headers.get(hash).map(|h| h.number))
    }
    fn tx_location(&self, _tx_hash: &B256) -> Result<Option<(B256, u64)>, WitnessReadError> {
        Ok(None)
    }
    fn head_hash(&self) -> Result<Option<B256>, WitnessReadError> {
        Ok(None)
    }
    fn genesis_hash(&self) -> Result<Option<B256>, WitnessReadError> {
        Ok(None)
    }
}
