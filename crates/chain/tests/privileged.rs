//! Privileged transactions (type `0x7e`, docs/architecture.md, Chain rules) in blocks, on the dev
//! genesis and an in-memory store: built by [`Blockchain::build_block`] (production), re-executed
//! by [`Blockchain::import_block`] (import and validation), encoded, stored and read back.

use alloy_consensus::{
    SignableTransaction, TxEip1559,
    proofs::{calculate_receipt_root, calculate_transaction_root},
};
use alloy_eips::{Encodable2718, Typed2718};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address, keccak256};
use alloy_rlp::Decodable;
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use keel_chain::{
    BlockAttributes, Blockchain, BuiltBlock, ImportOutcome, ListTxSource, SkipReason,
};
use keel_storage::{ChainReader, StateReader, Store};
use keel_types::{
    Block, ChainSpec, PrivilegedTx, Receipt, Transaction,
    dev::{self, DEFAULT_L2_CHAIN_ID, DEV_ACCOUNTS},
    rules::L2_BRIDGE_ADDRESS,
};

const COINBASE: Address = address!("0x000000000000000000000000000000000000c0de");
const VAULT: Address = address!("0x000000000000000000000000000000000000fee5");
const GWEI: u128 = 1_000_000_000;

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// The dev chain, base fee to [`VAULT`].
fn new_chain() -> Blockchain {
    let genesis = dev::dev_genesis();
    let spec = ChainSpec::from_genesis(&genesis)
        .expect("spec")
        .with_base_fee_vault(Some(VAULT));
    Blockchain::open(Store::in_memory().expect("store"), &genesis, spec).expect("chain")
}

/// Deterministic attributes for the child of the head.
fn attributes(chain: &Blockchain) -> BlockAttributes {
    let (_, head) = chain
        .store()
        .reader()
        .expect("reader")
        .head()
        .expect("head")
        .expect("a head");
    BlockAttributes {
        timestamp: head.timestamp + 12,
        coinbase: COINBASE,
        gas_limit: head.gas_limit,
        prev_randao: B256::repeat_byte(7),
        extra_data: Bytes::new(),
        l1_prices: None,
        max_state_diff_bytes: None,
    }
}

/// Build the next block from exactly `txs` (their senders are recovered as the importer would).
fn build(chain: &Blockchain, txs: Vec<Transaction>) -> (BuiltBlock, ListTxSource) {
    let senders = keel_chain::recover_senders(&txs).expect("senders");
    let mut source = ListTxSource::new(txs, senders);
    let built = chain
        .build_block(&attributes(chain), &mut source)
        .expect("build");
    (built, source)
}

/// (balance, nonce) of `address` at the head.
fn account(chain: &Blockchain, address: Address) -> (U256, u64) {
    chain
        .store()
        .reader()
        .expect("reader")
        .account(&address)
        .expect("read")
        .map_or((U256::ZERO, 0), |a| (a.balance, a.nonce))
}

/// The L1 bridge's deposit: the L2 bridge calls itself with `mintETH(recipient) ‖ depositor`.
fn deposit(nonce: u64, recipient: Address, value: U256) -> PrivilegedTx {
    let mut data = keccak256("mintETH(address)")[..4].to_vec();
    data.extend_from_slice(B256::left_padding_from(recipient.as_slice()).as_slice());
    data.extend_from_slice(Address::repeat_byte(0xd0).as_slice());
    PrivilegedTx {
        chain_id: DEFAULT_L2_CHAIN_ID,
        nonce,
        from: L2_BRIDGE_ADDRESS,
        to: L2_BRIDGE_ADDRESS,
        value,
        gas_limit: 200_000,
        data: data.into(),
    }
}

/// A plain value transfer as a privileged transaction from `from`.
fn transfer(nonce: u64, from: Address, to: Address, value: U256) -> PrivilegedTx {
    PrivilegedTx {
        chain_id: DEFAULT_L2_CHAIN_ID,
        nonce,
        from,
        to,
        value,
        gas_limit: 100_000,
        data: Bytes::new(),
    }
}

/// An ordinary EIP-1559 transfer from dev account `i`.
fn signed(i: usize, nonce: u64, to: Address, value: U256) -> Transaction {
    let tx = TxEip1559 {
        chain_id: DEFAULT_L2_CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 100 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: TxKind::Call(to),
        value,
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let signer = PrivateKeySigner::from_bytes(&DEV_ACCOUNTS[i].1).expect("key");
    let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    Transaction::from(tx.into_signed(sig))
}

/// Gas used by each transaction of a block, from the cumulative gas of its receipts.
fn gas_used(receipts: &[Receipt]) -> Vec<u64> {
    let mut before = 0;
    receipts
        .iter()
        .map(|r| {
            let gas = r.cumulative_gas_used() - before;
            before = r.cumulative_gas_used();
            gas
        })
        .collect()
}

#[test]
fn a_deposit_mints_to_the_recipient_and_pays_no_fee() {
    let chain = new_chain();
    let recipient = address!("0x00000000000000000000000000000000deadbeef");
    let value = ether(3);
    let bridge_before = account(&chain, L2_BRIDGE_ADDRESS);
    assert_eq!(bridge_before.0, U256::ZERO);
    let coinbase_before = account(&chain, COINBASE);
    let vault_before = account(&chain, VAULT);

    let tx = deposit(0, recipient, value);
    let (built, source) = build(&chain, vec![tx.clone().into()]);
    assert!(source.skipped.is_empty(), "{:?}", source.skipped);
    assert_eq!(built.block.body.transactions.len(), 1);
    assert_eq!(built.senders, vec![L2_BRIDGE_ADDRESS]);

    assert_eq!(account(&chain, recipient), (value, 0));
    assert_eq!(account(&chain, L2_BRIDGE_ADDRESS), bridge_before);
    assert_eq!(account(&chain, COINBASE), coinbase_before);
    assert_eq!(account(&chain, VAULT), vault_before);

    let receipt = &built.receipts[0];
    assert!(receipt.is_privileged());
    assert_eq!(receipt.ty(), 0x7e);
    assert!(receipt.status());
    assert!(!receipt.logs().is_empty(), "the bridge reports the deposit");
    assert!(receipt.cumulative_gas_used() > 21_000);
    assert_eq!(built.block.header.gas_used, receipt.cumulative_gas_used());
    // The transaction is found by the bridge's hash.
    let reader = chain.store().reader().expect("reader");
    assert_eq!(
        reader.tx_location(&tx.hash()).expect("lookup"),
        Some((built.hash, 0))
    );
}

#[test]
fn a_reverted_bridge_call_keeps_the_mint_at_the_bridge() {
    let chain = new_chain();
    let (_, bridge_nonce) = account(&chain, L2_BRIDGE_ADDRESS);
    // No such function on the bridge (and no fallback): the call reverts.
    let tx = PrivilegedTx {
        data: Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef]),
        ..deposit(0, Address::repeat_byte(1), ether(1))
    };
    let (built, _) = build(&chain, vec![tx.into()]);
    assert_eq!(built.receipts[0].ty(), 0x7e);
    assert!(!built.receipts[0].status());
    assert_eq!(account(&chain, L2_BRIDGE_ADDRESS), (ether(1), bridge_nonce));
}

#[test]
fn a_privileged_tx_whose_sender_cannot_pay_fails_without_state_change() {
    let chain = new_chain();
    let reference = new_chain();
    let (from, _) = DEV_ACCOUNTS[1];
    let to = address!("0x00000000000000000000000000000000000b0b00");
    let (balance, nonce) = account(&chain, from);
    assert!(balance > U256::ZERO);
    let watched = [from, to, COINBASE, VAULT, L2_BRIDGE_ADDRESS];
    let before: Vec<_> = watched.iter().map(|a| account(&chain, *a)).collect();

    let broke = transfer(0, from, to, balance + U256::from(1u64));
    // Below the intrinsic gas: included too, failed, using its whole (small) gas limit.
    let starved = PrivilegedTx {
        gas_limit: 1_000,
        ..transfer(1, from, to, U256::from(1u64))
    };
    let (built, source) = build(&chain, vec![broke.into(), starved.into()]);
    assert!(source.skipped.is_empty(), "{:?}", source.skipped);
    assert_eq!(built.block.body.transactions.len(), 2);
    for receipt in &built.receipts {
        assert_eq!(receipt.ty(), 0x7e);
        assert!(!receipt.status());
        assert!(receipt.logs().is_empty());
    }
    assert_eq!(gas_used(&built.receipts), vec![21_000, 1_000]);
    assert_eq!(built.block.header.gas_used, 22_000);

    let after: Vec<_> = watched.iter().map(|a| account(&chain, *a)).collect();
    assert_eq!(after, before);
    assert_eq!(account(&chain, from), (balance, nonce));
    // Same state as an empty block with the same attributes (system calls only).
    let (empty, _) = build(&reference, vec![]);
    assert_eq!(built.block.header.state_root, empty.block.header.state_root);
}

#[test]
fn a_privileged_tx_from_an_eoa_moves_the_value_without_nonce_or_gas() {
    let chain = new_chain();
    let (from, _) = DEV_ACCOUNTS[2];
    let to = address!("0x00000000000000000000000000000000000a11ce");
    let (balance, nonce) = account(&chain, from);
    let coinbase = account(&chain, COINBASE);
    let vault = account(&chain, VAULT);

    let (built, _) = build(&chain, vec![transfer(5, from, to, ether(1)).into()]);
    assert!(built.receipts[0].status());
    assert_eq!(built.receipts[0].ty(), 0x7e);
    assert_eq!(gas_used(&built.receipts), vec![21_000]);
    assert_eq!(account(&chain, from), (balance - ether(1), nonce));
    assert_eq!(account(&chain, to), (ether(1), 0));
    assert_eq!(account(&chain, COINBASE), coinbase);
    assert_eq!(account(&chain, VAULT), vault);
}

#[test]
fn a_privileged_tx_for_another_chain_is_left_out() {
    let chain = new_chain();
    let mut tx = deposit(0, Address::repeat_byte(1), ether(1));
    tx.chain_id += 1;
    let hash = tx.hash();
    let (built, source) = build(&chain, vec![tx.into()]);
    assert!(built.block.body.transactions.is_empty());
    assert!(matches!(
        source.skipped.as_slice(),
        [(skipped, SkipReason::Invalid(_))] if *skipped == hash
    ));
}

#[test]
fn a_mixed_block_round_trips_and_reexecutes_identically() {
    let producer = new_chain();
    let recipient = address!("0x000000000000000000000000000000000000d00d");
    let (dev0, _) = DEV_ACCOUNTS[0];
    let (dev1, _) = DEV_ACCOUNTS[1];
    let (dev2, _) = DEV_ACCOUNTS[2];
    let dev1_balance = account(&producer, dev1).0;
    let vault_before = account(&producer, VAULT).0;
    let coinbase_before = account(&producer, COINBASE).0;

    let privileged = [
        deposit(0, recipient, ether(2)),
        transfer(1, dev1, recipient, dev1_balance + U256::from(1u64)),
        transfer(2, dev2, recipient, ether(1)),
    ];
    let txs: Vec<Transaction> = vec![
        privileged[0].clone().into(),
        signed(0, 0, recipient, ether(4)),
        privileged[1].clone().into(),
        privileged[2].clone().into(),
        signed(0, 1, recipient, ether(5)),
    ];
    let (built, source) = build(&producer, txs.clone());
    assert!(source.skipped.is_empty(), "{:?}", source.skipped);
    let block = built.block.clone();
    assert_eq!(block.body.transactions, txs);
    assert_eq!(
        built.senders,
        vec![L2_BRIDGE_ADDRESS, dev0, dev1, dev2, dev0]
    );
    let types: Vec<u8> = built.receipts.iter().map(|r| r.ty()).collect();
    assert_eq!(types, vec![0x7e, 2, 0x7e, 0x7e, 2]);
    let statuses: Vec<bool> = built.receipts.iter().map(|r| r.status()).collect();
    assert_eq!(statuses, vec![true, true, false, true, true]);
    assert_eq!(account(&producer, recipient).0, ether(2 + 4 + 1 + 5));
    // Only the ordinary transactions bump nonces.
    let nonces: Vec<u64> = [dev0, dev1, dev2, L2_BRIDGE_ADDRESS]
        .iter()
        .map(|a| account(&producer, *a).1)
        .collect();
    assert_eq!(
        nonces,
        vec![2, 0, 0, account(&new_chain(), L2_BRIDGE_ADDRESS).1]
    );

    // Only the ordinary transactions pay: base fee to the vault, tip to the coinbase.
    let gas = gas_used(&built.receipts);
    let fee_gas = U256::from(gas[1] + gas[4]);
    let base_fee = U256::from(block.header.base_fee_per_gas.expect("base fee"));
    assert_eq!(
        account(&producer, VAULT).0 - vault_before,
        base_fee * fee_gas
    );
    assert_eq!(
        account(&producer, COINBASE).0 - coinbase_before,
        U256::from(GWEI) * fee_gas
    );

    // Commitments: the transactions root over the 2718 encodings (a privileged one's is
    // `PrivilegedTx::encoded_2718`), the receipts root over the typed receipts.
    assert_eq!(
        block.body.transactions[0].encoded_2718(),
        privileged[0].encoded_2718()
    );
    assert_eq!(
        block.header.transactions_root,
        calculate_transaction_root(&block.body.transactions)
    );
    assert_eq!(
        block.header.receipts_root,
        calculate_receipt_root(&built.receipts)
    );
    assert_eq!(*block.body.transactions[0].tx_hash(), privileged[0].hash());

    // RLP round trip of the whole block.
    let encoded = alloy_rlp::encode(&block);
    let decoded = Block::decode(&mut encoded.as_slice()).expect("decode");
    assert_eq!(decoded, block);
    assert_eq!(decoded.header.hash_slow(), built.hash);

    // Read back from the store, transactions found by their (bridge) hashes.
    let reader = producer.store().reader().expect("reader");
    assert_eq!(
        reader.body(&built.hash).expect("read"),
        Some(block.body.clone())
    );
    assert_eq!(
        reader.receipts(&built.hash).expect("read"),
        Some(built.receipts.clone())
    );
    for (i, tx) in txs.iter().enumerate() {
        assert_eq!(
            reader.tx_location(tx.tx_hash()).expect("lookup"),
            Some((built.hash, i as u64))
        );
    }
    drop(reader);

    // The import path re-executes it to the same state root and receipts root (it checks both
    // against the header) and stores the same receipts.
    let follower = new_chain();
    let outcome = follower.import_block(&decoded).expect("import");
    assert!(
        matches!(outcome, ImportOutcome::Imported { hash, .. } if hash == built.hash),
        "{outcome:?}"
    );
    let reader = follower.store().reader().expect("reader");
    assert_eq!(
        reader.receipts(&built.hash).expect("read"),
        Some(built.receipts.clone())
    );
    for address in [
        recipient,
        dev0,
        dev1,
        dev2,
        L2_BRIDGE_ADDRESS,
        COINBASE,
        VAULT,
    ] {
        assert_eq!(account(&follower, address), account(&producer, address));
    }

    // A tampered privileged transaction no longer matches the header.
    let mut tampered = decoded;
    let Transaction::Privileged(_) = &tampered.body.transactions[3] else {
        panic!("privileged");
    };
    tampered.body.transactions[3] = transfer(2, dev2, recipient, ether(2)).into();
    assert!(new_chain().import_block(&tampered).is_err());
}

// ---- Issue 12, items 2 and 3: no privileged transaction stalls the lane; refunds always work.

/// A contract whose `receive` loops until it runs out of gas (`contracts/test/H3GasBurner.sol`).
const BURNER: Address = address!("0x00000000000000000000000000000000000b0e11");
/// Runtime code: `for i in calldata[0..32] .. calldata[0..32] + calldata[32..64]: sstore(i, 1)`.
const STORE_LOOP_AT: Address = address!("0x0000000000000000000000000000000000057015");
const STORE_LOOP: [u8; 29] = [
    0x60, 0x00, 0x35, 0x60, 0x20, 0x35, 0x81, 0x01, 0x5b, 0x81, 0x81, 0x14, 0x60, 0x1b, 0x57, 0x60,
    0x01, 0x82, 0x55, 0x90, 0x60, 0x01, 0x01, 0x90, 0x60, 0x08, 0x56, 0x5b, 0x00,
];
/// The depositor the `deposit` helper appends (the L1 bridge appends `msg.sender`).
const DEPOSITOR: Address = Address::repeat_byte(0xd0);

/// The dev genesis with the gas burner and the store loop deployed (nothing else changes: the
/// Messenger has never been written, `address(0)` has no account).
fn gas_burner_genesis() -> alloy_genesis::Genesis {
    let burner: serde_json::Value = serde_json::from_str(include_str!(
        "../../../contracts/artifacts/H3GasBurner.json"
    ))
    .expect("artifact");
    let burner_code: Bytes = burner["deployedBytecode"]
        .as_str()
        .expect("runtime code")
        .parse()
        .expect("hex");
    let mut genesis = dev::dev_genesis();
    for (address, code) in [
        (BURNER, burner_code),
        (STORE_LOOP_AT, Bytes::from_static(&STORE_LOOP)),
    ] {
        genesis.alloc.insert(
            address,
            alloy_genesis::GenesisAccount::default().with_code(Some(code)),
        );
    }
    genesis
}

fn gas_burner_chain() -> Blockchain {
    let genesis = gas_burner_genesis();
    let spec = ChainSpec::from_genesis(&genesis)
        .expect("spec")
        .with_base_fee_vault(Some(VAULT));
    Blockchain::open(Store::in_memory().expect("store"), &genesis, spec).expect("chain")
}

/// Import `blocks` into a fresh chain of the same genesis (execute_block re-executes them and
/// checks the state and receipts roots); returns it.
fn import(blocks: &[&BuiltBlock]) -> Blockchain {
    let follower = gas_burner_chain();
    for built in blocks {
        let outcome = follower.import_block(&built.block).expect("import");
        assert!(
            matches!(outcome, ImportOutcome::Imported { hash, .. } if hash == built.hash),
            "{outcome:?}"
        );
        let reader = follower.store().reader().expect("reader");
        assert_eq!(
            reader.receipts(&built.hash).expect("read"),
            Some(built.receipts.clone())
        );
    }
    follower
}

/// A privileged call from dev account 1 to the store loop, writing slots `0..n`.
fn store(nonce: u64, n: u64, gas_limit: u64) -> PrivilegedTx {
    let mut data = B256::ZERO.to_vec();
    data.extend_from_slice(B256::from(U256::from(n)).as_slice());
    PrivilegedTx {
        chain_id: DEFAULT_L2_CHAIN_ID,
        nonce,
        from: DEV_ACCOUNTS[1].0,
        to: STORE_LOOP_AT,
        value: U256::ZERO,
        gas_limit,
        data: data.into(),
    }
}

fn slot(chain: &Blockchain, slot: u64) -> U256 {
    chain
        .store()
        .reader()
        .expect("reader")
        .storage(&STORE_LOOP_AT, &B256::from(U256::from(slot)))
        .expect("read")
}

#[test]
fn a_privileged_tx_above_the_block_gas_limit_goes_first_in_a_block_and_fails() {
    let producer = gas_burner_chain();
    let block_gas_limit = attributes(&producer).gas_limit;
    let r0 = Address::repeat_byte(0xa0);
    let r1 = Address::repeat_byte(0xa1);
    let r2 = Address::repeat_byte(0xa2);
    let oversize = PrivilegedTx {
        gas_limit: block_gas_limit + 1,
        ..deposit(1, r1, ether(1))
    };
    let bridge_before = account(&producer, L2_BRIDGE_ADDRESS);

    // Not the block's first: it waits for the next block (where it will be first).
    let (first, source) = build(
        &producer,
        vec![deposit(0, r0, ether(1)).into(), oversize.clone().into()],
    );
    assert_eq!(first.block.body.transactions.len(), 1);
    assert_eq!(
        source.skipped,
        vec![(oversize.hash(), SkipReason::DoesNotFit)]
    );

    // First of the next block: included as failed, the deposit after it goes through.
    let (second, source) = build(
        &producer,
        vec![oversize.clone().into(), deposit(2, r2, ether(2)).into()],
    );
    assert!(source.skipped.is_empty(), "{:?}", source.skipped);
    assert_eq!(second.block.body.transactions.len(), 2);
    assert_eq!(
        *second.block.body.transactions[0].tx_hash(),
        oversize.hash()
    );
    let statuses: Vec<bool> = second.receipts.iter().map(|r| r.status()).collect();
    assert_eq!(statuses, vec![false, true]);
    assert!(second.receipts[0].logs().is_empty());
    assert_eq!(second.receipts[0].ty(), 0x7e);
    // It uses its intrinsic gas: the base cost and its calldata, nothing of its gas limit.
    let spec = std::sync::Arc::new(producer.spec().clone());
    let spec_id = keel_evm::spec_id_at(&spec, second.block.header.timestamp, 2);
    let intrinsic = keel_evm::intrinsic_gas(spec_id, &oversize.clone().into());
    assert!(intrinsic > 21_000 && intrinsic < 30_000, "{intrinsic}");
    assert_eq!(gas_used(&second.receipts)[0], intrinsic);
    // No mint, no delivery for it; the others are credited.
    assert_eq!(account(&producer, r1).0, U256::ZERO);
    assert_eq!(account(&producer, r0).0, ether(1));
    assert_eq!(account(&producer, r2).0, ether(2));
    assert_eq!(account(&producer, L2_BRIDGE_ADDRESS), bridge_before);

    // Importers apply the same rule: both blocks re-execute to the same roots.
    let follower = import(&[&first, &second]);
    for address in [r0, r1, r2, L2_BRIDGE_ADDRESS, VAULT] {
        assert_eq!(account(&follower, address), account(&producer, address));
    }
}

#[test]
fn a_privileged_tx_whose_own_diff_exceeds_the_cap_fails_and_the_next_one_goes_in() {
    use keel_evm::MAX_PRIVILEGED_TX_DIFF_BYTES;
    // 64 bytes a new slot: the small call fits the cap, the large one not.
    let small = (MAX_PRIVILEGED_TX_DIFF_BYTES / 64 - 10) as u64;
    let large = (MAX_PRIVILEGED_TX_DIFF_BYTES / 64 + 10) as u64;
    let producer = gas_burner_chain();
    let r2 = Address::repeat_byte(0xa2);
    let txs: Vec<Transaction> = vec![
        store(0, large, 30_000_000).into(),
        deposit(1, r2, ether(2)).into(),
    ];
    let (built, source) = build(&producer, txs);
    assert!(source.skipped.is_empty(), "{:?}", source.skipped);
    let statuses: Vec<bool> = built.receipts.iter().map(|r| r.status()).collect();
    assert_eq!(statuses, vec![false, true]);
    assert!(built.receipts[0].logs().is_empty());
    // It ran (its gas is used: a new slot costs 22,100), but none of its writes stand.
    assert!(gas_used(&built.receipts)[0] > large * 20_000);
    assert_eq!(slot(&producer, 0), U256::ZERO);
    assert_eq!(slot(&producer, large - 1), U256::ZERO);
    assert_eq!(account(&producer, r2).0, ether(2));
    let follower = import(&[&built]);
    assert_eq!(slot(&follower, 0), U256::ZERO);

    // Within the cap, the same call succeeds.
    let (built, _) = build(&producer, vec![store(2, small, 30_000_000).into()]);
    assert!(built.receipts[0].status());
    assert_eq!(slot(&producer, small - 1), U256::from(1));
}

/// `keccak256("WithdrawalInitiated(address,address,uint256,uint256)")` and
/// `keccak256("L1Message(address,bytes32,uint256)")`.
fn topics() -> (B256, B256) {
    (
        keccak256("WithdrawalInitiated(address,address,uint256,uint256)"),
        keccak256("L1Message(address,bytes32,uint256)"),
    )
}

/// Issue 12 item 3. On a fresh chain (the Messenger never written, `address(0)` without an
/// account: the send-back path at its costliest), an ETH deposit with the standard 200,000 L2 gas
/// to a recipient that fails having burned all the gas it got is sent back to the depositor: the
/// delivery call gets everything above `DELIVERY_GAS_RESERVE`, and the reserve must pay for the
/// call and the refund (burn, Messenger write, events). Returns the gas left unused.
fn assert_refunded_at_200k_gas(recipient: Address) -> u64 {
    let chain = gas_burner_chain();
    let reader = chain.store().reader().expect("reader");
    assert!(reader.account(&Address::ZERO).expect("read").is_none());
    assert_eq!(
        reader
            .storage(&keel_types::rules::MESSENGER_ADDRESS, &B256::ZERO)
            .expect("read"),
        U256::ZERO,
        "the Messenger's counter was never written"
    );
    drop(reader);
    let value = ether(1);
    let tx = deposit(0, recipient, value);
    assert_eq!(tx.gas_limit, 200_000);
    assert_eq!(&tx.data[36..], DEPOSITOR.as_slice());

    let (built, source) = build(&chain, vec![tx.into()]);
    assert!(source.skipped.is_empty(), "{:?}", source.skipped);
    let receipt = &built.receipts[0];
    assert!(receipt.status(), "the refund ran out of gas");
    let (withdrawal, message) = topics();
    let refund = receipt
        .logs()
        .iter()
        .find(|log| log.address == L2_BRIDGE_ADDRESS && log.topics()[0] == withdrawal)
        .expect("a WithdrawalInitiated log: the deposit is sent back");
    assert_eq!(
        refund.topics()[1],
        B256::left_padding_from(L2_BRIDGE_ADDRESS.as_slice())
    );
    assert_eq!(
        refund.topics()[2],
        B256::left_padding_from(DEPOSITOR.as_slice()),
        "to the depositor"
    );
    assert_eq!(U256::from_be_slice(&refund.data.data[..32]), value);
    assert!(
        receipt
            .logs()
            .iter()
            .any(|log| log.address == keel_types::rules::MESSENGER_ADDRESS
                && log.topics()[0] == message),
        "an L1Message carries it"
    );
    // The ETH is burned on L2: nothing at the bridge or the recipient.
    assert_eq!(account(&chain, Address::ZERO).0, value);
    assert_eq!(account(&chain, L2_BRIDGE_ADDRESS).0, U256::ZERO);
    assert_eq!(account(&chain, recipient).0, U256::ZERO);
    import(&[&built]);
    200_000 - gas_used(&built.receipts)[0]
}

/// A contract that burns all its gas (`H3GasBurner`). With the former 60,000 reserve this fails
/// (checked: the whole `mintETH` reverts, status 0, the ETH stays at the L2 bridge); the refund
/// path after the call needs 64.8k (76.4k of reserve with the 11.6k CALL to a cold contract).
#[test]
fn a_first_ever_deposit_to_a_gas_burner_is_refunded_at_200k_gas() {
    let left = assert_refunded_at_200k_gas(BURNER);
    assert!(left > 30_000, "{left} gas left");
}

/// The costliest recipient: a precompile that fails on empty input (0x0a, the KZG point
/// evaluation) and, being an empty account, makes the value CALL pay 25,000 for a new account.
/// Needs 98.9k of reserve; with the 90,000 of before this fails (checked: status 0, the ETH stays
/// at the L2 bridge). The margin left is what the reserve has above the worst case.
#[test]
fn a_first_ever_deposit_to_a_failing_precompile_is_refunded_at_200k_gas() {
    let left = assert_refunded_at_200k_gas(address!("0x000000000000000000000000000000000000000a"));
    assert!(left > 5_000, "{left} gas left");
    println!("gas left after the costliest refund: {left}");
}
