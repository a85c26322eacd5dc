//! What the ProofCoordinator tests share: a node with sealed (and committed) batches, the
//! coordinator's config and context, prover keys, a prover connection driven by hand, and the
//! lying backend.

#![allow(dead_code)]

use std::time::Duration;

use alloy_primitives::{Address, B256, U256};
use alloy_signer_local::PrivateKeySigner;
use keel_prover::{
    BackendError, BackendKind, ExecBackend, Proof, ProverBackend, ProverInput,
    protocol::{
        CoordinatorMessage, DEFAULT_MAX_FRAME_BYTES, PROTOCOL_VERSION, ProverMessage, read_frame,
        write_frame,
    },
    prove_batch,
};
use keel_sequencer::{
    BatchSealer, BatchSealerConfig, BlockProducerConfig, ProofCoordinatorConfig, ProverInputContext,
};
use keel_storage::{Store, batches::BatchCommit};
use keel_types::{PublicInputs, dev};
use tokio::{io::AsyncReadExt, net::TcpStream};

use super::{COINBASE, Node, node_on, signed};

pub const PROPOSER: Address = Address::repeat_byte(0x9a);
pub const L1_CHAIN_ID: u64 = 31337;

pub fn context() -> ProverInputContext {
    ProverInputContext {
        chain_config: serde_json::to_string(&dev::dev_genesis().config).expect("config"),
        l1_chain_id: L1_CHAIN_ID,
        on_chain_proposer: PROPOSER,
    }
}

/// The coordinator's defaults on `listen` for the dev chain.
pub fn coordinator_config(listen: std::net::SocketAddr) -> ProofCoordinatorConfig {
    ProofCoordinatorConfig::new(listen, context(), dev::DEFAULT_L2_CHAIN_ID)
}

pub fn key(byte: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(byte)).expect("key")
}

/// A node with `batches` sealed batches of one transfer block each, the first `committed` of
/// them marked committed.
pub fn node_with_batches(batches: u64, committed: u64) -> Node {
    let node = node_on(
        Store::in_memory().expect("store"),
        None,
        BlockProducerConfig {
            coinbase: COINBASE,
            ..Default::default()
        },
    );
    let sealer = BatchSealer::new(BatchSealerConfig::default(), node.chain.clone());
    for i in 0..batches {
        node.mempool
            .add_raw(&signed(
                0,
                i,
                Address::repeat_byte(0x11),
                U256::from(1_000_000_000u64),
                vec![],
                21_000,
                1,
            ))
            .expect("tx");
        node.producer
            .produce_block()
            .expect("produce")
            .expect("a block");
        let sealed = sealer.seal_now().expect("seal");
        assert_eq!(sealed.last().expect("a batch").number, i + 1);
    }
    for n in 1..=committed {
        node.chain
            .store()
            .mark_batch_committed(
                n,
                &BatchCommit {
                    tx_hash: B256::repeat_byte(n as u8),
                    l1_block: 100 + n,
                },
            )
            .expect("commit");
    }
    node
}

/// A prover connection driven by hand.
pub struct Conn(pub TcpStream);

impl Conn {
    pub async fn open(addr: std::net::SocketAddr) -> Self {
        Self(TcpStream::connect(addr).await.expect("connect"))
    }

    pub async fn ask(&mut self, message: &ProverMessage) -> CoordinatorMessage {
        write_frame(&mut self.0, message, DEFAULT_MAX_FRAME_BYTES)
            .await
            .expect("write");
        tokio::time::timeout(
            Duration::from_secs(60),
            read_frame(&mut self.0, DEFAULT_MAX_FRAME_BYTES),
        )
        .await
        .expect("an answer in time")
        .expect("a message")
    }

    pub fn hello() -> ProverMessage {
        ProverMessage::BatchRequest {
            version: PROTOCOL_VERSION,
            backend: BackendKind::Exec,
        }
    }

    pub async fn request(&mut self) -> CoordinatorMessage {
        self.ask(&Self::hello()).await
    }

    /// Requests a batch; panics unless one is handed out.
    pub async fn take_batch(&mut self) -> (u64, ProverInput) {
        match self.request().await {
            CoordinatorMessage::BatchResponse { batch, input } => {
                assert_eq!(input.batch_number, batch);
                (batch, input)
            }
            other => panic!("expected a batch, got {other:?}"),
        }
    }

    pub fn submission(batch: u64, proof: &Proof) -> ProverMessage {
        ProverMessage::ProofSubmit {
            batch,
            backend: BackendKind::Exec,
            public_inputs: proof.public_inputs.encode().to_vec().into(),
            proof: proof.proof.clone(),
        }
    }

    pub async fn submit(&mut self, batch: u64, proof: &Proof) -> CoordinatorMessage {
        self.ask(&Self::submission(batch, proof)).await
    }

    /// Whether the coordinator closed the connection (EOF within a few seconds).
    pub async fn closed_by_peer(&mut self) -> bool {
        let mut buf = [0u8; 64];
        loop {
            match tokio::time::timeout(Duration::from_secs(5), self.0.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}

pub fn rejected(reply: &CoordinatorMessage, containing: &str) -> bool {
    matches!(reply, CoordinatorMessage::Rejected { reason } if reason.contains(containing))
}

/// Signs public inputs other than the batch's (a different final state root) with a registered
/// key: the prover that lies about the batch.
pub struct LyingBackend(pub ExecBackend);

impl ProverBackend for LyingBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Exec
    }
    fn prove(&self, input: &ProverInput) -> Result<Proof, BackendError> {
        let mut public_inputs = prove_batch(input)?;
        public_inputs.final_state_root = B256::repeat_byte(0x66);
        let proof = self
            .0
            .attest(&public_inputs, input.l1_chain_id, input.on_chain_proposer)?;
        Ok(Proof {
            public_inputs,
            proof,
        })
    }
}

pub fn stored_signers(node: &Node, batch: u64) -> Vec<Address> {
    node.chain
        .store()
        .batch_proofs(batch)
        .expect("read")
        .into_iter()
        .map(|(signer, _)| signer)
        .collect()
}

pub fn expected_public_inputs(input: &ProverInput) -> PublicInputs {
    prove_batch(input).expect("the batch proves")
}
