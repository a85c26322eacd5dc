//! JSON-RPC over plain HTTP with raw JSON in and out, so that every request is the one the test
//! wrote, and helpers to read the answers.

use serde::Deserialize;
use serde_json::{Value, json};

use super::TestNode;

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    /// Absent or `null`: `None`.
    #[serde(default)]
    pub data: Option<Value>,
}

/// Call `method` and return its `result`; panics on an error response.
pub async fn rpc(node: &TestNode, method: &str, params: Value) -> Value {
    let response = rpc_response(node, method, params).await;
    match response.get("result") {
        Some(result) => result.clone(),
        None => panic!("{method} failed: {response}"),
    }
}

/// Call `method` and return its error; panics on success.
pub async fn rpc_error(node: &TestNode, method: &str, params: Value) -> RpcError {
    let response = rpc_response(node, method, params).await;
    match response.get("error") {
        Some(error) => serde_json::from_value(error.clone())
            .unwrap_or_else(|e| panic!("{method}: not a JSON-RPC error ({e}): {response}")),
        None => panic!("{method} succeeded unexpectedly: {response}"),
    }
}

/// Call `method` and return the whole JSON-RPC response object.
pub async fn rpc_response(node: &TestNode, method: &str, params: Value) -> Value {
    post(
        node,
        &json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }),
    )
    .await
}

/// POST any JSON body (a call or a batch) to the node and parse the answer.
pub async fn post(node: &TestNode, body: &Value) -> Value {
    let (_, text) = post_text(node, body.to_string()).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// POST a JSON body given as text; the HTTP status and the answer's text.
pub async fn post_text(node: &TestNode, body: String) -> (u16, String) {
    let client = alloy::transports::http::reqwest::Client::new();
    let response = client
        .post(&node.http_url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("HTTP request");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// Parse a JSON quantity (`"0x…"`).
pub fn quantity(value: &Value) -> u128 {
    let s = value
        .as_str()
        .unwrap_or_else(|| panic!("not a quantity: {value}"));
    u128::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex quantity")
}

/// The keys of a JSON object, sorted.
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// Sorted owned strings, to compare with [`keys`].
pub fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    names.sort();
    names
}
