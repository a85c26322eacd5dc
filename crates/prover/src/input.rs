//! [`ProverInput`]: one batch, as a prover receives it.

use alloy_primitives::{Address, B256, Bytes};
use keel_types::{Block, ExecutionWitness, Header};
use serde::{Deserialize, Serialize};

/// Why bytes are not a [`ProverInput`], or a part of one does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("prover input does not decode: {0}")]
    Encoding(String),
    #[error("{what} does not decode: {reason}")]
    Rlp { what: &'static str, reason: String },
    #[error("the chain config does not parse: {0}")]
    ChainConfig(String),
}

/// Everything the stateless program needs to prove one batch (docs/prover.md, ProverInput).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProverInput {
    /// The batch number (from 1).
    pub batch_number: u64,
    /// The L2 chain's `config` object of its genesis, as JSON (fork schedule, chain id).
    pub chain_config: String,
    /// Where the attestation will be checked: the L1 chain id and the OnChainProposer (the
    /// EIP-712 domain of the digest signed).
    pub l1_chain_id: u64,
    pub on_chain_proposer: Address,
    /// The batch's blocks, RLP-encoded, in order.
    pub blocks: Vec<Bytes>,
    /// The execution witness of the blocks; `headers[0]` is the parent of the first block.
    pub witness: ExecutionWitness,
    /// The blob committed with the batch (`None` in validium mode).
    pub blob: Option<Bytes>,
    /// The versioned hash the commit stored on L1 (zero in validium mode).
    pub blob_versioned_hash: B256,
}

impl ProverInput {
    /// The compact binary encoding (postcard).
    pub fn encode(&self) -> Vec<u8> {
        // Serializing plain data into a Vec cannot fail.
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// Decode [`encode`](Self::encode)'s output; trailing bytes are an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, InputError> {
        let (input, rest) = postcard::take_from_bytes::<Self>(bytes)
            .map_err(|e| InputError::Encoding(e.to_string()))?;
        if !rest.is_empty() {
            return Err(InputError::Encoding(format!(
                "{} trailing bytes",
                rest.len()
            )));
        }
        Ok(input)
    }

    /// The blocks, decoded.
    pub fn decode_blocks(&self) -> Result<Vec<Block>, InputError> {
        self.blocks
            .iter()
            .map(|rlp| {
                alloy_rlp::decode_exact::<Block>(rlp).map_err(|e| InputError::Rlp {
                    what: "block",
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    /// The witness headers, decoded (the parent first).
    pub fn decode_headers(&self) -> Result<Vec<Header>, InputError> {
        self.witness
            .headers
            .iter()
            .map(|rlp| {
                alloy_rlp::decode_exact::<Header>(rlp).map_err(|e| InputError::Rlp {
                    what: "witness header",
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    /// The chain spec of the config.
    pub fn chain_spec(&self) -> Result<keel_types::ChainSpec, InputError> {
        let config: alloy_genesis::ChainConfig = serde_json::from_str(&self.chain_config)
            .map_err(|e| InputError::ChainConfig(e.to_string()))?;
        let genesis = alloy_genesis::Genesis {
            config,
            ..Default::default()
        };
        keel_types::ChainSpec::from_genesis(&genesis)
            .map_err(|e| InputError::ChainConfig(e.to_string()))
    }

    /// Number of transactions over all blocks (for logs), if the blocks decode.
    pub fn block_range(&self) -> Option<(u64, u64)> {
        let blocks = self.decode_blocks().ok()?;
        Some((blocks.first()?.header.number, blocks.last()?.header.number))
    }
}
