//! Issue 15, item 4: crash safety of the sequencer. `keel l2` (no L1) produces blocks on a datadir
//! while several threads send signed transfers to fresh recipients and SSTOREs to fresh slots of a
//! small contract over JSON-RPC; the test SIGKILLs it at a random moment, [`KILLS`] times,
//! restarting it on the same datadir each time.
//!
//! After each kill, before the restart, the datadir is opened with `keel_storage`: the flat state
//! must equal the trie (every account leaf and storage slot) under the head header's state root
//! (`verify_state`), the head block must be whole, and every block the RPC served before the
//! kill (the producer answers only after a block is durably stored) must be there with its
//! transactions at their places. After each restart the chain goes on past the old head and the
//! node serves those transactions from the same blocks.
//!
//! The kill moments come from a seed printed at the start; `KEEL_CRASH_SEED=N` replays one.

mod common;

use std::{
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::Encodable2718,
    primitives::{Address, B256, Bytes, TxKind, U256, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::{SignerSync, local::PrivateKeySigner},
};
use common::Node;
use keel_storage::{ChainReader, Store};
use keel_types::dev;
use serde_json::{Value, json};

/// How many times the node is killed.
const KILLS: usize = 4;
/// Load threads; each sends from its own dev accounts.
const SENDERS: usize = 4;
const ACCOUNTS_PER_SENDER: usize = 2;
/// Blocks with transactions the RPC must have served in a round before the kill may come.
const BLOCKS_BEFORE_KILL: usize = 3;
/// Dev account that deploys the contract (the senders use 1..=SENDERS*ACCOUNTS_PER_SENDER).
const DEPLOYER: usize = 9;
/// Every how many transactions of a sender is a contract call (the rest are transfers).
const CALL_EVERY: u64 = 3;

/// Runtime code: `sstore(calldataload(0), calldataload(32))`.
const RUNTIME: [u8; 8] = [0x60, 0x20, 0x35, 0x60, 0x00, 0x35, 0x55, 0x00];

/// Init code returning [`RUNTIME`]: codecopy(0, 12, 8); return(0, 8).
fn init_code() -> Bytes {
    let mut code = vec![
        0x60, 0x08, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, 0x08, 0x60, 0x00, 0xf3,
    ];
    code.extend_from_slice(&RUNTIME);
    code.into()
}

/// splitmix64: the kill moments and recipients, reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A block as the RPC served it before a kill.
#[derive(Debug, Clone)]
struct SeenBlock {
    number: u64,
    hash: B256,
    txs: Vec<B256>,
}

fn provider(url: &str) -> DynProvider {
    ProviderBuilder::new()
        .connect_http(url.parse().expect("url"))
        .erased()
}

async fn rpc(p: &DynProvider, method: &'static str, params: Value) -> Result<Value, String> {
    p.raw_request::<_, Value>(method.into(), params)
        .await
        .map_err(|e| e.to_string())
}

fn quantity(v: &Value) -> u64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a quantity: {v}"));
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("{s}"))
}

fn hash(v: &Value) -> B256 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a hash: {v}"))
}

fn signer(i: usize) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&dev::DEV_ACCOUNTS[i].1).expect("dev key")
}

fn sign(signer: &PrivateKeySigner, nonce: u64, to: TxKind, input: Bytes, gas: u64) -> Bytes {
    let tx = TxEip1559 {
        chain_id: dev::DEFAULT_L2_CHAIN_ID,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value: if to.is_create() {
            U256::ZERO
        } else {
            U256::from(1)
        },
        access_list: Default::default(),
        input,
    };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

async fn pending_nonce(p: &DynProvider, address: Address) -> Result<u64, String> {
    Ok(quantity(
        &rpc(
            p,
            "eth_getTransactionCount",
            json!([address.to_string(), "pending"]),
        )
        .await?,
    ))
}

/// Deploys the SSTORE contract and waits for its receipt; returns its address.
async fn deploy(p: &DynProvider) -> Address {
    let deployer = signer(DEPLOYER);
    let nonce = pending_nonce(p, deployer.address()).await.expect("nonce");
    let raw = sign(&deployer, nonce, TxKind::Create, init_code(), 200_000);
    let tx = hash(
        &rpc(p, "eth_sendRawTransaction", json!([raw]))
            .await
            .expect("send deployment"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let receipt = rpc(p, "eth_getTransactionReceipt", json!([tx]))
            .await
            .expect("receipt");
        if !receipt.is_null() {
            assert_eq!(receipt["status"], "0x1", "deployment failed: {receipt}");
            return receipt["contractAddress"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("no contract address: {receipt}"));
        }
        assert!(Instant::now() < deadline, "deployment not mined in 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One load thread: until `stop` or the node is gone, sends from its accounts, round robin,
/// transfers of 1 wei to fresh addresses and, every [`CALL_EVERY`]th, an SSTORE of a fresh slot.
/// Returns the hashes `eth_sendRawTransaction` returned.
async fn send_load(
    url: String,
    accounts: Vec<usize>,
    contract: Address,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> Vec<B256> {
    let p = provider(&url);
    let signers: Vec<PrivateKeySigner> = accounts.iter().map(|i| signer(*i)).collect();
    let mut nonces = Vec::new();
    for s in &signers {
        match pending_nonce(&p, s.address()).await {
            Ok(n) => nonces.push(n),
            Err(_) => return Vec::new(),
        }
    }
    let mut rng = Rng(seed);
    let mut sent = Vec::new();
    let mut count = 0u64;
    while !stop.load(Ordering::Relaxed) {
        for (s, nonce) in signers.iter().zip(&mut nonces) {
            count += 1;
            let raw = if count.is_multiple_of(CALL_EVERY) {
                let mut input = B256::from(U256::from(rng.next())).to_vec();
                input.extend_from_slice(B256::from(U256::from(count)).as_slice());
                sign(s, *nonce, TxKind::Call(contract), input.into(), 100_000)
            } else {
                let to = Address::from_word(keccak256(rng.next().to_be_bytes()));
                sign(s, *nonce, TxKind::Call(to), Bytes::new(), 21_000)
            };
            match p
                .raw_request::<_, B256>("eth_sendRawTransaction".into(), (raw,))
                .await
            {
                Ok(h) => {
                    sent.push(h);
                    *nonce += 1;
                }
                Err(e) if e.is_error_resp() => {
                    // Refused (e.g. the sender's pool slots are full): catch up and retry.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    match pending_nonce(&p, s.address()).await {
                        Ok(n) => *nonce = n,
                        Err(_) => return sent,
                    }
                }
                // The node is gone (killed).
                Err(_) => return sent,
            }
        }
        // Paced, so the load threads leave the node (and the other tests) some CPU.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sent
}

/// Follows the chain through the RPC until `stop` or the node is gone, from block `from`.
async fn watch_blocks(
    url: String,
    from: u64,
    seen: Arc<Mutex<Vec<SeenBlock>>>,
    stop: Arc<AtomicBool>,
) {
    let p = provider(&url);
    let mut next = from;
    while !stop.load(Ordering::Relaxed) {
        let Ok(head) = rpc(&p, "eth_blockNumber", json!([])).await else {
            return;
        };
        while next <= quantity(&head) {
            let Ok(block) = rpc(
                &p,
                "eth_getBlockByNumber",
                json!([format!("{next:#x}"), false]),
            )
            .await
            else {
                return;
            };
            let txs = block["transactions"]
                .as_array()
                .unwrap_or_else(|| panic!("no transactions in {block}"))
                .iter()
                .map(hash)
                .collect();
            seen.lock().expect("lock").push(SeenBlock {
                number: next,
                hash: hash(&block["hash"]),
                txs,
            });
            next += 1;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// Opens the killed node's datadir and checks it; returns the head number.
fn check_killed_datadir(datadir: &Path, seen: &[SeenBlock], sent: &[B256]) -> u64 {
    let store = Store::open(datadir.join("keel.redb")).expect("open the killed node's store");
    let report = store
        .verify_state()
        .unwrap_or_else(|e| panic!("state after the kill: {e}"));
    let reader = store.reader().expect("reader");
    let (head_hash, head) = reader.head().expect("head").expect("a head");
    assert_eq!(report.head_hash, head_hash);
    assert_eq!(report.state_root, head.state_root);

    // The head block is whole: body, receipts and the index of each of its transactions.
    let body = reader
        .body(&head_hash)
        .expect("body")
        .expect("the head's body");
    let receipts = reader
        .receipts(&head_hash)
        .expect("receipts")
        .expect("the head's receipts");
    assert_eq!(
        receipts.len(),
        body.transactions.len(),
        "head {}",
        head.number
    );
    for (i, tx) in body.transactions.iter().enumerate() {
        assert_eq!(
            reader.tx_location(tx.tx_hash()).expect("tx lookup"),
            Some((head_hash, i as u64))
        );
    }
    assert_eq!(
        reader.canonical_hash(head.number + 1).expect("canonical"),
        None
    );

    // Every block served before the kill is stored, with the sent transactions where they were.
    let last_seen = seen.iter().map(|b| b.number).max().expect("blocks seen");
    assert!(
        head.number >= last_seen,
        "the RPC served block {last_seen} before the kill, the datadir's head is {}",
        head.number
    );
    let sent: std::collections::HashSet<&B256> = sent.iter().collect();
    let mut checked = 0;
    for block in seen {
        assert_eq!(
            reader.canonical_hash(block.number).expect("canonical"),
            Some(block.hash),
            "block {}",
            block.number
        );
        for (i, tx) in block.txs.iter().enumerate() {
            if sent.contains(tx) {
                assert_eq!(
                    reader.tx_location(tx).expect("tx lookup"),
                    Some((block.hash, i as u64)),
                    "tx {tx} of block {}",
                    block.number
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked > 0,
        "no sent transaction was in a block before the kill"
    );
    drop(reader);
    drop(store);

    // The operator's command agrees.
    let out = common::keel(&[
        "l2",
        "verify-state",
        "--datadir",
        datadir.to_str().expect("utf-8"),
    ]);
    let text = common::text(&out);
    assert!(out.status.success(), "keel l2 verify-state: {text}");
    assert!(
        text.contains(&format!("state consistent at head block {} (", head.number))
            && text.contains(&format!("accounts:   {}\n", report.accounts)),
        "{text}"
    );
    eprintln!(
        "killed at head {} ({} blocks served, {checked} sent txs in them); state: {} accounts, {} slots",
        head.number,
        seen.len(),
        report.accounts,
        report.slots
    );
    head.number
}

/// After a restart: the node serves every sent transaction of `seen` from the same block.
async fn check_restarted(p: &DynProvider, seen: &[SeenBlock], sent: &[B256]) {
    let sent: std::collections::HashSet<&B256> = sent.iter().collect();
    for block in seen {
        for (i, tx) in block
            .txs
            .iter()
            .enumerate()
            .filter(|(_, tx)| sent.contains(tx))
        {
            let got = rpc(p, "eth_getTransactionByHash", json!([tx]))
                .await
                .expect("eth_getTransactionByHash");
            assert_eq!(hash(&got["blockHash"]), block.hash, "tx {tx}: {got}");
            assert_eq!(quantity(&got["blockNumber"]), block.number, "tx {tx}");
            assert_eq!(quantity(&got["transactionIndex"]), i as u64, "tx {tx}");
        }
    }
}

/// Polls until the head is above `number`.
async fn wait_past(p: &DynProvider, number: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let head = quantity(&rpc(p, "eth_blockNumber", json!([])).await.expect("head"));
        if head > number {
            return head;
        }
        assert!(
            Instant::now() < deadline,
            "the chain did not pass block {number} in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_sequencer_keeps_whole_blocks_and_state() {
    let seed = std::env::var("KEEL_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("KEEL_CRASH_SEED={seed}");
    let mut rng = Rng(seed);

    let dir = tempfile::tempdir().expect("tempdir");
    let genesis = common::write_dev_genesis(dir.path());
    let datadir = dir.path().join("data");
    let args = [
        "--network",
        genesis.to_str().expect("utf-8"),
        "--datadir",
        datadir.to_str().expect("utf-8"),
    ];
    let start = || tokio::task::block_in_place(|| Node::start(&args));

    let mut node = start();
    let mut p = provider(&node.url);
    let contract = deploy(&p).await;
    let mut previous: Option<(u64, Vec<SeenBlock>, Vec<B256>)> = None;
    let mut all_checked = 0usize;

    for round in 0..=KILLS {
        if let Some((old_head, seen, sent)) = previous.take() {
            // Restarted: the node resumes at the stored head, goes on, and serves what it served.
            let head = quantity(&rpc(&p, "eth_blockNumber", json!([])).await.expect("head"));
            assert!(
                head >= old_head,
                "restarted at {head}, below the stored head {old_head}"
            );
            wait_past(&p, old_head).await;
            check_restarted(&p, &seen, &sent).await;
            all_checked += seen.iter().map(|b| b.txs.len()).sum::<usize>();
        }
        if round == KILLS {
            break;
        }

        // Load, and a watcher recording the blocks the RPC serves.
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let from = quantity(&rpc(&p, "eth_blockNumber", json!([])).await.expect("head")) + 1;
        let watcher = tokio::spawn(watch_blocks(
            node.url.clone(),
            from,
            seen.clone(),
            stop.clone(),
        ));
        let senders: Vec<_> = (0..SENDERS)
            .map(|i| {
                let accounts = (0..ACCOUNTS_PER_SENDER)
                    .map(|j| 1 + i * ACCOUNTS_PER_SENDER + j)
                    .collect();
                tokio::spawn(send_load(
                    node.url.clone(),
                    accounts,
                    contract,
                    rng.next(),
                    stop.clone(),
                ))
            })
            .collect();

        // Kill at a random moment once blocks with transactions are being produced.
        let deadline = Instant::now() + Duration::from_secs(30);
        while seen
            .lock()
            .expect("lock")
            .iter()
            .filter(|b| !b.txs.is_empty())
            .count()
            < BLOCKS_BEFORE_KILL
        {
            assert!(
                Instant::now() < deadline,
                "no blocks with transactions in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.next() % 800)).await;
        node.child.kill().expect("SIGKILL keel l2");
        let status = node.child.wait().expect("wait");
        assert!(!status.success(), "keel l2 exited by itself: {status}");
        stop.store(true, Ordering::Relaxed);
        watcher.await.expect("watcher");
        let mut sent = Vec::new();
        for s in senders {
            sent.extend(s.await.expect("sender"));
        }
        let seen = std::mem::take(&mut *seen.lock().expect("lock"));

        let head = tokio::task::block_in_place(|| check_killed_datadir(&datadir, &seen, &sent));
        eprintln!("round {round}: {} txs sent", sent.len());
        previous = Some((head, seen, sent));

        drop(node);
        node = start();
        p = provider(&node.url);
    }

    // A clean stop at the end, and the state checked once more.
    node.terminate();
    let store = Store::open(datadir.join("keel.redb")).expect("open the store");
    let report = store.verify_state().expect("state after a clean stop");
    assert!(all_checked > 0);
    // The load reached the state: fresh recipients and contract slots beyond the genesis.
    let genesis_accounts = dev::dev_genesis().alloc.len() as u64;
    assert!(
        report.accounts > genesis_accounts + 10 && report.slots > 10,
        "{report:?}"
    );
}
