//! One module per command.

pub mod bridge;
pub mod bridge_claim;
pub mod bridge_l1;
pub mod deploy;
pub mod export;
pub mod genesis;
pub mod import;
pub mod l2;
pub mod prover;
pub mod reconstruct;
pub mod removedb;
pub mod timelock;
pub mod verify_state;
