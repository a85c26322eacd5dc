//! `keel bridge`: deposits and withdrawals for users, without hand-crafted calldata. Deposits are
//! L1 transactions to the CommonBridge; withdrawals are L2 transactions to CommonBridgeL2.
//! Without L1 flags, the L1 and the bridge are learned from the L2 node (`bridge_l1`).

use std::{path::PathBuf, time::Duration};

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionReceipt,
    signers::local::PrivateKeySigner,
};
use clap::{Args, Subcommand};
use eyre::{WrapErr, bail, eyre};
use keel_l1::contracts::{
    CommonBridge,
    l2::{BridgedERC20, CommonBridgeL2, Messenger},
    privileged_txs_in_receipt,
};
use keel_types::PrivilegedTx;

use super::{
    bridge_l1::{format_eth, resolve_l1, resolve_l1_url},
    genesis::{parse_address, parse_amount},
};

/// The L2 node `keel bridge` talks to unless --l2.rpc-url says otherwise.
pub const DEFAULT_L2_RPC_URL: &str = "http://127.0.0.1:1729";

/// `keel bridge SUBCOMMAND`.
#[derive(Debug, Args)]
pub struct BridgeCli {
    #[command(subcommand)]
    pub command: BridgeCommand,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum BridgeCommand {
    /// Deposit ETH from L1 to L2 (CommonBridge.deposit). Prints the L2 transaction hash.
    Deposit(DepositArgs),
    /// Deposit an ERC20 from L1 to its bridged token on L2 (approves the bridge if needed).
    DepositErc20(DepositErc20Args),
    /// Withdraw ETH from L2 to L1 (CommonBridgeL2.withdraw). Claim it on L1 once its batch is
    /// verified.
    Withdraw(WithdrawArgs),
    /// Withdraw a bridged ERC20 from L2 to its L1 token.
    WithdrawErc20(WithdrawErc20Args),
    /// Show an account's ETH (and optionally token) balances on L1 and L2.
    Balance(BalanceArgs),
    /// Claim on L1 every withdrawal (ETH and ERC20) of an L2 transaction once its batch is
    /// verified (--wait waits for that); refuses, before sending, a message already claimed.
    /// Sent from --private-key: the withdrawal's receiver is paid either way (through the
    /// bridge's claim…For functions when the key is another account). Prints the L1
    /// transaction(s).
    Claim(super::bridge_claim::ClaimArgs),
    /// Say where the withdrawals of an L2 transaction are: pending, in a block, in a sealed,
    /// committed or verified batch (with the L1 transactions), or claimed.
    Status(super::bridge_claim::StatusArgs),
}

/// The L1 and L2 JSON-RPC endpoints.
#[derive(Debug, Args)]
pub struct RpcUrls {
    /// L1 JSON-RPC endpoint. Default: the L1 the L2 node started (`keel l2 --dev`), else
    /// http://127.0.0.1:8545.
    #[arg(long = "eth.rpc-url", env = "KEEL_ETH_RPC_URL", value_name = "URL")]
    pub eth_rpc_url: Option<String>,
    /// L2 JSON-RPC endpoint (a keel node); also asked where its L1 contracts are.
    #[arg(
        long = "l2.rpc-url",
        env = "KEEL_L2_RPC_URL",
        default_value = DEFAULT_L2_RPC_URL,
        value_name = "URL"
    )]
    pub l2_rpc_url: String,
}

/// Where L1 and L2 are, and the bridge.
#[derive(Debug, Args)]
pub struct Endpoints {
    #[command(flatten)]
    pub urls: RpcUrls,
    /// Deployment file of `keel l2 deploy` (for the CommonBridge address). Without it or
    /// --l1.bridge-address, the L2 node is asked (`keel_getL1Contracts`), then
    /// ./deployment.json is read.
    #[arg(
        long = "l1.deployment",
        env = "KEEL_L1_DEPLOYMENT",
        value_name = "FILE"
    )]
    pub deployment: Option<PathBuf>,
    /// CommonBridge proxy address (instead of the deployment file).
    #[arg(
        long = "l1.bridge-address",
        env = "KEEL_L1_BRIDGE_ADDRESS",
        value_name = "ADDRESS"
    )]
    pub bridge: Option<Address>,
}

/// The signing key.
#[derive(Debug, Args)]
pub struct KeyArg {
    /// Private key (hex) of the account that sends (and, for deposits, pays).
    #[arg(
        long,
        env = "KEEL_PRIVATE_KEY",
        value_name = "HEX",
        hide_env_values = true
    )]
    pub private_key: String,
}

#[derive(Debug, Args)]
pub struct DepositArgs {
    /// Amount: wei, or with a unit (`1.5ether`, `20gwei`).
    #[arg(long, value_parser = parse_amount)]
    pub amount: U256,
    /// L2 recipient. Default: the sender's own address.
    #[arg(long, value_parser = parse_address)]
    pub to: Option<Address>,
    /// Wait until the deposit is executed on L2 and print its receipt status.
    #[arg(long)]
    pub wait: bool,
    /// Seconds to wait with --wait.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    #[command(flatten)]
    pub key: KeyArg,
    #[command(flatten)]
    pub endpoints: Endpoints,
}

#[derive(Debug, Args)]
pub struct DepositErc20Args {
    /// The L1 token.
    #[arg(long = "token-l1", value_parser = parse_address)]
    pub token_l1: Address,
    /// The L2 token it is minted as (its `l1Address()` must be --token-l1, else the deposit is
    /// sent back to L1).
    #[arg(long = "token-l2", value_parser = parse_address)]
    pub token_l2: Address,
    /// Amount in the token's smallest unit (or with a unit suffix for 18-decimal tokens).
    #[arg(long, value_parser = parse_amount)]
    pub amount: U256,
    /// L2 recipient. Default: the sender's own address.
    #[arg(long, value_parser = parse_address)]
    pub to: Option<Address>,
    #[command(flatten)]
    pub key: KeyArg,
    #[command(flatten)]
    pub endpoints: Endpoints,
}

/// The L2 endpoint of the withdrawals, which are L2 transactions only.
#[derive(Debug, Args)]
pub struct L2Endpoint {
    /// L2 JSON-RPC endpoint (a keel node).
    #[arg(
        long = "l2.rpc-url",
        env = "KEEL_L2_RPC_URL",
        default_value = DEFAULT_L2_RPC_URL,
        value_name = "URL"
    )]
    pub l2_rpc_url: String,
    /// Refused: a withdrawal is an L2 transaction (L1 is used by `keel bridge claim`).
    #[arg(long = "eth.rpc-url", value_name = "URL", hide = true)]
    pub eth_rpc_url: Option<String>,
    /// Refused, like --eth.rpc-url.
    #[arg(long = "l1.deployment", value_name = "FILE", hide = true)]
    pub deployment: Option<PathBuf>,
    /// Refused, like --eth.rpc-url.
    #[arg(long = "l1.bridge-address", value_name = "ADDRESS", hide = true)]
    pub bridge: Option<String>,
}

impl L2Endpoint {
    /// Refuses the L1 flags, which a withdrawal cannot use.
    fn refuse_l1_flags(&self) -> eyre::Result<()> {
        let given: Vec<&str> = [
            (self.eth_rpc_url.is_some(), "--eth.rpc-url"),
            (self.deployment.is_some(), "--l1.deployment"),
            (self.bridge.is_some(), "--l1.bridge-address"),
        ]
        .into_iter()
        .filter_map(|(set, flag)| set.then_some(flag))
        .collect();
        if !given.is_empty() {
            bail!(
                "{} {} not used by a withdrawal: it is an L2 transaction, sent to --l2.rpc-url only. \
                 L1 comes in at the claim: give the flag to `keel bridge claim` (which also finds \
                 the L1 of a `keel l2 --dev` node by itself)",
                given.join(", "),
                if given.len() == 1 { "is" } else { "are" }
            );
        }
        Ok(())
    }
}

#[derive(Debug, Args)]
pub struct WithdrawArgs {
    /// Amount: wei, or with a unit (`1.5ether`).
    #[arg(long, value_parser = parse_amount)]
    pub amount: U256,
    /// L1 receiver (who can claim). Default: the sender's own address.
    #[arg(long, value_parser = parse_address)]
    pub to: Option<Address>,
    #[command(flatten)]
    pub key: KeyArg,
    #[command(flatten)]
    pub endpoint: L2Endpoint,
}

#[derive(Debug, Args)]
pub struct WithdrawErc20Args {
    /// The L1 token to receive.
    #[arg(long = "token-l1", value_parser = parse_address)]
    pub token_l1: Address,
    /// The L2 token to burn.
    #[arg(long = "token-l2", value_parser = parse_address)]
    pub token_l2: Address,
    /// Amount in the token's smallest unit.
    #[arg(long, value_parser = parse_amount)]
    pub amount: U256,
    /// L1 receiver. Default: the sender's own address.
    #[arg(long, value_parser = parse_address)]
    pub to: Option<Address>,
    #[command(flatten)]
    pub key: KeyArg,
    #[command(flatten)]
    pub endpoint: L2Endpoint,
}

#[derive(Debug, Args)]
pub struct BalanceArgs {
    /// The account.
    #[arg(long, value_parser = parse_address)]
    pub address: Address,
    /// Also show this L1 token's balance.
    #[arg(long = "token-l1", value_parser = parse_address)]
    pub token_l1: Option<Address>,
    /// Also show this L2 token's balance.
    #[arg(long = "token-l2", value_parser = parse_address)]
    pub token_l2: Option<Address>,
    /// Print ETH balances in wei instead of ETH.
    #[arg(long)]
    pub wei: bool,
    #[command(flatten)]
    pub urls: RpcUrls,
}

/// Runs a `keel bridge` command.
pub fn run(cli: BridgeCli) -> eyre::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .wrap_err("starting the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            BridgeCommand::Deposit(a) => deposit(a).await,
            BridgeCommand::DepositErc20(a) => deposit_erc20(a).await,
            BridgeCommand::Withdraw(a) => withdraw(a).await,
            BridgeCommand::WithdrawErc20(a) => withdraw_erc20(a).await,
            BridgeCommand::Balance(a) => balance(a).await,
            BridgeCommand::Claim(a) => super::bridge_claim::claim(a).await,
            BridgeCommand::Status(a) => super::bridge_claim::status(a).await,
        }
    })
}

pub(super) fn signer(key: &KeyArg) -> eyre::Result<PrivateKeySigner> {
    let hex = key.private_key.trim().trim_start_matches("0x");
    let bytes: B256 = hex
        .parse()
        .map_err(|_| eyre!("--private-key: expected 32 bytes of hex"))?;
    PrivateKeySigner::from_bytes(&bytes)
        .map_err(|e| eyre!("--private-key: not a valid secp256k1 key: {e}"))
}

pub(super) fn client(url: &str, signer: Option<&PrivateKeySigner>) -> eyre::Result<DynProvider> {
    let parsed = url.parse().wrap_err_with(|| format!("bad RPC URL {url}"))?;
    Ok(match signer {
        Some(s) => ProviderBuilder::new()
            .wallet(EthereumWallet::from(s.clone()))
            .connect_http(parsed)
            .erased(),
        None => ProviderBuilder::new().connect_http(parsed).erased(),
    })
}

/// Fails with the revert reason if the receipt says the tx failed.
fn ensure_success(what: &str, receipt: &TransactionReceipt) -> eyre::Result<()> {
    if !receipt.status() {
        bail!("{what} reverted (tx {})", receipt.transaction_hash);
    }
    Ok(())
}

/// The privileged tx (its L2 hash) announced in an L1 receipt.
fn privileged_tx(receipt: &TransactionReceipt, l2_chain_id: u64) -> eyre::Result<PrivilegedTx> {
    privileged_txs_in_receipt(receipt, l2_chain_id)?
        .into_iter()
        .next()
        .ok_or_else(|| eyre!("no PrivilegedTxSent in the receipt"))
}

async fn deposit(a: DepositArgs) -> eyre::Result<()> {
    let signer = signer(&a.key)?;
    let from = signer.address();
    let (l1_url, bridge_address) = resolve_l1(&a.endpoints).await?;
    let l1 = client(&l1_url, Some(&signer))?;
    let bridge = CommonBridge::new(bridge_address, &l1);
    let to = a.to.unwrap_or(from);
    let receipt = bridge
        .deposit(to)
        .value(a.amount)
        .send()
        .await
        .wrap_err("sending the deposit to L1")?
        .get_receipt()
        .await
        .wrap_err("waiting for the L1 receipt")?;
    ensure_success("the deposit", &receipt)?;
    let chain_id: u64 = bridge
        .l2ChainId()
        .call()
        .await
        .wrap_err("reading the L2 chain id from the bridge")?
        .try_into()
        .map_err(|_| eyre!("L2 chain id too large"))?;
    let tx = privileged_tx(&receipt, chain_id)?;
    println!("L1 tx:      {}", receipt.transaction_hash);
    println!("deposit id: {}", tx.nonce);
    println!("L2 tx:      {}", tx.hash());
    println!(
        "deposited {} ({} wei) to {to} on L2",
        format_eth(a.amount),
        a.amount
    );
    if a.wait {
        let l2 = client(&a.endpoints.urls.l2_rpc_url, None)?;
        let l2_receipt = wait_for_receipt(&l2, tx.hash(), Duration::from_secs(a.timeout)).await?;
        println!(
            "L2 receipt: status {} in block {}",
            quantity(&l2_receipt, "status"),
            quantity(&l2_receipt, "blockNumber")
        );
    }
    Ok(())
}

/// Polls L2 for a receipt. Read as plain JSON: a deposit's receipt has type `0x7e`, which
/// alloy's Ethereum network types don't know.
async fn wait_for_receipt(
    provider: &DynProvider,
    hash: B256,
    timeout: Duration,
) -> eyre::Result<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let receipt: Option<serde_json::Value> = provider
            .raw_request("eth_getTransactionReceipt".into(), (hash,))
            .await
            .wrap_err("asking L2 for the receipt")?;
        if let Some(r) = receipt {
            return Ok(r);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("no L2 receipt for {hash} within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A hex quantity field of a JSON receipt.
fn quantity(receipt: &serde_json::Value, field: &str) -> u64 {
    receipt[field]
        .as_str()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or_default()
}

async fn deposit_erc20(a: DepositErc20Args) -> eyre::Result<()> {
    let signer = signer(&a.key)?;
    let from = signer.address();
    let (l1_url, bridge_address) = resolve_l1(&a.endpoints).await?;
    let l1 = client(&l1_url, Some(&signer))?;
    let bridge = CommonBridge::new(bridge_address, &l1);
    let token = BridgedERC20::new(a.token_l1, &l1);
    let allowance = token
        .allowance(from, bridge_address)
        .call()
        .await
        .wrap_err("reading the allowance (is --token-l1 an ERC20?)")?;
    if allowance < a.amount {
        let r = token
            .approve(bridge_address, a.amount)
            .send()
            .await
            .wrap_err("approving the bridge")?
            .get_receipt()
            .await?;
        ensure_success("the approval", &r)?;
        println!(
            "approved the bridge for {} (tx {})",
            a.amount, r.transaction_hash
        );
    }
    let to = a.to.unwrap_or(from);
    let receipt = bridge
        .depositERC20(a.token_l1, a.token_l2, to, a.amount)
        .send()
        .await
        .wrap_err("sending the ERC20 deposit to L1")?
        .get_receipt()
        .await?;
    ensure_success("the ERC20 deposit", &receipt)?;
    let chain_id: u64 = bridge
        .l2ChainId()
        .call()
        .await?
        .try_into()
        .map_err(|_| eyre!("L2 chain id too large"))?;
    let tx = privileged_tx(&receipt, chain_id)?;
    println!("L1 tx:      {}", receipt.transaction_hash);
    println!("deposit id: {}", tx.nonce);
    println!("L2 tx:      {}", tx.hash());
    Ok(())
}

/// Prints the L1 messages (withdrawals) an L2 receipt carries, and what comes next: the batch
/// must be committed and verified on L1, then the claim (the exact command).
fn print_messages(receipt: &TransactionReceipt, l2_rpc_url: &str) -> eyre::Result<()> {
    let mut found = false;
    for log in receipt.inner.logs() {
        if log.address() != keel_types::rules::MESSENGER_ADDRESS {
            continue;
        }
        if let Ok(m) = log.log_decode::<Messenger::L1Message>() {
            found = true;
            println!(
                "L1 message: id {} data {}",
                m.inner.data.messageId, m.inner.data.data
            );
        }
    }
    if !found {
        bail!("the L2 receipt carries no L1Message");
    }
    let tx = receipt.transaction_hash;
    let l2_flag = if l2_rpc_url == DEFAULT_L2_RPC_URL {
        String::new()
    } else {
        format!(" --l2.rpc-url {l2_rpc_url}")
    };
    println!(
        "next: the withdrawal is claimable on L1 once the batch holding this transaction is \
         committed to L1 and verified there (`keel bridge status --tx-hash {tx}{l2_flag}` shows \
         where it is). Claim it with (--wait waits for the verification first):"
    );
    println!("  keel bridge claim --tx-hash {tx} --wait --private-key KEY{l2_flag}");
    Ok(())
}

/// What an L2 transaction cost its sender, from its receipt: gas × price, and on a chain with
/// the L1 fee rule its L1 fee and operator fee (docs/fees.md).
async fn print_l2_cost(l2: &DynProvider, hash: B256) -> eyre::Result<()> {
    let receipt: serde_json::Value = l2
        .raw_request("eth_getTransactionReceipt".into(), (hash,))
        .await
        .wrap_err("reading the L2 receipt")?;
    let cost = L2Cost::of_receipt(&receipt)?;
    println!("L2 fee:     {}", cost.describe());
    Ok(())
}

/// The parts of what an L2 transaction cost, as its receipt shows them.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct L2Cost {
    pub gas_used: U256,
    pub gas_price: U256,
    /// `None` on a chain without the L1 fee rule (the receipt has no `l1Fee`).
    pub l1_fee: Option<U256>,
    pub operator_fee: U256,
}

impl L2Cost {
    pub fn of_receipt(receipt: &serde_json::Value) -> eyre::Result<Self> {
        let field = |name: &str| -> eyre::Result<Option<U256>> {
            match receipt.get(name) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(v) => {
                    let text = v
                        .as_str()
                        .ok_or_else(|| eyre!("receipt field {name} is not a quantity: {v}"))?;
                    Ok(Some(text.parse::<U256>().wrap_err_with(|| {
                        format!("receipt field {name} is not a quantity: {text}")
                    })?))
                }
            }
        };
        let required = |name: &str| -> eyre::Result<U256> {
            field(name)?.ok_or_else(|| eyre!("the receipt has no {name}"))
        };
        let gas_used = required("gasUsed")?;
        let operator_fee = field("operatorFeeConstant")?.unwrap_or_default()
            + field("operatorFeeScalar")?.unwrap_or_default() * gas_used;
        Ok(Self {
            gas_used,
            gas_price: required("effectiveGasPrice")?,
            l1_fee: field("l1Fee")?,
            operator_fee,
        })
    }

    pub fn total(&self) -> U256 {
        self.gas_used * self.gas_price + self.l1_fee.unwrap_or_default() + self.operator_fee
    }

    pub fn describe(&self) -> String {
        let gas = self.gas_used * self.gas_price;
        let mut text = format!(
            "{} = gas {} x {} wei ({})",
            format_eth(self.total()),
            self.gas_used,
            self.gas_price,
            format_eth(gas)
        );
        if let Some(l1_fee) = self.l1_fee {
            text.push_str(&format!(
                " + L1 fee {} (the L1 data and settlement this transaction causes)",
                format_eth(l1_fee)
            ));
            if !self.operator_fee.is_zero() {
                text.push_str(&format!(
                    " + operator fee {}",
                    format_eth(self.operator_fee)
                ));
            }
        }
        text
    }
}

async fn withdraw(a: WithdrawArgs) -> eyre::Result<()> {
    a.endpoint.refuse_l1_flags()?;
    let signer = signer(&a.key)?;
    let to = a.to.unwrap_or(signer.address());
    let l2 = client(&a.endpoint.l2_rpc_url, Some(&signer))?;
    let bridge = CommonBridgeL2::new(keel_types::rules::L2_BRIDGE_ADDRESS, &l2);
    let receipt = bridge
        .withdraw(to)
        .value(a.amount)
        .send()
        .await
        .wrap_err("sending the withdrawal to L2")?
        .get_receipt()
        .await
        .wrap_err("waiting for the L2 receipt")?;
    ensure_success("the withdrawal", &receipt)?;
    println!("L2 tx:      {}", receipt.transaction_hash);
    println!(
        "withdrew {} ({} wei) to {to} on L1",
        format_eth(a.amount),
        a.amount
    );
    print_l2_cost(&l2, receipt.transaction_hash).await?;
    print_messages(&receipt, &a.endpoint.l2_rpc_url)
}

async fn withdraw_erc20(a: WithdrawErc20Args) -> eyre::Result<()> {
    a.endpoint.refuse_l1_flags()?;
    let signer = signer(&a.key)?;
    let to = a.to.unwrap_or(signer.address());
    let l2 = client(&a.endpoint.l2_rpc_url, Some(&signer))?;
    let bridge = CommonBridgeL2::new(keel_types::rules::L2_BRIDGE_ADDRESS, &l2);
    let receipt = bridge
        .withdrawERC20(a.token_l1, a.token_l2, to, a.amount)
        .send()
        .await
        .wrap_err("sending the ERC20 withdrawal to L2")?
        .get_receipt()
        .await?;
    ensure_success("the ERC20 withdrawal", &receipt)?;
    println!("L2 tx:      {}", receipt.transaction_hash);
    println!("withdrew {} of {} to {to} on L1", a.amount, a.token_l1);
    print_l2_cost(&l2, receipt.transaction_hash).await?;
    print_messages(&receipt, &a.endpoint.l2_rpc_url)
}

async fn balance(a: BalanceArgs) -> eyre::Result<()> {
    let l1_url = resolve_l1_url(&a.urls).await;
    let l1 = client(&l1_url, None)?;
    let l2 = client(&a.urls.l2_rpc_url, None)?;
    let on_l1 = l1
        .get_balance(a.address)
        .await
        .wrap_err_with(|| format!("L1 at {l1_url}"))?;
    let on_l2 = l2
        .get_balance(a.address)
        .await
        .wrap_err_with(|| format!("L2 at {}", a.urls.l2_rpc_url))?;
    let show = |wei: U256| {
        if a.wei {
            format!("{wei} wei")
        } else {
            format_eth(wei)
        }
    };
    println!("L1: {}", show(on_l1));
    println!("L2: {}", show(on_l2));
    if let Some(t) = a.token_l1 {
        let b = BridgedERC20::new(t, &l1)
            .balanceOf(a.address)
            .call()
            .await?;
        println!("L1 token {t}: {b}");
    }
    if let Some(t) = a.token_l2 {
        let b = BridgedERC20::new(t, &l2)
            .balanceOf(a.address)
            .call()
            .await?;
        println!("L2 token {t}: {b}");
    }
    Ok(())
}

#[cfg(test)]
mod cost_tests {
    use super::*;

    #[test]
    fn the_l2_cost_adds_gas_l1_fee_and_operator_fee() {
        let receipt = serde_json::json!({
            "gasUsed": "0x5208",
            "effectiveGasPrice": "0x3b9aca00",
            "l1Fee": "0x2540be400",
            "operatorFeeScalar": "0x2",
            "operatorFeeConstant": "0x64",
        });
        let cost = L2Cost::of_receipt(&receipt).expect("cost");
        assert_eq!(cost.operator_fee, U256::from(100 + 2 * 21_000));
        assert_eq!(
            cost.total(),
            U256::from(21_000u64 * 1_000_000_000 + 10_000_000_000 + 42_100)
        );
        let text = cost.describe();
        assert!(text.contains("L1 fee 0.00000001 ETH"), "{text}");
        assert!(text.contains("operator fee"), "{text}");
        // A chain without the rule: gas only.
        let plain = L2Cost::of_receipt(&serde_json::json!({
            "gasUsed": "0x5208", "effectiveGasPrice": "0x1"
        }))
        .expect("cost");
        assert_eq!(plain.total(), U256::from(21_000));
        assert!(!plain.describe().contains("L1 fee"));
        assert!(L2Cost::of_receipt(&serde_json::json!({"gasUsed": 5})).is_err());
    }
}
