//! Who is asking and where the pages live: the administrator of a request
//! (session cookie, or a member's signed forwarding header), the CSRF token
//! every POST must echo, and the path prefix links are built under.

use super::session::{COOKIE_NAME, same_token};
use crate::AdminServices;
use axum::body::{Body, to_bytes};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use types::AccountName;

/// Admin forms are a few fields; anything bigger is not one of ours.
const MAX_FORM: usize = 64 * 1024;
const MAX_PREFIX: usize = 256;

/// The request's administrator and how to link back to the pages.
#[derive(Clone, Debug)]
pub struct Page {
    pub admin: AccountName,
    /// The token this administrator's forms carry.
    pub csrf: String,
    /// `""`, or e.g. `/Cluster/127.0.0.3` when a frontend serves the pages.
    pub prefix: String,
}

impl Page {
    /// `path` (starting `/admin`) as the browser must ask for it.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }

    pub fn redirect(&self, path: &str) -> Redirect {
        Redirect::to(&self.url(path))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Page {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Set by `require_admin`; missing only if a route escaped it.
        parts.extensions.get::<Page>().cloned().ok_or(StatusCode::UNAUTHORIZED)
    }
}

/// The administrator of a request, if any.
pub(crate) async fn authenticate(services: &AdminServices, headers: &HeaderMap) -> Option<Page> {
    if let Some(admin) = crate::auth::forwarded(services, headers).await {
        // Only a member holding the cluster secret can have made the
        // header, so only then is its path prefix believed (CM-19).
        let csrf = services.admin_pages.sessions.forwarded_csrf(&admin);
        return Some(Page { admin, csrf, prefix: forwarded_prefix(headers) });
    }
    let cookie = cookie(headers, COOKIE_NAME)?;
    let session = services.admin_pages.sessions.get(&cookie)?;
    Some(Page { admin: session.admin, csrf: session.csrf, prefix: String::new() })
}

/// Middleware of every page but the login page: no administrator, the
/// login page; a POST without this administrator's CSRF token, 403 before
/// the handler runs (so nothing is changed).
pub(crate) async fn require_admin(State(s): State<Arc<AdminServices>>, request: Request, next: Next) -> Response {
    let Some(page) = authenticate(&s, request.headers()).await else {
        return Redirect::to("/admin/login").into_response();
    };
    let request = if request.method() == Method::POST {
        match checked_form(request, &page.csrf).await {
            Ok(request) => request,
            Err(response) => return response,
        }
    } else {
        request
    };
    let mut request = request;
    request.extensions_mut().insert(page);
    next.run(request).await
}

#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// Reads the form (bounded), checks its `csrf` field, and gives the request back whole.
async fn checked_form(request: Request, expected: &str) -> Result<Request, Response> {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_FORM)
        .await
        .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "the form is too large").into_response())?;
    let probe = Request::from_parts(parts.clone(), Body::from(bytes.clone()));
    let given = match axum::Form::<CsrfField>::from_request(probe, &()).await {
        Ok(axum::Form(field)) => field.csrf,
        Err(_) => String::new(),
    };
    if given.is_empty() || !same_token(&given, expected) {
        tracing::warn!(target: "web::admin", path = %parts.uri.path(), "admin form refused: bad CSRF token");
        return Err(forbidden());
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

pub(crate) fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        axum::response::Html(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Refused</title></head>\
             <body><main><h1>Refused</h1><p role=\"alert\">This form did not come from this page or has \
             expired; nothing was changed. Go back, reload the page and try again.</p></main></body></html>",
        ),
    )
        .into_response()
}

/// `X-Forwarded-Prefix`, if it is a plain absolute path: it goes into
/// `Location` headers and links, so anything odd is dropped.
fn forwarded_prefix(headers: &HeaderMap) -> String {
    let Some(prefix) = headers.get("x-forwarded-prefix").and_then(|v| v.to_str().ok()) else {
        return String::new();
    };
    let prefix = prefix.trim_end_matches('/');
    let plain = prefix.starts_with('/')
        && prefix.len() <= MAX_PREFIX
        && !prefix.contains("//")
        && !prefix.split('/').any(|segment| segment == "..")
        && prefix.chars().all(|c| c.is_ascii_alphanumeric() || "/.-_:[]%".contains(c));
    if plain { prefix.to_owned() } else { String::new() }
}

/// The value of cookie `name` in the request, if sent.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// The TCP peer (set by `serve_admin`); unspecified where there is none (in-process calls).
pub(crate) fn client_ip(request: &Parts) -> IpAddr {
    request
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(value: &str) -> String {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-prefix", value.parse().unwrap());
        forwarded_prefix(&headers)
    }

    #[test]
    fn only_plain_prefixes_are_kept() {
        assert_eq!(prefix("/Cluster/127.0.0.3"), "/Cluster/127.0.0.3");
        assert_eq!(prefix("/Cluster/[::1]:8010/"), "/Cluster/[::1]:8010");
        for bad in ["Cluster", "//evil.example", "/a/../b", "/a\"b", "/a<b", "https://evil", "/a b"] {
            assert_eq!(prefix(bad), "", "{bad}");
        }
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append("cookie", "a=1; rookery_admin=xyz.abc".parse().unwrap());
        headers.append("cookie", "b=2".parse().unwrap());
        assert_eq!(cookie(&headers, COOKIE_NAME).as_deref(), Some("xyz.abc"));
        assert_eq!(cookie(&headers, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&headers, "c"), None);
    }
}
