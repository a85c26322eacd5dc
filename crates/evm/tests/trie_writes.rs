//! `compute_state_update`'s path-keyed `TrieWrites`, applied block after block to a path-keyed
//! store (wiped owners, removals, nodes), keep it equal to the stored nodes of the account trie
//! and every storage trie rebuilt from the flat state: storage tries under keccak256(address),
//! self-destructed and deleted accounts' tries wiped whole.

use std::collections::{BTreeMap, HashMap};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};
use keel_evm::{BundleState, TrieWrites, compute_state_update};
use keel_state::{StateError, StateReader};
use keel_trie::{EmptyNodeStore, Nibbles, NodeStore, Trie, TrieError, check_node};
use proptest::prelude::*;
use revm::{database::AccountStatus, state::AccountInfo};

type Nodes = BTreeMap<(Option<B256>, Nibbles), Vec<u8>>;

/// Flat state plus path-keyed trie nodes: what the store will hold.
#[derive(Default)]
struct World {
    accounts: BTreeMap<Address, TrieAccount>,
    storage: BTreeMap<(Address, B256), U256>,
    nodes: Nodes,
    root: B256,
}

#[derive(Debug, thiserror::Error)]
enum WorldError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Trie(#[from] TrieError),
}

impl StateReader for World {
    type Error = WorldError;
    fn account(&self, address: &Address) -> Result<Option<TrieAccount>, WorldError> {
        Ok(self.accounts.get(address).copied())
    }
    fn storage(&self, address: &Address, slot: &B256) -> Result<U256, WorldError> {
        Ok(self
            .storage
            .get(&(*address, *slot))
            .copied()
            .unwrap_or_default())
    }
    fn code(&self, _: &B256) -> Result<Option<Bytes>, WorldError> {
        Ok(None)
    }
}

impl NodeStore for World {
    fn node(
        &self,
        owner: Option<&B256>,
        path: &Nibbles,
        hash: &B256,
    ) -> Result<Option<Vec<u8>>, TrieError> {
        self.nodes
            .get(&(owner.copied(), *path))
            .map(|rlp| check_node(owner, path, hash, rlp.clone()))
            .transpose()
    }
}

impl World {
    fn apply(&mut self, root: B256, changes: &keel_state::StateChanges, trie: &TrieWrites) {
        // Flat state, in `StateChanges`' documented order.
        let cleared: Vec<Address> = changes
            .wiped_storage
            .iter()
            .copied()
            .chain(
                changes
                    .accounts
                    .iter()
                    .filter(|(_, a)| a.is_none())
                    .map(|(a, _)| *a),
            )
            .collect();
        self.storage.retain(|(a, _), _| !cleared.contains(a));
        for (address, account) in &changes.accounts {
            match account {
                Some(account) => self.accounts.insert(*address, *account),
                None => self.accounts.remove(address),
            };
        }
        for (address, slot, value) in &changes.storage {
            if value.is_zero() {
                self.storage.remove(&(*address, *slot));
            } else {
                self.storage.insert((*address, *slot), *value);
            }
        }
        // Trie, in `TrieWrites`' documented order.
        self.nodes
            .retain(|(owner, _), _| owner.is_none_or(|o| !trie.wiped.contains(&o)));
        let diffs = std::iter::once((None, &trie.account))
            .chain(trie.storage.iter().map(|(o, d)| (Some(*o), d)));
        for (owner, diff) in diffs {
            for path in &diff.removed {
                assert!(
                    self.nodes.remove(&(owner, *path)).is_some(),
                    "removing absent {owner:?} {path:?}"
                );
            }
            for (path, _, rlp) in &diff.nodes {
                self.nodes.insert((owner, *path), rlp.clone());
            }
        }
        self.root = root;
    }

    /// Every trie rebuilt from the flat state; their stored nodes must be exactly `nodes`.
    fn check(&self) {
        let mut expected = Nodes::new();
        let mut accounts = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
        for (address, account) in &self.accounts {
            let owner = keccak256(address);
            let mut storage = Trie::new_storage(EmptyNodeStore, owner, EMPTY_ROOT_HASH);
            for ((a, slot), value) in &self.storage {
                if a == address {
                    storage
                        .insert(keccak256(slot).as_slice(), alloy_rlp::encode(value))
                        .unwrap();
                }
            }
            let updates = storage.commit();
            assert_eq!(
                updates.root, account.storage_root,
                "storage root of {address}"
            );
            for (path, _, rlp) in updates.nodes {
                expected.insert((Some(owner), path), rlp);
            }
            accounts
                .insert(owner.as_slice(), alloy_rlp::encode(account))
                .unwrap();
        }
        let updates = accounts.commit();
        assert_eq!(updates.root, self.root);
        for (path, _, rlp) in updates.nodes {
            expected.insert((None, path), rlp);
        }
        let garbage: Vec<_> = self
            .nodes
            .keys()
            .filter(|k| !expected.contains_key(k))
            .collect();
        let missing: Vec<_> = expected
            .keys()
            .filter(|k| !self.nodes.contains_key(k))
            .collect();
        assert!(
            garbage.is_empty() && missing.is_empty(),
            "garbage {garbage:?}, missing {missing:?}"
        );
        assert_eq!(self.nodes, expected);
    }
}

/// What one block does to one account.
#[derive(Debug, Clone)]
enum Change {
    Slot(u8, u8),
    Balance(u8),
    Delete,
    /// Self-destruct and re-create with these slots.
    Recreate(Vec<(u8, u8)>),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        6 => (0u8..12, 0u8..3).prop_map(|(s, v)| Change::Slot(s, v)),
        2 => any::<u8>().prop_map(Change::Balance),
        1 => Just(Change::Delete),
        1 => prop::collection::vec((0u8..12, 1u8..3), 0..5).prop_map(Change::Recreate),
    ]
}

fn slot(i: u8) -> B256 {
    B256::with_last_byte(i)
}

fn info(account: &TrieAccount) -> AccountInfo {
    AccountInfo {
        balance: account.balance,
        nonce: account.nonce,
        code_hash: account.code_hash,
        ..Default::default()
    }
}

/// The bundle of a block applying `changes` (account index, change) to `world`.
fn bundle(world: &World, changes: &[(u8, Change)]) -> BundleState {
    let mut per_account: BTreeMap<u8, Vec<&Change>> = BTreeMap::new();
    for (i, c) in changes {
        per_account.entry(*i).or_default().push(c);
    }
    let mut state = Vec::new();
    let mut destroyed = Vec::new();
    for (i, changes) in per_account {
        let address = Address::with_last_byte(i);
        let original = world.accounts.get(&address).map(info);
        let mut present = original.clone().unwrap_or(AccountInfo {
            nonce: 1,
            ..Default::default()
        });
        let mut exists = true;
        let mut wiped = false;
        let mut slots: HashMap<U256, (U256, U256)> = HashMap::new();
        let current = |s: B256| {
            world
                .storage
                .get(&(address, s))
                .copied()
                .unwrap_or_default()
        };
        for change in changes {
            match change {
                Change::Slot(s, v) => {
                    let key = U256::from_be_bytes(slot(*s).0);
                    let original = if wiped { U256::ZERO } else { current(slot(*s)) };
                    slots.insert(key, (original, U256::from(*v)));
                    exists = true;
                }
                Change::Balance(b) => {
                    present.balance = U256::from(*b);
                    exists = true;
                }
                Change::Delete => {
                    exists = false;
                    wiped = true;
                    slots.clear();
                    present = AccountInfo {
                        nonce: 1,
                        ..Default::default()
                    };
                }
                Change::Recreate(new) => {
                    exists = true;
                    wiped = true;
                    slots.clear();
                    for (s, v) in new {
                        let key = U256::from_be_bytes(slot(*s).0);
                        slots.insert(key, (U256::ZERO, U256::from(*v)));
                    }
                }
            }
        }
        let present = exists.then_some(present);
        if original.is_none() && present.is_none() {
            continue;
        }
        if wiped {
            destroyed.push((address, present.is_some()));
        }
        state.push((address, original, present, slots.into_iter().collect()));
    }
    let mut bundle = BundleState::new(state, Vec::<Vec<(Address, _, Vec<_>)>>::new(), []);
    for (address, recreated) in destroyed {
        if let Some(account) = bundle.state.get_mut(&address) {
            account.status = if recreated {
                AccountStatus::DestroyedChanged
            } else {
                AccountStatus::Destroyed
            };
        }
    }
    bundle
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn trie_writes_keep_the_path_store_exact(
        blocks in prop::collection::vec(prop::collection::vec((0u8..5, change()), 0..20), 1..8),
    ) {
        let mut world = World { root: EMPTY_ROOT_HASH, ..Default::default() };
        for changes in &blocks {
            let bundle = bundle(&world, changes);
            let update = compute_state_update(&world, world.root, &bundle).unwrap();
            // Hash-keyed consumers see every node written.
            let written: usize = update.trie.account.nodes.len()
                + update.trie.storage.iter().map(|(_, d)| d.nodes.len()).sum::<usize>();
            prop_assert_eq!(update.trie.hashes().count(), written);
            world.apply(update.state_root, &update.changes, &update.trie);
            world.check();
        }
    }
}
