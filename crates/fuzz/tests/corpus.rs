//! Every committed fuzz input — the corpus each target's campaign left (`fuzz/corpus/TARGET/`)
//! and the inputs of every finding (`fuzz/regressions/TARGET/`) — run through its target on
//! stable, as part of the normal test suite. A panic anywhere (the target's thread or one the
//! node spawned) fails the test, naming the input.

use std::{
    path::{Path, PathBuf},
    sync::Mutex,
};

static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file());
    files.sort();
    files
}

fn run_dir(target: keel_fuzz::Target, dir: &Path) -> usize {
    let files = inputs(dir);
    for file in &files {
        let data = match std::fs::read(file) {
            Ok(data) => data,
            // A fuzzer running on the same corpus may have replaced it meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("{}: {e}", file.display()),
        };
        let outcome = std::panic::catch_unwind(|| (target.run)(&data));
        let panics = std::mem::take(&mut *PANICS.lock().unwrap_or_else(|e| e.into_inner()));
        assert!(
            outcome.is_ok() && panics.is_empty(),
            "target {} panicked on {}: {panics:?}",
            target.name,
            file.display()
        );
    }
    files.len()
}

#[test]
fn every_corpus_and_regression_input_passes_its_target() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        let thread = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_owned();
        PANICS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!("[{thread}] {info}"));
    }));
    let root = fuzz_dir();
    let mut missing = Vec::new();
    for target in keel_fuzz::TARGETS {
        let corpus = run_dir(*target, &root.join("corpus").join(target.name));
        let regressions = run_dir(*target, &root.join("regressions").join(target.name));
        println!(
            "{}: {corpus} corpus inputs, {regressions} regression inputs",
            target.name
        );
        if corpus == 0 {
            missing.push(target.name);
        }
        assert!(
            root.join("fuzz_targets")
                .join(format!("{}.rs", target.name))
                .is_file(),
            "no fuzz/fuzz_targets/{}.rs for target {}",
            target.name,
            target.name
        );
    }
    assert!(
        missing.is_empty(),
        "targets without a committed corpus: {missing:?}"
    );
}
