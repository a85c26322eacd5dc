//! Prover faults against the ProofCoordinator over real TCP on 127.0.0.1 (real revm, real redb
//! in memory): a thousand idle connections, slow-loris connections, garbage, an oversized frame,
//! a lying prover and a prover killed mid-batch, all at once, and an honest prover that still
//! gets its batches promptly and whose proofs alone are stored (docs/prover.md, Limits).

mod common;

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use common::coordinator::{Conn, coordinator_config, key, node_with_batches, stored_signers};
use keel_prover::{
    ExecBackend, ProverBackend,
    protocol::{CoordinatorMessage, DEFAULT_MAX_FRAME_BYTES, read_frame, write_frame},
};
use keel_sequencer::{ProofCoordinator, ProofCoordinatorConfig, ProverSigners};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// How many idle connections the issue asks for.
const IDLE: usize = 1000;

/// Raises this process's open-files soft limit to `needed` if it is lower and the hard limit
/// allows; returns the soft limit in force.
fn raise_open_files_limit(needed: u64) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 0;
    }
    if limit.rlim_cur < needed && limit.rlim_max >= needed {
        let raised = libc::rlimit {
            rlim_cur: needed,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return needed;
        }
    }
    limit.rlim_cur
}

/// Both ends of every connection live in this process, plus the store and the runtime.
fn ensure_open_files(connections: usize) {
    let needed = (2 * connections + 256) as u64;
    let soft = raise_open_files_limit(needed);
    println!("open-files soft limit: {soft} (this test needs about {needed})");
    assert!(
        soft >= needed,
        "the open-files limit ({soft}) is below what {connections} connections need ({needed}); \
         raise `ulimit -n`"
    );
}

async fn start(
    node: &common::Node,
    signers: ProverSigners,
    config: impl FnOnce(&mut ProofCoordinatorConfig),
) -> (SocketAddr, CancellationToken) {
    let mut settings = coordinator_config("127.0.0.1:0".parse().expect("addr"));
    config(&mut settings);
    let coordinator = ProofCoordinator::bind(settings, node.chain.clone(), signers)
        .await
        .expect("bind");
    let addr = coordinator.local_addr();
    let token = CancellationToken::new();
    tokio::spawn(coordinator.run(token.clone()));
    (addr, token)
}

/// Whether the coordinator has closed `stream` (EOF or reset already delivered).
fn closed_now(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 16];
    match stream.try_read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

/// With the default settings (at most 64 connections), a thousand connections that connect and
/// say nothing must not lock out an honest prover that connects after them: connections that
/// have not said hello yet are the ones that make room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_idle_connections_do_not_lock_out_an_honest_prover_at_the_default_cap() {
    ensure_open_files(IDLE + 100);
    let node = node_with_batches(1, 1);
    let honest = key(0x41);
    let (addr, coordinator) =
        start(&node, ProverSigners::fixed([honest.address()], 1), |_| {}).await;

    let opened = Instant::now();
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(TcpStream::connect(addr).await.expect("connect"));
    }
    println!("{IDLE} idle connections opened in {:?}", opened.elapsed());
    // Let the coordinator accept them all before the honest prover comes.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let asked = Instant::now();
    let mut conn = Conn::open(addr).await;
    let reply = async {
        write_frame(&mut conn.0, &Conn::hello(), DEFAULT_MAX_FRAME_BYTES).await?;
        read_frame::<_, CoordinatorMessage>(&mut conn.0, DEFAULT_MAX_FRAME_BYTES).await
    };
    let (batch, input) = match tokio::time::timeout(Duration::from_secs(10), reply).await {
        Ok(Ok(CoordinatorMessage::BatchResponse { batch, input })) => (batch, input),
        other => panic!(
            "the honest prover, connecting after {IDLE} idle connections, was not handed the \
             batch: {other:?}"
        ),
    };
    let served = asked.elapsed();
    println!("honest prover handed batch {batch} {served:?} after connecting");
    assert_eq!(batch, 1);
    let proof = ExecBackend::new(honest.clone())
        .prove(&input)
        .expect("prove");
    assert_eq!(
        conn.submit(batch, &proof).await,
        CoordinatorMessage::SubmitAck
    );
    assert_eq!(stored_signers(&node, 1), vec![honest.address()]);

    // The cap held: all but at most 64 of the idle connections were closed to make room.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let closed = idle.iter().filter(|s| closed_now(s)).count();
    println!("{closed} of {IDLE} idle connections closed by the coordinator to make room");
    assert!(
        closed >= IDLE - 64,
        "only {closed} of {IDLE} idle connections were closed; the cap is 64"
    );
    coordinator.cancel();
}
