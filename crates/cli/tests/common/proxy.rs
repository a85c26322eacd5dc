//! A TCP proxy between a node and its L1 that a test switches off and on (an L1 RPC outage),
//! and a minimal HTTP GET for the node's `/health` and `/ready`.

use std::{
    io::{self, Read, Write},
    net::{Shutdown, SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

/// A TCP proxy (plain threads, independent of the test's runtime) that can be switched off: it
/// then closes every open connection and drops every new one, as an L1 RPC that went away.
pub struct Proxy {
    pub url: String,
    state: Arc<ProxyState>,
    accept: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct ProxyState {
    up: AtomicBool,
    stop: AtomicBool,
    /// Both ends of every connection relayed since the proxy was last switched off.
    open: Mutex<Vec<TcpStream>>,
}

impl Proxy {
    pub fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let state = Arc::new(ProxyState::default());
        state.up.store(true, Ordering::SeqCst);
        let shared = state.clone();
        let accept = std::thread::spawn(move || {
            while !shared.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((inbound, _)) => relay(&shared, inbound, target),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            url,
            state,
            accept: Some(accept),
        }
    }

    pub fn set_up(&self, up: bool) {
        self.state.up.store(up, Ordering::SeqCst);
        if !up {
            let open = std::mem::take(&mut *self.state.open.lock().expect("lock"));
            for stream in open {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Relays one accepted connection to `target`, unless the proxy is down (then it is dropped).
fn relay(state: &ProxyState, inbound: TcpStream, target: SocketAddr) {
    let _ = inbound.set_nonblocking(false);
    let Ok(outbound) = TcpStream::connect_timeout(&target, Duration::from_secs(2)) else {
        return;
    };
    let (Ok(in2), Ok(out2)) = (inbound.try_clone(), outbound.try_clone()) else {
        return;
    };
    {
        // Checked under the lock that `set_up(false)` takes after clearing the flag: a
        // connection is either refused here or registered in time to be closed there.
        let mut open = state.open.lock().expect("lock");
        if !state.up.load(Ordering::SeqCst) {
            return; // dropped: the client sees the connection close
        }
        for stream in [&inbound, &outbound] {
            if let Ok(clone) = stream.try_clone() {
                open.push(clone);
            }
        }
    }
    let pipe = |mut from: TcpStream, mut to: TcpStream| {
        std::thread::spawn(move || {
            let _ = io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Write);
        });
    };
    pipe(inbound, outbound);
    pipe(out2, in2);
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        self.set_up(false);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// `GET path` on `base` (an `http://host:port` URL) with HTTP/1.1; returns the status code and
/// the body.
pub fn http_get(base: &str, path: &str) -> (u16, String) {
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (status, body)
}
