//! `GET /api/v1/server/status`: this member's own live figures (open
//! connections per protocol, queue size, open web mail sessions). Each
//! member answers for itself; the cluster status asks every live member
//! for it over the cluster link, so the admin picture shows each member's
//! real figures rather than only those of the member serving the page.

use crate::AdminServices;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The path members ask each other for (over the link's `Api` operation).
pub const PATH: &str = "/api/v1/server/status";

/// One member's figures, as it counts them now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStatus {
    /// This member's server name (a single server: its main domain).
    pub name: String,
    /// backend, frontend or symmetric in a cluster; `None` on a single server.
    #[serde(default)]
    pub role: Option<String>,
    /// Client connections open now per listener protocol
    /// (`rookery_connections_open`); `None` when metrics are off.
    #[serde(default)]
    pub connections: Option<BTreeMap<String, u64>>,
    pub queue_messages: u64,
    /// Open web mail sessions (`rookery_sessions_logged_in{protocol="webmail"}`);
    /// `None` where no web mail runs (a frontend) or metrics are off.
    #[serde(default)]
    pub webmail_sessions: Option<u64>,
}

impl ServerStatus {
    /// Every protocol's open connections together.
    pub fn total_connections(&self) -> Option<u64> {
        self.connections.as_ref().map(|by_protocol| by_protocol.values().sum())
    }
}

/// The figures of the member this runs on.
pub fn local(s: &AdminServices) -> ServerStatus {
    let name = s.cluster.as_ref().map_or_else(|| s.main_domain.to_string(), |c| c.server_name());
    let metrics = crate::metrics::rendered();
    let by_protocol = |gauge: &str| metrics.as_deref().map(|text| per_protocol(text, gauge));
    ServerStatus {
        name,
        role: s.cluster.as_ref().and_then(|c| c.role()),
        connections: by_protocol("rookery_connections_open"),
        queue_messages: s.queue.len() as u64,
        webmail_sessions: by_protocol("rookery_sessions_logged_in")
            .and_then(|sessions| sessions.get("webmail").copied()),
    }
}

pub(crate) async fn show(State(s): State<Arc<AdminServices>>) -> Json<ServerStatus> {
    Json(local(&s))
}

/// The series of gauge `name` in Prometheus text, by their `protocol`
/// label (series without one are left out; negative values read as 0).
pub(crate) fn per_protocol(text: &str, name: &str) -> BTreeMap<String, u64> {
    let mut figures = BTreeMap::new();
    for line in text.lines() {
        let Some(labels) = line.strip_prefix(name).and_then(|rest| rest.strip_prefix('{')) else { continue };
        let Some((labels, value)) = labels.rsplit_once("} ") else { continue };
        let Some(protocol) = label(labels, "protocol") else { continue };
        let Ok(value) = value.trim().parse::<f64>() else { continue };
        *figures.entry(protocol.to_owned()).or_insert(0) += value.max(0.0) as u64;
    }
    figures
}

/// The value of label `key` in `a="x",b="y"` (our protocol names need no escapes).
fn label<'a>(labels: &'a str, key: &str) -> Option<&'a str> {
    labels.split(',').find_map(|pair| pair.trim().strip_prefix(key)?.strip_prefix("=\"")?.strip_suffix('"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauges_are_read_per_protocol_and_other_series_are_ignored() {
        let text = "# HELP rookery_connections_open Connections open now\n\
                    # TYPE rookery_connections_open gauge\n\
                    rookery_connections_open{protocol=\"imap\"} 3\n\
                    rookery_connections_open{protocol=\"smtp\"} 2\n\
                    rookery_connections_open{protocol=\"pop3\"} -1\n\
                    rookery_connections_opened_total{protocol=\"imap\"} 99\n\
                    rookery_connections_open_other{protocol=\"imap\"} 7\n\
                    rookery_connections_open{peer=\"x\"} 5\n";
        let figures = per_protocol(text, "rookery_connections_open");
        let expected: BTreeMap<String, u64> =
            [("imap".to_owned(), 3), ("pop3".to_owned(), 0), ("smtp".to_owned(), 2)].into();
        assert_eq!(figures, expected);
        assert!(per_protocol("", "rookery_connections_open").is_empty());
        let status = ServerStatus { connections: Some(figures), ..ServerStatus::default() };
        assert_eq!(status.total_connections(), Some(5));
        assert_eq!(ServerStatus::default().total_connections(), None);
    }

    #[test]
    fn an_answer_without_the_optional_figures_still_reads() {
        let status: ServerStatus = serde_json::from_str(r#"{"name":"sv2.test","queue_messages":4}"#).unwrap();
        assert_eq!(status.queue_messages, 4);
        assert_eq!(status.connections, None);
    }
}
