//! `keel import` with and without an L1: blocks exported from a node that executed real deposits
//! from anvil import into a fresh datadir with the L1 configured (once the deposits are at or
//! below the import's L1 read bound); a block built by keel's own builder around a forged
//! privileged transaction (another value than the deposit L1 queued under its id, or an id L1
//! never queued) is refused with the L1 check's error when the L1 is configured, and imported,
//! with a warning that privileged transactions are trusted, without one.

mod common;

use std::{
    path::Path,
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionReceipt,
};
use common::{Node, ether, keel, l1::TestL1, text};
use keel_chain::{BlockAttributes, Blockchain, ListTxSource, rlp_file::encode_block};
use keel_l1::contracts::CommonBridge;
use keel_storage::{StateReader, Store};
use keel_types::{ChainSpec, PrivilegedTx, Transaction, dev};

const DEPOSITOR: usize = 5;

async fn deposit(l1: &TestL1, to: Address, amount: U256) -> TransactionReceipt {
    let receipt = l1
        .bridge()
        .deposit(to)
        .value(amount)
        .from(dev::DEV_ACCOUNTS[DEPOSITOR].0)
        .send()
        .await
        .expect("deposit sent")
        .with_timeout(Some(Duration::from_secs(30)))
        .get_receipt()
        .await
        .expect("deposit mined");
    assert!(receipt.status());
    receipt
}

/// The privileged tx announced by a deposit's receipt.
fn privileged_tx_of(receipt: &TransactionReceipt) -> PrivilegedTx {
    receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| log.log_decode::<CommonBridge::PrivilegedTxSent>().ok())
        .expect("a PrivilegedTxSent")
        .inner
        .data
        .to_privileged_tx(dev::DEFAULT_L2_CHAIN_ID)
        .expect("fields fit")
}

/// `keel import --network GENESIS --datadir DIR FILE` plus `extra`.
fn import(l1: &TestL1, datadir: &Path, file: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "import",
        "--network",
        &l1.genesis_file,
        "--datadir",
        datadir.to_str().expect("utf-8"),
        file.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    keel(&args)
}

/// The L1 flags of an import.
fn with_l1<'a>(l1: &'a TestL1, read_up_to: Option<&'a str>) -> Vec<&'a str> {
    let mut args = vec![
        "--eth.rpc-url",
        &l1.anvil.url,
        "--l1.deployment",
        &l1.deployment_file,
    ];
    if let Some(bound) = read_up_to {
        args.extend(["--import.l1-read-up-to", bound]);
    }
    args
}

fn head_of(datadir: &Path) -> u64 {
    use keel_storage::ChainReader;
    let store = Store::open(datadir.join("keel.redb")).expect("open the datadir");
    let reader = store.reader().expect("reader");
    reader.head().expect("head").expect("a head").1.number
}

fn balance_of(datadir: &Path, who: Address) -> U256 {
    let store = Store::open(datadir.join("keel.redb")).expect("open the datadir");
    store
        .reader()
        .expect("reader")
        .account(&who)
        .expect("read")
        .map_or(U256::ZERO, |a| a.balance)
}

/// A one-block RLP file: keel's builder on the genesis of `genesis_file` with exactly `tx`.
fn forged_block_file(genesis_file: &str, tx: PrivilegedTx, path: &Path) {
    let json = std::fs::read_to_string(genesis_file).expect("genesis");
    let (genesis, spec) = ChainSpec::from_genesis_json(&json).expect("spec");
    let chain =
        Blockchain::open(Store::in_memory().expect("store"), &genesis, spec).expect("chain");
    let txs: Vec<Transaction> = vec![tx.into()];
    let senders = keel_chain::recover_senders(&txs).expect("senders");
    let mut source = ListTxSource::new(txs, senders);
    let attributes = BlockAttributes {
        timestamp: genesis.timestamp + 12,
        coinbase: Address::repeat_byte(0xc0),
        gas_limit: genesis.gas_limit,
        prev_randao: B256::repeat_byte(7),
        extra_data: Bytes::new(),
        l1_prices: None,
        max_state_diff_bytes: None,
    };
    let built = chain.build_block(&attributes, &mut source).expect("build");
    assert!(source.skipped.is_empty(), "{:?}", source.skipped);
    assert_eq!(built.block.body.transactions.len(), 1);
    let mut out = Vec::new();
    encode_block(&built.block, &mut out);
    std::fs::write(path, out).expect("write the block file");
}

#[tokio::test(flavor = "multi_thread")]
async fn imported_privileged_txs_are_checked_against_the_l1_bridge() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start(dir.path(), None, false).await;
    let source = dir.path().join("source");

    // A node executes two real deposits.
    let node = Node::start(&[
        "--network",
        &l1.genesis_file,
        "--datadir",
        source.to_str().expect("utf-8"),
        "--l1.deployment",
        &l1.deployment_file,
        "--eth.rpc-url",
        &l1.anvil.url,
        "--watcher.watch-interval",
        "100",
        "--watcher.read-up-to",
        "latest",
    ]);
    let recipients = [Address::repeat_byte(0xd1), Address::repeat_byte(0xd2)];
    let mut deposits = Vec::new();
    for (i, who) in recipients.iter().enumerate() {
        deposits.push(privileged_tx_of(
            &deposit(&l1, *who, ether(1 + i as u64)).await,
        ));
    }
    let l2 = ProviderBuilder::new().connect_http(node.url.parse().expect("url"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while l2.get_balance(recipients[1]).await.expect("balance") != ether(2) {
        assert!(Instant::now() < deadline, "the deposits reach L2");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    node.terminate();
    let exported = dir.path().join("blocks.rlp");
    let out = keel(&[
        "export",
        "--datadir",
        source.to_str().expect("utf-8"),
        exported.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "export: {}", text(&out));
    let source_head = head_of(&source);

    // Read at the default bound, `safe` (32 blocks behind anvil's head), the deposits are not on
    // L1 yet: the first block holding one is refused and nothing from it on is imported.
    let early = dir.path().join("early");
    let out = import(&l1, &early, &exported, &with_l1(&l1, None));
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(
        log.contains("privileged tx 0") && log.contains("is not in the L1 bridge's queue"),
        "{log}"
    );
    assert!(log.contains("read up to safe"), "{log}");
    assert!(head_of(&early) < source_head);
    assert_eq!(balance_of(&early, recipients[0]), U256::ZERO);

    // Once `safe` passed them, the same file imports whole.
    l1.rpc("anvil_mine", serde_json::json!([40])).await;
    let out = import(&l1, &early, &exported, &with_l1(&l1, None));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("privileged transactions checked against the L1 bridge"),
        "{}",
        text(&out)
    );
    assert_eq!(head_of(&early), source_head);
    for (i, who) in recipients.iter().enumerate() {
        assert_eq!(balance_of(&early, *who), ether(1 + i as u64));
    }

    // A forged deposit: id 0 with a thousand times the value L1 queued under it.
    let forged = PrivilegedTx {
        value: ether(1000),
        ..deposits[0].clone()
    };
    assert_ne!(forged.hash(), deposits[0].hash());
    let forged_file = dir.path().join("forged.rlp");
    forged_block_file(&l1.genesis_file, forged, &forged_file);
    let checked = dir.path().join("checked");
    let out = import(&l1, &checked, &forged_file, &with_l1(&l1, Some("latest")));
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(
        log.contains("block 1 of the file")
            && log.contains("privileged tx 0")
            && log.contains(&format!("but the L1 bridge queued {}", deposits[0].hash())),
        "{log}"
    );
    assert_eq!(
        head_of(&checked),
        0,
        "nothing of the forged block is stored"
    );
    assert_eq!(balance_of(&checked, recipients[0]), U256::ZERO);

    // An id L1 never queued.
    let unknown = PrivilegedTx {
        nonce: 99,
        ..deposits[0].clone()
    };
    let unknown_file = dir.path().join("unknown.rlp");
    forged_block_file(&l1.genesis_file, unknown, &unknown_file);
    let out = import(&l1, &checked, &unknown_file, &with_l1(&l1, Some("latest")));
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(
        log.contains("privileged tx 99") && log.contains("is not in the L1 bridge's queue"),
        "{log}"
    );
    assert_eq!(head_of(&checked), 0);

    // Without an L1 the forged block is trusted, and the import says so.
    let trusting = dir.path().join("trusting");
    let out = import(&l1, &trusting, &forged_file, &[]);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("no L1 configured") && log.contains("are trusted"),
        "{log}"
    );
    assert_eq!(head_of(&trusting), 1);
    assert_eq!(balance_of(&trusting, recipients[0]), ether(1000));

    // An address that is no bridge is refused before any block is read.
    let out = import(
        &l1,
        &dir.path().join("other"),
        &exported,
        &[
            "--eth.rpc-url",
            &l1.anvil.url,
            "--l1.bridge-address",
            &Address::repeat_byte(0x42).to_string(),
        ],
    );
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("is it keel's CommonBridge"), "{log}");
    assert!(!dir.path().join("other").exists(), "no datadir created");
}
