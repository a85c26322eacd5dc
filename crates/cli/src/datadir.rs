//! Where a node keeps its data: `DIR/keel.redb`, or nothing at all with `--datadir memory`.

use std::path::{Path, PathBuf};

use eyre::WrapErr;
use keel_storage::Store;

/// File name of the database inside a datadir.
pub const DB_FILE: &str = "keel.redb";

/// The value of `--datadir` that keeps everything in memory.
pub const MEMORY: &str = "memory";

/// Open (creating if needed) the store of a datadir.
pub fn open_store(datadir: &Path) -> eyre::Result<Store> {
    if datadir == Path::new(MEMORY) {
        return Ok(Store::in_memory()?);
    }
    std::fs::create_dir_all(datadir)
        .wrap_err_with(|| format!("creating datadir {}", datadir.display()))?;
    let path = db_path(datadir);
    Store::open(&path).wrap_err_with(|| format!("opening database {}", path.display()))
}

/// Open the store of an existing datadir, failing if there is none.
pub fn open_existing_store(datadir: &Path) -> eyre::Result<Store> {
    let path = db_path(datadir);
    if !path.exists() {
        eyre::bail!(
            "no keel database at {} (is --datadir right?)",
            path.display()
        );
    }
    Store::open(&path).wrap_err_with(|| format!("opening database {}", path.display()))
}

pub fn db_path(datadir: &Path) -> PathBuf {
    datadir.join(DB_FILE)
}
