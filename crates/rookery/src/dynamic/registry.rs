//! A dynamic cluster's member registry as last read from etcd, kept a
//! couple of seconds: a member's addresses are looked up on every proxied
//! login and every delivery to another member, and they change only when
//! a member starts or stops.

use coord::{CoordError, MemberInfo};
use parking_lot::Mutex;
use std::time::{Duration, Instant};

/// How long a read of the registry is used before it is read again.
const TTL: Duration = Duration::from_secs(2);

/// The live members, sorted by name, with what each published.
pub type Members = Vec<(String, MemberInfo)>;

#[derive(Default)]
pub struct RegistryCache {
    last: Mutex<Option<(Instant, Members)>>,
}

impl RegistryCache {
    /// The members: the cached read unless it is older than the TTL or
    /// `fresh` is asked, else a new one by `read`.
    pub async fn members<F, Fut>(&self, fresh: bool, read: F) -> Result<Members, CoordError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Members, CoordError>>,
    {
        if !fresh
            && let Some((at, members)) = self.last.lock().as_ref()
            && at.elapsed() < TTL
        {
            return Ok(members.clone());
        }
        let mut members = read().await?;
        members.sort_by(|a, b| a.0.cmp(&b.0));
        *self.last.lock() = Some((Instant::now(), members.clone()));
        Ok(members)
    }

    /// `member`'s entry, from the cache, or from a new read when the cache
    /// does not have it (it may have registered since).
    pub async fn find<F, Fut>(&self, member: &str, read: F) -> Result<Option<(String, MemberInfo)>, CoordError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Members, CoordError>>,
    {
        if let Some(found) = find(&self.members(false, &read).await?, member) {
            return Ok(Some(found));
        }
        Ok(find(&self.members(true, &read).await?, member))
    }
}

/// `name`'s entry in `members` (names compare without case).
pub fn find(members: &[(String, MemberInfo)], name: &str) -> Option<(String, MemberInfo)> {
    members.iter().find(|(member, _)| member.eq_ignore_ascii_case(name)).cloned()
}
