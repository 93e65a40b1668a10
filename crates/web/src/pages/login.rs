//! `/admin/login` and `/admin/logout`. The login form is protected by a
//! double-submit token (a random `rookery_admin_csrf` cookie echoed in the
//! form), since there is no session yet to hold one; failed logins are
//! counted per client address and answered 429 when there are too many.

use super::context::{self, Page, client_ip, cookie, forbidden};
use super::session::{COOKIE_NAME, LOGIN_CSRF_COOKIE, random_token, same_token};
use crate::AdminServices;
use askama::Template;
use axum::body::{Body, to_bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use std::sync::Arc;
use types::AccountName;

/// A user name, a password and a token.
const MAX_LOGIN_FORM: usize = 16 * 1024;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    error: Option<&'a str>,
}

#[derive(serde::Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

pub async fn page(State(s): State<Arc<AdminServices>>, request: Request) -> Response {
    if let Some(page) = context::authenticate(&s, request.headers()).await {
        return page.redirect("/admin/domains").into_response();
    }
    let (parts, _) = request.into_parts();
    show(&s, &parts, StatusCode::OK, None)
}

/// The login page with the browser's double-submit token when it sent a
/// well-formed one, else a fresh one: a second login tab (or a favicon
/// request sent to the login page) then does not void the first tab's form.
fn show(s: &AdminServices, parts: &Parts, status: StatusCode, error: Option<&str>) -> Response {
    let token = match cookie(&parts.headers, LOGIN_CSRF_COOKIE).filter(|value| is_token(value)) {
        Some(existing) => existing,
        None => random_token(),
    };
    let mut response = super::render(status, &LoginPage { csrf: &token, error });
    let attributes = cookie_attributes(s, parts);
    if let Ok(value) = HeaderValue::from_str(&format!("{LOGIN_CSRF_COOKIE}={token}; {attributes}")) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

pub async fn submit(State(s): State<Arc<AdminServices>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let ip = client_ip(&parts);
    if let Some(wait) = s.admin_pages.limiter.blocked(ip) {
        let message = format!("Too many failed logins from your address: try again in {} seconds.", wait.as_secs());
        let mut response = show(&s, &parts, StatusCode::TOO_MANY_REQUESTS, Some(&message));
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
        return response;
    }
    let Ok(bytes) = to_bytes(body, MAX_LOGIN_FORM).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "the form is too large").into_response();
    };
    let form = Request::from_parts(parts.clone(), Body::from(bytes));
    let Ok(axum::Form(form)) = axum::Form::<LoginForm>::from_request(form, &()).await else {
        return show(&s, &parts, StatusCode::BAD_REQUEST, Some("The form was incomplete."));
    };
    let expected = cookie(&parts.headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if form.csrf.is_empty() || !same_token(&form.csrf, &expected) {
        return forbidden();
    }
    match check(&s, &form).await {
        Ok(Some(admin)) => {
            s.admin_pages.limiter.succeeded(ip);
            tracing::info!(target: "web::admin", %admin, %ip, "admin logged in to the pages");
            let session = s.admin_pages.sessions.create(admin);
            let attributes = cookie_attributes(&s, &parts);
            let mut response = Redirect::to("/admin/domains").into_response();
            for value in [format!("{COOKIE_NAME}={session}; {attributes}"), expired(LOGIN_CSRF_COOKIE)] {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    response.headers_mut().append(header::SET_COOKIE, value);
                }
            }
            response
        }
        Ok(None) => {
            s.admin_pages.limiter.failed(ip);
            tracing::warn!(target: "web::admin", %ip, "failed admin login");
            let error = "Wrong name or password, or not an administrator of this server.";
            show(&s, &parts, StatusCode::UNAUTHORIZED, Some(error))
        }
        Err(e) => show(&s, &parts, StatusCode::SERVICE_UNAVAILABLE, Some(&e)),
    }
}

/// The administrator the form logs in, `None` for wrong credentials.
async fn check(s: &AdminServices, form: &LoginForm) -> Result<Option<AccountName>, String> {
    let Ok(user) = AccountName::parse(form.username.trim(), Some(&s.main_domain)) else { return Ok(None) };
    if form.password.is_empty() || !s.is_administrator(&user).await {
        return Ok(None);
    }
    match s.directory.authenticate(&user, &form.password).await {
        Ok(found) => Ok(found.map(|_| user)),
        Err(e) => {
            tracing::error!(target: "web::admin", error = %e, "admin login: directory failed");
            Err("The directory cannot be reached now; try again shortly.".into())
        }
    }
}

pub async fn logout(State(s): State<Arc<AdminServices>>, page: Page, request: Request) -> Response {
    if let Some(session) = cookie(request.headers(), COOKIE_NAME) {
        s.admin_pages.sessions.remove(&session);
    }
    tracing::info!(target: "web::admin", admin = %page.admin, "admin logged out of the pages");
    let mut response = page.redirect("/admin/login").into_response();
    if let Ok(value) = HeaderValue::from_str(&expired(COOKIE_NAME)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `Secure` when the browser's connection is TLS: the admin listener
/// itself is plain, so only a cluster member's `X-Forwarded-Proto` can say so.
fn cookie_attributes(s: &AdminServices, parts: &Parts) -> &'static str {
    let proto = parts.headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok());
    let tls = proto == Some("https") && s.metrics_from.contains(client_ip(parts));
    if tls { "Path=/; HttpOnly; SameSite=Strict; Secure" } else { "Path=/; HttpOnly; SameSite=Strict" }
}

/// Whether `value` is a token as [`random_token`] makes them: 32 bytes in
/// base64url without padding. Anything else is replaced, never echoed.
fn is_token(value: &str) -> bool {
    use base64::Engine;
    value.len() == 43
        && base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value).is_ok_and(|bytes| bytes.len() == 32)
}

fn expired(name: &str) -> String {
    format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}
