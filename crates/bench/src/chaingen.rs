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
use keel_types::{
    Block, ChainSpec, FeeConfig, FeeParams, Transaction,
    fees::{FEE_CONFIG_KEY, GAS_PRICE_ORACLE_ADDRESS},
};
use rayon::prelude::*;
use serde_json::json;

sol! {
    function transfer(address to, uint256 value) external returns (bool);
}

/// Where the generated genesis puts BenchToken.
pub const TOKEN_ADDRESS: Address = address!("0x00000000000000000000000000000000000b0b00");
/// Deployed bytecode of contracts/bench/BenchToken.sol (see contracts/artifacts/BenchToken.json).
const TOKEN_ARTIFACT: &str = include_str!("../../../contracts/artifacts/BenchToken.json");
/// Where the L1 fees of a generated chain with the fee rule go ([`ChainGenConfig::fees`]): an
/// address nothing else uses.
pub const L1_FEE_VAULT: Address = address!("0x00000000000000000000000000000000001f1ee1");
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
    /// Seeds the recipient and amount choice, so the same config gives the same chain.
    pub seed: u64,
    /// The L1 fee rule (docs/fees.md), off by default: with `Some(params)` the genesis has
    /// `keelFees` with [`L1_FEE_VAULT`] (no operator fee vault) and the GasPriceOracle holding
    /// `params`; every block then charges at `params.prices` (the generator passes no L1 prices).
    pub fees: Option<FeeParams>,
}

/// Who receives the transfers of a generated chain (see [`ChainGenerator::with_transfers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipients {
    /// A pseudo-random funded account (senders and recipients are the same set: trading).
    Accounts,
    /// A distinct address per transfer that holds nothing at genesis (each receives once).
    Fresh,
}

/// How much each transfer of a generated chain moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amounts {
    /// 1 gwei per ETH transfer, 1,000 units per token transfer.
    Fixed,
    /// Uniformly random in `min ..= max` (wei or token units), from the seeded generator.
    Uniform { min: u128, max: u128 },
}

/// 1 gwei in wei.
pub const GWEI: u128 = 1_000_000_000;
/// 1 ETH in wei.
pub const ETHER: u128 = 1_000_000_000_000_000_000;

impl Default for ChainGenConfig {
    fn default() -> Self {
        Self {
            accounts: 100,
            blocks: 10,
            txs_per_block: 20,
            workload: Workload::EthTransfer,
            gas_limit: 60_000_000,
            seed: 1,
            fees: None,
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
/// units; with `fees`, the L1 fee rule (see [`ChainGenConfig::fees`]).
pub fn genesis_json(
    accounts: &[Address],
    gas_limit: u64,
    fees: Option<&FeeParams>,
) -> Result<String, serde_json::Error> {
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
    let mut genesis = json!({
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
    if let Some(params) = fees {
        let config = FeeConfig {
            l1_fee_vault: Some(L1_FEE_VAULT),
            operator_fee_vault: None,
        };
        genesis["config"][FEE_CONFIG_KEY] = serde_json::to_value(config)?;
        let storage: BTreeMap<String, serde_json::Value> = params
            .storage()
            .into_iter()
            .map(|(slot, value)| (slot.to_string(), json!(value)))
            .collect();
        // Nonce 1 as every predeploy: an empty account would be swept by EIP-161 once touched.
        genesis["alloc"][GAS_PRICE_ORACLE_ADDRESS.to_string()] =
            json!({ "balance": "0x0", "nonce": "0x1", "storage": storage });
    }
    serde_json::to_string_pretty(&genesis)
}

/// Generate a chain, building every block with keel's payload builder on an in-memory store.
pub fn generate(config: &ChainGenConfig) -> eyre::Result<GeneratedChain> {
    let mut generator = ChainGenerator::new(config)?;
    let mut blocks = Vec::with_capacity(config.blocks);
    let (mut total_gas, mut total_txs) = (0u64, 0usize);
    for _ in 0..config.blocks {
        let block = generator.next_block(config.txs_per_block)?;
        total_gas += block.header.gas_used;
        total_txs += block.body.transactions.len();
        blocks.push(block);
    }
    Ok(GeneratedChain {
        genesis_json: generator.genesis_json,
        blocks,
        total_gas,
        total_txs,
    })
}

/// Builds a generated chain block by block on an in-memory store, each block with as many
/// transfers as asked, so a caller can look at the store between blocks (e.g. to follow a
/// batch's state diff). Senders go round-robin over the funded accounts; by default recipients
/// are random funded accounts and amounts fixed ([`generate`]'s chains).
pub struct ChainGenerator {
    config: ChainGenConfig,
    recipients: Recipients,
    amounts: Amounts,
    signers: Vec<PrivateKeySigner>,
    addresses: Vec<Address>,
    chain: Blockchain,
    genesis_json: String,
    nonces: Vec<u64>,
    rng: u64,
    /// Transfers generated so far (picks the next sender and fresh recipient).
    txs: usize,
    blocks: u64,
}

impl ChainGenerator {
    /// The genesis of `config` on a fresh in-memory store (`blocks` and `txs_per_block` are
    /// left to the caller of [`next_block`](Self::next_block)).
    pub fn new(config: &ChainGenConfig) -> eyre::Result<Self> {
        let signers = account_keys(config.accounts);
        let addresses: Vec<Address> = signers.iter().map(|s| s.address()).collect();
        let genesis_json = genesis_json(&addresses, config.gas_limit, config.fees.as_ref())?;
        let (genesis, spec) = ChainSpec::from_genesis_json(&genesis_json)?;
        if spec.fees.is_some() != config.fees.is_some() {
            eyre::bail!("the generated genesis does not have the L1 fee rule asked for");
        }
        let chain = Blockchain::open(Store::in_memory()?, &genesis, spec)?;
        Ok(Self {
            config: config.clone(),
            recipients: Recipients::Accounts,
            amounts: Amounts::Fixed,
            nonces: vec![0; config.accounts],
            signers,
            addresses,
            chain,
            genesis_json,
            rng: config.seed.max(1),
            txs: 0,
            blocks: 0,
        })
    }

    /// Who receives the transfers of the blocks built from now on, and how much.
    pub fn with_transfers(mut self, recipients: Recipients, amounts: Amounts) -> Self {
        self.recipients = recipients;
        self.amounts = amounts;
        self
    }

    /// The chain being built.
    pub fn chain(&self) -> &Blockchain {
        &self.chain
    }

    /// The genesis document.
    pub fn genesis_json(&self) -> &str {
        &self.genesis_json
    }

    /// Transfers in the blocks built so far.
    pub fn transfers(&self) -> usize {
        self.txs
    }

    fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Builds and stores the next block, with `txs` transfers; fails if one is left out.
    pub fn next_block(&mut self, txs: usize) -> eyre::Result<Block> {
        let accounts = self.config.accounts;
        let plan: Vec<(usize, u64, Address, U256)> = (0..txs)
            .map(|_| {
                let sender = self.txs % accounts;
                let nonce = self.nonces[sender];
                self.nonces[sender] += 1;
                let to = match self.recipients {
                    Recipients::Accounts => {
                        let index = (self.next_random() % accounts as u64) as usize;
                        self.addresses[index]
                    }
                    Recipients::Fresh => fresh_recipient(self.config.seed, self.txs),
                };
                let amount = match self.amounts {
                    Amounts::Fixed => match self.config.workload {
                        Workload::EthTransfer => U256::from(GWEI),
                        Workload::Erc20Transfer => U256::from(1_000u64),
                    },
                    Amounts::Uniform { min, max } => {
                        let wide =
                            (u128::from(self.next_random()) << 64) | u128::from(self.next_random());
                        let span = max.saturating_sub(min).saturating_add(1);
                        U256::from(min + wide % span)
                    }
                };
                self.txs += 1;
                (sender, nonce, to, amount)
            })
            .collect();
        let workload = self.config.workload;
        let signers = &self.signers;
        let transactions: Vec<Transaction> = plan
            .par_iter()
            .map(|&(sender, nonce, to, amount)| sign(&signers[sender], nonce, to, workload, amount))
            .collect::<Result<_, _>>()?;
        let senders: Vec<Address> = plan.iter().map(|&(s, ..)| self.addresses[s]).collect();
        let b = self.blocks;
        let attributes = BlockAttributes {
            timestamp: GENESIS_TIMESTAMP + b + 1,
            coinbase: address!("0x000000000000000000000000000000000000c0de"),
            gas_limit: self.config.gas_limit,
            prev_randao: keccak256(b.to_be_bytes()),
            extra_data: Bytes::new(),
            l1_prices: None,
            max_state_diff_bytes: None,
        };
        let mut source = ListTxSource::new(transactions, senders);
        let block = self
            .chain
            .build_block(&attributes, &mut source)
            .map_err(|e: ChainError| eyre::eyre!(e))?
            .block;
        if let Some((hash, reason)) = source.skipped.first() {
            eyre::bail!("generated transaction {hash} was left out of block {b}: {reason:?}");
        }
        if block.body.transactions.len() != txs {
            eyre::bail!(
                "block {b} holds {} of its {txs} transactions",
                block.body.transactions.len()
            );
        }
        self.blocks += 1;
        Ok(block)
    }
}

/// The `index`th fresh recipient of chains seeded with `seed`: an address no genesis funds.
pub fn fresh_recipient(seed: u64, index: usize) -> Address {
    Address::from_word(keccak256(format!("keel-bench-recipient-{seed}-{index}")))
}

/// A signed EIP-1559 transaction of `workload` from `signer` to `to` (chain [`CHAIN_ID`]).
pub fn sign(
    signer: &PrivateKeySigner,
    nonce: u64,
    to: Address,
    workload: Workload,
    amount: U256,
) -> eyre::Result<Transaction> {
    let (kind, gas_limit, value, input) = match workload {
        Workload::EthTransfer => (TxKind::Call(to), 21_000, amount, Bytes::new()),
        Workload::Erc20Transfer => (
            TxKind::Call(TOKEN_ADDRESS),
            80_000,
            U256::ZERO,
            Bytes::from(transferCall { to, value: amount }.abi_encode()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use keel_storage::StateReader as _;

    /// The fee rule is off unless asked for; with it, the vault gets every transaction's L1 fee.
    #[test]
    fn the_fee_rule_is_opt_in() {
        let config = ChainGenConfig {
            accounts: 4,
            blocks: 2,
            txs_per_block: 3,
            ..ChainGenConfig::default()
        };
        let plain = generate(&config).unwrap();
        let (_, spec) = ChainSpec::from_genesis_json(&plain.genesis_json).unwrap();
        assert!(spec.fees.is_none());
        assert!(!plain.genesis_json.contains(FEE_CONFIG_KEY));

        let params = keel_types::fees::DEFAULT_FEE_PARAMS;
        let mut generator = ChainGenerator::new(&ChainGenConfig {
            fees: Some(params),
            ..config
        })
        .unwrap();
        let block = generator.next_block(3).unwrap();
        assert_eq!(
            keel_types::L1Prices::from_extra_data(&block.header.extra_data),
            Ok(params.prices)
        );
        let expected = block
            .body
            .transactions
            .iter()
            .map(|tx| params.l1_fee(alloy_eips::Encodable2718::encode_2718_len(tx)))
            .fold(U256::ZERO, |a, b| a + b);
        let reader = generator.chain().store().reader().unwrap();
        let vault = reader.account(&L1_FEE_VAULT).unwrap().unwrap();
        assert!(expected > U256::ZERO);
        assert_eq!(vault.balance, expected);
    }
}
