//! The controller election (CM-12): etcd's election API with the member's
//! own short lease, so a dead controller is replaced within the lease TTL
//! (etcdctl's default session would take 60 s).
//!
//! Leading ends when the election key goes (its lease expired or was
//! revoked) and as soon as the member fences itself; a new lease campaigns
//! again. Controller actions go through [`Controller::fenced`], a txn that
//! compares the election key's create revision, so a deposed controller
//! that has not noticed yet writes nothing.

use crate::coordinator::Shared;
use crate::etcd::LOG;
use crate::reader;
use crate::{CoordError, Epoch};
use etcd_client::{Compare, CompareOp, Txn, TxnOp};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{debug, info, warn};

const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_CAP: Duration = Duration::from_secs(2);

/// Proof of leading: the election key and its create revision.
#[derive(Clone, Debug)]
pub struct Leadership {
    pub key: Vec<u8>,
    /// The election key's create revision: the fence of every action.
    pub revision: i64,
    /// The member's epoch number when it won.
    pub epoch: u64,
}

/// This member's part in the election (see [`crate::Coordinator::controller`]).
#[derive(Clone)]
pub struct Controller {
    shared: Arc<Shared>,
    leading: watch::Receiver<Option<Leadership>>,
}

impl Controller {
    pub(crate) fn start(shared: Arc<Shared>, stop: watch::Receiver<bool>) -> Controller {
        let (sender, leading) = watch::channel(None);
        tokio::spawn(campaign(shared.clone(), sender, stop));
        Controller { shared, leading }
    }

    /// `Some` while this member leads.
    pub fn leading(&self) -> watch::Receiver<Option<Leadership>> {
        self.leading.clone()
    }

    /// The current controller's member name, as etcd has it.
    pub async fn leader(&self) -> Result<Option<String>, CoordError> {
        reader::leader(&self.shared.etcd, &self.shared.keys).await
    }

    /// Runs `ops` in one txn only if `leadership` still holds (the election
    /// key still has its create revision). Ok(false) when this member no
    /// longer leads: nothing was written. Not retried on another etcd node
    /// after a failure (it may have been applied): the caller decides.
    pub async fn fenced(&self, leadership: &Leadership, ops: Vec<TxnOp>) -> Result<bool, CoordError> {
        self.fenced_if(leadership, Vec::new(), ops).await
    }

    /// [`Controller::fenced`] with more conditions: `ops` run only if
    /// `leadership` holds and every one of `also` is true (e.g. a stale
    /// key still has the value it was judged stale by).
    pub async fn fenced_if(
        &self,
        leadership: &Leadership,
        also: Vec<Compare>,
        ops: Vec<TxnOp>,
    ) -> Result<bool, CoordError> {
        let epoch = *self.shared.epoch.borrow();
        if !epoch.serving || epoch.number != leadership.epoch || !self.shared.clock.serving() {
            return Ok(false);
        }
        let mut compares =
            vec![Compare::create_revision(leadership.key.clone(), CompareOp::Equal, leadership.revision)];
        compares.extend(also);
        let txn = Txn::new().when(compares).and_then(ops);
        let response = self
            .shared
            .etcd
            .run("controller txn", false, |mut client| {
                let txn = txn.clone();
                async move { client.txn(txn).await }
            })
            .await?;
        Ok(response.succeeded())
    }
}

/// Campaigns whenever the member serves; holds the lead until the key
/// goes or the epoch changes; ends when the coordinator stops.
async fn campaign(shared: Arc<Shared>, leading: watch::Sender<Option<Leadership>>, mut stop: watch::Receiver<bool>) {
    let mut epochs = shared.epoch.subscribe();
    let member = shared.config.member.clone();
    let mut delay = RETRY_FIRST;
    loop {
        if *stop.borrow() {
            break;
        }
        let epoch: Epoch = *epochs.borrow_and_update();
        if !epoch.serving {
            tokio::select! {
                changed = epochs.changed() => if changed.is_err() { break },
                _ = stop.changed() => break,
            }
            continue;
        }
        let lease = shared.current_lease();
        let (endpoint, mut client) = shared.etcd.current();
        // Waits (unbounded) while another member leads; dropping the call
        // makes etcd withdraw our candidacy.
        let result = tokio::select! {
            result = client.campaign(shared.keys.election(), member.as_str(), lease) => result,
            changed = epochs.changed() => if changed.is_err() { break } else { continue },
            _ = stop.changed() => break,
        };
        let key = match result {
            Ok(response) => response.leader().cloned(),
            Err(error) => {
                debug!(target: LOG, "campaign of {member}: {error}");
                shared.etcd.rotate(endpoint);
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.changed() => break,
                }
                delay = (delay * 2).min(RETRY_CAP);
                continue;
            }
        };
        let Some(key) = key else {
            warn!(target: LOG, "campaign of {member} won without a leader key");
            continue;
        };
        delay = RETRY_FIRST;
        let leadership = Leadership { key: key.key().to_vec(), revision: key.rev(), epoch: epoch.number };
        info!(target: LOG, "{member} is the controller (revision {})", leadership.revision);
        leading.send_replace(Some(leadership.clone()));
        let stopped = hold(&shared, &leadership, &mut epochs, &mut stop).await;
        leading.send_replace(None);
        info!(target: LOG, "{member} is no longer the controller");
        if stopped {
            break;
        }
    }
    leading.send_replace(None);
}

/// Returns when the lead is lost: the election key is gone or was
/// replaced, or the member's epoch changed. True when stopping.
async fn hold(
    shared: &Shared,
    leadership: &Leadership,
    epochs: &mut watch::Receiver<Epoch>,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let key = String::from_utf8_lossy(&leadership.key).into_owned();
    let mut delay = RETRY_FIRST;
    loop {
        tokio::select! {
            gone = reader::wait_deleted(&shared.etcd, &key, Some(leadership.revision)) => match gone {
                Ok(()) => return false,
                // Cannot watch now: keep the lead (the fence in every
                // action still protects) and look again shortly.
                Err(error) => {
                    debug!(target: LOG, "watching the election key: {error}");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => delay = (delay * 2).min(RETRY_CAP),
                        changed = epochs.changed() => return changed.is_err(),
                        _ = stop.changed() => return true,
                    }
                }
            },
            changed = epochs.changed() => return changed.is_err(),
            _ = stop.changed() => return true,
        }
    }
}
