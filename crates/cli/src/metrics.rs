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

/// Describes every series of the node (docs/metrics.md), so that the exposition carries a
/// `# HELP` line for each. Call once, after the recorder is installed.
pub fn describe() {
    // Block production / chain / mempool.
    describe_counter!(
        "keel_blocks_produced_total",
        "L2 blocks produced by this node's block producer"
    );
    describe_counter!(
        "keel_block_transactions_total",
        "Transactions included in the L2 blocks this node produced"
    );
    describe_counter!(
        "keel_block_gas_used_total",
        "Gas used by the L2 blocks this node produced"
    );
    describe_gauge!("keel_l2_head_block", "Number of the L2 head block");
    describe_histogram!(
        "keel_block_build_duration_seconds",
        Unit::Seconds,
        "Time to build a block, from payload to stored"
    );
    describe_histogram!(
        "keel_block_execute_duration_seconds",
        Unit::Seconds,
        "Time to execute a block's transactions (produced and imported blocks)"
    );
    describe_histogram!(
        "keel_block_state_root_duration_seconds",
        Unit::Seconds,
        "Time to compute a block's state root (produced and imported blocks)"
    );
    describe_histogram!(
        "keel_block_store_duration_seconds",
        Unit::Seconds,
        "Time to write a block and its state to the database (produced and imported blocks)"
    );
    describe_gauge!(
        "keel_mempool_pending_transactions",
        "Mempool transactions executable now (nonce in sequence)"
    );
    describe_gauge!(
        "keel_mempool_queued_transactions",
        "Mempool transactions waiting for an earlier nonce"
    );
    describe_gauge!(
        "keel_mempool_privileged_transactions",
        "Deposits and other L1 messages waiting in the mempool for a block"
    );
    describe_counter!(
        "keel_mempool_rejected_transactions_total",
        "Transactions the mempool refused, by reason"
    );
    // Deposits.
    describe_gauge!(
        "keel_l1_head_block",
        "Number of the L1 head block last seen"
    );
    describe_gauge!(
        "keel_l1_watcher_cursor_block",
        "Last L1 block whose deposits the L1 watcher has read"
    );
    describe_counter!(
        "keel_deposits_seen_total",
        "Deposits and other privileged transactions read from L1"
    );
    describe_counter!(
        "keel_deposits_included_total",
        "Deposits and other privileged transactions included in L2 blocks"
    );
    describe_histogram!(
        "keel_deposit_inclusion_lag_seconds",
        Unit::Seconds,
        "L2 block timestamp minus the timestamp of the L1 block of the deposit's event"
    );
    // Batches.
    describe_counter!("keel_batches_sealed_total", "Batches sealed");
    describe_counter!("keel_batches_committed_total", "Batches committed to L1");
    describe_counter!(
        "keel_batches_verified_total",
        "Batches whose proof was verified on L1"
    );
    describe_gauge!(
        "keel_batch_last",
        "Number of the last batch sealed, committed or verified (by status)"
    );
    describe_counter!(
        "keel_l1_tx_gas_used_total",
        "Gas used by confirmed L1 transactions, by kind (commit or verify)"
    );
    describe_counter!(
        "keel_l1_tx_blob_gas_used_total",
        "Blob gas used by confirmed L1 transactions, by kind (commit or verify)"
    );
    describe_counter!(
        "keel_l1_tx_fee_wei_total",
        "Fees paid (wei, execution and blob) by confirmed L1 transactions, by kind"
    );
    // L1 senders.
    describe_gauge!(
        "keel_l1_sender_balance_ether",
        "Balance in ether of a node L1 account (committer or proof_sender)"
    );
    describe_gauge!(
        "keel_l1_sender_nonce",
        "Next nonce of a node L1 account (committer or proof_sender)"
    );
    describe_counter!(
        "keel_l1_sender_transactions_sent_total",
        "L1 transactions sent by a node L1 account (replacements included)"
    );
    describe_counter!(
        "keel_l1_sender_fee_bumps_total",
        "Fee bumps (replacements of a stuck L1 transaction) by a node L1 account"
    );
    // Proof coordinator.
    describe_counter!(
        "keel_prover_assignments_total",
        "Batches assigned to provers"
    );
    describe_counter!(
        "keel_prover_timeouts_total",
        "Prover assignments that timed out and went back to the queue"
    );
    describe_counter!("keel_proofs_accepted_total", "Proofs accepted from provers");
    describe_counter!(
        "keel_prover_rejections_total",
        "Proofs or prover messages rejected, by reason"
    );
    describe_gauge!("keel_provers_connected", "Provers connected now");
    // RPC.
    describe_counter!(
        "keel_rpc_requests_total",
        "JSON-RPC calls by method and outcome (ok or error); each call of a batch counts"
    );
    describe_histogram!(
        "keel_rpc_request_duration_seconds",
        Unit::Seconds,
        "Time to answer a JSON-RPC call, by method"
    );
    // L1 client.
    describe_counter!(
        "keel_l1_client_requests_total",
        "Requests the L1 client sent to an L1 RPC URL (retries and failovers included)"
    );
    describe_counter!(
        "keel_l1_client_errors_total",
        "Failed L1 client requests, by kind"
    );
    // Node.
    describe_gauge!(
        "keel_info",
        "Always 1; the labels carry the node's version and L2 chain id"
    );
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
