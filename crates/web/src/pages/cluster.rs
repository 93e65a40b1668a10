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

/// The cluster's status, with this member's own queue size filled in
/// where the status does not carry it; a single server is a cluster of one.
async fn status(s: &AdminServices) -> Result<ClusterStatus, (StatusCode, String)> {
    let Some(cluster) = &s.cluster else { return Ok(empty(s)) };
    let mut status = cluster.status().await.map_err(|e| {
        let response = e.into_response();
        (response.status(), "the cluster status cannot be read now".to_owned())
    })?;
    let me = cluster.server_name();
    for member in status.members.iter_mut().filter(|m| m.name.eq_ignore_ascii_case(&me)) {
        member.queue_messages = member.queue_messages.or(Some(s.queue.len() as u64));
        member.connections = member.connections.or_else(open_connections);
    }
    Ok(status)
}

/// Client connections open on this member now, every listener together,
/// as counted for `/metrics` (`rookery_connections_open{protocol}`).
fn open_connections() -> Option<u64> {
    Some(sum_of(&crate::metrics::rendered()?, "rookery_connections_open"))
}

/// The sum of every series of gauge `name` in Prometheus text.
fn sum_of(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|line| line.strip_prefix(name).is_some_and(|rest| rest.starts_with(['{', ' '])))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|value| value.max(0.0) as u64)
        .sum()
}

fn empty(s: &AdminServices) -> ClusterStatus {
    let name = s.cluster.as_ref().map_or_else(|| s.main_domain.to_string(), |c| c.server_name());
    ClusterStatus {
        kind: if s.cluster.is_some() { "static" } else { "single" }.into(),
        name: name.clone(),
        controller: None,
        members: vec![MemberStatus {
            name,
            role: if s.cluster.is_some() { String::new() } else { "single server".into() },
            live: true,
            link: None,
            imap: None,
            open_accounts: None,
            queue_messages: Some(s.queue.len() as u64),
            accounts: None,
            connections: open_connections(),
        }],
    }
}

fn internal(e: askama::Error) -> Response {
    tracing::error!(target: "web::admin", error = %e, "cluster picture failed to render");
    (StatusCode::INTERNAL_SERVER_ERROR, "the picture could not be drawn").into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn gauges_are_summed_over_their_series_only() {
        let text = "# HELP rookery_connections_open Connections open now\n\
                    # TYPE rookery_connections_open gauge\n\
                    rookery_connections_open{protocol=\"imap\"} 3\n\
                    rookery_connections_open{protocol=\"smtp\"} 2\n\
                    rookery_connections_opened_total 99\n\
                    rookery_connections_open_other 7\n";
        assert_eq!(super::sum_of(text, "rookery_connections_open"), 5);
        assert_eq!(super::sum_of("", "rookery_connections_open"), 0);
    }
}
