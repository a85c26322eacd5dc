//! The L1 fee rule in execution (docs/fees.md; the rule's numbers are `keel_types::fees`): at the
//! start of a block the L1 prices of its `extraData` go into the `GasPriceOracle` after a check
//! that they moved at most one step from the parent's; then every ordinary transaction must be
//! able to pay its L1 fee and its most operator fee on top of what Ethereum asks
//! (`gas limit × max fee + value`), and after it ran both are taken from its sender and credited
//! to their vaults, inside the transaction's own state changes (so the state diff bound, the
//! preconfirmed state and the receipt all see them).

use alloy_consensus::{Header, Transaction as _, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_evm::block::{BlockExecutionError, BlockValidationError};
use alloy_primitives::{Address, U256};
use keel_types::{
    FeeCharge, FeeConfig, FeeParams, L1Prices,
    fees::{GAS_PRICE_ORACLE_ADDRESS, slots},
};
use revm::{
    context_interface::result::InvalidTransaction,
    database_interface::{Database, DatabaseCommit},
    state::{Account, EvmState, EvmStorageSlot, TransactionId},
};

/// The fee rule of the block being executed: the params it charges at and where fees go.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockFees {
    pub params: FeeParams,
    pub config: FeeConfig,
}

fn fatal(what: &str, error: impl std::fmt::Display) -> BlockExecutionError {
    BlockExecutionError::msg(format!("{what}: {error}"))
}

/// Before a block's first transaction: take the L1 prices of `header`'s `extraData`, check they
/// moved at most a step from those in the oracle (the parent's), and write them into the oracle.
/// Returns what the block charges at: those prices, and the scalars the oracle holds.
pub(crate) fn start_block<D>(
    db: &mut D,
    config: FeeConfig,
    header: &Header,
) -> Result<BlockFees, BlockExecutionError>
where
    D: Database + DatabaseCommit,
    D::Error: std::fmt::Display,
{
    let prices = L1Prices::from_extra_data(&header.extra_data)
        .map_err(|e| fatal(&format!("block {}", header.number), e))?;
    let info = db
        .basic(GAS_PRICE_ORACLE_ADDRESS)
        .map_err(|e| fatal("reading the GasPriceOracle", e))?;
    let mut params = FeeParams::from_storage(|slot| db.storage(GAS_PRICE_ORACLE_ADDRESS, slot))
        .map_err(|e| fatal("reading the GasPriceOracle", e))?;
    prices
        .check_step(&params.prices)
        .map_err(|e| fatal(&format!("block {}", header.number), e))?;
    if prices != params.prices {
        let mut oracle = info.map_or_else(
            || Account::new_not_existing(TransactionId::ZERO),
            Account::from,
        );
        for (slot, old, new) in [
            (slots::L1_BASE_FEE, params.prices.base_fee, prices.base_fee),
            (
                slots::BLOB_BASE_FEE,
                params.prices.blob_base_fee,
                prices.blob_base_fee,
            ),
        ] {
            if old != new {
                oracle.storage.insert(
                    slot,
                    EvmStorageSlot::new_changed(
                        U256::from(old),
                        U256::from(new),
                        TransactionId::ZERO,
                    ),
                );
            }
        }
        oracle.mark_touch();
        db.commit(EvmState::from_iter([(GAS_PRICE_ORACLE_ADDRESS, oracle)]));
        params.prices = prices;
    }
    Ok(BlockFees { params, config })
}

/// The L1 fee and the most operator fee `tx` can be charged (its whole gas limit used).
fn most_charge(fees: &BlockFees, tx: &TxEnvelope) -> FeeCharge {
    fees.params.charge(tx.encode_2718_len(), tx.gas_limit())
}

fn invalid(tx: &TxEnvelope, error: InvalidTransaction) -> BlockExecutionError {
    BlockValidationError::InvalidTx {
        hash: *tx.tx_hash(),
        error: Box::new(error),
    }
    .into()
}

/// Before an ordinary transaction runs: its sender must hold `gas limit × max fee + value` plus
/// its L1 fee and its most operator fee, or the transaction is invalid (nothing changes).
pub(crate) fn check_funds<D>(
    db: &mut D,
    fees: &BlockFees,
    tx: &TxEnvelope,
    sender: Address,
) -> Result<(), BlockExecutionError>
where
    D: Database,
    D::Error: std::fmt::Display,
{
    let balance = db
        .basic(sender)
        .map_err(|e| fatal("reading a sender", e))?
        .map_or(U256::ZERO, |info| info.balance);
    let want = U256::from(tx.gas_limit())
        .saturating_mul(U256::from(tx.max_fee_per_gas()))
        .saturating_add(tx.value())
        .saturating_add(most_charge(fees, tx).total());
    if balance < want {
        return Err(invalid(
            tx,
            InvalidTransaction::LackOfFundForMaxFee {
                fee: Box::new(want),
                balance: Box::new(balance),
            },
        ));
    }
    Ok(())
}

/// After an ordinary transaction ran (its changes in `state`, not yet committed): take its L1
/// fee and operator fee from its sender and credit them to their vaults (burned without one).
/// Only a sender whose code spent its own balance while the transaction ran (EIP-7702) can be
/// left unable to pay: the transaction is then invalid, as if it had not been able to pay
/// upfront.
pub(crate) fn charge<D>(
    db: &mut D,
    fees: &BlockFees,
    tx: &TxEnvelope,
    sender: Address,
    gas_used: u64,
    state: &mut EvmState,
) -> Result<FeeCharge, BlockExecutionError>
where
    D: Database,
    D::Error: std::fmt::Display,
{
    let charge = fees.params.charge(tx.encode_2718_len(), gas_used);
    if charge.total().is_zero() {
        return Ok(charge);
    }
    let payer = state
        .get_mut(&sender)
        .ok_or_else(|| fatal("charging the L1 fee", "the sender is not in its state"))?;
    let Some(balance) = payer.info.balance.checked_sub(charge.total()) else {
        return Err(invalid(
            tx,
            InvalidTransaction::LackOfFundForMaxFee {
                fee: Box::new(charge.total()),
                balance: Box::new(payer.info.balance),
            },
        ));
    };
    payer.info.balance = balance;
    for (vault, amount) in [
        (fees.config.l1_fee_vault, charge.l1_fee),
        (fees.config.operator_fee_vault, charge.operator_fee),
    ] {
        let Some(vault) = vault else { continue };
        if amount.is_zero() {
            continue;
        }
        credit(db, state, vault, amount)?;
    }
    Ok(charge)
}

/// Add `amount` to `vault` within `state` (loading it if the transaction did not touch it).
fn credit<D>(
    db: &mut D,
    state: &mut EvmState,
    vault: Address,
    amount: U256,
) -> Result<(), BlockExecutionError>
where
    D: Database,
    D::Error: std::fmt::Display,
{
    let account = match state.entry(vault) {
        std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
        std::collections::hash_map::Entry::Vacant(entry) => {
            let info = db
                .basic(vault)
                .map_err(|e| fatal("reading a fee vault", e))?;
            entry.insert(info.map_or_else(
                || Account::new_not_existing(TransactionId::ZERO),
                Account::from,
            ))
        }
    };
    account.info.balance = account.info.balance.saturating_add(amount);
    account.mark_touch();
    Ok(())
}

/// The fee params of a block: the prices of its `extraData` and the scalars the oracle held
/// before it (`read` reads the oracle's storage after the parent). `None` when the header does
/// not carry prices (a chain without the rule, or the genesis).
pub fn block_fee_params<E>(
    header: &Header,
    read: impl FnMut(U256) -> Result<U256, E>,
) -> Result<Option<FeeParams>, E> {
    let Ok(prices) = L1Prices::from_extra_data(&header.extra_data) else {
        return Ok(None);
    };
    let mut params = FeeParams::from_storage(read)?;
    params.prices = prices;
    Ok(Some(params))
}
