//! Request and response bodies.

use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct NewDomain {
    pub name: String,
    /// A Shared Domain, served by the whole cluster (CM-3); otherwise, in
    /// a cluster, a domain local to the member that adds it.
    #[serde(default)]
    pub shared: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct NewAccount {
    pub name: String,
    pub password: String,
    /// Bytes; absent or null: unlimited.
    #[serde(default)]
    pub quota_bytes: Option<u64>,
    /// In a cluster, the backend that is to host the account (its main
    /// domain, CM-2); absent: the member the call is made to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct NewPassword {
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct NewQuota {
    pub quota_bytes: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct NewAlias {
    pub alias: String,
    pub target: String,
}

/// `rookery account show`: the directory record with storage usage.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccountDetail {
    pub name: String,
    pub quota_bytes: Option<u64>,
    pub used_bytes: u64,
    pub messages: u64,
    pub created: u64,
    pub aliases: Vec<String>,
}

/// `GET /api/v1/domains/{domain}`: the domain, who serves it, and how many
/// accounts and aliases it has.
#[derive(Debug, Serialize, Deserialize)]
pub struct DomainDetail {
    pub name: String,
    /// The member a local domain belongs to; absent for a Shared Domain
    /// or on a single server.
    pub server: Option<String>,
    pub accounts: u64,
    pub aliases: u64,
}

/// One account in `GET /api/v1/domains/{domain}/accounts`; the usage
/// figures are there with `?usage=true` on a single server (in a cluster an
/// account's usage is asked of its host: `GET /api/v1/accounts/{account}/quota`).
#[derive(Debug, Serialize, Deserialize)]
pub struct AccountSummary {
    pub name: String,
    pub quota_bytes: Option<u64>,
    pub created: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<u64>,
}

/// `GET /api/v1/accounts/{account}/quota`: the limit and what is used.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccountQuota {
    pub account: String,
    /// Bytes; null: unlimited.
    pub quota_bytes: Option<u64>,
    pub used_bytes: u64,
    pub messages: u64,
}

/// `POST /api/v1/queue/import`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ImportRequest {
    /// The spool directory of the failed server, as this server sees it.
    pub dir: std::path::PathBuf,
}
