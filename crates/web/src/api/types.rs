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
