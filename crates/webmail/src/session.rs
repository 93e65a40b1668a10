//! The logged-in user of a request, and the CSRF check of its forms.

use crate::WebmailServices;
use crate::error::WebError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::sync::Arc;
use types::AccountName;

/// A request's live session. Taking it as a handler argument makes the
/// page need a login: a request without a valid cookie, or whose session
/// is unknown here (logged out, expired, evicted), gets a 303 to `/login`.
#[derive(Debug, Clone)]
pub struct Session {
    pub account: AccountName,
    /// The token each of this session's forms carries in its `csrf` field.
    pub csrf: String,
    /// The session id (what logout ends).
    pub id: String,
}

impl FromRequestParts<Arc<WebmailServices>> for Session {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, services: &Arc<WebmailServices>) -> Result<Self, WebError> {
        let cookie = crate::cookie::from_headers(&parts.headers, &services.cookie_key).ok_or(WebError::Login)?;
        let active = services.sessions.lookup(&cookie).await.ok_or(WebError::Login)?;
        Ok(Session { account: active.account, csrf: active.csrf, id: active.id })
    }
}

/// Checks a submitted form's `csrf` field against the session's token, in
/// constant time. Call it before changing anything: a wrong or missing
/// token is a 403 page.
pub fn check_csrf(session: &Session, token: &str) -> Result<(), WebError> {
    tokens_match(&session.csrf, token).then_some(()).ok_or(WebError::Forbidden)
}

/// Whether two tokens are equal and not empty, in constant time.
pub(crate) fn tokens_match(expected: &str, given: &str) -> bool {
    let (expected, given) = (expected.as_bytes(), given.as_bytes());
    // Lengths are not secret (every token has the same one); the bytes are.
    if expected.is_empty() || expected.len() != given.len() {
        return false;
    }
    expected.iter().zip(given).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
}

/// `Option<Session>`: pages that show something else to a visitor who is
/// not logged in (the login page sends a logged-in user to the inbox).
impl axum::extract::OptionalFromRequestParts<Arc<WebmailServices>> for Session {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Arc<WebmailServices>,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(<Session as FromRequestParts<_>>::from_request_parts(parts, services).await.ok())
    }
}
