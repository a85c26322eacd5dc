//! The redb tables and their key/value layouts.

use redb::TableDefinition;

use crate::chunked::ChunkedTable;

/// block hash → RLP header
pub const HEADERS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("headers");
/// block hash → RLP body (transactions, ommers, withdrawals), in pieces (`chunked`)
pub const BODIES: ChunkedTable = TableDefinition::new("body_pieces");
/// block hash → its receipts, in pieces (`chunked`): `u32` count n, n `u32` end offsets, then
/// the receipt rows (`codec::encode_receipt_row`) back to back, all big-endian. A receipt lookup
/// reads the count, two offsets and its row (usually all in the first piece read), never the
/// whole block's receipts; a block's receipts are one read.
pub const RECEIPTS: ChunkedTable = TableDefinition::new("receipt_pieces");
/// block hash → the sender of each of its transactions, 20 bytes each, in order (canonical and
/// side blocks), so reads never recover signatures; in pieces (`chunked`)
pub const SENDERS: ChunkedTable = TableDefinition::new("sender_pieces");
/// block number → canonical block hash
pub const CANONICAL: TableDefinition<u64, &[u8; 32]> = TableDefinition::new("canonical");
/// block hash → block number
pub const BLOCK_NUMBERS: TableDefinition<&[u8; 32], u64> = TableDefinition::new("block_numbers");
/// tx hash → (number of its canonical block, index in block): 12 bytes, the block's hash being
/// one `CANONICAL` read away. Named anew because the old `tx_lookup` held (block hash, u64).
pub const TX_LOOKUP: TableDefinition<&[u8; 32], (u64, u32)> = TableDefinition::new("tx_index");
/// address → the head state's account (flat state), in `codec::encode_account`'s compact form
pub const ACCOUNTS: TableDefinition<&[u8; 20], &[u8]> = TableDefinition::new("accounts");
/// address ‖ slot (52 bytes) → value (32 bytes, big-endian), zero values absent
pub const STORAGE: TableDefinition<&[u8; 52], &[u8; 32]> = TableDefinition::new("storage");
/// code hash → bytecode
pub const CODE: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("code");
/// nibble path (one byte per nibble, `[]` = the root) → node RLP: the stored nodes of the head's
/// account trie only. Nibble-per-byte keys sort parents just before their subtrees, so the nodes
/// one block rewrites cluster.
pub const ACCOUNT_TRIE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("account_trie");
/// keccak256(address) (32 bytes) ‖ nibble path → node RLP: the head's storage tries. A whole trie
/// is the key range `owner ..< owner ‖ 0x10` (nibbles are ≤ 0x0f).
pub const STORAGE_TRIE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("storage_trie");
/// canonical block hash → the state diff that undoes it (for unwinding on a reorg and reading
/// older states), in pieces (`chunked`)
pub const STATE_REVERTS: ChunkedTable = TableDefinition::new("state_revert_pieces");
/// non-canonical block hash → the state diff that applies it on its parent's state, in pieces
pub const STATE_DIFFS: ChunkedTable = TableDefinition::new("state_diff_pieces");
/// code hash → number of the batch whose state diff published the code in full (0 = the genesis).
/// Created by its first write (like the rollup tables); before it, it reads as empty.
pub const PUBLISHED_CODES: TableDefinition<&[u8; 32], u64> =
    TableDefinition::new("published_codes");
/// small named values: the head, the genesis hash, the schema version
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

pub const META_HEAD: &str = "head";
pub const META_GENESIS: &str = "genesis";
pub const META_SCHEMA: &str = "schema";
/// Bumped whenever a table layout changes, so an old datadir is refused instead of misread.
/// Version 3 put the rollup tables (batches, their blobs and L1 commits, privileged txs, the L1
/// send journal) under it; version 4 stores senders (`SENDERS`) and one row per receipt without
/// its bloom (`RECEIPTS`); version 5 keeps only the head's trie nodes, by path (`ACCOUNT_TRIE`,
/// `STORAGE_TRIE`), instead of every root's nodes by hash; version 6 stores accounts (flat
/// state and state diffs) in a compact form (`codec::encode_account`); version 7 stores account
/// trie leaves without their empty-account tail (`codec::encode_trie_node`), indexes
/// transactions by block number (`TX_LOOKUP`) and stores bodies, senders, receipts (with an
/// offset index) and state diffs in pieces (`chunked`).
pub const SCHEMA_VERSION: u32 = 7;

/// First and last possible keys of an account's slots in [`STORAGE`] (an inclusive range).
pub fn storage_range(address: &alloy_primitives::Address) -> ([u8; 52], [u8; 52]) {
    (
        storage_key(address, &alloy_primitives::B256::ZERO),
        storage_key(address, &alloy_primitives::B256::repeat_byte(0xff)),
    )
}

/// Key of a storage slot in [`STORAGE`].
pub fn storage_key(address: &alloy_primitives::Address, slot: &alloy_primitives::B256) -> [u8; 52] {
    let mut k = [0u8; 52];
    k[..20].copy_from_slice(address.as_slice());
    k[20..].copy_from_slice(slot.as_slice());
    k
}
