//! `keel_l1::sender::L1Sender` against a real anvil (Prague): confirmations, blob commits,
//! decoded reverts, fee caps, replacement bumps, restarts over the journal, reorgs, outages.

mod common;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::{
    consensus::{Transaction, TxEnvelope},
    eips::{eip2718::Decodable2718, eip4844::BYTES_PER_BLOB},
    network::TransactionBuilder,
    primitives::{Address, Bytes, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol_types::{SolCall, SolError},
};
use common::{Batch, L1, SEQUENCER, USER, addr, signer};
use keel_l1::{
    Anvil, AnvilConfig, L1Client, L1ClientConfig,
    contracts::OnChainProposer,
    sender::{
        JournalEntry, L1Sender, L1SenderConfig, L1TxRequest, MemoryJournal, SendError, SendJournal,
        blob_sidecar, versioned_hash,
    },
};

const GWEI: u128 = 1_000_000_000;
/// The account the plain-transfer tests send from, and the recipient.
const FROM: usize = 6;
const TO: usize = 7;

fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "keel_l1=debug".into()),
        )
        .with_test_writer()
        .try_init();
}

/// Fast polling, small depths, generous caps.
fn config() -> L1SenderConfig {
    L1SenderConfig {
        max_fee_per_gas: 100 * GWEI,
        max_priority_fee_per_gas: 10 * GWEI,
        max_fee_per_blob_gas: 100 * GWEI,
        bump_after_blocks: 2,
        confirmations: 2,
        poll_interval: Duration::from_millis(100),
        max_backoff: Duration::from_millis(500),
        give_up_after: None,
        metrics_label: "committer",
    }
}

fn sender(
    url: &str,
    key: PrivateKeySigner,
    config: L1SenderConfig,
    journal: Arc<MemoryJournal>,
) -> L1Sender {
    let client = L1Client::from_urls([url]).expect("client");
    L1Sender::new(client, key, config, journal)
}

async fn anvil(extra: &[&str]) -> (Anvil, DynProvider) {
    let anvil = Anvil::spawn(&AnvilConfig {
        extra_args: extra.iter().map(|s| s.to_string()).collect(),
        ..AnvilConfig::default()
    })
    .await
    .expect("anvil starts");
    let provider = common::wallet_provider(&anvil.url);
    (anvil, provider)
}

async fn rpc(
    provider: &DynProvider,
    method: &'static str,
    params: serde_json::Value,
) -> serde_json::Value {
    provider
        .raw_request(method.into(), params)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

async fn mine(provider: &DynProvider) {
    rpc(provider, "evm_mine", serde_json::json!([])).await;
}

async fn set_next_base_fee(provider: &DynProvider, wei: u128) {
    rpc(
        provider,
        "anvil_setNextBlockBaseFeePerGas",
        serde_json::json!([format!("0x{wei:x}")]),
    )
    .await;
}

/// Mines a block every `every` until aborted.
fn spawn_miner(provider: DynProvider, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let _: Result<serde_json::Value, _> = provider.raw_request("evm_mine".into(), ()).await;
        }
    })
}

async fn nonce(provider: &DynProvider, who: Address) -> u64 {
    provider
        .get_transaction_count(who)
        .latest()
        .await
        .expect("nonce")
}

/// Waits (up to 30 s) until job (`kind`, `key`) in `journal` has at least `txs` transactions.
async fn journaled(journal: &MemoryJournal, kind: &str, key: u64, txs: usize) -> JournalEntry {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(e) = journal.load(kind, key).expect("journal")
            && e.txs.len() >= txs
        {
            return e;
        }
        assert!(
            Instant::now() < deadline,
            "job {kind}/{key} never had {txs} journaled tx(s)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The nonce inside each journaled raw transaction (all must decode).
fn raw_nonces(entry: &JournalEntry) -> Vec<u64> {
    entry
        .txs
        .iter()
        .map(|t| {
            let env = TxEnvelope::decode_2718(&mut t.raw.as_ref()).expect("journaled tx decodes");
            assert_eq!(
                *env.tx_hash(),
                t.hash,
                "journaled hash is the raw tx's hash"
            );
            env.nonce()
        })
        .collect()
}

fn transfer(wei: u64) -> L1TxRequest {
    L1TxRequest::call(addr(TO), Bytes::new()).with_value(U256::from(wei))
}

fn commit_call(batch: &Batch) -> Bytes {
    OnChainProposer::commitBatchCall {
        batchNumber: U256::from(batch.number),
        newStateRoot: batch.new_state_root,
        withdrawalsRoot: batch.withdrawals_root,
        privilegedRollingHash: batch.privileged_rolling_hash,
        lastBlockHash: batch.last_block_hash,
        nonPrivilegedTxCount: U256::from(batch.non_privileged_tx_count),
        lastBlockTimestamp: batch.last_block_timestamp,
    }
    .abi_encode()
    .into()
}

/// A valid blob: a few bytes in each of the first field elements (each starts with 0x00).
fn test_blob() -> Box<[u8; BYTES_PER_BLOB]> {
    let mut blob = Box::new([0u8; BYTES_PER_BLOB]);
    for (i, chunk) in blob.chunks_mut(32).take(100).enumerate() {
        chunk[1..9].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    }
    blob
}

#[tokio::test]
async fn plain_tx_is_confirmed_after_the_configured_confirmations() {
    init_logs();
    let (anvil, provider) = anvil(&["--block-time", "1"]).await;
    let journal = Arc::new(MemoryJournal::new());
    let sender = sender(
        &anvil.url,
        signer(FROM),
        L1SenderConfig {
            confirmations: 3,
            ..config()
        },
        journal.clone(),
    );
    let start_nonce = nonce(&provider, addr(FROM)).await;
    let to_before = provider.get_balance(addr(TO)).await.expect("balance");

    let confirmed = sender
        .send("transfer", 1, transfer(12_345))
        .await
        .expect("sent");

    let head = provider.get_block_number().await.expect("head");
    assert!(
        head >= confirmed.block_number + 3,
        "returned at {head}, mined at {}",
        confirmed.block_number
    );
    let receipt = provider
        .get_transaction_receipt(confirmed.tx_hash)
        .await
        .expect("receipt call")
        .expect("receipt");
    assert!(receipt.status());
    assert_eq!(receipt.block_hash, Some(confirmed.block_hash));
    assert_eq!(receipt.gas_used, confirmed.gas_used);
    assert_eq!(confirmed.gas_used, 21_000);
    assert!(confirmed.effective_gas_price > 0);
    assert_eq!(nonce(&provider, addr(FROM)).await, start_nonce + 1);
    assert_eq!(confirmed.nonce, start_nonce);
    assert_eq!(
        provider.get_balance(addr(TO)).await.expect("balance"),
        to_before + U256::from(12_345)
    );

    // Journaled until the caller finishes it.
    let jobs = sender.pending_jobs().expect("jobs");
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (jobs[0].kind.as_str(), jobs[0].key, jobs[0].nonce),
        ("transfer", 1, start_nonce)
    );
    assert_eq!(jobs[0].txs.len(), 1);
    assert_eq!(jobs[0].txs[0].hash, confirmed.tx_hash);

    // Sending the job again finds it confirmed: no second transaction.
    let again = sender
        .send("transfer", 1, transfer(12_345))
        .await
        .expect("resumed");
    assert_eq!(again.tx_hash, confirmed.tx_hash);
    assert_eq!(nonce(&provider, addr(FROM)).await, start_nonce + 1);

    sender.finish("transfer", 1).expect("finish");
    assert!(sender.pending_jobs().expect("jobs").is_empty());

    // The next job takes the next nonce.
    let next = sender
        .send("transfer", 2, transfer(1))
        .await
        .expect("second job");
    assert_eq!(next.nonce, start_nonce + 1);
}

#[tokio::test]
async fn blob_commit_lands_with_its_versioned_hash() {
    init_logs();
    let l1 = L1::start().await;
    let miner = spawn_miner(l1.provider.clone(), Duration::from_millis(300));
    let journal = Arc::new(MemoryJournal::new());
    let sender = sender(&l1.anvil.url, signer(SEQUENCER), config(), journal.clone());
    let proposer = l1.deployment.contracts.on_chain_proposer.proxy;

    let sidecar = blob_sidecar(&test_blob()).expect("sidecar");
    let hash = versioned_hash(&sidecar).expect("one blob");
    assert_eq!(hash[0], 0x01, "KZG versioned hash");
    let batch = Batch::simple(1);
    let confirmed = sender
        .send(
            "commit",
            1,
            L1TxRequest::call(proposer, commit_call(&batch)).with_blob(sidecar),
        )
        .await
        .expect("commit sent");
    miner.abort();

    let tx = l1
        .provider
        .get_transaction_by_hash(confirmed.tx_hash)
        .await
        .expect("tx call")
        .expect("tx");
    assert_eq!(tx.inner.blob_versioned_hashes(), Some(&[hash][..]));
    assert_eq!(confirmed.blob_gas_used, Some(131_072));
    assert!(confirmed.blob_gas_price.is_some());
    let stored = l1
        .proposer()
        .getBatch(U256::from(1))
        .call()
        .await
        .expect("getBatch");
    assert_eq!(
        stored.blobVersionedHash, hash,
        "blobhash(0) stored by the contract"
    );
    assert_eq!(stored.newStateRoot, batch.new_state_root);

    // The journal holds the network form (with the sidecar).
    let entry = journal.load("commit", 1).expect("journal").expect("entry");
    assert!(
        entry.txs[0].raw.len() > BYTES_PER_BLOB,
        "raw tx carries the blob"
    );
    assert!(entry.txs[0].max_fee_per_blob_gas.is_some());
}

#[tokio::test]
async fn reverts_are_decoded_and_nothing_is_sent() {
    init_logs();
    let l1 = L1::start().await;
    let proposer = l1.deployment.contracts.on_chain_proposer.proxy;
    let journal = Arc::new(MemoryJournal::new());
    let blob = || blob_sidecar(&test_blob()).expect("sidecar");

    let seq = sender(&l1.anvil.url, signer(SEQUENCER), config(), journal.clone());
    let before = nonce(&l1.provider, addr(SEQUENCER)).await;
    let err = seq
        .send(
            "commit",
            2,
            L1TxRequest::call(proposer, commit_call(&Batch::simple(2))).with_blob(blob()),
        )
        .await
        .expect_err("batch 2 is not next");
    let SendError::Reverted {
        reason,
        data,
        tx_hash,
    } = err
    else {
        panic!("expected Reverted, got {err:?}");
    };
    assert!(reason.contains("BatchNotNext"), "{reason}");
    assert_eq!(&data[..4], &OnChainProposer::BatchNotNext::SELECTOR[..]);
    assert_eq!(tx_hash, None);

    // Without the blob: MissingBlob. From a user: CallerNotSequencer.
    let err = seq
        .send(
            "commit",
            1,
            L1TxRequest::call(proposer, commit_call(&Batch::simple(1))),
        )
        .await
        .expect_err("no blob");
    assert!(
        matches!(&err, SendError::Reverted { reason, .. } if reason.contains("MissingBlob")),
        "{err:?}"
    );
    let user = sender(&l1.anvil.url, signer(USER), config(), journal.clone());
    let err = user
        .send(
            "commit",
            1,
            L1TxRequest::call(proposer, commit_call(&Batch::simple(1))).with_blob(blob()),
        )
        .await
        .expect_err("not the sequencer");
    assert!(
        matches!(&err, SendError::Reverted { reason, .. } if reason.contains("CallerNotSequencer")),
        "{err:?}"
    );

    assert_eq!(
        nonce(&l1.provider, addr(SEQUENCER)).await,
        before,
        "nothing sent"
    );
    assert!(
        journal.entries().expect("entries").is_empty(),
        "nothing journaled"
    );
}

#[tokio::test]
async fn fees_above_the_cap_wait_until_they_drop() {
    init_logs();
    let (anvil, provider) = anvil(&[]).await;
    let journal = Arc::new(MemoryJournal::new());
    let sender = Arc::new(sender(
        &anvil.url,
        signer(FROM),
        L1SenderConfig {
            max_fee_per_gas: 50 * GWEI,
            ..config()
        },
        journal.clone(),
    ));
    set_next_base_fee(&provider, 1_000 * GWEI).await;
    mine(&provider).await;
    let start_nonce = nonce(&provider, addr(FROM)).await;

    let task = {
        let sender = sender.clone();
        tokio::spawn(async move { sender.send("transfer", 7, transfer(1)).await })
    };
    tokio::time::sleep(Duration::from_millis(1_500)).await; // ~15 polls
    assert!(!task.is_finished());
    assert_eq!(
        nonce(&provider, addr(FROM)).await,
        start_nonce,
        "nothing sent above the cap"
    );
    assert_eq!(
        journal.load("transfer", 7).expect("journal"),
        None,
        "nothing journaled"
    );
    let pending = provider
        .get_transaction_count(addr(FROM))
        .pending()
        .await
        .expect("pending");
    assert_eq!(pending, start_nonce, "nothing in the pool");

    set_next_base_fee(&provider, GWEI).await;
    mine(&provider).await;
    let miner = spawn_miner(provider.clone(), Duration::from_millis(300));
    let confirmed = tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("in time")
        .expect("task")
        .expect("sent once fees dropped");
    miner.abort();
    let entry = journal
        .load("transfer", 7)
        .expect("journal")
        .expect("entry");
    assert!(entry.txs[0].max_fee_per_gas <= 50 * GWEI, "cap respected");
    assert_eq!(confirmed.nonce, start_nonce);
    assert_eq!(nonce(&provider, addr(FROM)).await, start_nonce + 1);
}

#[tokio::test]
async fn a_stuck_tx_is_replaced_with_bumped_fees_and_one_lands() {
    init_logs();
    let (anvil, provider) = anvil(&["--no-mining"]).await;
    let journal = Arc::new(MemoryJournal::new());
    let sender = Arc::new(sender(&anvil.url, signer(FROM), config(), journal.clone()));
    let start_nonce = nonce(&provider, addr(FROM)).await;

    let task = {
        let sender = sender.clone();
        tokio::spawn(async move { sender.send("transfer", 3, transfer(777)).await })
    };
    let first = journaled(&journal, "transfer", 3, 1).await;
    let first_tx = first.txs[0].clone();
    // Base fee spike: the transaction's max fee no longer covers it, so blocks pass it by.
    let spike = 10 * first_tx.max_fee_per_gas;
    assert!(
        spike < 50 * GWEI,
        "the market after the spike is within the cap ({spike})"
    );
    set_next_base_fee(&provider, spike).await;
    let miner = spawn_miner(provider.clone(), Duration::from_millis(300));

    let confirmed = tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("in time")
        .expect("task")
        .expect("sent");
    miner.abort();

    let entry = journal
        .load("transfer", 3)
        .expect("journal")
        .expect("entry");
    assert!(
        entry.txs.len() >= 2,
        "replaced at least once: {:?}",
        entry.txs.len()
    );
    assert!(
        raw_nonces(&entry).iter().all(|&n| n == start_nonce),
        "one nonce for all"
    );
    for pair in entry.txs.windows(2) {
        assert!(
            pair[1].max_fee_per_gas * 10 >= pair[0].max_fee_per_gas * 11,
            "≥10% bump"
        );
        assert!(pair[1].max_priority_fee_per_gas * 10 >= pair[0].max_priority_fee_per_gas * 11);
    }
    assert_ne!(confirmed.tx_hash, first_tx.hash, "a replacement landed");
    assert!(entry.txs.iter().any(|t| t.hash == confirmed.tx_hash));
    let landed = count_receipts(&provider, &entry).await;
    assert_eq!(landed, 1, "exactly one of the job's txs has a receipt");
    assert_eq!(nonce(&provider, addr(FROM)).await, start_nonce + 1);
}

/// On a current-thread runtime, so the sender's task records into this test's recorder.
#[tokio::test]
async fn the_sender_records_its_balance_nonce_sends_and_bumps_under_its_label() {
    init_logs();
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let (anvil, provider) = anvil(&["--no-mining"]).await;
    let journal = Arc::new(MemoryJournal::new());
    let labelled = L1SenderConfig {
        metrics_label: "proof_sender",
        ..config()
    };
    let sender = Arc::new(sender(&anvil.url, signer(FROM), labelled, journal.clone()));
    let start_nonce = nonce(&provider, addr(FROM)).await;
    let value = |series: &str| {
        handle.render().lines().find_map(|line| {
            line.strip_prefix(series)?
                .strip_prefix(' ')?
                .parse::<f64>()
                .ok()
        })
    };
    sender.record_balance().await;
    let before = provider.get_balance(addr(FROM)).await.expect("balance");
    let ether = |wei: U256| u128::try_from(wei).expect("fits") as f64 / 1e18;
    assert_eq!(
        value("keel_l1_sender_balance_ether{account=\"proof_sender\"}"),
        Some(ether(before))
    );

    let task = {
        let sender = sender.clone();
        tokio::spawn(async move { sender.send("transfer", 3, transfer(777)).await })
    };
    let first = journaled(&journal, "transfer", 3, 1).await;
    set_next_base_fee(&provider, 10 * first.txs[0].max_fee_per_gas).await;
    let miner = spawn_miner(provider.clone(), Duration::from_millis(300));
    tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("in time")
        .expect("task")
        .expect("sent");
    miner.abort();

    let bumps = journal
        .load("transfer", 3)
        .expect("journal")
        .expect("entry")
        .txs
        .len()
        - 1;
    assert!(bumps >= 1);
    assert_eq!(
        value("keel_l1_sender_transactions_sent_total{account=\"proof_sender\"}"),
        Some(1.0)
    );
    assert_eq!(
        value("keel_l1_sender_fee_bumps_total{account=\"proof_sender\"}"),
        Some(bumps as f64)
    );
    assert_eq!(
        value("keel_l1_sender_nonce{account=\"proof_sender\"}"),
        Some((start_nonce + 1) as f64)
    );
    // Read again after the confirmation: the value and the fee are gone.
    let after = provider.get_balance(addr(FROM)).await.expect("balance");
    assert!(after < before);
    assert_eq!(
        value("keel_l1_sender_balance_ether{account=\"proof_sender\"}"),
        Some(ether(after))
    );
    assert!(
        value("keel_l1_sender_balance_ether{account=\"committer\"}").is_none(),
        "nothing under another label"
    );
}

async fn count_receipts(provider: &DynProvider, entry: &JournalEntry) -> usize {
    let mut n = 0;
    for tx in &entry.txs {
        if provider
            .get_transaction_receipt(tx.hash)
            .await
            .expect("receipt call")
            .is_some()
        {
            n += 1;
        }
    }
    n
}

#[tokio::test]
async fn a_restarted_sender_resumes_the_journaled_tx_without_a_second_nonce() {
    init_logs();
    let (anvil, provider) = anvil(&["--no-mining"]).await;
    let journal = Arc::new(MemoryJournal::new());
    let start_nonce = nonce(&provider, addr(FROM)).await;
    let to_before = provider.get_balance(addr(TO)).await.expect("balance");

    // First life: broadcast, then the process "dies" before anything is mined.
    let first = Arc::new(sender(&anvil.url, signer(FROM), config(), journal.clone()));
    let task = {
        let first = first.clone();
        tokio::spawn(async move { first.send("commit", 5, transfer(1_000)).await })
    };
    let entry = journaled(&journal, "commit", 5, 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    task.abort();
    let _ = task.await;
    drop(first);
    // The pool forgets it too (a node restart): only the journal has it.
    rpc(
        &provider,
        "anvil_dropAllTransactions",
        serde_json::json!([]),
    )
    .await;
    assert_eq!(
        provider
            .get_transaction_count(addr(FROM))
            .pending()
            .await
            .expect("pending"),
        start_nonce
    );

    // Second life, asked for the same job with a different request: it resumes the journaled tx.
    let second = sender(&anvil.url, signer(FROM), config(), journal.clone());
    let jobs = second.pending_jobs().expect("jobs");
    assert_eq!(jobs.len(), 1);
    let miner = spawn_miner(provider.clone(), Duration::from_millis(300));
    let confirmed = tokio::time::timeout(
        Duration::from_secs(60),
        second.send("commit", 5, transfer(999_999)),
    )
    .await
    .expect("in time")
    .expect("resumed");
    miner.abort();

    assert_eq!(
        confirmed.tx_hash, entry.txs[0].hash,
        "the journaled tx landed"
    );
    assert_eq!(
        nonce(&provider, addr(FROM)).await,
        start_nonce + 1,
        "exactly one nonce used"
    );
    assert_eq!(
        provider.get_balance(addr(TO)).await.expect("balance"),
        to_before + U256::from(1_000),
        "the first request's value, once"
    );
    let entry = journal.load("commit", 5).expect("journal").expect("entry");
    assert_eq!(raw_nonces(&entry), vec![start_nonce; entry.txs.len()]);
}

#[tokio::test]
async fn a_journaled_nonce_taken_by_another_tx_is_reported_not_resent() {
    init_logs();
    let (anvil, provider) = anvil(&["--no-mining"]).await;
    let journal = Arc::new(MemoryJournal::new());
    let start_nonce = nonce(&provider, addr(FROM)).await;

    let first = Arc::new(sender(&anvil.url, signer(FROM), config(), journal.clone()));
    let task = {
        let first = first.clone();
        tokio::spawn(async move { first.send("commit", 9, transfer(1)).await })
    };
    journaled(&journal, "commit", 9, 1).await;
    task.abort();
    let _ = task.await;
    rpc(
        &provider,
        "anvil_dropAllTransactions",
        serde_json::json!([]),
    )
    .await;
    // Someone else (another process with the same key) uses the nonce.
    let other = TransactionRequest::default()
        .with_from(addr(FROM))
        .with_to(Address::repeat_byte(0x42))
        .with_value(U256::from(5))
        .with_nonce(start_nonce);
    let pending = provider.send_transaction(other).await.expect("other tx");
    mine(&provider).await;
    pending.get_receipt().await.expect("other tx mined");

    let second = sender(&anvil.url, signer(FROM), config(), journal.clone());
    let miner = spawn_miner(provider.clone(), Duration::from_millis(300));
    let err = tokio::time::timeout(
        Duration::from_secs(30),
        second.send("commit", 9, transfer(1)),
    )
    .await
    .expect("in time")
    .expect_err("nonce taken");
    miner.abort();
    assert!(
        matches!(err, SendError::NonceTaken { nonce, account_nonce, .. } if nonce == start_nonce && account_nonce == start_nonce + 1),
        "{err:?}"
    );
    assert_eq!(
        nonce(&provider, addr(FROM)).await,
        start_nonce + 1,
        "nothing more sent"
    );
}

#[tokio::test]
async fn a_tx_dropped_by_a_reorg_is_rebroadcast_and_lands_once() {
    init_logs();
    let (anvil, provider) = anvil(&[]).await; // automine: a block per transaction
    let journal = Arc::new(MemoryJournal::new());
    let sender = Arc::new(sender(&anvil.url, signer(FROM), config(), journal.clone()));
    let start_nonce = nonce(&provider, addr(FROM)).await;
    let snapshot = rpc(&provider, "evm_snapshot", serde_json::json!([])).await;

    let task = {
        let sender = sender.clone();
        tokio::spawn(async move { sender.send("transfer", 4, transfer(4_444)).await })
    };
    let entry = journaled(&journal, "transfer", 4, 1).await;
    let hash = entry.txs[0].hash;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mined = loop {
        if let Some(r) = provider
            .get_transaction_receipt(hash)
            .await
            .expect("receipt call")
        {
            break r;
        }
        assert!(Instant::now() < deadline, "never mined");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(300)).await; // the sender sees it mined
    assert!(!task.is_finished(), "waiting for confirmations");

    // The block goes away.
    assert_eq!(
        rpc(&provider, "evm_revert", serde_json::json!([snapshot])).await,
        serde_json::json!(true)
    );
    assert_eq!(
        nonce(&provider, addr(FROM)).await,
        start_nonce,
        "reorged out"
    );

    let miner = spawn_miner(provider.clone(), Duration::from_millis(300));
    let confirmed = tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("in time")
        .expect("task")
        .expect("sent");
    miner.abort();

    assert_eq!(confirmed.tx_hash, hash, "the same signed tx, rebroadcast");
    assert_ne!(
        Some(confirmed.block_hash),
        mined.block_hash,
        "in a new block"
    );
    let canonical = provider
        .get_block_by_number(confirmed.block_number.into())
        .await
        .expect("block call")
        .expect("block");
    assert_eq!(canonical.header.hash, confirmed.block_hash);
    assert_eq!(
        nonce(&provider, addr(FROM)).await,
        start_nonce + 1,
        "landed once"
    );
    let entry = journal
        .load("transfer", 4)
        .expect("journal")
        .expect("entry");
    assert_eq!(raw_nonces(&entry), vec![start_nonce; entry.txs.len()]);
}

#[tokio::test]
async fn l1_outage_is_retried_and_gives_up_only_when_configured() {
    init_logs();
    let dead = "http://127.0.0.1:1";
    let quick = |urls: Vec<String>| {
        L1Client::new(L1ClientConfig {
            request_timeout: Duration::from_millis(300),
            initial_backoff: Duration::from_millis(20),
            max_attempts: 2,
            max_elapsed: Duration::from_secs(1),
            ..L1ClientConfig::new(urls)
        })
        .expect("client")
    };
    let journal = Arc::new(MemoryJournal::new());
    let lost = L1Sender::new(
        quick(vec![dead.into()]),
        signer(FROM),
        L1SenderConfig {
            give_up_after: Some(Duration::from_secs(2)),
            ..config()
        },
        journal.clone(),
    );
    let started = Instant::now();
    let err = lost
        .send("transfer", 1, transfer(1))
        .await
        .expect_err("gives up");
    assert!(matches!(err, SendError::L1Unavailable { .. }), "{err:?}");
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(journal.entries().expect("entries").is_empty());

    // A dead primary and a live fallback: the send goes through.
    let (anvil, provider) = anvil(&["--block-time", "1"]).await;
    let failover = L1Sender::new(
        quick(vec![dead.into(), anvil.url.clone()]),
        signer(FROM),
        config(),
        journal.clone(),
    );
    let confirmed = failover
        .send("transfer", 1, transfer(1))
        .await
        .expect("sent via fallback");
    assert!(
        provider
            .get_transaction_receipt(confirmed.tx_hash)
            .await
            .expect("call")
            .is_some()
    );
}

#[tokio::test]
async fn a_stuck_blob_tx_is_replaced_doubling_all_three_fees() {
    init_logs();
    let (anvil, provider) = anvil(&["--no-mining"]).await;
    let journal = Arc::new(MemoryJournal::new());
    // High caps: the base fee spike below must outlast anvil's first blob broadcast, which can
    // take seconds (it loads its KZG setup), and the replacement must still fit.
    let config = L1SenderConfig {
        max_fee_per_gas: 2_000 * GWEI,
        max_priority_fee_per_gas: 100 * GWEI,
        ..config()
    };
    let sender = Arc::new(sender(&anvil.url, signer(FROM), config, journal.clone()));
    let start_nonce = nonce(&provider, addr(FROM)).await;
    let sidecar = blob_sidecar(&test_blob()).expect("sidecar");
    let blob_hash = versioned_hash(&sidecar).expect("hash");

    let task = {
        let sender = sender.clone();
        let request = L1TxRequest::call(addr(TO), Bytes::new()).with_blob(sidecar);
        tokio::spawn(async move { sender.send("commit", 11, request).await })
    };
    let first = journaled(&journal, "commit", 11, 1).await.txs[0].clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    while provider
        .get_transaction_by_hash(first.hash)
        .await
        .expect("tx call")
        .is_none()
    {
        assert!(
            Instant::now() < deadline,
            "the blob tx never reached the pool"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Base fee spike: the tx is passed over for ~35 blocks (the base fee falls 12.5% a block).
    set_next_base_fee(&provider, 100 * first.max_fee_per_gas).await;
    let miner = spawn_miner(provider.clone(), Duration::from_millis(1_000));
    let confirmed = tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("in time")
        .expect("task")
        .expect("sent");
    miner.abort();

    let entry = journal.load("commit", 11).expect("journal").expect("entry");
    assert!(entry.txs.len() >= 2, "replaced");
    assert!(raw_nonces(&entry).iter().all(|&n| n == start_nonce));
    for pair in entry.txs.windows(2) {
        let (old, new) = (&pair[0], &pair[1]);
        assert!(
            new.max_fee_per_gas >= 2 * old.max_fee_per_gas,
            "100% bump of the max fee"
        );
        assert!(
            new.max_priority_fee_per_gas >= 2 * old.max_priority_fee_per_gas,
            "and the tip"
        );
        assert!(
            new.max_fee_per_blob_gas.expect("blob fee")
                >= 2 * old.max_fee_per_blob_gas.expect("blob fee"),
            "and the blob fee"
        );
    }
    assert_ne!(confirmed.tx_hash, first.hash);
    assert_eq!(count_receipts(&provider, &entry).await, 1);
    let tx = provider
        .get_transaction_by_hash(confirmed.tx_hash)
        .await
        .expect("tx call")
        .expect("tx");
    assert_eq!(tx.inner.blob_versioned_hashes(), Some(&[blob_hash][..]));
    assert_eq!(nonce(&provider, addr(FROM)).await, start_nonce + 1);
}

/// A [`SendJournal`] in a JSON file, rewritten (via a temporary file and a rename) on each
/// change: it survives the process being killed.
struct FileJournal {
    path: std::path::PathBuf,
    lock: std::sync::Mutex<()>,
}

impl FileJournal {
    fn new(path: std::path::PathBuf) -> Self {
        Self {
            path,
            lock: std::sync::Mutex::new(()),
        }
    }

    fn read(&self) -> Vec<JournalEntry> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).expect("journal file parses"),
            Err(_) => Vec::new(),
        }
    }

    fn write(&self, entries: &[JournalEntry]) {
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(entries).expect("json")).expect("write");
        std::fs::File::open(&tmp)
            .expect("open")
            .sync_all()
            .expect("sync");
        std::fs::rename(&tmp, &self.path).expect("rename");
    }
}

impl SendJournal for FileJournal {
    fn load(
        &self,
        kind: &str,
        key: u64,
    ) -> Result<Option<JournalEntry>, keel_l1::sender::JournalError> {
        let _g = self.lock.lock().expect("lock");
        Ok(self
            .read()
            .into_iter()
            .find(|e| e.kind == kind && e.key == key))
    }

    fn store(&self, entry: &JournalEntry) -> Result<(), keel_l1::sender::JournalError> {
        let _g = self.lock.lock().expect("lock");
        let mut all = self.read();
        all.retain(|e| !(e.kind == entry.kind && e.key == entry.key));
        all.push(entry.clone());
        self.write(&all);
        Ok(())
    }

    fn finish(&self, kind: &str, key: u64) -> Result<(), keel_l1::sender::JournalError> {
        let _g = self.lock.lock().expect("lock");
        let mut all = self.read();
        all.retain(|e| !(e.kind == kind && e.key == key));
        self.write(&all);
        Ok(())
    }

    fn entries(&self) -> Result<Vec<JournalEntry>, keel_l1::sender::JournalError> {
        let _g = self.lock.lock().expect("lock");
        Ok(self.read())
    }
}

/// Run by [`killed_at_each_fault_point_the_next_process_finishes_the_job_once`] in a child
/// process (the test binary itself) that `KEEL_FAULT_POINT` kills mid-send.
#[tokio::test]
#[ignore = "child process of the crash test"]
async fn crash_child() {
    init_logs();
    let Ok(url) = std::env::var("KEEL_TEST_L1_URL") else {
        return; // not started by the crash test
    };
    let journal_path = std::env::var("KEEL_TEST_JOURNAL").expect("KEEL_TEST_JOURNAL");
    let key: u64 = std::env::var("KEEL_TEST_KEY")
        .expect("KEEL_TEST_KEY")
        .parse()
        .expect("key");
    let journal = Arc::new(FileJournal::new(journal_path.into()));
    let client = L1Client::from_urls([url]).expect("client");
    let sender = L1Sender::new(client, signer(FROM), config(), journal);
    let result = sender.send("commit", key, transfer(key)).await;
    panic!("the fault point should have killed the process; send returned {result:?}");
}

#[tokio::test]
async fn killed_at_each_fault_point_the_next_process_finishes_the_job_once() {
    use std::os::unix::process::ExitStatusExt;
    init_logs();
    let (anvil, provider) = anvil(&["--no-mining"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let journal_path = dir.path().join("journal.json");
    let exe = std::env::current_exe().expect("test binary");

    for (key, point) in [
        (1u64, "l1sender.after-broadcast"),
        (2, "l1sender.after-receipt"),
    ] {
        let start_nonce = nonce(&provider, addr(FROM)).await;
        // After the receipt: blocks must come while the child waits for one.
        let miner = (point == "l1sender.after-receipt")
            .then(|| spawn_miner(provider.clone(), Duration::from_millis(300)));
        let mut child = std::process::Command::new(&exe);
        child
            .args(["--exact", "crash_child", "--ignored", "--nocapture"])
            .env("KEEL_FAULT_POINT", point)
            .env("KEEL_TEST_L1_URL", &anvil.url)
            .env("KEEL_TEST_JOURNAL", &journal_path)
            .env("KEEL_TEST_KEY", key.to_string());
        let status = tokio::task::spawn_blocking(move || child.status())
            .await
            .expect("join")
            .expect("child runs");
        if let Some(m) = miner {
            m.abort();
        }
        assert_eq!(
            status.signal(),
            Some(9),
            "{point}: killed by SIGKILL, got {status:?}"
        );

        let journal = Arc::new(FileJournal::new(journal_path.clone()));
        let entry = journal
            .load("commit", key)
            .expect("load")
            .expect("journaled before the kill");
        assert_eq!(entry.nonce, start_nonce);
        let sender = sender_over(&anvil.url, journal.clone());
        assert_eq!(
            sender.pending_jobs().expect("jobs").len(),
            1,
            "{point}: one unfinished job"
        );
        let miner = spawn_miner(provider.clone(), Duration::from_millis(300));
        let confirmed = tokio::time::timeout(
            Duration::from_secs(60),
            sender.send("commit", key, transfer(key)),
        )
        .await
        .expect("in time")
        .expect("resumed");
        miner.abort();
        assert_eq!(
            confirmed.tx_hash, entry.txs[0].hash,
            "{point}: the journaled tx"
        );
        assert_eq!(
            nonce(&provider, addr(FROM)).await,
            start_nonce + 1,
            "{point}: one nonce"
        );
        sender.finish("commit", key).expect("finish");
    }
}

fn sender_over(url: &str, journal: Arc<FileJournal>) -> L1Sender {
    L1Sender::new(
        L1Client::from_urls([url]).expect("client"),
        signer(FROM),
        config(),
        journal,
    )
}
