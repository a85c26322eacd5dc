//! [`ComponentSwitch`]: an operator's pause switch for a component's loop (the BlockProducer and
//! the L1Committer honour one; the admin RPC flips them during L1 incidents).
//!
//! A switch is shared (cloning it gives another handle to the same flag). The component's loop
//! checks [`ComponentSwitch::is_running`] before each unit of work and, while paused, awaits
//! [`ComponentSwitch::wait_running`]; work already under way when the switch is flipped runs to
//! its end (for the committer: an L1 transaction in flight is followed to its confirmation and
//! recorded, never sent twice).

use std::sync::Arc;

use tokio::sync::watch;
use tracing::info;

/// A shared running/paused flag of one component. Starts running.
#[derive(Debug, Clone)]
pub struct ComponentSwitch {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The component's name in logs (e.g. `block_producer`).
    name: &'static str,
    /// True while running.
    running: watch::Sender<bool>,
}

impl ComponentSwitch {
    /// A switch, running, for the component named `name` (used in its logs).
    pub fn new(name: &'static str) -> Self {
        Self {
            inner: Arc::new(Inner {
                name,
                running: watch::Sender::new(true),
            }),
        }
    }

    /// The component's name.
    pub fn name(&self) -> &'static str {
        self.inner.name
    }

    /// Pauses the component; returns false if it was already paused.
    pub fn pause(&self) -> bool {
        let changed = self.inner.running.send_if_modified(|running| {
            let was = *running;
            *running = false;
            was
        });
        if changed {
            info!(component = self.inner.name, "paused by the operator");
        }
        changed
    }

    /// Resumes the component; returns false if it was already running.
    pub fn resume(&self) -> bool {
        let changed = self.inner.running.send_if_modified(|running| {
            let was = *running;
            *running = true;
            !was
        });
        if changed {
            info!(component = self.inner.name, "resumed by the operator");
        }
        changed
    }

    /// True unless paused.
    pub fn is_running(&self) -> bool {
        *self.inner.running.borrow()
    }

    /// Returns at once while running; while paused, when the switch is resumed.
    pub async fn wait_running(&self) {
        let mut rx = self.inner.running.subscribe();
        // The sender lives in `self`, so the channel can't close while we wait.
        let _ = rx.wait_for(|running| *running).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn pause_blocks_wait_until_resume() {
        let switch = ComponentSwitch::new("test");
        assert!(switch.is_running());
        // Running: returns at once.
        tokio::time::timeout(Duration::from_secs(1), switch.wait_running())
            .await
            .expect("a running switch doesn't wait");

        assert!(switch.pause());
        assert!(!switch.pause(), "a second pause changes nothing");
        assert!(!switch.is_running());
        let handle = switch.clone();
        let waiter = tokio::spawn(async move { handle.wait_running().await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiter.is_finished(), "wait_running returned while paused");

        assert!(switch.resume());
        assert!(!switch.resume(), "a second resume changes nothing");
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("wait_running returns on resume")
            .expect("task");
        assert!(switch.is_running());
    }
}
