//! Prover faults against the ProofCoordinator over real TCP on 127.0.0.1 (real revm, real redb
//! in memory): a thousand idle connections, slow-loris connections, garbage, an oversized frame,
//! a lying prover and a prover killed mid-batch, all at once, and an honest prover that still
//! gets its batches promptly and whose proofs alone are stored (docs/prover.md, Limits).

mod common;

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use common::coordinator::{
    Conn, LyingBackend, coordinator_config, key, node_with_batches, rejected, stored_signers,
};
use keel_prover::{
    ExecBackend, ProverBackend, ProverClient, ProverClientConfig,
    protocol::{CoordinatorMessage, DEFAULT_MAX_FRAME_BYTES, read_frame, write_frame},
};
use keel_sequencer::{ProofCoordinator, ProofCoordinatorConfig, ProverSigners};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_util::sync::CancellationToken;

/// How many idle connections the issue asks for.
const IDLE: usize = 1000;

/// Raises this process's open-files soft limit to `needed` if it is lower and the hard limit
/// allows; returns the soft limit in force.
// getrlimit/setrlimit have no safe wrapper in std: two plain libc calls on a local struct.
#[allow(unsafe_code)]
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

/// When the coordinator closed a connection, measured from `since`; `None` if it did not
/// within `within`.
async fn closed_after(
    mut read: impl tokio::io::AsyncRead + Unpin,
    since: Instant,
    within: Duration,
) -> Option<Duration> {
    let mut buf = [0u8; 256];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, read.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(since.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

/// Writes `bytes` one at a time, `every` apart, until done or the connection fails.
async fn trickle(mut write: impl tokio::io::AsyncWrite + Unpin, bytes: Vec<u8>, every: Duration) {
    for byte in bytes {
        if write.write_all(&[byte]).await.is_err() {
            return;
        }
        tokio::time::sleep(every).await;
    }
}

/// A frame header announcing `len` bytes.
fn prefix(len: u32) -> Vec<u8> {
    len.to_be_bytes().to_vec()
}

/// An honest connection says hello and times the answer (`NoWork` or a batch, which it then
/// drops, freeing it at once), every `every` until `stop`.
async fn probe(
    addr: SocketAddr,
    every: Duration,
    stop: CancellationToken,
) -> Vec<Result<Duration, String>> {
    let mut times = Vec::new();
    while !stop.is_cancelled() {
        let asked = Instant::now();
        let answer = async {
            let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
            write_frame(&mut stream, &Conn::hello(), DEFAULT_MAX_FRAME_BYTES)
                .await
                .map_err(|e| e.to_string())?;
            read_frame::<_, CoordinatorMessage>(&mut stream, DEFAULT_MAX_FRAME_BYTES)
                .await
                .map_err(|e| e.to_string())
        };
        times.push(
            match tokio::time::timeout(Duration::from_secs(30), answer).await {
                Ok(Ok(CoordinatorMessage::NoWork | CoordinatorMessage::BatchResponse { .. })) => {
                    Ok(asked.elapsed())
                }
                Ok(Ok(other)) => Err(format!("unexpected answer {other:?}")),
                Ok(Err(e)) => Err(e),
                Err(_) => Err("no answer within 30 s".into()),
            },
        );
        tokio::time::sleep(every).await;
    }
    times
}

fn summary(times: &mut [Duration]) -> String {
    times.sort();
    match (times.first(), times.last()) {
        (Some(min), Some(max)) => format!(
            "n={} min={min:?} median={:?} p99={:?} max={max:?}",
            times.len(),
            times[times.len() / 2],
            times[(times.len() * 99 / 100).min(times.len() - 1)]
        ),
        _ => "n=0".into(),
    }
}

/// Every prover fault at once against one coordinator (short deadlines: hello within 4 s, a
/// started frame whole within 3 s): a thousand idle connections, two slow-loris connections
/// before their hello (a length prefix and a few bytes then nothing; one byte a second), two
/// after it each holding a batch (a few bytes then nothing; its real proof one byte a second),
/// a garbage frame, an oversized frame, a prover killed mid-batch and a lying prover, all with
/// registered keys. Honest connections are answered promptly throughout; an honest prover
/// proves both batches long before the 60 s prover timeout (so the batches were freed by the
/// deadlines, not by assignments expiring), and only its proofs are stored, once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_prover_fault_at_once_and_an_honest_prover_still_proves_the_batches() {
    const HELLO: Duration = Duration::from_secs(4);
    const FRAME: Duration = Duration::from_secs(3);
    const PROVER_TIMEOUT: Duration = Duration::from_secs(60);
    /// Slack for a deadline to be noticed on a busy two-core machine.
    const SLACK: Duration = Duration::from_secs(10);
    /// The most an honest connection may wait for its answer.
    const SERVED: Duration = Duration::from_secs(5);
    const MAX_FRAME: u32 = 8 * 1024 * 1024;
    ensure_open_files(IDLE + 100);

    let node = node_with_batches(2, 2);
    let (honest, killed, liar, slow) = (key(0x41), key(0x42), key(0x43), key(0x44));
    let (addr, coordinator) = start(
        &node,
        ProverSigners::fixed(
            [
                honest.address(),
                killed.address(),
                liar.address(),
                slow.address(),
            ],
            1,
        ),
        |c| {
            c.handshake_timeout = HELLO;
            c.frame_timeout = FRAME;
            c.idle_timeout = Duration::from_secs(8);
            c.prover_timeout = PROVER_TIMEOUT;
            c.max_frame_bytes = MAX_FRAME;
            c.max_connections = IDLE + 100;
        },
    )
    .await;
    let watch = Duration::from_secs(60);

    // A thousand connections that connect and say nothing.
    let opened = Instant::now();
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        let stream = TcpStream::connect(addr).await.expect("connect");
        idle.push(tokio::spawn(closed_after(stream, Instant::now(), watch)));
    }
    println!("{IDLE} idle connections opened in {:?}", opened.elapsed());

    // Slow-loris before the hello: (a) a length prefix and a few bytes, then nothing; (b) one
    // byte a second of a frame that would take minutes.
    let mut stalled = Vec::new();
    let stream = TcpStream::connect(addr).await.expect("connect");
    let since = Instant::now();
    let (read, mut write) = stream.into_split();
    write.write_all(&prefix(100)).await.expect("write");
    write.write_all(&[0, 1, 2]).await.expect("write");
    stalled.push((
        "before hello, prefix and 3 bytes",
        tokio::spawn(closed_after(read, since, watch)),
        write,
    ));
    let stream = TcpStream::connect(addr).await.expect("connect");
    let since = Instant::now();
    let (read, write) = stream.into_split();
    let mut bytes = prefix(1000);
    bytes.extend([0u8; 1000]);
    let trickling_b = tokio::spawn(trickle(write, bytes, Duration::from_secs(1)));
    let slow_hello = tokio::spawn(closed_after(read, since, watch));

    // Garbage and an oversized frame: closed at once, not at a deadline.
    let mut garbage = Conn::open(addr).await;
    let sent = Instant::now();
    garbage.0.write_all(&prefix(10)).await.expect("write");
    garbage.0.write_all(&[0xff; 10]).await.expect("write");
    let garbage_closed = closed_after(&mut garbage.0, sent, watch).await;
    let mut oversized = Conn::open(addr).await;
    let sent = Instant::now();
    oversized
        .0
        .write_all(&prefix(MAX_FRAME + 1))
        .await
        .expect("write");
    let oversized_closed = closed_after(&mut oversized.0, sent, watch).await;
    println!("garbage closed after {garbage_closed:?}, oversized frame after {oversized_closed:?}");
    for (what, closed) in [("garbage", garbage_closed), ("oversized", oversized_closed)] {
        assert!(
            closed.is_some_and(|t| t < Duration::from_secs(2)),
            "the {what} connection was not closed at once: {closed:?}"
        );
    }

    // A prover killed mid-batch: it takes batch 1 and its connection drops.
    let asked = Instant::now();
    let mut conn = Conn::open(addr).await;
    let (batch, _) = conn.take_batch().await;
    let first_served = asked.elapsed();
    println!(
        "a prover connecting after the {IDLE} idle ones was handed batch {batch} in {first_served:?}"
    );
    assert_eq!(batch, 1);
    assert!(first_served < SERVED, "{first_served:?}");
    drop(conn);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // A lying prover gets batch 1 at once (the killed one's is freed) and signs a lie.
    let mut conn = Conn::open(addr).await;
    let (batch, input) = conn.take_batch().await;
    assert_eq!(
        batch, 1,
        "the killed prover's batch is handed out again at once"
    );
    let lie = LyingBackend(ExecBackend::new(liar.clone()))
        .prove(&input)
        .expect("prove");
    let reply = conn.submit(batch, &lie).await;
    assert!(
        rejected(&reply, "public inputs are not batch 1's"),
        "{reply:?}"
    );
    drop(conn);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Slow-loris after the hello, each holding a batch: (d) its real proof of batch 1, one byte
    // a second; (c) batch 2, then a length prefix and a few bytes, then nothing.
    let mut conn = Conn::open(addr).await;
    let (batch, input) = conn.take_batch().await;
    assert_eq!(batch, 1);
    let proof = ExecBackend::new(slow.clone()).prove(&input).expect("prove");
    let mut frame = Vec::new();
    write_frame(
        &mut frame,
        &Conn::submission(batch, &proof),
        DEFAULT_MAX_FRAME_BYTES,
    )
    .await
    .expect("encode");
    let (read, write) = conn.0.into_split();
    let since = Instant::now();
    let trickling_d = tokio::spawn(trickle(write, frame, Duration::from_secs(1)));
    let slow_proof = tokio::spawn(closed_after(read, since, watch));
    let mut conn = Conn::open(addr).await;
    let (batch, _) = conn.take_batch().await;
    assert_eq!(batch, 2);
    let (read, mut write) = conn.0.into_split();
    let since = Instant::now();
    write.write_all(&prefix(100)).await.expect("write");
    write.write_all(&[0, 1, 2, 3, 4]).await.expect("write");
    stalled.push((
        "after hello, holding batch 2, prefix and 5 bytes",
        tokio::spawn(closed_after(read, since, watch)),
        write,
    ));

    // While all of that is open: honest connections every 250 ms, and an honest prover.
    let stop_probes = CancellationToken::new();
    let probes = tokio::spawn(probe(addr, Duration::from_millis(250), stop_probes.clone()));
    let mut config = ProverClientConfig::new(
        vec![addr.to_string()],
        Arc::new(ExecBackend::new(honest.clone())),
    );
    config.poll_interval = Duration::from_millis(100);
    config.backoff_min = Duration::from_millis(100);
    config.backoff_max = Duration::from_millis(400);
    let stop_client = CancellationToken::new();
    let started = Instant::now();
    let client = tokio::spawn(ProverClient::new(config).run(stop_client.clone()));
    let deadline = started + Duration::from_secs(30);
    let mut stored = [None, None];
    while stored.iter().any(Option::is_none) && Instant::now() < deadline {
        for (i, at) in stored.iter_mut().enumerate() {
            if at.is_none() && !stored_signers(&node, i as u64 + 1).is_empty() {
                *at = Some(started.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "honest proofs stored after: batch 1 {:?}, batch 2 {:?}",
        stored[0], stored[1]
    );
    assert!(
        stored.iter().all(Option::is_some),
        "the honest prover's proofs were not stored within 30 s (the prover timeout is 60 s): \
         {stored:?}"
    );

    // Every idle and slow-loris connection was closed by the coordinator at its deadline.
    let mut idle_closed = Vec::with_capacity(IDLE);
    for watcher in idle {
        let closed = watcher.await.expect("join");
        let closed =
            closed.unwrap_or_else(|| panic!("an idle connection was still open after {watch:?}"));
        idle_closed.push(closed);
    }
    println!(
        "idle connections closed after: {}",
        summary(&mut idle_closed)
    );
    assert!(
        idle_closed[0] >= HELLO.mul_f64(0.95),
        "closed before the hello deadline: {:?}",
        idle_closed[0]
    );
    assert!(
        idle_closed[IDLE - 1] <= HELLO + SLACK,
        "closed late: {:?}",
        idle_closed[IDLE - 1]
    );
    let slow_hello = slow_hello.await.expect("join");
    println!("slow-loris before hello, one byte a second: closed after {slow_hello:?}");
    assert!(
        slow_hello.is_some_and(|t| t >= HELLO.mul_f64(0.95) && t <= HELLO + SLACK),
        "{slow_hello:?}"
    );
    let slow_proof = slow_proof.await.expect("join");
    println!(
        "slow-loris holding batch 1, its proof one byte a second: closed after {slow_proof:?}"
    );
    assert!(
        slow_proof.is_some_and(|t| t >= FRAME.mul_f64(0.95) && t <= FRAME + SLACK),
        "{slow_proof:?}"
    );
    for (what, watcher, _write) in stalled {
        let closed = watcher.await.expect("join");
        println!("slow-loris {what}: closed after {closed:?}");
        let deadline = if what.starts_with("before") {
            HELLO
        } else {
            FRAME
        };
        assert!(
            closed.is_some_and(|t| t >= deadline.mul_f64(0.95) && t <= deadline + SLACK),
            "slow-loris {what}: {closed:?}"
        );
    }
    trickling_b.abort();
    trickling_d.abort();

    stop_probes.cancel();
    let probes = probes.await.expect("join");
    let failed: Vec<&String> = probes.iter().filter_map(|p| p.as_ref().err()).collect();
    assert!(
        failed.is_empty(),
        "honest connections not answered: {failed:?}"
    );
    let mut times: Vec<Duration> = probes.into_iter().filter_map(Result::ok).collect();
    println!("honest connections answered in: {}", summary(&mut times));
    assert!(times.len() >= 10, "too few probes: {}", times.len());
    assert!(
        times.last().is_some_and(|t| *t < SERVED),
        "an honest connection waited {:?}",
        times.last()
    );

    stop_client.cancel();
    let stats = client.await.expect("join").expect("run");
    println!("honest prover: {stats:?}");
    assert_eq!((stats.accepted, stats.rejected), (2, 0), "{stats:?}");
    // Only the honest proofs, once each: not the liar's, not the slow-loris's, nothing twice.
    for batch in [1, 2] {
        assert_eq!(
            stored_signers(&node, batch),
            vec![honest.address()],
            "batch {batch}"
        );
    }
    coordinator.cancel();
}
