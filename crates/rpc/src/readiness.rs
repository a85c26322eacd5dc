//! Readiness rules: when `GET /ready` answers 200. The node (the cli, which owns the L1Watcher
//! and the block producer's switch) gathers the inputs through a [`ReadinessSource`]; the rules
//! that turn them into an answer live here, in one place.
//!
//! The node is **ready** when all three hold:
//! - **L1 reachable**: the L1Watcher's last poll reached L1 (a node run without L1 counts as
//!   reachable);
//! - **synced**: the L1Watcher has caught up with the L1 read bound at least once since the node
//!   started (a node without L1 counts as synced);
//! - **producing**: the block producer is not paused by the operator, and either the head
//!   advanced within the last [`stall_limit`] (five block times, at least 5 s) or the producer
//!   is idle by `--block-producer.skip-empty` with nothing to include.

use std::time::Duration;

use serde::Serialize;

/// What the node knows now, as [`Readiness::evaluate`] needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadinessInputs {
    /// The L1 side; `None` when the node runs without an L1 to watch.
    pub l1: Option<L1Inputs>,
    /// False while the operator has paused the block producer (`admin_stopBlockProducer`).
    pub producer_running: bool,
    /// Time since the L2 head last advanced (since start if it has not yet).
    pub since_head_advanced: Duration,
    /// The block producer's block time.
    pub block_time: Duration,
    /// True when blocks are skipped on purpose: `--block-producer.skip-empty` with nothing the
    /// producer could include.
    pub idle_by_choice: bool,
}

/// The L1Watcher's side of readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L1Inputs {
    /// The watcher's last poll reached L1.
    pub reachable: bool,
    /// The watcher's cursor has reached the L1 read bound at least once since start.
    pub caught_up_once: bool,
}

/// Gives the current [`ReadinessInputs`]; implemented by the node.
pub trait ReadinessSource: Send + Sync + 'static {
    fn readiness_inputs(&self) -> ReadinessInputs;
}

/// The answer of `GET /ready` (its JSON body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    pub ready: bool,
    pub synced: bool,
    pub producing: bool,
    pub l1_reachable: bool,
    /// The names of the checks that fail (empty when ready).
    pub failing: Vec<&'static str>,
}

/// How long the head may stand still before the producer no longer counts as producing: five
/// block times, at least 5 s.
pub fn stall_limit(block_time: Duration) -> Duration {
    block_time.saturating_mul(5).max(Duration::from_secs(5))
}

impl Readiness {
    /// Applies the rules of the module docs.
    pub fn evaluate(inputs: &ReadinessInputs) -> Self {
        let l1_reachable = inputs.l1.is_none_or(|l1| l1.reachable);
        let synced = inputs.l1.is_none_or(|l1| l1.caught_up_once);
        let producing = inputs.producer_running
            && (inputs.idle_by_choice
                || inputs.since_head_advanced <= stall_limit(inputs.block_time));
        let failing: Vec<&'static str> = [
            ("synced", synced),
            ("producing", producing),
            ("l1_reachable", l1_reachable),
        ]
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(name, _)| name)
        .collect();
        Self {
            ready: failing.is_empty(),
            synced,
            producing,
            l1_reachable,
            failing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> ReadinessInputs {
        ReadinessInputs {
            l1: Some(L1Inputs {
                reachable: true,
                caught_up_once: true,
            }),
            producer_running: true,
            since_head_advanced: Duration::from_millis(500),
            block_time: Duration::from_secs(1),
            idle_by_choice: false,
        }
    }

    #[test]
    fn all_checks_pass() {
        let r = Readiness::evaluate(&healthy());
        assert!(
            r.ready && r.synced && r.producing && r.l1_reachable,
            "{r:?}"
        );
        assert!(r.failing.is_empty());
    }

    #[test]
    fn l1_unreachable_is_not_ready() {
        let mut inputs = healthy();
        inputs.l1 = Some(L1Inputs {
            reachable: false,
            caught_up_once: true,
        });
        let r = Readiness::evaluate(&inputs);
        assert!(!r.ready && !r.l1_reachable && r.synced && r.producing);
        assert_eq!(r.failing, ["l1_reachable"]);
    }

    #[test]
    fn not_caught_up_is_not_synced() {
        let mut inputs = healthy();
        inputs.l1 = Some(L1Inputs {
            reachable: true,
            caught_up_once: false,
        });
        let r = Readiness::evaluate(&inputs);
        assert!(!r.ready && !r.synced && r.l1_reachable);
        assert_eq!(r.failing, ["synced"]);
    }

    #[test]
    fn no_l1_counts_as_reachable_and_synced() {
        let mut inputs = healthy();
        inputs.l1 = None;
        let r = Readiness::evaluate(&inputs);
        assert!(r.ready && r.l1_reachable && r.synced);
    }

    #[test]
    fn paused_producer_is_not_producing_even_when_idle() {
        let mut inputs = healthy();
        inputs.producer_running = false;
        inputs.idle_by_choice = true;
        let r = Readiness::evaluate(&inputs);
        assert!(!r.ready && !r.producing);
        assert_eq!(r.failing, ["producing"]);
    }

    #[test]
    fn stalled_head_is_not_producing_unless_idle_by_choice() {
        let mut inputs = healthy();
        // 1 s blocks: the limit is 5 s.
        assert_eq!(stall_limit(inputs.block_time), Duration::from_secs(5));
        inputs.since_head_advanced = Duration::from_secs(5);
        assert!(Readiness::evaluate(&inputs).producing, "at the limit");
        inputs.since_head_advanced = Duration::from_millis(5_001);
        assert!(!Readiness::evaluate(&inputs).producing, "past the limit");
        inputs.idle_by_choice = true;
        assert!(
            Readiness::evaluate(&inputs).ready,
            "skip-empty with an empty pool"
        );
    }

    #[test]
    fn stall_limit_is_five_block_times_at_least_five_seconds() {
        assert_eq!(
            stall_limit(Duration::from_millis(200)),
            Duration::from_secs(5)
        );
        assert_eq!(stall_limit(Duration::from_secs(2)), Duration::from_secs(10));
    }

    #[test]
    fn every_failure_is_listed() {
        let inputs = ReadinessInputs {
            l1: Some(L1Inputs {
                reachable: false,
                caught_up_once: false,
            }),
            producer_running: false,
            since_head_advanced: Duration::ZERO,
            block_time: Duration::from_secs(1),
            idle_by_choice: false,
        };
        let r = Readiness::evaluate(&inputs);
        assert_eq!(r.failing, ["synced", "producing", "l1_reachable"]);
        let body = serde_json::to_value(&r).expect("json");
        assert_eq!(body["ready"], false);
        assert_eq!(body["l1_reachable"], false);
    }
}
