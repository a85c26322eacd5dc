//! The mempool's rules, on the dev chain in an in-memory store.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEip4844, TxLegacy};
use alloy_eips::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use keel_storage::Store;
use keel_types::{ChainSpec, PrivilegedTx, Transaction, dev};

use super::*;
use crate::{BlockAttributes, Blockchain};

const TO: Address = address!("0x00000000000000000000000000000000000000aa");
const GWEI: u128 = 1_000_000_000;

fn chain() -> Blockchain {
    let genesis = dev::dev_genesis();
    let spec = ChainSpec::from_genesis(&genesis).expect("spec");
    Blockchain::open(Store::in_memory().expect("store"), &genesis, spec).expect("chain")
}

fn pool_with(config: MempoolConfig) -> Mempool {
    Mempool::new(config, chain())
}

fn pool() -> Mempool {
    pool_with(MempoolConfig::default())
}

fn signer(i: usize) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&dev::DEV_ACCOUNTS[i].1).expect("key")
}

fn tx1559(nonce: u64, max_fee: u128, tip: u128) -> TxEip1559 {
    TxEip1559 {
        chain_id: dev::DEFAULT_L2_CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(TO),
        value: U256::from(1),
        access_list: Default::default(),
        input: Bytes::new(),
    }
}

fn sign(signer: &PrivateKeySigner, tx: TxEip1559) -> Vec<u8> {
    let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    Transaction::from(tx.into_signed(sig)).encoded_2718()
}

fn transfer(i: usize, nonce: u64, tip: u128) -> Vec<u8> {
    sign(&signer(i), tx1559(nonce, 10 * GWEI, tip))
}

#[test]
fn accepts_a_valid_transfer_and_reports_it_pending() {
    let pool = pool();
    let hash = pool.add_raw(&transfer(0, 0, GWEI)).expect("accepted");
    assert!(pool.get(&hash).is_some());
    assert_eq!(
        pool.status(),
        PoolStatus {
            pending: 1,
            queued: 0
        }
    );
    assert_eq!(pool.pending_nonce(&dev::DEV_ACCOUNTS[0].0), Some(1));
    assert_eq!(
        pool.add_raw(&transfer(0, 0, GWEI)),
        Err(MempoolError::AlreadyKnown)
    );
}

#[test]
fn a_nonce_gap_is_queued_until_filled() {
    let pool = pool();
    pool.add_raw(&transfer(0, 2, GWEI)).expect("future nonce");
    assert_eq!(
        pool.status(),
        PoolStatus {
            pending: 0,
            queued: 1
        }
    );
    assert_eq!(pool.pending_nonce(&dev::DEV_ACCOUNTS[0].0), None);
    pool.add_raw(&transfer(0, 0, GWEI)).expect("nonce 0");
    pool.add_raw(&transfer(0, 1, GWEI)).expect("nonce 1");
    assert_eq!(
        pool.status(),
        PoolStatus {
            pending: 3,
            queued: 0
        }
    );
    assert_eq!(pool.pending_nonce(&dev::DEV_ACCOUNTS[0].0), Some(3));
}

#[test]
fn rejects_with_geth_messages() {
    let pool = pool();
    let s = signer(1);
    let msg = |raw: Vec<u8>| pool.add_raw(&raw).expect_err("rejected").to_string();

    let mut low_gas = tx1559(0, 10 * GWEI, GWEI);
    low_gas.gas_limit = 20_000;
    assert!(msg(sign(&s, low_gas)).starts_with("intrinsic gas too low"));

    let mut big_data = tx1559(0, 10 * GWEI, GWEI);
    big_data.input = Bytes::from(vec![1u8; 200]);
    assert!(msg(sign(&s, big_data)).starts_with("intrinsic gas too low"));

    assert!(msg(sign(&s, tx1559(0, 1, 1))).starts_with("max fee per gas less than block base fee"));

    let mut rich = tx1559(0, 10 * GWEI, GWEI);
    rich.value = dev::dev_balance();
    assert!(msg(sign(&s, rich)).starts_with("insufficient funds for gas * price + value"),);

    let mut wrong_chain = tx1559(0, 10 * GWEI, GWEI);
    wrong_chain.chain_id = 1;
    assert!(msg(sign(&s, wrong_chain)).starts_with("invalid chain id for signer"));

    assert_eq!(
        msg(sign(&s, tx1559(0, GWEI, 2 * GWEI))),
        "max priority fee per gas higher than max fee per gas"
    );

    // A corrupted signature: recovery fails or yields another (unfunded) account.
    let mut raw = transfer(1, 0, GWEI);
    let len = raw.len();
    raw[len - 5] ^= 0xff;
    let err = msg(raw);
    assert!(
        err.starts_with("invalid sender") || err.starts_with("insufficient funds"),
        "{err}"
    );

    let mut huge = tx1559(0, 10 * GWEI, GWEI);
    huge.input = Bytes::from(vec![1u8; 130 * 1024]);
    huge.gas_limit = 30_000_000;
    assert!(msg(sign(&s, huge)).starts_with("oversized data"));

    let blob = TxEip4844 {
        chain_id: dev::DEFAULT_L2_CHAIN_ID,
        gas_limit: 21_000,
        max_fee_per_gas: 10 * GWEI,
        max_fee_per_blob_gas: 10 * GWEI,
        blob_versioned_hashes: vec![B256::repeat_byte(1)],
        ..Default::default()
    };
    let sig = s.sign_hash_sync(&blob.signature_hash()).expect("sign");
    let raw = Transaction::from(blob.into_signed(sig)).encoded_2718();
    assert!(msg(raw).contains("blob transactions"));

    assert!(msg(vec![0x7e, 0xc0]).contains("privileged transactions"));
    assert!(msg(vec![0x02, 0x01]).starts_with("failed to decode"));
    assert!(msg(vec![]).starts_with("failed to decode"));

    let legacy = TxLegacy {
        chain_id: None,
        gas_price: 10 * GWEI,
        gas_limit: 21_000,
        to: TxKind::Call(TO),
        ..Default::default()
    };
    let sig = s.sign_hash_sync(&legacy.signature_hash()).expect("sign");
    let raw = Transaction::from(legacy.into_signed(sig)).encoded_2718();
    assert!(msg(raw).starts_with("only replay-protected"));

    // Nothing was admitted by any of these.
    assert!(pool.is_empty());
}

#[test]
fn min_tip_makes_cheap_transactions_underpriced() {
    let pool = pool_with(MempoolConfig {
        min_tip: GWEI,
        ..Default::default()
    });
    let err = pool
        .add_raw(&transfer(0, 0, GWEI / 2))
        .expect_err("underpriced");
    assert!(
        err.to_string().starts_with("transaction underpriced"),
        "{err}"
    );
    pool.add_raw(&transfer(0, 0, GWEI)).expect("at the minimum");
}

#[test]
fn replacement_needs_a_ten_percent_bump() {
    let pool = pool();
    let s = signer(0);
    let first = pool
        .add_raw(&sign(&s, tx1559(0, 10 * GWEI, GWEI)))
        .expect("first");
    let err = pool
        .add_raw(&sign(&s, tx1559(0, 10 * GWEI + GWEI / 2, GWEI + GWEI / 2)))
        .expect_err("5% bump");
    assert_eq!(err, MempoolError::ReplacementUnderpriced);
    assert_eq!(err.to_string(), "replacement transaction underpriced");
    let second = pool
        .add_raw(&sign(&s, tx1559(0, 11 * GWEI, GWEI + GWEI / 10)))
        .expect("10% bump");
    assert!(pool.get(&first).is_none());
    assert!(pool.get(&second).is_some());
    assert_eq!(pool.len(), 1);
}

#[test]
fn nonce_too_low_after_inclusion() {
    let chain = chain();
    let pool = Mempool::new(MempoolConfig::default(), chain.clone());
    pool.add_raw(&transfer(0, 0, GWEI)).expect("nonce 0");
    let base_fee = chain.next_base_fee().expect("base fee");
    let mut best = pool.best_transactions(base_fee);
    let built = chain.build_block(&attributes(1), &mut best).expect("block");
    assert_eq!(built.block.body.transactions.len(), 1);
    pool.on_new_block(&built.block, &built.senders, &best.invalid)
        .expect("prune");
    assert!(pool.is_empty());
    let err = pool
        .add_raw(&transfer(0, 0, 2 * GWEI))
        .expect_err("spent nonce");
    assert_eq!(
        err.to_string(),
        format!(
            "nonce too low: address {}, tx: 0 state: 1",
            dev::DEV_ACCOUNTS[0].0
        )
    );
}

fn attributes(timestamp: u64) -> BlockAttributes {
    BlockAttributes {
        timestamp,
        gas_limit: dev::DEV_GAS_LIMIT,
        ..Default::default()
    }
}

#[test]
fn per_sender_limit_keeps_the_lowest_nonces() {
    let pool = pool_with(MempoolConfig {
        max_per_sender: 3,
        ..Default::default()
    });
    let sender = dev::DEV_ACCOUNTS[0].0;
    pool.add_raw(&transfer(0, 0, GWEI)).expect("nonce 0");
    pool.add_raw(&transfer(0, 1, GWEI)).expect("nonce 1");
    let far = pool.add_raw(&transfer(0, 2, GWEI + 1)).expect("nonce 2");
    // Full: a nonce beyond the sender's window is refused...
    let err = pool
        .add_raw(&transfer(0, 3, GWEI))
        .expect_err("over the limit");
    assert!(matches!(err, MempoolError::NonceTooHigh { .. }), "{err}");
    // ...and nothing changed.
    assert_eq!(pool.len(), 3);
    assert!(pool.get(&far).is_some());
    assert_eq!(pool.pending_nonce(&sender), Some(3));
}

#[test]
fn a_full_pool_evicts_the_cheapest_for_a_better_offer() {
    let pool = pool_with(MempoolConfig {
        max_txs: 2,
        ..Default::default()
    });
    let s0 = signer(0);
    let s1 = signer(1);
    let s2 = signer(2);
    let cheap = pool
        .add_raw(&sign(&s0, tx1559(0, 5 * GWEI, GWEI)))
        .expect("cheap");
    pool.add_raw(&sign(&s1, tx1559(0, 10 * GWEI, GWEI)))
        .expect("dear");
    let err = pool
        .add_raw(&sign(&s2, tx1559(0, 4 * GWEI, GWEI)))
        .expect_err("cheaper than all");
    assert_eq!(err, MempoolError::PoolFullUnderpriced);
    assert!(err.to_string().starts_with("transaction underpriced"));
    pool.add_raw(&sign(&s2, tx1559(0, 20 * GWEI, GWEI)))
        .expect("better offer");
    assert!(pool.get(&cheap).is_none(), "the cheapest was evicted");
    assert_eq!(pool.len(), 2);
}

#[test]
fn arrivals_offer_only_senders_heard_from_since_each_after_what_the_block_holds() {
    let pool = pool();
    let (a0, a1, a2) = (
        dev::DEV_ACCOUNTS[0].0,
        dev::DEV_ACCOUNTS[1].0,
        dev::DEV_ACCOUNTS[2].0,
    );
    pool.add_raw(&transfer(0, 0, GWEI)).expect("s0 n0");
    pool.add_raw(&transfer(1, 0, GWEI)).expect("s1 n0");
    let mut since = pool.next_arrival();
    // After the block's candidates were taken: sender 0 sends nonce 1 and 2, sender 2 nonce 0;
    // the block holds sender 0's nonce 0 (and 1, say), sender 2 is stopped.
    pool.add_raw(&transfer(0, 1, GWEI)).expect("s0 n1");
    pool.add_raw(&transfer(0, 2, GWEI)).expect("s0 n2");
    pool.add_raw(&transfer(2, 0, GWEI)).expect("s2 n0");
    let next_nonce = std::collections::HashMap::from([(a0, 2)]);
    let stopped = std::collections::HashSet::from([a2]);
    let offered: Vec<(Address, u64)> = pool
        .arrived_since(GWEI as u64, &mut since, &next_nonce, &stopped)
        .map(|tx| (tx.sender, tx.nonce))
        .collect();
    assert_eq!(
        offered,
        vec![(a0, 2)],
        "not sender 1 (nothing new), not sender 2 (stopped)"
    );
    assert_eq!(since, pool.next_arrival());
    // Nothing arrived since: nothing offered.
    let none = pool.arrived_since(GWEI as u64, &mut since, &next_nonce, &stopped);
    assert_eq!(none.remaining(), 0);
    pool.add_raw(&transfer(1, 1, GWEI)).expect("s1 n1");
    let offered: Vec<(Address, u64)> = pool
        .arrived_since(GWEI as u64, &mut since, &next_nonce, &stopped)
        .map(|tx| (tx.sender, tx.nonce))
        .collect();
    // Sender 1's whole pending run: the block holds none of it.
    assert_eq!(offered, vec![(a1, 0), (a1, 1)]);
}

#[test]
fn best_transactions_order_by_tip_and_keep_nonce_order() {
    let pool = pool();
    // Sender 0: two txs, tip 1 then 5 gwei; sender 1: one tx, tip 3 gwei.
    pool.add_raw(&sign(&signer(0), tx1559(0, 100 * GWEI, GWEI)))
        .expect("s0 n0");
    pool.add_raw(&sign(&signer(0), tx1559(1, 100 * GWEI, 5 * GWEI)))
        .expect("s0 n1");
    pool.add_raw(&sign(&signer(1), tx1559(0, 100 * GWEI, 3 * GWEI)))
        .expect("s1 n0");
    let order: Vec<(Address, u64)> = pool
        .best_transactions(GWEI as u64)
        .map(|tx| (tx.sender, tx.nonce))
        .collect();
    let (a0, a1) = (dev::DEV_ACCOUNTS[0].0, dev::DEV_ACCOUNTS[1].0);
    assert_eq!(order, vec![(a1, 0), (a0, 0), (a0, 1)]);
}

#[test]
fn the_builder_skips_and_the_pool_drops_invalid_transactions() {
    let chain = chain();
    let pool = Mempool::new(MempoolConfig::default(), chain.clone());
    // Dev account 3 sends almost all it has, twice: the second can't pay once the first ran.
    let s = signer(3);
    let mut all = tx1559(0, 10 * GWEI, GWEI);
    all.value = dev::dev_balance() - U256::from(10u64 * 21_000 * 10 * GWEI as u64);
    pool.add_raw(&sign(&s, all.clone())).expect("first");
    all.nonce = 1;
    let second = pool
        .add_raw(&sign(&s, all))
        .expect("second passes admission");
    pool.add_raw(&transfer(4, 0, GWEI)).expect("other sender");
    let mut best = pool.best_transactions(chain.next_base_fee().expect("base fee"));
    let built = chain.build_block(&attributes(1), &mut best).expect("block");
    assert_eq!(built.block.body.transactions.len(), 2);
    assert_eq!(best.invalid.len(), 1);
    assert_eq!(best.invalid[0].0, second);
    pool.on_new_block(&built.block, &built.senders, &best.invalid)
        .expect("prune");
    assert!(pool.is_empty());
}

#[test]
fn batch_admission_matches_one_by_one() {
    let pool = pool();
    let raws: Vec<Vec<u8>> = (0..20).map(|n| transfer(5, n, GWEI)).collect();
    let mut batch = raws.clone();
    batch.push(vec![0xff]);
    let results = pool.add_raw_batch(&batch);
    assert_eq!(results.len(), 21);
    assert!(results[..20].iter().all(Result::is_ok));
    assert!(results[20].is_err());
    assert_eq!(
        pool.status(),
        PoolStatus {
            pending: 20,
            queued: 0
        }
    );
}

/// A deposit with id `id` for `value` wei to `Address::with_last_byte(0x40 + id)`, reserving
/// `gas_limit`: the L2 bridge calls itself with `mintETH(recipient) ‖ depositor`.
fn deposit(id: u64, gas_limit: u64) -> PrivilegedTx {
    let recipient = Address::with_last_byte(0x40 + id as u8);
    let mut data = alloy_primitives::keccak256("mintETH(address)")[..4].to_vec();
    data.extend_from_slice(B256::left_padding_from(recipient.as_slice()).as_slice());
    data.extend_from_slice(Address::repeat_byte(0xd0).as_slice());
    PrivilegedTx {
        chain_id: dev::DEFAULT_L2_CHAIN_ID,
        nonce: id,
        from: keel_types::rules::L2_BRIDGE_ADDRESS,
        to: keel_types::rules::L2_BRIDGE_ADDRESS,
        value: U256::from(1_000 + id),
        gas_limit,
        data: data.into(),
    }
}

const NO_LIMITS: PrivilegedLimits = PrivilegedLimits {
    max_gas: u64::MAX,
    max_txs: usize::MAX,
};

fn privileged_ids(block: &Block) -> Vec<u64> {
    block
        .body
        .transactions
        .iter()
        .filter_map(|tx| tx.as_privileged().map(|p| p.nonce))
        .collect()
}

#[test]
fn the_lane_ignores_held_and_lower_ids_and_offers_a_contiguous_run() {
    let pool = pool();
    assert_eq!(pool.privileged_next_id(), Some(0));
    assert_eq!(pool.privileged_included_up_to(), None);
    assert_eq!(
        pool.add_privileged(vec![deposit(3, 100_000), deposit(1, 100_000)]),
        2
    );
    assert_eq!(pool.add_privileged(vec![deposit(1, 100_000)]), 0, "held");
    let other = PrivilegedTx {
        chain_id: 1,
        ..deposit(0, 100_000)
    };
    assert_eq!(pool.add_privileged(vec![other]), 0, "another chain");
    assert!(pool.privileged_ready().is_empty(), "id 0 is missing");
    assert_eq!(pool.add_privileged(vec![deposit(0, 100_000)]), 1);
    let ready: Vec<u64> = pool.privileged_ready().iter().map(|t| t.nonce).collect();
    assert_eq!(ready, vec![0, 1]);
    assert_eq!(pool.privileged_len(), 3);
    assert!(pool.is_empty(), "the ordinary pool doesn't count them");
}

#[test]
fn a_privileged_tx_that_does_not_fit_waits_with_the_later_ones() {
    let chain = chain();
    let pool = Mempool::new(MempoolConfig::default(), chain.clone());
    // Each deposit reserves the whole block: the second can't fit after the first.
    let block_gas = 1_000_000;
    pool.add_privileged((0..3).map(|id| deposit(id, block_gas)).collect());
    pool.add_raw(&transfer(0, 0, GWEI)).expect("ordinary");
    let attrs = BlockAttributes {
        gas_limit: block_gas,
        ..attributes(1)
    };
    let mut candidates = pool.block_candidates(chain.next_base_fee().expect("fee"), NO_LIMITS);
    let built = chain.build_block(&attrs, &mut candidates).expect("block");
    assert_eq!(privileged_ids(&built.block), vec![0]);
    assert_eq!(
        built.block.body.transactions.len(),
        2,
        "the ordinary tx follows"
    );
    assert!(candidates.invalid().is_empty());
    pool.on_new_block(&built.block, &built.senders, &candidates.invalid())
        .expect("prune");
    assert_eq!(pool.privileged_next_id(), Some(1));
    assert_eq!(pool.privileged_len(), 2);

    // A deposit reserving more than a whole block can never run: it opens the block and goes
    // in as failed (it used to stay in the lane for good, holding up every later deposit). The
    // next one, as large, waits to open the following block.
    for (number, id) in [(2, 1), (3, 2)] {
        let attrs = BlockAttributes {
            gas_limit: block_gas - 1,
            ..attributes(number)
        };
        let mut candidates = pool.block_candidates(chain.next_base_fee().expect("fee"), NO_LIMITS);
        let built = chain.build_block(&attrs, &mut candidates).expect("block");
        assert_eq!(privileged_ids(&built.block), vec![id]);
        assert!(!built.receipts[0].status(), "included as failed");
        assert!(candidates.invalid().is_empty());
        pool.on_new_block(&built.block, &built.senders, &candidates.invalid())
            .expect("prune");
        assert_eq!(pool.privileged_next_id(), Some(id + 1));
    }
    assert_eq!(pool.privileged_len(), 0);
}

#[test]
fn a_privileged_tx_found_invalid_is_dropped_and_its_id_skipped() {
    let chain = chain();
    let pool = Mempool::new(MempoolConfig::default(), chain.clone());
    // Past the lane's own check (which refuses another chain id), as a bug would let it in.
    let wrong = PrivilegedTx {
        chain_id: 1,
        ..deposit(0, 100_000)
    };
    pool.privileged
        .lock()
        .txs
        .insert(0, wrong.clone().seal_slow());
    pool.add_privileged(vec![deposit(1, 100_000)]);
    let mut candidates = pool.block_candidates(chain.next_base_fee().expect("fee"), NO_LIMITS);
    let built = chain
        .build_block(&attributes(1), &mut candidates)
        .expect("block");
    assert!(
        built.block.body.transactions.is_empty(),
        "nothing after the skipped one in this block"
    );
    let invalid = candidates.invalid();
    assert_eq!(invalid.len(), 1);
    assert_eq!(invalid[0].0, wrong.hash());
    pool.on_new_block(&built.block, &built.senders, &invalid)
        .expect("prune");
    assert_eq!(pool.privileged_next_id(), Some(1));

    let mut candidates = pool.block_candidates(chain.next_base_fee().expect("fee"), NO_LIMITS);
    let built = chain
        .build_block(&attributes(2), &mut candidates)
        .expect("block");
    assert_eq!(privileged_ids(&built.block), vec![1]);
    pool.on_new_block(&built.block, &built.senders, &candidates.invalid())
        .expect("prune");
    assert_eq!(pool.privileged_included_up_to(), Some(1));
    assert_eq!(pool.privileged_len(), 0);
}

#[test]
fn a_new_pool_skips_what_the_chain_already_includes() {
    let chain = chain();
    let first = Mempool::new(MempoolConfig::default(), chain.clone());
    first.add_privileged((0..2).map(|id| deposit(id, 100_000)).collect());
    let mut candidates = first.block_candidates(chain.next_base_fee().expect("fee"), NO_LIMITS);
    let built = chain
        .build_block(&attributes(1), &mut candidates)
        .expect("block");
    assert_eq!(privileged_ids(&built.block), vec![0, 1]);

    // No marker was written: the new pool starts at 0 and finds 0 and 1 in the chain.
    let second = Mempool::new(MempoolConfig::default(), chain.clone());
    assert_eq!(second.privileged_next_id(), Some(0));
    assert_eq!(
        second.add_privileged((0..3).map(|id| deposit(id, 100_000)).collect()),
        1
    );
    assert_eq!(second.privileged_next_id(), Some(2));
    let ready: Vec<u64> = second.privileged_ready().iter().map(|t| t.nonce).collect();
    assert_eq!(ready, vec![2]);
}

/// Run `f` with a Prometheus recorder installed on this thread; returns the rendered text.
fn recorded(f: impl FnOnce()) -> String {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, f);
    handle.render()
}

/// The value of the series `series` (name with its labels, as rendered) in `text`.
fn series(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.parse().ok()
    })
}

#[test]
fn pool_metrics_follow_admissions_rejections_and_blocks() {
    let chain = chain();
    let pool = Mempool::new(MempoolConfig::default(), chain.clone());
    let text = recorded(|| {
        pool.add_raw(&transfer(0, 0, GWEI)).expect("nonce 0");
        pool.add_raw(&transfer(0, 2, GWEI))
            .expect("nonce 2: queued");
        pool.add_raw(&transfer(1, 0, GWEI)).expect("sender 1");
        assert_eq!(
            pool.add_raw(&transfer(1, 0, GWEI)),
            Err(MempoolError::AlreadyKnown)
        );
        let err = pool
            .add_raw(&sign(&signer(2), tx1559(0, 1, 1)))
            .expect_err("below the base fee");
        assert_eq!(err.reason(), "fee_cap_below_base_fee");
        pool.add_privileged(vec![deposit(0, 100_000), deposit(1, 100_000)]);
    });
    let pending = "keel_mempool_pending_transactions";
    let queued = "keel_mempool_queued_transactions";
    assert_eq!(series(&text, pending), Some(2.0), "{text}");
    assert_eq!(series(&text, queued), Some(1.0), "{text}");
    assert_eq!(
        series(&text, "keel_mempool_privileged_transactions"),
        Some(2.0)
    );
    let rejected = |reason: &str| rejected_in(&text, reason);
    assert_eq!(rejected("already_known"), Some(1.0), "{text}");
    assert_eq!(rejected("fee_cap_below_base_fee"), Some(1.0), "{text}");

    // A block takes the pending ones and the deposits; the queued one stays.
    let text = recorded(|| {
        let base_fee = chain.next_base_fee().expect("base fee");
        let mut candidates = pool.block_candidates(base_fee, NO_LIMITS);
        let built = chain
            .build_block(&attributes(1), &mut candidates)
            .expect("block");
        assert_eq!(built.block.body.transactions.len(), 4);
        pool.on_new_block(&built.block, &built.senders, &candidates.invalid())
            .expect("prune");
        let err = pool
            .add_raw(&transfer(0, 0, 2 * GWEI))
            .expect_err("spent nonce");
        assert_eq!(err.reason(), "nonce_too_low");
    });
    assert_eq!(series(&text, pending), Some(0.0), "{text}");
    assert_eq!(series(&text, queued), Some(1.0), "{text}");
    assert_eq!(
        series(&text, "keel_mempool_privileged_transactions"),
        Some(0.0)
    );
    assert_eq!(rejected_in(&text, "nonce_too_low"), Some(1.0), "{text}");
    for phase in ["execute", "state_root", "store"] {
        assert_eq!(
            series(&text, &format!("keel_block_{phase}_duration_seconds_count")),
            Some(1.0),
            "{text}"
        );
    }
}

fn rejected_in(text: &str, reason: &str) -> Option<f64> {
    series(
        text,
        &format!("keel_mempool_rejected_transactions_total{{reason=\"{reason}\"}}"),
    )
}

#[test]
fn the_kept_pending_count_matches_a_recount() {
    let chain = chain();
    let pool = Mempool::new(
        MempoolConfig {
            max_txs: 6,
            max_per_sender: 3,
            ..Default::default()
        },
        chain.clone(),
    );
    let check = |pool: &Mempool| {
        let inner = pool.pool.lock();
        assert_eq!(inner.counts(), inner.recount());
        for sender in inner.senders.values() {
            assert_eq!(sender.pending_len(), sender.pending().count());
        }
    };
    // Gaps, fills, a replacement, per-sender and pool-wide eviction, refusals.
    let steps: Vec<Vec<u8>> = vec![
        transfer(0, 1, GWEI),
        transfer(0, 2, GWEI),
        transfer(0, 0, GWEI),
        transfer(0, 1, 2 * GWEI),
        sign(&signer(1), tx1559(2, 5 * GWEI, GWEI)),
        sign(&signer(1), tx1559(1, 5 * GWEI, GWEI)),
        sign(&signer(1), tx1559(0, 5 * GWEI, GWEI)),
        sign(&signer(2), tx1559(0, 3 * GWEI, GWEI)),
        sign(&signer(2), tx1559(0, 20 * GWEI, 2 * GWEI)),
        sign(&signer(3), tx1559(1, 20 * GWEI, GWEI)),
        sign(&signer(3), tx1559(0, 20 * GWEI, GWEI)),
    ];
    for raw in &steps {
        let _ = pool.add_raw(raw);
        check(&pool);
    }
    assert!(pool.status().pending > 0);
    let base_fee = chain.next_base_fee().expect("base fee");
    let mut best = pool.best_transactions(base_fee);
    let built = chain.build_block(&attributes(1), &mut best).expect("block");
    pool.on_new_block(&built.block, &built.senders, &best.invalid)
        .expect("prune");
    check(&pool);
}

#[test]
fn the_kept_pending_count_follows_removals_in_the_run_and_nonce_moves() {
    let pool = pool();
    let sender = dev::DEV_ACCOUNTS[0].0;
    let hashes: Vec<B256> = [0, 1, 2, 3, 4, 6, 7]
        .into_iter()
        .map(|nonce| pool.add_raw(&transfer(0, nonce, GWEI)).expect("admitted"))
        .collect();
    let check = |want: (usize, usize)| {
        let inner = pool.pool.lock();
        assert_eq!(inner.counts(), inner.recount());
        assert_eq!(inner.counts(), want);
    };
    check((5, 2));
    // A hole in the run (nonce 2): 0 and 1 stay pending.
    pool.pool.lock().remove(&hashes[2]);
    check((2, 4));
    // The account nonce moves inside the run, then past the hole and the gap.
    pool.pool.lock().set_state_nonce(sender, 1);
    check((1, 4));
    pool.pool.lock().set_state_nonce(sender, 3);
    check((2, 2));
    pool.pool.lock().set_state_nonce(sender, 6);
    check((2, 0));
    // Filling a gap joins the run to what follows.
    let pool = self::pool();
    pool.add_raw(&transfer(0, 1, GWEI)).expect("nonce 1");
    pool.add_raw(&transfer(0, 2, GWEI)).expect("nonce 2");
    assert_eq!(
        pool.status(),
        PoolStatus {
            pending: 0,
            queued: 2
        }
    );
    pool.add_raw(&transfer(0, 0, GWEI)).expect("nonce 0");
    assert_eq!(
        pool.status(),
        PoolStatus {
            pending: 3,
            queued: 0
        }
    );
}
