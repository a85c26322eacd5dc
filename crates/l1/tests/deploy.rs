//! The deployer on a real anvil: a complete run, a second run that sends nothing, a run that
//! resumes an interrupted deployment, and the refusals (another configuration, a nonce that moved
//! on).

mod common;

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
};
use common::{OWNER, USER, addr, test_config, wallet_provider};
use keel_l1::{
    Anvil, AnvilConfig, DeployError, Deployment,
    contracts::{AttestationVerifier, CommonBridge, OnChainProposer},
    deploy,
    deploy::IMPLEMENTATION_SLOT,
};

#[tokio::test]
async fn deploys_initializes_and_records_everything() {
    let anvil = Anvil::spawn(&AnvilConfig::default()).await.expect("anvil");
    let provider = wallet_provider(&anvil.url);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("deployment.json");
    let config = test_config();

    let outcome = deploy(&provider, addr(OWNER), &config, &out)
        .await
        .expect("deploys");
    assert_eq!(outcome.sent.len(), 6);
    assert!(outcome.existing.is_empty());
    let d = &outcome.deployment;
    assert!(d.complete);
    assert_eq!(
        d.l1_chain_id,
        provider.get_chain_id().await.expect("chain id")
    );
    assert_eq!(Deployment::load(&out).expect("file"), *d, "file = outcome");
    assert!(d.deploy_block.is_some());

    let c = d.contracts;
    for pair in [c.common_bridge, c.on_chain_proposer, c.attestation_verifier] {
        let slot = provider
            .get_storage_at(pair.proxy, IMPLEMENTATION_SLOT.into())
            .await
            .expect("slot");
        assert_eq!(Address::from_word(slot.into()), pair.implementation);
    }
    let bridge = CommonBridge::new(c.common_bridge.proxy, &provider);
    let proposer = OnChainProposer::new(c.on_chain_proposer.proxy, &provider);
    let verifier = AttestationVerifier::new(c.attestation_verifier.proxy, &provider);
    assert_eq!(bridge.owner().call().await.expect("owner"), config.owner);
    assert_eq!(proposer.owner().call().await.expect("owner"), config.owner);
    assert_eq!(verifier.owner().call().await.expect("owner"), config.owner);
    assert_eq!(
        bridge.l2ChainId().call().await.expect("chain id"),
        U256::from(config.l2_chain_id)
    );
    assert_eq!(
        bridge.inclusionMaxWait().call().await.expect("wait"),
        U256::from(config.inclusion_max_wait)
    );
    assert!(
        proposer
            .isSequencer(config.sequencers[0])
            .call()
            .await
            .expect("seq")
    );
    assert!(!proposer.isSequencer(addr(USER)).call().await.expect("seq"));
    assert_eq!(
        proposer.getVerifiers().call().await.expect("verifiers"),
        vec![c.attestation_verifier.proxy]
    );
    assert_eq!(
        proposer
            .getBatch(U256::ZERO)
            .call()
            .await
            .expect("batch 0")
            .newStateRoot,
        config.genesis_state_root
    );
    assert!(!proposer.validium().call().await.expect("validium"));
    // Issue 12's parameters: batch 0's last block is the L2 genesis block; the bridge knows the
    // L2 block gas limit, the privileged gas cap within it, the max pause; no council, no
    // timelock (the contracts' owner is the configured owner).
    assert_eq!(
        proposer
            .getBatch(U256::ZERO)
            .call()
            .await
            .expect("batch 0")
            .lastBlockHash,
        config.genesis_block_hash
    );
    assert_eq!(d.genesis_block_hash, config.genesis_block_hash);
    assert_eq!(
        bridge.l2BlockGasLimit().call().await.expect("gas limit"),
        U256::from(config.l2_block_gas_limit)
    );
    assert_eq!(
        bridge
            .maxPrivilegedGasLimit()
            .call()
            .await
            .expect("privileged cap"),
        U256::from(config.max_privileged_gas_limit)
    );
    assert_eq!(
        bridge.maxPause().call().await.expect("max pause"),
        U256::from(config.max_pause)
    );
    for council in [
        bridge.securityCouncil().call().await.expect("council"),
        proposer.securityCouncil().call().await.expect("council"),
        verifier.securityCouncil().call().await.expect("council"),
    ] {
        assert_eq!(council, config.security_council);
    }
    assert_eq!(d.timelock, None);
    for s in &config.verifier_signers {
        assert!(verifier.isSigner(*s).call().await.expect("signer"));
    }
    assert_eq!(
        verifier.threshold().call().await.expect("threshold"),
        U256::from(config.verifier_threshold)
    );

    // A second run with the same file sends nothing.
    let nonce = provider
        .get_transaction_count(addr(OWNER))
        .await
        .expect("nonce");
    let again = deploy(&provider, addr(OWNER), &config, &out)
        .await
        .expect("second run");
    assert!(again.sent.is_empty());
    assert_eq!(again.existing.len(), 6);
    assert_eq!(again.deployment, *d);
    assert_eq!(
        provider
            .get_transaction_count(addr(OWNER))
            .await
            .expect("nonce"),
        nonce,
        "no transaction sent"
    );
}

#[tokio::test]
async fn resumes_an_interrupted_deployment() {
    // Plan and complete a deployment on one anvil, to get the file and the runtime code.
    let first = Anvil::spawn(&AnvilConfig::default()).await.expect("anvil");
    let first_provider = wallet_provider(&first.url);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("deployment.json");
    let config = test_config();
    let done = deploy(&first_provider, addr(OWNER), &config, &out)
        .await
        .expect("deploys")
        .deployment;

    // A second anvil where only the three implementations landed before the "crash": their code
    // is at the planned addresses and the deployer's nonce moved past them.
    let second = Anvil::spawn(&AnvilConfig::default()).await.expect("anvil");
    let provider = wallet_provider(&second.url);
    let addresses = done.step_addresses();
    for address in &addresses[..3] {
        let code = first_provider.get_code_at(*address).await.expect("code");
        let _: serde_json::Value = provider
            .raw_request("anvil_setCode".into(), (*address, code))
            .await
            .expect("anvil_setCode");
    }
    let _: serde_json::Value = provider
        .raw_request("anvil_setNonce".into(), (addr(OWNER), U256::from(3)))
        .await
        .expect("anvil_setNonce");
    let mut interrupted = done.clone();
    interrupted.complete = false;
    interrupted.deploy_block = None;
    interrupted.save(&out).expect("write the interrupted file");

    let outcome = deploy(&provider, addr(OWNER), &config, &out)
        .await
        .expect("resumes");
    let sent: Vec<Address> = outcome.sent.iter().map(|(_, a, _)| *a).collect();
    let existing: Vec<Address> = outcome.existing.iter().map(|(_, a)| *a).collect();
    assert_eq!(existing, addresses[..3].to_vec(), "implementations kept");
    assert_eq!(sent, addresses[3..].to_vec(), "only the proxies sent");
    assert!(outcome.deployment.complete);
    assert_eq!(
        outcome.deployment.contracts, done.contracts,
        "same addresses as planned"
    );
    let bridge = CommonBridge::new(done.contracts.common_bridge.proxy, &provider);
    assert_eq!(
        bridge.onChainProposer().call().await.expect("link"),
        done.contracts.on_chain_proposer.proxy
    );
}

#[tokio::test]
async fn refuses_a_file_for_another_configuration_or_a_used_nonce() {
    let anvil = Anvil::spawn(&AnvilConfig::default()).await.expect("anvil");
    let provider = wallet_provider(&anvil.url);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("deployment.json");
    let config = test_config();

    // Plan only: a file written for this configuration, then the deployer's nonce used by
    // another transaction before any deployment.
    let plan_anvil = Anvil::spawn(&AnvilConfig::default()).await.expect("anvil");
    let mut planned = deploy(
        &wallet_provider(&plan_anvil.url),
        addr(OWNER),
        &config,
        &out,
    )
    .await
    .expect("deploys")
    .deployment;
    drop(plan_anvil);
    planned.complete = false;
    planned.save(&out).expect("save");

    let transfer = TransactionRequest::default()
        .with_from(addr(OWNER))
        .with_to(addr(USER))
        .with_value(U256::from(1));
    provider
        .send_transaction(transfer)
        .await
        .expect("send")
        .get_receipt()
        .await
        .expect("receipt");
    let err = deploy(&provider, addr(OWNER), &config, &out)
        .await
        .expect_err("the planned nonce is gone");
    assert!(
        matches!(
            err,
            DeployError::NonceMoved {
                step: 0,
                planned: 0,
                actual: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        provider
            .get_code_at(planned.contracts.common_bridge.proxy)
            .await
            .expect("code")
            .is_empty(),
        "nothing deployed"
    );

    // Another genesis state root with the same file.
    let mut other = config.clone();
    other.genesis_state_root.0[0] ^= 1;
    let err = deploy(&provider, addr(OWNER), &other, &out)
        .await
        .expect_err("another configuration");
    assert!(
        matches!(
            err,
            DeployError::Mismatch {
                field: "genesis state root",
                ..
            }
        ),
        "{err}"
    );

    // Another privileged gas cap with the same file.
    let mut other = config.clone();
    other.max_privileged_gas_limit -= 1;
    let err = deploy(&provider, addr(OWNER), &other, &out)
        .await
        .expect_err("another privileged gas cap");
    assert!(
        matches!(
            err,
            DeployError::Mismatch {
                field: "max privileged gas limit",
                ..
            }
        ),
        "{err}"
    );

    // Invalid parameters are refused before anything is sent.
    type Change = fn(&mut keel_l1::DeployConfig);
    let invalid: [(&str, Change); 4] = [
        ("threshold above the signers", |c| c.verifier_threshold = 4),
        ("inclusion max wait below 30 min", |c| {
            c.inclusion_max_wait = keel_l1::deploy::MIN_INCLUSION_MAX_WAIT - 1
        }),
        ("privileged gas cap below 300k", |c| {
            c.max_privileged_gas_limit = keel_l1::deploy::MIN_PRIVILEGED_GAS_LIMIT - 1
        }),
        ("privileged gas cap above the L2 block gas limit", |c| {
            c.max_privileged_gas_limit = c.l2_block_gas_limit + 1
        }),
    ];
    for (why, change) in invalid {
        let mut bad = config.clone();
        change(&mut bad);
        let err = deploy(&provider, addr(OWNER), &bad, &dir.path().join("other.json"))
            .await
            .expect_err(why);
        assert!(matches!(err, DeployError::Config(_)), "{why}: {err}");
        assert!(!dir.path().join("other.json").exists(), "{why}");
    }
}

#[tokio::test]
async fn a_dead_l1_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let provider = wallet_provider(&format!("http://127.0.0.1:{port}"));
    let err = deploy(
        &provider,
        addr(OWNER),
        &test_config(),
        &dir.path().join("d.json"),
    )
    .await
    .expect_err("nothing listens");
    assert!(matches!(err, DeployError::Rpc(_)), "{err}");
    assert!(
        !dir.path().join("d.json").exists(),
        "no file for a failed start"
    );
}
