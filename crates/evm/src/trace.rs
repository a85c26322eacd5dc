//! What tracing (`debug_trace*`) needs from the EVM beside [`crate::trace_block`]: a call run
//! with an inspector attached on `eth_call`'s path ([`inspect_call`]), and the inspector that
//! stops an execution past a deadline ([`Deadline`]).

use std::{fmt::Debug, time::Instant};

use alloy_evm::{Evm, EvmEnv, EvmFactory, eth::EthEvmFactory};
use revm::{
    DatabaseRef,
    context::TxEnv,
    context_interface::result::{EVMError, ResultAndState},
    database::CacheDB,
    inspector::Inspector,
    interpreter::{InstructionResult, Interpreter, interpreter::EthInterpreter},
};

/// Steps between two looks at the clock.
const STEPS_PER_CHECK: u32 = 4096;

/// An inspector that halts the execution it watches once `deadline` has passed (checked every
/// [`STEPS_PER_CHECK`] steps, then at every step so that the enclosing frames stop too).
/// Attach it before the tracer (a tuple `(Deadline, tracer)`), and ask [`Deadline::expired`]
/// after the execution: its outcome is then meaningless.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    deadline: Option<Instant>,
    steps: u32,
    expired: bool,
}

impl Deadline {
    pub fn new(deadline: Option<Instant>) -> Self {
        Self {
            deadline,
            steps: 0,
            expired: false,
        }
    }

    /// Whether an execution was halted for the deadline.
    pub fn expired(&self) -> bool {
        self.expired
    }
}

impl<CTX> Inspector<CTX, EthInterpreter> for Deadline {
    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, _context: &mut CTX) {
        let Some(deadline) = self.deadline else {
            return;
        };
        if !self.expired {
            self.steps += 1;
            if self.steps < STEPS_PER_CHECK {
                return;
            }
            self.steps = 0;
            if Instant::now() < deadline {
                return;
            }
            self.expired = true;
        }
        interp.halt(InstructionResult::OutOfGas);
    }
}

/// Execute `tx` once on `db` like [`crate::transact`] (nothing committed), with `inspector`
/// attached and stopped past `deadline`. Returns the outcome with the state it changed, or
/// `Ok(None)` if the deadline passed.
pub fn inspect_call<'a, DB, I>(
    db: &'a mut CacheDB<DB>,
    env: &EvmEnv,
    tx: TxEnv,
    inspector: &mut I,
    deadline: Option<Instant>,
) -> Result<Option<ResultAndState>, EVMError<DB::Error>>
where
    DB: DatabaseRef + Debug,
    DB::Error: Send + Sync + 'static,
    I: Inspector<alloy_evm::eth::EthEvmContext<&'a mut CacheDB<DB>>>,
{
    if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
        return Ok(None);
    }
    let mut evm = EthEvmFactory::default().create_evm_with_inspector(
        db,
        env.clone(),
        (Deadline::new(deadline), inspector),
    );
    let result = evm.transact(tx)?;
    if evm.inspector().0.expired() {
        return Ok(None);
    }
    Ok(Some(result))
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use alloy_consensus::Header;
    use alloy_primitives::{Address, Bytes, TxKind, U256, bytes};
    use keel_types::ChainSpec;
    use revm::{database::EmptyDB, inspector::NoOpInspector, state::AccountInfo};

    use super::*;
    use crate::call_env;

    /// A call of `JUMPDEST PUSH1 0 JUMP` (a loop until the gas runs out) with 10M gas.
    fn looping_call() -> (CacheDB<EmptyDB>, EvmEnv, TxEnv) {
        // Not a precompile's address.
        let looping = Address::repeat_byte(0x10);
        let mut db = CacheDB::new(EmptyDB::default());
        db.insert_account_info(
            looping,
            AccountInfo::default().with_code(revm::bytecode::Bytecode::new_raw(bytes!("5b600056"))),
        );
        let spec =
            Arc::new(ChainSpec::from_genesis(&keel_types::dev::dev_genesis()).expect("genesis"));
        let header = Header {
            number: 1,
            timestamp: 1,
            gas_limit: 30_000_000,
            base_fee_per_gas: Some(0),
            excess_blob_gas: Some(0),
            ..Default::default()
        };
        let tx = TxEnv {
            caller: Address::with_last_byte(0x01),
            kind: TxKind::Call(looping),
            data: Bytes::new(),
            value: U256::ZERO,
            gas_limit: 10_000_000,
            chain_id: None,
            ..Default::default()
        };
        (db, call_env(&spec, &header), tx)
    }

    #[test]
    fn a_call_past_its_deadline_is_halted() {
        let (mut db, env, tx) = looping_call();
        // Without a deadline it runs out of gas.
        let done = inspect_call(&mut db, &env, tx.clone(), &mut NoOpInspector, None)
            .expect("runs")
            .expect("no deadline");
        assert!(!done.result.is_success());
        assert_eq!(done.result.tx_gas_used(), 10_000_000);
        // A deadline already passed: not run at all.
        let past = Some(Instant::now());
        assert!(
            inspect_call(&mut db, &env, tx.clone(), &mut NoOpInspector, past)
                .expect("runs")
                .is_none()
        );
        // A deadline within the loop: halted soon after it.
        let started = Instant::now();
        let soon = Some(started + Duration::from_micros(200));
        assert!(
            inspect_call(&mut db, &env, tx, &mut NoOpInspector, soon)
                .expect("runs")
                .is_none()
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
