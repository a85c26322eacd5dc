//! An HTTP JSON-RPC proxy between a node and its L1 that sets the L1 prices the node reads.
//!
//! anvil's blob base fee stays at 1 wei and can't be raised (see `l1_faults.rs`), so a test that
//! needs L1 prices of its choosing puts this proxy at the node's `--eth.rpc-url`. The proxy
//! forwards every request (single and batch JSON-RPC bodies) to anvil unchanged. It rewrites two
//! kinds of answers:
//!
//! - the result of `eth_blobBaseFee`, to the blob base fee the test set;
//! - `baseFeePerGas` of `eth_getBlockByNumber` / `eth_getBlockByHash` answers, to the base fee
//!   the test set.
//!
//! Each is rewritten only while it is set ([`PriceProxy::set_blob_base_fee`],
//! [`PriceProxy::set_base_fee`]); with neither set the proxy is transparent.
//!
//! The proxy runs on a runtime of its own (one worker thread), so it does not depend on the
//! test's runtime, and it stops when dropped.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use alloy::transports::http::reqwest;
use http_body_util::{BodyExt, Full};
use hyper::{
    Request, Response,
    body::{Bytes, Incoming},
    header::CONTENT_TYPE,
    server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// The prices the proxy answers with, in wei (`None`: L1's own).
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides {
    pub blob_base_fee: Option<u128>,
    pub base_fee: Option<u128>,
}

struct State {
    target: String,
    client: reqwest::Client,
    overrides: Mutex<Overrides>,
    /// How many answers were rewritten so far.
    rewritten: AtomicU64,
}

/// The proxy: `url` for the node's `--eth.rpc-url`.
pub struct PriceProxy {
    pub url: String,
    state: Arc<State>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl PriceProxy {
    /// A proxy to the JSON-RPC endpoint `target` (an `http://` URL), transparent until a price
    /// is set.
    pub fn start(target: &str) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the price proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("price proxy address")
        );
        let state = Arc::new(State {
            target: target.to_string(),
            client: reqwest::Client::new(),
            overrides: Mutex::new(Overrides::default()),
            rewritten: AtomicU64::new(0),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("price-proxy")
            .enable_all()
            .build()
            .expect("the price proxy's runtime");
        let shared = state.clone();
        runtime.spawn(async move {
            let listener =
                tokio::net::TcpListener::from_std(listener).expect("the price proxy's listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(forward(&state, req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            url,
            state,
            runtime: Some(runtime),
        }
    }

    /// Answer `eth_blobBaseFee` with `wei` (`None`: L1's own answer).
    pub fn set_blob_base_fee(&self, wei: Option<u128>) {
        self.state.overrides.lock().expect("lock").blob_base_fee = wei;
    }

    /// Answer blocks with `baseFeePerGas` = `wei` (`None`: L1's own answer).
    pub fn set_base_fee(&self, wei: Option<u128>) {
        self.state.overrides.lock().expect("lock").base_fee = wei;
    }

    /// How many answers the proxy has rewritten so far.
    pub fn rewritten(&self) -> u64 {
        self.state.rewritten.load(Ordering::SeqCst)
    }
}

impl Drop for PriceProxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Forwards one HTTP request to the target and returns its answer, rewritten.
async fn forward(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let body = match req.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => return error_response(502, format!("reading the request: {e}")),
    };
    let answer = state
        .client
        .post(&state.target)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_vec())
        .send()
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => return error_response(502, format!("forwarding to {}: {e}", state.target)),
    };
    let status = answer.status().as_u16();
    let bytes = match answer.bytes().await {
        Ok(bytes) => bytes,
        Err(e) => return error_response(502, format!("reading the answer: {e}")),
    };
    let overrides = *state.overrides.lock().expect("lock");
    let (out, rewritten) = rewrite(&body, &bytes, overrides);
    state.rewritten.fetch_add(rewritten, Ordering::SeqCst);
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(out)))
        .expect("a response")
}

fn error_response(status: u16, message: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(message)))
        .expect("a response")
}

/// The answer to `request` with the prices of `overrides`, and how many answers (of a batch)
/// were rewritten. A body that is not JSON-RPC is returned as it came.
pub fn rewrite(request: &[u8], answer: &[u8], overrides: Overrides) -> (Vec<u8>, u64) {
    let (Ok(request), Ok(mut answer)) = (
        serde_json::from_slice::<Value>(request),
        serde_json::from_slice::<Value>(answer),
    ) else {
        return (answer.to_vec(), 0);
    };
    let mut rewritten = 0;
    match (&request, &mut answer) {
        (Value::Object(_), Value::Object(_)) => {
            if let Some(method) = request["method"].as_str() {
                rewritten += u64::from(rewrite_one(method, &mut answer, overrides));
            }
        }
        (Value::Array(requests), Value::Array(answers)) => {
            // A batch's answers may come in any order: match them to their requests by id.
            let methods: HashMap<String, &str> = requests
                .iter()
                .filter_map(|r| Some((r["id"].to_string(), r["method"].as_str()?)))
                .collect();
            for one in answers.iter_mut() {
                if let Some(method) = methods.get(&one["id"].to_string()) {
                    rewritten += u64::from(rewrite_one(method, one, overrides));
                }
            }
        }
        _ => {}
    }
    (
        serde_json::to_vec(&answer).expect("serialize the answer"),
        rewritten,
    )
}

/// Rewrites one JSON-RPC answer to a call of `method`; whether it did.
fn rewrite_one(method: &str, answer: &mut Value, overrides: Overrides) -> bool {
    let quantity = |wei: u128| Value::String(format!("{wei:#x}"));
    match (method, overrides) {
        (
            "eth_blobBaseFee",
            Overrides {
                blob_base_fee: Some(wei),
                ..
            },
        ) if answer.get("result").is_some() => {
            answer["result"] = quantity(wei);
            true
        }
        (
            "eth_getBlockByNumber" | "eth_getBlockByHash",
            Overrides {
                base_fee: Some(wei),
                ..
            },
        ) => match answer.get_mut("result") {
            Some(Value::Object(block)) if block.contains_key("baseFeePerGas") => {
                block.insert("baseFeePerGas".into(), quantity(wei));
                true
            }
            _ => false,
        },
        _ => false,
    }
}
