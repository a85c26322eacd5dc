//! A client for development L1s (anvil) whose wallet holds the ten dev keys of
//! `keel_types::dev`, signing with whichever key a transaction's `from` names.

use alloy::{
    network::EthereumWallet,
    providers::{DynProvider, Provider, ProviderBuilder, fillers::BlobGasFiller},
    signers::local::PrivateKeySigner,
    transports::http::reqwest::Url,
};
use keel_types::dev;

/// The signer of dev account `i` (0..10).
pub fn dev_signer(i: usize) -> PrivateKeySigner {
    // The ten keys are fixed valid secp256k1 keys (a keel-types test derives them).
    PrivateKeySigner::from_bytes(&dev::DEV_ACCOUNTS[i % dev::DEV_ACCOUNTS.len()].1)
        .unwrap_or_else(|_| unreachable!("dev keys are valid"))
}

/// The dev L1's committer key: `keccak256("keel dev committer")`. Not one of the ten dev
/// accounts, so that nothing a developer sends from those on the dev L1 takes the committer's
/// nonces; `keel l2 --dev` funds it and registers it as a sequencer.
pub fn dev_committer_signer() -> PrivateKeySigner {
    let key = alloy::primitives::keccak256("keel dev committer");
    // A keccak output is a valid secp256k1 key unless it is zero or past the group order, which
    // this fixed one is not (a test checks).
    PrivateKeySigner::from_bytes(&key).unwrap_or_else(|_| unreachable!("a valid fixed key"))
}

/// A client of `url` signing for every dev account. Nonces are asked from the node for each
/// transaction (alloy's default cached nonces would leave a gap after a transaction that fails at
/// estimation, and the next one would never be mined).
pub fn dev_wallet_provider(url: Url) -> DynProvider {
    let mut wallet = EthereumWallet::from(dev_signer(0));
    for i in 1..dev::DEV_ACCOUNTS.len() {
        wallet.register_signer(dev_signer(i));
    }
    ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .filler(BlobGasFiller::default())
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(wallet)
        .connect_http(url)
        .erased()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dev_committer_is_not_a_dev_account() {
        let committer = dev_committer_signer().address();
        assert!(dev::DEV_ACCOUNTS.iter().all(|(a, _)| *a != committer));
    }
}
