//! The stateless program over real sealed batches: a batch of transfers, a contract deployment,
//! storage writes, a deposit and withdrawals is sealed by the BatchSealer (redb store, revm), its
//! ProverInput is built from the store (witness recorded by re-execution), and `prove_batch`
//! must return exactly the public inputs the sequencer commits. Then each kind of tampering gets
//! its own error.

mod common;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use common::{COINBASE, Node, node_on, signed, signed_create};
use keel_prover::{ExecBackend, ProgramError, ProverBackend, ProverInput, prove_batch};
use keel_sequencer::{
    BatchSealer, BatchSealerConfig, BlockProducerConfig, ProverInputContext, build_prover_input,
};
use keel_storage::Store;
use keel_types::{Batch, PrivilegedTx, dev, rules::L2_BRIDGE_ADDRESS};

const PROPOSER: Address = Address::repeat_byte(0x9a);
const L1_CHAIN_ID: u64 = 31337;

/// Init code: `sstore(1, 42)`, then return the runtime `sstore(0, callvalue)`.
fn init_code() -> Vec<u8> {
    let mut code = hex::decode("602a6001556005601160003960056000f3").expect("hex");
    code.extend(hex::decode("3460005500").expect("hex"));
    code
}

fn withdraw_input(receiver: Address) -> Vec<u8> {
    let mut input = keccak256("withdraw(address)")[..4].to_vec();
    input.extend_from_slice(&[0u8; 12]);
    input.extend_from_slice(receiver.as_slice());
    input
}

fn context() -> ProverInputContext {
    ProverInputContext {
        chain_config: serde_json::to_string(&dev::dev_genesis().config).expect("config"),
        l1_chain_id: L1_CHAIN_ID,
        on_chain_proposer: PROPOSER,
    }
}

fn produce(node: &Node) {
    node.producer
        .produce_block()
        .expect("produce")
        .expect("a block");
}

/// Three blocks: transfers, a deployment, a call that writes storage, a deposit, two
/// withdrawals; sealed as one batch. Returns the node, the batch and its input.
fn sealed_batch(validium: bool) -> (Node, Batch, ProverInput) {
    let node = node_on(
        Store::in_memory().expect("store"),
        None,
        BlockProducerConfig {
            coinbase: COINBASE,
            ..Default::default()
        },
    );
    let contract = dev::DEV_ACCOUNTS[2].0.create(0);
    let gwei = U256::from(1_000_000_000u64);
    // A block before the batch, so the batch starts on a non-genesis parent.
    node.mempool
        .add_raw(&signed(
            0,
            0,
            Address::repeat_byte(0x11),
            gwei,
            vec![],
            21_000,
            1,
        ))
        .expect("tx");
    produce(&node);
    let sealer = BatchSealer::new(
        BatchSealerConfig {
            validium,
            ..Default::default()
        },
        node.chain.clone(),
    );
    sealer.seal_now().expect("seal the first batch");

    for i in 0..2 {
        node.mempool
            .add_raw(&signed(
                i,
                if i == 0 { 1 } else { 0 },
                Address::repeat_byte(0x20 + i as u8),
                gwei,
                vec![],
                21_000,
                1,
            ))
            .expect("transfer");
    }
    node.mempool
        .add_raw(&signed_create(2, 0, init_code(), 200_000))
        .expect("create");
    produce(&node);

    let deposit = PrivilegedTx {
        chain_id: dev::DEFAULT_L2_CHAIN_ID,
        nonce: 0,
        from: L2_BRIDGE_ADDRESS,
        to: Address::repeat_byte(0x33),
        value: gwei,
        gas_limit: 100_000,
        data: Bytes::new(),
    };
    node.chain
        .store()
        .record_privileged_txs(std::slice::from_ref(&deposit), None)
        .expect("record deposit");
    node.mempool.add_privileged(vec![deposit]);
    node.mempool
        .add_raw(&signed(3, 0, contract, U256::from(7), vec![], 100_000, 1))
        .expect("call");
    node.mempool
        .add_raw(&signed(
            4,
            0,
            L2_BRIDGE_ADDRESS,
            gwei,
            withdraw_input(Address::repeat_byte(0xa1)),
            200_000,
            1,
        ))
        .expect("withdraw");
    produce(&node);
    node.mempool
        .add_raw(&signed(
            5,
            0,
            L2_BRIDGE_ADDRESS,
            gwei * U256::from(2),
            withdraw_input(Address::repeat_byte(0xa2)),
            200_000,
            1,
        ))
        .expect("withdraw");
    produce(&node);

    let batches = sealer.seal_now().expect("seal");
    let batch = batches.last().cloned().expect("a batch");
    assert_eq!((batch.first_block, batch.last_block), (2, 4));
    assert_ne!(
        batch.withdrawals_root,
        B256::ZERO,
        "the batch carries withdrawals"
    );
    assert_ne!(
        batch.privileged_rolling_hash,
        B256::ZERO,
        "the batch carries a deposit"
    );
    let input = build_prover_input(&node.chain, &context(), batch.number).expect("input");
    (node, batch, input)
}

fn expected_inputs(node: &Node, batch: &Batch) -> keel_types::PublicInputs {
    let store = node.chain.store();
    let previous = store
        .batch(batch.number - 1)
        .expect("read")
        .expect("previous");
    let blob_hash = store
        .batch_blob(batch.number)
        .expect("read")
        .map_or(B256::ZERO, |b| b.versioned_hash);
    let reader = store.reader().expect("reader");
    let last = keel_storage::ChainReader::header(&reader, &batch.last_block_hash)
        .expect("read")
        .expect("header");
    batch.public_inputs(
        (previous.state_root, previous.last_block_hash),
        blob_hash,
        dev::DEFAULT_L2_CHAIN_ID,
        last.timestamp,
    )
}

#[test]
fn a_sealed_batch_proves_to_the_public_inputs_the_sequencer_commits() {
    let (node, batch, input) = sealed_batch(false);
    assert!(input.blob.is_some());
    let decoded = ProverInput::decode(&input.encode()).expect("round trip");
    assert_eq!(decoded, input);
    let proved = prove_batch(&decoded).expect("the batch proves");
    assert_eq!(proved, expected_inputs(&node, &batch));

    // The exec backend signs what the AttestationVerifier recovers.
    let signer = alloy_signer_local::PrivateKeySigner::random();
    let backend = ExecBackend::new(signer.clone());
    let proof = backend.prove(&input).expect("prove");
    assert_eq!(proof.public_inputs, proved);
    let signature =
        alloy_primitives::Signature::try_from(proof.proof.as_ref()).expect("65-byte signature");
    let digest = proved.attestation_digest(L1_CHAIN_ID, PROPOSER);
    assert_eq!(
        signature
            .recover_address_from_prehash(&digest)
            .expect("recover"),
        signer.address()
    );
}

#[test]
fn a_validium_batch_proves_without_a_blob() {
    let (node, batch, input) = sealed_batch(true);
    assert!(input.blob.is_none());
    assert_eq!(
        prove_batch(&input).expect("proves"),
        expected_inputs(&node, &batch)
    );
}

#[test]
fn a_witness_with_a_node_removed_is_rejected() {
    let (_node, _batch, input) = sealed_batch(false);
    let root = input.decode_headers().expect("headers")[0].state_root;
    // A node below the root whose children are not in the witness (a leaf of the partial trie):
    // the program misses it when it reads that path. (Removing a node with others below it
    // leaves those unreachable, which the check against the initial root reports first.)
    let hashes: Vec<B256> = input.witness.state.iter().map(keccak256).collect();
    let bottom = input
        .witness
        .state
        .iter()
        .position(|node| {
            keccak256(node) != root
                && !hashes
                    .iter()
                    .any(|h| node.windows(32).any(|w| w == h.as_slice()))
        })
        .expect("a bottom node");
    let mut input = input.clone();
    let removed = keccak256(input.witness.state.remove(bottom));
    let err = prove_batch(&input).expect_err("must fail");
    assert!(
        matches!(&err, ProgramError::MissingWitnessNode { node, .. } | ProgramError::MissingDiffNode(node) if *node == removed),
        "removing node {removed}: {err}"
    );
}

#[test]
fn a_witness_with_a_node_altered_is_rejected() {
    let (_node, _batch, mut input) = sealed_batch(false);
    let index = input.witness.state.len() / 2;
    let mut altered = input.witness.state[index].to_vec();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    input.witness.state[index] = Bytes::from(altered.clone());
    let err = prove_batch(&input).expect_err("must fail");
    // The altered node, or a node below it (now reached from nowhere).
    assert!(
        matches!(err, ProgramError::UnreachableWitnessNode(_)),
        "{err}"
    );
}

#[test]
fn a_block_with_an_altered_state_root_is_rejected() {
    let (_node, _batch, mut input) = sealed_batch(false);
    let mut blocks = input.decode_blocks().expect("blocks");
    blocks[1].header.state_root = B256::repeat_byte(0x55);
    // Keep the chain linked so the state root is the only thing wrong.
    let hash = blocks[1].header.hash_slow();
    blocks[2].header.parent_hash = hash;
    input.blocks = blocks
        .iter()
        .map(|b| Bytes::from(alloy_rlp::encode(b)))
        .collect();
    let err = prove_batch(&input).expect_err("must fail");
    assert!(
        matches!(err, ProgramError::StateRoot { number, got, .. } if number == blocks[1].header.number && got == B256::repeat_byte(0x55)),
        "{err}"
    );
}

#[test]
fn a_blob_that_does_not_match_the_diff_is_rejected() {
    let (_node, _batch, input) = sealed_batch(false);
    // A blob with a different diff: the one of another batch (the first one).
    let mut other = input.clone();
    let payload = keel_types::unpack_blob(
        input
            .blob
            .as_ref()
            .expect("blob")
            .as_ref()
            .try_into()
            .expect("blob size"),
    )
    .expect("unpack");
    let mut diff = keel_types::decode_state_diff_payload(&payload).expect("diff");
    diff.accounts.pop();
    let payload =
        keel_types::encode_state_diff_payload(&diff, keel_types::Codec::Raw).expect("encode");
    other.blob = Some(Bytes::from(
        keel_types::pack_blob(&payload).expect("pack").to_vec(),
    ));
    let err = prove_batch(&other).expect_err("must fail");
    assert!(matches!(err, ProgramError::BlobDiffMismatch(_)), "{err}");

    // The right blob, the wrong committed versioned hash.
    let mut wrong_hash = input.clone();
    wrong_hash.blob_versioned_hash = B256::repeat_byte(0x01);
    let err = prove_batch(&wrong_hash).expect_err("must fail");
    assert!(
        matches!(err, ProgramError::BlobHashMismatch { .. }),
        "{err}"
    );
}
