//! State reads far below the head on a node that stores only the head's tries (the default
//! 128-block window, on a redb datadir), against a reference node given the same transactions
//! whose window covers the whole chain: balances, nonces, storage and code 1,000 blocks back
//! equal what the block had, proofs within the window verify against the block's root, and a
//! proof beyond it is refused with an error that names the window.

mod common;

use std::collections::BTreeMap;

use alloy::{
    consensus::TxEnvelope,
    network::TransactionBuilder,
    primitives::{Address, B256, TxKind, U256, keccak256},
    rpc::types::EIP1186AccountProofResponse,
    sol_types::SolCall,
};
use keel_storage::Store;
use serde_json::{Value, json};

use common::{
    Fee, GWEI, RpcError, RpcProbe, TestNode, call_tx, produce, request, rpc, rpc_error, send, sign,
    signed_tx, verify_account_proof,
};

/// Blocks made after the first (the producer's own block 1).
const BLOCKS: u64 = 1_100;
/// How far below the head the historical reads go.
const BACK: u64 = 1_000;
/// The pruned node's window: the default.
const WINDOW: u64 = keel_storage::DEFAULT_STATE_HISTORY;
/// Recipients whose balances change block after block.
const RECIPIENTS: u64 = 37;
/// Accounts credited in the probe's `credits` mapping.
const CREDITED: u64 = 13;
/// Blocks at which another probe contract is deployed (its code appears there).
const DEPLOY_AT: [u64; 3] = [60, 140, 1_050];

fn recipient(i: u64) -> Address {
    Address::with_last_byte(0x10).create(i)
}

fn credited(i: u64) -> Address {
    Address::with_last_byte(0x20).create(i)
}

/// The storage slot of `credits[who]` (mapping at slot 1).
fn credit_slot(who: Address) -> B256 {
    keccak256(
        [
            who.into_word().as_slice(),
            B256::with_last_byte(1).as_slice(),
        ]
        .concat(),
    )
}

fn hex(n: u64) -> Value {
    json!(format!("{n:#x}"))
}

/// Everything read about the chain's state at one block.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    balances: BTreeMap<Address, Value>,
    nonces: BTreeMap<Address, Value>,
    storage: BTreeMap<(Address, B256), Value>,
    code: BTreeMap<Address, Value>,
}

async fn snapshot(node: &TestNode, block: Value, probes: &[Address]) -> Snapshot {
    let mut snap = Snapshot {
        balances: BTreeMap::new(),
        nonces: BTreeMap::new(),
        storage: BTreeMap::new(),
        code: BTreeMap::new(),
    };
    let sender = TestNode::dev_signer(0).address();
    let mut accounts: Vec<Address> = (0..RECIPIENTS).map(recipient).collect();
    accounts.extend((0..CREDITED).map(credited));
    accounts.push(sender);
    accounts.extend(probes);
    for account in accounts {
        let balance = rpc(node, "eth_getBalance", json!([account, block])).await;
        snap.balances.insert(account, balance);
        let nonce = rpc(node, "eth_getTransactionCount", json!([account, block])).await;
        snap.nonces.insert(account, nonce);
    }
    for &probe in probes {
        let code = rpc(node, "eth_getCode", json!([probe, block])).await;
        snap.code.insert(probe, code);
        let mut slots = vec![B256::ZERO];
        slots.extend((0..CREDITED).map(|i| credit_slot(credited(i))));
        for slot in slots {
            let value = rpc(node, "eth_getStorageAt", json!([probe, slot, block])).await;
            snap.storage.insert((probe, slot), value);
        }
    }
    snap
}

async fn get_proof(node: &TestNode, address: Address, slots: &[B256], block: u64) -> Value {
    rpc(node, "eth_getProof", json!([address, slots, hex(block)])).await
}

/// Parse an `eth_getProof` answer and check it against `state_root`.
fn verify(state_root: B256, proof: &Value) -> EIP1186AccountProofResponse {
    let proof: EIP1186AccountProofResponse =
        serde_json::from_value(proof.clone()).expect("an EIP-1186 response");
    verify_account_proof(state_root, &proof);
    proof
}

async fn state_root(node: &TestNode, block: u64) -> B256 {
    let header = rpc(node, "eth_getBlockByNumber", json!([hex(block), false])).await;
    serde_json::from_value(header["stateRoot"].clone()).expect("a state root")
}

/// The transactions of block `n` (dev account 0 sends them all, from `nonce` on): a transfer
/// to one of the recipients, the probe's number set to `n`, now and then a credit, and at the
/// deployment blocks a new probe.
async fn block_txs(n: u64, nonce: &mut u64, probe: Address) -> (Vec<TxEnvelope>, Option<Address>) {
    let mut txs = Vec::new();
    let mut next = || {
        *nonce += 1;
        *nonce - 1
    };
    // The value is the block's number, so a recipient's balance differs between blocks.
    let signer = TestNode::dev_signer(0);
    let transfer = request(signer.address(), next(), 21_000, Fee::tip(GWEI))
        .with_to(recipient(n % RECIPIENTS))
        .with_value(U256::from(n));
    let transfer = sign(&signer, transfer).await;
    txs.push(transfer);
    let set = RpcProbe::setNumberCall {
        value: U256::from(n),
    };
    txs.push(call_tx(0, next(), probe, set.abi_encode()).await);
    if n.is_multiple_of(7) {
        let credit = RpcProbe::creditCall {
            who: credited(n % CREDITED),
            amount: U256::from(n),
        };
        txs.push(call_tx(0, next(), probe, credit.abi_encode()).await);
    }
    let mut deployed = None;
    if DEPLOY_AT.contains(&n) {
        let nonce = next();
        let code = RpcProbe::BYTECODE.clone();
        txs.push(signed_tx(0, nonce, TxKind::Create, code, 2_000_000, Fee::tip(GWEI)).await);
        deployed = Some(TestNode::dev_signer(0).address().create(nonce));
    }
    (txs, deployed)
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_a_thousand_blocks_back_equal_a_node_that_kept_every_trie() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().join("keel.redb")).expect("redb datadir");
    let pruned = TestNode::start_manual_on(store, WINDOW).await;
    let reference =
        TestNode::start_manual_on(Store::in_memory().expect("store"), BLOCKS + 10).await;

    // The first probe, deployed in block 2; every probe is a contract with storage.
    let mut nonce = 0;
    let first = signed_tx(
        0,
        0,
        TxKind::Create,
        RpcProbe::BYTECODE.clone(),
        2_000_000,
        Fee::tip(GWEI),
    )
    .await;
    nonce += 1;
    let probe = TestNode::dev_signer(0).address().create(0);
    let mut probes = vec![probe];
    for node in [&pruned, &reference] {
        send(node, &first).await;
        assert_eq!(produce(node).await.0, 2);
    }

    let head = 2 + BLOCKS;
    let target = head - BACK;
    let mut expected = None;
    for n in 3..=head {
        let (txs, deployed) = block_txs(n, &mut nonce, probe).await;
        probes.extend(deployed);
        for node in [&pruned, &reference] {
            for tx in &txs {
                send(node, tx).await;
            }
            let (number, _) = produce(node).await;
            assert_eq!(number, n);
        }
        // What block `target` holds, read while it is the head (the flat state itself).
        if n == target {
            let snap = snapshot(&pruned, json!("latest"), &probes).await;
            expected = Some((snap, probes.clone()));
        }
    }
    let (expected, probes_then) = expected.expect("the target block was made");

    // (The two chains' roots differ: their blocks have their own timestamps, which the system
    // contracts store, and so their own hashes. The accounts compared below don't see either.)

    // 1,000 blocks back, beyond the pruned node's window: balances, nonces, storage and code
    // are what the block had, and what the node that kept everything answers.
    let old = snapshot(&pruned, hex(target), &probes_then).await;
    assert!(
        old == expected,
        "block {target} read back differs from what it had"
    );
    let kept = snapshot(&reference, hex(target), &probes_then).await;
    assert!(
        kept == expected,
        "the reference node differs at block {target}"
    );
    // The reads differ from the head's (the test would notice a node answering the head's).
    let now = snapshot(&pruned, json!("latest"), &probes_then).await;
    assert!(now != expected, "block {target} reads as the head");
    // The probes deployed after the target block had no code there, and have some now.
    assert!(probes.len() > probes_then.len());
    for &late in &probes[probes_then.len()..] {
        for node in [&pruned, &reference] {
            let then = rpc(node, "eth_getCode", json!([late, hex(target)])).await;
            assert_eq!(then, json!("0x"));
            let now = rpc(node, "eth_getCode", json!([late, "latest"])).await;
            assert_ne!(now, json!("0x"));
        }
    }

    // Proofs: within the window they verify against that block's root and carry its values.
    let slots = [B256::ZERO, credit_slot(credited(1))];
    let inside = head - WINDOW + 1;
    let root = state_root(&pruned, inside).await;
    let proof = verify(root, &get_proof(&pruned, probe, &slots, inside).await);
    assert_eq!(proof.storage_proof[0].value, U256::from(inside));
    let sender = TestNode::dev_signer(0).address();
    verify(root, &get_proof(&pruned, sender, &[], inside).await);

    // Beyond the window: a clear error naming the window and the flag that sets it.
    let RpcError { code, message, .. } =
        rpc_error(&pruned, "eth_getProof", json!([probe, slots, hex(target)])).await;
    assert_eq!(code, -32000, "{message}");
    assert!(
        message.contains(&format!("last {WINDOW} blocks")) && message.contains("--state.history"),
        "{message}"
    );
    // The node that kept every trie proves the same block, against the same root.
    let root = state_root(&reference, target).await;
    let proof = verify(root, &get_proof(&reference, probe, &slots, target).await);
    assert_eq!(proof.storage_proof[0].value, U256::from(target));
    assert_eq!(
        json!(format!("{:#x}", proof.balance)),
        expected.balances[&probe]
    );

    pruned.stop().await;
    reference.stop().await;
}
