//! The state diff budget of block building (docs/committer.md, Batching: every block's own state
//! diff must fit a blob), on the dev genesis and an in-memory store: blocks built by
//! [`Blockchain::build_block`] stop taking transactions when the upper bound of their state diff v1
//! reaches [`BlockAttributes::max_state_diff_bytes`], and the real v1 diff of each block (rebuilt
//! here from the block's re-execution) stays within the bound.

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_eips::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use keel_chain::{
    BlockAttributes, Blockchain, BuiltBlock, ListTxSource, Mempool, MempoolConfig,
    PrivilegedLimits, SkipReason,
};
use keel_evm::{
    BundleState, StoreDb,
    diff_budget::{ACCOUNT_BYTES, DIFF_FIXED_BYTES, SLOT_BYTES, STORAGE_COUNT_BYTES},
};
use keel_storage::{ChainReader, StateReader, Store, StoreReader};
use keel_types::{
    ChainSpec, Transaction,
    dev::{self, DEFAULT_L2_CHAIN_ID, DEV_ACCOUNTS},
    state_diff::{AccountDiff, CodeChange, DiffHeader, StateDiff},
};

const COINBASE: Address = address!("0x000000000000000000000000000000000000c0de");
const VAULT: Address = address!("0x000000000000000000000000000000000000fee5");
const GWEI: u128 = 1_000_000_000;
const GAS_LIMIT: u64 = 30_000_000;
/// Fee vaults the first ordinary transaction of a block brings into its diff: the dev chain's
/// L1 fee vault (its operator fee is 0, so the operator fee vault is never credited).
const FEE_VAULTS: usize = 1;
/// Slots each storage-writing transaction of the tests writes.
const SLOTS_PER_TX: u64 = 20;
/// The budget of the tests: room for three such transactions (see `storage_txs`).
const BUDGET: usize = 5_000;

/// Runtime code: `for i in calldata[0..32] .. calldata[0..32] + calldata[32..64]: sstore(i, 1)`.
const STORE_LOOP: [u8; 29] = [
    0x60, 0x00, 0x35, // start = calldataload(0)
    0x60, 0x20, 0x35, // n = calldataload(32)
    0x81, 0x01, // [i = start, end = start + n]
    0x5b, // 0x08 loop:
    0x81, 0x81, 0x14, 0x60, 0x1b, 0x57, // if i == end goto done
    0x60, 0x01, 0x82, 0x55, // sstore(i, 1)
    0x90, 0x60, 0x01, 0x01, 0x90, // i += 1
    0x60, 0x08, 0x56, // goto loop
    0x5b, 0x00, // 0x1b done: stop
];

/// The dev chain, base fee to [`VAULT`].
fn new_chain() -> Blockchain {
    let genesis = dev::dev_genesis();
    let spec = ChainSpec::from_genesis(&genesis)
        .expect("spec")
        .with_base_fee_vault(Some(VAULT));
    Blockchain::open(Store::in_memory().expect("store"), &genesis, spec).expect("chain")
}

fn attributes(chain: &Blockchain, max_state_diff_bytes: Option<usize>) -> BlockAttributes {
    let (_, head) = reader(chain).head().expect("head").expect("a head");
    BlockAttributes {
        timestamp: head.timestamp + 12,
        coinbase: COINBASE,
        gas_limit: GAS_LIMIT,
        prev_randao: B256::repeat_byte(7),
        extra_data: Bytes::new(),
        l1_prices: None,
        max_state_diff_bytes,
    }
}

fn reader(chain: &Blockchain) -> StoreReader {
    chain.store().reader().expect("reader")
}

/// An EIP-1559 transaction from dev account `i`.
fn signed(
    i: usize,
    nonce: u64,
    to: TxKind,
    gas_limit: u64,
    value: u64,
    input: Bytes,
) -> Transaction {
    let tx = TxEip1559 {
        chain_id: DEFAULT_L2_CHAIN_ID,
        nonce,
        gas_limit,
        max_fee_per_gas: 100 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to,
        value: U256::from(value),
        access_list: Default::default(),
        input,
    };
    let signer = PrivateKeySigner::from_bytes(&DEV_ACCOUNTS[i].1).expect("key");
    let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    Transaction::from(tx.into_signed(sig))
}

/// A plain transfer of 1,000 wei from dev account `i`.
fn transfer(i: usize, nonce: u64, to: Address) -> Transaction {
    signed(i, nonce, TxKind::Call(to), 21_000, 1_000, Bytes::new())
}

/// A call of the store loop writing slots `start..start + n`.
fn store_call(i: usize, nonce: u64, contract: Address, start: u64, n: u64) -> Transaction {
    let mut input = B256::from(U256::from(start)).to_vec();
    input.extend_from_slice(B256::from(U256::from(n)).as_slice());
    signed(
        i,
        nonce,
        TxKind::Call(contract),
        60_000 + 25_000 * n,
        0,
        input.into(),
    )
}

/// Build the next block from exactly `txs`, and the real v1 diff of the block's own changes.
fn build(
    chain: &Blockchain,
    txs: Vec<Transaction>,
    budget: Option<usize>,
) -> (BuiltBlock, ListTxSource, StateDiff) {
    let senders = keel_chain::recover_senders(&txs).expect("senders");
    let mut source = ListTxSource::new(txs, senders);
    let parent = reader(chain);
    let built = chain
        .build_block(&attributes(chain, budget), &mut source)
        .expect("build");
    let diff = real_diff(chain, &parent, &built);
    (built, source, diff)
}

/// The block's state diff v1: it is re-executed on `parent` (a snapshot of the parent's state)
/// and every changed account, slot and code goes in, as a batch of this one block would carry.
fn real_diff(chain: &Blockchain, parent: &StoreReader, built: &BuiltBlock) -> StateDiff {
    let outcome = keel_evm::execute_block(
        chain.spec_arc(),
        StoreDb::new(parent, parent),
        &built.block,
        &built.senders,
    )
    .expect("re-execute");
    let mut diff = StateDiff {
        last_header: DiffHeader::from_header(&built.block.header),
        accounts: accounts_of(&outcome.bundle),
        withdrawals: Vec::new(),
        privileged: Vec::new(),
    };
    diff.sort();
    diff.encode().expect("encodes");
    diff
}

fn accounts_of(bundle: &BundleState) -> Vec<AccountDiff> {
    bundle
        .state
        .iter()
        .filter_map(|(address, account)| {
            let new = account.info.clone().unwrap_or_default();
            let old = account.original_info.clone().unwrap_or_default();
            let storage: Vec<(B256, U256)> = account
                .storage
                .iter()
                .filter(|(_, slot)| slot.is_changed())
                .map(|(key, slot)| (B256::from(*key), slot.present_value))
                .collect();
            let diff = AccountDiff {
                address: *address,
                balance: (new.balance != old.balance).then_some(new.balance),
                nonce_increase: (new.nonce != old.nonce).then(|| new.nonce - old.nonce),
                storage,
                code: (new.code_hash != old.code_hash)
                    .then(|| CodeChange::New(new.code.clone().expect("new code").original_bytes())),
            };
            (diff
                != AccountDiff {
                    address: *address,
                    ..Default::default()
                })
            .then_some(diff)
        })
        .collect()
}

/// Deploy the store loop from dev account 0; returns its address.
fn deploy_store_loop(chain: &Blockchain) -> Address {
    let mut init = vec![
        0x60,
        STORE_LOOP.len() as u8,
        0x60,
        12,
        0x60,
        0x00,
        0x39,
        0x60,
        STORE_LOOP.len() as u8,
        0x60,
        0x00,
        0xf3,
    ];
    init.extend_from_slice(&STORE_LOOP);
    let deployer = DEV_ACCOUNTS[0].0;
    let nonce = reader(chain)
        .account(&deployer)
        .expect("read")
        .map_or(0, |a| a.nonce);
    let tx = signed(0, nonce, TxKind::Create, 200_000, 0, init.into());
    let (built, source, diff) = build(chain, vec![tx], None);
    assert!(source.skipped.is_empty(), "{:?}", source.skipped);
    assert!(built.receipts[0].status(), "deployment succeeded");
    // The new code counts in full in both.
    assert!(diff.encoded_len() <= built.state_diff_bound);
    let contract = deployer.create(nonce);
    let code_hash = reader(chain)
        .account(&contract)
        .expect("read")
        .expect("deployed")
        .code_hash;
    assert_eq!(code_hash, alloy_primitives::keccak256(STORE_LOOP));
    contract
}

/// Dev accounts 1..=8 each call the store loop once (20 new slots each, disjoint), then dev
/// account 9 sends a plain transfer.
fn storage_txs(contract: Address) -> Vec<Transaction> {
    let mut txs: Vec<Transaction> = (1..=8)
        .map(|i| store_call(i, 0, contract, 1_000 * i as u64, SLOTS_PER_TX))
        .collect();
    txs.push(transfer(9, 0, Address::repeat_byte(0x99)));
    txs
}

/// Bound of the empty block of [`new_chain`]: the header and counts, the EIP-2935 history slot
/// its system call writes, and the base-fee vault's credit kept for after the transactions.
fn empty_block_bound() -> usize {
    DIFF_FIXED_BYTES + (ACCOUNT_BYTES + STORAGE_COUNT_BYTES + SLOT_BYTES) + ACCOUNT_BYTES
}

#[test]
fn an_empty_block_is_bounded_by_its_system_call_and_the_vault() {
    let chain = new_chain();
    let (built, _, diff) = build(&chain, Vec::new(), Some(BUDGET));
    assert_eq!(built.state_diff_bound, empty_block_bound());
    assert!(diff.encoded_len() <= built.state_diff_bound);
}

#[test]
fn a_block_stops_at_the_state_diff_budget_and_the_rest_follows() {
    let chain = new_chain();
    let contract = deploy_store_loop(&chain);
    let txs = storage_txs(contract);
    let hashes: Vec<B256> = txs.iter().map(|tx| *tx.tx_hash()).collect();

    let (first, source, diff) = build(&chain, txs.clone(), Some(BUDGET));
    // The first storage call brings its sender, the contract (with its slot count), the
    // coinbase and the L1 fee vault; the others their sender and slots.
    let first_call =
        (3 + FEE_VAULTS) * ACCOUNT_BYTES + STORAGE_COUNT_BYTES + SLOTS_PER_TX as usize * SLOT_BYTES;
    let next_call = ACCOUNT_BYTES + SLOTS_PER_TX as usize * SLOT_BYTES;
    let fitting = 1 + (BUDGET - empty_block_bound() - first_call) / next_call;
    assert_eq!(fitting, 3, "the budget is meant for three storage calls");
    // Three storage calls, and the transfer after the five left out still fits.
    let included: Vec<B256> = first
        .block
        .body
        .transactions
        .iter()
        .map(|tx| *tx.tx_hash())
        .collect();
    assert_eq!(included, [&hashes[..3], &hashes[8..]].concat());
    assert_eq!(
        source.skipped,
        hashes[3..8]
            .iter()
            .map(|h| (*h, SkipReason::DoesNotFit))
            .collect::<Vec<_>>()
    );
    let transfer_cost = 2 * ACCOUNT_BYTES;
    assert_eq!(
        first.state_diff_bound,
        empty_block_bound() + first_call + 2 * next_call + transfer_cost
    );
    assert!(first.state_diff_bound <= BUDGET);
    assert!(
        diff.encoded_len() <= first.state_diff_bound,
        "real diff {} bytes, bound {}",
        diff.encoded_len(),
        first.state_diff_bound
    );
    // The real diff has what the bound counted: 60 slots of the contract, no more.
    let written = diff
        .accounts
        .iter()
        .find(|a| a.address == contract)
        .expect("contract in the diff");
    assert_eq!(written.storage.len(), 3 * SLOTS_PER_TX as usize);

    // The left-out ones go into the next blocks, each within the budget.
    let mut left: Vec<Transaction> = txs[3..8].to_vec();
    let mut blocks = 0;
    while !left.is_empty() {
        let (built, source, diff) = build(&chain, left.clone(), Some(BUDGET));
        assert!(!built.block.body.transactions.is_empty(), "progress");
        assert!(built.state_diff_bound <= BUDGET);
        assert!(diff.encoded_len() <= built.state_diff_bound);
        assert!(
            source
                .skipped
                .iter()
                .all(|(_, reason)| *reason == SkipReason::DoesNotFit)
        );
        left.retain(|tx| !built.block.body.transactions.contains(tx));
        blocks += 1;
    }
    assert_eq!(blocks, 2, "three, then two");
    // Every call wrote its slots.
    let reader = reader(&chain);
    for i in 1..=8u64 {
        let last = U256::from(1_000 * i + SLOTS_PER_TX - 1);
        assert_eq!(
            reader.storage(&contract, &B256::from(last)).expect("read"),
            U256::from(1),
            "calls of dev account {i}"
        );
    }
}

#[test]
fn without_a_budget_the_same_transactions_fit_one_block() {
    let chain = new_chain();
    let contract = deploy_store_loop(&chain);
    let txs = storage_txs(contract);
    let (built, source, diff) = build(&chain, txs.clone(), None);
    assert!(source.skipped.is_empty(), "{:?}", source.skipped);
    assert_eq!(built.block.body.transactions, txs);
    assert!(built.state_diff_bound > BUDGET);
    assert!(diff.encoded_len() <= built.state_diff_bound);
    assert!(
        diff.encoded_len() > BUDGET,
        "the budget is what cut the block"
    );
}

#[test]
fn a_transaction_whose_diff_alone_exceeds_the_budget_is_invalid_and_the_block_goes_on() {
    let chain = new_chain();
    let contract = deploy_store_loop(&chain);
    let huge = store_call(1, 0, contract, 0, 100);
    let small = store_call(2, 0, contract, 5_000, 5);
    let plain = transfer(3, 0, Address::repeat_byte(0x33));
    let (built, source, diff) = build(
        &chain,
        vec![huge.clone(), small.clone(), plain.clone()],
        Some(BUDGET),
    );
    assert_eq!(built.block.body.transactions, vec![small, plain]);
    assert_eq!(source.skipped.len(), 1);
    let (hash, reason) = &source.skipped[0];
    assert_eq!(hash, huge.tx_hash());
    let SkipReason::Invalid(why) = reason else {
        panic!("expected invalid, got {reason:?}");
    };
    assert!(why.contains("exceeds a blob"), "{why}");
    assert!(built.state_diff_bound <= BUDGET);
    assert!(diff.encoded_len() <= built.state_diff_bound);
}

#[test]
fn the_mempool_drops_a_transaction_that_can_never_fit_and_keeps_the_others() {
    let chain = new_chain();
    let contract = deploy_store_loop(&chain);
    let pool = Mempool::new(MempoolConfig::default(), chain.clone());
    let huge = store_call(1, 0, contract, 0, 100);
    let waiting: Vec<Transaction> = (2..=6)
        .map(|i| store_call(i, 0, contract, 1_000 * i as u64, SLOTS_PER_TX))
        .collect();
    for tx in std::iter::once(&huge).chain(&waiting) {
        pool.add_raw(&tx.encoded_2718()).expect("admitted");
    }
    let base_fee = chain.next_base_fee().expect("base fee");
    let limits = PrivilegedLimits {
        max_gas: GAS_LIMIT / 4,
        max_txs: 10,
    };
    let mut candidates = pool.block_candidates(base_fee, limits);
    let built = chain
        .build_block(&attributes(&chain, Some(BUDGET)), &mut candidates)
        .expect("build");
    let invalid = candidates.invalid();
    pool.on_new_block(&built.block, &built.senders, &invalid)
        .expect("prune");
    assert_eq!(invalid.len(), 1);
    assert_eq!(invalid[0].0, *huge.tx_hash());
    assert!(pool.get(huge.tx_hash()).is_none(), "dropped from the pool");
    let included = built.block.body.transactions.len();
    assert_eq!(included, 3);
    // Those left out wait in the pool for the next block.
    assert_eq!(pool.len(), waiting.len() - included);
    let mut candidates = pool.block_candidates(chain.next_base_fee().expect("fee"), limits);
    let next = chain
        .build_block(&attributes(&chain, Some(BUDGET)), &mut candidates)
        .expect("build");
    assert_eq!(next.block.body.transactions.len(), waiting.len() - included);
}

#[test]
fn a_block_of_transfers_is_bounded_by_its_accounts() {
    let chain = new_chain();
    const N: usize = 6;
    let txs: Vec<Transaction> = (0..N)
        .map(|i| transfer(i, 0, Address::repeat_byte(0x40 + i as u8)))
        .collect();
    let (built, source, diff) = build(&chain, txs, Some(BUDGET));
    assert!(source.skipped.is_empty());
    assert_eq!(built.block.body.transactions.len(), N);
    // N senders, N recipients, the coinbase and the L1 fee vault.
    assert_eq!(
        built.state_diff_bound,
        empty_block_bound() + (2 * N + 1 + FEE_VAULTS) * ACCOUNT_BYTES
    );
    assert!(diff.encoded_len() <= built.state_diff_bound);
    // Every one of them and the base-fee vault, the history contract are in the real diff.
    assert_eq!(diff.accounts.len(), 2 * N + 1 + FEE_VAULTS + 2);
}
