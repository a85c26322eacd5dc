//! The `GasPriceOracle` predeploy (contracts/l2/GasPriceOracle.sol) computes exactly what the
//! node charges (`keel_types::fees`, the source of truth): its compiled runtime code, run by revm
//! on an in-memory state holding the genesis storage of several fee params, against
//! `FeeParams::l1_fee`, `l1_gas_used` and `operator_fee` for many sizes, prices and scalars; its
//! getters read what the genesis wrote; only the owner may change the scalars.

use alloy_evm::{Evm, EvmEnv, EvmFactory, eth::EthEvmFactory};
use alloy_primitives::{Address, Bytes, I256, Log, TxKind, U256, address, keccak256};
use keel_types::{
    FeeParams, FeeScalars, L1Prices, dev,
    fees::{
        self, DEFAULT_FEE_PARAMS, GAS_PRICE_ORACLE_ADDRESS, MIN_TX_SIZE, SIGNATURE_BYTES,
        SIZE_COEFFICIENT, SIZE_INTERCEPT, slots,
    },
    l2_genesis::L2FeeGenesis,
};
use revm::{
    DatabaseRef,
    context::TxEnv,
    context_interface::result::ExecutionResult,
    database::{CacheDB, EmptyDB},
    primitives::hardfork::SpecId,
    state::{AccountInfo, Bytecode},
};

const OWNER: Address = address!("0x0000000000000000000000000000000000000a11");
const STRANGER: Address = address!("0x000000000000000000000000000000000000bad0");
/// The base fee of the block the calls run in (what `gasPrice()` and `baseFee()` return).
const BASE_FEE: u64 = 7_000_000_000;

/// Lengths of the unsigned transactions priced: around the minimum size (the signed size 100
/// is the last one at the minimum; below 76 the linear estimate is negative) and far beyond.
const LENGTHS: [usize; 14] = [
    0, 1, 7, 8, 13, 31, 32, 33, 50, 120, 500, 1_000, 10_000, 131_072,
];

type Db = CacheDB<EmptyDB>;

/// A state with the oracle as the genesis puts it (`L2FeeGenesis::oracle_storage`) and the
/// callers funded.
fn state(params: FeeParams) -> Db {
    let mut db = CacheDB::new(EmptyDB::default());
    let code = dev::gas_price_oracle_code();
    assert!(!code.is_empty(), "the GasPriceOracle artifact");
    db.insert_account_info(
        GAS_PRICE_ORACLE_ADDRESS,
        AccountInfo::default()
            .with_nonce(1)
            .with_code(Bytecode::new_raw(code)),
    );
    let fees = L2FeeGenesis {
        config: Default::default(),
        params,
        owner: OWNER,
    };
    for (slot, value) in fees.oracle_storage() {
        db.insert_account_storage(
            GAS_PRICE_ORACLE_ADDRESS,
            slot.into(),
            U256::from_be_bytes(value.0),
        )
        .expect("in-memory store");
    }
    for caller in [OWNER, STRANGER] {
        db.insert_account_info(
            caller,
            AccountInfo::from_balance(U256::from(10).pow(U256::from(21))),
        );
    }
    db
}

fn env() -> EvmEnv {
    let mut env: EvmEnv = EvmEnv::default();
    env.cfg_env.spec = SpecId::PRAGUE;
    env.cfg_env.chain_id = dev::DEFAULT_L2_CHAIN_ID;
    env.cfg_env.disable_nonce_check = true;
    env.block_env.number = U256::from(5);
    env.block_env.timestamp = U256::from(1_000);
    env.block_env.gas_limit = 1_000_000_000;
    env.block_env.basefee = BASE_FEE;
    env
}

fn tx(from: Address, data: Vec<u8>) -> TxEnv {
    TxEnv {
        caller: from,
        kind: TxKind::Call(GAS_PRICE_ORACLE_ADDRESS),
        data: data.into(),
        gas_limit: 30_000_000,
        gas_price: BASE_FEE.into(),
        chain_id: None,
        ..Default::default()
    }
}

/// Runs a call from `from` without keeping its changes.
fn call_from(db: &mut Db, from: Address, data: Vec<u8>) -> ExecutionResult {
    let mut evm = EthEvmFactory::default().create_evm(db, env());
    evm.transact(tx(from, data)).expect("a valid call").result
}

/// Runs a transaction from `from` and keeps its changes.
fn send(db: &mut Db, from: Address, data: Vec<u8>) -> ExecutionResult {
    let mut evm = EthEvmFactory::default().create_evm(db, env());
    evm.transact_commit(tx(from, data))
        .expect("a valid transaction")
}

/// The output of a call that must succeed.
fn output(db: &mut Db, data: Vec<u8>) -> Bytes {
    match call_from(db, STRANGER, data) {
        ExecutionResult::Success { output, .. } => output.into_data(),
        other => panic!("call failed: {other:?}"),
    }
}

/// A call's single 32-byte word.
fn word(db: &mut Db, data: Vec<u8>) -> U256 {
    let out = output(db, data);
    assert_eq!(out.len(), 32, "one word: {out}");
    U256::from_be_slice(&out)
}

fn selector(signature: &str) -> Vec<u8> {
    keccak256(signature)[..4].to_vec()
}

/// `signature` with no arguments.
fn no_args(signature: &str) -> Vec<u8> {
    selector(signature)
}

/// The ABI encoding of static words.
fn words(words: &[U256]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes::<32>()).collect()
}

/// `signature` with static word arguments.
fn with_words(signature: &str, args: &[U256]) -> Vec<u8> {
    let mut data = selector(signature);
    data.extend(words(args));
    data
}

/// `signature(bytes)` with `arg`.
fn with_bytes(signature: &str, arg: &[u8]) -> Vec<u8> {
    let mut data = with_words(signature, &[U256::from(32), U256::from(arg.len())]);
    data.extend_from_slice(arg);
    data.resize(data.len() + (32 - arg.len() % 32) % 32, 0);
    data
}

fn address_word(a: Address) -> U256 {
    U256::from_be_bytes(a.into_word().0)
}

/// An unsigned "transaction" of `len` bytes (the oracle only looks at the length, but use
/// varied bytes so no zero-byte shortcut could hide).
fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 1) as u8).collect()
}

/// The params the node reads from the oracle's storage in `db`.
fn params_in(db: &Db) -> FeeParams {
    FeeParams::from_storage(|slot| db.storage_ref(GAS_PRICE_ORACLE_ADDRESS, slot))
        .expect("in-memory store")
}

fn storage(db: &Db, slot: U256) -> U256 {
    db.storage_ref(GAS_PRICE_ORACLE_ADDRESS, slot)
        .expect("in-memory store")
}

fn params_to_check() -> Vec<FeeParams> {
    let realistic = FeeParams {
        prices: L1Prices {
            base_fee: 10_000_000_000,
            blob_base_fee: 5_000_000_000,
        },
        scalars: FeeScalars {
            base_fee_scalar: 145_000,
            blob_base_fee_scalar: 1_135_000,
            operator_fee_scalar: 3,
            operator_fee_constant: 1_000,
        },
    };
    let large = FeeParams {
        prices: L1Prices {
            base_fee: 1_000_000_000_000,
            blob_base_fee: 1_000_000_000_000,
        },
        scalars: FeeScalars {
            base_fee_scalar: u32::MAX,
            blob_base_fee_scalar: u32::MAX,
            operator_fee_scalar: 1_000_000_000_000,
            operator_fee_constant: 1_000_000_000_000_000,
        },
    };
    let extreme = FeeParams {
        prices: L1Prices {
            base_fee: u64::MAX,
            blob_base_fee: u64::MAX,
        },
        scalars: FeeScalars {
            base_fee_scalar: u32::MAX,
            blob_base_fee_scalar: u32::MAX,
            operator_fee_scalar: u64::MAX,
            operator_fee_constant: u64::MAX,
        },
    };
    let blob_only = FeeParams {
        prices: L1Prices {
            base_fee: 0,
            blob_base_fee: 1,
        },
        scalars: FeeScalars {
            base_fee_scalar: 0,
            blob_base_fee_scalar: 1,
            operator_fee_scalar: 0,
            operator_fee_constant: 1,
        },
    };
    vec![
        DEFAULT_FEE_PARAMS,
        FeeParams::default(),
        realistic,
        large,
        extreme,
        blob_only,
    ]
}

#[test]
fn l1_fee_and_gas_are_the_nodes() {
    for params in params_to_check() {
        let mut db = state(params);
        assert_eq!(params_in(&db), params, "the genesis storage reads back");
        for len in LENGTHS {
            let signed = len + SIGNATURE_BYTES;
            let tx = payload(len);
            assert_eq!(
                word(&mut db, with_bytes("getL1Fee(bytes)", &tx)),
                params.l1_fee(signed),
                "getL1Fee of {len} bytes with {params:?}"
            );
            assert_eq!(
                word(&mut db, with_bytes("getL1GasUsed(bytes)", &tx)),
                params.l1_gas_used(signed),
                "getL1GasUsed of {len} bytes with {params:?}"
            );
            assert_eq!(
                word(
                    &mut db,
                    with_words("getL1FeeUpperBound(uint256)", &[U256::from(len)])
                ),
                params.l1_fee(signed),
                "getL1FeeUpperBound({len}) with {params:?}"
            );
        }
        // Sizes no calldata reaches, only the upper bound.
        for len in [1_000_000usize, u32::MAX as usize, u64::MAX as usize - 68] {
            assert_eq!(
                word(
                    &mut db,
                    with_words("getL1FeeUpperBound(uint256)", &[U256::from(len)])
                ),
                params.l1_fee(len + SIGNATURE_BYTES),
                "getL1FeeUpperBound({len}) with {params:?}"
            );
        }
        // Sizes beyond any arithmetic are refused, not wrapped.
        for size in [U256::MAX, U256::from(1) << 250] {
            let result = call_from(
                &mut db,
                STRANGER,
                with_words("getL1FeeUpperBound(uint256)", &[size]),
            );
            assert!(
                matches!(result, ExecutionResult::Revert { .. }),
                "{result:?}"
            );
        }
        for gas in [0u64, 1, 21_000, 1_000_000, 30_000_000, u64::MAX] {
            assert_eq!(
                word(
                    &mut db,
                    with_words("getOperatorFee(uint256)", &[U256::from(gas)])
                ),
                params.operator_fee(gas),
                "getOperatorFee({gas}) with {params:?}"
            );
        }
    }
}

#[test]
fn getters_read_the_genesis_storage() {
    for params in params_to_check() {
        let mut db = state(params);
        let expect = [
            ("l1BaseFee()", U256::from(params.prices.base_fee)),
            ("blobBaseFee()", U256::from(params.prices.blob_base_fee)),
            (
                "baseFeeScalar()",
                U256::from(params.scalars.base_fee_scalar),
            ),
            (
                "blobBaseFeeScalar()",
                U256::from(params.scalars.blob_base_fee_scalar),
            ),
            (
                "operatorFeeScalar()",
                U256::from(params.scalars.operator_fee_scalar),
            ),
            (
                "operatorFeeConstant()",
                U256::from(params.scalars.operator_fee_constant),
            ),
            ("owner()", address_word(OWNER)),
            ("decimals()", U256::from(fees::DECIMALS)),
            ("DECIMALS()", U256::from(fees::DECIMALS)),
            ("SIGNATURE_BYTES()", U256::from(SIGNATURE_BYTES)),
            ("gasPrice()", U256::from(BASE_FEE)),
            ("baseFee()", U256::from(BASE_FEE)),
            ("isEcotone()", U256::from(1)),
            ("isFjord()", U256::from(1)),
            ("isIsthmus()", U256::from(1)),
        ];
        for (signature, value) in expect {
            assert_eq!(
                word(&mut db, no_args(signature)),
                value,
                "{signature} with {params:?}"
            );
        }
    }
}

#[test]
fn the_contract_constants_are_the_rust_ones() {
    let mut db = state(DEFAULT_FEE_PARAMS);
    let int = |db: &mut Db, signature: &str| I256::from_raw(word(db, no_args(signature)));
    assert_eq!(
        int(&mut db, "SIZE_COEFFICIENT()"),
        I256::try_from(SIZE_COEFFICIENT).unwrap()
    );
    assert_eq!(
        int(&mut db, "SIZE_INTERCEPT()"),
        I256::try_from(SIZE_INTERCEPT).unwrap()
    );
    assert_eq!(
        int(&mut db, "MIN_TX_SIZE()"),
        I256::try_from(MIN_TX_SIZE).unwrap()
    );
    // version(): an ABI string.
    let out = output(&mut db, no_args("version()"));
    assert_eq!(U256::from_be_slice(&out[..32]), U256::from(32));
    let len = U256::from_be_slice(&out[32..64]).to::<usize>();
    assert_eq!(&out[64..64 + len], b"1.0.0");
}

#[test]
fn out_of_range_storage_reads_as_the_node_reads_it() {
    // Only the node and the typed setters write the oracle, so this can't happen on a chain; if it
    // did, the oracle would still agree with the node, which saturates each value to its type.
    let mut db = state(DEFAULT_FEE_PARAMS);
    for (slot, value) in [
        (slots::L1_BASE_FEE, U256::from(u64::MAX) + U256::from(5)),
        (slots::BASE_FEE_SCALAR, U256::from(1u64 << 40)),
        (slots::BLOB_BASE_FEE_SCALAR, U256::MAX),
        (slots::OPERATOR_FEE_CONSTANT, U256::from(u128::MAX)),
    ] {
        db.insert_account_storage(GAS_PRICE_ORACLE_ADDRESS, slot, value)
            .expect("in-memory store");
    }
    let params = params_in(&db);
    assert_eq!(params.prices.base_fee, u64::MAX);
    assert_eq!(params.scalars.base_fee_scalar, u32::MAX);
    assert_eq!(
        word(&mut db, no_args("baseFeeScalar()")),
        U256::from(u32::MAX)
    );
    assert_eq!(word(&mut db, no_args("l1BaseFee()")), U256::from(u64::MAX));
    for len in LENGTHS {
        assert_eq!(
            word(&mut db, with_bytes("getL1Fee(bytes)", &payload(len))),
            params.l1_fee(len + SIGNATURE_BYTES),
            "getL1Fee of {len} bytes"
        );
    }
    assert_eq!(
        word(
            &mut db,
            with_words("getOperatorFee(uint256)", &[U256::from(21_000)])
        ),
        params.operator_fee(21_000)
    );
}

/// The revert data of a custom error with one address argument.
fn error_with_address(signature: &str, a: Address) -> Bytes {
    with_words(signature, &[address_word(a)]).into()
}

fn assert_reverts_with(result: ExecutionResult, expect: Bytes) {
    match result {
        ExecutionResult::Revert { output, .. } => assert_eq!(output, expect),
        other => panic!("expected a revert, got {other:?}"),
    }
}

/// The single log of a successful transaction.
fn single_log(result: ExecutionResult) -> Log {
    match result {
        ExecutionResult::Success { mut logs, .. } => {
            assert_eq!(logs.len(), 1, "{logs:?}");
            logs.remove(0)
        }
        other => panic!("the transaction failed: {other:?}"),
    }
}

#[test]
fn only_the_owner_sets_the_scalars() {
    let mut db = state(DEFAULT_FEE_PARAMS);
    let set_scalars = with_words(
        "setScalars(uint32,uint32)",
        &[U256::from(200_000), U256::from(2_000_000)],
    );
    let set_operator_fee = with_words(
        "setOperatorFee(uint64,uint64)",
        &[U256::from(11), U256::from(22_000)],
    );

    // A stranger is refused and nothing changes.
    for data in [set_scalars.clone(), set_operator_fee.clone()] {
        assert_reverts_with(
            send(&mut db, STRANGER, data),
            error_with_address("CallerNotOwner(address)", STRANGER),
        );
    }
    assert_reverts_with(
        send(
            &mut db,
            STRANGER,
            with_words("transferOwnership(address)", &[address_word(STRANGER)]),
        ),
        error_with_address("CallerNotOwner(address)", STRANGER),
    );
    assert_eq!(params_in(&db), DEFAULT_FEE_PARAMS);
    assert_eq!(storage(&db, slots::OWNER), address_word(OWNER));

    // The owner sets the scalars: the slots change, an event says so, and the fee follows.
    let log = single_log(send(&mut db, OWNER, set_scalars));
    assert_eq!(log.address, GAS_PRICE_ORACLE_ADDRESS);
    assert_eq!(log.topics(), &[keccak256("ScalarsUpdated(uint32,uint32)")]);
    assert_eq!(
        log.data.data,
        Bytes::from(words(&[U256::from(200_000), U256::from(2_000_000)]))
    );
    assert_eq!(storage(&db, slots::BASE_FEE_SCALAR), U256::from(200_000));
    assert_eq!(
        storage(&db, slots::BLOB_BASE_FEE_SCALAR),
        U256::from(2_000_000)
    );
    let params = params_in(&db);
    assert_eq!(params.scalars.base_fee_scalar, 200_000);
    assert_eq!(params.scalars.blob_base_fee_scalar, 2_000_000);
    assert_eq!(params.prices, DEFAULT_FEE_PARAMS.prices);
    assert_eq!(
        word(&mut db, with_bytes("getL1Fee(bytes)", &payload(120))),
        params.l1_fee(120 + SIGNATURE_BYTES)
    );
    assert_ne!(params.l1_fee(188), DEFAULT_FEE_PARAMS.l1_fee(188));

    // The operator fee.
    let log = single_log(send(&mut db, OWNER, set_operator_fee));
    assert_eq!(
        log.topics(),
        &[keccak256("OperatorFeeUpdated(uint64,uint64)")]
    );
    assert_eq!(storage(&db, slots::OPERATOR_FEE_SCALAR), U256::from(11));
    assert_eq!(
        storage(&db, slots::OPERATOR_FEE_CONSTANT),
        U256::from(22_000)
    );
    assert_eq!(
        params_in(&db).operator_fee(21_000),
        U256::from(22_000 + 11 * 21_000)
    );
    assert_eq!(
        word(
            &mut db,
            with_words("getOperatorFee(uint256)", &[U256::from(21_000)])
        ),
        U256::from(22_000 + 11 * 21_000)
    );

    // Ownership: not to zero; to a new owner, after which the old one is refused.
    let new_owner = address!("0x0000000000000000000000000000000000000b0b");
    assert_reverts_with(
        send(
            &mut db,
            OWNER,
            with_words("transferOwnership(address)", &[U256::ZERO]),
        ),
        no_args("ZeroOwner()").into(),
    );
    let log = single_log(send(
        &mut db,
        OWNER,
        with_words("transferOwnership(address)", &[address_word(new_owner)]),
    ));
    assert_eq!(
        log.topics(),
        &[
            keccak256("OwnershipTransferred(address,address)"),
            OWNER.into_word(),
            new_owner.into_word(),
        ]
    );
    assert_eq!(storage(&db, slots::OWNER), address_word(new_owner));
    assert_reverts_with(
        send(
            &mut db,
            OWNER,
            with_words("setScalars(uint32,uint32)", &[U256::from(1), U256::from(1)]),
        ),
        error_with_address("CallerNotOwner(address)", OWNER),
    );
    let mut db_new = db.clone();
    db_new.insert_account_info(
        new_owner,
        AccountInfo::from_balance(U256::from(10).pow(U256::from(21))),
    );
    single_log(send(
        &mut db_new,
        new_owner,
        with_words("setScalars(uint32,uint32)", &[U256::from(1), U256::from(2)]),
    ));
    assert_eq!(storage(&db_new, slots::BASE_FEE_SCALAR), U256::from(1));
    assert_eq!(storage(&db_new, slots::BLOB_BASE_FEE_SCALAR), U256::from(2));

    // A scalar out of its type is refused by the ABI decoder (no slot can hold one).
    let before = params_in(&db_new);
    let too_big = with_words(
        "setScalars(uint32,uint32)",
        &[U256::from(u64::from(u32::MAX) + 1), U256::from(1)],
    );
    assert!(!send(&mut db_new, new_owner, too_big).is_success());
    assert_eq!(params_in(&db_new), before);
}

#[test]
fn the_prices_have_no_setter() {
    // The node writes slots 0 and 1 directly; no function of the oracle writes them, whoever
    // calls. (Functions are dispatched by selector: the OP Stack's L1 setters aren't there.)
    let mut db = state(DEFAULT_FEE_PARAMS);
    for signature in [
        "setL1BaseFee(uint256)",
        "setBlobBaseFee(uint256)",
        "setL1BlockValues(uint64,uint64,uint256,bytes32,uint64,bytes32,uint256,uint256)",
    ] {
        let data = with_words(signature, &[U256::from(1); 8]);
        assert!(!send(&mut db, OWNER, data).is_success(), "{signature}");
    }
    assert_eq!(params_in(&db), DEFAULT_FEE_PARAMS);
}
