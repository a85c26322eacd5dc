//! `keel l2 reconstruct`: rebuild an L2 datadir from L1 alone. It reads the OnChainProposer's
//! commit history, fetches each batch's blob from a beacon API, checks it against the versioned
//! hash L1 recorded, decodes its state diff, applies it over the genesis and checks the state
//! root against the committed one after every batch. The datadir then holds the full latest
//! state, the last committed block's identity, the batches as committed, and the L1 bridge's
//! deposits with those already in batches marked included, so `keel l2 --datadir DIR` resumes
//! sequencing on it.

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use clap::Args;
use eyre::{WrapErr, bail, eyre};
use keel_chain::{BatchCheckpoint, Blockchain, DiffApplier};
use keel_l1::{
    BlobFetcher, CommittedBatch, Deployment, L1Client, L1ClientConfig, committed_batches,
};
use keel_sequencer::{L1Watcher, L1WatcherConfig, MemorySink};
use keel_storage::{ChainReader, batches::BatchCommit};
use keel_types::{
    Batch, ChainSpec, Genesis,
    blob::{decode_state_diff_payload, unpack_blob},
};
use tracing::info;

use crate::datadir;

/// `keel l2 reconstruct` settings.
#[derive(Debug, Args)]
pub struct ReconstructArgs {
    /// L1 JSON-RPC endpoint (repeat or comma-separate for failover).
    #[arg(
        long = "eth.rpc-url",
        env = "KEEL_ETH_RPC_URL",
        value_name = "URL",
        value_delimiter = ',',
        required = true
    )]
    pub eth_rpc_url: Vec<String>,
    /// Deployment file written by `keel l2 deploy`: the OnChainProposer and bridge to read, and
    /// the L1 block to start from.
    #[arg(
        long = "l1.deployment",
        env = "KEEL_L1_DEPLOYMENT",
        value_name = "FILE"
    )]
    pub deployment: PathBuf,
    /// The L2's genesis file (the state the first batch applies to).
    #[arg(long, env = "KEEL_NETWORK", value_name = "GENESIS.json")]
    pub network: PathBuf,
    /// Directory to rebuild into; it must not hold a chain yet.
    #[arg(long, env = "KEEL_DATADIR", value_name = "DIR")]
    pub datadir: PathBuf,
    /// Beacon API serving the blobs (`/eth/v1/beacon/blobs/{block_id}`); defaults to the first
    /// L1 URL (anvil serves it too).
    #[arg(long = "blobs.url", env = "KEEL_BLOBS_URL", value_name = "URL")]
    pub blobs_url: Option<String>,
}

/// Runs `keel l2 reconstruct`.
pub fn run(args: ReconstructArgs) -> eyre::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("keel-rt")
        .build()
        .wrap_err("starting the async runtime")?;
    runtime.block_on(reconstruct(args))
}

async fn reconstruct(args: ReconstructArgs) -> eyre::Result<()> {
    let started = Instant::now();
    let json = std::fs::read_to_string(&args.network)
        .wrap_err_with(|| format!("reading genesis {}", args.network.display()))?;
    let genesis: Genesis = serde_json::from_str(&json)
        .wrap_err_with(|| format!("parsing genesis {}", args.network.display()))?;
    let spec = ChainSpec::from_genesis(&genesis).wrap_err("invalid genesis")?;
    let deployment = Deployment::load(&args.deployment)
        .wrap_err_with(|| format!("--l1.deployment {}", args.deployment.display()))?;
    let genesis_root = keel_types::genesis_state_root(&genesis);
    if deployment.l2_chain_id != spec.chain_id || deployment.genesis_state_root != genesis_root {
        bail!(
            "--l1.deployment {} was made for L2 chain {} with genesis root {}, but --network has \
             chain {} with genesis root {genesis_root}",
            args.deployment.display(),
            deployment.l2_chain_id,
            deployment.genesis_state_root,
            spec.chain_id
        );
    }

    let store = datadir::open_store(&args.datadir)?;
    if store.reader()?.head_hash()?.is_some() {
        bail!(
            "{} already holds a chain; reconstruct into an empty directory",
            args.datadir.display()
        );
    }
    let chain = Blockchain::open(store.clone(), &genesis, spec.clone())?;
    let applier = DiffApplier::new(store.clone(), &genesis, spec)?;

    let client =
        L1Client::new(L1ClientConfig::new(args.eth_rpc_url.clone())).wrap_err("--eth.rpc-url")?;
    let blobs_url = match &args.blobs_url {
        Some(url) => url.clone(),
        None => args
            .eth_rpc_url
            .first()
            .cloned()
            .ok_or_else(|| eyre!("--eth.rpc-url is required"))?,
    };
    let fetcher = BlobFetcher::new(&blobs_url)?;
    let proposer = deployment.contracts.on_chain_proposer.proxy;
    let from_block = deployment.deploy_block.unwrap_or(0);
    let l1_head = client
        .block_number()
        .await
        .wrap_err("reading the L1 head")?;
    let history = committed_batches(&client, proposer, from_block, l1_head)
        .await
        .wrap_err("reading the commit history of the OnChainProposer")?;
    info!(
        batches = history.len(),
        proposer = %proposer,
        l1_blocks = format!("{from_block}..={l1_head}"),
        "commit history read"
    );

    let total = history.len();
    let mut bytes_total = 0usize;
    let mut last_block = 0u64;
    let mut privileged_included = 0u64;
    for (i, committed) in history.iter().enumerate() {
        let bytes = apply_batch(&applier, &fetcher, committed, last_block).await?;
        bytes_total += bytes;
        privileged_included += committed.privileged_count();
        let (head, _) = chain.head()?;
        let batch = Batch {
            number: committed.number,
            first_block: last_block + 1,
            last_block: head,
            state_root: committed.new_state_root,
            last_block_hash: committed.last_block_hash,
            privileged_rolling_hash: committed.privileged_rolling_hash,
            withdrawals_root: committed.withdrawals_root,
            non_privileged_tx_count: committed.non_privileged_tx_count,
        };
        store.write_batch(&batch, &[], None, &[])?;
        store.mark_batch_committed(
            committed.number,
            &BatchCommit {
                tx_hash: committed.tx_hash,
                l1_block: committed.l1_block,
            },
        )?;
        last_block = head;
        let elapsed = started.elapsed().as_secs_f64().max(1e-3);
        info!(
            "batch {} of {total}: L2 blocks ..={head}, {bytes} blob payload bytes ({:.1} KiB/s, {:.1} batches/s)",
            committed.number,
            bytes_total as f64 / 1024.0 / elapsed,
            (i + 1) as f64 / elapsed,
        );
    }

    // The bridge's deposits: store them all, and mark those in the committed batches included,
    // so the resumed node includes exactly the rest.
    let mut watcher_config = L1WatcherConfig::new(
        deployment.contracts.common_bridge.proxy,
        chain.spec().chain_id,
        from_block,
    );
    // Up to the head: every deposit a committed batch includes must be stored to be marked.
    watcher_config.read_bound = keel_l1::L1ReadBound::Latest;
    let mut watcher = L1Watcher::new(
        watcher_config,
        client.clone(),
        store.clone(),
        Arc::new(MemorySink::new()),
    );
    loop {
        let outcome = watcher
            .poll()
            .await
            .wrap_err("reading the bridge's deposits")?;
        if let Some(refused) = outcome.refused {
            bail!("the bridge's deposit log is inconsistent: {refused:?}");
        }
        if outcome.caught_up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if privileged_included > 0 {
        store
            .set_privileged_included_up_to(privileged_included - 1)
            .wrap_err("marking the deposits of the committed batches as included")?;
    }
    store.sync()?;
    let (head, head_hash) = chain.head()?;
    println!(
        "reconstructed {total} batch(es) from L1 in {:.1} s: head block {head} ({head_hash}), \
         state root {}, {privileged_included} deposit(s) included, {bytes_total} blob bytes",
        started.elapsed().as_secs_f64(),
        history.last().map_or(genesis_root, |c| c.new_state_root)
    );
    Ok(())
}

/// Fetches, checks, decodes and applies one batch; returns its payload size.
async fn apply_batch(
    applier: &DiffApplier,
    fetcher: &BlobFetcher,
    committed: &CommittedBatch,
    previous_last_block: u64,
) -> eyre::Result<usize> {
    let n = committed.number;
    let versioned_hash = committed.blob_versioned_hash.ok_or_else(|| {
        eyre!(
            "batch {n} was committed without a blob (validium): its state is not on L1, so it \
             can't be reconstructed from L1"
        )
    })?;
    let blob = fetcher
        .fetch_blob(committed.l1_block, committed.l1_timestamp, versioned_hash)
        .await
        .wrap_err_with(|| format!("batch {n}: fetching its blob"))?;
    let payload = unpack_blob(&blob).wrap_err_with(|| format!("batch {n}: unpacking its blob"))?;
    let diff = decode_state_diff_payload(&payload)
        .wrap_err_with(|| format!("batch {n}: decoding its state diff"))?;
    if diff.last_header.block_number <= previous_last_block {
        bail!(
            "batch {n}: its last block {} does not follow the previous batch's {previous_last_block}",
            diff.last_header.block_number
        );
    }
    applier
        .apply(&BatchCheckpoint {
            batch_number: n,
            diff: &diff,
            committed_block_hash: committed.last_block_hash,
            expected_state_root: committed.new_state_root,
        })
        .map_err(|e| eyre!("batch {n}: {e}"))?;
    Ok(payload.len())
}
