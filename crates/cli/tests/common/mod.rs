//! Shared by the CLI end-to-end tests: the `keel l2` process, foundry's `cast`, the dev keys.

#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use alloy::primitives::U256;
use keel_types::dev;

pub mod l1;
pub mod price_proxy;
pub mod proofs;
pub mod prover;
pub mod proxy;

/// The `keel` binary under test: `KEEL_TEST_BIN` if set (a copy of this worktree's build, when
/// several worktrees share one target directory and may overwrite each other's binary), else
/// cargo's.
pub fn keel_bin() -> std::ffi::OsString {
    std::env::var_os("KEEL_TEST_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_keel").into())
}

/// The lines a child writes to `stdout`, as they come, from a thread of their own.
pub fn stdout_lines(stdout: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// A running `keel l2` process, killed when dropped.
pub struct Node {
    pub child: Child,
    pub url: String,
    /// Every stdout line after the URL, for failure messages.
    pub lines: mpsc::Receiver<String>,
    /// The stdout lines before the URL (the logs of the node's start).
    pub startup: Vec<String>,
}

impl Node {
    pub fn start(extra: &[&str]) -> Node {
        Self::start_with_env(extra, &[])
    }

    /// [`Node::start`] with extra environment variables (e.g. a `KEEL_FAULT_POINT`).
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Node {
        let mut command = Command::new(keel_bin());
        command.envs(env.iter().copied());
        command.args(["l2", "--http.port", "0"]);
        // Nodes of parallel tests must not all take the coordinator's default port.
        if !extra.contains(&"--proof-coordinator.port") {
            command.args(["--proof-coordinator.port", "0"]);
        }
        if !extra.contains(&"--block-producer.block-time") {
            command.args(["--block-producer.block-time", "200"]);
        }
        let mut child = command
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn keel l2");
        let lines = stdout_lines(child.stdout.take().expect("stdout"));
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut startup = Vec::new();
        let url = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines
                .recv_timeout(left)
                .expect("keel l2 printed its HTTP RPC address within 30 s");
            if let Some(url) = line.trim().strip_prefix("HTTP RPC:") {
                break url.trim().to_string();
            }
            startup.push(line);
        };
        Node {
            child,
            url,
            lines,
            startup,
        }
    }

    /// Reads stdout until a line starting with `prefix` (after trimming); returns the rest of it.
    pub fn wait_for_line(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("keel l2 printed no {prefix:?} line within 30 s"));
            if let Some(rest) = line.trim().strip_prefix(prefix) {
                return rest.trim().to_string();
            }
        }
    }

    /// The L1 URL of the banner's "L1 RPC:" line (without the note that keel started it).
    pub fn wait_for_l1_url(&self) -> String {
        let line = self.wait_for_line("L1 RPC:");
        line.split_whitespace()
            .next()
            .unwrap_or_else(|| panic!("an empty L1 RPC line"))
            .to_string()
    }

    pub fn cast(&self, args: &[&str]) -> String {
        cast(&self.url, args)
    }

    pub fn block_number(&self) -> u64 {
        self.cast(&["block-number"]).parse().expect("block number")
    }

    /// Wait until the head is at least `n`.
    pub fn wait_for_block(&self, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.block_number() < n {
            assert!(Instant::now() < deadline, "no block {n} within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Reads stdout (the logs) until a line containing every one of `needles`; returns it.
    pub fn wait_for_log(&self, needles: &[&str], timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| {
                panic!("keel l2 logged no line with {needles:?} in {timeout:?}")
            });
            if needles.iter().all(|n| line.contains(n)) {
                return line;
            }
        }
    }

    /// Polls `keel_getBatchByNumber(n)` until the batch is committed on L1; returns it.
    pub async fn wait_committed(&self, n: u64, timeout: Duration) -> serde_json::Value {
        use alloy::providers::{Provider, ProviderBuilder};
        let l2 = ProviderBuilder::new().connect_http(self.url.parse().expect("url"));
        let deadline = Instant::now() + timeout;
        loop {
            let batch: serde_json::Value = l2
                .raw_request("keel_getBatchByNumber".into(), (format!("{n:#x}"),))
                .await
                .expect("keel_getBatchByNumber");
            if batch["status"] == "committed" {
                return batch;
            }
            assert!(
                Instant::now() < deadline,
                "batch {n} not committed within {timeout:?}: {batch}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits up to `timeout` for the process to exit by itself; returns its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "keel l2 still running after {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn terminate(mut self) {
        // SIGTERM: the node shuts down cleanly.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "keel l2 exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "keel l2 did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        while self.lines.try_recv().is_ok() {}
    }
}

/// Polls `cond` every 200 ms until it holds; the time it took.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut cond: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !cond().await {
        assert!(
            started.elapsed() < timeout,
            "{what}: not within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    started.elapsed()
}

pub fn tools_bin(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tools/node_modules/.bin")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run `npm ci --prefix tools` (scripts/test.sh does)",
        path.display()
    );
    path
}

/// Run `cast SUBCOMMAND --rpc-url URL ARGS...`, failing the test with cast's stderr if it fails.
pub fn cast(url: &str, args: &[&str]) -> String {
    let out = Command::new(tools_bin("cast"))
        .args(&args[..1])
        .args(["--rpc-url", url])
        .args(&args[1..])
        .output()
        .expect("run cast");
    assert!(
        out.status.success(),
        "cast {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Write the dev genesis to `DIR/genesis.json` (for `--network`); its path.
pub fn write_dev_genesis(dir: &Path) -> PathBuf {
    let genesis = dir.join("genesis.json");
    std::fs::write(
        &genesis,
        serde_json::to_string_pretty(&keel_types::dev::dev_genesis()).expect("genesis json"),
    )
    .expect("write the genesis");
    genesis
}

pub fn key(i: usize) -> String {
    dev::DEV_ACCOUNTS[i].1.to_string()
}

pub fn address(i: usize) -> String {
    dev::DEV_ACCOUNTS[i].0.to_string()
}

/// Runs the `keel` binary with `args` (the L1/L2 URL variables of the environment removed).
pub fn keel(args: &[&str]) -> Output {
    Command::new(keel_bin())
        .args(args)
        .env_remove("KEEL_ETH_RPC_URL")
        .env_remove("KEEL_L2_RPC_URL")
        .output()
        .expect("run keel")
}

/// stdout and stderr of a finished command, for failure messages.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The stdout of a command that must have succeeded.
pub fn stdout_of(out: &Output) -> String {
    assert!(out.status.success(), "keel failed: {}", text(out));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The rest of the stdout line starting with `label`.
pub fn field<'a>(stdout: &'a str, label: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} line in {stdout}"))
        .trim()
}

/// `n` ether in wei.
pub fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// A provider signing as dev account `i`.
pub fn provider_as(url: &str, i: usize) -> alloy::providers::DynProvider {
    use alloy::providers::{Provider, ProviderBuilder};
    let signer: alloy::signers::local::PrivateKeySigner = key(i).parse().expect("key");
    ProviderBuilder::new()
        .wallet(alloy::network::EthereumWallet::from(signer))
        .connect_http(url.parse().expect("url"))
        .erased()
}

/// `keel bridge SUBCOMMAND ARGS --eth.rpc-url --l1.deployment --l2.rpc-url` against `l1` and `node`
/// (withdrawals, L2 transactions that refuse the L1 flags, get `--l2.rpc-url` only).
pub fn bridge(l1: &l1::TestL1, node: &Node, args: &[&str]) -> Output {
    let mut all = vec!["bridge"];
    all.extend_from_slice(args);
    if !args.first().is_some_and(|c| c.starts_with("withdraw")) {
        all.extend_from_slice(&[
            "--eth.rpc-url",
            &l1.anvil.url,
            "--l1.deployment",
            &l1.deployment_file,
        ]);
    }
    all.extend_from_slice(&["--l2.rpc-url", &node.url]);
    keel(&all)
}

/// What an L2 transaction cost its sender besides its value: gas × effective gas price, plus the
/// L1 fee and the operator fee its receipt shows on a chain with the L1 fee rule (docs/fees.md;
/// the dev chain has it).
pub async fn l2_tx_cost(
    provider: &impl alloy::providers::Provider,
    hash: alloy::primitives::B256,
) -> U256 {
    let receipt: serde_json::Value = provider
        .raw_request("eth_getTransactionReceipt".into(), (hash,))
        .await
        .expect("eth_getTransactionReceipt");
    let quantity = |name: &str| {
        receipt
            .get(name)
            .and_then(|v| v.as_str())
            .map_or(U256::ZERO, |text| {
                text.parse::<U256>()
                    .unwrap_or_else(|_| panic!("{name} of {receipt} is not a quantity"))
            })
    };
    let gas_used = quantity("gasUsed");
    assert!(!gas_used.is_zero(), "no gasUsed in {receipt}");
    gas_used * quantity("effectiveGasPrice")
        + quantity("l1Fee")
        + quantity("operatorFeeConstant")
        + quantity("operatorFeeScalar") * gas_used
}

/// Polls an L2 for the receipt of `hash`, read as JSON (a privileged transaction's type `0x7e`
/// is unknown to alloy, and the fee fields are extra); panics after `timeout`.
pub async fn wait_l2_receipt(
    l2: &impl alloy::providers::Provider,
    hash: alloy::primitives::B256,
    timeout: Duration,
) -> serde_json::Value {
    let deadline = Instant::now() + timeout;
    loop {
        let receipt: serde_json::Value = l2
            .raw_request("eth_getTransactionReceipt".into(), (hash,))
            .await
            .expect("eth_getTransactionReceipt");
        if !receipt.is_null() {
            return receipt;
        }
        assert!(
            Instant::now() < deadline,
            "expected an L2 receipt for {hash} within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
