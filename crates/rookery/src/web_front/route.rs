//! Where one web mail request goes, decided from its method, path and
//! cookie alone (no I/O), so that the rules can be tested exhaustively.

use axum::http::{HeaderMap, Method};
use types::AccountName;
use webmail::CookieKey;

/// The decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A login form: to the backend of the account the form names (the
    /// body has to be read to know it).
    Login,
    /// A request with a valid session cookie: to the backend of the
    /// account the cookie names. The session itself is checked there.
    Account(AccountName),
    /// Everything else (the login page, static files, and requests with no
    /// cookie or a cookie whose MAC is wrong): served here by the public
    /// router, which sends anything needing a session to /login. A forged
    /// cookie thus never reaches a backend.
    Public,
    /// What browsers fetch on their own (`/favicon.ico`): 404 here. The
    /// public router would send it to /login, whose fresh form token
    /// cookie would replace the one of the login form on screen.
    NotFound,
}

/// Routes a request. A login goes by the form even when a cookie names
/// another account: the user is logging in as someone (maybe someone else).
pub fn route(method: &Method, path: &str, headers: &HeaderMap, key: &CookieKey) -> Route {
    if method == Method::POST && path == "/login" {
        return Route::Login;
    }
    if path == "/favicon.ico" {
        return Route::NotFound;
    }
    match webmail::cookie::from_headers(headers, key) {
        Some(cookie) => Route::Account(cookie.account),
        None => Route::Public,
    }
}
