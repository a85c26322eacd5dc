//! Disaster recovery, end to end with the real binary and a real L1 (anvil, 1 s blocks, real
//! blobs): a node runs deposits, transfers, an ERC20 and withdrawals over several batches; its
//! datadir is lost; `keel l2 reconstruct` rebuilds it from L1 alone; every account (balance,
//! nonce, code, storage root) equals the original node's over RPC; the rebuilt node resumes,
//! takes a new deposit and commits the next batch on L1.
//!
//! Both nodes run with `--block-producer.skip-empty`, so the original's state stops changing
//! once its last transaction's batch is committed: that is the state L1 holds.

mod common;

use std::time::{Duration, Instant};

use alloy::{
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
};
use common::{Node, address, ether, keel, key, l1::TestL1, stdout_of, text};
use keel_l1::contracts::OnChainProposer::OnChainProposerInstance;
use serde_json::Value;

fn l2(node: &Node) -> DynProvider {
    ProviderBuilder::new()
        .connect_http(node.url.parse().expect("url"))
        .erased()
}

fn start_node(l1: &TestL1, datadir: &std::path::Path) -> Node {
    Node::start(&[
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
        "--committer.l1-private-key",
        &key(0),
        "--committer.confirmations",
        "1",
        "--committer.commit-time",
        "1000",
        "--block-producer.skip-empty",
    ])
}

async fn deposit(l1: &TestL1, from: usize, to: Address, amount: U256) {
    let receipt = l1
        .bridge()
        .deposit(to)
        .value(amount)
        .from(keel_types::dev::DEV_ACCOUNTS[from].0)
        .send()
        .await
        .expect("deposit sent")
        .with_timeout(Some(Duration::from_secs(30)))
        .get_receipt()
        .await
        .expect("deposit mined");
    assert!(receipt.status());
}

async fn wait_balance(l2: &DynProvider, who: Address, want: U256) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = l2.get_balance(who).await.expect("balance");
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{who} has {got}, want {want}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the batch holding L2 block `block` is committed; returns its number.
async fn wait_block_committed(l2: &DynProvider, block: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let batch: Value = l2
            .raw_request("keel_getBatchByBlock".into(), (format!("{block:#x}"),))
            .await
            .expect("keel_getBatchByBlock");
        if batch["status"] == "committed" {
            let n = batch["number"].as_str().expect("number");
            return u64::from_str_radix(n.trim_start_matches("0x"), 16).expect("hex");
        }
        assert!(
            Instant::now() < deadline,
            "block {block} not committed: {batch}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `eth_getProof(address, [])` without the proof: balance, nonce, code hash, storage root.
async fn account_state(l2: &DynProvider, who: Address) -> (Value, Value, Value, Value) {
    let proof: Value = l2
        .raw_request("eth_getProof".into(), (who, Vec::<B256>::new(), "latest"))
        .await
        .expect("eth_getProof");
    (
        proof["balance"].clone(),
        proof["nonce"].clone(),
        proof["codeHash"].clone(),
        proof["storageHash"].clone(),
    )
}

fn cast_send(node: &Node, args: &[&str]) -> Value {
    let mut full = vec!["send", "--json"];
    full.extend_from_slice(args);
    serde_json::from_str(&node.cast(&full)).expect("receipt json")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_datadir_rebuilt_from_l1_matches_the_original_and_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start(dir.path(), Some(1), false).await;
    let original_dir = dir.path().join("original");
    let node = start_node(&l1, &original_dir);
    let provider = l2(&node);

    // Deposits (two rounds), transfers to new accounts, an ERC20, a contract deployed twice,
    // withdrawals: spread over several batches.
    let mut touched: Vec<Address> = keel_types::dev::DEV_ACCOUNTS.iter().map(|a| a.0).collect();
    let depositees: Vec<Address> = (0..3u8).map(|i| Address::repeat_byte(0xd0 + i)).collect();
    for (i, who) in depositees.iter().enumerate() {
        deposit(&l1, 5, *who, ether(1 + i as u64)).await;
    }
    for (i, who) in depositees.iter().enumerate() {
        wait_balance(&provider, *who, ether(1 + i as u64)).await;
    }
    // Each phase waits for its batch to be committed, so the workload spans several batches.
    let block = provider.get_block_number().await.expect("head");
    wait_block_committed(&provider, block).await;
    for i in 0..4u8 {
        let to = Address::repeat_byte(0xa0 + i);
        touched.push(to);
        cast_send(
            &node,
            &[
                "--private-key",
                &key(1),
                &to.to_string(),
                "--value",
                "0.25ether",
            ],
        );
    }
    let token_code = {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../contracts/artifacts/TestToken.json"
        );
        let json: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("artifact")).expect("json");
        json["bytecode"].as_str().expect("bytecode").to_string()
    };
    let receipt = cast_send(&node, &["--private-key", &key(2), "--create", &token_code]);
    let token: Address = receipt["contractAddress"]
        .as_str()
        .expect("token")
        .parse()
        .expect("address");
    touched.push(token);
    cast_send(
        &node,
        &[
            "--private-key",
            &key(2),
            &token.to_string(),
            "mint(address,uint256)",
            &address(2),
            "5000",
        ],
    );
    cast_send(
        &node,
        &[
            "--private-key",
            &key(2),
            &token.to_string(),
            "transfer(address,uint256)",
            &address(3),
            "1200",
        ],
    );
    let receipt = cast_send(&node, &["--private-key", &key(4), "--create", &token_code]);
    touched.push(
        receipt["contractAddress"]
            .as_str()
            .expect("second")
            .parse()
            .expect("address"),
    );
    let block = provider.get_block_number().await.expect("head");
    wait_block_committed(&provider, block).await;
    let out = keel(&[
        "bridge",
        "withdraw",
        "--amount",
        "1ether",
        "--to",
        &Address::repeat_byte(0xe1).to_string(),
        "--private-key",
        &key(6),
        "--l2.rpc-url",
        &node.url,
    ]);
    stdout_of(&out);
    let second_round = Address::repeat_byte(0xd9);
    deposit(&l1, 7, second_round, ether(2)).await;
    wait_balance(&provider, second_round, ether(2)).await;
    let receipt = cast_send(
        &node,
        &[
            "--private-key",
            &key(8),
            &Address::repeat_byte(0xa9).to_string(),
            "--value",
            "1wei",
        ],
    );
    touched.push(Address::repeat_byte(0xa9));
    touched.extend(depositees.iter().copied());
    touched.extend([
        second_round,
        keel_types::rules::L2_BRIDGE_ADDRESS,
        keel_types::rules::MESSENGER_ADDRESS,
        keel_types::dev::MULTICALL3_ADDRESS,
        Address::ZERO,
        "0x0000F90827F1C53a10cb7A02335B175320002935"
            .parse()
            .expect("history contract"),
    ]);
    let last_tx_block = u64::from_str_radix(
        receipt["blockNumber"]
            .as_str()
            .expect("block")
            .trim_start_matches("0x"),
        16,
    )
    .expect("hex");
    let last_batch = wait_block_committed(&provider, last_tx_block).await;
    assert!(
        last_batch >= 3,
        "the workload spans several batches ({last_batch})"
    );
    let head = provider.get_block_number().await.expect("head");
    assert_eq!(
        head, last_tx_block,
        "skip-empty: no block after the last tx"
    );
    let head_hash = provider
        .get_block_by_number(head.into())
        .await
        .expect("block")
        .expect("head block")
        .header
        .hash;
    let mut original = Vec::new();
    for who in &touched {
        original.push(account_state(&provider, *who).await);
    }

    // The disaster: the node dies and its datadir is gone.
    drop(node);
    std::fs::remove_dir_all(&original_dir).expect("delete the datadir");

    // From L1 alone.
    let rebuilt_dir = dir.path().join("rebuilt");
    let out = l1.reconstruct(&rebuilt_dir, &[]);
    let stdout = stdout_of(&out);
    assert!(
        stdout.contains(&format!("reconstructed {last_batch} batch(es)")),
        "{}",
        text(&out)
    );

    let node = start_node(&l1, &rebuilt_dir);
    let provider = l2(&node);
    assert_eq!(provider.get_block_number().await.expect("head"), head);
    let rebuilt_head = provider
        .get_block_by_number(head.into())
        .await
        .expect("block")
        .expect("head block");
    assert_eq!(
        rebuilt_head.header.hash, head_hash,
        "the last committed block's identity"
    );
    for (who, want) in touched.iter().zip(&original) {
        assert_eq!(&account_state(&provider, *who).await, want, "account {who}");
    }

    // It resumes: a new deposit arrives (once: the old ones are not minted again), and the
    // next batch is committed on L1.
    let late = Address::repeat_byte(0xdf);
    deposit(&l1, 9, late, ether(3)).await;
    wait_balance(&provider, late, ether(3)).await;
    for (i, who) in depositees.iter().enumerate() {
        assert_eq!(
            provider.get_balance(*who).await.expect("balance"),
            ether(1 + i as u64)
        );
    }
    let block = provider.get_block_number().await.expect("head");
    assert!(block > head);
    let next = wait_block_committed(&provider, block).await;
    assert_eq!(next, last_batch + 1);
    let proposer = OnChainProposerInstance::new(l1.proposer(), &l1.provider);
    let on_l1: u64 = proposer
        .lastCommittedBatch()
        .call()
        .await
        .expect("lastCommittedBatch")
        .to();
    assert!(on_l1 > last_batch);
}
