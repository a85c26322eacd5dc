//! `keel l2`: run the L2 sequencer node. This is the one place that assembles the node's
//! components (JSON-RPC server, BlockProducer, L1Watcher, BatchSealer, L1Committer,
//! L1ProofSender) and runs them under a
//! [`Supervisor`]: a component that stops on its own stops the node with its name and a non-zero
//! exit.

use std::{net::IpAddr, path::PathBuf, sync::Arc, time::Duration};

use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::Address;
use clap::Args;
use eyre::WrapErr;
use keel_chain::{Blockchain, Mempool, MempoolConfig};
use keel_l1::{
    L1Client, L1ClientConfig, L1ReadBound,
    sender::{L1Sender, L1SenderConfig},
};
use keel_rpc::{RpcConfig, RpcContext};
use keel_sequencer::{
    BatchSealer, BatchSealerConfig, BlockProducer, BlockProducerConfig, ComponentSwitch,
    L1Committer, L1CommitterConfig, L1Watcher, L1WatcherConfig, PrivilegedTxSink,
    SettlementTracker, SettlementTrackerConfig, StoreJournal, Supervisor,
};
use keel_types::{ChainSpec, Genesis, dev};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{
    datadir,
    l1_config::{CommitterArgs, L1Args, SettlementArgs, WatcherArgs},
};

/// `keel l2`: runs the node unless a subcommand is given.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct L2Cli {
    #[command(subcommand)]
    pub command: Option<L2Command>,
    #[command(flatten)]
    pub node: L2Args,
}

/// The subcommands of `keel l2`.
#[derive(Debug, clap::Subcommand)]
pub enum L2Command {
    /// Deploy the L1 contracts (CommonBridge, OnChainProposer, AttestationVerifier behind
    /// ERC-1967 proxies) and write their addresses to a JSON file that `keel l2` reads.
    Deploy(super::deploy::DeployArgs),
    /// Write an L2 genesis file: chain id, funded accounts and the L2 system contracts
    /// (CommonBridgeL2, Messenger, Multicall3). Prints its state root.
    Genesis(super::genesis::GenesisArgs),
    /// Rebuild a datadir from L1 alone: every committed batch's blob is fetched from a beacon
    /// API, checked against its versioned hash, decoded and applied over the genesis, with the
    /// state root checked after each batch. `keel l2 --datadir DIR` then resumes sequencing.
    Reconstruct(super::reconstruct::ReconstructArgs),
    /// Owner actions through the KeelTimelock that owns the L1 contracts: `schedule` a call
    /// (upgrade, unpause, parameter change), wait the delay, `execute` it; `status` shows where
    /// it stands (docs/contracts.md, "Governance").
    Timelock(super::timelock::TimelockCli),
    /// Run a prover: ask the node's proof coordinator(s) for committed batches, re-execute each
    /// statelessly, sign its public inputs with --prover.private-key (a registered
    /// AttestationVerifier signer) and submit the proof; repeat. Reconnects with backoff while
    /// a coordinator is down. Run several, on this machine or others (docs/prover.md).
    Prover(super::prover::ProverArgs),
    /// Delete the node's database and mempool journal in --datadir (asks first; --force
    /// doesn't). Refuses while a node has the database open. Other files in DIR are kept.
    Removedb(super::removedb::RemoveDbArgs),
    /// Check that the datadir holds one whole state at its head: every account and storage
    /// slot of the flat state is a trie leaf with the same value and vice versa, and the trie's
    /// root is the head header's state root. Prints the counts, or the first mismatch (and
    /// exits non-zero). The node must be stopped.
    VerifyState(super::verify_state::VerifyStateArgs),
}

/// Dispatches `keel l2 [SUBCOMMAND]`.
pub fn dispatch(cli: L2Cli) -> eyre::Result<()> {
    match cli.command {
        None => run(cli.node),
        Some(L2Command::Deploy(args)) => super::deploy::run(args),
        Some(L2Command::Genesis(args)) => super::genesis::run(args),
        Some(L2Command::Reconstruct(args)) => super::reconstruct::run(args),
        Some(L2Command::Timelock(cli)) => super::timelock::run(cli),
        Some(L2Command::Prover(args)) => super::prover::run(args),
        Some(L2Command::Removedb(args)) => super::removedb::run(args),
        Some(L2Command::VerifyState(args)) => super::verify_state::run(args),
    }
}

/// The node's settings.
#[derive(Debug, Args)]
pub struct L2Args {
    /// Run a local development rollup: the dev genesis (the ten accounts of the test mnemonic
    /// funded, Multicall3 predeployed), an in-memory store unless --datadir is given, and the
    /// funded keys printed at start. Without L1 settings it also starts anvil (one block a
    /// second; keel's pinned anvil from tools/, installed with `npm ci` on first use, else
    /// KEEL_ANVIL or `anvil` on PATH), deploys the contracts and commits batches there with a dev committer key; an
    /// in-process `exec` prover (dev account 0, the dev verifier signer) proves them and the
    /// batches are verified on L1, so withdrawals become claimable on their own.
    #[arg(long)]
    pub dev: bool,
    /// With --dev, don't run the in-process prover: prove with `keel l2 prover` processes
    /// instead (the dev verifier signer is dev account 0).
    #[arg(long = "dev.no-prover")]
    pub dev_no_prover: bool,
    /// Genesis file (geth-style JSON) of the L2. Required unless --dev.
    #[arg(long, env = "KEEL_NETWORK", value_name = "GENESIS.json")]
    pub network: Option<PathBuf>,
    /// Directory of the node's database (`memory` keeps everything in memory). A node restarted
    /// on the same datadir resumes from its last block. Default: `./keel-data`, or `memory`
    /// with --dev.
    #[arg(long, env = "KEEL_DATADIR", value_name = "DIR")]
    pub datadir: Option<PathBuf>,
    /// Don't show the terminal monitor; logs go to stdout. The monitor (heads, rates, mempool,
    /// blocks, deposits, batches, withdrawals, logs; `q` quits) is on only when stdout is a
    /// terminal.
    #[arg(long)]
    pub no_monitor: bool,
    /// Recent-state window, in blocks: side chains and reorgs up to this deep are followed,
    /// and `eth_getProof` (and calls on non-canonical blocks) answer for blocks this recent.
    /// Balances, storage and code of older canonical blocks stay readable at any depth.
    #[arg(
        long = "state.history",
        env = "KEEL_STATE_HISTORY",
        value_name = "BLOCKS",
        default_value_t = keel_storage::DEFAULT_STATE_HISTORY
    )]
    pub state_history: u64,

    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub producer: BlockProducerArgs,
    #[command(flatten)]
    pub txpool: TxPoolArgs,
    #[command(flatten)]
    pub l1: L1Args,
    #[command(flatten)]
    pub watcher: WatcherArgs,
    #[command(flatten)]
    pub committer: CommitterArgs,
    #[command(flatten)]
    pub settlement: SettlementArgs,
    #[command(flatten)]
    pub proof_coordinator: super::prover::ProofCoordinatorArgs,
    #[command(flatten)]
    pub proof_sender: crate::proof_sender::ProofSenderArgs,
    #[command(flatten)]
    pub metrics: crate::metrics::MetricsArgs,
    #[command(flatten)]
    pub admin: crate::admin::AdminArgs,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "JSON-RPC (HTTP and WebSocket on one port)")]
pub struct HttpArgs {
    /// Address to listen on.
    #[arg(
        long = "http.addr",
        env = "KEEL_HTTP_ADDR",
        default_value = "127.0.0.1"
    )]
    pub addr: IpAddr,
    /// Port for HTTP and WebSocket (0 picks a free one; the address is logged).
    #[arg(long = "http.port", env = "KEEL_HTTP_PORT", default_value_t = 1729)]
    pub port: u16,
    /// Largest request body (HTTP) or message (WebSocket), in bytes; larger ones get error -32007
    /// (HTTP 413).
    #[arg(long = "rpc.max-request-size", env = "KEEL_RPC_MAX_REQUEST_SIZE", value_name = "BYTES", default_value_t = RpcConfig::default().max_request_bytes)]
    pub max_request_bytes: u32,
    /// Largest response, in bytes; a larger one is replaced by error -32008.
    #[arg(long = "rpc.max-response-size", env = "KEEL_RPC_MAX_RESPONSE_SIZE", value_name = "BYTES", default_value_t = RpcConfig::default().max_response_bytes)]
    pub max_response_bytes: u32,
    /// Most calls in one JSON-RPC batch; a longer batch gets error -32010.
    #[arg(long = "rpc.max-batch-len", env = "KEEL_RPC_MAX_BATCH_LEN", default_value_t = RpcConfig::default().max_batch_len)]
    pub max_batch_len: u32,
    /// Most connections served at once: open WebSockets plus HTTP requests in flight (an idle
    /// keep-alive socket doesn't count). One more gets HTTP 429 "Too many connections".
    #[arg(long = "rpc.max-connections", env = "KEEL_RPC_MAX_CONNECTIONS", default_value_t = RpcConfig::default().max_connections)]
    pub max_connections: u32,
    /// Most eth_subscribe subscriptions on one WebSocket connection; one more gets error -32006.
    #[arg(long = "rpc.max-subscriptions-per-connection", env = "KEEL_RPC_MAX_SUBSCRIPTIONS_PER_CONNECTION", default_value_t = RpcConfig::default().max_subscriptions_per_connection)]
    pub max_subscriptions_per_connection: u32,
    /// Most blocks one eth_getLogs (or eth_getFilterLogs) may scan; a wider range gets error
    /// -32005. 0: no limit.
    #[arg(long = "rpc.max-logs-range", env = "KEEL_RPC_MAX_LOGS_RANGE", value_name = "BLOCKS", default_value_t = RpcConfig::default().max_logs_block_range)]
    pub max_logs_block_range: u64,
    /// Most logs one eth_getLogs (or eth_getFilterLogs) may return; more gets error -32005 with
    /// the range that fits. 0: no limit.
    #[arg(long = "rpc.max-logs", env = "KEEL_RPC_MAX_LOGS", default_value_t = RpcConfig::default().max_logs)]
    pub max_logs: usize,
    /// Gas limit (and cap) of eth_call and eth_estimateGas.
    #[arg(long = "rpc.gas-cap", env = "KEEL_RPC_GAS_CAP", default_value_t = RpcConfig::default().gas_cap)]
    pub gas_cap: u64,
    /// Most EVM calls (eth_call, eth_estimateGas, eth_createAccessList, debug_executionWitness)
    /// executing at once; the others wait in arrival order, and one that waited 10 s gets error
    /// -32005 "server busy". Default: the number of cores.
    #[arg(long = "rpc.max-concurrent-calls", env = "KEEL_RPC_MAX_CONCURRENT_CALLS", value_parser = clap::value_parser!(u32).range(1..), default_value_t = keel_rpc::default_max_concurrent_calls())]
    pub max_concurrent_calls: u32,
    /// Origins a browser app may call the JSON-RPC from (CORS), comma-separated, e.g.
    /// "http://localhost:5100" for a local Otterscan; "*" allows any. Default: none (browsers
    /// refuse cross-origin calls); "*" with --dev.
    #[arg(
        long = "http.corsdomain",
        env = "KEEL_HTTP_CORSDOMAIN",
        value_name = "ORIGINS",
        value_delimiter = ','
    )]
    pub cors_domains: Option<Vec<String>>,
    /// Keep an index of transactions by address (their senders, recipients and created
    /// contracts) for the Otterscan block explorer: ots_searchTransactionsBefore/After (an
    /// address's history page by page) and ots_getTransactionBySenderAndNonce need it, and
    /// ots_getContractCreator is faster with it. Off by default, on with --dev
    /// (--rpc.address-index=false turns it off). It costs about 100 bytes of disk per
    /// transaction and a few index writes per transaction in each block's write. A datadir written
    /// without it is indexed from its stored blocks in the background at startup (progress in the
    /// logs; a restart resumes where it stopped); the searches answer an error until it is done.
    #[arg(long = "rpc.address-index", env = "KEEL_RPC_ADDRESS_INDEX", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub address_index: Option<bool>,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Block producer")]
pub struct BlockProducerArgs {
    /// Time between blocks, in milliseconds.
    #[arg(
        long = "block-producer.block-time",
        env = "KEEL_BLOCK_PRODUCER_BLOCK_TIME",
        default_value_t = 1000,
        value_name = "MS"
    )]
    pub block_time_ms: u64,
    /// Preconfirmations (off unless given): with MS > 0, transactions are executed as they
    /// arrive, on top of the block being built, and published at least every MS milliseconds
    /// (sooner when the pool runs dry; 5 is a good value): `eth_sendRawTransactionSync` and
    /// `eth_getTransactionReceipt` return their receipts, and `"pending"` reads see them, before
    /// the block is sealed at its block time. A receipt then comes before `latest` shows its
    /// transaction: tools that read `latest` right after a receipt (a nonce, a balance) see the
    /// state before it until the block is sealed (docs/preconfirmations.md). 0 builds each block
    /// at once at block time.
    #[arg(
        long = "block-producer.slice-time",
        env = "KEEL_BLOCK_PRODUCER_SLICE_TIME",
        default_value_t = 0,
        value_name = "MS"
    )]
    pub slice_time_ms: u64,
    /// Address that receives the priority fees.
    #[arg(long = "block-producer.coinbase-address", env = "KEEL_BLOCK_PRODUCER_COINBASE_ADDRESS", default_value_t = Address::ZERO)]
    pub coinbase: Address,
    /// Address that receives the base fees. Unset, base fees are burned. A chain rule: every node
    /// of a chain must use the same value.
    #[arg(
        long = "block-producer.base-fee-vault-address",
        env = "KEEL_BLOCK_PRODUCER_BASE_FEE_VAULT_ADDRESS"
    )]
    pub base_fee_vault: Option<Address>,
    /// EIP-1559 elasticity multiplier (target gas = gas limit / elasticity). A chain rule.
    #[arg(
        long = "block-producer.elasticity-multiplier",
        alias = "elasticity-multiplier",
        env = "KEEL_BLOCK_PRODUCER_ELASTICITY_MULTIPLIER",
        default_value_t = 2
    )]
    pub elasticity: u64,
    /// Don't produce blocks while the mempool has nothing to include. Off by default: blocks
    /// come on schedule like on L1, so block numbers and timestamps advance predictably.
    #[arg(
        long = "block-producer.skip-empty",
        env = "KEEL_BLOCK_PRODUCER_SKIP_EMPTY"
    )]
    pub skip_empty: bool,
    /// Most deposits and other L1 messages (privileged txs) in one block; they go first, in L1
    /// order, and the rest wait for the next block.
    #[arg(
        long = "block-producer.max-privileged-txs",
        env = "KEEL_BLOCK_PRODUCER_MAX_PRIVILEGED_TXS",
        default_value_t = keel_sequencer::DEFAULT_MAX_PRIVILEGED_TXS_PER_BLOCK
    )]
    pub max_privileged_txs: usize,
    /// Most gas (summed over their gas limits) privileged txs may take in one block. Default: a
    /// quarter of the block gas limit.
    #[arg(
        long = "block-producer.max-privileged-gas",
        env = "KEEL_BLOCK_PRODUCER_MAX_PRIVILEGED_GAS",
        value_name = "GAS"
    )]
    pub max_privileged_gas: Option<u64>,
    /// Most bytes a block's own state diff (v1, uncompressed) may take, counted as an upper bound
    /// while the block is built; a transaction that would go over waits for the next block. The
    /// default keeps every block's diff within one blob. 0 turns the limit off (gas only).
    #[arg(
        long = "block-producer.max-state-diff-bytes",
        env = "KEEL_BLOCK_PRODUCER_MAX_STATE_DIFF_BYTES",
        default_value_t = keel_sequencer::DEFAULT_MAX_STATE_DIFF_BYTES,
        value_name = "BYTES"
    )]
    pub max_state_diff_bytes: usize,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Transaction pool")]
pub struct TxPoolArgs {
    /// Most transactions in the pool (pending and queued); beyond it the cheapest is evicted.
    #[arg(long = "txpool.max-txs", env = "KEEL_TXPOOL_MAX_TXS", default_value_t = MempoolConfig::default().max_txs)]
    pub max_txs: usize,
    /// Most transactions one sender may have in the pool.
    #[arg(long = "txpool.max-per-sender", env = "KEEL_TXPOOL_MAX_PER_SENDER", default_value_t = MempoolConfig::default().max_per_sender)]
    pub max_per_sender: usize,
    /// Fee bump, in percent, a replacement transaction needs.
    #[arg(long = "txpool.price-bump", env = "KEEL_TXPOOL_PRICE_BUMP", default_value_t = MempoolConfig::default().price_bump_percent)]
    pub price_bump: u128,
    /// Lowest priority fee per gas accepted, in wei.
    #[arg(long = "txpool.min-tip", env = "KEEL_TXPOOL_MIN_TIP", default_value_t = MempoolConfig::default().min_tip)]
    pub min_tip: u128,
}

/// Whether the node shows the terminal monitor: stdout is a terminal and no `--no-monitor`.
pub fn monitor_wanted(args: &L2Args) -> bool {
    !args.no_monitor && std::io::IsTerminal::is_terminal(&std::io::stdout())
}

pub fn run(args: L2Args) -> eyre::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("keel-rt")
        .build()
        .wrap_err("starting the async runtime")?;
    runtime.block_on(run_node(args))
}

/// The genesis to start from: the file given, or the dev genesis.
fn load_genesis(args: &L2Args) -> eyre::Result<Genesis> {
    match (&args.network, args.dev) {
        (Some(path), _) => {
            let json = std::fs::read_to_string(path)
                .wrap_err_with(|| format!("reading genesis {}", path.display()))?;
            let genesis: Genesis = serde_json::from_str(&json)
                .wrap_err_with(|| format!("parsing genesis {}", path.display()))?;
            Ok(genesis)
        }
        (None, true) => Ok(dev::dev_genesis()),
        (None, false) => eyre::bail!("--network GENESIS.json is required (or use --dev)"),
    }
}

async fn run_node(args: L2Args) -> eyre::Result<()> {
    // Before anything is started or deployed: a port in use stops the node here, named.
    crate::ports::check(&crate::ports::of_node(&args))?;
    let genesis = load_genesis(&args)?;
    let spec = ChainSpec::from_genesis(&genesis)
        .wrap_err("invalid genesis")?
        .with_elasticity(args.producer.elasticity)
        .with_base_fee_vault(args.producer.base_fee_vault);
    // Before any component starts: they take their metric handles from this recorder.
    let metrics_server = crate::metrics::start(&args.metrics, spec.chain_id).await?;
    let datadir = args.datadir.clone().unwrap_or_else(|| {
        PathBuf::from(if args.dev {
            datadir::MEMORY
        } else {
            "keel-data"
        })
    });
    let admin_addr = args.admin.listen_addr()?;
    // `--dev` without any L1 setting runs its own anvil with the contracts deployed.
    let wants_dev_l1 = args.dev
        && args.l1.eth_rpc_url.is_empty()
        && args.l1.deployment.is_none()
        && args.l1.bridge.is_none()
        && args.l1.on_chain_proposer.is_none();
    let dev_l1 = if wants_dev_l1 {
        Some(crate::dev_l1::start(&genesis).await?)
    } else {
        None
    };
    let l1 = match &dev_l1 {
        Some(dev_l1) => Some(dev_l1.settings.clone()),
        None => args
            .l1
            .resolve(spec.chain_id, keel_types::genesis_state_root(&genesis))?,
    };
    let store = datadir::open_store(&datadir)?;
    // `--dev` starts a fresh anvil each time: a datadir from an earlier run can follow it only if
    // it holds no deposits of the earlier L1 (their ids would collide with the new L1's).
    if dev_l1.is_some()
        && !store
            .reset_l1_watcher_cursor()
            .wrap_err("resetting the L1 watcher for the fresh dev L1")?
    {
        eyre::bail!(
            "{} holds deposits from an earlier L1, but --dev starts a fresh anvil each time, \
             whose deposits would clash with them; use --datadir memory (the default with --dev), \
             or run your own L1 and pass --eth.rpc-url and --l1.deployment",
            datadir.display()
        );
    }
    // The address index (for Otterscan): on with --rpc.address-index, and by default with --dev.
    let address_index = args.http.address_index.unwrap_or(args.dev);
    store.set_address_index(address_index);
    let chain = Blockchain::open(store, &genesis, spec)?.with_state_history(args.state_history);
    let (chain, _) = crate::journal::check_preconfirmed(&datadir, chain)?;
    let (head, head_hash) = chain.head()?;
    info!(
        datadir = %datadir.display(),
        chain_id = chain.spec().chain_id,
        head,
        %head_hash,
        "chain opened"
    );
    // New blocks keep the head's gas limit (BlockProducerConfig::gas_limit is not set): every
    // deposit the L1 bridge accepts must fit it.
    if let Some(l1) = &l1 {
        let block_gas_limit = keel_storage::ChainReader::head(&chain.store().reader()?)?
            .map_or(genesis.gas_limit, |(_, header)| header.gas_limit);
        l1.check_privileged_gas_cap(block_gas_limit).await?;
    }

    let pool_config = MempoolConfig {
        max_txs: args.txpool.max_txs,
        max_per_sender: args.txpool.max_per_sender,
        price_bump_percent: args.txpool.price_bump,
        min_tip: args.txpool.min_tip,
        ..MempoolConfig::default()
    };
    let mempool = Arc::new(Mempool::new(pool_config, chain.clone()));
    crate::journal::restore(&datadir, &mempool)?;

    let rpc_config = RpcConfig {
        addr: (args.http.addr, args.http.port).into(),
        max_request_bytes: args.http.max_request_bytes,
        max_response_bytes: args.http.max_response_bytes,
        max_batch_len: args.http.max_batch_len,
        max_connections: args.http.max_connections,
        max_subscriptions_per_connection: args.http.max_subscriptions_per_connection,
        max_logs_block_range: args.http.max_logs_block_range,
        max_logs: args.http.max_logs,
        gas_cap: args.http.gas_cap,
        max_concurrent_calls: args.http.max_concurrent_calls,
        l1_contracts: l1.as_ref().map(|l1| l1.rpc_report(dev_l1.is_some())),
        cors_origins: args.http.cors_domains.clone().unwrap_or_else(|| {
            if args.dev {
                vec!["*".to_string()]
            } else {
                Vec::new()
            }
        }),
        coinbase: Some(args.producer.coinbase),
        ..RpcConfig::default()
    };
    // The operator's pause switches (admin RPC) and what GET /ready reports on.
    let producer_switch = ComponentSwitch::new("block_producer");
    let committer_switch = ComponentSwitch::new("l1_committer");
    let mut committer_runs = false;
    let readiness = crate::admin::NodeReadiness::new(
        &chain,
        mempool.clone(),
        producer_switch.clone(),
        Duration::from_millis(args.producer.block_time_ms.max(1)),
        args.producer.skip_empty,
        l1.as_ref().is_some_and(|l1| !l1.eth_rpc_url.is_empty()),
    );
    let ctx = RpcContext::new(rpc_config, chain.clone(), mempool.clone())
        .with_readiness(readiness.clone());
    let server = keel_rpc::start(ctx).await?;

    let producer = BlockProducer::new(
        BlockProducerConfig {
            block_time: Duration::from_millis(args.producer.block_time_ms.max(1)),
            coinbase: args.producer.coinbase,
            skip_empty: args.producer.skip_empty,
            max_privileged_gas_per_block: args.producer.max_privileged_gas,
            max_privileged_txs_per_block: args.producer.max_privileged_txs.max(1),
            max_state_diff_bytes: (args.producer.max_state_diff_bytes > 0)
                .then_some(args.producer.max_state_diff_bytes),
            slice_time: (args.producer.slice_time_ms > 0)
                .then(|| Duration::from_millis(args.producer.slice_time_ms)),
            ..BlockProducerConfig::default()
        },
        chain.clone(),
        mempool.clone(),
    )
    .with_switch(producer_switch.clone());
    // Every component is critical: one that stops on its own stops the node, with its name.
    let mut supervisor = Supervisor::new();
    let token = supervisor.token();
    if address_index {
        supervisor.spawn(
            "address_indexer",
            run_address_indexer(chain.store().clone(), token.clone()),
        );
    }
    supervisor.spawn(
        "json_rpc",
        supervise_rpc(server.handle.clone(), token.clone()),
    );
    // Without a datadir the pool has no journal: nothing to compact.
    crate::journal::spawn_compaction(mempool.clone(), token.clone());
    let metrics_url = metrics_server.as_ref().map(|server| server.url());
    if let Some(server) = metrics_server {
        supervisor.spawn("metrics", server.run(token.clone()));
    }
    let mut l1_status = None;
    if let Some(l1) = &l1 {
        if l1.eth_rpc_url.is_empty() {
            warn!("no --eth.rpc-url: deposits from L1 are not watched");
        } else {
            let client = L1Client::new(L1ClientConfig::new(l1.eth_rpc_url.clone()))
                .wrap_err("--eth.rpc-url")?;
            let mut config = L1WatcherConfig::new(
                l1.bridge,
                chain.spec().chain_id,
                l1.deploy_block.unwrap_or(0),
            );
            config.watch_interval = Duration::from_millis(args.watcher.watch_interval_ms.max(1));
            // anvil's `safe` block is 32 blocks (32 s with --dev's 1 s blocks) behind its head:
            // a dev chain reads up to the head unless told otherwise.
            config.read_bound = args.watcher.read_up_to.unwrap_or(if args.dev {
                L1ReadBound::Latest
            } else {
                keel_sequencer::l1_watcher::DEFAULT_READ_BOUND
            });
            config.max_block_step = args.watcher.max_block_step.max(1);
            let sink: Arc<dyn PrivilegedTxSink> = mempool.clone();
            let watcher = L1Watcher::new(config, client, chain.store().clone(), sink);
            readiness.follow_l1_watcher(watcher.status());
            l1_status = Some(watcher.status());
            let watcher_token = token.clone();
            supervisor.spawn("l1_watcher", async move {
                watcher.run(watcher_token).await;
                Ok::<(), std::convert::Infallible>(())
            });
        }
    }
    // On a chain with the L1 fee rule, blocks move their L1 prices toward what the watcher
    // reads (docs/fees.md); without an L1 they keep the genesis prices.
    let producer = match &l1_status {
        Some(status) => producer.with_l1_prices(status.clone()),
        None => producer,
    };
    supervisor.spawn("block_producer", producer.run(token.clone()));
    let commit_time =
        args.committer
            .commit_time_ms
            .unwrap_or(if args.dev { 5_000 } else { 60_000 });
    let sealer = BatchSealer::new(
        BatchSealerConfig {
            commit_time: Duration::from_millis(commit_time.max(1)),
            validium: args.committer.validium,
            genesis_codes: keel_chain::genesis_code_hashes(&genesis),
            seal_at_fee_coverage_permille: (args.committer.seal_at_fee_coverage > 0.0)
                .then(|| (args.committer.seal_at_fee_coverage * 1_000.0).round() as u32),
            batch_l1_gas: args.committer.batch_l1_gas,
            ..BatchSealerConfig::default()
        },
        chain.clone(),
    );
    supervisor.spawn("batch_sealer", sealer.run(token.clone()));
    let mut committer_address = None;
    let mut proof_coordinator = None;
    let mut dev_prover = None;
    let mut proof_sender_address = None;
    if let Some(l1) = l1.as_ref().filter(|l1| !l1.eth_rpc_url.is_empty()) {
        let mut committer_sender = None;
        let signer = match (args.committer.l1_private_key, &dev_l1) {
            (Some(key), _) => {
                Some(PrivateKeySigner::from_bytes(&key).wrap_err("--committer.l1-private-key")?)
            }
            (None, Some(_)) => Some(keel_l1::dev_committer_signer()),
            (None, None) => None,
        };
        match signer {
            None => {
                warn!("no --committer.l1-private-key: batches are sealed but not committed to L1")
            }
            Some(signer) => {
                committer_address = Some(signer.address());
                let client = L1Client::new(L1ClientConfig::new(l1.eth_rpc_url.clone()))
                    .wrap_err("--eth.rpc-url")?;
                let sender_config = l1_sender_config(&args.committer, args.dev);
                let journal = Arc::new(StoreJournal::new(chain.store().clone()));
                let sender = Arc::new(L1Sender::new(
                    client.clone(),
                    signer,
                    sender_config,
                    journal,
                ));
                let committer = L1Committer::new(
                    L1CommitterConfig {
                        on_chain_proposer: l1.on_chain_proposer,
                        validium: args.committer.validium,
                        deploy_block: l1.deploy_block.unwrap_or(0),
                        poll_interval: Duration::from_millis(250),
                    },
                    chain.store().clone(),
                    client,
                    sender.clone(),
                )
                .with_switch(committer_switch.clone());
                committer_runs = true;
                supervisor.spawn("l1_committer", committer.run(token.clone()));
                committer_sender = Some(sender);
                proof_coordinator = Some(
                    super::prover::start_coordinator(
                        &mut supervisor,
                        &args.proof_coordinator,
                        args.dev,
                        &chain,
                        &genesis,
                        l1,
                        token.clone(),
                    )
                    .await?,
                );
                if args.dev
                    && !args.dev_no_prover
                    && let Some(coordinator) = proof_coordinator
                {
                    dev_prover = Some(super::prover::start_dev_prover(
                        &mut supervisor,
                        coordinator,
                        token.clone(),
                    )?);
                }
            }
        }
        // The block tags follow L1 whether or not this node commits (docs/rpc.md, Block tags).
        let tracker = SettlementTracker::new(
            SettlementTrackerConfig {
                on_chain_proposer: l1.on_chain_proposer,
                commit_confirmations: l1_sender_config(&args.committer, args.dev).confirmations,
                finality: args
                    .settlement
                    .settlement_l1_finality
                    .unwrap_or(if args.dev {
                        L1ReadBound::Latest
                    } else {
                        L1ReadBound::Finalized
                    }),
                poll_interval: Duration::from_millis(
                    args.settlement.settlement_poll_interval_ms.max(1),
                ),
            },
            chain.store().clone(),
            L1Client::new(L1ClientConfig::new(l1.eth_rpc_url.clone())).wrap_err("--eth.rpc-url")?,
        );
        supervisor.spawn("settlement_tracker", tracker.run(token.clone()));
        proof_sender_address = crate::proof_sender::spawn(
            &args.proof_sender,
            args.dev,
            l1,
            chain.store(),
            committer_sender,
            l1_sender_config(&args.committer, args.dev),
            &mut supervisor,
            token.clone(),
        )?;
    }

    let admin_local = crate::admin::spawn_server(
        admin_addr,
        crate::admin::controls(
            &producer_switch,
            committer_runs.then_some(&committer_switch),
        ),
        &mut supervisor,
        token.clone(),
    )
    .await?;

    let mut banner = crate::banner::Banner::new("keel L2 node running");
    banner
        .field("chain id", chain.spec().chain_id)
        .field("HTTP RPC", format_args!("http://{}", server.local_addr))
        .field("WS RPC", format_args!("ws://{}", server.local_addr));
    if let Some(url) = &metrics_url {
        banner.field("Metrics", url);
    }
    if let Some(addr) = admin_local {
        banner.field("Admin RPC", format_args!("http://{addr} (loopback only)"));
    }
    if let Some(fees) = chain.spec().fees {
        // docs/fees.md: what each ordinary transaction pays besides gas, and where it goes.
        let vault =
            |v: Option<Address>| v.map_or_else(|| "none (burned)".to_string(), |a| a.to_string());
        banner
            .field("L1 fee vault", vault(fees.l1_fee_vault))
            .field("Operator fee vault", vault(fees.operator_fee_vault));
    }
    match &l1 {
        Some(l1) => {
            if let Some(url) = l1.eth_rpc_url.first() {
                let started = if dev_l1.is_some() {
                    " (anvil, started by keel)"
                } else {
                    ""
                };
                banner.field("L1 RPC", format_args!("{url}{started}"));
            }
            banner
                .field("L1 bridge", l1.bridge)
                .field("L1 OnChainProposer", l1.on_chain_proposer);
            if let Some(committer) = committer_address {
                banner.field("L1 committer", committer);
            }
            if let Some(addr) = proof_coordinator {
                banner.field("Proof coordinator", addr);
            }
            if let Some(signer) = dev_prover {
                banner.field("Prover", format_args!("in-process, exec, signer {signer}"));
            }
            if let Some(verifier) = proof_sender_address {
                banner.field("L1 proof sender", verifier);
            }
        }
        None => {
            info!("no L1 configured: the node runs without deposits or batch commits");
        }
    }
    if args.dev {
        banner.line(
            2,
            format_args!("funded dev accounts (mnemonic \"{}\"):", dev::DEV_MNEMONIC),
        );
        for (i, (address, key)) in dev::DEV_ACCOUNTS.iter().enumerate() {
            banner.line(4, format_args!("({i}) {address}  key {key}"));
        }
    }
    // The terminal monitor, or the banner on stdout.
    let monitor = crate::monitor::Monitor::start_or_print_banner(
        &banner,
        crate::monitor::data::Sources {
            chain: chain.clone(),
            mempool: Some(mempool.clone()),
            l1_status,
        },
        token.clone(),
    );

    let outcome = supervisor
        .run_until(
            async {
                crate::monitor::until_quit(monitor.as_ref(), wait_for_signal()).await;
                info!("shutting down");
            },
            Duration::from_secs(10),
        )
        .await;
    if let Some(monitor) = monitor {
        monitor.finish();
    }
    drop(dev_l1);
    server.stop().await;
    crate::journal::save(&mempool)?;
    chain.store().sync()?;
    let (head, head_hash) = chain.head()?;
    info!(head, %head_hash, "stopped");
    outcome.wrap_err("the node stopped because one of its components did")
}

/// Blocks the address indexer indexes per write transaction.
const ADDRESS_INDEX_STEP: u64 = 1_000;

/// Fill the address index from the stored blocks up to the head, a step at a time on the
/// blocking pool (each step one write transaction that also records how far it got, so a restart
/// resumes), logging progress; block writes index their blocks themselves once it has caught up.
/// It then waits for the node to stop (a supervised component that ends stops the node), and a
/// failed step stops the node with its error rather than leaving the searches off.
async fn run_address_indexer(
    store: keel_storage::Store,
    token: CancellationToken,
) -> eyre::Result<()> {
    let progress = store.address_index_progress()?;
    if !progress.caught_up() {
        info!(
            from = progress.next,
            head = progress.head.unwrap_or(0),
            "address index: indexing the stored blocks (--rpc.address-index)"
        );
        let started = std::time::Instant::now();
        let mut logged = std::time::Instant::now();
        loop {
            if token.is_cancelled() {
                return Ok(());
            }
            let step_store = store.clone();
            let progress =
                tokio::task::spawn_blocking(move || step_store.index_addresses(ADDRESS_INDEX_STEP))
                    .await
                    .wrap_err("address index step")?
                    .wrap_err("address index: indexing the stored blocks failed")?;
            if progress.caught_up() {
                info!(
                    blocks = progress.next,
                    secs = started.elapsed().as_secs(),
                    "address index: caught up with the head"
                );
                break;
            }
            if logged.elapsed() >= Duration::from_secs(10) {
                logged = std::time::Instant::now();
                let head = progress.head.unwrap_or(0);
                info!(
                    indexed = progress.next,
                    head,
                    percent = progress.next.saturating_mul(100) / head.max(1),
                    "address index: indexing"
                );
            }
        }
    }
    token.cancelled().await;
    Ok(())
}

/// The L1 sender settings of the node's L1 accounts (the committer's, and the proof sender's
/// when it has its own), from the committer's flags.
fn l1_sender_config(committer: &CommitterArgs, dev: bool) -> L1SenderConfig {
    L1SenderConfig {
        max_fee_per_gas: committer.max_fee_per_gas,
        max_fee_per_blob_gas: committer.max_fee_per_blob_gas,
        bump_after_blocks: committer.bump_after.max(1),
        confirmations: committer.confirmations.unwrap_or(if dev { 1 } else { 6 }),
        poll_interval: Duration::from_millis(if dev { 250 } else { 2_000 }),
        ..L1SenderConfig::default()
    }
}

/// The JSON-RPC server as a component: stopped on shutdown; if it stops by itself, the node
/// stops too.
async fn supervise_rpc(
    handle: jsonrpsee::server::ServerHandle,
    token: CancellationToken,
) -> Result<(), String> {
    tokio::select! {
        _ = token.cancelled() => Ok(()),
        _ = handle.clone().stopped() => Err("the JSON-RPC server stopped".into()),
    }
}

/// Ctrl-C or SIGTERM.
pub(crate) async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--rpc.address-index` alone, `=true`/`=false`, or absent (then `--dev` decides), and
    /// `--http.corsdomain` as a comma-separated list.
    #[test]
    fn the_address_index_and_cors_flags_parse() {
        use clap::Parser;
        #[derive(Debug, Parser)]
        struct Cli {
            #[command(flatten)]
            http: HttpArgs,
        }
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("keel").chain(args.iter().copied()))
                .map(|c| (c.http.address_index, c.http.cors_domains))
                .expect("parses")
        };
        assert_eq!(parse(&[]), (None, None));
        assert_eq!(parse(&["--rpc.address-index"]).0, Some(true));
        assert_eq!(parse(&["--rpc.address-index=true"]).0, Some(true));
        assert_eq!(parse(&["--rpc.address-index=false"]).0, Some(false));
        assert_eq!(
            parse(&[
                "--http.corsdomain",
                "http://localhost:5100,https://x.example"
            ])
            .1,
            Some(vec![
                "http://localhost:5100".to_string(),
                "https://x.example".to_string()
            ])
        );
        assert_eq!(
            parse(&["--http.corsdomain", "*"]).1,
            Some(vec!["*".to_string()])
        );
    }
}
