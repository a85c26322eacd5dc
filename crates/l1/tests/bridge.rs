//! CommonBridge deposits and L1 → L2 messages on a real anvil: each privileged tx is emitted with
//! the fields and the hash of docs/architecture.md (Chain rules) (recomputed in Rust), queued, and
//! rolled into the privileged rolling hash exactly as `keel_types` computes it.

mod common;

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    rpc::types::{TransactionReceipt, TransactionRequest},
    sol_types::SolCall,
};
use common::{L1, MAX_PRIVILEGED_GAS, USER, addr, ether};
use keel_l1::contracts::{
    CommonBridge,
    test::{L1Caller, TestToken},
};
use keel_types::{PrivilegedTx, apply_l1_alias, dev, privileged_rolling_hash};

alloy::sol! {
    function mintETH(address to) payable;
    function mintERC20(address tokenL1, address tokenL2, address destination, uint256 amount);
    function ping(uint256 x);
}

/// The one `PrivilegedTxSent` of `receipt`, as the `PrivilegedTx` it describes.
fn privileged_tx_of(receipt: &TransactionReceipt) -> (Address, PrivilegedTx) {
    let events: Vec<_> = receipt
        .inner
        .logs()
        .iter()
        .filter_map(|log| log.log_decode::<CommonBridge::PrivilegedTxSent>().ok())
        .collect();
    assert_eq!(events.len(), 1, "one PrivilegedTxSent");
    let e = &events[0].inner.data;
    let tx = e
        .to_privileged_tx(dev::DEFAULT_L2_CHAIN_ID)
        .expect("fields fit");
    (e.l1From, tx)
}

/// The hash the bridge queued for transaction `id`.
async fn queued_hash(l1: &L1, id: u64) -> B256 {
    l1.bridge()
        .privilegedTxHashes(U256::from(id))
        .call()
        .await
        .expect("privilegedTxHashes")
}

#[tokio::test]
async fn eth_deposit_emits_the_privileged_tx_whose_hash_is_queued() {
    let l1 = L1::start().await;
    let bridge = l1.bridge();
    let recipient = Address::repeat_byte(0x42);
    let amount = ether(3);
    let before = l1.balance(*bridge.address()).await;

    let receipt = bridge
        .deposit(recipient)
        .value(amount)
        .from(addr(USER))
        .send()
        .await
        .expect("deposit sent")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(receipt.status());
    let (l1_from, tx) = privileged_tx_of(&receipt);
    assert_eq!(l1_from, addr(USER));
    assert_eq!(tx.nonce, 0, "first transaction id");
    assert_eq!(tx.from, keel_types::rules::L2_BRIDGE_ADDRESS);
    assert_eq!(tx.to, keel_types::rules::L2_BRIDGE_ADDRESS);
    assert_eq!(tx.value, amount);
    // The calldata is mintETH(recipient) followed by the depositor, for refunds.
    let mut expected = mintETHCall { to: recipient }.abi_encode();
    expected.extend_from_slice(addr(USER).as_slice());
    assert_eq!(tx.data.as_ref(), expected.as_slice());
    let gas_limit: U256 = bridge
        .ETH_DEPOSIT_GAS_LIMIT()
        .call()
        .await
        .expect("constant");
    assert_eq!(U256::from(tx.gas_limit), gas_limit);

    // The Rust hash (docs/architecture.md, Chain rules) is the one the bridge queued.
    assert_eq!(queued_hash(&l1, 0).await, tx.hash());
    assert_eq!(l1.balance(*bridge.address()).await, before + amount);
    assert_eq!(
        bridge.transactionId().call().await.expect("id"),
        U256::from(1)
    );
    assert_eq!(
        bridge.pendingTxCount().call().await.expect("count"),
        U256::from(1)
    );
}

#[tokio::test]
async fn plain_transfer_deposits_to_the_sender() {
    let l1 = L1::start().await;
    let bridge = l1.bridge();
    let tx = TransactionRequest::default()
        .with_from(addr(USER))
        .with_to(*bridge.address())
        .with_value(ether(1));
    let receipt = l1.send(tx).await.expect("receive() deposits");
    let (l1_from, ptx) = privileged_tx_of(&receipt);
    assert_eq!(l1_from, addr(USER));
    let mut expected = mintETHCall { to: addr(USER) }.abi_encode();
    expected.extend_from_slice(addr(USER).as_slice());
    assert_eq!(ptx.data.as_ref(), expected.as_slice());
    assert_eq!(ptx.value, ether(1));
    assert_eq!(queued_hash(&l1, 0).await, ptx.hash());

    // A zero-value deposit is refused and queues nothing.
    let zero = TransactionRequest::default()
        .with_from(addr(USER))
        .with_to(*bridge.address())
        .with_value(U256::ZERO);
    let err = l1.send(zero).await.expect_err("zero deposit refused");
    assert!(
        err.contains("ZeroAmount") || err.contains("revert"),
        "{err}"
    );
    assert_eq!(
        bridge.transactionId().call().await.expect("id"),
        U256::from(1)
    );
}

#[tokio::test]
async fn erc20_deposit_locks_tokens_and_records_provenance() {
    let l1 = L1::start().await;
    let bridge = l1.bridge();
    let token = TestToken::deploy(&l1.provider)
        .await
        .expect("token deployed");
    let user = addr(USER);
    let token_l2 = Address::repeat_byte(0x77);
    let destination = Address::repeat_byte(0x55);
    let amount = U256::from(1_000u64);
    token
        .mint(user, U256::from(5_000u64))
        .from(user)
        .send()
        .await
        .expect("mint")
        .get_receipt()
        .await
        .expect("receipt");

    // Without an allowance the deposit fails and nothing is queued.
    let no_allowance = bridge
        .depositERC20(*token.address(), token_l2, destination, amount)
        .from(user)
        .send()
        .await;
    assert!(no_allowance.is_err(), "deposit without allowance refused");
    assert_eq!(bridge.transactionId().call().await.expect("id"), U256::ZERO);

    token
        .approve(*bridge.address(), amount)
        .from(user)
        .send()
        .await
        .expect("approve")
        .get_receipt()
        .await
        .expect("receipt");
    let receipt = bridge
        .depositERC20(*token.address(), token_l2, destination, amount)
        .from(user)
        .send()
        .await
        .expect("deposit")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(receipt.status());
    let (_, tx) = privileged_tx_of(&receipt);
    assert_eq!(tx.value, U256::ZERO);
    assert_eq!(
        (tx.from, tx.to),
        (
            keel_types::rules::L2_BRIDGE_ADDRESS,
            keel_types::rules::L2_BRIDGE_ADDRESS
        )
    );
    let mut expected = mintERC20Call {
        tokenL1: *token.address(),
        tokenL2: token_l2,
        destination,
        amount,
    }
    .abi_encode();
    expected.extend_from_slice(user.as_slice());
    assert_eq!(tx.data.as_ref(), expected.as_slice());
    assert_eq!(queued_hash(&l1, 0).await, tx.hash());

    assert_eq!(
        token
            .balanceOf(*bridge.address())
            .call()
            .await
            .expect("balance"),
        amount,
        "tokens locked in the bridge"
    );
    assert_eq!(
        token.balanceOf(user).call().await.expect("balance"),
        U256::from(4_000u64)
    );
    assert_eq!(
        bridge
            .deposits(*token.address(), token_l2)
            .call()
            .await
            .expect("provenance"),
        amount
    );
    // Provenance is per (L1 token, L2 token) pair.
    assert_eq!(
        bridge
            .deposits(*token.address(), Address::repeat_byte(0x78))
            .call()
            .await
            .expect("provenance"),
        U256::ZERO
    );
}

#[tokio::test]
async fn send_to_l2_aliases_contract_callers_only() {
    let l1 = L1::start().await;
    let bridge = l1.bridge();
    let target = Address::repeat_byte(0x99);
    let data: Bytes = pingCall { x: U256::from(7) }.abi_encode().into();

    // From an EOA: the L2 sender is the EOA itself.
    let receipt = bridge
        .sendToL2(target, U256::from(100_000), ether(2), data.clone())
        .from(addr(USER))
        .send()
        .await
        .expect("sendToL2")
        .get_receipt()
        .await
        .expect("receipt");
    let (l1_from, tx) = privileged_tx_of(&receipt);
    assert_eq!((l1_from, tx.from, tx.to), (addr(USER), addr(USER), target));
    assert_eq!(tx.value, ether(2));
    assert_eq!(tx.gas_limit, 100_000);
    assert_eq!(tx.data, data);
    assert_eq!(queued_hash(&l1, 0).await, tx.hash());

    // From a contract: the L2 sender is the aliased contract address.
    let caller = L1Caller::deploy(&l1.provider)
        .await
        .expect("caller deployed");
    let receipt = caller
        .send(
            *bridge.address(),
            target,
            U256::from(50_000),
            U256::ZERO,
            data.clone(),
        )
        .from(addr(USER))
        .send()
        .await
        .expect("send via contract")
        .get_receipt()
        .await
        .expect("receipt");
    let (l1_from, tx) = privileged_tx_of(&receipt);
    assert_eq!(l1_from, *caller.address());
    assert_eq!(tx.from, apply_l1_alias(*caller.address()));
    assert_ne!(tx.from, *caller.address());
    assert_eq!(
        bridge
            .applyL1Alias(*caller.address())
            .call()
            .await
            .expect("alias"),
        tx.from,
        "the contract's aliasing agrees with keel_types"
    );
    assert_eq!(tx.nonce, 1);
    assert_eq!(queued_hash(&l1, 1).await, tx.hash());

    // A gas limit above the cap, or zero, is refused.
    for gas in [U256::from(MAX_PRIVILEGED_GAS + 1), U256::ZERO] {
        let refused = bridge
            .sendToL2(target, gas, U256::ZERO, data.clone())
            .from(addr(USER))
            .send()
            .await;
        assert!(refused.is_err(), "gas limit {gas} refused");
    }
    assert_eq!(
        bridge.transactionId().call().await.expect("id"),
        U256::from(2)
    );
}

#[tokio::test]
async fn privileged_txs_burn_l1_gas_in_proportion_to_their_l2_gas() {
    let l1 = L1::start().await;
    let bridge = l1.bridge();
    let mut used = Vec::new();
    // The first message also pays for the zero-to-nonzero write of the id counter, so compare the
    // second and third.
    for gas in [100_000u64, 100_000, 4_100_000] {
        let receipt = bridge
            .sendToL2(
                Address::repeat_byte(1),
                U256::from(gas),
                U256::ZERO,
                Bytes::new(),
            )
            .from(addr(USER))
            .send()
            .await
            .expect("sendToL2")
            .get_receipt()
            .await
            .expect("receipt");
        used.push(receipt.gas_used);
    }
    // 4M more L2 gas burns 4M / 16 = 250k more L1 gas, give or take the loop's last iteration.
    let extra = used[2] - used[1];
    assert!((245_000..255_000).contains(&extra), "extra L1 gas {extra}");
}

#[tokio::test]
async fn rolling_hash_matches_rust_for_every_prefix() {
    let l1 = L1::start().await;
    let bridge = l1.bridge();
    let mut hashes = Vec::new();
    for i in 0..5u64 {
        let receipt = bridge
            .deposit(Address::repeat_byte(i as u8 + 1))
            .value(U256::from(1_000 + i))
            .from(addr(USER))
            .send()
            .await
            .expect("deposit")
            .get_receipt()
            .await
            .expect("receipt");
        hashes.push(privileged_tx_of(&receipt).1.hash());
    }
    assert_eq!(
        bridge
            .getPendingTransactionsVersionedHash(0)
            .call()
            .await
            .expect("n = 0"),
        B256::ZERO
    );
    for n in 1..=5u16 {
        let on_l1 = bridge
            .getPendingTransactionsVersionedHash(n)
            .call()
            .await
            .expect("rolling hash");
        let in_rust = privileged_rolling_hash(&hashes[..n as usize]).expect("n fits in u16");
        assert_eq!(on_l1, in_rust, "n = {n}");
        assert_eq!(&on_l1[..2], &n.to_be_bytes(), "count prefix");
    }
    // More than are pending is refused.
    assert!(
        bridge
            .getPendingTransactionsVersionedHash(6)
            .call()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn paused_bridge_refuses_deposits() {
    let l1 = L1::start().await;
    let bridge = l1.bridge();
    bridge
        .pause()
        .from(addr(common::OWNER))
        .send()
        .await
        .expect("pause")
        .get_receipt()
        .await
        .expect("receipt");
    let refused = bridge
        .deposit(addr(USER))
        .value(ether(1))
        .from(addr(USER))
        .send()
        .await;
    assert!(refused.is_err(), "deposit while paused");
    assert_eq!(bridge.transactionId().call().await.expect("id"), U256::ZERO);
    let _ = l1.provider.get_block_number().await.expect("anvil alive");
}
