//! `GET /health` and `GET /ready` on the JSON-RPC port: an HTTP middleware in front of
//! jsonrpsee that answers these two paths itself and hands every other request on.
//!
//! - `/health` (liveness): 200 `{"healthy":true}` whenever the server answers.
//! - `/ready` (readiness): 200 when [`Readiness::evaluate`] says ready, else 503; the body is
//!   the [`Readiness`] as JSON either way (which checks fail). A server given no
//!   [`ReadinessSource`] answers 503.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use futures::{FutureExt, future::BoxFuture};
use http::{Method, StatusCode, header};
use jsonrpsee::{
    core::BoxError,
    server::{HttpBody, HttpRequest, HttpResponse},
};
use tower::{Layer, Service};

use crate::{
    params::NoBody,
    readiness::{Readiness, ReadinessSource},
};

/// The path of the liveness probe.
pub const HEALTH_PATH: &str = "/health";
/// The path of the readiness probe.
pub const READY_PATH: &str = "/ready";

/// Adds `/health` and `/ready` in front of a service.
#[derive(Clone, Default)]
pub struct HealthLayer {
    readiness: Option<Arc<dyn ReadinessSource>>,
}

impl HealthLayer {
    pub fn new(readiness: Option<Arc<dyn ReadinessSource>>) -> Self {
        Self { readiness }
    }
}

impl<S> Layer<S> for HealthLayer {
    type Service = HealthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HealthService {
            inner,
            readiness: self.readiness.clone(),
        }
    }
}

/// See [`HealthLayer`].
#[derive(Clone)]
pub struct HealthService<S> {
    inner: S,
    readiness: Option<Arc<dyn ReadinessSource>>,
}

fn json_response(status: StatusCode, body: String) -> HttpResponse {
    let mut response = HttpResponse::new(HttpBody::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// The answer to `GET /ready`.
fn ready_response(readiness: Option<&Arc<dyn ReadinessSource>>) -> HttpResponse {
    let Some(source) = readiness else {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"ready":false,"error":"this server has no readiness source"}"#.to_string(),
        );
    };
    let readiness = Readiness::evaluate(&source.readiness_inputs());
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::to_string(&readiness)
        .unwrap_or_else(|e| format!(r#"{{"ready":false,"error":"{e}"}}"#));
    json_response(status, body)
}

impl<S, B> Service<HttpRequest<B>> for HealthService<S>
where
    S: Service<HttpRequest<B>, Response = HttpResponse>,
    S::Error: Into<BoxError> + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<HttpResponse, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        let probe = matches!(*request.method(), Method::GET | Method::HEAD);
        match request.uri().path() {
            HEALTH_PATH if probe => {
                let response = json_response(StatusCode::OK, r#"{"healthy":true}"#.to_string());
                futures::future::ready(Ok(response)).boxed()
            }
            READY_PATH if probe => {
                let response = ready_response(self.readiness.as_ref());
                futures::future::ready(Ok(response)).boxed()
            }
            // A notification (or a batch of only notifications) gets no answer: jsonrpsee
            // writes `null`, marked by crate::params; the body goes out empty.
            _ => self
                .inner
                .call(request)
                .map(|r| {
                    r.map_err(Into::into).map(|mut response| {
                        if response.extensions().get::<NoBody>().is_some() {
                            *response.body_mut() = HttpBody::empty();
                            response.headers_mut().remove(header::CONTENT_LENGTH);
                        }
                        response
                    })
                })
                .boxed(),
        }
    }
}
