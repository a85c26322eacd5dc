//! The terminal monitor of the real `keel l2 --dev` (real anvil, real store) in a real terminal:
//! tmux, on a private socket. The node runs inside a shell in the pane; the test waits for the
//! monitor to show the L2 head moving, quits with `q`, and checks that the node exited cleanly
//! and the terminal is as it was: main screen (not the alternate one), cursor shown, cooked mode
//! (`stty` reports `icanon` and `echo`).

mod common;

use std::{
    process::{Command, Output},
    time::{Duration, Instant},
};

/// A tmux server on its own socket, killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new() -> Tmux {
        match Command::new("tmux").arg("-V").output() {
            Ok(out) if out.status.success() => {}
            _ => panic!(
                "tmux is not installed: this test runs the monitor in a real terminal under tmux. \
                 Install it (`apt-get install -y tmux`; scripts/test.sh does it when missing)"
            ),
        }
        Tmux {
            socket: format!("keel-monitor-test-{}", std::process::id()),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "monitor"]).stdout).into()
    }

    fn format(&self, format: &str) -> String {
        String::from_utf8_lossy(
            &self
                .run(&["display-message", "-p", "-t", "monitor", format])
                .stdout,
        )
        .trim()
        .to_string()
    }

    /// Polls the pane until `found` returns something, or fails after `timeout` with the screen.
    fn wait_for<T>(&self, what: &str, timeout: Duration, found: impl Fn(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if let Some(value) = found(&screen) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the pane shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

/// The L2 head in the monitor's header line (`· L2 #N ·`).
fn l2_head(screen: &str) -> Option<u64> {
    let header = screen.lines().find(|l| l.contains("keel L2 monitor"))?;
    let rest = header.split("L2 #").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[test]
fn monitor_shows_the_head_moving_and_q_restores_the_terminal() {
    let tmux = Tmux::new();
    let keel = common::keel_bin();
    let keel = keel.to_str().expect("utf-8 path of the keel binary");
    // The shell prints the exit status and the terminal modes after keel, then stays.
    let script = format!(
        "'{keel}' l2 --dev --http.port 0 --proof-coordinator.port 0 \
         --block-producer.block-time 500; \
         echo KEEL_EXIT=$?; echo STTY: $(stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo); \
         exec sleep 600"
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "monitor",
        "-x",
        "160",
        "-y",
        "50",
        "sh",
        "-c",
        &script,
    ]);

    let first = tmux.wait_for(
        "the monitor showing an L2 head",
        Duration::from_secs(120),
        l2_head,
    );
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "1",
        "the monitor runs on the alternate screen"
    );
    let screen = tmux.screen();
    for pane in [
        "Chain",
        "Mempool & deposits",
        "Batches",
        "Recent blocks",
        "Node",
        "Logs",
    ] {
        assert!(screen.contains(pane), "no {pane} pane:\n{screen}");
    }
    assert!(
        screen.contains("HTTP RPC:"),
        "the node pane lists the URLs:\n{screen}"
    );
    let moved = tmux.wait_for("the L2 head to move", Duration::from_secs(60), |screen| {
        l2_head(screen).filter(|head| *head > first)
    });
    assert!(moved > first);

    tmux.run(&["send-keys", "-t", "monitor", "q"]);
    let exit = tmux.wait_for("keel to exit after q", Duration::from_secs(60), |screen| {
        screen
            .lines()
            .find_map(|l| l.trim().strip_prefix("KEEL_EXIT=").map(str::to_string))
    });
    assert_eq!(exit, "0", "keel exits cleanly on q:\n{}", tmux.screen());
    let screen = tmux.wait_for("the terminal modes", Duration::from_secs(10), |screen| {
        screen
            .lines()
            .find(|l| l.starts_with("STTY:"))
            .map(str::to_string)
    });
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "0",
        "back on the main screen"
    );
    assert_eq!(tmux.format("#{cursor_flag}"), "1", "the cursor is shown");
    let modes: Vec<&str> = screen.split_whitespace().skip(1).collect();
    assert!(
        modes.contains(&"icanon") && modes.contains(&"echo"),
        "the terminal is back in cooked mode with echo: {screen}"
    );
    // The graceful shutdown ran (the same path as Ctrl-C): its last line is on the main screen.
    let main = tmux.screen();
    assert!(main.contains("stopped head="), "{main}");
}

#[test]
fn a_component_failure_restores_the_terminal_and_names_the_component() {
    let tmux = Tmux::new();
    let keel = common::keel_bin();
    let keel = keel.to_str().expect("utf-8 path of the keel binary");
    // The block producer panics (a test hook): the node stops with its name.
    let script = format!(
        "KEEL_FAULT_POINT=block-producer.panic '{keel}' l2 --dev --http.port 0 \
         --proof-coordinator.port 0 --block-producer.block-time 500; \
         echo KEEL_EXIT=$?; echo STTY: $(stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo); \
         exec sleep 600"
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "monitor",
        "-x",
        "160",
        "-y",
        "50",
        "sh",
        "-c",
        &script,
    ]);
    let exit = tmux.wait_for("keel to exit", Duration::from_secs(120), |screen| {
        screen
            .lines()
            .find_map(|l| l.trim().strip_prefix("KEEL_EXIT=").map(str::to_string))
    });
    let screen = tmux.screen();
    assert_ne!(exit, "0", "a dead component fails the node:\n{screen}");
    assert!(
        screen.contains("component `block_producer` stopped"),
        "the error names the component, on the restored terminal:\n{screen}"
    );
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "0",
        "back on the main screen"
    );
    assert_eq!(tmux.format("#{cursor_flag}"), "1", "the cursor is shown");
    let stty = screen
        .lines()
        .find(|l| l.starts_with("STTY:"))
        .unwrap_or_else(|| panic!("no STTY line:\n{screen}"));
    let modes: Vec<&str> = stty.split_whitespace().skip(1).collect();
    assert!(
        modes.contains(&"icanon") && modes.contains(&"echo"),
        "cooked mode with echo: {stty}"
    );
}
