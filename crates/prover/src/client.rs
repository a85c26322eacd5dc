//! The prover client: the loop of `keel l2 prover`. It connects to a proof coordinator (taking
//! the configured ones in turn), asks for a batch, proves it with its backend on a blocking
//! thread, submits the proof, and asks again; after `NoWork` it waits the poll interval. When a
//! coordinator can't be reached or the connection drops it tries the next one after a backoff
//! that doubles up to a maximum. A batch that does not prove is logged as an error and never
//! submitted.
//!
//! Like [`crate::protocol`], this does I/O (tokio) and is separate from the pure program.

use std::{sync::Arc, time::Duration};

use alloy_rlp::Decodable;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::{
    BackendError, Proof, ProverBackend, ProverInput,
    protocol::{
        CoordinatorMessage, DEFAULT_MAX_FRAME_BYTES, PROTOCOL_VERSION, ProtocolError,
        ProverMessage, read_frame, read_frame_sized, write_frame,
    },
};

/// How a [`ProverClient`] runs.
#[derive(Clone)]
pub struct ProverClientConfig {
    /// The coordinators, as `host:port`, tried in turn.
    pub coordinators: Vec<String>,
    /// What makes the proofs.
    pub backend: Arc<dyn ProverBackend>,
    /// How long to wait after `NoWork` before asking again.
    pub poll_interval: Duration,
    /// First wait after a failed connection; it doubles on each failure in a row.
    pub backoff_min: Duration,
    /// Longest wait between connection attempts.
    pub backoff_max: Duration,
    /// Largest frame accepted from the coordinator.
    pub max_frame_bytes: u32,
    /// How long to wait for a connection to open.
    pub connect_timeout: Duration,
    /// How long to wait for the coordinator's answer to a message (it builds the batch's input
    /// before answering a request, which takes about the batch's execution time).
    pub response_timeout: Duration,
    /// Called with the batch number when a batch arrives, before proving it: a test hook (crash
    /// tests kill the process there, in the middle of a batch).
    pub on_batch: Option<fn(u64)>,
}

impl std::fmt::Debug for ProverClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProverClientConfig")
            .field("coordinators", &self.coordinators)
            .field("backend", &self.backend.kind())
            .field("poll_interval", &self.poll_interval)
            .field("backoff_min", &self.backoff_min)
            .field("backoff_max", &self.backoff_max)
            .field("max_frame_bytes", &self.max_frame_bytes)
            .finish_non_exhaustive()
    }
}

impl ProverClientConfig {
    /// Defaults for everything but the coordinators and the backend.
    pub fn new(coordinators: Vec<String>, backend: Arc<dyn ProverBackend>) -> Self {
        Self {
            coordinators,
            backend,
            poll_interval: Duration::from_secs(5),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(600),
            on_batch: None,
        }
    }
}

/// Why a session with a coordinator ended (the client then reconnects).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("can't connect: {0}")]
    Connect(std::io::Error),
    #[error("timed out connecting")]
    ConnectTimeout,
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the coordinator speaks protocol version {expected}, this prover {PROTOCOL_VERSION}")]
    VersionMismatch { expected: u32 },
    #[error("unexpected answer from the coordinator: {0}")]
    Unexpected(&'static str),
    #[error("the proving task failed: {0}")]
    Task(String),
}

/// Why the client could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no proof coordinator given")]
    NoCoordinator,
}

/// Counters of a client's run (for tests and the final log line).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ClientStats {
    pub proved: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub failed: u64,
    pub connection_failures: u64,
}

/// Asks coordinators for batches and proves them. See the module docs.
#[derive(Debug)]
pub struct ProverClient {
    config: ProverClientConfig,
    stats: ClientStats,
    /// The last proofs made (at most [`RECENT_PROOFS`]): if one of their batches comes back (the
    /// connection dropped before the answer, or a restarted coordinator no longer knows what this
    /// prover proved), its proof is submitted again instead of the batch being proved again.
    recent: std::collections::VecDeque<(u64, Proof)>,
}

/// How many recent proofs a prover keeps for resubmission (each is a few hundred bytes).
const RECENT_PROOFS: usize = 64;

enum Outcome {
    Stopped,
}

impl ProverClient {
    pub fn new(config: ProverClientConfig) -> Self {
        Self {
            config,
            stats: ClientStats::default(),
            recent: std::collections::VecDeque::new(),
        }
    }

    /// Runs until `shutdown` is cancelled; returns what it did.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<ClientStats, ClientError> {
        if self.config.coordinators.is_empty() {
            return Err(ClientError::NoCoordinator);
        }
        info!(
            coordinators = ?self.config.coordinators,
            backend = %self.config.backend.kind(),
            "prover started"
        );
        let mut next = 0usize;
        let mut backoff = self.config.backoff_min;
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            let coordinator =
                self.config.coordinators[next % self.config.coordinators.len()].clone();
            next = next.wrapping_add(1);
            let mut worked = false;
            let ended = self.session(&coordinator, &shutdown, &mut worked).await;
            match ended {
                Ok(Outcome::Stopped) => break,
                Err(e) => {
                    if worked {
                        backoff = self.config.backoff_min;
                    }
                    self.stats.connection_failures += 1;
                    match &e {
                        SessionError::VersionMismatch { .. } => error!(
                            %coordinator, error = %e, retry_in_ms = backoff.as_millis() as u64,
                            "the proof coordinator runs another protocol version; upgrade this \
                             prover or the node"
                        ),
                        SessionError::Connect(_) | SessionError::ConnectTimeout => warn!(
                            %coordinator, error = %e, retry_in_ms = backoff.as_millis() as u64,
                            "can't reach the proof coordinator; retrying"
                        ),
                        _ => warn!(
                            %coordinator, error = %e, retry_in_ms = backoff.as_millis() as u64,
                            "lost the connection to the proof coordinator; reconnecting"
                        ),
                    }
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(self.config.backoff_max);
                }
            }
        }
        info!(
            proved = self.stats.proved,
            accepted = self.stats.accepted,
            rejected = self.stats.rejected,
            failed = self.stats.failed,
            "prover stopped"
        );
        Ok(self.stats)
    }

    /// One connection: request, prove, submit, until it fails or `shutdown`.
    async fn session(
        &mut self,
        coordinator: &str,
        shutdown: &CancellationToken,
        worked: &mut bool,
    ) -> Result<Outcome, SessionError> {
        let connect =
            tokio::time::timeout(self.config.connect_timeout, TcpStream::connect(coordinator));
        let mut stream = tokio::select! {
            _ = shutdown.cancelled() => return Ok(Outcome::Stopped),
            connected = connect => connected
                .map_err(|_| SessionError::ConnectTimeout)?
                .map_err(SessionError::Connect)?,
        };
        let _ = stream.set_nodelay(true);
        info!(%coordinator, "connected to the proof coordinator");
        let backend = self.config.backend.clone();
        let max = self.config.max_frame_bytes;
        loop {
            let request = ProverMessage::BatchRequest {
                version: PROTOCOL_VERSION,
                backend: backend.kind(),
            };
            write_frame(&mut stream, &request, max).await?;
            let answer = tokio::select! {
                _ = shutdown.cancelled() => return Ok(Outcome::Stopped),
                answer = tokio::time::timeout(
                    self.config.response_timeout,
                    read_frame_sized::<_, CoordinatorMessage>(&mut stream, max),
                ) => answer.map_err(|_| SessionError::Timeout(self.config.response_timeout))??,
            };
            *worked = true;
            let (message, frame_len) = answer;
            let (batch, input) = match message {
                CoordinatorMessage::NoWork => {
                    debug!(%coordinator, "no batch to prove");
                    tokio::select! {
                        _ = shutdown.cancelled() => return Ok(Outcome::Stopped),
                        _ = tokio::time::sleep(self.config.poll_interval) => {}
                    }
                    continue;
                }
                CoordinatorMessage::VersionMismatch { expected } => {
                    return Err(SessionError::VersionMismatch { expected });
                }
                CoordinatorMessage::BatchResponse { batch, input } => (batch, input),
                CoordinatorMessage::SubmitAck => {
                    return Err(SessionError::Unexpected("SubmitAck to a BatchRequest"));
                }
                CoordinatorMessage::Rejected { reason } => {
                    warn!(%coordinator, %reason, "the coordinator refused the batch request");
                    tokio::select! {
                        _ = shutdown.cancelled() => return Ok(Outcome::Stopped),
                        _ = tokio::time::sleep(self.config.poll_interval) => {}
                    }
                    continue;
                }
            };
            let summary = InputSummary::of(&input, frame_len);
            info!(
                batch,
                blocks = %summary.blocks,
                txs = summary.txs,
                gas_used = summary.gas_used,
                witness_bytes = summary.witness_bytes,
                input_bytes = summary.input_bytes,
                "proving batch"
            );
            if let Some(hook) = self.config.on_batch {
                hook(batch);
            }
            let proof = match self.recent.iter().find(|(b, _)| *b == batch) {
                Some((_, proof)) => {
                    info!(
                        batch,
                        "already proved this batch; submitting the proof again"
                    );
                    proof.clone()
                }
                None => {
                    let started = std::time::Instant::now();
                    let prover = backend.clone();
                    let task = tokio::task::spawn_blocking(move || prover.prove(&input));
                    let proved = tokio::select! {
                        _ = shutdown.cancelled() => return Ok(Outcome::Stopped),
                        proved = task => proved.map_err(|e| SessionError::Task(e.to_string()))?,
                    };
                    let elapsed = started.elapsed();
                    match proved {
                        Ok(proof) => {
                            self.stats.proved += 1;
                            let secs = elapsed.as_secs_f64().max(1e-9);
                            info!(
                                batch,
                                blocks = %summary.blocks,
                                gas_used = summary.gas_used,
                                witness_bytes = summary.witness_bytes,
                                input_bytes = summary.input_bytes,
                                proving_ms = elapsed.as_millis() as u64,
                                mgas_per_s = format!("{:.2}", summary.gas_used as f64 / secs / 1e6),
                                "batch proved"
                            );
                            if self.recent.len() == RECENT_PROOFS {
                                self.recent.pop_front();
                            }
                            self.recent.push_back((batch, proof.clone()));
                            proof
                        }
                        Err(BackendError::Program(e)) => {
                            self.stats.failed += 1;
                            error!(
                                batch,
                                blocks = %summary.blocks,
                                error = %e,
                                proving_ms = elapsed.as_millis() as u64,
                                "BATCH DOES NOT PROVE: the program rejected the coordinator's \
                                 input; nothing is submitted"
                            );
                            tokio::select! {
                                _ = shutdown.cancelled() => return Ok(Outcome::Stopped),
                                _ = tokio::time::sleep(self.config.poll_interval) => {}
                            }
                            continue;
                        }
                        Err(e) => {
                            self.stats.failed += 1;
                            error!(batch, error = %e, "the backend made no proof; nothing is submitted");
                            tokio::select! {
                                _ = shutdown.cancelled() => return Ok(Outcome::Stopped),
                                _ = tokio::time::sleep(self.config.poll_interval) => {}
                            }
                            continue;
                        }
                    }
                }
            };
            let submit = ProverMessage::ProofSubmit {
                batch,
                backend: backend.kind(),
                public_inputs: proof.public_inputs.encode().to_vec().into(),
                proof: proof.proof.clone(),
            };
            write_frame(&mut stream, &submit, max).await?;
            let answer = tokio::select! {
                _ = shutdown.cancelled() => return Ok(Outcome::Stopped),
                answer = tokio::time::timeout(
                    self.config.response_timeout,
                    read_frame::<_, CoordinatorMessage>(&mut stream, max),
                ) => answer.map_err(|_| SessionError::Timeout(self.config.response_timeout))??,
            };
            match answer {
                CoordinatorMessage::SubmitAck => {
                    self.stats.accepted += 1;
                    info!(batch, %coordinator, "proof accepted by the coordinator");
                }
                CoordinatorMessage::Rejected { reason } => {
                    self.stats.rejected += 1;
                    warn!(batch, %coordinator, %reason, "proof rejected by the coordinator");
                }
                _ => {
                    return Err(SessionError::Unexpected(
                        "a reply other than SubmitAck/Rejected to a ProofSubmit",
                    ));
                }
            }
        }
    }
}

/// What the logs say about an input.
struct InputSummary {
    blocks: String,
    txs: usize,
    gas_used: u64,
    witness_bytes: usize,
    input_bytes: usize,
}

impl InputSummary {
    fn of(input: &ProverInput, input_bytes: usize) -> Self {
        let mut first = None;
        let mut last = None;
        let mut gas_used = 0u64;
        let mut txs = 0usize;
        for rlp in &input.blocks {
            if let Ok(block) = keel_types::Block::decode(&mut rlp.as_ref()) {
                first.get_or_insert(block.header.number);
                last = Some(block.header.number);
                gas_used = gas_used.saturating_add(block.header.gas_used);
                txs += block.body.transactions.len();
            }
        }
        let blocks = match (first, last) {
            (Some(f), Some(l)) => format!("{f}..={l}"),
            _ => format!("{} (undecodable)", input.blocks.len()),
        };
        Self {
            blocks,
            txs,
            gas_used,
            witness_bytes: input.witness.byte_len(),
            input_bytes,
        }
    }
}
