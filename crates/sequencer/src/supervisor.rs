//! The node's components run as supervised tasks: one [`CancellationToken`] stops them all, and
//! a critical component that returns, fails or panics while the node is running takes the whole
//! node down with its name and the reason, instead of leaving it half-alive (serving RPC while no
//! blocks are made, say).

use std::{future::Future, panic::AssertUnwindSafe, time::Duration};

use futures::FutureExt;

use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// How a supervised run ended.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// A critical component stopped on its own.
    #[error("component `{component}` stopped: {reason}")]
    ComponentDied {
        /// Its name.
        component: &'static str,
        /// Why (its error, its panic message, or that it returned while the node was running).
        reason: String,
    },
}

/// A set of named components sharing one shutdown token.
#[derive(Debug, Default)]
pub struct Supervisor {
    token: CancellationToken,
    tasks: JoinSet<(&'static str, Result<(), String>)>,
}

impl Supervisor {
    /// An empty supervisor.
    pub fn new() -> Self {
        Self::default()
    }

    /// The token every component watches; cancelling it asks them all to stop.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Runs `component` (which must stop when the token is cancelled) as critical: if it ends
    /// while the node runs, the node stops.
    pub fn spawn<F, E>(&mut self, name: &'static str, component: F)
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        // The panic is caught inside the task so that the report keeps the component's name.
        self.tasks.spawn(async move {
            let result = match AssertUnwindSafe(component).catch_unwind().await {
                Ok(result) => result.map_err(|e| e.to_string()),
                Err(payload) => Err(format!("panicked: {}", panic_message(payload.as_ref()))),
            };
            (name, result)
        });
        info!(component = name, "component started");
    }

    /// Runs until `signal` completes (a clean shutdown: `Ok`) or a component ends on its own
    /// (`Err` naming it). Either way every other component is then cancelled and awaited for up
    /// to `grace`.
    pub async fn run_until(
        mut self,
        signal: impl Future<Output = ()>,
        grace: Duration,
    ) -> Result<(), SupervisorError> {
        let outcome = tokio::select! {
            _ = signal => Ok(()),
            Some(joined) = self.tasks.join_next() => Err(died(joined)),
        };
        if let Err(e) = &outcome {
            error!(error = %e, "a critical component stopped; shutting the node down");
        }
        self.token.cancel();
        let drain = async {
            while let Some(joined) = self.tasks.join_next().await {
                match joined {
                    Ok((name, Ok(()))) => info!(component = name, "component stopped"),
                    Ok((name, Err(e))) => {
                        warn!(component = name, error = %e, "component failed while stopping")
                    }
                    Err(e) => warn!(error = %e, "a component panicked while stopping"),
                }
            }
        };
        if tokio::time::timeout(grace, drain).await.is_err() {
            warn!(
                grace_ms = grace.as_millis() as u64,
                "components still running after the grace period; aborting them"
            );
            self.tasks.abort_all();
        }
        outcome
    }
}

fn died(joined: Result<(&'static str, Result<(), String>), JoinError>) -> SupervisorError {
    match joined {
        Ok((component, Ok(()))) => SupervisorError::ComponentDied {
            component,
            reason: "it returned while the node was running".into(),
        },
        Ok((component, Err(reason))) => SupervisorError::ComponentDied { component, reason },
        Err(e) => SupervisorError::ComponentDied {
            component: "unknown",
            reason: join_error_reason(e),
        },
    }
}

fn join_error_reason(e: JoinError) -> String {
    if e.is_panic() {
        format!("panicked: {}", panic_message(e.into_panic().as_ref()))
    } else {
        "cancelled".into()
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn until_cancelled(token: CancellationToken) -> Result<(), String> {
        token.cancelled().await;
        Ok(())
    }

    #[tokio::test]
    async fn a_panicking_component_stops_the_node_with_its_name() {
        let mut supervisor = Supervisor::new();
        let token = supervisor.token();
        let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel();
        let watcher_token = token.clone();
        supervisor.spawn("l1_watcher", async move {
            watcher_token.cancelled().await;
            let _ = stopped_tx.send(());
            Ok::<_, String>(())
        });
        supervisor.spawn("block_producer", async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if true {
                panic!("injected");
            }
            Ok::<_, String>(())
        });
        let err = supervisor
            .run_until(std::future::pending(), Duration::from_secs(5))
            .await
            .expect_err("the panic stops the node");
        let SupervisorError::ComponentDied { component, reason } = &err;
        assert_eq!(*component, "block_producer");
        assert!(reason.contains("panicked: injected"), "{reason}");
        // The others were asked to stop and did.
        assert!(token.is_cancelled());
        stopped_rx.await.expect("the watcher saw the cancellation");
    }

    #[tokio::test]
    async fn a_failing_or_returning_component_is_reported() {
        let mut supervisor = Supervisor::new();
        supervisor.spawn("committer", async { Err::<(), _>("L1 refused batch 3") });
        supervisor.spawn("rpc", until_cancelled(supervisor.token()));
        let err = supervisor
            .run_until(std::future::pending(), Duration::from_secs(5))
            .await
            .expect_err("stops");
        assert_eq!(
            err.to_string(),
            "component `committer` stopped: L1 refused batch 3"
        );

        let mut supervisor = Supervisor::new();
        supervisor.spawn("sealer", async { Ok::<(), String>(()) });
        let err = supervisor
            .run_until(std::future::pending(), Duration::from_secs(5))
            .await
            .expect_err("stops");
        assert!(
            err.to_string()
                .contains("returned while the node was running")
        );
    }

    #[tokio::test]
    async fn a_signal_stops_every_component_cleanly() {
        let mut supervisor = Supervisor::new();
        for name in ["a", "b", "c"] {
            supervisor.spawn(name, until_cancelled(supervisor.token()));
        }
        let token = supervisor.token();
        supervisor
            .run_until(
                tokio::time::sleep(Duration::from_millis(10)),
                Duration::from_secs(5),
            )
            .await
            .expect("a clean stop");
        assert!(token.is_cancelled());
    }
}
