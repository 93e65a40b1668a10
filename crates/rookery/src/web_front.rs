//! Web mail on the members that route sessions (frontends, symmetric and
//! dynamic members; DESIGN §4, CM-16). Each HTTP request is routed on its
//! own, so a browser's session survives the loss of the frontend it used:
//! the next request through any other frontend carries the same cookie and
//! reaches the same backend, where the session lives.
//!
//! - A valid session cookie (its MAC checked with the key every member
//!   derives from the cluster secret) names the account: the request goes
//!   to the account's backend, found by the same [`proxy::BackendLookup`]
//!   as IMAP logins, with [`proxy::Protocol::Web`]; on a member that hosts
//!   the account ("here") the member's own web mail serves it in process.
//! - `POST /login` goes to the backend of the form's `username`.
//! - Anything else, forged cookies included, is served here by
//!   [`webmail::public_router`] (login page, static files, redirects to the
//!   login page): a frontend holds no account data (CM-15).
//!
//! A request another member forwarded (from an address on the link's
//! allow-list) is served here by a hosting member, never forwarded again,
//! so stale caches cannot bounce a request between members.

pub mod admin;
mod forward;
mod listen;
mod login_form;
mod outgoing;
mod route;
mod unavailable;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::response::Response;
use forward::{ClientFacts, ForwardError, Forwarder};
use outgoing::{Outgoing, Replay};
use proxy::{Backend, BackendLookup, Protocol};
use route::Route;

pub use listen::start;
use std::net::IpAddr;
use std::sync::Arc;
use tower::ServiceExt;
use types::{AccountName, DomainName};
use webmail::{CookieKey, PeerInfo, PublicServices, WebmailServices};

/// The web router of one member, shared by its web listeners.
pub struct WebFront {
    lookup: Box<dyn BackendLookup>,
    key: CookieKey,
    /// The pages that need no account ([`webmail::public_router`]).
    public: Router,
    /// Whose forwarded headers the public pages believe (balancers, members).
    public_services: Arc<PublicServices>,
    /// This member's own web mail, when it hosts accounts.
    local: Option<Router>,
    forwarder: Forwarder,
    main_domain: DomainName,
    /// The other members: their requests are served here, not forwarded.
    members: net::TrustedProxies,
}

/// What [`WebFront::new`] needs.
pub struct WebFrontParts {
    pub lookup: Box<dyn BackendLookup>,
    /// [`cookie_key`] of the cluster secret.
    pub key: CookieKey,
    pub main_domain: DomainName,
    /// Load balancers and members: whose `X-Forwarded-For` is believed.
    pub proxies: net::TrustedProxies,
    /// The members alone.
    pub members: net::TrustedProxies,
    /// The member's own web mail (symmetric and dynamic members).
    pub local: Option<Arc<WebmailServices>>,
    /// The cluster address forwarded requests leave from (CM-21).
    pub source: Option<IpAddr>,
}

/// The session cookie key of a cluster: every member derives the same one
/// from the link's shared secret, so any member can check any cookie.
pub fn cookie_key(secret: &cluster::link::ClusterSecret) -> CookieKey {
    CookieKey::derive(&secret.derive(COOKIE_PURPOSE))
}

/// What the cluster secret is derived with for session cookies (the link's
/// own key is never used for anything else).
pub const COOKIE_PURPOSE: &str = "rookery web session cookies v1";

/// The parts of a member's web router from its config. The balancers of
/// `[webmail] trusted_proxies` and the members (`cluster.link.allow`) may
/// say who the client is; `members`: the members alone.
pub fn parts(
    config: &crate::config::Config,
    lookup: Box<dyn BackendLookup>,
    secret: &cluster::link::ClusterSecret,
    local: Option<Arc<WebmailServices>>,
    members: net::TrustedProxies,
) -> anyhow::Result<WebFrontParts> {
    use anyhow::Context;
    let link = config.cluster.link.as_ref();
    let allowed = link.into_iter().flat_map(|link| link.allow.iter().map(|ip| ip.to_string()));
    let proxies = net::TrustedProxies::parse(config.webmail.trusted_proxies.iter().cloned().chain(allowed))
        .context("webmail.trusted_proxies")?;
    Ok(WebFrontParts {
        lookup,
        key: cookie_key(secret),
        main_domain: config.main_domain(),
        proxies,
        members,
        local,
        // Requests leave from the cluster address, which the backends
        // trust to say who the client is (CM-21).
        source: link.map(|link| link.address.ip()).filter(|ip| !ip.is_unspecified()),
    })
}

impl WebFront {
    pub fn new(parts: WebFrontParts) -> WebFront {
        let public_services =
            Arc::new(PublicServices { main_domain: parts.main_domain.clone(), trusted_proxies: parts.proxies });
        WebFront {
            lookup: parts.lookup,
            key: parts.key,
            public: webmail::public_router(public_services.clone()),
            public_services,
            local: parts.local.map(webmail::router),
            forwarder: Forwarder::new(parts.source),
            main_domain: parts.main_domain,
            members: parts.members,
        }
    }

    /// The router to serve (with `PeerInfo` connect info).
    pub fn router(self: Arc<Self>) -> Router {
        Router::new().fallback(handle).with_state(self)
    }

    async fn handle(&self, request: Request) -> Response {
        let peer = request.extensions().get::<ConnectInfo<PeerInfo>>().map(|info| info.0);
        if let (Some(local), Some(peer)) = (&self.local, peer)
            && self.members.contains(peer.addr.ip())
        {
            tracing::debug!(target: "webmail::front", member = %peer.addr, "a member's forwarded request; served here");
            return serve(local, request).await;
        }
        let (request, client) = self.client_facts(request).await;
        match route::route(request.method(), request.uri().path(), request.headers(), &self.key) {
            Route::Public => serve(&self.public, request).await,
            Route::NotFound => unavailable::not_found(),
            Route::Account(account) => {
                let outgoing = Outgoing::of(request, peer);
                self.dispatch(&account, outgoing, &client, Unknown::Public).await
            }
            Route::Login => self.login(request, peer, &client).await,
        }
    }

    /// Who the client is: the TCP peer, or what a trusted balancer says.
    async fn client_facts(&self, request: Request) -> (Request, ClientFacts) {
        let (mut parts, body) = request.into_parts();
        let info = match webmail::client::ClientInfo::from_request_parts(&mut parts, &self.public_services).await {
            Ok(info) => info,
            Err(never) => match never {},
        };
        (Request::from_parts(parts, body), ClientFacts { ip: info.ip, tls: info.tls })
    }

    /// `POST /login`: read the (small) form, route by its user name.
    async fn login(&self, request: Request, peer: Option<PeerInfo>, client: &ClientFacts) -> Response {
        let (parts, body) = request.into_parts();
        let form = match login_form::read(&parts.headers, body).await {
            Ok(form) => form,
            Err(login_form::FormError::TooLarge) => return unavailable::form_too_large(),
            Err(login_form::FormError::Broken) => return unavailable::form_broken(),
        };
        let Some(account) = login_form::account(&form, &self.main_domain) else {
            return failed_login().await;
        };
        let replay = Replay {
            method: parts.method,
            uri: parts.uri,
            version: parts.version,
            headers: parts.headers,
            body: form,
            peer,
        };
        self.dispatch(&account, Outgoing::Replayable(replay), client, Unknown::FailedLogin).await
    }

    /// Sends a request to `account`'s backend. When the backend is down,
    /// the lookup may wait for another member to take the account over
    /// (a dynamic cluster) and say to ask again: then a request whose body
    /// is still here goes there; otherwise the user gets the 503 page.
    async fn dispatch(
        &self,
        account: &AccountName,
        mut outgoing: Outgoing,
        client: &ClientFacts,
        unknown: Unknown,
    ) -> Response {
        // A lookup that keeps answering "ask again" must not hold the
        // request forever: a takeover needs one new answer, rarely two.
        for _ in 0..MAX_TAKEOVERS {
            let backend = match self.lookup.backend(account, Protocol::Web).await {
                Ok(Some(backend)) => backend,
                Ok(None) => {
                    return match unknown {
                        Unknown::Public => serve(&self.public, outgoing.request()).await,
                        Unknown::FailedLogin => failed_login().await,
                    };
                }
                Err(error) => {
                    tracing::warn!(target: "webmail::front", %account, %error, "no backend for a web request");
                    return unavailable::response();
                }
            };
            let addr = match (backend, &self.local) {
                (Backend::Here, Some(local)) => return serve(local, outgoing.request()).await,
                (Backend::Here, None) => {
                    tracing::warn!(target: "webmail::front", %account, "the lookup placed the account on this member, which hosts none");
                    return unavailable::response();
                }
                (Backend::There(addr), _) => addr,
            };
            let again = outgoing.replay();
            match self.forwarder.forward(addr, outgoing.request(), client).await {
                Ok(response) => return response,
                Err(ForwardError::Unreachable { reason, .. }) => {
                    tracing::info!(target: "webmail::front", %account, %addr, %reason, "backend unreachable");
                    match again {
                        Some(replay) if self.lookup.unreachable(account, backend).await => {
                            outgoing = Outgoing::Replayable(replay);
                        }
                        _ => return unavailable::response(),
                    }
                }
                Err(error @ ForwardError::Failed { .. }) => {
                    tracing::info!(target: "webmail::front", %account, %error, "web request failed");
                    return unavailable::response();
                }
            }
        }
        tracing::warn!(target: "webmail::front", %account, "no reachable backend after {MAX_TAKEOVERS} tries");
        unavailable::response()
    }
}

/// How many backends one request tries (the first and those the lookup
/// names after a takeover).
const MAX_TAKEOVERS: usize = 3;

async fn handle(State(front): State<Arc<WebFront>>, request: Request) -> Response {
    front.handle(request).await
}

/// What an account the lookup does not know gets.
#[derive(Clone, Copy)]
enum Unknown {
    /// A cookie for an account that is gone: the public pages (login).
    Public,
    /// A login: the same page, after the same wait, as a wrong password.
    FailedLogin,
}

async fn failed_login() -> Response {
    tokio::time::sleep(webmail::FAILED_LOGIN_DELAY).await;
    webmail::failed_login_response()
}

/// Runs `request` through an in-process router.
async fn serve(router: &Router, request: Request) -> Response {
    match router.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests;
