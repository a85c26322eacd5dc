//! The state after any recent block (design: derive recent tries on demand): the store keeps
//! only the head's trie, so an older or side-chain state is the head's flat state with the net
//! flat change head → block laid over it (from `STATE_REVERTS` and `STATE_DIFFS`), and, only when
//! a trie is needed (proofs, side-chain execution, witnesses), the head's trie with that change
//! applied in memory.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::OnceLock,
};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};
use keel_trie::{Nibbles, NodeStore, Trie, TrieDiff, TrieError, TrieWrites};
use keel_types::{BlockBody, Header, Receipt};

use crate::{
    ChainReader, StateChanges, StateReader, StoreError, StoreReader, StoredReceipt,
    trie_store::NodeLayer,
};

/// Net flat change from the head to the view's block.
#[derive(Debug, Default)]
struct DiffOverlay {
    accounts: HashMap<Address, Option<TrieAccount>>,
    /// Slot values by account, so that clearing an account's storage drops its slots at once
    /// (a scan of every slot per deleted account made views over many blocks quadratic).
    slots: HashMap<Address, HashMap<B256, U256>>,
    /// Accounts whose head storage is gone: slots not in `slots` are zero.
    cleared: HashSet<Address>,
}

impl DiffOverlay {
    /// Lay `changes` over the overlay, in the order the flat tables apply them: clear storage,
    /// then accounts, then slots.
    fn apply(&mut self, changes: &StateChanges) {
        let deleted = changes
            .accounts
            .iter()
            .filter(|(_, a)| a.is_none())
            .map(|(a, _)| a);
        for address in changes.wiped_storage.iter().chain(deleted) {
            self.cleared.insert(*address);
            self.slots.remove(address);
        }
        for (address, account) in &changes.accounts {
            self.accounts.insert(*address, *account);
        }
        for &(address, slot, value) in &changes.storage {
            self.slots.entry(address).or_default().insert(slot, value);
        }
    }
}

/// The trie part of a view: its writes from the head's tries, and them as a lookup layer.
#[derive(Debug)]
struct TrieOverlay {
    writes: TrieWrites,
    layer: NodeLayer,
}

/// The state after block `hash` (see the module docs), from [`StoreReader::state_after`]. Reads
/// as a [`StateReader`] (flat: cheap at any depth), a [`NodeStore`] (builds the trie overlay on
/// first use, its root checked against the block's header) and a [`ChainReader`] (the store's).
pub struct StateView<'a> {
    reader: &'a StoreReader,
    hash: B256,
    header: Header,
    /// `None`: the view is of the head itself.
    flat: Option<DiffOverlay>,
    trie: OnceLock<Result<TrieOverlay, String>>,
}

impl std::fmt::Debug for StateView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateView")
            .field("hash", &self.hash)
            .field("number", &self.header.number)
            .finish_non_exhaustive()
    }
}

impl StoreReader {
    /// The state after block `hash`, canonical or on a side chain. With `max_depth = Some(w)` the
    /// block's fork point with the canonical chain must be at most `w` blocks below the head
    /// (else [`StoreError::StateUnavailable`]); `None` reaches any depth the store has reverts
    /// for (flat reads stay cheap; a trie overlay costs ∝ the keys changed since the block).
    pub fn state_after(
        &self,
        hash: B256,
        max_depth: Option<u64>,
    ) -> Result<StateView<'_>, StoreError> {
        let (head, head_header) = self
            .head()?
            .ok_or_else(|| StoreError::corrupt("meta", "no head"))?;
        if hash == head {
            return Ok(StateView {
                reader: self,
                hash,
                header: head_header,
                flat: None,
                trie: OnceLock::new(),
            });
        }
        let header = self.header(&hash)?.ok_or(StoreError::UnknownBlock(hash))?;
        let view = |flat| StateView {
            reader: self,
            hash,
            header: header.clone(),
            flat,
            trie: OnceLock::new(),
        };
        // Side blocks from `hash` down to the fork point, newest first.
        let mut side = Vec::new();
        let mut fork = (hash, header.number, header.parent_hash);
        while self.canonical_hash(fork.1)? != Some(fork.0) {
            side.push(fork.0);
            let parent = self
                .header(&fork.2)?
                .ok_or(StoreError::UnknownBlock(fork.2))?;
            fork = (fork.2, parent.number, parent.parent_hash);
        }
        let fork_number = fork.1;
        let depth = head_header.number.saturating_sub(fork_number);
        if let Some(window) = max_depth
            && depth > window
        {
            return Err(StoreError::StateUnavailable {
                block: header.number,
                window,
            });
        }
        let mut flat = DiffOverlay::default();
        for number in (fork_number + 1..=head_header.number).rev() {
            let block = self
                .canonical_hash(number)?
                .ok_or_else(|| StoreError::corrupt("canonical", format!("no block {number}")))?;
            let revert = self.state_revert(&block)?.ok_or(StoreError::StateNotKept {
                block: header.number,
            })?;
            flat.apply(&revert);
        }
        for block in side.iter().rev() {
            let diff = self
                .state_diff(block)?
                .ok_or_else(|| StoreError::corrupt("state diff", format!("missing for {block}")))?;
            flat.apply(&diff);
        }
        Ok(view(Some(flat)))
    }
}

impl<'a> StateView<'a> {
    /// The block whose post-state this is.
    pub fn hash(&self) -> B256 {
        self.hash
    }

    pub fn block_header(&self) -> &Header {
        &self.header
    }

    /// The store snapshot under the view.
    pub fn reader(&self) -> &'a StoreReader {
        self.reader
    }

    /// The trie writes that turn the head's tries into this view's (empty for the head): what a
    /// reorg to this block applies, composed with the blocks after it.
    pub fn trie_writes(&self) -> Result<&TrieWrites, StoreError> {
        Ok(&self.trie_overlay()?.writes)
    }

    fn trie_overlay(&self) -> Result<&TrieOverlay, StoreError> {
        self.trie
            .get_or_init(|| self.build_trie().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| StoreError::Trie(TrieError::Store(e.clone())))
    }

    /// Apply the flat overlay to the head's tries in memory; every storage root and the state
    /// root are checked against the view's accounts and header.
    fn build_trie(&self) -> Result<TrieOverlay, StoreError> {
        let Some(flat) = &self.flat else {
            return Ok(TrieOverlay {
                writes: TrieWrites::default(),
                layer: NodeLayer::default(),
            });
        };
        let (_, head) = self
            .reader
            .head()?
            .ok_or_else(|| StoreError::corrupt("meta", "no head"))?;
        let mut slots: BTreeMap<Address, Vec<(B256, U256)>> = BTreeMap::new();
        for (&address, values) in &flat.slots {
            slots
                .entry(address)
                .or_default()
                .extend(values.iter().map(|(&slot, &value)| (slot, value)));
        }
        for address in flat.accounts.keys().chain(&flat.cleared) {
            slots.entry(*address).or_default();
        }
        let mut storage = Vec::new();
        let mut wiped = Vec::new();
        for (address, slots) in slots {
            let owner = keccak256(address);
            let Some(account) = self.account(&address)? else {
                wiped.push(owner);
                continue;
            };
            let head_root = if flat.cleared.contains(&address) {
                wiped.push(owner);
                EMPTY_ROOT_HASH
            } else {
                self.reader
                    .account(&address)?
                    .map_or(EMPTY_ROOT_HASH, |a| a.storage_root)
            };
            if slots.is_empty() && head_root == account.storage_root {
                continue;
            }
            let mut trie = Trie::new_storage(self.reader, owner, head_root);
            for (slot, value) in slots {
                let key = keccak256(slot);
                if value.is_zero() {
                    trie.remove(key.as_slice())?;
                } else {
                    trie.insert(key.as_slice(), alloy_rlp::encode(value))?;
                }
            }
            let updates = trie.commit();
            if updates.root != account.storage_root {
                return Err(StoreError::corrupt(
                    "state history",
                    format!(
                        "storage of {address} after block {} rebuilds to {}, the account has {}",
                        self.header.number, updates.root, account.storage_root
                    ),
                ));
            }
            storage.push((owner, TrieDiff::from(updates)));
        }
        let mut trie = Trie::new(self.reader, head.state_root);
        for (address, account) in &flat.accounts {
            let key = keccak256(address);
            match account {
                Some(account) => trie.insert(key.as_slice(), alloy_rlp::encode(account))?,
                None => trie.remove(key.as_slice())?,
            }
        }
        let updates = trie.commit();
        if updates.root != self.header.state_root {
            return Err(StoreError::corrupt(
                "state history",
                format!(
                    "the state after block {} rebuilds to root {}, its header has {}",
                    self.header.number, updates.root, self.header.state_root
                ),
            ));
        }
        let writes = TrieWrites::new(TrieDiff::from(updates), storage, wiped);
        let layer = NodeLayer::new(&writes);
        Ok(TrieOverlay { writes, layer })
    }
}

impl StateReader for StateView<'_> {
    type Error = StoreError;

    fn account(&self, address: &Address) -> Result<Option<TrieAccount>, StoreError> {
        if let Some(account) = self.flat.as_ref().and_then(|f| f.accounts.get(address)) {
            return Ok(*account);
        }
        self.reader.account(address)
    }

    fn storage(&self, address: &Address, slot: &B256) -> Result<U256, StoreError> {
        if let Some(flat) = &self.flat {
            if let Some(value) = flat.slots.get(address).and_then(|s| s.get(slot)) {
                return Ok(*value);
            }
            if flat.cleared.contains(address) {
                return Ok(U256::ZERO);
            }
        }
        self.reader.storage(address, slot)
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StoreError> {
        self.reader.code(code_hash)
    }
}

impl NodeStore for StateView<'_> {
    fn node(
        &self,
        owner: Option<&B256>,
        path: &Nibbles,
        hash: &B256,
    ) -> Result<Option<Vec<u8>>, TrieError> {
        if self.flat.is_none() {
            return self.reader.node(owner, path, hash);
        }
        let overlay = self.trie_overlay().map_err(TrieError::from)?;
        overlay.layer.node_over(self.reader, owner, path, hash)
    }
}

impl ChainReader for StateView<'_> {
    type Error = StoreError;

    fn header(&self, hash: &B256) -> Result<Option<Header>, StoreError> {
        self.reader.header(hash)
    }
    fn body(&self, hash: &B256) -> Result<Option<BlockBody>, StoreError> {
        self.reader.body(hash)
    }
    fn receipts(&self, hash: &B256) -> Result<Option<Vec<Receipt>>, StoreError> {
        self.reader.receipts(hash)
    }
    fn receipt(&self, hash: &B256, index: u64) -> Result<Option<StoredReceipt>, StoreError> {
        self.reader.receipt(hash, index)
    }
    fn senders(&self, hash: &B256) -> Result<Option<Vec<Address>>, StoreError> {
        self.reader.senders(hash)
    }
    fn canonical_hash(&self, number: u64) -> Result<Option<B256>, StoreError> {
        self.reader.canonical_hash(number)
    }
    fn block_number(&self, hash: &B256) -> Result<Option<u64>, StoreError> {
        self.reader.block_number(hash)
    }
    fn tx_location(&self, tx_hash: &B256) -> Result<Option<(B256, u64)>, StoreError> {
        self.reader.tx_location(tx_hash)
    }
    fn head_hash(&self) -> Result<Option<B256>, StoreError> {
        self.reader.head_hash()
    }
    fn genesis_hash(&self) -> Result<Option<B256>, StoreError> {
        self.reader.genesis_hash()
    }
}
