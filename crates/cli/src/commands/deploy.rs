//! `keel l2 deploy`: deploy the L1 contracts (implementations and ERC-1967 proxies of
//! AttestationVerifier, CommonBridge and OnChainProposer) and write their addresses to the
//! deployment file that `keel l2` reads.

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
    /// Private key (hex) of the deployer, which pays for and sends the six deployments.
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
    /// Owner of the contracts (upgrades, pause, parameters). Default: the deployer.
    #[arg(long, value_name = "ADDRESS")]
    pub owner: Option<Address>,
    /// An address allowed to commit batches (repeatable). Default: the deployer.
    #[arg(long = "sequencer", value_name = "ADDRESS")]
    pub sequencers: Vec<Address>,
    /// A prover signer registered in the AttestationVerifier (repeatable). Default: the deployer.
    #[arg(long = "verifier.signer", value_name = "ADDRESS")]
    pub verifier_signers: Vec<Address>,
    /// How many registered signers must attest each batch.
    #[arg(long = "verifier.threshold", default_value_t = 1)]
    pub verifier_threshold: u64,
    /// Seconds a deposit (privileged tx) may stay pending before batches with ordinary txs must
    /// include it.
    #[arg(
        long = "inclusion-max-wait",
        default_value_t = 3600,
        value_name = "SECS"
    )]
    pub inclusion_max_wait: u64,
    /// Cap on the L2 gas limit of a privileged tx (`sendToL2`).
    #[arg(long = "max-privileged-gas-limit", default_value_t = 10_000_000)]
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
    let genesis_state_root = keel_types::genesis_state_root(&genesis);
    let l2_chain_id = genesis.config.chain_id;

    let or_deployer = |list: &[Address]| {
        if list.is_empty() {
            vec![deployer]
        } else {
            list.to_vec()
        }
    };
    let config = DeployConfig {
        owner: args.owner.unwrap_or(deployer),
        sequencers: or_deployer(&args.sequencers),
        verifier_signers: or_deployer(&args.verifier_signers),
        verifier_threshold: args.verifier_threshold,
        inclusion_max_wait: args.inclusion_max_wait,
        max_privileged_gas_limit: args.max_privileged_gas_limit,
        validium: args.validium,
        genesis_state_root,
        l2_chain_id,
        receipt_timeout: Duration::from_secs(args.receipt_timeout),
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
