//! `keel l2 reconstruct` on bad data: a real L1 (anvil) on which the sequencer key committed a
//! batch whose blob is garbage, truncated, of an unknown codec or diff version, or whose diff
//! does not lead to the committed root; and a beacon API that serves a blob other than the one
//! committed. Each time reconstruct stops with a clear message naming the batch (and never
//! panics).

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    net::TcpListener,
    sync::Arc,
};

use alloy::primitives::{Address, B256, U256};
use alloy::sol_types::SolCall;
use common::{l1::TestL1, text};
use keel_l1::{
    L1Client, L1ClientConfig,
    contracts::OnChainProposer,
    sender::{L1Sender, L1SenderConfig, L1TxRequest, MemoryJournal, blob_sidecar},
};
use keel_types::{
    AccountDiff, DiffHeader, DiffVersion, StateDiff,
    blob::{Codec, encode_state_diff_payload_as, pack_blob},
    dev,
};

/// Commits batch 1 on `l1` with a blob carrying `payload` and state root `root`.
async fn commit_batch_one(l1: &TestL1, payload: &[u8], root: B256) {
    let client = L1Client::new(L1ClientConfig::new([l1.anvil.url.as_str()])).expect("client");
    let sender = L1Sender::new(
        client,
        keel_l1::dev_signer(0),
        L1SenderConfig {
            confirmations: 0,
            poll_interval: std::time::Duration::from_millis(200),
            ..L1SenderConfig::default()
        },
        Arc::new(MemoryJournal::new()),
    );
    let call = OnChainProposer::commitBatchCall {
        batchNumber: U256::from(1),
        newStateRoot: root,
        withdrawalsRoot: B256::ZERO,
        privilegedRollingHash: B256::ZERO,
        lastBlockHash: B256::repeat_byte(0xbb),
        nonPrivilegedTxCount: U256::ZERO,
        lastBlockTimestamp: 1,
    };
    let blob = pack_blob(payload).expect("fits a blob");
    let request = L1TxRequest::call(l1.proposer(), call.abi_encode())
        .with_blob(blob_sidecar(&blob).expect("sidecar"));
    sender.send("commit", 1, request).await.expect("committed");
}

/// A well-formed diff of block 1 that credits one account.
fn some_diff() -> StateDiff {
    StateDiff {
        last_header: DiffHeader {
            block_number: 1,
            gas_limit: dev::DEV_GAS_LIMIT,
            timestamp: 1,
            ..DiffHeader::default()
        },
        accounts: vec![AccountDiff {
            address: Address::repeat_byte(0x42),
            balance: Some(U256::from(1_000u64)),
            ..AccountDiff::default()
        }],
        ..StateDiff::default()
    }
}

fn reconstruct(l1: &TestL1, dir: &std::path::Path, blobs_url: Option<&str>) -> String {
    let datadir = dir.join(format!("rebuilt-{}", rand_suffix()));
    let extra = match blobs_url {
        Some(url) => vec!["--blobs.url", url],
        None => Vec::new(),
    };
    let out = l1.reconstruct(&datadir, &extra);
    let all = text(&out);
    assert!(
        !out.status.success(),
        "reconstruct succeeded on bad data: {all}"
    );
    assert!(!all.contains("panicked"), "{all}");
    all
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Commits `payload` (with `root`) as batch 1 on a fresh L1 and returns reconstruct's output.
async fn reconstruct_after_committing(payload: Vec<u8>, root: B256) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start(dir.path(), None, false).await;
    commit_batch_one(&l1, &payload, root).await;
    reconstruct(&l1, dir.path(), None)
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_truncated_unknown_and_wrong_diffs_stop_reconstruct_naming_the_batch() {
    let diff = some_diff();
    let good_v2 = encode_state_diff_payload_as(&diff, DiffVersion::V2, Codec::Raw).expect("v2");

    // An unknown codec byte.
    let mut unknown_codec = good_v2.clone();
    unknown_codec[0] = 7;
    let out = reconstruct_after_committing(unknown_codec, B256::repeat_byte(1)).await;
    assert!(out.contains("batch 1: decoding its state diff"), "{out}");
    assert!(out.contains("unknown blob payload codec 7"), "{out}");

    // A truncated diff.
    let truncated = good_v2[..good_v2.len() - 5].to_vec();
    let out = reconstruct_after_committing(truncated, B256::repeat_byte(1)).await;
    assert!(out.contains("batch 1: decoding its state diff"), "{out}");
    assert!(out.contains("truncated"), "{out}");

    // An unknown diff version.
    let mut unknown_version = good_v2.clone();
    unknown_version[1] = 9;
    let out = reconstruct_after_committing(unknown_version, B256::repeat_byte(1)).await;
    assert!(out.contains("unsupported state diff version 9"), "{out}");

    // Garbage: brotli codec over random bytes.
    let mut garbage = vec![1u8];
    garbage.extend((0..2000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let out = reconstruct_after_committing(garbage, B256::repeat_byte(1)).await;
    assert!(out.contains("batch 1: decoding its state diff"), "{out}");

    // A well-formed diff that doesn't lead to the committed root.
    let committed = B256::repeat_byte(0x77);
    let out = reconstruct_after_committing(good_v2, committed).await;
    assert!(out.contains("batch 1:"), "{out}");
    assert!(
        out.contains(&format!("but {committed} was committed")),
        "{out}"
    );
}

/// Serves every request with a beacon `blobs` answer holding `blob` (and 404 for the genesis).
fn fake_beacon(blob: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let body = format!(
        "{{\"execution_optimistic\":false,\"finalized\":false,\"data\":[\"0x{}\"]}}",
        alloy::primitives::hex::encode(blob)
    );
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request_line = String::new();
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).map_or(true, |n| n == 0) || line == "\r\n" {
                    break;
                }
            }
            let (status, body) = if request_line.contains("/eth/v1/beacon/blobs/") {
                ("200 OK", body.as_str())
            } else {
                ("404 Not Found", "{\"code\":404,\"message\":\"not found\"}")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blob_that_does_not_match_its_versioned_hash_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start(dir.path(), None, false).await;
    let payload =
        encode_state_diff_payload_as(&some_diff(), DiffVersion::V2, Codec::Raw).expect("v2");
    commit_batch_one(&l1, &payload, B256::repeat_byte(1)).await;
    // The beacon serves a valid blob, but another one.
    let mut other = payload.clone();
    other.push(0);
    let wrong = pack_blob(&other).expect("blob");
    let url = fake_beacon(wrong.to_vec());
    let out = reconstruct(&l1, dir.path(), Some(&url));
    assert!(out.contains("batch 1: fetching its blob"), "{out}");
    assert!(out.contains("no blob with versioned hash"), "{out}");
}
