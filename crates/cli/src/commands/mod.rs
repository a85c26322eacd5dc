//! One module per command.

pub mod export;
pub mod import;
pub mod l2;
