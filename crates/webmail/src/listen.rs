//! The web mail's HTTP listeners: `net::http` under the `[limits]`
//! connection caps, with the connect info ([`PeerInfo`]) the pages read the
//! client's address from.

use crate::client::PeerInfo;
use axum::Router;
use axum::extract::ConnectInfo;
use net::http::ListenOptions;
use net::{ConnInfo, TlsMode};

/// Serves `app` (the web mail [`crate::router`], or a frontend's router) on
/// `tcp` until `shutdown` turns true; with `tls`, TLS from the first byte.
/// Connections count as protocol "webmail".
pub async fn serve_app(
    tcp: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Router,
    options: &ListenOptions,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mode = tls.map_or(TlsMode::Off, TlsMode::Implicit);
    let listener = options.listener(tcp, "webmail", mode);
    let tag = |info: &ConnInfo| ConnectInfo(PeerInfo { addr: info.peer, tls: info.tls });
    net::http::serve(listener, app, tag, options.http.clone(), shutdown).await
}
