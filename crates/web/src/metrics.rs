//! Prometheus metrics at `GET /metrics` on the admin listener, in the text
//! exposition format.
//!
//! The crates that count (net, imap, pop3, smtp, queue, cluster, directory)
//! call the `metrics` facade, which does nothing until a recorder is
//! installed; `rookery serve` installs this one at start ([`install`]).
//! The series are described here, in one place, so their HELP lines are
//! next to each other. The queue size is read at scrape time rather than
//! counted on every change.
//!
//! Who may scrape: loopback and the cluster's allow-listed members without
//! a login (a Prometheus next to the server, or a member), anyone else as
//! an administrator with HTTP Basic, like the API.

use crate::AdminServices;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

/// The recorder is process-wide (the `metrics` facade has one global
/// recorder), so its handle is too.
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder once per process and describes the
/// series. Calling it again is harmless. Fails only when another recorder
/// was installed first (then `/metrics` answers 503).
pub fn install() -> Result<(), String> {
    if HANDLE.get().is_some() {
        return Ok(());
    }
    let handle = PrometheusBuilder::new().install_recorder().map_err(|e| e.to_string())?;
    // Two callers racing here cannot both have installed a recorder: the
    // loser's install_recorder failed above.
    let _ = HANDLE.set(handle);
    describe();
    Ok(())
}

fn describe() {
    use metrics::{describe_counter, describe_gauge};
    describe_counter!("rookery_connections_accepted_total", "Connections accepted, per listener protocol.");
    describe_counter!("rookery_connections_refused_total", "Connections refused for being over a connection limit.");
    describe_gauge!("rookery_connections_open", "Connections open now, per listener protocol.");
    describe_counter!("rookery_logins_total", "Successful logins, per protocol (imap, pop3, submission, webmail).");
    describe_gauge!(
        "rookery_sessions_logged_in",
        "Sessions logged in now, per protocol (imap, pop3, submission; webmail: open web mail sessions)."
    );
    describe_counter!(
        "rookery_deliveries_total",
        "Delivery attempts of one recipient by the queue, by result (delivered, deferred, failed)."
    );
    describe_gauge!("rookery_queue_messages", "Messages in the queue, read at scrape time.");
    describe_gauge!("rookery_link_connections_idle", "Idle cluster link connections cached, per peer.");
    describe_counter!("rookery_link_connections_opened_total", "Cluster link connections established, per peer.");
    describe_counter!("rookery_link_cache_hits_total", "Cluster link requests sent on a cached connection, per peer.");
    describe_counter!(
        "rookery_link_cache_misses_total",
        "Cluster link requests that needed a new connection, per peer."
    );
    describe_counter!("rookery_directory_host_cache_hits_total", "Account host look-ups answered from the cache.");
    describe_counter!("rookery_directory_host_cache_misses_total", "Account host look-ups that asked the directory.");
}

/// `GET /metrics`.
pub async fn scrape(State(s): State<Arc<AdminServices>>) -> Response {
    let Some(handle) = HANDLE.get() else {
        let error = crate::ApiError::Unavailable("metrics are not enabled in this process".into());
        return error.into_response();
    };
    metrics::gauge!("rookery_queue_messages").set(s.queue.len() as f64);
    handle.run_upkeep();
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render())
        .into_response()
}

/// Middleware of `/metrics`: loopback and the cluster's members scrape
/// without a login; anyone else must be an administrator.
pub async fn open_or_admin(State(s): State<Arc<AdminServices>>, request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
    match peer {
        Some(ip) if ip.is_loopback() || ip.to_canonical().is_loopback() || s.metrics_from.contains(ip) => {
            next.run(request).await
        }
        _ => crate::auth::require_admin(State(s), request, next).await,
    }
}

/// The current exposition text, for figures shown elsewhere (the admin
/// cluster picture's connection count); `None` when metrics are not enabled.
pub(crate) fn rendered() -> Option<String> {
    HANDLE.get().map(PrometheusHandle::render)
}
