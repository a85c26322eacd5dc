//! Starting the server: one port for HTTP and WebSocket, with the configured limits, CORS for
//! the configured origins (`RpcConfig::cors_origins`), and `GET /health` and `GET /ready` on it
//! (crate::health). Every call's parameters are checked before its method runs
//! (crate::params); notifications get no answer.

use std::net::SocketAddr;

use jsonrpsee::{
    RpcModule,
    server::{BatchRequestConfig, ServerConfig, ServerHandle, middleware::rpc::RpcServiceBuilder},
};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tracing::info;

use crate::{RpcContext, error::RpcError};

/// A running server. Dropping the handle does not stop it; call [`RpcServer::stop`].
#[derive(Debug)]
pub struct RpcServer {
    pub local_addr: SocketAddr,
    pub handle: ServerHandle,
}

impl RpcServer {
    /// Stop accepting requests and wait until the server is down.
    pub async fn stop(self) {
        let _ = self.handle.stop();
        self.handle.stopped().await;
    }
}

/// Every method of every namespace, on one module.
pub fn methods(ctx: RpcContext) -> Result<RpcModule<RpcContext>, RpcError> {
    let mut module = RpcModule::new(ctx);
    let registrations = [
        crate::eth_blocks::register,
        crate::eth_state::register,
        crate::eth_call::register,
        crate::fill::register,
        crate::eth_fees::register,
        crate::send::register,
        crate::logs::register,
        crate::filters::register,
        crate::pubsub::register,
        crate::txpool::register,
        crate::net_web3::register,
        crate::client::register,
        crate::debug::register,
        crate::trace::register,
        crate::simulate::register,
        crate::otterscan::register,
        crate::keel::register,
    ];
    for register in registrations {
        register(&mut module).map_err(|e| RpcError::Internal(e.to_string()))?;
    }
    Ok(module)
}

/// The CORS layer for `origins` (`RpcConfig::cors_origins`): `None` for none; `*` allows any
/// origin. Preflight requests are answered for POST with any headers.
fn cors_layer(origins: &[String]) -> Result<Option<CorsLayer>, RpcError> {
    if origins.is_empty() {
        return Ok(None);
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let list = origins
            .iter()
            .map(|o| {
                http::HeaderValue::from_str(o.trim())
                    .map_err(|_| RpcError::Internal(format!("invalid CORS origin {o:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(list)
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([http::Method::POST, http::Method::GET, http::Method::OPTIONS])
            .allow_headers(Any),
    ))
}

/// Bind `ctx.config.addr` and serve every namespace over HTTP and WebSocket.
pub async fn start(ctx: RpcContext) -> Result<RpcServer, RpcError> {
    let config = ctx.config.clone();
    let health = crate::health::HealthLayer::new(ctx.readiness.clone());
    let module = methods(ctx)?;
    let server_config = ServerConfig::builder()
        .max_request_body_size(config.max_request_bytes)
        .max_response_body_size(config.max_response_bytes)
        .max_connections(config.max_connections)
        .max_subscriptions_per_connection(config.max_subscriptions_per_connection)
        .set_batch_request_config(BatchRequestConfig::Limit(config.max_batch_len))
        .set_id_provider(crate::pubsub::GethIdProvider)
        .build();
    // Per-method request counts and latencies (crate::metrics); the labels are the names
    // registered here.
    let rpc_metrics =
        crate::metrics::RpcMetrics::new(module.method_names(), config.max_response_bytes as usize);
    let server = jsonrpsee::server::Server::builder()
        .set_config(server_config)
        .set_rpc_middleware(
            RpcServiceBuilder::new()
                .layer_fn(move |service| rpc_metrics.layer(service))
                // Inside the metrics: a refused call counts as its method's error.
                .layer_fn(crate::params::StrictParams::new),
        )
        .set_http_middleware(
            tower::ServiceBuilder::new()
                .option_layer(cors_layer(&config.cors_origins)?)
                .layer(health),
        )
        .build(config.addr)
        .await
        .map_err(|e| RpcError::Internal(format!("cannot listen on {}: {e}", config.addr)))?;
    let local_addr = server
        .local_addr()
        .map_err(|e| RpcError::Internal(e.to_string()))?;
    let handle = server.start(module);
    info!(%local_addr, "JSON-RPC server listening (HTTP and WebSocket)");
    Ok(RpcServer { local_addr, handle })
}
