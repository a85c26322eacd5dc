//! The producer side of the L1→L2 path: deposits pushed to the mempool's privileged lane (as the
//! L1Watcher does) go first in the next blocks, in id order, within the per-block budget; gaps
//! wait, re-pushes add nothing, and the store's included marker follows, across a restart too.

mod common;

use alloy_eips::Typed2718;
use alloy_primitives::{Address, B256, U256, address, keccak256};
use common::{COINBASE, Node, balance, node_on, signed};
use keel_chain::BuiltBlock;
use keel_sequencer::{BlockProducerConfig, PrivilegedTxSink};
use keel_storage::Store;
use keel_types::{
    PrivilegedTx,
    dev::{DEFAULT_L2_CHAIN_ID, DEV_ACCOUNTS},
    rules::L2_BRIDGE_ADDRESS,
};

const TO: Address = address!("0x00000000000000000000000000000000000000aa");
const GWEI: u128 = 1_000_000_000;

/// The recipient of deposit `id`.
fn recipient(id: u64) -> Address {
    Address::left_padding_from(&(0xd000 + id).to_be_bytes())
}

/// What deposit `id` mints: distinct per id, so a duplicate would show in the balances.
fn amount(id: u64) -> U256 {
    U256::from(1_000_000_000_000_000u64 * (id + 1))
}

/// The L1 bridge's deposit `id`: the L2 bridge calls itself with `mintETH(recipient) ‖ depositor`.
fn deposit(id: u64) -> PrivilegedTx {
    let mut data = keccak256("mintETH(address)")[..4].to_vec();
    data.extend_from_slice(B256::left_padding_from(recipient(id).as_slice()).as_slice());
    data.extend_from_slice(Address::repeat_byte(0xd0).as_slice());
    PrivilegedTx {
        chain_id: DEFAULT_L2_CHAIN_ID,
        nonce: id,
        from: L2_BRIDGE_ADDRESS,
        to: L2_BRIDGE_ADDRESS,
        value: amount(id),
        gas_limit: 200_000,
        data: data.into(),
    }
}

fn deposits(ids: impl IntoIterator<Item = u64>) -> Vec<PrivilegedTx> {
    ids.into_iter().map(deposit).collect()
}

/// A producer configuration with the test coinbase.
fn config() -> BlockProducerConfig {
    BlockProducerConfig {
        coinbase: COINBASE,
        ..Default::default()
    }
}

fn in_memory(config: BlockProducerConfig) -> Node {
    node_on(Store::in_memory().expect("store"), None, config)
}

/// Store deposits `ids` as the L1Watcher does before handing them over (the included marker
/// can only cover stored ids).
fn record(node: &Node, ids: impl IntoIterator<Item = u64>) {
    node.chain
        .store()
        .record_privileged_txs(&deposits(ids), None)
        .expect("record");
}

fn produce(node: &Node) -> BuiltBlock {
    node.producer
        .produce_block()
        .expect("produce")
        .expect("a block")
}

/// The ids of the block's privileged txs, in block order.
fn privileged_ids(built: &BuiltBlock) -> Vec<u64> {
    built
        .block
        .body
        .transactions
        .iter()
        .filter_map(|tx| tx.as_privileged().map(|p| p.nonce))
        .collect()
}

fn included_up_to(node: &Node) -> Option<u64> {
    node.chain
        .store()
        .l1_watcher_progress()
        .expect("progress")
        .included_up_to
}

/// Every deposit in `ids` credited exactly once, the others not at all.
fn assert_credited(node: &Node, ids: std::ops::Range<u64>, upto: u64) {
    for id in 0..upto {
        let want = if ids.contains(&id) {
            amount(id)
        } else {
            U256::ZERO
        };
        assert_eq!(balance(&node.chain, recipient(id)), want, "deposit {id}");
    }
}

#[test]
fn deposits_go_first_in_id_order_then_the_ordinary_transactions() {
    let node = in_memory(config());
    // An ordinary transaction, paying a high tip, waits in the pool first.
    let ordinary = node
        .mempool
        .add_raw(&signed(
            0,
            0,
            TO,
            U256::from(5),
            Vec::new(),
            21_000,
            50 * GWEI,
        ))
        .expect("ordinary tx");
    record(&node, 0..3);
    node.mempool.push(deposits(0..3));
    assert_eq!(node.mempool.privileged_len(), 3);

    let built = produce(&node);
    let txs = &built.block.body.transactions;
    assert_eq!(txs.len(), 4);
    assert_eq!(privileged_ids(&built), vec![0, 1, 2]);
    assert!(txs[..3].iter().all(|tx| tx.is_privileged()));
    assert_eq!(
        *txs[3].tx_hash(),
        ordinary,
        "the ordinary tx comes after them"
    );
    for (tx, receipt) in txs[..3].iter().zip(&built.receipts) {
        assert_eq!(tx.ty(), 0x7e);
        assert_eq!(receipt.ty(), 0x7e);
        assert!(receipt.status(), "deposit {:?} succeeded", tx.tx_hash());
    }
    assert_eq!(built.receipts[3].ty(), 2);
    assert_credited(&node, 0..3, 4);
    assert_eq!(balance(&node.chain, TO), U256::from(5));
    assert_eq!(built.senders[..3], [L2_BRIDGE_ADDRESS; 3]);
    assert_eq!(built.senders[3], DEV_ACCOUNTS[0].0);

    // The lane and the pool are pruned, the marker follows.
    assert_eq!(node.mempool.privileged_len(), 0);
    assert!(node.mempool.is_empty());
    assert_eq!(node.mempool.privileged_next_id(), Some(3));
    assert_eq!(included_up_to(&node), Some(2));

    // A re-push of the same ids adds nothing: the next block has no deposit.
    assert_eq!(node.mempool.add_privileged(deposits(0..3)), 0);
    node.mempool.push(deposits(0..3));
    assert_eq!(node.mempool.privileged_len(), 0);
    let next = produce(&node);
    assert!(next.block.body.transactions.is_empty());
    assert_credited(&node, 0..3, 4);
}

#[test]
fn a_gap_holds_the_later_ids_back_until_it_is_filled() {
    let node = in_memory(config());
    record(&node, 0..4);
    node.mempool.push(deposits([0, 1]));
    node.mempool.push(deposits([3]));
    assert_eq!(node.mempool.privileged_len(), 3);
    assert_eq!(
        node.mempool
            .privileged_ready()
            .iter()
            .map(|tx| tx.nonce)
            .collect::<Vec<_>>(),
        vec![0, 1]
    );

    assert_eq!(privileged_ids(&produce(&node)), vec![0, 1]);
    assert_eq!(included_up_to(&node), Some(1));
    // Id 2 is missing: 3 waits.
    assert!(privileged_ids(&produce(&node)).is_empty());
    assert_eq!(node.mempool.privileged_len(), 1);
    assert_eq!(included_up_to(&node), Some(1));
    assert_credited(&node, 0..2, 4);

    node.mempool.push(deposits([2]));
    assert_eq!(privileged_ids(&produce(&node)), vec![2, 3]);
    assert_eq!(included_up_to(&node), Some(3));
    assert_eq!(node.mempool.privileged_len(), 0);
    assert_credited(&node, 0..4, 5);
}

#[test]
fn the_per_block_count_budget_splits_the_deposits_over_blocks() {
    let node = in_memory(BlockProducerConfig {
        max_privileged_txs_per_block: 2,
        ..config()
    });
    record(&node, 0..5);
    node.mempool.push(deposits(0..5));
    let mut split = Vec::new();
    let mut markers = Vec::new();
    for _ in 0..4 {
        split.push(privileged_ids(&produce(&node)));
        markers.push(included_up_to(&node));
    }
    assert_eq!(split, vec![vec![0, 1], vec![2, 3], vec![4], vec![]]);
    assert_eq!(markers, vec![Some(1), Some(3), Some(4), Some(4)]);
    assert_credited(&node, 0..5, 6);
}

#[test]
fn the_per_block_gas_budget_counts_gas_limits_but_always_lets_one_in() {
    // Each deposit reserves 200,000 gas: two don't fit 300,000, one always goes in.
    let node = in_memory(BlockProducerConfig {
        max_privileged_gas_per_block: Some(300_000),
        ..config()
    });
    record(&node, 0..3);
    node.mempool.push(deposits(0..3));
    node.mempool
        .add_raw(&signed(1, 0, TO, U256::from(1), Vec::new(), 21_000, GWEI))
        .expect("ordinary tx");
    let first = produce(&node);
    assert_eq!(privileged_ids(&first), vec![0]);
    assert_eq!(
        first.block.body.transactions.len(),
        2,
        "ordinary txs still fill the block"
    );
    assert_eq!(privileged_ids(&produce(&node)), vec![1]);

    let tiny = in_memory(BlockProducerConfig {
        max_privileged_gas_per_block: Some(1),
        ..config()
    });
    record(&tiny, 0..2);
    tiny.mempool.push(deposits(0..2));
    assert_eq!(privileged_ids(&produce(&tiny)), vec![0]);
    assert_eq!(privileged_ids(&produce(&tiny)), vec![1]);
}

#[test]
fn a_deposit_for_another_chain_is_refused() {
    let node = in_memory(config());
    let wrong = PrivilegedTx {
        chain_id: 1,
        ..deposit(0)
    };
    assert_eq!(node.mempool.add_privileged(vec![wrong]), 0);
    assert_eq!(node.mempool.privileged_len(), 0);
    assert!(privileged_ids(&produce(&node)).is_empty());
}

#[test]
fn skip_empty_makes_a_block_for_a_ready_deposit_only() {
    let node = in_memory(BlockProducerConfig {
        skip_empty: true,
        ..config()
    });
    record(&node, 0..2);
    node.mempool.push(deposits([1]));
    assert!(
        node.producer.produce_block().expect("produce").is_none(),
        "id 1 waits for id 0"
    );
    node.mempool.push(deposits([0]));
    assert_eq!(privileged_ids(&produce(&node)), vec![0, 1]);
    assert!(node.producer.produce_block().expect("produce").is_none());
}

#[test]
fn after_a_restart_the_watchers_re_push_includes_nothing_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("keel.redb");

    // First run: deposits 0 and 1 are stored and included; the marker follows.
    {
        let node = node_on(Store::open(&path).expect("store"), None, config());
        record(&node, 0..2);
        node.mempool.push(deposits(0..2));
        assert_eq!(privileged_ids(&produce(&node)), vec![0, 1]);
        assert_eq!(included_up_to(&node), Some(1));
        // Deposit 2 arrives but no block includes it before the node stops.
        record(&node, [2]);
        node.mempool.push(deposits([2]));
    }

    // Restart: a new mempool and producer on the same store. The watcher hands over again what
    // the store holds above the marker, and (a late duplicate) ids 0 and 1 come again too.
    let node = node_on(Store::open(&path).expect("reopen"), None, config());
    assert_eq!(node.mempool.privileged_next_id(), Some(2));
    let pending = node
        .chain
        .store()
        .pending_privileged_txs()
        .expect("pending");
    assert_eq!(pending, deposits([2]));
    node.mempool.push(pending);
    assert_eq!(node.mempool.add_privileged(deposits(0..3)), 0);
    let built = produce(&node);
    assert_eq!(privileged_ids(&built), vec![2]);
    assert_eq!(included_up_to(&node), Some(2));
    assert_credited(&node, 0..3, 4);
}

#[test]
fn a_marker_behind_the_chain_is_caught_up_from_the_chain_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("keel.redb");

    // First run: deposits 0..3 are included, but the marker is never written (as after a crash
    // between the block write and the marker write; here the watcher's store hasn't recorded
    // the ids, so the producer can't mark them).
    {
        let node = node_on(Store::open(&path).expect("store"), None, config());
        node.mempool.push(deposits(0..3));
        assert_eq!(privileged_ids(&produce(&node)), vec![0, 1, 2]);
        assert_eq!(included_up_to(&node), None);
    }

    // Restart: the lane starts at id 0 (no marker). The watcher re-pushes ids 0..4 (all stored,
    // none marked): 0..3 are found in the chain and ignored, only 3 is added.
    let node = node_on(Store::open(&path).expect("reopen"), None, config());
    assert_eq!(node.mempool.privileged_next_id(), Some(0));
    record(&node, 0..4);
    let pending = node
        .chain
        .store()
        .pending_privileged_txs()
        .expect("pending");
    assert_eq!(pending.len(), 4);
    assert_eq!(node.mempool.add_privileged(pending), 1);
    assert_eq!(node.mempool.privileged_next_id(), Some(3));
    let built = produce(&node);
    assert_eq!(privileged_ids(&built), vec![3]);
    assert_eq!(included_up_to(&node), Some(3));
    assert_credited(&node, 0..4, 5);
}

/// Issue 12 item 2: a deposit whose gas limit exceeds the block gas limit can never run. It opens
/// a block (the lane's gas budget, or the builder, keeps it out of a block it wouldn't be first
/// in), goes in as failed (no mint, no delivery), and the deposits after it follow: the lane
/// never stalls.
#[test]
fn a_deposit_above_the_block_gas_limit_is_included_as_failed_and_the_lane_goes_on() {
    for max_privileged_gas_per_block in [None, Some(u64::MAX)] {
        let node = in_memory(BlockProducerConfig {
            max_privileged_gas_per_block,
            ..config()
        });
        let block_gas_limit = keel_types::dev::DEV_GAS_LIMIT;
        let oversize = PrivilegedTx {
            gas_limit: block_gas_limit + 1,
            ..deposit(1)
        };
        let txs = vec![deposit(0), oversize.clone(), deposit(2), deposit(3)];
        node.chain
            .store()
            .record_privileged_txs(&txs, None)
            .expect("record");
        node.mempool.push(txs);

        let mut blocks = Vec::new();
        while node.mempool.privileged_len() > 0 {
            assert!(blocks.len() < 4, "the lane is stuck: {blocks:?}");
            let built = produce(&node);
            for (tx, receipt) in built.block.body.transactions.iter().zip(&built.receipts) {
                let want = *tx.tx_hash() != oversize.hash();
                assert_eq!(receipt.status(), want, "{:?}", tx.tx_hash());
            }
            blocks.push(privileged_ids(&built));
        }
        // With the default budget (a quarter of the block) the lane itself stops after it; with
        // no budget the builder sends it to the next block, where the others follow it.
        let want: Vec<Vec<u64>> = match max_privileged_gas_per_block {
            None => vec![vec![0], vec![1], vec![2, 3]],
            Some(_) => vec![vec![0], vec![1, 2, 3]],
        };
        assert_eq!(blocks, want, "{max_privileged_gas_per_block:?}");
        assert_eq!(included_up_to(&node), Some(3));
        assert_eq!(
            balance(&node.chain, recipient(1)),
            U256::ZERO,
            "nothing minted"
        );
        assert_eq!(balance(&node.chain, L2_BRIDGE_ADDRESS), U256::ZERO);
        for id in [0, 2, 3] {
            assert_eq!(balance(&node.chain, recipient(id)), amount(id));
        }
    }
}
