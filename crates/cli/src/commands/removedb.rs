//! `keel l2 removedb`: deletes a node's database and mempool journal, after a confirmation.
//! Only keel's own files are removed (the directory too, if that leaves it empty), so a wrong
//! `--datadir` can't take anything else with it.

use std::{
    io::{BufRead, Write},
    path::{Path, PathBuf},
};

use clap::Args;
use eyre::{WrapErr, bail};

use crate::{datadir, journal};

/// `keel l2 removedb`'s settings.
#[derive(Debug, Args)]
pub struct RemoveDbArgs {
    /// The node's datadir (what `keel l2 --datadir` was given).
    #[arg(
        long,
        env = "KEEL_DATADIR",
        value_name = "DIR",
        default_value = "keel-data"
    )]
    pub datadir: PathBuf,
    /// Remove without asking.
    #[arg(long)]
    pub force: bool,
}

/// Runs `keel l2 removedb`, asking on stdin unless `--force`.
pub fn run(args: RemoveDbArgs) -> eyre::Result<()> {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    remove(&args, &mut stdin.lock(), &mut stdout)
}

/// What `run` does, with the question asked on `out` and answered on `answers`.
fn remove(
    args: &RemoveDbArgs,
    answers: &mut impl BufRead,
    out: &mut impl Write,
) -> eyre::Result<()> {
    let dir = &args.datadir;
    if dir == Path::new(datadir::MEMORY) {
        bail!("--datadir memory keeps nothing on disk: there is nothing to remove");
    }
    let files: Vec<PathBuf> = [
        datadir::db_path(dir),
        dir.join(journal::FILE),
        dir.join(journal::PRECONFIRMED_FILE),
    ]
    .into_iter()
    .filter(|f| f.is_file())
    .collect();
    if files.is_empty() {
        bail!(
            "no keel database in {} (no {} or {}): is --datadir right?",
            dir.display(),
            datadir::DB_FILE,
            journal::FILE
        );
    }
    let db = datadir::db_path(dir);
    // A running node holds the database's lock; removing the file under it would lose its
    // blocks and leave it writing to a deleted file.
    if db.is_file() {
        datadir::ensure_not_in_use(&db)?;
    }
    if !args.force {
        writeln!(out, "This removes the node's data in {}:", dir.display())?;
        for file in &files {
            let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
            writeln!(out, "  {} ({})", file.display(), human_size(size))?;
        }
        write!(out, "Remove? [y/N] ")?;
        out.flush()?;
        let mut answer = String::new();
        answers
            .read_line(&mut answer)
            .wrap_err("reading the answer")?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            writeln!(out, "Nothing removed.")?;
            return Ok(());
        }
    }
    for file in &files {
        std::fs::remove_file(file).wrap_err_with(|| format!("removing {}", file.display()))?;
    }
    // The directory goes only if nothing else is in it.
    let emptied = std::fs::read_dir(dir)
        .map(|mut entries| entries.next().is_none())
        .unwrap_or(false);
    if emptied {
        std::fs::remove_dir(dir).wrap_err_with(|| format!("removing {}", dir.display()))?;
    }
    writeln!(out, "Removed the node's data in {}.", dir.display())?;
    Ok(())
}

fn human_size(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datadir_with_db() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(datadir::open_store(dir.path()).expect("store"));
        std::fs::write(dir.path().join(journal::FILE), "").expect("journal");
        dir
    }

    fn args(dir: &Path, force: bool) -> RemoveDbArgs {
        RemoveDbArgs {
            datadir: dir.to_path_buf(),
            force,
        }
    }

    #[test]
    fn asks_and_keeps_everything_unless_the_answer_is_yes() {
        let dir = datadir_with_db();
        for answer in ["n\n", "\n", "", "maybe\n"] {
            let mut out = Vec::new();
            remove(&args(dir.path(), false), &mut answer.as_bytes(), &mut out).expect("remove");
            let out = String::from_utf8(out).expect("utf8");
            assert!(
                out.contains("Remove? [y/N]") && out.contains("Nothing removed"),
                "{out}"
            );
            assert!(
                datadir::db_path(dir.path()).is_file(),
                "kept after {answer:?}"
            );
        }
        let mut out = Vec::new();
        remove(&args(dir.path(), false), &mut "y\n".as_bytes(), &mut out).expect("remove");
        assert!(
            !dir.path().exists(),
            "keel's files gone, and the emptied directory with them"
        );
    }

    #[test]
    fn force_skips_the_question_and_other_files_stay() {
        let dir = datadir_with_db();
        std::fs::write(dir.path().join("notes.txt"), "mine").expect("write");
        let mut out = Vec::new();
        remove(&args(dir.path(), true), &mut "".as_bytes(), &mut out).expect("remove");
        assert!(!String::from_utf8(out).expect("utf8").contains("Remove?"));
        assert!(!datadir::db_path(dir.path()).exists());
        assert!(!dir.path().join(journal::FILE).exists());
        assert!(
            dir.path().join("notes.txt").is_file(),
            "not keel's: left alone"
        );
    }

    #[test]
    fn refuses_an_open_database_and_a_dir_without_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = remove(&args(dir.path(), true), &mut "".as_bytes(), &mut Vec::new())
            .expect_err("nothing to remove");
        assert!(err.to_string().contains("no keel database"), "{err}");

        let store = datadir::open_store(dir.path()).expect("store");
        let err = remove(&args(dir.path(), true), &mut "".as_bytes(), &mut Vec::new())
            .expect_err("open elsewhere");
        assert!(format!("{err:#}").contains("stop it first"), "{err:#}");
        assert!(datadir::db_path(dir.path()).is_file(), "nothing removed");
        drop(store);
        remove(&args(dir.path(), true), &mut "".as_bytes(), &mut Vec::new()).expect("closed now");
    }
}
