//! Rules of every keel chain, whatever its genesis: the addresses of the L2 system contracts that
//! execution treats specially (docs/architecture.md, Chain rules; docs/contracts.md, L2 system
//! contracts). The executor mints a privileged tx's value only when it comes from
//! [`L2_BRIDGE_ADDRESS`]; the state-diff bound and the batch's messages follow the
//! [`MESSENGER_ADDRESS`]'s logs.

use alloy_primitives::{Address, address};

/// The L2 bridge (`CommonBridgeL2`), a genesis predeploy (docs/contracts.md, L2 system contracts).
pub const L2_BRIDGE_ADDRESS: Address = address!("0x000000000000000000000000000000000000ffff");

/// The L2→L1 `Messenger`, a genesis predeploy.
pub const MESSENGER_ADDRESS: Address = address!("0x000000000000000000000000000000000000fffe");
