//! A local anvil (Foundry's dev L1) started as a child process on a free 127.0.0.1 port and
//! stopped, with every process it started, when dropped or when this process dies. Used by the end-to-end tests and by `keel l2 --dev`.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use alloy::providers::{Provider, ProviderBuilder};

/// Why anvil could not be started.
#[derive(Debug, thiserror::Error)]
pub enum AnvilError {
    /// No anvil binary was found.
    #[error(
        "anvil not found: looked for tools/node_modules/.bin/anvil (install it with \
         `npm ci --prefix tools` from the repository root) and for `anvil` on PATH"
    )]
    NotFound,
    /// The given binary does not exist.
    #[error("anvil binary {0}: no such file")]
    NoSuchFile(PathBuf),
    /// Spawning or talking to the process failed.
    #[error("starting anvil ({bin}): {source}")]
    Spawn {
        /// The binary.
        bin: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// It exited or did not answer in time.
    #[error("anvil did not come up: {0}")]
    NotReady(String),
}

/// Finds the anvil binary: `explicit` if given, else `tools/node_modules/.bin/anvil` in the
/// current directory or one of its ancestors, else in this source tree, else `anvil` on PATH.
pub fn find_anvil(explicit: Option<&Path>) -> Result<PathBuf, AnvilError> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(AnvilError::NoSuchFile(p.to_path_buf()))
        };
    }
    let rel = Path::new("tools/node_modules/.bin/anvil");
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.extend(cwd.ancestors().map(Path::to_path_buf));
    }
    roots.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."));
    for root in roots {
        let p = root.join(rel);
        if p.is_file() {
            return Ok(p);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("anvil");
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(AnvilError::NotFound)
}

/// How to start anvil.
#[derive(Debug, Clone)]
pub struct AnvilConfig {
    /// The binary; found with [`find_anvil`] if unset.
    pub bin: Option<PathBuf>,
    /// `--hardfork` (keel's contracts need Cancun or later; tests use Prague).
    pub hardfork: String,
    /// `--block-time` in seconds; unset = a block per transaction (automine).
    pub block_time: Option<u64>,
    /// Further arguments (not `--silent`: the launcher reads anvil's "Listening on" line).
    pub extra_args: Vec<String>,
}

impl Default for AnvilConfig {
    fn default() -> Self {
        Self {
            bin: None,
            hardfork: "prague".into(),
            block_time: None,
            extra_args: Vec::new(),
        }
    }
}

/// A running anvil, stopped on drop with every process it started. Its accounts are those of the
/// test mnemonic (`keel_types::dev::DEV_ACCOUNTS`), each with 10,000 ETH.
///
/// The `anvil` that is started may not be anvil itself: npm's `@foundry-rs/anvil` installs a
/// `bin.mjs` node script as `anvil` that runs the real anvil as its child. Killing the direct
/// child would leave that real anvil running (holding its port) after the node is gone. So, on
/// Linux:
/// - anvil starts in a process group of its own, and drop ends the whole group: SIGTERM, then
///   SIGKILL to whatever is left after a short grace;
/// - a node killed with SIGKILL (or crashing) runs no drop, and `PR_SET_PDEATHSIG` reaches only
///   the direct child (the wrapper), not its children. So a tiny watchdog (`/bin/sh`, in a group
///   of its own so a terminal's Ctrl-C or a signal to the node's group does not end it first)
///   holds the read end of a pipe whose only write end is this process's: when this process
///   exits however it exits, the kernel closes the write end, the watchdog's `read` returns, and
///   it ends anvil's group (SIGTERM, then SIGKILL a second later). A pipe is closed by the kernel
///   even on SIGKILL, which is why it is used rather than a signal handler or an atexit hook.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    /// Ends anvil's process group when this process exits without dropping `Anvil`.
    watchdog: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The port.
    pub port: u16,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        // The watchdog first: once it is gone it cannot signal the group id after the group has
        // ended and the id has been reused.
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        stop_group(&mut self.child, Duration::from_secs(2));
    }
}

/// Ends the process group led by `child`: SIGTERM, then SIGKILL after `grace` if any member is
/// left; reaps `child`.
#[cfg(target_os = "linux")]
fn stop_group(child: &mut Child, grace: Duration) {
    let Ok(pgid) = libc::pid_t::try_from(child.id()) else {
        let _ = child.kill();
        let _ = child.wait();
        return;
    };
    // SAFETY: kill(2) with a negative pid signals the process group; no memory is involved.
    #[allow(unsafe_code)]
    let signal_group = |sig| unsafe { libc::kill(-pgid, sig) };
    signal_group(libc::SIGTERM);
    let deadline = Instant::now() + grace;
    loop {
        // Reap the leader when it exits (a zombie still counts as a member of the group).
        let _ = child.try_wait();
        // Signal 0: does any process of the group still exist?
        if signal_group(0) == -1 {
            break;
        }
        if Instant::now() >= deadline {
            signal_group(libc::SIGKILL);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(not(target_os = "linux"))]
fn stop_group(child: &mut Child, _grace: Duration) {
    let _ = child.kill();
    let _ = child.wait();
}

/// On Linux: anvil gets a process group of its own (see [`Anvil`]), and the kernel SIGKILLs it
/// when the thread that started it exits.
#[cfg(target_os = "linux")]
fn own_group_and_die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    // SAFETY: the closure runs in the child between fork and exec and only calls prctl, which is
    // async-signal-safe.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn own_group_and_die_with_parent(_cmd: &mut Command) {}

/// Starts the watchdog of the process group `pgid` (see [`Anvil`]); `None` (with a warning) if
/// `/bin/sh` cannot be started.
#[cfg(target_os = "linux")]
fn spawn_watchdog(pgid: u32) -> Option<Child> {
    use std::os::unix::process::CommandExt;
    // `read` returns at EOF, i.e. when the node's end of the pipe closes. INT, TERM and HUP are
    // ignored so that only that (or SIGKILL from the node's drop) ends the watchdog.
    let script = format!(
        "trap '' INT TERM HUP; read _; kill -s TERM -- -{pgid} 2>/dev/null; sleep 1; \
         kill -s KILL -- -{pgid} 2>/dev/null"
    );
    match Command::new("/bin/sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
    {
        Ok(child) => Some(child),
        Err(e) => {
            tracing::warn!(
                error = %e,
                "cannot start the anvil watchdog (/bin/sh): if this process is killed, anvil may \
                 keep running"
            );
            None
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn spawn_watchdog(_pgid: u32) -> Option<Child> {
    None
}

impl Anvil {
    /// Starts anvil on a port it picks itself (`--port 0`, read back from its "Listening on"
    /// line, so two anvils started at once can never race for one port) and waits (up to 30 s)
    /// until it answers `eth_chainId`.
    pub async fn spawn(config: &AnvilConfig) -> Result<Self, AnvilError> {
        let bin = find_anvil(config.bin.as_deref())?;
        let mut cmd = Command::new(&bin);
        cmd.args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--hardfork", &config.hardfork])
            .args(&config.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(secs) = config.block_time {
            cmd.args(["--block-time", &secs.to_string()]);
        }
        own_group_and_die_with_parent(&mut cmd);
        let mut child = cmd.spawn().map_err(|source| AnvilError::Spawn {
            bin: bin.clone(),
            source,
        })?;
        let stdout = child.stdout.take();
        let watchdog = spawn_watchdog(child.id());
        // From here on, dropping `anvil` (on any error below) stops the group.
        let mut anvil = Self {
            child,
            watchdog,
            url: String::new(),
            port: 0,
        };
        let Some(stdout) = stdout else {
            return Err(AnvilError::NotReady("no stdout".into()));
        };
        // Read until the "Listening on HOST:PORT" line, then keep draining stdout in the
        // background so anvil never blocks on a full pipe.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.trim().strip_prefix("Listening on ")
                    && let Some(sender) = tx.take()
                {
                    let _ = sender.send(addr.trim().to_string());
                }
            }
        });
        let addr = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)))
            .await
            .ok()
            .and_then(Result::ok);
        let Some(addr) = addr else {
            return Err(AnvilError::NotReady(
                "it printed no \"Listening on\" line within 30 s".into(),
            ));
        };
        let port = addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| AnvilError::NotReady(format!("unexpected listen address {addr}")))?;
        anvil.url = format!("http://127.0.0.1:{port}");
        anvil.port = port;
        anvil.wait_ready(Duration::from_secs(30)).await?;
        Ok(anvil)
    }

    async fn wait_ready(&mut self, timeout: Duration) -> Result<(), AnvilError> {
        let url = self
            .url
            .parse()
            .map_err(|e| AnvilError::NotReady(format!("bad url {}: {e}", self.url)))?;
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_http(url);
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    return Err(AnvilError::NotReady(format!("exited at start ({status})")));
                }
                Ok(None) => {}
                Err(e) => return Err(AnvilError::NotReady(e.to_string())),
            }
            if provider.get_chain_id().await.is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(AnvilError::NotReady(format!(
                    "{} did not answer within {timeout:?}",
                    self.url
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
