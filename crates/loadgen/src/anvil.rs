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
