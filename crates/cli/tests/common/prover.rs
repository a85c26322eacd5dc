//! `keel l2 prover` processes for end-to-end tests: started against coordinators, their log
//! lines read as they come, SIGTERM or SIGKILL on demand, killed when dropped.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{OnceLock, mpsc},
    time::{Duration, Instant},
};

/// A copy of the `keel` binary made when the test starts: the target directory is shared with
/// other builds, which may replace the binary while a test runs.
pub fn keel_copy() -> PathBuf {
    static COPY: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    COPY.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keel");
        std::fs::copy(env!("CARGO_BIN_EXE_keel"), &path).expect("copy keel");
        (dir, path)
    })
    .1
    .clone()
}

pub struct Prover {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Prover {
    pub fn start(coordinators: &str, key: &str, extra: &[&str]) -> Prover {
        Self::start_with_env(coordinators, key, extra, &[])
    }

    /// [`Prover::start`] with extra environment variables (e.g. a `KEEL_FAULT_POINT`).
    pub fn start_with_env(
        coordinators: &str,
        key: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Prover {
        let mut child = Command::new(keel_copy())
            .envs(env.iter().copied())
            .args([
                "l2",
                "prover",
                "--proof-coordinators",
                coordinators,
                "--backend",
                "exec",
                "--prover.private-key",
                key,
                "--prover.poll-interval",
                "200",
            ])
            .args(extra)
            .env_remove("KEEL_PROOF_COORDINATORS")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn keel l2 prover");
        let lines = super::stdout_lines(child.stdout.take().expect("stdout"));
        Prover {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for `count` log lines containing every needle.
    pub fn wait_for(&mut self, needles: &[&str], count: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut found = Vec::new();
        while found.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if needles.iter().all(|n| line.contains(n)) {
                        found.push(line.clone());
                    }
                    self.seen.push(line);
                }
                Err(_) => {
                    let exited = match self.child.try_wait() {
                        Ok(Some(status)) => {
                            let mut stderr = String::new();
                            if let Some(mut pipe) = self.child.stderr.take() {
                                let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                            }
                            format!("it exited with {status}; stderr:\n{stderr}")
                        }
                        _ => "it is still running".into(),
                    };
                    panic!(
                        "the prover logged {} of {count} lines with {needles:?} in {timeout:?}; \
                         {exited}; its log:\n{}",
                        found.len(),
                        self.seen.join("\n")
                    )
                }
            }
        }
        found
    }

    /// SIGTERM; the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "keel l2 prover did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Prover {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prover {
    /// Waits up to `timeout` for the process to exit by itself; its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the prover did not exit within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, no chance to finish anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Every line logged so far (and those waiting to be read).
    pub fn log(&mut self) -> Vec<String> {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen.clone()
    }
}
