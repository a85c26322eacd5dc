//! Starting anvil for a `spawn-anvil` target: `anvil --port P --block-time 1
//! --gas-limit 3000000000 --silent` on a free 127.0.0.1 port, killed when dropped.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use eyre::{Result, bail, eyre};

use crate::rpc::Rpc;

/// The arguments anvil is started with (besides `--host`/`--port`): 1 s blocks, and a block gas
/// limit of 3e9 so that the default 30M does not cap throughput.
pub const ANVIL_ARGS: &[&str] = &["--block-time", "1", "--gas-limit", "3000000000", "--silent"];

/// Finds the anvil binary: `explicit` if given, else `tools/node_modules/.bin/anvil` in the
/// current directory or one of its ancestors, else in this source tree, else `anvil` on PATH.
pub fn find_anvil(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        if p.is_file() {
            return Ok(p.to_path_buf());
        }
        bail!("--anvil-bin {}: no such file", p.display());
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
    bail!(
        "anvil not found: looked for tools/node_modules/.bin/anvil (install it with \
         `npm ci --prefix tools` from the repository root) and for `anvil` on PATH; or pass --anvil-bin"
    )
}

/// A running anvil, killed on drop.
#[derive(Debug)]
pub struct AnvilProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The port.
    pub port: u16,
}

impl Drop for AnvilProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| eyre!("finding a free port: {e}"))?;
    Ok(l.local_addr()?.port())
}

impl AnvilProcess {
    /// Starts `bin` with [`ANVIL_ARGS`] on a free port and waits (up to 30 s) until it answers
    /// `eth_chainId`. Retries with another port if anvil exits at once (port taken meanwhile).
    pub async fn spawn(bin: &Path) -> Result<Self> {
        let mut last_err = None;
        for _ in 0..3 {
            let port = free_port()?;
            let child = Command::new(bin)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(ANVIL_ARGS)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| eyre!("starting {}: {e}", bin.display()))?;
            let mut anvil = Self {
                child,
                url: format!("http://127.0.0.1:{port}"),
                port,
            };
            match anvil.wait_ready(Duration::from_secs(30)).await {
                Ok(()) => return Ok(anvil),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| eyre!("anvil did not start")))
    }

    async fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let rpc = Rpc::new("anvil", &self.url, 1, Duration::from_secs(2))?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("anvil exited at start ({status})");
            }
            if rpc.chain_id().await.is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("anvil at {} did not answer within {timeout:?}", self.url);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
