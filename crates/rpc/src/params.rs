//! Strict request input, checked before a method runs (docs/rpc.md, "Input rules"): a jsonrpsee
//! RPC middleware holds every method's parameter list ([`method_params`]) and refuses, with
//! -32602 and a message naming the parameter, a request whose `params` has a missing required
//! value, a value beyond the list, or a value its schema (the execution-apis spec's) does not
//! allow: hex without `0x`, a hash or an address of the wrong length, a quantity with leading
//! zeros, a block number that is no tag, quantity or hash. `params` that is not an array (nor
//! absent or `null`) is refused too: -32600 for a string, number or boolean (no JSON-RPC 2.0
//! request), -32602 for an object (by-name parameters, which geth does not take either).
//!
//! The methods then parse the checked values with alloy's (more lenient) serde. Where geth is
//! more lenient than the spec and tools rely on it, the rules follow geth: hex digits in either
//! case, EIP-1898 block objects, `null` for an optional parameter, `params: null`.

use std::future::Future;

use jsonrpsee::{
    server::{
        MethodResponse,
        middleware::rpc::{Batch, Notification, Request, RpcServiceT},
    },
    types::ErrorObjectOwned,
};
use serde_json::{Map, Value};

use crate::error::INVALID_PARAMS;

/// JSON-RPC 2.0's code for a request that is no valid request object.
pub const INVALID_REQUEST: i32 = -32600;

/// What a parameter's value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 32 bytes: `0x` and 64 hex digits.
    Hash,
    /// 20 bytes: `0x` and 40 hex digits.
    Address,
    /// A quantity: `0x` and hex digits without leading zeros (`0x0` for zero), at most 256 bits.
    Quantity,
    /// A block tag (`earliest`, `finalized`, `safe`, `latest`, `pending`) or a 64-bit quantity.
    BlockNumber,
    /// A block tag, a quantity, a block hash, or an EIP-1898 object (`{"blockHash": …,
    /// "requireCanonical": …}` or `{"blockNumber": …}`).
    Block,
    /// A storage slot: `0x` and at most 64 hex digits.
    StorageKey,
    /// An array of storage slots.
    StorageKeys,
    /// An object from addresses to arrays of storage slots (`eth_getStorageValues`).
    StorageRequests,
    /// Bytes: `0x` and an even number of hex digits.
    Bytes,
    /// `true` or `false`.
    Bool,
    /// A filter or subscription id: a quantity.
    FilterId,
    /// A transaction request object; its address, quantity and data fields are checked.
    Transaction,
    /// A log filter object; its blocks, block hash, addresses and topics are checked.
    Filter,
    /// Any JSON object (checked by the method: overrides, tracer options, simulation payloads).
    Object,
    /// A JSON string.
    Str,
    /// A non-negative JSON integer.
    Integer,
    /// A quantity, a non-negative JSON integer or a decimal string (geth's `HexOrDecimal64`).
    QuantityOrInteger,
    /// An array of JSON numbers.
    Numbers,
    /// Anything (Otterscan's lenient block numbers and page sizes, subscription options).
    Any,
}

/// One positional parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

/// A required parameter (a struct literal, so that the lists are promoted to statics).
macro_rules! req {
    ($name:literal, $kind:ident) => {
        Param {
            name: $name,
            kind: Kind::$kind,
            required: true,
        }
    };
}

/// An optional parameter.
macro_rules! opt {
    ($name:literal, $kind:ident) => {
        Param {
            name: $name,
            kind: Kind::$kind,
            required: false,
        }
    };
}

const NONE: &[Param] = &[];
const HASH: &[Param] = &[req!("transaction hash", Hash)];
const BLOCK_NUMBER: &[Param] = &[req!("block", BlockNumber)];
const BLOCK: &[Param] = &[req!("block", Block)];
const ADDRESS_AT: &[Param] = &[req!("address", Address), opt!("block", Block)];
const FILTER_ID: &[Param] = &[req!("filter id", FilterId)];
const TRACE_TX: &[Param] = &[
    req!("transaction hash", Hash),
    opt!("tracer config", Object),
];

/// The parameters of `method`, in order; `None` for a method this server does not check (none
/// of those it serves: the tests check that every registered method has a list).
pub fn method_params(method: &str) -> Option<&'static [Param]> {
    Some(match method {
        "eth_chainId"
        | "eth_blockNumber"
        | "eth_syncing"
        | "eth_accounts"
        | "eth_coinbase"
        | "eth_config"
        | "eth_capabilities"
        | "eth_gasPrice"
        | "eth_maxPriorityFeePerGas"
        | "eth_baseFee"
        | "eth_blobBaseFee"
        | "eth_newBlockFilter"
        | "net_version"
        | "net_listening"
        | "net_peerCount"
        | "web3_clientVersion"
        | "txpool_status"
        | "txpool_content"
        | "txpool_inspect"
        | "debug_getBadBlocks"
        | "keel_batchNumber"
        | "keel_getL1Contracts"
        | "ots_getApiLevel" => NONE,
        "eth_getBlockByNumber" => &[req!("block", BlockNumber), req!("hydrated", Bool)],
        "eth_getBlockByHash" => &[req!("block hash", Hash), req!("hydrated", Bool)],
        "eth_getBlockReceipts"
        | "debug_getRawHeader"
        | "debug_getRawBlock"
        | "debug_getRawReceipts" => BLOCK,
        "eth_getBlockTransactionCountByNumber" | "eth_getUncleCountByBlockNumber" => BLOCK_NUMBER,
        "eth_getBlockTransactionCountByHash" | "eth_getUncleCountByBlockHash" => {
            &[req!("block hash", Hash)]
        }
        "eth_getUncleByBlockHashAndIndex" | "eth_getTransactionByBlockHashAndIndex" => {
            &[req!("block hash", Hash), req!("index", Quantity)]
        }
        "eth_getUncleByBlockNumberAndIndex" | "eth_getTransactionByBlockNumberAndIndex" => {
            &[req!("block", BlockNumber), req!("index", Quantity)]
        }
        "eth_getTransactionByHash"
        | "eth_getTransactionReceipt"
        | "debug_getRawTransaction"
        | "keel_getWithdrawalProof"
        | "ots_getTransactionError"
        | "ots_traceTransaction"
        | "ots_getInternalOperations" => HASH,
        "eth_getBalance" | "eth_getCode" | "eth_getTransactionCount" => ADDRESS_AT,
        "eth_getStorageAt" => &[
            req!("address", Address),
            req!("storage slot", StorageKey),
            opt!("block", Block),
        ],
        "eth_getStorageValues" => &[req!("requests", StorageRequests), opt!("block", Block)],
        "eth_getProof" => &[
            req!("address", Address),
            req!("storage keys", StorageKeys),
            opt!("block", Block),
        ],
        "eth_call" | "eth_estimateGas" => &[
            req!("transaction", Transaction),
            opt!("block", Block),
            opt!("state overrides", Object),
            opt!("block overrides", Object),
        ],
        "eth_createAccessList" => &[req!("transaction", Transaction), opt!("block", Block)],
        "debug_traceCall" => &[
            req!("transaction", Transaction),
            opt!("block", Block),
            opt!("tracer config", Object),
        ],
        "eth_simulateV1" => &[req!("payload", Object), opt!("block", Block)],
        "eth_fillTransaction" | "eth_signTransaction" | "eth_sendTransaction" => {
            &[req!("transaction", Transaction)]
        }
        "eth_sign" => &[req!("address", Address), req!("message", Bytes)],
        "eth_sendRawTransaction" => &[req!("transaction", Bytes)],
        "eth_sendRawTransactionSync" => &[req!("transaction", Bytes), opt!("timeout", Integer)],
        "eth_feeHistory" => &[
            req!("block count", QuantityOrInteger),
            req!("newest block", BlockNumber),
            req!("reward percentiles", Numbers),
        ],
        "eth_getLogs" | "eth_newFilter" => &[req!("filter", Filter)],
        "eth_newPendingTransactionFilter" => &[opt!("full transactions", Bool)],
        "eth_getFilterChanges" | "eth_getFilterLogs" | "eth_uninstallFilter" => FILTER_ID,
        "eth_subscribe" => &[req!("subscription", Str), opt!("options", Any)],
        "eth_unsubscribe" => &[req!("subscription id", FilterId)],
        "web3_sha3" => &[req!("data", Bytes)],
        "txpool_contentFrom" => &[req!("address", Address)],
        "keel_getBatchByNumber" => &[req!("batch number", Quantity)],
        "keel_getBatchByBlock" => &[req!("block number", Quantity)],
        "debug_executionWitness" => BLOCK_NUMBER,
        "debug_traceTransaction" => TRACE_TX,
        "debug_traceBlockByNumber" => &[req!("block", BlockNumber), opt!("tracer config", Object)],
        "debug_traceBlockByHash" => &[req!("block hash", Hash), opt!("tracer config", Object)],
        // Otterscan sends block numbers, nonces and page sizes as JSON numbers: these stay as
        // lenient as the methods parse them; hashes and addresses are checked.
        "ots_getHeaderByNumber" | "erigon_getHeaderByNumber" | "ots_getBlockDetails" => {
            &[req!("block", Any)]
        }
        "ots_getBlockDetailsByHash" => &[req!("block hash", Hash)],
        "ots_getBlockTransactions" => &[
            req!("block", Any),
            req!("page number", Any),
            req!("page size", Any),
        ],
        "ots_hasCode" => &[req!("address", Address), opt!("block", Any)],
        "ots_searchTransactionsBefore" | "ots_searchTransactionsAfter" => &[
            req!("address", Address),
            req!("block number", Any),
            req!("page size", Any),
        ],
        "ots_getTransactionBySenderAndNonce" => &[req!("sender", Address), req!("nonce", Any)],
        "ots_getContractCreator" => &[req!("address", Address)],
        _ => return None,
    })
}

/// Why a request's parameters are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// `params` is a string, a number or a boolean: no JSON-RPC 2.0 request (-32600).
    #[error("invalid request: params must be an array or an object, not {0}")]
    NotStructured(&'static str),
    #[error("by-name (object) params are not supported: send params as an array")]
    ByName,
    #[error("invalid params: {0}")]
    NotJson(String),
    #[error("missing value for required argument {index} ({name})")]
    Missing { index: usize, name: &'static str },
    #[error("too many arguments, want at most {0}")]
    TooMany(usize),
    #[error("invalid argument {index} ({name}): {reason}")]
    Invalid {
        index: usize,
        name: &'static str,
        reason: String,
    },
}

impl ParamsError {
    pub fn code(&self) -> i32 {
        match self {
            ParamsError::NotStructured(_) => INVALID_REQUEST,
            _ => INVALID_PARAMS,
        }
    }
}

impl From<ParamsError> for ErrorObjectOwned {
    fn from(error: ParamsError) -> Self {
        ErrorObjectOwned::owned(error.code(), error.to_string(), None::<()>)
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Check the raw `params` (`None` when absent) of a call to a method with parameters `list`.
pub fn check(list: &[Param], raw: Option<&str>) -> Result<(), ParamsError> {
    let raw = raw.map(str::trim).unwrap_or("null");
    let value: Value =
        serde_json::from_str(raw).map_err(|e| ParamsError::NotJson(e.to_string()))?;
    let values = match value {
        // geth takes `"params": null` as no parameters.
        Value::Null => Vec::new(),
        Value::Array(values) => values,
        Value::Object(_) => return Err(ParamsError::ByName),
        other => return Err(ParamsError::NotStructured(json_type(&other))),
    };
    if values.len() > list.len() {
        return Err(ParamsError::TooMany(list.len()));
    }
    for (index, param) in list.iter().enumerate() {
        match values.get(index) {
            None | Some(Value::Null) => {
                if param.required {
                    return Err(ParamsError::Missing {
                        index,
                        name: param.name,
                    });
                }
            }
            Some(value) => {
                check_value(param.kind, value).map_err(|reason| ParamsError::Invalid {
                    index,
                    name: param.name,
                    reason,
                })?
            }
        }
    }
    Ok(())
}

type Rule = fn(&Value) -> Result<(), String>;
type Checked = Result<(), String>;

fn as_str(value: &Value) -> Result<&str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("want a hex string, got {}", json_type(value)))
}

/// The hex digits after `0x`.
fn hex_digits(s: &str) -> Result<&str, String> {
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| format!("hex string without 0x prefix: {s:?}"))?;
    if let Some(bad) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(format!("invalid hex digit {bad:?} in {s:?}"));
    }
    Ok(digits)
}

fn fixed(value: &Value, bytes: usize) -> Checked {
    let s = as_str(value)?;
    let digits = hex_digits(s)?;
    if digits.len() != 2 * bytes {
        return Err(format!(
            "want {bytes} bytes ({} hex digits), got {} hex digits",
            2 * bytes,
            digits.len()
        ));
    }
    Ok(())
}

fn address(value: &Value) -> Checked {
    fixed(value, 20)
}

fn hash(value: &Value) -> Checked {
    fixed(value, 32)
}

fn quantity(value: &Value) -> Checked {
    quantity_of(value, 256)
}

/// A quantity of at most `bits` bits.
fn quantity_of(value: &Value, bits: usize) -> Checked {
    let s = as_str(value)?;
    let digits = hex_digits(s)?;
    if digits.is_empty() {
        return Err("hex string \"0x\" is no quantity".into());
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return Err(format!("hex number with leading zero digits: {s:?}"));
    }
    if digits.len() > bits / 4 {
        return Err(format!("hex number larger than {bits} bits: {s:?}"));
    }
    Ok(())
}

const TAGS: [&str; 5] = ["earliest", "finalized", "safe", "latest", "pending"];

fn block_number(value: &Value) -> Checked {
    match value.as_str() {
        Some(tag) if TAGS.contains(&tag) => Ok(()),
        Some(_) => quantity_of(value, 64),
        None => Err(format!(
            "want a block tag or a hex quantity, got {}",
            json_type(value)
        )),
    }
}

fn block(value: &Value) -> Checked {
    match value {
        Value::String(s) if s.len() == 66 => hash(value),
        Value::Object(fields) => {
            match (fields.get("blockHash"), fields.get("blockNumber")) {
                (Some(h), None) => hash(h).map_err(|e| format!("blockHash: {e}"))?,
                (None, Some(n)) => block_number(n).map_err(|e| format!("blockNumber: {e}"))?,
                _ => return Err("want exactly one of blockHash and blockNumber".into()),
            }
            match fields.get("requireCanonical") {
                None | Some(Value::Null | Value::Bool(_)) => Ok(()),
                Some(_) => Err("requireCanonical: want a boolean".into()),
            }
        }
        _ => block_number(value),
    }
}

fn storage_key(value: &Value) -> Checked {
    let s = as_str(value)?;
    let digits = hex_digits(s).map_err(|e| format!("invalid hex in storage key: {e}"))?;
    if digits.len() > 64 {
        return Err(format!(
            "storage key too long (want at most 32 bytes): {s:?}"
        ));
    }
    Ok(())
}

fn array(value: &Value) -> Result<&Vec<Value>, String> {
    value
        .as_array()
        .ok_or_else(|| format!("want an array, got {}", json_type(value)))
}

fn object(value: &Value) -> Result<&Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("want an object, got {}", json_type(value)))
}

fn bytes(value: &Value) -> Checked {
    let s = as_str(value)?;
    let digits = hex_digits(s)?;
    if digits.len() % 2 == 1 {
        return Err(format!("hex string of odd length: {s:?}"));
    }
    Ok(())
}

/// Check the fields of `object` named in `rules` (absent and `null` fields pass).
fn fields(object: &Map<String, Value>, rules: &[(&str, Rule)]) -> Checked {
    for (name, rule) in rules {
        match object.get(*name) {
            None | Some(Value::Null) => {}
            Some(value) => rule(value).map_err(|e| format!("field {name}: {e}"))?,
        }
    }
    Ok(())
}

fn transaction(value: &Value) -> Checked {
    fields(
        object(value)?,
        &[
            ("from", address),
            ("to", address),
            ("gas", quantity),
            ("gasPrice", quantity),
            ("maxFeePerGas", quantity),
            ("maxPriorityFeePerGas", quantity),
            ("maxFeePerBlobGas", quantity),
            ("value", quantity),
            ("nonce", quantity),
            ("chainId", quantity),
            // Not `type`: geth ignores it (its TransactionArgs have no such field), and clients
            // spell it in several ways.
            ("data", bytes),
            ("input", bytes),
        ],
    )
}

fn addresses(value: &Value) -> Checked {
    match value {
        Value::Array(items) => items.iter().try_for_each(address),
        _ => address(value),
    }
}

fn topics(value: &Value) -> Checked {
    for topic in array(value)? {
        match topic {
            Value::Null => {}
            Value::Array(alternatives) => alternatives
                .iter()
                .filter(|t| !t.is_null())
                .try_for_each(hash)?,
            _ => hash(topic)?,
        }
    }
    Ok(())
}

fn filter(value: &Value) -> Checked {
    fields(
        object(value)?,
        &[
            ("fromBlock", block_number),
            ("toBlock", block_number),
            ("blockHash", hash),
            ("address", addresses),
            ("topics", topics),
        ],
    )
}

/// Check one value against its kind; the reason when it does not fit.
pub fn check_value(kind: Kind, value: &Value) -> Checked {
    match kind {
        Kind::Hash => hash(value),
        Kind::Address => address(value),
        Kind::Quantity | Kind::FilterId => quantity(value),
        Kind::BlockNumber => block_number(value),
        Kind::Block => block(value),
        Kind::StorageKey => storage_key(value),
        Kind::StorageKeys => array(value)?.iter().try_for_each(storage_key),
        Kind::StorageRequests => object(value)?.iter().try_for_each(|(account, keys)| {
            address(&Value::String(account.clone())).map_err(|e| format!("key {account}: {e}"))?;
            array(keys)?.iter().try_for_each(storage_key)
        }),
        Kind::Bytes => bytes(value),
        Kind::Bool => match value {
            Value::Bool(_) => Ok(()),
            _ => Err(format!("want a boolean, got {}", json_type(value))),
        },
        Kind::Transaction => transaction(value),
        Kind::Filter => filter(value),
        Kind::Object => object(value).map(drop),
        Kind::Str => match value {
            Value::String(_) => Ok(()),
            _ => Err(format!("want a string, got {}", json_type(value))),
        },
        Kind::Integer => match value.as_u64() {
            Some(_) => Ok(()),
            None => Err(format!(
                "want a non-negative integer, got {}",
                json_type(value)
            )),
        },
        Kind::QuantityOrInteger => match value {
            Value::Number(n) if n.is_u64() => Ok(()),
            Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
            _ => quantity(value),
        },
        Kind::Numbers => array(value)?.iter().try_for_each(|n| match n {
            Value::Number(_) => Ok(()),
            other => Err(format!("want numbers, got {}", json_type(other))),
        }),
        Kind::Any => Ok(()),
    }
}

/// The RPC middleware that checks every call's parameters before the method runs (methods
/// without a list pass unchecked), and marks notifications' responses [`NoBody`].
#[derive(Debug, Clone)]
pub struct StrictParams<S> {
    service: S,
}

impl<S> StrictParams<S> {
    pub fn new(service: S) -> Self {
        Self { service }
    }
}

/// Marks a response that must go out with no body (a notification, a batch of notifications
/// only): the HTTP layer ([`crate::health`]) drops the `null` jsonrpsee writes for it.
#[derive(Debug, Clone, Copy)]
pub struct NoBody;

impl<S> RpcServiceT for StrictParams<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let refused = method_params(request.method_name()).and_then(|list| {
            check(list, request.params.as_ref().map(|raw| raw.get()))
                .err()
                .map(|e| (request.id.clone().into_owned(), e))
        });
        let service = self.service.clone();
        async move {
            match refused {
                Some((id, error)) => MethodResponse::error(id, ErrorObjectOwned::from(error)),
                None => service.call(request).await,
            }
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.service.batch(batch)
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        let service = self.service.clone();
        async move {
            let response = service.notification(n).await;
            mark_no_body(response)
        }
    }
}

/// `response` marked [`NoBody`].
pub fn mark_no_body(mut response: MethodResponse) -> MethodResponse {
    response.extensions_mut().insert(NoBody);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(kind: Kind, value: Value) -> bool {
        check_value(kind, &value).is_ok()
    }

    #[test]
    fn values_are_checked_as_the_spec_says() {
        let hash = format!("0x{}", "ab".repeat(32));
        assert!(ok(Kind::Hash, json!(hash)));
        assert!(ok(
            Kind::Hash,
            json!(hash.to_uppercase().replacen("0X", "0x", 1))
        ));
        assert!(!ok(Kind::Hash, json!(&hash[2..])));
        assert!(!ok(Kind::Hash, json!(&hash[..64])));
        assert!(!ok(Kind::Hash, json!(format!("{hash}00"))));
        assert!(!ok(Kind::Hash, json!(hash.replacen("0x", "0X", 1))));
        assert!(ok(Kind::Address, json!(format!("0x{}", "aB".repeat(20)))));
        assert!(!ok(Kind::Address, json!(format!("0x{}", "ab".repeat(21)))));
        assert!(!ok(Kind::Address, json!(1)));
        for good in ["0x0", "0x1", "0xabc", "0xABC"] {
            assert!(ok(Kind::Quantity, json!(good)), "{good}");
        }
        for bad in ["0x", "0x00", "0x01", "1", "0xg", ""] {
            assert!(!ok(Kind::Quantity, json!(bad)), "{bad}");
        }
        assert!(ok(Kind::Quantity, json!(format!("0x{}", "f".repeat(64)))));
        assert!(!ok(Kind::Quantity, json!(format!("0x{}", "f".repeat(65)))));
        assert!(ok(Kind::BlockNumber, json!("safe")));
        assert!(ok(
            Kind::BlockNumber,
            json!(format!("0x{}", "f".repeat(16)))
        ));
        assert!(!ok(
            Kind::BlockNumber,
            json!(format!("0x1{}", "0".repeat(16)))
        ));
        assert!(!ok(Kind::BlockNumber, json!(hash)));
        assert!(!ok(Kind::BlockNumber, json!("Latest")));
        assert!(ok(Kind::Block, json!(hash)));
        assert!(ok(
            Kind::Block,
            json!({ "blockHash": hash, "requireCanonical": true })
        ));
        assert!(ok(Kind::Block, json!({ "blockNumber": "0x5" })));
        assert!(!ok(
            Kind::Block,
            json!({ "blockNumber": "0x5", "blockHash": hash })
        ));
        assert!(!ok(
            Kind::Block,
            json!({ "blockHash": hash, "requireCanonical": "yes" })
        ));
        assert!(ok(Kind::StorageKey, json!("0x")));
        assert!(ok(Kind::StorageKey, json!("0x001")));
        assert!(ok(Kind::StorageKey, json!(format!("0x{}", "0".repeat(64)))));
        assert!(!ok(
            Kind::StorageKey,
            json!(format!("0x{}", "0".repeat(65)))
        ));
        assert!(ok(Kind::Bytes, json!("0x")));
        assert!(!ok(Kind::Bytes, json!("0x0")));
        assert!(ok(Kind::QuantityOrInteger, json!(10)));
        assert!(ok(Kind::QuantityOrInteger, json!("10")));
        assert!(!ok(Kind::QuantityOrInteger, json!(-1)));
        assert!(!ok(Kind::QuantityOrInteger, json!("0x010")));
        assert!(ok(
            Kind::Transaction,
            json!({ "to": null, "input": "0x00" })
        ));
        assert!(!ok(Kind::Transaction, json!({ "value": 1 })));
        assert!(ok(
            Kind::Filter,
            json!({ "topics": [null, [hash, null]], "address": [] })
        ));
        assert!(!ok(Kind::Filter, json!({ "topics": [[1]] })));
    }

    #[test]
    fn params_must_be_an_array_of_the_right_length() {
        let list = method_params("eth_getBalance").expect("a list");
        assert_eq!(
            check(list, Some(r#""0xab""#)).map_err(|e| e.code()),
            Err(-32600)
        );
        assert_eq!(check(list, Some("{}")), Err(ParamsError::ByName));
        assert_eq!(
            check(list, None),
            Err(ParamsError::Missing {
                index: 0,
                name: "address"
            })
        );
        let address = format!("\"0x{}\"", "00".repeat(20));
        assert_eq!(check(list, Some(&format!("[{address}]"))), Ok(()));
        assert_eq!(check(list, Some(&format!("[{address}, null]"))), Ok(()));
        assert_eq!(
            check(list, Some(&format!("[{address}, null, 1]"))),
            Err(ParamsError::TooMany(2))
        );
        let none = method_params("eth_chainId").expect("a list");
        assert_eq!(check(none, Some("null")), Ok(()));
        assert_eq!(check(none, Some("[]")), Ok(()));
        assert_eq!(check(none, Some("[null]")), Err(ParamsError::TooMany(0)));
    }
}
