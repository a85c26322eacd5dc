//! Withdrawal claims on a real anvil: a batch's withdrawals tree is built in Rust with
//! `keel_types`, committed with batch 1 and verified with attestations; then the bridge pays ETH
//! and ERC20 withdrawals exactly once, to the receiver in the leaf, within the token provenance,
//! and only from verified batches while it is not paused.

mod common;

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    rpc::types::TransactionReceipt,
};
use common::{
    Batch, L1, OWNER, SEQUENCER, SIGNERS, USER, addr, assert_reverts_with, blob_versioned_hash,
    ether,
};
use keel_l1::contracts::{CommonBridge, test::TestToken};
use keel_types::{L1Message, verify_withdrawal_proof, withdrawal_proof, withdrawals_root};

const BLOB: &[u8] = b"state diff of the batch with withdrawals";

/// The pseudo-address of ETH in withdrawal messages.
const ETH: Address = alloy::primitives::address!("0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE");

/// The L2 token the test token is bridged into (only its address matters on L1).
const TOKEN_L2: Address = Address::repeat_byte(0x77);

/// Another receiver of withdrawals.
const OTHER: usize = 6;

/// Someone else who deposits.
const DEPOSITOR: usize = 7;

/// ETH the user deposits into the bridge.
const ETH_DEPOSIT: u64 = 10;

/// Tokens the user deposits (the provenance of the pair).
const TOKEN_DEPOSIT: u64 = 1_000;

/// Tokens minted to the user.
const TOKEN_MINTED: u64 = 5_000;

/// What a withdrawal pays.
#[derive(Debug, Clone, Copy)]
enum Asset {
    Eth,
    Erc20 {
        token_l1: Address,
        token_l2: Address,
    },
}

/// One L2 → L1 withdrawal message of the batch.
#[derive(Debug, Clone, Copy)]
struct Withdrawal {
    asset: Asset,
    receiver: usize,
    amount: U256,
    message_id: U256,
}

impl Withdrawal {
    /// The message data: `keccak256(tokenL1 ‖ tokenL2 ‖ receiver ‖ amount)` (ETH, ETH for ETH).
    fn data(&self) -> B256 {
        let (l1, l2) = match self.asset {
            Asset::Eth => (ETH, ETH),
            Asset::Erc20 { token_l1, token_l2 } => (token_l1, token_l2),
        };
        message_data(l1, l2, addr(self.receiver), self.amount)
    }

    fn leaf(&self) -> B256 {
        L1Message {
            sender_on_l2: keel_types::rules::L2_BRIDGE_ADDRESS,
            data: self.data(),
            message_id: self.message_id,
        }
        .leaf()
    }
}

fn message_data(token_l1: Address, token_l2: Address, receiver: Address, amount: U256) -> B256 {
    keccak256(
        [
            token_l1.as_slice(),
            token_l2.as_slice(),
            receiver.as_slice(),
            &amount.to_be_bytes::<32>(),
        ]
        .concat(),
    )
}

// Indices of the withdrawals in the batch (also their order in the tree).
const ETH_TO_USER: usize = 0;
const ERC20_TO_USER: usize = 1;
const ETH_TO_OTHER: usize = 2;
const ERC20_BEYOND_PROVENANCE: usize = 3;
const ETH_BEYOND_BALANCE: usize = 4;

/// An anvil whose bridge holds an ETH deposit and a TestToken deposit, with batch 1 committed
/// (not verified) carrying the withdrawals root of `withdrawals`.
struct Fixture {
    l1: L1,
    token: Address,
    withdrawals: Vec<Withdrawal>,
    leaves: Vec<B256>,
    root: B256,
    batch: Batch,
}

impl Fixture {
    async fn start() -> Self {
        let l1 = L1::start().await;
        let bridge = l1.bridge();
        let user = addr(USER);

        // ETH held by the bridge.
        let tx = bridge
            .deposit(user)
            .value(ether(ETH_DEPOSIT))
            .from(user)
            .into_transaction_request();
        l1.send(tx).await.expect("ETH deposit");

        // Token provenance: mint, approve, deposit.
        let token = *TestToken::deploy(&l1.provider)
            .await
            .expect("token deployed")
            .address();
        deposit_tokens(&l1, token, USER, TOKEN_MINTED, TOKEN_DEPOSIT).await;
        assert_eq!(
            bridge
                .deposits(token, TOKEN_L2)
                .call()
                .await
                .expect("deposits"),
            U256::from(TOKEN_DEPOSIT)
        );

        let erc20 = Asset::Erc20 {
            token_l1: token,
            token_l2: TOKEN_L2,
        };
        let withdrawals = vec![
            Withdrawal {
                asset: Asset::Eth,
                receiver: USER,
                amount: ether(2),
                message_id: U256::from(1),
            },
            Withdrawal {
                asset: erc20,
                receiver: USER,
                amount: U256::from(400),
                message_id: U256::from(2),
            },
            Withdrawal {
                asset: Asset::Eth,
                receiver: OTHER,
                amount: ether(1),
                message_id: U256::from(3),
            },
            Withdrawal {
                asset: erc20,
                receiver: USER,
                amount: U256::from(TOKEN_MINTED),
                message_id: U256::from(4),
            },
            Withdrawal {
                asset: Asset::Eth,
                receiver: USER,
                amount: ether(100),
                message_id: U256::from(5),
            },
        ];
        let leaves: Vec<B256> = withdrawals.iter().map(Withdrawal::leaf).collect();
        let root = withdrawals_root(&leaves);
        // The contract derives the same leaves from the message data.
        for w in &withdrawals {
            assert_eq!(
                bridge
                    .messageLeaf(w.data(), w.message_id)
                    .call()
                    .await
                    .expect("messageLeaf"),
                w.leaf()
            );
        }

        let mut batch = Batch::simple(1);
        batch.withdrawals_root = root;
        l1.commit(SEQUENCER, &batch, Some(BLOB))
            .await
            .expect("batch 1 committed");
        assert_eq!(
            bridge
                .withdrawalsRoots(U256::from(1))
                .call()
                .await
                .expect("root"),
            root,
            "the commit published the withdrawals root"
        );

        Self {
            l1,
            token,
            withdrawals,
            leaves,
            root,
            batch,
        }
    }

    /// Verifies batch 1 with two of the three signers.
    async fn verify(&self) {
        let inputs = self
            .batch
            .public_inputs(self.l1.genesis(), blob_versioned_hash(BLOB));
        self.l1
            .verify(
                1,
                vec![vec![self.l1.attest(&inputs, &[SIGNERS[0], SIGNERS[2]])]],
            )
            .await
            .expect("batch 1 verified");
    }

    fn proof(&self, index: usize) -> Vec<B256> {
        withdrawal_proof(&self.leaves, index).expect("proof")
    }

    /// `claimWithdrawal` from `from` with the given fields.
    async fn claim_eth(
        &self,
        from: usize,
        amount: U256,
        batch: u64,
        message_id: U256,
        proof: Vec<B256>,
    ) -> Result<TransactionReceipt, String> {
        let tx = self
            .l1
            .bridge()
            .claimWithdrawal(amount, U256::from(batch), message_id, proof)
            .from(addr(from))
            .into_transaction_request();
        self.l1.send(tx).await
    }

    /// `claimWithdrawal` of withdrawal `index` exactly as it is in the tree, from its receiver.
    async fn claim_eth_of(&self, index: usize) -> Result<TransactionReceipt, String> {
        let w = self.withdrawals[index];
        assert!(matches!(w.asset, Asset::Eth));
        self.claim_eth(w.receiver, w.amount, 1, w.message_id, self.proof(index))
            .await
    }

    /// `claimWithdrawalERC20` from `from` with the given fields.
    #[allow(clippy::too_many_arguments)]
    async fn claim_erc20(
        &self,
        from: usize,
        token_l1: Address,
        token_l2: Address,
        amount: U256,
        batch: u64,
        message_id: U256,
        proof: Vec<B256>,
    ) -> Result<TransactionReceipt, String> {
        let tx = self
            .l1
            .bridge()
            .claimWithdrawalERC20(
                token_l1,
                token_l2,
                amount,
                U256::from(batch),
                message_id,
                proof,
            )
            .from(addr(from))
            .into_transaction_request();
        self.l1.send(tx).await
    }

    /// `claimWithdrawalERC20` of withdrawal `index` exactly as it is in the tree.
    async fn claim_erc20_of(&self, index: usize) -> Result<TransactionReceipt, String> {
        let w = self.withdrawals[index];
        let Asset::Erc20 { token_l1, token_l2 } = w.asset else {
            panic!("withdrawal {index} is not an ERC20 one");
        };
        self.claim_erc20(
            w.receiver,
            token_l1,
            token_l2,
            w.amount,
            1,
            w.message_id,
            self.proof(index),
        )
        .await
    }

    async fn claimed(&self, index: usize) -> bool {
        self.l1
            .bridge()
            .claimedMessages(self.withdrawals[index].message_id)
            .call()
            .await
            .expect("claimedMessages")
    }

    async fn token_balance(&self, who: Address) -> U256 {
        TestToken::new(self.token, &self.l1.provider)
            .balanceOf(who)
            .call()
            .await
            .expect("balanceOf")
    }

    async fn provenance(&self) -> U256 {
        self.l1
            .bridge()
            .deposits(self.token, TOKEN_L2)
            .call()
            .await
            .expect("deposits")
    }

    fn bridge_address(&self) -> Address {
        self.l1.deployment.contracts.common_bridge.proxy
    }
}

/// Mints `minted` tokens to `who`, approves the bridge and deposits `deposited` of them to
/// `TOKEN_L2`.
async fn deposit_tokens(l1: &L1, token: Address, who: usize, minted: u64, deposited: u64) {
    let token = TestToken::new(token, &l1.provider);
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
}

/// What the sender of `receipt` paid for gas.
fn gas_cost(receipt: &TransactionReceipt) -> U256 {
    U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price)
}

#[tokio::test]
async fn claims_wait_for_the_batch_to_be_verified() {
    let f = Fixture::start().await;
    let bridge_before = f.l1.balance(f.bridge_address()).await;

    assert_reverts_with::<CommonBridge::BatchNotVerified, _>(f.claim_eth_of(ETH_TO_USER).await);
    assert_reverts_with::<CommonBridge::BatchNotVerified, _>(f.claim_erc20_of(ERC20_TO_USER).await);
    assert_eq!(f.l1.balance(f.bridge_address()).await, bridge_before);
    assert_eq!(
        f.token_balance(f.bridge_address()).await,
        U256::from(TOKEN_DEPOSIT)
    );
    assert!(!f.claimed(ETH_TO_USER).await && !f.claimed(ERC20_TO_USER).await);

    f.verify().await;
    f.claim_eth_of(ETH_TO_USER)
        .await
        .expect("claimable once batch 1 is verified");
    f.claim_erc20_of(ERC20_TO_USER)
        .await
        .expect("ERC20 claimable once batch 1 is verified");

    // Batch 2 is neither committed nor verified: the same proof against it is refused.
    let w = f.withdrawals[ETH_TO_OTHER];
    assert_reverts_with::<CommonBridge::BatchNotVerified, _>(
        f.claim_eth(w.receiver, w.amount, 2, w.message_id, f.proof(ETH_TO_OTHER))
            .await,
    );
}

#[tokio::test]
async fn eth_claim_pays_the_receiver_exactly_once() {
    let f = Fixture::start().await;
    f.verify().await;
    let user = addr(USER);
    let w = f.withdrawals[ETH_TO_USER];
    let user_before = f.l1.balance(user).await;
    let bridge_before = f.l1.balance(f.bridge_address()).await;
    assert_eq!(bridge_before, ether(ETH_DEPOSIT));

    let receipt = f.claim_eth_of(ETH_TO_USER).await.expect("claim");
    assert_eq!(
        f.l1.balance(user).await,
        user_before + w.amount - gas_cost(&receipt),
        "the receiver got exactly the amount (minus its gas)"
    );
    assert_eq!(
        f.l1.balance(f.bridge_address()).await,
        bridge_before - w.amount
    );
    let events: Vec<_> = receipt
        .inner
        .logs()
        .iter()
        .filter_map(|log| log.log_decode::<CommonBridge::WithdrawalClaimed>().ok())
        .collect();
    assert_eq!(events.len(), 1, "one WithdrawalClaimed");
    let e = &events[0].inner.data;
    assert_eq!(e.receiver, user);
    assert_eq!(e.batchNumber, U256::from(1));
    assert_eq!(e.messageId, w.message_id);
    assert_eq!(e.amount, w.amount);
    assert!(f.claimed(ETH_TO_USER).await);
    assert!(
        !f.claimed(ETH_TO_OTHER).await,
        "only that message is claimed"
    );

    // The same message again.
    let before_second = f.l1.balance(f.bridge_address()).await;
    assert_reverts_with::<CommonBridge::AlreadyClaimed, _>(f.claim_eth_of(ETH_TO_USER).await);
    assert_eq!(f.l1.balance(f.bridge_address()).await, before_second);

    // Another receiver in the same tree claims its own.
    let o = f.withdrawals[ETH_TO_OTHER];
    let other_before = f.l1.balance(addr(OTHER)).await;
    let receipt = f.claim_eth_of(ETH_TO_OTHER).await.expect("other's claim");
    assert_eq!(
        f.l1.balance(addr(OTHER)).await,
        other_before + o.amount - gas_cost(&receipt)
    );
    assert_eq!(
        f.l1.balance(f.bridge_address()).await,
        bridge_before - w.amount - o.amount
    );
    assert_reverts_with::<CommonBridge::AlreadyClaimed, _>(f.claim_eth_of(ETH_TO_OTHER).await);
}

#[tokio::test]
async fn eth_claim_beyond_the_bridge_balance_fails_and_stays_claimable() {
    let f = Fixture::start().await;
    f.verify().await;
    let w = f.withdrawals[ETH_BEYOND_BALANCE];
    assert!(f.l1.balance(f.bridge_address()).await < w.amount);

    assert_reverts_with::<CommonBridge::EthTransferFailed, _>(
        f.claim_eth_of(ETH_BEYOND_BALANCE).await,
    );
    assert!(
        !f.claimed(ETH_BEYOND_BALANCE).await,
        "a failed payout is not a claim"
    );

    // Once the bridge holds enough (another deposit), the same claim goes through.
    let tx =
        f.l1.bridge()
            .deposit(addr(DEPOSITOR))
            .value(ether(100))
            .from(addr(DEPOSITOR))
            .into_transaction_request();
    f.l1.send(tx).await.expect("deposit");
    let before = f.l1.balance(addr(USER)).await;
    let receipt = f
        .claim_eth_of(ETH_BEYOND_BALANCE)
        .await
        .expect("claim after the deposit");
    assert_eq!(
        f.l1.balance(addr(USER)).await,
        before + w.amount - gas_cost(&receipt)
    );
    assert!(f.claimed(ETH_BEYOND_BALANCE).await);
}

#[tokio::test]
async fn bad_proofs_and_wrong_claimants_are_rejected() {
    let f = Fixture::start().await;
    f.verify().await;
    let w = f.withdrawals[ETH_TO_USER];
    let proof = f.proof(ETH_TO_USER);
    let bridge_before = f.l1.balance(f.bridge_address()).await;

    // Another leaf's proof.
    assert_reverts_with::<CommonBridge::InvalidProof, _>(
        f.claim_eth(USER, w.amount, 1, w.message_id, f.proof(ETH_TO_OTHER))
            .await,
    );
    // A wrong amount, more or less.
    assert_reverts_with::<CommonBridge::InvalidProof, _>(
        f.claim_eth(
            USER,
            w.amount + U256::from(1),
            1,
            w.message_id,
            proof.clone(),
        )
        .await,
    );
    assert_reverts_with::<CommonBridge::InvalidProof, _>(
        f.claim_eth(
            USER,
            w.amount - U256::from(1),
            1,
            w.message_id,
            proof.clone(),
        )
        .await,
    );
    // A wrong message id (another one of the tree, and one that is not in it).
    assert_reverts_with::<CommonBridge::InvalidProof, _>(
        f.claim_eth(USER, w.amount, 1, U256::from(3), proof.clone())
            .await,
    );
    assert_reverts_with::<CommonBridge::InvalidProof, _>(
        f.claim_eth(USER, w.amount, 1, U256::from(99), proof.clone())
            .await,
    );
    // An empty proof, and a proof with one sibling altered.
    assert_reverts_with::<CommonBridge::InvalidProof, _>(
        f.claim_eth(USER, w.amount, 1, w.message_id, vec![]).await,
    );
    let mut altered = proof.clone();
    altered[0].0[0] ^= 1;
    assert_reverts_with::<CommonBridge::InvalidProof, _>(
        f.claim_eth(USER, w.amount, 1, w.message_id, altered).await,
    );
    // Someone who is not the receiver, with the receiver's exact fields and proof (the leaf is
    // rebuilt with msg.sender, so it is not in the tree).
    assert_reverts_with::<CommonBridge::InvalidProof, _>(
        f.claim_eth(OTHER, w.amount, 1, w.message_id, proof.clone())
            .await,
    );
    let o = f.withdrawals[ETH_TO_OTHER];
    assert_reverts_with::<CommonBridge::InvalidProof, _>(
        f.claim_eth(USER, o.amount, 1, o.message_id, f.proof(ETH_TO_OTHER))
            .await,
    );
    // An ERC20 message claimed as ETH.
    let t = f.withdrawals[ERC20_TO_USER];
    assert_reverts_with::<CommonBridge::InvalidProof, _>(
        f.claim_eth(USER, t.amount, 1, t.message_id, f.proof(ERC20_TO_USER))
            .await,
    );
    // The ERC20 message with the wrong L2 token, the tokens swapped, or claimed by someone else.
    assert_reverts_with::<CommonBridge::InvalidProof, _>(
        f.claim_erc20(
            USER,
            f.token,
            Address::repeat_byte(0x78),
            t.amount,
            1,
            t.message_id,
            f.proof(ERC20_TO_USER),
        )
        .await,
    );
    assert_reverts_with::<CommonBridge::InvalidProof, _>(
        f.claim_erc20(
            USER,
            TOKEN_L2,
            f.token,
            t.amount,
            1,
            t.message_id,
            f.proof(ERC20_TO_USER),
        )
        .await,
    );
    assert_reverts_with::<CommonBridge::InvalidProof, _>(
        f.claim_erc20(
            OTHER,
            f.token,
            TOKEN_L2,
            t.amount,
            1,
            t.message_id,
            f.proof(ERC20_TO_USER),
        )
        .await,
    );
    // The ETH message through the ERC20 path as the (ETH, ETH) pair: its leaf is the same, so
    // the proof is valid, but that pair has no provenance, so the ERC20 path pays nothing.
    assert_reverts_with::<CommonBridge::InsufficientProvenance, _>(
        f.claim_erc20(USER, ETH, ETH, w.amount, 1, w.message_id, proof.clone())
            .await,
    );
    // The right proof against the genesis batch, which has no withdrawals.
    assert_reverts_with::<CommonBridge::NoWithdrawals, _>(
        f.claim_eth(USER, w.amount, 0, w.message_id, proof.clone())
            .await,
    );

    // Nothing was paid or marked.
    assert_eq!(f.l1.balance(f.bridge_address()).await, bridge_before);
    assert_eq!(
        f.token_balance(f.bridge_address()).await,
        U256::from(TOKEN_DEPOSIT)
    );
    for i in 0..f.withdrawals.len() {
        assert!(!f.claimed(i).await, "message {i} not claimed");
    }
    // The genuine claims still work.
    f.claim_eth_of(ETH_TO_USER).await.expect("genuine claim");
    f.claim_erc20_of(ERC20_TO_USER)
        .await
        .expect("genuine ERC20 claim");
}

#[tokio::test]
async fn erc20_claim_transfers_tokens_within_the_provenance() {
    let f = Fixture::start().await;
    f.verify().await;
    let user = addr(USER);
    let bridge = f.bridge_address();
    let t = f.withdrawals[ERC20_TO_USER];
    let user_before = f.token_balance(user).await;
    assert_eq!(user_before, U256::from(TOKEN_MINTED - TOKEN_DEPOSIT));

    let receipt = f.claim_erc20_of(ERC20_TO_USER).await.expect("ERC20 claim");
    assert_eq!(f.token_balance(user).await, user_before + t.amount);
    assert_eq!(
        f.token_balance(bridge).await,
        U256::from(TOKEN_DEPOSIT) - t.amount
    );
    assert_eq!(
        f.provenance().await,
        U256::from(TOKEN_DEPOSIT) - t.amount,
        "the claim reduced deposits[tokenL1][tokenL2]"
    );
    let events: Vec<_> = receipt
        .inner
        .logs()
        .iter()
        .filter_map(|log| {
            log.log_decode::<CommonBridge::ERC20WithdrawalClaimed>()
                .ok()
        })
        .collect();
    assert_eq!(events.len(), 1, "one ERC20WithdrawalClaimed");
    let e = &events[0].inner.data;
    assert_eq!(
        (e.tokenL1, e.tokenL2, e.receiver),
        (f.token, TOKEN_L2, user)
    );
    assert_eq!(
        (e.messageId, e.batchNumber, e.amount),
        (t.message_id, U256::from(1), t.amount)
    );
    assert!(f.claimed(ERC20_TO_USER).await);
    assert_reverts_with::<CommonBridge::AlreadyClaimed, _>(f.claim_erc20_of(ERC20_TO_USER).await);
    assert_eq!(f.token_balance(user).await, user_before + t.amount);

    // More than the pair's provenance: refused although the proof is valid.
    let big = f.withdrawals[ERC20_BEYOND_PROVENANCE];
    assert!(verify_withdrawal_proof(
        &f.proof(ERC20_BEYOND_PROVENANCE),
        f.root,
        big.leaf()
    ));
    assert!(f.provenance().await < big.amount);
    let err = f.claim_erc20_of(ERC20_BEYOND_PROVENANCE).await;
    assert_reverts_with::<CommonBridge::InsufficientProvenance, _>(err.clone());
    // The error carries the available provenance and the amount.
    let available = U256::from(TOKEN_DEPOSIT) - t.amount;
    let err = err.expect_err("refused");
    for word in [available, big.amount] {
        assert!(
            err.contains(&alloy::hex::encode(word.to_be_bytes::<32>())),
            "{word} in {err}"
        );
    }
    assert!(!f.claimed(ERC20_BEYOND_PROVENANCE).await);
    assert_eq!(f.provenance().await, available);

    // Another deposit of the pair raises the provenance to exactly the amount: now it pays.
    let needed: u64 = (big.amount - available).to();
    deposit_tokens(&f.l1, f.token, DEPOSITOR, needed, needed).await;
    assert_eq!(f.provenance().await, big.amount);
    let before = f.token_balance(user).await;
    f.claim_erc20_of(ERC20_BEYOND_PROVENANCE)
        .await
        .expect("claim within the raised provenance");
    assert_eq!(f.token_balance(user).await, before + big.amount);
    assert_eq!(f.provenance().await, U256::ZERO);
    assert_eq!(f.token_balance(bridge).await, U256::ZERO);
}

#[tokio::test]
async fn claims_are_refused_while_the_bridge_is_paused() {
    let f = Fixture::start().await;
    f.verify().await;
    let pause =
        f.l1.bridge()
            .pause()
            .from(addr(OWNER))
            .into_transaction_request();
    f.l1.send(pause).await.expect("owner pauses the bridge");
    assert!(f.l1.bridge().paused().call().await.expect("paused"));

    // A pause younger than `maxPause` (seven days by default) stops claims with `ClaimsPaused`
    // (hardening_bridge.rs tests what happens after `maxPause`).
    assert!(!f.l1.bridge().claimsOpen().call().await.expect("claimsOpen"));
    assert_reverts_with::<CommonBridge::ClaimsPaused, _>(f.claim_eth_of(ETH_TO_USER).await);
    assert_reverts_with::<CommonBridge::ClaimsPaused, _>(f.claim_erc20_of(ERC20_TO_USER).await);
    assert!(!f.claimed(ETH_TO_USER).await && !f.claimed(ERC20_TO_USER).await);

    let unpause =
        f.l1.bridge()
            .unpause()
            .from(addr(OWNER))
            .into_transaction_request();
    f.l1.send(unpause).await.expect("owner unpauses the bridge");
    f.claim_eth_of(ETH_TO_USER)
        .await
        .expect("claim after unpause");
    f.claim_erc20_of(ERC20_TO_USER)
        .await
        .expect("ERC20 claim after unpause");
    assert!(f.claimed(ETH_TO_USER).await && f.claimed(ERC20_TO_USER).await);
}

#[tokio::test]
async fn a_batch_without_withdrawals_has_nothing_to_claim() {
    let l1 = L1::start().await;
    let user = addr(USER);
    let tx = l1
        .bridge()
        .deposit(user)
        .value(ether(5))
        .from(user)
        .into_transaction_request();
    l1.send(tx).await.expect("deposit");

    // Batch 1 has no withdrawals (root zero); batch 2 has one (root = its leaf).
    let amount = ether(1);
    let message_id = U256::from(1);
    let leaf = L1Message {
        sender_on_l2: keel_types::rules::L2_BRIDGE_ADDRESS,
        data: message_data(ETH, ETH, user, amount),
        message_id,
    }
    .leaf();
    let first = Batch::simple(1);
    let mut second = Batch::simple(2);
    second.withdrawals_root = withdrawals_root(&[leaf]);
    assert_eq!(second.withdrawals_root, leaf, "one leaf is its own root");
    for batch in [&first, &second] {
        l1.commit(SEQUENCER, batch, Some(BLOB))
            .await
            .expect("commit");
    }
    let blob = blob_versioned_hash(BLOB);
    let inputs1 = first.public_inputs(l1.genesis(), blob);
    let inputs2 = second.public_inputs(first.as_previous(), blob);
    l1.verify(
        1,
        vec![
            vec![l1.attest(&inputs1, &[SIGNERS[0], SIGNERS[1]])],
            vec![l1.attest(&inputs2, &[SIGNERS[1], SIGNERS[2]])],
        ],
    )
    .await
    .expect("batches 1 and 2 verified");
    assert_eq!(
        l1.bridge()
            .withdrawalsRoots(U256::from(1))
            .call()
            .await
            .expect("root"),
        B256::ZERO
    );

    let claim = |batch: u64| {
        l1.bridge()
            .claimWithdrawal(amount, U256::from(batch), message_id, vec![])
            .from(user)
            .into_transaction_request()
    };
    assert_reverts_with::<CommonBridge::NoWithdrawals, _>(l1.send(claim(1)).await);
    let erc20 = l1
        .bridge()
        .claimWithdrawalERC20(
            Address::repeat_byte(0x11),
            TOKEN_L2,
            amount,
            U256::from(1),
            message_id,
            vec![],
        )
        .from(user)
        .into_transaction_request();
    assert_reverts_with::<CommonBridge::NoWithdrawals, _>(l1.send(erc20).await);
    assert!(
        !l1.bridge()
            .claimedMessages(message_id)
            .call()
            .await
            .expect("claimed")
    );

    // The same claim against batch 2, which holds the message, pays.
    let before = l1.balance(user).await;
    let receipt = l1.send(claim(2)).await.expect("claim from batch 2");
    assert_eq!(l1.balance(user).await, before + amount - gas_cost(&receipt));
    assert_reverts_with::<CommonBridge::NoWithdrawals, _>(l1.send(claim(1)).await);
}
