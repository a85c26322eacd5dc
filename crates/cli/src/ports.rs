//! The node's listening ports, checked before anything is started or deployed: a port in use
//! stops `keel l2` at once with the port, what it is for and the flag that changes it, instead of
//! failing after `--dev` has started anvil and deployed the contracts.

use std::{
    io::ErrorKind,
    net::{SocketAddr, TcpListener},
};

use eyre::bail;

use crate::commands::l2::L2Args;

/// A port the node will listen on.
#[derive(Debug, Clone, Copy)]
pub struct Port {
    /// Where it will listen. Port 0 (a free port picked at start) is not checked.
    pub addr: SocketAddr,
    /// What listens there, e.g. "the JSON-RPC server".
    pub what: &'static str,
    /// The flag that sets the port, e.g. `--http.port`.
    pub flag: &'static str,
}

/// The ports `keel l2` will listen on with these settings: the JSON-RPC server's, the metrics
/// endpoint's and the admin RPC's when they are on, and the proof coordinator's when the node
/// commits batches (its own dev L1, or an L1 with a committer key). The dev L1 (anvil) picks a
/// free port itself.
pub fn of_node(args: &L2Args) -> Vec<Port> {
    let mut ports = vec![Port {
        addr: SocketAddr::new(args.http.addr, args.http.port),
        what: "the JSON-RPC server",
        flag: "--http.port",
    }];
    if args.metrics.metrics {
        ports.push(Port {
            addr: SocketAddr::new(args.metrics.metrics_addr, args.metrics.metrics_port),
            what: "the metrics endpoint",
            flag: "--metrics.port",
        });
    }
    // A non-loopback admin address is refused at start with its own message.
    if args.admin.admin && args.admin.admin_addr.is_loopback() {
        ports.push(Port {
            addr: SocketAddr::new(args.admin.admin_addr, args.admin.admin_port),
            what: "the admin RPC",
            flag: "--admin.port",
        });
    }
    let own_dev_l1 = args.dev
        && args.l1.eth_rpc_url.is_empty()
        && args.l1.deployment.is_none()
        && args.l1.bridge.is_none()
        && args.l1.on_chain_proposer.is_none();
    let commits =
        own_dev_l1 || (!args.l1.eth_rpc_url.is_empty() && args.committer.l1_private_key.is_some());
    if commits {
        let pc = &args.proof_coordinator;
        ports.push(Port {
            addr: SocketAddr::new(
                pc.coordinator_addr,
                pc.coordinator_port
                    .unwrap_or(if args.dev { 0 } else { 3900 }),
            ),
            what: "the proof coordinator",
            flag: "--proof-coordinator.port",
        });
    }
    ports
}

/// Fails, naming the port, its use and its flag, if one of `ports` can't be listened on (in use,
/// or an address this machine does not have) or two of them are the same.
pub fn check(ports: &[Port]) -> eyre::Result<()> {
    for (i, port) in ports.iter().enumerate() {
        if port.addr.port() == 0 {
            continue;
        }
        if let Some(other) = ports[..i]
            .iter()
            .find(|o| o.addr.port() == port.addr.port() && overlaps(o.addr, port.addr))
        {
            bail!(
                "port {} is set for both {} ({}) and {} ({}); give one of them another port",
                port.addr.port(),
                other.what,
                other.flag,
                port.what,
                port.flag
            );
        }
        if let Err(e) = TcpListener::bind(port.addr) {
            let (why, remedy) = match e.kind() {
                ErrorKind::AddrInUse => (
                    "is already in use (another keel node, or another program?)".to_string(),
                    "stop what uses it or choose another port with",
                ),
                ErrorKind::PermissionDenied => (
                    "is not allowed for this user".to_string(),
                    "choose another port with",
                ),
                ErrorKind::AddrNotAvailable => (
                    "is not an address of this machine".to_string(),
                    "check the address; the port is set with",
                ),
                _ => (
                    format!("can't be listened on: {e}"),
                    "choose another port with",
                ),
            };
            bail!(
                "port {} ({}) for {} {why}; {remedy} {}",
                port.addr.port(),
                port.addr,
                port.what,
                port.flag
            );
        }
    }
    Ok(())
}

/// Whether two listening addresses on one port would clash (the same IP, or one unspecified).
fn overlaps(a: SocketAddr, b: SocketAddr) -> bool {
    a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(addr: SocketAddr, flag: &'static str) -> Port {
        Port {
            addr,
            what: "a test server",
            flag,
        }
    }

    #[test]
    fn a_port_in_use_is_named_with_its_flag() {
        let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = taken.local_addr().expect("addr");
        let err = check(&[port(addr, "--test.port")])
            .expect_err("in use")
            .to_string();
        assert!(
            err.contains(&format!("port {}", addr.port()))
                && err.contains("already in use")
                && err.contains("--test.port"),
            "{err}"
        );
        drop(taken);
        check(&[port(addr, "--test.port")]).expect("free again");
    }

    #[test]
    fn port_zero_is_not_checked_and_duplicates_are_refused() {
        let zero: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        check(&[port(zero, "--a"), port(zero, "--b")]).expect("port 0 picks free ports");
        let free = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr");
        let err = check(&[port(free, "--a"), port(free, "--b")])
            .expect_err("the same port twice")
            .to_string();
        assert!(err.contains("--a") && err.contains("--b"), "{err}");
    }
}
