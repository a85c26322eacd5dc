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

/// Fail, saying why, if another process (a running node) has the database file `db` open:
/// redb lets one process open it, and its own lock error doesn't tell an operator what to do.
pub fn ensure_not_in_use(db: &Path) -> eyre::Result<()> {
    if Store::is_open_elsewhere(db)
        .wrap_err_with(|| format!("checking whether {} is in use", db.display()))?
    {
        eyre::bail!(
            "{} is open in another process (a running keel node?): stop it first",
            db.display()
        );
    }
    Ok(())
}

pub fn db_path(datadir: &Path) -> PathBuf {
    datadir.join(DB_FILE)
}
