//! The SettlementTracker: keeps the block tags `safe` and `finalized` (docs/rpc.md, Block tags)
//! in step with what L1 says about this chain's batches, in the store
//! (`keel_storage::settlement`), where the RPC reads them.
//!
//! Every poll it reads the OnChainProposer at two L1 blocks:
//!
//! - **`safe`**: `lastCommittedBatch` at `head − confirmations` (the committer's confirmations:
//!   the commit is as settled as the committer itself counts it). Its data is on L1, so any node
//!   can rebuild the batch (`keel reconstruct`).
//! - **`finalized`**: `lastVerifiedBatch` at the L1 block the finality bound names (`finalized`
//!   by default: an L1 block L1 itself reports as finalized; `safe`, `latest` or N blocks below
//!   the head for dev chains), never above the `safe` read block, so `finalized ≤ safe`.
//!
//! The tag is the last L2 block of that batch (none while the batch is 0: nothing committed or
//! verified yet). Each is read at one L1 block by hash, so the two reads of a poll see one L1
//! state each.
//!
//! **Forward only, except on an L1 reorg.** A tag moves forward whenever L1 says so. A lower
//! reading moves it back only if L1 changed under it: the L1 block at which the stored value was
//! first read is no longer on L1 (a reorg dropped the commit or the verification), or the lower
//! reading comes from that block or a later one (a `revertBatch` on L1). A lower reading from an
//! earlier L1 block (a lagging L1 node behind the failover) changes nothing; while L1 does not
//! reach the stored block's height again, nothing is decided. When a reorg replaced that block
//! but L1 still has the batch (its transaction landed again), the tag keeps its block and takes
//! the new L1 block as its reference.
//!
//! An unreachable L1 only delays the tags (logged); a store failure stops the tracker, and so
//! the node.

use std::time::Duration;

use alloy::{
    eips::{BlockId, BlockNumberOrTag},
    primitives::{Address, B256, U256},
    providers::Provider,
};
use keel_l1::{L1Client, L1ClientError, L1ReadBound, contracts::OnChainProposer};
use keel_storage::{
    Store, StoreError,
    settlement::{SettledBlock, SettlementTag},
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// How the tracker runs.
#[derive(Debug, Clone)]
pub struct SettlementTrackerConfig {
    /// The OnChainProposer proxy.
    pub on_chain_proposer: Address,
    /// The committer's confirmations: `safe` is read this many blocks below the L1 head.
    pub commit_confirmations: u64,
    /// The L1 block `finalized` is read at.
    pub finality: L1ReadBound,
    /// How often L1 is read.
    pub poll_interval: Duration,
}

/// Why the tracker stopped.
#[derive(Debug, thiserror::Error)]
pub enum SettlementError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// L1 names a batch whose record is missing from the store.
    #[error("L1 settled batch {0}, which is sealed but missing from the store")]
    MissingBatch(u64),
}

/// Why one poll did not finish.
#[derive(Debug, thiserror::Error)]
enum PollError {
    #[error(transparent)]
    Stop(#[from] SettlementError),
    #[error(transparent)]
    L1(#[from] L1ClientError),
}

impl From<StoreError> for PollError {
    fn from(e: StoreError) -> Self {
        Self::Stop(e.into())
    }
}

/// What a new reading does to a stored tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// Nothing changes.
    Keep,
    /// The tag moves to the reading (forward, or back after an L1 change).
    To(Option<SettledBlock>),
}

/// Where the L1 block a stored tag was read at stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorOnL1 {
    /// Still on L1 with the same hash.
    Same,
    /// L1 has another block at that height: reorged out.
    Replaced,
    /// L1 does not reach that height (now, or through this node).
    Absent,
}

/// The batch a tag reading names (0: none).
fn batch_of(tag: Option<SettledBlock>) -> u64 {
    tag.map_or(0, |t| t.batch)
}

/// What `read` (read at L1 block `read_l1_block`) does to `stored`. For a lower reading, `anchor`
/// says where the L1 block `stored` was read at stands (only asked for then); see the module docs.
pub async fn decide<F>(
    stored: Option<SettledBlock>,
    read: Option<SettledBlock>,
    read_l1_block: u64,
    anchor: F,
) -> Result<Move, L1ClientError>
where
    F: AsyncFnOnce(u64, B256) -> Result<AnchorOnL1, L1ClientError>,
{
    let (old, new) = (batch_of(stored), batch_of(read));
    if new > old {
        return Ok(Move::To(read));
    }
    let Some(stored) = stored else {
        return Ok(Move::Keep);
    };
    Ok(match anchor(stored.l1_block, stored.l1_hash).await? {
        // Lower: the commit or verification is gone. The same batch: a reorg took out the
        // block it was read at but L1 has the batch again; the tag is re-anchored on the new
        // chain, so a lagging node's lower answer can't pass for a reorg later.
        AnchorOnL1::Replaced => Move::To(read),
        AnchorOnL1::Same if new < old && read_l1_block >= stored.l1_block => Move::To(read),
        AnchorOnL1::Same | AnchorOnL1::Absent => Move::Keep,
    })
}

/// Keeps `safe` and `finalized` in the store. See the module docs.
pub struct SettlementTracker {
    config: SettlementTrackerConfig,
    store: Store,
    client: L1Client,
    /// Whether the missing finality tag was already logged (once, not every poll).
    warned_tag: bool,
}

impl std::fmt::Debug for SettlementTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettlementTracker")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SettlementTracker {
    /// A tracker of `store`'s batches, reading L1 through `client`.
    pub fn new(config: SettlementTrackerConfig, store: Store, client: L1Client) -> Self {
        Self {
            config,
            store,
            client,
            warned_tag: false,
        }
    }

    /// Polls until `shutdown` is cancelled; returns an error only when the store fails.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), SettlementError> {
        info!(
            proposer = %self.config.on_chain_proposer,
            confirmations = self.config.commit_confirmations,
            finality = %self.config.finality,
            "settlement tracker started (block tags safe and finalized)"
        );
        let mut outage = false;
        loop {
            let polled = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                polled = self.poll() => polled,
            };
            match polled {
                Ok(()) => {
                    if outage {
                        info!("settlement tracker: L1 reachable again");
                    }
                    outage = false;
                }
                Err(PollError::Stop(e)) => return Err(e),
                Err(PollError::L1(e)) => {
                    if !outage {
                        warn!(error = %e, "settlement tracker: can't read L1; the tags wait");
                    } else {
                        debug!(error = %e, "settlement tracker: L1 still unreachable");
                    }
                    outage = true;
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }

    /// One round: reads both tags from L1 and records what changed.
    async fn poll(&mut self) -> Result<(), PollError> {
        let head = self.client.block_number().await?;
        let safe_at = head.checked_sub(self.config.commit_confirmations);
        let final_at = match self.client.read_position(self.config.finality).await {
            Ok(position) => position.block,
            Err(e @ L1ClientError::UnsupportedTag { .. }) => {
                if !self.warned_tag {
                    warn!(
                        error = %e,
                        "settlement tracker: L1 has no block for the finality bound yet; \
                         `finalized` waits (see --settlement.l1-finality)"
                    );
                    self.warned_tag = true;
                }
                None
            }
            Err(e) => return Err(e.into()),
        };
        let final_at = match (final_at, safe_at) {
            (Some(f), Some(s)) => Some(f.min(s)),
            _ => None,
        };
        if let Some(at) = safe_at {
            self.update(SettlementTag::Safe, at).await?;
        }
        if let Some(at) = final_at {
            self.update(SettlementTag::Finalized, at).await?;
        }
        Ok(())
    }

    /// The hash of L1 block `number`, `None` if L1 (this URL) does not have it.
    async fn l1_hash(&self, number: u64) -> Result<Option<B256>, L1ClientError> {
        let block = self
            .client
            .request("eth_getBlockByNumber", |p| async move {
                p.get_block_by_number(BlockNumberOrTag::Number(number))
                    .await
            })
            .await?;
        Ok(block.map(|b| b.header.hash))
    }

    /// Reads `tag` at L1 block `l1_block` and records it if it moves.
    async fn update(&self, tag: SettlementTag, l1_block: u64) -> Result<(), PollError> {
        let Some(l1_hash) = self.l1_hash(l1_block).await? else {
            // Below the head a moment ago, gone now: L1 is reorging; the next poll reads again.
            return Ok(());
        };
        let proposer = self.config.on_chain_proposer;
        let at = BlockId::hash(l1_hash);
        let l1_batch: U256 = match tag {
            SettlementTag::Safe => {
                self.client
                    .call_sol(proposer, &OnChainProposer::lastCommittedBatchCall {}, at)
                    .await?
            }
            SettlementTag::Finalized => {
                self.client
                    .call_sol(proposer, &OnChainProposer::lastVerifiedBatchCall {}, at)
                    .await?
            }
        };
        let l1_batch = u64::try_from(l1_batch).unwrap_or(u64::MAX);
        // A batch L1 has but this store has not sealed (yet): the tag can't name blocks the node
        // does not have. The committer reports such a store.
        let sealed = self.store.last_batch()?.map_or(0, |b| b.number);
        let batch = l1_batch.min(sealed);
        let read = match batch {
            0 => None,
            n => Some(SettledBlock {
                batch: n,
                block: self
                    .store
                    .batch(n)?
                    .ok_or(SettlementError::MissingBatch(n))?
                    .last_block,
                l1_block,
                l1_hash,
            }),
        };
        let stored = self.store.settlement()?.get(tag);
        let anchor = async |number: u64, hash: B256| -> Result<AnchorOnL1, L1ClientError> {
            Ok(match self.l1_hash(number).await? {
                Some(h) if h == hash => AnchorOnL1::Same,
                Some(_) => AnchorOnL1::Replaced,
                None => AnchorOnL1::Absent,
            })
        };
        let Move::To(new) = decide(stored, read, l1_block, anchor).await? else {
            return Ok(());
        };
        self.store.set_settlement(tag, new.as_ref())?;
        let (old, now) = (batch_of(stored), batch_of(new));
        let block = new.map(|n| n.block);
        metrics::gauge!("keel_settled_block", "tag" => tag.name())
            .set(block.unwrap_or_default() as f64);
        if now == old {
            info!(
                tag = tag.name(),
                batch = now,
                l1_block,
                "block tag re-anchored: an L1 reorg moved the batch's L1 transaction"
            );
        } else if now > old {
            info!(
                tag = tag.name(),
                batch = now,
                block = ?block,
                l1_block,
                "block tag moved forward"
            );
        } else {
            warn!(
                tag = tag.name(),
                from_batch = old,
                to_batch = now,
                block = ?block,
                l1_block,
                "block tag moved back: L1 no longer has the batch (an L1 reorg, or revertBatch)"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(batch: u64, l1_block: u64) -> Option<SettledBlock> {
        Some(SettledBlock {
            batch,
            block: batch * 10,
            l1_block,
            l1_hash: B256::repeat_byte(l1_block as u8),
        })
    }

    async fn run(
        stored: Option<SettledBlock>,
        read: Option<SettledBlock>,
        read_at: u64,
        anchor: AnchorOnL1,
    ) -> Move {
        decide(stored, read, read_at, async |_, _| Ok(anchor))
            .await
            .expect("decides")
    }

    #[tokio::test]
    async fn tags_move_forward_and_back_only_when_l1_changed() {
        use AnchorOnL1::*;
        // Forward: from nothing, and to a newer batch, whatever the anchor.
        assert_eq!(run(None, tag(1, 5), 5, Replaced).await, Move::To(tag(1, 5)));
        assert_eq!(
            run(tag(1, 5), tag(2, 9), 9, Same).await,
            Move::To(tag(2, 9))
        );
        // The same batch read at a later block keeps the first L1 block it was seen at, unless
        // that block was reorged out (the batch landed again): then it takes the new one.
        assert_eq!(run(tag(2, 9), tag(2, 12), 12, Same).await, Move::Keep);
        assert_eq!(run(tag(2, 9), tag(2, 12), 12, Absent).await, Move::Keep);
        assert_eq!(
            run(tag(2, 9), tag(2, 12), 12, Replaced).await,
            Move::To(tag(2, 12))
        );
        assert_eq!(run(None, None, 12, Replaced).await, Move::Keep);
        // Back: the block the tag was read at was reorged out (commit or verify dropped).
        assert_eq!(
            run(tag(2, 9), tag(1, 8), 8, Replaced).await,
            Move::To(tag(1, 8))
        );
        assert_eq!(run(tag(1, 9), None, 12, Replaced).await, Move::To(None));
        // Back: same chain, a lower reading at or after it (revertBatch on L1).
        assert_eq!(
            run(tag(2, 9), tag(1, 10), 10, Same).await,
            Move::To(tag(1, 10))
        );
        // Not back: a lagging L1 node (a lower reading from an earlier block on the same chain),
        // or L1 not at that height (yet) to tell.
        assert_eq!(run(tag(2, 9), tag(1, 7), 7, Same).await, Move::Keep);
        assert_eq!(run(tag(2, 9), tag(1, 7), 7, Absent).await, Move::Keep);
        assert_eq!(run(tag(2, 9), None, 12, Absent).await, Move::Keep);
    }
}
