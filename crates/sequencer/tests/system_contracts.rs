//! The L2 system contracts of the dev genesis, executed by keel's own EVM from the dev genesis
//! state: a withdrawal burns its value and emits the `L1Message` whose leaf the withdrawals tree is
//! built from; the deposit-only functions refuse every caller but the bridge itself; a deposit is
//! delivered, or sent back to the L1 depositor when it can't be.
//!
//! Ordinary transactions (deployments, calls from EOAs) go through the block producer. A deposit
//! runs as a privileged transaction with `from` = the bridge, which the block producer can't
//! execute yet; those calls run on keel's call EVM instead (see [`Sim`]).

mod common;

use alloy_evm::{Evm, EvmEnv, EvmFactory, eth::EthEvmFactory};
use alloy_primitives::{Address, B256, Bytes, Log, TxKind, U256, address, keccak256};
use alloy_sol_types::{SolCall, SolConstructor, SolError, SolEvent, sol};
use common::{Node, balance, node, signed, signed_create};
use keel_chain::Blockchain;
use keel_evm::{CallResult, StoreDb, call_env, transact};
use keel_storage::{ChainReader, StoreReader};
use keel_types::{L1Message, dev};
use revm::{
    DatabaseRef, context::TxEnv, context_interface::result::ExecutionResult, database::CacheDB,
};

sol! {
    // CommonBridgeL2
    function withdraw(address receiverOnL1) payable;
    function withdrawERC20(address tokenL1, address tokenL2, address receiverOnL1, uint256 amount);
    function mintETH(address to) payable;
    function mintERC20(address tokenL1, address tokenL2, address destination, uint256 amount);
    error CallerNotSelf(address caller);
    error TokenL1Mismatch(address tokenL2, address expected, address actual);
    event DepositProcessed(address indexed receiverOnL2, uint256 amount);
    event ERC20DepositProcessed(
        address indexed tokenL1, address indexed tokenL2, address indexed receiverOnL2, uint256 amount
    );
    event WithdrawalInitiated(
        address indexed senderOnL2, address indexed receiverOnL1, uint256 amount, uint256 messageId
    );
    event ERC20WithdrawalInitiated(
        address indexed tokenL1,
        address indexed tokenL2,
        address indexed receiverOnL1,
        address senderOnL2,
        uint256 amount,
        uint256 messageId
    );

    // BridgedERC20 (OpenZeppelin ERC20 + ERC-7802)
    contract BridgedERC20 {
        constructor(string name_, string symbol_, uint8 decimals_, address l1Token);
    }
    function balanceOf(address account) view returns (uint256);
    function totalSupply() view returns (uint256);
    error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
    event Transfer(address indexed from, address indexed to, uint256 value);
    event CrosschainMint(address indexed to, uint256 amount, address indexed sender);
    event CrosschainBurn(address indexed from, uint256 amount, address indexed sender);

    // Multicall3
    struct Call3 { address target; bool allowFailure; bytes callData; }
    struct Call3Outcome { bool success; bytes returnData; }
    function aggregate3(Call3[] calldata calls) payable returns (Call3Outcome[] memory returnData);
}

/// The Messenger's event, apart from [`keel_types::L1Message`] whose leaf it feeds.
mod messenger {
    alloy_sol_types::sol! {
        event L1Message(address indexed senderOnL2, bytes32 indexed data, uint256 indexed messageId);
    }
}

const BRIDGE: Address = keel_types::rules::L2_BRIDGE_ADDRESS;
const ETH: Address = address!("0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE");
/// The L1 token the test `BridgedERC20` represents, and one it doesn't.
const TOKEN_L1: Address = address!("0x00000000000000000000000000000000000011a1");
const OTHER_L1: Address = address!("0x00000000000000000000000000000000000011b2");
/// The L1 depositor the L1 bridge appends to a deposit's calldata.
const DEPOSITOR: Address = address!("0x000000000000000000000000000000000000de90");

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// A call from dev account `i` to the L2 bridge.
fn call_bridge(i: usize, nonce: u64, value: U256, input: Vec<u8>) -> Vec<u8> {
    signed(i, nonce, BRIDGE, value, input, 300_000, 1)
}

/// A deposit's calldata as the L1 bridge builds it: the call, then the depositor's 20 bytes.
fn with_depositor(call: impl SolCall, depositor: Address) -> Vec<u8> {
    [call.abi_encode(), depositor.to_vec()].concat()
}

/// `keccak256(abi.encodePacked(tokenL1, tokenL2, receiver, amount))`: a withdrawal's message data
/// (`ETH, ETH` for ether).
fn message_data(token_l1: Address, token_l2: Address, receiver: Address, amount: U256) -> B256 {
    keccak256(
        [
            token_l1.as_slice(),
            token_l2.as_slice(),
            receiver.as_slice(),
            &amount.to_be_bytes::<32>(),
        ]
        .concat(),
    )
}

/// The log `event` emitted by `address`.
fn log(address: Address, event: &impl SolEvent) -> Log {
    Log {
        address,
        data: event.encode_log_data(),
    }
}

/// The Messenger's `L1Message` for message `id` with `data` from the bridge.
fn l1_message(data: B256, id: u64) -> Log {
    log(
        keel_types::rules::MESSENGER_ADDRESS,
        &messenger::L1Message {
            senderOnL2: BRIDGE,
            data,
            messageId: U256::from(id),
        },
    )
}

/// Asserts the withdrawals-tree leaf keel computes for the `L1Message` in `log` is the leaf of
/// docs/contracts.md (L2 system contracts), `keccak256(senderOnL2 ‖ data ‖ uint256(messageId))` of
/// the bridge, `data`, `id`.
fn assert_leaf(log: &Log, data: B256, id: u64) {
    let event = messenger::L1Message::decode_log_data(&log.data).expect("an L1Message");
    let leaf = L1Message {
        sender_on_l2: event.senderOnL2,
        data: event.data,
        message_id: event.messageId,
    }
    .leaf();
    let expected = keccak256(
        [
            BRIDGE.as_slice(),
            data.as_slice(),
            &U256::from(id).to_be_bytes::<32>(),
        ]
        .concat(),
    );
    assert_eq!(leaf, expected, "leaf of message {id}");
}

/// Creation code of a committed artifact (`contracts/artifacts/NAME.json`).
fn creation_code(artifact: &str) -> Vec<u8> {
    let artifact: serde_json::Value = serde_json::from_str(artifact).expect("artifact json");
    let code: Bytes = artifact["bytecode"]
        .as_str()
        .expect("bytecode")
        .parse()
        .expect("hex");
    code.to_vec()
}

/// Deploys `init_code` from dev account 0 with `nonce` in a block of its own.
fn deploy(node: &Node, nonce: u64, init_code: Vec<u8>) -> Address {
    node.mempool
        .add_raw(&signed_create(0, nonce, init_code, 5_000_000))
        .expect("admitted");
    let built = node
        .producer
        .produce_block()
        .expect("build")
        .expect("block");
    assert!(built.receipts[0].status(), "deployment succeeded");
    dev::DEV_ACCOUNTS[0].0.create(nonce)
}

/// A `BridgedERC20` for [`TOKEN_L1`], deployed by dev account 0 with `nonce`.
fn deploy_token(node: &Node, nonce: u64) -> Address {
    let args = BridgedERC20::constructorCall {
        name_: "Bridged Token".into(),
        symbol_: "BTK".into(),
        decimals_: 18,
        l1Token: TOKEN_L1,
    }
    .abi_encode();
    let code = creation_code(include_str!(
        "../../../contracts/artifacts/BridgedERC20.json"
    ));
    deploy(node, nonce, [code, args].concat())
}

/// keel's call EVM on the chain's head state, as `eth_call` runs it (crates/rpc/src/eth_call.rs):
/// a [`StoreDb`] over the store under a revm [`CacheDB`], in the head block's [`call_env`], with
/// no gas price and so a zero base fee. Nothing reaches the store.
///
/// `keel_evm::transact` returns only the call's result (its logs and output), not its state
/// changes, so [`Sim::call`] runs the same EVM (alloy-evm's `EthEvmFactory`, as `transact` does)
/// and commits each call's changes into the cache: balances after a deposit can be read back, and
/// a `withdrawERC20` can burn tokens a simulated deposit minted, with no guessed storage slots.
/// Read-only calls ([`Sim::view`]) go through `keel_evm::transact`.
struct Sim<'a> {
    db: CacheDB<StoreDb<'a, StoreReader, StoreReader>>,
    env: EvmEnv,
}

impl<'a> Sim<'a> {
    fn new(chain: &Blockchain, reader: &'a StoreReader) -> Self {
        let (_, head) = reader.head().expect("read").expect("head");
        let mut env = call_env(chain.spec_arc(), &head);
        env.block_env.basefee = 0;
        Self {
            db: CacheDB::new(StoreDb::new(reader, reader)),
            env,
        }
    }

    fn tx(&self, from: Address, to: Address, value: U256, input: Vec<u8>) -> TxEnv {
        TxEnv {
            caller: from,
            kind: TxKind::Call(to),
            value,
            data: input.into(),
            gas_limit: 1_000_000,
            chain_id: Some(self.env.cfg_env.chain_id),
            ..Default::default()
        }
    }

    /// Runs a call and keeps its state changes. From the bridge, `value` is first minted to the
    /// bridge, as the node does for a privileged transaction.
    fn call(&mut self, from: Address, to: Address, value: U256, input: Vec<u8>) -> CallResult {
        if from == BRIDGE {
            self.db.load_account(BRIDGE).expect("load").info.balance += value;
        }
        let tx = self.tx(from, to, value, input);
        EthEvmFactory::default()
            .create_evm(&mut self.db, self.env.clone())
            .transact_commit(tx)
            .expect("a valid call")
    }

    /// The output of a read-only call to `to` (`keel_evm::transact`: nothing kept).
    fn view(&mut self, to: Address, input: Vec<u8>) -> Bytes {
        let tx = self.tx(Address::ZERO, to, U256::ZERO, input);
        let result = transact(&mut self.db, &self.env, tx).expect("a valid call");
        assert!(result.is_success(), "view call succeeds: {result:?}");
        result.output().expect("output").clone()
    }

    fn balance(&self, address: Address) -> U256 {
        self.db
            .basic_ref(address)
            .expect("read")
            .map_or(U256::ZERO, |account| account.balance)
    }

    fn token_balance(&mut self, token: Address, holder: Address) -> U256 {
        let output = self.view(token, balanceOfCall { account: holder }.abi_encode());
        balanceOfCall::abi_decode_returns(&output).expect("uint256")
    }

    fn total_supply(&mut self, token: Address) -> U256 {
        let output = self.view(token, totalSupplyCall {}.abi_encode());
        totalSupplyCall::abi_decode_returns(&output).expect("uint256")
    }
}

/// The revert data of `result`, failing if it did not revert.
fn revert_data(result: CallResult) -> Bytes {
    match result {
        ExecutionResult::Revert { output, .. } => output,
        other => panic!("expected a revert, got {other:?}"),
    }
}

/// The logs of `result`, failing unless it succeeded.
fn success_logs(result: CallResult) -> Vec<Log> {
    assert!(result.is_success(), "call succeeds: {result:?}");
    result.into_logs()
}

#[test]
fn withdraw_burns_and_emits_the_l1_message() {
    let Node {
        chain,
        mempool,
        producer,
    } = node(None, false);
    let receiver = address!("0x00000000000000000000000000000000000001aa");
    let amount = ether(1);
    let input = withdrawCall {
        receiverOnL1: receiver,
    }
    .abi_encode();
    mempool
        .add_raw(&call_bridge(0, 0, amount, input))
        .expect("admitted");
    let burned_before = balance(&chain, Address::ZERO);
    let built = producer.produce_block().expect("build").expect("block");
    let receipt = &built.receipts[0];
    assert!(receipt.status(), "withdraw succeeded");

    let message = receipt
        .logs()
        .iter()
        .find(|log| log.address == keel_types::rules::MESSENGER_ADDRESS)
        .expect("an L1Message from the Messenger");
    let data = message_data(ETH, ETH, receiver, amount);
    assert_eq!(*message, l1_message(data, 1), "first message, ETH data");
    assert_leaf(message, data, 1);
    let leaf = L1Message {
        sender_on_l2: BRIDGE,
        data,
        message_id: U256::from(1),
    }
    .leaf();
    assert_eq!(keel_types::withdrawals_root(&[leaf]), leaf);

    // The value left circulation: burned to the zero address, nothing kept by the bridge.
    assert_eq!(balance(&chain, BRIDGE), U256::ZERO);
    assert_eq!(balance(&chain, Address::ZERO) - burned_before, amount);
}

#[test]
fn only_the_bridge_itself_may_mint() {
    let node = node(None, false);
    let token = deploy_token(&node, 0);
    let eoa = dev::DEV_ACCOUNTS[1].0;
    let to = address!("0x00000000000000000000000000000000000000ab");
    let amount = U256::from(5);
    let mint_eth = mintETHCall { to }.abi_encode();
    let mint_erc20 = mintERC20Call {
        tokenL1: TOKEN_L1,
        tokenL2: token,
        destination: to,
        amount,
    }
    .abi_encode();

    // From an EOA in a block: both fail and change nothing.
    node.mempool
        .add_raw(&call_bridge(1, 0, amount, mint_eth.clone()))
        .expect("admitted");
    node.mempool
        .add_raw(&call_bridge(1, 1, U256::ZERO, mint_erc20.clone()))
        .expect("admitted");
    let built = node
        .producer
        .produce_block()
        .expect("build")
        .expect("block");
    assert_eq!(built.receipts.len(), 2);
    for receipt in &built.receipts {
        assert!(!receipt.status(), "a mint from an EOA reverts");
        assert!(receipt.logs().is_empty());
    }
    assert_eq!(balance(&node.chain, to), U256::ZERO);
    assert_eq!(balance(&node.chain, BRIDGE), U256::ZERO);

    // The revert names the caller: an EOA, a contract address as the sender, a contract calling.
    let reader = node.chain.store().reader().expect("reader");
    let mut sim = Sim::new(&node.chain, &reader);
    for input in [&mint_eth, &mint_erc20] {
        for caller in [eoa, keel_types::rules::MESSENGER_ADDRESS] {
            let reverted = revert_data(sim.call(caller, BRIDGE, U256::ZERO, input.clone()));
            assert_eq!(reverted, CallerNotSelf { caller }.abi_encode());
        }
        let via_multicall = aggregate3Call {
            calls: vec![Call3 {
                target: BRIDGE,
                allowFailure: true,
                callData: input.clone().into(),
            }],
        };
        let result = sim.call(
            eoa,
            dev::MULTICALL3_ADDRESS,
            U256::ZERO,
            via_multicall.abi_encode(),
        );
        assert!(result.is_success(), "{result:?}");
        let outcomes =
            aggregate3Call::abi_decode_returns(result.output().expect("output")).expect("decode");
        assert_eq!(outcomes.len(), 1);
        assert!(!outcomes[0].success, "the bridge refused Multicall3");
        assert_eq!(
            outcomes[0].returnData,
            CallerNotSelf {
                caller: dev::MULTICALL3_ADDRESS
            }
            .abi_encode()
        );
    }
    assert_eq!(sim.token_balance(token, to), U256::ZERO);
    assert_eq!(sim.balance(to), U256::ZERO);

    // Control: the same calls from the bridge itself go through.
    assert!(sim.call(BRIDGE, BRIDGE, amount, mint_eth).is_success());
    assert!(
        sim.call(BRIDGE, BRIDGE, U256::ZERO, mint_erc20)
            .is_success()
    );
    assert_eq!(sim.balance(to), amount);
    assert_eq!(sim.token_balance(token, to), amount);
}

#[test]
fn an_eth_deposit_reaches_an_eoa() {
    let node = node(None, false);
    let reader = node.chain.store().reader().expect("reader");
    let mut sim = Sim::new(&node.chain, &reader);
    let to = dev::DEV_ACCOUNTS[2].0;
    let amount = ether(3);
    let before = sim.balance(to);
    assert_eq!(before, dev::dev_balance());
    let burned_before = sim.balance(Address::ZERO);

    let result = sim.call(
        BRIDGE,
        BRIDGE,
        amount,
        with_depositor(mintETHCall { to }, DEPOSITOR),
    );
    assert_eq!(
        success_logs(result),
        vec![log(
            BRIDGE,
            &DepositProcessed {
                receiverOnL2: to,
                amount
            }
        )],
        "delivered: no message to L1"
    );
    assert_eq!(sim.balance(to), before + amount);
    assert_eq!(sim.balance(BRIDGE), U256::ZERO, "the bridge keeps nothing");
    assert_eq!(sim.balance(Address::ZERO), burned_before, "nothing burned");
}

#[test]
fn a_failed_eth_deposit_goes_back_to_the_depositor() {
    let node = node(None, false);
    let receiver = deploy(
        &node,
        0,
        creation_code(include_str!(
            "../../../contracts/artifacts/RevertingReceiver.json"
        )),
    );
    let reader = node.chain.store().reader().expect("reader");
    let mut sim = Sim::new(&node.chain, &reader);
    let amount = ether(2);
    let burned_before = sim.balance(Address::ZERO);

    // With the depositor appended (as the L1 bridge sends it), the refund goes to the depositor.
    let result = sim.call(
        BRIDGE,
        BRIDGE,
        amount,
        with_depositor(mintETHCall { to: receiver }, DEPOSITOR),
    );
    let data = message_data(ETH, ETH, DEPOSITOR, amount);
    let logs = success_logs(result);
    assert_eq!(
        logs,
        vec![
            l1_message(data, 1),
            log(
                BRIDGE,
                &WithdrawalInitiated {
                    senderOnL2: BRIDGE,
                    receiverOnL1: DEPOSITOR,
                    amount,
                    messageId: U256::from(1),
                },
            ),
        ]
    );
    assert_leaf(&logs[0], data, 1);
    assert_eq!(sim.balance(receiver), U256::ZERO, "nothing delivered");
    assert_eq!(sim.balance(BRIDGE), U256::ZERO);
    assert_eq!(sim.balance(Address::ZERO), burned_before + amount, "burned");

    // Without the suffix, the refund goes to the L2 recipient's address.
    let result = sim.call(
        BRIDGE,
        BRIDGE,
        amount,
        mintETHCall { to: receiver }.abi_encode(),
    );
    let data = message_data(ETH, ETH, receiver, amount);
    let logs = success_logs(result);
    assert_eq!(
        logs,
        vec![
            l1_message(data, 2),
            log(
                BRIDGE,
                &WithdrawalInitiated {
                    senderOnL2: BRIDGE,
                    receiverOnL1: receiver,
                    amount,
                    messageId: U256::from(2),
                },
            ),
        ]
    );
    assert_leaf(&logs[0], data, 2);
    assert_eq!(sim.balance(receiver), U256::ZERO);
    assert_eq!(sim.balance(BRIDGE), U256::ZERO);
    assert_eq!(
        sim.balance(Address::ZERO),
        burned_before + amount * U256::from(2)
    );
}

#[test]
fn an_erc20_deposit_mints_only_a_matching_token() {
    let node = node(None, false);
    let token = deploy_token(&node, 0);
    let reader = node.chain.store().reader().expect("reader");
    let mut sim = Sim::new(&node.chain, &reader);
    let destination = address!("0x00000000000000000000000000000000000000d5");
    let amount = ether(7);
    assert_eq!(sim.token_balance(token, destination), U256::ZERO);

    let deposit = mintERC20Call {
        tokenL1: TOKEN_L1,
        tokenL2: token,
        destination,
        amount,
    };
    let result = sim.call(
        BRIDGE,
        BRIDGE,
        U256::ZERO,
        with_depositor(deposit, DEPOSITOR),
    );
    assert_eq!(
        success_logs(result),
        vec![
            log(
                token,
                &Transfer {
                    from: Address::ZERO,
                    to: destination,
                    value: amount
                }
            ),
            log(
                token,
                &CrosschainMint {
                    to: destination,
                    amount,
                    sender: BRIDGE
                }
            ),
            log(
                BRIDGE,
                &ERC20DepositProcessed {
                    tokenL1: TOKEN_L1,
                    tokenL2: token,
                    receiverOnL2: destination,
                    amount,
                },
            ),
        ]
    );
    assert_eq!(sim.token_balance(token, destination), amount);
    assert_eq!(sim.total_supply(token), amount);

    // A tokenL1 the token doesn't represent: nothing minted, the amount goes back to the depositor.
    let mismatched = mintERC20Call {
        tokenL1: OTHER_L1,
        tokenL2: token,
        destination,
        amount,
    };
    let result = sim.call(
        BRIDGE,
        BRIDGE,
        U256::ZERO,
        with_depositor(mismatched, DEPOSITOR),
    );
    let data = message_data(OTHER_L1, token, DEPOSITOR, amount);
    let logs = success_logs(result);
    assert_eq!(
        logs,
        vec![
            l1_message(data, 1),
            log(
                BRIDGE,
                &ERC20WithdrawalInitiated {
                    tokenL1: OTHER_L1,
                    tokenL2: token,
                    receiverOnL1: DEPOSITOR,
                    senderOnL2: BRIDGE,
                    amount,
                    messageId: U256::from(1),
                },
            ),
        ]
    );
    assert_leaf(&logs[0], data, 1);
    assert_eq!(sim.token_balance(token, destination), amount, "unchanged");
    assert_eq!(sim.total_supply(token), amount, "unchanged");
}

#[test]
fn withdraw_erc20_burns_the_callers_tokens() {
    let node = node(None, false);
    let token = deploy_token(&node, 0);
    let reader = node.chain.store().reader().expect("reader");
    let mut sim = Sim::new(&node.chain, &reader);
    // The holder's tokens come from a deposit simulated as the bridge, its state kept in `sim`
    // (no block can mint them yet: only the bridge itself may).
    let holder = dev::DEV_ACCOUNTS[3].0;
    let receiver = address!("0x00000000000000000000000000000000000001bb");
    let deposit = mintERC20Call {
        tokenL1: TOKEN_L1,
        tokenL2: token,
        destination: holder,
        amount: U256::from(10),
    };
    assert!(
        sim.call(BRIDGE, BRIDGE, U256::ZERO, deposit.abi_encode())
            .is_success()
    );
    assert_eq!(sim.token_balance(token, holder), U256::from(10));

    let amount = U256::from(4);
    let withdrawal = withdrawERC20Call {
        tokenL1: TOKEN_L1,
        tokenL2: token,
        receiverOnL1: receiver,
        amount,
    };
    let result = sim.call(holder, BRIDGE, U256::ZERO, withdrawal.abi_encode());
    let data = message_data(TOKEN_L1, token, receiver, amount);
    let logs = success_logs(result);
    assert_eq!(
        logs,
        vec![
            log(
                token,
                &Transfer {
                    from: holder,
                    to: Address::ZERO,
                    value: amount
                }
            ),
            log(
                token,
                &CrosschainBurn {
                    from: holder,
                    amount,
                    sender: BRIDGE
                }
            ),
            l1_message(data, 1),
            log(
                BRIDGE,
                &ERC20WithdrawalInitiated {
                    tokenL1: TOKEN_L1,
                    tokenL2: token,
                    receiverOnL1: receiver,
                    senderOnL2: holder,
                    amount,
                    messageId: U256::from(1),
                },
            ),
        ]
    );
    assert_leaf(&logs[2], data, 1);
    assert_eq!(sim.token_balance(token, holder), U256::from(6));
    assert_eq!(sim.total_supply(token), U256::from(6));

    // More than the holder has, or the wrong L1 token: reverted, nothing burned.
    let too_much = withdrawERC20Call {
        amount: U256::from(7),
        ..withdrawal.clone()
    };
    assert_eq!(
        revert_data(sim.call(holder, BRIDGE, U256::ZERO, too_much.abi_encode())),
        ERC20InsufficientBalance {
            sender: holder,
            balance: U256::from(6),
            needed: U256::from(7),
        }
        .abi_encode()
    );
    let wrong_l1 = withdrawERC20Call {
        tokenL1: OTHER_L1,
        ..withdrawal
    };
    assert_eq!(
        revert_data(sim.call(holder, BRIDGE, U256::ZERO, wrong_l1.abi_encode())),
        TokenL1Mismatch {
            tokenL2: token,
            expected: OTHER_L1,
            actual: TOKEN_L1,
        }
        .abi_encode()
    );
    assert_eq!(sim.token_balance(token, holder), U256::from(6));
}
