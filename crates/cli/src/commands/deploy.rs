//! `keel l2 deploy`: deploy the L1 contracts (implementations and ERC-1967 proxies of
//! AttestationVerifier, CommonBridge and OnChainProposer, and the KeelTimelock that owns them) and
//! write their addresses to the deployment file that `keel l2` reads.

use std::{path::PathBuf, time::Duration};

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256},
    providers::ProviderBuilder,
    signers::local::PrivateKeySigner,
};
use clap::Args;
use eyre::{WrapErr, bail};
use keel_l1::{DeployConfig, deploy};
use keel_types::{Genesis, dev};

/// Settings of `keel l2 deploy`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("l2genesis").required(true).args(["genesis", "dev_genesis"]))]
pub struct DeployArgs {
    /// L1 JSON-RPC endpoint to deploy to.
    #[arg(
        long = "eth.rpc-url",
        env = "KEEL_ETH_RPC_URL",
        default_value = "http://127.0.0.1:8545",
        value_name = "URL"
    )]
    pub eth_rpc_url: String,
    /// Private key (hex) of the deployer, which pays for and sends the seven deployments.
    #[arg(
        long,
        env = "KEEL_DEPLOYER_PRIVATE_KEY",
        value_name = "HEX",
        hide_env_values = true
    )]
    pub private_key: String,
    /// The deployment file to write. If it exists, the deployment it records is checked and
    /// finished instead of redeployed (a complete one sends nothing).
    #[arg(
        long,
        env = "KEEL_DEPLOYMENT",
        default_value = "deployment.json",
        value_name = "FILE"
    )]
    pub out: PathBuf,
    /// The L2 genesis (as written by `keel l2 genesis`): its state root becomes batch 0 of the
    /// OnChainProposer and its chain id goes into privileged-tx hashes and proofs.
    #[arg(long, value_name = "GENESIS.json")]
    pub genesis: Option<PathBuf>,
    /// Use the dev genesis of `keel l2 --dev` instead of --genesis.
    #[arg(long)]
    pub dev_genesis: bool,
    /// The governor: the timelock's only proposer and executor, so every owner action on the
    /// contracts (upgrade, unpause, sequencer, verifier, signer, threshold and parameter changes)
    /// is scheduled by it, waits --timelock.delay, then is executed by it. Use a multisig.
    /// Default: the deployer.
    #[arg(long, value_name = "ADDRESS")]
    pub owner: Option<Address>,
    /// Seconds between scheduling an owner action in the timelock and executing it. 0 is only
    /// allowed with --dev-genesis.
    #[arg(long = "timelock.delay", default_value_t = 86_400, value_name = "SECS")]
    pub timelock_delay: u64,
    /// The security council (e.g. a multisig): may pause the three contracts at once, without the
    /// timelock; it can do nothing else. Default: none (only the owner pauses, through the
    /// timelock).
    #[arg(long = "security-council", value_name = "ADDRESS")]
    pub security_council: Option<Address>,
    /// Seconds a pause of the bridge may block withdrawal claims; once a pause is older, claims go
    /// through again (deposits stay stopped).
    #[arg(long = "max-pause", default_value_t = keel_l1::deploy::DEFAULT_MAX_PAUSE, value_name = "SECS")]
    pub max_pause: u64,
    /// An address allowed to commit batches (repeatable). Default: the deployer.
    #[arg(long = "sequencer", value_name = "ADDRESS")]
    pub sequencers: Vec<Address>,
    /// A prover signer registered in the AttestationVerifier (repeatable). Default: the deployer.
    #[arg(long = "verifier.signer", value_name = "ADDRESS")]
    pub verifier_signers: Vec<Address>,
    /// How many registered signers must attest each batch.
    #[arg(long = "verifier.threshold", default_value_t = 1)]
    pub verifier_threshold: u64,
    /// Seconds a deposit (privileged tx) may stay pending: a batch with ordinary txs whose last
    /// block is later than a pending deposit's deadline must include it. At least 1800.
    #[arg(
        long = "inclusion-max-wait",
        default_value_t = keel_l1::deploy::DEFAULT_INCLUSION_MAX_WAIT,
        value_name = "SECS"
    )]
    pub inclusion_max_wait: u64,
    /// Cap on the L2 gas limit of a privileged tx (`sendToL2`): from 300000 up to the genesis
    /// block gas limit, so that every privileged tx fits an L2 block.
    #[arg(long = "max-privileged-gas-limit", default_value_t = keel_l1::deploy::DEFAULT_MAX_PRIVILEGED_GAS_LIMIT)]
    pub max_privileged_gas_limit: u64,
    /// Validium: batches are committed without blobs (state diffs are not published on L1).
    #[arg(long)]
    pub validium: bool,
    /// Seconds to wait for each deployment's receipt.
    #[arg(long = "receipt-timeout", default_value_t = 180, value_name = "SECS")]
    pub receipt_timeout: u64,
}

/// Deploys the contracts and prints where they are.
pub fn run(args: DeployArgs) -> eyre::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("starting the async runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: DeployArgs) -> eyre::Result<()> {
    let key = args.private_key.trim().trim_start_matches("0x");
    let key: B256 = key
        .parse()
        .map_err(|_| eyre::eyre!("--private-key: expected 32 bytes of hex"))?;
    let signer = PrivateKeySigner::from_bytes(&key)
        .map_err(|e| eyre::eyre!("--private-key: not a valid secp256k1 key: {e}"))?;
    let deployer = signer.address();

    let genesis: Genesis = match (&args.genesis, args.dev_genesis) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .wrap_err_with(|| format!("reading --genesis {}", path.display()))?;
            serde_json::from_str(&text)
                .wrap_err_with(|| format!("parsing --genesis {}", path.display()))?
        }
        (None, true) => dev::dev_genesis(),
        (None, false) => bail!("give --genesis FILE or --dev-genesis"),
    };
    if args.timelock_delay == 0 && !args.dev_genesis {
        bail!(
            "--timelock.delay 0 is only allowed for the dev chain (--dev-genesis): a real \
             deployment's owner actions must wait, so users can exit before an upgrade"
        );
    }
    let genesis_state_root = keel_types::genesis_state_root(&genesis);
    let l2_chain_id = genesis.config.chain_id;

    let or_deployer = |list: &[Address]| {
        if list.is_empty() {
            vec![deployer]
        } else {
            list.to_vec()
        }
    };
    let owner = args.owner.unwrap_or(deployer);
    let config = DeployConfig {
        owner,
        timelock_delay: Some(args.timelock_delay),
        security_council: args.security_council.unwrap_or(Address::ZERO),
        max_pause: args.max_pause,
        sequencers: or_deployer(&args.sequencers),
        verifier_signers: or_deployer(&args.verifier_signers),
        verifier_threshold: args.verifier_threshold,
        inclusion_max_wait: args.inclusion_max_wait,
        max_privileged_gas_limit: args.max_privileged_gas_limit,
        validium: args.validium,
        receipt_timeout: Duration::from_secs(args.receipt_timeout),
        ..DeployConfig::for_genesis(&genesis, owner)?
    };

    let url = args
        .eth_rpc_url
        .parse()
        .wrap_err_with(|| format!("--eth.rpc-url {}", args.eth_rpc_url))?;
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url);
    println!(
        "deploying to {} from {deployer} (L2 chain id {l2_chain_id}, genesis state root {genesis_state_root})",
        args.eth_rpc_url
    );
    let outcome = deploy(&provider, deployer, &config, &args.out)
        .await
        .wrap_err("deploying the L1 contracts")?;

    for (name, address, tx) in &outcome.sent {
        println!("deployed  {name:<36} {address}  (tx {tx})");
    }
    for (name, address) in &outcome.existing {
        println!("exists    {name:<36} {address}");
    }
    let c = &outcome.deployment.contracts;
    println!("CommonBridge:        {}", c.common_bridge.proxy);
    println!("OnChainProposer:     {}", c.on_chain_proposer.proxy);
    println!("AttestationVerifier: {}", c.attestation_verifier.proxy);
    if let Some(timelock) = outcome.deployment.timelock {
        println!(
            "KeelTimelock:        {timelock} (owns the contracts; delay {} s; proposer and executor {owner})",
            args.timelock_delay
        );
        let council = outcome.deployment.security_council;
        let council = if council == Address::ZERO {
            "none (only the timelock pauses)".to_string()
        } else {
            format!("{council} (may pause, nothing else)")
        };
        println!(
            "security council:    {council}; claims reopen {} s into a pause",
            outcome.deployment.max_pause
        );
        println!(
            "to upgrade or change a parameter: `keel l2 timelock schedule`, wait {} s, then \
             `keel l2 timelock execute` (how: docs/contracts.md#governance)",
            args.timelock_delay
        );
    }
    if outcome.sent.is_empty() {
        println!(
            "already deployed: nothing sent; addresses in {}",
            args.out.display()
        );
    } else {
        println!("wrote {}", args.out.display());
    }
    Ok(())
}
