//! `keel l2 verify-state`: checks a stopped node's datadir holds one whole state at its head (the
//! flat state and the trie agree leaf for leaf, and the trie's root is the head header's state
//! root; see `keel_storage::verify`). For after a crash, or before trusting a copied datadir.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use clap::Args;
use eyre::{WrapErr, bail};
use keel_storage::VerifyError;

use crate::datadir;

/// `keel l2 verify-state`'s settings.
#[derive(Debug, Args)]
pub struct VerifyStateArgs {
    /// The node's datadir (what `keel l2 --datadir` was given).
    #[arg(
        long,
        env = "KEEL_DATADIR",
        value_name = "DIR",
        default_value = "keel-data"
    )]
    pub datadir: PathBuf,
}

/// Runs `keel l2 verify-state`: the counts on stdout, or an error naming the first mismatch.
pub fn run(args: VerifyStateArgs) -> eyre::Result<()> {
    verify(&args, &mut std::io::stdout())
}

/// What `run` does, with the report written to `out`.
fn verify(args: &VerifyStateArgs, out: &mut impl Write) -> eyre::Result<()> {
    let dir = &args.datadir;
    if dir == Path::new(datadir::MEMORY) {
        bail!("--datadir memory keeps nothing on disk: there is nothing to verify");
    }
    let db = datadir::db_path(dir);
    if !db.is_file() {
        bail!("no keel database at {} (is --datadir right?)", db.display());
    }
    datadir::ensure_not_in_use(&db)?;
    let store = datadir::open_existing_store(dir)?;
    match store.verify_state() {
        Ok(report) => {
            writeln!(
                out,
                "state consistent at head block {} ({})",
                report.head_number, report.head_hash
            )?;
            writeln!(out, "  state root: {}", report.state_root)?;
            writeln!(out, "  accounts:   {}", report.accounts)?;
            writeln!(out, "  slots:      {}", report.slots)?;
            Ok(())
        }
        Err(e @ VerifyError::Mismatch { .. }) => Err(e.into()),
        Err(e) => Err(e).wrap_err_with(|| format!("reading {}", db.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(dir: &Path) -> VerifyStateArgs {
        VerifyStateArgs {
            datadir: dir.to_path_buf(),
        }
    }

    #[test]
    fn refuses_memory_a_dir_without_a_database_and_an_open_one() {
        let err = verify(&args(Path::new("memory")), &mut Vec::new()).expect_err("memory");
        assert!(err.to_string().contains("nothing to verify"), "{err}");

        let dir = tempfile::tempdir().expect("tempdir");
        let err = verify(&args(dir.path()), &mut Vec::new()).expect_err("no database");
        assert!(err.to_string().contains("no keel database"), "{err}");

        let store = datadir::open_store(dir.path()).expect("store");
        let err = verify(&args(dir.path()), &mut Vec::new()).expect_err("open elsewhere");
        assert!(err.to_string().contains("stop it first"), "{err}");
        drop(store);

        // An empty database (no genesis yet) has no state to check.
        let err = verify(&args(dir.path()), &mut Vec::new()).expect_err("no head");
        assert!(format!("{err:#}").contains("no head block"), "{err:#}");
    }

    #[test]
    fn prints_the_counts_of_a_consistent_datadir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let genesis = keel_types::dev::dev_genesis();
        let spec = keel_types::ChainSpec::from_genesis(&genesis).expect("spec");
        let store = datadir::open_store(dir.path()).expect("store");
        drop(keel_chain::Blockchain::open(store, &genesis, spec).expect("genesis"));

        let mut out = Vec::new();
        verify(&args(dir.path()), &mut out).expect("consistent");
        let out = String::from_utf8(out).expect("utf8");
        let accounts = genesis.alloc.len();
        assert!(
            out.starts_with("state consistent at head block 0 (")
                && out.contains(&format!("accounts:   {accounts}\n")),
            "{out}"
        );
    }
}
