//! Errors as the API reports them: an HTTP status and `{"error": "..."}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use directory::DirectoryError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("authentication required")]
    Unauthorized,
    /// A request body over the API's limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Another cluster member is needed and cannot be reached now.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(target: "web::admin", error = %self, "admin request failed");
        }
        let mut response = (status, Json(serde_json::json!({ "error": self.to_string() }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert("www-authenticate", axum::http::HeaderValue::from_static("Basic realm=\"rookery admin\""));
        }
        response
    }
}

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        use DirectoryError::*;
        match e {
            UnknownDomain(_) | UnknownAccount(_) | UnknownAlias(_) => ApiError::NotFound(e.to_string()),
            DomainExists(_) | AccountExists(_) | AliasExists(_) | NameTaken(_) | DomainNotEmpty(_) => {
                ApiError::Conflict(e.to_string())
            }
            EmptyPassword => ApiError::BadRequest(e.to_string()),
            Backend(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<store::StoreError> for ApiError {
    fn from(e: store::StoreError) -> Self {
        match e {
            // Being moved, or served by another member now: asking again
            // later (or of its host) works.
            store::StoreError::Frozen(_) | store::StoreError::NotOwned(_) => ApiError::Unavailable(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<types::NameError> for ApiError {
    fn from(e: types::NameError) -> Self {
        ApiError::BadRequest(format!("bad name: {e}"))
    }
}
