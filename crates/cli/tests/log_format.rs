//! `--log.format json`: every log line is one JSON object with `timestamp`, `level`, `target`
//! and `fields.message` (checked on `keel import` of the example chain, which logs to stderr,
//! and on `keel l2 --dev --no-monitor`, which logs to stdout).

mod common;

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

fn check_json_line(line: &str) -> serde_json::Value {
    let value: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    assert!(value["level"].is_string(), "no level: {line}");
    assert!(value["target"].is_string(), "no target: {line}");
    assert!(value["timestamp"].is_string(), "no timestamp: {line}");
    assert!(
        value["fields"]["message"].is_string(),
        "no fields.message: {line}"
    );
    value
}

#[test]
fn import_logs_one_json_object_per_line() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/dev-chain");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(common::keel_bin())
        .args(["--log.format", "json", "import", "--network"])
        .arg(examples.join("genesis.json"))
        .arg("--datadir")
        .arg(dir.path().join("data"))
        .arg(examples.join("blocks.rlp"))
        .output()
        .expect("run keel import");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "keel import failed: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "keel import logged nothing");
    let values: Vec<serde_json::Value> = lines.iter().map(|l| check_json_line(l)).collect();
    assert!(
        values
            .iter()
            .any(|v| v["level"] == "INFO"
                && v["target"].as_str().is_some_and(|t| t.starts_with("keel"))),
        "an INFO line from keel: {stderr}"
    );
    // The same with the environment variable.
    let out = Command::new(common::keel_bin())
        .env("KEEL_LOG_FORMAT", "json")
        .args(["import", "--network"])
        .arg(examples.join("genesis.json"))
        .arg("--datadir")
        .arg(dir.path().join("data2"))
        .arg(examples.join("blocks.rlp"))
        .output()
        .expect("run keel import");
    assert!(out.status.success());
    for line in String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        check_json_line(line);
    }
    // A bad format is refused by name.
    let out = Command::new(common::keel_bin())
        .args([
            "--log.format",
            "xml",
            "import",
            "--network",
            "x",
            "--datadir",
            "y",
            "z",
        ])
        .output()
        .expect("run keel");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values: text, json"));
}

#[test]
fn a_node_without_the_monitor_logs_json_to_stdout() {
    let mut child = Command::new(common::keel_bin())
        .args([
            "--log.format",
            "json",
            "l2",
            "--dev",
            "--no-monitor",
            "--http.port",
            "0",
            "--proof-coordinator.port",
            "0",
            "--block-producer.block-time",
            "200",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn keel l2");
    let lines = common::stdout_lines(child.stdout.take().expect("stdout"));
    // The banner is plain text between the log lines; every line that opens with `{` is a log
    // line and must parse; wait for a produced block.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut json_lines = 0;
    let produced = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = lines.recv_timeout(left) else {
            let _ = child.kill();
            panic!("no produced-block log line within 120 s ({json_lines} JSON lines seen)");
        };
        if !line.starts_with('{') {
            continue;
        }
        json_lines += 1;
        let value = check_json_line(&line);
        if value["fields"]["message"] == "produced block" {
            break value;
        }
    };
    // A graceful stop (SIGTERM, once the node waits for it), so the dev L1 goes with the node.
    std::thread::sleep(Duration::from_secs(1));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait for keel");
    assert!(
        status.success(),
        "keel l2 stops cleanly on SIGTERM: {status}"
    );
    assert_eq!(produced["target"], "keel_sequencer::block_producer");
    assert!(produced["fields"]["number"].is_u64(), "{produced}");
    assert!(json_lines > 5);
}
