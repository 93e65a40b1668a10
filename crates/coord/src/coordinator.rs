//! A member's handle on etcd: its lease, the accounts it owns, the
//! registry.

use crate::controller::Controller;
use crate::etcd::{Etcd, LOG};
use crate::keys::Keys;
use crate::lease::{self, FenceClock};
use crate::reader;
use crate::{CoordConfig, CoordError, Epoch, MemberInfo, Owner};
use etcd_client::{Compare, CompareOp, PutOptions, Txn, TxnOp, TxnOpResponse};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::debug;

/// State shared by the handles and the background tasks.
pub(crate) struct Shared {
    pub(crate) config: CoordConfig,
    pub(crate) keys: Keys,
    pub(crate) etcd: Etcd,
    pub(crate) clock: FenceClock,
    /// The current lease's id (the last one granted).
    pub(crate) lease: AtomicI64,
    /// The current lease's validity after each renewal send, in ns.
    pub(crate) validity: AtomicU64,
    pub(crate) epoch: watch::Sender<Epoch>,
    info: Mutex<MemberInfo>,
}

impl Shared {
    pub(crate) fn info_json(&self) -> Vec<u8> {
        let info = self.info.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        // Serialising plain fields to JSON cannot fail.
        serde_json::to_vec(&info).unwrap_or_default()
    }

    /// Renew three times per TTL: two renewals may be lost before the
    /// fence, and the fence comes before expiry.
    pub(crate) fn renew_interval(&self) -> Duration {
        (self.config.lease_ttl / 3).max(Duration::from_millis(100))
    }

    pub(crate) fn current_lease(&self) -> i64 {
        self.lease.load(Ordering::Acquire)
    }
}

/// Lives as long as some [`Coordinator`] clone: dropping the last one
/// stops the lease task, which then revokes the lease.
struct Life {
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
    controller: OnceLock<Controller>,
}

/// A member of a dynamic cluster, holding its etcd lease.
#[derive(Clone)]
pub struct Coordinator {
    shared: Arc<Shared>,
    life: Arc<Life>,
}

impl Coordinator {
    /// Connects (each endpoint in turn, each attempt bounded), grants the
    /// lease, registers `members/<member>` with `info` and starts keeping
    /// the lease alive. Fails when no etcd endpoint answers.
    pub async fn start(config: CoordConfig, info: MemberInfo) -> Result<Coordinator, CoordError> {
        config.validate()?;
        let timeout = (config.lease_ttl / 2).clamp(Duration::from_secs(2), Duration::from_secs(5));
        let etcd = Etcd::new(&config.endpoints, timeout).await?;
        let (epoch, _) = watch::channel(Epoch { number: 0, serving: false });
        let shared = Arc::new(Shared {
            keys: Keys::new(&config.cluster),
            config,
            etcd,
            clock: FenceClock::new(),
            lease: AtomicI64::new(0),
            validity: AtomicU64::new(0),
            epoch,
            info: Mutex::new(info),
        });
        lease::grant(&shared).await?;
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(lease::run(shared.clone(), stop_rx));
        let life = Arc::new(Life { stop, task: Mutex::new(Some(task)), controller: OnceLock::new() });
        Ok(Coordinator { shared, life })
    }

    pub fn member(&self) -> &str {
        &self.shared.config.member
    }

    pub fn config(&self) -> &CoordConfig {
        &self.shared.config
    }

    /// True while the lease is known valid: now is before the send time of
    /// the last renewal etcd confirmed plus TTL minus the fence margin.
    /// One atomic load and a clock read; the store calls it before writes.
    pub fn serving(&self) -> bool {
        self.shared.clock.serving()
    }

    /// The send time of the last renewal (or grant) etcd confirmed.
    pub fn last_renewal(&self) -> Option<Instant> {
        self.shared.clock.last_renewal()
    }

    /// The current lease's id (for logs and tests).
    pub fn lease_id(&self) -> i64 {
        self.shared.current_lease()
    }

    /// Starts at number 1, serving (the lease `start` granted). Changes to
    /// serving=false when the member fences itself, and to the
    /// next number with serving=true under each new lease. Subscribers drop
    /// every account they had open when serving turns false: the keys of
    /// the old lease are gone by the time serving turns true again.
    pub fn epochs(&self) -> watch::Receiver<Epoch> {
        self.shared.epoch.subscribe()
    }

    /// The member that has the account open, if any.
    pub async fn owner(&self, account: &str) -> Result<Option<String>, CoordError> {
        reader::owner(&self.shared.etcd, &self.shared.keys, account).await
    }

    /// Owns the account when no one does (a txn on create_revision == 0,
    /// putting the key with this member's lease); otherwise names the
    /// owner. `Owner::Me` too when this member owns it under its current
    /// lease already. `Err(Fenced)` when not serving.
    pub async fn acquire(&self, account: &str) -> Result<Owner, CoordError> {
        let key = self.shared.keys.account(account)?;
        let member = self.member().to_owned();
        // The key may vanish between the failed compare and our read of
        // it (the owner released it): then try again, a few times.
        for _ in 0..3 {
            if !self.serving() {
                return Err(CoordError::Fenced);
            }
            let lease = self.shared.current_lease();
            let txn = Txn::new()
                .when([Compare::create_revision(key.as_str(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(key.as_str(), member.as_str(), Some(PutOptions::new().with_lease(lease)))])
                .or_else([TxnOp::get(key.as_str(), None)]);
            // Retrying on another node is safe: if the first attempt was
            // applied, the retry finds our own key under our lease.
            let response = match self
                .shared
                .etcd
                .run("acquire", true, |mut client| {
                    let txn = txn.clone();
                    async move { client.txn(txn).await }
                })
                .await
            {
                Ok(response) => response,
                // The lease was replaced since we read it.
                Err(CoordError::Rejected(message)) if message.contains("lease not found") => {
                    return Err(CoordError::Fenced);
                }
                Err(error) => return Err(error),
            };
            if self.shared.current_lease() != lease {
                return Err(CoordError::Fenced);
            }
            if response.succeeded() {
                debug!(target: LOG, "{member} acquired {account}");
                return Ok(Owner::Me);
            }
            let current = response.op_responses().into_iter().find_map(|op| match op {
                TxnOpResponse::Get(get) => get.kvs().first().cloned(),
                _ => None,
            });
            if let Some(kv) = current {
                let owner = String::from_utf8_lossy(kv.value()).into_owned();
                return Ok(if owner == member && kv.lease() == lease { Owner::Me } else { Owner::Other(owner) });
            }
        }
        Err(CoordError::Unavailable(format!("{account} changed owner repeatedly while acquiring")))
    }

    /// Deletes the account's key only when it is this member's under the
    /// current lease; someone else's key stays.
    pub async fn release(&self, account: &str) -> Result<(), CoordError> {
        let key = self.shared.keys.account(account)?;
        let lease = self.shared.current_lease();
        let txn = Txn::new()
            .when([
                Compare::value(key.as_str(), CompareOp::Equal, self.member()),
                Compare::lease(key.as_str(), CompareOp::Equal, lease),
            ])
            .and_then([TxnOp::delete(key.as_str(), None)]);
        // A repeated conditional delete does no harm.
        self.shared
            .etcd
            .run("release", true, |mut client| {
                let txn = txn.clone();
                async move { client.txn(txn).await }
            })
            .await?;
        Ok(())
    }

    /// The accounts this member owns under its current lease.
    pub async fn owned(&self) -> Result<Vec<String>, CoordError> {
        let prefix = self.shared.keys.accounts();
        let lease = self.shared.current_lease();
        let member = self.member().as_bytes();
        Ok(reader::get_prefix(&self.shared.etcd, "owned", &prefix)
            .await?
            .iter()
            .filter(|kv| kv.value() == member && kv.lease() == lease)
            .filter_map(|kv| crate::keys::Keys::name_under(&prefix, kv.key()).map(str::to_owned))
            .collect())
    }

    /// Live members (their keys exist) and what they published.
    pub async fn members(&self) -> Result<Vec<(String, MemberInfo)>, CoordError> {
        reader::members(&self.shared.etcd, &self.shared.keys).await
    }

    /// Open accounts per member.
    pub async fn open_accounts(&self) -> Result<BTreeMap<String, usize>, CoordError> {
        reader::open_accounts(&self.shared.etcd, &self.shared.keys).await
    }

    /// Every open account, its owner and its key.
    pub async fn owners(&self) -> Result<Vec<crate::reader::Owned>, CoordError> {
        reader::owners(&self.shared.etcd, &self.shared.keys).await
    }

    /// Replaces this member's registry entry (kept for the next lease too).
    pub async fn publish(&self, info: MemberInfo) -> Result<(), CoordError> {
        *self.shared.info.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = info;
        if !self.serving() {
            // The next lease registers the new entry.
            return Err(CoordError::Fenced);
        }
        let key = self.shared.keys.member(self.member());
        let value = self.shared.info_json();
        let lease = self.shared.current_lease();
        self.shared
            .etcd
            .run("publish", true, |mut client| {
                let (key, value) = (key.clone(), value.clone());
                async move { client.put(key, value, Some(PutOptions::new().with_lease(lease))).await }
            })
            .await?;
        Ok(())
    }

    /// Waits, by an etcd watch, until the account's key is deleted or
    /// `timeout` passes: Ok(true) when it is gone. Used after failing to
    /// reach a dead owner, to take over as soon as its lease expires.
    pub async fn wait_released(&self, account: &str, timeout: Duration) -> Result<bool, CoordError> {
        let key = self.shared.keys.account(account)?;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut answered = false;
        let mut last_error = None;
        loop {
            match tokio::time::timeout_at(deadline, reader::wait_deleted(&self.shared.etcd, &key, None)).await {
                Ok(Ok(())) => return Ok(true),
                Ok(Err(error)) => {
                    last_error = Some(error);
                    // Past the first error the node may be down: retry
                    // elsewhere after a pause, within the caller's time.
                    let pause = tokio::time::Instant::now() + Duration::from_millis(100);
                    if tokio::time::timeout_at(deadline, tokio::time::sleep_until(pause)).await.is_err() {
                        break;
                    }
                }
                Err(_) => {
                    answered = true;
                    break;
                }
            }
        }
        match last_error {
            Some(error) if !answered => Err(error),
            _ => Ok(false),
        }
    }

    /// The controller election for this member, campaigning in the
    /// background with the member's lease from the first call on.
    pub fn controller(&self) -> Controller {
        self.life.controller.get_or_init(|| Controller::start(self.shared.clone(), self.life.stop.subscribe())).clone()
    }

    /// Stops serving, stops renewing and revokes the lease: all of this
    /// member's keys go at once. For an orderly stop.
    pub async fn shutdown(&self) {
        self.life.stop.send_replace(true);
        let task = self.life.task.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if let Some(task) = task
            && let Err(error) = task.await
        {
            debug!(target: LOG, "lease task ended badly: {error}");
        }
    }
}
