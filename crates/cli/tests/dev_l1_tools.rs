//! `keel l2 --dev` on a fresh clone: it installs keel's pinned L1 tools with npm when
//! `tools/node_modules` is missing (the real `npm ci`, into a temporary copy of `tools/`), and
//! the anvil it starts never outlives it, even when that anvil is a wrapper script whose child is
//! the real anvil (like npm's `@foundry-rs/anvil` `bin.mjs`).

mod common;

use std::{
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
        let lines = common::stdout_lines(child.stdout.take().expect("stdout"));
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

/// Whether process `pid` is gone (or a zombie: dead, not yet reaped by whoever inherited it).
fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesized command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => true,
    }
}

/// Runs `keel l2 --dev` with an `anvil` on PATH that is a wrapper script starting the real anvil
/// as its child (not exec), like npm's `@foundry-rs/anvil` `bin.mjs`; sends `signal` to the node
/// and asserts that the real anvil does not outlive it.
fn anvil_ends_with_the_node(signal: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).expect("mkdir bin");
    let wrapper = bin.join("anvil");
    std::fs::write(
        &wrapper,
        "#!/bin/sh\n\
         # Like npm's @foundry-rs/anvil bin.mjs: the real anvil runs as a child, not exec'd.\n\
         \"$KEEL_TEST_REAL_ANVIL\" \"$@\" &\n\
         echo $! > \"$KEEL_TEST_ANVIL_PID\"\n\
         wait $!\n",
    )
    .expect("write wrapper");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let pid_file = tmp.path().join("anvil.pid");
    let real = common::tools_bin("anvil");
    let mut path = bin.clone().into_os_string();
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let mut node = DevNode::start(
        tmp.path(),
        &[
            ("KEEL_ANVIL", "anvil".as_ref()),
            ("PATH", path.as_os_str()),
            ("KEEL_TEST_REAL_ANVIL", real.as_os_str()),
            ("KEEL_TEST_ANVIL_PID", pid_file.as_os_str()),
        ],
    );
    let url = node.wait_for_line("HTTP RPC:", Duration::from_secs(60));
    let log = node.seen.join("\n");
    assert!(
        log.contains(&wrapper.display().to_string()),
        "keel did not use the wrapper on PATH:\n{log}"
    );
    assert_blocks_advance(&url);
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .expect("the wrapper wrote the real anvil's pid")
        .trim()
        .parse()
        .expect("a pid");
    // It is the real anvil, a grandchild of the node (the wrapper is its parent).
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).expect("anvil is running");
    assert_eq!(comm.trim(), "anvil");
    assert!(!process_gone(pid));

    node.signal(signal);
    node.wait_exit(Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !process_gone(pid) {
        assert!(
            Instant::now() < deadline,
            "the real anvil (pid {pid}) outlived keel l2 --dev (stopped with {signal}) by 10 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A node stopped with SIGTERM ends the anvil it started, wrapper's child included.
#[test]
fn wrapped_anvil_ends_when_the_node_is_stopped() {
    anvil_ends_with_the_node("-TERM");
}

/// A node killed with SIGKILL (no chance to clean up) still leaves no anvil behind: the
/// watchdog ends anvil's process group.
#[test]
fn wrapped_anvil_ends_when_the_node_is_killed() {
    anvil_ends_with_the_node("-KILL");
}
