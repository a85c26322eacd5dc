//! A lean HTTP/1.1 JSON-RPC client for the timed loops of the `reads` and `sync-latency` modes:
//! one hyper 1 connection per client over a tokio `TcpStream` (keep-alive, no pool, no proxy,
//! no redirects), pre-serialized request bodies, and a reply check that reads only the status
//! and looks at the start of the body. reqwest (used by [`crate::rpc`]) costs several times more
//! CPU per request, which would make the generator the bottleneck of a read benchmark.

use std::time::Duration;

use alloy::transports::http::reqwest::Url;
use eyre::{Result, bail, eyre};
use http_body_util::{BodyExt, Full};
use hyper::{
    Request, Uri,
    body::Bytes,
    client::conn::http1::SendRequest,
    header::{CONTENT_TYPE, HOST, HeaderValue},
};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

use crate::rpc::error_chain;

/// Where to connect and what to put in the request line and `Host` header.
#[derive(Clone, Debug)]
pub struct HttpTarget {
    /// `host:port` to connect to.
    addr: String,
    /// The `Host` header.
    host: HeaderValue,
    /// Path and query of the URL.
    uri: Uri,
}

impl HttpTarget {
    /// Parses an `http://` URL (https is not supported by the lean client).
    pub fn parse(url: &str) -> Result<Self> {
        let u = Url::parse(url).map_err(|e| eyre!("invalid URL `{url}`: {e}"))?;
        if u.scheme() != "http" {
            bail!("URL `{url}`: the reads and sync-latency modes need an http:// endpoint");
        }
        let host = u
            .host_str()
            .ok_or_else(|| eyre!("URL `{url}` has no host"))?;
        let port = u.port_or_known_default().unwrap_or(80);
        let addr = format!("{host}:{port}");
        let mut path = u.path().to_string();
        if let Some(q) = u.query() {
            path.push('?');
            path.push_str(q);
        }
        Ok(Self {
            host: HeaderValue::from_str(&addr).map_err(|e| eyre!("URL `{url}`: {e}"))?,
            uri: path.parse().map_err(|e| eyre!("URL `{url}`: {e}"))?,
            addr,
        })
    }
}

/// One keep-alive HTTP/1.1 connection doing one request at a time.
pub struct Conn {
    tx: SendRequest<Full<Bytes>>,
}

impl Conn {
    /// Connects (TCP_NODELAY) and does the HTTP/1 handshake; the connection is driven by a task
    /// on the current runtime that ends when this `Conn` is dropped.
    pub async fn connect(t: &HttpTarget, timeout: Duration) -> Result<Self> {
        let fut = async {
            let stream = TcpStream::connect(&t.addr)
                .await
                .map_err(|e| eyre!("connecting to {}: {e}", t.addr))?;
            stream.set_nodelay(true)?;
            let (tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| eyre!("HTTP handshake with {}: {}", t.addr, error_chain(&e)))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok(Self { tx })
        };
        tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| eyre!("connecting to {}: timed out after {timeout:?}", t.addr))?
    }

    /// POSTs `body` (JSON) and returns the status code and the whole response body.
    pub async fn post(&mut self, t: &HttpTarget, body: Bytes) -> Result<(u16, Bytes)> {
        self.tx
            .ready()
            .await
            .map_err(|e| eyre!("connection: {}", error_chain(&e)))?;
        let req = Request::post(t.uri.clone())
            .header(HOST, t.host.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(Full::new(body))?;
        let resp = self
            .tx
            .send_request(req)
            .await
            .map_err(|e| eyre!("request: {}", error_chain(&e)))?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| eyre!("response body: {}", error_chain(&e)))?
            .to_bytes();
        Ok((status, body))
    }
}

/// What a reply to one JSON-RPC request was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A non-null `result`.
    Ok,
    /// A JSON-RPC error object: `message (code N)`, the code kept for callers that care.
    RpcError {
        /// The error code.
        code: i64,
        /// `message (code N)`.
        text: String,
    },
    /// Anything else (HTTP error, `result: null`, unparsable body), described.
    Bad(String),
}

/// How far into a body the fast check looks for the top-level `"result":` / `"error":` key.
const PREFIX: usize = 256;

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Classifies a reply to a single JSON-RPC request without parsing a successful body: nodes
/// write `{"jsonrpc":"2.0","id":…,"result":…}` (or `"error":`) with the key in the first bytes,
/// so the check looks for whichever of `"result":` / `"error":` comes first there, and that the
/// result is not `null` (a receipt or block that does not exist is a failure of the benchmark,
/// not throughput). Bodies where neither key is found early are parsed in full.
pub fn classify(status: u16, body: &[u8]) -> Reply {
    let head = &body[..body.len().min(PREFIX)];
    let r = find(head, b"\"result\":");
    let e = find(head, b"\"error\":");
    let fast = match (r, e) {
        (Some(r), Some(e)) if e < r => None,
        (Some(r), _) => Some(r),
        _ => None,
    };
    if let Some(r) = fast {
        let rest = &body[r + b"\"result\":".len()..];
        let value = rest
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map(|i| &rest[i..]);
        return match value {
            Some(v) if v.starts_with(b"null") => Reply::Bad("result is null".into()),
            Some(_) if (200..300).contains(&status) => Reply::Ok,
            Some(_) => Reply::Bad(format!("HTTP {status} with a result")),
            None => Reply::Bad("truncated body".into()),
        };
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => {
            if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
                let code = err.get("code").and_then(Value::as_i64).unwrap_or(0);
                let msg = err
                    .get("message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| err.to_string());
                Reply::RpcError {
                    code,
                    text: format!("{msg} (code {code})"),
                }
            } else {
                match v.get("result") {
                    None | Some(Value::Null) => Reply::Bad(format!(
                        "HTTP {status}, no result: {}",
                        crate::rpc::snippet(body)
                    )),
                    Some(_) if (200..300).contains(&status) => Reply::Ok,
                    Some(_) => Reply::Bad(format!("HTTP {status} with a result")),
                }
            }
        }
        Err(_) => Reply::Bad(format!("HTTP {status}: {}", crate::rpc::snippet(body))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_replies() {
        assert_eq!(
            classify(200, br#"{"jsonrpc":"2.0","id":1,"result":"0x1"}"#),
            Reply::Ok
        );
        assert_eq!(
            classify(200, br#"{"jsonrpc":"2.0","id":1,"result":{"a":"error"}}"#),
            Reply::Ok
        );
        assert_eq!(
            classify(200, br#"{"jsonrpc":"2.0","id":1,"result":null}"#),
            Reply::Bad("result is null".into())
        );
        assert_eq!(
            classify(
                200,
                br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}"#
            ),
            Reply::RpcError {
                code: -32601,
                text: "Method not found (code -32601)".into()
            }
        );
        // Key order that puts the error first, and whitespace.
        assert_eq!(
            classify(
                200,
                br#"{ "error" : {"code": 4, "message": "timeout"}, "id": 1, "jsonrpc": "2.0" }"#
            ),
            Reply::RpcError {
                code: 4,
                text: "timeout (code 4)".into()
            }
        );
        assert_eq!(
            classify(200, br#"{ "id": 1, "result" : "0x2" }"#),
            Reply::Ok
        );
        assert!(matches!(classify(503, b"busy"), Reply::Bad(m) if m.contains("503")));
        assert!(matches!(
            classify(500, br#"{"jsonrpc":"2.0","id":1,"result":"0x1"}"#),
            Reply::Bad(_)
        ));
    }

    #[test]
    fn parses_targets() {
        let t = HttpTarget::parse("http://127.0.0.1:1729").unwrap();
        assert_eq!(t.addr, "127.0.0.1:1729");
        assert_eq!(t.uri, "/");
        let t = HttpTarget::parse("http://localhost/rpc?key=1").unwrap();
        assert_eq!(t.addr, "localhost:80");
        assert_eq!(t.uri, "/rpc?key=1");
        assert!(HttpTarget::parse("https://x").is_err());
        assert!(HttpTarget::parse("nope").is_err());
    }
}
