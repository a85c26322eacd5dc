//! Fault injection for crash tests: named points in the code where a test can have the process
//! killed, to check that a restart picks up where the dead process left off.
//!
//! A test sets the environment variable `KEEL_FAULT_POINT` to a point's name and starts the
//! process; when execution reaches that point, the process dies at once with SIGKILL (no
//! destructors, no flushing: as close to a power cut as a test can get). Without the variable,
//! [`point`] is one environment lookup and does nothing. It is a test hook only.
//!
//! Points: `l1sender.after-broadcast` (the first transaction of an L1 send job has been journaled
//! and broadcast), `l1sender.after-receipt` (its receipt has been seen, before it is confirmed),
//! `committer.after-confirmation` (a commit is confirmed on L1, not yet recorded in the store),
//! `proof-sender.after-confirmation` (a `verifyBatches` is confirmed, not yet recorded),
//! `prover.after-receiving-batch` (`keel l2 prover` got a batch from its coordinator and has not
//! proved it yet);
//! and, with [`panic_point`], `block-producer.panic` (the block producer panics).

/// The environment variable naming the fault point at which the process kills itself.
pub const FAULT_POINT_ENV: &str = "KEEL_FAULT_POINT";

/// Kills the process with SIGKILL if `KEEL_FAULT_POINT` equals `name` (a test hook).
pub fn point(name: &str) {
    if std::env::var_os(FAULT_POINT_ENV).is_some_and(|v| v == name) {
        eprintln!("fault injection: killing the process at {name}");
        kill_self();
    }
}

#[cfg(target_os = "linux")]
fn kill_self() {
    // SAFETY: getpid and kill are plain syscalls with no memory arguments.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    // SIGKILL to ourselves is not deliverable late, but never return into the caller regardless.
    std::process::abort();
}

#[cfg(not(target_os = "linux"))]
fn kill_self() {
    std::process::abort();
}

/// Panics if `KEEL_FAULT_POINT` equals `name` (a test hook): for tests that check that a
/// component dying takes the node down with its name.
pub fn panic_point(name: &str) {
    if std::env::var_os(FAULT_POINT_ENV).is_some_and(|v| v == name) {
        panic!("fault injection: panic at {name}");
    }
}
