//! The block producer's metric series move with the blocks it makes: blocks, transactions, gas,
//! the head, the build and phase times, the deposits it includes and their inclusion lag.

mod common;

use alloy_primitives::{Address, B256, U256, address, keccak256};
use common::{Node, node, recorder::recorder, recorder::series as value, signed};
use keel_sequencer::PrivilegedTxSink;
use keel_types::{PrivilegedTx, dev::DEFAULT_L2_CHAIN_ID, rules::L2_BRIDGE_ADDRESS};

const TO: Address = address!("0x00000000000000000000000000000000000000aa");

fn deposit(id: u64) -> PrivilegedTx {
    let mut data = keccak256("mintETH(address)")[..4].to_vec();
    data.extend_from_slice(B256::left_padding_from(TO.as_slice()).as_slice());
    data.extend_from_slice(Address::repeat_byte(0xd0).as_slice());
    PrivilegedTx {
        chain_id: DEFAULT_L2_CHAIN_ID,
        nonce: id,
        from: L2_BRIDGE_ADDRESS,
        to: L2_BRIDGE_ADDRESS,
        value: U256::from(1_000 + id),
        gas_limit: 200_000,
        data: data.into(),
    }
}

#[test]
fn produced_blocks_move_the_block_and_deposit_series() {
    let Node {
        chain: _,
        mempool,
        producer,
    } = node(None, false);
    let (recorder, handle) = recorder();
    let (first, second) = metrics::with_local_recorder(&recorder, || {
        mempool
            .add_raw(&signed(0, 0, TO, U256::from(1), Vec::new(), 21_000, 1))
            .expect("tx");
        // Deposit 0 with its L1 block timestamp known (as the L1Watcher notes it), 1 without.
        let l1_time = 1_000;
        mempool.l1_timestamps(&[(0, l1_time)]);
        mempool.push(vec![deposit(0), deposit(1)]);
        let first = producer.produce_block().expect("build").expect("block");
        let second = producer.produce_block().expect("build").expect("block");
        (first, second)
    });
    let text = handle.render();
    let v = |s: &str| value(&text, s);
    assert_eq!(
        first.block.body.transactions.len(),
        3,
        "two deposits and a transfer"
    );
    assert_eq!(v("keel_blocks_produced_total"), Some(2.0), "{text}");
    assert_eq!(v("keel_block_transactions_total"), Some(3.0), "{text}");
    let gas = first.block.header.gas_used + second.block.header.gas_used;
    assert!(gas > 21_000);
    assert_eq!(v("keel_block_gas_used_total"), Some(gas as f64), "{text}");
    assert_eq!(v("keel_l2_head_block"), Some(2.0), "{text}");
    for histogram in [
        "keel_block_build_duration_seconds",
        "keel_block_execute_duration_seconds",
        "keel_block_state_root_duration_seconds",
        "keel_block_store_duration_seconds",
    ] {
        assert_eq!(
            v(&format!("{histogram}_count")),
            Some(2.0),
            "{histogram}: {text}"
        );
    }
    assert_eq!(v("keel_deposits_included_total"), Some(2.0), "{text}");
    // One lag sample: the deposit whose L1 timestamp was known.
    assert_eq!(
        v("keel_deposit_inclusion_lag_seconds_count"),
        Some(1.0),
        "{text}"
    );
    let lag = first.block.header.timestamp - 1_000;
    assert_eq!(
        v("keel_deposit_inclusion_lag_seconds_sum"),
        Some(lag as f64),
        "{text}"
    );
}
