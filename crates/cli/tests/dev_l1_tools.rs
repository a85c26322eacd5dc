//! `keel l2 --dev` on a fresh clone: it installs keel's pinned L1 tools with npm when
//! `tools/node_modules` is missing (the real `npm ci`, into a temporary copy of `tools/`), and
//! the anvil it starts never outlives it, even when that anvil is a wrapper script whose child is
//! the real anvil (like npm's `@foundry-rs/anvil` `bin.mjs`).

mod common;

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// A `keel l2 --dev` process with its stdout lines.
struct DevNode {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every line read so far.
    seen: Vec<String>,
}

impl DevNode {
    fn start(cwd: &Path, env: &[(&str, &std::ffi::OsStr)]) -> Self {
        let mut child = Command::new(common::keel_bin())
            .args([
                "l2",
                "--dev",
                "--http.port",
                "0",
                "--proof-coordinator.port",
                "0",
            ])
            .args(["--block-producer.block-time", "200"])
            .current_dir(cwd)
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn keel l2 --dev");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        DevNode {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads stdout until a line starting with `prefix` (after trimming); returns the rest.
    fn wait_for_line(&mut self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = self.lines.recv_timeout(left) else {
                panic!(
                    "keel l2 --dev printed no {prefix:?} line within {timeout:?}; output:\n{}",
                    self.seen.join("\n")
                );
            };
            self.seen.push(line.clone());
            if let Some(rest) = line.trim().strip_prefix(prefix) {
                return rest.trim().to_string();
            }
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "keel l2 still running after {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for DevNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// PATH without any directory that holds an `anvil`, so that only an install can provide one.
fn path_without_anvil() -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|d| !d.join("anvil").exists())
        .collect();
    std::env::join_paths(dirs).expect("PATH")
}

/// The head of the L2 at `url` must advance.
fn assert_blocks_advance(url: &str) {
    let first: u64 = common::cast(url, &["block-number"])
        .parse()
        .expect("block number");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now: u64 = common::cast(url, &["block-number"])
            .parse()
            .expect("block number");
        if now > first {
            return;
        }
        assert!(Instant::now() < deadline, "the L2 head stayed at {first}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// From a directory holding only a copy of `tools/package.json` and `tools/package-lock.json`
/// (no node_modules, no anvil on PATH), `keel l2 --dev` runs the real `npm ci`, writes the stamp
/// that scripts/test.sh also uses, says so in its log, and brings the rollup up.
#[test]
fn dev_installs_the_l1_tools_when_missing() {
    let repo_tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools");
    let tmp = tempfile::tempdir().expect("tempdir");
    let tools = tmp.path().join("tools");
    std::fs::create_dir(&tools).expect("mkdir tools");
    for name in ["package.json", "package-lock.json"] {
        std::fs::copy(repo_tools.join(name), tools.join(name)).expect("copy");
    }
    let path = path_without_anvil();
    let mut node = DevNode::start(
        tmp.path(),
        &[
            ("KEEL_TOOLS_DIR", tools.as_os_str()),
            ("PATH", path.as_os_str()),
        ],
    );
    // npm downloads ~40 MB: a generous timeout.
    let url = node.wait_for_line("HTTP RPC:", Duration::from_secs(900));
    let log = node.seen.join("\n");
    assert!(
        log.contains("installing keel's pinned L1 tools")
            && log.contains("npm ci --prefix")
            && log.contains("tools/node_modules is missing"),
        "the log does not say that (and why) it installs the tools:\n{log}"
    );
    assert!(
        log.contains("keel's L1 tools are installed"),
        "no install summary:\n{log}"
    );
    let anvil = tools.join("node_modules/.bin/anvil");
    assert!(anvil.is_file(), "{} was not installed", anvil.display());
    // The stamp is what scripts/test.sh computes (with sha256sum itself, from the copy's root).
    let expected = Command::new("sh")
        .arg("-c")
        .arg("sha256sum tools/package.json tools/package-lock.json | sha256sum")
        .current_dir(tmp.path())
        .output()
        .expect("sha256sum");
    let expected = String::from_utf8(expected.stdout).expect("utf8");
    let expected = expected.split_whitespace().next().expect("a sum");
    let stamp = std::fs::read_to_string(tools.join("node_modules/.keel-lock-stamp"))
        .expect("the install stamp was written");
    assert_eq!(stamp.trim(), expected);
    assert_blocks_advance(&url);
    node.signal("-TERM");
    let status = node.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "keel l2 --dev exited with {status}");

    // A second start finds the install up to date and runs no npm.
    let mut again = DevNode::start(
        tmp.path(),
        &[
            ("KEEL_TOOLS_DIR", tools.as_os_str()),
            ("PATH", path.as_os_str()),
        ],
    );
    let url = again.wait_for_line("HTTP RPC:", Duration::from_secs(60));
    let log = again.seen.join("\n");
    assert!(
        !log.contains("installing keel's pinned L1 tools"),
        "installed again although up to date:\n{log}"
    );
    assert_blocks_advance(&url);
}
