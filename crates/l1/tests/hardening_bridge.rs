//! Bridge hardening (issue 12) on a real anvil (Prague):
//! - `receive()` credits the aliased address of a contract (also one under construction) and the
//!   EOA itself for an EOA or an EIP-7702-delegated EOA (a real type-4 transaction sent by another
//!   account, so `msg.sender != tx.origin`), for `receive()` and `sendToL2` alike;
//! - `claimWithdrawalFor` / `claimWithdrawalERC20For` pay the receiver named in the message, never
//!   the caller, and share the claimed-message record with the direct claims;
//! - `maxPause`: a pause (by the owner or the security council) stops claims with `ClaimsPaused`
//!   only until it is `maxPause` old, while deposits stay refused; the council can pause but not
//!   unpause, strangers can't pause, `renounceOwnership` is disabled on all three contracts;
//! - the negatives the review listed: deposits and messages while paused, fee-on-transfer tokens,
//!   a reentrant claimant, an ERC777-style reentrant token, one message id in two verified batches.

mod common;

use alloy::{
    eips::eip7702::Authorization,
    network::{TransactionBuilder, TransactionBuilder7702},
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::{DynProvider, Provider},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::SignerSync,
    sol_types::SolCall,
};
use common::{
    Batch, L1, OWNER, SEQUENCER, SIGNERS, USER, addr, assert_reverts_with, blob_versioned_hash,
    call, ether, signer,
};
use keel_l1::contracts::{CommonBridge, test::TestToken};
use keel_types::{L1Message, apply_l1_alias, withdrawal_proof, withdrawals_root};

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    H2Forwarder,
    "../../contracts/artifacts/H2Forwarder.json"
);
alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    H2ConstructorDepositor,
    "../../contracts/artifacts/H2ConstructorDepositor.json"
);
alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    H2FeeToken,
    "../../contracts/artifacts/H2FeeToken.json"
);
alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    H2HookToken,
    "../../contracts/artifacts/H2HookToken.json"
);
alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    H2ReentrantClaimant,
    "../../contracts/artifacts/H2ReentrantClaimant.json"
);

alloy::sol! {
    function mintETH(address to) payable;
    function ping(uint256 x);

    // What the three L1 contracts share through `Governed` (their errors have the same selectors,
    // so the tests check them with the CommonBridge bindings).
    #[sol(rpc)]
    interface Governed {
        function owner() external view returns (address);
        function pause() external;
        function unpause() external;
        function paused() external view returns (bool);
        function pausedAt() external view returns (uint256);
        function securityCouncil() external view returns (address);
        function renounceOwnership() external;
    }
}

const BLOB: &[u8] = b"a batch with withdrawals";

/// The pseudo-address of ETH in withdrawal messages.
const ETH: Address = alloy::primitives::address!("0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE");

/// The L2 token L1 tokens are bridged into (only its address matters on L1).
const TOKEN_L2: Address = Address::repeat_byte(0x77);

/// An EOA that delegates its code with EIP-7702 (and another receiver of withdrawals).
const DELEGATED: usize = 6;
/// Someone else who deposits.
const DEPOSITOR: usize = 7;
/// The security council of the deployments that have one.
const COUNCIL: usize = 8;
/// A third party: claims for others, sponsors the type-4 transactions.
const RELAYER: usize = 9;

/// `maxPause` of the deployments that test it: one day.
const MAX_PAUSE: u64 = 24 * 3600;

// ------------------------------------------------------------------ withdrawal messages

/// One L2 → L1 withdrawal message.
#[derive(Debug, Clone, Copy)]
struct Msg {
    token_l1: Address,
    token_l2: Address,
    receiver: Address,
    amount: U256,
    id: U256,
}

impl Msg {
    fn eth(receiver: Address, amount: U256, id: u64) -> Self {
        Self {
            token_l1: ETH,
            token_l2: ETH,
            receiver,
            amount,
            id: U256::from(id),
        }
    }

    fn erc20(token_l1: Address, receiver: Address, amount: u64, id: u64) -> Self {
        Self {
            token_l1,
            token_l2: TOKEN_L2,
            receiver,
            amount: U256::from(amount),
            id: U256::from(id),
        }
    }

    /// `keccak256(tokenL1 ‖ tokenL2 ‖ receiver ‖ amount)`, as the L2 bridge sends it.
    fn data(&self) -> B256 {
        keccak256(
            [
                self.token_l1.as_slice(),
                self.token_l2.as_slice(),
                self.receiver.as_slice(),
                &self.amount.to_be_bytes::<32>(),
            ]
            .concat(),
        )
    }

    fn leaf(&self) -> B256 {
        L1Message {
            sender_on_l2: keel_types::rules::L2_BRIDGE_ADDRESS,
            data: self.data(),
            message_id: self.id,
        }
        .leaf()
    }
}

/// The withdrawals of one batch.
struct Tree {
    msgs: Vec<Msg>,
    leaves: Vec<B256>,
}

impl Tree {
    fn new(msgs: Vec<Msg>) -> Self {
        let leaves = msgs.iter().map(Msg::leaf).collect();
        Self { msgs, leaves }
    }

    fn root(&self) -> B256 {
        withdrawals_root(&self.leaves)
    }

    fn proof(&self, index: usize) -> Vec<B256> {
        withdrawal_proof(&self.leaves, index).expect("proof")
    }
}

/// Commits batches 1, 2, … with the withdrawals roots of `trees` and verifies them all.
async fn commit_and_verify(l1: &L1, trees: &[&Tree]) {
    let blob = blob_versioned_hash(BLOB);
    let mut previous = l1.genesis();
    let mut proofs = Vec::new();
    for (i, tree) in trees.iter().enumerate() {
        let mut batch = Batch::simple(i as u64 + 1);
        batch.withdrawals_root = tree.root();
        l1.commit(SEQUENCER, &batch, Some(BLOB))
            .await
            .expect("batch committed");
        let inputs = batch.public_inputs(previous, blob);
        proofs.push(vec![l1.attest(&inputs, &[SIGNERS[0], SIGNERS[1]])]);
        previous = batch.as_previous();
    }
    l1.verify(1, proofs).await.expect("batches verified");
}

/// The claim of ETH message `index` of `tree` (in batch `batch`) with `claimWithdrawal`.
fn claim_eth(l1: &L1, from: Address, tree: &Tree, index: usize, batch: u64) -> TransactionRequest {
    let m = tree.msgs[index];
    l1.bridge()
        .claimWithdrawal(m.amount, U256::from(batch), m.id, tree.proof(index))
        .from(from)
        .into_transaction_request()
}

/// The claim of ETH message `index` of `tree` for `receiver` with `claimWithdrawalFor`.
fn claim_eth_for(
    l1: &L1,
    from: Address,
    receiver: Address,
    tree: &Tree,
    index: usize,
    batch: u64,
) -> TransactionRequest {
    let m = tree.msgs[index];
    l1.bridge()
        .claimWithdrawalFor(
            receiver,
            m.amount,
            U256::from(batch),
            m.id,
            tree.proof(index),
        )
        .from(from)
        .into_transaction_request()
}

/// The claim of ERC20 message `index` of `tree` (batch 1) with `claimWithdrawalERC20`.
fn claim_erc20(l1: &L1, from: Address, tree: &Tree, index: usize) -> TransactionRequest {
    let m = tree.msgs[index];
    l1.bridge()
        .claimWithdrawalERC20(
            m.token_l1,
            m.token_l2,
            m.amount,
            U256::from(1),
            m.id,
            tree.proof(index),
        )
        .from(from)
        .into_transaction_request()
}

/// The call of `claimWithdrawalERC20For` of ERC20 message `index` of `tree` (batch 1) for
/// `receiver`.
fn claim_erc20_for_call(
    receiver: Address,
    tree: &Tree,
    index: usize,
) -> CommonBridge::claimWithdrawalERC20ForCall {
    let m = tree.msgs[index];
    CommonBridge::claimWithdrawalERC20ForCall {
        tokenL1: m.token_l1,
        tokenL2: m.token_l2,
        receiver,
        amount: m.amount,
        batchNumber: U256::from(1),
        messageId: m.id,
        proof: tree.proof(index),
    }
}

fn claim_erc20_for(
    l1: &L1,
    from: Address,
    receiver: Address,
    tree: &Tree,
    index: usize,
) -> TransactionRequest {
    TransactionRequest::default()
        .with_from(from)
        .with_to(*l1.bridge().address())
        .with_input(Bytes::from(
            claim_erc20_for_call(receiver, tree, index).abi_encode(),
        ))
}

async fn claimed(l1: &L1, m: &Msg) -> bool {
    l1.bridge()
        .claimedMessages(m.id)
        .call()
        .await
        .expect("claimedMessages")
}

// ------------------------------------------------------------------ other helpers

/// The one `PrivilegedTxSent` of `receipt`.
fn sent(receipt: &TransactionReceipt) -> CommonBridge::PrivilegedTxSent {
    let events: Vec<_> = receipt
        .inner
        .logs()
        .iter()
        .filter_map(|log| log.log_decode::<CommonBridge::PrivilegedTxSent>().ok())
        .collect();
    assert_eq!(events.len(), 1, "one PrivilegedTxSent");
    events[0].inner.data.clone()
}

/// The calldata of an ETH deposit to `recipient` by `depositor`: `mintETH(recipient) ‖ depositor`.
fn mint_eth_data(recipient: Address, depositor: Address) -> Bytes {
    let mut data = mintETHCall { to: recipient }.abi_encode();
    data.extend_from_slice(depositor.as_slice());
    data.into()
}

/// Asserts that `receipt` queued an ETH deposit of `value` credited on L2 to `recipient`, caused by
/// `l1_from` (also the refund address).
#[track_caller]
fn assert_eth_deposit(
    receipt: &TransactionReceipt,
    l1_from: Address,
    recipient: Address,
    value: U256,
) {
    let e = sent(receipt);
    assert_eq!(e.l1From, l1_from, "l1From");
    assert_eq!(
        (e.from, e.to),
        (
            keel_types::rules::L2_BRIDGE_ADDRESS,
            keel_types::rules::L2_BRIDGE_ADDRESS
        )
    );
    assert_eq!(e.value, value);
    assert_eq!(
        e.data,
        mint_eth_data(recipient, l1_from),
        "mintETH({recipient}) ‖ {l1_from}"
    );
}

async fn transaction_id(l1: &L1) -> U256 {
    l1.bridge()
        .transactionId()
        .call()
        .await
        .expect("transactionId")
}

fn governed(l1: &L1, proxy: Address) -> Governed::GovernedInstance<&DynProvider> {
    Governed::new(proxy, &l1.provider)
}

/// The three proxies, by name.
fn proxies(l1: &L1) -> [(&'static str, Address); 3] {
    let c = &l1.deployment.contracts;
    [
        ("CommonBridge", c.common_bridge.proxy),
        ("OnChainProposer", c.on_chain_proposer.proxy),
        ("AttestationVerifier", c.attestation_verifier.proxy),
    ]
}

async fn pause(l1: &L1, from: usize, proxy: Address) -> Result<TransactionReceipt, String> {
    l1.send(call(from, proxy, Governed::pauseCall {}.abi_encode()))
        .await
}

async fn unpause(l1: &L1, from: usize, proxy: Address) -> Result<TransactionReceipt, String> {
    l1.send(call(from, proxy, Governed::unpauseCall {}.abi_encode()))
        .await
}

async fn block_timestamp(l1: &L1, receipt: &TransactionReceipt) -> u64 {
    let number = receipt.block_number.expect("mined");
    l1.provider
        .get_block_by_number(number.into())
        .await
        .expect("block")
        .expect("exists")
        .header
        .timestamp
}

/// What the sender of `receipt` paid for gas.
fn gas_cost(receipt: &TransactionReceipt) -> U256 {
    U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price)
}

/// Deploys a TestToken, mints `minted` to `who`, approves and deposits `deposited` of them into
/// `TOKEN_L2`.
async fn test_token_with_deposit(l1: &L1, who: usize, minted: u64, deposited: u64) -> Address {
    let token = TestToken::deploy(&l1.provider).await.expect("token");
    let from = addr(who);
    let bridge = *l1.bridge().address();
    l1.send(
        token
            .mint(from, U256::from(minted))
            .from(from)
            .into_transaction_request(),
    )
    .await
    .expect("mint");
    l1.send(
        token
            .approve(bridge, U256::from(deposited))
            .from(from)
            .into_transaction_request(),
    )
    .await
    .expect("approve");
    l1.send(
        l1.bridge()
            .depositERC20(*token.address(), TOKEN_L2, from, U256::from(deposited))
            .from(from)
            .into_transaction_request(),
    )
    .await
    .expect("depositERC20");
    *token.address()
}

async fn token_balance(l1: &L1, token: Address, who: Address) -> U256 {
    TestToken::new(token, &l1.provider)
        .balanceOf(who)
        .call()
        .await
        .expect("balanceOf")
}

async fn provenance(l1: &L1, token: Address) -> U256 {
    l1.bridge()
        .deposits(token, TOKEN_L2)
        .call()
        .await
        .expect("deposits")
}

/// ETH deposited into the bridge so that claims can be paid.
async fn fund_bridge(l1: &L1, amount: U256) {
    let tx = l1
        .bridge()
        .deposit(addr(DEPOSITOR))
        .value(amount)
        .from(addr(DEPOSITOR))
        .into_transaction_request();
    l1.send(tx).await.expect("deposit");
}

// ------------------------------------------------------------------ item 4: aliasing

#[tokio::test]
async fn receive_credits_the_aliased_address_of_a_contract_and_the_eoa_itself() {
    let l1 = L1::start().await;
    let bridge = *l1.bridge().address();

    // From an EOA: the EOA.
    let tx = TransactionRequest::default()
        .with_from(addr(USER))
        .with_to(bridge)
        .with_value(ether(1));
    let receipt = l1.send(tx).await.expect("receive() from an EOA");
    assert_eth_deposit(&receipt, addr(USER), addr(USER), ether(1));

    // From a contract (a plain call with value, as a multisig would send it): the aliased address.
    let forwarder = H2Forwarder::deploy(&l1.provider).await.expect("forwarder");
    let contract = *forwarder.address();
    let receipt = l1
        .send(
            forwarder
                .depositViaReceive(bridge)
                .value(ether(2))
                .from(addr(USER))
                .into_transaction_request(),
        )
        .await
        .expect("receive() from a contract");
    let aliased = apply_l1_alias(contract);
    assert_ne!(aliased, contract);
    assert_eth_deposit(&receipt, contract, aliased, ether(2));
    assert_eq!(
        l1.bridge()
            .l2SenderOf(contract)
            .call()
            .await
            .expect("l2SenderOf"),
        aliased
    );
    assert_eq!(
        l1.bridge()
            .applyL1Alias(contract)
            .call()
            .await
            .expect("alias"),
        aliased,
        "the contract's aliasing agrees with keel_types"
    );

    // From a contract's constructor (no code yet, and not the tx's signer): aliased as well.
    let receipt = l1
        .send(
            H2ConstructorDepositor::deploy_builder(&l1.provider, bridge)
                .value(ether(3))
                .from(addr(USER))
                .into_transaction_request(),
        )
        .await
        .expect("receive() from a constructor");
    let created = receipt.contract_address.expect("created");
    assert_eth_deposit(&receipt, created, apply_l1_alias(created), ether(3));

    assert_eq!(transaction_id(&l1).await, U256::from(3));
    assert_eq!(l1.balance(bridge).await, ether(6));
}

/// `l2SenderOf(who)` in a call from the user (so `tx.origin` is the user).
async fn l2_sender_asked_by_user(l1: &L1, who: Address) -> Address {
    l1.bridge()
        .l2SenderOf(who)
        .from(addr(USER))
        .call()
        .await
        .expect("l2SenderOf")
}

#[tokio::test]
async fn an_eip7702_delegated_eoa_is_not_aliased() {
    let l1 = L1::start().await;
    let bridge = *l1.bridge().address();
    let forwarder = H2Forwarder::deploy(&l1.provider).await.expect("forwarder");
    let delegated = addr(DELEGATED);
    let sponsor = addr(RELAYER);

    // The delegated EOA signs an authorization to run H2Forwarder's code; another account sends
    // the type-4 transaction, which calls the EOA's new code: the bridge sees
    // msg.sender = the EOA, tx.origin = the sponsor.
    let auth = Authorization {
        chain_id: U256::from(l1.deployment.l1_chain_id),
        address: *forwarder.address(),
        nonce: l1
            .provider
            .get_transaction_count(delegated)
            .await
            .expect("nonce"),
    };
    let signature = signer(DELEGATED)
        .sign_hash_sync(&auth.signature_hash())
        .expect("sign the authorization");
    let tx = TransactionRequest::default()
        .with_from(sponsor)
        .with_to(delegated)
        .with_value(ether(1))
        .with_input(Bytes::from(
            H2Forwarder::depositViaReceiveCall { bridge }.abi_encode(),
        ))
        .with_authorization_list(vec![auth.into_signed(signature)]);
    let receipt = l1.send(tx).await.expect("type-4 deposit through the EOA");
    assert_eq!(
        receipt.transaction_type(),
        alloy::consensus::TxType::Eip7702
    );
    assert_eq!(receipt.from, sponsor, "tx.origin is the sponsor");

    // The EOA's code is now the delegation designator 0xef0100 ‖ H2Forwarder.
    let code = l1.provider.get_code_at(delegated).await.expect("code");
    let mut designator = vec![0xef, 0x01, 0x00];
    designator.extend_from_slice(forwarder.address().as_slice());
    assert_eq!(code.as_ref(), designator.as_slice());

    // receive(): credited to the EOA itself, not to its alias.
    assert_eth_deposit(&receipt, delegated, delegated, ether(1));

    // sendToL2 through the delegated EOA (again sent by the sponsor): the L2 sender is the EOA.
    let data: Bytes = pingCall { x: U256::from(7) }.abi_encode().into();
    let target = Address::repeat_byte(0x99);
    let tx = TransactionRequest::default()
        .with_from(sponsor)
        .with_to(delegated)
        .with_input(Bytes::from(
            H2Forwarder::sendCall {
                bridge,
                to: target,
                gasLimit: U256::from(100_000),
                value: U256::ZERO,
                data: data.clone(),
            }
            .abi_encode(),
        ));
    let receipt = l1.send(tx).await.expect("sendToL2 through the EOA");
    let e = sent(&receipt);
    assert_eq!((e.l1From, e.from, e.to), (delegated, delegated, target));
    assert_eq!(e.data, data);

    // The same code as a contract is aliased (the rule is about the designator, not the code).
    let receipt = l1
        .send(
            forwarder
                .send(bridge, target, U256::from(100_000), U256::ZERO, data)
                .from(sponsor)
                .into_transaction_request(),
        )
        .await
        .expect("sendToL2 through the contract");
    assert_eq!(sent(&receipt).from, apply_l1_alias(*forwarder.address()));

    // l2SenderOf, asked by a third account (tx.origin = someone else).
    assert_eq!(l2_sender_asked_by_user(&l1, delegated).await, delegated);
    assert_eq!(
        l2_sender_asked_by_user(&l1, *forwarder.address()).await,
        apply_l1_alias(*forwarder.address())
    );
    // 23 bytes of code that are not a delegation designator: a contract, aliased. (anvil refuses
    // code with another 0xef01 prefix, so the designator's first byte is what differs.)
    let fake = Address::repeat_byte(0x5a);
    let mut not_designator = vec![0x00, 0x01, 0x00];
    not_designator.extend_from_slice(forwarder.address().as_slice());
    let code = Bytes::from(not_designator);
    let _: serde_json::Value = l1
        .provider
        .raw_request("anvil_setCode".into(), (fake, code))
        .await
        .expect("anvil_setCode");
    assert_eq!(
        l2_sender_asked_by_user(&l1, fake).await,
        apply_l1_alias(fake)
    );
}

// ------------------------------------------------------------------ item 5: claims for others

#[tokio::test]
async fn claims_for_others_pay_the_receiver_in_the_message_never_the_caller() {
    let l1 = L1::start().await;
    fund_bridge(&l1, ether(10)).await;
    let token = test_token_with_deposit(&l1, USER, 5_000, 1_000).await;
    let forwarder = H2Forwarder::deploy(&l1.provider).await.expect("forwarder");
    let user = addr(USER);
    let relayer = addr(RELAYER);
    let tree = Tree::new(vec![
        Msg::eth(user, ether(2), 1),
        Msg::erc20(token, user, 400, 2),
        // A contract that never calls the bridge itself (e.g. the refund of a router's deposit).
        Msg::eth(*forwarder.address(), ether(1), 3),
        Msg::erc20(token, user, 100, 4),
    ]);
    commit_and_verify(&l1, &[&tree]).await;
    let bridge = *l1.bridge().address();

    // ETH: the relayer claims for the user; the user gets exactly the amount (it sent nothing),
    // the relayer only pays gas.
    let user_before = l1.balance(user).await;
    let relayer_before = l1.balance(relayer).await;
    let bridge_before = l1.balance(bridge).await;
    // Naming another receiver than the message's (the caller, or anyone) fails.
    for wrong in [relayer, addr(DEPOSITOR)] {
        assert_reverts_with::<CommonBridge::InvalidProof, _>(
            l1.send(claim_eth_for(&l1, relayer, wrong, &tree, 0, 1))
                .await,
        );
    }
    let receipt = l1
        .send(claim_eth_for(&l1, relayer, user, &tree, 0, 1))
        .await
        .expect("claim for the user");
    assert_eq!(l1.balance(user).await, user_before + ether(2));
    assert_eq!(
        l1.balance(relayer).await,
        relayer_before - gas_cost(&receipt),
        "the caller gets nothing"
    );
    assert_eq!(l1.balance(bridge).await, bridge_before - ether(2));
    let claimed_events: Vec<_> = receipt
        .inner
        .logs()
        .iter()
        .filter_map(|log| log.log_decode::<CommonBridge::WithdrawalClaimed>().ok())
        .collect();
    assert_eq!(claimed_events.len(), 1);
    assert_eq!(claimed_events[0].inner.data.receiver, user);
    assert!(claimed(&l1, &tree.msgs[0]).await);
    // Claimed once: neither the receiver directly nor anyone for it can claim again.
    assert_reverts_with::<CommonBridge::AlreadyClaimed, _>(
        l1.send(claim_eth(&l1, user, &tree, 0, 1)).await,
    );
    assert_reverts_with::<CommonBridge::AlreadyClaimed, _>(
        l1.send(claim_eth_for(&l1, relayer, user, &tree, 0, 1))
            .await,
    );
    assert_eq!(l1.balance(bridge).await, bridge_before - ether(2));

    // ETH to a contract that can't claim: anyone claims it for the contract.
    let receipt = l1
        .send(claim_eth_for(
            &l1,
            relayer,
            *forwarder.address(),
            &tree,
            2,
            1,
        ))
        .await
        .expect("claim for the contract");
    assert!(receipt.status());
    assert_eq!(l1.balance(*forwarder.address()).await, ether(1));

    // ERC20: the tokens go to the user, none to the relayer; provenance goes down.
    for wrong in [relayer, addr(DEPOSITOR)] {
        assert_reverts_with::<CommonBridge::InvalidProof, _>(
            l1.send(claim_erc20_for(&l1, relayer, wrong, &tree, 1))
                .await,
        );
    }
    let user_tokens = token_balance(&l1, token, user).await;
    l1.send(claim_erc20_for(&l1, relayer, user, &tree, 1))
        .await
        .expect("ERC20 claim for the user");
    assert_eq!(
        token_balance(&l1, token, user).await,
        user_tokens + U256::from(400)
    );
    assert_eq!(token_balance(&l1, token, relayer).await, U256::ZERO);
    assert_eq!(token_balance(&l1, token, bridge).await, U256::from(600));
    assert_eq!(provenance(&l1, token).await, U256::from(600));
    assert_reverts_with::<CommonBridge::AlreadyClaimed, _>(
        l1.send(claim_erc20(&l1, user, &tree, 1)).await,
    );

    // The other way round: claimed directly, then for the receiver: refused.
    l1.send(claim_erc20(&l1, user, &tree, 3))
        .await
        .expect("direct ERC20 claim");
    assert_reverts_with::<CommonBridge::AlreadyClaimed, _>(
        l1.send(claim_erc20_for(&l1, relayer, user, &tree, 3)).await,
    );
    assert_eq!(
        token_balance(&l1, token, user).await,
        user_tokens + U256::from(500)
    );
    assert_eq!(provenance(&l1, token).await, U256::from(500));
}

// ------------------------------------------------------------------ item 7: maxPause, council

/// An anvil whose bridge (with a security council and `maxPause` = one day) holds ETH and a
/// token deposit, with batch 1 verified: two ETH and one ERC20 withdrawal to the user.
async fn paused_claims_fixture() -> (L1, Tree, Address) {
    let l1 = L1::start_with(|c| {
        c.security_council = addr(COUNCIL);
        c.max_pause = MAX_PAUSE;
    })
    .await;
    assert_eq!(
        l1.bridge().maxPause().call().await.expect("maxPause"),
        U256::from(MAX_PAUSE)
    );
    fund_bridge(&l1, ether(10)).await;
    let token = test_token_with_deposit(&l1, USER, 1_000, 1_000).await;
    let user = addr(USER);
    let tree = Tree::new(vec![
        Msg::eth(user, ether(1), 1),
        Msg::eth(user, ether(2), 2),
        Msg::erc20(token, user, 300, 3),
    ]);
    commit_and_verify(&l1, &[&tree]).await;
    (l1, tree, token)
}

/// Claims of the three messages of `paused_claims_fixture` (direct, for the user, ERC20) are
/// refused with `ClaimsPaused`.
async fn assert_claims_paused(l1: &L1, tree: &Tree) {
    let user = addr(USER);
    let txs = [
        claim_eth(l1, user, tree, 0, 1),
        claim_eth_for(l1, addr(RELAYER), user, tree, 1, 1),
        claim_erc20(l1, user, tree, 2),
    ];
    for tx in txs {
        assert_reverts_with::<CommonBridge::ClaimsPaused, _>(l1.send(tx).await);
    }
}

#[tokio::test]
async fn a_council_pause_stops_claims_only_until_max_pause_while_deposits_stay_refused() {
    let (l1, tree, token) = paused_claims_fixture().await;
    let bridge = l1.bridge();
    let user = addr(USER);
    assert_eq!(
        governed(&l1, *bridge.address())
            .securityCouncil()
            .call()
            .await
            .expect("council"),
        addr(COUNCIL)
    );
    assert!(bridge.claimsOpen().call().await.expect("claimsOpen"));

    let receipt = pause(&l1, COUNCIL, *bridge.address())
        .await
        .expect("the council pauses the bridge");
    let paused_at = block_timestamp(&l1, &receipt).await;
    assert_eq!(
        bridge.pausedAt().call().await.expect("pausedAt"),
        U256::from(paused_at)
    );
    assert!(!bridge.claimsOpen().call().await.expect("claimsOpen"));

    // A young pause: every kind of claim is refused with ClaimsPaused.
    assert_claims_paused(&l1, &tree).await;
    l1.increase_time(MAX_PAUSE / 2).await;
    assert_claims_paused(&l1, &tree).await;
    // The council can't restart the clock by pausing again.
    assert_reverts_with::<CommonBridge::EnforcedPause, _>(
        pause(&l1, COUNCIL, *bridge.address()).await,
    );
    assert_eq!(
        bridge.pausedAt().call().await.expect("pausedAt"),
        U256::from(paused_at)
    );
    for m in &tree.msgs {
        assert!(!claimed(&l1, m).await);
    }

    // Once the pause is maxPause old, claims go through (still paused).
    l1.increase_time(MAX_PAUSE / 2 + 1).await;
    assert!(bridge.paused().call().await.expect("paused"));
    assert!(bridge.claimsOpen().call().await.expect("claimsOpen"));
    let before = l1.balance(user).await;
    let receipt = l1
        .send(claim_eth(&l1, user, &tree, 0, 1))
        .await
        .expect("claim after maxPause");
    assert_eq!(
        l1.balance(user).await,
        before + ether(1) - gas_cost(&receipt)
    );
    let before = l1.balance(user).await;
    l1.send(claim_eth_for(&l1, addr(RELAYER), user, &tree, 1, 1))
        .await
        .expect("claim for the user after maxPause");
    assert_eq!(l1.balance(user).await, before + ether(2));
    l1.send(claim_erc20(&l1, user, &tree, 2))
        .await
        .expect("ERC20 claim after maxPause");
    assert_eq!(token_balance(&l1, token, user).await, U256::from(300));

    // Deposits and messages stay refused.
    let id = transaction_id(&l1).await;
    let txs = [
        bridge
            .deposit(user)
            .value(ether(1))
            .from(user)
            .into_transaction_request(),
        TransactionRequest::default()
            .with_from(user)
            .with_to(*bridge.address())
            .with_value(ether(1)),
        bridge
            .sendToL2(user, U256::from(100_000), U256::ZERO, Bytes::new())
            .from(user)
            .into_transaction_request(),
        bridge
            .depositERC20(token, TOKEN_L2, user, U256::from(1))
            .from(user)
            .into_transaction_request(),
    ];
    for tx in txs {
        assert_reverts_with::<CommonBridge::EnforcedPause, _>(l1.send(tx).await);
    }
    assert_eq!(transaction_id(&l1).await, id);
}

#[tokio::test]
async fn an_owner_pause_expires_for_claims_too_and_unpausing_resets_the_clock() {
    let (l1, tree, _) = paused_claims_fixture().await;
    let bridge = *l1.bridge().address();
    let user = addr(USER);

    pause(&l1, OWNER, bridge).await.expect("owner pauses");
    assert_reverts_with::<CommonBridge::ClaimsPaused, _>(
        l1.send(claim_eth(&l1, user, &tree, 0, 1)).await,
    );
    l1.increase_time(MAX_PAUSE + 1).await;
    l1.send(claim_eth(&l1, user, &tree, 0, 1))
        .await
        .expect("claim after maxPause");

    // Unpause and pause again: a new pause, a new clock.
    unpause(&l1, OWNER, bridge).await.expect("owner unpauses");
    assert_eq!(
        l1.bridge().pausedAt().call().await.expect("pausedAt"),
        U256::ZERO
    );
    pause(&l1, OWNER, bridge).await.expect("owner pauses again");
    assert!(!l1.bridge().claimsOpen().call().await.expect("claimsOpen"));
    assert_reverts_with::<CommonBridge::ClaimsPaused, _>(
        l1.send(claim_eth(&l1, user, &tree, 1, 1)).await,
    );
    assert!(!claimed(&l1, &tree.msgs[1]).await);

    // A shorter maxPause applies to the current pause at once.
    l1.send(
        l1.bridge()
            .setMaxPause(U256::from(60))
            .from(addr(OWNER))
            .into_transaction_request(),
    )
    .await
    .expect("setMaxPause");
    l1.increase_time(61).await;
    l1.send(claim_eth(&l1, user, &tree, 1, 1))
        .await
        .expect("claim after the shorter maxPause");
    assert!(claimed(&l1, &tree.msgs[1]).await);
}

#[tokio::test]
async fn the_council_pauses_but_cannot_unpause_and_strangers_cannot_pause() {
    let l1 = L1::start_with(|c| c.security_council = addr(COUNCIL)).await;
    for (name, proxy) in proxies(&l1) {
        let g = governed(&l1, proxy);
        assert_eq!(
            g.securityCouncil().call().await.expect("council"),
            addr(COUNCIL),
            "{name}"
        );
        for stranger in [USER, RELAYER] {
            assert_reverts_with::<CommonBridge::CallerCannotPause, _>(
                pause(&l1, stranger, proxy).await,
            );
        }
        assert!(!g.paused().call().await.expect("paused"), "{name}");

        pause(&l1, COUNCIL, proxy)
            .await
            .unwrap_or_else(|e| panic!("the council pauses {name}: {e}"));
        assert!(g.paused().call().await.expect("paused"), "{name}");
        assert_reverts_with::<CommonBridge::OwnableUnauthorizedAccount, _>(
            unpause(&l1, COUNCIL, proxy).await,
        );
        assert_reverts_with::<CommonBridge::OwnableUnauthorizedAccount, _>(
            unpause(&l1, USER, proxy).await,
        );
        assert!(
            g.paused().call().await.expect("paused"),
            "{name} still paused"
        );
        unpause(&l1, OWNER, proxy)
            .await
            .unwrap_or_else(|e| panic!("the owner unpauses {name}: {e}"));
        assert!(!g.paused().call().await.expect("paused"), "{name}");
    }

    // The council changes nothing else: not maxPause, not itself.
    let bridge = l1.bridge();
    for tx in [
        bridge
            .setMaxPause(U256::from(1))
            .from(addr(COUNCIL))
            .into_transaction_request(),
        bridge
            .setSecurityCouncil(addr(RELAYER))
            .from(addr(COUNCIL))
            .into_transaction_request(),
    ] {
        assert_reverts_with::<CommonBridge::OwnableUnauthorizedAccount, _>(l1.send(tx).await);
    }
    assert_eq!(
        bridge.maxPause().call().await.expect("maxPause"),
        U256::from(keel_l1::deploy::DEFAULT_MAX_PAUSE)
    );

    // Without a council (the zero address), only the owner pauses.
    l1.send(
        bridge
            .setSecurityCouncil(Address::ZERO)
            .from(addr(OWNER))
            .into_transaction_request(),
    )
    .await
    .expect("owner removes the council");
    assert_reverts_with::<CommonBridge::CallerCannotPause, _>(
        pause(&l1, COUNCIL, *bridge.address()).await,
    );
}

#[tokio::test]
async fn renounce_ownership_is_disabled_on_all_three_contracts() {
    let l1 = L1::start().await;
    for (name, proxy) in proxies(&l1) {
        let g = governed(&l1, proxy);
        for from in [OWNER, USER] {
            assert_reverts_with::<CommonBridge::RenounceOwnershipDisabled, _>(
                l1.send(call(
                    from,
                    proxy,
                    Governed::renounceOwnershipCall {}.abi_encode(),
                ))
                .await,
            );
        }
        assert_eq!(
            g.owner().call().await.expect("owner"),
            addr(OWNER),
            "{name}"
        );
    }
}

#[tokio::test]
async fn max_pause_is_never_zero() {
    let l1 = L1::start().await;
    let bridge = l1.bridge();
    assert_reverts_with::<CommonBridge::InvalidMaxPause, _>(
        l1.send(
            bridge
                .setMaxPause(U256::ZERO)
                .from(addr(OWNER))
                .into_transaction_request(),
        )
        .await,
    );
    assert_reverts_with::<CommonBridge::OwnableUnauthorizedAccount, _>(
        l1.send(
            bridge
                .setMaxPause(U256::from(100))
                .from(addr(USER))
                .into_transaction_request(),
        )
        .await,
    );
    let default = U256::from(keel_l1::deploy::DEFAULT_MAX_PAUSE);
    assert_eq!(bridge.maxPause().call().await.expect("maxPause"), default);

    let receipt = l1
        .send(
            bridge
                .setMaxPause(U256::from(100))
                .from(addr(OWNER))
                .into_transaction_request(),
        )
        .await
        .expect("setMaxPause");
    let changed: Vec<_> = receipt
        .inner
        .logs()
        .iter()
        .filter_map(|log| log.log_decode::<CommonBridge::MaxPauseChanged>().ok())
        .collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].inner.data.maxPause, U256::from(100));
    assert_eq!(
        bridge.maxPause().call().await.expect("maxPause"),
        U256::from(100)
    );

    // The deployer refuses a zero maxPause before sending anything.
    let mut config = common::test_config();
    config.max_pause = 0;
    let nonce = l1
        .provider
        .get_transaction_count(addr(OWNER))
        .await
        .expect("nonce");
    let err = keel_l1::deploy(
        &l1.provider,
        addr(OWNER),
        &config,
        &l1.dir.path().join("zero.json"),
    )
    .await
    .expect_err("a zero maxPause is refused");
    assert!(format!("{err}").contains("max pause"), "{err}");
    assert_eq!(
        l1.provider
            .get_transaction_count(addr(OWNER))
            .await
            .expect("nonce"),
        nonce
    );
}

// ------------------------------------------------------------------ review negatives

#[tokio::test]
async fn a_paused_bridge_refuses_send_to_l2_erc20_deposits_and_plain_transfers() {
    let l1 = L1::start().await;
    let bridge = l1.bridge();
    let user = addr(USER);
    let token = TestToken::deploy(&l1.provider).await.expect("token");
    l1.send(
        token
            .mint(user, U256::from(100))
            .from(user)
            .into_transaction_request(),
    )
    .await
    .expect("mint");
    l1.send(
        token
            .approve(*bridge.address(), U256::from(100))
            .from(user)
            .into_transaction_request(),
    )
    .await
    .expect("approve");
    pause(&l1, OWNER, *bridge.address()).await.expect("pause");

    let user_eth = l1.balance(user).await;
    let txs = [
        (
            "sendToL2",
            bridge
                .sendToL2(user, U256::from(100_000), U256::ZERO, Bytes::new())
                .from(user)
                .into_transaction_request(),
        ),
        (
            "depositERC20",
            bridge
                .depositERC20(*token.address(), TOKEN_L2, user, U256::from(100))
                .from(user)
                .into_transaction_request(),
        ),
        (
            "receive()",
            TransactionRequest::default()
                .with_from(user)
                .with_to(*bridge.address())
                .with_value(ether(1)),
        ),
    ];
    for (name, tx) in txs {
        let result = l1.send(tx).await;
        assert!(result.is_err(), "{name} while paused");
        assert_reverts_with::<CommonBridge::EnforcedPause, _>(result);
    }
    assert_eq!(transaction_id(&l1).await, U256::ZERO);
    assert_eq!(l1.balance(*bridge.address()).await, U256::ZERO);
    assert_eq!(
        l1.balance(user).await,
        user_eth,
        "refused at estimation, nothing spent"
    );
    assert_eq!(
        token_balance(&l1, *token.address(), user).await,
        U256::from(100)
    );

    // Unpaused, the same calls go through.
    unpause(&l1, OWNER, *bridge.address())
        .await
        .expect("unpause");
    l1.send(
        bridge
            .depositERC20(*token.address(), TOKEN_L2, user, U256::from(100))
            .from(user)
            .into_transaction_request(),
    )
    .await
    .expect("depositERC20 after unpause");
    assert_eq!(transaction_id(&l1).await, U256::from(1));
}

#[tokio::test]
async fn fee_on_transfer_tokens_are_refused() {
    let l1 = L1::start().await;
    let bridge = l1.bridge();
    let user = addr(USER);
    let token = H2FeeToken::deploy(&l1.provider).await.expect("fee token");
    l1.send(
        token
            .mint(user, U256::from(10_000))
            .from(user)
            .into_transaction_request(),
    )
    .await
    .expect("mint");
    l1.send(
        token
            .approve(*bridge.address(), U256::from(1_000))
            .from(user)
            .into_transaction_request(),
    )
    .await
    .expect("approve");

    let result = l1
        .send(
            bridge
                .depositERC20(*token.address(), TOKEN_L2, user, U256::from(1_000))
                .from(user)
                .into_transaction_request(),
        )
        .await;
    assert_reverts_with::<CommonBridge::TransferAmountMismatch, _>(result.clone());
    // The error names the amount asked (1000) and the amount received (990).
    let err = result.expect_err("refused");
    for word in [U256::from(1_000), U256::from(990)] {
        assert!(
            err.contains(&alloy::hex::encode(word.to_be_bytes::<32>())),
            "{word} in {err}"
        );
    }
    let balance = |who: Address| {
        let token = token.clone();
        async move { token.balanceOf(who).call().await.expect("balanceOf") }
    };
    assert_eq!(balance(user).await, U256::from(10_000));
    assert_eq!(balance(*bridge.address()).await, U256::ZERO);
    assert_eq!(
        bridge
            .deposits(*token.address(), TOKEN_L2)
            .call()
            .await
            .expect("deposits"),
        U256::ZERO
    );
    assert_eq!(transaction_id(&l1).await, U256::ZERO);
}

#[tokio::test]
async fn a_claimant_that_reenters_from_its_receive_hook_gets_nothing() {
    let l1 = L1::start().await;
    fund_bridge(&l1, ether(10)).await;
    let claimant = H2ReentrantClaimant::deploy(&l1.provider)
        .await
        .expect("claimant");
    let who = *claimant.address();
    let bridge = *l1.bridge().address();
    let tree = Tree::new(vec![Msg::eth(who, ether(1), 1), Msg::eth(who, ether(2), 2)]);
    commit_and_verify(&l1, &[&tree]).await;

    let claim_call = |index: usize| {
        let m = tree.msgs[index];
        CommonBridge::claimWithdrawalCall {
            amount: m.amount,
            batchNumber: U256::from(1),
            messageId: m.id,
            proof: tree.proof(index),
        }
        .abi_encode()
    };
    // When paid for message 1, the claimant claims message 2 from its receive().
    l1.send(
        claimant
            .arm(bridge, claim_call(1).into())
            .from(addr(USER))
            .into_transaction_request(),
    )
    .await
    .expect("arm");
    let bridge_before = l1.balance(bridge).await;
    let claim_first = || {
        claimant
            .execute(bridge, claim_call(0).into())
            .from(addr(USER))
            .into_transaction_request()
    };
    // The inner claim hits the reentrancy guard, the claimant's receive() reverts, and the bridge
    // reports the failed payout.
    assert_reverts_with::<CommonBridge::EthTransferFailed, _>(l1.send(claim_first()).await);
    // The same through claimWithdrawalFor by a third party.
    assert_reverts_with::<CommonBridge::EthTransferFailed, _>(
        l1.send(claim_eth_for(&l1, addr(RELAYER), who, &tree, 0, 1))
            .await,
    );
    assert_eq!(l1.balance(bridge).await, bridge_before, "nothing paid");
    assert_eq!(l1.balance(who).await, U256::ZERO);
    for m in &tree.msgs {
        assert!(!claimed(&l1, m).await, "message {} not claimed", m.id);
    }

    // Disarmed, both messages are claimable one at a time: they were genuine.
    l1.send(
        claimant
            .arm(Address::ZERO, Bytes::new())
            .from(addr(USER))
            .into_transaction_request(),
    )
    .await
    .expect("disarm");
    l1.send(claim_first()).await.expect("first claim");
    l1.send(
        claimant
            .execute(bridge, claim_call(1).into())
            .from(addr(USER))
            .into_transaction_request(),
    )
    .await
    .expect("second claim");
    assert_eq!(l1.balance(who).await, ether(3));
    assert_eq!(l1.balance(bridge).await, bridge_before - ether(3));
}

#[tokio::test]
async fn a_token_that_reenters_the_bridge_from_transfer_moves_nothing() {
    let l1 = L1::start().await;
    let bridge = l1.bridge();
    let bridge_address = *bridge.address();
    let user = addr(USER);
    let token = H2HookToken::deploy(&l1.provider).await.expect("hook token");
    let token_address = *token.address();
    l1.send(
        token
            .mint(user, U256::from(5_000))
            .from(user)
            .into_transaction_request(),
    )
    .await
    .expect("mint");
    l1.send(
        token
            .approve(bridge_address, U256::from(5_000))
            .from(user)
            .into_transaction_request(),
    )
    .await
    .expect("approve");
    let deposit = |amount: u64| {
        bridge
            .depositERC20(token_address, TOKEN_L2, user, U256::from(amount))
            .from(user)
            .into_transaction_request()
    };
    l1.send(deposit(1_000)).await.expect("unarmed deposit");
    let arm = |target: Address, data: Vec<u8>| {
        token
            .arm(target, data.into())
            .from(user)
            .into_transaction_request()
    };
    let balance = |who: Address| {
        let token = token.clone();
        async move { token.balanceOf(who).call().await.expect("balanceOf") }
    };

    // depositERC20 whose transferFrom calls depositERC20 again.
    let inner = CommonBridge::depositERC20Call {
        tokenL1: token_address,
        tokenL2: TOKEN_L2,
        destination: user,
        amount: U256::from(100),
    };
    l1.send(arm(bridge_address, inner.abi_encode()))
        .await
        .expect("arm");
    let id = transaction_id(&l1).await;
    assert_reverts_with::<CommonBridge::ReentrancyGuardReentrantCall, _>(
        l1.send(deposit(500)).await,
    );
    assert_eq!(balance(user).await, U256::from(4_000));
    assert_eq!(balance(bridge_address).await, U256::from(1_000));
    assert_eq!(provenance(&l1, token_address).await, U256::from(1_000));
    assert_eq!(transaction_id(&l1).await, id, "nothing queued");

    // claimWithdrawalERC20 whose transfer claims another message for the same receiver.
    l1.send(arm(Address::ZERO, vec![])).await.expect("disarm");
    let tree = Tree::new(vec![
        Msg::erc20(token_address, user, 300, 1),
        Msg::erc20(token_address, user, 200, 2),
    ]);
    commit_and_verify(&l1, &[&tree]).await;
    l1.send(arm(
        bridge_address,
        claim_erc20_for_call(user, &tree, 1).abi_encode(),
    ))
    .await
    .expect("arm");
    assert_reverts_with::<CommonBridge::ReentrancyGuardReentrantCall, _>(
        l1.send(claim_erc20(&l1, user, &tree, 0)).await,
    );
    assert_eq!(balance(user).await, U256::from(4_000));
    assert_eq!(balance(bridge_address).await, U256::from(1_000));
    assert_eq!(provenance(&l1, token_address).await, U256::from(1_000));
    for m in &tree.msgs {
        assert!(!claimed(&l1, m).await, "message {} not claimed", m.id);
    }

    // Disarmed, both claims go through one at a time.
    l1.send(arm(Address::ZERO, vec![])).await.expect("disarm");
    l1.send(claim_erc20(&l1, user, &tree, 0))
        .await
        .expect("first claim");
    l1.send(claim_erc20(&l1, user, &tree, 1))
        .await
        .expect("second claim");
    assert_eq!(balance(user).await, U256::from(4_500));
    assert_eq!(provenance(&l1, token_address).await, U256::from(500));
}

#[tokio::test]
async fn one_message_id_in_two_verified_batches_is_paid_once() {
    let l1 = L1::start().await;
    fund_bridge(&l1, ether(10)).await;
    let user = addr(USER);
    // Message id 7 in batch 1 (1 ETH) and again in batch 2 (the same, and a larger amount).
    let first = Tree::new(vec![
        Msg::eth(user, ether(1), 7),
        Msg::eth(user, ether(1), 8),
    ]);
    let second = Tree::new(vec![
        Msg::eth(user, ether(1), 7),
        Msg::eth(user, ether(3), 7),
    ]);
    commit_and_verify(&l1, &[&first, &second]).await;
    let bridge = *l1.bridge().address();
    let bridge_before = l1.balance(bridge).await;

    l1.send(claim_eth(&l1, user, &first, 0, 1))
        .await
        .expect("claim from batch 1");
    for index in [0, 1] {
        assert_reverts_with::<CommonBridge::AlreadyClaimed, _>(
            l1.send(claim_eth(&l1, user, &second, index, 2)).await,
        );
        assert_reverts_with::<CommonBridge::AlreadyClaimed, _>(
            l1.send(claim_eth_for(&l1, addr(RELAYER), user, &second, index, 2))
                .await,
        );
    }
    assert_eq!(
        l1.balance(bridge).await,
        bridge_before - ether(1),
        "paid once"
    );
    // Another id of batch 1 is still claimable.
    l1.send(claim_eth(&l1, user, &first, 1, 1))
        .await
        .expect("message 8");
    assert_eq!(l1.balance(bridge).await, bridge_before - ether(2));
}
