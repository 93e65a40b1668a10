//! The admin API in a cluster (CM-19, CM-20, CM-24): a call about an
//! account runs on the member that hosts it, and any call can be sent to a
//! named member through this one, so that backends behind a firewall are
//! administered through a frontend. The calls travel over the cluster link;
//! the member that receives one runs it on its own API without a second
//! login (the link is authenticated by the cluster secret) and never sends
//! it on again, so a stale host cache cannot make a loop.

use crate::api::server::ServerStatus;
use crate::api::types::NewAccount;
use crate::{AdminServices, ApiError};
use async_trait::async_trait;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tower::ServiceExt;
use types::AccountName;

/// Bodies of admin calls are small JSON documents; a bigger one is refused
/// before it is forwarded.
const MAX_FORWARDED_BODY: usize = 1 << 20;

/// One call of the JSON admin API, as it crosses the cluster link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCall {
    pub method: String,
    /// Path and query, starting `/api/v1/`.
    pub path: String,
    pub body: Option<String>,
}

/// The answer to an [`ApiCall`]: the HTTP status and the JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiAnswer {
    pub status: u16,
    pub body: String,
}

/// A cluster member as the admin API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    pub name: String,
    pub link: String,
    /// Whether it answered a ping over the link just now.
    pub reachable: bool,
}

/// What the admin API needs of the cluster; implemented by the server over
/// its locator and cluster link.
#[async_trait]
pub trait ClusterAdmin: Send + Sync {
    /// The member that hosts `account`, or `None` when it is this one.
    async fn host_of(&self, account: &AccountName) -> Result<Option<String>, ApiError>;
    /// Runs `call` on `member`'s admin API over the cluster link.
    async fn forward(&self, member: &str, call: ApiCall) -> Result<ApiAnswer, ApiError>;
    /// The other members, pinged.
    async fn members(&self) -> Vec<MemberInfo>;
    /// Whether `name` is a member (its main domain, CM-2).
    async fn is_member(&self, name: &str) -> bool;
    /// Whether this member keeps accounts (a frontend does not, CM-15).
    fn hosts_accounts(&self) -> bool;
    /// This member's name (`hostServer` of its accounts).
    fn server_name(&self) -> String;
    /// This member's role (backend, frontend, symmetric), as
    /// `GET /api/v1/server/status` reports it to the other members.
    fn role(&self) -> Option<String> {
        None
    }
    /// Whether a `hostServer` (or a local domain's server) names this
    /// member: its own name, or its dynamic cluster's.
    fn is_here(&self, server: &str) -> bool {
        server.eq_ignore_ascii_case(&self.server_name())
    }
    /// The cluster as `rookery cluster status` shows it.
    async fn status(&self) -> Result<ClusterStatus, ApiError>;
    /// The member that serves `account` now (in a dynamic cluster: has it
    /// open, `None` when nobody does), found without opening it.
    async fn owner(&self, account: &AccountName) -> Result<Option<String>, ApiError>;
}

/// The cluster as a whole: `GET /api/v1/cluster/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// "static" or "dynamic".
    pub kind: String,
    /// The dynamic cluster's name, or this member's.
    pub name: String,
    /// The elected controller of a dynamic cluster (CM-12).
    pub controller: Option<String>,
    pub members: Vec<MemberStatus>,
}

/// One member in [`ClusterStatus`]; figures it could not learn are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberStatus {
    pub name: String,
    pub role: String,
    /// Registered (dynamic) or answering a ping (static) just now.
    pub live: bool,
    pub link: Option<String>,
    pub imap: Option<String>,
    /// Accounts it has open (dynamic).
    pub open_accounts: Option<u64>,
    pub queue_messages: Option<u64>,
    /// Accounts whose `hostServer` is this member (static clusters).
    #[serde(default)]
    pub accounts: Option<u64>,
    /// Client connections it serves now, all protocols together.
    #[serde(default)]
    pub connections: Option<u64>,
    /// Web mail sessions open on it now.
    #[serde(default)]
    pub webmail_sessions: Option<u64>,
}

impl MemberStatus {
    /// Takes the figures `server` reported of itself (`GET /api/v1/server/status`).
    pub fn apply(&mut self, server: &ServerStatus) {
        self.queue_messages = Some(server.queue_messages);
        self.connections = server.total_connections().or(self.connections);
        self.webmail_sessions = server.webmail_sessions.or(self.webmail_sessions);
        if self.role.is_empty()
            && let Some(role) = &server.role
        {
            self.role.clone_from(role);
        }
    }
}

/// Fills in this member's own entry of `status` with its live figures,
/// which no other member can report for it.
pub fn with_local_figures(s: &AdminServices, mut status: ClusterStatus) -> ClusterStatus {
    let here = crate::api::server::local(s);
    for member in status.members.iter_mut().filter(|m| m.name.eq_ignore_ascii_case(&here.name)) {
        member.apply(&here);
    }
    status
}

/// The owner of one account: `GET /api/v1/cluster/owners/{account}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountOwner {
    pub account: String,
    pub owner: Option<String>,
}

/// Runs `call` on this member's own API, as a call forwarded by another
/// member: no login, no forwarding.
pub async fn call_local(services: Arc<AdminServices>, call: ApiCall) -> ApiAnswer {
    let answer = |status: StatusCode, body: String| ApiAnswer { status: status.as_u16(), body };
    if !call.path.starts_with("/api/v1/") {
        return answer(StatusCode::BAD_REQUEST, error_json(&format!("not an API path: {}", call.path)));
    }
    let Ok(method) = Method::from_bytes(call.method.as_bytes()) else {
        return answer(StatusCode::BAD_REQUEST, error_json(&format!("bad method {:?}", call.method)));
    };
    let mut request = Request::builder().method(method).uri(&call.path);
    if call.body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = match request.body(Body::from(call.body.unwrap_or_default())) {
        Ok(request) => request,
        Err(e) => return answer(StatusCode::BAD_REQUEST, error_json(&format!("bad request: {e}"))),
    };
    let router = crate::api::routes().with_state(services);
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    match to_bytes(response.into_body(), MAX_FORWARDED_BODY * 16).await {
        Ok(body) => answer(status, String::from_utf8_lossy(&body).into_owned()),
        Err(e) => answer(StatusCode::INTERNAL_SERVER_ERROR, error_json(&format!("reading the answer: {e}"))),
    }
}

fn error_json(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

/// Middleware of the public API: a call about an account hosted on another
/// member runs there (`/api/v1/accounts/{account}...`, and account
/// creation, which names its host in `server` or runs here on a backend).
pub(crate) async fn route_to_host(State(s): State<Arc<AdminServices>>, request: Request, next: Next) -> Response {
    let Some(cluster) = s.cluster.clone() else { return next.run(request).await };
    match target_member(&s, cluster.as_ref(), request).await {
        Ok(Target::Here(request)) => next.run(request).await,
        Ok(Target::Member(member, call)) => forwarded(cluster.as_ref(), &member, call).await,
        Err(e) => e.into_response(),
    }
}

enum Target {
    Here(Request),
    Member(String, ApiCall),
}

async fn target_member(s: &AdminServices, cluster: &dyn ClusterAdmin, request: Request) -> Result<Target, ApiError> {
    let path = request.uri().path().to_owned();
    if let Some(rest) = path.strip_prefix("/api/v1/accounts/") {
        let segment = rest.split('/').next().unwrap_or_default();
        let name = percent_decode(segment)?;
        let account = AccountName::parse(&name, Some(&s.main_domain))?;
        return match cluster.host_of(&account).await? {
            None => Ok(Target::Here(request)),
            Some(member) => Ok(Target::Member(member, into_call(request).await?)),
        };
    }
    if path == "/api/v1/accounts" && request.method() == Method::POST {
        let call = into_call(request).await?;
        let new = call.body.as_deref().and_then(|body| serde_json::from_str::<NewAccount>(body).ok());
        let Some(new) = new else { return Ok(Target::Here(from_call(call)?)) };
        let account = AccountName::parse(&new.name, Some(&s.main_domain))?;
        let server = new.server;
        // A local domain's accounts live on its member only (CM-1, CM-2).
        if let Ok(Some(owner)) = s.directory.domain_server(account.domain()).await {
            let is = |name: &str| owner.as_str().eq_ignore_ascii_case(name);
            let here = cluster.is_here(owner.as_str());
            let consistent = match server.as_deref() {
                Some(named) => is(named),
                None => here,
            };
            if !consistent {
                return Err(ApiError::BadRequest(format!(
                    "{} is local to {owner}: its accounts are added there (--server {owner}), or make it a \
                     shared domain",
                    account.domain()
                )));
            }
        }
        let here = server.as_deref().is_none_or(|named| named.eq_ignore_ascii_case(&cluster.server_name()));
        let known = match &server {
            Some(named) if !here => cluster.is_member(named).await,
            _ => true,
        };
        return match server {
            Some(server) if !known => Err(ApiError::BadRequest(format!("{server} is not a member of this cluster"))),
            Some(server) if !here => Ok(Target::Member(server, call)),
            _ if !cluster.hosts_accounts() => Err(ApiError::BadRequest(
                "this member is a frontend and keeps no accounts: name the backend that hosts the new account \
                 (\"server\", or --server on the command line)"
                    .into(),
            )),
            _ => Ok(Target::Here(from_call(call)?)),
        };
    }
    Ok(Target::Here(request))
}

/// `/api/v1/cluster/members`: the members this one knows, pinged.
pub(crate) async fn members(State(s): State<Arc<AdminServices>>) -> Result<axum::Json<Vec<MemberInfo>>, ApiError> {
    let cluster = s.cluster.as_ref().ok_or_else(not_clustered)?;
    Ok(axum::Json(cluster.members().await))
}

/// `/api/v1/cluster/status`: members, roles, the controller, open
/// accounts and queue sizes.
pub(crate) async fn status(State(s): State<Arc<AdminServices>>) -> Result<axum::Json<ClusterStatus>, ApiError> {
    let cluster = s.cluster.as_ref().ok_or_else(not_clustered)?;
    Ok(axum::Json(with_local_figures(&s, cluster.status().await?)))
}

/// `/api/v1/cluster/owners/{account}`: which member serves the account.
pub(crate) async fn owner(
    State(s): State<Arc<AdminServices>>,
    Path(account): Path<String>,
) -> Result<axum::Json<AccountOwner>, ApiError> {
    let cluster = s.cluster.as_ref().ok_or_else(not_clustered)?;
    let account = AccountName::parse(&account, Some(&s.main_domain))?;
    let owner = cluster.owner(&account).await?;
    Ok(axum::Json(AccountOwner { account: account.to_string(), owner }))
}

/// `/api/v1/cluster/members/{member}/{*rest}`: any call, run on `member`
/// (CM-19: backends administered through a frontend).
pub(crate) async fn via_member(
    State(s): State<Arc<AdminServices>>,
    Path((member, rest)): Path<(String, String)>,
    request: Request,
) -> Response {
    let Some(cluster) = s.cluster.clone() else { return not_clustered().into_response() };
    let query = request.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
    let mut call = match into_call(request).await {
        Ok(call) => call,
        Err(e) => return e.into_response(),
    };
    call.path = format!("/api/v1/{rest}{query}");
    if member.eq_ignore_ascii_case(&cluster.server_name()) {
        let answer = call_local(s.clone(), call).await;
        return answer_response(answer);
    }
    if !cluster.is_member(&member).await {
        return ApiError::NotFound(format!("{member} is not a member of this cluster")).into_response();
    }
    forwarded(cluster.as_ref(), &member, call).await
}

fn not_clustered() -> ApiError {
    ApiError::NotFound("this server is not a cluster member".into())
}

async fn forwarded(cluster: &dyn ClusterAdmin, member: &str, call: ApiCall) -> Response {
    tracing::info!(target: "cluster::admin", member, method = %call.method, path = %call.path, "admin call forwarded");
    match cluster.forward(member, call).await {
        Ok(answer) => answer_response(answer),
        Err(e) => e.into_response(),
    }
}

fn answer_response(answer: ApiAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    if answer.body.is_empty() {
        return status.into_response();
    }
    (status, [("content-type", "application/json")], answer.body).into_response()
}

async fn into_call(request: Request) -> Result<ApiCall, ApiError> {
    let method = request.method().to_string();
    let path = request.uri().path_and_query().map(ToString::to_string).unwrap_or_default();
    let body = to_bytes(request.into_body(), MAX_FORWARDED_BODY)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(format!("request body over {MAX_FORWARDED_BODY} bytes")))?;
    let body = if body.is_empty() {
        None
    } else {
        Some(String::from_utf8(body.to_vec()).map_err(|_| ApiError::BadRequest("body is not UTF-8".into()))?)
    };
    Ok(ApiCall { method, path, body })
}

fn from_call(call: ApiCall) -> Result<Request, ApiError> {
    let mut request = Request::builder().method(call.method.as_str()).uri(&call.path);
    if call.body.is_some() {
        request = request.header("content-type", "application/json");
    }
    request.body(Body::from(call.body.unwrap_or_default())).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// One path segment, percent-decoded (RFC 3986).
fn percent_decode(segment: &str) -> Result<String, ApiError> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .map(|name| name.into_owned())
        .map_err(|_| ApiError::BadRequest(format!("bad percent-encoding in {segment:?}")))
}

#[cfg(test)]
mod tests;
