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
