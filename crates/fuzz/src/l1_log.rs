//! The L1Watcher's decoding of the bridge's `PrivilegedTxSent` logs, fed arbitrary topics and
//! data (an L1 RPC is outside the process: it can return anything).

use alloy::{
    primitives::{Address, B256, Bytes, LogData, address},
    rpc::types::Log,
    sol_types::SolEvent,
};
use keel_l1::contracts::CommonBridge::PrivilegedTxSent;
use keel_sequencer::l1_watcher::privileged_tx_of_log;
use keel_types::PrivilegedTx;

/// The bridge the watcher listens to in this target.
const BRIDGE: Address = address!("0x00000000000000000000000000000000b41d6e00");
const L2_CHAIN_ID: u64 = 1_729_001;

/// The log an input describes: byte 0 holds the topic count (low 3 bits, at most 4), whether the
/// first topic is the event's real signature (bit 7) and whether another contract emitted it
/// (bit 6); then 32 bytes per topic; the rest is the data.
pub fn log_of(data: &[u8]) -> Option<Log> {
    let (&flags, mut rest) = data.split_first()?;
    let count = usize::from(flags & 0x07).min(4);
    let mut topics = Vec::with_capacity(count);
    for i in 0..count {
        if i == 0 && flags & 0x80 != 0 {
            topics.push(PrivilegedTxSent::SIGNATURE_HASH);
            continue;
        }
        let (topic, tail) = rest.split_at_checked(32)?;
        topics.push(B256::from_slice(topic));
        rest = tail;
    }
    let emitter = if flags & 0x40 != 0 {
        Address::repeat_byte(0x11)
    } else {
        BRIDGE
    };
    Some(Log {
        inner: alloy::primitives::Log {
            address: emitter,
            data: LogData::new_unchecked(topics, Bytes::copy_from_slice(rest)),
        },
        ..Default::default()
    })
}

/// Decodes the log as the watcher does; a privileged tx it yields is for the bridge's chain and
/// survives its own 2718 round trip.
pub fn l1_log(data: &[u8]) {
    let Some(log) = log_of(data) else { return };
    if let Ok(tx) = privileged_tx_of_log(BRIDGE, L2_CHAIN_ID, &log) {
        assert_eq!(log.address(), BRIDGE, "a log of another contract accepted");
        assert_eq!(tx.chain_id, L2_CHAIN_ID);
        assert_eq!(
            PrivilegedTx::decode_2718(&tx.encoded_2718()).ok().as_ref(),
            Some(&tx),
            "privileged tx round trip"
        );
    }
}
