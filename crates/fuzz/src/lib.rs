//! keel-fuzz: the bodies of keel's fuzz targets, one per input that reaches the node from outside
//! the process (docs/reliability.md, Fuzzing).
//!
//! Each target is a plain `fn(&[u8])` that feeds the bytes to the real decoder or entry point and
//! panics only when an invariant breaks (a round trip that differs, an answer that is not
//! JSON-RPC). The cargo-fuzz crate in `fuzz/` wraps each one in `fuzz_target!` (nightly,
//! libFuzzer); this crate's `tests/corpus.rs` runs every committed corpus and regression input
//! through the same functions on stable, in the normal test suite. [`seeds`] writes the seed
//! corpora from real data.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

mod codec;
mod genesis;
mod l1_log;
mod prover_frame;
pub mod rpc;
pub mod seeds;

/// A fuzz target: its name (the `fuzz/fuzz_targets/NAME.rs` file and the corpus directory) and
/// its body.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// Every fuzz target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "tx",
        run: codec::tx,
    },
    Target {
        name: "block",
        run: codec::block,
    },
    Target {
        name: "block_file",
        run: codec::block_file,
    },
    Target {
        name: "state_diff",
        run: codec::state_diff,
    },
    Target {
        name: "blob",
        run: codec::blob,
    },
    Target {
        name: "blob_payload",
        run: codec::blob_payload,
    },
    Target {
        name: "prover_frame",
        run: prover_frame::prover_frame,
    },
    Target {
        name: "l1_log",
        run: l1_log::l1_log,
    },
    Target {
        name: "genesis",
        run: genesis::genesis,
    },
    Target {
        name: "rpc",
        run: rpc::rpc,
    },
];

/// The target named `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().copied().find(|t| t.name == name)
}

pub use codec::{blob, blob_payload, block, block_file, state_diff, tx};
pub use genesis::genesis;
pub use l1_log::l1_log;
pub use prover_frame::prover_frame;
pub use rpc::rpc;
