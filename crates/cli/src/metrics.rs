//! Prometheus metrics of `keel l2`: the `--metrics*` flags, the recorder every component's
//! `metrics::counter!`/`gauge!`/`histogram!` calls land in, the description of every series
//! (the `# HELP` lines), and the small HTTP server that answers `GET /metrics` with the
//! Prometheus text exposition format. docs/metrics.md lists the series.

use std::{
    convert::Infallible,
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use clap::Args;
use eyre::WrapErr;
use http_body_util::Full;
use hyper::{
    Method, Request, Response, StatusCode,
    body::{Bytes, Incoming},
    header::{ALLOW, CONTENT_TYPE},
    server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// The default port of `--metrics.port`.
pub const DEFAULT_PORT: u16 = 3701;

/// The content type of the Prometheus text exposition format.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often the exporter's upkeep runs (it drains the histograms' pending samples).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug, Args)]
#[command(next_help_heading = "Metrics (Prometheus)")]
pub struct MetricsArgs {
    /// Serve Prometheus metrics at http://ADDR:PORT/metrics (the series are listed in
    /// docs/metrics.md). Off by default.
    #[arg(long = "metrics", env = "KEEL_METRICS")]
    pub metrics: bool,
    /// Address the metrics endpoint listens on.
    #[arg(
        long = "metrics.addr",
        env = "KEEL_METRICS_ADDR",
        default_value = "127.0.0.1",
        value_name = "ADDR"
    )]
    pub metrics_addr: IpAddr,
    /// Port of the metrics endpoint (0 picks a free one; the address is logged and shown in the
    /// banner).
    #[arg(
        long = "metrics.port",
        env = "KEEL_METRICS_PORT",
        default_value_t = DEFAULT_PORT,
        value_name = "PORT"
    )]
    pub metrics_port: u16,
}

/// Histogram buckets, in seconds, of the block phases (execute, state root, store, whole build):
/// from half a millisecond to a few seconds.
pub const BLOCK_PHASE_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
/// Histogram buckets, in seconds, of JSON-RPC request latency: 50 µs to 10 s.
pub const RPC_LATENCY_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
];
/// Histogram buckets, in seconds, of the L1 → L2 deposit inclusion lag: 1 s to 1 h.
pub const DEPOSIT_LAG_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];
/// Buckets of any other histogram (Prometheus's default ones, in seconds).
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The exporter with the buckets of every histogram family.
pub fn builder() -> eyre::Result<PrometheusBuilder> {
    let mut builder = PrometheusBuilder::new().set_buckets(DEFAULT_BUCKETS)?;
    for name in [
        "keel_block_build_duration_seconds",
        "keel_block_execute_duration_seconds",
        "keel_block_state_root_duration_seconds",
        "keel_block_store_duration_seconds",
    ] {
        builder =
            builder.set_buckets_for_metric(Matcher::Full(name.into()), BLOCK_PHASE_BUCKETS)?;
    }
    builder = builder
        .set_buckets_for_metric(
            Matcher::Full("keel_rpc_request_duration_seconds".into()),
            RPC_LATENCY_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full("keel_deposit_inclusion_lag_seconds".into()),
            DEPOSIT_LAG_BUCKETS,
        )?;
    Ok(builder)
}

/// What kind of series a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    /// Durations in seconds.
    Histogram,
}

/// Every series of the node, with its kind and `# HELP` text. docs/metrics.md lists the same
/// names (a test checks both ways), and the Grafana dashboard queries only these.
pub const SERIES: &[(&str, Kind, &str)] = &[
    (
        "keel_blocks_produced_total",
        Kind::Counter,
        "L2 blocks produced by this node's block producer",
    ),
    (
        "keel_block_transactions_total",
        Kind::Counter,
        "Transactions included in the L2 blocks this node produced",
    ),
    (
        "keel_block_gas_used_total",
        Kind::Counter,
        "Gas used by the L2 blocks this node produced",
    ),
    (
        "keel_l2_head_block",
        Kind::Gauge,
        "Number of the L2 head block",
    ),
    (
        "keel_block_build_duration_seconds",
        Kind::Histogram,
        "Time to build a block, from payload to stored",
    ),
    (
        "keel_preconfirmation_slices_total",
        Kind::Counter,
        "Slices of preconfirmed transactions published",
    ),
    (
        "keel_preconfirmations_dropped_total",
        Kind::Counter,
        "Preconfirmed transactions dropped: their block failed, or a crash lost it",
    ),
    (
        "keel_block_execute_duration_seconds",
        Kind::Histogram,
        "Time to execute a block's transactions (produced and imported blocks)",
    ),
    (
        "keel_block_state_root_duration_seconds",
        Kind::Histogram,
        "Time to compute a block's state root (produced and imported blocks)",
    ),
    (
        "keel_block_store_duration_seconds",
        Kind::Histogram,
        "Time to write a block and its state to the database (produced and imported blocks)",
    ),
    (
        "keel_mempool_pending_transactions",
        Kind::Gauge,
        "Mempool transactions executable now (nonce in sequence)",
    ),
    (
        "keel_mempool_queued_transactions",
        Kind::Gauge,
        "Mempool transactions waiting for an earlier nonce",
    ),
    (
        "keel_mempool_privileged_transactions",
        Kind::Gauge,
        "Deposits and other L1 messages waiting in the mempool for a block",
    ),
    (
        "keel_mempool_rejected_transactions_total",
        Kind::Counter,
        "Transactions the mempool refused, by reason",
    ),
    (
        "keel_l1_head_block",
        Kind::Gauge,
        "Number of the L1 head block last seen",
    ),
    (
        "keel_l1_base_fee_wei",
        Kind::Gauge,
        "L1 base fee at the watcher's last poll, in wei",
    ),
    (
        "keel_l1_blob_base_fee_wei",
        Kind::Gauge,
        "L1 blob base fee at the watcher's last poll, in wei",
    ),
    (
        "keel_l1_watcher_cursor_block",
        Kind::Gauge,
        "Last L1 block whose deposits the L1 watcher has read",
    ),
    (
        "keel_settled_block",
        Kind::Gauge,
        "L2 block the block tag names (label tag: safe or finalized), 0 while there is none",
    ),
    (
        "keel_deposits_seen_total",
        Kind::Counter,
        "Deposits and other privileged transactions read from L1",
    ),
    (
        "keel_deposits_included_total",
        Kind::Counter,
        "Deposits and other privileged transactions included in L2 blocks",
    ),
    (
        "keel_deposit_inclusion_lag_seconds",
        Kind::Histogram,
        "L2 block timestamp minus the timestamp of the L1 block of the deposit's event",
    ),
    ("keel_batches_sealed_total", Kind::Counter, "Batches sealed"),
    (
        "keel_batches_committed_total",
        Kind::Counter,
        "Batches committed to L1",
    ),
    (
        "keel_batches_verified_total",
        Kind::Counter,
        "Batches whose proof was verified on L1",
    ),
    (
        "keel_batch_last",
        Kind::Gauge,
        "Number of the last batch sealed, committed or verified (by status)",
    ),
    (
        "keel_l1_tx_gas_used_total",
        Kind::Counter,
        "Gas used by confirmed L1 transactions, by kind (commit or verify)",
    ),
    (
        "keel_l1_tx_blob_gas_used_total",
        Kind::Counter,
        "Blob gas used by confirmed L1 transactions, by kind (commit or verify)",
    ),
    (
        "keel_l1_tx_fee_wei_total",
        Kind::Counter,
        "Fees paid (wei, execution and blob) by confirmed L1 transactions, by kind",
    ),
    (
        "keel_l1_sender_balance_ether",
        Kind::Gauge,
        "Balance in ether of a node L1 account (committer or proof_sender)",
    ),
    (
        "keel_l1_sender_nonce",
        Kind::Gauge,
        "Next nonce of a node L1 account (committer or proof_sender)",
    ),
    (
        "keel_l1_sender_transactions_sent_total",
        Kind::Counter,
        "L1 transactions sent by a node L1 account (replacements included)",
    ),
    (
        "keel_l1_sender_fee_bumps_total",
        Kind::Counter,
        "Fee bumps (replacements of a stuck L1 transaction) by a node L1 account",
    ),
    (
        "keel_prover_assignments_total",
        Kind::Counter,
        "Batches assigned to provers",
    ),
    (
        "keel_prover_timeouts_total",
        Kind::Counter,
        "Prover assignments that timed out and went back to the queue",
    ),
    (
        "keel_proofs_accepted_total",
        Kind::Counter,
        "Proofs accepted from provers",
    ),
    (
        "keel_prover_rejections_total",
        Kind::Counter,
        "Proofs or prover messages rejected, by reason",
    ),
    (
        "keel_provers_connected",
        Kind::Gauge,
        "Provers connected now",
    ),
    (
        "keel_prover_connections_closed_total",
        Kind::Counter,
        "Prover connections the coordinator closed or refused, by reason",
    ),
    (
        "keel_rpc_requests_total",
        Kind::Counter,
        "JSON-RPC calls by method and outcome (ok or error); each call of a batch counts",
    ),
    (
        "keel_rpc_evm_calls_running",
        Kind::Gauge,
        "EVM calls (eth_call, eth_estimateGas, ...) executing now, at most --rpc.max-concurrent-calls",
    ),
    (
        "keel_rpc_evm_calls_waiting",
        Kind::Gauge,
        "EVM calls waiting for a slot",
    ),
    (
        "keel_rpc_evm_calls_busy_total",
        Kind::Counter,
        "EVM calls refused busy after waiting for a slot, by method",
    ),
    (
        "keel_rpc_request_duration_seconds",
        Kind::Histogram,
        "Time to answer a JSON-RPC call, by method",
    ),
    (
        "keel_l1_client_requests_total",
        Kind::Counter,
        "Requests the L1 client sent to an L1 RPC URL (retries and failovers included)",
    ),
    (
        "keel_l1_client_errors_total",
        Kind::Counter,
        "Failed L1 client requests, by kind",
    ),
    (
        "keel_info",
        Kind::Gauge,
        "Always 1; the labels carry the node's version and L2 chain id",
    ),
];

/// Describes every series of [`SERIES`], so that the exposition carries a `# HELP` line for
/// each. Call once, after the recorder is installed.
pub fn describe() {
    for &(name, kind, help) in SERIES {
        match kind {
            Kind::Counter => describe_counter!(name, help),
            Kind::Gauge => describe_gauge!(name, help),
            Kind::Histogram => describe_histogram!(name, Unit::Seconds, help),
        }
    }
}

/// The node's metrics endpoint, bound and ready to serve.
#[derive(Debug)]
pub struct MetricsServer {
    listener: TcpListener,
    handle: PrometheusHandle,
    local_addr: SocketAddr,
}

impl MetricsServer {
    /// Binds `addr` (a port in use is an error naming the flag that changes it).
    #[cfg(test)]
    pub async fn bind(addr: SocketAddr, handle: PrometheusHandle) -> eyre::Result<Self> {
        Self::serve(bind_listener(addr).await?, handle)
    }

    /// The server of `handle` on a bound listener.
    fn serve(listener: TcpListener, handle: PrometheusHandle) -> eyre::Result<Self> {
        let local_addr = listener
            .local_addr()
            .wrap_err("reading the metrics listener's address")?;
        Ok(Self {
            listener,
            handle,
            local_addr,
        })
    }

    /// The address it listens on.
    #[cfg(test)]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The URL of the endpoint.
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.local_addr)
    }

    /// Serves until `token` is cancelled; runs the exporter's upkeep meanwhile.
    pub async fn run(self, token: CancellationToken) -> Result<(), std::io::Error> {
        let Self {
            listener, handle, ..
        } = self;
        let mut upkeep = tokio::time::interval(UPKEEP_INTERVAL);
        upkeep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let (stream, peer) = tokio::select! {
                _ = token.cancelled() => return Ok(()),
                _ = upkeep.tick() => {
                    handle.run_upkeep();
                    continue;
                }
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: transient, try again shortly.
                        warn!(error = %e, "metrics endpoint: accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let handle = handle.clone();
            let token = token.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let response = respond(&handle, &req);
                    async move { Ok::<_, Infallible>(response) }
                });
                let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                tokio::pin!(conn);
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            debug!(%peer, error = %e, "metrics endpoint: connection ended with an error");
                        }
                    }
                    _ = token.cancelled() => conn.as_mut().graceful_shutdown(),
                }
            });
        }
    }
}

/// Binds the metrics listener; a port in use is an error naming the flag that changes it.
async fn bind_listener(addr: SocketAddr) -> eyre::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            eyre::eyre!(
                "the metrics port {} on {} is already in use: choose another with \
                 --metrics.port (0 picks a free one)",
                addr.port(),
                addr.ip()
            )
        } else {
            eyre::eyre!("cannot listen for metrics on {addr}: {e}")
        }
    })
}

/// The answer to one request: the exposition for `GET /metrics`, 404 for any other path, 405
/// for another method on `/metrics`.
fn respond(handle: &PrometheusHandle, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let plain = |status: StatusCode, text: &'static str| {
        let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
        *response.status_mut() = status;
        response.headers_mut().insert(
            CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    };
    if req.uri().path() != "/metrics" {
        return plain(
            StatusCode::NOT_FOUND,
            "not found: the metrics are at /metrics\n",
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        response
            .headers_mut()
            .insert(ALLOW, hyper::header::HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let body = if req.method() == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(handle.render())
    };
    let mut response = Response::new(Full::new(body));
    response.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(CONTENT_TYPE_TEXT),
    );
    response
}

/// With `--metrics`: installs the recorder (once per process), describes the series, sets
/// `keel_info`, and binds the endpoint. Call before starting the components, so that the
/// metric handles they take at start record into this recorder.
pub async fn start(args: &MetricsArgs, chain_id: u64) -> eyre::Result<Option<MetricsServer>> {
    if !args.metrics {
        return Ok(None);
    }
    // Bind first: a port in use stops the node before anything else is set up.
    let listener = bind_listener(SocketAddr::new(args.metrics_addr, args.metrics_port)).await?;
    let handle = builder()?
        .install_recorder()
        .wrap_err("installing the Prometheus metrics recorder")?;
    let server = MetricsServer::serve(listener, handle)?;
    describe();
    metrics::gauge!(
        "keel_info",
        "version" => env!("CARGO_PKG_VERSION"),
        "chain_id" => chain_id.to_string()
    )
    .set(1.0);
    info!(url = %server.url(), "metrics endpoint listening");
    Ok(Some(server))
}

#[cfg(test)]
mod tests {

    /// The `keel_*` names in `text`, with histogram suffixes folded into their family.
    fn series_named_in(text: &str) -> std::collections::BTreeSet<String> {
        let mut names = std::collections::BTreeSet::new();
        let mut rest = text;
        while let Some(at) = rest.find("keel_") {
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(tail.len());
            let name = &tail[..end];
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|family| SERIES.iter().any(|(n, ..)| n == family))
                .unwrap_or(name);
            // A bare `keel_` is the prefix named in prose.
            if family != "keel_" {
                names.insert(family.to_string());
            }
            rest = &tail[end..];
        }
        names
    }

    fn all_series() -> std::collections::BTreeSet<String> {
        SERIES.iter().map(|(name, ..)| name.to_string()).collect()
    }

    #[test]
    fn series_follow_prometheus_conventions() {
        for &(name, kind, help) in SERIES {
            assert!(name.starts_with("keel_"), "{name}");
            assert!(!help.is_empty(), "{name} has a help text");
            match kind {
                Kind::Counter => assert!(name.ends_with("_total"), "{name}"),
                Kind::Histogram => assert!(name.ends_with("_seconds"), "{name}"),
                Kind::Gauge => assert!(!name.ends_with("_total"), "{name}"),
            }
        }
        assert_eq!(all_series().len(), SERIES.len(), "no name twice");
    }

    #[test]
    fn docs_list_every_series_and_no_other() {
        let docs = include_str!("../../../docs/metrics.md");
        // The series a table row of docs/metrics.md names in its first column.
        let documented: std::collections::BTreeSet<String> = docs
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|cell| cell.split(['`', '{']).next())
            .filter(|name| name.starts_with("keel_"))
            .map(str::to_string)
            .collect();
        assert_eq!(documented, all_series());
        // Names in the prose are series too (no stale name left in the text).
        let unknown: Vec<String> = series_named_in(docs)
            .difference(&all_series())
            .cloned()
            .collect();
        assert!(
            unknown.is_empty(),
            "docs/metrics.md names unknown series: {unknown:?}"
        );
    }

    #[test]
    fn the_dashboard_shows_every_series_and_no_other() {
        let dashboard: serde_json::Value =
            serde_json::from_str(include_str!("../../../ops/grafana/keel.json"))
                .expect("dashboard JSON");
        let mut exprs = String::new();
        for panel in dashboard["panels"].as_array().expect("panels") {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"].as_str().expect("every target has an expr");
                assert!(
                    expr.contains(r#"instance=~"$instance""#),
                    "every query follows the instance picker: {expr}"
                );
                exprs.push_str(expr);
                exprs.push('\n');
            }
        }
        assert_eq!(series_named_in(&exprs), all_series());
    }
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    async fn get(addr: SocketAddr, method: &str, path: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request =
            format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn serves_the_exposition_at_metrics_and_404_elsewhere() {
        let recorder = builder().unwrap().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describe();
            metrics::counter!("keel_blocks_produced_total").increment(3);
            metrics::histogram!("keel_rpc_request_duration_seconds", "method" => "eth_call")
                .record(0.002);
        });
        let server = MetricsServer::bind("127.0.0.1:0".parse().unwrap(), handle)
            .await
            .unwrap();
        let addr = server.local_addr();
        let token = CancellationToken::new();
        let task = tokio::spawn(server.run(token.clone()));

        let ok = get(addr, "GET", "/metrics").await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(
            ok.contains(&format!("content-type: {CONTENT_TYPE_TEXT}\r\n")),
            "{ok}"
        );
        assert!(
            ok.contains("# HELP keel_blocks_produced_total L2 blocks produced"),
            "{ok}"
        );
        assert!(ok.contains("keel_blocks_produced_total 3\n"), "{ok}");
        // A histogram with the RPC buckets (not a summary).
        assert!(
            ok.contains(
                "keel_rpc_request_duration_seconds_bucket{method=\"eth_call\",le=\"0.0025\"} 1\n"
            ),
            "{ok}"
        );

        let missing = get(addr, "GET", "/").await;
        assert!(
            missing.starts_with("HTTP/1.1 404 Not Found\r\n"),
            "{missing}"
        );
        let missing = get(addr, "GET", "/metrics/x").await;
        assert!(
            missing.starts_with("HTTP/1.1 404 Not Found\r\n"),
            "{missing}"
        );
        let post = get(addr, "POST", "/metrics").await;
        assert!(
            post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
            "{post}"
        );

        token.cancel();
        task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_port_in_use_names_the_flag() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let handle = builder().unwrap().build_recorder().handle();
        let err = MetricsServer::bind(addr, handle).await.unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("already in use"), "{msg}");
        assert!(msg.contains("--metrics.port"), "{msg}");
        assert!(msg.contains(&addr.port().to_string()), "{msg}");
    }
}
