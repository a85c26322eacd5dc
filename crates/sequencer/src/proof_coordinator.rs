//! The ProofCoordinator: hands committed batches to provers over TCP and checks and stores the
//! proofs they send back (docs/prover.md, Protocol and coordinator; the protocol is
//! `keel_prover::protocol`).
//!
//! - **One task, one connection task per prover.** Each connection is served by its own task
//!   with deadlines: its hello (the first `BatchRequest`) within `handshake_timeout` of being
//!   accepted, each later frame whole within `frame_timeout` of its first byte (slow-loris), and
//!   a frame started within `idle_timeout` (plus `prover_timeout` while it holds a batch). A
//!   connection that misses one, or sends garbage or an oversized or truncated frame, is closed
//!   (logged with its address) and frees its batch; nothing else notices.
//! - **A connection cap.** At most `max_connections` at once; at the cap a new connection takes
//!   the place of the oldest one that has not said hello yet, so idle connections can't lock
//!   provers out.
//! - **Work assignment.** A `BatchRequest` gets the lowest committed, not yet verified batch
//!   whose stored proofs plus in-flight assignments are fewer than the verifier's threshold, and
//!   that the connection's signer (learned from its earlier submissions) has not proved. A batch
//!   handed out and not answered within `prover_timeout` counts as unassigned again, so the next
//!   request gets it; a connection that closes frees its assignments at once.
//! - **Inputs** are built with [`build_prover_input`] on a blocking thread, one at a time; the
//!   encoded answers of the last few batches are cached (inputs are large and several provers
//!   ask for the same batch).
//! - **Every proof is checked before it is stored**: the batch is committed and not verified;
//!   the public inputs are byte for byte the ones this node computes for the batch; the proof
//!   is a 65-byte signature over the batch's EIP-712 attestation digest whose signer is a
//!   registered AttestationVerifier signer ([`ProverSigners`]); and that signer has no proof of
//!   the batch yet. The prover gets `SubmitAck` or `Rejected{reason}`.

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use alloy::{eips::BlockId, primitives::U256};
use alloy_primitives::{Address, B256, Bytes, Signature, keccak256};
use keel_chain::Blockchain;
use keel_l1::{
    L1Client, L1ClientError, contracts::AttestationVerifier, contracts::OnChainProposer,
};
use keel_prover::{
    BackendKind,
    protocol::{
        CoordinatorMessage, DEFAULT_MAX_FRAME_BYTES, PROTOCOL_VERSION, ProtocolError,
        ProverMessage, encode_message, read_frame, write_frame, write_raw_frame,
    },
};
use keel_storage::{ChainReader, StoreError, proofs::StoredProof};
use keel_types::PublicInputs;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::{ProverInputContext, build_prover_input};

/// How many encoded batch answers are kept.
const INPUT_CACHE_LEN: usize = 2;

/// How the coordinator runs.
#[derive(Debug, Clone)]
pub struct ProofCoordinatorConfig {
    /// Where to listen (port 0 picks a free one; see [`ProofCoordinator::local_addr`]).
    pub listen: SocketAddr,
    /// A batch handed out and not answered within this goes to the next prover that asks.
    pub prover_timeout: Duration,
    /// A new connection that has not sent a complete, valid `BatchRequest` (its hello, which
    /// carries the protocol version) this long after it was accepted is closed.
    pub handshake_timeout: Duration,
    /// Once a frame has started (its first byte arrived), the whole frame must arrive within
    /// this, however slowly it trickles in; else the connection is closed (slow-loris).
    pub frame_timeout: Duration,
    /// A connection past its hello with no batch out that starts no frame for this long is
    /// closed; one with a batch out gets `prover_timeout` more.
    pub idle_timeout: Duration,
    /// Largest frame read or written.
    pub max_frame_bytes: u32,
    /// Most prover connections at once. At the cap, a new connection takes the place of the
    /// oldest one that has not said hello yet (a valid `BatchRequest`), which is closed; if all
    /// have, the new one is closed on arrival.
    pub max_connections: usize,
    /// The chain config and the L1 side of the inputs (and of the attestation digest).
    pub context: ProverInputContext,
    /// The L2 chain id (a public input).
    pub l2_chain_id: u64,
}

impl ProofCoordinatorConfig {
    /// Defaults for everything but the address and the chain.
    pub fn new(listen: SocketAddr, context: ProverInputContext, l2_chain_id: u64) -> Self {
        Self {
            listen,
            prover_timeout: Duration::from_secs(600),
            handshake_timeout: Duration::from_secs(10),
            frame_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            max_connections: 64,
            context,
            l2_chain_id,
        }
    }
}

/// Why the coordinator could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error("can't listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Why the registered signers or the threshold could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SignerSourceError {
    #[error(transparent)]
    L1(#[from] L1ClientError),
    #[error("the OnChainProposer {0} has no AttestationVerifier among its verifiers")]
    NoAttestationVerifier(Address),
}

/// Where the coordinator learns which prover keys count and how many proofs a batch needs.
#[derive(Debug)]
pub enum ProverSigners {
    /// A fixed set (tests, or a node told its signers).
    Fixed {
        signers: HashSet<Address>,
        threshold: u64,
    },
    /// The AttestationVerifier on L1 (`isSigner`, `threshold`), cached for a while.
    L1(L1Signers),
}

impl ProverSigners {
    /// A fixed set of signers and threshold.
    pub fn fixed(signers: impl IntoIterator<Item = Address>, threshold: u64) -> Self {
        Self::Fixed {
            signers: signers.into_iter().collect(),
            threshold,
        }
    }

    /// Read from L1: the AttestationVerifier `verifier`, or if `None` the one among the
    /// OnChainProposer's `getVerifiers()` that answers `threshold()`. Answers are cached for
    /// `refresh`; when L1 can't be read the last answer is used (with a warning).
    pub fn l1(
        client: L1Client,
        on_chain_proposer: Address,
        verifier: Option<Address>,
        refresh: Duration,
    ) -> Self {
        Self::L1(L1Signers {
            client,
            on_chain_proposer,
            verifier: tokio::sync::Mutex::new(verifier),
            refresh,
            cache: Mutex::new(SignerCache::default()),
        })
    }

    /// Whether `signer` is a registered prover key.
    pub async fn is_signer(&self, signer: Address) -> Result<bool, SignerSourceError> {
        match self {
            Self::Fixed { signers, .. } => Ok(signers.contains(&signer)),
            Self::L1(l1) => l1.is_signer(signer).await,
        }
    }

    /// How many distinct signers a batch needs.
    pub async fn threshold(&self) -> Result<u64, SignerSourceError> {
        match self {
            Self::Fixed { threshold, .. } => Ok(*threshold),
            Self::L1(l1) => l1.threshold().await,
        }
    }
}

/// The L1-backed [`ProverSigners`].
#[derive(Debug)]
pub struct L1Signers {
    client: L1Client,
    on_chain_proposer: Address,
    verifier: tokio::sync::Mutex<Option<Address>>,
    refresh: Duration,
    cache: Mutex<SignerCache>,
}

#[derive(Debug, Default)]
struct SignerCache {
    signers: HashMap<Address, (bool, Instant)>,
    threshold: Option<(u64, Instant)>,
}

/// At most this many signer answers are cached (anyone can make keys).
const SIGNER_CACHE_LEN: usize = 1024;

impl L1Signers {
    async fn verifier(&self) -> Result<Address, SignerSourceError> {
        let mut verifier = self.verifier.lock().await;
        if let Some(address) = *verifier {
            return Ok(address);
        }
        let verifiers = self
            .client
            .call_sol(
                self.on_chain_proposer,
                &OnChainProposer::getVerifiersCall {},
                BlockId::latest(),
            )
            .await?;
        for candidate in verifiers {
            if self
                .client
                .call_sol(
                    candidate,
                    &AttestationVerifier::thresholdCall {},
                    BlockId::latest(),
                )
                .await
                .is_ok()
            {
                info!(verifier = %candidate, "AttestationVerifier found on L1");
                *verifier = Some(candidate);
                return Ok(candidate);
            }
        }
        Err(SignerSourceError::NoAttestationVerifier(
            self.on_chain_proposer,
        ))
    }

    fn cached_signer(&self, signer: Address) -> Option<(bool, bool)> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .signers
            .get(&signer)
            .map(|(registered, at)| (*registered, at.elapsed() < self.refresh))
    }

    async fn is_signer(&self, signer: Address) -> Result<bool, SignerSourceError> {
        let cached = self.cached_signer(signer);
        if let Some((registered, true)) = cached {
            return Ok(registered);
        }
        let read = async {
            let verifier = self.verifier().await?;
            Ok::<_, SignerSourceError>(
                self.client
                    .call_sol(
                        verifier,
                        &AttestationVerifier::isSignerCall(signer),
                        BlockId::latest(),
                    )
                    .await?,
            )
        };
        match read.await {
            Ok(registered) => {
                let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                if cache.signers.len() >= SIGNER_CACHE_LEN {
                    cache.signers.clear();
                }
                cache.signers.insert(signer, (registered, Instant::now()));
                Ok(registered)
            }
            Err(e) => match cached {
                Some((registered, _)) => {
                    warn!(%signer, error = %e, "can't read isSigner from L1; using the last answer");
                    Ok(registered)
                }
                None => Err(e),
            },
        }
    }

    async fn threshold(&self) -> Result<u64, SignerSourceError> {
        let cached = {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.threshold
        };
        if let Some((threshold, at)) = cached
            && at.elapsed() < self.refresh
        {
            return Ok(threshold);
        }
        let read = async {
            let verifier = self.verifier().await?;
            let threshold: U256 = self
                .client
                .call_sol(
                    verifier,
                    &AttestationVerifier::thresholdCall {},
                    BlockId::latest(),
                )
                .await?;
            Ok::<_, SignerSourceError>(u64::try_from(threshold).unwrap_or(u64::MAX))
        };
        match read.await {
            Ok(threshold) => {
                let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                cache.threshold = Some((threshold, Instant::now()));
                Ok(threshold)
            }
            Err(e) => match cached {
                Some((threshold, _)) => {
                    warn!(error = %e, "can't read the verifier threshold from L1; using the last answer");
                    Ok(threshold)
                }
                None => Err(e),
            },
        }
    }
}

/// Hands out batches and checks proofs. See the module docs.
pub struct ProofCoordinator {
    listener: TcpListener,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ProofCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofCoordinator")
            .field("local_addr", &self.local_addr)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

struct Shared {
    config: ProofCoordinatorConfig,
    chain: Blockchain,
    signers: ProverSigners,
    /// batch → (connection, deadline) of each assignment.
    assignments: Mutex<HashMap<u64, Vec<(u64, Instant)>>>,
    /// One input is built at a time.
    build_lock: tokio::sync::Mutex<()>,
    /// The encoded `BatchResponse` frames of the last batches built.
    inputs: Mutex<VecDeque<(u64, Arc<Vec<u8>>)>>,
    next_connection: AtomicU64,
    /// The open connections by id (so oldest first), each holding its place under
    /// `max_connections` until it closes or is evicted.
    connections: Mutex<BTreeMap<u64, Connection>>,
}

/// An open connection in [`Shared::connections`].
struct Connection {
    peer: SocketAddr,
    /// It has sent a valid `BatchRequest`: it is never evicted.
    greeted: bool,
    /// Its place under the cap; taken when the connection is evicted.
    slot: Option<OwnedSemaphorePermit>,
    /// Cancelled to evict it.
    evict: CancellationToken,
}

/// A check a submitted proof failed: a fixed kind (the `reason` label of
/// `keel_prover_rejections_total`) and what the prover is told.
struct Rejection(&'static str, String);

impl ProofCoordinator {
    /// Listens on `config.listen`; call [`run`](Self::run) to serve.
    pub async fn bind(
        config: ProofCoordinatorConfig,
        chain: Blockchain,
        signers: ProverSigners,
    ) -> Result<Self, CoordinatorError> {
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| CoordinatorError::Bind {
                    addr: config.listen,
                    source,
                })?;
        Self::with_listener(listener, config, chain, signers)
    }

    /// Serves on `listener`, already bound (`config.listen` is then only informative).
    pub fn with_listener(
        listener: TcpListener,
        config: ProofCoordinatorConfig,
        chain: Blockchain,
        signers: ProverSigners,
    ) -> Result<Self, CoordinatorError> {
        let local_addr = listener
            .local_addr()
            .map_err(|source| CoordinatorError::Bind {
                addr: config.listen,
                source,
            })?;
        Ok(Self {
            listener,
            local_addr,
            shared: Arc::new(Shared {
                config,
                chain,
                signers,
                assignments: Mutex::new(HashMap::new()),
                build_lock: tokio::sync::Mutex::new(()),
                inputs: Mutex::new(VecDeque::new()),
                next_connection: AtomicU64::new(1),
                connections: Mutex::new(BTreeMap::new()),
            }),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves provers until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), CoordinatorError> {
        let config = &self.shared.config;
        info!(
            addr = %self.local_addr,
            prover_timeout_s = config.prover_timeout.as_secs(),
            handshake_timeout_s = config.handshake_timeout.as_secs_f64(),
            frame_timeout_s = config.frame_timeout.as_secs_f64(),
            idle_timeout_s = config.idle_timeout.as_secs_f64(),
            max_connections = config.max_connections,
            max_frame_bytes = config.max_frame_bytes,
            proposer = %config.context.on_chain_proposer,
            l1_chain_id = config.context.l1_chain_id,
            "proof coordinator listening"
        );
        let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let Some(slot) = self.shared.slot(&slots, peer) else {
                            warn!(%peer, max = config.max_connections,
                                "too many prover connections, all past their hello; closing this one");
                            count_closed("cap");
                            continue;
                        };
                        let shared = self.shared.clone();
                        let id = shared.next_connection.fetch_add(1, Ordering::Relaxed);
                        let evict = CancellationToken::new();
                        shared.connections.lock().unwrap_or_else(|e| e.into_inner()).insert(
                            id,
                            Connection {
                                peer,
                                greeted: false,
                                slot: Some(slot),
                                evict: evict.clone(),
                            },
                        );
                        connections.spawn(async move {
                            let connected = metrics::gauge!("keel_provers_connected");
                            connected.increment(1.0);
                            tokio::select! {
                                _ = evict.cancelled() => {
                                    debug!(%peer, connection = id, "evicted prover connection closed");
                                    count_closed("evicted");
                                }
                                _ = serve(shared.clone(), id, stream, peer) => {}
                            }
                            shared.release_connection(id);
                            shared.connections.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                            connected.decrement(1.0);
                        });
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little, never spin.
                        warn!(error = %e, "accepting a prover connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                Some(joined) = connections.join_next(), if !connections.is_empty() => {
                    if let Err(e) = joined
                        && e.is_panic()
                    {
                        error!(error = %e, "a prover connection's task panicked; the connection is closed");
                    }
                }
            }
        }
        connections.abort_all();
        info!("proof coordinator stopped");
        Ok(())
    }
}

/// `keel_prover_rejections_total{reason}`.
const REJECTIONS: &str = "keel_prover_rejections_total";

/// Counts a connection the coordinator closed, by `reason`, in
/// `keel_prover_connections_closed_total`.
fn count_closed(reason: &'static str) {
    metrics::counter!("keel_prover_connections_closed_total", "reason" => reason).increment(1);
}

/// Adds `n` assignments found past their deadline, unanswered, to `keel_prover_timeouts_total`.
fn count_timeouts(n: usize) {
    if n > 0 {
        metrics::counter!("keel_prover_timeouts_total").increment(n as u64);
    }
}

/// Serves one connection until it closes, fails or times out.
async fn serve(shared: Arc<Shared>, id: u64, mut stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    debug!(%peer, connection = id, "prover connected");
    let config = &shared.config;
    let mut handshake = false;
    let mut signers: HashSet<Address> = HashSet::new();
    let mut outstanding: Option<u64> = None;
    let hello_deadline = tokio::time::Instant::now() + config.handshake_timeout;
    loop {
        let wait = if !handshake {
            Wait::Hello(hello_deadline)
        } else if outstanding.is_some() {
            Wait::Between(config.prover_timeout + config.idle_timeout)
        } else {
            Wait::Between(config.idle_timeout)
        };
        let Some(message) = next_message(config, &mut stream, peer, id, wait).await else {
            return;
        };
        let reply = match message {
            ProverMessage::BatchRequest { version, backend } => {
                if version != PROTOCOL_VERSION {
                    warn!(%peer, connection = id, version, expected = PROTOCOL_VERSION,
                        "prover speaks another protocol version; closing the connection");
                    let _ = send(
                        &shared,
                        &mut stream,
                        &CoordinatorMessage::VersionMismatch {
                            expected: PROTOCOL_VERSION,
                        },
                    )
                    .await;
                    return;
                }
                if !handshake {
                    handshake = true;
                    shared.greeted(id);
                }
                match backend {
                    BackendKind::Exec => {}
                }
                match shared.assign(id, &signers).await {
                    Some(batch) => match shared.batch_response(batch).await {
                        Some(frame) => {
                            outstanding = Some(batch);
                            info!(%peer, connection = id, batch, bytes = frame.len(), "batch handed to a prover");
                            metrics::counter!("keel_prover_assignments_total").increment(1);
                            if write_with_timeout(&shared, &mut stream, &frame)
                                .await
                                .is_err()
                            {
                                return;
                            }
                            continue;
                        }
                        None => {
                            shared.release(id, batch);
                            CoordinatorMessage::NoWork
                        }
                    },
                    None => CoordinatorMessage::NoWork,
                }
            }
            ProverMessage::ProofSubmit {
                batch,
                backend,
                public_inputs,
                proof,
            } => {
                if !handshake {
                    metrics::counter!(REJECTIONS, "reason" => "no_handshake").increment(1);
                    CoordinatorMessage::Rejected {
                        reason: "the first message must be a BatchRequest (it carries the \
                                 protocol version)"
                            .into(),
                    }
                } else {
                    if outstanding == Some(batch) {
                        outstanding = None;
                    }
                    shared.release(id, batch);
                    match shared
                        .check_and_store(batch, backend, &public_inputs, &proof, &mut signers)
                        .await
                    {
                        Ok(signer) => {
                            info!(%peer, connection = id, batch, %signer, "proof checked and stored");
                            metrics::counter!("keel_proofs_accepted_total").increment(1);
                            CoordinatorMessage::SubmitAck
                        }
                        Err(Rejection(kind, reason)) => {
                            warn!(%peer, connection = id, batch, %reason, "proof rejected");
                            metrics::counter!(REJECTIONS, "reason" => kind).increment(1);
                            CoordinatorMessage::Rejected { reason }
                        }
                    }
                }
            }
        };
        if send(&shared, &mut stream, &reply).await.is_err() {
            return;
        }
    }
}

/// How long [`next_message`] waits for a frame to start.
enum Wait {
    /// Until this instant for the whole frame: the connection has not said hello yet.
    Hello(tokio::time::Instant),
    /// This long for its first byte; then the frame timeout for the rest.
    Between(Duration),
}

/// The next message on the connection, or `None` when it is to be closed: the peer left, or
/// it sent a bad frame, or it missed a deadline (logged and counted).
async fn next_message(
    config: &ProofCoordinatorConfig,
    stream: &mut TcpStream,
    peer: SocketAddr,
    id: u64,
    wait: Wait,
) -> Option<ProverMessage> {
    let max = config.max_frame_bytes;
    let read = match wait {
        Wait::Hello(deadline) => {
            match tokio::time::timeout_at(deadline, read_frame::<_, ProverMessage>(stream, max))
                .await
            {
                Ok(read) => read,
                Err(_) => {
                    info!(%peer, connection = id,
                        handshake_timeout_s = config.handshake_timeout.as_secs_f64(),
                        "prover connection sent no hello in time; closing it");
                    count_closed("handshake_timeout");
                    return None;
                }
            }
        }
        Wait::Between(idle) => {
            // Wait for the frame to start without reading it, so that its deadline starts
            // with its first byte.
            let mut first = [0u8; 1];
            match tokio::time::timeout(idle, stream.peek(&mut first)).await {
                Err(_) => {
                    info!(%peer, connection = id, timeout_s = idle.as_secs_f64(),
                        "prover connection silent; closing it");
                    count_closed("idle_timeout");
                    return None;
                }
                Ok(Ok(0)) => {
                    debug!(%peer, connection = id, "prover disconnected");
                    return None;
                }
                Ok(Err(e)) => {
                    debug!(%peer, connection = id, error = %e, "prover connection failed");
                    return None;
                }
                Ok(Ok(_)) => {}
            }
            match tokio::time::timeout(
                config.frame_timeout,
                read_frame::<_, ProverMessage>(stream, max),
            )
            .await
            {
                Ok(read) => read,
                Err(_) => {
                    warn!(%peer, connection = id,
                        frame_timeout_s = config.frame_timeout.as_secs_f64(),
                        "prover did not finish a frame in time (stalled or trickling); closing the connection");
                    count_closed("frame_timeout");
                    return None;
                }
            }
        }
    };
    match read {
        Ok(message) => Some(message),
        Err(ProtocolError::Closed) => {
            debug!(%peer, connection = id, "prover disconnected");
            None
        }
        Err(e @ ProtocolError::Io(_)) => {
            debug!(%peer, connection = id, error = %e, "prover connection failed");
            None
        }
        Err(e) => {
            warn!(%peer, connection = id, error = %e, "bad frame from a prover; closing the connection");
            count_closed("bad_frame");
            None
        }
    }
}

async fn send(
    shared: &Shared,
    stream: &mut TcpStream,
    message: &CoordinatorMessage,
) -> Result<(), ()> {
    match tokio::time::timeout(
        shared.config.idle_timeout,
        write_frame(stream, message, shared.config.max_frame_bytes),
    )
    .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            debug!(error = %e, "writing to a prover failed");
            Err(())
        }
        Err(_) => {
            debug!("writing to a prover timed out");
            Err(())
        }
    }
}

async fn write_with_timeout(
    shared: &Shared,
    stream: &mut TcpStream,
    body: &[u8],
) -> Result<(), ()> {
    // A large input over a slow link: allow the prover timeout for it.
    match tokio::time::timeout(
        shared.config.prover_timeout,
        write_raw_frame(stream, body, shared.config.max_frame_bytes),
    )
    .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            debug!(error = %e, "sending a batch to a prover failed");
            Err(())
        }
        Err(_) => {
            debug!("sending a batch to a prover timed out");
            Err(())
        }
    }
}

impl Shared {
    /// A place under the connection cap for a new connection from `peer`: a free one, else
    /// the place of the oldest connection that has not said hello, which is evicted (its task
    /// closes it); `None` if every connection has said hello.
    fn slot(&self, slots: &Arc<Semaphore>, peer: SocketAddr) -> Option<OwnedSemaphorePermit> {
        if let Ok(slot) = slots.clone().try_acquire_owned() {
            return Some(slot);
        }
        let mut connections = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        let (id, victim) = connections
            .iter_mut()
            .find(|(_, c)| !c.greeted && c.slot.is_some())?;
        let slot = victim.slot.take()?;
        victim.evict.cancel();
        warn!(%peer, evicted = %victim.peer, connection = *id, max = self.config.max_connections,
            "too many prover connections; the oldest that has not said hello makes room");
        Some(slot)
    }

    /// Connection `id` sent a valid `BatchRequest`: it is no longer evicted to make room.
    fn greeted(&self, id: u64) {
        let mut connections = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(connection) = connections.get_mut(&id) {
            connection.greeted = true;
        }
    }

    /// The batch to hand connection `id` (whose signers are `signers`), recorded as assigned.
    async fn assign(&self, id: u64, signers: &HashSet<Address>) -> Option<u64> {
        let threshold = match self.signers.threshold().await {
            Ok(threshold) => threshold,
            Err(e) => {
                warn!(error = %e, "can't read the verifier threshold; no batch handed out");
                return None;
            }
        };
        match self.pick(id, signers, threshold) {
            Ok(batch) => batch,
            Err(e) => {
                error!(error = %e, "store error while picking a batch to prove");
                None
            }
        }
    }

    fn pick(
        &self,
        id: u64,
        signers: &HashSet<Address>,
        threshold: u64,
    ) -> Result<Option<u64>, StoreError> {
        let store = self.chain.store();
        let first = store.last_verified_batch()? + 1;
        let last = store.last_committed_batch()?;
        let now = Instant::now();
        for batch in first..=last {
            let proofs = store.batch_proofs(batch)?;
            if proofs.len() as u64 >= threshold
                || proofs.iter().any(|(signer, _)| signers.contains(signer))
            {
                continue;
            }
            let mut assignments = self.assignments.lock().unwrap_or_else(|e| e.into_inner());
            let live = assignments.entry(batch).or_default();
            let before = live.len();
            live.retain(|(_, deadline)| *deadline > now);
            count_timeouts(before - live.len());
            if live.iter().any(|(conn, _)| *conn == id) {
                // Handed to this connection and not answered: it is not handed to it twice.
                continue;
            }
            if (proofs.len() + live.len()) as u64 >= threshold {
                continue;
            }
            live.push((id, now + self.config.prover_timeout));
            return Ok(Some(batch));
        }
        Ok(None)
    }

    fn release(&self, id: u64, batch: u64) {
        let mut assignments = self.assignments.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(live) = assignments.get_mut(&batch) {
            live.retain(|(conn, _)| *conn != id);
            if live.is_empty() {
                assignments.remove(&batch);
            }
        }
    }

    /// Frees the assignments of a connection that closed; those past their deadline count as
    /// timeouts.
    fn release_connection(&self, id: u64) {
        let now = Instant::now();
        let mut expired = 0;
        let mut assignments = self.assignments.lock().unwrap_or_else(|e| e.into_inner());
        assignments.retain(|_, live| {
            live.retain(|(conn, deadline)| {
                let mine = *conn == id;
                if mine && *deadline <= now {
                    expired += 1;
                }
                !mine
            });
            !live.is_empty()
        });
        drop(assignments);
        count_timeouts(expired);
    }

    /// The encoded `BatchResponse` frame of `batch` (cached, else built), or `None` if it
    /// can't be built or is over the frame limit (logged).
    async fn batch_response(&self, batch: u64) -> Option<Arc<Vec<u8>>> {
        if let Some(frame) = self.cached_input(batch) {
            return Some(frame);
        }
        let _building = self.build_lock.lock().await;
        if let Some(frame) = self.cached_input(batch) {
            return Some(frame);
        }
        let chain = self.chain.clone();
        let context = self.config.context.clone();
        let started = Instant::now();
        let built = tokio::task::spawn_blocking(move || {
            build_prover_input(&chain, &context, batch).map(|input| {
                let witness_bytes = input.witness.byte_len();
                let blocks = input.blocks.len();
                (
                    encode_message(&CoordinatorMessage::BatchResponse { batch, input }),
                    witness_bytes,
                    blocks,
                )
            })
        })
        .await;
        let frame = match built {
            Ok(Ok((Ok(frame), witness_bytes, blocks))) => {
                info!(
                    batch,
                    blocks,
                    witness_bytes,
                    input_bytes = frame.len(),
                    build_ms = started.elapsed().as_millis() as u64,
                    "prover input built"
                );
                frame
            }
            Ok(Ok((Err(e), _, _))) => {
                error!(batch, error = %e, "can't encode the prover input");
                return None;
            }
            Ok(Err(e)) => {
                error!(batch, error = %e, "can't build the prover input");
                return None;
            }
            Err(e) => {
                error!(batch, error = %e, "building the prover input panicked");
                return None;
            }
        };
        if frame.len() as u64 > u64::from(self.config.max_frame_bytes) {
            error!(
                batch,
                bytes = frame.len(),
                max_frame_bytes = self.config.max_frame_bytes,
                "the batch's prover input is over --proof-coordinator.max-frame-bytes: no \
                 prover can get it; raise the limit (on the provers too)"
            );
            return None;
        }
        let frame = Arc::new(frame);
        let mut inputs = self.inputs.lock().unwrap_or_else(|e| e.into_inner());
        inputs.push_back((batch, frame.clone()));
        while inputs.len() > INPUT_CACHE_LEN {
            inputs.pop_front();
        }
        Some(frame)
    }

    fn cached_input(&self, batch: u64) -> Option<Arc<Vec<u8>>> {
        let inputs = self.inputs.lock().unwrap_or_else(|e| e.into_inner());
        inputs
            .iter()
            .find(|(b, _)| *b == batch)
            .map(|(_, frame)| frame.clone())
    }

    /// The public inputs this node computes for committed batch `batch`.
    fn expected_public_inputs(&self, batch: u64) -> Result<Option<PublicInputs>, StoreError> {
        let store = self.chain.store();
        let Some(record) = store.batch(batch)? else {
            return Ok(None);
        };
        let reader = store.reader()?;
        let previous = if batch <= 1 {
            // Batch 0 is the genesis block.
            let Some(hash) = reader.canonical_hash(0)? else {
                return Ok(None);
            };
            let Some(genesis) = reader.header(&hash)? else {
                return Ok(None);
            };
            (genesis.state_root, hash)
        } else {
            let Some(previous) = store.batch(batch - 1)? else {
                return Ok(None);
            };
            (previous.state_root, previous.last_block_hash)
        };
        let blob_hash = store
            .batch_blob(batch)?
            .map_or(B256::ZERO, |b| b.versioned_hash);
        let Some(last) = reader.header(&record.last_block_hash)? else {
            return Ok(None);
        };
        Ok(Some(record.public_inputs(
            previous,
            blob_hash,
            self.config.l2_chain_id,
            last.timestamp,
        )))
    }

    /// Checks a submitted proof and stores it; the signer, or why it was refused. A valid
    /// registered signer is added to `signers` (the connection's) even when its proof is a
    /// duplicate.
    async fn check_and_store(
        &self,
        batch: u64,
        backend: BackendKind,
        public_inputs: &Bytes,
        proof: &Bytes,
        signers: &mut HashSet<Address>,
    ) -> Result<Address, Rejection> {
        let internal = |e: StoreError| {
            error!(batch, error = %e, "store error while checking a proof");
            Rejection(
                "internal",
                format!("the coordinator could not read its store: {e}"),
            )
        };
        let store = self.chain.store();
        let last_committed = store.last_committed_batch().map_err(internal)?;
        if batch == 0 || batch > last_committed {
            return Err(
                if batch > 0 && store.batch(batch).map_err(internal)?.is_some() {
                    Rejection(
                        "not_committed",
                        format!("batch {batch} is not committed on L1 yet"),
                    )
                } else {
                    Rejection("unknown_batch", format!("unknown batch {batch}"))
                },
            );
        }
        if batch <= store.last_verified_batch().map_err(internal)? {
            return Err(Rejection(
                "already_verified",
                format!("batch {batch} is already verified on L1"),
            ));
        }
        let expected = self
            .expected_public_inputs(batch)
            .map_err(internal)?
            .ok_or_else(|| Rejection("unknown_batch", format!("unknown batch {batch}")))?;
        let expected_bytes = expected.encode();
        if public_inputs.as_ref() != expected_bytes.as_slice() {
            return Err(Rejection(
                "wrong_public_inputs",
                format!(
                    "the public inputs are not batch {batch}'s: got {} bytes with keccak {}, this \
                 node computes {} bytes with keccak {}",
                    public_inputs.len(),
                    keccak256(public_inputs),
                    expected_bytes.len(),
                    keccak256(expected_bytes)
                ),
            ));
        }
        let signer = match backend {
            BackendKind::Exec => {
                if proof.len() != 65 {
                    return Err(Rejection(
                        "malformed_proof",
                        format!(
                            "an exec proof is a 65-byte signature; got {} bytes",
                            proof.len()
                        ),
                    ));
                }
                let signature = Signature::try_from(proof.as_ref()).map_err(|e| {
                    Rejection(
                        "malformed_proof",
                        format!("the proof is not a signature: {e}"),
                    )
                })?;
                let digest = expected.attestation_digest(
                    self.config.context.l1_chain_id,
                    self.config.context.on_chain_proposer,
                );
                signature
                    .recover_address_from_prehash(&digest)
                    .map_err(|e| {
                        Rejection(
                            "bad_signature",
                            format!("the signature does not recover: {e}"),
                        )
                    })?
            }
        };
        match self.signers.is_signer(signer).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(Rejection(
                    "unregistered_signer",
                    format!("signer {signer} is not a registered AttestationVerifier signer"),
                ));
            }
            Err(e) => {
                return Err(Rejection(
                    "signer_check_failed",
                    format!("can't check signer {signer} on L1 now ({e}); submit again later"),
                ));
            }
        }
        signers.insert(signer);
        let stored = store
            .store_proof(
                batch,
                signer,
                &StoredProof {
                    backend: backend.name().to_string(),
                    public_inputs: public_inputs.clone(),
                    proof: proof.clone(),
                },
            )
            .map_err(internal)?;
        if !stored {
            return Err(Rejection(
                "duplicate",
                format!("duplicate: signer {signer} already has a proof of batch {batch}"),
            ));
        }
        Ok(signer)
    }
}
