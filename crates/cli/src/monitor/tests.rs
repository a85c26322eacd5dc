//! The monitor on real node data: a dev chain on a redb store in a temporary directory, blocks
//! made by the BlockProducer (a transfer, a deposit, a withdrawal), a batch sealed by the
//! BatchSealer and recorded as committed, a second deposit seen but not included; the
//! [`Collector`] reads it and [`ui::render`] draws it on ratatui's `TestBackend`.

use std::{sync::Arc, time::Duration};

use alloy::{
    eips::Encodable2718,
    signers::{SignerSync, local::PrivateKeySigner},
};
use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_primitives::{Address, Bytes, TxKind, U256, keccak256};
use keel_chain::{Blockchain, Mempool, MempoolConfig};
use keel_sequencer::{
    BatchSealer, BatchSealerConfig, BlockProducer, BlockProducerConfig, l1_watcher::L1WatcherStatus,
};
use keel_storage::{Store, batches::BatchCommit};
use keel_types::{ChainSpec, PrivilegedTx, Transaction, dev, rules::L2_BRIDGE_ADDRESS};
use ratatui::{Terminal, backend::TestBackend};

use super::{
    data::{Collector, Sources, WithdrawalStatus},
    logs::LogBuffer,
    ui::{self, NodeInfo, View},
};

/// An EIP-1559 transaction from dev account `i`, signed and encoded.
fn signed(i: usize, nonce: u64, to: Address, value: U256, input: Vec<u8>, gas: u64) -> Vec<u8> {
    let tx = TxEip1559 {
        chain_id: dev::DEFAULT_L2_CHAIN_ID,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(to),
        value,
        access_list: Default::default(),
        input: Bytes::from(input),
    };
    let signer = PrivateKeySigner::from_bytes(&dev::DEV_ACCOUNTS[i].1).expect("key");
    let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    Transaction::from(tx.into_signed(sig)).encoded_2718()
}

fn withdraw_input(receiver: Address) -> Vec<u8> {
    let mut input = keccak256("withdraw(address)")[..4].to_vec();
    input.extend_from_slice(&[0u8; 12]);
    input.extend_from_slice(receiver.as_slice());
    input
}

fn deposit(id: u64) -> PrivilegedTx {
    PrivilegedTx {
        chain_id: dev::DEFAULT_L2_CHAIN_ID,
        nonce: id,
        from: L2_BRIDGE_ADDRESS,
        to: Address::repeat_byte(0x33),
        value: U256::from(1_000_000_000u64),
        gas_limit: 100_000,
        data: Bytes::new(),
    }
}

/// The text of a rendered frame, one string per row.
fn rows(terminal: &Terminal<TestBackend>) -> Vec<String> {
    let buffer = terminal.backend().buffer();
    let width = buffer.area.width as usize;
    buffer
        .content
        .chunks(width)
        .map(|row| row.iter().map(|cell| cell.symbol()).collect())
        .collect()
}

fn row_with<'a>(rows: &'a [String], needle: &str) -> &'a str {
    rows.iter()
        .find(|row| row.contains(needle))
        .unwrap_or_else(|| panic!("no row shows {needle:?}:\n{}", rows.join("\n")))
}

#[test]
fn renders_heads_batches_deposits_and_withdrawals_of_a_real_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("keel.redb")).expect("redb store");
    let genesis = dev::dev_genesis();
    let spec = ChainSpec::from_genesis(&genesis).expect("spec");
    let chain = Blockchain::open(store, &genesis, spec).expect("chain");
    let mempool = Arc::new(Mempool::new(MempoolConfig::default(), chain.clone()));
    let producer = BlockProducer::new(
        BlockProducerConfig::default(),
        chain.clone(),
        mempool.clone(),
    );
    let produce = || producer.produce_block().expect("produce").expect("a block");
    let (l1_tx, l1_rx) = tokio::sync::watch::channel(L1WatcherStatus::default());
    let mut collector = Collector::new(Sources {
        chain: chain.clone(),
        mempool: Some(mempool.clone()),
        l1_status: Some(l1_rx),
    });
    assert_eq!(collector.collect().l2_head, 0, "the genesis");

    // Block 1: a transfer. Block 2: deposit 0 and a withdrawal.
    mempool
        .add_raw(&signed(
            0,
            0,
            Address::repeat_byte(0x11),
            U256::from(5),
            vec![],
            21_000,
        ))
        .expect("transfer");
    produce();
    chain
        .store()
        .record_privileged_txs(&[deposit(0)], Some(100))
        .expect("record deposit 0");
    mempool.add_privileged(vec![deposit(0)]);
    let withdrawal = signed(
        1,
        0,
        L2_BRIDGE_ADDRESS,
        U256::from(1_000_000_000u64),
        withdraw_input(Address::repeat_byte(0xa1)),
        200_000,
    );
    mempool.add_raw(&withdrawal).expect("withdrawal");
    let block2 = produce();
    assert_eq!(block2.block.body.transactions.len(), 2);
    // Batch 1 = blocks 1..=2, committed on L1 at block 1200.
    let sealer = BatchSealer::new(BatchSealerConfig::default(), chain.clone());
    let batches = sealer.seal_now().expect("seal");
    assert_eq!(batches.len(), 1);
    chain
        .store()
        .mark_batch_committed(
            1,
            &BatchCommit {
                tx_hash: keccak256("commit"),
                l1_block: 1200,
            },
        )
        .expect("commit");
    // Deposit 1: seen on L1, in the pool, not included yet.
    chain
        .store()
        .record_privileged_txs(&[deposit(1)], Some(110))
        .expect("record deposit 1");
    mempool.add_privileged(vec![deposit(1)]);
    l1_tx.send_replace(L1WatcherStatus {
        l1_head: Some(1234),
        l1_cursor: Some(1230),
        ..Default::default()
    });

    let snapshot = collector.collect().clone();
    assert_eq!(snapshot.error, None);
    assert_eq!(snapshot.l2_head, 2);
    assert_eq!(snapshot.l2_head_hash, block2.hash);
    assert_eq!(
        snapshot.blocks.iter().map(|b| b.number).collect::<Vec<_>>(),
        [2, 1, 0]
    );
    assert_eq!(snapshot.deposits.seen, 2);
    assert_eq!(snapshot.deposits.included, 1);
    assert_eq!(snapshot.deposits.waiting(), 1);
    assert_eq!(snapshot.batches.sealed, 1);
    assert_eq!(snapshot.batches.committed, 1);
    assert_eq!(snapshot.batches.verified, 0);
    assert_eq!(snapshot.withdrawals.len(), 1);
    assert_eq!(snapshot.withdrawals[0].block, 2);
    assert_eq!(
        snapshot.withdrawals[0].status,
        WithdrawalStatus::Committed(1)
    );

    let logs = LogBuffer::new(100);
    logs.push(
        "2026-12-04T23:00:00Z  INFO keel_sequencer::block_producer: block produced number=2\n",
    );
    let node = NodeInfo {
        fields: vec![("HTTP RPC".into(), "http://127.0.0.1:1729".into())],
        banner: "keel L2 node running\n    (0) 0xf39F  key 0xac09\n".into(),
    };
    let mut terminal = Terminal::new(TestBackend::new(160, 50)).expect("terminal");
    terminal
        .draw(|frame| ui::render(frame, &snapshot, &node, &logs, &View::default()))
        .expect("draw");
    let screen = rows(&terminal);
    let text = screen.join("\n");
    // The heads.
    assert!(
        row_with(&screen, "L2 head").contains(&format!("#2  {}", ui::short_hash(&block2.hash))),
        "{text}"
    );
    assert!(
        row_with(&screen, "L1 head").contains("#1234  (read up to #1230)"),
        "{text}"
    );
    // The batch, committed, and what waits.
    assert!(
        row_with(&screen, "sealed").contains("#1 (blocks 1–2)"),
        "{text}"
    );
    assert!(
        row_with(&screen, "committed").contains("#1 (blocks 1–2, at L1 #1200)"),
        "{text}"
    );
    assert!(row_with(&screen, "verified").contains("none"), "{text}");
    // The deposits: two seen, one included, one waiting in the pool.
    assert!(text.contains("deposits   2 seen on L1"), "{text}");
    assert!(text.contains("  included 1 "), "{text}");
    assert!(text.contains("  waiting  1 (1 in the pool)"), "{text}");
    assert!(text.contains("privileged 1 "), "{text}");
    assert!(
        text.contains("waiting    0 to commit, 1 to verify"),
        "{text}"
    );
    // Block 2 with its deposit, and the withdrawal with its batch's status.
    assert!(
        row_with(&screen, "2 (1 L1)")
            .contains(&format!("#2         {}", ui::short_hash(&block2.hash))),
        "{text}"
    );
    let tx_hash = keccak256(&withdrawal);
    assert!(
        row_with(&screen, "batch #1 committed, awaiting proof")
            .contains(&format!("#2         {tx_hash:#x}")),
        "{text}"
    );
    // The node's addresses and the log pane.
    assert!(text.contains("http://127.0.0.1:1729"), "{text}");
    assert!(text.contains("block produced number=2"), "{text}");

    // `k` shows the whole banner, keys included.
    terminal
        .draw(|frame| {
            ui::render(
                frame,
                &snapshot,
                &node,
                &logs,
                &View {
                    show_banner: true,
                    log_scroll: 0,
                },
            )
        })
        .expect("draw");
    assert!(
        rows(&terminal)
            .join("\n")
            .contains("(0) 0xf39F  key 0xac09")
    );

    // A refresh with nothing new reads no block; a new block moves the head and the rates.
    std::thread::sleep(Duration::from_millis(600));
    produce();
    let snapshot = collector.collect().clone();
    assert_eq!(snapshot.l2_head, 3);
    assert_eq!(snapshot.blocks.first().map(|b| b.number), Some(3));
    assert_eq!(snapshot.deposits.included, 2, "deposit 1 went into block 3");
    let blocks_per_sec = snapshot.rates.blocks.expect("a block rate after 0.6 s");
    assert!(blocks_per_sec > 0.0, "{blocks_per_sec}");
}
