//! The prover protocol frames, read from a byte stream both ways: as the ProofCoordinator reads a
//! prover's frames, and as a prover reads its coordinator's (whose batch input's blocks and
//! headers are then decoded, as the prover does first). The stateless program's own refusals of
//! tampered inputs are tested in `crates/sequencer/tests/stateless_prover.rs`; running it on every
//! fuzzed input would cut the rate a hundredfold.

use keel_prover::{
    ProverInput,
    protocol::{CoordinatorMessage, ProverMessage, decode_message, encode_message, read_raw_frame},
};
use serde::{Serialize, de::DeserializeOwned};

/// Largest frame the target reads (the protocol's limit is a setting; a small one keeps each run
/// short, and the limit check itself is what is exercised).
const MAX_FRAME: u32 = 1 << 20;
/// Most frames read from one input.
const MAX_FRAMES: usize = 16;

thread_local! {
    static RUNTIME: Option<tokio::runtime::Runtime> =
        tokio::runtime::Builder::new_current_thread().build().ok();
}

/// Every frame of `data` as the coordinator and as a prover would read it.
pub fn prover_frame(data: &[u8]) {
    RUNTIME.with(|runtime| {
        let Some(runtime) = runtime else { return };
        runtime.block_on(async {
            let mut stream = data;
            for _ in 0..MAX_FRAMES {
                let Ok(body) = read_raw_frame(&mut stream, MAX_FRAME).await else {
                    break;
                };
                if let Some(message) = round_trip::<ProverMessage>(&body) {
                    let _ = message;
                }
                if let Some(CoordinatorMessage::BatchResponse { input, .. }) =
                    round_trip::<CoordinatorMessage>(&body)
                {
                    prove(&input);
                }
            }
        });
    });
    // A ProverInput on its own (what `keel l2 prover --input FILE` reads).
    if let Ok(input) = ProverInput::decode(data) {
        assert_eq!(
            ProverInput::decode(&input.encode()).ok().as_ref(),
            Some(&input),
            "ProverInput round trip"
        );
        prove(&input);
    }
}

/// Decodes one message; what decodes re-encodes to a body that decodes to the same message.
fn round_trip<M: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    body: &[u8],
) -> Option<M> {
    let message: M = decode_message(body).ok()?;
    let again = encode_message(&message)
        .ok()
        .and_then(|bytes| decode_message::<M>(&bytes).ok());
    assert_eq!(again.as_ref(), Some(&message), "message round trip");
    Some(message)
}

/// Decodes an input's blocks and headers as a prover does before running the program: any error
/// is fine, a panic is not.
fn prove(input: &ProverInput) {
    let _ = input.decode_blocks();
    let _ = input.decode_headers();
}
