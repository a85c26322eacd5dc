//! Rebuilding the L2 state from batch state diffs alone (docs/committer.md, Rebuilding from L1,
//! `keel l2 reconstruct`): real workloads are built with [`Blockchain::build_block`] on the dev
//! genesis, split into batches, each batch's diff is computed from the store, encoded to bytes and
//! decoded back, and applied in order on a fresh store holding only the genesis. Every batch must
//! give the original chain's state root, the final flat states must be identical, and the
//! reconstructed store must keep building blocks.

use std::collections::BTreeMap;

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use keel_chain::{
    BatchCheckpoint, BatchDiffBuilder, BlockAttributes, Blockchain, BuiltBlock, DiffApplier,
    DiffApplyError, ListTxSource, genesis_code_hashes,
};
use keel_storage::{ChainReader, StateReader, Store, StoreReader};
use keel_types::{
    ChainSpec, CodeChange, Genesis, PrivilegedLog, PrivilegedTx, StateDiff, Transaction,
    WithdrawalLog,
    dev::{self, DEFAULT_L2_CHAIN_ID, DEV_ACCOUNTS},
    rules::L2_BRIDGE_ADDRESS,
};

const COINBASE: Address = address!("0x000000000000000000000000000000000000c0de");
const VAULT: Address = address!("0x000000000000000000000000000000000000fee5");
const GWEI: u128 = 1_000_000_000;
/// The L1 token the bridged ERC20 stands for.
const L1_TOKEN: Address = address!("0x00000000000000000000000000000000000011aa");

/// Runtime `SSTORE(calldata[0..32], calldata[32..64])`, returned by this init code.
const STORE_INIT: &str = "67602035600035550060005260086018f3";
/// Runtime `SELFDESTRUCT(CALLER)` (`33ff`), returned by this init code.
const DRAIN_INIT: &str = "6133ff6000526002601ef3";

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

fn hex_bytes(s: &str) -> Bytes {
    s.parse().expect("hex")
}

fn word(address: Address) -> [u8; 32] {
    B256::left_padding_from(address.as_slice()).0
}

fn selector(signature: &str) -> Vec<u8> {
    keccak256(signature)[..4].to_vec()
}

/// `selector ‖ words`.
fn call_data(signature: &str, words: &[[u8; 32]]) -> Bytes {
    let mut data = selector(signature);
    for w in words {
        data.extend_from_slice(w);
    }
    data.into()
}

fn genesis_and_spec() -> (Genesis, ChainSpec) {
    let genesis = dev::dev_genesis();
    let spec = ChainSpec::from_genesis(&genesis)
        .expect("spec")
        .with_base_fee_vault(Some(VAULT));
    (genesis, spec)
}

fn new_chain() -> Blockchain {
    let (genesis, spec) = genesis_and_spec();
    Blockchain::open(Store::in_memory().expect("store"), &genesis, spec).expect("chain")
}

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

/// Build the next block from exactly `txs`; every one must be included.
fn build(chain: &Blockchain, txs: Vec<Transaction>) -> BuiltBlock {
    let senders = keel_chain::recover_senders(&txs).expect("senders");
    let mut source = ListTxSource::new(txs.clone(), senders);
    let built = chain
        .build_block(&attributes(chain), &mut source)
        .expect("build");
    assert!(source.skipped.is_empty(), "{:?}", source.skipped);
    assert_eq!(built.block.body.transactions, txs);
    built
}

/// Signs EIP-1559 transactions for the dev accounts, tracking their nonces.
#[derive(Default)]
struct Wallets {
    nonces: [u64; 10],
}

impl Wallets {
    fn address(i: usize) -> Address {
        DEV_ACCOUNTS[i].0
    }

    /// The address of the next contract dev account `i` creates.
    fn next_create(&self, i: usize) -> Address {
        Self::address(i).create(self.nonces[i])
    }

    fn tx(&mut self, i: usize, to: TxKind, value: U256, input: Bytes, gas: u64) -> Transaction {
        let tx = TxEip1559 {
            chain_id: DEFAULT_L2_CHAIN_ID,
            nonce: self.nonces[i],
            gas_limit: gas,
            max_fee_per_gas: 100 * GWEI,
            max_priority_fee_per_gas: GWEI,
            to,
            value,
            access_list: Default::default(),
            input,
        };
        self.nonces[i] += 1;
        let signer = PrivateKeySigner::from_bytes(&DEV_ACCOUNTS[i].1).expect("key");
        let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
        Transaction::from(tx.into_signed(sig))
    }

    fn transfer(&mut self, i: usize, to: Address, value: U256) -> Transaction {
        self.tx(i, TxKind::Call(to), value, Bytes::new(), 21_000)
    }

    fn call(&mut self, i: usize, to: Address, value: U256, input: Bytes) -> Transaction {
        self.tx(i, TxKind::Call(to), value, input, 500_000)
    }

    /// Deploys `init`; returns the tx and the contract's address.
    fn deploy(&mut self, i: usize, init: Bytes, value: U256) -> (Transaction, Address) {
        let address = self.next_create(i);
        (self.tx(i, TxKind::Create, value, init, 3_000_000), address)
    }
}

/// `SSTORE(slot, value)` on the store contract.
fn sstore(slot: u64, value: u64) -> Bytes {
    let mut data = U256::from(slot).to_be_bytes::<32>().to_vec();
    data.extend_from_slice(&U256::from(value).to_be_bytes::<32>());
    data.into()
}

/// A privileged tx from the L1 bridge calling the L2 bridge (deposits).
fn bridge_call(nonce: u64, value: U256, data: Bytes) -> Transaction {
    PrivilegedTx {
        chain_id: DEFAULT_L2_CHAIN_ID,
        nonce,
        from: L2_BRIDGE_ADDRESS,
        to: L2_BRIDGE_ADDRESS,
        value,
        gas_limit: 500_000,
        data,
    }
    .into()
}

fn deposit_eth(nonce: u64, recipient: Address, value: U256) -> Transaction {
    bridge_call(
        nonce,
        value,
        call_data("mintETH(address)", &[word(recipient)]),
    )
}

fn deposit_erc20(nonce: u64, token: Address, recipient: Address, amount: U256) -> Transaction {
    bridge_call(
        nonce,
        U256::ZERO,
        call_data(
            "mintERC20(address,address,address,uint256)",
            &[
                word(L1_TOKEN),
                word(token),
                word(recipient),
                amount.to_be_bytes(),
            ],
        ),
    )
}

/// `BridgedERC20("Bridged", "BRG", 18, L1_TOKEN)`'s init code from the committed artifact.
fn bridged_erc20_init() -> Bytes {
    let artifact: serde_json::Value = serde_json::from_str(include_str!(
        "../../../contracts/artifacts/BridgedERC20.json"
    ))
    .expect("artifact");
    let mut init: Vec<u8> = artifact["bytecode"]
        .as_str()
        .expect("bytecode")
        .parse::<Bytes>()
        .expect("hex")
        .to_vec();
    let string = |s: &str| {
        let mut out = U256::from(s.len()).to_be_bytes::<32>().to_vec();
        let mut padded = [0u8; 32];
        padded[..s.len()].copy_from_slice(s.as_bytes());
        out.extend_from_slice(&padded);
        out
    };
    for head in [
        U256::from(0x80).to_be_bytes::<32>(),
        U256::from(0xc0).to_be_bytes::<32>(),
        U256::from(18).to_be_bytes::<32>(),
        word(L1_TOKEN),
    ] {
        init.extend_from_slice(&head);
    }
    init.extend(string("Bridged"));
    init.extend(string("BRG"));
    init.into()
}

/// The whole flat state: address → (account, slots), and every account's code.
type Dump = BTreeMap<Address, (keel_storage::TrieAccount, Vec<(B256, U256)>, Option<Bytes>)>;

fn dump(reader: &StoreReader) -> Dump {
    reader
        .iter_accounts()
        .expect("iter")
        .map(|entry| {
            let (address, account) = entry.expect("account");
            let slots = reader.storage_slots(&address).expect("slots");
            let code = reader.code(&account.code_hash).expect("code");
            (address, (account, slots, code))
        })
        .collect()
}

fn account_diff(diff: &StateDiff, address: Address) -> Option<&keel_types::AccountDiff> {
    diff.accounts.iter().find(|a| a.address == address)
}

/// Builds blocks on the original chain, feeding each to a live [`BatchDiffBuilder`] as soon as
/// it is the head (the flat-state path); the batches are built again afterwards from the finished
/// chain (the trie path) and must come out the same.
struct Producer<'a> {
    chain: &'a Blockchain,
    live: BatchDiffBuilder,
    live_diffs: Vec<StateDiff>,
    batches: Vec<OriginalBatch>,
    blocks: Vec<BuiltBlock>,
}

impl Producer<'_> {
    fn produce(&mut self, txs: Vec<Transaction>) -> keel_types::Header {
        let built = build(self.chain, txs);
        let reader = self.chain.store().reader().expect("reader");
        self.live
            .add_block(&reader, built.block.header.number)
            .expect("live add");
        let header = built.block.header.clone();
        self.blocks.push(built);
        header
    }

    /// Ends the current batch.
    fn seal(&mut self) {
        let store = self.chain.store();
        let (first, last) = self.live.block_range().expect("blocks");
        let last_block = &self.blocks[last as usize - 1];
        let number = self.batches.len() as u64 + 1;
        let diff = self
            .live
            .build(|h| {
                store
                    .published_code(h)
                    .expect("read")
                    .is_some_and(|b| b < number)
            })
            .expect("live build");
        assert!(self.live.encoded_len_upper_bound() >= diff.encoded_len());
        // As the batch sealer does once the batch is committed.
        store
            .record_published_codes(number, &BatchDiffBuilder::new_code_hashes(&diff))
            .expect("record");
        self.live_diffs.push(diff);
        self.batches.push(OriginalBatch {
            first,
            last,
            last_hash: last_block.hash,
            state_root: last_block.block.header.state_root,
        });
        self.live = BatchDiffBuilder::new();
    }
}

/// A batch of the original chain: its blocks' last hash and state root.
struct OriginalBatch {
    first: u64,
    last: u64,
    last_hash: B256,
    state_root: B256,
}

#[test]
fn batches_replayed_from_their_diffs_rebuild_the_state() {
    let (genesis, spec) = genesis_and_spec();
    let chain = new_chain();
    let original = chain.store().clone();
    original
        .record_published_codes(0, &genesis_code_hashes(&genesis))
        .expect("genesis codes");
    let mut w = Wallets::default();

    let fresh1 = address!("0x0000000000000000000000000000000000a11ce1");
    let fresh2 = address!("0x0000000000000000000000000000000000a11ce2");
    let receiver_l1 = address!("0x00000000000000000000000000000000000011c1");
    let receiver_l1_erc20 = address!("0x00000000000000000000000000000000000011c2");
    let beneficiary = address!("0x000000000000000000000000000000000000bef1");
    let drain_code_hash = keccak256(hex_bytes("33ff"));

    let mut p = Producer {
        chain: &chain,
        live: BatchDiffBuilder::new(),
        live_diffs: Vec::new(),
        batches: Vec::new(),
        blocks: Vec::new(),
    };

    // ---- Batch 1 (blocks 1-3) ----
    let (deploy_store, store_contract) = w.deploy(3, hex_bytes(STORE_INIT), U256::ZERO);
    let (deploy_drain1, drain1) = w.deploy(4, hex_bytes(DRAIN_INIT), ether(1));
    // Dev account 5's second contract will be created and destroyed in one tx: fund its address
    // first, so the account exists (balance only) before it is created over and deleted.
    let doomed = Wallets::address(5).create(1);
    let header = p.produce(vec![
        w.transfer(0, fresh1, ether(1)),
        w.transfer(1, Wallets::address(2), ether(2)),
        deposit_eth(0, fresh2, ether(3)),
        deploy_store,
        deploy_drain1,
        w.transfer(6, doomed, ether(5) / U256::from(10)),
    ]);
    assert_eq!(header.number, 1);
    let (deploy_drain2, drain2) = w.deploy(4, hex_bytes(DRAIN_INIT), U256::ZERO);
    let (deploy_token, token) = w.deploy(7, bridged_erc20_init(), U256::ZERO);
    p.produce(vec![
        w.call(3, store_contract, U256::ZERO, sstore(5, 7)),
        w.call(3, store_contract, U256::ZERO, sstore(8, 1)),
        deploy_drain2,
        deploy_token,
    ]);
    let withdraw_eth = w.call(
        8,
        L2_BRIDGE_ADDRESS,
        ether(2),
        call_data("withdraw(address)", &[word(receiver_l1)]),
    );
    let withdraw_eth_hash = *withdraw_eth.tx_hash();
    p.produce(vec![
        deposit_erc20(1, token, Wallets::address(0), U256::from(1000)),
        withdraw_eth,
    ]);
    p.seal();

    // ---- Batch 2 (blocks 4-6) ----
    let erc20_transfer = |to: Address, amount: u64| {
        call_data(
            "transfer(address,uint256)",
            &[word(to), U256::from(amount).to_be_bytes()],
        )
    };
    p.produce(vec![
        w.call(3, store_contract, U256::ZERO, sstore(5, 9)),
        w.call(3, store_contract, U256::ZERO, sstore(6, 1)),
        w.call(
            0,
            token,
            U256::ZERO,
            erc20_transfer(Wallets::address(1), 300),
        ),
    ]);
    p.produce(vec![
        // Back to the batch's pre-state: slot 5 to 7, slot 6 to 0, the ERC20 balances.
        w.call(3, store_contract, U256::ZERO, sstore(5, 7)),
        w.call(3, store_contract, U256::ZERO, sstore(6, 0)),
        w.call(
            1,
            token,
            U256::ZERO,
            erc20_transfer(Wallets::address(0), 300),
        ),
        w.transfer(5, fresh2, U256::from(1)),
    ]);
    // Created over the funded `doomed` and self-destructed in the same tx: deleted.
    let mut destroy_init = vec![0x73];
    destroy_init.extend_from_slice(beneficiary.as_slice());
    destroy_init.push(0xff);
    let (create_and_destroy, created) = w.deploy(5, destroy_init.into(), ether(1) / U256::from(4));
    assert_eq!(created, doomed);
    let withdraw_erc20 = w.call(
        0,
        L2_BRIDGE_ADDRESS,
        U256::ZERO,
        call_data(
            "withdrawERC20(address,address,address,uint256)",
            &[
                word(L1_TOKEN),
                word(token),
                word(receiver_l1_erc20),
                U256::from(100).to_be_bytes(),
            ],
        ),
    );
    let withdraw_erc20_hash = *withdraw_erc20.tx_hash();
    p.produce(vec![
        create_and_destroy,
        // SELFDESTRUCT on an existing contract (Cancun): only its balance moves, to dev 4.
        w.call(4, drain1, U256::ZERO, Bytes::new()),
        withdraw_erc20,
    ]);
    p.seal();

    // ---- Batch 3 (blocks 7-8) ----
    let (deploy_drain3, drain3) = w.deploy(9, hex_bytes(DRAIN_INIT), U256::ZERO);
    p.produce(vec![
        w.call(3, store_contract, U256::ZERO, sstore(5, 0)),
        deploy_drain3,
        deposit_eth(2, fresh1, ether(1)),
    ]);
    p.produce(vec![]);
    p.seal();

    // Every receipt succeeded (a failed tx would make the workload test less than it claims).
    let Producer {
        batches,
        live_diffs,
        blocks,
        ..
    } = p;
    for built in &blocks {
        for (i, receipt) in built.receipts.iter().enumerate() {
            assert!(
                receipt.status(),
                "block {} tx {i} failed",
                built.block.header.number
            );
        }
    }
    let reader = original.reader().expect("reader");
    assert!(reader.account(&doomed).expect("read").is_none(), "deleted");
    assert_eq!(
        reader
            .account(&drain1)
            .expect("read")
            .map(|a| (a.balance, a.code_hash)),
        Some((U256::ZERO, drain_code_hash)),
        "SELFDESTRUCT of an existing contract keeps it"
    );
    assert!(reader.account(&drain3).expect("read").is_some());

    // ---- Diffs from the finished chain, through bytes, applied on a fresh store ----
    let recon_store = Store::in_memory().expect("store");
    Blockchain::open(recon_store.clone(), &genesis, spec.clone()).expect("genesis");
    let applier = DiffApplier::new(recon_store.clone(), &genesis, spec.clone()).expect("applier");
    let mut diffs = Vec::new();
    for (i, batch) in batches.iter().enumerate() {
        let number = i as u64 + 1;
        let mut builder = BatchDiffBuilder::new();
        for block in batch.first..=batch.last {
            builder.add_block(&reader, block).expect("add block");
        }
        // The published codes as of this batch: the genesis and earlier batches.
        let diff = builder
            .build(|h| {
                original
                    .published_code(h)
                    .expect("read")
                    .is_some_and(|b| b < number)
            })
            .expect("build");
        assert_eq!(
            diff, live_diffs[i],
            "batch {number}: flat-state and trie paths agree"
        );

        let bytes = diff.encode().expect("encode");
        let decoded = StateDiff::decode(&bytes).expect("decode");
        assert_eq!(decoded, diff);
        let applied = applier
            .apply(&BatchCheckpoint {
                batch_number: number,
                diff: &decoded,
                committed_block_hash: batch.last_hash,
                expected_state_root: batch.state_root,
            })
            .expect("apply");
        assert_eq!(
            applied.header.state_root, batch.state_root,
            "batch {number}"
        );
        assert_eq!(applied.hash, batch.last_hash);
        let recon = recon_store.reader().expect("reader");
        assert_eq!(
            recon.head().expect("head").map(|(h, _)| h),
            Some(batch.last_hash)
        );
        assert_eq!(
            recon.canonical_hash(batch.last).expect("read"),
            Some(batch.last_hash)
        );
        diffs.push(diff);
    }

    // ---- What the diffs say ----
    let [d1, d2, d3] = &diffs[..] else {
        panic!("three batches");
    };
    // Batch 1: the drain code in full once, then by hash; the token's code in full.
    let drain_codes: Vec<_> = [drain1, drain2]
        .iter()
        .map(|a| account_diff(d1, *a).expect("drain").code.clone())
        .collect();
    let mut kinds: Vec<bool> = drain_codes
        .iter()
        .map(|c| matches!(c, Some(CodeChange::New(_))))
        .collect();
    kinds.sort();
    assert_eq!(kinds, vec![false, true], "{drain_codes:?}");
    assert!(drain_codes.contains(&Some(CodeChange::Known(drain_code_hash))));
    assert!(matches!(
        account_diff(d1, token).expect("token").code,
        Some(CodeChange::New(_))
    ));
    assert_eq!(
        account_diff(d1, fresh1).expect("new account").balance,
        Some(ether(1))
    );
    assert_eq!(
        d1.withdrawals,
        vec![WithdrawalLog {
            to: receiver_l1,
            amount: ether(2),
            tx_hash: withdraw_eth_hash
        }]
    );
    assert_eq!(
        d1.privileged,
        vec![
            PrivilegedLog {
                to: L2_BRIDGE_ADDRESS,
                value: ether(3)
            },
            PrivilegedLog {
                to: L2_BRIDGE_ADDRESS,
                value: U256::ZERO
            },
        ]
    );
    assert_eq!(d1.last_header.block_number, 3);
    // Batch 2: the store contract's slots all went back (or stayed) as they were: left out.
    assert!(account_diff(d2, store_contract).is_none(), "{d2:?}");
    // The token: only the burn shows (dev 0's balance and the total supply), not the transfers.
    assert_eq!(account_diff(d2, token).expect("token").storage.len(), 2);
    let doomed_diff = account_diff(d2, doomed).expect("deleted account");
    assert_eq!(doomed_diff.balance, Some(U256::ZERO));
    assert_eq!(doomed_diff.type_byte(), 1);
    assert_eq!(
        account_diff(d2, drain1).expect("drained").balance,
        Some(U256::ZERO)
    );
    assert_eq!(account_diff(d2, drain1).expect("drained").code, None);
    assert_eq!(
        d2.withdrawals,
        vec![WithdrawalLog {
            to: receiver_l1_erc20,
            amount: U256::from(100),
            tx_hash: withdraw_erc20_hash
        }]
    );
    assert!(d2.privileged.is_empty());
    // Batch 3: a slot cleared from nonzero is carried as 0; known code by hash across batches.
    assert_eq!(
        account_diff(d3, store_contract).expect("store").storage,
        vec![(B256::with_last_byte(5), U256::ZERO)]
    );
    assert_eq!(
        account_diff(d3, drain3).expect("drain 3").code,
        Some(CodeChange::Known(drain_code_hash))
    );

    // ---- The reconstructed state is the original state ----
    let recon = recon_store.reader().expect("reader");
    let (original_dump, recon_dump) = (dump(&reader), dump(&recon));
    assert!(original_dump.len() > 20, "{}", original_dump.len());
    assert_eq!(recon_dump, original_dump);
    assert_eq!(
        recon_store.published_codes().expect("read"),
        original.published_codes().expect("read")
    );
    assert_eq!(
        recon_store.published_code(&drain_code_hash).expect("read"),
        Some(1)
    );
    drop((reader, recon));

    // ---- And it keeps building: the same next block on both ----
    let last = batches.last().expect("batch");
    let recon_chain = Blockchain::open(recon_store, &genesis, spec).expect("open reconstructed");
    assert_eq!(
        recon_chain.head().expect("head"),
        (last.last, last.last_hash)
    );
    let next_tx = w.transfer(2, fresh1, ether(1));
    let next = build(&recon_chain, vec![next_tx.clone()]);
    assert_eq!(next.block.header.parent_hash, last.last_hash);
    assert_eq!(next.block.header.number, last.last + 1);
    assert_ne!(next.block.header.state_root, last.state_root);
    let reference = build(&chain, vec![next_tx]);
    assert_eq!(
        next.block.header.state_root,
        reference.block.header.state_root
    );
    assert_eq!(next.hash, reference.hash);
    let balance = |c: &Blockchain| {
        c.store()
            .reader()
            .expect("reader")
            .account(&fresh1)
            .expect("read")
            .map(|a| a.balance)
    };
    assert_eq!(balance(&recon_chain), Some(ether(3)));
    assert_eq!(balance(&recon_chain), balance(&chain));
}

#[test]
fn a_tampered_diff_is_refused_and_writes_nothing() {
    let (genesis, spec) = genesis_and_spec();
    let chain = new_chain();
    let mut w = Wallets::default();
    let recipient = address!("0x0000000000000000000000000000000000000b0b");
    let (deploy, contract) = w.deploy(1, hex_bytes(DRAIN_INIT), U256::ZERO);
    let built = build(&chain, vec![w.transfer(0, recipient, ether(1)), deploy]);
    let reader = chain.store().reader().expect("reader");
    let mut builder = BatchDiffBuilder::new();
    builder.add_block(&reader, 1).expect("add");
    let diff = builder.build(|_| false).expect("build");

    let recon_store = Store::in_memory().expect("store");
    Blockchain::open(recon_store.clone(), &genesis, spec.clone()).expect("genesis");
    let applier = DiffApplier::new(recon_store.clone(), &genesis, spec).expect("applier");
    let before = dump(&recon_store.reader().expect("reader"));
    let genesis_head = recon_store
        .reader()
        .expect("reader")
        .head_hash()
        .expect("head");

    let mut tampered = StateDiff::decode(&diff.encode().expect("encode")).expect("decode");
    let account = tampered
        .accounts
        .iter_mut()
        .find(|a| a.address == recipient)
        .expect("recipient");
    account.balance = Some(ether(1) + U256::from(1));
    let checkpoint = |diff| BatchCheckpoint {
        batch_number: 1,
        diff,
        committed_block_hash: built.hash,
        expected_state_root: built.block.header.state_root,
    };
    let err = applier.apply(&checkpoint(&tampered)).expect_err("tampered");
    match err {
        DiffApplyError::RootMismatch { expected, computed } => {
            assert_eq!(expected, built.block.header.state_root);
            assert_ne!(computed, expected);
        }
        other => panic!("{other}"),
    }
    let after = recon_store.reader().expect("reader");
    assert_eq!(dump(&after), before);
    assert_eq!(after.head_hash().expect("head"), genesis_head);
    assert_eq!(after.canonical_hash(1).expect("read"), None);
    assert_eq!(
        after.code(&keccak256(hex_bytes("33ff"))).expect("read"),
        None
    );
    assert!(recon_store.published_codes().expect("read").is_empty());
    drop(after);

    // A diff naming code by hash that nobody published is refused too.
    let mut unknown = diff.clone();
    let deployed = unknown
        .accounts
        .iter_mut()
        .find(|a| a.address == contract)
        .expect("contract");
    deployed.code = Some(CodeChange::Known(keccak256(hex_bytes("33ff"))));
    assert!(matches!(
        applier.apply(&checkpoint(&unknown)),
        Err(DiffApplyError::UnknownCode { .. })
    ));

    // The untampered diff applies; applying it again is refused (not above the head).
    applier.apply(&checkpoint(&diff)).expect("apply");
    assert!(matches!(
        applier.apply(&checkpoint(&diff)),
        Err(DiffApplyError::NotAboveHead { .. })
    ));
    assert_eq!(dump(&recon_store.reader().expect("reader")), dump(&reader));
}

/// Applies the batches `ranges` of `chain` (diffs built from the finished chain, through bytes) on
/// a fresh store and checks every root and the final flat state; returns the diffs.
fn replay(chain: &Blockchain, ranges: &[(u64, u64)]) -> Vec<StateDiff> {
    let (genesis, spec) = genesis_and_spec();
    let reader = chain.store().reader().expect("reader");
    let recon_store = Store::in_memory().expect("store");
    Blockchain::open(recon_store.clone(), &genesis, spec.clone()).expect("genesis");
    let applier = DiffApplier::new(recon_store.clone(), &genesis, spec).expect("applier");
    let mut diffs = Vec::new();
    for (i, (first, last)) in ranges.iter().enumerate() {
        let mut builder = BatchDiffBuilder::new();
        for block in *first..=*last {
            builder.add_block(&reader, block).expect("add block");
        }
        let diff = builder.build(|_| false).expect("build");
        let decoded = StateDiff::decode(&diff.encode().expect("encode")).expect("decode");
        let hash = reader
            .canonical_hash(*last)
            .expect("read")
            .expect("canonical");
        let root = reader
            .header(&hash)
            .expect("read")
            .expect("header")
            .state_root;
        applier
            .apply(&BatchCheckpoint {
                batch_number: i as u64 + 1,
                diff: &decoded,
                committed_block_hash: hash,
                expected_state_root: root,
            })
            .expect("apply");
        diffs.push(decoded);
    }
    assert_eq!(dump(&recon_store.reader().expect("reader")), dump(&reader));
    diffs
}

#[test]
fn storage_of_an_account_destroyed_and_created_again_in_one_block_is_recovered() {
    // Factory runtime: CREATE2(callvalue, calldata as init code, salt 0).
    let factory_init = hex_bytes("6e366000600037600036600034f55000600052600f6011f3");
    // Child init: SSTORE(0, 1); with no value SELFDESTRUCT(caller), else return the store runtime.
    let child_init = hex_bytes("600160005534600b5733ff5b67602035600035550060005260086018f3");
    let chain = new_chain();
    let mut w = Wallets::default();
    let (deploy, factory) = w.deploy(0, factory_init, U256::ZERO);
    let child = factory.create2_from_code(B256::ZERO, &child_init);
    // The child's address holds a balance before it is first created.
    build(&chain, vec![deploy, w.transfer(2, child, U256::from(5))]);
    // Same block: created and destroyed, then created again with a slot and a balance.
    let wiped = build(
        &chain,
        vec![
            w.call(1, factory, U256::ZERO, child_init.clone()),
            w.call(1, factory, U256::from(1), child_init),
        ],
    );
    let reader = chain.store().reader().expect("reader");
    let revert = reader
        .state_revert(&wiped.hash)
        .expect("read")
        .expect("revert");
    assert!(revert.wiped_storage.contains(&child), "{revert:?}");
    assert_eq!(
        reader.storage(&child, &B256::ZERO).expect("read"),
        U256::from(1)
    );
    drop(reader);
    // Later: the slot written after the wipe is cleared, so the head no longer holds it.
    build(
        &chain,
        vec![
            w.call(1, child, U256::ZERO, sstore(0, 0)),
            w.call(1, child, U256::ZERO, sstore(3, 4)),
        ],
    );

    let diffs = replay(&chain, &[(1, 2), (3, 3)]);
    let created = account_diff(&diffs[0], child).expect("child");
    assert_eq!(created.storage, vec![(B256::ZERO, U256::from(1))]);
    assert_eq!(created.nonce_increase, Some(1));
    assert_eq!(created.balance, Some(U256::from(1)));
    assert_eq!(
        account_diff(&diffs[1], child).expect("child").storage,
        vec![
            (B256::ZERO, U256::ZERO),
            (B256::with_last_byte(3), U256::from(4))
        ]
    );
    // One batch over all three blocks: the slot set and cleared within it is left out.
    let diffs = replay(&chain, &[(1, 3)]);
    assert_eq!(
        account_diff(&diffs[0], child).expect("child").storage,
        vec![(B256::with_last_byte(3), U256::from(4))]
    );
}
