//! The `admin_` namespace: stop and start the block producer and the L1 committer, as operators
//! do during L1 incidents. Off by default; when on, it is served on its own listener, which
//! only binds a loopback address ([`start`] refuses any other): nothing outside the machine can
//! reach it, and the public JSON-RPC port never has these methods.
//!
//! - `admin_stopBlockProducer` / `admin_startBlockProducer`
//! - `admin_stopCommitter` / `admin_startCommitter`
//! - `admin_status`: `{"blockProducer": "running"|"paused", "committer":
//!   "running"|"paused"|"disabled"}`
//!
//! A stop or start returns `true` if it changed the component's state, `false` if the
//! component already was so. The committer's methods fail on a node that runs no committer.
//!
//! keel-rpc does not know the components: the node hands it [`AdminControls`], one
//! [`Pausable`] per component.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use jsonrpsee::{RpcModule, server::ServerConfig};
use serde::Serialize;
use tracing::info;

use crate::{RpcServer, error::RpcError};

/// A component an operator can pause and resume.
pub trait Pausable: Send + Sync + 'static {
    /// Pauses; returns false if already paused.
    fn pause(&self) -> bool;
    /// Resumes; returns false if already running.
    fn resume(&self) -> bool;
    fn is_running(&self) -> bool;
}

/// The components the admin namespace controls.
#[derive(Clone)]
pub struct AdminControls {
    pub block_producer: Arc<dyn Pausable>,
    /// `None` when the node runs no L1 committer (no L1, or no committer key).
    pub committer: Option<Arc<dyn Pausable>>,
}

/// Why the admin server could not start.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(
        "--admin.addr {0} is not a loopback address: the admin RPC only listens on this machine \
         (127.0.0.1 or ::1)"
    )]
    NotLoopback(IpAddr),
    #[error("cannot listen on {addr} for the admin RPC: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("registering the admin methods: {0}")]
    Register(String),
}

/// `admin_status`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminStatus {
    pub block_producer: &'static str,
    pub committer: &'static str,
}

fn state(component: &dyn Pausable) -> &'static str {
    if component.is_running() {
        "running"
    } else {
        "paused"
    }
}

impl AdminControls {
    pub fn status(&self) -> AdminStatus {
        AdminStatus {
            block_producer: state(self.block_producer.as_ref()),
            committer: self.committer.as_deref().map_or("disabled", state),
        }
    }

    fn committer(&self) -> Result<&dyn Pausable, RpcError> {
        self.committer.as_deref().ok_or_else(|| {
            RpcError::Server(
                "this node runs no L1 committer (no L1, or no --committer.l1-private-key)".into(),
            )
        })
    }
}

/// The admin methods, on their own module.
pub fn methods(controls: AdminControls) -> Result<RpcModule<AdminControls>, AdminError> {
    let mut module = RpcModule::new(controls);
    let register = |e: jsonrpsee::core::RegisterMethodError| AdminError::Register(e.to_string());
    module
        .register_method("admin_status", |_, ctrl, _| {
            Ok::<_, RpcError>(ctrl.status())
        })
        .map_err(register)?;
    module
        .register_method("admin_stopBlockProducer", |_, ctrl, _| {
            info!("admin_stopBlockProducer");
            ctrl.block_producer.pause()
        })
        .map_err(register)?;
    module
        .register_method("admin_startBlockProducer", |_, ctrl, _| {
            info!("admin_startBlockProducer");
            ctrl.block_producer.resume()
        })
        .map_err(register)?;
    module
        .register_method("admin_stopCommitter", |_, ctrl, _| {
            info!("admin_stopCommitter");
            ctrl.committer().map(|c| c.pause())
        })
        .map_err(register)?;
    module
        .register_method("admin_startCommitter", |_, ctrl, _| {
            info!("admin_startCommitter");
            ctrl.committer().map(|c| c.resume())
        })
        .map_err(register)?;
    Ok(module)
}

/// Serves the admin namespace (HTTP and WebSocket) on `addr`, which must be a loopback address.
pub async fn start(addr: SocketAddr, controls: AdminControls) -> Result<RpcServer, AdminError> {
    if !addr.ip().is_loopback() {
        return Err(AdminError::NotLoopback(addr.ip()));
    }
    let module = methods(controls)?;
    let server = jsonrpsee::server::Server::builder()
        .set_config(ServerConfig::builder().max_connections(16).build())
        .build(addr)
        .await
        .map_err(|source| AdminError::Bind { addr, source })?;
    let local_addr = server
        .local_addr()
        .map_err(|source| AdminError::Bind { addr, source })?;
    let handle = server.start(module);
    info!(%local_addr, "admin RPC listening (loopback only)");
    Ok(RpcServer { local_addr, handle })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    const NO_PARAMS: Vec<u8> = Vec::new();

    struct Flag(AtomicBool);

    impl Pausable for Flag {
        fn pause(&self) -> bool {
            self.0.swap(false, Ordering::SeqCst)
        }
        fn resume(&self) -> bool {
            !self.0.swap(true, Ordering::SeqCst)
        }
        fn is_running(&self) -> bool {
            self.0.load(Ordering::SeqCst)
        }
    }

    #[tokio::test]
    async fn refuses_a_non_loopback_address() {
        let controls = AdminControls {
            block_producer: Arc::new(Flag(AtomicBool::new(true))),
            committer: None,
        };
        let err = start("0.0.0.0:0".parse().expect("addr"), controls)
            .await
            .expect_err("0.0.0.0 is refused");
        assert!(err.to_string().contains("not a loopback address"), "{err}");
    }

    #[tokio::test]
    async fn status_and_switches() {
        let controls = AdminControls {
            block_producer: Arc::new(Flag(AtomicBool::new(true))),
            committer: None,
        };
        let module = methods(controls).expect("methods");
        let status: serde_json::Value = module
            .call("admin_status", NO_PARAMS)
            .await
            .expect("status");
        assert_eq!(
            status,
            serde_json::json!({"blockProducer": "running", "committer": "disabled"})
        );
        let changed: bool = module
            .call("admin_stopBlockProducer", NO_PARAMS)
            .await
            .expect("stop");
        assert!(changed);
        let again: bool = module
            .call("admin_stopBlockProducer", NO_PARAMS)
            .await
            .expect("stop");
        assert!(!again, "already paused");
        let err = module
            .call::<_, bool>("admin_stopCommitter", NO_PARAMS)
            .await
            .expect_err("no committer");
        assert!(err.to_string().contains("no L1 committer"), "{err}");
    }
}
