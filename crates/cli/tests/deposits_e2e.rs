//! The bridge's edge cases through a running node, end to end (`keel l2 --dev` with its own anvil
//! and contracts, clients on alloy and the `keel bridge` CLI): a deposit to an L2 contract that
//! refuses ETH, `sendToL2` from an L1 contract (aliased sender, and a value it can't pay), ERC20
//! deposits (into the matching token, and into one whose `l1Address()` doesn't match), and ETH and
//! ERC20 withdrawals whose proofs verify in Rust and with OpenZeppelin's `MerkleProof` on L1.

mod common;

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, B256, Bytes, U256, address, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{Log, TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
    sol,
    sol_types::{SolCall, SolEvent},
};
use common::{Node, ether, field, key, stdout_of};
use keel_l1::contracts::{
    CommonBridge,
    l2::{BridgedERC20, CommonBridgeL2, Messenger},
    test::{L1Caller, TestToken},
};
use keel_types::{L1Message, PrivilegedTx, apply_l1_alias, dev, verify_withdrawal_proof};
use serde_json::{Value, json};

sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    RevertingReceiver,
    "../../contracts/artifacts/RevertingReceiver.json"
);
sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    LogEmitter,
    "../../contracts/artifacts/LogEmitter.json"
);
sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    MerkleProofCheck,
    "../../contracts/artifacts/MerkleProofCheck.json"
);

/// The pseudo-address that stands for ETH in withdrawal messages.
const ETH: Address = address!("0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE");

/// How long anything asynchronous (a deposit reaching L2, a batch being sealed) may take.
const TIMEOUT: Duration = Duration::from_secs(30);

fn dev_address(i: usize) -> Address {
    dev::DEV_ACCOUNTS[i].0
}

/// A running dev node with its own L1, and clients for both sides.
struct Env {
    node: Node,
    bridge: Address,
    l1_url: String,
    /// Read-only clients.
    l1: DynProvider,
    l2: DynProvider,
}

impl Env {
    /// `keel l2 --dev` sealing a batch every `commit_time_ms`.
    fn start(commit_time_ms: u64) -> Env {
        Self::start_with(commit_time_ms, &[])
    }

    /// [`Env::start`] with `extra` arguments (e.g. `--network GENESIS` for another genesis).
    fn start_with(commit_time_ms: u64, extra: &[&str]) -> Env {
        let commit_time = commit_time_ms.to_string();
        let mut args = vec![
            "--dev",
            "--watcher.watch-interval",
            "100",
            "--committer.commit-time",
            &commit_time,
        ];
        args.extend_from_slice(extra);
        let node = Node::start(&args);
        // The banner shows the L1 URL (noting that keel started it) before the bridge.
        let l1_url = node.wait_for_l1_url();
        let bridge: Address = node
            .wait_for_line("L1 bridge:")
            .parse()
            .expect("bridge address");
        let l1 = client(&l1_url, None);
        let l2 = client(&node.url, None);
        Env {
            node,
            bridge,
            l1_url,
            l1,
            l2,
        }
    }

    /// An L1 client signing as dev account `i`.
    fn l1_as(&self, i: usize) -> DynProvider {
        client(&self.l1_url, Some(i))
    }

    /// An L2 client signing as dev account `i`.
    fn l2_as(&self, i: usize) -> DynProvider {
        client(&self.node.url, Some(i))
    }

    /// `keel bridge ARGS... --eth.rpc-url L1 --l1.bridge-address B --l2.rpc-url L2` (without the
    /// L1 flags for withdrawals, which refuse them).
    fn bridge_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_keel"));
        command.arg("bridge").args(args);
        if !args.first().is_some_and(|c| c.starts_with("withdraw")) {
            command
                .args(["--eth.rpc-url", &self.l1_url])
                .args(["--l1.bridge-address", &self.bridge.to_string()]);
        }
        command
            .args(["--l2.rpc-url", &self.node.url])
            .env_remove("KEEL_ETH_RPC_URL")
            .env_remove("KEEL_L2_RPC_URL")
            .env_remove("KEEL_L1_BRIDGE_ADDRESS")
            .env_remove("KEEL_PRIVATE_KEY");
        command
    }

    /// Runs `keel bridge ARGS...` to completion; returns its stdout (failing if it failed).
    fn bridge_cli(&self, args: &[&str]) -> String {
        stdout_of(&self.bridge_command(args).output().expect("run keel bridge"))
    }

    /// Starts `keel bridge ARGS...` without waiting for it.
    fn spawn_bridge_cli(&self, args: &[&str]) -> Child {
        self.bridge_command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn keel bridge")
    }
}

fn client(url: &str, signer: Option<usize>) -> DynProvider {
    let url = url.parse().expect("RPC URL");
    match signer {
        Some(i) => {
            let signer = PrivateKeySigner::from_bytes(&dev::DEV_ACCOUNTS[i].1).expect("dev key");
            ProviderBuilder::new()
                .wallet(EthereumWallet::from(signer))
                .connect_http(url)
                .erased()
        }
        None => ProviderBuilder::new().connect_http(url).erased(),
    }
}

/// The privileged tx announced by the one `PrivilegedTxSent` of an L1 receipt, and its `l1From`.
fn privileged_tx_of(receipt: &TransactionReceipt) -> (Address, PrivilegedTx) {
    let events: Vec<_> = receipt
        .inner
        .logs()
        .iter()
        .filter_map(|log| log.log_decode::<CommonBridge::PrivilegedTxSent>().ok())
        .collect();
    assert_eq!(events.len(), 1, "one PrivilegedTxSent in {receipt:?}");
    let e = &events[0].inner.data;
    let tx = e
        .to_privileged_tx(dev::DEFAULT_L2_CHAIN_ID)
        .expect("fields fit");
    (e.l1From, tx)
}

/// Checks that the bridge queued exactly `tx.hash()` under its id; returns the hash.
async fn queued_hash(env: &Env, tx: &PrivilegedTx) -> B256 {
    let queued = CommonBridge::new(env.bridge, &env.l1)
        .privilegedTxHashes(U256::from(tx.nonce))
        .call()
        .await
        .expect("privilegedTxHashes");
    assert_eq!(
        queued,
        tx.hash(),
        "the bridge queued the hash keel computes"
    );
    queued
}

/// A transaction by hash, as JSON.
async fn l2_tx(l2: &DynProvider, hash: B256) -> Value {
    let tx: Value = l2
        .raw_request("eth_getTransactionByHash".into(), (hash,))
        .await
        .expect("eth_getTransactionByHash");
    assert!(!tx.is_null(), "transaction {hash} unknown");
    tx
}

fn logs_of(receipt: &Value) -> Vec<Log> {
    serde_json::from_value(receipt["logs"].clone()).expect("receipt logs")
}

fn address_of(v: &Value) -> Address {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{v} is not an address: {e}"))
}

/// The Messenger's `L1Message`s among `logs`.
fn l1_messages(logs: &[Log]) -> Vec<L1Message> {
    logs.iter()
        .filter(|log| log.address() == keel_types::rules::MESSENGER_ADDRESS)
        .filter_map(|log| log.log_decode::<Messenger::L1Message>().ok())
        .map(|m| L1Message {
            sender_on_l2: m.inner.data.senderOnL2,
            data: m.inner.data.data,
            message_id: m.inner.data.messageId,
        })
        .collect()
}

/// The single `L1Message` of `logs`, checked to come from the L2 bridge with `data`.
fn the_message(logs: &[Log], data: B256) -> L1Message {
    let messages = l1_messages(logs);
    assert_eq!(messages.len(), 1, "one L1Message in {logs:?}");
    let m = messages[0];
    assert_eq!(
        m.sender_on_l2,
        keel_types::rules::L2_BRIDGE_ADDRESS,
        "sent by the L2 bridge"
    );
    assert_eq!(m.data, data, "the message data");
    m
}

/// `keccak256(abi.encodePacked(a, b, receiver, amount))`: an ETH (`a = b = ETH`) or ERC20
/// withdrawal message.
fn withdrawal_data(a: Address, b: Address, receiver: Address, amount: U256) -> B256 {
    let mut buf = Vec::with_capacity(3 * 20 + 32);
    buf.extend_from_slice(a.as_slice());
    buf.extend_from_slice(b.as_slice());
    buf.extend_from_slice(receiver.as_slice());
    buf.extend_from_slice(&amount.to_be_bytes::<32>());
    keccak256(buf)
}

/// One entry of `keel_getWithdrawalProof`, with the root of its batch.
#[derive(Debug)]
struct Proof {
    batch: u64,
    message_id: U256,
    message_hash: B256,
    leaf: B256,
    proof: Vec<B256>,
    root: B256,
    batch_messages: Vec<B256>,
}

/// Deserializes a JSON field into whatever type is expected.
macro_rules! parse {
    ($v:expr) => {{
        let v: &Value = $v;
        serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("unexpected JSON {v}: {e}"))
    }};
}

/// Waits until the block of `tx` is in a sealed batch; returns its withdrawal proofs.
async fn withdrawal_proofs(l2: &DynProvider, tx: B256) -> Vec<Proof> {
    let deadline = Instant::now() + TIMEOUT;
    let proofs = loop {
        let proofs: Value = l2
            .raw_request("keel_getWithdrawalProof".into(), (tx,))
            .await
            .expect("keel_getWithdrawalProof");
        if !proofs.is_null() {
            break proofs;
        }
        assert!(
            Instant::now() < deadline,
            "no withdrawal proof for {tx} within {TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut out = Vec::new();
    for p in proofs.as_array().expect("an array of proofs") {
        let batch: Value = l2
            .raw_request("keel_getBatchByNumber".into(), (p["batchNumber"].clone(),))
            .await
            .expect("keel_getBatchByNumber");
        assert!(!batch.is_null(), "the proof's batch is sealed");
        let batch_number: alloy::primitives::U64 = parse!(&p["batchNumber"]);
        out.push(Proof {
            batch: batch_number.to(),
            message_id: parse!(&p["messageId"]),
            message_hash: parse!(&p["messageHash"]),
            leaf: parse!(&p["leaf"]),
            proof: parse!(&p["proof"]),
            root: parse!(&batch["withdrawalsRoot"]),
            batch_messages: parse!(&batch["l1Messages"]),
        });
    }
    out
}

/// The one proof of `tx`'s `message`, checked against the message, in Rust, and on L1 with
/// OpenZeppelin's `MerkleProof` (`checker`) and the bridge's `messageLeaf`.
async fn check_proof(
    env: &Env,
    checker: Option<&MerkleProofCheck::MerkleProofCheckInstance<DynProvider>>,
    tx: B256,
    message: L1Message,
) -> Proof {
    let mut proofs = withdrawal_proofs(&env.l2, tx).await;
    assert_eq!(proofs.len(), 1, "one proof for {tx}: {proofs:?}");
    let p = proofs.remove(0);
    assert_eq!(p.message_id, message.message_id, "the proof's message id");
    assert_eq!(p.message_hash, message.data, "the proof's message data");
    assert_eq!(p.leaf, message.leaf(), "the leaf of docs/contracts.md");
    assert!(
        p.batch_messages.contains(&message.data),
        "the batch lists the message"
    );
    assert_ne!(p.root, B256::ZERO, "a batch with a message has a root");
    assert!(
        verify_withdrawal_proof(&p.proof, p.root, p.leaf),
        "the proof verifies in Rust: {p:?}"
    );
    let on_l1 = CommonBridge::new(env.bridge, &env.l1)
        .messageLeaf(message.data, message.message_id)
        .call()
        .await
        .expect("messageLeaf");
    assert_eq!(on_l1, p.leaf, "the L1 bridge builds the same leaf");
    if let Some(checker) = checker {
        let verify = |proof: Vec<B256>, root: B256, leaf: B256| async move {
            checker
                .verify(proof, root, leaf)
                .call()
                .await
                .expect("MerkleProofCheck.verify")
        };
        assert!(
            verify(p.proof.clone(), p.root, p.leaf).await,
            "OpenZeppelin's MerkleProof accepts the proof: {p:?}"
        );
        let mut wrong_leaf = p.leaf;
        wrong_leaf.0[31] ^= 1;
        assert!(
            !verify(p.proof.clone(), p.root, wrong_leaf).await,
            "a wrong leaf is refused"
        );
        assert!(
            !verify_withdrawal_proof(&p.proof, p.root, wrong_leaf),
            "a wrong leaf is refused in Rust too"
        );
        let mut wrong_root = p.root;
        wrong_root.0[0] ^= 0x80;
        assert!(
            !verify(p.proof.clone(), wrong_root, p.leaf).await,
            "a wrong root is refused"
        );
    }
    p
}

/// An ERC20 set up on both sides: `TestToken` on L1 (minted to dev 5), its `BridgedERC20` on L2.
struct Tokens {
    l1: Address,
    l2: Address,
}

async fn deploy_tokens(env: &Env, mint: U256) -> Tokens {
    let l1_deployer = env.l1_as(3);
    let token = TestToken::deploy(&l1_deployer)
        .await
        .expect("TestToken deployed");
    let receipt = token
        .mint(dev_address(5), mint)
        .send()
        .await
        .expect("mint")
        .get_receipt()
        .await
        .expect("mint receipt");
    assert!(receipt.status());
    let l2_deployer = env.l2_as(1);
    let bridged = BridgedERC20::deploy(
        &l2_deployer,
        "Bridged Test Token".to_string(),
        "bTT".to_string(),
        18,
        *token.address(),
    )
    .await
    .expect("BridgedERC20 deployed on L2");
    assert_eq!(
        bridged.l1Address().call().await.expect("l1Address"),
        *token.address()
    );
    Tokens {
        l1: *token.address(),
        l2: *bridged.address(),
    }
}

/// `keel bridge deposit-erc20` from dev 5; returns the L2 tx hash (checked against the bridge's
/// queue through `PrivilegedTxSent`'s id) and its L2 receipt.
async fn deposit_erc20(
    env: &Env,
    token_l1: Address,
    token_l2: Address,
    amount: U256,
    to: Address,
) -> (B256, Value) {
    let stdout = env.bridge_cli(&[
        "deposit-erc20",
        "--token-l1",
        &token_l1.to_string(),
        "--token-l2",
        &token_l2.to_string(),
        "--amount",
        &amount.to_string(),
        "--to",
        &to.to_string(),
        "--private-key",
        &key(5),
    ]);
    let hash: B256 = field(&stdout, "L2 tx:").parse().expect("L2 tx hash");
    let id: u64 = field(&stdout, "deposit id:").parse().expect("deposit id");
    let queued = CommonBridge::new(env.bridge, &env.l1)
        .privilegedTxHashes(U256::from(id))
        .call()
        .await
        .expect("privilegedTxHashes");
    assert_eq!(queued, hash, "the CLI prints the queued hash");
    let receipt = common::wait_l2_receipt(&env.l2, hash, TIMEOUT).await;
    assert_eq!(receipt["type"], json!("0x7e"));
    assert_eq!(receipt["status"], json!("0x1"), "{receipt}");
    (hash, receipt)
}

async fn token_balance(p: &DynProvider, token: Address, who: Address) -> U256 {
    BridgedERC20::new(token, p)
        .balanceOf(who)
        .call()
        .await
        .expect("balanceOf")
}

async fn total_supply(p: &DynProvider, token: Address) -> U256 {
    BridgedERC20::new(token, p)
        .totalSupply()
        .call()
        .await
        .expect("totalSupply")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deposit_to_a_contract_that_refuses_eth_goes_back_to_the_depositor() {
    let env = Env::start(500);
    let receiver = RevertingReceiver::deploy(env.l2_as(1))
        .await
        .expect("RevertingReceiver deployed on L2");
    let receiver = *receiver.address();
    let depositor = dev_address(5);
    let amount = ether(2);
    let zero_before = env.l2.get_balance(Address::ZERO).await.expect("balance");

    let l1_receipt = CommonBridge::new(env.bridge, env.l1_as(5))
        .deposit(receiver)
        .value(amount)
        .send()
        .await
        .expect("deposit")
        .get_receipt()
        .await
        .expect("L1 receipt");
    assert!(l1_receipt.status());
    let (l1_from, tx) = privileged_tx_of(&l1_receipt);
    assert_eq!(l1_from, depositor);
    assert_eq!(
        (tx.from, tx.to),
        (
            keel_types::rules::L2_BRIDGE_ADDRESS,
            keel_types::rules::L2_BRIDGE_ADDRESS
        )
    );
    assert_eq!(tx.value, amount);
    let hash = queued_hash(&env, &tx).await;

    let receipt = common::wait_l2_receipt(&env.l2, hash, TIMEOUT).await;
    assert_eq!(receipt["type"], json!("0x7e"));
    assert_eq!(
        receipt["status"],
        json!("0x1"),
        "a failed delivery doesn't fail the deposit: {receipt}"
    );
    assert_eq!(
        env.l2.get_balance(receiver).await.expect("balance"),
        U256::ZERO,
        "the receiver refused the ETH"
    );
    assert_eq!(
        env.l2
            .get_balance(keel_types::rules::L2_BRIDGE_ADDRESS)
            .await
            .expect("balance"),
        U256::ZERO,
        "the bridge keeps nothing"
    );
    assert_eq!(
        env.l2.get_balance(Address::ZERO).await.expect("balance") - zero_before,
        amount,
        "the minted value was burned (sent to address(0)), no more, no less"
    );

    // The deposit became a withdrawal of the same amount to the L1 depositor.
    let logs = logs_of(&receipt);
    let message = the_message(&logs, withdrawal_data(ETH, ETH, depositor, amount));
    assert_eq!(message.message_id, U256::from(1), "message ids start at 1");
    let initiated: Vec<_> = logs
        .iter()
        .filter_map(|l| l.log_decode::<CommonBridgeL2::WithdrawalInitiated>().ok())
        .collect();
    assert_eq!(initiated.len(), 1, "one WithdrawalInitiated");
    let w = &initiated[0].inner.data;
    assert_eq!(
        (w.senderOnL2, w.receiverOnL1, w.amount, w.messageId),
        (
            keel_types::rules::L2_BRIDGE_ADDRESS,
            depositor,
            amount,
            message.message_id
        )
    );
    assert!(
        !logs
            .iter()
            .any(|l| l.topic0() == Some(&CommonBridgeL2::DepositProcessed::SIGNATURE_HASH)),
        "no DepositProcessed for a failed delivery"
    );

    // Once the batch is sealed, the sent-back deposit has a proof like any withdrawal.
    check_proof(&env, None, hash, message).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn send_to_l2_from_an_l1_contract_runs_as_its_alias_and_fails_cleanly_when_it_cant_pay() {
    let env = Env::start(500);
    let l1_caller = L1Caller::deploy(env.l1_as(3))
        .await
        .expect("L1Caller deployed");
    let emitter = LogEmitter::deploy(env.l2_as(1))
        .await
        .expect("LogEmitter deployed on L2");
    let emitter = *emitter.address();
    let alias = apply_l1_alias(*l1_caller.address());
    assert_ne!(alias, *l1_caller.address());
    assert_eq!(
        env.l2.get_balance(alias).await.expect("balance"),
        U256::ZERO
    );

    // `send` through the L1 contract; returns the privileged tx after checking its fields.
    let send = |to: Address, value: U256, data: Bytes| {
        let l1_caller = &l1_caller;
        let env = &env;
        async move {
            let receipt = l1_caller
                .send(env.bridge, to, U256::from(200_000), value, data.clone())
                .send()
                .await
                .expect("L1Caller.send")
                .get_receipt()
                .await
                .expect("L1 receipt");
            assert!(receipt.status());
            let (l1_from, tx) = privileged_tx_of(&receipt);
            assert_eq!(l1_from, *l1_caller.address());
            assert_eq!((tx.from, tx.to, tx.value), (alias, to, value));
            assert_eq!(tx.data, data);
            queued_hash(env, &tx).await;
            tx
        }
    };

    // A call that emits `Ping(msg.sender, 42, "from L1")`.
    let payload = Bytes::from_static(b"from L1");
    let ping = LogEmitter::pingCall {
        id: U256::from(42),
        data: payload.clone(),
    }
    .abi_encode();
    let tx = send(emitter, U256::ZERO, ping.into()).await;
    let receipt = common::wait_l2_receipt(&env.l2, tx.hash(), TIMEOUT).await;
    assert_eq!(receipt["type"], json!("0x7e"));
    assert_eq!(receipt["status"], json!("0x1"), "{receipt}");
    assert_eq!(address_of(&receipt["from"]), alias, "{receipt}");
    assert_eq!(address_of(&l2_tx(&env.l2, tx.hash()).await["from"]), alias);
    let pings: Vec<_> = logs_of(&receipt)
        .iter()
        .filter(|l| l.address() == emitter)
        .filter_map(|l| l.log_decode::<LogEmitter::Ping>().ok())
        .map(|l| l.inner.data)
        .collect();
    assert_eq!(pings.len(), 1, "one Ping in {receipt}");
    assert_eq!(pings[0].sender, alias, "msg.sender on L2 is the alias");
    assert_eq!(pings[0].id, U256::from(42));
    assert_eq!(pings[0].data, payload);

    // The alias has no L2 ETH: a call with value is included, fails, and changes nothing.
    let sink = Address::repeat_byte(0x5a);
    let tx = send(sink, ether(1), Bytes::new()).await;
    let receipt = common::wait_l2_receipt(&env.l2, tx.hash(), TIMEOUT).await;
    assert_eq!(receipt["type"], json!("0x7e"));
    assert_eq!(
        receipt["status"],
        json!("0x0"),
        "the sender can't pay: {receipt}"
    );
    assert_eq!(address_of(&receipt["from"]), alias);
    assert!(logs_of(&receipt).is_empty(), "{receipt}");
    assert_eq!(env.l2.get_balance(sink).await.expect("balance"), U256::ZERO);
    assert_eq!(
        env.l2.get_balance(alias).await.expect("balance"),
        U256::ZERO
    );
    assert_eq!(
        env.l2.get_transaction_count(alias).await.expect("nonce"),
        0,
        "a privileged tx bumps no nonce"
    );

    // Funded on L2, the same call goes through: the value comes from the alias's balance, and
    // nothing else (a privileged tx pays no fee).
    let funding = env
        .l2_as(1)
        .send_transaction(
            TransactionRequest::default()
                .with_to(alias)
                .with_value(ether(3)),
        )
        .await
        .expect("fund the alias")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(funding.status());
    let tx = send(sink, ether(1), Bytes::new()).await;
    let receipt = common::wait_l2_receipt(&env.l2, tx.hash(), TIMEOUT).await;
    assert_eq!(receipt["status"], json!("0x1"), "{receipt}");
    assert_eq!(env.l2.get_balance(sink).await.expect("balance"), ether(1));
    assert_eq!(env.l2.get_balance(alias).await.expect("balance"), ether(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn erc20_deposits_mint_only_into_the_l2_token_of_their_l1_token() {
    let env = Env::start(500);
    let minted = ether(1000);
    let tokens = deploy_tokens(&env, minted).await;
    let depositor = dev_address(5);
    let recipient = Address::repeat_byte(0xd2);
    let amount = ether(25);

    let (_, receipt) = deposit_erc20(&env, tokens.l1, tokens.l2, amount, recipient).await;
    assert_eq!(token_balance(&env.l2, tokens.l2, recipient).await, amount);
    assert_eq!(total_supply(&env.l2, tokens.l2).await, amount);
    assert!(
        l1_messages(&logs_of(&receipt)).is_empty(),
        "a delivered deposit sends no message"
    );
    let processed: Vec<_> = logs_of(&receipt)
        .iter()
        .filter_map(|l| l.log_decode::<CommonBridgeL2::ERC20DepositProcessed>().ok())
        .map(|l| l.inner.data)
        .collect();
    assert_eq!(processed.len(), 1);
    assert_eq!(
        (
            processed[0].tokenL1,
            processed[0].tokenL2,
            processed[0].receiverOnL2,
            processed[0].amount
        ),
        (tokens.l1, tokens.l2, recipient, amount)
    );
    assert_eq!(token_balance(&env.l1, tokens.l1, env.bridge).await, amount);
    assert_eq!(
        token_balance(&env.l1, tokens.l1, depositor).await,
        minted - amount
    );
    let bridge = CommonBridge::new(env.bridge, &env.l1);
    assert_eq!(
        bridge
            .deposits(tokens.l1, tokens.l2)
            .call()
            .await
            .expect("deposits"),
        amount
    );

    // A token that represents another L1 token: nothing is minted, the deposit goes back.
    let other_l1 = Address::repeat_byte(0x99);
    let wrong = BridgedERC20::deploy(
        env.l2_as(1),
        "Other".to_string(),
        "OTH".to_string(),
        18,
        other_l1,
    )
    .await
    .expect("second BridgedERC20 deployed");
    let wrong = *wrong.address();
    let odd = ether(7);
    let (hash, receipt) = deposit_erc20(&env, tokens.l1, wrong, odd, recipient).await;
    assert_eq!(total_supply(&env.l2, wrong).await, U256::ZERO);
    assert_eq!(token_balance(&env.l2, wrong, recipient).await, U256::ZERO);
    assert_eq!(
        token_balance(&env.l2, tokens.l2, recipient).await,
        amount,
        "the matching token is untouched"
    );
    assert_eq!(total_supply(&env.l2, tokens.l2).await, amount);
    let logs = logs_of(&receipt);
    let message = the_message(&logs, withdrawal_data(tokens.l1, wrong, depositor, odd));
    let initiated: Vec<_> = logs
        .iter()
        .filter_map(|l| {
            l.log_decode::<CommonBridgeL2::ERC20WithdrawalInitiated>()
                .ok()
        })
        .map(|l| l.inner.data)
        .collect();
    assert_eq!(initiated.len(), 1);
    assert_eq!(
        (
            initiated[0].tokenL1,
            initiated[0].tokenL2,
            initiated[0].receiverOnL1,
            initiated[0].senderOnL2,
            initiated[0].amount,
            initiated[0].messageId
        ),
        (
            tokens.l1,
            wrong,
            depositor,
            keel_types::rules::L2_BRIDGE_ADDRESS,
            odd,
            message.message_id
        )
    );
    // The L1 side holds the tokens under the pair's provenance, so the send-back is claimable.
    assert_eq!(
        token_balance(&env.l1, tokens.l1, env.bridge).await,
        amount + odd
    );
    assert_eq!(
        bridge
            .deposits(tokens.l1, wrong)
            .call()
            .await
            .expect("deposits"),
        odd
    );
    check_proof(&env, None, hash, message).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn eth_and_erc20_withdrawals_burn_and_their_proofs_verify_on_l1() {
    // Batches every 2 s: the withdrawals below are sent within a fraction of that, so at least
    // two share a batch and some proof is more than the leaf itself.
    let env = Env::start(2000);
    let tokens = deploy_tokens(&env, ether(1000)).await;
    let checker = MerkleProofCheck::deploy(env.l1_as(3))
        .await
        .expect("MerkleProofCheck deployed on L1");
    let holder = dev_address(7);
    deposit_erc20(&env, tokens.l1, tokens.l2, ether(40), holder).await;
    assert_eq!(token_balance(&env.l2, tokens.l2, holder).await, ether(40));

    let eth_sender = dev_address(6);
    let eth_receiver = Address::repeat_byte(0xe1);
    let eth_amount = ether(1);
    let erc20_receiver = Address::repeat_byte(0xe2);
    let erc20_amount = ether(15);
    let eth_before = env.l2.get_balance(eth_sender).await.expect("balance");
    let supply_before = total_supply(&env.l2, tokens.l2).await;

    // The two CLI withdrawals and three more from another account, all at once.
    let eth_cli = env.spawn_bridge_cli(&[
        "withdraw",
        "--amount",
        &eth_amount.to_string(),
        "--to",
        &eth_receiver.to_string(),
        "--private-key",
        &key(6),
    ]);
    let erc20_cli = env.spawn_bridge_cli(&[
        "withdraw-erc20",
        "--token-l1",
        &tokens.l1.to_string(),
        "--token-l2",
        &tokens.l2.to_string(),
        "--amount",
        &erc20_amount.to_string(),
        "--to",
        &erc20_receiver.to_string(),
        "--private-key",
        &key(7),
    ]);
    let other = env.l2_as(2);
    let other_bridge = CommonBridgeL2::new(keel_types::rules::L2_BRIDGE_ADDRESS, &other);
    let nonce = other
        .get_transaction_count(dev_address(2))
        .await
        .expect("nonce");
    let mut pending = Vec::new();
    for i in 0..3u64 {
        pending.push(
            other_bridge
                .withdraw(Address::repeat_byte(0xe3))
                .value(U256::from(1_000 + i))
                .nonce(nonce + i)
                .send()
                .await
                .expect("withdraw"),
        );
    }
    let eth_stdout = stdout_of(&eth_cli.wait_with_output().expect("keel bridge withdraw"));
    let erc20_stdout = stdout_of(
        &erc20_cli
            .wait_with_output()
            .expect("keel bridge withdraw-erc20"),
    );
    let mut others = Vec::new();
    for (i, p) in pending.into_iter().enumerate() {
        let receipt = p.get_receipt().await.expect("receipt");
        assert!(receipt.status());
        let data = withdrawal_data(
            ETH,
            ETH,
            Address::repeat_byte(0xe3),
            U256::from(1_000 + i as u64),
        );
        let message = the_message(receipt.inner.logs(), data);
        others.push((receipt.transaction_hash, message));
    }

    // ETH: the sender paid the amount plus the fee, exactly; the bridge kept nothing.
    let eth_tx: B256 = field(&eth_stdout, "L2 tx:").parse().expect("hash");
    let receipt = env
        .l2
        .get_transaction_receipt(eth_tx)
        .await
        .expect("receipt")
        .expect("the withdrawal is mined");
    assert!(receipt.status());
    let fee = common::l2_tx_cost(&env.l2, eth_tx).await;
    assert_eq!(
        eth_before - env.l2.get_balance(eth_sender).await.expect("balance"),
        eth_amount + fee
    );
    assert_eq!(
        env.l2
            .get_balance(keel_types::rules::L2_BRIDGE_ADDRESS)
            .await
            .expect("balance"),
        U256::ZERO
    );
    let eth_message = the_message(
        receipt.inner.logs(),
        withdrawal_data(ETH, ETH, eth_receiver, eth_amount),
    );
    assert_eq!(
        field(&eth_stdout, "L1 message:"),
        format!("id {} data {}", eth_message.message_id, eth_message.data)
    );

    // ERC20: burned from the holder, and from the supply.
    let erc20_tx: B256 = field(&erc20_stdout, "L2 tx:").parse().expect("hash");
    let receipt = env
        .l2
        .get_transaction_receipt(erc20_tx)
        .await
        .expect("receipt")
        .expect("the withdrawal is mined");
    assert!(receipt.status());
    assert_eq!(
        token_balance(&env.l2, tokens.l2, holder).await,
        ether(40) - erc20_amount
    );
    assert_eq!(
        total_supply(&env.l2, tokens.l2).await,
        supply_before - erc20_amount
    );
    let erc20_message = the_message(
        receipt.inner.logs(),
        withdrawal_data(tokens.l1, tokens.l2, erc20_receiver, erc20_amount),
    );
    assert_eq!(
        field(&erc20_stdout, "L1 message:"),
        format!(
            "id {} data {}",
            erc20_message.message_id, erc20_message.data
        )
    );

    // Every withdrawal's proof verifies, in Rust and on L1.
    let mut all = vec![(eth_tx, eth_message), (erc20_tx, erc20_message)];
    all.extend(others);
    let mut ids: Vec<U256> = all.iter().map(|(_, m)| m.message_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "message ids are unique");
    let mut longest = 0;
    let mut roots = std::collections::HashMap::new();
    for (tx, message) in all {
        let proof = check_proof(&env, Some(&checker), tx, message).await;
        assert_eq!(
            proof.batch_messages.len() > 1,
            !proof.proof.is_empty(),
            "a proof is empty iff its batch has one message: {proof:?}"
        );
        longest = longest.max(proof.proof.len());
        let root = *roots.entry(proof.batch).or_insert(proof.root);
        assert_eq!(root, proof.root, "one root per batch");
    }
    assert!(
        longest > 0,
        "some withdrawals shared a batch, so some proof has siblings"
    );
}

/// Issue 12 item 3, end to end: on a fresh chain (the Messenger never written, `address(0)`
/// without an account), an ETH deposit made by the L1 bridge (200,000 L2 gas) to a contract in the
/// genesis that burns all the gas it gets (`H3GasBurner`), then one to the costliest recipient (a
/// failing empty precompile, 0x0a), each come back to the depositor as a withdrawal.
#[tokio::test(flavor = "multi_thread")]
async fn on_a_fresh_chain_a_deposit_to_a_gas_burner_is_sent_back() {
    let burner = address!("0x00000000000000000000000000000000000b0e11");
    let artifact: Value = serde_json::from_str(include_str!(
        "../../../contracts/artifacts/H3GasBurner.json"
    ))
    .expect("artifact");
    let code: Bytes = artifact["deployedBytecode"]
        .as_str()
        .expect("code")
        .parse()
        .expect("hex");
    let mut genesis = dev::dev_genesis();
    genesis.alloc.insert(
        burner,
        alloy_genesis::GenesisAccount::default().with_code(Some(code)),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("genesis.json");
    std::fs::write(&path, serde_json::to_string(&genesis).expect("json")).expect("write");
    let env = Env::start_with(500, &["--network", path.to_str().expect("utf-8")]);
    let depositor = dev_address(5);
    let precompile = address!("0x000000000000000000000000000000000000000a");
    for (i, recipient) in [burner, precompile].into_iter().enumerate() {
        let amount = ether(1);
        let l1_receipt = CommonBridge::new(env.bridge, env.l1_as(5))
            .deposit(recipient)
            .value(amount)
            .send()
            .await
            .expect("deposit")
            .get_receipt()
            .await
            .expect("L1 receipt");
        let (_, tx) = privileged_tx_of(&l1_receipt);
        assert_eq!(tx.gas_limit, 200_000);
        let receipt = common::wait_l2_receipt(&env.l2, queued_hash(&env, &tx).await, TIMEOUT).await;
        assert_eq!(receipt["status"], json!("0x1"), "{receipt}");
        let logs = logs_of(&receipt);
        let message = the_message(&logs, withdrawal_data(ETH, ETH, depositor, amount));
        assert_eq!(message.message_id, U256::from(i as u64 + 1));
        let initiated: Vec<_> = logs
            .iter()
            .filter_map(|l| l.log_decode::<CommonBridgeL2::WithdrawalInitiated>().ok())
            .collect();
        assert_eq!(initiated.len(), 1, "one WithdrawalInitiated: {receipt}");
        assert_eq!(initiated[0].inner.data.receiverOnL1, depositor);
        assert_eq!(
            env.l2
                .get_balance(keel_types::rules::L2_BRIDGE_ADDRESS)
                .await
                .expect("balance"),
            U256::ZERO
        );
        assert_eq!(
            env.l2.get_balance(Address::ZERO).await.expect("balance"),
            ether(i as u64 + 1),
            "burned"
        );
    }
}
