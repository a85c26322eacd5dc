//! Sealing batches (docs/committer.md, Batching): the canonical blocks after the last sealed batch
//! become the next batch when its commit time is up, **or earlier when the next block would push
//! the batch's blob payload (after compression) over one blob**. Each batch also stops at
//! `max_blocks` blocks and at 65,535 privileged txs (the most a rolling hash counts).
//!
//! The sealer keeps the open batch's state diff ([`BatchDiffBuilder`]) up to date block by block,
//! so the fit check costs work in proportion to each new block. The BlockProducer keeps every
//! block's own diff within a blob, so a batch of one block always fits.
//!
//! For each batch it records the state root and hash of its last block, the rolling hash of its
//! privileged txs, its count of ordinary txs, the `L1Message` events of the Messenger with the
//! withdrawals root over them (docs/contracts.md, L2 system contracts), its blob (the smallest of
//! the state diff v1/v2 × raw/brotli payloads, and the versioned hash of the blob it packs into;
//! none in validium mode), and the code hashes it publishes, all in one write. After a restart the
//! open batch is rebuilt from the store. The L1Committer commits sealed batches; this module only
//! decides and stores what a batch is.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy::eips::eip2718::Encodable2718 as _;
use alloy_primitives::{B256, U256};
use keel_chain::{BatchDiffBuilder, BatchDiffError, Blockchain};
use keel_storage::{
    ChainReader, StateReader as _, StoreError, StoreReader,
    batches::{BatchBlob, BatchWriteError},
};
use keel_types::{
    Batch, BatchMessage, FeeParams, FeeScalars, L1Message, L1Prices, StateDiff, Transaction,
    blob::{BlobError, MAX_BLOB_PAYLOAD, fits_one_blob, pack_blob, smallest_state_diff_payload},
    fees::GAS_PRICE_ORACLE_ADDRESS,
    privileged_rolling_hash, withdrawals_root,
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// The default of [`BatchSealerConfig::seal_at_fee_coverage_permille`]: a batch is sealed once
/// its fees pay 110% of its L1 cost (the target of docs/fees.md is 100–120%).
pub const DEFAULT_SEAL_AT_FEE_COVERAGE_PERMILLE: u32 = 1_100;

/// When batches are sealed.
#[derive(Debug, Clone)]
pub struct BatchSealerConfig {
    /// How long a batch stays open (`--committer.commit-time`).
    pub commit_time: Duration,
    /// Most blocks in one batch.
    pub max_blocks: u64,
    /// How often the sealer looks for new blocks.
    pub poll_interval: Duration,
    /// Validium: batches carry no blob (and so no blob limit).
    pub validium: bool,
    /// Code hashes of the genesis: a batch names them by hash instead of publishing them.
    pub genesis_codes: Vec<B256>,
    /// On a chain with the L1 fee rule (docs/fees.md): seal a batch as soon as the L1 fees of
    /// its transactions reach this many thousandths of what it costs on L1 at its last block's
    /// prices ([`keel_types::fees::batch_l1_cost`]), so that each batch's fees match its cost
    /// whether or not its diff fills a blob. `None` seals on time and blob only.
    pub seal_at_fee_coverage_permille: Option<u32>,
    /// L1 execution gas of one batch (commit and verification), for that cost.
    pub batch_l1_gas: u64,
}

impl Default for BatchSealerConfig {
    fn default() -> Self {
        Self {
            commit_time: Duration::from_secs(60),
            max_blocks: 4096,
            poll_interval: Duration::from_millis(250),
            validium: false,
            genesis_codes: Vec::new(),
            seal_at_fee_coverage_permille: Some(DEFAULT_SEAL_AT_FEE_COVERAGE_PERMILLE),
            batch_l1_gas: keel_types::fees::DEFAULT_BATCH_L1_GAS,
        }
    }
}

/// Why sealing failed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Reading the chain failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the batch failed.
    #[error(transparent)]
    Write(#[from] BatchWriteError),
    /// The chain's head could not be read.
    #[error("reading the head: {0}")]
    Chain(String),
    /// The sealing thread panicked.
    #[error("the batch sealer thread failed: {0}")]
    Task(String),
    /// A canonical block's data is missing.
    #[error("block {0} is missing from the store")]
    MissingBlock(u64),
    /// The state diff could not be computed.
    #[error("state diff of blocks {first}..={last}: {source}")]
    Diff {
        /// First block of the batch.
        first: u64,
        /// Last block.
        last: u64,
        /// Why.
        source: BatchDiffError,
    },
    /// The blob could not be built.
    #[error("blob of blocks {first}..={last}: {source}")]
    Blob {
        /// First block of the batch.
        first: u64,
        /// Last block.
        last: u64,
        /// Why.
        source: BlobError,
    },
    /// A single block's diff does not fit a blob (the BlockProducer should have prevented it).
    #[error("block {0}'s state diff alone does not fit one blob; it can't be committed")]
    BlockTooLarge(u64),
    /// The KZG commitment of the blob could not be computed.
    #[error("blob of batch {batch}: {reason}")]
    Kzg {
        /// The batch.
        batch: u64,
        /// Why.
        reason: String,
    },
}

pub use keel_types::l1_message_topic;

/// The batch being filled.
#[derive(Debug, Clone)]
struct OpenBatch {
    /// Its state diff so far.
    diff: BatchDiffBuilder,
    /// Blocks in it.
    blocks: u64,
    /// Privileged txs in it.
    privileged: usize,
    /// When its first block was added.
    opened: Option<Instant>,
    /// L1 fees its transactions paid (docs/fees.md), and the L1 prices of its last block.
    l1_fees: U256,
    prices: L1Prices,
}

impl OpenBatch {
    fn new() -> Self {
        Self {
            diff: BatchDiffBuilder::new(),
            blocks: 0,
            privileged: 0,
            opened: None,
            l1_fees: U256::ZERO,
            prices: L1Prices::default(),
        }
    }
}

/// Seals batches of the chain's blocks.
#[derive(Debug, Clone)]
pub struct BatchSealer {
    config: BatchSealerConfig,
    chain: Blockchain,
    open: Arc<Mutex<Option<OpenBatch>>>,
}

impl BatchSealer {
    /// A sealer over `chain`.
    pub fn new(config: BatchSealerConfig, chain: Blockchain) -> Self {
        Self {
            config,
            chain,
            open: Arc::new(Mutex::new(None)),
        }
    }

    /// Seals every unsealed block now, into as many batches as their blobs need; returns them.
    pub fn seal_now(&self) -> Result<Vec<Batch>, SealError> {
        self.step(true)
    }

    /// Seals the unsealed blocks now (see [`seal_now`](Self::seal_now)); returns the first batch
    /// sealed, if any.
    pub fn seal_next(&self) -> Result<Option<Batch>, SealError> {
        Ok(self.seal_now()?.into_iter().next())
    }

    /// Adds the chain's new blocks to the open batch, sealing it before any block that would not
    /// fit, and seals what is open if `force` or its commit time is up.
    fn step(&self, force: bool) -> Result<Vec<Batch>, SealError> {
        self.step_until(force, &CancellationToken::new())
    }

    /// [`step`](Self::step), returning early (sealing nothing more) once `stop` is cancelled: a
    /// node that starts with many unsealed blocks rebuilds its open batch block by block, and
    /// a shutdown must not wait for all of them.
    fn step_until(&self, force: bool, stop: &CancellationToken) -> Result<Vec<Batch>, SealError> {
        let mut guard = self.open.lock().unwrap_or_else(|e| e.into_inner());
        // After a failure the open batch may be half-updated: rebuild it from the store.
        let mut open = guard.take().unwrap_or_else(OpenBatch::new);
        let sealed = self.step_on(&mut open, force, stop)?;
        *guard = Some(open);
        Ok(sealed)
    }

    fn step_on(
        &self,
        open: &mut OpenBatch,
        force: bool,
        stop: &CancellationToken,
    ) -> Result<Vec<Batch>, SealError> {
        let store = self.chain.store();
        let last_sealed = store.last_batch()?.map_or(0, |b| b.last_block);
        let (head, _) = self
            .chain
            .head()
            .map_err(|e| SealError::Chain(e.to_string()))?;
        let reader = store.reader()?;
        // The fee rule's scalars as the head has them (a governance change moves them rarely;
        // sealing is not a chain rule), to sum the L1 fees of the open batch.
        let scalars = match self.chain.spec().fees {
            Some(_) => Some(
                FeeParams::from_storage(|slot| {
                    reader.storage(&GAS_PRICE_ORACLE_ADDRESS, &B256::from(slot))
                })?
                .scalars,
            ),
            None => None,
        };
        let mut sealed = Vec::new();
        let mut next = match open.diff.block_range() {
            Some((_, last)) if last >= last_sealed => last + 1,
            _ => {
                *open = OpenBatch::new();
                last_sealed + 1
            }
        };
        while next <= head {
            if stop.is_cancelled() {
                // Every block added so far is whole: the open batch stays consistent.
                return Ok(sealed);
            }
            let privileged = privileged_in_block(&reader, next)?;
            let full = open.blocks > 0
                && (open.blocks >= self.config.max_blocks.max(1)
                    || open.privileged + privileged > usize::from(u16::MAX));
            let mut candidate = open.diff.clone();
            candidate
                .add_block(&reader, next)
                .map_err(|source| SealError::Diff {
                    first: next,
                    last: next,
                    source,
                })?;
            if full || !self.fits(&candidate)? {
                if open.blocks == 0 {
                    return Err(SealError::BlockTooLarge(next));
                }
                debug!(
                    block = next,
                    "the next block does not fit the open batch: sealing it"
                );
                sealed.push(self.seal(&reader, &open.diff)?);
                *open = OpenBatch::new();
                continue;
            }
            open.diff = candidate;
            open.blocks += 1;
            open.privileged += privileged;
            open.opened.get_or_insert_with(Instant::now);
            if let Some(scalars) = scalars
                && let Some((fees, prices)) = block_l1_fees(&reader, next, scalars)?
            {
                open.l1_fees += fees;
                open.prices = prices;
            }
            next += 1;
            if let Some(permille) = self.config.seal_at_fee_coverage_permille
                && scalars.is_some()
                && !open.l1_fees.is_zero()
            {
                let cost = keel_types::fees::batch_l1_cost(
                    &open.prices,
                    self.config.batch_l1_gas,
                    !self.config.validium,
                );
                if !cost.is_zero()
                    && open.l1_fees * U256::from(1_000) >= cost * U256::from(permille)
                {
                    info!(
                        last_block = next - 1,
                        l1_fees = %open.l1_fees,
                        l1_cost = %cost,
                        "the open batch's L1 fees cover its L1 cost: sealing it"
                    );
                    sealed.push(self.seal(&reader, &open.diff)?);
                    *open = OpenBatch::new();
                }
            }
        }
        let time_up = open
            .opened
            .is_some_and(|t| t.elapsed() >= self.config.commit_time);
        if open.blocks > 0 && (force || time_up) {
            sealed.push(self.seal(&reader, &open.diff)?);
            *open = OpenBatch::new();
        }
        Ok(sealed)
    }

    /// Whether the batch `diff` describes fits one blob.
    fn fits(&self, diff: &BatchDiffBuilder) -> Result<bool, SealError> {
        if self.config.validium {
            return Ok(true);
        }
        // The smallest payload is at most the raw v1 one (plus its codec byte).
        if diff.encoded_len_upper_bound() < MAX_BLOB_PAYLOAD {
            return Ok(true);
        }
        let state_diff = match self.build_diff(diff) {
            Ok(d) => d,
            Err(SealError::Diff {
                source: BatchDiffError::TooLarge(_),
                ..
            }) => return Ok(false),
            Err(e) => return Err(e),
        };
        let (first, last) = diff.block_range().unwrap_or_default();
        fits_one_blob(&state_diff).map_err(|source| SealError::Blob {
            first,
            last,
            source,
        })
    }

    fn build_diff(&self, diff: &BatchDiffBuilder) -> Result<StateDiff, SealError> {
        let store = self.chain.store();
        let (first, last) = diff.block_range().unwrap_or_default();
        // A read error makes the code count as unknown: it is then published in full (larger,
        // never wrong).
        diff.build(|hash| {
            self.config.genesis_codes.contains(hash)
                || store.published_code(hash).ok().flatten().is_some()
        })
        .map_err(|source| SealError::Diff {
            first,
            last,
            source,
        })
    }

    /// Seals the batch `diff` describes.
    fn seal(&self, reader: &StoreReader, diff: &BatchDiffBuilder) -> Result<Batch, SealError> {
        let store = self.chain.store();
        let (first_block, last_block) = diff.block_range().unwrap_or_default();
        let number = store.last_batch()?.map_or(1, |b| b.number + 1);
        let mut privileged = Vec::new();
        let mut non_privileged = 0u64;
        let mut messages = Vec::new();
        let mut last = None;
        for n in first_block..=last_block {
            let hash = reader
                .canonical_hash(n)?
                .ok_or(SealError::MissingBlock(n))?;
            let header = reader.header(&hash)?.ok_or(SealError::MissingBlock(n))?;
            let body = reader.body(&hash)?.ok_or(SealError::MissingBlock(n))?;
            let receipts = reader.receipts(&hash)?.ok_or(SealError::MissingBlock(n))?;
            for (tx, receipt) in body.transactions.iter().zip(&receipts) {
                if tx.is_privileged() {
                    privileged.push(*tx.tx_hash());
                } else {
                    non_privileged += 1;
                }
                for message in receipt.logs().iter().filter_map(L1Message::from_log) {
                    messages.push(BatchMessage {
                        tx_hash: *tx.tx_hash(),
                        sender_on_l2: message.sender_on_l2,
                        data: message.data,
                        message_id: message.message_id,
                    });
                }
            }
            last = Some((hash, header.state_root));
        }
        let (last_block_hash, state_root) = last.ok_or(SealError::MissingBlock(first_block))?;
        let leaves: Vec<B256> = messages.iter().map(|m| m.message().leaf()).collect();
        let batch = Batch {
            number,
            first_block,
            last_block,
            state_root,
            last_block_hash,
            // At most u16::MAX hashes (the open batch is closed before), so the hash exists.
            privileged_rolling_hash: privileged_rolling_hash(&privileged).unwrap_or_default(),
            withdrawals_root: withdrawals_root(&leaves),
            non_privileged_tx_count: non_privileged,
        };

        let started = Instant::now();
        let (blob, published, payload_info) = if self.config.validium {
            (None, Vec::new(), String::from("validium: no blob"))
        } else {
            let state_diff = self.build_diff(diff)?;
            let chosen =
                smallest_state_diff_payload(&state_diff).map_err(|source| SealError::Blob {
                    first: first_block,
                    last: last_block,
                    source,
                })?;
            let packed = pack_blob(&chosen.payload).map_err(|source| SealError::Blob {
                first: first_block,
                last: last_block,
                source,
            })?;
            let sidecar = keel_l1::sender::blob_sidecar(&packed).map_err(|e| SealError::Kzg {
                batch: number,
                reason: e.to_string(),
            })?;
            let versioned_hash =
                keel_l1::sender::versioned_hash(&sidecar).ok_or_else(|| SealError::Kzg {
                    batch: number,
                    reason: "the sidecar has no commitment".into(),
                })?;
            let info = format!(
                "{} bytes ({:?}, {:?}; v1 raw {} B)",
                chosen.payload.len(),
                chosen.version,
                chosen.codec,
                state_diff.encoded_len()
            );
            let published = keel_chain::batch_diff::BatchDiffBuilder::new_code_hashes(&state_diff);
            (
                Some(BatchBlob {
                    versioned_hash,
                    payload: chosen.payload.into(),
                }),
                published,
                info,
            )
        };
        if number == 1 {
            // The genesis codes are known to every reader of L1 (they have the genesis).
            store.record_published_codes(0, &self.config.genesis_codes)?;
        }
        store.write_batch(&batch, &messages, blob.as_ref(), &published)?;
        info!(
            batch = batch.number,
            blocks = format!("{first_block}..={last_block}"),
            privileged = privileged.len(),
            txs = non_privileged,
            messages = messages.len(),
            blob = %payload_info,
            blob_hash = ?blob.as_ref().map(|b| b.versioned_hash),
            build_ms = started.elapsed().as_millis() as u64,
            "sealed batch"
        );
        metrics::counter!("keel_batches_sealed_total").increment(1);
        crate::batch_metrics::set_last("sealed", batch.number);
        Ok(batch)
    }

    /// Seals batches until `shutdown` is cancelled: checks for new blocks every `poll_interval`,
    /// seals when a batch is full or its commit time is up. A failed seal is logged and retried;
    /// a panic ends the loop with an error (the node stops).
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), SealError> {
        let mut tick =
            tokio::time::interval(self.config.poll_interval.min(self.config.commit_time));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        info!(
            commit_time_ms = self.config.commit_time.as_millis() as u64,
            validium = self.config.validium,
            "batch sealer started"
        );
        if let Ok(Some(last)) = self.chain.store().last_batch() {
            crate::batch_metrics::set_last("sealed", last.number);
        }
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.cancelled() => return Ok(()),
            }
            let sealer = self.clone();
            let stop = shutdown.clone();
            match tokio::task::spawn_blocking(move || sealer.step_until(false, &stop)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => warn!(error = %e, "sealing a batch failed; retrying"),
                Err(e) => return Err(SealError::Task(e.to_string())),
            }
        }
    }
}

/// The L1 fees the ordinary transactions of block `number` paid at `scalars` and its prices
/// (docs/fees.md), and those prices; `None` if the block carries none (the genesis).
fn block_l1_fees(
    reader: &StoreReader,
    number: u64,
    scalars: FeeScalars,
) -> Result<Option<(U256, L1Prices)>, SealError> {
    let hash = reader
        .canonical_hash(number)?
        .ok_or(SealError::MissingBlock(number))?;
    let header = reader
        .header(&hash)?
        .ok_or(SealError::MissingBlock(number))?;
    let Ok(prices) = L1Prices::from_extra_data(&header.extra_data) else {
        return Ok(None);
    };
    let params = FeeParams { prices, scalars };
    let body = reader.body(&hash)?.ok_or(SealError::MissingBlock(number))?;
    let fees = body
        .transactions
        .iter()
        .filter_map(|tx| match tx {
            Transaction::Ethereum(eth) => Some(params.l1_fee(eth.encode_2718_len())),
            Transaction::Privileged(_) => None,
        })
        .fold(U256::ZERO, |sum, fee| sum + fee);
    Ok(Some((fees, prices)))
}

fn privileged_in_block(reader: &StoreReader, number: u64) -> Result<usize, SealError> {
    let hash = reader
        .canonical_hash(number)?
        .ok_or(SealError::MissingBlock(number))?;
    let body = reader.body(&hash)?.ok_or(SealError::MissingBlock(number))?;
    Ok(body
        .transactions
        .iter()
        .filter(|tx| tx.is_privileged())
        .count())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use keel_chain::{Mempool, MempoolConfig};
    use keel_storage::Store;
    use keel_types::{ChainSpec, dev};

    use super::*;
    use crate::{BlockProducer, BlockProducerConfig};

    fn chain_with_blocks(blocks: usize) -> Blockchain {
        let genesis = dev::dev_genesis();
        let spec = ChainSpec::from_genesis(&genesis).expect("dev genesis");
        let store = Store::in_memory().expect("store");
        let chain = Blockchain::open(store, &genesis, spec).expect("chain");
        let mempool = Arc::new(Mempool::new(MempoolConfig::default(), chain.clone()));
        let producer = BlockProducer::new(BlockProducerConfig::default(), chain.clone(), mempool);
        for _ in 0..blocks {
            producer.produce_block().expect("produce").expect("a block");
        }
        chain
    }

    /// Found by the crash campaign: a node stopped while its sealer rebuilt a long open batch
    /// waited for every block of it. A cancelled step adds no more blocks and seals nothing; the
    /// next step picks up where it stopped.
    #[test]
    fn a_cancelled_step_stops_between_blocks_and_the_next_one_resumes() {
        let chain = chain_with_blocks(3);
        let sealer = BatchSealer::new(BatchSealerConfig::default(), chain.clone());
        let stop = CancellationToken::new();
        stop.cancel();
        let sealed = sealer.step_until(true, &stop).expect("step");
        assert!(sealed.is_empty(), "sealed {sealed:?} after the stop");
        assert_eq!(chain.store().last_batch().expect("last batch"), None);

        let sealed = sealer.seal_now().expect("seal");
        assert_eq!(sealed.len(), 1);
        assert_eq!((sealed[0].first_block, sealed[0].last_block), (1, 3));
    }

    /// A dev chain of `blocks` blocks of one transfer each; the signed transfers' sizes.
    fn chain_of_transfers(blocks: u64) -> (Blockchain, Vec<usize>) {
        use alloy_consensus::{SignableTransaction as _, TxEip1559};
        use alloy_signer::SignerSync as _;
        let genesis = dev::dev_genesis();
        let spec = ChainSpec::from_genesis(&genesis).expect("dev genesis");
        let chain =
            Blockchain::open(Store::in_memory().expect("store"), &genesis, spec).expect("chain");
        let mempool = Arc::new(Mempool::new(MempoolConfig::default(), chain.clone()));
        let producer = BlockProducer::new(
            BlockProducerConfig::default(),
            chain.clone(),
            mempool.clone(),
        );
        let key =
            alloy_signer_local::PrivateKeySigner::from_bytes(&dev::DEV_ACCOUNTS[0].1).expect("key");
        let mut sizes = Vec::new();
        for nonce in 0..blocks {
            let tx = TxEip1559 {
                chain_id: dev::DEFAULT_L2_CHAIN_ID,
                nonce,
                gas_limit: 21_000,
                max_fee_per_gas: 10_000_000_000,
                max_priority_fee_per_gas: 1,
                to: alloy_primitives::TxKind::Call(alloy_primitives::Address::repeat_byte(7)),
                value: U256::from(1),
                access_list: Default::default(),
                input: Default::default(),
            };
            let signature = key.sign_hash_sync(&tx.signature_hash()).expect("sign");
            let raw = Transaction::from(tx.into_signed(signature)).encoded_2718();
            sizes.push(raw.len());
            mempool.add_raw(&raw).expect("admitted");
            producer.produce_block().expect("produce").expect("a block");
        }
        (chain, sizes)
    }

    #[test]
    fn a_batch_is_sealed_once_its_l1_fees_cover_its_l1_cost() {
        const BLOCKS: u64 = 8;
        let (chain, sizes) = chain_of_transfers(BLOCKS);
        // Without an L1 the blocks keep the genesis prices and scalars.
        let params = keel_types::fees::DEFAULT_FEE_PARAMS;
        // A batch's L1 gas chosen so that about three transfers pay for it.
        let batch_l1_gas = 3 * params.l1_fee(sizes[0]).to::<u64>() / params.prices.base_fee;
        let cost = keel_types::fees::batch_l1_cost(&params.prices, batch_l1_gas, true);
        let mut fees = U256::ZERO;
        let mut expected_last = Vec::new();
        for (i, size) in sizes.iter().enumerate() {
            fees += params.l1_fee(*size);
            if fees * U256::from(1_000) >= cost * U256::from(1_100) {
                expected_last.push(i as u64 + 1);
                fees = U256::ZERO;
            }
        }
        assert!(expected_last.len() >= 2, "{expected_last:?}");
        let config = BatchSealerConfig {
            batch_l1_gas,
            ..BatchSealerConfig::default()
        };
        // Not forced and long before the commit time: only the fees seal.
        let sealed = BatchSealer::new(config.clone(), chain.clone())
            .step(false)
            .expect("step");
        let last: Vec<u64> = sealed.iter().map(|b| b.last_block).collect();
        assert_eq!(
            last, expected_last,
            "sealed where the fees reached 110% of the cost"
        );

        // Without the rule, nothing is sealed before the commit time.
        let (chain, _) = chain_of_transfers(BLOCKS);
        let off = BatchSealerConfig {
            seal_at_fee_coverage_permille: None,
            ..config
        };
        assert!(
            BatchSealer::new(off, chain)
                .step(false)
                .expect("step")
                .is_empty()
        );
    }
}
