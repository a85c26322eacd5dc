//! How much each table holds: entries and bytes, for benchmarks and operators watching a datadir
//! grow (which table grows, and whether the trie tables stay close to the live trie's size).

use redb::{ReadableDatabase, ReadableTableMetadata, TableHandle};

use crate::{Store, StoreError};

/// One table's size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSize {
    pub name: String,
    pub entries: u64,
    /// Bytes of keys and values.
    pub stored_bytes: u64,
    /// Bytes of the table's B-tree pages besides them, including unused space in its pages.
    pub overhead_bytes: u64,
}

impl Store {
    /// The size of every table, largest first.
    pub fn table_sizes(&self) -> Result<Vec<TableSize>, StoreError> {
        let txn = self.database().begin_read()?;
        let mut sizes = Vec::new();
        for handle in txn.list_tables()? {
            let name = handle.name().to_string();
            let table = txn.open_untyped_table(handle)?;
            let stats = table.stats()?;
            sizes.push(TableSize {
                name,
                entries: table.len()?,
                stored_bytes: stats.stored_bytes(),
                overhead_bytes: stats.metadata_bytes() + stats.fragmented_bytes(),
            });
        }
        sizes.sort_by(|a, b| {
            (b.stored_bytes + b.overhead_bytes).cmp(&(a.stored_bytes + a.overhead_bytes))
        });
        Ok(sizes)
    }
}
