//! Transactions that are not part of a block: what `eth_call`, `eth_estimateGas` and
//! `eth_createAccessList` run. A call executes on the state after some block, seen through a revm
//! [`CacheDB`] (into which the caller may have written state overrides), in an environment like
//! that block's, with the checks a node relaxes for calls as geth does: no nonce check, no
//! EIP-3607 "sender has code" check, and the gas limit bounded by the RPC gas cap instead of the
//! block's. Nothing is ever committed: the cache only holds what was read and the overrides.

use std::{
    collections::{BTreeMap, BTreeSet, HashSet},
    fmt::Debug,
    sync::Arc,
};

use alloy_consensus::Header;
use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_evm::{
    Evm, EvmEnv, EvmFactory,
    eth::{EthEvmFactory, NextEvmEnvAttributes},
};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use keel_types::ChainSpec;
use revm::{
    Database, DatabaseRef,
    bytecode::opcode,
    context::TxEnv,
    context_interface::result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction},
    database::CacheDB,
    inspector::Inspector,
    interpreter::{
        Interpreter,
        interpreter::EthInterpreter,
        interpreter_types::{InputsTr, Jumps},
    },
    precompile::{PrecompileSpecId, Precompiles},
    primitives::KECCAK_EMPTY,
};

use crate::EvmSpec;

/// Gas of a plain value transfer.
const TX_GAS: u64 = 21_000;
/// Gas a value-carrying CALL hands to the callee for free (geth's `params.CallStipend`).
const CALL_STIPEND: u64 = 2_300;
/// `eth_createAccessList` re-runs the call until the list stops changing; a call whose accesses
/// keep moving with the list (it inspects its own gas) is cut off after this many runs.
const MAX_ACCESS_LIST_RUNS: usize = 16;

/// The outcome of a call: success with output, revert with data, or a halt.
pub type CallResult = ExecutionResult<HaltReason>;

/// The environment of a call on the state after `header`: that block's number, timestamp, base
/// fee, gas limit and coinbase (what geth uses for `eth_call` at a block).
pub fn call_env(spec: &Arc<ChainSpec>, header: &Header) -> EvmEnv {
    relax(EvmEnv::for_eth_block(
        header,
        EvmSpec(spec.clone()),
        spec.chain_id,
        spec.blob_params_at(header.timestamp),
    ))
}

/// The environment of the block that would follow `parent`, at `timestamp` with `base_fee`
/// (geth's "pending" block): parent number + 1, the parent's gas limit, coinbase and randomness.
pub fn next_block_call_env(
    spec: &Arc<ChainSpec>,
    parent: &Header,
    timestamp: u64,
    base_fee: u64,
) -> EvmEnv {
    let attributes = NextEvmEnvAttributes {
        timestamp,
        suggested_fee_recipient: parent.beneficiary,
        prev_randao: parent.mix_hash,
        gas_limit: parent.gas_limit,
        slot_number: None,
    };
    relax(EvmEnv::for_eth_next_block(
        parent,
        attributes,
        base_fee,
        EvmSpec(spec.clone()),
        spec.chain_id,
        spec.blob_params_at(timestamp),
    ))
}

fn relax(mut env: EvmEnv) -> EvmEnv {
    env.cfg_env.disable_nonce_check = true;
    env.cfg_env.disable_eip3607 = true;
    env.cfg_env.disable_block_gas_limit = true;
    env
}

/// Execute `tx` once on `db` without committing anything.
pub fn transact<DB>(
    db: &mut CacheDB<DB>,
    env: &EvmEnv,
    tx: TxEnv,
) -> Result<CallResult, EVMError<DB::Error>>
where
    DB: DatabaseRef + Debug,
    DB::Error: Send + Sync + 'static,
{
    let mut evm = EthEvmFactory::default().create_evm(db, env.clone());
    Ok(evm.transact(tx)?.result)
}

/// Why no gas estimate could be made.
#[derive(Debug)]
pub enum EstimateError<E> {
    /// The transaction is invalid whatever its gas limit, or the database failed.
    Evm(EVMError<E>),
    /// It reverts even with the most gas allowed; the revert data.
    Reverted(Bytes),
    /// It halts even with the most gas allowed, for a reason other than gas.
    Halted(HaltReason),
    /// It runs out of gas even with the most gas allowed (that amount).
    GasRequiredExceedsAllowance(u64),
    /// The sender cannot pay the value it sends.
    InsufficientFundsForTransfer,
}

impl<E> From<EVMError<E>> for EstimateError<E> {
    fn from(error: EVMError<E>) -> Self {
        Self::Evm(error)
    }
}

/// The smallest gas limit (within `error_ratio` of it, upwards) with which `tx` succeeds, by
/// geth's algorithm: the upper bound is the request's gas (or the block's gas limit), capped by
/// what the sender can pay at the fee and by `gas_cap`; a plain transfer tries 21,000 first; one
/// run at the upper bound must succeed (its revert is the answer otherwise); then an optimistic
/// guess of `(used + refund + stipend) * 64 / 63`, then a binary search skewed low.
pub fn estimate_gas<DB>(
    db: &mut CacheDB<DB>,
    env: &EvmEnv,
    mut tx: TxEnv,
    gas_cap: u64,
    error_ratio: f64,
) -> Result<u64, EstimateError<DB::Error>>
where
    DB: DatabaseRef + Debug,
    DB::Error: Send + Sync + 'static,
{
    let mut hi = if tx.gas_limit >= TX_GAS {
        tx.gas_limit
    } else {
        env.block_env.gas_limit
    };
    let balance = db
        .basic(tx.caller)
        .map_err(EVMError::Database)?
        .map_or(U256::ZERO, |account| account.balance);
    if tx.value > balance {
        return Err(EstimateError::InsufficientFundsForTransfer);
    }
    let fee_cap = U256::from(tx.gas_price);
    if !fee_cap.is_zero() {
        if tx.value >= balance && !tx.value.is_zero() {
            return Err(EstimateError::InsufficientFundsForTransfer);
        }
        let allowance = (balance - tx.value) / fee_cap;
        if let Ok(allowance) = u64::try_from(allowance) {
            hi = hi.min(allowance);
        }
    }
    if gas_cap != 0 {
        hi = hi.min(gas_cap);
    }

    // A plain transfer: try exactly 21,000 (it may still need more, e.g. for an access list).
    if let TxKind::Call(to) = tx.kind
        && tx.data.is_empty()
    {
        let code_hash = db
            .basic(to)
            .map_err(EVMError::Database)?
            .map_or(KECCAK_EMPTY, |account| account.code_hash);
        if (code_hash == KECCAK_EMPTY || code_hash == B256::ZERO)
            && run_with_gas(db, env, &mut tx, TX_GAS)?.is_some_and(|r| r.is_success())
        {
            return Ok(TX_GAS);
        }
    }

    let first = match run_with_gas(db, env, &mut tx, hi)? {
        Some(result) => result,
        None => return Err(EstimateError::GasRequiredExceedsAllowance(hi)),
    };
    let (used, refunded) = match &first {
        ExecutionResult::Success { gas, .. } => (gas.tx_gas_used(), gas.final_refunded()),
        ExecutionResult::Revert { output, .. } => {
            return Err(EstimateError::Reverted(output.clone()));
        }
        ExecutionResult::Halt {
            reason: HaltReason::OutOfGas(_),
            ..
        } => return Err(EstimateError::GasRequiredExceedsAllowance(hi)),
        ExecutionResult::Halt { reason, .. } => return Err(EstimateError::Halted(reason.clone())),
    };
    let mut lo = used.saturating_sub(1);

    let optimistic = used
        .saturating_add(refunded)
        .saturating_add(CALL_STIPEND)
        .saturating_mul(64)
        / 63;
    if optimistic < hi {
        if succeeds(run_with_gas(db, env, &mut tx, optimistic)?) {
            hi = optimistic;
        } else {
            lo = optimistic;
        }
    }
    while lo + 1 < hi {
        if error_ratio > 0.0 && ((hi - lo) as f64) / (hi as f64) < error_ratio {
            break;
        }
        let mut mid = lo + (hi - lo) / 2;
        if mid > lo.saturating_mul(2) {
            // Most transactions need little more than they use: bisect towards the low end.
            mid = lo * 2;
        }
        if succeeds(run_with_gas(db, env, &mut tx, mid)?) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

fn succeeds(result: Option<CallResult>) -> bool {
    result.is_some_and(|r| r.is_success())
}

/// Run `tx` with `gas`; `None` if the gas does not even cover the intrinsic cost (or the
/// EIP-7623 calldata floor), which for an estimate just means "more gas".
fn run_with_gas<DB>(
    db: &mut CacheDB<DB>,
    env: &EvmEnv,
    tx: &mut TxEnv,
    gas: u64,
) -> Result<Option<CallResult>, EVMError<DB::Error>>
where
    DB: DatabaseRef + Debug,
    DB::Error: Send + Sync + 'static,
{
    tx.gas_limit = gas;
    match transact(db, env, tx.clone()) {
        Ok(result) => Ok(Some(result)),
        Err(EVMError::Transaction(
            InvalidTransaction::CallGasCostMoreThanGasLimit { .. }
            | InvalidTransaction::GasFloorMoreThanGasLimit { .. },
        )) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What `eth_createAccessList` found: the list, the gas the call used with it, and the call's
/// outcome with it (which may be a revert or halt: geth reports that beside the list).
#[derive(Debug)]
pub struct AccessListOutcome {
    pub access_list: AccessList,
    pub gas_used: u64,
    pub result: CallResult,
}

/// The access list of `tx` (geth's algorithm): run it with an inspector that records the
/// accounts and slots its opcodes touch (not the sender, the recipient or precompiles), put that
/// list into the transaction and run again, until the list no longer changes.
pub fn create_access_list<DB>(
    db: &mut CacheDB<DB>,
    env: &EvmEnv,
    mut tx: TxEnv,
) -> Result<AccessListOutcome, EVMError<DB::Error>>
where
    DB: DatabaseRef + Debug,
    DB::Error: Send + Sync + 'static,
{
    let to = match tx.kind {
        TxKind::Call(to) => to,
        TxKind::Create => {
            let nonce = db
                .basic(tx.caller)
                .map_err(EVMError::Database)?
                .map_or(0, |account| account.nonce);
            tx.caller.create(nonce)
        }
    };
    let precompiles = Precompiles::new(PrecompileSpecId::from_spec_id(env.cfg_env.spec));
    let mut excluded: HashSet<Address> = precompiles.addresses().copied().collect();
    excluded.insert(tx.caller);
    excluded.insert(to);

    let mut previous = AccessListInspector::new(&tx.access_list, excluded.clone());
    let mut runs = 0;
    loop {
        runs += 1;
        let list = previous.access_list();
        tx.access_list = list.clone();
        let mut inspector = AccessListInspector::new(&list, excluded.clone());
        let result = {
            let mut evm = EthEvmFactory::default().create_evm_with_inspector(
                &mut *db,
                env.clone(),
                &mut inspector,
            );
            evm.transact(tx.clone())?.result
        };
        if inspector.touched == previous.touched || runs >= MAX_ACCESS_LIST_RUNS {
            return Ok(AccessListOutcome {
                access_list: list,
                gas_used: result.tx_gas_used(),
                result,
            });
        }
        previous = inspector;
    }
}

/// Records the accounts and storage slots a transaction's opcodes touch, as geth's access-list
/// tracer does: SLOAD/SSTORE slots of the executing account; accounts named by BALANCE,
/// EXTCODE*, SELFDESTRUCT and the CALL family, except the excluded ones.
#[derive(Debug, Clone, Default)]
pub struct AccessListInspector {
    excluded: HashSet<Address>,
    touched: BTreeMap<Address, BTreeSet<B256>>,
}

impl AccessListInspector {
    /// Start from `initial` (its excluded accounts are dropped unless they list slots).
    pub fn new(initial: &AccessList, excluded: HashSet<Address>) -> Self {
        let mut this = Self {
            excluded,
            touched: BTreeMap::new(),
        };
        for item in initial.iter() {
            this.add_address(item.address);
            for slot in &item.storage_keys {
                this.add_slot(item.address, *slot);
            }
        }
        this
    }

    /// The list so far, accounts and slots in ascending order.
    pub fn access_list(&self) -> AccessList {
        AccessList(
            self.touched
                .iter()
                .map(|(address, slots)| AccessListItem {
                    address: *address,
                    storage_keys: slots.iter().copied().collect(),
                })
                .collect(),
        )
    }

    fn add_address(&mut self, address: Address) {
        if !self.excluded.contains(&address) {
            self.touched.entry(address).or_default();
        }
    }

    fn add_slot(&mut self, address: Address, slot: B256) {
        self.touched.entry(address).or_default().insert(slot);
    }
}

impl<CTX> Inspector<CTX, EthInterpreter> for AccessListInspector {
    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, _context: &mut CTX) {
        let word_address = |word: U256| Address::from_word(B256::from(word));
        match interp.bytecode.opcode() {
            opcode::SLOAD | opcode::SSTORE => {
                if let Ok(slot) = interp.stack.peek(0) {
                    self.add_slot(interp.input.target_address(), B256::from(slot));
                }
            }
            opcode::EXTCODECOPY
            | opcode::EXTCODEHASH
            | opcode::EXTCODESIZE
            | opcode::BALANCE
            | opcode::SELFDESTRUCT => {
                if let Ok(word) = interp.stack.peek(0) {
                    self.add_address(word_address(word));
                }
            }
            opcode::DELEGATECALL | opcode::CALL | opcode::STATICCALL | opcode::CALLCODE => {
                if let Ok(word) = interp.stack.peek(1) {
                    self.add_address(word_address(word));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, bytes};
    use revm::{database::EmptyDB, state::AccountInfo};

    const FROM: Address = address!("0x1000000000000000000000000000000000000001");
    const TO: Address = address!("0x2000000000000000000000000000000000000002");

    fn setup(code: Option<Bytes>) -> (CacheDB<EmptyDB>, EvmEnv) {
        let mut db = CacheDB::new(EmptyDB::default());
        db.insert_account_info(
            FROM,
            AccountInfo::from_balance(U256::from(10u64).pow(U256::from(18))),
        );
        if let Some(code) = code {
            db.insert_account_info(
                TO,
                AccountInfo::default().with_code(revm::bytecode::Bytecode::new_raw(code)),
            );
        }
        let spec = Arc::new(
            ChainSpec::from_genesis(&keel_types::dev::dev_genesis()).expect("dev genesis"),
        );
        let header = Header {
            number: 1,
            timestamp: 1,
            gas_limit: 30_000_000,
            base_fee_per_gas: Some(0),
            excess_blob_gas: Some(0),
            ..Default::default()
        };
        (db, call_env(&spec, &header))
    }

    fn tx(to: Address, data: Bytes, value: U256) -> TxEnv {
        TxEnv {
            caller: FROM,
            kind: TxKind::Call(to),
            data,
            value,
            gas_limit: 10_000_000,
            nonce: 99, // nonces are not checked
            chain_id: None,
            ..Default::default()
        }
    }

    #[test]
    fn a_plain_transfer_is_21000() {
        let (mut db, env) = setup(None);
        let gas = estimate_gas(&mut db, &env, tx(TO, Bytes::new(), U256::from(1)), 0, 0.0)
            .expect("estimate");
        assert_eq!(gas, 21_000);
    }

    #[test]
    fn an_estimate_is_the_least_gas_that_succeeds() {
        // SSTORE(0, 1) then STOP: the estimate must cover the SSTORE's EIP-2200 stipend check.
        let (mut db, env) = setup(Some(bytes!("600160005500")));
        let call = tx(TO, Bytes::new(), U256::ZERO);
        let gas = estimate_gas(&mut db, &env, call.clone(), 0, 0.0).expect("estimate");
        let mut at = call.clone();
        at.gas_limit = gas;
        assert!(transact(&mut db, &env, at).expect("runs").is_success());
        let mut below = call;
        below.gas_limit = gas - 1;
        assert!(!transact(&mut db, &env, below).expect("runs").is_success());
    }

    #[test]
    fn reverts_and_missing_funds_are_reported() {
        // REVERT(0, 0) with one byte of memory data: PUSH1 0x2a PUSH1 0 MSTORE8 PUSH1 1 PUSH1 0 REVERT
        let (mut db, env) = setup(Some(bytes!("602a60005360016000fd")));
        let call = tx(TO, Bytes::new(), U256::ZERO);
        match estimate_gas(&mut db, &env, call, 0, 0.0) {
            Err(EstimateError::Reverted(data)) => assert_eq!(data, bytes!("2a")),
            other => panic!("expected a revert, got {other:?}"),
        }
        let broke = tx(TO, Bytes::new(), U256::from(10u64).pow(U256::from(19)));
        assert!(matches!(
            estimate_gas(&mut db, &env, broke, 0, 0.0),
            Err(EstimateError::InsufficientFundsForTransfer)
        ));
    }

    #[test]
    fn the_access_list_names_touched_slots_and_accounts() {
        // SLOAD(7); BALANCE(0x..aa); STOP
        let (mut db, env) = setup(Some(bytes!("600754" "60aa31" "00")));
        let outcome =
            create_access_list(&mut db, &env, tx(TO, Bytes::new(), U256::ZERO)).expect("runs");
        assert!(outcome.result.is_success());
        let other = Address::with_last_byte(0xaa);
        assert_eq!(
            outcome.access_list.0,
            // Ascending by address.
            vec![
                AccessListItem {
                    address: other,
                    storage_keys: vec![],
                },
                AccessListItem {
                    address: TO,
                    storage_keys: vec![B256::from(U256::from(7))],
                },
            ]
        );
    }
}
