//! Web mail for users: login, folders, message lists, settings, and (in
//! `message/` and `compose/`) reading and sending. Pages are rendered on the
//! server with askama templates (auto-escaped, checked at compile time) and
//! work without JavaScript; CSS is embedded in the binary. Sessions live on
//! the member that hosts the account (`sessions.rs`); the signed cookie
//! (`cookie.rs`) only names the account so a frontend can route by it.
//! This crate owns no sockets of its own beyond the `serve*` helpers and
//! reads no configuration files: the binary passes a [`WebmailConfig`].
//!
//! # Adding pages (the API the reading/sending modules build on)
//! - `message::routes()` and `compose::routes()` return
//!   `axum::Router<Arc<WebmailServices>>`; [`router`] merges them.
//! - A handler takes a [`Session`] (no valid session: 303 to `/login`) and
//!   checks a POST's token with [`check_csrf`] (wrong: 403, nothing done).
//! - Pages extend `templates/base.html`: the template struct has a field
//!   `layout: Layout` (built by [`Layout::new`], which lists the folders)
//!   and fills `{% block title %}` and `{% block content %}`; render it with
//!   [`page`]. Errors are [`WebError`] (an HTML page with the right status).
//! - Mailbox names in URLs: build them with [`paths::mailbox_url`] /
//!   [`paths::message_url`]; routes take them as `Path<String>` (decoded).
//! - Sending: [`WebmailServices::submit`] queues a message as SMTP
//!   submission does (durably, before it returns).
#![forbid(unsafe_code)]

pub mod client;
pub mod compose;
pub mod config;
pub mod cookie;
pub mod error;
mod folders;
pub mod layout;
pub mod listen;
mod listing;
mod login;
pub mod message;
pub mod paths;
mod ratelimit;
pub mod session;
mod sessions;
mod settings;
mod static_files;
mod submit;

use axum::Router;
use axum::routing::{get, post};
use std::sync::Arc;
use types::DomainName;

pub use client::PeerInfo;
pub use config::WebmailConfig;
pub use cookie::{COOKIE_NAME, CookieKey, SessionCookie};
pub use error::{WebError, page};
pub use layout::Layout;
pub use login::{FAILED_LOGIN_DELAY, failed_login_page, failed_login_response};
pub use session::{Session, check_csrf};
pub use sessions::SessionTable;

/// What the pages that need no account use: a frontend has these only.
pub struct PublicServices {
    pub main_domain: DomainName,
    /// Where forwarded headers (`X-Forwarded-For`, `-Proto`) are believed.
    pub trusted_proxies: net::TrustedProxies,
}

/// Everything the web mail of a member that hosts accounts needs.
pub struct WebmailServices {
    pub directory: Arc<dyn directory::Directory>,
    pub store: Arc<store::Store>,
    pub queue: Arc<queue::Queue>,
    /// Which accounts this member hosts: a login for one hosted elsewhere
    /// is refused rather than creating the account here.
    pub locator: Arc<dyn cluster::Locator>,
    pub main_domain: DomainName,
    /// This server's host name, for the Message-ID of sent mail.
    pub hostname: String,
    pub cookie_key: CookieKey,
    pub trusted_proxies: net::TrustedProxies,
    pub config: WebmailConfig,
    pub sessions: SessionTable,
    /// Login failures per client address and per account.
    limiter: ratelimit::LoginLimiter,
}

/// What [`WebmailServices::new`] needs.
pub struct WebmailParts {
    pub directory: Arc<dyn directory::Directory>,
    pub store: Arc<store::Store>,
    pub queue: Arc<queue::Queue>,
    pub locator: Arc<dyn cluster::Locator>,
    pub main_domain: DomainName,
    pub hostname: String,
    pub cookie_key: CookieKey,
    pub trusted_proxies: net::TrustedProxies,
    pub config: WebmailConfig,
    /// The redb file that keeps sessions across restarts; `None`: memory only.
    pub sessions_path: Option<std::path::PathBuf>,
}

impl WebmailServices {
    /// Opens the session table (dropping sessions that expired while the
    /// server was down).
    pub fn new(parts: WebmailParts) -> Result<WebmailServices, sessions::SessionStoreError> {
        let sessions = SessionTable::open(parts.sessions_path.as_deref(), parts.config.session_limits())?;
        let limiter = ratelimit::LoginLimiter::new(parts.config.login_limits.clone());
        Ok(WebmailServices {
            directory: parts.directory,
            store: parts.store,
            queue: parts.queue,
            locator: parts.locator,
            main_domain: parts.main_domain,
            hostname: parts.hostname,
            cookie_key: parts.cookie_key,
            trusted_proxies: parts.trusted_proxies,
            config: parts.config,
            sessions,
            limiter,
        })
    }

    /// The public part's view of these services.
    pub fn public(&self) -> PublicServices {
        PublicServices { main_domain: self.main_domain.clone(), trusted_proxies: self.trusted_proxies.clone() }
    }
}

/// The largest body of any request but a compose POST (`max_upload`).
pub const FORM_LIMIT: usize = 64 * 1024;

/// Pages that need no account: GET /login, /static/*, and a 303 to /login
/// for anything else. A frontend serves these itself (it holds no account
/// data, CM-15).
pub fn public_router(services: Arc<PublicServices>) -> Router {
    Router::new()
        .route("/login", get(login::form_public))
        .route("/static/{file}", get(static_files::serve))
        .fallback(|| async { error::to_login() })
        .layer(axum::middleware::from_fn(error::security_headers))
        .with_state(services)
}

/// The whole web mail (public part included), on single servers and on the
/// member hosting the account.
pub fn router(services: Arc<WebmailServices>) -> Router {
    let max_upload = services.config.max_upload;
    Router::new()
        .route("/", get(|| async { error::see_other("/mail/INBOX") }))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/static/{file}", get(static_files::serve))
        .route("/mail/{mailbox}", get(folders::list))
        .route("/settings", get(settings::form).post(settings::change_password))
        .merge(message::routes())
        // Login, logout, settings and message actions are small forms: a
        // client may not make them buffer more. Layers reach only the routes
        // above, so compose (added next) keeps its own, larger limit.
        .layer(axum::extract::DefaultBodyLimit::max(FORM_LIMIT))
        .layer(axum::middleware::from_fn_with_state(FORM_LIMIT, error::limit_body))
        .merge(compose::routes(max_upload))
        .fallback(|| async { WebError::NotFound })
        .layer(axum::middleware::from_fn(error::security_headers))
        .with_state(services)
}

/// Serves [`router`] on a plain listener until `shutdown` turns true, with
/// the default connection caps and HTTP bounds.
pub async fn serve(
    listener: tokio::net::TcpListener,
    services: Arc<WebmailServices>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    listen::serve_app(listener, None, router(services), &net::http::ListenOptions::default(), shutdown).await;
    Ok(())
}

/// Serves [`router`] over TLS (cookies then get `Secure`).
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    services: Arc<WebmailServices>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let options = net::http::ListenOptions::default();
    listen::serve_app(listener, Some(acceptor), router(services), &options, shutdown).await;
    Ok(())
}
