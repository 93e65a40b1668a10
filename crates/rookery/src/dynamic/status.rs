//! `rookery cluster status` for a dynamic cluster: the members in the
//! registry, the controller, and each member's open accounts and queue
//! size, all read from etcd (every member publishes its own); the live
//! figures of each are then asked of it over the link (`remote_admin`).

use super::Accounts;
use web::ApiError;
use web::cluster::{ClusterStatus, MemberStatus};

pub async fn of_dynamic(accounts: &Accounts, cluster: &str) -> Result<ClusterStatus, ApiError> {
    let coord = accounts.coord();
    let unavailable =
        |e: coord::CoordError| ApiError::Unavailable(format!("cannot read the cluster state in etcd: {e}"));
    let registered = coord.members().await.map_err(unavailable)?;
    let open = coord.open_accounts().await.map_err(unavailable)?;
    let controller = coord.controller().leader().await.map_err(unavailable)?;
    let mut members: Vec<MemberStatus> = registered
        .into_iter()
        .map(|(name, info)| MemberStatus {
            open_accounts: Some(open.get(&name).copied().unwrap_or(0) as u64),
            role: info.role,
            live: true,
            link: info.link.map(|addr| addr.to_string()),
            imap: info.imap.map(|addr| addr.to_string()),
            queue_messages: info.queue_messages,
            accounts: None,
            connections: None,
            webmail_sessions: None,
            name,
        })
        .collect();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(ClusterStatus { kind: "dynamic".into(), name: cluster.to_owned(), controller, members })
}
