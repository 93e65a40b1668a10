use super::types::ImportRequest;
use crate::{AdminServices, ApiError};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use queue::{Imported, QueueEntry, QueueError, QueueId};
use std::sync::Arc;

pub async fn list(State(s): State<Arc<AdminServices>>) -> Json<Vec<QueueEntry>> {
    Json(s.queue.list())
}

pub async fn show(State(s): State<Arc<AdminServices>>, Path(id): Path<String>) -> Result<Json<QueueEntry>, ApiError> {
    let id = parse(&id)?;
    s.queue.get(id).map(Json).ok_or_else(|| ApiError::NotFound(format!("no queued message {id}")))
}

/// `POST /queue/{id}/{action}`: retry, hold, release. Answers with the
/// message's states after it, `null` when it has already left the queue
/// (a retry that delivered it at once).
pub async fn act(
    State(s): State<Arc<AdminServices>>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Json<Option<QueueEntry>>, ApiError> {
    let id = parse(&id)?;
    let done = match action.as_str() {
        "retry" => s.queue.retry(id).await,
        "hold" => s.queue.hold(id).await,
        "release" => s.queue.release(id).await,
        other => return Err(ApiError::NotFound(format!("no queue action {other:?} (retry, hold, release)"))),
    };
    done.map_err(error)?;
    Ok(Json(s.queue.get(id)))
}

pub async fn delete(State(s): State<Arc<AdminServices>>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    s.queue.delete(parse(&id)?).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn import(
    State(s): State<Arc<AdminServices>>,
    Json(request): Json<ImportRequest>,
) -> Result<Json<Imported>, ApiError> {
    s.queue.import(&request.dir).await.map(Json).map_err(error)
}

fn parse(id: &str) -> Result<QueueId, ApiError> {
    id.parse().map_err(|_| ApiError::BadRequest(format!("bad queue id {id:?}")))
}

fn error(e: QueueError) -> ApiError {
    match e {
        QueueError::NotFound(id) => ApiError::NotFound(format!("no queued message {id}")),
        QueueError::Config(reason) => ApiError::BadRequest(reason),
        other => ApiError::Internal(other.to_string()),
    }
}
