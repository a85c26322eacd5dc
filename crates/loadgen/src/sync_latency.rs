//! `keel-loadgen sync-latency`: submission-to-receipt latency of `eth_sendRawTransactionSync`
//! (EIP-7966) under an open-loop, paced offered load.
//!
//! Per target: (1) setup, untimed: fund the load accounts (the eth workload's setup) and send
//! one `eth_sendRawTransactionSync` from the funder as a probe; a target whose probe fails (the
//! method missing: JSON-RPC error -32601) stops there with that error; (2) pre-sign 1-wei
//! transfers, sender `p mod accounts` at position `p` (so one sender's transactions are
//! `accounts / rate` seconds apart), each as its own request body; (3) send transaction `k` at
//! `t0 + k / rate`, each on its own request over a pool of keep-alive HTTP/1.1 connections (a
//! connection is taken from the idle pool or opened; at most `--max-inflight` requests at once),
//! `--warmup-secs` of unmeasured load first. Latency = request sent → reply received (the
//! connection is already open). See `docs/loadgen.md`.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use alloy::primitives::{Address, TxKind, U256};
use eyre::{Result, WrapErr, bail};
use hyper::body::Bytes;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::{
    Target, TargetFailure,
    accounts::{self, Call, Key, sign},
    http1::{Conn, HttpTarget, Reply, classify},
    modes::{Common, keys, open_target},
    rpc::Rpc,
    setup::{self, SetupOpts},
    stats::{Errors, Summary, fmt_ratio, ratio},
    workload::{Artifacts, Workload},
};

/// The method measured.
pub const METHOD: &str = "eth_sendRawTransactionSync";

/// Settings of a `sync-latency` run.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Funder, seed, anvil binary, setup timeout.
    pub common: Common,
    /// Offered load, transactions per second.
    pub rate: f64,
    /// Measured time.
    pub duration: Duration,
    /// Unmeasured load before it.
    pub warmup: Duration,
    /// Load accounts (senders).
    pub accounts: usize,
    /// Most requests in flight (= most connections).
    pub max_inflight: usize,
    /// The EIP-7966 timeout parameter in ms (omitted when `None`: the node's default).
    pub sync_timeout_ms: Option<u64>,
    /// Client-side limit of one request.
    pub request_timeout: Duration,
    /// Progress lines on stderr.
    pub progress: bool,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            common: Common::default(),
            rate: 1000.0,
            duration: Duration::from_secs(20),
            warmup: Duration::from_secs(2),
            accounts: 2000,
            max_inflight: 2000,
            sync_timeout_ms: None,
            request_timeout: Duration::from_secs(60),
            progress: true,
        }
    }
}

impl SyncConfig {
    fn validate(&self) -> Result<()> {
        if !(self.rate.is_finite() && self.rate > 0.0) {
            bail!("--rate must be positive");
        }
        if self.duration.is_zero() || self.accounts == 0 || self.max_inflight == 0 {
            bail!("--duration-secs, --accounts and --max-inflight must be positive");
        }
        Ok(())
    }

    /// Transactions sent during the warmup and in all.
    pub fn counts(&self) -> (usize, usize) {
        let warm = (self.rate * self.warmup.as_secs_f64()).round() as usize;
        let measured = ((self.rate * self.duration.as_secs_f64()).round() as usize).max(1);
        (warm, warm + measured)
    }

    /// The `params` after the raw transaction (`,5000` with a timeout, else empty).
    fn extra_params(&self) -> String {
        self.sync_timeout_ms
            .map(|ms| format!(",{ms}"))
            .unwrap_or_default()
    }
}

/// The result of one target.
#[derive(Debug, Clone, Serialize)]
pub struct SyncTarget {
    /// Target name.
    pub name: String,
    /// Endpoint URL.
    pub url: String,
    /// Chain id.
    pub chain_id: u64,
    /// Latency of the probe (one transaction on an idle node), ms.
    pub probe_ms: f64,
    /// Transactions sent in the measured window.
    pub sent: u64,
    /// Of those, answered with a receipt.
    pub ok: u64,
    /// Of those, failed (JSON-RPC error, null result, connection failure, timeout).
    pub errors: u64,
    /// The failures' messages, most frequent first.
    pub error_messages: Vec<(String, u64)>,
    /// Sent per second over the measured window (first to last send).
    pub achieved_rate: f64,
    /// Request sent → reply, successful requests, µs.
    pub latency_us: Summary,
    /// How late sends were against their schedule (waiting for a connection or a free slot), µs.
    pub send_lag_us: Summary,
    /// Most requests in flight at once.
    pub peak_inflight: u64,
    /// Connections opened.
    pub connections: u64,
    /// Setup seconds (funding, signing).
    pub setup_secs: f64,
}

/// The result of a `sync-latency` run.
#[derive(Debug, Clone, Serialize, Default)]
pub struct SyncReport {
    /// Offered load, tx/s.
    pub rate: f64,
    /// Measured seconds.
    pub duration_secs: f64,
    /// Warmup seconds.
    pub warmup_secs: f64,
    /// The EIP-7966 timeout parameter, if sent.
    pub sync_timeout_ms: Option<u64>,
    /// Targets that ran, in order.
    pub targets: Vec<SyncTarget>,
    /// Targets that failed.
    pub failures: Vec<TargetFailure>,
}

/// One request's fate.
struct Outcome {
    measured: bool,
    sent_us: u64,
    lag_us: u64,
    result: std::result::Result<u64, String>,
}

struct Pool {
    target: HttpTarget,
    idle: Mutex<Vec<Conn>>,
    opened: AtomicU64,
    inflight: AtomicU64,
    peak: AtomicU64,
    done: AtomicU64,
    timeout: Duration,
}

async fn send_one(pool: &Pool, body: Bytes, t0: Instant, due: Instant, measured: bool) -> Outcome {
    let now = pool.inflight.fetch_add(1, Ordering::Relaxed) + 1;
    pool.peak.fetch_max(now, Ordering::Relaxed);
    let idle = pool.idle.lock().map(|mut v| v.pop()).unwrap_or(None);
    let conn = match idle {
        Some(c) => Ok(c),
        None => {
            pool.opened.fetch_add(1, Ordering::Relaxed);
            Conn::connect(&pool.target, Duration::from_secs(10)).await
        }
    };
    let sent = Instant::now();
    let mut out = Outcome {
        measured,
        sent_us: sent.saturating_duration_since(t0).as_micros() as u64,
        lag_us: sent.saturating_duration_since(due).as_micros() as u64,
        result: Err(String::new()),
    };
    out.result = match conn {
        Err(e) => Err(format!("{e:#}")),
        Ok(mut conn) => {
            let r = tokio::time::timeout(pool.timeout, conn.post(&pool.target, body)).await;
            let lat = sent.elapsed().as_micros() as u64;
            match r {
                Ok(Ok((status, body))) => {
                    if let Ok(mut v) = pool.idle.lock() {
                        v.push(conn);
                    }
                    match classify(status, &body) {
                        Reply::Ok => Ok(lat),
                        Reply::RpcError { text, .. } => Err(text),
                        Reply::Bad(m) => Err(m),
                    }
                }
                Ok(Err(e)) => Err(format!("{e:#}")),
                Err(_) => Err(format!("no reply within {:?}", pool.timeout)),
            }
        }
    };
    pool.inflight.fetch_sub(1, Ordering::Relaxed);
    pool.done.fetch_add(1, Ordering::Relaxed);
    out
}

/// Sends one transaction from the funder with the method and fails with a clear message if the
/// target does not answer it with a receipt. Returns the latency in ms.
async fn probe(
    rpc: &Rpc,
    cfg: &SyncConfig,
    funder: &Key,
    params: &accounts::TxParams,
    to: Address,
) -> Result<f64> {
    let nonce = rpc.nonce(funder.address(), "pending").await?;
    let tx = sign(
        funder,
        params,
        nonce,
        Call {
            to: TxKind::Call(to),
            value: U256::from(1),
            input: Default::default(),
            gas_limit: 21_000,
        },
    )?;
    let mut p = vec![json!(alloy::hex::encode_prefixed(&tx.raw))];
    if let Some(ms) = cfg.sync_timeout_ms {
        p.push(json!(ms));
    }
    let t = Instant::now();
    let r = rpc.call_raw(METHOD, Value::Array(p)).await?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    match r {
        Ok(v) if v.get("transactionHash").is_some() => Ok(ms),
        Ok(v) => bail!(
            "target `{}`: {METHOD} returned {} instead of a receipt",
            rpc.name(),
            crate::rpc::snippet(v.to_string().as_bytes())
        ),
        Err(e) if e.code == -32601 => bail!(
            "target `{}` does not implement {METHOD}: {e}; stopping this target",
            rpc.name()
        ),
        Err(e) => bail!(
            "target `{}`: the {METHOD} probe failed: {e}; stopping this target",
            rpc.name()
        ),
    }
}

async fn run_target(
    cfg: &SyncConfig,
    target: &Target,
    funder: &Key,
    keys: &Arc<Vec<Key>>,
    addrs: &Arc<Vec<Address>>,
    artifacts: &Artifacts,
) -> Result<SyncTarget> {
    let name = target.name.as_str();
    let (_anvil, url) = open_target(target, cfg.common.anvil_bin.as_deref()).await?;
    let http = HttpTarget::parse(&url).wrap_err_with(|| format!("target `{name}`"))?;
    let rpc = Rpc::new(name, &url, 4, Duration::from_secs(60))?;
    let chain_id = rpc
        .chain_id()
        .await
        .wrap_err_with(|| format!("target `{name}` at {url} does not answer eth_chainId"))?;
    let t_setup = Instant::now();
    let (warm, total) = cfg.counts();
    let per = total.div_ceil(keys.len());
    eprintln!(
        "[{name}] chain {chain_id}: funding {} accounts for {total} transfers",
        keys.len()
    );
    let s = setup::run(
        &rpc,
        &SetupOpts {
            workload: Workload::Eth,
            keys,
            addrs,
            txs_per_account: per,
            gas_limit: 21_000,
            slots: 0,
            batch_size: 100,
            max_pending_per_sender: 0,
            max_fee: None,
            tip: None,
            artifacts,
            funder,
            inclusion_timeout: cfg.common.setup_timeout,
        },
    )
    .await?;
    let probe_ms = probe(&rpc, cfg, funder, &s.params, addrs[0]).await?;
    eprintln!("[{name}] {METHOD} probe answered with a receipt in {probe_ms:.1} ms");

    let pre = {
        let (keys, addrs) = (keys.clone(), addrs.clone());
        let (nonces, params, extra) = (s.nonces.clone(), s.params, cfg.extra_params());
        tokio::task::spawn_blocking(move || {
            accounts::presign_requests(&keys, &nonces, per, &params, METHOD, &extra, |s, _| {
                Workload::Eth.call(&addrs, s, Address::ZERO, 0, 21_000)
            })
        })
        .await
        .map_err(|e| eyre::eyre!("signing: {e}"))??
    };
    let bodies: Vec<Bytes> = pre
        .requests
        .into_iter()
        .take(total)
        .map(Bytes::from)
        .collect();
    let setup_secs = t_setup.elapsed().as_secs_f64();
    eprintln!(
        "[{name}] setup {setup_secs:.1}s; sending {total} transfers at {} tx/s ({warm} warmup)",
        cfg.rate
    );

    // Timed phase.
    let pool = Arc::new(Pool {
        target: http,
        idle: Mutex::new(Vec::new()),
        opened: AtomicU64::new(0),
        inflight: AtomicU64::new(0),
        peak: AtomicU64::new(0),
        done: AtomicU64::new(0),
        timeout: cfg.request_timeout,
    });
    let slots = Arc::new(Semaphore::new(cfg.max_inflight));
    let t0 = Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::with_capacity(total);
    let mut last_progress = Instant::now();
    for (k, body) in bodies.into_iter().enumerate() {
        let due = t0 + Duration::from_secs_f64(k as f64 / cfg.rate);
        tokio::time::sleep_until(due.into()).await;
        let permit = slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| eyre::eyre!("{e}"))?;
        let measured = k >= warm;
        if k == warm {
            pool.peak
                .store(pool.inflight.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        let p = pool.clone();
        let task = tokio::spawn(async move {
            let out = send_one(&p, body, t0, due, measured).await;
            drop(permit);
            out
        });
        tasks.push((measured, task));
        if cfg.progress && last_progress.elapsed() >= Duration::from_secs(2) {
            last_progress = Instant::now();
            eprintln!(
                "[{name}] sent {} of {total}, answered {}, in flight {}, connections {}",
                k + 1,
                pool.done.load(Ordering::Relaxed),
                pool.inflight.load(Ordering::Relaxed),
                pool.opened.load(Ordering::Relaxed)
            );
        }
    }
    let mut errors = Errors::default();
    let mut lat = Vec::with_capacity(total);
    let mut lag = Vec::with_capacity(total);
    let (mut sent, mut first, mut last) = (0u64, u64::MAX, 0u64);
    for (measured, t) in tasks {
        let o = match t.await {
            Ok(o) => o,
            Err(e) => {
                if measured {
                    errors.add(format!("request task failed: {e}"));
                    sent += 1;
                }
                continue;
            }
        };
        if !o.measured {
            continue;
        }
        sent += 1;
        first = first.min(o.sent_us);
        last = last.max(o.sent_us);
        lag.push(o.lag_us);
        match o.result {
            Ok(us) => lat.push(us),
            Err(m) => errors.add(m),
        }
    }
    // Reset when the measured window began, so this is the window's peak (or the tail's).
    let measured_peak = pool.peak.load(Ordering::Relaxed);
    let span = last.saturating_sub(first) as f64 / 1e6;
    let achieved_rate = if span > 0.0 {
        (sent.saturating_sub(1)) as f64 / span
    } else {
        0.0
    };
    let r = SyncTarget {
        name: name.to_string(),
        url,
        chain_id,
        probe_ms,
        sent,
        ok: lat.len() as u64,
        errors: errors.total(),
        error_messages: errors.sorted(),
        achieved_rate,
        latency_us: Summary::of(&mut lat),
        send_lag_us: Summary::of(&mut lag),
        peak_inflight: measured_peak,
        connections: pool.opened.load(Ordering::Relaxed),
        setup_secs,
    };
    eprintln!(
        "[{name}] sent {}, ok {}, errors {}, {:.0} tx/s, p50 {:.1} ms, p99 {:.1} ms",
        r.sent,
        r.ok,
        r.errors,
        r.achieved_rate,
        ms(r.latency_us.p50),
        ms(r.latency_us.p99)
    );
    Ok(r)
}

fn ms(us: u64) -> f64 {
    us as f64 / 1e3
}

/// Runs the sync-latency mode against every target in order; a target that fails (e.g. does
/// not implement the method) is recorded in [`SyncReport::failures`] and the next one still runs.
pub async fn run(cfg: &SyncConfig, targets: &[Target]) -> Result<SyncReport> {
    cfg.validate()?;
    if targets.is_empty() {
        bail!("no targets: pass --target NAME=URL (and/or --spawn-anvil)");
    }
    let (funder, keys, addrs) = keys(&cfg.common, cfg.accounts).await?;
    let (keys, addrs) = (Arc::new(keys), Arc::new(addrs));
    let artifacts = Artifacts::embedded()?;
    let mut report = SyncReport {
        rate: cfg.rate,
        duration_secs: cfg.duration.as_secs_f64(),
        warmup_secs: cfg.warmup.as_secs_f64(),
        sync_timeout_ms: cfg.sync_timeout_ms,
        ..SyncReport::default()
    };
    (report.targets, report.failures) = crate::for_each_target(targets, |t| {
        run_target(cfg, t, &funder, &keys, &addrs, &artifacts)
    })
    .await;
    Ok(report)
}

impl SyncReport {
    /// Total failed requests.
    pub fn errors(&self) -> u64 {
        self.targets.iter().map(|t| t.errors).sum()
    }

    /// Latency percentile `pick` of target `i` over the last target's.
    pub fn ratio(&self, i: usize, pick: fn(&Summary) -> u64) -> Option<f64> {
        let last = self.targets.last()?;
        let t = self.targets.get(i)?;
        ratio(pick(&t.latency_us) as f64, pick(&last.latency_us) as f64)
    }

    /// The report as JSON, with each target's p50 and p99 ratio to the last target.
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(ts) = v.get_mut("targets").and_then(Value::as_array_mut) {
            for (i, t) in ts.iter_mut().enumerate() {
                t["p50_ratio_to_last"] = json!(self.ratio(i, |s| s.p50));
                t["p99_ratio_to_last"] = json!(self.ratio(i, |s| s.p99));
            }
        }
        v
    }

    /// The human-readable table.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "sync-latency: {METHOD}, 1-wei transfers offered at {} tx/s for {:.1}s after {:.1}s \
             warmup{}; latency = request sent → receipt received",
            self.rate,
            self.duration_secs,
            self.warmup_secs,
            self.sync_timeout_ms
                .map(|ms| format!(", timeout parameter {ms} ms"))
                .unwrap_or_default()
        );
        for t in &self.targets {
            let _ = writeln!(
                out,
                "  {}: {} chain {}; probe {:.1} ms; send lag p99 {:.1} ms, max {:.1} ms; peak {} in \
                 flight, {} connections; setup {:.1}s",
                t.name,
                t.url,
                t.chain_id,
                t.probe_ms,
                ms(t.send_lag_us.p99),
                ms(t.send_lag_us.max),
                t.peak_inflight,
                t.connections,
                t.setup_secs
            );
        }
        for f in &self.failures {
            let _ = writeln!(out, "  {}: FAILED: {}", f.name, f.error);
        }
        if self.targets.is_empty() {
            return out;
        }
        let last = &self.targets[self.targets.len() - 1].name;
        let _ = writeln!(
            out,
            "\n{:<12} {:>7} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>10}",
            "target",
            "sent",
            "ok",
            "errors",
            "tx/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            format!("p50/{last}"),
            format!("p99/{last}")
        );
        for (i, t) in self.targets.iter().enumerate() {
            let l = &t.latency_us;
            let _ = writeln!(
                out,
                "{:<12} {:>7} {:>7} {:>7} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>10} {:>10}",
                t.name,
                t.sent,
                t.ok,
                t.errors,
                t.achieved_rate,
                ms(l.p50),
                ms(l.p90),
                ms(l.p99),
                ms(l.max),
                fmt_ratio(self.ratio(i, |s| s.p50)),
                fmt_ratio(self.ratio(i, |s| s.p99))
            );
        }
        let errors = self.errors();
        if errors > 0 {
            let _ = writeln!(out, "\n{errors} failed requests (not in the latencies):");
            for t in self.targets.iter().filter(|t| t.errors > 0) {
                let _ = writeln!(out, "  {}: {} errors", t.name, t.errors);
                for (m, n) in t.error_messages.iter().take(3) {
                    let _ = writeln!(out, "    {n} × {m}");
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str, p50_ms: u64, p99_ms: u64, errors: u64) -> SyncTarget {
        SyncTarget {
            name: name.into(),
            url: "http://x".into(),
            chain_id: 1,
            probe_ms: 1.0,
            sent: 20_000,
            ok: 20_000 - errors,
            errors,
            error_messages: if errors > 0 {
                vec![("timeout (code 4)".into(), errors)]
            } else {
                vec![]
            },
            achieved_rate: 1000.0,
            latency_us: Summary {
                count: 20_000,
                mean: 0.0,
                p50: p50_ms * 1000,
                p90: p99_ms * 900,
                p99: p99_ms * 1000,
                max: p99_ms * 1100,
            },
            send_lag_us: Summary::default(),
            peak_inflight: 900,
            connections: 1000,
            setup_secs: 2.0,
        }
    }

    #[test]
    fn counts_and_params() {
        let cfg = SyncConfig::default();
        assert_eq!(cfg.counts(), (2000, 22_000));
        assert_eq!(cfg.extra_params(), "");
        let cfg = SyncConfig {
            sync_timeout_ms: Some(5000),
            rate: 10.0,
            duration: Duration::from_millis(50),
            ..SyncConfig::default()
        };
        assert_eq!(cfg.extra_params(), ",5000");
        assert_eq!(cfg.counts(), (20, 21));
    }

    #[test]
    fn table_and_ratios() {
        let r = SyncReport {
            rate: 1000.0,
            duration_secs: 20.0,
            warmup_secs: 2.0,
            sync_timeout_ms: None,
            targets: vec![target("keel", 50, 120, 2), target("anvil", 500, 1000, 0)],
            failures: vec![TargetFailure {
                name: "geth".into(),
                error: "does not implement eth_sendRawTransactionSync".into(),
            }],
        };
        assert_eq!(r.ratio(0, |s| s.p50), Some(0.1));
        assert_eq!(r.ratio(0, |s| s.p99), Some(0.12));
        let t = r.render();
        assert!(t.contains("p50/anvil"), "{t}");
        assert!(
            t.contains("0.10x") && t.contains("0.12x") && t.contains("1.00x"),
            "{t}"
        );
        assert!(t.contains("geth: FAILED"), "{t}");
        assert!(t.contains("2 × timeout (code 4)"), "{t}");
        let j = r.to_json();
        assert_eq!(j["targets"][0]["p50_ratio_to_last"], 0.1);
        assert_eq!(j["targets"][1]["latency_us"]["p50"], 500_000);
    }
}
