//! Starting anvil for a `spawn-anvil` target: keel-l1's launcher with 1 s blocks and a block gas
//! limit of 3e9 (so that anvil's default 30M does not cap throughput), on a free 127.0.0.1 port,
//! killed when dropped.

use std::path::Path;

use eyre::{Result, WrapErr};
use keel_l1::{Anvil, AnvilConfig};

/// The arguments anvil is started with besides the launcher's (`--host`, `--port`, `--hardfork`).
/// Not `--silent`: the launcher reads anvil's "Listening on" line (and drains the rest).
pub const ANVIL_ARGS: &[&str] = &["--gas-limit", "3000000000"];

/// Starts anvil (`bin`, or found as `keel_l1::find_anvil` does) for a load run.
pub async fn spawn_anvil(bin: Option<&Path>) -> Result<Anvil> {
    let config = AnvilConfig {
        bin: bin.map(Path::to_path_buf),
        block_time: Some(1),
        extra_args: ANVIL_ARGS.iter().map(|s| s.to_string()).collect(),
        ..AnvilConfig::default()
    };
    Anvil::spawn(&config).await.wrap_err("starting anvil")
}

/// Starts anvil like [`spawn_anvil`] and then turns its per-request and per-block logging off
/// with `anvil_setLoggingEnabled(false)`, which is what `--silent` does (the launcher cannot pass
/// `--silent`: it reads anvil's "Listening on" line). Without this anvil writes one line per
/// request to its stdout pipe, which costs it CPU in the read benchmark.
pub async fn spawn_quiet_anvil(bin: Option<&Path>) -> Result<Anvil> {
    let anvil = spawn_anvil(bin).await?;
    let rpc = crate::rpc::Rpc::new("anvil", &anvil.url, 1, std::time::Duration::from_secs(10))?;
    rpc.call::<serde_json::Value>("anvil_setLoggingEnabled", serde_json::json!([false]))
        .await
        .wrap_err("turning anvil's logging off")?;
    Ok(anvil)
}
