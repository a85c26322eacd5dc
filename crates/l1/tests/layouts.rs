//! The storage-layout check of the upgradeable contracts (contracts/check-layouts.js, run by
//! `node contracts/compile.js` and scripts/test.sh): on a copy of `contracts/` with a modified
//! CommonBridge, a swap of two variables and a retyped one are refused with their names, slots and
//! types, an appended variable is accepted and recorded; removals and retyped struct members are
//! refused.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A copy of the repository's `contracts/` (sources, scripts, recorded layouts; no artifacts)
/// under `dir`, with `tools/node_modules` linked, so `compile.js` runs on it as on the original.
fn contracts_copy(dir: &Path) -> PathBuf {
    let repo = repo();
    let contracts = dir.join("contracts");
    for sub in ["l1", "l2", "test", "bench", "layouts"] {
        copy_dir(&repo.join("contracts").join(sub), &contracts.join(sub));
    }
    for file in ["compile.js", "check-layouts.js"] {
        std::fs::copy(repo.join("contracts").join(file), contracts.join(file)).expect("copy");
    }
    std::fs::create_dir_all(dir.join("tools")).expect("mkdir");
    let modules = repo.join("tools/node_modules");
    assert!(
        modules.join("solc").exists(),
        "{} is missing: run `npm ci --prefix tools`",
        modules.display()
    );
    std::os::unix::fs::symlink(&modules, dir.join("tools/node_modules")).expect("symlink");
    contracts
}

fn node(args: &[&Path]) -> Output {
    Command::new("node")
        .args(args)
        .output()
        .expect("run node (Node.js >= 20)")
}

fn stderr(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Replaces `old` (which must occur once) by `new` in `file`.
fn edit(file: &Path, old: &str, new: &str) {
    let text = std::fs::read_to_string(file).expect("read");
    assert_eq!(
        text.matches(old).count(),
        1,
        "{old:?} once in {}",
        file.display()
    );
    std::fs::write(file, text.replace(old, new)).expect("write");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("read")
}

fn layout(path: &Path) -> serde_json::Value {
    serde_json::from_str(&read(path)).expect("layout json")
}

#[test]
fn the_recorded_layouts_list_every_upgradeable_contract() {
    let layouts = repo().join("contracts/layouts");
    for name in ["CommonBridge", "OnChainProposer", "AttestationVerifier"] {
        let l = layout(&layouts.join(format!("{name}.json")));
        let storage = l["storage"].as_array().expect("storage");
        // Governed's two variables come first in all three.
        assert_eq!(storage[0]["label"], "securityCouncil", "{name}");
        assert_eq!(storage[1]["label"], "pausedAt", "{name}");
        assert!(storage.len() > 2, "{name}");
    }
    let proposer = layout(&layouts.join("OnChainProposer.json"));
    let batches = proposer["storage"]
        .as_array()
        .expect("storage")
        .iter()
        .find(|e| e["label"] == "_batches")
        .expect("_batches");
    // A struct inside a mapping is spelled out member by member.
    assert!(
        batches["type"]
            .as_str()
            .expect("type")
            .contains("uint64 lastBlockTimestamp @5+16"),
        "{batches}"
    );
}

#[test]
fn a_reordered_or_retyped_variable_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let contracts = contracts_copy(dir.path());
    let bridge = contracts.join("l1/CommonBridge.sol");
    // Swap l2ChainId (slot 2) and onChainProposer (slot 3), and retype maxPause.
    edit(&bridge, "    uint256 public l2ChainId;\n", "");
    edit(
        &bridge,
        "    address public onChainProposer;\n",
        "    address public onChainProposer;\n    uint256 public l2ChainId;\n",
    );
    edit(
        &bridge,
        "    uint256 public maxPause;\n",
        "    uint128 public maxPause;\n",
    );
    edit(
        &bridge,
        "        maxPause = maxPause_;\n",
        "        maxPause = uint128(maxPause_);\n",
    );
    let recorded = read(&contracts.join("layouts/CommonBridge.json"));

    // The test command's check: a fresh compile's layouts against the recorded ones.
    let fresh = dir.path().join("fresh");
    let out = node(&[
        &contracts.join("compile.js"),
        Path::new("--out"),
        &dir.path().join("artifacts"),
        Path::new("--layouts"),
        &fresh,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = node(&[
        &contracts.join("check-layouts.js"),
        &fresh,
        &contracts.join("layouts"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let message = stderr(&out);
    for expected in [
        "CommonBridge: variable #2 retyped, renamed or reordered: was `l2ChainId` at slot 2 offset 0, type uint256; now `onChainProposer` at slot 2 offset 0, type address",
        "CommonBridge: variable #3 retyped, renamed or reordered: was `onChainProposer` at slot 3 offset 0, type address; now `l2ChainId`",
        "was `maxPause` at slot",
        "retyped",
        "type uint128",
    ] {
        assert!(message.contains(expected), "{expected:?} in:\n{message}");
    }
    assert!(!message.contains("OnChainProposer:"), "{message}");

    // The compile step refuses to record it: exit 1, nothing written.
    let out = node(&[&contracts.join("compile.js")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("CommonBridge: variable #2 retyped, renamed or reordered"),
        "{}",
        stderr(&out)
    );
    assert_eq!(read(&contracts.join("layouts/CommonBridge.json")), recorded);
    assert!(
        !contracts.join("artifacts").exists(),
        "no artifacts written"
    );
}

#[test]
fn an_appended_variable_is_accepted_and_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let contracts = contracts_copy(dir.path());
    let original = dir.path().join("original");
    copy_dir(&contracts.join("layouts"), &original);
    edit(
        &contracts.join("l1/CommonBridge.sol"),
        "    uint256 public maxPause;\n",
        "    uint256 public maxPause;\n\n    /// @notice Appended by a test.\n    mapping(address => uint256) public h4Appended;\n",
    );
    let out = node(&[&contracts.join("compile.js")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let old = layout(&original.join("CommonBridge.json"));
    let new = layout(&contracts.join("layouts/CommonBridge.json"));
    let (old, new) = (
        old["storage"].as_array().expect("storage"),
        new["storage"].as_array().expect("storage"),
    );
    assert_eq!(new.len(), old.len() + 1);
    assert_eq!(
        &new[..old.len()],
        &old[..],
        "the recorded entries unchanged"
    );
    assert_eq!(new[old.len()]["label"], "h4Appended");
    assert_eq!(new[old.len()]["type"], "mapping(address => uint256)");
    // And the check accepts the new layouts against the old ones.
    let out = node(&[
        &contracts.join("check-layouts.js"),
        &contracts.join("layouts"),
        &original,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_removed_variable_or_a_retyped_struct_member_is_refused() {
    // No compile needed: the check on edited copies of the recorded layouts.
    let dir = tempfile::tempdir().expect("tempdir");
    let recorded = repo().join("contracts/layouts");
    let fresh = dir.path().join("fresh");
    copy_dir(&recorded, &fresh);
    let script = repo().join("contracts/check-layouts.js");

    let out = node(&[&script, &fresh, &recorded]);
    assert!(out.status.success(), "unchanged passes: {}", stderr(&out));

    // The last variable of the bridge removed.
    let path = fresh.join("CommonBridge.json");
    let mut bridge = layout(&path);
    let removed = bridge["storage"]
        .as_array_mut()
        .expect("storage")
        .pop()
        .expect("an entry");
    std::fs::write(&path, bridge.to_string()).expect("write");
    // A member of the proposer's batch struct retyped.
    edit(
        &fresh.join("OnChainProposer.json"),
        "uint64 lastBlockTimestamp @5+16",
        "uint128 lastBlockTimestamp @5+16",
    );
    let out = node(&[&script, &fresh, &recorded]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let message = stderr(&out);
    let label = removed["label"].as_str().expect("label");
    assert!(
        message.contains(&format!("CommonBridge: `{label}` at slot"))
            && message.contains("was removed"),
        "{message}"
    );
    assert!(
        message.contains("OnChainProposer: variable #")
            && message.contains("`_batches`")
            && message.contains("retyped"),
        "{message}"
    );
}
