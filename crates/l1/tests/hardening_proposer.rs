//! Issue 12 hardening of the OnChainProposer, the bridge's privileged queue and the
//! AttestationVerifier, on a real anvil:
//!
//! - forced inclusion is judged against the last block timestamp the batch commits to, so a sealed
//!   batch never becomes uncommittable because time passed (the old contracts judged against
//!   `block.timestamp` and froze the chain), while a batch whose last block is after a deadline
//!   must still include the expired privileged tx; bounds on that timestamp; the lower bound on
//!   `inclusionMaxWait` (setter, initializer, deployer); `extendDeadlines`;
//! - attestations bound to their domain (L1 chain id, OnChainProposer, batch number) and public
//!   inputs that Rust and Solidity define the same way;
//! - the negatives the review listed (who may touch the queue and withdrawal roots, signer
//!   removal below the threshold, malleable and malformed signatures, empty or zero verifier sets,
//!   a verifier that returns false).
//!
//! Test contracts: `contracts/test/H1FalseVerifier.sol`.

mod common;

use std::path::Path;

use alloy::{
    eips::{
        BlockNumberOrTag,
        eip4844::builder::{SidecarBuilder, SimpleCoder},
    },
    network::{TransactionBuilder, TransactionBuilder4844},
    primitives::{Address, B256, Bytes, U256, hex, keccak256},
    providers::Provider,
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::SignerSync,
    sol_types::{SolCall, SolError},
};
use common::{
    Batch, INCLUSION_MAX_WAIT, L1, OWNER, SEQUENCER, SIGNERS, USER, addr, assert_reverts_with,
    attest_for, blob_versioned_hash, ether, signer, test_config,
};
use keel_l1::{
    DeployError, Deployment,
    contracts::{AttestationVerifier, CommonBridge, KeelProxy, OnChainProposer},
    deploy,
};
use keel_types::{PUBLIC_INPUTS_LEN, PublicInputs, dev, privileged_rolling_hash};

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    H1FalseVerifier,
    "../../contracts/artifacts/H1FalseVerifier.json"
);

const BLOB: &[u8] = b"state diff of the batch";

/// The secp256k1 group order.
const SECP256K1_N: [u8; 32] =
    hex!("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");

// ------------------------------------------------------------------ helpers

/// Asserts that `result` failed with exactly `error` (selector and arguments in the revert data).
#[track_caller]
fn assert_reverts_exactly<E: SolError, T: std::fmt::Debug>(result: Result<T, String>, error: E) {
    let err = result.expect_err(&format!("expected a revert with {}", E::SIGNATURE));
    let data = alloy::hex::encode(error.abi_encode());
    assert!(
        err.contains(&data),
        "expected {} with data 0x{data}, got: {err}",
        E::SIGNATURE
    );
}

/// The timestamp of L1's latest block.
async fn l1_now(l1: &L1) -> u64 {
    l1.provider
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .expect("latest block")
        .expect("a latest block")
        .header
        .timestamp
}

/// The inclusion deadline of privileged tx `id`.
async fn deadline_of(l1: &L1, id: u64) -> u64 {
    l1.bridge()
        .privilegedTxDeadlines(U256::from(id))
        .call()
        .await
        .expect("deadline")
        .to()
}

/// One ETH deposit from the user; returns its privileged tx hash and its receipt.
async fn deposit(l1: &L1) -> (B256, TransactionReceipt) {
    let tx = l1
        .bridge()
        .deposit(addr(USER))
        .value(ether(1))
        .from(addr(USER))
        .into_transaction_request();
    let receipt = l1.send(tx).await.expect("deposit");
    let txs = keel_l1::contracts::privileged_txs_in_receipt(&receipt, dev::DEFAULT_L2_CHAIN_ID)
        .expect("fields fit");
    (txs[0].hash(), receipt)
}

/// `n` deposits, each in its own L1 block; their privileged tx hashes.
async fn deposits(l1: &L1, n: usize) -> Vec<B256> {
    let mut hashes = Vec::new();
    let mut last_block = 0;
    for _ in 0..n {
        let (hash, receipt) = deposit(l1).await;
        let block = receipt.block_number.expect("mined");
        assert!(block > last_block, "one deposit per L1 block");
        last_block = block;
        hashes.push(hash);
    }
    hashes
}

/// A batch with ordinary txs whose last block has timestamp `timestamp`.
fn batch_at(number: u64, timestamp: u64) -> Batch {
    Batch {
        last_block_timestamp: timestamp,
        ..Batch::simple(number)
    }
}

/// Sends `call` to `to` from dev account `from`.
async fn call_from(
    l1: &L1,
    from: usize,
    to: Address,
    call: impl SolCall,
) -> Result<TransactionReceipt, String> {
    l1.send(common::call(from, to, call.abi_encode())).await
}

/// `commitBatch` with a blob to the OnChainProposer at `proposer` (another deployment on the same
/// anvil).
async fn commit_to(
    l1: &L1,
    proposer: Address,
    batch: &Batch,
) -> Result<TransactionReceipt, String> {
    let call = OnChainProposer::commitBatchCall {
        batchNumber: U256::from(batch.number),
        newStateRoot: batch.new_state_root,
        withdrawalsRoot: batch.withdrawals_root,
        privilegedRollingHash: batch.privileged_rolling_hash,
        lastBlockHash: batch.last_block_hash,
        nonPrivilegedTxCount: U256::from(batch.non_privileged_tx_count),
        lastBlockTimestamp: batch.last_block_timestamp,
    };
    let sidecar = SidecarBuilder::<SimpleCoder>::from_slice(BLOB)
        .build_4844()
        .expect("blob sidecar");
    let tx = TransactionRequest::default()
        .with_from(addr(SEQUENCER))
        .with_to(proposer)
        .with_input(Bytes::from(call.abi_encode()))
        .with_blob_sidecar_4844(sidecar);
    l1.send(tx).await
}

/// `verifyBatches` on the OnChainProposer at `proposer`.
async fn verify_at(
    l1: &L1,
    proposer: Address,
    first: u64,
    proofs: Vec<Vec<Bytes>>,
) -> Result<TransactionReceipt, String> {
    call_from(
        l1,
        USER,
        proposer,
        OnChainProposer::verifyBatchesCall {
            firstBatch: U256::from(first),
            proofs,
        },
    )
    .await
}

async fn last_verified(l1: &L1) -> u64 {
    l1.proposer()
        .lastVerifiedBatch()
        .call()
        .await
        .expect("lastVerifiedBatch")
        .to()
}

/// Signatures of dev accounts `signers` over the raw digest `digest` (no EIP-712, no prefix).
fn sign_raw(digest: B256, signers: &[usize]) -> Bytes {
    let mut proof = Vec::new();
    for &i in signers {
        proof.extend_from_slice(&signer(i).sign_hash_sync(&digest).expect("sign").as_bytes());
    }
    proof.into()
}

// ------------------------------------------------------------------ item 1: forced inclusion

/// Batch k was sealed at T0; deposit P arrived just after, so k doesn't include it. k's commit is
/// delayed (L1 congestion, a committer outage, a pause) until long after P's deadline. On the old
/// contracts, which judged deadlines against `block.timestamp` when the commit landed, k reverted
/// with `ExpiredPrivilegedTxNotIncluded` forever and every later batch with it. Now the deadline
/// is judged against k's own last block timestamp, which is before P's deadline: k commits.
#[tokio::test]
async fn sealed_batch_stays_committable_after_deadlines_pass() {
    let l1 = L1::start().await;
    let sealed_at = l1_now(&l1).await;
    let hashes = deposits(&l1, 1).await;
    let deadline = deadline_of(&l1, 0).await;
    assert!(deadline > sealed_at);

    // The commit lands long after P's deadline.
    l1.increase_time(3 * INCLUSION_MAX_WAIT).await;
    assert!(l1_now(&l1).await > deadline);
    assert!(
        !l1.bridge()
            .isExpiredAt(U256::ZERO, U256::from(sealed_at))
            .call()
            .await
            .expect("isExpiredAt"),
        "P is not expired at the batch's last block"
    );
    l1.commit(SEQUENCER, &batch_at(1, sealed_at), Some(BLOB))
        .await
        .expect(
            "a batch sealed before P's deadline commits after it (reverted on the old contracts)",
        );

    // The next batch, sealed after P's deadline, must include it.
    assert_reverts_exactly(
        l1.commit(SEQUENCER, &batch_at(2, deadline + 1), Some(BLOB))
            .await,
        OnChainProposer::ExpiredPrivilegedTxNotIncluded { id: U256::ZERO },
    );
    let mut batch = batch_at(2, deadline + 1);
    batch.privileged_rolling_hash = privileged_rolling_hash(&hashes).expect("rolling hash");
    l1.commit(SEQUENCER, &batch, Some(BLOB))
        .await
        .expect("batch 2 includes P");
}

/// The same with a pause for `revertBatch`: batch 1 (sealed before deposit P) is committed with a
/// wrong state root, the owner pauses and reverts it, the pause outlasts P's deadline; the
/// corrected batch 1, still sealed before P, commits after the unpause (on the old contracts it
/// was refused for good).
#[tokio::test]
async fn reverted_batch_recommits_after_a_long_pause() {
    let l1 = L1::start().await;
    let sealed_at = l1_now(&l1).await;
    deposits(&l1, 1).await;
    let deadline = deadline_of(&l1, 0).await;
    let proposer = *l1.proposer().address();

    let mut wrong = batch_at(1, sealed_at);
    wrong.new_state_root = B256::repeat_byte(0xbd);
    l1.commit(SEQUENCER, &wrong, Some(BLOB))
        .await
        .expect("a bad commit");
    call_from(&l1, OWNER, proposer, OnChainProposer::pauseCall {})
        .await
        .expect("pause");
    call_from(
        &l1,
        OWNER,
        proposer,
        OnChainProposer::revertBatchCall {
            batchNumber: U256::from(1),
        },
    )
    .await
    .expect("revertBatch");
    l1.increase_time(2 * INCLUSION_MAX_WAIT).await;
    assert!(l1_now(&l1).await > deadline);
    call_from(&l1, OWNER, proposer, OnChainProposer::unpauseCall {})
        .await
        .expect("unpause");

    l1.commit(SEQUENCER, &batch_at(1, sealed_at), Some(BLOB))
        .await
        .expect("the corrected batch commits after P's deadline");
    assert_eq!(
        l1.proposer()
            .getBatch(U256::from(1))
            .call()
            .await
            .expect("getBatch")
            .newStateRoot,
        Batch::simple(1).new_state_root
    );
}

/// Forced inclusion still holds: a batch with ordinary txs whose last block is after a pending
/// deadline must include that privileged tx (the deadline itself is still fine); a batch with no
/// ordinary txs may leave it out; a batch that includes it goes through.
#[tokio::test]
async fn forced_inclusion_judged_against_the_batch_timestamp() {
    let l1 = L1::start().await;
    let hashes = deposits(&l1, 2).await;
    let first = deadline_of(&l1, 0).await;
    l1.increase_time(2 * INCLUSION_MAX_WAIT).await;
    assert!(l1_now(&l1).await > deadline_of(&l1, 1).await);

    assert_reverts_exactly(
        l1.commit(SEQUENCER, &batch_at(1, first + 1), Some(BLOB))
            .await,
        OnChainProposer::ExpiredPrivilegedTxNotIncluded { id: U256::ZERO },
    );
    // At the deadline itself the tx is not expired yet.
    l1.commit(SEQUENCER, &batch_at(1, first), Some(BLOB))
        .await
        .expect("a batch whose last block is at the deadline");

    // No ordinary txs (here no txs at all): allowed although it leaves the expired tx out, so the
    // chain can always progress.
    let mut batch = batch_at(2, first + 1);
    batch.non_privileged_tx_count = 0;
    l1.commit(SEQUENCER, &batch, Some(BLOB))
        .await
        .expect("a batch without ordinary txs");

    // Including only the first: the second (also expired at this timestamp) is now the oldest
    // left out.
    let late = deadline_of(&l1, 1).await + 1;
    let mut batch = batch_at(3, late);
    batch.privileged_rolling_hash = privileged_rolling_hash(&hashes[..1]).expect("rolling hash");
    assert_reverts_exactly(
        l1.commit(SEQUENCER, &batch, Some(BLOB)).await,
        OnChainProposer::ExpiredPrivilegedTxNotIncluded { id: U256::from(1) },
    );
    batch.privileged_rolling_hash = privileged_rolling_hash(&hashes).expect("rolling hash");
    l1.commit(SEQUENCER, &batch, Some(BLOB))
        .await
        .expect("a batch with ordinary txs that includes both");
    assert_eq!(
        l1.proposer()
            .nextPrivilegedId()
            .call()
            .await
            .expect("next id"),
        U256::from(2)
    );
}

/// The timestamp a batch commits to may not be before the previous batch's (so a sequencer can't
/// turn its clock back to escape a deadline it already passed). It may be ahead of L1's clock: an
/// L2 making sub-second blocks runs ahead, and a later timestamp only makes forced inclusion
/// stricter for the sequencer.
#[tokio::test]
async fn batch_timestamp_not_before_the_previous_and_may_lead_l1() {
    let l1 = L1::start().await;
    l1.commit(SEQUENCER, &batch_at(1, 100), Some(BLOB))
        .await
        .expect("batch 1 at 100");
    assert_reverts_exactly(
        l1.commit(SEQUENCER, &batch_at(2, 99), Some(BLOB)).await,
        OnChainProposer::TimestampBeforePrevious {
            lastBlockTimestamp: U256::from(99),
            previous: U256::from(100),
        },
    );
    // Equal to the previous is fine (several batches may end in the same second).
    l1.commit(SEQUENCER, &batch_at(2, 100), Some(BLOB))
        .await
        .expect("batch 2 at 100");
    // Ahead of L1's clock is accepted.
    let now = l1_now(&l1).await + 1000;
    l1.commit(SEQUENCER, &batch_at(3, now), Some(BLOB))
        .await
        .expect("batch 3 ahead of L1's clock");
    assert_eq!(
        l1.proposer()
            .getBatch(U256::from(3))
            .call()
            .await
            .expect("getBatch")
            .lastBlockTimestamp,
        now,
        "the timestamp is stored"
    );
}

/// `maxPrivilegedGasLimit` stays within `[300,000, l2BlockGasLimit]` in the setter and the
/// initializer, so every privileged tx fits an L2 block and an ERC20 deposit is always allowed (on
/// the old contracts any cap was accepted, including one above the L2 block gas limit).
#[tokio::test]
async fn max_privileged_gas_limit_stays_within_300k_and_the_l2_block_gas_limit() {
    let l1 = L1::start().await;
    let bridge = l1.deployment.contracts.common_bridge;
    let min = keel_l1::deploy::MIN_PRIVILEGED_GAS_LIMIT;
    let block = l1.deployment.l2_block_gas_limit;
    assert_eq!(
        l1.bridge()
            .l2BlockGasLimit()
            .call()
            .await
            .expect("l2BlockGasLimit"),
        U256::from(block)
    );
    assert_eq!(
        l1.bridge()
            .MIN_PRIVILEGED_GAS_LIMIT()
            .call()
            .await
            .expect("MIN_PRIVILEGED_GAS_LIMIT"),
        U256::from(min),
        "Rust and Solidity agree on the minimum"
    );
    for bad in [0, min - 1, block + 1] {
        assert_reverts_exactly(
            call_from(
                &l1,
                OWNER,
                bridge.proxy,
                CommonBridge::setMaxPrivilegedGasLimitCall {
                    maxPrivilegedGasLimit_: U256::from(bad),
                },
            )
            .await,
            CommonBridge::InvalidMaxPrivilegedGasLimit {
                maxPrivilegedGasLimit: U256::from(bad),
                min: U256::from(min),
                max: U256::from(block),
            },
        );
    }
    for good in [min, block] {
        call_from(
            &l1,
            OWNER,
            bridge.proxy,
            CommonBridge::setMaxPrivilegedGasLimitCall {
                maxPrivilegedGasLimit_: U256::from(good),
            },
        )
        .await
        .expect("a cap within the bounds");
        assert_eq!(
            l1.bridge()
                .maxPrivilegedGasLimit()
                .call()
                .await
                .expect("cap"),
            U256::from(good)
        );
    }

    // The initializer, run in a fresh proxy's constructor.
    let initialize = |cap: u64| -> Bytes {
        CommonBridge::initializeCall {
            owner_: addr(OWNER),
            securityCouncil_: Address::ZERO,
            onChainProposer_: l1.deployment.contracts.on_chain_proposer.proxy,
            l2ChainId_: U256::from(dev::DEFAULT_L2_CHAIN_ID),
            inclusionMaxWait_: U256::from(INCLUSION_MAX_WAIT),
            maxPrivilegedGasLimit_: U256::from(cap),
            l2BlockGasLimit_: U256::from(block),
            maxPause_: U256::from(3600u64),
        }
        .abi_encode()
        .into()
    };
    for bad in [min - 1, block + 1] {
        let result = KeelProxy::deploy(&l1.provider, bridge.implementation, initialize(bad))
            .await
            .map_err(|e| format!("{e:?}"));
        assert_reverts_exactly(
            result,
            CommonBridge::InvalidMaxPrivilegedGasLimit {
                maxPrivilegedGasLimit: U256::from(bad),
                min: U256::from(min),
                max: U256::from(block),
            },
        );
    }
    KeelProxy::deploy(&l1.provider, bridge.implementation, initialize(block))
        .await
        .expect("initialized with the L2 block gas limit as the cap");
}

/// `inclusionMaxWait` has a lower bound of 30 minutes in the setter, the initializer and the
/// deployer (on the old contracts any value, 0 included, was accepted).
#[tokio::test]
async fn inclusion_max_wait_has_a_lower_bound() {
    let l1 = L1::start().await;
    let min: u64 = l1
        .bridge()
        .MIN_INCLUSION_MAX_WAIT()
        .call()
        .await
        .expect("MIN_INCLUSION_MAX_WAIT")
        .to();
    assert_eq!(min, 30 * 60);
    assert_eq!(
        min,
        keel_l1::deploy::MIN_INCLUSION_MAX_WAIT,
        "Rust = Solidity"
    );
    let bridge = l1.deployment.contracts.common_bridge;

    // The setter.
    assert_reverts_exactly(
        call_from(
            &l1,
            OWNER,
            bridge.proxy,
            CommonBridge::setInclusionMaxWaitCall {
                inclusionMaxWait_: U256::from(min - 1),
            },
        )
        .await,
        CommonBridge::InclusionMaxWaitTooShort {
            inclusionMaxWait: U256::from(min - 1),
            min: U256::from(min),
        },
    );
    assert_reverts_with::<CommonBridge::OwnableUnauthorizedAccount, _>(
        call_from(
            &l1,
            USER,
            bridge.proxy,
            CommonBridge::setInclusionMaxWaitCall {
                inclusionMaxWait_: U256::from(min),
            },
        )
        .await,
    );
    assert_eq!(
        l1.bridge().inclusionMaxWait().call().await.expect("wait"),
        U256::from(INCLUSION_MAX_WAIT),
        "unchanged by the refused calls"
    );
    call_from(
        &l1,
        OWNER,
        bridge.proxy,
        CommonBridge::setInclusionMaxWaitCall {
            inclusionMaxWait_: U256::from(min),
        },
    )
    .await
    .expect("the minimum itself is allowed");
    assert_eq!(
        l1.bridge().inclusionMaxWait().call().await.expect("wait"),
        U256::from(min)
    );

    // The initializer, run in a fresh proxy's constructor.
    let initialize = |wait: u64| -> Bytes {
        CommonBridge::initializeCall {
            owner_: addr(OWNER),
            securityCouncil_: Address::ZERO,
            onChainProposer_: l1.deployment.contracts.on_chain_proposer.proxy,
            l2ChainId_: U256::from(dev::DEFAULT_L2_CHAIN_ID),
            inclusionMaxWait_: U256::from(wait),
            maxPrivilegedGasLimit_: U256::from(keel_l1::deploy::MIN_PRIVILEGED_GAS_LIMIT),
            l2BlockGasLimit_: U256::from(30_000_000u64),
            maxPause_: U256::from(3600u64),
        }
        .abi_encode()
        .into()
    };
    for wait in [0, 60, min - 1] {
        let result = KeelProxy::deploy(&l1.provider, bridge.implementation, initialize(wait))
            .await
            .map_err(|e| format!("{e:?}"));
        assert_reverts_exactly(
            result,
            CommonBridge::InclusionMaxWaitTooShort {
                inclusionMaxWait: U256::from(wait),
                min: U256::from(min),
            },
        );
    }
    let fresh = KeelProxy::deploy(&l1.provider, bridge.implementation, initialize(min))
        .await
        .expect("initialized with the minimum");
    assert_eq!(
        CommonBridge::new(*fresh.address(), &l1.provider)
            .inclusionMaxWait()
            .call()
            .await
            .expect("wait"),
        U256::from(min)
    );

    // The deployer refuses before sending anything.
    let nonce = l1
        .provider
        .get_transaction_count(addr(OWNER))
        .await
        .expect("nonce");
    for wait in [60, min - 1] {
        let out = l1.dir.path().join(format!("short-{wait}.json"));
        let mut config = test_config();
        config.inclusion_max_wait = wait;
        let err = deploy(&l1.provider, addr(OWNER), &config, &out)
            .await
            .expect_err("a short inclusion max wait");
        assert!(
            matches!(&err, DeployError::Config(m) if m.contains("inclusion max wait")),
            "{err}"
        );
        assert!(!out.exists(), "no deployment file");
    }
    assert_eq!(
        l1.provider
            .get_transaction_count(addr(OWNER))
            .await
            .expect("nonce"),
        nonce,
        "nothing sent"
    );
}

/// The owner can move pending deadlines later (a batch that would be refused is then accepted),
/// never earlier, and only within the pending queue.
#[tokio::test]
async fn extend_deadlines_moves_pending_deadlines_later_only() {
    let l1 = L1::start().await;
    let hashes = deposits(&l1, 2).await;
    let (d0, d1) = (deadline_of(&l1, 0).await, deadline_of(&l1, 1).await);
    l1.increase_time(2 * INCLUSION_MAX_WAIT).await;
    let bridge = *l1.bridge().address();
    let extend = |first: u64, count: u64, deadline: u64| CommonBridge::extendDeadlinesCall {
        firstId: U256::from(first),
        count: U256::from(count),
        deadline: U256::from(deadline),
    };

    let late = d0 + 1;
    assert_reverts_with::<OnChainProposer::ExpiredPrivilegedTxNotIncluded, _>(
        l1.commit(SEQUENCER, &batch_at(1, late), Some(BLOB)).await,
    );

    // Owner only.
    assert_reverts_with::<CommonBridge::OwnableUnauthorizedAccount, _>(
        call_from(&l1, USER, bridge, extend(0, 2, d0 + 600)).await,
    );
    assert_reverts_with::<CommonBridge::OwnableUnauthorizedAccount, _>(
        call_from(&l1, SEQUENCER, bridge, extend(0, 2, d0 + 600)).await,
    );
    assert_eq!(deadline_of(&l1, 0).await, d0);

    let receipt = call_from(&l1, OWNER, bridge, extend(0, 2, d0 + 600))
        .await
        .expect("the owner extends");
    let event = receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| log.log_decode::<CommonBridge::DeadlinesExtended>().ok())
        .expect("DeadlinesExtended");
    assert_eq!(event.inner.data.firstId, U256::ZERO);
    assert_eq!(event.inner.data.count, U256::from(2));
    assert_eq!(deadline_of(&l1, 0).await, d0 + 600);
    assert_eq!(deadline_of(&l1, 1).await, d1.max(d0 + 600));

    // The batch refused above is now accepted.
    l1.commit(SEQUENCER, &batch_at(1, late), Some(BLOB))
        .await
        .expect("accepted after the extension");

    // Never earlier: an earlier deadline keeps the later one.
    call_from(&l1, OWNER, bridge, extend(0, 2, d0))
        .await
        .expect("no-op");
    assert_eq!(deadline_of(&l1, 0).await, d0 + 600, "not moved earlier");
    assert_eq!(deadline_of(&l1, 1).await, d1.max(d0 + 600));

    // Only ids already sent.
    assert_reverts_exactly(
        call_from(&l1, OWNER, bridge, extend(0, 3, d0 + 900)).await,
        CommonBridge::PrivilegedRangeOutOfBounds {
            firstId: U256::ZERO,
            count: U256::from(3),
        },
    );
    assert_reverts_with::<CommonBridge::PrivilegedRangeOutOfBounds, _>(
        call_from(&l1, OWNER, bridge, extend(2, 1, d0 + 900)).await,
    );

    // Only ids still pending: once a verified batch included id 0, it is out of reach.
    let mut batch = batch_at(2, late);
    batch.privileged_rolling_hash = privileged_rolling_hash(&hashes[..1]).expect("rolling hash");
    l1.commit(SEQUENCER, &batch, Some(BLOB))
        .await
        .expect("batch 2 includes id 0");
    let blob = blob_versioned_hash(BLOB);
    let first = batch_at(1, late);
    let inputs1 = first.public_inputs(l1.genesis(), blob);
    let inputs2 = batch.public_inputs(first.as_previous(), blob);
    l1.verify(
        1,
        vec![
            vec![l1.attest(&inputs1, &SIGNERS[..2])],
            vec![l1.attest(&inputs2, &SIGNERS[..2])],
        ],
    )
    .await
    .expect("verified");
    assert_eq!(
        l1.bridge().pendingHead().call().await.expect("head"),
        U256::from(1)
    );
    assert_reverts_exactly(
        call_from(&l1, OWNER, bridge, extend(0, 1, d0 + 900)).await,
        CommonBridge::PrivilegedRangeOutOfBounds {
            firstId: U256::ZERO,
            count: U256::from(1),
        },
    );
    call_from(&l1, OWNER, bridge, extend(1, 1, d1 + 900))
        .await
        .expect("the still pending id 1");
    assert_eq!(deadline_of(&l1, 1).await, d1 + 900);
}

/// Deposits arrive in every L1 block. Batches sealed before (or while) they arrive commit with
/// ordinary txs long after the deposits' deadlines, as long as what each batch leaves out was not
/// yet expired at its own last block. On the old contracts a stream of deposits could shut out
/// every batch with ordinary txs.
#[tokio::test]
async fn a_stream_of_deposits_does_not_block_sealed_batches() {
    let l1 = L1::start().await;
    let sealed_1 = l1_now(&l1).await;
    let hashes = deposits(&l1, 8).await;
    let mut deadlines = Vec::new();
    for id in 0..8 {
        deadlines.push(deadline_of(&l1, id).await);
    }
    // Batch 2 was sealed in the L1 second of deposit 4 and includes the four before it.
    let sealed_2 = deadlines[4] - INCLUSION_MAX_WAIT;
    assert!(sealed_2 >= sealed_1);

    l1.increase_time(3 * INCLUSION_MAX_WAIT).await;
    assert!(l1_now(&l1).await > deadlines[7], "every deadline passed");

    l1.commit(SEQUENCER, &batch_at(1, sealed_1), Some(BLOB))
        .await
        .expect("batch 1, sealed before the deposits");
    let mut batch = batch_at(2, sealed_2);
    batch.privileged_rolling_hash = privileged_rolling_hash(&hashes[..4]).expect("rolling hash");
    l1.commit(SEQUENCER, &batch, Some(BLOB))
        .await
        .expect("batch 2, sealed while deposits kept coming");

    // A batch sealed after deposit 4's deadline must include it.
    let mut batch = batch_at(3, deadlines[4] + 1);
    assert_reverts_exactly(
        l1.commit(SEQUENCER, &batch, Some(BLOB)).await,
        OnChainProposer::ExpiredPrivilegedTxNotIncluded { id: U256::from(4) },
    );
    batch.privileged_rolling_hash = privileged_rolling_hash(&hashes[4..]).expect("rolling hash");
    l1.commit(SEQUENCER, &batch, Some(BLOB))
        .await
        .expect("batch 3 includes the rest");
}

// ------------------------------------------------------------------ item 6: attestations

/// Rust and Solidity share one definition of the 352-byte public inputs (built in Rust by
/// `keel_types::Batch::public_inputs`, the prover's path) and of the EIP-712 attestation digest.
#[tokio::test]
async fn public_inputs_and_attestation_digest_are_one_definition() {
    let l1 = L1::start().await;
    let (privileged, _) = deposit(&l1).await;
    let blob = blob_versioned_hash(BLOB);

    // Batch 0's last block hash is the L2 genesis block's.
    let genesis = dev::dev_genesis();
    let spec = keel_types::ChainSpec::from_genesis(&genesis).expect("spec");
    let genesis_hash = keel_types::genesis_header(&genesis, &spec).hash_slow();
    assert_eq!(l1.deployment.genesis_block_hash, genesis_hash);
    assert_eq!(
        l1.proposer()
            .getBatch(U256::ZERO)
            .call()
            .await
            .expect("batch 0")
            .lastBlockHash,
        genesis_hash
    );

    let now = l1_now(&l1).await;
    let batches = [
        keel_types::Batch {
            number: 1,
            first_block: 1,
            last_block: 4,
            state_root: B256::repeat_byte(0x11),
            last_block_hash: B256::repeat_byte(0x21),
            privileged_rolling_hash: privileged_rolling_hash(&[privileged]).expect("hash"),
            withdrawals_root: B256::repeat_byte(0x31),
            non_privileged_tx_count: 7,
        },
        keel_types::Batch {
            number: 2,
            first_block: 5,
            last_block: 9,
            state_root: B256::repeat_byte(0x12),
            last_block_hash: B256::repeat_byte(0x22),
            privileged_rolling_hash: B256::ZERO,
            withdrawals_root: B256::ZERO,
            non_privileged_tx_count: 0x0102_0304,
        },
    ];
    let timestamps = [now - 20, now - 5];
    let mut previous = (l1.deployment.genesis_state_root, genesis_hash);
    let proposer = l1.deployment.contracts.on_chain_proposer.proxy;
    for (batch, timestamp) in batches.iter().zip(timestamps) {
        l1.commit(
            SEQUENCER,
            &Batch {
                number: batch.number,
                new_state_root: batch.state_root,
                withdrawals_root: batch.withdrawals_root,
                privileged_rolling_hash: batch.privileged_rolling_hash,
                last_block_hash: batch.last_block_hash,
                non_privileged_tx_count: batch.non_privileged_tx_count,
                last_block_timestamp: timestamp,
            },
            Some(BLOB),
        )
        .await
        .expect("commit");
        let inputs = batch.public_inputs(previous, blob, dev::DEFAULT_L2_CHAIN_ID, timestamp);
        let on_l1 = l1.public_inputs_on_l1(batch.number).await;
        assert_eq!(on_l1.len(), PUBLIC_INPUTS_LEN);
        assert_eq!(
            on_l1.as_ref(),
            inputs.encode().as_slice(),
            "batch {}",
            batch.number
        );
        // The words the issue added, read from the contract's bytes.
        assert_eq!(
            &on_l1[256..288],
            previous.1.as_slice(),
            "previousLastBlockHash"
        );
        assert_eq!(
            U256::from_be_slice(&on_l1[288..320]),
            U256::from(batch.number)
        );
        assert_eq!(U256::from_be_slice(&on_l1[320..352]), U256::from(timestamp));

        // The digest, for this deployment's proposer and for any other address.
        for verifying in [proposer, Address::repeat_byte(0x42)] {
            let digest = l1
                .verifier()
                .attestationDigest(verifying, on_l1.clone())
                .call()
                .await
                .expect("attestationDigest");
            assert_eq!(
                digest,
                inputs.attestation_digest(l1.deployment.l1_chain_id, verifying)
            );
        }
        previous = (batch.state_root, batch.last_block_hash);
    }
    for length in [
        l1.proposer()
            .PUBLIC_INPUTS_LENGTH()
            .call()
            .await
            .expect("length"),
        l1.verifier()
            .PUBLIC_INPUTS_LENGTH()
            .call()
            .await
            .expect("length"),
    ] {
        assert_eq!(length, U256::from(PUBLIC_INPUTS_LEN));
    }

    // And the contract accepts what Rust signs.
    let inputs: Vec<PublicInputs> = {
        let first = batches[0].public_inputs(
            (l1.deployment.genesis_state_root, genesis_hash),
            blob,
            dev::DEFAULT_L2_CHAIN_ID,
            timestamps[0],
        );
        let second = batches[1].public_inputs(
            (batches[0].state_root, batches[0].last_block_hash),
            blob,
            dev::DEFAULT_L2_CHAIN_ID,
            timestamps[1],
        );
        vec![first, second]
    };
    l1.verify(
        1,
        inputs
            .iter()
            .map(|i| vec![l1.attest(i, &SIGNERS[..2])])
            .collect(),
    )
    .await
    .expect("verified");
    assert_eq!(last_verified(&l1).await, 2);
}

/// A second deployment on the same anvil (same configuration, other addresses).
async fn second_deployment(l1: &L1, file: &Path) -> Deployment {
    deploy(&l1.provider, addr(OWNER), &test_config(), file)
        .await
        .expect("a second deployment")
        .deployment
}

/// An attestation is good for one batch of one OnChainProposer on one L1 chain: the same batch,
/// byte for byte, committed to two deployments needs two attestations.
#[tokio::test]
async fn attestations_do_not_replay_across_deployments_chains_or_batches() {
    let l1 = L1::start().await;
    let other = second_deployment(&l1, &l1.dir.path().join("b.json")).await;
    let a = l1.deployment.contracts.on_chain_proposer.proxy;
    let b = other.contracts.on_chain_proposer.proxy;
    assert_ne!(a, b);
    let chain = l1.deployment.l1_chain_id;

    for proposer in [a, b] {
        for number in [1, 2] {
            commit_to(&l1, proposer, &Batch::simple(number))
                .await
                .expect("commit");
        }
    }
    let blob = blob_versioned_hash(BLOB);
    let batch1 = Batch::simple(1);
    let inputs = batch1.public_inputs(l1.genesis(), blob);
    let inputs2 = Batch::simple(2).public_inputs(batch1.as_previous(), blob);
    // The same public inputs on both deployments.
    let on_b = OnChainProposer::new(b, &l1.provider)
        .publicInputs(U256::from(1))
        .call()
        .await
        .expect("publicInputs");
    assert_eq!(on_b, l1.public_inputs_on_l1(1).await);
    assert_eq!(on_b.as_ref(), inputs.encode().as_slice());

    let signers = &SIGNERS[..2];
    // A's attestation on B.
    assert_reverts_with::<AttestationVerifier::UnknownSigner, _>(
        verify_at(
            &l1,
            b,
            1,
            vec![vec![attest_for(&inputs, chain, a, signers)]],
        )
        .await,
    );
    // B's proposer on another L1 chain.
    assert_reverts_with::<AttestationVerifier::UnknownSigner, _>(
        verify_at(
            &l1,
            b,
            1,
            vec![vec![attest_for(&inputs, chain + 1, b, signers)]],
        )
        .await,
    );
    // Batch 2's attestation for batch 1, and batch 1's for batch 2.
    assert_reverts_with::<AttestationVerifier::UnknownSigner, _>(
        verify_at(
            &l1,
            b,
            1,
            vec![vec![attest_for(&inputs2, chain, b, signers)]],
        )
        .await,
    );
    assert_reverts_with::<AttestationVerifier::UnknownSigner, _>(
        verify_at(
            &l1,
            b,
            1,
            vec![
                vec![attest_for(&inputs, chain, b, signers)],
                vec![attest_for(&inputs, chain, b, signers)],
            ],
        )
        .await,
    );
    // The verifier called directly (not by the proposer whose domain was signed) refuses a proof
    // that is valid for B, and accepts one whose domain names the caller.
    let verifier =
        AttestationVerifier::new(other.contracts.attestation_verifier.proxy, &l1.provider);
    let direct = verifier
        .verify(on_b.clone(), attest_for(&inputs, chain, b, signers))
        .from(addr(USER))
        .call()
        .await
        .map_err(|e| format!("{e:?}"));
    assert_reverts_with::<AttestationVerifier::UnknownSigner, _>(direct);
    assert!(
        verifier
            .verify(
                on_b.clone(),
                attest_for(&inputs, chain, addr(USER), signers)
            )
            .from(addr(USER))
            .call()
            .await
            .expect("verify"),
    );
    assert_eq!(
        OnChainProposer::new(b, &l1.provider)
            .lastVerifiedBatch()
            .call()
            .await
            .expect("lastVerifiedBatch"),
        U256::ZERO,
        "nothing verified on B by the replays"
    );

    // Each deployment's own attestations pass.
    verify_at(
        &l1,
        b,
        1,
        vec![
            vec![attest_for(&inputs, chain, b, signers)],
            vec![attest_for(&inputs2, chain, b, signers)],
        ],
    )
    .await
    .expect("B verified with B's attestations");
    verify_at(
        &l1,
        a,
        1,
        vec![
            vec![attest_for(&inputs, chain, a, signers)],
            vec![attest_for(&inputs2, chain, a, signers)],
        ],
    )
    .await
    .expect("A verified with A's attestations");
    assert_eq!(last_verified(&l1).await, 2);
}

/// Signatures over the old digest — `keccak256` of the 256-byte public inputs, no domain — and
/// over the raw `keccak256` of the new inputs are refused.
#[tokio::test]
async fn attestations_over_the_old_raw_digest_are_rejected() {
    let l1 = L1::start().await;
    let batch = Batch::simple(1);
    l1.commit(SEQUENCER, &batch, Some(BLOB))
        .await
        .expect("commit");
    let inputs = batch.public_inputs(l1.genesis(), blob_versioned_hash(BLOB));
    let encoded = inputs.encode();
    let signers = &SIGNERS[..2];

    let old = keccak256(&encoded[..256]);
    assert_reverts_with::<AttestationVerifier::UnknownSigner, _>(
        l1.verify(1, vec![vec![sign_raw(old, signers)]]).await,
    );
    assert_reverts_with::<AttestationVerifier::UnknownSigner, _>(
        l1.verify(1, vec![vec![sign_raw(keccak256(encoded), signers)]])
            .await,
    );
    // The old 256-byte inputs are not accepted by the verifier at all.
    let short = l1
        .verifier()
        .verify(
            Bytes::copy_from_slice(&encoded[..256]),
            sign_raw(old, signers),
        )
        .call()
        .await
        .map_err(|e| format!("{e:?}"));
    assert_reverts_exactly(
        short,
        AttestationVerifier::InvalidPublicInputsLength {
            length: U256::from(256),
        },
    );
    assert_eq!(last_verified(&l1).await, 0);
    l1.verify(1, vec![vec![l1.attest(&inputs, signers)]])
        .await
        .expect("the EIP-712 attestation passes");
}

// ------------------------------------------------------------------ review negatives

/// Only the OnChainProposer may publish withdrawal roots and drop privileged txs from the queue.
#[tokio::test]
async fn only_the_proposer_publishes_withdrawals_and_drops_pending_txs() {
    let l1 = L1::start().await;
    deposit(&l1).await;
    let bridge = *l1.bridge().address();
    for who in [USER, OWNER, SEQUENCER, SIGNERS[0]] {
        assert_reverts_exactly(
            call_from(
                &l1,
                who,
                bridge,
                CommonBridge::publishWithdrawalsCall {
                    batchNumber: U256::from(1),
                    withdrawalsRoot: B256::repeat_byte(0xaa),
                },
            )
            .await,
            CommonBridge::CallerNotOnChainProposer { caller: addr(who) },
        );
        assert_reverts_exactly(
            call_from(
                &l1,
                who,
                bridge,
                CommonBridge::removePendingTransactionsHashesCall { count: 1 },
            )
            .await,
            CommonBridge::CallerNotOnChainProposer { caller: addr(who) },
        );
    }
    assert_eq!(
        l1.bridge()
            .withdrawalsRoots(U256::from(1))
            .call()
            .await
            .expect("root"),
        B256::ZERO
    );
    assert_eq!(
        l1.bridge().pendingTxCount().call().await.expect("pending"),
        U256::from(1),
        "the deposit is still pending"
    );
}

/// Removing a signer may not leave fewer signers than the threshold.
#[tokio::test]
async fn removing_a_signer_below_the_threshold_is_refused() {
    let l1 = L1::start().await;
    let verifier = *l1.verifier().address();
    let remove = |i: usize| AttestationVerifier::setSignerCall {
        signer: addr(i),
        registered: false,
    };
    call_from(&l1, OWNER, verifier, remove(SIGNERS[0]))
        .await
        .expect("3 → 2 signers, threshold 2");
    assert_reverts_exactly(
        call_from(&l1, OWNER, verifier, remove(SIGNERS[1])).await,
        AttestationVerifier::InvalidThreshold {
            threshold: U256::from(2),
            signerCount: U256::from(1),
        },
    );
    assert_eq!(
        l1.verifier().signerCount().call().await.expect("count"),
        U256::from(2)
    );
    assert!(
        l1.verifier()
            .isSigner(addr(SIGNERS[1]))
            .call()
            .await
            .expect("isSigner")
    );
    // With the threshold lowered first, the same removal goes through.
    call_from(
        &l1,
        OWNER,
        verifier,
        AttestationVerifier::setThresholdCall {
            threshold_: U256::from(1),
        },
    )
    .await
    .expect("threshold 1");
    call_from(&l1, OWNER, verifier, remove(SIGNERS[1]))
        .await
        .expect("2 → 1 signers, threshold 1");
    assert_eq!(
        l1.verifier().signerCount().call().await.expect("count"),
        U256::from(1)
    );
}

/// A high-s signature (the malleable twin of a valid one) and signatures with a bad `v` (29, 0)
/// are `InvalidSignature(index)`.
#[tokio::test]
async fn high_s_and_bad_v_signatures_are_invalid() {
    let l1 = L1::start().await;
    let batch = Batch::simple(1);
    l1.commit(SEQUENCER, &batch, Some(BLOB))
        .await
        .expect("commit");
    let inputs = batch.public_inputs(l1.genesis(), blob_versioned_hash(BLOB));
    let valid = l1.attest(&inputs, &SIGNERS[..2]).to_vec();
    let invalid = |index: usize| AttestationVerifier::InvalidSignature {
        index: U256::from(index),
    };

    // Signature 1 → (r, n - s, v flipped): the same signer by plain ecrecover, refused by the
    // low-s rule.
    let mut high_s = valid.clone();
    let s = U256::from_be_slice(&high_s[65 + 32..65 + 64]);
    let flipped = U256::from_be_bytes(SECP256K1_N) - s;
    high_s[65 + 32..65 + 64].copy_from_slice(&flipped.to_be_bytes::<32>());
    high_s[65 + 64] = if high_s[65 + 64] == 27 { 28 } else { 27 };
    assert_reverts_exactly(l1.verify(1, vec![vec![high_s.into()]]).await, invalid(1));

    for v in [29u8, 0, 1] {
        let mut bad_v = valid.clone();
        bad_v[64] = v;
        assert_reverts_exactly(l1.verify(1, vec![vec![bad_v.into()]]).await, invalid(0));
    }
    assert_reverts_exactly(
        l1.verify(1, vec![vec![Bytes::from(vec![0u8; 130])]]).await,
        invalid(0),
    );
    assert_eq!(last_verified(&l1).await, 0);
    l1.verify(1, vec![vec![valid.into()]])
        .await
        .expect("the unmodified signatures pass");
}

/// `setVerifiers` refuses an empty list and the zero address.
#[tokio::test]
async fn set_verifiers_refuses_empty_and_zero() {
    let l1 = L1::start().await;
    let proposer = *l1.proposer().address();
    let attestation = l1.deployment.contracts.attestation_verifier.proxy;
    let set = |verifiers: Vec<Address>| OnChainProposer::setVerifiersCall {
        verifiers_: verifiers,
    };
    assert_reverts_with::<OnChainProposer::NoVerifiers, _>(
        call_from(&l1, OWNER, proposer, set(vec![])).await,
    );
    assert_reverts_with::<OnChainProposer::ZeroAddress, _>(
        call_from(&l1, OWNER, proposer, set(vec![Address::ZERO])).await,
    );
    assert_reverts_with::<OnChainProposer::ZeroAddress, _>(
        call_from(&l1, OWNER, proposer, set(vec![attestation, Address::ZERO])).await,
    );
    assert_reverts_with::<OnChainProposer::OwnableUnauthorizedAccount, _>(
        call_from(&l1, USER, proposer, set(vec![attestation, attestation])).await,
    );
    assert_eq!(
        l1.proposer()
            .getVerifiers()
            .call()
            .await
            .expect("verifiers"),
        vec![attestation],
        "unchanged"
    );
}

/// A required verifier that returns false (rather than reverting) rejects the batch with
/// `ProofRejected(batch, verifier)`, even when the attestation is valid.
#[tokio::test]
async fn a_verifier_returning_false_rejects_the_batch() {
    let l1 = L1::start().await;
    let falsy = *H1FalseVerifier::deploy(&l1.provider)
        .await
        .expect("deploy H1FalseVerifier")
        .address();
    let attestation = l1.deployment.contracts.attestation_verifier.proxy;
    let proposer = *l1.proposer().address();
    call_from(
        &l1,
        OWNER,
        proposer,
        OnChainProposer::setVerifiersCall {
            verifiers_: vec![attestation, falsy],
        },
    )
    .await
    .expect("two verifiers");

    let batch = Batch::simple(1);
    l1.commit(SEQUENCER, &batch, Some(BLOB))
        .await
        .expect("commit");
    let inputs = batch.public_inputs(l1.genesis(), blob_versioned_hash(BLOB));
    let attested = l1.attest(&inputs, &SIGNERS[..2]);
    assert_reverts_exactly(
        l1.verify(1, vec![vec![attested.clone(), Bytes::new()]])
            .await,
        OnChainProposer::ProofRejected {
            batchNumber: U256::from(1),
            verifier: falsy,
        },
    );
    assert_reverts_with::<OnChainProposer::WrongProofCount, _>(
        l1.verify(1, vec![vec![attested.clone()]]).await,
    );
    assert_eq!(last_verified(&l1).await, 0);

    // Without it, the attestation alone verifies the batch.
    call_from(
        &l1,
        OWNER,
        proposer,
        OnChainProposer::setVerifiersCall {
            verifiers_: vec![attestation],
        },
    )
    .await
    .expect("one verifier");
    l1.verify(1, vec![vec![attested]]).await.expect("verified");
    assert_eq!(last_verified(&l1).await, 1);
}
