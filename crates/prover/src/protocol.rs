//! The coordinator ⇄ prover protocol over TCP (docs/prover.md, Protocol and coordinator).
//!
//! Each frame is a 4-byte big-endian length followed by that many bytes: one postcard-encoded
//! message. A prover sends [`ProverMessage`]s and the coordinator answers each with one
//! [`CoordinatorMessage`]:
//!
//! - `BatchRequest{version, backend}` → `BatchResponse{batch, input}`, `NoWork`, or
//!   `VersionMismatch{expected}` (then the coordinator closes the connection).
//! - `ProofSubmit{batch, backend, public_inputs, proof}` → `SubmitAck` or `Rejected{reason}`.
//!
//! Frames longer than the reader's limit are refused from their length prefix, before any of the
//! body is read; a frame cut short and a body that is not a message are errors
//! ([`ProtocolError`]), never panics.
//!
//! This module does I/O (tokio); it is kept apart from the pure program ([`crate::prove_batch`]),
//! which never touches it.

use alloy_primitives::Bytes;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{BackendKind, ProverInput};

/// The protocol version a prover announces in its `BatchRequest`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Default largest frame: 256 MiB (a batch's prover input carries its blocks and witness).
pub const DEFAULT_MAX_FRAME_BYTES: u32 = 256 * 1024 * 1024;

/// Prover → coordinator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProverMessage {
    /// Ask for a batch to prove.
    BatchRequest { version: u32, backend: BackendKind },
    /// A proof of `batch`: the 256-byte encoded public inputs and the backend's proof bytes.
    ProofSubmit {
        batch: u64,
        backend: BackendKind,
        public_inputs: Bytes,
        proof: Bytes,
    },
}

/// Coordinator → prover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)]
pub enum CoordinatorMessage {
    /// Prove this batch.
    BatchResponse { batch: u64, input: ProverInput },
    /// Nothing to prove now; ask again later.
    NoWork,
    /// The request's protocol version is not the coordinator's; the connection is closed.
    VersionMismatch { expected: u32 },
    /// The proof was checked and stored.
    SubmitAck,
    /// The proof (or the message) was refused, and why.
    Rejected { reason: String },
}

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The peer closed the connection between frames.
    #[error("connection closed")]
    Closed,
    /// The connection ended inside a frame.
    #[error("truncated frame: expected {expected} bytes, got {got}")]
    Truncated { expected: usize, got: usize },
    /// The length prefix is over the limit; nothing of the body was read.
    #[error("frame of {len} bytes is over the limit of {max} bytes")]
    TooLarge { len: u64, max: u32 },
    /// The body is not a message.
    #[error("undecodable frame: {0}")]
    Decode(String),
    /// The message could not be encoded.
    #[error("can't encode the message: {0}")]
    Encode(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Encode `message` as a frame body.
pub fn encode_message<M: Serialize>(message: &M) -> Result<Vec<u8>, ProtocolError> {
    postcard::to_allocvec(message).map_err(|e| ProtocolError::Encode(e.to_string()))
}

/// Decode a frame body; trailing bytes are an error.
pub fn decode_message<M: DeserializeOwned>(body: &[u8]) -> Result<M, ProtocolError> {
    let (message, rest) =
        postcard::take_from_bytes::<M>(body).map_err(|e| ProtocolError::Decode(e.to_string()))?;
    if !rest.is_empty() {
        return Err(ProtocolError::Decode(format!(
            "{} trailing bytes after the message",
            rest.len()
        )));
    }
    Ok(message)
}

/// Write one frame carrying `body` (an encoded message); refused if over `max_frame_bytes`.
pub async fn write_raw_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    body: &[u8],
    max_frame_bytes: u32,
) -> Result<(), ProtocolError> {
    let len = u32::try_from(body.len())
        .ok()
        .filter(|len| *len <= max_frame_bytes)
        .ok_or(ProtocolError::TooLarge {
            len: body.len() as u64,
            max: max_frame_bytes,
        })?;
    writer.write_all(&len.to_be_bytes()).await?;
    writer.write_all(body).await?;
    writer.flush().await?;
    Ok(())
}

/// Write `message` as one frame.
pub async fn write_frame<W: AsyncWrite + Unpin, M: Serialize>(
    writer: &mut W,
    message: &M,
    max_frame_bytes: u32,
) -> Result<(), ProtocolError> {
    write_raw_frame(writer, &encode_message(message)?, max_frame_bytes).await
}

/// Read one frame's body. A length over `max_frame_bytes` is refused before the body is read;
/// the body's buffer grows only as bytes arrive.
pub async fn read_raw_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_frame_bytes: u32,
) -> Result<Vec<u8>, ProtocolError> {
    let mut prefix = [0u8; 4];
    let mut filled = 0;
    while filled < prefix.len() {
        let n = reader.read(&mut prefix[filled..]).await?;
        if n == 0 {
            return Err(if filled == 0 {
                ProtocolError::Closed
            } else {
                ProtocolError::Truncated {
                    expected: 4,
                    got: filled,
                }
            });
        }
        filled += n;
    }
    let len = u32::from_be_bytes(prefix);
    if len > max_frame_bytes {
        return Err(ProtocolError::TooLarge {
            len: len.into(),
            max: max_frame_bytes,
        });
    }
    let expected = len as usize;
    let mut body = Vec::with_capacity(expected.min(64 * 1024));
    reader.take(len.into()).read_to_end(&mut body).await?;
    if body.len() != expected {
        return Err(ProtocolError::Truncated {
            expected,
            got: body.len(),
        });
    }
    Ok(body)
}

/// Read one frame and decode its message; also returns the body's length in bytes.
pub async fn read_frame_sized<R: AsyncRead + Unpin, M: DeserializeOwned>(
    reader: &mut R,
    max_frame_bytes: u32,
) -> Result<(M, usize), ProtocolError> {
    let body = read_raw_frame(reader, max_frame_bytes).await?;
    Ok((decode_message(&body)?, body.len()))
}

/// Read one frame and decode its message.
pub async fn read_frame<R: AsyncRead + Unpin, M: DeserializeOwned>(
    reader: &mut R,
    max_frame_bytes: u32,
) -> Result<M, ProtocolError> {
    Ok(read_frame_sized(reader, max_frame_bytes).await?.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, B256};
    use keel_types::ExecutionWitness;

    fn input() -> ProverInput {
        ProverInput {
            batch_number: 7,
            chain_config: "{\"chainId\":65536999}".into(),
            l1_chain_id: 31337,
            on_chain_proposer: Address::repeat_byte(0x9a),
            blocks: vec![Bytes::from(vec![0xc0; 100])],
            witness: ExecutionWitness {
                state: vec![Bytes::from(vec![1u8; 40]), Bytes::from(vec![2u8; 70])],
                codes: vec![Bytes::from(vec![0x60, 0x00])],
                keys: vec![],
                headers: vec![Bytes::from(vec![3u8; 500])],
            },
            blob: Some(Bytes::from(vec![9u8; 1000])),
            blob_versioned_hash: B256::repeat_byte(1),
        }
    }

    fn messages() -> (Vec<ProverMessage>, Vec<CoordinatorMessage>) {
        (
            vec![
                ProverMessage::BatchRequest {
                    version: PROTOCOL_VERSION,
                    backend: BackendKind::Exec,
                },
                ProverMessage::ProofSubmit {
                    batch: 7,
                    backend: BackendKind::Exec,
                    public_inputs: Bytes::from(vec![5u8; 352]),
                    proof: Bytes::from(vec![6u8; 65]),
                },
            ],
            vec![
                CoordinatorMessage::BatchResponse {
                    batch: 7,
                    input: input(),
                },
                CoordinatorMessage::NoWork,
                CoordinatorMessage::VersionMismatch { expected: 1 },
                CoordinatorMessage::SubmitAck,
                CoordinatorMessage::Rejected {
                    reason: "duplicate".into(),
                },
            ],
        )
    }

    #[tokio::test]
    async fn every_message_round_trips_through_a_frame() {
        let (from_prover, from_coordinator) = messages();
        let mut wire = Vec::new();
        for m in &from_prover {
            write_frame(&mut wire, m, DEFAULT_MAX_FRAME_BYTES)
                .await
                .expect("write");
        }
        for m in &from_coordinator {
            write_frame(&mut wire, m, DEFAULT_MAX_FRAME_BYTES)
                .await
                .expect("write");
        }
        let mut reader = wire.as_slice();
        for m in &from_prover {
            let read: ProverMessage = read_frame(&mut reader, DEFAULT_MAX_FRAME_BYTES)
                .await
                .expect("read");
            assert_eq!(&read, m);
        }
        for m in &from_coordinator {
            let (read, len): (CoordinatorMessage, usize) =
                read_frame_sized(&mut reader, DEFAULT_MAX_FRAME_BYTES)
                    .await
                    .expect("read");
            assert_eq!(&read, m);
            assert_eq!(len, encode_message(m).expect("encode").len());
        }
        // Then the stream ends cleanly between frames.
        assert!(matches!(
            read_frame::<_, ProverMessage>(&mut reader, DEFAULT_MAX_FRAME_BYTES).await,
            Err(ProtocolError::Closed)
        ));
    }

    #[tokio::test]
    async fn a_frame_over_the_limit_is_refused_before_its_body() {
        // A length prefix of 4 GiB − 1 with no body: refused from the prefix alone.
        let wire = u32::MAX.to_be_bytes();
        let err = read_frame::<_, ProverMessage>(&mut wire.as_slice(), 1024)
            .await
            .expect_err("too large");
        assert!(
            matches!(err, ProtocolError::TooLarge { len, max: 1024 } if len == u64::from(u32::MAX)),
            "{err}"
        );
        // A real message over a small limit: refused on both sides.
        let big = CoordinatorMessage::BatchResponse {
            batch: 7,
            input: input(),
        };
        let mut out = Vec::new();
        assert!(matches!(
            write_frame(&mut out, &big, 100).await,
            Err(ProtocolError::TooLarge { max: 100, .. })
        ));
        assert!(out.is_empty(), "nothing written");
        write_frame(&mut out, &big, DEFAULT_MAX_FRAME_BYTES)
            .await
            .expect("write");
        assert!(matches!(
            read_frame::<_, CoordinatorMessage>(&mut out.as_slice(), 100).await,
            Err(ProtocolError::TooLarge { max: 100, .. })
        ));
    }

    #[tokio::test]
    async fn truncated_frames_are_errors() {
        let mut wire = Vec::new();
        write_frame(&mut wire, &messages().1[0], DEFAULT_MAX_FRAME_BYTES)
            .await
            .expect("write");
        // Cut inside the body.
        let cut = &wire[..wire.len() - 10];
        let err = read_frame::<_, CoordinatorMessage>(&mut &cut[..], DEFAULT_MAX_FRAME_BYTES)
            .await
            .expect_err("truncated");
        assert!(
            matches!(err, ProtocolError::Truncated { expected, got } if expected == wire.len() - 4 && got == wire.len() - 14),
            "{err}"
        );
        // Cut inside the length prefix.
        let err = read_frame::<_, CoordinatorMessage>(&mut &wire[..2], DEFAULT_MAX_FRAME_BYTES)
            .await
            .expect_err("truncated");
        assert!(
            matches!(
                err,
                ProtocolError::Truncated {
                    expected: 4,
                    got: 2
                }
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn garbage_bodies_are_errors_not_panics() {
        let bodies: Vec<Vec<u8>> = vec![
            vec![],
            vec![0xff; 16],
            vec![0x05, 0x01, 0x02],
            // A valid BatchRequest followed by trailing bytes.
            {
                let mut b = encode_message(&messages().0[0]).expect("encode");
                b.push(0);
                b
            },
            // A ProofSubmit whose byte string claims more bytes than there are.
            vec![0x01, 0x07, 0x00, 0xff, 0xff, 0xff, 0x0f],
        ];
        for body in bodies {
            let mut wire = Vec::new();
            write_raw_frame(&mut wire, &body, DEFAULT_MAX_FRAME_BYTES)
                .await
                .expect("write");
            let err = read_frame::<_, ProverMessage>(&mut wire.as_slice(), DEFAULT_MAX_FRAME_BYTES)
                .await
                .expect_err("garbage");
            assert!(matches!(err, ProtocolError::Decode(_)), "{body:?}: {err}");
            // The coordinator's messages too.
            let err =
                read_frame::<_, CoordinatorMessage>(&mut wire.as_slice(), DEFAULT_MAX_FRAME_BYTES)
                    .await;
            assert!(
                !matches!(err, Ok(CoordinatorMessage::BatchResponse { .. })),
                "{body:?}"
            );
        }
        // Many random bodies: never a panic.
        let mut seed = 0x1234_5678_u64;
        for _ in 0..2000 {
            let len = (seed % 64) as usize;
            let body: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let _ = decode_message::<ProverMessage>(&body);
            let _ = decode_message::<CoordinatorMessage>(&body);
        }
    }
}
