//! The Ethereum Foundation's block tests (Cancun), run through the import path: build the genesis
//! from `genesisBlockHeader` + `pre` and check its hash, import every block (those with
//! `expectException` must be rejected, the others accepted), then check the head and the post-state.
//!
//! Then every block of the canonical chain is executed again **statelessly**, the way the prover
//! does it: its witness is recorded from the store (`record_witness`), and `keel_prover::prove_batch`
//! must reach the same state root, receipts root and block hash from the witness alone.
//!
//! The fixtures are vendored in `tests/fixtures/ethereum-tests.tar.zst` (read directly; see
//! `tests/fixtures/README.md`).
//!
//! Prints `N passed, N failed` with the name and reason of every failure. Every case must pass
//! except those named in `KNOWN_FAILURES` (with their reason; empty today), and each of those
//! must still fail.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use keel_chain::{Blockchain, record_witness, rlp_file::decode_block};
use keel_prover::{ProverInput, prove_batch};
use keel_storage::{ChainReader, StateReader, Store};
use keel_types::ChainSpec;
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    network: String,
    genesis_block_header: BTreeMap<String, Value>,
    pre: BTreeMap<Address, Value>,
    blocks: Vec<TestBlock>,
    lastblockhash: B256,
    post_state: Option<BTreeMap<Address, PostAccount>>,
    post_state_hash: Option<B256>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestBlock {
    rlp: String,
    expect_exception: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PostAccount {
    balance: U256,
    nonce: U256,
    code: Bytes,
    storage: BTreeMap<U256, U256>,
}

/// The vendored fixtures: `BlockchainTests/{ValidBlocks,InvalidBlocks}/GROUP/FILE.json` in a
/// zstd-compressed tar (see `tests/fixtures/README.md`).
fn archive_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ethereum-tests.tar.zst")
}

/// Every fixture file as `(group, json text)`: from the directory in `KEEL_ETHEREUM_TESTS` if set
/// (another fixture set laid out like `BlockchainTests/`), else from the vendored archive, which
/// must exist (the test fails, it does not skip, without it).
fn fixture_files() -> Vec<(String, String)> {
    let mut files = Vec::new();
    if let Some(dir) = std::env::var_os("KEEL_ETHEREUM_TESTS") {
        let mut paths = Vec::new();
        collect_files(Path::new(&dir), &mut paths);
        for path in paths {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            files.push((group_of(&path), text));
        }
    } else {
        let archive = archive_path();
        let file = std::fs::File::open(&archive).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; the block tests are vendored in the repository \
                 (crates/chain/tests/fixtures/README.md)",
                archive.display()
            )
        });
        let decoder = zstd::Decoder::new(file).expect("zstd stream");
        let mut tar = tar::Archive::new(decoder);
        for entry in tar.entries().expect("tar entries") {
            let mut entry = entry.expect("tar entry");
            let path = entry.path().expect("entry path").into_owned();
            if !entry.header().entry_type().is_file()
                || path.extension().is_none_or(|e| e != "json")
            {
                continue;
            }
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            files.push((group_of(&path), text));
        }
    }
    files.sort();
    files
}

/// The fixture's group: the name of the directory holding it.
fn group_of(path: &Path) -> String {
    path.parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// Fork schedule of a fixture's `network`.
fn network_config(network: &str) -> Result<Value, String> {
    let base = json!({"chainId": 1, "terminalTotalDifficulty": 0, "shanghaiTime": 0});
    let mut config = base;
    match network {
        "Paris" | "Merge" => {
            config.as_object_mut().map(|c| c.remove("shanghaiTime"));
        }
        "Shanghai" => {}
        "Cancun" => config["cancunTime"] = json!(0),
        "Prague" => {
            config["cancunTime"] = json!(0);
            config["pragueTime"] = json!(0);
        }
        "ShanghaiToCancunAtTime15k" => config["cancunTime"] = json!(15_000),
        "CancunToPragueAtTime15k" => {
            config["cancunTime"] = json!(0);
            config["pragueTime"] = json!(15_000);
        }
        other => return Err(format!("unsupported network {other}")),
    }
    Ok(config)
}

fn run_case(case: &Case) -> Result<(), String> {
    let h = &case.genesis_block_header;
    let field = |k: &str| h.get(k).cloned().unwrap_or(Value::Null);
    let config = network_config(&case.network)?;
    let genesis = json!({
        "config": config,
        "nonce": field("nonce"),
        "timestamp": field("timestamp"),
        "extraData": field("extraData"),
        "gasLimit": field("gasLimit"),
        "difficulty": field("difficulty"),
        "mixHash": field("mixHash"),
        "coinbase": field("coinbase"),
        "parentHash": field("parentHash"),
        "number": field("number"),
        "baseFeePerGas": field("baseFeePerGas"),
        "excessBlobGas": field("excessBlobGas"),
        "blobGasUsed": field("blobGasUsed"),
        "alloc": case.pre,
    });
    let (genesis, spec) =
        ChainSpec::from_genesis_json(&genesis.to_string()).map_err(|e| format!("genesis: {e}"))?;
    let store = Store::in_memory().map_err(|e| e.to_string())?;
    let chain = Blockchain::open(store, &genesis, spec).map_err(|e| format!("genesis: {e}"))?;
    let genesis_hash = chain.head().map_err(|e| e.to_string())?.1;
    let expected_genesis: B256 =
        serde_json::from_value(field("hash")).map_err(|e| e.to_string())?;
    if genesis_hash != expected_genesis {
        return Err(format!(
            "genesis hash {genesis_hash}, expected {expected_genesis}"
        ));
    }

    for (i, b) in case.blocks.iter().enumerate() {
        let bytes = hex::decode(b.rlp.trim_start_matches("0x"))
            .map_err(|e| format!("block {i}: hex: {e}"))?;
        let result = decode_block(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|block| chain.import_block(&block).map_err(|e| e.to_string()));
        match (&b.expect_exception, result) {
            (None, Ok(_)) => {}
            (Some(exc), Err(e)) => {
                if std::env::var_os("KEEL_SHOW_REJECTIONS").is_some() {
                    println!("REJECT {exc} <= {e}");
                }
            }
            (None, Err(e)) => return Err(format!("block {i} rejected: {e}")),
            (Some(exc), Ok(_)) => return Err(format!("block {i} accepted, expected {exc}")),
        }
    }

    let reader = chain.store().reader().map_err(|e| e.to_string())?;
    let (head_hash, head) = reader.head().map_err(|e| e.to_string())?.ok_or("no head")?;
    for number in 1..=head.number {
        stateless(&chain, &reader, &config, number)?;
    }
    if head_hash != case.lastblockhash {
        return Err(format!("head {head_hash}, expected {}", case.lastblockhash));
    }
    if let Some(root) = case.post_state_hash
        && head.state_root != root
    {
        return Err(format!("state root {}, expected {root}", head.state_root));
    }
    if let Some(post) = &case.post_state {
        for (address, want) in post {
            let got = reader
                .account(address)
                .map_err(|e| e.to_string())?
                .ok_or(format!("account {address} missing"))?;
            if got.balance != want.balance {
                return Err(format!(
                    "{address}: balance {}, expected {}",
                    got.balance, want.balance
                ));
            }
            if U256::from(got.nonce) != want.nonce {
                return Err(format!(
                    "{address}: nonce {}, expected {}",
                    got.nonce, want.nonce
                ));
            }
            if got.code_hash != keccak256(&want.code) {
                return Err(format!(
                    "{address}: code hash {}, expected keccak of {}",
                    got.code_hash, want.code
                ));
            }
            let slots: BTreeMap<U256, U256> = reader
                .storage_slots(address)
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|(k, v)| (U256::from_be_bytes(k.0), v))
                .collect();
            let want_slots: BTreeMap<U256, U256> = want
                .storage
                .iter()
                .filter(|(_, v)| !v.is_zero())
                .map(|(k, v)| (*k, *v))
                .collect();
            if slots != want_slots {
                return Err(format!(
                    "{address}: storage {slots:?}, expected {want_slots:?}"
                ));
            }
        }
        let count = reader.account_count().map_err(|e| e.to_string())?;
        if count != post.len() as u64 {
            return Err(format!(
                "{count} accounts in state, expected {}",
                post.len()
            ));
        }
    }
    Ok(())
}

/// Blocks executed statelessly, over all cases.
static STATELESS_BLOCKS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Execute canonical block `number` from its recorded witness alone, as the prover does.
fn stateless(
    chain: &Blockchain,
    reader: &keel_storage::StoreReader,
    config: &Value,
    number: u64,
) -> Result<(), String> {
    let recorded = record_witness(reader, chain.spec_arc(), number, number)
        .map_err(|e| format!("block {number}: witness: {e}"))?;
    let block = &recorded.blocks[0];
    let input = ProverInput {
        batch_number: number,
        chain_config: config.to_string(),
        l1_chain_id: 1,
        on_chain_proposer: Address::ZERO,
        blocks: vec![Bytes::from(alloy_rlp::encode(block))],
        witness: recorded.witness.clone(),
        blob: None,
        blob_versioned_hash: B256::ZERO,
    };
    let inputs = prove_batch(&input).map_err(|e| format!("block {number}: stateless: {e}"))?;
    if inputs.final_state_root != block.header.state_root
        || inputs.last_block_hash != block.header.hash_slow()
        || inputs.initial_state_root != recorded.parent.state_root
    {
        return Err(format!(
            "block {number}: stateless execution gave root {} and hash {}",
            inputs.final_state_root, inputs.last_block_hash
        ));
    }
    STATELESS_BLOCKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

#[test]
fn ethereum_block_tests() {
    let files = fixture_files();
    assert!(
        !files.is_empty(),
        "no block test fixtures found (in {} or KEEL_ETHEREUM_TESTS)",
        archive_path().display()
    );

    let mut cases = Vec::new();
    for (group, text) in &files {
        let parsed: BTreeMap<String, Case> =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("a fixture of {group}: {e}"));
        cases.extend(
            parsed
                .into_iter()
                .map(|(name, case)| (format!("{group}/{name}"), case)),
        );
    }
    println!("{} cases in {} fixture files", cases.len(), files.len());

    let results: Vec<(String, Result<(), String>)> = cases
        .par_iter()
        .map(|(name, case)| (name.clone(), run_case(case)))
        .collect();
    let failed: Vec<_> = results
        .iter()
        .filter_map(|(n, r)| r.as_ref().err().map(|e| (n, e)))
        .collect();
    for (name, reason) in &failed {
        println!("FAIL {name}: {reason}");
    }
    let passed = results.len() - failed.len();
    println!("{passed} passed, {} failed", failed.len());
    let stateless = STATELESS_BLOCKS.load(std::sync::atomic::Ordering::Relaxed);
    println!("{stateless} valid blocks also executed statelessly from their witness");
    assert!(stateless > 0, "no block was executed statelessly");

    // Every case must pass but those listed in KNOWN_FAILURES, and every listed one must still
    // fail (a fixed case leaves the list, so the list can't hide a later regression).
    let unexpected: Vec<_> = failed
        .iter()
        .filter(|(name, _)| !KNOWN_FAILURES.iter().any(|(known, _)| known == name))
        .map(|(name, reason)| format!("{name}: {reason}"))
        .collect();
    let now_passing: Vec<_> = KNOWN_FAILURES
        .iter()
        .filter(|(known, _)| !failed.iter().any(|(name, _)| name == known))
        .map(|(known, _)| *known)
        .collect();
    assert!(
        unexpected.is_empty(),
        "{} cases failed that are not known failures:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    assert!(
        now_passing.is_empty(),
        "known failures that pass (or no longer exist): remove them from KNOWN_FAILURES: {now_passing:?}"
    );
}

/// Cases allowed to fail, by name (`GROUP/CASE` as printed) with the reason. Empty: every case
/// of the vendored fixtures passes (docs/ethereum-tests.md).
const KNOWN_FAILURES: &[(&str, &str)] = &[];
