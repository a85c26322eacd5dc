//! `keel l2 timelock schedule|execute|status`: run an owner action on the L1 contracts through
//! the KeelTimelock that owns them (docs/contracts.md, "Governance"). The governor schedules the
//! call, waits the timelock's delay, then executes it; `status` tells where an operation stands.

use std::{path::PathBuf, time::Duration};

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, Bytes, U256},
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
};
use clap::{Args, Subcommand};
use eyre::{WrapErr, bail, eyre};
use keel_l1::{
    Deployment, OperationState, TimelockCall,
    contracts::KeelTimelock,
    timelock::{operation_status, resolve_target},
};

/// `keel l2 timelock SUBCOMMAND`.
#[derive(Debug, Args)]
pub struct TimelockCli {
    #[command(subcommand)]
    pub command: TimelockCommand,
}

/// What to do with an operation.
#[derive(Debug, Subcommand)]
pub enum TimelockCommand {
    /// Schedule a call of one of the contracts (sent by the governor, the timelock's proposer).
    /// It can be executed once the delay has passed.
    Schedule(ScheduleArgs),
    /// Execute a scheduled call whose delay has passed (sent by the governor, the timelock's
    /// executor): the timelock makes the call.
    Execute(OperationArgs),
    /// Show an operation's id and state (not scheduled, waiting, ready, done) and when it can be
    /// executed.
    Status(StatusArgs),
}

/// The operation: which call of which contract, as given to `schedule` and `execute`.
#[derive(Debug, Args)]
pub struct OperationSpec {
    /// Deployment file of `keel l2 deploy` (for the timelock and the contracts' addresses).
    #[arg(
        long = "deployment",
        env = "KEEL_DEPLOYMENT",
        default_value = "deployment.json",
        value_name = "FILE"
    )]
    pub deployment: PathBuf,
    /// The contract called: CommonBridge, OnChainProposer, AttestationVerifier (their proxies),
    /// KeelTimelock (its own settings, e.g. updateDelay), or an address.
    #[arg(long, value_name = "NAME_OR_ADDRESS")]
    pub target: String,
    /// The call's ABI-encoded calldata, in hex (e.g. from
    /// `cast calldata "upgradeToAndCall(address,bytes)" NEW_IMPLEMENTATION 0x`).
    #[arg(long, value_name = "HEX")]
    pub calldata: String,
    /// Wei the timelock sends with the call.
    #[arg(long, default_value_t = U256::ZERO, value_name = "WEI")]
    pub value: U256,
    /// A 32-byte salt, to schedule the same call more than once (the same salt at schedule and
    /// execute).
    #[arg(long, value_name = "HEX32")]
    pub salt: Option<B256>,
    /// An operation id that must be executed before this one.
    #[arg(long, value_name = "HEX32")]
    pub predecessor: Option<B256>,
    /// L1 JSON-RPC endpoint.
    #[arg(
        long = "eth.rpc-url",
        env = "KEEL_ETH_RPC_URL",
        default_value = "http://127.0.0.1:8545",
        value_name = "URL"
    )]
    pub eth_rpc_url: String,
}

/// Settings of `keel l2 timelock execute`.
#[derive(Debug, Args)]
pub struct OperationArgs {
    #[command(flatten)]
    pub op: OperationSpec,
    /// Private key (hex) of the governor (the timelock's proposer and executor).
    #[arg(
        long,
        env = "KEEL_GOVERNOR_PRIVATE_KEY",
        value_name = "HEX",
        hide_env_values = true
    )]
    pub private_key: String,
    /// Seconds to wait for the receipt.
    #[arg(long = "receipt-timeout", default_value_t = 180, value_name = "SECS")]
    pub receipt_timeout: u64,
}

/// Settings of `keel l2 timelock schedule`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(flatten)]
    pub args: OperationArgs,
    /// Seconds before the call can be executed. Default (and least): the timelock's delay.
    #[arg(long, value_name = "SECS")]
    pub delay: Option<u64>,
}

/// Settings of `keel l2 timelock status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub op: OperationSpec,
}

/// Runs the subcommand.
pub fn run(cli: TimelockCli) -> eyre::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("starting the async runtime")?;
    runtime.block_on(async {
        match cli.command {
            TimelockCommand::Schedule(args) => schedule(args).await,
            TimelockCommand::Execute(args) => execute(args).await,
            TimelockCommand::Status(args) => status(args).await,
        }
    })
}

/// The timelock of the deployment file and the operation.
fn operation(spec: &OperationSpec) -> eyre::Result<(Address, TimelockCall)> {
    let deployment = Deployment::load(&spec.deployment)?;
    let timelock = deployment.timelock.ok_or_else(|| {
        eyre!(
            "{} records no timelock: its owner {} calls the contracts directly",
            spec.deployment.display(),
            deployment.owner
        )
    })?;
    let target = resolve_target(&deployment, &spec.target).wrap_err("--target")?;
    let hex = spec.calldata.trim().trim_start_matches("0x");
    let data: Bytes = alloy::hex::decode(hex)
        .map_err(|e| eyre!("--calldata: not hex: {e}"))?
        .into();
    if data.len() < 4 {
        bail!("--calldata: expected at least a 4-byte function selector");
    }
    let mut call = TimelockCall::new(target, data).with_salt(spec.salt.unwrap_or_default());
    call.value = spec.value;
    call.predecessor = spec.predecessor.unwrap_or_default();
    Ok((timelock, call))
}

fn governor(private_key: &str) -> eyre::Result<PrivateKeySigner> {
    let key: B256 = private_key
        .trim()
        .trim_start_matches("0x")
        .parse()
        .map_err(|_| eyre!("--private-key: expected 32 bytes of hex"))?;
    PrivateKeySigner::from_bytes(&key)
        .map_err(|e| eyre!("--private-key: not a valid secp256k1 key: {e}"))
}

fn url(spec: &OperationSpec) -> eyre::Result<alloy::transports::http::reqwest::Url> {
    spec.eth_rpc_url
        .parse()
        .wrap_err_with(|| format!("--eth.rpc-url {}", spec.eth_rpc_url))
}

/// The latest L1 block's timestamp.
async fn l1_time<P: Provider>(provider: &P) -> eyre::Result<u64> {
    let block = provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .wrap_err("reading the latest L1 block")?
        .ok_or_else(|| eyre!("the L1 has no latest block"))?;
    Ok(block.header.timestamp)
}

/// Fails unless `who` holds `role` (named `what`) in the timelock.
async fn require_role<P: Provider>(
    timelock: &KeelTimelock::KeelTimelockInstance<P>,
    role: B256,
    who: Address,
    what: &str,
) -> eyre::Result<()> {
    let has = timelock
        .hasRole(role, who)
        .call()
        .await
        .wrap_err("reading the timelock's roles")?;
    if !has {
        bail!(
            "{who} is not a {what} of the timelock {}: use the governor's key (the deployment's owner)",
            timelock.address()
        );
    }
    Ok(())
}

/// Sends `tx` and waits for a successful receipt.
async fn send<P: Provider>(
    provider: &P,
    tx: TransactionRequest,
    timeout: u64,
    what: &str,
) -> eyre::Result<B256> {
    let pending = provider
        .send_transaction(tx)
        .await
        .wrap_err_with(|| format!("sending {what}"))?;
    let hash = *pending.tx_hash();
    let receipt = pending
        .with_timeout(Some(Duration::from_secs(timeout)))
        .get_receipt()
        .await
        .wrap_err_with(|| format!("waiting for the receipt of {what} ({hash})"))?;
    if !receipt.status() {
        bail!("{what} ({hash}) reverted");
    }
    Ok(hash)
}

async fn schedule(args: ScheduleArgs) -> eyre::Result<()> {
    let ScheduleArgs { args, delay } = args;
    let (timelock_address, call) = operation(&args.op)?;
    let signer = governor(&args.private_key)?;
    let from = signer.address();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url(&args.op)?);
    let timelock = KeelTimelock::new(timelock_address, &provider);
    let min_delay: u64 = timelock
        .getMinDelay()
        .call()
        .await
        .wrap_err("reading the timelock's delay")?
        .saturating_to();
    let delay = delay.unwrap_or(min_delay);
    if delay < min_delay {
        bail!("--delay {delay} is below the timelock's delay of {min_delay} s");
    }
    let role = timelock.PROPOSER_ROLE().call().await?;
    require_role(&timelock, role, from, "proposer").await?;
    let id = call.operation_id();
    let status = operation_status(&provider, timelock_address, id).await?;
    if status.state != OperationState::Unset {
        bail!(
            "operation {id} is already scheduled ({:?}); give another --salt to schedule the same call again",
            status.state
        );
    }
    let hash = send(
        &provider,
        call.schedule_tx(timelock_address, from, delay),
        args.receipt_timeout,
        "the schedule transaction",
    )
    .await?;
    let status = operation_status(&provider, timelock_address, id).await?;
    println!("scheduled operation {id} (tx {hash})");
    println!(
        "target {} calldata 0x{} salt {}",
        call.target,
        alloy::hex::encode(&call.data),
        call.salt
    );
    if let Some(at) = status.ready_at {
        println!(
            "executable from unix time {at} (in {delay} s): run `keel l2 timelock execute` with the same --target, --calldata{}",
            if call.salt.is_zero() {
                ""
            } else {
                " and --salt"
            }
        );
    }
    Ok(())
}

async fn execute(args: OperationArgs) -> eyre::Result<()> {
    let (timelock_address, call) = operation(&args.op)?;
    let signer = governor(&args.private_key)?;
    let from = signer.address();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url(&args.op)?);
    let timelock = KeelTimelock::new(timelock_address, &provider);
    let id = call.operation_id();
    let status = operation_status(&provider, timelock_address, id).await?;
    match status.state {
        OperationState::Ready => {}
        OperationState::Unset => bail!(
            "operation {id} is not scheduled: schedule it first with `keel l2 timelock schedule` \
             (the same --target, --calldata, --value and --salt)"
        ),
        OperationState::Done => bail!("operation {id} was already executed"),
        OperationState::Waiting => {
            let at = status.ready_at.unwrap_or_default();
            let now = l1_time(&provider).await?;
            bail!(
                "operation {id} is not ready: executable from unix time {at}, in {} s (L1 time {now})",
                at.saturating_sub(now)
            )
        }
    }
    let role = timelock.EXECUTOR_ROLE().call().await?;
    if !timelock
        .hasRole(role, Address::ZERO)
        .call()
        .await
        .wrap_err("reading the timelock's roles")?
    {
        require_role(&timelock, role, from, "executor").await?;
    }
    let hash = send(
        &provider,
        call.execute_tx(timelock_address, from),
        args.receipt_timeout,
        "the execute transaction",
    )
    .await?;
    println!(
        "executed operation {id} (tx {hash}): the timelock called {}",
        call.target
    );
    Ok(())
}

async fn status(args: StatusArgs) -> eyre::Result<()> {
    let (timelock_address, call) = operation(&args.op)?;
    let provider = ProviderBuilder::new().connect_http(url(&args.op)?);
    let id = call.operation_id();
    let status = operation_status(&provider, timelock_address, id).await?;
    let state = match status.state {
        OperationState::Unset => "not scheduled".to_string(),
        OperationState::Waiting => {
            let at = status.ready_at.unwrap_or_default();
            let now = l1_time(&provider).await?;
            format!(
                "waiting: executable from unix time {at}, in {} s",
                at.saturating_sub(now)
            )
        }
        OperationState::Ready => "ready: can be executed".to_string(),
        OperationState::Done => "done: executed".to_string(),
    };
    println!("operation {id}");
    println!("timelock  {timelock_address}");
    println!("target    {}", call.target);
    println!("state     {state}");
    Ok(())
}
