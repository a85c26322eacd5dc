//! The node's admin and health wiring: the `--admin` flags, the pause switches of the block
//! producer and the L1 committer handed to keel-rpc's admin namespace, and the inputs of
//! `GET /ready` (keel-rpc's `readiness` module holds the rules).

use std::{
    net::{IpAddr, SocketAddr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use clap::Args;
use keel_chain::{Blockchain, Mempool};
use keel_rpc::{
    admin::{AdminControls, AdminError, Pausable},
    readiness::{L1Inputs, ReadinessInputs, ReadinessSource},
};
use keel_sequencer::{ComponentSwitch, Supervisor, l1_watcher::L1WatcherStatus};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Args)]
#[command(next_help_heading = "Admin RPC (off by default; loopback only)")]
pub struct AdminArgs {
    /// Serve the admin namespace (admin_stopBlockProducer, admin_startBlockProducer,
    /// admin_stopCommitter, admin_startCommitter, admin_status) on its own port, on this machine
    /// only. Without it the methods don't exist.
    #[arg(long = "admin", env = "KEEL_ADMIN")]
    pub admin: bool,
    /// Address of the admin listener: a loopback address (127.0.0.1, ::1); any other is refused
    /// at start.
    #[arg(
        long = "admin.addr",
        env = "KEEL_ADMIN_ADDR",
        default_value = "127.0.0.1",
        value_name = "IP"
    )]
    pub admin_addr: IpAddr,
    /// Port of the admin listener (0 picks a free one; the address is printed at start).
    #[arg(
        long = "admin.port",
        env = "KEEL_ADMIN_PORT",
        default_value_t = 1730,
        value_name = "PORT"
    )]
    pub admin_port: u16,
}

impl AdminArgs {
    /// Where the admin RPC listens, or `None` when it is off. Refuses a non-loopback address
    /// (before the node starts anything).
    pub fn listen_addr(&self) -> Result<Option<SocketAddr>, AdminError> {
        if !self.admin {
            return Ok(None);
        }
        if !self.admin_addr.is_loopback() {
            return Err(AdminError::NotLoopback(self.admin_addr));
        }
        Ok(Some((self.admin_addr, self.admin_port).into()))
    }
}

/// A component's [`ComponentSwitch`] as keel-rpc's [`Pausable`].
struct Switch(ComponentSwitch);

impl Pausable for Switch {
    fn pause(&self) -> bool {
        self.0.pause()
    }
    fn resume(&self) -> bool {
        self.0.resume()
    }
    fn is_running(&self) -> bool {
        self.0.is_running()
    }
}

/// The admin namespace's controls over the node's switches.
pub fn controls(producer: &ComponentSwitch, committer: Option<&ComponentSwitch>) -> AdminControls {
    AdminControls {
        block_producer: Arc::new(Switch(producer.clone())),
        committer: committer.map(|s| Arc::new(Switch(s.clone())) as Arc<dyn Pausable>),
    }
}

/// Serves the admin namespace on `addr` (when `Some`) as a component of `supervisor`, stopped
/// with `token`; returns the address it listens on.
pub async fn spawn_server(
    addr: Option<SocketAddr>,
    controls: AdminControls,
    supervisor: &mut Supervisor,
    token: CancellationToken,
) -> eyre::Result<Option<SocketAddr>> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let server = keel_rpc::admin::start(addr, controls).await?;
    let local_addr = server.local_addr;
    let handle = server.handle.clone();
    supervisor.spawn("admin_rpc", async move {
        tokio::select! {
            _ = token.cancelled() => {
                server.stop().await;
                Ok(())
            }
            _ = handle.stopped() => Err("the admin RPC server stopped"),
        }
    });
    Ok(Some(local_addr))
}

/// Whether the L1Watcher's last poll reached L1: it has polled L1 successfully at least once,
/// and its last poll did not find every L1 URL failing.
pub fn l1_reachable(status: &L1WatcherStatus) -> bool {
    status.l1_head.is_some() && !status.l1_unreachable
}

/// Whether the watcher's cursor has reached the L1 read bound (or no block is old enough to be
/// read yet) after a poll that reached L1.
pub fn caught_up(status: &L1WatcherStatus) -> bool {
    status.l1_head.is_some()
        && match status.l1_read_bound {
            None => true,
            Some(bound) => status.l1_cursor.is_some_and(|cursor| cursor >= bound),
        }
}

/// What `GET /ready` reports on: the node's pieces, and what two small tasks follow (the
/// time of the last new head, whether the L1Watcher ever caught up).
pub struct NodeReadiness {
    producer: ComponentSwitch,
    mempool: Arc<Mempool>,
    block_time: Duration,
    skip_empty: bool,
    /// True when the node runs an L1Watcher.
    watches_l1: bool,
    l1_status: Mutex<Option<watch::Receiver<L1WatcherStatus>>>,
    caught_up_once: Arc<AtomicBool>,
    last_head_advance: Arc<Mutex<Instant>>,
}

impl NodeReadiness {
    /// Starts following the chain's new heads (a task that ends with the chain). `watches_l1`:
    /// the node will run an L1Watcher (hand its status with
    /// [`NodeReadiness::follow_l1_watcher`]); until then L1 counts as neither reachable nor
    /// synced.
    pub fn new(
        chain: &Blockchain,
        mempool: Arc<Mempool>,
        producer: ComponentSwitch,
        block_time: Duration,
        skip_empty: bool,
        watches_l1: bool,
    ) -> Arc<Self> {
        let last_head_advance = Arc::new(Mutex::new(Instant::now()));
        let mut heads = chain.subscribe();
        let advance = last_head_advance.clone();
        tokio::spawn(async move {
            loop {
                match heads.recv().await {
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        if let Ok(mut at) = advance.lock() {
                            *at = Instant::now();
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Arc::new(Self {
            producer,
            mempool,
            block_time,
            skip_empty,
            watches_l1,
            l1_status: Mutex::new(None),
            caught_up_once: Arc::new(AtomicBool::new(false)),
            last_head_advance,
        })
    }

    /// Follows the L1Watcher's status (a task that ends with the watcher): records when it first
    /// catches up.
    pub fn follow_l1_watcher(&self, mut status: watch::Receiver<L1WatcherStatus>) {
        if let Ok(mut slot) = self.l1_status.lock() {
            *slot = Some(status.clone());
        }
        let caught_up_once = self.caught_up_once.clone();
        tokio::spawn(async move {
            loop {
                if caught_up(&status.borrow_and_update()) {
                    caught_up_once.store(true, Ordering::SeqCst);
                    return;
                }
                if status.changed().await.is_err() {
                    return;
                }
            }
        });
    }
}

impl ReadinessSource for NodeReadiness {
    fn readiness_inputs(&self) -> ReadinessInputs {
        let l1 = self.watches_l1.then(|| {
            let reachable = self
                .l1_status
                .lock()
                .ok()
                .and_then(|slot| slot.as_ref().map(|rx| l1_reachable(&rx.borrow())))
                .unwrap_or(false);
            L1Inputs {
                reachable,
                caught_up_once: self.caught_up_once.load(Ordering::SeqCst),
            }
        });
        let since_head_advanced = self
            .last_head_advance
            .lock()
            .map_or(Duration::MAX, |at| at.elapsed());
        ReadinessInputs {
            l1,
            producer_running: self.producer.is_running(),
            since_head_advanced,
            block_time: self.block_time,
            // The producer skips a block when it has nothing to include: no pending tx, no
            // privileged tx waiting.
            idle_by_choice: self.skip_empty
                && self.mempool.status().pending == 0
                && self.mempool.privileged_len() == 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watcher_status_to_reachable_and_caught_up() {
        let fresh = L1WatcherStatus::default();
        assert!(!l1_reachable(&fresh), "no poll yet");
        assert!(!caught_up(&fresh), "no poll yet");

        let mut status = L1WatcherStatus {
            l1_head: Some(100),
            l1_read_bound: Some(100),
            l1_cursor: Some(90),
            ..L1WatcherStatus::default()
        };
        assert!(l1_reachable(&status));
        assert!(!caught_up(&status), "cursor behind the bound");
        status.l1_cursor = Some(100);
        assert!(caught_up(&status));
        status.l1_read_bound = None;
        status.l1_cursor = None;
        assert!(caught_up(&status), "nothing old enough to read yet");

        status.l1_unreachable = true;
        status.consecutive_failures = 3;
        assert!(!l1_reachable(&status), "the last poll found L1 unreachable");
    }
}
