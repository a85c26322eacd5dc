//! Generate a chain: a genesis funding N accounts (ETH and BenchToken balances), then blocks of
//! signed transfers, built and stored by [`Blockchain::build_block`] so every header commitment
//! is what keel computes. The result can be written as a genesis file plus an RLP block file.

use std::collections::BTreeMap;

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, sol};
use keel_chain::{BlockAttributes, Blockchain, ChainError, ListTxSource};
use keel_storage::Store;
use keel_types::{Block, ChainSpec, Transaction};
use rayon::prelude::*;
use serde_json::json;

sol! {
    function transfer(address to, uint256 value) external returns (bool);
}

/// Where the generated genesis puts BenchToken.
pub const TOKEN_ADDRESS: Address = address!("0x00000000000000000000000000000000000b0b00");
/// Deployed bytecode of contracts/bench/BenchToken.sol (see contracts/artifacts/BenchToken.json).
const TOKEN_ARTIFACT: &str = include_str!("../../../contracts/artifacts/BenchToken.json");
/// Chain id of generated chains (keel's default L2 chain id).
pub const CHAIN_ID: u64 = 1_729_001;
const GENESIS_TIMESTAMP: u64 = 1_700_000_000;

/// What the transactions of a generated chain do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Plain ETH transfers (21,000 gas each).
    EthTransfer,
    /// BenchToken `transfer` calls (two storage writes and a log each).
    Erc20Transfer,
}

/// Shape of the chain to generate.
#[derive(Debug, Clone)]
pub struct ChainGenConfig {
    pub accounts: usize,
    pub blocks: usize,
    pub txs_per_block: usize,
    pub workload: Workload,
    pub gas_limit: u64,
    /// Seeds the recipient choice, so the same config gives the same chain.
    pub seed: u64,
}

impl Default for ChainGenConfig {
    fn default() -> Self {
        Self {
            accounts: 100,
            blocks: 10,
            txs_per_block: 20,
            workload: Workload::EthTransfer,
            gas_limit: 60_000_000,
            seed: 1,
        }
    }
}

/// A generated chain: its genesis file and its blocks (without the genesis block).
#[derive(Debug)]
pub struct GeneratedChain {
    pub genesis_json: String,
    pub blocks: Vec<Block>,
    pub total_gas: u64,
    pub total_txs: usize,
}

impl GeneratedChain {
    /// The blocks as one concatenated-RLP byte string (the `keel import` file format).
    pub fn rlp(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for block in &self.blocks {
            keel_chain::rlp_file::encode_block(block, &mut out);
        }
        out
    }
}

/// Deterministic keys of the generated accounts.
pub fn account_keys(n: usize) -> Vec<PrivateKeySigner> {
    (0..n)
        .into_par_iter()
        .map(|i| {
            let mut secret = keccak256(format!("keel-bench-account-{i}"));
            // A keccak output is a valid secp256k1 key with overwhelming probability; rehash if not.
            loop {
                if let Ok(signer) = PrivateKeySigner::from_bytes(&secret) {
                    return signer;
                }
                secret = keccak256(secret);
            }
        })
        .collect()
}

/// Storage slot of `balanceOf[holder]` in BenchToken (mapping at slot 0).
pub fn token_balance_slot(holder: Address) -> B256 {
    let mut buf = [0u8; 64];
    buf[12..32].copy_from_slice(holder.as_slice());
    keccak256(buf)
}

/// The genesis document: Prague from genesis, every account holding 1,000,000 ETH and 10^24 token
/// units.
pub fn genesis_json(accounts: &[Address], gas_limit: u64) -> Result<String, serde_json::Error> {
    let artifact: serde_json::Value = serde_json::from_str(TOKEN_ARTIFACT)?;
    let token_code = artifact["deployedBytecode"].clone();
    let balance = format!("{:#x}", U256::from(10).pow(U256::from(24)));
    let mut alloc = BTreeMap::new();
    let mut token_storage = BTreeMap::new();
    for a in accounts {
        alloc.insert(a.to_string(), json!({ "balance": balance }));
        token_storage.insert(
            token_balance_slot(*a).to_string(),
            json!(B256::from(U256::from(10).pow(U256::from(24)))),
        );
    }
    alloc.insert(
        TOKEN_ADDRESS.to_string(),
        json!({ "balance": "0x0", "code": token_code, "storage": token_storage }),
    );
    let genesis = json!({
        "config": {
            "chainId": CHAIN_ID,
            "terminalTotalDifficulty": 0,
            "shanghaiTime": 0,
            "cancunTime": 0,
            "pragueTime": 0,
            "blobSchedule": {
                "cancun": { "target": 3, "max": 6, "baseFeeUpdateFraction": 3338477 },
                "prague": { "target": 6, "max": 9, "baseFeeUpdateFraction": 5007716 }
            }
        },
        "nonce": "0x0",
        "timestamp": format!("{GENESIS_TIMESTAMP:#x}"),
        "extraData": "0x",
        "gasLimit": format!("{gas_limit:#x}"),
        "difficulty": "0x0",
        "mixHash": B256::ZERO,
        "coinbase": Address::ZERO,
        "baseFeePerGas": "0x3b9aca00",
        "alloc": alloc,
    });
    serde_json::to_string_pretty(&genesis)
}

/// Generate a chain, building every block with keel's payload builder on an in-memory store.
pub fn generate(config: &ChainGenConfig) -> eyre::Result<GeneratedChain> {
    let signers = account_keys(config.accounts);
    let addresses: Vec<Address> = signers.iter().map(|s| s.address()).collect();
    let genesis_json = genesis_json(&addresses, config.gas_limit)?;
    let (genesis, spec) = ChainSpec::from_genesis_json(&genesis_json)?;
    let chain = Blockchain::open(Store::in_memory()?, &genesis, spec)?;

    let mut nonces = vec![0u64; config.accounts];
    let mut rng = config.seed.max(1);
    let mut blocks = Vec::with_capacity(config.blocks);
    let (mut total_gas, mut total_txs) = (0u64, 0usize);
    for b in 0..config.blocks {
        // Round-robin senders, pseudo-random recipients.
        let plan: Vec<(usize, u64, Address)> = (0..config.txs_per_block)
            .map(|j| {
                let sender = (b * config.txs_per_block + j) % config.accounts;
                let nonce = nonces[sender];
                nonces[sender] += 1;
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let to = addresses[(rng % config.accounts as u64) as usize];
                (sender, nonce, to)
            })
            .collect();
        let txs: Vec<Transaction> = plan
            .par_iter()
            .map(|&(sender, nonce, to)| sign(&signers[sender], nonce, to, config.workload))
            .collect::<Result<_, _>>()?;
        let senders: Vec<Address> = plan.iter().map(|&(s, _, _)| addresses[s]).collect();
        let attributes = BlockAttributes {
            timestamp: GENESIS_TIMESTAMP + b as u64 + 1,
            coinbase: address!("0x000000000000000000000000000000000000c0de"),
            gas_limit: config.gas_limit,
            prev_randao: keccak256((b as u64).to_be_bytes()),
            extra_data: Bytes::new(),
            max_state_diff_bytes: None,
        };
        let mut source = ListTxSource::new(txs, senders);
        let block = chain
            .build_block(&attributes, &mut source)
            .map_err(|e: ChainError| eyre::eyre!(e))?
            .block;
        if let Some((hash, reason)) = source.skipped.first() {
            eyre::bail!("generated transaction {hash} was left out of block {b}: {reason:?}");
        }
        total_gas += block.header.gas_used;
        total_txs += block.body.transactions.len();
        blocks.push(block);
    }
    Ok(GeneratedChain {
        genesis_json,
        blocks,
        total_gas,
        total_txs,
    })
}

fn sign(
    signer: &PrivateKeySigner,
    nonce: u64,
    to: Address,
    workload: Workload,
) -> eyre::Result<Transaction> {
    let (kind, gas_limit, value, input) = match workload {
        Workload::EthTransfer => (
            TxKind::Call(to),
            21_000,
            U256::from(1_000_000_000u64),
            Bytes::new(),
        ),
        Workload::Erc20Transfer => (
            TxKind::Call(TOKEN_ADDRESS),
            80_000,
            U256::ZERO,
            Bytes::from(
                transferCall {
                    to,
                    value: U256::from(1_000u64),
                }
                .abi_encode(),
            ),
        ),
    };
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: kind,
        value,
        access_list: Default::default(),
        input,
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash())?;
    Ok(Transaction::from(tx.into_signed(signature)))
}
