//! Forwarding a web request to another member's web listener: hyper's
//! pooled client (idle connections kept per backend and reused), bodies
//! streamed both ways, connections made from this member's cluster
//! address (the backends believe forwarded headers only from members).

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Response, Uri, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// A backend that does not accept within this is taken for down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections to a backend are kept this long for reuse.
const POOL_IDLE: Duration = Duration::from_secs(60);
/// Idle connections kept per backend; more are closed after use.
const POOL_PER_BACKEND: usize = 32;

/// Why a request did not get a response from the backend.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// No connection could be made: the backend is down or unreachable.
    /// Nothing of the request reached it.
    #[error("cannot connect to {addr}: {reason}")]
    Unreachable { addr: SocketAddr, reason: String },
    /// The connection broke before a response came; the request may have
    /// reached the backend.
    #[error("{addr} gave no response: {reason}")]
    Failed { addr: SocketAddr, reason: String },
}

/// What the backend is told about the client (it believes it only from a
/// trusted member).
#[derive(Debug, Clone)]
pub struct ClientFacts {
    pub ip: IpAddr,
    /// The browser's own connection is TLS (to us or to a balancer).
    pub tls: bool,
}

/// The pooled HTTP client to the backends.
#[derive(Clone)]
pub struct Forwarder {
    client: Client<HttpConnector, Body>,
}

impl Forwarder {
    /// `source`: this member's cluster address, which connections leave
    /// from (`None`: the system chooses).
    pub fn new(source: Option<IpAddr>) -> Forwarder {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        // A vanished backend is noticed on an idle pooled connection too.
        connector.set_keepalive(Some(Duration::from_secs(60)));
        connector.set_local_address(source);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_max_idle_per_host(POOL_PER_BACKEND)
            .build(connector);
        Forwarder { client }
    }

    /// Sends `request` to the web listener at `addr` and returns its
    /// response, whose body streams from the backend as it comes.
    pub async fn forward(
        &self,
        addr: SocketAddr,
        request: Request<Body>,
        client: &ClientFacts,
    ) -> Result<Response<Body>, ForwardError> {
        let (mut parts, body) = request.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = Uri::try_from(format!("http://{addr}{path}"))
            .map_err(|e| ForwardError::Failed { addr, reason: format!("bad request target: {e}") })?;
        prepare_headers(&mut parts.headers, client);
        parts.extensions = Default::default();
        let response = self.client.request(Request::from_parts(parts, body)).await.map_err(|e| {
            let reason = error_chain(&e);
            if e.is_connect() {
                ForwardError::Unreachable { addr, reason }
            } else {
                ForwardError::Failed { addr, reason }
            }
        })?;
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(parts, Body::new(body)))
    }
}

/// The request's headers as the backend gets them: hop-by-hop ones
/// dropped, `X-Forwarded-*` set from what this member saw (replacing any
/// the client sent, which only a trusted proxy may set). `Host` is kept, so
/// the backend sees the name the browser used.
pub fn prepare_headers(headers: &mut HeaderMap, client: &ClientFacts) {
    let host = headers.get(header::HOST).cloned();
    strip_hop_by_hop(headers);
    let set = |headers: &mut HeaderMap, name: &'static str, value: Option<HeaderValue>| {
        let name = HeaderName::from_static(name);
        headers.remove(&name);
        if let Some(value) = value {
            headers.insert(name, value);
        }
    };
    set(headers, "x-forwarded-for", HeaderValue::from_str(&client.ip.to_string()).ok());
    set(headers, "x-forwarded-proto", Some(HeaderValue::from_static(if client.tls { "https" } else { "http" })));
    set(headers, "x-forwarded-host", host);
    headers.remove("forwarded");
}

/// Headers that belong to one connection (RFC 9110 §7.6.1), plus the ones
/// the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect();
    for name in named {
        headers.remove(name.as_str());
    }
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ] {
        headers.remove(name);
    }
}

/// The error and its causes on one line (hyper's top error says little).
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
