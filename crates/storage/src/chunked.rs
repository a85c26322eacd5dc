//! Large per-block values (bodies, senders, state diffs) stored as pieces of at most [`CHUNK`]
//! bytes under `(block hash, piece number)`. redb gives an entry larger than a page a
//! power-of-two run of pages, so a 33 KiB state diff took 64 KiB and a 146 KiB body 256 KiB;
//! pieces that fill their pages leave only the last one rounded up.

use redb::{ReadableTable, Table, TableDefinition};

use crate::StoreError;

/// A table of chunked values.
pub(crate) type ChunkedTable = TableDefinition<'static, (&'static [u8; 32], u16), &'static [u8]>;

/// Bytes per piece: 16 KiB pages less room for the leaf's header and the entry's key, so that a
/// full piece takes exactly four pages.
pub(crate) const CHUNK: usize = 16 * 1024 - 128;

type Key<'a> = (&'a [u8; 32], u16);

/// Store `value` under `key`, replacing whatever was there. An empty value is one empty piece,
/// so it still reads back as present.
pub(crate) fn insert(
    table: &mut Table<'_, Key<'static>, &'static [u8]>,
    key: &[u8; 32],
    value: &[u8],
) -> Result<(), StoreError> {
    remove(table, key)?;
    if value.is_empty() {
        table.insert((key, 0), [].as_slice())?;
        return Ok(());
    }
    for (i, piece) in value.chunks(CHUNK).enumerate() {
        let i = u16::try_from(i)
            .map_err(|_| StoreError::corrupt("chunked value", format!("{} bytes", value.len())))?;
        table.insert((key, i), piece)?;
    }
    Ok(())
}

/// Remove the value under `key`; whether there was one.
pub(crate) fn remove(
    table: &mut Table<'_, Key<'static>, &'static [u8]>,
    key: &[u8; 32],
) -> Result<bool, StoreError> {
    let mut i = 0u16;
    while table.remove((key, i))?.is_some() {
        i = match i.checked_add(1) {
            Some(next) => next,
            None => break,
        };
    }
    Ok(i > 0)
}

/// The whole value under `key`.
pub(crate) fn get(
    table: &impl ReadableTable<Key<'static>, &'static [u8]>,
    key: &[u8; 32],
) -> Result<Option<Vec<u8>>, StoreError> {
    let mut out: Option<Vec<u8>> = None;
    for entry in table.range((key, 0u16)..=(key, u16::MAX))? {
        let (_, piece) = entry?;
        out.get_or_insert_with(Vec::new)
            .extend_from_slice(piece.value());
    }
    Ok(out)
}

/// Bytes `start .. start + len` of the value under `key`, reading only the pieces they are in;
/// `None` if there is no value, fewer bytes if the value ends first.
pub(crate) fn get_range(
    table: &impl ReadableTable<Key<'static>, &'static [u8]>,
    key: &[u8; 32],
    start: usize,
    len: usize,
) -> Result<Option<Vec<u8>>, StoreError> {
    let end = start.saturating_add(len);
    let (first, last) = (start / CHUNK, end.saturating_sub(1) / CHUNK);
    let (Ok(first), Ok(last)) = (u16::try_from(first), u16::try_from(last.max(first))) else {
        // Past any value's end; still say whether the value exists.
        return Ok(table.get((key, 0))?.map(|_| Vec::new()));
    };
    let mut out = Vec::with_capacity(len);
    let mut found = false;
    for entry in table.range((key, first)..=(key, last))? {
        let (k, piece) = entry?;
        found = true;
        let offset = usize::from(k.value().1) * CHUNK;
        let piece = piece.value();
        let from = start.saturating_sub(offset).min(piece.len());
        let to = end.saturating_sub(offset).min(piece.len());
        out.extend_from_slice(&piece[from..to]);
    }
    // Only a range past the value's end (or no value) reads nothing: then ask whether it exists.
    if !found {
        found = table.get((key, 0))?.is_some();
    }
    Ok(found.then_some(out))
}

#[cfg(test)]
mod tests {
    use redb::{Database, ReadableDatabase, ReadableTableMetadata, backends::InMemoryBackend};

    use super::*;

    const T: ChunkedTable = TableDefinition::new("chunked_test");

    fn bytes(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn values_of_every_size_round_trip_and_replace_each_other() {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .unwrap();
        let sizes = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * CHUNK + 17];
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(T).unwrap();
            for (i, n) in sizes.iter().enumerate() {
                insert(&mut t, &[i as u8; 32], &bytes(*n)).unwrap();
            }
            // A shorter value replaces a longer one whole.
            insert(&mut t, &[6; 32], &bytes(10)).unwrap();
        }
        txn.commit().unwrap();

        let txn = db.begin_read().unwrap();
        let t = txn.open_table(T).unwrap();
        for (i, n) in sizes.iter().enumerate().take(6) {
            assert_eq!(
                get(&t, &[i as u8; 32]).unwrap(),
                Some(bytes(*n)),
                "size {n}"
            );
        }
        assert_eq!(get(&t, &[6; 32]).unwrap(), Some(bytes(10)));
        assert_eq!(get(&t, &[9; 32]).unwrap(), None);
        assert_eq!(t.len().unwrap(), 1 + 1 + 1 + 1 + 2 + 3 + 1);

        // Ranges, inside a piece, across pieces, at and past the end.
        let whole = bytes(5 * CHUNK + 17);
        let txn2 = db.begin_write().unwrap();
        {
            let mut t = txn2.open_table(T).unwrap();
            insert(&mut t, &[7; 32], &whole).unwrap();
        }
        txn2.commit().unwrap();
        let txn = db.begin_read().unwrap();
        let t = txn.open_table(T).unwrap();
        for (start, len) in [
            (0, 20),
            (CHUNK - 10, 20),
            (2 * CHUNK - 5, CHUNK + 10),
            (5 * CHUNK + 10, 20),
        ] {
            let expected = whole[start.min(whole.len())..(start + len).min(whole.len())].to_vec();
            assert_eq!(
                get_range(&t, &[7; 32], start, len).unwrap(),
                Some(expected),
                "{start}+{len}"
            );
        }
        assert_eq!(
            get_range(&t, &[7; 32], usize::MAX - 5, 20).unwrap(),
            Some(vec![])
        );
        assert_eq!(get_range(&t, &[8; 32], 0, 20).unwrap(), None);
        assert_eq!(get_range(&t, &[0; 32], 0, 20).unwrap(), Some(vec![]));
    }

    #[test]
    fn remove_takes_every_piece() {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(T).unwrap();
            insert(&mut t, &[1; 32], &bytes(3 * CHUNK)).unwrap();
            insert(&mut t, &[2; 32], &bytes(5)).unwrap();
            assert!(remove(&mut t, &[1; 32]).unwrap());
            assert!(!remove(&mut t, &[1; 32]).unwrap());
            assert_eq!(get(&t, &[1; 32]).unwrap(), None);
            assert_eq!(get(&t, &[2; 32]).unwrap(), Some(bytes(5)));
        }
        txn.commit().unwrap();
    }
}
