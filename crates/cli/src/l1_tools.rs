//! The L1 tools of `keel l2 --dev` (anvil), found and installed on demand, so that the README's
//! run command works on a fresh clone and from any working directory.
//!
//! Which anvil `keel l2 --dev` runs, in this order:
//! 1. `KEEL_ANVIL`: an anvil binary (a path, or a bare name looked up on PATH); nothing is
//!    installed.
//! 2. The pinned anvil of keel's `tools/` directory (npm's `tools/package-lock.json`), where
//!    `tools/` is `KEEL_TOOLS_DIR` if set, else the `tools/` of a keel checkout found by walking
//!    up from the working directory, else from the directory of the `keel` executable
//!    (`target/release/keel` lives inside the checkout), else the checkout `keel` was built from
//!    (`cargo install --path crates/cli` keeps that path). A checkout's `tools/` is recognized by
//!    its `package.json` named `keel-tools`. When `tools/node_modules` is missing or was
//!    installed from another `package-lock.json`, `npm ci` installs it first (once; about a
//!    minute). Up to date means: `node_modules/.keel-lock-stamp` holds the sha256 that
//!    `scripts/test.sh` computes over `package.json` and `package-lock.json` (the two agree, so
//!    either one's install satisfies the other) and `node_modules/.bin/anvil` exists.
//! 3. `anvil` on PATH, when there is no checkout (or no npm to install its tools with).

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::Stdio,
};

use eyre::{WrapErr, bail, eyre};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

/// An explicit anvil binary (path or name on PATH).
pub const ANVIL_ENV: &str = "KEEL_ANVIL";
/// keel's `tools/` directory (holding `package.json` and `package-lock.json`).
pub const TOOLS_DIR_ENV: &str = "KEEL_TOOLS_DIR";
/// Written into `tools/node_modules/` after an install; shared with `scripts/test.sh`.
pub const STAMP_FILE: &str = ".keel-lock-stamp";
/// The `name` in `tools/package.json`.
const TOOLS_PACKAGE_NAME: &str = "keel-tools";

/// Returns the anvil binary that `keel l2 --dev` should start, installing keel's pinned L1 tools
/// with `npm ci` first when they are missing or out of date (see the module docs).
pub async fn dev_anvil() -> eyre::Result<PathBuf> {
    if let Some(explicit) = std::env::var_os(ANVIL_ENV).filter(|v| !v.is_empty()) {
        let explicit = PathBuf::from(explicit);
        let bin = if explicit.components().count() == 1 {
            on_path(&explicit.to_string_lossy())
                .ok_or_else(|| eyre!("{ANVIL_ENV}={}: not found on PATH", explicit.display()))?
        } else {
            explicit
        };
        if !bin.is_file() {
            bail!("{ANVIL_ENV}={}: no such file", bin.display());
        }
        info!(anvil = %bin.display(), "using the anvil given by {ANVIL_ENV}");
        return Ok(bin);
    }
    match find_tools_dir()? {
        Some((tools, how)) => {
            info!(tools = %tools.display(), found = how, "keel's L1 tools");
            ensure_installed(&tools).await
        }
        None => match on_path("anvil") {
            Some(bin) => {
                info!(anvil = %bin.display(), "no keel checkout found; using anvil from PATH");
                Ok(bin)
            }
            None => bail!(
                "anvil not found: no keel checkout (a tools/ directory with keel's package.json) \
                 was found from the working directory, from the keel executable or at {}, and \
                 there is no `anvil` on PATH. Run keel from its checkout (it installs the pinned \
                 L1 tools with npm on first use), set {TOOLS_DIR_ENV}=/path/to/keel/tools, set \
                 {ANVIL_ENV}=/path/to/anvil, or install Foundry's anvil on PATH",
                compile_time_tools().display()
            ),
        },
    }
}

/// keel's `tools/` directory and how it was found, or `None` when there is no checkout.
pub fn find_tools_dir() -> eyre::Result<Option<(PathBuf, &'static str)>> {
    if let Some(dir) = std::env::var_os(TOOLS_DIR_ENV).filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        if !dir.join("package.json").is_file() || !dir.join("package-lock.json").is_file() {
            bail!(
                "{TOOLS_DIR_ENV}={}: expected keel's tools/ directory, with package.json and \
                 package-lock.json",
                dir.display()
            );
        }
        return Ok(Some((dir, TOOLS_DIR_ENV)));
    }
    if let Ok(cwd) = std::env::current_dir()
        && let Some(dir) = tools_in_ancestors(&cwd)
    {
        return Ok(Some((dir, "in the working directory's checkout")));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = tools_in_ancestors(&exe)
    {
        return Ok(Some((dir, "in the checkout of the keel executable")));
    }
    let built_from = compile_time_tools();
    if is_keel_tools(&built_from) {
        return Ok(Some((built_from, "in the checkout keel was built from")));
    }
    Ok(None)
}

/// The `tools/` of the checkout this binary was compiled in.
fn compile_time_tools() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools");
    path.canonicalize().unwrap_or(path)
}

fn tools_in_ancestors(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|a| a.join("tools"))
        .find(|t| is_keel_tools(t))
}

/// Whether `dir` holds a `package.json` named `keel-tools` and a `package-lock.json`.
fn is_keel_tools(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("package.json")) else {
        return false;
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    json["name"] == TOOLS_PACKAGE_NAME && dir.join("package-lock.json").is_file()
}

/// `name` in a PATH directory, if there is one.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The stamp of an install from these `package.json` and `package-lock.json`: exactly what
/// `scripts/test.sh` computes, `sha256sum tools/package.json tools/package-lock.json | sha256sum`
/// (the sha256 of sha256sum's two output lines, which name the files relative to the checkout).
pub fn lock_stamp(tools: &Path) -> eyre::Result<String> {
    let mut listing = String::new();
    for name in ["package.json", "package-lock.json"] {
        let path = tools.join(name);
        let bytes = std::fs::read(&path).wrap_err_with(|| format!("reading {}", path.display()))?;
        listing.push_str(&format!(
            "{}  tools/{name}\n",
            hex::encode(Sha256::digest(&bytes))
        ));
    }
    Ok(hex::encode(Sha256::digest(listing.as_bytes())))
}

/// Why `tools/node_modules` needs an install, or `None` when it is up to date.
fn install_reason(tools: &Path, stamp: &str) -> Option<&'static str> {
    let modules = tools.join("node_modules");
    if !modules.is_dir() {
        return Some("tools/node_modules is missing");
    }
    match std::fs::read_to_string(modules.join(STAMP_FILE)) {
        Ok(found) if found.trim() == stamp => {}
        Ok(_) => return Some("tools/node_modules was installed from another package-lock.json"),
        Err(_) => return Some("tools/node_modules has no install stamp"),
    }
    if !modules.join(".bin/anvil").is_file() {
        return Some("tools/node_modules has no anvil");
    }
    None
}

/// Installs `tools/node_modules` with `npm ci` when needed; returns its anvil.
async fn ensure_installed(tools: &Path) -> eyre::Result<PathBuf> {
    let anvil = tools.join("node_modules/.bin/anvil");
    let stamp = lock_stamp(tools)?;
    let Some(reason) = install_reason(tools, &stamp) else {
        return Ok(anvil);
    };
    let Some(npm) = on_path("npm") else {
        if let Some(bin) = on_path("anvil") {
            warn!(
                reason,
                anvil = %bin.display(),
                "cannot install keel's pinned L1 tools without npm; using anvil from PATH"
            );
            return Ok(bin);
        }
        bail!(
            "{reason}, and npm is not installed to install it: install Node.js >= 20 with npm \
             (e.g. `apt-get install nodejs npm`, or https://nodejs.org), then run `keel l2 --dev` \
             again or `npm ci --prefix {}`; or set {ANVIL_ENV}=/path/to/anvil (Foundry's anvil), \
             or pass --eth.rpc-url and --l1.deployment to use an L1 of your own",
            tools.display()
        );
    };
    info!(
        reason,
        "installing keel's pinned L1 tools (anvil, cast, solc): npm ci --prefix {} --no-audit \
         --no-fund (once; about 120 MB in tools/node_modules)",
        tools.display()
    );
    let mut npm_ci = std::process::Command::new(&npm);
    npm_ci
        .arg("ci")
        .arg("--prefix")
        .arg(tools)
        .args(["--no-audit", "--no-fund"])
        .stdin(Stdio::null());
    let output = tokio::task::spawn_blocking(move || npm_ci.output())
        .await
        .wrap_err("the npm ci task")?
        .wrap_err_with(|| format!("running {}", npm.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "npm ci --prefix {} failed ({}):\n{}\nfix the cause and run `keel l2 --dev` again, \
             or set {ANVIL_ENV}=/path/to/anvil",
            tools.display(),
            output.status,
            tail.join("\n")
        );
    }
    if !anvil.is_file() {
        bail!(
            "npm ci --prefix {} succeeded but installed no {}",
            tools.display(),
            anvil.display()
        );
    }
    let stamp_path = tools.join("node_modules").join(STAMP_FILE);
    std::fs::File::create(&stamp_path)
        .and_then(|mut f| writeln!(f, "{stamp}"))
        .wrap_err_with(|| format!("writing {}", stamp_path.display()))?;
    let summary = String::from_utf8_lossy(&output.stdout);
    let summary = summary
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("");
    info!(npm = summary.trim(), anvil = %anvil.display(), "keel's L1 tools are installed");
    Ok(anvil)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stamp of the repository's tools/ is the one scripts/test.sh computes (checked against
    /// the `sha256sum` tool itself).
    #[test]
    fn stamp_matches_sha256sum() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("sha256sum tools/package.json tools/package-lock.json | sha256sum")
            .current_dir(&root)
            .output()
            .expect("sha256sum");
        assert!(out.status.success());
        let expected = String::from_utf8(out.stdout).expect("utf8");
        let expected = expected.split_whitespace().next().expect("a sum");
        assert_eq!(lock_stamp(&root.join("tools")).expect("stamp"), expected);
    }

    #[test]
    fn the_checkout_tools_dir_is_recognized() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        assert!(is_keel_tools(&root.join("tools")));
        assert!(!is_keel_tools(&root.join("crates")));
        let found = tools_in_ancestors(&root.join("crates/cli/src")).expect("found");
        assert!(found.ends_with("tools"));
    }
}
