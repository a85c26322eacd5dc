//! Where `keel bridge` finds L1: the flags first (`--eth.rpc-url`, `--l1.bridge-address`,
//! `--l1.deployment`); what they leave out is asked of the L2 node at `--l2.rpc-url`
//! (`keel_getL1Contracts`: its bridge, and the L1 URL when the node started that L1 itself, as
//! `keel l2 --dev` does); then `./deployment.json` for the bridge and `http://127.0.0.1:8545`
//! for the URL. Each value's source is said on stderr, so stdout carries only the result.

use std::path::Path;

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
};
use eyre::{WrapErr, bail};
use keel_l1::Deployment;
use keel_rpc::L1Contracts;

use super::bridge::{Endpoints, RpcUrls, client};

/// The L1 URL used when neither `--eth.rpc-url` nor the L2 node gives one.
pub const DEFAULT_L1_RPC_URL: &str = "http://127.0.0.1:8545";

/// The deployment file read when nothing else names the bridge.
const DEFAULT_DEPLOYMENT: &str = "deployment.json";

/// What the L2 node said about its L1, or why it could not say.
type NodeAnswer = Result<L1Contracts, String>;

/// Asks the L2 node for its L1 contracts.
async fn ask_node(l2_rpc_url: &str) -> NodeAnswer {
    let l2 = client(l2_rpc_url, None).map_err(|e| format!("{e:#}"))?;
    let answer: Option<L1Contracts> = l2
        .raw_request("keel_getL1Contracts".into(), ())
        .await
        .map_err(|e| format!("could not be asked (keel_getL1Contracts: {e})"))?;
    answer.ok_or_else(|| "runs without L1 contracts".to_string())
}

/// The L1 JSON-RPC URL: `--eth.rpc-url`, else the one the L2 node started (`--dev`), else the
/// default. `node` is the L2 node's answer, if it was asked already.
async fn l1_url(urls: &RpcUrls, node: Option<&NodeAnswer>) -> String {
    if let Some(url) = &urls.eth_rpc_url {
        return url.clone();
    }
    let asked;
    let node = match node {
        Some(answer) => answer,
        None => {
            asked = ask_node(&urls.l2_rpc_url).await;
            &asked
        }
    };
    match node {
        Ok(L1Contracts {
            l1_rpc_url: Some(url),
            ..
        }) => {
            eprintln!(
                "L1 RPC {url}: the dev L1 of the L2 node at {} (no --eth.rpc-url given)",
                urls.l2_rpc_url
            );
            url.clone()
        }
        _ => {
            eprintln!(
                "L1 RPC {DEFAULT_L1_RPC_URL}: the default (no --eth.rpc-url given, and the L2 node \
                 at {} did not name its L1)",
                urls.l2_rpc_url
            );
            DEFAULT_L1_RPC_URL.to_string()
        }
    }
}

/// The L1 URL for commands that need no contract (`keel bridge balance`).
pub async fn resolve_l1_url(urls: &RpcUrls) -> String {
    l1_url(urls, None).await
}

/// The L1 URL and the CommonBridge proxy, from the flags or the L2 node (see the module docs).
/// A bridge learned from the node is checked to be on the L1 the URL points at, when the node
/// knows its L1's chain id.
pub async fn resolve_l1(e: &Endpoints) -> eyre::Result<(String, Address)> {
    let from_flags = match (e.bridge, &e.deployment) {
        (Some(bridge), _) => Some(bridge),
        (None, Some(path)) => Some(load_bridge(path)?),
        (None, None) => None,
    };
    if let Some(bridge) = from_flags {
        return Ok((l1_url(&e.urls, None).await, bridge));
    }
    let node = ask_node(&e.urls.l2_rpc_url).await;
    let url = l1_url(&e.urls, Some(&node)).await;
    let l2_url = &e.urls.l2_rpc_url;
    match node {
        Ok(contracts) => {
            eprintln!(
                "L1 bridge {}: from the L2 node at {l2_url} (keel_getL1Contracts)",
                contracts.bridge
            );
            if let Some(expected) = contracts.l1_chain_id {
                check_l1_chain_id(&url, expected.to(), l2_url).await?;
            }
            Ok((url, contracts.bridge))
        }
        Err(why) => {
            let default = Path::new(DEFAULT_DEPLOYMENT);
            if default.exists() {
                let bridge = load_bridge(default)?;
                eprintln!(
                    "L1 bridge {bridge}: from ./{DEFAULT_DEPLOYMENT} (the L2 node at {l2_url} {why})"
                );
                return Ok((url, bridge));
            }
            bail!(
                "no L1 bridge address: the L2 node at {l2_url} {why}, and there is no \
                 ./{DEFAULT_DEPLOYMENT}. Give --l2.rpc-url of a running keel node, or \
                 --l1.bridge-address, or --l1.deployment FILE (from `keel l2 deploy`)"
            )
        }
    }
}

fn load_bridge(path: &Path) -> eyre::Result<Address> {
    let d = Deployment::load(path).wrap_err_with(|| {
        format!(
            "reading the deployment file {} (from `keel l2 deploy`)",
            path.display()
        )
    })?;
    Ok(d.contracts.common_bridge.proxy)
}

/// Fails if the L1 at `url` is not the chain the L2 node's contracts are on.
async fn check_l1_chain_id(url: &str, expected: u64, l2_url: &str) -> eyre::Result<()> {
    let l1 = client(url, None)?;
    let actual = l1
        .get_chain_id()
        .await
        .wrap_err_with(|| format!("asking the L1 at {url} for its chain id"))?;
    if actual != expected {
        bail!(
            "the L1 at {url} has chain id {actual}, but the contracts of the L2 node at {l2_url} \
             are on chain {expected}: give the right --eth.rpc-url"
        );
    }
    Ok(())
}

/// An amount of wei as ETH, exactly (`1.5 ETH`, `0.000000001 ETH`, `0 ETH`).
pub fn format_eth(wei: U256) -> String {
    let unit = U256::from(10u64).pow(U256::from(18u64));
    let (whole, fraction) = (wei / unit, wei % unit);
    if fraction.is_zero() {
        return format!("{whole} ETH");
    }
    let digits = fraction.to_string();
    let padded = format!("{}{digits}", "0".repeat(18 - digits.len()));
    format!("{whole}.{} ETH", padded.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eth_amounts_are_exact() {
        let ether = U256::from(10u64).pow(U256::from(18u64));
        assert_eq!(format_eth(U256::ZERO), "0 ETH");
        assert_eq!(format_eth(ether), "1 ETH");
        assert_eq!(
            format_eth(ether * U256::from(3u64) / U256::from(2u64)),
            "1.5 ETH"
        );
        assert_eq!(format_eth(U256::from(1u64)), "0.000000000000000001 ETH");
        assert_eq!(
            format_eth(ether * U256::from(1000u64) + U256::from(10u64).pow(U256::from(9u64))),
            "1000.000000001 ETH"
        );
    }
}
