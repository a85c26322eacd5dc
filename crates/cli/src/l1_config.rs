//! Where the node finds its L1: the RPC URL and the contract addresses, from the deployment file
//! of `keel l2 deploy` (`--l1.deployment`) with `--l1.bridge-address` and
//! `--l1.on-chain-proposer-address` taking precedence.

use std::path::PathBuf;

use alloy::eips::BlockId;
use alloy_primitives::{Address, B256, U256};
use clap::Args;
use eyre::{WrapErr, bail};
use keel_l1::{Deployment, L1Client, L1ClientConfig, L1ReadBound, contracts::CommonBridge};
use tracing::{info, warn};

/// The node's L1 settings.
#[derive(Debug, Args)]
#[command(next_help_heading = "L1")]
pub struct L1Args {
    /// L1 JSON-RPC endpoint. Repeat it (or give a comma-separated list) for failover: the
    /// first that answers is used. With --dev and no URL, keel starts its own anvil.
    #[arg(
        long = "eth.rpc-url",
        env = "KEEL_ETH_RPC_URL",
        value_name = "URL",
        value_delimiter = ','
    )]
    pub eth_rpc_url: Vec<String>,
    /// Deployment file written by `keel l2 deploy` (contract addresses and the parameters they
    /// were initialized with). Checked against this node's genesis.
    #[arg(
        long = "l1.deployment",
        env = "KEEL_L1_DEPLOYMENT",
        value_name = "FILE"
    )]
    pub deployment: Option<PathBuf>,
    /// CommonBridge proxy address (overrides the deployment file).
    #[arg(
        long = "l1.bridge-address",
        env = "KEEL_L1_BRIDGE_ADDRESS",
        value_name = "ADDRESS"
    )]
    pub bridge: Option<Address>,
    /// OnChainProposer proxy address (overrides the deployment file).
    #[arg(
        long = "l1.on-chain-proposer-address",
        env = "KEEL_L1_ON_CHAIN_PROPOSER_ADDRESS",
        value_name = "ADDRESS"
    )]
    pub on_chain_proposer: Option<Address>,
}

/// How the block tags `safe` and `finalized` follow L1 (docs/rpc.md, Block tags).
#[derive(Debug, Args)]
#[command(next_help_heading = "Block tags (safe, finalized)")]
pub struct SettlementArgs {
    /// The L1 block at which `finalized` reads the OnChainProposer's `lastVerifiedBatch`:
    /// `finalized` (default: a verification counts once L1 itself reports its block as
    /// finalized, ~13 min on Ethereum), `safe`, `latest`, or N blocks below the head. `latest`
    /// with --dev unless given (anvil's `finalized` is 64 blocks behind its head). `safe` reads
    /// `lastCommittedBatch` at the committer's confirmations below the L1 head.
    #[arg(
        long = "settlement.l1-finality",
        env = "KEEL_SETTLEMENT_L1_FINALITY",
        value_name = "finalized|safe|latest|N"
    )]
    pub settlement_l1_finality: Option<L1ReadBound>,
    /// Milliseconds between reads of L1 for the two tags.
    #[arg(
        long = "settlement.poll-interval",
        env = "KEEL_SETTLEMENT_POLL_INTERVAL",
        default_value_t = 2000,
        value_name = "MS"
    )]
    pub settlement_poll_interval_ms: u64,
}

/// The L1Watcher's settings.
#[derive(Debug, Args)]
#[command(next_help_heading = "L1 watcher (deposits)")]
pub struct WatcherArgs {
    /// Milliseconds between polls of the bridge's `PrivilegedTxSent` logs once caught up.
    #[arg(
        long = "watcher.watch-interval",
        env = "KEEL_WATCHER_WATCH_INTERVAL",
        default_value_t = 1000,
        value_name = "MS"
    )]
    pub watch_interval_ms: u64,
    /// The highest L1 block whose deposits are read: `safe` (default), `finalized`, `latest`, or
    /// a number N of blocks below the head. A deposit is executed on L2 only once its L1 block
    /// is at or below this bound, so an L1 reorg can't take back a deposit the L2 already
    /// executed: `safe` (about 1 epoch, ~6 min, behind the head on Ethereum) is unlikely to be
    /// reorged, `finalized` (~13 min) can't be without slashing; `latest` is for dev chains
    /// only. Use N for an L1 without the `safe`/`finalized` tags. `latest` with --dev unless
    /// given (anvil puts `safe` 32 blocks behind its head). `--watcher.block-delay N` is an
    /// older spelling of N.
    #[arg(
        long = "watcher.read-up-to",
        alias = "watcher.block-delay",
        env = "KEEL_WATCHER_READ_UP_TO",
        value_name = "safe|finalized|latest|N"
    )]
    pub read_up_to: Option<L1ReadBound>,
    /// Most L1 blocks scanned per poll.
    #[arg(
        long = "watcher.max-block-step",
        env = "KEEL_WATCHER_MAX_BLOCK_STEP",
        default_value_t = 5000,
        value_name = "BLOCKS"
    )]
    pub max_block_step: u64,
}

/// When batches are sealed and how they are committed to L1.
#[derive(Debug, Args)]
#[command(next_help_heading = "Committer (batches to L1)")]
pub struct CommitterArgs {
    /// Milliseconds a batch stays open: then the blocks since the last batch are sealed into the
    /// next one (earlier if the next block would not fit its blob), whose withdrawal proofs
    /// `keel_getWithdrawalProof` then returns (5000 with --dev unless given, else 60000).
    #[arg(
        long = "committer.commit-time",
        env = "KEEL_COMMITTER_COMMIT_TIME",
        value_name = "MS"
    )]
    pub commit_time_ms: Option<u64>,
    /// On a chain with the L1 fee rule (docs/fees.md): seal a batch as soon as the L1 fees its
    /// transactions paid reach RATIO times what the batch costs on L1 (one blob and
    /// --committer.batch-l1-gas at its last block's L1 prices), so that fees match cost whether
    /// or not the batch fills its blob. 0 turns it off (batches then close on time or a full
    /// blob only).
    #[arg(
        long = "committer.seal-at-fee-coverage",
        env = "KEEL_COMMITTER_SEAL_AT_FEE_COVERAGE",
        value_name = "RATIO",
        default_value_t = 1.1,
        value_parser = parse_coverage
    )]
    pub seal_at_fee_coverage: f64,
    /// L1 gas one batch costs besides its blob (commitBatch and verifyBatches), for
    /// --committer.seal-at-fee-coverage.
    #[arg(
        long = "committer.batch-l1-gas",
        env = "KEEL_COMMITTER_BATCH_L1_GAS",
        value_name = "GAS",
        default_value_t = keel_types::fees::DEFAULT_BATCH_L1_GAS
    )]
    pub batch_l1_gas: u64,
    /// Private key of the sequencer account that sends `commitBatch` to the OnChainProposer
    /// (hex). Without it no batch is committed (sealed batches wait). --dev uses the deployer's
    /// dev key unless given.
    #[arg(
        long = "committer.l1-private-key",
        env = "KEEL_COMMITTER_L1_PRIVATE_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub l1_private_key: Option<B256>,
    /// Most the committer pays per gas (max fee), in wei. When L1 needs more it waits and logs
    /// why instead of overpaying, and it never bumps a pending commit past it.
    #[arg(
        long = "committer.max-fee-per-gas",
        env = "KEEL_COMMITTER_MAX_FEE_PER_GAS",
        default_value_t = 500_000_000_000,
        value_name = "WEI"
    )]
    pub max_fee_per_gas: u128,
    /// Most the committer pays per blob gas, in wei (same rules as --committer.max-fee-per-gas).
    #[arg(
        long = "committer.max-fee-per-blob-gas",
        env = "KEEL_COMMITTER_MAX_FEE_PER_BLOB_GAS",
        default_value_t = 100_000_000_000,
        value_name = "WEI"
    )]
    pub max_fee_per_blob_gas: u128,
    /// L1 blocks a commit may stay pending before it is replaced with bumped fees (same nonce).
    #[arg(
        long = "committer.bump-after",
        env = "KEEL_COMMITTER_BUMP_AFTER",
        default_value_t = 3,
        value_name = "BLOCKS"
    )]
    pub bump_after: u64,
    /// L1 blocks on top of a commit's block before the batch counts as committed; a commit that
    /// an L1 reorg drops before then is sent again (1 with --dev unless given, else 6).
    #[arg(
        long = "committer.confirmations",
        env = "KEEL_COMMITTER_CONFIRMATIONS",
        value_name = "BLOCKS"
    )]
    pub confirmations: Option<u64>,
    /// Validium: commit batches without a blob (the contracts must have been deployed with
    /// validium on; the node checks).
    #[arg(long = "validium", env = "KEEL_VALIDIUM")]
    pub validium: bool,
}

/// The resolved L1 settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L1Settings {
    /// The L1 RPCs, in failover order.
    pub eth_rpc_url: Vec<String>,
    /// The CommonBridge proxy.
    pub bridge: Address,
    /// The OnChainProposer proxy.
    pub on_chain_proposer: Address,
    /// L1 block to start scanning from (the deployment's first block), if known.
    pub deploy_block: Option<u64>,
    /// The L1's chain id, if known (from the deployment file).
    pub l1_chain_id: Option<u64>,
}

impl L1Settings {
    /// What `keel_getL1Contracts` reports. The L1 RPC URL is included only when the node
    /// started that L1 itself (`--dev`): a production node never reveals its L1 endpoint.
    pub fn rpc_report(&self, l1_started_by_node: bool) -> keel_rpc::L1Contracts {
        keel_rpc::L1Contracts {
            bridge: self.bridge,
            on_chain_proposer: self.on_chain_proposer,
            l1_chain_id: self.l1_chain_id.map(alloy_primitives::U64::from),
            deploy_block: self.deploy_block.map(alloy_primitives::U64::from),
            l1_rpc_url: l1_started_by_node
                .then(|| self.eth_rpc_url.first().cloned())
                .flatten(),
        }
    }

    /// Refuse a node whose L2 block gas limit is below the L1 bridge's `maxPrivilegedGasLimit`:
    /// a deposit's gas limit may reach that cap, and one above the block gas limit can never run
    /// (the chain includes it as failed rather than stall the deposits after it, but the
    /// depositor's call is lost). Read from the first L1 RPC that answers; an L1 that can't be
    /// reached now is only warned about (the node must be able to start during an L1 outage).
    pub async fn check_privileged_gas_cap(&self, block_gas_limit: u64) -> eyre::Result<()> {
        if self.eth_rpc_url.is_empty() {
            return Ok(());
        }
        let client = L1Client::new(L1ClientConfig::new(self.eth_rpc_url.clone()))
            .wrap_err("--eth.rpc-url")?;
        let cap = match client
            .call_sol(
                self.bridge,
                &CommonBridge::maxPrivilegedGasLimitCall {},
                BlockId::latest(),
            )
            .await
        {
            Ok(cap) => cap,
            Err(e) if e.is_unreachable() => {
                warn!(
                    error = %e,
                    "can't read the L1 bridge's maxPrivilegedGasLimit now: the block gas limit \
                     is not checked against it"
                );
                return Ok(());
            }
            Err(e) => {
                return Err(e).wrap_err_with(|| {
                    format!(
                        "reading maxPrivilegedGasLimit() of the L1 bridge {}",
                        self.bridge
                    )
                });
            }
        };
        check_block_gas_limit(block_gas_limit, cap)?;
        info!(
            max_privileged_gas_limit = %cap,
            block_gas_limit, "the L2 block gas limit holds the L1 bridge's privileged gas cap"
        );
        Ok(())
    }
}

/// Ok if every privileged transaction the L1 bridge accepts (gas limit up to `cap`) fits a block
/// of `block_gas_limit`.
fn check_block_gas_limit(block_gas_limit: u64, cap: U256) -> eyre::Result<()> {
    if cap > U256::from(block_gas_limit) {
        bail!(
            "the L2 block gas limit ({block_gas_limit}) is below the L1 bridge's \
             maxPrivilegedGasLimit ({cap}): a deposit with that gas limit could never run in a \
             block. Raise the block gas limit (the genesis `gasLimit` of --network, which blocks \
             keep) to at least {cap}, or lower the bridge's cap through its owner \
             (`setMaxPrivilegedGasLimit`, via the timelock)"
        );
    }
    Ok(())
}

impl L1Args {
    /// The deployment file, if given, checked against this node's chain id and genesis root.
    fn load_deployment(
        &self,
        chain_id: u64,
        genesis_state_root: B256,
    ) -> eyre::Result<Option<Deployment>> {
        Ok(match &self.deployment {
            Some(path) => {
                let d = Deployment::load(path)
                    .wrap_err_with(|| format!("--l1.deployment {}", path.display()))?;
                if !d.complete {
                    bail!(
                        "--l1.deployment {}: the deployment is not complete; run `keel l2 deploy` again with --out {} to finish it",
                        path.display(),
                        path.display()
                    );
                }
                if d.l2_chain_id != chain_id {
                    bail!(
                        "--l1.deployment {}: made for L2 chain id {}, this node's genesis has {chain_id}",
                        path.display(),
                        d.l2_chain_id
                    );
                }
                if d.genesis_state_root != genesis_state_root {
                    bail!(
                        "--l1.deployment {}: made for the genesis state root {}, this node's is {genesis_state_root}",
                        path.display(),
                        d.genesis_state_root
                    );
                }
                Some(d)
            }
            None => None,
        })
    }

    /// For `keel import`: the L1 RPC URLs and the CommonBridge proxy (`--l1.bridge-address`, or
    /// the deployment file's), or `None` if neither an RPC URL nor a bridge is given. The
    /// OnChainProposer is not needed. An RPC URL without a bridge, or a bridge without an RPC
    /// URL, is refused.
    pub fn resolve_bridge(
        &self,
        chain_id: u64,
        genesis_state_root: B256,
    ) -> eyre::Result<Option<(Vec<String>, Address)>> {
        let deployment = self.load_deployment(chain_id, genesis_state_root)?;
        let bridge = self
            .bridge
            .or(deployment.as_ref().map(|d| d.contracts.common_bridge.proxy));
        match (bridge, self.eth_rpc_url.is_empty()) {
            (None, true) => Ok(None),
            (Some(bridge), false) => Ok(Some((self.eth_rpc_url.clone(), bridge))),
            (None, false) => bail!(
                "--eth.rpc-url is set but no L1 bridge is: give --l1.deployment FILE (from `keel \
                 l2 deploy`) or --l1.bridge-address"
            ),
            (Some(_), true) => bail!(
                "an L1 bridge is given (--l1.deployment or --l1.bridge-address) but no \
                 --eth.rpc-url to read it"
            ),
        }
    }

    /// The L1 settings, or `None` if no L1 contract is configured. `chain_id` and
    /// `genesis_state_root` are this node's; a deployment file made for another L2 is refused.
    pub fn resolve(
        &self,
        chain_id: u64,
        genesis_state_root: B256,
    ) -> eyre::Result<Option<L1Settings>> {
        let deployment = self.load_deployment(chain_id, genesis_state_root)?;
        let bridge = self
            .bridge
            .or(deployment.as_ref().map(|d| d.contracts.common_bridge.proxy));
        let on_chain_proposer = self.on_chain_proposer.or(deployment
            .as_ref()
            .map(|d| d.contracts.on_chain_proposer.proxy));
        match (bridge, on_chain_proposer) {
            (None, None) => {
                if !self.eth_rpc_url.is_empty() {
                    bail!(
                        "--eth.rpc-url is set but no L1 contracts are: give --l1.deployment FILE \
                         (from `keel l2 deploy`) or --l1.bridge-address and --l1.on-chain-proposer-address"
                    );
                }
                Ok(None)
            }
            (Some(bridge), Some(on_chain_proposer)) => Ok(Some(L1Settings {
                eth_rpc_url: self.eth_rpc_url.clone(),
                bridge,
                on_chain_proposer,
                deploy_block: deployment.as_ref().and_then(|d| d.deploy_block),
                l1_chain_id: deployment.map(|d| d.l1_chain_id),
            })),
            (Some(_), None) => {
                bail!("--l1.bridge-address needs --l1.on-chain-proposer-address too")
            }
            (None, Some(_)) => {
                bail!("--l1.on-chain-proposer-address needs --l1.bridge-address too")
            }
        }
    }
}

/// A fee coverage ratio: 0 (off) or between 0.5 and 10.
fn parse_coverage(text: &str) -> Result<f64, String> {
    let ratio: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number (e.g. 1.1)"))?;
    if ratio == 0.0 || (0.5..=10.0).contains(&ratio) {
        Ok(ratio)
    } else {
        Err(format!(
            "{ratio} is out of range: 0 turns sealing on fees off, else give 0.5..=10 (e.g. 1.1)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_l1::deploy::{DeployedContracts, ProxyAddresses};

    fn deployment(complete: bool) -> Deployment {
        let pair = |b: u8| ProxyAddresses {
            proxy: Address::repeat_byte(b),
            implementation: Address::repeat_byte(b + 1),
        };
        Deployment {
            l1_chain_id: 31337,
            l2_chain_id: 7,
            deployer: Address::repeat_byte(9),
            first_nonce: 0,
            owner: Address::repeat_byte(9),
            timelock: None,
            timelock_delay: None,
            security_council: Address::ZERO,
            max_pause: 3600,
            l2_block_gas_limit: 30_000_000,
            genesis_state_root: B256::repeat_byte(0xaa),
            genesis_block_hash: B256::repeat_byte(0xbb),
            validium: false,
            sequencers: vec![Address::repeat_byte(9)],
            verifier_signers: vec![Address::repeat_byte(9)],
            verifier_threshold: 1,
            inclusion_max_wait: 1800,
            max_privileged_gas_limit: 1_000_000,
            contracts: DeployedContracts {
                common_bridge: pair(0x10),
                on_chain_proposer: pair(0x20),
                attestation_verifier: pair(0x30),
            },
            deploy_block: Some(5),
            complete,
        }
    }

    fn args(file: Option<PathBuf>) -> L1Args {
        L1Args {
            eth_rpc_url: vec!["http://127.0.0.1:8545".into()],
            deployment: file,
            bridge: None,
            on_chain_proposer: None,
        }
    }

    #[test]
    fn reads_the_file_and_lets_flags_override() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("d.json");
        deployment(true).save(&path).expect("save");
        let root = B256::repeat_byte(0xaa);
        let settings = args(Some(path.clone()))
            .resolve(7, root)
            .expect("valid")
            .expect("configured");
        assert_eq!(settings.bridge, Address::repeat_byte(0x10));
        assert_eq!(settings.on_chain_proposer, Address::repeat_byte(0x20));
        assert_eq!(settings.deploy_block, Some(5));

        let mut overridden = args(Some(path));
        overridden.bridge = Some(Address::repeat_byte(0x44));
        let settings = overridden
            .resolve(7, root)
            .expect("valid")
            .expect("configured");
        assert_eq!(settings.bridge, Address::repeat_byte(0x44));
        assert_eq!(settings.on_chain_proposer, Address::repeat_byte(0x20));
    }

    #[test]
    fn refuses_a_file_for_another_l2_or_an_unfinished_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("d.json");
        deployment(true).save(&path).expect("save");
        let root = B256::repeat_byte(0xaa);
        let err = args(Some(path.clone()))
            .resolve(8, root)
            .expect_err("chain id");
        assert!(err.to_string().contains("chain id 7"), "{err}");
        let err = args(Some(path.clone()))
            .resolve(7, B256::ZERO)
            .expect_err("root");
        assert!(err.to_string().contains("genesis state root"), "{err}");
        deployment(false).save(&path).expect("save");
        let err = args(Some(path)).resolve(7, root).expect_err("incomplete");
        assert!(err.to_string().contains("not complete"), "{err}");
    }

    #[test]
    fn the_watcher_read_bound_flag_parses() {
        use clap::Parser;
        #[derive(Debug, Parser)]
        struct Cli {
            #[command(flatten)]
            watcher: WatcherArgs,
        }
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("keel").chain(args.iter().copied()))
                .map(|c| c.watcher.read_up_to)
        };
        assert_eq!(parse(&[]).expect("no flag"), None);
        for (value, bound) in [
            ("safe", L1ReadBound::Safe),
            ("finalized", L1ReadBound::Finalized),
            ("latest", L1ReadBound::Latest),
            ("12", L1ReadBound::Delay(12)),
        ] {
            assert_eq!(
                parse(&["--watcher.read-up-to", value]).expect(value),
                Some(bound)
            );
        }
        // The older flag is a block delay.
        assert_eq!(
            parse(&["--watcher.block-delay", "3"]).expect("alias"),
            Some(L1ReadBound::Delay(3))
        );
        let err = parse(&["--watcher.read-up-to", "pending"]).expect_err("not a bound");
        assert!(err.to_string().contains("finalized"), "{err}");
    }

    #[test]
    fn needs_both_addresses_or_none() {
        let root = B256::ZERO;
        let mut only_bridge = args(None);
        only_bridge.bridge = Some(Address::repeat_byte(1));
        assert!(only_bridge.resolve(7, root).is_err());
        assert!(
            args(None).resolve(7, root).is_err(),
            "an RPC URL without contracts"
        );
        let mut nothing = args(None);
        nothing.eth_rpc_url.clear();
        assert_eq!(nothing.resolve(7, root).expect("no L1"), None);
    }

    #[test]
    fn the_block_gas_limit_must_hold_the_privileged_cap() {
        check_block_gas_limit(10_000_000, U256::from(10_000_000u64)).expect("equal is enough");
        check_block_gas_limit(30_000_000, U256::from(300_000u64)).expect("below");
        let err = check_block_gas_limit(5_000_000, U256::from(10_000_000u64))
            .expect_err("a cap above the block gas limit")
            .to_string();
        assert!(
            err.contains("(5000000)") && err.contains("(10000000)"),
            "{err}"
        );
    }
}
