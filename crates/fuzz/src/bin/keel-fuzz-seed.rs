//! `keel-fuzz-seed OUT_DIR [ETHEREUM_TESTS_DIR]`: writes the seed corpora (see `keel_fuzz::seeds`).

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let Some(out) = args.next().map(PathBuf::from) else {
        eprintln!("usage: keel-fuzz-seed OUT_DIR [ETHEREUM_TESTS_DIR]");
        std::process::exit(2);
    };
    let tests = args.next().map(PathBuf::from);
    let seeds = keel_fuzz::seeds::collect(tests.as_deref());
    for (target, count) in keel_fuzz::seeds::write(&out, &seeds)? {
        println!("{target}: {count} seeds");
    }
    Ok(())
}
