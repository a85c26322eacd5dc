//! Governance with a delay on a real anvil: a deployment with a `KeelTimelock` (delay one hour)
//! that owns the three contracts and a security council. The governor acts only through the
//! timelock (schedule, wait the delay, execute), the council can only pause, and nobody can
//! renounce ownership.

mod common;

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    rpc::types::TransactionReceipt,
    sol_types::SolCall,
};
use common::{L1, OWNER, SEQUENCER, USER, addr, assert_reverts_with, call, ether};
use keel_l1::{
    OperationState, TimelockCall,
    contracts::{AttestationVerifier, CommonBridge, KeelTimelock, OnChainProposer},
    deploy,
    deploy::IMPLEMENTATION_SLOT,
    timelock::{operation_status, resolve_target},
};

/// `contracts/test/H4BridgeV2.sol`: CommonBridge plus `version()`.
#[allow(clippy::too_many_arguments)]
mod v2 {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        H4BridgeV2,
        "../../contracts/artifacts/H4BridgeV2.json"
    );
}
use v2::H4BridgeV2;

/// The timelock's delay in these tests.
const DELAY: u64 = 3600;
/// The security council.
const COUNCIL: usize = 8;
/// An account that gets a role in a parameter change.
const NEW_SEQUENCER: usize = 7;

async fn start() -> L1 {
    L1::start_with(|c| {
        c.timelock_delay = Some(DELAY);
        c.security_council = addr(COUNCIL);
    })
    .await
}

fn timelock(l1: &L1) -> Address {
    l1.deployment.timelock.expect("a timelock")
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

async fn schedule(
    l1: &L1,
    from: usize,
    op: &TimelockCall,
    delay: u64,
) -> Result<TransactionReceipt, String> {
    l1.send(op.schedule_tx(timelock(l1), addr(from), delay))
        .await
}

async fn execute(l1: &L1, from: usize, op: &TimelockCall) -> Result<TransactionReceipt, String> {
    l1.send(op.execute_tx(timelock(l1), addr(from))).await
}

async fn state(l1: &L1, op: &TimelockCall) -> OperationState {
    operation_status(&l1.provider, timelock(l1), op.operation_id())
        .await
        .expect("operation status")
        .state
}

async fn implementation_of(l1: &L1, proxy: Address) -> Address {
    let word = l1
        .provider
        .get_storage_at(proxy, IMPLEMENTATION_SLOT.into())
        .await
        .expect("implementation slot");
    Address::from_word(word.into())
}

/// Runs `op` through the timelock as the governor: schedule, wait the delay, execute.
async fn through_timelock(l1: &L1, op: &TimelockCall) -> TransactionReceipt {
    schedule(l1, OWNER, op, DELAY).await.expect("schedule");
    l1.increase_time(DELAY).await;
    execute(l1, OWNER, op).await.expect("execute")
}

#[tokio::test]
async fn the_timelock_owns_the_contracts_and_the_governor_cannot_act_directly() {
    let l1 = start().await;
    let timelock_address = timelock(&l1);
    let tl = KeelTimelock::new(timelock_address, &l1.provider);
    assert_eq!(l1.deployment.timelock_delay, Some(DELAY));
    assert_eq!(
        tl.getMinDelay().call().await.expect("min delay"),
        U256::from(DELAY)
    );
    for role in [
        tl.PROPOSER_ROLE().call().await.expect("role"),
        tl.EXECUTOR_ROLE().call().await.expect("role"),
        tl.CANCELLER_ROLE().call().await.expect("role"),
    ] {
        assert!(tl.hasRole(role, addr(OWNER)).call().await.expect("hasRole"));
        assert!(
            !tl.hasRole(role, addr(COUNCIL))
                .call()
                .await
                .expect("hasRole")
        );
        assert!(!tl.hasRole(role, addr(USER)).call().await.expect("hasRole"));
    }
    // No admin besides the timelock itself: role changes wait the delay too.
    let admin = tl.DEFAULT_ADMIN_ROLE().call().await.expect("role");
    assert!(
        !tl.hasRole(admin, addr(OWNER))
            .call()
            .await
            .expect("hasRole")
    );
    assert!(
        tl.hasRole(admin, timelock_address)
            .call()
            .await
            .expect("hasRole")
    );

    let bridge = l1.bridge();
    for (name, proxy) in proxies(&l1) {
        let owner = CommonBridge::new(proxy, &l1.provider)
            .owner()
            .call()
            .await
            .expect("owner");
        assert_eq!(owner, timelock_address, "{name} is owned by the timelock");
        let council = CommonBridge::new(proxy, &l1.provider)
            .securityCouncil()
            .call()
            .await
            .expect("securityCouncil");
        assert_eq!(council, addr(COUNCIL), "{name}");
        // The governor's direct owner calls are refused.
        let fresh = *CommonBridge::deploy(&l1.provider)
            .await
            .expect("impl")
            .address();
        let upgrade = CommonBridge::upgradeToAndCallCall {
            newImplementation: fresh,
            data: Bytes::new(),
        }
        .abi_encode();
        assert_reverts_with::<CommonBridge::OwnableUnauthorizedAccount, _>(
            l1.send(call(OWNER, proxy, upgrade)).await,
        );
        let set_council = CommonBridge::setSecurityCouncilCall {
            securityCouncil_: addr(OWNER),
        }
        .abi_encode();
        assert_reverts_with::<CommonBridge::OwnableUnauthorizedAccount, _>(
            l1.send(call(OWNER, proxy, set_council)).await,
        );
        // Not even pause: the governor's fast path is the security council.
        assert_reverts_with::<CommonBridge::CallerCannotPause, _>(
            l1.send(call(OWNER, proxy, CommonBridge::pauseCall {}.abi_encode()))
                .await,
        );
    }
    let set_sequencer = OnChainProposer::setSequencerCall {
        sequencer: addr(NEW_SEQUENCER),
        allowed: true,
    }
    .abi_encode();
    assert_reverts_with::<OnChainProposer::OwnableUnauthorizedAccount, _>(
        l1.send(call(
            OWNER,
            l1.deployment.contracts.on_chain_proposer.proxy,
            set_sequencer,
        ))
        .await,
    );
    let set_threshold = AttestationVerifier::setThresholdCall {
        threshold_: U256::from(1),
    }
    .abi_encode();
    assert_reverts_with::<AttestationVerifier::OwnableUnauthorizedAccount, _>(
        l1.send(call(
            OWNER,
            l1.deployment.contracts.attestation_verifier.proxy,
            set_threshold,
        ))
        .await,
    );
    let set_gas = CommonBridge::setMaxPrivilegedGasLimitCall {
        maxPrivilegedGasLimit_: U256::from(1_000_000),
    }
    .abi_encode();
    assert_reverts_with::<CommonBridge::OwnableUnauthorizedAccount, _>(
        l1.send(call(OWNER, *bridge.address(), set_gas)).await,
    );

    // A second deploy with the same file finds all seven steps and sends nothing.
    let nonce = l1
        .provider
        .get_transaction_count(addr(OWNER))
        .await
        .expect("nonce");
    let mut config = common::test_config();
    config.timelock_delay = Some(DELAY);
    config.security_council = addr(COUNCIL);
    let again = deploy(
        &l1.provider,
        addr(OWNER),
        &config,
        &l1.dir.path().join("deployment.json"),
    )
    .await
    .expect("second run");
    assert!(again.sent.is_empty(), "{:?}", again.sent);
    assert_eq!(again.existing.len(), 7);
    assert_eq!(again.existing[6], ("KeelTimelock", timelock_address));
    assert_eq!(again.deployment, l1.deployment);
    assert_eq!(
        l1.provider
            .get_transaction_count(addr(OWNER))
            .await
            .expect("nonce"),
        nonce,
        "no transaction sent"
    );
}

#[tokio::test]
async fn an_upgrade_through_the_timelock_waits_for_the_delay() {
    let l1 = start().await;
    let bridge_proxy = l1.deployment.contracts.common_bridge.proxy;
    let old_impl = l1.deployment.contracts.common_bridge.implementation;
    // State that must survive the upgrade.
    let tx = l1
        .bridge()
        .deposit(addr(USER))
        .value(ether(1))
        .from(addr(USER))
        .into_transaction_request();
    l1.send(tx).await.expect("deposit");
    let hash = l1
        .bridge()
        .privilegedTxHashes(U256::ZERO)
        .call()
        .await
        .expect("hash");

    let v2 = *H4BridgeV2::deploy(&l1.provider)
        .await
        .expect("new implementation")
        .address();
    let op = TimelockCall::new(
        resolve_target(&l1.deployment, "CommonBridge").expect("target"),
        CommonBridge::upgradeToAndCallCall {
            newImplementation: v2,
            data: Bytes::new(),
        }
        .abi_encode(),
    );
    assert_eq!(op.target, bridge_proxy);
    // The Rust operation id is the timelock's.
    let tl = KeelTimelock::new(timelock(&l1), &l1.provider);
    assert_eq!(
        tl.hashOperation(
            op.target,
            op.value,
            op.data.clone(),
            op.predecessor,
            op.salt
        )
        .call()
        .await
        .expect("hashOperation"),
        op.operation_id()
    );
    assert_eq!(state(&l1, &op).await, OperationState::Unset);

    // Only the governor schedules, and not with less than the delay.
    assert_reverts_with::<KeelTimelock::AccessControlUnauthorizedAccount, _>(
        schedule(&l1, USER, &op, DELAY).await,
    );
    assert_reverts_with::<KeelTimelock::AccessControlUnauthorizedAccount, _>(
        schedule(&l1, COUNCIL, &op, DELAY).await,
    );
    assert_reverts_with::<KeelTimelock::TimelockInsufficientDelay, _>(
        schedule(&l1, OWNER, &op, DELAY - 1).await,
    );
    let receipt = schedule(&l1, OWNER, &op, DELAY).await.expect("schedule");
    let scheduled_at = l1
        .provider
        .get_block_by_number(receipt.block_number.expect("block").into())
        .await
        .expect("block")
        .expect("block")
        .header
        .timestamp;
    let status = operation_status(&l1.provider, timelock(&l1), op.operation_id())
        .await
        .expect("status");
    assert_eq!(status.state, OperationState::Waiting);
    assert_eq!(status.ready_at, Some(scheduled_at + DELAY));

    // Not before the delay.
    assert_reverts_with::<KeelTimelock::TimelockUnexpectedOperationState, _>(
        execute(&l1, OWNER, &op).await,
    );
    l1.increase_time(DELAY - 60).await;
    assert_reverts_with::<KeelTimelock::TimelockUnexpectedOperationState, _>(
        execute(&l1, OWNER, &op).await,
    );
    assert_eq!(implementation_of(&l1, bridge_proxy).await, old_impl);
    assert!(
        H4BridgeV2::new(bridge_proxy, &l1.provider)
            .version()
            .call()
            .await
            .is_err(),
        "the old implementation has no version()"
    );

    l1.increase_time(60).await;
    assert_eq!(state(&l1, &op).await, OperationState::Ready);
    // Only the governor executes.
    assert_reverts_with::<KeelTimelock::AccessControlUnauthorizedAccount, _>(
        execute(&l1, USER, &op).await,
    );
    execute(&l1, OWNER, &op).await.expect("execute");
    assert_eq!(state(&l1, &op).await, OperationState::Done);
    assert_eq!(implementation_of(&l1, bridge_proxy).await, v2);
    assert_eq!(
        H4BridgeV2::new(bridge_proxy, &l1.provider)
            .version()
            .call()
            .await
            .expect("version"),
        U256::from(2)
    );
    // The state and the ownership survived.
    assert_eq!(
        l1.bridge()
            .privilegedTxHashes(U256::ZERO)
            .call()
            .await
            .expect("hash"),
        hash
    );
    assert_eq!(
        l1.bridge().owner().call().await.expect("owner"),
        timelock(&l1)
    );
    // An operation runs once; the same call again needs another salt (and another delay).
    assert_reverts_with::<KeelTimelock::TimelockUnexpectedOperationState, _>(
        execute(&l1, OWNER, &op).await,
    );
    let again = op.clone().with_salt(B256::repeat_byte(1));
    assert_ne!(again.operation_id(), op.operation_id());
    schedule(&l1, OWNER, &again, DELAY)
        .await
        .expect("schedule again");
    assert_reverts_with::<KeelTimelock::TimelockUnexpectedOperationState, _>(
        execute(&l1, OWNER, &again).await,
    );
}

#[tokio::test]
async fn a_parameter_change_through_the_timelock_waits_for_the_delay() {
    let l1 = start().await;
    let proposer = l1.deployment.contracts.on_chain_proposer.proxy;
    let bridge = l1.deployment.contracts.common_bridge.proxy;
    let set_sequencer = TimelockCall::new(
        proposer,
        OnChainProposer::setSequencerCall {
            sequencer: addr(NEW_SEQUENCER),
            allowed: true,
        }
        .abi_encode(),
    );
    let set_gas = TimelockCall::new(
        bridge,
        CommonBridge::setMaxPrivilegedGasLimitCall {
            maxPrivilegedGasLimit_: U256::from(1_000_000),
        }
        .abi_encode(),
    );
    for op in [&set_sequencer, &set_gas] {
        schedule(&l1, OWNER, op, DELAY).await.expect("schedule");
        assert_reverts_with::<KeelTimelock::TimelockUnexpectedOperationState, _>(
            execute(&l1, OWNER, op).await,
        );
    }
    l1.increase_time(DELAY / 2).await;
    for op in [&set_sequencer, &set_gas] {
        assert_reverts_with::<KeelTimelock::TimelockUnexpectedOperationState, _>(
            execute(&l1, OWNER, op).await,
        );
    }
    let is_sequencer = || async {
        l1.proposer()
            .isSequencer(addr(NEW_SEQUENCER))
            .call()
            .await
            .expect("isSequencer")
    };
    let max_gas = || async {
        l1.bridge()
            .maxPrivilegedGasLimit()
            .call()
            .await
            .expect("maxPrivilegedGasLimit")
    };
    assert!(!is_sequencer().await);
    assert_eq!(max_gas().await, U256::from(common::MAX_PRIVILEGED_GAS));

    l1.increase_time(DELAY / 2).await;
    for op in [&set_sequencer, &set_gas] {
        execute(&l1, OWNER, op).await.expect("execute");
    }
    assert!(is_sequencer().await);
    assert_eq!(max_gas().await, U256::from(1_000_000));
    // The contract's own checks still apply to the timelock's calls: an out-of-range cap reverts
    // at execution, with the contract's error.
    let bad = TimelockCall::new(
        bridge,
        CommonBridge::setMaxPrivilegedGasLimitCall {
            maxPrivilegedGasLimit_: U256::from(1),
        }
        .abi_encode(),
    );
    schedule(&l1, OWNER, &bad, DELAY).await.expect("schedule");
    l1.increase_time(DELAY).await;
    assert_reverts_with::<CommonBridge::InvalidMaxPrivilegedGasLimit, _>(
        execute(&l1, OWNER, &bad).await,
    );
    assert_eq!(max_gas().await, U256::from(1_000_000));
}

#[tokio::test]
async fn the_security_council_can_only_pause() {
    let l1 = start().await;
    let [(_, bridge), (_, proposer), (_, verifier)] = proxies(&l1);
    let fresh = *CommonBridge::deploy(&l1.provider)
        .await
        .expect("impl")
        .address();

    for (name, proxy) in proxies(&l1) {
        // Nobody else pauses.
        for who in [USER, SEQUENCER] {
            assert_reverts_with::<CommonBridge::CallerCannotPause, _>(
                l1.send(call(who, proxy, CommonBridge::pauseCall {}.abi_encode()))
                    .await,
            );
        }
        let receipt = l1
            .send(call(
                COUNCIL,
                proxy,
                CommonBridge::pauseCall {}.abi_encode(),
            ))
            .await
            .unwrap_or_else(|e| panic!("{name}: the council pauses: {e}"));
        let paused_at = l1
            .provider
            .get_block_by_number(receipt.block_number.expect("block").into())
            .await
            .expect("block")
            .expect("block")
            .header
            .timestamp;
        let c = CommonBridge::new(proxy, &l1.provider);
        assert!(c.paused().call().await.expect("paused"), "{name}");
        assert_eq!(
            c.pausedAt().call().await.expect("pausedAt"),
            U256::from(paused_at),
            "{name}"
        );
        // But can't unpause, upgrade, change the council or hand over ownership.
        for input in [
            CommonBridge::unpauseCall {}.abi_encode(),
            CommonBridge::upgradeToAndCallCall {
                newImplementation: fresh,
                data: Bytes::new(),
            }
            .abi_encode(),
            CommonBridge::setSecurityCouncilCall {
                securityCouncil_: addr(USER),
            }
            .abi_encode(),
            CommonBridge::transferOwnershipCall {
                newOwner: addr(COUNCIL),
            }
            .abi_encode(),
        ] {
            assert_reverts_with::<CommonBridge::OwnableUnauthorizedAccount, _>(
                l1.send(call(COUNCIL, proxy, input)).await,
            );
        }
    }
    // Nor change any parameter.
    let refused: [(Address, Vec<u8>); 4] = [
        (
            proposer,
            OnChainProposer::setSequencerCall {
                sequencer: addr(COUNCIL),
                allowed: true,
            }
            .abi_encode(),
        ),
        (
            verifier,
            AttestationVerifier::setSignerCall {
                signer: addr(COUNCIL),
                registered: true,
            }
            .abi_encode(),
        ),
        (
            bridge,
            CommonBridge::setMaxPauseCall {
                maxPause_: U256::from(1),
            }
            .abi_encode(),
        ),
        (
            proposer,
            OnChainProposer::revertBatchCall {
                batchNumber: U256::from(1),
            }
            .abi_encode(),
        ),
    ];
    for (to, input) in refused {
        assert_reverts_with::<CommonBridge::OwnableUnauthorizedAccount, _>(
            l1.send(call(COUNCIL, to, input)).await,
        );
    }
    // Nor go through the timelock.
    let unpause = TimelockCall::new(bridge, CommonBridge::unpauseCall {}.abi_encode());
    assert_reverts_with::<KeelTimelock::AccessControlUnauthorizedAccount, _>(
        schedule(&l1, COUNCIL, &unpause, DELAY).await,
    );

    // Paused: deposits stop.
    let tx = l1
        .bridge()
        .deposit(addr(USER))
        .value(ether(1))
        .from(addr(USER))
        .into_transaction_request();
    assert_reverts_with::<CommonBridge::EnforcedPause, _>(l1.send(tx.clone()).await);
    // The owner (the timelock) unpauses, after the delay.
    through_timelock(&l1, &unpause).await;
    assert!(!l1.bridge().paused().call().await.expect("paused"));
    assert_eq!(
        l1.bridge().pausedAt().call().await.expect("pausedAt"),
        U256::ZERO
    );
    l1.send(tx).await.expect("deposit after the unpause");
    assert!(l1.proposer().paused().call().await.expect("paused"));
}

#[tokio::test]
async fn ownership_cannot_be_renounced() {
    let l1 = start().await;
    let renounce = CommonBridge::renounceOwnershipCall {}.abi_encode();
    // Not by anyone directly ...
    for (name, proxy) in proxies(&l1) {
        for who in [OWNER, COUNCIL, USER] {
            assert_reverts_with::<CommonBridge::RenounceOwnershipDisabled, _>(
                l1.send(call(who, proxy, renounce.clone())).await,
            );
        }
        assert_eq!(
            CommonBridge::new(proxy, &l1.provider)
                .owner()
                .call()
                .await
                .expect("owner"),
            timelock(&l1),
            "{name}"
        );
    }
    // ... nor by the owner itself, through the timelock.
    let op = TimelockCall::new(l1.deployment.contracts.common_bridge.proxy, renounce);
    schedule(&l1, OWNER, &op, DELAY).await.expect("schedule");
    l1.increase_time(DELAY).await;
    assert_reverts_with::<CommonBridge::RenounceOwnershipDisabled, _>(
        execute(&l1, OWNER, &op).await,
    );
    assert_eq!(
        l1.bridge().owner().call().await.expect("owner"),
        timelock(&l1)
    );

    // Without a timelock, the owner EOA can't either.
    let direct = L1::start().await;
    assert_eq!(
        direct.bridge().owner().call().await.expect("owner"),
        addr(OWNER)
    );
    for (name, proxy) in proxies(&direct) {
        assert_reverts_with::<CommonBridge::RenounceOwnershipDisabled, _>(
            direct
                .send(call(
                    OWNER,
                    proxy,
                    CommonBridge::renounceOwnershipCall {}.abi_encode(),
                ))
                .await,
        );
        assert_eq!(
            CommonBridge::new(proxy, &direct.provider)
                .owner()
                .call()
                .await
                .expect("owner"),
            addr(OWNER),
            "{name}"
        );
    }
}
