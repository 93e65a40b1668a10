//! The member's lease: granting it, keeping it alive, fencing the member
//! before it can expire, and replacing it after a loss.
//!
//! One task per coordinator owns the lease. It renews every TTL/3 on a
//! keep-alive stream, one request in flight at a time, so each answer
//! belongs to a known send time; validity runs from that send time. A
//! timer fires the fence at the deadline whatever the stream is doing
//! (a gRPC call to a stopped etcd simply never answers).

use crate::coordinator::Shared;
use crate::etcd::{LOG, is_lease_not_found};
use crate::{CoordError, Epoch};
use etcd_client::{LeaseKeepAliveStream, LeaseKeeper, PutOptions};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::time::{sleep_until, timeout};
use tracing::{debug, info, warn};

/// The first retry after a failed renewal or grant; doubled up to the cap.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_CAP: Duration = Duration::from_secs(2);

/// "Serving until": a monotonic deadline as nanoseconds since `base`, so
/// that [`FenceClock::serving`] is one atomic load and one clock read.
pub(crate) struct FenceClock {
    base: Instant,
    /// 0 = fenced.
    until: AtomicU64,
    /// Send time of the last renewal etcd confirmed (0 = none yet).
    last_sent: AtomicU64,
}

impl FenceClock {
    pub(crate) fn new() -> FenceClock {
        FenceClock { base: Instant::now(), until: AtomicU64::new(0), last_sent: AtomicU64::new(0) }
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }

    pub(crate) fn serving(&self) -> bool {
        self.nanos(Instant::now()) < self.until.load(Ordering::Acquire)
    }

    /// etcd confirmed a renewal (or the grant) sent at `sent`.
    fn confirmed(&self, sent: Instant, validity: Duration) {
        // `+ 1`: a send at the very base instant still counts as "some".
        self.last_sent.store(self.nanos(sent) + 1, Ordering::Release);
        self.until.fetch_max(self.nanos(sent + validity), Ordering::AcqRel);
    }

    fn fence(&self) {
        self.until.store(0, Ordering::Release);
    }

    fn deadline(&self) -> Instant {
        self.base + Duration::from_nanos(self.until.load(Ordering::Acquire))
    }

    pub(crate) fn last_renewal(&self) -> Option<Instant> {
        match self.last_sent.load(Ordering::Acquire) {
            0 => None,
            nanos => Some(self.base + Duration::from_nanos(nanos - 1)),
        }
    }
}

/// Why serving under a lease ended.
enum End {
    /// No renewal was confirmed in time: the fence deadline passed.
    Deadline,
    /// etcd says the lease no longer exists.
    Lost,
    /// The coordinator is shutting down (or every handle was dropped).
    Stopped,
}

/// Grants a lease, registers the member under it and starts serving with
/// the next epoch number.
pub(crate) async fn grant(shared: &Shared) -> Result<(), CoordError> {
    let config = &shared.config;
    let seconds = i64::try_from(config.lease_ttl.as_secs() + u64::from(config.lease_ttl.subsec_nanos() > 0))
        .map_err(|_| CoordError::Invalid("lease_ttl too large".into()))?;
    let sent = Instant::now();
    let granted = shared
        .etcd
        .run("lease grant", true, |mut client| async move { client.lease_grant(seconds, None).await })
        .await?;
    let lease = granted.id();
    // etcd raises a TTL below its minimum; a lower one is never granted,
    // but take whichever is smaller to be safe.
    let ttl = config.lease_ttl.min(Duration::from_secs(u64::try_from(granted.ttl()).unwrap_or(0)));
    let validity = ttl.saturating_sub(config.fence_margin);
    let key = shared.keys.member(&config.member);
    let info = shared.info_json();
    let registered = shared
        .etcd
        .run("register member", true, |mut client| {
            let (key, info) = (key.clone(), info.clone());
            async move { client.put(key, info, Some(PutOptions::new().with_lease(lease))).await }
        })
        .await;
    if let Err(error) = registered {
        revoke(shared, lease).await;
        return Err(error);
    }
    shared.lease.store(lease, Ordering::Release);
    shared.validity.store(u64::try_from(validity.as_nanos()).unwrap_or(u64::MAX), Ordering::Release);
    shared.clock.confirmed(sent, validity);
    shared.epoch.send_modify(|epoch| *epoch = Epoch { number: epoch.number + 1, serving: true });
    info!(target: LOG, "member {} serves under lease {lease:x} (epoch {})", config.member, shared.epoch.borrow().number);
    Ok(())
}

/// Revokes a lease, so its keys go at once; a lease etcd no longer knows
/// is as good as revoked.
async fn try_revoke(shared: &Shared, lease: i64) -> Result<(), CoordError> {
    match shared.etcd.run("lease revoke", true, |mut client| async move { client.lease_revoke(lease).await }).await {
        Ok(_) => Ok(()),
        Err(CoordError::Rejected(message)) if message.contains("lease not found") => Ok(()),
        Err(error) => Err(error),
    }
}

/// [`try_revoke`] as best effort (on the way out): expiry does the same
/// a TTL later.
pub(crate) async fn revoke(shared: &Shared, lease: i64) {
    if let Err(error) = try_revoke(shared, lease).await {
        debug!(target: LOG, "revoking lease {lease:x}: {error}");
    }
}

/// The lease task: serves under the lease `grant` gave, and after each
/// loss revokes the old lease and grants a new one, until stopped.
pub(crate) async fn run(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let end = keep_alive(&shared, &mut stop).await;
        fence(&shared);
        let old = shared.lease.load(Ordering::Acquire);
        match end {
            End::Stopped => {
                revoke(&shared, old).await;
                return;
            }
            End::Deadline => warn!(
                target: LOG,
                "member {} fenced: no lease renewal confirmed in time; replacing lease {old:x}", shared.config.member
            ),
            End::Lost => {
                warn!(target: LOG, "member {} fenced: etcd lost lease {old:x}; granting a new one", shared.config.member)
            }
        }
        if !replace(&shared, old, &mut stop).await {
            revoke(&shared, shared.lease.load(Ordering::Acquire)).await;
            return;
        }
    }
}

fn fence(shared: &Shared) {
    shared.clock.fence();
    shared.epoch.send_if_modified(|epoch| std::mem::replace(&mut epoch.serving, false));
}

/// Revokes the old lease (its account keys must be gone before this member
/// serves again, or it would find itself owning accounts it dropped) and
/// grants a new one, retrying with backoff while etcd is unreachable.
/// False when stopped meanwhile.
async fn replace(shared: &Shared, old: i64, stop: &mut watch::Receiver<bool>) -> bool {
    let mut delay = RETRY_FIRST;
    let mut revoked = false;
    let mut failures = 0u32;
    loop {
        if *stop.borrow() || stop.has_changed().is_err() {
            return false;
        }
        let result = match revoked {
            true => grant(shared).await,
            false => match try_revoke(shared, old).await {
                Ok(()) => {
                    revoked = true;
                    grant(shared).await
                }
                Err(error) => Err(error),
            },
        };
        match result {
            Ok(()) => return true,
            Err(error) => {
                failures += 1;
                // One line when it starts and then every 30 attempts: etcd
                // may be down for long, and the log must not fill up.
                if failures == 1 || failures.is_multiple_of(30) {
                    warn!(target: LOG, "member {} cannot get a new lease yet ({failures} attempts): {error}", shared.config.member);
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return false,
        }
        delay = (delay * 2).min(RETRY_CAP);
    }
}

/// Renews the current lease until the fence deadline passes, etcd loses
/// the lease, or the coordinator stops.
async fn keep_alive(shared: &Shared, stop: &mut watch::Receiver<bool>) -> End {
    let lease = shared.lease.load(Ordering::Acquire);
    let validity = Duration::from_nanos(shared.validity.load(Ordering::Acquire));
    let interval = shared.renew_interval();
    let mut stream: Option<(LeaseKeeper, LeaseKeepAliveStream)> = None;
    // The endpoint the stream is (or was last being) opened on.
    let mut endpoint = 0;
    let mut next = Instant::now() + interval;
    let mut delay = RETRY_FIRST;
    loop {
        let fence_at = shared.clock.deadline();
        tokio::select! {
            _ = sleep_until(next.into()) => {}
            _ = sleep_until(fence_at.into()) => return End::Deadline,
            _ = stop.changed() => return End::Stopped,
        }
        let sent = Instant::now();
        let outcome = tokio::select! {
            outcome = timeout(interval, renew(shared, lease, &mut stream, &mut endpoint)) => outcome,
            _ = sleep_until(fence_at.into()) => return End::Deadline,
            _ = stop.changed() => return End::Stopped,
        };
        match outcome {
            Ok(Ok(true)) => {
                shared.clock.confirmed(sent, validity);
                next = sent + interval;
                delay = RETRY_FIRST;
            }
            Ok(Ok(false)) => return End::Lost,
            Ok(Err(error)) => {
                debug!(target: LOG, "renewing lease {lease:x}: {error}");
                stream = None;
                shared.etcd.rotate(endpoint);
                next = Instant::now() + delay;
                delay = (delay * 2).min(interval);
            }
            Err(_) => {
                debug!(target: LOG, "renewing lease {lease:x}: no answer within {interval:?}");
                // The stream may still deliver the late answer; a new
                // stream keeps answers matched to their send times.
                stream = None;
                shared.etcd.rotate(endpoint);
                next = Instant::now();
            }
        }
    }
}

/// One renewal: Ok(true) when etcd extended the lease, Ok(false) when it
/// no longer knows the lease. Opening the stream is itself a renewal.
async fn renew(
    shared: &Shared,
    lease: i64,
    stream: &mut Option<(LeaseKeeper, LeaseKeepAliveStream)>,
    endpoint: &mut usize,
) -> Result<bool, etcd_client::Error> {
    if let Some((keeper, responses)) = stream {
        keeper.keep_alive().await?;
        return match responses.message().await? {
            Some(response) => Ok(response.ttl() > 0),
            None => Err(etcd_client::Error::LeaseKeepAliveError("keep-alive stream ended".into())),
        };
    }
    let (index, mut client) = shared.etcd.current();
    *endpoint = index;
    match client.lease_keep_alive(lease).await {
        Ok(opened) => {
            *stream = Some(opened);
            Ok(true)
        }
        Err(error) if is_lease_not_found(&error) => Ok(false),
        Err(error) => Err(error),
    }
}
