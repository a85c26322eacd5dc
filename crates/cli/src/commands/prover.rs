//! Proving from the command line: `keel l2 prover` (the prover process) and the node's
//! ProofCoordinator settings (`--proof-coordinator.*` of `keel l2`) and its start.

use std::{net::IpAddr, sync::Arc, time::Duration};

use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::B256;
use clap::Args;
use eyre::WrapErr;
use keel_chain::Blockchain;
use keel_l1::{L1Client, L1ClientConfig};
use keel_prover::{
    BackendKind, ExecBackend, ProverBackend, ProverClient, ProverClientConfig,
    protocol::DEFAULT_MAX_FRAME_BYTES,
};
use keel_sequencer::{
    ProofCoordinator, ProofCoordinatorConfig, ProverInputContext, ProverSigners, Supervisor,
};
use keel_types::Genesis;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::l1_config::L1Settings;

/// `keel l2 prover`.
#[derive(Debug, Args)]
pub struct ProverArgs {
    /// The proof coordinators to ask for work, comma-separated: each node's
    /// `--proof-coordinator.addr:--proof-coordinator.port` (e.g. `10.0.0.5:3900`). The prover
    /// talks to one at a time and moves to the next when it can't reach it.
    #[arg(
        long = "proof-coordinators",
        env = "KEEL_PROOF_COORDINATORS",
        value_delimiter = ',',
        required = true,
        value_name = "HOST:PORT[,HOST:PORT]",
        value_parser = parse_coordinator
    )]
    pub coordinators: Vec<String>,
    /// How proofs are made. `exec`: re-execute the batch statelessly and sign its public inputs
    /// with --prover.private-key (checked on L1 by the AttestationVerifier).
    #[arg(
        long,
        env = "KEEL_PROVER_BACKEND",
        default_value = "exec",
        value_name = "BACKEND"
    )]
    pub backend: BackendKind,
    /// The prover's key (hex). Its address must be a registered signer of the L1
    /// AttestationVerifier, or the coordinator rejects its proofs.
    #[arg(
        long = "prover.private-key",
        env = "KEEL_PROVER_PRIVATE_KEY",
        value_name = "KEY",
        hide_env_values = true,
        required = true
    )]
    pub private_key: B256,
    /// How long to wait before asking again when the coordinator has no batch to prove.
    #[arg(
        long = "prover.poll-interval",
        env = "KEEL_PROVER_POLL_INTERVAL",
        default_value_t = 5_000,
        value_name = "MS"
    )]
    pub poll_interval_ms: u64,
    /// Longest wait between attempts to reach a coordinator that is down (the wait starts at
    /// half a second and doubles).
    #[arg(
        long = "prover.max-backoff",
        env = "KEEL_PROVER_MAX_BACKOFF",
        default_value_t = 30_000,
        value_name = "MS"
    )]
    pub max_backoff_ms: u64,
    /// Largest frame accepted from a coordinator (a batch's input: its blocks and witness).
    #[arg(
        long = "prover.max-frame-bytes",
        env = "KEEL_PROVER_MAX_FRAME_BYTES",
        default_value_t = DEFAULT_MAX_FRAME_BYTES,
        value_name = "BYTES"
    )]
    pub max_frame_bytes: u32,
}

/// `HOST:PORT` (an optional `tcp://` in front is dropped).
fn parse_coordinator(s: &str) -> Result<String, String> {
    let s = s.trim();
    let s = s.strip_prefix("tcp://").unwrap_or(s);
    let bad =
        || format!("expected HOST:PORT of a proof coordinator (e.g. 10.0.0.5:3900), got {s:?}");
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || host.contains('/') || port.parse::<u16>().is_err() {
        return Err(bad());
    }
    Ok(s.to_string())
}

/// Runs `keel l2 prover` until Ctrl-C or SIGTERM.
pub fn run(args: ProverArgs) -> eyre::Result<()> {
    let signer =
        PrivateKeySigner::from_bytes(&args.private_key).wrap_err("--prover.private-key")?;
    let backend: Arc<dyn ProverBackend> = match args.backend {
        BackendKind::Exec => Arc::new(ExecBackend::new(signer.clone())),
    };
    let mut config = ProverClientConfig::new(args.coordinators, backend);
    config.poll_interval = Duration::from_millis(args.poll_interval_ms.max(1));
    config.backoff_max = Duration::from_millis(args.max_backoff_ms.max(1)).max(config.backoff_min);
    config.max_frame_bytes = args.max_frame_bytes;
    // Crash tests: `KEEL_FAULT_POINT=prover.after-receiving-batch` kills the process in the middle
    // of its first batch.
    config.on_batch = Some(|_| keel_l1::fault::point("prover.after-receiving-batch"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("keel-prover")
        .build()
        .wrap_err("starting the async runtime")?;
    runtime.block_on(async move {
        info!(signer = %signer.address(), backend = %args.backend, "keel prover");
        let token = CancellationToken::new();
        let mut client = tokio::spawn(ProverClient::new(config).run(token.clone()));
        tokio::select! {
            _ = super::l2::wait_for_signal() => {
                info!("shutting down");
                token.cancel();
                match tokio::time::timeout(Duration::from_secs(10), &mut client).await {
                    Ok(joined) => {
                        joined.wrap_err("the prover task")??;
                    }
                    Err(_) => warn!("the prover did not stop within 10 s (a proof in progress); exiting"),
                }
                Ok(())
            }
            joined = &mut client => {
                joined.wrap_err("the prover task")??;
                eyre::bail!("the prover stopped on its own")
            }
        }
    })
}

/// `keel l2 --dev`'s own prover: the `exec` backend keyed as the dev deployment's verifier signer
/// (dev account 0), in this process, asking the node's coordinator at `coordinator` for work, so a
/// withdrawal becomes claimable without starting a prover. Runs under `supervisor` as
/// `dev_prover`. Returns the signer's address.
pub fn start_dev_prover(
    supervisor: &mut Supervisor,
    coordinator: std::net::SocketAddr,
    token: CancellationToken,
) -> eyre::Result<alloy::primitives::Address> {
    let signer = PrivateKeySigner::from_bytes(&keel_types::dev::DEV_ACCOUNTS[0].1)
        .wrap_err("the dev prover key")?;
    let address = signer.address();
    let mut config = ProverClientConfig::new(
        vec![coordinator.to_string()],
        Arc::new(ExecBackend::new(signer)),
    );
    config.poll_interval = Duration::from_millis(250);
    supervisor.spawn("dev_prover", async move {
        ProverClient::new(config)
            .run(token)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    Ok(address)
}

/// The node's ProofCoordinator settings.
#[derive(Debug, Args)]
#[command(
    next_help_heading = "Proof coordinator (provers connect here; runs when the node commits to L1)"
)]
pub struct ProofCoordinatorArgs {
    /// Address to listen on for `keel l2 prover` processes. Use 0.0.0.0 (behind a firewall)
    /// for provers on other machines.
    #[arg(
        long = "proof-coordinator.addr",
        env = "KEEL_PROOF_COORDINATOR_ADDR",
        value_name = "IP",
        default_value = "127.0.0.1"
    )]
    pub coordinator_addr: IpAddr,
    /// TCP port for provers. Default 3900, or a free port with --dev (printed at start).
    #[arg(
        long = "proof-coordinator.port",
        env = "KEEL_PROOF_COORDINATOR_PORT",
        value_name = "PORT"
    )]
    pub coordinator_port: Option<u16>,
    /// A batch handed to a prover and not answered within this many seconds goes to the next
    /// prover that asks.
    #[arg(
        long = "proof-coordinator.prover-timeout",
        env = "KEEL_PROOF_COORDINATOR_PROVER_TIMEOUT",
        default_value_t = 600,
        value_name = "SECONDS"
    )]
    pub coordinator_prover_timeout_s: u64,
    /// Largest frame read from or written to a prover (a batch's input carries its blocks and
    /// witness; a bigger frame from a prover closes its connection).
    #[arg(
        long = "proof-coordinator.max-frame-bytes",
        env = "KEEL_PROOF_COORDINATOR_MAX_FRAME_BYTES",
        default_value_t = DEFAULT_MAX_FRAME_BYTES,
        value_name = "BYTES"
    )]
    pub coordinator_max_frame_bytes: u32,
    /// Most prover connections at once. At the cap a new connection takes the place of the
    /// oldest one that has not sent its hello yet; if all have, it is closed on arrival.
    #[arg(
        long = "proof-coordinator.max-connections",
        env = "KEEL_PROOF_COORDINATOR_MAX_CONNECTIONS",
        default_value_t = 64,
        value_name = "N"
    )]
    pub coordinator_max_connections: usize,
    /// A new connection that has not sent its hello (a valid BatchRequest) this many seconds
    /// after connecting is closed.
    #[arg(
        long = "proof-coordinator.handshake-timeout",
        env = "KEEL_PROOF_COORDINATOR_HANDSHAKE_TIMEOUT",
        default_value_t = 10,
        value_name = "SECONDS"
    )]
    pub coordinator_handshake_timeout_s: u64,
    /// A frame from a prover must arrive whole within this many seconds of its first byte,
    /// else the connection is closed (slow or stalled senders).
    #[arg(
        long = "proof-coordinator.frame-timeout",
        env = "KEEL_PROOF_COORDINATOR_FRAME_TIMEOUT",
        default_value_t = 30,
        value_name = "SECONDS"
    )]
    pub coordinator_frame_timeout_s: u64,
    /// A prover connection that starts no frame for this many seconds is closed (one holding a
    /// batch gets the prover timeout on top).
    #[arg(
        long = "proof-coordinator.idle-timeout",
        env = "KEEL_PROOF_COORDINATOR_IDLE_TIMEOUT",
        default_value_t = 120,
        value_name = "SECONDS"
    )]
    pub coordinator_idle_timeout_s: u64,
}

/// Binds the ProofCoordinator and runs it under `supervisor` as `proof_coordinator`; returns
/// the address it listens on. It reads the L1 chain id and the AttestationVerifier (through the
/// OnChainProposer's verifiers) from `l1`.
pub async fn start_coordinator(
    supervisor: &mut Supervisor,
    args: &ProofCoordinatorArgs,
    dev: bool,
    chain: &Blockchain,
    genesis: &Genesis,
    l1: &L1Settings,
    token: CancellationToken,
) -> eyre::Result<std::net::SocketAddr> {
    let port = args.coordinator_port.unwrap_or(if dev { 0 } else { 3900 });
    let listener = TcpListener::bind((args.coordinator_addr, port))
        .await
        .wrap_err_with(|| {
            format!(
                "the proof coordinator can't listen on {}:{port} (--proof-coordinator.addr/port)",
                args.coordinator_addr
            )
        })?;
    let local_addr = listener
        .local_addr()
        .wrap_err("proof coordinator address")?;
    let client =
        L1Client::new(L1ClientConfig::new(l1.eth_rpc_url.clone())).wrap_err("--eth.rpc-url")?;
    let mut config = ProofCoordinatorConfig::new(
        local_addr,
        ProverInputContext {
            chain_config: serde_json::to_string(&genesis.config)
                .wrap_err("encoding the chain config")?,
            l1_chain_id: 0,
            on_chain_proposer: l1.on_chain_proposer,
        },
        chain.spec().chain_id,
    );
    config.prover_timeout = Duration::from_secs(args.coordinator_prover_timeout_s.max(1));
    config.max_frame_bytes = args.coordinator_max_frame_bytes;
    config.max_connections = args.coordinator_max_connections.max(1);
    config.handshake_timeout = Duration::from_secs(args.coordinator_handshake_timeout_s.max(1));
    config.frame_timeout = Duration::from_secs(args.coordinator_frame_timeout_s.max(1));
    config.idle_timeout = Duration::from_secs(args.coordinator_idle_timeout_s.max(1));
    let chain = chain.clone();
    let on_chain_proposer = l1.on_chain_proposer;
    supervisor.spawn("proof_coordinator", async move {
        // The L1 chain id is part of every attestation digest.
        let l1_chain_id = tokio::select! {
            _ = token.cancelled() => return Ok(()),
            id = client.chain_id() => id.map_err(|e| format!("reading the L1 chain id: {e}"))?,
        };
        config.context.l1_chain_id = l1_chain_id;
        let signers = ProverSigners::l1(client, on_chain_proposer, None, Duration::from_secs(60));
        let coordinator = ProofCoordinator::with_listener(listener, config, chain, signers)
            .map_err(|e| e.to_string())?;
        coordinator.run(token).await.map_err(|e| e.to_string())
    });
    Ok(local_addr)
}
