//! A small JSON-RPC client over HTTP: single calls, batches of calls, and pre-built raw batch
//! bodies (the hot path of the timed phase). Every error names the target and its URL.

use std::time::Duration;

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    transports::http::reqwest,
};
use eyre::{Result, WrapErr, bail, eyre};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};

/// An error object returned by the node for one JSON-RPC request.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct RpcError {
    /// JSON-RPC error code.
    pub code: i64,
    /// Error message.
    pub message: String,
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

/// One response object of a JSON-RPC reply.
#[derive(Debug, Deserialize)]
struct Response {
    #[serde(default)]
    id: Value,
    #[serde(default)]
    result: Value,
    #[serde(default)]
    error: Option<RpcError>,
}

/// JSON-RPC endpoint of one target.
#[derive(Clone, Debug)]
pub struct Rpc {
    client: reqwest::Client,
    url: reqwest::Url,
    name: String,
}

/// Formats an error with its whole chain of causes on one line.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        source = s.source();
    }
    out
}

impl Rpc {
    /// A client for `url` (http or https). `max_connections` is the number of idle keep-alive
    /// connections kept (one per concurrent request); `timeout` bounds every request.
    pub fn new(name: &str, url: &str, max_connections: usize, timeout: Duration) -> Result<Self> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| eyre!("target `{name}`: invalid URL `{url}`: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!(
                "target `{name}`: URL `{url}` must be http:// or https:// (JSON-RPC over HTTP; \
                 WebSocket is not used)"
            );
        }
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(max_connections.max(1))
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .no_proxy()
            .build()
            .map_err(|e| eyre!("building the HTTP client: {}", error_chain(&e)))?;
        Ok(Self {
            client,
            url: parsed,
            name: name.to_string(),
        })
    }

    /// The target name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// POSTs a JSON body and returns the response body. HTTP errors whose body is not JSON are
    /// errors; a JSON body is returned whatever the status (nodes put JSON-RPC errors in it).
    pub async fn post(&self, body: Vec<u8>) -> Result<Bytes> {
        let resp = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                eyre!(
                    "target `{}` ({}): request failed: {}",
                    self.name,
                    self.url,
                    error_chain(&e)
                )
            })?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| {
            eyre!(
                "target `{}` ({}): reading the response: {}",
                self.name,
                self.url,
                error_chain(&e)
            )
        })?;
        let looks_json = body
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| matches!(b, b'{' | b'['));
        if !status.is_success() && !looks_json {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            bail!(
                "target `{}` ({}): HTTP {status}: {}",
                self.name,
                self.url,
                text.trim()
            );
        }
        Ok(body.into())
    }

    /// One call; `Ok(Err(_))` when the node answered with a JSON-RPC error.
    pub async fn call_raw(&self, method: &str, params: Value) -> Result<Result<Value, RpcError>> {
        let body = serde_json::to_vec(
            &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
        )?;
        let reply = self.post(body).await?;
        let resp: Response = serde_json::from_slice(&reply).map_err(|e| {
            eyre!(
                "target `{}`: {method}: unparsable response ({e}): {}",
                self.name,
                snippet(&reply)
            )
        })?;
        Ok(match resp.error {
            Some(err) => Err(err),
            None => Ok(resp.result),
        })
    }

    /// One call whose JSON-RPC error is an error; the result is decoded as `T`.
    pub async fn call<T: DeserializeOwned>(&self, method: &str, params: Value) -> Result<T> {
        let value = self
            .call_raw(method, params)
            .await?
            .map_err(|e| eyre!("target `{}`: {method} failed: {e}", self.name))?;
        serde_json::from_value(value.clone()).wrap_err_with(|| {
            format!(
                "target `{}`: {method}: unexpected result {value}",
                self.name
            )
        })
    }

    /// A batch of calls in one HTTP request; the results come back in call order.
    pub async fn batch(&self, calls: &[(&str, Value)]) -> Result<Vec<Result<Value, RpcError>>> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        let reqs: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (m, p))| json!({"jsonrpc": "2.0", "id": i, "method": m, "params": p}))
            .collect();
        let reply = self.post(serde_json::to_vec(&reqs)?).await?;
        let parsed: Value = serde_json::from_slice(&reply).map_err(|e| {
            eyre!(
                "target `{}`: unparsable batch response ({e}): {}",
                self.name,
                snippet(&reply)
            )
        })?;
        let items = match parsed {
            Value::Array(items) => items,
            other => {
                // A single error object answers the whole batch (e.g. batches not supported).
                let resp: Response = serde_json::from_value(other.clone())
                    .map_err(|_| eyre!("target `{}`: batch answered with {other}", self.name))?;
                let err = resp
                    .error
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| other.to_string());
                bail!("target `{}`: batch request rejected: {err}", self.name);
            }
        };
        let mut out: Vec<Option<Result<Value, RpcError>>> = vec![None; calls.len()];
        for item in items {
            let resp: Response = serde_json::from_value(item)
                .map_err(|e| eyre!("target `{}`: bad batch item: {e}", self.name))?;
            let Some(i) = resp
                .id
                .as_u64()
                .map(|i| i as usize)
                .filter(|&i| i < calls.len())
            else {
                continue;
            };
            out[i] = Some(match resp.error {
                Some(err) => Err(err),
                None => Ok(resp.result),
            });
        }
        out.into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.ok_or_else(|| {
                    eyre!(
                        "target `{}`: no response to batched {}",
                        self.name,
                        calls[i].0
                    )
                })
            })
            .collect()
    }

    /// Runs `calls` in batches of at most `batch_size`, failing on any JSON-RPC error.
    pub async fn batch_all(
        &self,
        calls: &[(&str, Value)],
        batch_size: usize,
    ) -> Result<Vec<Value>> {
        let mut out = Vec::with_capacity(calls.len());
        for chunk in calls.chunks(batch_size.max(1)) {
            for (r, (method, _)) in self.batch(chunk).await?.into_iter().zip(chunk) {
                out.push(r.map_err(|e| eyre!("target `{}`: {method} failed: {e}", self.name))?);
            }
        }
        Ok(out)
    }

    /// `eth_chainId`.
    pub async fn chain_id(&self) -> Result<u64> {
        Ok(self
            .call::<alloy::primitives::U64>("eth_chainId", json!([]))
            .await?
            .to())
    }

    /// `eth_blockNumber`.
    pub async fn block_number(&self) -> Result<u64> {
        Ok(self
            .call::<alloy::primitives::U64>("eth_blockNumber", json!([]))
            .await?
            .to())
    }

    /// `eth_getTransactionCount(addr, tag)`.
    pub async fn nonce(&self, addr: Address, tag: &str) -> Result<u64> {
        Ok(self
            .call::<alloy::primitives::U64>("eth_getTransactionCount", json!([addr, tag]))
            .await?
            .to())
    }

    /// `eth_getBalance(addr, "latest")`.
    pub async fn balance(&self, addr: Address) -> Result<U256> {
        self.call("eth_getBalance", json!([addr, "latest"])).await
    }

    /// `txs` as one batch of `eth_sendRawTransaction`; the first the node rejected, with its
    /// error, or `None` if it took them all.
    pub async fn send_raw_batch(
        &self,
        txs: &[crate::accounts::SignedTx],
    ) -> Result<Option<(B256, RpcError)>> {
        let calls: Vec<(&str, Value)> = txs
            .iter()
            .map(|t| {
                (
                    "eth_sendRawTransaction",
                    json!([alloy::hex::encode_prefixed(&t.raw)]),
                )
            })
            .collect();
        let results = self.batch(&calls).await?;
        Ok(results
            .into_iter()
            .zip(txs)
            .find_map(|(r, t)| r.err().map(|e| (t.hash, e))))
    }

    /// `eth_sendRawTransaction`; returns the hash the node reports.
    pub async fn send_raw(&self, raw: &[u8]) -> Result<B256> {
        self.call(
            "eth_sendRawTransaction",
            json!([alloy::hex::encode_prefixed(raw)]),
        )
        .await
    }
}

/// The start of a response body, for error messages.
pub fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
    if body.len() > 200 {
        format!("{s}…")
    } else {
        s
    }
}

/// Parses a JSON-RPC quantity (`"0x1a"`) or returns an error naming `what`.
pub fn quantity(v: &Value, what: &str) -> Result<u128> {
    let s = v
        .as_str()
        .ok_or_else(|| eyre!("{what}: expected a hex quantity, got {v}"))?;
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| eyre!("{what}: expected 0x-prefixed, got {s}"))?;
    u128::from_str_radix(digits, 16).map_err(|e| eyre!("{what}: bad quantity {s}: {e}"))
}
