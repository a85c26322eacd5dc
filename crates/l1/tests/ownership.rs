//! The owner's powers over the three L1 proxies on a real anvil: UUPS upgrades (owner only, the
//! ERC-1967 slot moves, the state stays), pausing, two-step ownership transfer, `revertBatch`, and
//! initializers that run exactly once.

mod common;

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    rpc::types::{TransactionReceipt, TransactionRequest},
    sol_types::SolCall,
};
use common::{
    Batch, L1, OWNER, SEQUENCER, SIGNERS, USER, addr, assert_reverts_with, blob_versioned_hash,
    ether,
};
use keel_l1::{
    contracts::{AttestationVerifier, CommonBridge, KeelProxy, OnChainProposer, test::TestToken},
    deploy::IMPLEMENTATION_SLOT,
};
use keel_types::{dev, privileged_rolling_hash};

// The owner / pause / upgrade interface the three contracts share (OpenZeppelin's
// Ownable2StepUpgradeable, PausableUpgradeable and UUPSUpgradeable). Its errors have the same
// selectors in all three, so the tests check them with the CommonBridge bindings.
alloy::sol! {
    #[sol(rpc)]
    interface Managed {
        function owner() external view returns (address);
        function pendingOwner() external view returns (address);
        function transferOwnership(address newOwner) external;
        function acceptOwnership() external;
        function pause() external;
        function unpause() external;
        function paused() external view returns (bool);
        function upgradeToAndCall(address newImplementation, bytes data) external payable;
        event Upgraded(address indexed implementation);
        event OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner);
        event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    }
}

const BLOB: &[u8] = b"state diff";

/// The account ownership is handed to.
const NEW_OWNER: usize = 6;

/// An account that is neither owner nor pending owner.
const THIRD: usize = 7;

/// One of the three proxies.
struct Target {
    name: &'static str,
    proxy: Address,
    implementation: Address,
    /// A call of its `initialize` (which must never succeed again) naming `USER` as owner.
    initialize: Bytes,
}

fn targets(l1: &L1) -> [Target; 3] {
    let c = &l1.deployment.contracts;
    let owner = addr(USER);
    [
        Target {
            name: "CommonBridge",
            proxy: c.common_bridge.proxy,
            implementation: c.common_bridge.implementation,
            initialize: CommonBridge::initializeCall {
                owner_: owner,
                securityCouncil_: owner,
                onChainProposer_: owner,
                l2ChainId_: U256::from(1),
                inclusionMaxWait_: U256::from(3600),
                maxPrivilegedGasLimit_: U256::from(1_000_000),
                l2BlockGasLimit_: U256::from(30_000_000),
                maxPause_: U256::from(1),
            }
            .abi_encode()
            .into(),
        },
        Target {
            name: "OnChainProposer",
            proxy: c.on_chain_proposer.proxy,
            implementation: c.on_chain_proposer.implementation,
            initialize: OnChainProposer::initializeCall {
                params: OnChainProposer::InitParams {
                    owner,
                    securityCouncil: owner,
                    bridge: owner,
                    genesisStateRoot: B256::repeat_byte(1),
                    genesisBlockHash: B256::repeat_byte(2),
                    l2ChainId: U256::from(1),
                    validium: true,
                },
                sequencers: vec![owner],
                verifiers_: vec![owner],
            }
            .abi_encode()
            .into(),
        },
        Target {
            name: "AttestationVerifier",
            proxy: c.attestation_verifier.proxy,
            implementation: c.attestation_verifier.implementation,
            initialize: AttestationVerifier::initializeCall {
                owner_: owner,
                securityCouncil_: owner,
                signers: vec![owner],
                threshold_: U256::from(1),
            }
            .abi_encode()
            .into(),
        },
    ]
}

fn managed(l1: &L1, proxy: Address) -> Managed::ManagedInstance<&alloy::providers::DynProvider> {
    Managed::new(proxy, &l1.provider)
}

/// A plain call of `to` with `input` from dev account `from`.
fn raw_call(from: usize, to: Address, input: Bytes) -> TransactionRequest {
    TransactionRequest::default()
        .with_from(addr(from))
        .with_to(to)
        .with_input(input)
}

/// The implementation the ERC-1967 slot of `proxy` points at.
async fn implementation_of(l1: &L1, proxy: Address) -> Address {
    let word = l1
        .provider
        .get_storage_at(proxy, IMPLEMENTATION_SLOT.into())
        .await
        .expect("implementation slot");
    Address::from_word(word.into())
}

async fn owner_of(l1: &L1, proxy: Address) -> Address {
    managed(l1, proxy).owner().call().await.expect("owner")
}

async fn pending_owner_of(l1: &L1, proxy: Address) -> Address {
    managed(l1, proxy)
        .pendingOwner()
        .call()
        .await
        .expect("pendingOwner")
}

async fn is_paused(l1: &L1, proxy: Address) -> bool {
    managed(l1, proxy).paused().call().await.expect("paused")
}

async fn pause(l1: &L1, from: usize, proxy: Address) -> Result<TransactionReceipt, String> {
    l1.send(
        managed(l1, proxy)
            .pause()
            .from(addr(from))
            .into_transaction_request(),
    )
    .await
}

async fn unpause(l1: &L1, from: usize, proxy: Address) -> Result<TransactionReceipt, String> {
    l1.send(
        managed(l1, proxy)
            .unpause()
            .from(addr(from))
            .into_transaction_request(),
    )
    .await
}

async fn upgrade(
    l1: &L1,
    from: usize,
    proxy: Address,
    implementation: Address,
    data: Bytes,
) -> Result<TransactionReceipt, String> {
    l1.send(
        managed(l1, proxy)
            .upgradeToAndCall(implementation, data)
            .from(addr(from))
            .into_transaction_request(),
    )
    .await
}

async fn deposit(l1: &L1) {
    let tx = l1
        .bridge()
        .deposit(addr(USER))
        .value(ether(1))
        .from(addr(USER))
        .into_transaction_request();
    l1.send(tx).await.expect("deposit");
}

async fn last_committed(l1: &L1) -> u64 {
    l1.proposer()
        .lastCommittedBatch()
        .call()
        .await
        .expect("lastCommittedBatch")
        .to()
}

async fn next_privileged_id(l1: &L1) -> u64 {
    l1.proposer()
        .nextPrivilegedId()
        .call()
        .await
        .expect("nextPrivilegedId")
        .to()
}

#[tokio::test]
async fn only_the_owner_upgrades_and_the_state_survives() {
    let l1 = L1::start().await;
    // State in each contract: a deposit in the bridge, batch 1 in the proposer, the verifier's
    // signers and threshold from initialization.
    deposit(&l1).await;
    let deposit_hash = l1
        .bridge()
        .privilegedTxHashes(U256::ZERO)
        .call()
        .await
        .expect("hash");
    assert_ne!(deposit_hash, B256::ZERO);
    let batch1 = Batch::simple(1);
    l1.commit(SEQUENCER, &batch1, Some(BLOB))
        .await
        .expect("batch 1");
    let bridge_balance = l1.balance(*l1.bridge().address()).await;

    let fresh = [
        *CommonBridge::deploy(&l1.provider)
            .await
            .expect("bridge impl")
            .address(),
        *OnChainProposer::deploy(&l1.provider)
            .await
            .expect("proposer impl")
            .address(),
        *AttestationVerifier::deploy(&l1.provider)
            .await
            .expect("verifier impl")
            .address(),
    ];
    let not_uups = *TestToken::deploy(&l1.provider)
        .await
        .expect("token")
        .address();

    for (target, new_impl) in targets(&l1).into_iter().zip(fresh) {
        let name = target.name;
        assert_eq!(
            implementation_of(&l1, target.proxy).await,
            target.implementation,
            "{name}: deployed implementation in the slot"
        );
        assert_ne!(new_impl, target.implementation);

        // A non-owner (and the sequencer) can't upgrade.
        for who in [USER, SEQUENCER] {
            assert_reverts_with::<CommonBridge::OwnableUnauthorizedAccount, _>(
                upgrade(&l1, who, target.proxy, new_impl, Bytes::new()).await,
            );
        }
        // The owner can't upgrade to a contract that is not UUPS, nor run an initializer again
        // as part of the upgrade.
        assert_reverts_with::<CommonBridge::ERC1967InvalidImplementation, _>(
            upgrade(&l1, OWNER, target.proxy, not_uups, Bytes::new()).await,
        );
        assert_reverts_with::<CommonBridge::InvalidInitialization, _>(
            upgrade(
                &l1,
                OWNER,
                target.proxy,
                new_impl,
                target.initialize.clone(),
            )
            .await,
        );
        assert_eq!(
            implementation_of(&l1, target.proxy).await,
            target.implementation,
            "{name}: refused upgrades leave the slot"
        );

        let receipt = upgrade(&l1, OWNER, target.proxy, new_impl, Bytes::new())
            .await
            .unwrap_or_else(|e| panic!("{name}: owner upgrades: {e}"));
        let upgraded: Vec<Address> = receipt
            .inner
            .logs()
            .iter()
            .filter_map(|log| log.log_decode::<Managed::Upgraded>().ok())
            .map(|e| e.inner.data.implementation)
            .collect();
        assert_eq!(upgraded, vec![new_impl], "{name}: Upgraded event");
        assert_eq!(
            implementation_of(&l1, target.proxy).await,
            new_impl,
            "{name}: the slot points at the new implementation"
        );
        assert_eq!(
            owner_of(&l1, target.proxy).await,
            addr(OWNER),
            "{name}: owner kept"
        );
    }

    // The state survived the upgrades.
    let proposer = l1.proposer();
    assert_eq!(last_committed(&l1).await, 1);
    let stored = proposer
        .getBatch(U256::from(1))
        .call()
        .await
        .expect("getBatch");
    assert_eq!(stored.newStateRoot, batch1.new_state_root);
    assert_eq!(stored.blobVersionedHash, blob_versioned_hash(BLOB));
    assert!(
        proposer
            .isSequencer(addr(SEQUENCER))
            .call()
            .await
            .expect("isSequencer")
    );
    let bridge = l1.bridge();
    assert_eq!(
        bridge.transactionId().call().await.expect("id"),
        U256::from(1)
    );
    assert_eq!(
        bridge
            .privilegedTxHashes(U256::ZERO)
            .call()
            .await
            .expect("hash"),
        deposit_hash
    );
    assert_eq!(l1.balance(*bridge.address()).await, bridge_balance);
    let verifier = l1.verifier();
    assert_eq!(
        verifier.threshold().call().await.expect("threshold"),
        U256::from(2)
    );
    assert_eq!(
        verifier.signerCount().call().await.expect("signerCount"),
        U256::from(3)
    );
    for i in SIGNERS {
        assert!(verifier.isSigner(addr(i)).call().await.expect("isSigner"));
    }

    // And the upgraded contracts keep working together.
    let inputs = batch1.public_inputs(l1.genesis(), blob_versioned_hash(BLOB));
    l1.verify(1, vec![vec![l1.attest(&inputs, &[SIGNERS[0], SIGNERS[1]])]])
        .await
        .expect("verify through the upgraded proposer and verifier");
    deposit(&l1).await;
    assert_eq!(
        bridge.transactionId().call().await.expect("id"),
        U256::from(2)
    );
    l1.commit(SEQUENCER, &Batch::simple(2), Some(BLOB))
        .await
        .expect("batch 2 after the upgrade");
    assert_eq!(last_committed(&l1).await, 2);
}

#[tokio::test]
async fn only_the_owner_pauses_and_unpauses() {
    let l1 = L1::start().await;
    let batch1 = Batch::simple(1);
    l1.commit(SEQUENCER, &batch1, Some(BLOB))
        .await
        .expect("batch 1");
    let inputs = batch1.public_inputs(l1.genesis(), blob_versioned_hash(BLOB));
    let proof = || vec![vec![l1.attest(&inputs, &[SIGNERS[0], SIGNERS[1]])]];

    for target in targets(&l1) {
        let name = target.name;
        assert!(
            !is_paused(&l1, target.proxy).await,
            "{name}: starts unpaused"
        );
        // Neither the owner nor the security council (Governed.pause).
        assert_reverts_with::<CommonBridge::CallerCannotPause, _>(
            pause(&l1, USER, target.proxy).await,
        );
        assert!(!is_paused(&l1, target.proxy).await, "{name}");
        // Unpausing what is not paused.
        assert_reverts_with::<CommonBridge::ExpectedPause, _>(
            unpause(&l1, OWNER, target.proxy).await,
        );
        pause(&l1, OWNER, target.proxy)
            .await
            .unwrap_or_else(|e| panic!("{name}: owner pauses: {e}"));
        assert!(is_paused(&l1, target.proxy).await, "{name}: paused");
        assert_reverts_with::<CommonBridge::EnforcedPause, _>(
            pause(&l1, OWNER, target.proxy).await,
        );
        assert_reverts_with::<CommonBridge::OwnableUnauthorizedAccount, _>(
            unpause(&l1, USER, target.proxy).await,
        );
        assert!(is_paused(&l1, target.proxy).await, "{name}: still paused");
    }

    // All three paused: deposits, commits and verifications stop.
    let tx = l1
        .bridge()
        .deposit(addr(USER))
        .value(ether(1))
        .from(addr(USER))
        .into_transaction_request();
    assert_reverts_with::<CommonBridge::EnforcedPause, _>(l1.send(tx).await);
    assert_reverts_with::<OnChainProposer::EnforcedPause, _>(
        l1.commit(SEQUENCER, &Batch::simple(2), Some(BLOB)).await,
    );
    assert_reverts_with::<OnChainProposer::EnforcedPause, _>(l1.verify(1, proof()).await);
    // With the proposer running again but the verifier still paused, verification still fails
    // (the verifier's `verify` reverts and the proposer passes the error on).
    let [bridge, proposer, verifier] = targets(&l1);
    unpause(&l1, OWNER, proposer.proxy)
        .await
        .expect("unpause proposer");
    assert!(!is_paused(&l1, proposer.proxy).await);
    assert_reverts_with::<AttestationVerifier::EnforcedPause, _>(l1.verify(1, proof()).await);
    assert_eq!(
        l1.proposer()
            .lastVerifiedBatch()
            .call()
            .await
            .expect("lastVerifiedBatch"),
        U256::ZERO
    );

    unpause(&l1, OWNER, verifier.proxy)
        .await
        .expect("unpause verifier");
    unpause(&l1, OWNER, bridge.proxy)
        .await
        .expect("unpause bridge");
    l1.verify(1, proof()).await.expect("verified after unpause");
    let tx = l1
        .bridge()
        .deposit(addr(USER))
        .value(ether(1))
        .from(addr(USER))
        .into_transaction_request();
    l1.send(tx).await.expect("deposit after unpause");
    l1.commit(SEQUENCER, &Batch::simple(2), Some(BLOB))
        .await
        .expect("commit after unpause");
}

#[tokio::test]
async fn ownership_transfer_takes_two_steps() {
    let l1 = L1::start().await;
    for target in targets(&l1) {
        let name = target.name;
        let proxy = target.proxy;
        let transfer = |from: usize, to: usize| {
            managed(&l1, proxy)
                .transferOwnership(addr(to))
                .from(addr(from))
                .into_transaction_request()
        };
        let accept = |from: usize| {
            managed(&l1, proxy)
                .acceptOwnership()
                .from(addr(from))
                .into_transaction_request()
        };

        assert_reverts_with::<CommonBridge::OwnableUnauthorizedAccount, _>(
            l1.send(transfer(USER, USER)).await,
        );
        assert_eq!(pending_owner_of(&l1, proxy).await, Address::ZERO, "{name}");

        let receipt = l1
            .send(transfer(OWNER, NEW_OWNER))
            .await
            .unwrap_or_else(|e| panic!("{name}: transferOwnership: {e}"));
        let started = receipt
            .inner
            .logs()
            .iter()
            .find_map(|log| log.log_decode::<Managed::OwnershipTransferStarted>().ok())
            .expect("OwnershipTransferStarted");
        assert_eq!(
            (
                started.inner.data.previousOwner,
                started.inner.data.newOwner
            ),
            (addr(OWNER), addr(NEW_OWNER))
        );
        // Step one changes nothing but the pending owner.
        assert_eq!(owner_of(&l1, proxy).await, addr(OWNER), "{name}");
        assert_eq!(
            pending_owner_of(&l1, proxy).await,
            addr(NEW_OWNER),
            "{name}"
        );
        // Neither the owner nor the security council (Governed.pause).
        assert_reverts_with::<CommonBridge::CallerCannotPause, _>(
            pause(&l1, NEW_OWNER, proxy).await,
        );
        pause(&l1, OWNER, proxy)
            .await
            .unwrap_or_else(|e| panic!("{name}: the owner still pauses: {e}"));
        unpause(&l1, OWNER, proxy).await.expect("unpause");

        // Only the pending owner accepts.
        for who in [THIRD, OWNER] {
            assert_reverts_with::<CommonBridge::OwnableUnauthorizedAccount, _>(
                l1.send(accept(who)).await,
            );
        }
        assert_eq!(owner_of(&l1, proxy).await, addr(OWNER), "{name}");
        assert_eq!(
            pending_owner_of(&l1, proxy).await,
            addr(NEW_OWNER),
            "{name}"
        );

        let receipt = l1
            .send(accept(NEW_OWNER))
            .await
            .unwrap_or_else(|e| panic!("{name}: acceptOwnership: {e}"));
        let transferred = receipt
            .inner
            .logs()
            .iter()
            .find_map(|log| log.log_decode::<Managed::OwnershipTransferred>().ok())
            .expect("OwnershipTransferred");
        assert_eq!(
            (
                transferred.inner.data.previousOwner,
                transferred.inner.data.newOwner
            ),
            (addr(OWNER), addr(NEW_OWNER))
        );
        assert_eq!(owner_of(&l1, proxy).await, addr(NEW_OWNER), "{name}");
        assert_eq!(pending_owner_of(&l1, proxy).await, Address::ZERO, "{name}");
        assert_reverts_with::<CommonBridge::OwnableUnauthorizedAccount, _>(
            l1.send(accept(NEW_OWNER)).await,
        );

        // The old owner lost its rights, the new one has them.
        assert_reverts_with::<CommonBridge::CallerCannotPause, _>(pause(&l1, OWNER, proxy).await);
        assert_reverts_with::<CommonBridge::OwnableUnauthorizedAccount, _>(
            l1.send(transfer(OWNER, OWNER)).await,
        );
        assert_reverts_with::<CommonBridge::OwnableUnauthorizedAccount, _>(
            upgrade(&l1, OWNER, proxy, target.implementation, Bytes::new()).await,
        );
        pause(&l1, NEW_OWNER, proxy)
            .await
            .unwrap_or_else(|e| panic!("{name}: the new owner pauses: {e}"));
        assert!(is_paused(&l1, proxy).await);
        unpause(&l1, NEW_OWNER, proxy)
            .await
            .unwrap_or_else(|e| panic!("{name}: the new owner unpauses: {e}"));
        // Upgrading to the same implementation is a valid upgrade, for the new owner only.
        upgrade(&l1, NEW_OWNER, proxy, target.implementation, Bytes::new())
            .await
            .unwrap_or_else(|e| panic!("{name}: the new owner upgrades: {e}"));
    }

    // The contracts' own owner-only settings follow the new owner too.
    let old = l1
        .proposer()
        .setSequencer(addr(THIRD), true)
        .from(addr(OWNER))
        .into_transaction_request();
    assert_reverts_with::<OnChainProposer::OwnableUnauthorizedAccount, _>(l1.send(old).await);
    let new = l1
        .proposer()
        .setSequencer(addr(THIRD), true)
        .from(addr(NEW_OWNER))
        .into_transaction_request();
    l1.send(new).await.expect("new owner sets a sequencer");
    assert!(
        l1.proposer()
            .isSequencer(addr(THIRD))
            .call()
            .await
            .expect("isSequencer")
    );
    let old = l1
        .verifier()
        .setThreshold(U256::from(3))
        .from(addr(OWNER))
        .into_transaction_request();
    assert_reverts_with::<AttestationVerifier::OwnableUnauthorizedAccount, _>(l1.send(old).await);
    let new = l1
        .verifier()
        .setThreshold(U256::from(3))
        .from(addr(NEW_OWNER))
        .into_transaction_request();
    l1.send(new).await.expect("new owner sets the threshold");
    assert_eq!(
        l1.verifier().threshold().call().await.expect("threshold"),
        U256::from(3)
    );
    let old = l1
        .bridge()
        .setInclusionMaxWait(U256::from(7200))
        .from(addr(OWNER))
        .into_transaction_request();
    assert_reverts_with::<CommonBridge::OwnableUnauthorizedAccount, _>(l1.send(old).await);
    let new = l1
        .bridge()
        .setInclusionMaxWait(U256::from(7200))
        .from(addr(NEW_OWNER))
        .into_transaction_request();
    l1.send(new)
        .await
        .expect("new owner sets the inclusion wait");
    assert_eq!(
        l1.bridge()
            .inclusionMaxWait()
            .call()
            .await
            .expect("inclusionMaxWait"),
        U256::from(7200)
    );
}

#[tokio::test]
async fn revert_batch_drops_unverified_batches_while_paused() {
    let l1 = L1::start().await;
    deposit(&l1).await;
    let deposit_hash = l1
        .bridge()
        .privilegedTxHashes(U256::ZERO)
        .call()
        .await
        .expect("hash");
    let rolling = privileged_rolling_hash(&[deposit_hash]).expect("rolling hash");

    // Batches 1 and 2 plain; batch 3 includes the deposit and has withdrawals.
    let batch1 = Batch::simple(1);
    let batch2 = Batch::simple(2);
    let mut batch3 = Batch::simple(3);
    batch3.privileged_rolling_hash = rolling;
    batch3.withdrawals_root = B256::repeat_byte(0x33);
    for batch in [&batch1, &batch2, &batch3] {
        l1.commit(SEQUENCER, batch, Some(BLOB))
            .await
            .expect("commit");
    }
    assert_eq!(next_privileged_id(&l1).await, 1);
    assert_eq!(
        l1.bridge()
            .withdrawalsRoots(U256::from(3))
            .call()
            .await
            .expect("root"),
        batch3.withdrawals_root
    );
    let blob = blob_versioned_hash(BLOB);
    let inputs1 = batch1.public_inputs(l1.genesis(), blob);
    let old_inputs2 = batch2.public_inputs(batch1.as_previous(), blob);
    l1.verify(
        1,
        vec![vec![l1.attest(&inputs1, &[SIGNERS[0], SIGNERS[1]])]],
    )
    .await
    .expect("batch 1 verified");

    let revert = |from: usize, number: u64| {
        l1.proposer()
            .revertBatch(U256::from(number))
            .from(addr(from))
            .into_transaction_request()
    };
    let proposer = l1.deployment.contracts.on_chain_proposer.proxy;

    // Not while running.
    assert_reverts_with::<OnChainProposer::ExpectedPause, _>(l1.send(revert(OWNER, 2)).await);
    pause(&l1, OWNER, proposer).await.expect("pause");
    // Not by others, even while paused.
    for who in [USER, SEQUENCER] {
        assert_reverts_with::<OnChainProposer::OwnableUnauthorizedAccount, _>(
            l1.send(revert(who, 2)).await,
        );
    }
    // Not a verified batch (nor the genesis), not beyond the last committed.
    for number in [0, 1, 4] {
        assert_reverts_with::<OnChainProposer::CannotRevert, _>(
            l1.send(revert(OWNER, number)).await,
        );
    }
    assert_eq!(
        last_committed(&l1).await,
        3,
        "refused reverts change nothing"
    );
    assert_eq!(next_privileged_id(&l1).await, 1);

    let receipt = l1
        .send(revert(OWNER, 2))
        .await
        .expect("owner reverts 2..=3");
    let event = receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| log.log_decode::<OnChainProposer::BatchesReverted>().ok())
        .expect("BatchesReverted");
    assert_eq!(
        (event.inner.data.fromBatch, event.inner.data.toBatch),
        (U256::from(2), U256::from(3))
    );
    assert_eq!(last_committed(&l1).await, 1);
    assert_eq!(
        l1.proposer()
            .lastVerifiedBatch()
            .call()
            .await
            .expect("lastVerifiedBatch"),
        U256::from(1)
    );
    assert_eq!(
        next_privileged_id(&l1).await,
        0,
        "batch 3's privileged tx is uncommitted again"
    );
    assert_eq!(
        l1.bridge().pendingTxCount().call().await.expect("pending"),
        U256::from(1),
        "and still pending on the bridge"
    );
    for number in [2u64, 3] {
        let stored = l1
            .proposer()
            .getBatch(U256::from(number))
            .call()
            .await
            .expect("getBatch");
        assert_eq!(stored.newStateRoot, B256::ZERO, "batch {number} deleted");
        assert_eq!(
            stored.blobVersionedHash,
            B256::ZERO,
            "batch {number} deleted"
        );
        assert_eq!(
            l1.bridge()
                .withdrawalsRoots(U256::from(number))
                .call()
                .await
                .expect("root"),
            B256::ZERO,
            "batch {number}'s withdrawals root withdrawn"
        );
    }
    assert!(
        l1.proposer()
            .publicInputs(U256::from(2))
            .call()
            .await
            .is_err()
    );
    let kept = l1
        .proposer()
        .getBatch(U256::from(1))
        .call()
        .await
        .expect("getBatch");
    assert_eq!(kept.newStateRoot, batch1.new_state_root, "batch 1 kept");

    // Still paused: no commits.
    let mut new2 = Batch::simple(2);
    new2.new_state_root = B256::repeat_byte(0xaa);
    new2.last_block_hash = B256::repeat_byte(0xab);
    new2.privileged_rolling_hash = rolling;
    assert_reverts_with::<OnChainProposer::EnforcedPause, _>(
        l1.commit(SEQUENCER, &new2, Some(BLOB)).await,
    );
    unpause(&l1, OWNER, proposer).await.expect("unpause");

    // The old batch 3 is not next; a different batch 2 (now carrying the deposit) is.
    assert_reverts_with::<OnChainProposer::BatchNotNext, _>(
        l1.commit(SEQUENCER, &batch3, Some(BLOB)).await,
    );
    l1.commit(SEQUENCER, &new2, Some(BLOB))
        .await
        .expect("a different batch 2");
    assert_eq!(last_committed(&l1).await, 2);
    assert_eq!(next_privileged_id(&l1).await, 1);
    let stored = l1
        .proposer()
        .getBatch(U256::from(2))
        .call()
        .await
        .expect("getBatch");
    assert_eq!(stored.newStateRoot, new2.new_state_root);
    assert_eq!(stored.privilegedRollingHash, rolling);

    // Attestations of the dropped batch 2 don't verify the new one; the new one's do.
    assert_reverts_with::<AttestationVerifier::UnknownSigner, _>(
        l1.verify(
            2,
            vec![vec![l1.attest(&old_inputs2, &[SIGNERS[0], SIGNERS[1]])]],
        )
        .await,
    );
    let inputs2 = new2.public_inputs(batch1.as_previous(), blob);
    l1.verify(
        2,
        vec![vec![l1.attest(&inputs2, &[SIGNERS[1], SIGNERS[2]])]],
    )
    .await
    .expect("the new batch 2 verifies");
    assert_eq!(
        l1.bridge().pendingTxCount().call().await.expect("pending"),
        U256::ZERO
    );
}

#[tokio::test]
async fn initializers_run_only_once() {
    let l1 = L1::start().await;
    for target in targets(&l1) {
        let name = target.name;
        // The implementation's constructor disabled its initializers: nobody can take it over.
        assert_reverts_with::<CommonBridge::InvalidInitialization, _>(
            l1.send(raw_call(
                USER,
                target.implementation,
                target.initialize.clone(),
            ))
            .await,
        );
        assert_eq!(
            owner_of(&l1, target.implementation).await,
            Address::ZERO,
            "{name}: the implementation has no owner"
        );
        // Its upgrade function only works through a proxy.
        assert_reverts_with::<CommonBridge::UUPSUnauthorizedCallContext, _>(
            upgrade(
                &l1,
                USER,
                target.implementation,
                target.implementation,
                Bytes::new(),
            )
            .await,
        );
        // The proxy was initialized at deployment, once.
        for who in [USER, OWNER] {
            assert_reverts_with::<CommonBridge::InvalidInitialization, _>(
                l1.send(raw_call(who, target.proxy, target.initialize.clone()))
                    .await,
            );
        }
        assert_eq!(
            owner_of(&l1, target.proxy).await,
            addr(OWNER),
            "{name}: owner unchanged"
        );
    }
    assert_eq!(
        l1.verifier().threshold().call().await.expect("threshold"),
        U256::from(2)
    );
    assert_eq!(
        l1.bridge().l2ChainId().call().await.expect("chain id"),
        U256::from(dev::DEFAULT_L2_CHAIN_ID)
    );

    // The same initializer does run in a new proxy's constructor (so the refusals above are due
    // to the initialized state), and only then.
    let [_, _, verifier] = targets(&l1);
    let proxy = *KeelProxy::deploy(
        &l1.provider,
        verifier.implementation,
        verifier.initialize.clone(),
    )
    .await
    .expect("a new proxy")
    .address();
    let fresh = AttestationVerifier::new(proxy, &l1.provider);
    assert_eq!(owner_of(&l1, proxy).await, addr(USER));
    assert_eq!(
        fresh.threshold().call().await.expect("threshold"),
        U256::from(1)
    );
    assert!(fresh.isSigner(addr(USER)).call().await.expect("isSigner"));
    assert_reverts_with::<AttestationVerifier::InvalidInitialization, _>(
        l1.send(raw_call(OWNER, proxy, verifier.initialize.clone()))
            .await,
    );
}
