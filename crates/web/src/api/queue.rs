use crate::{AdminServices, ApiError};
use axum::Json;
use axum::extract::{Path, State};
use queue::{QueueEntry, QueueId};
use std::sync::Arc;

pub async fn list(State(s): State<Arc<AdminServices>>) -> Json<Vec<QueueEntry>> {
    Json(s.queue.list())
}

pub async fn show(State(s): State<Arc<AdminServices>>, Path(id): Path<String>) -> Result<Json<QueueEntry>, ApiError> {
    let id: QueueId = id.parse().map_err(|_| ApiError::BadRequest(format!("bad queue id {id:?}")))?;
    s.queue.get(id).map(Json).ok_or_else(|| ApiError::NotFound(format!("no queued message {id}")))
}
