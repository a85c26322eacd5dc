//! The mempool journal: a file holding every transaction the pool admitted, one hex-encoded
//! EIP-2718 transaction per line, so that a restart — clean or after a crash — finds them again.
//!
//! Written ahead: an admission batch's transactions are appended (one `write` call) before
//! [`super::Mempool::add_raw_batch`] returns, so before the RPC answers with their hashes. The
//! appends are not fsynced: the journal outlives a crash of the process (SIGKILL, panic, OOM
//! kill), not a power loss of the machine. It only grows between compactions, which rewrite it
//! with the pool's current transactions (to a temporary file renamed over it, so a crash during
//! one leaves the old journal or the new one, never a torn one).

use std::{
    fs::{File, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
};

use alloy_primitives::hex;

/// A compaction is due once the journal holds more lines than this and more than twice the
/// pool's transactions.
pub(super) const COMPACT_MIN_LINES: usize = 4_096;

/// Why the journal could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> JournalError {
    let path = path.to_path_buf();
    move |source| JournalError::Io {
        action,
        path,
        source,
    }
}

/// The transactions of the journal at `path` (none if there is no file). Lines that are not hex
/// (a line torn by a crash in the middle of an append, whose transactions were then never
/// acknowledged) are skipped.
pub fn read(path: &Path) -> Result<Vec<Vec<u8>>, JournalError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("reading", path)(e)),
    };
    Ok(text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .filter_map(|line| hex::decode(line.trim()).ok())
        .collect())
}

/// `txs`, one hex line each.
fn lines<T: AsRef<[u8]>>(txs: &[T]) -> String {
    let mut text = String::with_capacity(txs.iter().map(|t| t.as_ref().len() * 2 + 1).sum());
    for tx in txs {
        text.push_str(&hex::encode(tx));
        text.push('\n');
    }
    text
}

/// The open journal of a pool.
#[derive(Debug)]
pub(super) struct Journal {
    path: PathBuf,
    /// Open for appending; `None` after a rewrite that could not open the new file (the next
    /// append tries again).
    file: Option<File>,
    /// Lines in the file.
    lines: usize,
}

fn open_append(path: &Path) -> Result<File, JournalError> {
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io("opening", path))
}

impl Journal {
    /// Replaces the journal at `path` with `txs` and opens it for appending.
    pub fn create(path: &Path, txs: &[Vec<u8>]) -> Result<Self, JournalError> {
        let mut journal = Self {
            path: path.to_path_buf(),
            file: None,
            lines: 0,
        };
        journal.rewrite(txs)?;
        Ok(journal)
    }

    /// Replaces the file with `txs`: written to a temporary file renamed over it. If that fails
    /// the old file stays, still open for appending.
    pub fn rewrite(&mut self, txs: &[Vec<u8>]) -> Result<(), JournalError> {
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, lines(txs)).map_err(io("writing", &tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(io("replacing", &self.path))?;
        self.lines = txs.len();
        self.file = None;
        self.file = Some(open_append(&self.path)?);
        Ok(())
    }

    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Appends `txs` in one write.
    pub fn append<T: AsRef<[u8]>>(&mut self, txs: &[T]) -> Result<(), JournalError> {
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(open_append(&self.path)?),
        };
        file.write_all(lines(txs).as_bytes())
            .map_err(io("appending to", &self.path))?;
        self.lines += txs.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_append_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("txpool.journal");
        assert_eq!(read(&path).expect("no file"), Vec::<Vec<u8>>::new());
        let mut journal = Journal::create(&path, &[vec![1, 2], vec![3]]).expect("create");
        journal.append(&[vec![4u8]]).expect("append");
        assert_eq!(journal.lines(), 3);
        // A torn last line (a crash in the middle of an append) is skipped.
        let mut file = OpenOptions::new().append(true).open(&path).expect("open");
        file.write_all(b"0a0").expect("write");
        assert_eq!(
            read(&path).expect("read"),
            vec![vec![1, 2], vec![3], vec![4]]
        );
        // Rewritten: only the new transactions, and appends go on after them.
        journal.rewrite(&[vec![5]]).expect("rewrite");
        journal.append(&[vec![6u8]]).expect("append");
        assert_eq!(journal.lines(), 2);
        assert_eq!(read(&path).expect("read"), vec![vec![5], vec![6]]);
        assert!(!path.with_extension("tmp").exists());
    }
}
