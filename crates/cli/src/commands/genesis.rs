//! `keel l2 genesis`: write an L2 genesis file — the chain id, the funded accounts, the
//! predeploys every keel L2 carries (CommonBridgeL2, Messenger, Multicall3, the EIP-2935 history
//! contract) and, unless `--no-fees`, the L1 fee rule (`keelFees` in the chain config and the
//! GasPriceOracle predeploy, docs/fees.md) — and print its state root, which `keel l2 deploy`
//! hands to `OnChainProposer`.

use std::{
    fs::OpenOptions,
    io::{ErrorKind, Write},
    path::{Path, PathBuf},
    str::FromStr,
};

use alloy_primitives::{Address, Bytes, U256};
use clap::Args;
use eyre::WrapErr;
use keel_types::{
    ChainSpec, FeeConfig, FeeParams, FeeScalars, Genesis, L1Prices, L2GenesisConfig, dev,
    fees::DEFAULT_FEE_PARAMS,
    genesis_header, genesis_state_root, l2_genesis,
    l2_genesis::{DEFAULT_BASE_FEE_PER_GAS, DEFAULT_GAS_LIMIT, L2FeeGenesis},
};

/// Settings of `keel l2 genesis`.
#[derive(Debug, Args)]
pub struct GenesisArgs {
    /// File to write the genesis to (geth-style JSON, what `keel l2 --network` reads). An
    /// existing file is left alone unless --force is given.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Overwrite --out if it already exists.
    #[arg(long)]
    pub force: bool,
    /// EIP-155 chain id of the L2 (not 0).
    #[arg(long, value_name = "ID", default_value_t = dev::DEFAULT_L2_CHAIN_ID)]
    pub chain_id: u64,
    /// Fund the ten accounts of the test mnemonic ("test test ... junk", the accounts anvil and
    /// hardhat fund) with 1,000,000 ETH each. Their keys are public: for development only.
    #[arg(long)]
    pub dev_accounts: bool,
    /// Fund an account, as ADDRESS=AMOUNT: the amount in wei, or with a unit (`5ether`,
    /// `1.5ether`, `20gwei`, `100wei`). Repeat for more accounts; each address at most once.
    #[arg(long = "fund", value_name = "ADDRESS=AMOUNT", value_parser = parse_fund)]
    pub fund: Vec<(Address, U256)>,
    /// Gas limit of the genesis block.
    #[arg(long, value_name = "GAS", default_value_t = DEFAULT_GAS_LIMIT)]
    pub gas_limit: u64,
    /// Base fee per gas of the genesis block, in wei or with a unit (`1gwei`).
    #[arg(long, value_name = "WEI", default_value_t = DEFAULT_BASE_FEE_PER_GAS, value_parser = parse_base_fee)]
    pub base_fee: u64,
    /// Timestamp of the genesis block, in seconds since the Unix epoch.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub timestamp: u64,
    #[command(flatten)]
    pub fees: FeeArgs,
}

/// The L1 fee rule of the new chain (docs/fees.md): on by default.
#[derive(Debug, Args)]
#[command(next_help_heading = "L1 fee rule (docs/fees.md)")]
pub struct FeeArgs {
    /// Build a chain without the L1 fee rule: transactions pay only for L2 gas, and nothing pays
    /// for the chain's L1 data and settlement. No GasPriceOracle, no `keelFees`.
    #[arg(
        long = "no-fees",
        conflicts_with_all = [
            "l1_fee_vault", "operator_fee_vault", "owner", "base_fee_scalar",
            "blob_base_fee_scalar", "operator_fee_scalar", "operator_fee_constant", "l1_base_fee",
            "blob_base_fee",
        ]
    )]
    pub no_fees: bool,
    /// The account that receives every L1 fee, the fees that pay for the chain's blobs and L1
    /// transactions (e.g. the committer's funding account or a treasury). Required unless
    /// --no-fees.
    #[arg(long = "fees.l1-fee-vault", value_name = "ADDRESS", value_parser = parse_address)]
    pub l1_fee_vault: Option<Address>,
    /// The account that receives every operator fee. Default: none, the operator fee is burned
    /// (it is 0 unless --fees.operator-fee-scalar or --fees.operator-fee-constant say otherwise).
    #[arg(long = "fees.operator-fee-vault", value_name = "ADDRESS", value_parser = parse_address)]
    pub operator_fee_vault: Option<Address>,
    /// The GasPriceOracle's owner, the only account that may change the scalars and the operator
    /// fee: the L2 alias of your L1 governor (timelock), so that only an L1 message from it
    /// (`CommonBridge.sendToL2`) can. The alias is the L1 address plus
    /// 0x4b65000000000000000000000000000000004b65, mod 2^160 (`keel_types::apply_l1_alias`; on
    /// L1, `CommonBridge.applyL1Alias(address)`). The timelock of `keel l2 deploy` is its seventh
    /// deployment: `cast compute-address --nonce N+6 DEPLOYER`, N the deployer's nonce before
    /// deploying. Required unless --no-fees.
    #[arg(long = "fees.owner", value_name = "ADDRESS", value_parser = parse_address)]
    pub owner: Option<Address>,
    /// Weight of the L1 base fee in the L1 fee, in millionths (16 × this × L1 base fee per
    /// estimated byte).
    #[arg(long = "fees.base-fee-scalar", value_name = "MILLIONTHS", default_value_t = DEFAULT_FEE_PARAMS.scalars.base_fee_scalar)]
    pub base_fee_scalar: u32,
    /// Weight of the L1 blob base fee in the L1 fee, in millionths (this × blob base fee per
    /// estimated byte).
    #[arg(long = "fees.blob-base-fee-scalar", value_name = "MILLIONTHS", default_value_t = DEFAULT_FEE_PARAMS.scalars.blob_base_fee_scalar)]
    pub blob_base_fee_scalar: u32,
    /// Operator fee per unit of L2 gas used, in wei.
    #[arg(long = "fees.operator-fee-scalar", value_name = "WEI", default_value_t = DEFAULT_FEE_PARAMS.scalars.operator_fee_scalar, value_parser = parse_wei_u64)]
    pub operator_fee_scalar: u64,
    /// Operator fee per transaction, in wei or with a unit (`1gwei`).
    #[arg(long = "fees.operator-fee-constant", value_name = "WEI", default_value_t = DEFAULT_FEE_PARAMS.scalars.operator_fee_constant, value_parser = parse_wei_u64)]
    pub operator_fee_constant: u64,
    /// L1 base fee the chain charges at until its first blocks bring L1's (it moves at most 1/8
    /// per block), in wei or with a unit (`1gwei`).
    #[arg(long = "fees.l1-base-fee", value_name = "WEI", default_value_t = DEFAULT_FEE_PARAMS.prices.base_fee, value_parser = parse_wei_u64)]
    pub l1_base_fee: u64,
    /// L1 blob base fee the chain charges at until its first blocks bring L1's, in wei or with a
    /// unit.
    #[arg(long = "fees.blob-base-fee", value_name = "WEI", default_value_t = DEFAULT_FEE_PARAMS.prices.blob_base_fee, value_parser = parse_wei_u64)]
    pub blob_base_fee: u64,
}

impl FeeArgs {
    /// The fee rule these flags ask for: `None` with --no-fees; otherwise the vault and the owner
    /// must be given.
    pub fn fee_genesis(&self) -> eyre::Result<Option<L2FeeGenesis>> {
        if self.no_fees {
            return Ok(None);
        }
        let Some(l1_fee_vault) = self.l1_fee_vault else {
            eyre::bail!(
                "--fees.l1-fee-vault ADDRESS is required: the account that receives the L1 fees, \
                 which pay for the chain's blobs and L1 transactions (or pass --no-fees for a chain \
                 without the L1 fee rule)"
            );
        };
        let Some(owner) = self.owner else {
            eyre::bail!(
                "--fees.owner ADDRESS is required: the L2 alias of your L1 governor (timelock), \
                 the only account that may change the fee scalars; the alias is the L1 address + \
                 0x4b65000000000000000000000000000000004b65 mod 2^160 (keel_types::apply_l1_alias, \
                 or CommonBridge.applyL1Alias on L1); see `keel l2 genesis --help` (or pass \
                 --no-fees for a chain without the L1 fee rule)"
            );
        };
        Ok(Some(L2FeeGenesis {
            config: FeeConfig {
                l1_fee_vault: Some(l1_fee_vault),
                operator_fee_vault: self.operator_fee_vault,
            },
            params: FeeParams {
                prices: L1Prices {
                    base_fee: self.l1_base_fee,
                    blob_base_fee: self.blob_base_fee,
                },
                scalars: FeeScalars {
                    base_fee_scalar: self.base_fee_scalar,
                    blob_base_fee_scalar: self.blob_base_fee_scalar,
                    operator_fee_scalar: self.operator_fee_scalar,
                    operator_fee_constant: self.operator_fee_constant,
                },
            },
            owner,
        }))
    }
}

/// Writes the genesis and prints its chain id and state root (the root last).
pub fn run(args: GenesisArgs) -> eyre::Result<()> {
    let mut funded = Vec::new();
    if args.dev_accounts {
        funded.extend(
            dev::DEV_ACCOUNTS
                .iter()
                .map(|(address, _)| (*address, dev::dev_balance())),
        );
    }
    funded.extend(args.fund.iter().copied());
    let fees = args.fees.fee_genesis()?;
    let config = L2GenesisConfig {
        chain_id: args.chain_id,
        gas_limit: args.gas_limit,
        base_fee_per_gas: args.base_fee,
        timestamp: args.timestamp,
        extra_data: Bytes::new(),
        funded,
        fees,
    };
    let genesis = l2_genesis(&config)?;
    let spec = ChainSpec::from_genesis(&genesis).wrap_err("the built genesis is invalid")?;
    let state_root = genesis_state_root(&genesis);
    let hash = genesis_header(&genesis, &spec).hash_slow();

    let mut json = serde_json::to_string_pretty(&genesis).wrap_err("serializing the genesis")?;
    json.push('\n');
    // The file is what the node and the deployer will read: check it gives the same root.
    let reparsed: Genesis = serde_json::from_str(&json).wrap_err("re-reading the genesis")?;
    if genesis_state_root(&reparsed) != state_root {
        eyre::bail!("internal error: the genesis JSON doesn't round-trip to the same state root");
    }
    write_out(&args.out, &json, args.force)?;

    println!("wrote L2 genesis to {}", args.out.display());
    println!("chain id {}", args.chain_id);
    println!("funded accounts {}", config.funded.len());
    match &config.fees {
        Some(fees) => {
            let to = |v: Option<Address>| v.map_or("burned".to_string(), |a| format!("to {a}"));
            println!(
                "L1 fee rule on: L1 fees {}, operator fees {}, GasPriceOracle owner {}",
                to(fees.config.l1_fee_vault),
                to(fees.config.operator_fee_vault),
                fees.owner
            );
        }
        None => println!("L1 fee rule off (--no-fees)"),
    }
    println!("genesis hash {hash}");
    println!("state root {state_root}");
    Ok(())
}

/// Writes `json` to `path`; refuses an existing file unless `force`.
fn write_out(path: &Path, json: &str, force: bool) -> eyre::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => eyre::bail!(
            "{} already exists; not overwriting it (pass --force to replace it)",
            path.display()
        ),
        Err(e) => return Err(e).wrap_err_with(|| format!("creating {}", path.display())),
    };
    file.write_all(json.as_bytes())
        .and_then(|()| file.sync_all())
        .wrap_err_with(|| format!("writing {}", path.display()))
}

/// Parses `--fund ADDRESS=AMOUNT`.
fn parse_fund(s: &str) -> Result<(Address, U256), String> {
    let (address, amount) = s.split_once('=').ok_or_else(|| {
        format!("expected ADDRESS=AMOUNT (like 0x70997970C51812dc3A010C7d01b50e0d17dc79C8=5ether), got {s:?}")
    })?;
    Ok((parse_address(address.trim())?, parse_amount(amount.trim())?))
}

/// Parses a 0x-prefixed address; a mixed-case one must carry a valid EIP-55 checksum.
pub(crate) fn parse_address(s: &str) -> Result<Address, String> {
    let hex = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"));
    let Some(hex) = hex.filter(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    else {
        return Err(format!(
            "bad address {s:?}: expected 0x followed by 40 hex digits"
        ));
    };
    let address = Address::from_str(hex).map_err(|e| format!("bad address {s:?}: {e}"))?;
    let mixed_case =
        hex.bytes().any(|b| b.is_ascii_lowercase()) && hex.bytes().any(|b| b.is_ascii_uppercase());
    if mixed_case && address.to_checksum(None) != format!("0x{hex}") {
        return Err(format!(
            "bad address {s:?}: its EIP-55 checksum is wrong (a typo?); expected {}",
            address.to_checksum(None)
        ));
    }
    Ok(address)
}

/// Parses an amount of wei: a decimal number of wei, `0x` hex wei, or a decimal number with a
/// unit suffix (`ether`, `gwei`, `wei`). Fractions finer than one wei are refused, not rounded.
pub(crate) fn parse_amount(s: &str) -> Result<U256, String> {
    let bad = |why: &str| format!("bad amount {s:?}: {why}");
    let lower = s.to_ascii_lowercase();
    let (number, decimals) = [("ether", 18), ("gwei", 9), ("wei", 0)]
        .iter()
        .find_map(|(unit, decimals)| Some((lower.strip_suffix(unit)?.trim(), *decimals)))
        .unwrap_or((lower.as_str(), 0));
    if number.is_empty() {
        return Err(bad(
            "expected a number of wei, or a number with a unit like 5ether or 20gwei",
        ));
    }
    if let Some(hex) = number.strip_prefix("0x") {
        if decimals != 0 {
            return Err(bad("a hex amount is in wei and takes no unit"));
        }
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("expected hex digits after 0x"));
        }
        return U256::from_str_radix(hex, 16).map_err(|e| bad(&e.to_string()));
    }
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return Err(bad(
            "expected a number of wei, or a number with a unit like 5ether or 20gwei",
        ));
    }
    if decimals == 0 && !frac.is_empty() {
        return Err(bad(
            "a plain number is in wei, which has no fractions; add a unit, like 1.5ether",
        ));
    }
    if frac.len() > decimals {
        return Err(bad(
            "finer than one wei (at most 18 decimals of ether, 9 of gwei)",
        ));
    }
    let too_large = || bad("too large for a 256-bit balance");
    let ten = U256::from(10u64);
    let parse = |d: &str| {
        if d.is_empty() {
            Ok(U256::ZERO)
        } else {
            U256::from_str_radix(d, 10).map_err(|_| too_large())
        }
    };
    let scale = |n: U256, exp: usize| {
        ten.checked_pow(U256::from(exp))
            .and_then(|m| n.checked_mul(m))
            .ok_or_else(too_large)
    };
    let whole = scale(parse(int)?, decimals)?;
    let part = scale(parse(frac)?, decimals - frac.len())?;
    whole.checked_add(part).ok_or_else(too_large)
}

/// Parses `--base-fee`: an amount of wei that fits a `u64`.
fn parse_base_fee(s: &str) -> Result<u64, String> {
    let fee = parse_amount(s.trim())?;
    u64::try_from(fee).map_err(|_| format!("base fee {s:?} is too large (at most 2^64-1 wei)"))
}

/// Parses a fee setting: an amount of wei that fits a `u64`.
fn parse_wei_u64(s: &str) -> Result<u64, String> {
    let amount = parse_amount(s.trim())?;
    u64::try_from(amount).map_err(|_| format!("{s:?} is too large (at most 2^64-1 wei)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        let ether = U256::from(10u64).pow(U256::from(18u64));
        assert_eq!(parse_amount("0"), Ok(U256::ZERO));
        assert_eq!(parse_amount("123"), Ok(U256::from(123)));
        assert_eq!(parse_amount("123wei"), Ok(U256::from(123)));
        assert_eq!(parse_amount("0x10"), Ok(U256::from(16)));
        assert_eq!(parse_amount("5ether"), Ok(U256::from(5) * ether));
        assert_eq!(parse_amount("5 ether"), Ok(U256::from(5) * ether));
        assert_eq!(parse_amount("5ETHER"), Ok(U256::from(5) * ether));
        assert_eq!(
            parse_amount("1.5ether"),
            Ok(U256::from(15) * ether / U256::from(10))
        );
        assert_eq!(parse_amount(".5gwei"), Ok(U256::from(500_000_000u64)));
        assert_eq!(parse_amount("20gwei"), Ok(U256::from(20_000_000_000u64)));
        assert_eq!(parse_amount("0.000000000000000001ether"), Ok(U256::from(1)));
        for bad in [
            "",
            "ether",
            "abc",
            "-1",
            "1.5",
            "1.5wei",
            "0.0000000000000000001ether",
            "1e18",
            "5 eth",
            "0x10ether",
            "1.2.3ether",
            "0x",
            "0xg",
            ".ether",
        ] {
            let err = parse_amount(bad).unwrap_err();
            assert!(err.starts_with("bad amount"), "{bad:?}: {err}");
        }
        let max = U256::MAX.to_string();
        assert_eq!(parse_amount(&max), Ok(U256::MAX));
        assert!(
            parse_amount(&format!("{max}0"))
                .unwrap_err()
                .contains("too large")
        );
        assert!(
            parse_amount(&format!("{max}ether"))
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn addresses() {
        let a = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
        assert_eq!(parse_address(a).unwrap().to_checksum(None), a);
        assert_eq!(
            parse_address(&a.to_lowercase()).unwrap(),
            parse_address(a).unwrap()
        );
        assert_eq!(
            parse_address(&format!("0x{}", a[2..].to_uppercase())).unwrap(),
            parse_address(a).unwrap()
        );
        // One letter's case flipped: a checksum error.
        let typo = "0x70997970c51812dc3A010C7d01b50e0d17dc79C8";
        assert!(parse_address(typo).unwrap_err().contains("checksum"));
        for bad in [
            "",
            "0x",
            "0x1234",
            &a[2..],
            "0xzz997970C51812dc3A010C7d01b50e0d17dc79C8",
        ] {
            let err = parse_address(bad).unwrap_err();
            assert!(err.contains("40 hex digits"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn fund_pairs() {
        let (address, amount) =
            parse_fund("0x70997970C51812dc3A010C7d01b50e0d17dc79C8=2ether").unwrap();
        assert_eq!(address, dev::DEV_ACCOUNTS[1].0);
        assert_eq!(
            amount,
            U256::from(2) * dev::dev_balance() / U256::from(1_000_000)
        );
        assert!(
            parse_fund("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
                .unwrap_err()
                .contains("ADDRESS=AMOUNT")
        );
        assert!(parse_fund("0x12=1").unwrap_err().contains("bad address"));
        assert!(
            parse_fund("0x70997970C51812dc3A010C7d01b50e0d17dc79C8=lots")
                .unwrap_err()
                .contains("bad amount")
        );
    }

    /// `keel l2 genesis --out g.json ARGS`, parsed.
    fn parse(args: &[&str]) -> Result<GenesisArgs, clap::Error> {
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: GenesisArgs,
        }
        let all = ["genesis", "--out", "g.json"].iter().chain(args);
        <Cli as clap::Parser>::try_parse_from(all).map(|cli| cli.args)
    }

    #[test]
    fn fees_are_on_by_default_and_need_a_vault_and_an_owner() {
        let vault = "0x000000000000000000000000000000000000f001";
        let owner = "0x5b65000000000000000000000000000000005b65";
        let err = parse(&[]).unwrap().fees.fee_genesis().unwrap_err();
        assert!(err.to_string().contains("--fees.l1-fee-vault"), "{err}");
        let err = parse(&["--fees.l1-fee-vault", vault])
            .unwrap()
            .fees
            .fee_genesis()
            .unwrap_err();
        assert!(err.to_string().contains("--fees.owner"), "{err}");
        assert!(err.to_string().contains("apply_l1_alias"), "{err}");

        let fees = parse(&["--fees.l1-fee-vault", vault, "--fees.owner", owner])
            .unwrap()
            .fees
            .fee_genesis()
            .unwrap()
            .expect("the rule");
        assert_eq!(fees.params, DEFAULT_FEE_PARAMS);
        assert_eq!(fees.config.l1_fee_vault, Some(vault.parse().unwrap()));
        assert_eq!(fees.config.operator_fee_vault, None);
        assert_eq!(fees.owner, owner.parse::<Address>().unwrap());

        let fees = parse(&[
            "--fees.l1-fee-vault",
            vault,
            "--fees.owner",
            owner,
            "--fees.operator-fee-vault",
            owner,
            "--fees.base-fee-scalar",
            "1",
            "--fees.blob-base-fee-scalar",
            "2",
            "--fees.operator-fee-scalar",
            "3",
            "--fees.operator-fee-constant",
            "4gwei",
            "--fees.l1-base-fee",
            "5gwei",
            "--fees.blob-base-fee",
            "0x6",
        ])
        .unwrap()
        .fees
        .fee_genesis()
        .unwrap()
        .expect("the rule");
        assert_eq!(fees.config.operator_fee_vault, Some(owner.parse().unwrap()));
        assert_eq!(
            fees.params,
            FeeParams {
                prices: L1Prices {
                    base_fee: 5_000_000_000,
                    blob_base_fee: 6,
                },
                scalars: FeeScalars {
                    base_fee_scalar: 1,
                    blob_base_fee_scalar: 2,
                    operator_fee_scalar: 3,
                    operator_fee_constant: 4_000_000_000,
                },
            }
        );
    }

    #[test]
    fn no_fees_builds_a_chain_without_the_rule() {
        assert_eq!(
            parse(&["--no-fees"]).unwrap().fees.fee_genesis().unwrap(),
            None
        );
        for flag in [
            "--fees.l1-fee-vault",
            "--fees.operator-fee-vault",
            "--fees.owner",
        ] {
            let err = parse(&[
                "--no-fees",
                flag,
                "0x000000000000000000000000000000000000f001",
            ])
            .unwrap_err();
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::ArgumentConflict,
                "{flag}"
            );
        }
        let err = parse(&["--no-fees", "--fees.base-fee-scalar", "1"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn wei_settings() {
        assert_eq!(parse_wei_u64("1gwei"), Ok(1_000_000_000));
        assert_eq!(parse_wei_u64("0"), Ok(0));
        assert_eq!(parse_wei_u64(&u64::MAX.to_string()), Ok(u64::MAX));
        assert!(parse_wei_u64("19ether").unwrap_err().contains("too large"));
        assert!(parse_wei_u64("x").unwrap_err().contains("bad amount"));
    }

    #[test]
    fn base_fee() {
        assert_eq!(parse_base_fee("1gwei"), Ok(1_000_000_000));
        assert_eq!(parse_base_fee("7"), Ok(7));
        assert!(
            parse_base_fee("100ether")
                .unwrap_err()
                .contains("too large")
        );
    }
}
