//! Genesis JSON (`keel l2 --network FILE`, `keel init`, `keel reconstruct`): parsed, turned into
//! a chain spec, and its genesis block computed, as the node does at start.

use keel_types::{ChainSpec, genesis_header};

/// Parses a genesis document; a valid one gets its header (and so its state root) computed.
pub fn genesis(data: &[u8]) {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((genesis, spec)) = ChainSpec::from_genesis_json(json) {
        let header = genesis_header(&genesis, &spec);
        assert_eq!(header.number, genesis.number.unwrap_or_default());
    }
}
