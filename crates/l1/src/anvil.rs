//! A local anvil (Foundry's dev L1) started as a child process on a free 127.0.0.1 port and
//! killed when dropped. Used by the end-to-end tests and by `keel l2 --dev`.

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

/// A running anvil, killed on drop. Its accounts are those of the test mnemonic
/// (`keel_types::dev::DEV_ACCOUNTS`), each with 10,000 ETH.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The port.
    pub port: u16,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// On Linux, asks the kernel to SIGKILL anvil when the thread that started it exits, so an anvil
/// never outlives a node that was killed without the chance to stop it (SIGKILL, a crash).
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec and only calls prctl, which is
    // async-signal-safe.
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
fn die_with_parent(_cmd: &mut Command) {}

impl Anvil {
    /// Starts anvil on a port it picks itself (`--port 0`, read back from its "Listening on"
    /// line, so two anvils started at once can never race for one port) and waits (up to 30 s)
    /// until it answers `eth_chainId`.
    pub async fn spawn(config: &AnvilConfig) -> Result<Self, AnvilError> {
        let bin = find_anvil(config.bin.as_deref())?;
        let spawn_err = |source| AnvilError::Spawn {
            bin: bin.clone(),
            source,
        };
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
        die_with_parent(&mut cmd);
        let mut child = cmd.spawn().map_err(spawn_err)?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
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
            let _ = child.kill();
            let _ = child.wait();
            return Err(AnvilError::NotReady(
                "it printed no \"Listening on\" line within 30 s".into(),
            ));
        };
        let port = addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| AnvilError::NotReady(format!("unexpected listen address {addr}")))?;
        let mut anvil = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            port,
        };
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
