//! Reads that need no lease: who owns an account, the member registry,
//! the controller. Shared by [`Reader`] (frontends) and the coordinator.

use crate::etcd::{Etcd, LOG};
use crate::keys::Keys;
use crate::{CoordError, MemberInfo};
use etcd_client::{EventType, GetOptions, KeyValue, SortOrder, SortTarget, WatchOptions};
use std::collections::BTreeMap;
use std::time::Duration;
use tracing::warn;

/// How long a frontend's read may wait for one etcd node.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Read-only access for frontends (no lease, no registry entry).
pub struct Reader {
    etcd: Etcd,
    keys: Keys,
}

impl Reader {
    /// Connects and checks that some endpoint answers.
    pub async fn connect(endpoints: Vec<String>, cluster: String) -> Result<Reader, CoordError> {
        let etcd = Etcd::new(&endpoints, READ_TIMEOUT).await?;
        etcd.probe().await?;
        Ok(Reader { etcd, keys: Keys::new(&cluster) })
    }

    /// The member that has the account open, if any.
    pub async fn owner(&self, account: &str) -> Result<Option<String>, CoordError> {
        owner(&self.etcd, &self.keys, account).await
    }

    /// Live members and what they published.
    pub async fn members(&self) -> Result<Vec<(String, MemberInfo)>, CoordError> {
        members(&self.etcd, &self.keys).await
    }

    /// The controller's member name.
    pub async fn leader(&self) -> Result<Option<String>, CoordError> {
        leader(&self.etcd, &self.keys).await
    }
}

pub(crate) async fn owner(etcd: &Etcd, keys: &Keys, account: &str) -> Result<Option<String>, CoordError> {
    let key = keys.account(account)?;
    Ok(get(etcd, "owner", &key).await?.map(|kv| String::from_utf8_lossy(kv.value()).into_owned()))
}

pub(crate) async fn get(etcd: &Etcd, what: &str, key: &str) -> Result<Option<KeyValue>, CoordError> {
    let response = etcd.run(what, true, |mut client| async move { client.get(key, None).await }).await?;
    Ok(response.kvs().first().cloned())
}

pub(crate) async fn get_prefix(etcd: &Etcd, what: &str, prefix: &str) -> Result<Vec<KeyValue>, CoordError> {
    let response = etcd
        .run(what, true, |mut client| async move { client.get(prefix, Some(GetOptions::new().with_prefix())).await })
        .await?;
    Ok(response.kvs().to_vec())
}

pub(crate) async fn members(etcd: &Etcd, keys: &Keys) -> Result<Vec<(String, MemberInfo)>, CoordError> {
    let prefix = keys.members();
    let mut members = Vec::new();
    for kv in get_prefix(etcd, "members", &prefix).await? {
        let Some(name) = Keys::name_under(&prefix, kv.key()) else { continue };
        match serde_json::from_slice::<MemberInfo>(kv.value()) {
            Ok(info) => members.push((name.to_owned(), info)),
            // Another version of rookery may publish more; the name alone
            // still says the member is alive.
            Err(error) => {
                warn!(target: LOG, "member {name}'s registry entry is unreadable ({error}); shown without info");
                members.push((name.to_owned(), MemberInfo::default()));
            }
        }
    }
    Ok(members)
}

/// Open accounts per member, from the ownership keys.
pub(crate) async fn open_accounts(etcd: &Etcd, keys: &Keys) -> Result<BTreeMap<String, usize>, CoordError> {
    let mut counts = BTreeMap::new();
    for kv in get_prefix(etcd, "open accounts", &keys.accounts()).await? {
        *counts.entry(String::from_utf8_lossy(kv.value()).into_owned()).or_insert(0) += 1;
    }
    Ok(counts)
}

/// The controller's member name. The leader is the candidate key created first, as etcd's
/// own `Leader` call decides; read directly, so "no leader" is a plain
/// `None` and not an error message to parse.
pub(crate) async fn leader(etcd: &Etcd, keys: &Keys) -> Result<Option<String>, CoordError> {
    let prefix = keys.election_prefix();
    let prefix = prefix.as_str();
    let response = etcd
        .run("leader", true, |mut client| async move {
            let options =
                GetOptions::new().with_prefix().with_sort(SortTarget::Create, SortOrder::Ascend).with_limit(1);
            client.get(prefix, Some(options)).await
        })
        .await?;
    Ok(response.kvs().first().map(|kv| String::from_utf8_lossy(kv.value()).into_owned()))
}

/// Returns once `key` does not exist (at once if it does not now), by an
/// etcd watch. With `created`, a key of another creation revision (the
/// old one deleted, a new one put) counts as gone too.
pub(crate) async fn wait_deleted(etcd: &Etcd, key: &str, created: Option<i64>) -> Result<(), CoordError> {
    let response = etcd.run("watch get", true, |mut client| async move { client.get(key, None).await }).await?;
    match response.kvs().first() {
        None => return Ok(()),
        Some(kv) if created.is_some_and(|revision| revision != kv.create_revision()) => return Ok(()),
        Some(_) => {}
    }
    let revision = response.header().map(|header| header.revision()).unwrap_or(0);
    let options = WatchOptions::new().with_start_revision(revision + 1);
    let mut stream = etcd
        .run("watch", true, |mut client| {
            let options = options.clone();
            async move { client.watch(key, Some(options)).await }
        })
        .await?;
    loop {
        let message = stream.message().await.map_err(|error| CoordError::Unavailable(format!("watch: {error}")))?;
        let Some(message) = message else {
            return Err(CoordError::Unavailable("watch stream ended".into()));
        };
        if message.canceled() {
            return Err(CoordError::Unavailable(format!("watch canceled: {}", message.cancel_reason())));
        }
        if message.events().iter().any(|event| event.event_type() == EventType::Delete) {
            return Ok(());
        }
    }
}

/// Every open account with its owner, and the account's key.
pub(crate) async fn owners(etcd: &Etcd, keys: &Keys) -> Result<Vec<Owned>, CoordError> {
    let prefix = keys.accounts();
    let all = get_prefix(etcd, "owners", &prefix).await?;
    Ok(all
        .iter()
        .filter_map(|kv| {
            let account = Keys::name_under(&prefix, kv.key())?.to_owned();
            let owner = String::from_utf8_lossy(kv.value()).into_owned();
            Some(Owned { account, owner, key: kv.key().to_vec() })
        })
        .collect())
}

/// One open account as etcd has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owned {
    pub account: String,
    pub owner: String,
    /// The raw key, for a conditional delete.
    pub key: Vec<u8>,
}
