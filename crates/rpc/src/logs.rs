//! `eth_getLogs`, and the log filter criteria it shares with `eth_newFilter`, `eth_getFilterLogs`
//! and `logs` subscriptions: parsed with geth's rules and messages, matched as geth matches them
//! (the header's `logsBloom` first, so blocks without a possible match cost one header read).

use alloy_primitives::{Address, B256, Bloom, BloomInput, hex};
use alloy_rpc_types_eth::{BlockNumberOrTag, Log};
use jsonrpsee::{RpcModule, core::RegisterMethodError, types::ErrorObjectOwned};
use keel_storage::{ChainReader, StoreReader};
use keel_types::{Header, Receipt, Transaction};
use serde_json::Value;

use crate::{
    RpcContext,
    convert::{TxPosition, rpc_log},
    error::{RpcError, RpcResult},
};

/// Most topic positions in a filter (a log has at most four topics).
const MAX_TOPICS: usize = 4;
/// Most alternatives at one topic position (geth's `maxSubTopics`).
const MAX_SUB_TOPICS: usize = 1_000;
/// Most addresses in one filter (geth's `maxAddresses`).
const MAX_ADDRESSES: usize = 1_000;

/// Which blocks a filter covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogBlocks {
    /// EIP-234: the one block with this hash.
    Hash(B256),
    /// `fromBlock`..=`toBlock`; a missing bound is `latest`.
    Range {
        from: Option<BlockNumberOrTag>,
        to: Option<BlockNumberOrTag>,
    },
}

/// Log filter criteria as geth reads them (`FilterCriteria`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogFilter {
    pub blocks: LogBlocks,
    /// A log must come from one of these; empty matches any address.
    pub addresses: Vec<Address>,
    /// Per topic position, the topics any of which matches there; an empty set matches anything.
    /// As in geth, a log with fewer topics than there are positions does not match, even when
    /// the extra positions are wildcards.
    pub topics: Vec<Vec<B256>>,
}

impl LogFilter {
    /// Parse the filter object of `eth_getLogs` / `eth_newFilter` / `eth_subscribe("logs")`.
    /// Errors carry geth's messages, prefixed as geth prefixes argument errors.
    pub fn from_json(value: Value) -> RpcResult<Self> {
        Self::from_json_arg(value, 0)
    }

    /// [`LogFilter::from_json`] for a filter that is argument `index` of its request.
    pub fn from_json_arg(value: Value, index: usize) -> RpcResult<Self> {
        Self::parse(value).map_err(|message| {
            RpcError::invalid_params(format!("invalid argument {index}: {message}"))
        })
    }

    fn parse(value: Value) -> Result<Self, String> {
        let mut object = match value {
            Value::Null => serde_json::Map::new(),
            Value::Object(object) => object,
            other => {
                return Err(format!(
                    "json: cannot unmarshal {} into Go value of type filters.FilterCriteria",
                    json_kind(&other)
                ));
            }
        };
        let not_null = |v: Option<Value>| v.filter(|v| !v.is_null());
        let block_hash = not_null(object.remove("blockHash"));
        let from = not_null(object.remove("fromBlock"));
        let to = not_null(object.remove("toBlock"));
        let blocks = match block_hash {
            Some(hash) => {
                if from.is_some() || to.is_some() {
                    return Err(
                        "cannot specify both BlockHash and FromBlock/ToBlock, choose one \
                                or the other"
                            .into(),
                    );
                }
                let hash = hash
                    .as_str()
                    .ok_or_else(|| "invalid blockHash: not a string".to_string())
                    .and_then(|s| decode_fixed::<32>(s, "hash").map_err(|e| e.to_string()))?;
                LogBlocks::Hash(B256::from(hash))
            }
            None => LogBlocks::Range {
                from: from.map(parse_block_number).transpose()?,
                to: to.map(parse_block_number).transpose()?,
            },
        };

        let addresses = match not_null(object.remove("address")) {
            None => Vec::new(),
            Some(Value::String(s)) => {
                vec![Address::from(
                    decode_fixed::<20>(&s, "address")
                        .map_err(|e| format!("invalid address: {e}"))?,
                )]
            }
            Some(Value::Array(items)) => {
                if items.len() > MAX_ADDRESSES {
                    return Err("exceed max addresses".into());
                }
                let mut addresses = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let s = item
                        .as_str()
                        .ok_or_else(|| format!("non-string address at index {i}"))?;
                    let address = decode_fixed::<20>(s, "address")
                        .map_err(|e| format!("invalid address at index {i}: {e}"))?;
                    addresses.push(Address::from(address));
                }
                addresses
            }
            Some(_) => return Err("invalid addresses in query".into()),
        };

        let topics = match not_null(object.remove("topics")) {
            None => Vec::new(),
            Some(Value::Array(positions)) => {
                if positions.len() > MAX_TOPICS {
                    return Err("exceed max topics".into());
                }
                let mut topics = Vec::with_capacity(positions.len());
                for position in positions {
                    topics.push(parse_topic_position(position)?);
                }
                topics
            }
            Some(_) => return Err("invalid topic(s)".into()),
        };
        // Other fields are ignored, as geth's JSON decoding ignores them.
        Ok(Self {
            blocks,
            addresses,
            topics,
        })
    }

    /// Whether a block with this `logsBloom` may hold a matching log.
    pub fn bloom_matches(&self, bloom: &Bloom) -> bool {
        if !self.addresses.is_empty()
            && !self
                .addresses
                .iter()
                .any(|a| bloom.contains_input(BloomInput::Raw(a.as_slice())))
        {
            return false;
        }
        self.topics.iter().all(|alternatives| {
            alternatives.is_empty()
                || alternatives
                    .iter()
                    .any(|t| bloom.contains_input(BloomInput::Raw(t.as_slice())))
        })
    }

    /// Whether the log matches the address and topic criteria.
    pub fn log_matches(&self, log: &alloy_primitives::Log) -> bool {
        if !self.addresses.is_empty() && !self.addresses.contains(&log.address) {
            return false;
        }
        let log_topics = log.topics();
        if self.topics.len() > log_topics.len() {
            return false;
        }
        self.topics
            .iter()
            .zip(log_topics)
            .all(|(alternatives, topic)| alternatives.is_empty() || alternatives.contains(topic))
    }

    /// Whether block `number` is inside the filter's numeric bounds. Tags (`latest`...) bound
    /// nothing here, as in geth's matching of new logs against installed filters.
    pub fn number_in_bounds(&self, number: u64) -> bool {
        match self.blocks {
            LogBlocks::Hash(_) => true,
            LogBlocks::Range { from, to } => {
                let after_from = !matches!(from, Some(BlockNumberOrTag::Number(f)) if number < f);
                let before_to = !matches!(to, Some(BlockNumberOrTag::Number(t)) if number > t);
                after_from && before_to
            }
        }
    }

    /// geth rejects `pending` as a bound: keel, like geth, has no pending logs.
    pub fn reject_pending(&self) -> RpcResult<()> {
        if let LogBlocks::Range { from, to } = self.blocks
            && (from == Some(BlockNumberOrTag::Pending) || to == Some(BlockNumberOrTag::Pending))
        {
            return Err(RpcError::invalid_params("pending logs are not supported"));
        }
        Ok(())
    }
}

/// One topic position: `null`, a topic, or an array of topics (where a `null` makes the whole
/// position a wildcard, as in geth).
fn parse_topic_position(position: Value) -> Result<Vec<B256>, String> {
    match position {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(vec![decode_topic(&s)?]),
        Value::Array(alternatives) => {
            if alternatives.len() > MAX_SUB_TOPICS {
                return Err("exceed max topics".into());
            }
            let mut topics = Vec::with_capacity(alternatives.len());
            for alternative in alternatives {
                match alternative {
                    Value::Null => return Ok(Vec::new()),
                    Value::String(s) => topics.push(decode_topic(&s)?),
                    _ => return Err("invalid topic(s)".into()),
                }
            }
            Ok(topics)
        }
        _ => Err("invalid topic(s)".into()),
    }
}

fn decode_topic(s: &str) -> Result<B256, String> {
    decode_fixed::<32>(s, "topic")
        .map(B256::from)
        .map_err(|e| e.to_string())
}

/// `0x`-prefixed hex of exactly `N` bytes, with geth's (hexutil) error messages.
fn decode_fixed<const N: usize>(s: &str, what: &str) -> Result<[u8; N], String> {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .ok_or_else(|| "hex string without 0x prefix".to_string())?;
    if digits.len() % 2 == 1 {
        return Err("hex string of odd length".into());
    }
    let bytes = hex::decode(digits).map_err(|_| "invalid hex string".to_string())?;
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| {
        format!(
            "hex has invalid length {} after decoding; expected {N} for {what}",
            bytes.len()
        )
    })
}

fn parse_block_number(value: Value) -> Result<BlockNumberOrTag, String> {
    serde_json::from_value(value).map_err(|e| format!("invalid block number: {e}"))
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The matching logs of one block, from its transactions and receipts, in log-index order.
/// `removed` marks logs of a block that left the canonical chain.
pub(crate) fn block_logs(
    filter: &LogFilter,
    hash: B256,
    header: &Header,
    transactions: &[Transaction],
    receipts: &[Receipt],
    removed: bool,
) -> RpcResult<Vec<Log>> {
    let tx_hash = |index: usize| transactions.get(index).map(|tx| *tx.tx_hash());
    let logs = receipts.iter().map(|receipt| receipt.logs());
    matching_logs(filter, hash, header, tx_hash, logs, removed)
}

/// [`block_logs`] from each receipt's logs and a lookup of the transaction hashes.
fn matching_logs<'a>(
    filter: &LogFilter,
    hash: B256,
    header: &Header,
    tx_hash: impl Fn(usize) -> Option<B256>,
    receipt_logs: impl ExactSizeIterator<Item = &'a [alloy_primitives::Log]>,
    removed: bool,
) -> RpcResult<Vec<Log>> {
    let mut out = Vec::new();
    if !filter.bloom_matches(&header.logs_bloom) {
        return Ok(out);
    }
    let receipts = receipt_logs.len();
    let mut first_log_index = 0u64;
    for (index, logs) in receipt_logs.enumerate() {
        let count = logs.len() as u64;
        if logs.iter().any(|log| filter.log_matches(log)) {
            let tx_hash = tx_hash(index).ok_or_else(|| {
                RpcError::Internal(format!(
                    "block {hash} has {receipts} receipts but no transaction {index}"
                ))
            })?;
            let pos = TxPosition {
                block_hash: hash,
                block_number: header.number,
                block_timestamp: header.timestamp,
                tx_hash,
                tx_index: index as u64,
            };
            out.extend(
                logs.iter()
                    .enumerate()
                    .filter(|(_, log)| filter.log_matches(log))
                    .map(|(i, log)| {
                        let mut log = rpc_log(pos, first_log_index + i as u64, log.clone());
                        log.removed = removed;
                        log
                    }),
            );
        }
        first_log_index += count;
    }
    Ok(out)
}

/// [`block_logs`] of a stored block; the receipts' logs and the transaction hashes are read only
/// if the bloom matches (the hashes of recent blocks come from memory, see
/// [`StoreReader::tx_hashes`]).
pub(crate) fn stored_block_logs(
    reader: &StoreReader,
    filter: &LogFilter,
    hash: B256,
    header: &Header,
    removed: bool,
) -> RpcResult<Vec<Log>> {
    if !filter.bloom_matches(&header.logs_bloom) {
        return Ok(Vec::new());
    }
    let logs = reader
        .receipt_logs(&hash)?
        .ok_or_else(|| RpcError::Internal(format!("receipts of block {hash} missing")))?;
    let tx_hashes = reader
        .tx_hashes(&hash)?
        .ok_or_else(|| RpcError::Internal(format!("body of block {hash} missing")))?;
    let tx_hash = |index: usize| tx_hashes.get(index).copied();
    matching_logs(
        filter,
        hash,
        header,
        tx_hash,
        logs.iter().map(Vec::as_slice),
        removed,
    )
}

/// The canonical block range `fromBlock`..=`toBlock` resolves to, as geth resolves it: a missing
/// bound or `latest` is the head, a bound past the head is an error (-32602 "block range extends
/// beyond current head block", as the spec's test expects), and `None` means an empty range
/// (e.g. `fromBlock: latest, toBlock: 5`).
fn resolve_range(
    head: u64,
    from: Option<BlockNumberOrTag>,
    to: Option<BlockNumberOrTag>,
) -> RpcResult<Option<(u64, u64)>> {
    if from == Some(BlockNumberOrTag::Pending) || to == Some(BlockNumberOrTag::Pending) {
        return Err(RpcError::invalid_params("pending logs are not supported"));
    }
    if let (Some(BlockNumberOrTag::Number(f)), Some(BlockNumberOrTag::Number(t))) = (from, to)
        && f > t
    {
        return Err(RpcError::invalid_params("invalid block range params"));
    }
    if [from, to]
        .iter()
        .any(|bound| matches!(bound, Some(BlockNumberOrTag::Number(n)) if *n > head))
    {
        return Err(RpcError::invalid_params(
            "block range extends beyond current head block",
        ));
    }
    let resolve = |bound: Option<BlockNumberOrTag>| match bound {
        Some(BlockNumberOrTag::Number(n)) => n,
        Some(BlockNumberOrTag::Earliest) => 0,
        // `latest` (the caller turned `safe`/`finalized` into their numbers, see `block_id`).
        _ => head,
    };
    let (first, last) = (resolve(from), resolve(to));
    Ok((first <= last).then_some((first, last)))
}

/// Run a log query over the store.
pub(crate) fn query_logs(ctx: &RpcContext, filter: &LogFilter) -> RpcResult<Vec<Log>> {
    let reader = ctx.reader()?;
    let max_logs = ctx.config.max_logs;
    let too_many = |range: Option<(u64, u64)>| {
        RpcError::LimitExceeded(match range {
            Some((first, last)) => {
                format!("query exceeds max results {max_logs}, retry with the range {first}-{last}")
            }
            None => format!("query exceeds max results {max_logs}"),
        })
    };
    match filter.blocks {
        LogBlocks::Hash(hash) => {
            let header = reader
                .header(&hash)?
                .ok_or_else(|| RpcError::server("unknown block"))?;
            let logs = stored_block_logs(&reader, filter, hash, &header, false)?;
            if max_logs > 0 && logs.len() > max_logs {
                return Err(too_many(None));
            }
            Ok(logs)
        }
        LogBlocks::Range { from, to } => {
            let (_, head) = reader
                .head()?
                .ok_or_else(|| RpcError::Internal("no head block".into()))?;
            // `safe` and `finalized` name the blocks the one resolver gives (docs/rpc.md).
            let settled = |bound: Option<BlockNumberOrTag>| -> RpcResult<_> {
                Ok(match bound {
                    Some(tag) => crate::block_id::settled_number(&reader, tag)?
                        .map_or(Some(tag), |n| Some(BlockNumberOrTag::Number(n))),
                    None => None,
                })
            };
            let (from, to) = (settled(from)?, settled(to)?);
            let Some((first, last)) = resolve_range(head.number, from, to)? else {
                return Ok(Vec::new());
            };
            let max_range = ctx.config.max_logs_block_range;
            if max_range > 0 && last - first >= max_range {
                return Err(RpcError::LimitExceeded(format!(
                    "exceed maximum block range: {max_range}"
                )));
            }
            let mut logs = Vec::new();
            for number in first..=last {
                let hash = reader.canonical_hash(number)?.ok_or_else(|| {
                    RpcError::Internal(format!("canonical block {number} missing"))
                })?;
                let header = reader
                    .header(&hash)?
                    .ok_or_else(|| RpcError::Internal(format!("header of {hash} missing")))?;
                let found = stored_block_logs(&reader, filter, hash, &header, false)?;
                if max_logs > 0 && logs.len() + found.len() > max_logs {
                    // Suggest the part of the range whose logs fit, as reth and erigon do.
                    return Err(too_many((number > first).then(|| (first, number - 1))));
                }
                logs.extend(found);
            }
            Ok(logs)
        }
    }
}

pub(crate) fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_blocking_method("eth_getLogs", |params, ctx, _| {
        let value: Value = params.one()?;
        let filter = LogFilter::from_json(value)?;
        query_logs(&ctx, &filter).map_err(ErrorObjectOwned::from)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Bytes, LogData, address, b256};
    use serde_json::json;

    const T1: B256 = b256!("0x1111111111111111111111111111111111111111111111111111111111111111");
    const T2: B256 = b256!("0x2222222222222222222222222222222222222222222222222222222222222222");
    const T3: B256 = b256!("0x3333333333333333333333333333333333333333333333333333333333333333");
    const A: Address = address!("0x00000000000000000000000000000000000000aa");
    const B: Address = address!("0x00000000000000000000000000000000000000bb");

    fn log(address: Address, topics: Vec<B256>) -> alloy_primitives::Log {
        alloy_primitives::Log {
            address,
            data: LogData::new_unchecked(topics, Bytes::new()),
        }
    }

    fn parse(v: Value) -> Result<LogFilter, String> {
        LogFilter::from_json(v).map_err(|e| e.to_string())
    }

    #[test]
    fn parses_addresses_topics_and_blocks() {
        let f = parse(json!({
            "fromBlock": "0x1", "toBlock": "latest",
            "address": [A.to_string(), B.to_string()],
            "topics": [T1.to_string(), null, [T2.to_string(), T3.to_string()], [T1.to_string(), null]],
            "extra": 1,
        }))
        .unwrap();
        assert_eq!(
            f.blocks,
            LogBlocks::Range {
                from: Some(BlockNumberOrTag::Number(1)),
                to: Some(BlockNumberOrTag::Latest)
            }
        );
        assert_eq!(f.addresses, vec![A, B]);
        assert_eq!(f.topics, vec![vec![T1], vec![], vec![T2, T3], vec![]]);
        let single = parse(json!({ "address": A.to_string() })).unwrap();
        assert_eq!(single.addresses, vec![A]);
        assert_eq!(parse(Value::Null).unwrap().topics, Vec::<Vec<B256>>::new());
    }

    #[test]
    fn rejects_bad_criteria_with_geth_messages() {
        let both = parse(json!({ "blockHash": T1.to_string(), "fromBlock": "0x1" })).unwrap_err();
        assert!(
            both.contains("cannot specify both BlockHash and FromBlock/ToBlock"),
            "{both}"
        );
        // A null range next to a block hash is no range.
        assert!(parse(json!({ "blockHash": T1.to_string(), "toBlock": null })).is_ok());
        let five = parse(json!({ "topics": [null, null, null, null, null] })).unwrap_err();
        assert!(five.contains("exceed max topics"), "{five}");
        let short = parse(json!({ "address": "0x1234" })).unwrap_err();
        assert!(
            short.contains("invalid address: hex has invalid length 2"),
            "{short}"
        );
        let idx = parse(json!({ "address": [A.to_string(), 5] })).unwrap_err();
        assert!(idx.contains("non-string address at index 1"), "{idx}");
        let topic = parse(json!({ "topics": [[T1.to_string(), 7]] })).unwrap_err();
        assert!(topic.contains("invalid topic(s)"), "{topic}");
        let prefix = parse(json!({ "topics": ["11"] })).unwrap_err();
        assert!(prefix.contains("without 0x prefix"), "{prefix}");
        assert!(parse(json!("latest")).is_err());
    }

    #[test]
    fn matches_like_geth() {
        let f =
            parse(json!({ "address": [A.to_string()], "topics": [T1.to_string(), null] })).unwrap();
        assert!(f.log_matches(&log(A, vec![T1, T2])));
        // Two positions: a log with one topic does not match, even though the second is a wildcard.
        assert!(!f.log_matches(&log(A, vec![T1])));
        assert!(!f.log_matches(&log(B, vec![T1, T2])));
        assert!(!f.log_matches(&log(A, vec![T2, T1])));
        let any = parse(json!({})).unwrap();
        assert!(any.log_matches(&log(B, vec![])));
        let or = parse(json!({ "topics": [[T2.to_string(), T3.to_string()]] })).unwrap();
        assert!(or.log_matches(&log(B, vec![T3])));
        assert!(!or.log_matches(&log(B, vec![T1])));
    }

    #[test]
    fn bloom_prefilter() {
        let mut bloom = Bloom::default();
        bloom.accrue_log(&log(A, vec![T1]));
        let hit = parse(
            json!({ "address": A.to_string(), "topics": [[T2.to_string(), T1.to_string()]] }),
        )
        .unwrap();
        assert!(hit.bloom_matches(&bloom));
        let miss = parse(json!({ "address": B.to_string() })).unwrap();
        assert!(!miss.bloom_matches(&bloom));
        let miss_topic = parse(json!({ "topics": [T3.to_string()] })).unwrap();
        assert!(!miss_topic.bloom_matches(&bloom));
    }

    #[test]
    fn ranges_resolve_like_geth() {
        use BlockNumberOrTag::*;
        assert_eq!(resolve_range(10, None, None).unwrap(), Some((10, 10)));
        assert_eq!(
            resolve_range(10, Some(Number(3)), None).unwrap(),
            Some((3, 10))
        );
        assert_eq!(
            resolve_range(10, Some(Earliest), Some(Number(10))).unwrap(),
            Some((0, 10))
        );
        assert_eq!(
            resolve_range(10, Some(Latest), Some(Number(5))).unwrap(),
            None
        );
        // A bound past the head is refused (the spec's test, anvil), not clamped.
        for (from, to) in [
            (Some(Earliest), Some(Number(11))),
            (Some(Number(11)), None),
            (Some(Number(11)), Some(Number(20))),
        ] {
            let error = resolve_range(10, from, to).expect_err("past the head");
            assert_eq!(
                error.to_string(),
                "block range extends beyond current head block"
            );
        }
        assert!(resolve_range(10, Some(Number(6)), Some(Number(5))).is_err());
        assert!(resolve_range(10, Some(Pending), None).is_err());
    }
}
