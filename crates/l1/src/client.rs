//! [`L1Client`]: the read side of the L1 shared by every sequencer component that talks to L1.
//!
//! - **Failover**: it holds one provider per configured RPC URL. A request goes to the URL that
//!   last answered; on a transport failure (connection refused, timeout, HTTP error, a garbled or
//!   null answer, a rate limit) it moves on to the next URL at once.
//! - **Retries**: when every URL failed in a round, it sleeps (exponential backoff from
//!   `initial_backoff`, doubling up to `max_backoff`) and tries another round, up to
//!   `max_attempts` rounds and `max_elapsed` in total. Then it gives up with
//!   [`L1ClientError::Unreachable`], which callers treat as "try again later", never as fatal.
//! - An error **answer** from a node (a revert, invalid params) is not a transport failure: it is
//!   returned at once as [`L1ClientError::Rpc`], since another node would answer the same.
//! - **Bounded log scanning**: [`L1Client::get_logs`] splits a block range into queries of at most
//!   `max_log_range` blocks (and halves a query a node refuses, e.g. "too many results"), and
//!   returns the logs in chain order, each once.
//!
//! Only HTTP(S) URLs are supported: each request is independent, which is what failover needs.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use alloy::{
    eips::{BlockId, BlockNumberOrTag},
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{Filter, Log, TransactionRequest},
    sol_types::SolCall,
    transports::{RpcError, TransportError, http::reqwest::Url},
};
use tracing::{debug, warn};

/// How far up the L1 chain a reader goes: the highest L1 block whose contents it acts on.
///
/// `safe` and `finalized` are the consensus layer's tags (a `safe` block is unlikely to be
/// reorged out; a `finalized` one can't be without slashing a third of the stake); `latest` is the
/// head (any reorg can take it back); `Delay(n)` is `head − n` (as safe as `n` blocks on top are,
/// for an L1 without those tags or a test chain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum L1ReadBound {
    /// The `finalized` block.
    Finalized,
    /// The `safe` block.
    Safe,
    /// The head.
    Latest,
    /// `n` blocks below the head.
    Delay(u64),
}

impl L1ReadBound {
    /// The block tag to ask for, or `None` for a block delay.
    pub fn tag(self) -> Option<&'static str> {
        match self {
            Self::Finalized => Some("finalized"),
            Self::Safe => Some("safe"),
            Self::Latest => Some("latest"),
            Self::Delay(_) => None,
        }
    }
}

impl std::fmt::Display for L1ReadBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Delay(n) => write!(f, "{n}"),
            other => f.write_str(other.tag().unwrap_or_default()),
        }
    }
}

impl std::str::FromStr for L1ReadBound {
    type Err = String;

    /// `finalized`, `safe`, `latest` (any case), or a number of blocks below the head.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "finalized" => Ok(Self::Finalized),
            "safe" => Ok(Self::Safe),
            "latest" => Ok(Self::Latest),
            other => other.parse::<u64>().map(Self::Delay).map_err(|_| {
                format!(
                    "{s:?} is not an L1 read bound: expected `finalized`, `safe`, `latest` or a \
                     number of blocks below the head"
                )
            }),
        }
    }
}

/// Where an [`L1ReadBound`] stands at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L1ReadPosition {
    /// The L1 head.
    pub head: u64,
    /// The highest block the bound lets a reader act on, `None` if none yet (a block delay
    /// longer than the chain). Never above `head`.
    pub block: Option<u64>,
}

/// How the client talks to L1: the URLs, timeouts, retries and the log query size.
#[derive(Debug, Clone)]
pub struct L1ClientConfig {
    /// L1 JSON-RPC URLs (HTTP or HTTPS), tried in this order; the first is the primary.
    pub urls: Vec<String>,
    /// Time allowed for one request to one URL before it counts as a failure.
    pub request_timeout: Duration,
    /// Sleep after the first round in which every URL failed.
    pub initial_backoff: Duration,
    /// The sleep doubles after each failed round up to this.
    pub max_backoff: Duration,
    /// Rounds over all URLs before giving up (at least 1).
    pub max_attempts: u32,
    /// Total time budget of one request, retries included: no new round starts after it.
    pub max_elapsed: Duration,
    /// Most blocks one `eth_getLogs` query may span.
    pub max_log_range: u64,
}

impl Default for L1ClientConfig {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            request_timeout: Duration::from_secs(10),
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_attempts: 5,
            max_elapsed: Duration::from_secs(60),
            max_log_range: 1_000,
        }
    }
}

impl L1ClientConfig {
    /// The default configuration for `urls`.
    pub fn new<S: Into<String>>(urls: impl IntoIterator<Item = S>) -> Self {
        Self {
            urls: urls.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}

/// Why an L1 request failed.
#[derive(Debug, thiserror::Error)]
pub enum L1ClientError {
    /// Every URL failed, in every round: the L1 is unreachable for now. Not fatal: log it and try
    /// again later.
    #[error(
        "L1 unreachable: {method} failed on all {urls} RPC URL(s) in {rounds} round(s) over \
         {elapsed:?}; last error (from {last_url}): {last_error}"
    )]
    Unreachable {
        /// The JSON-RPC method.
        method: &'static str,
        /// How many URLs were tried each round.
        urls: usize,
        /// Rounds over the URLs.
        rounds: u32,
        /// Time spent.
        elapsed: Duration,
        /// The URL of the last failure.
        last_url: String,
        /// The last failure.
        last_error: String,
    },
    /// A node answered with an error (a revert, invalid parameters, a refused range).
    #[error("L1 RPC {url} answered {method} with error {code}: {message}")]
    Rpc {
        /// The JSON-RPC method.
        method: &'static str,
        /// The URL that answered.
        url: String,
        /// The JSON-RPC error code (0 if the error was not a JSON-RPC error response).
        code: i64,
        /// The error message.
        message: String,
    },
    /// A call's return data did not decode as the function's outputs.
    #[error("decoding the result of {what}: {message}")]
    Decode {
        /// What was decoded.
        what: &'static str,
        /// Why it failed.
        message: String,
    },
    /// A node answered with something that breaks the protocol (e.g. a log without a block
    /// number in a mined range).
    #[error("L1 RPC {url} gave an invalid answer to {method}: {message}")]
    InvalidResponse {
        /// The JSON-RPC method.
        method: &'static str,
        /// The URL.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// The configuration is unusable.
    #[error("L1 client configuration: {0}")]
    Config(String),
    /// The node has no block for a tag (`safe` or `finalized`): a pre-merge or non-standard L1
    /// node. Not transient: read up to `latest` or a block count instead.
    #[error(
        "L1 RPC {url} has no `{tag}` block ({message}): the L1 node does not support the \
         `{tag}` tag (pre-merge or non-standard); read up to `latest` or a number of blocks \
         below the head instead"
    )]
    UnsupportedTag {
        /// The tag asked for.
        tag: &'static str,
        /// The URL that answered.
        url: String,
        /// Its answer (an error message, or `null`).
        message: String,
    },
}

impl L1ClientError {
    /// True for [`L1ClientError::Unreachable`]: a transient condition, retry later.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }
}

struct Endpoint {
    url: String,
    provider: DynProvider,
}

struct Inner {
    endpoints: Vec<Endpoint>,
    /// Index of the endpoint that answered last: the next request starts there.
    current: AtomicUsize,
    config: L1ClientConfig,
}

/// A failover, retrying L1 JSON-RPC client. Cheap to clone (shared handle).
#[derive(Clone)]
pub struct L1Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for L1Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L1Client")
            .field("urls", &self.inner.config.urls)
            .field("current", &self.inner.current.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Whether a failed request should move on to the next URL (`true`) or be returned as the
/// node's answer (`false`). With `refusals_are_answers`, only HTTP 429 among error responses
/// counts as a failure of the endpoint (for `eth_getLogs`, whose "too many results" refusals use
/// the same codes as some providers' rate limits and are handled by splitting the range).
fn endpoint_failed(e: &TransportError, refusals_are_answers: bool) -> bool {
    match e {
        RpcError::Transport(_) | RpcError::NullResp | RpcError::DeserError { .. } => true,
        RpcError::ErrorResp(payload) => {
            if refusals_are_answers {
                payload.code == 429
            } else {
                payload.is_retry_err()
            }
        }
        _ => false,
    }
}

/// The kinds of `keel_l1_client_errors_total{kind}` (a fixed set).
pub mod error_kind {
    /// No answer within the request timeout.
    pub const TIMEOUT: &str = "timeout";
    /// The transport failed: connection refused or reset, an HTTP error status.
    pub const CONNECTION: &str = "connection";
    /// The node answered with a JSON-RPC error (a revert, invalid params, a rate limit).
    pub const RPC: &str = "rpc";
    /// The answer did not decode (garbled or null JSON, or return data not matching the ABI).
    pub const DECODE: &str = "decode";
    /// The answer broke the protocol (e.g. a log outside the requested range).
    pub const INVALID_RESPONSE: &str = "invalid_response";
    /// A request gave up after every URL failed in every round.
    pub const UNREACHABLE: &str = "unreachable";
    /// Anything else (a request the client could not even build, say).
    pub const OTHER: &str = "other";
    /// Every kind.
    pub const ALL: [&str; 7] = [
        TIMEOUT,
        CONNECTION,
        RPC,
        DECODE,
        INVALID_RESPONSE,
        UNREACHABLE,
        OTHER,
    ];
}

/// Counts one failure of `kind` (one of [`error_kind`]).
fn count_error(kind: &'static str) {
    metrics::counter!("keel_l1_client_errors_total", "kind" => kind).increment(1);
}

/// The [`error_kind`] of a failed attempt.
fn transport_error_kind(e: &TransportError) -> &'static str {
    match e {
        RpcError::ErrorResp(_) => error_kind::RPC,
        RpcError::NullResp | RpcError::DeserError { .. } => error_kind::DECODE,
        RpcError::Transport(_) => error_kind::CONNECTION,
        _ => error_kind::OTHER,
    }
}

fn redact(url: &str) -> String {
    // Provider URLs often carry an API key in the path or query: log scheme, host and port only.
    match url.parse::<Url>() {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{}://{h}:{p}", u.scheme()),
            (Some(h), None) => format!("{}://{h}", u.scheme()),
            _ => url.to_string(),
        },
        Err(_) => url.to_string(),
    }
}

impl L1Client {
    /// A client of `config.urls` (at least one, each HTTP or HTTPS). Connects lazily: no request
    /// is made here.
    pub fn new(config: L1ClientConfig) -> Result<Self, L1ClientError> {
        if config.urls.is_empty() {
            return Err(L1ClientError::Config("no L1 RPC URL given".into()));
        }
        if config.max_log_range == 0 {
            return Err(L1ClientError::Config(
                "max_log_range must be at least 1".into(),
            ));
        }
        let mut endpoints = Vec::with_capacity(config.urls.len());
        for url in &config.urls {
            let parsed: Url = url
                .parse()
                .map_err(|e| L1ClientError::Config(format!("invalid L1 RPC URL {url}: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(L1ClientError::Config(format!(
                    "L1 RPC URL {url}: only http:// and https:// are supported"
                )));
            }
            let provider = ProviderBuilder::new()
                .disable_recommended_fillers()
                .connect_http(parsed)
                .erased();
            endpoints.push(Endpoint {
                url: url.clone(),
                provider,
            });
        }
        Ok(Self {
            inner: Arc::new(Inner {
                endpoints,
                current: AtomicUsize::new(0),
                config,
            }),
        })
    }

    /// A client of `urls` with the default timeouts and retries.
    pub fn from_urls<S: Into<String>>(
        urls: impl IntoIterator<Item = S>,
    ) -> Result<Self, L1ClientError> {
        Self::new(L1ClientConfig::new(urls))
    }

    /// The configuration.
    pub fn config(&self) -> &L1ClientConfig {
        &self.inner.config
    }

    /// The URL requests go to first (the one that answered last).
    pub fn current_url(&self) -> &str {
        let i = self.inner.current.load(Ordering::Relaxed);
        &self.inner.endpoints[i].url
    }

    /// Runs `f` on one provider after the other with failover and backoff (see the module
    /// docs). `method` names the request in errors and logs. For requests this client has no
    /// helper for; `f` gets a provider with no fillers (reads only).
    pub async fn request<T, F, Fut>(&self, method: &'static str, f: F) -> Result<T, L1ClientError>
    where
        F: Fn(DynProvider) -> Fut,
        Fut: Future<Output = Result<T, TransportError>>,
    {
        self.request_inner(method, false, f).await
    }

    async fn request_inner<T, F, Fut>(
        &self,
        method: &'static str,
        refusals_are_answers: bool,
        f: F,
    ) -> Result<T, L1ClientError>
    where
        F: Fn(DynProvider) -> Fut,
        Fut: Future<Output = Result<T, TransportError>>,
    {
        let config = &self.inner.config;
        let endpoints = &self.inner.endpoints;
        let n = endpoints.len();
        let started = Instant::now();
        let mut backoff = config.initial_backoff;
        let mut rounds = 0;
        let mut last = (String::new(), String::from("no attempt"));
        loop {
            rounds += 1;
            let first = self.inner.current.load(Ordering::Relaxed);
            for k in 0..n {
                let i = (first + k) % n;
                let endpoint = &endpoints[i];
                metrics::counter!("keel_l1_client_requests_total").increment(1);
                let result =
                    tokio::time::timeout(config.request_timeout, f(endpoint.provider.clone()))
                        .await;
                let error = match result {
                    Ok(Ok(value)) => {
                        if i != first {
                            self.inner.current.store(i, Ordering::Relaxed);
                            warn!(
                                method,
                                url = %redact(&endpoint.url),
                                "L1 RPC failover: now using this URL"
                            );
                        }
                        return Ok(value);
                    }
                    Ok(Err(e)) if !endpoint_failed(&e, refusals_are_answers) => {
                        count_error(transport_error_kind(&e));
                        let code = match &e {
                            RpcError::ErrorResp(p) => p.code,
                            _ => 0,
                        };
                        let message = match &e {
                            RpcError::ErrorResp(p) => p.message.to_string(),
                            other => other.to_string(),
                        };
                        return Err(L1ClientError::Rpc {
                            method,
                            url: redact(&endpoint.url),
                            code,
                            message,
                        });
                    }
                    Ok(Err(e)) => {
                        count_error(transport_error_kind(&e));
                        e.to_string()
                    }
                    Err(_) => {
                        count_error(error_kind::TIMEOUT);
                        format!("no answer within {:?}", config.request_timeout)
                    }
                };
                debug!(method, url = %redact(&endpoint.url), round = rounds, error = %error,
                    "L1 request failed");
                last = (redact(&endpoint.url), error);
            }
            let elapsed = started.elapsed();
            if rounds >= config.max_attempts.max(1) || elapsed + backoff > config.max_elapsed {
                count_error(error_kind::UNREACHABLE);
                return Err(L1ClientError::Unreachable {
                    method,
                    urls: n,
                    rounds,
                    elapsed,
                    last_url: last.0,
                    last_error: last.1,
                });
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(config.max_backoff);
        }
    }

    /// `eth_chainId`.
    pub async fn chain_id(&self) -> Result<u64, L1ClientError> {
        self.request("eth_chainId", |p| async move { p.get_chain_id().await })
            .await
    }

    /// `eth_blockNumber`: the L1 head.
    pub async fn block_number(&self) -> Result<u64, L1ClientError> {
        self.request(
            "eth_blockNumber",
            |p| async move { p.get_block_number().await },
        )
        .await
    }

    /// What L1 charges now: the base fee of its latest block (`eth_getBlockByNumber`) and the
    /// blob base fee (`eth_blobBaseFee`), in wei.
    pub async fn prices(&self) -> Result<(u128, u128), L1ClientError> {
        let block = self
            .request("eth_getBlockByNumber", |p| async move {
                p.get_block_by_number(BlockNumberOrTag::Latest).await
            })
            .await?;
        let base_fee = block
            .and_then(|b| b.header.base_fee_per_gas)
            .map_or(0, u128::from);
        let blob_base_fee = self
            .request(
                "eth_blobBaseFee",
                |p| async move { p.get_blob_base_fee().await },
            )
            .await?;
        Ok((base_fee, blob_base_fee))
    }

    /// The head and the highest block `bound` allows reading: `eth_blockNumber`, and for a tag
    /// `eth_getBlockByNumber(tag)` ([`L1ClientError::UnsupportedTag`] if the node has no such
    /// block or refuses the tag). The head is read first, so the bound is never above it.
    pub async fn read_position(&self, bound: L1ReadBound) -> Result<L1ReadPosition, L1ClientError> {
        let head = self.block_number().await?;
        let block = match bound {
            L1ReadBound::Latest => Some(head),
            L1ReadBound::Delay(n) => head.checked_sub(n),
            L1ReadBound::Finalized | L1ReadBound::Safe => {
                let (tag, number) = if bound == L1ReadBound::Safe {
                    ("safe", BlockNumberOrTag::Safe)
                } else {
                    ("finalized", BlockNumberOrTag::Finalized)
                };
                let answer = self
                    .request("eth_getBlockByNumber", |p| async move {
                        p.get_block_by_number(number).await
                    })
                    .await;
                let unsupported = |message: String| L1ClientError::UnsupportedTag {
                    tag,
                    url: redact(self.current_url()),
                    message,
                };
                match answer {
                    Ok(Some(block)) => Some(block.header.number.min(head)),
                    Ok(None) => return Err(unsupported("null".into())),
                    Err(L1ClientError::Rpc { code, message, .. }) => {
                        return Err(unsupported(format!("error {code}: {message}")));
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        Ok(L1ReadPosition { head, block })
    }

    /// `eth_call` of `input` on `to` at `block`; the return data.
    pub async fn call(
        &self,
        to: Address,
        input: Bytes,
        block: BlockId,
    ) -> Result<Bytes, L1ClientError> {
        let tx = TransactionRequest::default().with_to(to).with_input(input);
        self.request("eth_call", |p| {
            let tx = tx.clone();
            async move { p.call(tx).block(block).await }
        })
        .await
    }

    /// `eth_call` of a contract function on `to` at `block`, decoded.
    pub async fn call_sol<C: SolCall>(
        &self,
        to: Address,
        call: &C,
        block: BlockId,
    ) -> Result<C::Return, L1ClientError> {
        let out = self.call(to, Bytes::from(call.abi_encode()), block).await?;
        C::abi_decode_returns(&out).map_err(|e| {
            count_error(error_kind::DECODE);
            L1ClientError::Decode {
                what: C::SIGNATURE,
                message: e.to_string(),
            }
        })
    }

    /// The logs of `address` with topic0 `event` in blocks `from..=to` (empty if `from > to`),
    /// in chain order (block, then log index), each once. Queries span at most `max_log_range`
    /// blocks; a query a node refuses is halved until it passes or spans one block. Removed
    /// (reorged-out) logs are dropped.
    pub async fn get_logs(
        &self,
        address: Address,
        event: B256,
        from: u64,
        to: u64,
    ) -> Result<Vec<Log>, L1ClientError> {
        let mut out = Vec::new();
        let max_step = self.inner.config.max_log_range.max(1);
        let mut step = max_step;
        let mut start = from;
        while start <= to {
            let end = to.min(start.saturating_add(step - 1));
            let filter = Filter::new()
                .address(address)
                .event_signature(event)
                .from_block(start)
                .to_block(end);
            let result = self
                .request_inner("eth_getLogs", true, |p| {
                    let filter = filter.clone();
                    async move { p.get_logs(&filter).await }
                })
                .await;
            let mut logs = match result {
                Ok(logs) => logs,
                Err(L1ClientError::Rpc { message, .. }) if end > start => {
                    step = (end - start).div_ceil(2);
                    warn!(from = start, to = end, next_step = step, error = %message,
                        "eth_getLogs refused the range; halving it");
                    continue;
                }
                Err(e) => return Err(e),
            };
            logs.retain(|l| !l.removed);
            for log in &logs {
                match log.block_number {
                    Some(b) if (start..=end).contains(&b) => {}
                    other => {
                        count_error(error_kind::INVALID_RESPONSE);
                        return Err(L1ClientError::InvalidResponse {
                            method: "eth_getLogs",
                            url: redact(self.current_url()),
                            message: format!(
                                "log at block {other:?} outside the requested {start}..={end}"
                            ),
                        });
                    }
                }
            }
            logs.sort_by_key(|l| (l.block_number, l.log_index));
            out.extend(logs);
            if end == u64::MAX {
                break;
            }
            start = end + 1;
            // After a refused query, grow back towards the configured size.
            step = step.saturating_mul(2).min(max_step);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of the series `line_prefix` (name and labels) in `text`, if present.
    fn sample(text: &str, line_prefix: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(line_prefix)?.strip_prefix(' ')?.parse().ok())
    }

    #[tokio::test(flavor = "current_thread")]
    async fn requests_and_errors_are_counted_by_kind() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let _guard = metrics::set_default_local_recorder(&recorder);

        // A port nobody listens on (connection refused), and one that accepts and never answers.
        let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let refused_url = format!("http://{}", refused.local_addr().unwrap());
        drop(refused);
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent_url = format!("http://{}", silent.local_addr().unwrap());
        let _keep = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = silent.accept().await {
                held.push(stream);
            }
        });
        let client = L1Client::new(L1ClientConfig {
            request_timeout: Duration::from_millis(300),
            initial_backoff: Duration::from_millis(10),
            max_attempts: 2,
            ..L1ClientConfig::new([refused_url, silent_url])
        })
        .unwrap();
        let err = client.block_number().await.unwrap_err();
        assert!(err.is_unreachable(), "{err}");

        let text = handle.render();
        // Two rounds over two URLs.
        assert_eq!(
            sample(&text, "keel_l1_client_requests_total"),
            Some(4.0),
            "{text}"
        );
        let errors = |kind: &str| {
            sample(
                &text,
                &format!("keel_l1_client_errors_total{{kind=\"{kind}\"}}"),
            )
        };
        assert_eq!(errors(error_kind::CONNECTION), Some(2.0), "{text}");
        assert_eq!(errors(error_kind::TIMEOUT), Some(2.0), "{text}");
        assert_eq!(errors(error_kind::UNREACHABLE), Some(1.0), "{text}");
        assert_eq!(errors(error_kind::RPC), None, "{text}");
    }

    #[test]
    fn read_bounds_parse_and_print() {
        for (text, bound) in [
            ("safe", L1ReadBound::Safe),
            ("Finalized", L1ReadBound::Finalized),
            ("latest", L1ReadBound::Latest),
            ("0", L1ReadBound::Delay(0)),
            ("12", L1ReadBound::Delay(12)),
        ] {
            assert_eq!(text.parse::<L1ReadBound>(), Ok(bound), "{text}");
            assert_eq!(bound.to_string(), text.to_ascii_lowercase());
        }
        for bad in ["", "pending", "-1", "1.5", "earliest"] {
            let err = bad.parse::<L1ReadBound>().expect_err(bad);
            assert!(err.contains("finalized"), "{err}");
        }
    }

    #[test]
    fn config_is_checked() {
        assert!(matches!(
            L1Client::new(L1ClientConfig::default()),
            Err(L1ClientError::Config(_))
        ));
        assert!(matches!(
            L1Client::from_urls(["ws://127.0.0.1:8545"]),
            Err(L1ClientError::Config(_))
        ));
        assert!(matches!(
            L1Client::from_urls(["not a url"]),
            Err(L1ClientError::Config(_))
        ));
        let client =
            L1Client::from_urls(["http://127.0.0.1:8545", "https://l1.example"]).expect("valid");
        assert_eq!(client.current_url(), "http://127.0.0.1:8545");
    }

    #[test]
    fn urls_are_redacted_in_logs() {
        assert_eq!(
            redact("https://eth.example.com/v2/SECRETKEY?x=1"),
            "https://eth.example.com"
        );
        assert_eq!(redact("http://127.0.0.1:8545/"), "http://127.0.0.1:8545");
    }
}
