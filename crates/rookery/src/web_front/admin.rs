//! `/Cluster/<member>/...` on a frontend's admin listener (CM-19): the
//! admin pages and API of a backend that is out of reach from outside (a
//! firewall lets only the frontends in, CM-20), served through the
//! frontend. `<member>` is the member's name or its cluster IP address.
//!
//! Only administrators get through: the frontend checks the request's
//! credentials itself (HTTP Basic, checked against the shared directory,
//! or its own `rookery_admin` page session) and the backend does not ask
//! again: it believes the signed [`web::forwarded_admin::HEADER`], which
//! only a holder of the cluster secret can make. The password is not sent
//! on. `X-Forwarded-Prefix` tells the backend's pages to put the prefix
//! in their links.

use super::forward::{ClientFacts, ForwardError, Forwarder};
use crate::config::Config;
use crate::member::Hosts;
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use directory::ServiceKind;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::SystemTime;
use types::{AccountName, DomainName};

/// The path prefix of CM-19.
const PREFIX: &str = "/Cluster/";

/// What `/Cluster/...` needs on one member.
pub struct ClusterAdmin {
    services: Arc<web::AdminServices>,
    targets: Targets,
    forwarder: Forwarder,
}

impl ClusterAdmin {
    /// `None` on a single server (no cluster secret to vouch with).
    pub fn new(config: &Config, services: Arc<web::AdminServices>, hosts: Option<Arc<Hosts>>) -> Option<ClusterAdmin> {
        services.link_secret.as_ref()?;
        let source = config.cluster.link.as_ref().map(|link| link.address.ip()).filter(|ip| !ip.is_unspecified());
        let targets = Targets::new(config, hosts);
        Some(ClusterAdmin { services, targets, forwarder: Forwarder::new(source) })
    }
}

/// The admin listener's application: `/Cluster/...` here, the rest the
/// admin API and pages (`web::admin_router`).
pub fn router(services: Arc<web::AdminServices>, cluster: Option<Arc<ClusterAdmin>>) -> Router {
    let admin = web::admin_router(services);
    match cluster {
        Some(cluster) => Router::new()
            .route("/Cluster", axum::routing::any(forward))
            .route("/Cluster/{*rest}", axum::routing::any(forward))
            .with_state(cluster)
            .merge(admin),
        None => admin,
    }
}

/// Serves [`router`] on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    services: Arc<web::AdminServices>,
    cluster: Option<Arc<ClusterAdmin>>,
    options: net::http::ListenOptions,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    // The peer address is what /metrics admits without a login.
    web::listen::serve_app(listener, router(services, cluster), &options, shutdown).await
}

async fn forward(State(cluster): State<Arc<ClusterAdmin>>, request: Request) -> Response {
    let Some((target, rest)) = split(request.uri()) else {
        return (StatusCode::NOT_FOUND, "use /Cluster/<member name or address>/").into_response();
    };
    let Some(admin) = administrator(&cluster.services, request.headers()).await else {
        return refused(request.headers());
    };
    let addr = match cluster.targets.admin_address(&target).await {
        Ok(Some(addr)) => addr,
        Ok(None) => return (StatusCode::NOT_FOUND, format!("no cluster member {target} is known")).into_response(),
        Err(reason) => {
            tracing::warn!(target: "web::admin", %target, %reason, "cannot find a member's admin address");
            return (StatusCode::SERVICE_UNAVAILABLE, "the member's address cannot be read now").into_response();
        }
    };
    let Some(secret) = cluster.services.link_secret.as_deref() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "not a cluster member").into_response();
    };
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
    let client = ClientFacts { ip: peer.unwrap_or(IpAddr::from([0, 0, 0, 0])), tls: false };
    let (mut parts, body) = request.into_parts();
    parts.uri = match Uri::try_from(rest) {
        Ok(uri) => uri,
        Err(_) => return (StatusCode::BAD_REQUEST, "bad path").into_response(),
    };
    let vouch = web::forwarded_admin::sign(secret, &admin, SystemTime::now());
    let prefix = format!("{PREFIX}{target}");
    let headers = &mut parts.headers;
    // The backend takes the frontend's word (the signed header), not the
    // password, which it need not see.
    headers.remove(header::AUTHORIZATION);
    for (name, value) in [(web::forwarded_admin::HEADER, vouch), ("x-forwarded-prefix", prefix)] {
        match HeaderValue::from_str(&value) {
            Ok(value) => {
                headers.insert(name, value);
            }
            Err(_) => return (StatusCode::BAD_REQUEST, "bad member name").into_response(),
        }
    }
    tracing::info!(target: "web::admin", %admin, member = %target, path = %parts.uri, "admin request forwarded");
    match cluster.forwarder.forward(addr, Request::from_parts(parts, body), &client).await {
        Ok(response) => response,
        Err(error @ (ForwardError::Unreachable { .. } | ForwardError::Failed { .. })) => {
            tracing::info!(target: "web::admin", member = %target, %error, "member's admin listener unreachable");
            (StatusCode::BAD_GATEWAY, format!("cluster member {target} does not answer")).into_response()
        }
    }
}

/// `/Cluster/<target>/<rest>` → (target, "/<rest>?query"); `/Cluster/x`
/// alone is the member's root. `None` without a target.
pub fn split(uri: &Uri) -> Option<(String, String)> {
    let after = uri.path().strip_prefix(PREFIX)?;
    let (target, rest) = match after.split_once('/') {
        Some((target, rest)) => (target, format!("/{rest}")),
        None => (after, "/".to_owned()),
    };
    let target = percent_encoding::percent_decode_str(target).decode_utf8().ok()?.into_owned();
    if target.is_empty() {
        return None;
    }
    let rest = match uri.query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest,
    };
    Some((target, rest))
}

/// The administrator making the request: an admin page session of this
/// member, or HTTP Basic as an administrator (checked in the directory).
async fn administrator(services: &web::AdminServices, headers: &HeaderMap) -> Option<AccountName> {
    if let Some(admin) = web::pages::page_admin(services, headers).await {
        return Some(admin);
    }
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    let user = AccountName::parse(user, Some(&services.main_domain)).ok()?;
    if !services.is_administrator(&user).await {
        return None;
    }
    match services.directory.authenticate(&user, password).await {
        Ok(Some(_)) => Some(user),
        _ => None,
    }
}

/// A browser without a session goes to the admin login page; a client
/// that sent Basic credentials (or asks for JSON) gets 401.
fn refused(headers: &HeaderMap) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html && !headers.contains_key(header::AUTHORIZATION) {
        return (StatusCode::SEE_OTHER, [(header::LOCATION, "/admin/login")]).into_response();
    }
    (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic realm=\"rookery admin\"")], "administrators only")
        .into_response()
}

/// Where each member's admin listener is: `[cluster.services."name"]
/// admin`, else what the member published; a member is named by its name
/// or by an IP of its (link or admin) address.
struct Targets {
    configured: Vec<(String, Option<SocketAddr>, Option<SocketAddr>)>,
    hosts: Option<Arc<Hosts>>,
}

impl Targets {
    fn new(config: &Config, hosts: Option<Arc<Hosts>>) -> Targets {
        let mut configured: Vec<(String, Option<SocketAddr>, Option<SocketAddr>)> = config
            .cluster
            .services
            .iter()
            .map(|(name, services)| (name.clone(), config.cluster.members.get(name).copied(), services.admin))
            .collect();
        for (name, link) in &config.cluster.members {
            if !configured.iter().any(|(known, _, _)| known.eq_ignore_ascii_case(name)) {
                configured.push((name.clone(), Some(*link), None));
            }
        }
        Targets { configured, hosts }
    }

    async fn admin_address(&self, target: &str) -> Result<Option<SocketAddr>, String> {
        let ip: Option<IpAddr> = target.parse().ok();
        let names = |name: &str, link: Option<SocketAddr>, admin: Option<SocketAddr>| {
            name.eq_ignore_ascii_case(target)
                || ip.is_some_and(|ip| [link, admin].iter().flatten().any(|a| a.ip() == ip))
        };
        let mut server = None;
        for (name, link, admin) in &self.configured {
            if names(name, *link, *admin) {
                if let Some(admin) = admin {
                    return Ok(Some(*admin));
                }
                server = Some(name.clone());
            }
        }
        let Some(hosts) = &self.hosts else { return Ok(None) };
        let published =
            directory::HostDirectory::published_services(hosts.as_ref()).await.map_err(|e| e.to_string())?;
        for (name, services) in &published {
            let (link, admin) = (services.get(&ServiceKind::Link).copied(), services.get(&ServiceKind::Admin).copied());
            let named = server.as_deref().is_some_and(|s| DomainName::parse(s).is_ok_and(|s| &s == name));
            if named || names(name.as_str(), link, admin) {
                return Ok(admin);
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests;
