//! `/admin/cluster`: the cluster as a picture (see [`super::svg`]) and as
//! a table, and `/admin/cluster.svg`, the picture alone, which the page's
//! script fetches every 2 s to keep it live.

use super::svg::{self, Picture};
use super::{Flash, Page, render};
use crate::AdminServices;
use crate::cluster::{ClusterStatus, MemberStatus};
use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

#[derive(Template)]
#[template(path = "cluster.html")]
struct ClusterPage<'a> {
    page: &'a Page,
    flash: Flash,
    section: &'static str,
    status: ClusterStatus,
    /// The picture, rendered by askama (escaped) and inlined as is.
    picture: String,
}

pub async fn page(State(s): State<Arc<AdminServices>>, page: Page) -> Response {
    let (status, code, flash) = match status(&s).await {
        Ok(status) => (status, StatusCode::OK, Flash::default()),
        Err((code, message)) => (empty(&s), code, Flash::error(message)),
    };
    let picture = match svg::draw(&status).render() {
        Ok(svg) => svg,
        Err(e) => return internal(e),
    };
    render(code, &ClusterPage { page: &page, flash, section: "cluster", status, picture })
}

pub async fn picture(State(s): State<Arc<AdminServices>>) -> Response {
    let picture: Picture = match status(&s).await {
        Ok(status) => svg::draw(&status),
        Err((code, message)) => return (code, message).into_response(),
    };
    match picture.render() {
        Ok(svg) => ([(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")], svg).into_response(),
        Err(e) => internal(e),
    }
}

/// The cluster's status, each other member's figures as it reported them
/// and this member's own counted here; a single server is a cluster of one.
async fn status(s: &AdminServices) -> Result<ClusterStatus, (StatusCode, String)> {
    let Some(cluster) = &s.cluster else { return Ok(empty(s)) };
    let status = cluster.status().await.map_err(|e| {
        let response = e.into_response();
        (response.status(), "the cluster status cannot be read now".to_owned())
    })?;
    Ok(crate::cluster::with_local_figures(s, status))
}

fn empty(s: &AdminServices) -> ClusterStatus {
    let here = crate::api::server::local(s);
    let mut member = MemberStatus {
        name: here.name.clone(),
        role: if s.cluster.is_some() { String::new() } else { "single server".into() },
        live: true,
        ..MemberStatus::default()
    };
    member.apply(&here);
    ClusterStatus {
        kind: if s.cluster.is_some() { "static" } else { "single" }.into(),
        name: here.name,
        controller: None,
        members: vec![member],
    }
}

fn internal(e: askama::Error) -> Response {
    tracing::error!(target: "web::admin", error = %e, "cluster picture failed to render");
    (StatusCode::INTERNAL_SERVER_ERROR, "the picture could not be drawn").into_response()
}
