//! What the `reads` and `sync-latency` modes share: opening a target (spawning a quiet anvil for
//! `spawn-anvil`), the load accounts, and a small deterministic random generator so that every
//! target gets requests with the same shape.

use std::path::{Path, PathBuf};

use alloy::primitives::{Address, keccak256};
use eyre::{Result, WrapErr, eyre};
use keel_l1::Anvil;

use crate::{
    Endpoint, Target,
    accounts::{self, Key, parse_key},
    anvil::spawn_quiet_anvil,
};

/// Settings both modes share.
#[derive(Debug, Clone)]
pub struct Common {
    /// Funder private key (hex).
    pub funder_key: String,
    /// Seed of the load account keys and of the request parameters.
    pub seed: String,
    /// anvil binary for spawn-anvil targets.
    pub anvil_bin: Option<PathBuf>,
    /// Limit for each setup step to be included.
    pub setup_timeout: std::time::Duration,
}

impl Default for Common {
    fn default() -> Self {
        Self {
            funder_key: accounts::DEFAULT_FUNDER_KEY.into(),
            seed: "keel-loadgen".into(),
            anvil_bin: None,
            setup_timeout: std::time::Duration::from_secs(120),
        }
    }
}

/// The funder and `n` load accounts (derived in parallel off the async threads).
pub async fn keys(common: &Common, n: usize) -> Result<(Key, Vec<Key>, Vec<Address>)> {
    let funder = parse_key(&common.funder_key)?;
    let seed = common.seed.clone();
    let keys = tokio::task::spawn_blocking(move || accounts::derive_accounts(&seed, n))
        .await
        .map_err(|e| eyre!("deriving accounts: {e}"))?;
    let addrs = accounts::addresses(&keys);
    Ok((funder, keys, addrs))
}

/// The URL of `target`, starting anvil for `spawn-anvil` (block time 1 s, logging off; stopped
/// when the returned guard is dropped).
pub async fn open_target(
    target: &Target,
    anvil_bin: Option<&Path>,
) -> Result<(Option<Anvil>, String)> {
    match &target.endpoint {
        Endpoint::Url(u) => Ok((None, u.clone())),
        Endpoint::SpawnAnvil => {
            let a = spawn_quiet_anvil(anvil_bin)
                .await
                .wrap_err_with(|| format!("target `{}`", target.name))?;
            eprintln!(
                "[{}] started anvil at {} (--block-time 1, logging off)",
                target.name, a.url
            );
            let url = a.url.clone();
            Ok((Some(a), url))
        }
    }
}

/// splitmix64: small, fast, deterministic; seeded from a string and a stream number so each
/// call kind gets its own sequence, the same on every target.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// The generator of `stream` under `seed`.
    pub fn new(seed: &str, stream: u64) -> Self {
        let mut pre = seed.as_bytes().to_vec();
        pre.extend_from_slice(&stream.to_be_bytes());
        let h = keccak256(&pre);
        Self(u64::from_be_bytes(h[..8].try_into().expect("8 bytes")))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A random address (never seen on any chain, for practical purposes).
    pub fn address(&mut self) -> Address {
        let mut b = [0u8; 24];
        for c in b.chunks_mut(8) {
            c.copy_from_slice(&self.next_u64().to_be_bytes());
        }
        Address::from_slice(&b[..20])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_per_stream() {
        let a: Vec<u64> = {
            let mut r = Rng::new("s", 1);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::new("s", 1);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut r = Rng::new("s", 2);
            (0..4).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut r = Rng::new("s", 3);
        assert!((0..100).all(|_| r.below(7) < 7));
        assert_ne!(r.address(), r.address());
    }
}
