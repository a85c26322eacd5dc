//! Owner actions through the `KeelTimelock` (OpenZeppelin's `TimelockController`) that owns the
//! L1 contracts of a `keel l2 deploy` deployment (docs/contracts.md, "Governance").
//!
//! An owner action is a call of one of the contracts (e.g. `upgradeToAndCall` of a proxy, or
//! `setSequencer`). The governor (the timelock's proposer and executor) first *schedules* it with
//! `schedule(target, value, data, predecessor, salt, delay)`; once `delay` seconds have passed it
//! *executes* it with `execute(target, value, data, predecessor, salt)`, which makes the call from
//! the timelock. The operation is identified by `hashOperation(target, value, data, predecessor,
//! salt)`; the same call can be scheduled again with another salt.
//!
//! [`TimelockCall`] builds those calls (and transactions for a provider); [`operation_status`]
//! reads where an operation stands.

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::Provider,
    rpc::types::TransactionRequest,
    sol_types::{SolCall, SolValue},
};

use crate::{Deployment, contracts::KeelTimelock};

/// One call the timelock makes for its owner: the arguments of `schedule` and `execute` (without
/// the delay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelockCall {
    /// The contract called (e.g. a proxy).
    pub target: Address,
    /// Wei sent with the call.
    pub value: U256,
    /// The calldata (e.g. an ABI-encoded `upgradeToAndCall`).
    pub data: Bytes,
    /// An operation that must be done before this one can execute (zero: none).
    pub predecessor: B256,
    /// Distinguishes otherwise identical operations.
    pub salt: B256,
}

impl TimelockCall {
    /// A call of `target` with `data`, no value, no predecessor and a zero salt.
    pub fn new(target: Address, data: impl Into<Bytes>) -> Self {
        Self {
            target,
            value: U256::ZERO,
            data: data.into(),
            predecessor: B256::ZERO,
            salt: B256::ZERO,
        }
    }

    /// The same call with `salt`.
    pub fn with_salt(mut self, salt: B256) -> Self {
        self.salt = salt;
        self
    }

    /// The operation id: what `hashOperation(target, value, data, predecessor, salt)` returns,
    /// `keccak256(abi.encode(target, value, data, predecessor, salt))`.
    pub fn operation_id(&self) -> B256 {
        keccak256(
            (
                self.target,
                self.value,
                self.data.clone(),
                self.predecessor,
                self.salt,
            )
                .abi_encode_params(),
        )
    }

    /// Calldata of `schedule(target, value, data, predecessor, salt, delay)`. `delay` must be at
    /// least the timelock's `getMinDelay()`.
    pub fn schedule_calldata(&self, delay: u64) -> Bytes {
        KeelTimelock::scheduleCall {
            target: self.target,
            value: self.value,
            data: self.data.clone(),
            predecessor: self.predecessor,
            salt: self.salt,
            delay: U256::from(delay),
        }
        .abi_encode()
        .into()
    }

    /// Calldata of `execute(target, value, data, predecessor, salt)`.
    pub fn execute_calldata(&self) -> Bytes {
        KeelTimelock::executeCall {
            target: self.target,
            value: self.value,
            payload: self.data.clone(),
            predecessor: self.predecessor,
            salt: self.salt,
        }
        .abi_encode()
        .into()
    }

    /// The transaction that schedules this call in `timelock`, sent by the proposer `from`.
    pub fn schedule_tx(&self, timelock: Address, from: Address, delay: u64) -> TransactionRequest {
        TransactionRequest::default()
            .with_from(from)
            .with_to(timelock)
            .with_input(self.schedule_calldata(delay))
    }

    /// The transaction that executes this call in `timelock`, sent by the executor `from` (with
    /// the call's value).
    pub fn execute_tx(&self, timelock: Address, from: Address) -> TransactionRequest {
        TransactionRequest::default()
            .with_from(from)
            .with_to(timelock)
            .with_value(self.value)
            .with_input(self.execute_calldata())
    }
}

/// Where an operation stands (`TimelockController.OperationState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationState {
    /// Not scheduled (or cancelled).
    Unset,
    /// Scheduled; its delay has not passed yet.
    Waiting,
    /// Scheduled and its delay has passed: it can be executed.
    Ready,
    /// Executed.
    Done,
}

/// An operation's state and when it becomes (or became) executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationStatus {
    /// The operation id.
    pub id: B256,
    /// Its state.
    pub state: OperationState,
    /// Unix time from which it can be executed; `None` when unset, `Some(1)` once done (the
    /// timelock's own marker).
    pub ready_at: Option<u64>,
}

/// Why a timelock operation could not be built or read.
#[derive(Debug, thiserror::Error)]
pub enum TimelockError {
    /// The L1 RPC failed.
    #[error("L1 RPC: {0}")]
    Rpc(String),
    /// The deployment has no timelock (deployed without one: the owner acts directly).
    #[error("the deployment has no timelock: its owner {0} calls the contracts directly")]
    NoTimelock(Address),
    /// A target that is neither an address nor a contract of the deployment.
    #[error(
        "unknown target {0:?}: give an address or one of CommonBridge, OnChainProposer, \
         AttestationVerifier, KeelTimelock"
    )]
    UnknownTarget(String),
    /// The timelock answered something it never returns.
    #[error("the timelock returned an unknown operation state {0}")]
    UnknownState(u8),
}

/// The address of `target` in `deployment`: a `0x…` address, or the name of one of its contracts
/// (case-insensitive; `CommonBridge`/`bridge`, `OnChainProposer`/`proposer`,
/// `AttestationVerifier`/`verifier`, `KeelTimelock`/`timelock` for the timelock's own settings such
/// as `updateDelay`). A name gives the proxy, never the implementation.
pub fn resolve_target(deployment: &Deployment, target: &str) -> Result<Address, TimelockError> {
    if target.starts_with("0x") {
        return target
            .parse()
            .map_err(|_| TimelockError::UnknownTarget(target.to_string()));
    }
    let c = &deployment.contracts;
    match target.to_ascii_lowercase().as_str() {
        "commonbridge" | "bridge" => Ok(c.common_bridge.proxy),
        "onchainproposer" | "proposer" => Ok(c.on_chain_proposer.proxy),
        "attestationverifier" | "verifier" => Ok(c.attestation_verifier.proxy),
        "keeltimelock" | "timelock" => deployment
            .timelock
            .ok_or(TimelockError::NoTimelock(deployment.owner)),
        _ => Err(TimelockError::UnknownTarget(target.to_string())),
    }
}

/// The state of operation `id` in `timelock` and when it is (or was) ready.
pub async fn operation_status<P: Provider>(
    provider: &P,
    timelock: Address,
    id: B256,
) -> Result<OperationStatus, TimelockError> {
    let rpc = |e: alloy::contract::Error| TimelockError::Rpc(e.to_string());
    let instance = KeelTimelock::new(timelock, provider);
    let state = instance.getOperationState(id).call().await.map_err(rpc)?;
    let timestamp = instance.getTimestamp(id).call().await.map_err(rpc)?;
    let state = match state {
        0 => OperationState::Unset,
        1 => OperationState::Waiting,
        2 => OperationState::Ready,
        3 => OperationState::Done,
        other => return Err(TimelockError::UnknownState(other)),
    };
    let ready_at = (!timestamp.is_zero()).then(|| timestamp.saturating_to::<u64>());
    Ok(OperationStatus {
        id,
        state,
        ready_at,
    })
}
