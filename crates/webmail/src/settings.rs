//! `GET/POST /settings`: the password change. The current password is
//! checked first (a stolen session alone cannot take the account over) and
//! wrong guesses count against the login limits. The account's other
//! sessions end.

use crate::client::ClientInfo;
use crate::error::WebError;
use crate::layout::Layout;
use crate::{Session, WebmailServices, check_csrf, page};
use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

/// Bounds on a new password: long enough to matter, short enough that
/// hashing it is cheap.
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct SettingsQuery {
    notice: Option<String>,
}

pub async fn form(
    State(services): State<Arc<WebmailServices>>,
    session: Session,
    Query(query): Query<SettingsQuery>,
) -> Result<Response, WebError> {
    let mut layout = Layout::new(&services, &session, None).await?;
    if query.notice.as_deref() == Some("password") {
        layout = layout.with_notice("Password changed.");
    }
    page(&SettingsPage { layout, error: None })
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

pub async fn change_password(
    State(services): State<Arc<WebmailServices>>,
    session: Session,
    client: ClientInfo,
    Form(form): Form<PasswordForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf)?;
    let problem = if form.new != form.confirm {
        Some("The new password and its confirmation differ.".to_owned())
    } else if form.new.chars().count() < MIN_PASSWORD_CHARS {
        Some(format!("The new password must have at least {MIN_PASSWORD_CHARS} characters."))
    } else if form.new.len() > MAX_PASSWORD_BYTES {
        Some(format!("The new password must have at most {MAX_PASSWORD_BYTES} bytes."))
    } else {
        None
    };
    if let Some(problem) = problem {
        return refuse(&services, &session, problem).await;
    }
    services.limiter.check(client.ip, Some(&session.account))?;
    if services.directory.authenticate(&session.account, &form.current).await?.is_none() {
        services.limiter.failed(client.ip, Some(&session.account));
        tokio::time::sleep(crate::FAILED_LOGIN_DELAY).await;
        return refuse(&services, &session, "The current password is wrong.".to_owned()).await;
    }
    services.directory.set_password(&session.account, &form.new).await?;
    services.sessions.remove_others(&session.account, &session.id).await;
    tracing::info!(target: "webmail::settings", account = %session.account, "password changed");
    Ok(crate::error::see_other("/settings?notice=password"))
}

async fn refuse(services: &WebmailServices, session: &Session, error: String) -> Result<Response, WebError> {
    let layout = Layout::new(services, session, None).await?;
    let response = page(&SettingsPage { layout, error: Some(error) })?;
    Ok((StatusCode::BAD_REQUEST, response).into_response())
}
