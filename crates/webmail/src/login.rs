//! Login and logout. The login form is protected by a double-submit token:
//! GET /login sets a random `rookery_csrf` cookie (SameSite=Strict) and puts
//! the same value in the form; POST /login accepts only when both match.
//! No server state is needed for that, so any member (a frontend too) can
//! serve the form and any member can check it.

use crate::client::ClientInfo;
use crate::cookie::{COOKIE_NAME, SessionCookie, cookie_value};
use crate::error::{WebError, page, see_other};
use crate::session::{Session, check_csrf, tokens_match};
use crate::sessions::random_token;
use crate::{PublicServices, WebmailServices};
use askama::Template;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use types::AccountName;

/// The login form's token cookie.
pub const CSRF_COOKIE: &str = "rookery_csrf";
/// How long a failed login waits before it answers: slows guessing, and a
/// frontend waits the same for an unknown account so the two look alike.
pub const FAILED_LOGIN_DELAY: Duration = Duration::from_millis(500);
const FAILED_LOGIN_TEXT: &str = "Wrong account name or password.";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    username: &'a str,
    error: Option<&'a str>,
}

/// The login page with the request's form token when it has a well-formed
/// one, else a fresh one (and its cookie). Reusing it keeps two open login
/// tabs (or a favicon request redirected here) from voiding each other's form.
fn login_page(username: &str, error: Option<&str>, secure: bool, headers: Option<&HeaderMap>) -> Response {
    let csrf = match headers.and_then(|headers| cookie_value(headers, CSRF_COOKIE)).filter(|v| is_token(v)) {
        Some(existing) => existing.to_owned(),
        None => random_token(),
    };
    let mut response = match page(&LoginPage { csrf: &csrf, username, error }) {
        Ok(response) => response,
        Err(error) => return error.into_response(),
    };
    let cookie = cookie_header(CSRF_COOKIE, &csrf, "Strict", None, secure);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

/// Whether `value` is a form token as [`random_token`] makes them: 32 bytes
/// in base64url without padding (43 characters, canonical trailing bits).
/// Anything else a client sends is replaced, never echoed into the page.
fn is_token(value: &str) -> bool {
    use base64::Engine;
    value.len() == 43
        && base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value).is_ok_and(|bytes| bytes.len() == 32)
}

/// A `Set-Cookie` value; `max_age` `Some(0)` deletes the cookie.
fn cookie_header(name: &str, value: &str, same_site: &str, max_age: Option<u64>, secure: bool) -> HeaderValue {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
    if let Some(seconds) = max_age {
        cookie.push_str(&format!("; Max-Age={seconds}"));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    // Tokens and cookie values are base64url: always a valid header.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// The page a failed login gets, the same whatever failed (wrong password,
/// unknown account): a frontend answers an unknown account with it after
/// waiting [`FAILED_LOGIN_DELAY`]. Its new form-token cookie is not marked
/// `Secure`; see [`failed_login_page`].
pub fn failed_login_response() -> Response {
    failed_login_page(false)
}

/// [`failed_login_response`] for a client on TLS (`secure`): the form-token
/// cookie then gets `Secure`.
pub fn failed_login_page(secure: bool) -> Response {
    login_page("", Some(FAILED_LOGIN_TEXT), secure, None)
}

/// GET /login on a frontend.
pub async fn form_public(State(_): State<Arc<PublicServices>>, client: ClientInfo, headers: HeaderMap) -> Response {
    login_page("", None, client.tls, Some(&headers))
}

/// GET /login: the form, or the inbox for a user already logged in.
pub async fn form(session: Option<Session>, client: ClientInfo, headers: HeaderMap) -> Response {
    match session {
        Some(_) => see_other("/mail/INBOX"),
        None => login_page("", None, client.tls, Some(&headers)),
    }
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// POST /login.
pub async fn submit(
    State(services): State<Arc<WebmailServices>>,
    client: ClientInfo,
    headers: axum::http::HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let expected = cookie_value(&headers, CSRF_COOKIE).unwrap_or_default();
    if !tokens_match(expected, &form.csrf) {
        return Err(WebError::Forbidden);
    }
    let username = form.username.trim();
    let account = AccountName::parse(username, Some(&services.main_domain)).ok();
    services.limiter.check(client.ip, account.as_ref())?;
    let Some(account) = account.filter(|_| !form.password.is_empty()) else {
        return Ok(failed(&services, client, None, username, &headers).await);
    };
    if services.directory.authenticate(&account, &form.password).await?.is_none() {
        tracing::info!(target: "webmail::login", %account, ip = %client.ip, "login failed");
        return Ok(failed(&services, client, Some(&account), username, &headers).await);
    }
    // A frontend sends each login to the account's host; one that reaches
    // another member must not open (and so create) the account here.
    match services.locator.locate(&account).await {
        Ok(cluster::Location::Here) => {}
        Ok(cluster::Location::Elsewhere { server }) => {
            return Err(WebError::Unavailable(format!("{account} is hosted on {server}, not here")));
        }
        Err(error) => return Err(WebError::Unavailable(error.to_string())),
    }
    services.limiter.succeeded(&account);
    let session = services.sessions.create(&account).await.map_err(|e| WebError::Unavailable(e.to_string()))?;
    tracing::info!(target: "webmail::login", %account, ip = %client.ip, "logged in");
    net::logged_in::count_login("webmail");
    let cookie = SessionCookie { account, id: session.id }.encode(&services.cookie_key);
    let max_age = services.config.session_max.as_secs();
    let mut response = see_other("/mail/INBOX");
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, cookie_header(COOKIE_NAME, &cookie, "Lax", Some(max_age), client.tls));
    headers.append(header::SET_COOKIE, cookie_header(CSRF_COOKIE, "", "Strict", Some(0), client.tls));
    Ok(response)
}

async fn failed(
    services: &WebmailServices,
    client: ClientInfo,
    account: Option<&AccountName>,
    name: &str,
    headers: &HeaderMap,
) -> Response {
    services.limiter.failed(client.ip, account);
    tokio::time::sleep(FAILED_LOGIN_DELAY).await;
    login_page(name, Some(FAILED_LOGIN_TEXT), client.tls, Some(headers))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// POST /logout: ends the session here (its cookie is then worthless
/// everywhere) and clears the cookie.
pub async fn logout(
    State(services): State<Arc<WebmailServices>>,
    session: Session,
    client: ClientInfo,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf)?;
    services.sessions.remove(&session.id).await;
    tracing::info!(target: "webmail::login", account = %session.account, "logged out");
    let mut response = see_other("/login");
    response.headers_mut().append(header::SET_COOKIE, cookie_header(COOKIE_NAME, "", "Lax", Some(0), client.tls));
    Ok(response)
}
