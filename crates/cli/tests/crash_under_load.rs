//! Issue 15, item 4 and issue 17, part 2: crash safety of the sequencer under load. `keel l2`
//! runs on a datadir, with an L1 (anvil, started by the test so that it outlives the node, with
//! keel's contracts), while several threads send signed transfers to fresh recipients and SSTOREs
//! to fresh slots of a small contract over JSON-RPC and another thread sends deposits to the L1
//! bridge; the test SIGKILLs the node at a random moment, `KEEL_CRASH_KILLS` times (default
//! [`DEFAULT_KILLS`]), restarting it on the same datadir each time. The load is the test's own
//! sender threads, not keel-loadgen: the test must know every hash `eth_sendRawTransaction`
//! acknowledged, and each sender's last acknowledged nonce.
//!
//! After each kill, before the restart, the datadir is opened with `keel_storage`: the flat state
//! must equal the trie (every account leaf and storage slot) under the head header's state root
//! (`verify_state`), the head block must be whole, and every block the RPC served before the
//! kill (the producer answers only after a block is durably stored) must be there with its
//! transactions at their places. After each restart:
//!
//! - the chain goes on past the old head and the node serves those transactions from the same
//!   blocks;
//! - every transaction whose `eth_sendRawTransaction` returned a hash (before this kill, or still
//!   pending after the previous restart) is in a block or pending in the restarted pool (the
//!   mempool journal);
//! - no sender has a nonce gap: its pending nonce is past its last acknowledged one, none of its
//!   transactions is queued, and a new transaction at that nonce from each load sender is
//!   included;
//! - every deposit the L1 bridge accepted reaches the L2, and each bridge transaction id is
//!   included in exactly one privileged transaction across all L2 blocks.
//!
//! At the end, after a clean stop (SIGTERM), every acknowledged transaction is in a stored block, every
//! deposit's L2 hash is the one the bridge queued, and the totals are printed (`CRASH SUMMARY`,
//! read by scripts/crash-campaign.sh). The kill moments come from a seed printed at the start;
//! `KEEL_CRASH_SEED=N` replays one.

mod common;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
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
use common::{Node, l1::TestL1};
use futures::StreamExt;
use keel_l1::contracts::CommonBridge::CommonBridgeInstance;
use keel_storage::{ChainReader, Store};
use keel_types::dev;
use serde_json::{Value, json};

/// How many times the node is killed, unless `KEEL_CRASH_KILLS` says otherwise.
const DEFAULT_KILLS: usize = 4;
/// Load threads; each sends from its own dev accounts.
const SENDERS: usize = 4;
const ACCOUNTS_PER_SENDER: usize = 2;
/// Blocks with transactions the RPC must have served in a round before the kill may come.
const BLOCKS_BEFORE_KILL: usize = 3;
/// Dev account that deploys the contract (the senders use 1..=SENDERS*ACCOUNTS_PER_SENDER).
const DEPLOYER: usize = 9;
/// L1 dev account that sends the deposits (account 0 is the L1 sequencer).
const DEPOSITOR: usize = 1;
/// Every how many transactions of a sender is a contract call (the rest are transfers).
const CALL_EVERY: u64 = 3;
/// Deadline for what the checks after a restart wait for (deposits, the nonce probes).
const SETTLE: Duration = Duration::from_secs(90);

/// The load senders' dev account indices.
fn load_accounts() -> Vec<usize> {
    (1..=SENDERS * ACCOUNTS_PER_SENDER).collect()
}

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

/// What one load thread got acknowledged.
#[derive(Debug, Default)]
struct Sent {
    /// The hashes `eth_sendRawTransaction` returned.
    hashes: Vec<B256>,
    /// Each account's highest acknowledged nonce.
    last_nonce: HashMap<Address, u64>,
}

/// One load thread: until `stop` or the node is gone, sends from its accounts, round robin,
/// transfers of 1 wei to fresh addresses and, every [`CALL_EVERY`]th, an SSTORE of a fresh slot.
async fn send_load(
    url: String,
    accounts: Vec<usize>,
    contract: Address,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> Sent {
    let p = provider(&url);
    let signers: Vec<PrivateKeySigner> = accounts.iter().map(|i| signer(*i)).collect();
    let mut sent = Sent::default();
    let mut nonces = Vec::new();
    for s in &signers {
        match pending_nonce(&p, s.address()).await {
            Ok(n) => nonces.push(n),
            Err(_) => return sent,
        }
    }
    let mut rng = Rng(seed);
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
                    sent.hashes.push(h);
                    sent.last_nonce.insert(s.address(), *nonce);
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
                // The node is gone (killed); this transaction was not acknowledged.
                Err(_) => return sent,
            }
        }
        // Paced, so the load threads leave the node (and the other tests) some CPU.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sent
}

/// The deposit thread: until `stop`, deposits 1 gwei to a fresh L2 address through the L1
/// bridge and waits for its L1 receipt, every 50 to 250 ms. Returns how many it sent.
async fn send_deposits(l1: DynProvider, bridge: Address, seed: u64, stop: Arc<AtomicBool>) -> u64 {
    let bridge = CommonBridgeInstance::new(bridge, l1.clone());
    let mut rng = Rng(seed);
    let mut sent = 0;
    while !stop.load(Ordering::Relaxed) {
        let to = Address::from_word(keccak256(rng.next().to_be_bytes()));
        let pending = bridge
            .deposit(to)
            .value(U256::from(1_000_000_000u64))
            .from(dev::DEV_ACCOUNTS[DEPOSITOR].0)
            .gas(300_000)
            .send()
            .await
            .unwrap_or_else(|e| panic!("deposit to the L1 bridge: {e}"));
        let tx = *pending.tx_hash();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(receipt) = l1
                .get_transaction_receipt(tx)
                .await
                .unwrap_or_else(|e| panic!("L1 receipt of {tx}: {e}"))
            {
                assert!(receipt.status(), "deposit {tx} reverted on L1");
                break;
            }
            assert!(Instant::now() < deadline, "deposit {tx} not mined in 30 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        sent += 1;
        tokio::time::sleep(Duration::from_millis(50 + rng.next() % 200)).await;
    }
    sent
}

/// Where an acknowledged transaction was found after a restart.
#[derive(Debug, Default)]
struct Found {
    in_block: usize,
    /// In the pool: not in a block yet.
    pending: Vec<B256>,
    lost: Vec<B256>,
}

/// Looks up every hash of `hashes` with `eth_getTransactionByHash` (16 at a time): in a block,
/// pending in the pool, or unknown (asked again a few times first, in case it moved from the pool
/// to a block between the two lookups of the node).
async fn find_acknowledged(p: &DynProvider, hashes: &[B256]) -> Found {
    let lookups = futures::stream::iter(hashes.iter().copied())
        .map(|tx| async move {
            for attempt in 0..5 {
                let got = rpc(p, "eth_getTransactionByHash", json!([tx]))
                    .await
                    .unwrap_or_else(|e| panic!("eth_getTransactionByHash {tx}: {e}"));
                if !got.is_null() {
                    return (tx, Some(!got["blockHash"].is_null()));
                }
                tokio::time::sleep(Duration::from_millis(100 * (attempt + 1))).await;
            }
            (tx, None)
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let mut found = Found::default();
    for (tx, status) in lookups {
        match status {
            Some(true) => found.in_block += 1,
            Some(false) => found.pending.push(tx),
            None => found.lost.push(tx),
        }
    }
    found
}

/// No load sender has a nonce gap: its pending nonce is past its last acknowledged nonce, none of
/// its transactions is queued, and a new transaction at its pending nonce is included (so are all
/// its earlier ones). Returns the new transactions' hashes; their nonces go into `last_nonce`.
async fn probe_senders(p: &DynProvider, last_nonce: &mut HashMap<Address, u64>) -> Vec<B256> {
    let content = rpc(p, "txpool_content", json!([]))
        .await
        .expect("txpool_content");
    let queued: HashSet<Address> = content["queued"]
        .as_object()
        .unwrap_or_else(|| panic!("txpool_content without queued: {content}"))
        .iter()
        .filter(|(_, txs)| txs.as_object().is_some_and(|t| !t.is_empty()))
        .filter_map(|(sender, _)| sender.parse().ok())
        .collect();
    let mut probes = Vec::new();
    for i in load_accounts() {
        let s = signer(i);
        let address = s.address();
        assert!(
            !queued.contains(&address),
            "sender {address} has queued transactions after the restart (a nonce gap): {}",
            content["queued"]
        );
        let nonce = pending_nonce(p, address).await.expect("pending nonce");
        if let Some(last) = last_nonce.get(&address) {
            assert!(
                nonce > *last,
                "sender {address}: pending nonce {nonce} after the restart, but nonce {last} was \
                 acknowledged"
            );
        }
        let to = Address::from_word(keccak256(address.as_slice()));
        let raw = sign(&s, nonce, TxKind::Call(to), Bytes::new(), 21_000);
        let tx = hash(
            &rpc(p, "eth_sendRawTransaction", json!([raw]))
                .await
                .unwrap_or_else(|e| panic!("probe of {address} at nonce {nonce}: {e}")),
        );
        probes.push(tx);
        last_nonce.insert(address, nonce);
    }
    let deadline = Instant::now() + SETTLE;
    for tx in &probes {
        loop {
            let receipt = rpc(p, "eth_getTransactionReceipt", json!([tx]))
                .await
                .expect("receipt");
            if !receipt.is_null() {
                assert_eq!(receipt["status"], "0x1", "probe {tx}: {receipt}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "probe {tx} not included in {SETTLE:?}: its sender is blocked"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    probes
}

/// The privileged transactions of the L2 chain, read block by block through the RPC.
#[derive(Debug, Default)]
struct ChainScan {
    /// The next block to read.
    next: u64,
    /// The last block read and its hash (it must not change).
    last: Option<(u64, B256)>,
    /// L2 hashes of the privileged transactions, by bridge transaction id (their nonce), one per
    /// inclusion.
    deposits: BTreeMap<u64, Vec<B256>>,
}

impl ChainScan {
    /// Reads the blocks from `next` to the head.
    async fn scan(&mut self, p: &DynProvider) {
        if let Some((number, hash_before)) = self.last {
            let block = rpc(
                p,
                "eth_getBlockByNumber",
                json!([format!("{number:#x}"), false]),
            )
            .await
            .expect("block");
            assert_eq!(hash(&block["hash"]), hash_before, "block {number} changed");
        }
        let head = quantity(&rpc(p, "eth_blockNumber", json!([])).await.expect("head"));
        while self.next <= head {
            let number = self.next;
            let block = rpc(
                p,
                "eth_getBlockByNumber",
                json!([format!("{number:#x}"), true]),
            )
            .await
            .expect("block");
            for tx in block["transactions"]
                .as_array()
                .unwrap_or_else(|| panic!("no transactions in {block}"))
            {
                if tx["type"] == "0x7e" {
                    self.deposits
                        .entry(quantity(&tx["nonce"]))
                        .or_default()
                        .push(hash(&tx["hash"]));
                }
            }
            self.last = Some((number, hash(&block["hash"])));
            self.next += 1;
        }
    }

    /// Bridge ids below `sent` not included yet.
    fn missing(&self, sent: u64) -> Vec<u64> {
        (0..sent)
            .filter(|id| !self.deposits.contains_key(id))
            .collect()
    }

    /// Bridge ids included more than once.
    fn duplicated(&self) -> Vec<u64> {
        self.deposits
            .iter()
            .filter(|(_, hashes)| hashes.len() > 1)
            .map(|(id, _)| *id)
            .collect()
    }
}

/// Waits until every one of the `sent` deposits is on the L2 (or [`SETTLE`] passed); then no
/// deposit may be missing or included twice, and none beyond `sent` may exist.
async fn check_deposits(p: &DynProvider, scan: &mut ChainScan, sent: u64) {
    let deadline = Instant::now() + SETTLE;
    loop {
        scan.scan(p).await;
        if scan.missing(sent).is_empty() || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let missing = scan.missing(sent);
    assert!(
        missing.is_empty(),
        "deposits lost: bridge ids {missing:?} of {sent} not on the L2 after {SETTLE:?}"
    );
    let twice = scan.duplicated();
    assert!(
        twice.is_empty(),
        "deposits included twice: bridge ids {twice:?}"
    );
    let beyond: Vec<u64> = scan.deposits.range(sent..).map(|(id, _)| *id).collect();
    assert!(
        beyond.is_empty(),
        "privileged txs with ids the bridge never gave: {beyond:?}"
    );
}

/// A round that ended with a kill, for the checks after the restart.
struct Killed {
    /// The head stored at the kill.
    head: u64,
    /// The blocks the RPC served in the round.
    seen: Vec<SeenBlock>,
    /// The transactions acknowledged in the round.
    sent: Vec<B256>,
    /// Those of `sent` in no block stored at the kill.
    unstored: Vec<B256>,
}

/// The campaign's totals.
#[derive(Debug, Default)]
struct Totals {
    kills: usize,
    acknowledged: usize,
    probes: usize,
    /// Acknowledged before a kill and found in a block at the first look after the restart.
    in_block_after_restart: usize,
    /// Acknowledged before a kill and found pending in the restarted pool at the first look.
    pending_after_restart: usize,
    /// Acknowledged before a kill and in no block stored at the kill: only in the pool (and its
    /// journal). Then found in a block or pending after the restart.
    unstored_at_kill: usize,
    unstored_in_block_after_restart: usize,
    unstored_pending_after_restart: usize,
    lost: usize,
    deposits_sent: u64,
    /// Deposits the bridge had accepted but the L2 had not included when the node was killed,
    /// summed over the kills.
    deposits_not_on_l2_at_kill: u64,
    deposits_found: u64,
    deposits_lost: u64,
    deposits_twice: u64,
    blocks: u64,
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

/// Opens the killed node's datadir and checks it; returns the head number and the acknowledged
/// transactions no stored block holds (they were only in the pool, so only in its journal), and
/// how many deposits the L2 had included (the number of the bridge ids up to its marker).
fn check_killed_datadir(
    datadir: &Path,
    seen: &[SeenBlock],
    sent: &[B256],
) -> (u64, Vec<B256>, u64) {
    let store = Store::open(datadir.join("keel.redb")).expect("open the killed node's store");
    let included = store
        .l1_watcher_progress()
        .expect("L1 watcher progress")
        .included_up_to
        .map_or(0, |id| id + 1);
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
    let unstored: Vec<B256> = sent
        .iter()
        .filter(|tx| reader.tx_location(tx).expect("tx lookup").is_none())
        .map(|tx| **tx)
        .collect();
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
        "killed at head {} ({} blocks served, {checked} sent txs in them; {} acknowledged txs in \
         no stored block); state: {} accounts, {} slots",
        head.number,
        seen.len(),
        unstored.len(),
        report.accounts,
        report.slots
    );
    (head.number, unstored, included)
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
async fn killed_sequencer_loses_no_block_tx_or_deposit() {
    let started = Instant::now();
    let seed = std::env::var("KEEL_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    let kills: usize = std::env::var("KEEL_CRASH_KILLS")
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .unwrap_or_else(|_| panic!("KEEL_CRASH_KILLS={s} is not a number"))
        })
        .unwrap_or(DEFAULT_KILLS);
    eprintln!("KEEL_CRASH_SEED={seed} KEEL_CRASH_KILLS={kills}");
    let mut rng = Rng(seed);

    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start(dir.path(), None, false).await;
    let bridge = l1.deployment.contracts.common_bridge.proxy;
    let datadir = dir.path().join("data");
    let args = [
        "--network",
        &l1.genesis_file,
        "--datadir",
        datadir.to_str().expect("utf-8"),
        "--l1.deployment",
        &l1.deployment_file,
        "--eth.rpc-url",
        &l1.anvil.url,
        "--watcher.watch-interval",
        "100",
        "--watcher.block-delay",
        "0",
    ];
    let start = || tokio::task::block_in_place(|| Node::start(&args));
    let deposits_sent = || async {
        l1.bridge()
            .transactionId()
            .call()
            .await
            .expect("transactionId")
            .to::<u64>()
    };

    let mut node = start();
    let mut p = provider(&node.url);
    let contract = deploy(&p).await;
    let mut previous: Option<Killed> = None;
    let mut all_checked = 0usize;
    let mut totals = Totals::default();
    // Every acknowledged transaction (for the last check), those pending after the last restart
    // (looked up again after the next one), and each load sender's last acknowledged nonce.
    let mut acknowledged: Vec<B256> = Vec::new();
    let mut carried: Vec<B256> = Vec::new();
    let mut last_nonce: HashMap<Address, u64> = HashMap::new();
    let mut scan = ChainScan::default();

    for round in 0..=kills {
        if let Some(Killed {
            head: old_head,
            seen,
            sent,
            unstored,
        }) = previous.take()
        {
            // Restarted: the node resumes at the stored head, goes on, and serves what it served.
            let head = quantity(&rpc(&p, "eth_blockNumber", json!([])).await.expect("head"));
            assert!(
                head >= old_head,
                "restarted at {head}, below the stored head {old_head}"
            );
            // Every acknowledged transaction is in a block or in the restarted pool.
            let found = find_acknowledged(&p, &sent).await;
            let again = find_acknowledged(&p, &carried).await;
            let lost: Vec<B256> = found.lost.iter().chain(&again.lost).copied().collect();
            totals.lost += lost.len();
            assert!(
                lost.is_empty(),
                "round {round} (KEEL_CRASH_SEED={seed}): {} acknowledged txs neither in a block \
                 nor in the restarted pool, the first: {:?}",
                lost.len(),
                &lost[..lost.len().min(10)]
            );
            totals.in_block_after_restart += found.in_block;
            totals.pending_after_restart += found.pending.len();
            let journal = find_acknowledged(&p, &unstored).await;
            totals.unstored_at_kill += unstored.len();
            totals.unstored_in_block_after_restart += journal.in_block;
            totals.unstored_pending_after_restart += journal.pending.len();
            eprintln!(
                "restart {round}: of {} txs acknowledged before the kill, {} in blocks, {} \
                 pending in the restarted pool; of the {} in no stored block at the kill (only \
                 in the pool's journal), {} in blocks, {} pending",
                sent.len(),
                found.in_block,
                found.pending.len(),
                unstored.len(),
                journal.in_block,
                journal.pending.len()
            );
            carried = found.pending;
            carried.extend(again.pending);

            wait_past(&p, old_head).await;
            check_restarted(&p, &seen, &sent).await;
            all_checked += seen.iter().map(|b| b.txs.len()).sum::<usize>();

            // No nonce gap blocks a sender.
            let probes = probe_senders(&p, &mut last_nonce).await;
            totals.probes += probes.len();
            acknowledged.extend(probes);

            // Every deposit the bridge accepted is on the L2, once.
            check_deposits(&p, &mut scan, deposits_sent().await).await;
        }
        if round == kills {
            break;
        }

        // Load, deposits, and a watcher recording the blocks the RPC serves.
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
        let depositor = tokio::spawn(send_deposits(
            l1.provider.clone(),
            bridge,
            rng.next(),
            stop.clone(),
        ));

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
            let s = s.await.expect("sender");
            sent.extend(s.hashes);
            for (address, nonce) in s.last_nonce {
                let last = last_nonce.entry(address).or_insert(nonce);
                *last = (*last).max(nonce);
            }
        }
        let deposits = depositor.await.expect("depositor");
        let seen = std::mem::take(&mut *seen.lock().expect("lock"));

        let (head, unstored, included) =
            tokio::task::block_in_place(|| check_killed_datadir(&datadir, &seen, &sent));
        let on_l1 = deposits_sent().await;
        totals.deposits_not_on_l2_at_kill += on_l1.saturating_sub(included);
        eprintln!(
            "round {round}: {} txs acknowledged, {deposits} deposits sent ({} of all {on_l1} not \
             yet included on the L2 at the kill)",
            sent.len(),
            on_l1.saturating_sub(included)
        );
        totals.kills += 1;
        totals.acknowledged += sent.len();
        acknowledged.extend(&sent);
        previous = Some(Killed {
            head,
            seen,
            sent,
            unstored,
        });

        drop(node);
        node = start();
        p = provider(&node.url);
    }

    // A clean stop at the end (SIGTERM: the node must exit within 20 s, even with a batch
    // sealer step rebuilding a long open batch in flight), and the state checked once more.
    totals.blocks = quantity(&rpc(&p, "eth_blockNumber", json!([])).await.expect("head"));
    tokio::task::block_in_place(|| node.terminate());
    let store = Store::open(datadir.join("keel.redb")).expect("open the store");
    let report = store.verify_state().expect("state after a clean stop");
    // Every acknowledged transaction is in a stored block (the probes drained the pool).
    let reader = store.reader().expect("reader");
    let not_stored: Vec<&B256> = acknowledged
        .iter()
        .filter(|tx| reader.tx_location(tx).expect("tx lookup").is_none())
        .collect();
    drop(reader);
    // Every deposit's L2 hash is the one the bridge queued for its id.
    let sent = deposits_sent().await;
    for (id, hashes) in &scan.deposits {
        let queued = l1
            .bridge()
            .privilegedTxHashes(U256::from(*id))
            .call()
            .await
            .expect("privilegedTxHashes");
        assert_eq!(hashes[0], queued, "bridge id {id}");
    }
    totals.deposits_sent = sent;
    totals.deposits_found = scan.deposits.len() as u64;
    totals.deposits_lost = scan.missing(sent).len() as u64;
    totals.deposits_twice = scan.duplicated().len() as u64;
    let t = &totals;
    eprintln!(
        "CRASH SUMMARY seed={seed} kills={} blocks={} txs_acknowledged={} \
         txs_in_block_after_restart={} txs_pending_after_restart={} txs_only_in_pool_at_kill={} \
         of_those_in_block_after_restart={} of_those_pending_after_restart={} txs_lost={} probes={} \
         txs_not_stored_at_end={} deposits_sent={} deposits_not_on_l2_at_kills={} \
         deposits_found={} deposits_lost={} \
         deposits_duplicated={} duration_s={}",
        t.kills,
        t.blocks,
        t.acknowledged,
        t.in_block_after_restart,
        t.pending_after_restart,
        t.unstored_at_kill,
        t.unstored_in_block_after_restart,
        t.unstored_pending_after_restart,
        t.lost,
        t.probes,
        not_stored.len(),
        t.deposits_sent,
        t.deposits_not_on_l2_at_kill,
        t.deposits_found,
        t.deposits_lost,
        t.deposits_twice,
        started.elapsed().as_secs()
    );
    assert!(
        not_stored.is_empty(),
        "acknowledged txs not in a stored block at the end: {not_stored:?}"
    );
    assert_eq!(
        (t.deposits_lost, t.deposits_twice),
        (0, 0),
        "deposits lost, twice"
    );
    assert!(t.deposits_sent > 0, "no deposit was sent");
    assert!(all_checked > 0);
    // The load reached the state: fresh recipients and contract slots beyond the genesis.
    let genesis_accounts = dev::dev_genesis().alloc.len() as u64;
    assert!(
        report.accounts > genesis_accounts + 10 && report.slots > 10,
        "{report:?}"
    );
}
