//! Settlement part 1, end to end through the real `keel l2 --dev` (its own anvil with 1 s blocks,
//! the contracts deployed by keel, real EIP-4844 blobs): transfers, an ERC20 and contract
//! deployments go through the L2; their batches are committed on L1 in order; each blob, fetched
//! back from anvil's beacon API and checked against its versioned hash, decodes to a state diff
//! that replays over the genesis to the committed state roots; `keel_getBatchByNumber` reports
//! each batch as committed with its L1 transaction.

mod common;

use std::time::{Duration, Instant};

use alloy::{
    primitives::{Address, B256},
    providers::{Provider, ProviderBuilder},
};
use common::{Node, address, cast, key};
use keel_chain::{BatchCheckpoint, Blockchain, DiffApplier};
use keel_l1::{BlobFetcher, L1Client, L1ClientConfig, committed_batches};
use keel_storage::Store;
use keel_types::{
    ChainSpec,
    blob::{decode_state_diff_payload, unpack_blob},
    dev,
};
use serde_json::Value;

/// The creation code of `contracts/test/TestToken.sol` (an ERC20 anyone can mint).
fn test_token_creation_code() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../contracts/artifacts/TestToken.json"
    );
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("artifact")).expect("json");
    json["bytecode"].as_str().expect("bytecode").to_string()
}

/// Rebuilds the L2 state from L1 alone, batch by batch, checking every committed root; returns
/// the batches read (number, commit tx, blob versioned hash, payload size).
async fn replay_from_l1(l1_url: &str, proposer: Address) -> Vec<(u64, B256, B256, usize)> {
    let client = L1Client::new(L1ClientConfig::new([l1_url])).expect("client");
    let head = client.block_number().await.expect("head");
    let history = committed_batches(&client, proposer, 0, head)
        .await
        .expect("commit history");
    let fetcher = BlobFetcher::new(l1_url).expect("fetcher");
    let genesis = dev::dev_genesis();
    let spec = ChainSpec::from_genesis(&genesis).expect("spec");
    let store = Store::in_memory().expect("store");
    Blockchain::open(store.clone(), &genesis, spec.clone()).expect("genesis");
    let applier = DiffApplier::new(store, &genesis, spec).expect("applier");
    let mut out = Vec::new();
    for (i, committed) in history.iter().enumerate() {
        assert_eq!(committed.number, i as u64 + 1, "batches in order");
        let hash = committed.blob_versioned_hash.expect("a blob");
        let blob = fetcher
            .fetch_blob(committed.l1_block, committed.l1_timestamp, hash)
            .await
            .expect("the blob");
        let payload = unpack_blob(&blob).expect("unpack");
        let diff = decode_state_diff_payload(&payload).expect("decode");
        applier
            .apply(&BatchCheckpoint {
                batch_number: committed.number,
                diff: &diff,
                committed_block_hash: committed.last_block_hash,
                expected_state_root: committed.new_state_root,
            })
            .unwrap_or_else(|e| panic!("batch {}: {e}", committed.number));
        out.push((committed.number, committed.tx_hash, hash, payload.len()));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_are_committed_with_blobs_that_replay_to_the_committed_roots() {
    let node = Node::start(&["--dev", "--committer.commit-time", "1500"]);
    // The banner shows the L1 URL (noting that keel started it) before the contracts.
    let l1_url = node.wait_for_l1_url();
    let proposer: Address = node
        .wait_for_line("L1 OnChainProposer:")
        .parse()
        .expect("proposer");
    let committer: Address = node
        .wait_for_line("L1 committer:")
        .parse()
        .expect("committer");

    // Batch 1..: transfers to new accounts, an ERC20 deployed, minted and transferred, the same
    // contract deployed twice (the second names its code by hash).
    for i in 0..5u8 {
        let to = Address::repeat_byte(0xa0 + i).to_string();
        node.cast(&["send", "--private-key", &key(1), &to, "--value", "0.5ether"]);
    }
    let code = test_token_creation_code();
    let deployed = node.cast(&[
        "send",
        "--private-key",
        &key(2),
        "--json",
        "--create",
        &code,
    ]);
    let receipt: Value = serde_json::from_str(&deployed).expect("receipt json");
    let token = receipt["contractAddress"]
        .as_str()
        .expect("token")
        .to_string();
    node.cast(&[
        "send",
        "--private-key",
        &key(2),
        &token,
        "mint(address,uint256)",
        &address(2),
        "1000000",
    ]);
    node.cast(&[
        "send",
        "--private-key",
        &key(2),
        &token,
        "transfer(address,uint256)",
        &address(3),
        "250",
    ]);
    let first = node.wait_committed(1, Duration::from_secs(60)).await;
    node.cast(&["send", "--private-key", &key(4), "--create", &code]);
    node.cast(&[
        "send",
        "--private-key",
        &key(3),
        &token,
        "transfer(address,uint256)",
        &address(5),
        "50",
    ]);
    let l2 = ProviderBuilder::new().connect_http(node.url.parse().expect("url"));
    let last_sealed: u64 = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let n: alloy::primitives::U64 = l2
                .raw_request("keel_batchNumber".into(), ())
                .await
                .expect("keel_batchNumber");
            let n = n.to::<u64>();
            if n >= 2 {
                break n;
            }
            assert!(Instant::now() < deadline, "no second batch");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let mut committed = vec![first];
    for n in 2..=last_sealed {
        committed.push(node.wait_committed(n, Duration::from_secs(60)).await);
    }

    // L1 alone: every batch in order, blobs that replay to the committed roots.
    let replayed = replay_from_l1(&l1_url, proposer).await;
    assert!(replayed.len() as u64 >= last_sealed, "{replayed:?}");
    for (batch, (number, tx_hash, blob_hash, size)) in committed.iter().zip(&replayed) {
        assert_eq!(batch["number"], format!("{number:#x}"));
        assert_eq!(batch["commitTxHash"], tx_hash.to_string(), "{batch}");
        assert_eq!(batch["blobVersionedHash"], blob_hash.to_string(), "{batch}");
        assert!(*size > 0);
    }
    // The token's balances are in the replayed state (the replay checked the roots; this checks
    // the ERC20 activity really was in the batches).
    let balance = cast(
        &node.url,
        &["call", &token, "balanceOf(address)(uint256)", &address(5)],
    );
    assert_eq!(balance, "50");
    // Every commit came from the committer, one nonce per batch, in order. (With --dev the
    // proof sender shares the committer's account, so its verifyBatches txs take nonces between.)
    let l1 = ProviderBuilder::new().connect_http(l1_url.parse().expect("url"));
    let mut last_nonce = None;
    for (number, tx_hash, _, _) in &replayed {
        let tx = l1
            .get_transaction_by_hash(*tx_hash)
            .await
            .expect("tx")
            .expect("the commit tx");
        assert_eq!(tx.inner.signer(), committer, "batch {number}");
        let nonce = alloy::consensus::Transaction::nonce(&tx);
        assert!(
            last_nonce.is_none_or(|last| nonce > last),
            "batch {number}: nonce {nonce} after {last_nonce:?}"
        );
        last_nonce = Some(nonce);
    }
}
