//! The L1 fee rule (docs/fees.md) in block building, import and the mempool, on an in-memory
//! store: every ordinary transaction pays `gasUsed × effectiveGasPrice + l1Fee + operatorFee`
//! and the vaults get exactly the sums; a block's L1 prices move one step toward what L1 shows;
//! a block whose prices differ from the ones its fees were computed at, or that moved too far,
//! is refused by import; a sender who can pay the gas but not the L1 fee is refused by the
//! mempool with the missing amount and left out of blocks.

use alloy_consensus::{SignableTransaction, Transaction as _, TxEip1559};
use alloy_eips::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use keel_chain::{
    BlockAttributes, Blockchain, BuiltBlock, ListTxSource, Mempool, MempoolConfig, SkipReason,
};
use keel_storage::{ChainReader, StateReader, Store, StoreReader};
use keel_types::{
    Block, ChainSpec, FeeConfig, FeeParams, FeeScalars, Genesis, L1Prices, PrivilegedTx,
    Transaction,
    dev::{self, DEFAULT_L2_CHAIN_ID, DEV_ACCOUNTS},
    fees::{FEE_CONFIG_KEY, GAS_PRICE_ORACLE_ADDRESS, slots},
};

const COINBASE: Address = address!("0x000000000000000000000000000000000000c0de");
const L1_FEE_VAULT: Address = address!("0x420000000000000000000000000000000000001a");
const OPERATOR_FEE_VAULT: Address = address!("0x420000000000000000000000000000000000001b");
const GWEI: u128 = 1_000_000_000;

const PARAMS: FeeParams = FeeParams {
    prices: L1Prices {
        base_fee: 20 * GWEI as u64,
        blob_base_fee: 3 * GWEI as u64,
    },
    scalars: FeeScalars {
        base_fee_scalar: 145_000,
        blob_base_fee_scalar: 1_135_000,
        operator_fee_scalar: 7,
        operator_fee_constant: 1_000_000,
    },
};

/// The dev genesis with the fee rule: [`PARAMS`] in the oracle, both vaults set.
fn fee_genesis() -> Genesis {
    let mut genesis = dev::dev_genesis();
    let config = FeeConfig {
        l1_fee_vault: Some(L1_FEE_VAULT),
        operator_fee_vault: Some(OPERATOR_FEE_VAULT),
    };
    genesis.config.extra_fields.insert(
        FEE_CONFIG_KEY.to_string(),
        serde_json::to_value(config).expect("json"),
    );
    // Nonce 1 as every predeploy (an empty account would be swept by EIP-161 once touched).
    let oracle = genesis.alloc.entry(GAS_PRICE_ORACLE_ADDRESS).or_default();
    oracle.nonce = Some(1);
    let storage = oracle.storage.get_or_insert_with(Default::default);
    for (slot, value) in PARAMS.storage() {
        storage.insert(slot, value);
    }
    genesis
}

fn open(genesis: &Genesis) -> Blockchain {
    let spec = ChainSpec::from_genesis(genesis).expect("spec");
    assert!(spec.fees.is_some(), "keelFees makes the rule");
    Blockchain::open(Store::in_memory().expect("store"), genesis, spec).expect("chain")
}

fn reader(chain: &Blockchain) -> StoreReader {
    chain.store().reader().expect("reader")
}

fn balance(chain: &Blockchain, who: Address) -> U256 {
    reader(chain)
        .account(&who)
        .expect("account")
        .map_or(U256::ZERO, |a| a.balance)
}

fn oracle_prices(chain: &Blockchain) -> L1Prices {
    let r = reader(chain);
    let read = |slot| {
        let v = r
            .storage(&GAS_PRICE_ORACLE_ADDRESS, &B256::from(slot))
            .expect("slot");
        u64::try_from(v).expect("u64")
    };
    L1Prices {
        base_fee: read(slots::L1_BASE_FEE),
        blob_base_fee: read(slots::BLOB_BASE_FEE),
    }
}

fn signer(i: usize) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&DEV_ACCOUNTS[i].1).expect("key")
}

fn sign(key: &PrivateKeySigner, tx: TxEip1559) -> Transaction {
    let sig = key.sign_hash_sync(&tx.signature_hash()).expect("sign");
    Transaction::from(tx.into_signed(sig))
}

/// A transaction from `key` with calldata `input` (a transfer when empty).
fn tx(key: &PrivateKeySigner, nonce: u64, to: Address, value: u128, input: Bytes) -> Transaction {
    let gas_limit = if input.is_empty() { 21_000 } else { 100_000 };
    sign(
        key,
        TxEip1559 {
            chain_id: DEFAULT_L2_CHAIN_ID,
            nonce,
            gas_limit,
            max_fee_per_gas: 100 * GWEI,
            max_priority_fee_per_gas: GWEI,
            to: TxKind::Call(to),
            value: U256::from(value),
            access_list: Default::default(),
            input,
        },
    )
}

fn attributes(chain: &Blockchain, l1_prices: Option<L1Prices>) -> BlockAttributes {
    let (_, head) = reader(chain).head().expect("head").expect("a head");
    BlockAttributes {
        timestamp: head.timestamp + 1,
        coinbase: COINBASE,
        gas_limit: head.gas_limit,
        prev_randao: B256::repeat_byte(7),
        extra_data: Bytes::new(),
        l1_prices,
        max_state_diff_bytes: None,
    }
}

fn build(chain: &Blockchain, txs: Vec<Transaction>, observed: Option<L1Prices>) -> BuiltBlock {
    let senders = keel_chain::recover_senders(&txs).expect("senders");
    let mut source = ListTxSource::new(txs, senders);
    chain
        .build_block(&attributes(chain, observed), &mut source)
        .expect("build")
}

/// The fee params a block charged at: its header's prices, the oracle's scalars.
fn params_of(block: &Block) -> FeeParams {
    FeeParams {
        prices: L1Prices::from_extra_data(&block.header.extra_data).expect("prices"),
        scalars: PARAMS.scalars,
    }
}

#[test]
fn senders_pay_gas_l1_fee_and_operator_fee_and_the_vaults_get_the_sums() {
    let genesis = fee_genesis();
    let chain = open(&genesis);
    let alice = signer(0);
    let bob = signer(1);
    let carol = address!("0x00000000000000000000000000000000000ca401");
    // A contract call's calldata: bigger transactions pay more L1 fee.
    let call = Bytes::from(vec![0xab; 300]);
    let token = address!("0x0000000000000000000000000000000000070ce5");
    let senders = [alice.address(), bob.address()];
    let before: Vec<U256> = senders.iter().map(|s| balance(&chain, *s)).collect();
    let mut paid_l1 = U256::ZERO;
    let mut paid_operator = U256::ZERO;
    let mut spent = [U256::ZERO; 2];
    // Two blocks at two L1 price levels: the second moves toward a spike by one step.
    let spike = L1Prices {
        base_fee: 200 * GWEI as u64,
        blob_base_fee: 300 * GWEI as u64,
    };
    let mut l1_fees_per_block = Vec::new();
    for (round, observed) in [(0u64, None), (1, Some(spike))] {
        let txs = vec![
            tx(&alice, round * 2, carol, 1_000, Bytes::new()),
            tx(&alice, round * 2 + 1, token, 0, call.clone()),
            tx(&bob, round, carol, 5_000, Bytes::new()),
        ];
        let parent_prices = oracle_prices(&chain);
        let built = build(&chain, txs, observed);
        assert_eq!(built.block.body.transactions.len(), 3, "all included");
        let params = params_of(&built.block);
        assert_eq!(
            params.prices,
            observed.map_or(parent_prices, |o| parent_prices.toward(&o)),
            "the block's prices are the parent's moved one step toward L1's"
        );
        assert_eq!(
            oracle_prices(&chain),
            params.prices,
            "written to the oracle"
        );
        let base_fee = built.block.header.base_fee_per_gas.expect("base fee");
        let mut cumulative = 0;
        let mut block_l1 = Vec::new();
        for ((tx, sender), receipt) in built
            .block
            .body
            .transactions
            .iter()
            .zip(&built.senders)
            .zip(&built.receipts)
        {
            let gas_used = receipt.cumulative_gas_used() - cumulative;
            cumulative = receipt.cumulative_gas_used();
            let Transaction::Ethereum(eth) = tx else {
                panic!("ordinary")
            };
            let len = eth.encode_2718_len();
            let charge = params.charge(len, gas_used);
            assert!(charge.l1_fee > U256::ZERO);
            paid_l1 += charge.l1_fee;
            paid_operator += charge.operator_fee;
            block_l1.push(charge.l1_fee);
            let price = eth.effective_gas_price(Some(base_fee));
            let index = senders.iter().position(|s| s == sender).expect("sender");
            spent[index] += U256::from(gas_used) * U256::from(price) + eth.value() + charge.total();
        }
        l1_fees_per_block.push(block_l1);
    }
    for (i, sender) in senders.iter().enumerate() {
        assert_eq!(
            balance(&chain, *sender),
            before[i] - spent[i],
            "sender {i} paid exactly gas × price + value + L1 fee + operator fee"
        );
    }
    assert_eq!(balance(&chain, L1_FEE_VAULT), paid_l1, "L1 fee vault");
    assert_eq!(
        balance(&chain, OPERATOR_FEE_VAULT),
        paid_operator,
        "operator fee vault"
    );
    // The call (bigger) pays more than a transfer; the second block's fees follow the price up.
    assert!(l1_fees_per_block[0][1] > l1_fees_per_block[0][0]);
    assert!(l1_fees_per_block[1][0] > l1_fees_per_block[0][0]);
    assert!(l1_fees_per_block[1][1] > l1_fees_per_block[0][1]);
}

#[test]
fn import_reproduces_the_fees_and_refuses_other_prices() {
    let genesis = fee_genesis();
    let chain = open(&genesis);
    let alice = signer(0);
    let carol = address!("0x00000000000000000000000000000000000ca401");
    let spike = L1Prices {
        base_fee: 1_000 * GWEI as u64,
        blob_base_fee: 1_000 * GWEI as u64,
    };
    let mut blocks = Vec::new();
    for nonce in 0..3 {
        let built = build(
            &chain,
            vec![tx(&alice, nonce, carol, 1, Bytes::new())],
            Some(spike),
        );
        blocks.push(built.block);
    }

    // A fresh node imports them to the same state.
    let follower = open(&genesis);
    for block in &blocks[..2] {
        follower.import_block(block).expect("import");
    }
    // The third block with other prices (one step from the parent's, so only the fees differ):
    // its state root was computed at the real ones, so it is refused.
    let real = L1Prices::from_extra_data(&blocks[2].header.extra_data).expect("prices");
    let mut other = blocks[2].clone();
    other.header.extra_data = L1Prices {
        base_fee: real.base_fee - 1,
        ..real
    }
    .to_extra_data();
    assert!(follower.import_block(&other).is_err(), "other prices");
    // Prices that jump more than a step from the parent's are refused whatever the rest.
    let mut jump = blocks[2].clone();
    jump.header.extra_data = spike.to_extra_data();
    let error = follower
        .import_block(&jump)
        .expect_err("a jump")
        .to_string();
    assert!(error.contains("moved too far"), "{error}");
    // No prices at all.
    let mut none = blocks[2].clone();
    none.header.extra_data = Bytes::from_static(b"keel");
    let error = follower
        .import_block(&none)
        .expect_err("no prices")
        .to_string();
    assert!(
        error.contains("extraData must carry the L1 prices"),
        "{error}"
    );
    // The real block still imports, to the builder's state.
    follower.import_block(&blocks[2]).expect("import");
    assert_eq!(
        reader(&follower)
            .head()
            .expect("head")
            .expect("head")
            .1
            .state_root,
        reader(&chain)
            .head()
            .expect("head")
            .expect("head")
            .1
            .state_root
    );
    assert_eq!(
        balance(&follower, L1_FEE_VAULT),
        balance(&chain, L1_FEE_VAULT)
    );
}

#[test]
fn a_sender_who_can_pay_the_gas_but_not_the_l1_fee_is_refused_with_what_is_missing() {
    let genesis = fee_genesis();
    let chain = open(&genesis);
    let alice = signer(0);
    // Fund a fresh account with exactly the gas and value of a transfer, not its L1 fee.
    let poor = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x51)).expect("key");
    let transfer = |nonce| {
        sign(
            &poor,
            TxEip1559 {
                chain_id: DEFAULT_L2_CHAIN_ID,
                nonce,
                gas_limit: 21_000,
                max_fee_per_gas: 10 * GWEI,
                max_priority_fee_per_gas: GWEI,
                to: TxKind::Call(alice.address()),
                value: U256::from(1u64),
                access_list: Default::default(),
                input: Bytes::new(),
            },
        )
    };
    let gas_and_value = U256::from(21_000u128 * 10 * GWEI + 1);
    let funding = tx(
        &alice,
        0,
        poor.address(),
        gas_and_value.to::<u128>(),
        Bytes::new(),
    );
    build(&chain, vec![funding], None);
    assert_eq!(balance(&chain, poor.address()), gas_and_value);

    let pool = Mempool::new(MempoolConfig::default(), chain.clone());
    let poor_tx = transfer(0);
    let raw = poor_tx.encoded_2718();
    let error = pool.add_raw(&raw).expect_err("refused").to_string();
    let params = FeeParams {
        prices: oracle_prices(&chain),
        scalars: PARAMS.scalars,
    };
    let fees = params.charge(raw.len(), 21_000);
    assert!(
        error.starts_with("insufficient funds for gas * price + value + L1 fee + operator fee"),
        "{error}"
    );
    assert!(
        error.contains(&format!("missing {} wei", fees.total())),
        "the missing amount is the fees: {error}"
    );
    assert!(pool.is_empty());

    // A block that includes it anyway is invalid: executing it fails on the sender's funds.
    let empty = build(&chain, Vec::new(), None);
    let mut block = empty.block.clone();
    block.body.transactions = vec![transfer(0)];
    let parent = reader(&chain);
    let error = keel_evm::execute_block(
        chain.spec_arc(),
        keel_evm::StoreDb::new(&parent, &parent),
        &Block {
            header: alloy_consensus::Header {
                number: block.header.number + 1,
                parent_hash: empty.hash,
                ..block.header.clone()
            },
            body: block.body,
        },
        &[poor.address()],
    )
    .expect_err("a block with a sender who can't pay the L1 fee is invalid")
    .to_string();
    assert!(error.contains("lack of funds"), "{error}");

    // A block builder leaves it out as invalid; nothing changes.
    let senders = keel_chain::recover_senders(std::slice::from_ref(&poor_tx)).expect("sender");
    let mut source = ListTxSource::new(vec![poor_tx], senders);
    let built = chain
        .build_block(&attributes(&chain, None), &mut source)
        .expect("build");
    assert!(built.block.body.transactions.is_empty());
    assert!(
        matches!(source.skipped.first(), Some((_, SkipReason::Invalid(_)))),
        "{:?}",
        source.skipped
    );
    assert_eq!(balance(&chain, poor.address()), gas_and_value);
}

/// `setScalars(uint32,uint32)` calldata for the `GasPriceOracle`.
fn set_scalars(base_fee_scalar: u32, blob_base_fee_scalar: u32) -> Bytes {
    let mut data = keccak256("setScalars(uint32,uint32)")[..4].to_vec();
    data.extend_from_slice(B256::from(U256::from(base_fee_scalar)).as_slice());
    data.extend_from_slice(B256::from(U256::from(blob_base_fee_scalar)).as_slice());
    data.into()
}

fn scalars_in_oracle(chain: &Blockchain) -> FeeScalars {
    let r = reader(chain);
    FeeParams::from_storage(|slot| r.storage(&GAS_PRICE_ORACLE_ADDRESS, &B256::from(slot)))
        .expect("oracle")
        .scalars
}

#[test]
fn only_an_l1_message_from_the_owner_changes_the_scalars_from_the_next_block() {
    // The dev genesis: the real GasPriceOracle, owned by dev account 0.
    let genesis = dev::dev_genesis();
    let chain = open(&genesis);
    let owner = signer(0);
    let stranger = signer(1);
    let before = scalars_in_oracle(&chain);
    assert_eq!(before, keel_types::fees::DEFAULT_FEE_PARAMS.scalars);
    let carol = address!("0x00000000000000000000000000000000000ca401");

    // Someone else's ordinary transaction calling the setter reverts: nothing changes.
    let attempt = tx(&stranger, 0, GAS_PRICE_ORACLE_ADDRESS, 0, set_scalars(1, 1));
    let built = build(&chain, vec![attempt], None);
    assert!(
        !built.receipts[0].status(),
        "a stranger can't set the scalars"
    );
    assert_eq!(scalars_in_oracle(&chain), before);

    // The owner's L1 message (a privileged transaction, as `CommonBridge.sendToL2` from the L1
    // governor makes) sets them; a transfer in the same block still pays the old ones.
    let message = Transaction::privileged(PrivilegedTx {
        chain_id: DEFAULT_L2_CHAIN_ID,
        nonce: 0,
        from: owner.address(),
        to: GAS_PRICE_ORACLE_ADDRESS,
        value: U256::ZERO,
        gas_limit: 100_000,
        data: set_scalars(2 * before.base_fee_scalar, 3 * before.blob_base_fee_scalar),
    });
    let same_block = tx(&stranger, 1, carol, 1, Bytes::new());
    let vault_before = balance(&chain, dev::DEV_L1_FEE_VAULT);
    let built = build(&chain, vec![message, same_block.clone()], None);
    assert_eq!(built.block.body.transactions.len(), 2);
    assert!(
        built.receipts[0].status(),
        "the owner's message sets the scalars"
    );
    let after = scalars_in_oracle(&chain);
    assert_eq!(after.base_fee_scalar, 2 * before.base_fee_scalar);
    assert_eq!(after.blob_base_fee_scalar, 3 * before.blob_base_fee_scalar);
    let Transaction::Ethereum(eth) = &same_block else {
        panic!("ordinary")
    };
    let len = eth.encode_2718_len();
    let old_params = FeeParams {
        prices: keel_types::fees::DEFAULT_FEE_PARAMS.prices,
        scalars: before,
    };
    assert_eq!(
        balance(&chain, dev::DEV_L1_FEE_VAULT) - vault_before,
        old_params.l1_fee(len),
        "the block charged at the scalars it started with"
    );

    // The next block charges at the new ones.
    let next = tx(&stranger, 2, carol, 1, Bytes::new());
    let vault_before = balance(&chain, dev::DEV_L1_FEE_VAULT);
    build(&chain, vec![next], None);
    let new_params = FeeParams {
        scalars: after,
        ..old_params
    };
    assert_eq!(
        balance(&chain, dev::DEV_L1_FEE_VAULT) - vault_before,
        new_params.l1_fee(len)
    );
    assert!(new_params.l1_fee(len) > old_params.l1_fee(len));
}
