//! `keel l2 genesis`: the real binary writes a genesis whose printed state root is keel-types'
//! root of the file, with the L1 fee rule unless `--no-fees`, refuses to overwrite or to take
//! malformed input, and the file boots a node (`keel l2 --network FILE`) whose block 0 has that
//! root.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::Path,
    process::{Child, Command, Output, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256, U256, address};
use keel_types::{
    ChainSpec, FeeConfig, FeeParams, FeeScalars, Genesis, L1Prices, L2GenesisConfig, dev,
    fees::{DEFAULT_FEE_PARAMS, GAS_PRICE_ORACLE_ADDRESS},
    genesis_header, genesis_state_root, l2_genesis,
    l2_genesis::L2FeeGenesis,
};

const FUNDED: Address = address!("0x00000000000000000000000000000000000000AA");
const L1_FEE_VAULT: &str = "0x000000000000000000000000000000000000F001";
const FEE_OWNER: &str = "0x5B65000000000000000000000000000000005B65";

/// The fee flags every genesis with the fee rule needs.
const FEE_ARGS: [&str; 4] = [
    "--fees.l1-fee-vault",
    L1_FEE_VAULT,
    "--fees.owner",
    FEE_OWNER,
];

/// The fee rule [`FEE_ARGS`] and the defaults give.
fn default_fees() -> L2FeeGenesis {
    L2FeeGenesis {
        config: FeeConfig {
            l1_fee_vault: Some(L1_FEE_VAULT.parse().unwrap()),
            operator_fee_vault: None,
        },
        params: DEFAULT_FEE_PARAMS,
        owner: FEE_OWNER.parse().unwrap(),
    }
}

fn keel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(args)
        .output()
        .expect("run keel")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `keel l2 genesis ARGS --out PATH`, which must succeed; returns its stdout.
fn genesis_cmd(out: &Path, args: &[&str]) -> String {
    let mut all = vec!["l2", "genesis", "--out", out.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    let result = keel(&all);
    assert!(
        result.status.success(),
        "keel {all:?} failed: {}",
        stderr(&result)
    );
    stdout(&result)
}

/// The root in the final `state root 0x…` line.
fn printed_root(stdout: &str) -> B256 {
    let last = stdout.lines().last().expect("some output");
    last.strip_prefix("state root ")
        .unwrap_or_else(|| panic!("last line is not `state root 0x…`: {stdout}"))
        .parse()
        .expect("a 32-byte hex root")
}

fn read_genesis(path: &Path) -> Genesis {
    let json = std::fs::read_to_string(path).expect("genesis file");
    serde_json::from_str(&json).expect("genesis JSON")
}

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

#[test]
fn writes_a_genesis_with_the_printed_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("genesis.json");
    let fund = format!("{FUNDED}=5ether");
    let mut args = vec!["--dev-accounts", "--fund", &fund];
    args.extend(FEE_ARGS);
    let out = genesis_cmd(&path, &args);
    assert!(out.lines().any(|l| l == "chain id 1729001"), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("L1 fee rule on")),
        "{out}"
    );
    let root = printed_root(&out);

    let genesis = read_genesis(&path);
    assert_eq!(genesis_state_root(&genesis), root);
    assert_eq!(genesis.config.chain_id, dev::DEFAULT_L2_CHAIN_ID);
    assert_eq!(genesis.alloc.len(), 4 + 10 + 1 + 1);
    assert_eq!(genesis.alloc[&FUNDED].balance, ether(5));
    for (address, _) in dev::DEV_ACCOUNTS {
        assert_eq!(genesis.alloc[&address].balance, dev::dev_balance());
    }
    for (address, code) in [
        (keel_types::rules::L2_BRIDGE_ADDRESS, dev::l2_bridge_code()),
        (keel_types::rules::MESSENGER_ADDRESS, dev::messenger_code()),
        (dev::MULTICALL3_ADDRESS, dev::multicall3_code()),
    ] {
        assert_eq!(
            genesis.alloc[&address].code,
            Some(code),
            "code at {address}"
        );
    }
    let spec = ChainSpec::from_genesis(&genesis).expect("valid chain config");
    assert_eq!(spec.prague_time, Some(0));
    // The fee rule is on by default, with the default params.
    assert_eq!(spec.fees, Some(default_fees().config));
    assert_eq!(
        genesis.alloc[&GAS_PRICE_ORACLE_ADDRESS].code,
        Some(dev::gas_price_oracle_code())
    );

    // The same as building it in-process.
    let mut funded: Vec<_> = dev::DEV_ACCOUNTS
        .iter()
        .map(|(a, _)| (*a, dev::dev_balance()))
        .collect();
    funded.push((FUNDED, ether(5)));
    let config = L2GenesisConfig {
        funded,
        fees: Some(default_fees()),
        ..Default::default()
    };
    assert_eq!(genesis, l2_genesis(&config).expect("valid config"));
    assert_ne!(root, genesis_state_root(&dev::dev_genesis()));
}

#[test]
fn flags_set_the_header_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("genesis.json");
    let out = genesis_cmd(
        &path,
        &[
            "--chain-id",
            "424242",
            "--gas-limit",
            "30000000",
            "--base-fee",
            "7gwei",
            "--timestamp",
            "1700000000",
            "--no-fees",
        ],
    );
    assert!(out.lines().any(|l| l == "chain id 424242"), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("L1 fee rule off")),
        "{out}"
    );
    let genesis = read_genesis(&path);
    assert_eq!(genesis.config.chain_id, 424242);
    assert_eq!(genesis.gas_limit, 30_000_000);
    assert_eq!(genesis.base_fee_per_gas, Some(7_000_000_000));
    assert_eq!(genesis.timestamp, 1_700_000_000);
    assert_eq!(
        genesis.alloc.len(),
        4,
        "only the predeploys, no GasPriceOracle"
    );
    assert_eq!(genesis_state_root(&genesis), printed_root(&out));
    let spec = ChainSpec::from_genesis(&genesis).expect("valid chain config");
    assert_eq!(spec.fees, None);
    let header = genesis_header(&genesis, &spec);
    assert_eq!(header.base_fee_per_gas, Some(7_000_000_000));
    assert!(header.requests_hash.is_some(), "Prague at genesis");
}

#[test]
fn fee_flags_set_the_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("genesis.json");
    let operator_vault = "0x000000000000000000000000000000000000f002";
    let mut args = FEE_ARGS.to_vec();
    args.extend([
        "--fees.operator-fee-vault",
        operator_vault,
        "--fees.base-fee-scalar",
        "1000",
        "--fees.blob-base-fee-scalar",
        "4294967295",
        "--fees.operator-fee-scalar",
        "3",
        "--fees.operator-fee-constant",
        "1gwei",
        "--fees.l1-base-fee",
        "30gwei",
        "--fees.blob-base-fee",
        "5",
    ]);
    let out = genesis_cmd(&path, &args);
    let genesis = read_genesis(&path);
    let fees = L2FeeGenesis {
        config: FeeConfig {
            l1_fee_vault: Some(L1_FEE_VAULT.parse().unwrap()),
            operator_fee_vault: Some(operator_vault.parse().unwrap()),
        },
        params: FeeParams {
            prices: L1Prices {
                base_fee: 30_000_000_000,
                blob_base_fee: 5,
            },
            scalars: FeeScalars {
                base_fee_scalar: 1000,
                blob_base_fee_scalar: u32::MAX,
                operator_fee_scalar: 3,
                operator_fee_constant: 1_000_000_000,
            },
        },
        owner: FEE_OWNER.parse().unwrap(),
    };
    let config = L2GenesisConfig {
        fees: Some(fees),
        ..Default::default()
    };
    assert_eq!(genesis, l2_genesis(&config).expect("valid config"));
    assert_eq!(genesis_state_root(&genesis), printed_root(&out));
    assert_eq!(
        ChainSpec::from_genesis(&genesis).expect("valid").fees,
        Some(fees.config)
    );
    assert_eq!(
        genesis.alloc[&GAS_PRICE_ORACLE_ADDRESS].storage,
        Some(fees.oracle_storage())
    );
}

#[test]
fn refuses_to_overwrite_unless_forced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("genesis.json");
    std::fs::write(&path, "keep me").expect("write");
    let path_str = path.to_str().expect("utf-8 path");

    let mut args = vec!["l2", "genesis", "--out", path_str];
    args.extend(FEE_ARGS);
    let result = keel(&args);
    assert!(!result.status.success());
    let err = stderr(&result);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "keep me");
    assert!(stdout(&result).is_empty(), "{}", stdout(&result));

    let out = genesis_cmd(&path, &["--force", "--no-fees"]);
    assert_eq!(genesis_state_root(&read_genesis(&path)), printed_root(&out));
}

#[test]
fn malformed_input_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("genesis.json");
    let path_str = path.to_str().expect("utf-8 path");
    let ok = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
    // Each case with the fee flags (so only its own mistake is wrong).
    let cases: &[(&[&str], &str)] = &[
        (&["--fund", "0x1234=5ether"], "bad address"),
        (
            &["--fund", "0xnothex0000000000000000000000000000000000=1"],
            "bad address",
        ),
        (
            &["--fund", "0x70997970c51812dc3A010C7d01b50e0d17dc79C8=1"],
            "checksum",
        ),
        (&["--fund", &format!("{ok}=lots")], "bad amount"),
        (&["--fund", &format!("{ok}=1.5")], "bad amount"),
        (&["--fund", ok], "ADDRESS=AMOUNT"),
        (&["--chain-id", "0"], "chain id 0"),
        (
            &["--fund", "0x000000000000000000000000000000000000ffff=1"],
            "CommonBridgeL2",
        ),
        (
            &["--dev-accounts", "--fund", &format!("{ok}=1")],
            "more than once",
        ),
        (
            &["--fund", "0x420000000000000000000000000000000000000F=1"],
            "GasPriceOracle",
        ),
        (&["--fees.operator-fee-vault", "0x1234"], "bad address"),
        (&["--fees.base-fee-scalar", "4294967296"], "4294967296"),
        (&["--fees.l1-base-fee", "100ether"], "too large"),
        (&["--fees.operator-fee-constant", "lots"], "bad amount"),
    ];
    for (args, expect) in cases {
        let mut all = vec!["l2", "genesis", "--out", path_str];
        all.extend(FEE_ARGS);
        all.extend_from_slice(args);
        let result = keel(&all);
        let err = stderr(&result);
        assert!(!result.status.success(), "{args:?} succeeded");
        assert!(
            err.contains(expect),
            "{args:?}: expected {expect:?} in: {err}"
        );
        assert!(!path.exists(), "{args:?} wrote a file");
    }
    // Without the fee rule's vault or owner (or --no-fees), the error names the flag; --no-fees
    // with a fee flag is a contradiction.
    let owner = ["--fees.owner", FEE_OWNER];
    let vault = ["--fees.l1-fee-vault", L1_FEE_VAULT];
    let cases: &[(&[&str], &[&str])] = &[
        (&[], &["--fees.l1-fee-vault", "--no-fees"]),
        (&owner, &["--fees.l1-fee-vault", "--no-fees"]),
        (&vault, &["--fees.owner", "alias", "--no-fees"]),
        (
            &["--no-fees", "--fees.owner", FEE_OWNER],
            &["--no-fees", "--fees.owner"],
        ),
        (
            &["--no-fees", "--fees.l1-base-fee", "1"],
            &["--no-fees", "--fees.l1-base-fee"],
        ),
    ];
    for (args, expect) in cases {
        let mut all = vec!["l2", "genesis", "--out", path_str];
        all.extend_from_slice(args);
        let result = keel(&all);
        let err = stderr(&result);
        assert!(!result.status.success(), "{args:?} succeeded");
        for e in *expect {
            assert!(err.contains(e), "{args:?}: expected {e:?} in: {err}");
        }
        assert!(!path.exists(), "{args:?} wrote a file");
    }
    // Without --out, clap says what's missing.
    let result = keel(&["l2", "genesis"]);
    assert!(!result.status.success());
    assert!(stderr(&result).contains("--out"), "{}", stderr(&result));
}

#[test]
fn help_explains_the_fee_flags() {
    let out = keel(&["l2", "genesis", "--help"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let help = stdout(&out);
    for flag in [
        "--no-fees",
        "--fees.l1-fee-vault",
        "--fees.operator-fee-vault",
        "--fees.owner",
        "--fees.base-fee-scalar",
        "--fees.blob-base-fee-scalar",
        "--fees.operator-fee-scalar",
        "--fees.operator-fee-constant",
        "--fees.l1-base-fee",
        "--fees.blob-base-fee",
        "apply_l1_alias",
    ] {
        assert!(help.contains(flag), "{flag} not in --help: {help}");
    }
}

/// A running `keel l2`, killed when dropped.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One JSON-RPC call over plain HTTP/1.0 (no client crate needed for a single request).
fn rpc(addr: &str, method: &str, params: &str) -> serde_json::Value {
    let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#);
    let mut stream = TcpStream::connect(addr).expect("connect to the node");
    write!(
        stream,
        "POST / HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let (_, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
    let value: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    value["result"].clone()
}

#[test]
fn the_file_boots_a_node_with_the_same_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("genesis.json");
    let out = genesis_cmd(
        &path,
        &[
            "--chain-id",
            "31337001",
            "--fund",
            &format!("{FUNDED}=5ether"),
            FEE_ARGS[0],
            FEE_ARGS[1],
            FEE_ARGS[2],
            FEE_ARGS[3],
        ],
    );
    let root = printed_root(&out);

    let mut child = Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(["l2", "--http.port", "0", "--datadir", "memory", "--network"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn keel l2");
    let lines = child.stdout.take().expect("stdout");
    let _node = Node(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(lines).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("keel l2 printed its HTTP RPC address within 30 s");
        if let Some(url) = line.trim().strip_prefix("HTTP RPC:") {
            break url.trim().to_string();
        }
    };
    let addr = url.strip_prefix("http://").expect("http URL");

    assert_eq!(
        rpc(addr, "eth_chainId", "[]"),
        format!("{:#x}", 31_337_001u64)
    );
    let block = rpc(addr, "eth_getBlockByNumber", r#"["0x0",false]"#);
    let node_root: B256 = block["stateRoot"]
        .as_str()
        .unwrap_or_else(|| panic!("no stateRoot in {block}"))
        .parse()
        .expect("root");
    assert_eq!(node_root, root);
    let printed_hash = out
        .lines()
        .find_map(|l| l.strip_prefix("genesis hash "))
        .unwrap_or_else(|| panic!("no `genesis hash` line: {out}"));
    assert_eq!(block["hash"], printed_hash);
    let balance = rpc(addr, "eth_getBalance", &format!(r#"["{FUNDED}","latest"]"#));
    assert_eq!(balance, format!("{:#x}", ether(5)));
}
