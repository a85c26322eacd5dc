//! Blobs from a beacon node's API (`GET /eth/v1/beacon/blobs/{block_id}`, or the older
//! `/eth/v1/beacon/blob_sidecars/{block_id}`), which anvil also serves. A blob is accepted only if
//! its KZG commitment gives the versioned hash that L1 recorded, so a lying or confused beacon
//! node can't feed `keel l2 reconstruct` anything else.
//!
//! The beacon API names blocks by slot. For an L1 block with timestamp `t` that is
//! `(t - genesis_time) / SECONDS_PER_SLOT`; anvil instead names them by execution block number.
//! Both are tried (each answer checked against the versioned hash).

use std::time::Duration;

use alloy::{
    eips::eip4844::{Blob, BlobTransactionSidecar, env_settings::EnvKzgSettings},
    primitives::B256,
    transports::http::reqwest,
};
use keel_types::blob::BYTES_PER_BLOB;
use serde_json::Value;

/// Why a blob could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum BeaconError {
    /// The beacon API could not be reached or answered with an error.
    #[error("beacon API {url}: {reason}")]
    Http {
        /// The request.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// None of the blobs served for the block has the committed versioned hash.
    #[error(
        "no blob with versioned hash {versioned_hash} at L1 block {l1_block} (the beacon API served \
         {served} blob(s) there{details})"
    )]
    NotFound {
        /// The L1 block of the commit.
        l1_block: u64,
        /// The hash L1 recorded.
        versioned_hash: B256,
        /// How many blobs were looked at.
        served: usize,
        /// The versioned hashes of the blobs served, if any.
        details: String,
    },
}

/// A client of a beacon node's blob endpoints.
#[derive(Debug, Clone)]
pub struct BlobFetcher {
    base_url: String,
    http: reqwest::Client,
    /// The node's genesis time and seconds per slot, kept once the node has told them (asked
    /// again while it hasn't).
    clock: tokio::sync::OnceCell<(u64, u64)>,
}

/// One blob as served.
struct Served {
    bytes: Vec<u8>,
}

impl BlobFetcher {
    /// A fetcher for the beacon API at `base_url` (e.g. `http://127.0.0.1:5052`, or anvil's URL).
    pub fn new(base_url: &str) -> Result<Self, BeaconError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| BeaconError::Http {
                url: base_url.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            http,
            clock: tokio::sync::OnceCell::new(),
        })
    }

    /// The blob with `versioned_hash`, committed in L1 block `l1_block` at `l1_timestamp`.
    pub async fn fetch_blob(
        &self,
        l1_block: u64,
        l1_timestamp: u64,
        versioned_hash: B256,
    ) -> Result<Box<[u8; BYTES_PER_BLOB]>, BeaconError> {
        let mut ids = Vec::new();
        if let Some(slot) = self.slot_of(l1_timestamp).await {
            ids.push(slot);
        }
        if !ids.contains(&l1_block) {
            ids.push(l1_block);
        }
        let mut seen = Vec::new();
        let mut last_error = None;
        for id in ids {
            let served = match self.blobs_at(id).await {
                Ok(served) => served,
                Err(e) => {
                    last_error = Some(e);
                    continue;
                }
            };
            for blob in served {
                let Ok(bytes) = <[u8; BYTES_PER_BLOB]>::try_from(blob.bytes.as_slice()) else {
                    continue;
                };
                let Some(hash) = versioned_hash_of(&bytes) else {
                    continue;
                };
                if hash == versioned_hash {
                    return Ok(Box::new(bytes));
                }
                seen.push(hash);
            }
        }
        if seen.is_empty()
            && let Some(e) = last_error
        {
            return Err(e);
        }
        Err(BeaconError::NotFound {
            l1_block,
            versioned_hash,
            served: seen.len(),
            details: if seen.is_empty() {
                String::new()
            } else {
                format!(
                    ": {}",
                    seen.iter()
                        .map(|h| h.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
        })
    }

    /// The beacon slot of an L1 timestamp, if the node tells its genesis time.
    async fn slot_of(&self, timestamp: u64) -> Option<u64> {
        let (genesis_time, seconds_per_slot) = *self
            .clock
            .get_or_try_init(|| async { self.beacon_clock().await.ok_or(()) })
            .await
            .ok()?;
        (seconds_per_slot > 0 && timestamp >= genesis_time)
            .then(|| (timestamp - genesis_time) / seconds_per_slot)
    }

    /// The node's genesis time and seconds per slot (12 if it doesn't say).
    async fn beacon_clock(&self) -> Option<(u64, u64)> {
        let genesis = self.get_json("/eth/v1/beacon/genesis").await.ok()?;
        let genesis_time: u64 = genesis["data"]["genesis_time"].as_str()?.parse().ok()?;
        let seconds_per_slot = match self.get_json("/eth/v1/config/spec").await {
            Ok(spec) => spec["data"]["SECONDS_PER_SLOT"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(12),
            Err(_) => 12,
        };
        Some((genesis_time, seconds_per_slot))
    }

    async fn blobs_at(&self, block_id: u64) -> Result<Vec<Served>, BeaconError> {
        match self
            .get_json(&format!("/eth/v1/beacon/blobs/{block_id}"))
            .await
        {
            Ok(json) => {
                let items = json["data"].as_array().cloned().unwrap_or_default();
                Ok(items
                    .iter()
                    .filter_map(|v| v.as_str().and_then(decode_hex))
                    .map(|bytes| Served { bytes })
                    .collect())
            }
            Err(first) => {
                let json = self
                    .get_json(&format!("/eth/v1/beacon/blob_sidecars/{block_id}"))
                    .await
                    .map_err(|_| first)?;
                let items = json["data"].as_array().cloned().unwrap_or_default();
                Ok(items
                    .iter()
                    .filter_map(|v| v["blob"].as_str().and_then(decode_hex))
                    .map(|bytes| Served { bytes })
                    .collect())
            }
        }
    }

    async fn get_json(&self, path: &str) -> Result<Value, BeaconError> {
        let url = format!("{}{path}", self.base_url);
        let http_error = |reason: String| BeaconError::Http {
            url: url.clone(),
            reason,
        };
        let response = self
            .http
            .get(&url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| http_error(e.to_string()))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| http_error(e.to_string()))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            return Err(http_error(format!(
                "HTTP {status}: {}",
                text.chars().take(200).collect::<String>()
            )));
        }
        serde_json::from_slice(&body).map_err(|e| http_error(format!("not JSON: {e}")))
    }
}

/// The EIP-4844 versioned hash of a blob (`None` if it is not a valid blob: a field element
/// past the modulus).
pub fn versioned_hash_of(blob: &[u8; BYTES_PER_BLOB]) -> Option<B256> {
    let sidecar = BlobTransactionSidecar::try_from_blobs_with_settings(
        vec![Blob::from(*blob)],
        EnvKzgSettings::Default.get(),
    )
    .ok()?;
    sidecar.versioned_hashes().next()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    alloy::primitives::hex::decode(s).ok()
}
