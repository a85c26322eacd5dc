//! Per-method JSON-RPC metrics, recorded by a jsonrpsee RPC middleware:
//! `keel_rpc_requests_total{method, outcome}` and `keel_rpc_request_duration_seconds{method}`.
//!
//! `method` is a name the server registers, or `unknown` for any other (so a client can't grow
//! the label set). Each call of a JSON-RPC batch counts on its own. The metric handles of a
//! method are taken on its first call and kept: a call costs one hash lookup, an `Instant`, a
//! reference-count bump and the recorder's atomic updates.

use std::{collections::HashMap, future::Future, sync::Arc, sync::OnceLock, time::Instant};

use jsonrpsee::server::{
    BatchResponseBuilder, MethodResponse,
    middleware::rpc::{Batch, BatchEntry, Notification, Request, RpcServiceT},
};
use metrics::{Counter, Histogram};

/// The label of a method the server does not register.
pub const UNKNOWN_METHOD: &str = "unknown";

/// The handles of one method's series.
struct MethodMetrics {
    ok: Counter,
    error: Counter,
    duration: Histogram,
}

impl MethodMetrics {
    fn new(method: &'static str) -> Self {
        Self {
            ok: metrics::counter!("keel_rpc_requests_total", "method" => method, "outcome" => "ok"),
            error: metrics::counter!("keel_rpc_requests_total", "method" => method, "outcome" => "error"),
            duration: metrics::histogram!("keel_rpc_request_duration_seconds", "method" => method),
        }
    }
}

/// The methods' labels and (lazily taken) handles; the last slot is `unknown`.
struct Registry {
    index: HashMap<&'static str, usize>,
    names: Vec<&'static str>,
    slots: Vec<OnceLock<MethodMetrics>>,
    max_response_bytes: usize,
}

impl Registry {
    fn slot(&self, method: &str) -> usize {
        self.index
            .get(method)
            .copied()
            .unwrap_or(self.names.len() - 1)
    }

    fn metrics(&self, slot: usize) -> &MethodMetrics {
        self.slots[slot].get_or_init(|| MethodMetrics::new(self.names[slot]))
    }
}

/// The middleware's shared state: build it from the registered method names, then wrap the
/// server's RPC service with [`RpcMetrics::layer`].
#[derive(Clone)]
pub struct RpcMetrics {
    registry: Arc<Registry>,
}

impl std::fmt::Debug for RpcMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcMetrics")
            .field("methods", &self.registry.names.len())
            .finish()
    }
}

impl RpcMetrics {
    /// Labels for `methods` (the registered names) plus `unknown`. `max_response_bytes` is the
    /// server's response size limit, applied to a batch's answer as the server does.
    pub fn new(methods: impl IntoIterator<Item = &'static str>, max_response_bytes: usize) -> Self {
        let mut names: Vec<&'static str> = methods.into_iter().collect();
        names.sort_unstable();
        names.dedup();
        names.retain(|name| *name != UNKNOWN_METHOD);
        names.push(UNKNOWN_METHOD);
        let index = names
            .iter()
            .take(names.len() - 1)
            .enumerate()
            .map(|(i, name)| (*name, i))
            .collect();
        let slots = names.iter().map(|_| OnceLock::new()).collect();
        Self {
            registry: Arc::new(Registry {
                index,
                names,
                slots,
                max_response_bytes,
            }),
        }
    }

    /// The label `method` is recorded under.
    #[cfg(test)]
    fn label(&self, method: &str) -> &'static str {
        self.registry.names[self.registry.slot(method)]
    }

    /// Wraps a service.
    pub fn layer<S>(&self, service: S) -> RpcMetricsService<S> {
        RpcMetricsService {
            service,
            registry: self.registry.clone(),
        }
    }
}

/// The RPC service wrapped by the metrics middleware.
#[derive(Clone)]
pub struct RpcMetricsService<S> {
    service: S,
    registry: Arc<Registry>,
}

impl<S> std::fmt::Debug for RpcMetricsService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcMetricsService").finish_non_exhaustive()
    }
}

impl<S> RpcServiceT for RpcMetricsService<S>
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
        let slot = self.registry.slot(request.method_name());
        let registry = self.registry.clone();
        let started = Instant::now();
        let response = self.service.call(request);
        async move {
            let response = response.await;
            let metrics = registry.metrics(slot);
            metrics.duration.record(started.elapsed().as_secs_f64());
            if response.is_error() {
                metrics.error.increment(1);
            } else {
                metrics.ok.increment(1);
            }
            response
        }
    }

    /// Runs the batch's calls one by one through [`Self::call`] (so each is counted), as the
    /// server's own batch handling does.
    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let this = self.clone();
        async move {
            let mut answers =
                BatchResponseBuilder::new_with_limit(this.registry.max_response_bytes);
            let mut got_notification = false;
            for entry in batch {
                let response = match entry {
                    Ok(BatchEntry::Call(request)) => this.call(request).await,
                    Ok(BatchEntry::Notification(n)) => {
                        got_notification = true;
                        this.service.notification(n).await;
                        continue;
                    }
                    Err(err) => {
                        // Not a valid call: counted as an `unknown` method that failed.
                        let metrics = this.registry.metrics(this.registry.names.len() - 1);
                        metrics.error.increment(1);
                        let (err, id) = err.into_parts();
                        MethodResponse::error(id, err)
                    }
                };
                if let Err(too_big) = answers.append(response) {
                    return too_big;
                }
            }
            if answers.is_empty() && got_notification {
                crate::params::mark_no_body(MethodResponse::notification())
            } else {
                MethodResponse::from_batch(answers.finish())
            }
        }
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.service.notification(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_registered_names_or_unknown() {
        let m = RpcMetrics::new(["eth_call", "eth_chainId", "eth_call"], 1 << 20);
        assert_eq!(m.label("eth_call"), "eth_call");
        assert_eq!(m.label("eth_chainId"), "eth_chainId");
        assert_eq!(m.label("eth_nope"), UNKNOWN_METHOD);
        assert_eq!(m.label(""), UNKNOWN_METHOD);
        assert_eq!(m.label("unknown"), UNKNOWN_METHOD);
    }
}
