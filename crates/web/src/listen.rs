//! The admin listener: `net::http` under the `[limits]` connection caps,
//! with the connect info (`ConnectInfo<SocketAddr>`) the admin router
//! reads (/metrics admits loopback peers without a login).

use axum::Router;
use axum::extract::ConnectInfo;
use net::http::ListenOptions;
use net::{ConnInfo, TlsMode};

/// Serves `app` on `tcp` until `shutdown` turns true; connections count as
/// protocol "admin".
pub async fn serve_app(
    tcp: tokio::net::TcpListener,
    app: Router,
    options: &ListenOptions,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let listener = options.listener(tcp, "admin", TlsMode::Off);
    let tag = |info: &ConnInfo| ConnectInfo(info.peer);
    net::http::serve(listener, app, tag, options.http.clone(), shutdown).await
}
