//! `L1Client` against a real anvil: failover from dead or hanging URLs, the unreachable error,
//! node errors returned without failover, and chunked log scanning.

mod common;

use std::time::{Duration, Instant};

use alloy::{
    eips::BlockId,
    primitives::{Address, U256},
    providers::Provider,
    sol_types::SolEvent,
};
use common::{L1, USER, addr, ether};
use keel_l1::{
    Anvil, AnvilConfig, L1Client, L1ClientConfig, L1ClientError,
    contracts::CommonBridge::{self, PrivilegedTxSent},
};

/// A URL where nothing listens (the port was free a moment ago).
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// Fast retries, so the failing cases take milliseconds.
fn fast_config(urls: Vec<String>) -> L1ClientConfig {
    L1ClientConfig {
        urls,
        request_timeout: Duration::from_millis(500),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        max_attempts: 3,
        max_elapsed: Duration::from_secs(5),
        max_log_range: 1_000,
    }
}

#[tokio::test]
async fn fails_over_from_a_dead_url_to_a_live_one() {
    let anvil = Anvil::spawn(&AnvilConfig::default()).await.expect("anvil");
    let client = L1Client::new(fast_config(vec![dead_url(), anvil.url.clone()])).expect("client");
    assert_eq!(client.chain_id().await.expect("chain id"), 31337);
    // The live URL is now the one tried first.
    assert_eq!(client.current_url(), anvil.url);
    let _: serde_json::Value = alloy::providers::ProviderBuilder::new()
        .connect_http(anvil.url.parse().expect("url"))
        .raw_request("evm_mine".into(), ())
        .await
        .expect("evm_mine");
    assert_eq!(client.block_number().await.expect("block number"), 1);
}

#[tokio::test]
async fn fails_over_from_a_url_that_never_answers() {
    let anvil = Anvil::spawn(&AnvilConfig::default()).await.expect("anvil");
    // Accepts connections and never answers: only the request timeout gets past it.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_url = format!("http://{}", silent.local_addr().expect("addr"));
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let mut config = fast_config(vec![silent_url, anvil.url.clone()]);
    config.request_timeout = Duration::from_millis(300);
    let client = L1Client::new(config).expect("client");
    let started = Instant::now();
    assert_eq!(client.block_number().await.expect("block number"), 0);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(client.current_url(), anvil.url);
    hold.abort();
}

#[tokio::test]
async fn all_urls_dead_is_an_unreachable_error() {
    let client = L1Client::new(fast_config(vec![dead_url(), dead_url()])).expect("client");
    let started = Instant::now();
    let err = client.block_number().await.expect_err("no L1");
    assert!(err.is_unreachable(), "{err}");
    match &err {
        L1ClientError::Unreachable {
            method,
            urls,
            rounds,
            ..
        } => {
            assert_eq!(*method, "eth_blockNumber");
            assert_eq!(*urls, 2);
            assert_eq!(*rounds, 3);
        }
        other => panic!("expected Unreachable, got {other}"),
    }
    assert!(err.to_string().starts_with("L1 unreachable"), "{err}");
    // Two sleeps of 10 and 20 ms between three rounds: fast.
    assert!(started.elapsed() < Duration::from_secs(3));

    // The total time budget also ends the retries.
    let mut config = fast_config(vec![dead_url()]);
    config.max_attempts = 1_000;
    config.initial_backoff = Duration::from_millis(50);
    config.max_backoff = Duration::from_millis(50);
    config.max_elapsed = Duration::from_millis(300);
    let client = L1Client::new(config).expect("client");
    let started = Instant::now();
    let err = client.chain_id().await.expect_err("no L1");
    assert!(err.is_unreachable(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_node_error_is_returned_without_failover() {
    let l1 = L1::start().await;
    let bridge = l1.deployment.contracts.common_bridge.proxy;
    let client =
        L1Client::new(fast_config(vec![l1.anvil.url.clone(), dead_url()])).expect("client");
    // No privileged tx yet: the range is out of bounds and the call reverts.
    let err = client
        .call_sol(
            bridge,
            &CommonBridge::getPrivilegedRollingHashCall {
                firstId: U256::from(5),
                count: 1,
            },
            BlockId::latest(),
        )
        .await
        .expect_err("reverts");
    assert!(
        matches!(err, L1ClientError::Rpc { .. }),
        "a revert is an answer, not an outage: {err}"
    );
    assert_eq!(client.current_url(), l1.anvil.url);

    // A decoded call.
    l1.bridge()
        .deposit(addr(USER))
        .value(ether(1))
        .from(addr(USER))
        .send()
        .await
        .expect("deposit")
        .get_receipt()
        .await
        .expect("receipt");
    let on_l1 = l1
        .bridge()
        .privilegedTxHashes(U256::ZERO)
        .call()
        .await
        .expect("hash");
    let via_client = client
        .call_sol(
            bridge,
            &CommonBridge::privilegedTxHashesCall { id: U256::ZERO },
            BlockId::latest(),
        )
        .await
        .expect("call");
    assert_eq!(via_client, on_l1);
    assert_ne!(on_l1, alloy::primitives::B256::ZERO);
}

#[tokio::test]
async fn log_scanning_in_chunks_returns_every_log_once_in_order() {
    let l1 = L1::start().await;
    let bridge = l1.bridge();
    let start = l1.provider.get_block_number().await.expect("head") + 1;
    // 12 deposits, one block each (automine), with empty blocks in between some of them.
    for i in 0..12u64 {
        bridge
            .deposit(Address::with_last_byte(i as u8 + 1))
            .value(ether(1))
            .from(addr(USER))
            .send()
            .await
            .expect("deposit")
            .get_receipt()
            .await
            .expect("receipt");
        if i % 3 == 0 {
            let _: serde_json::Value = l1
                .provider
                .raw_request("evm_mine".into(), ())
                .await
                .expect("evm_mine");
        }
    }
    let head = l1.provider.get_block_number().await.expect("head");
    assert!(head - start + 1 > 3 * 4, "the range spans many chunks");

    let mut config = fast_config(vec![l1.anvil.url.clone()]);
    config.max_log_range = 3;
    let client = L1Client::new(config).expect("client");
    let address = *bridge.address();
    let ids = |logs: &[alloy::rpc::types::Log]| -> Vec<u64> {
        logs.iter()
            .map(|l| {
                l.log_decode::<PrivilegedTxSent>()
                    .expect("decodes")
                    .inner
                    .data
                    .transactionId
                    .to()
            })
            .collect()
    };

    let logs = client
        .get_logs(address, PrivilegedTxSent::SIGNATURE_HASH, 0, head)
        .await
        .expect("logs");
    assert_eq!(ids(&logs), (0..12).collect::<Vec<_>>());
    let blocks: Vec<u64> = logs
        .iter()
        .map(|l| l.block_number.expect("mined"))
        .collect();
    assert!(blocks.windows(2).all(|w| w[0] < w[1]), "{blocks:?}");

    // Sub-ranges not aligned to the chunk size split the logs exactly.
    let mid = blocks[5];
    let left = client
        .get_logs(address, PrivilegedTxSent::SIGNATURE_HASH, start, mid)
        .await
        .expect("logs");
    let right = client
        .get_logs(address, PrivilegedTxSent::SIGNATURE_HASH, mid + 1, head)
        .await
        .expect("logs");
    assert_eq!(ids(&left), (0..6).collect::<Vec<_>>());
    assert_eq!(ids(&right), (6..12).collect::<Vec<_>>());

    // Another event or address: nothing. An empty range: nothing.
    let none = client
        .get_logs(
            address,
            CommonBridge::WithdrawalClaimed::SIGNATURE_HASH,
            0,
            head,
        )
        .await
        .expect("logs");
    assert!(none.is_empty());
    let none = client
        .get_logs(
            Address::repeat_byte(7),
            PrivilegedTxSent::SIGNATURE_HASH,
            0,
            head,
        )
        .await
        .expect("logs");
    assert!(none.is_empty());
    let none = client
        .get_logs(address, PrivilegedTxSent::SIGNATURE_HASH, head, head - 1)
        .await
        .expect("logs");
    assert!(none.is_empty());
}
