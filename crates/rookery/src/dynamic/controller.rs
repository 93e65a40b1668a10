//! The controller's work (CM-12): the one member that wins the election
//! in etcd runs what the cluster needs done once. Here that is the
//! foreign queues (CM-17): the queue of a member that died holds mail it
//! acknowledged; the controller opens that queue where it lies on the
//! shared storage and delivers from it, with the dead member's own ids,
//! so a message the dead member had delivered just before it died is
//! recognised by the store and not delivered twice. The queue's own lock
//! keeps out a member that is alive but paused (it still holds it); a
//! member that comes back registers first, and the controller then stops
//! and lets go of its queue.
//!
//! It also clears stale state: an account key whose owner is not a
//! registered member (which would keep the account closed everywhere) is
//! deleted, and its own records of finished takes.
//!
//! Every step is fenced by the election: before taking a queue the
//! controller records the take in etcd in a transaction that holds only
//! while its election key is the one it won with, so a deposed controller
//! that has not noticed yet takes nothing.

use super::Accounts;
use queue::{Queue, QueueConfig};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the controller looks for queues without a live member.
const SCAN_EVERY: Duration = Duration::from_secs(2);

pub struct ControllerWork {
    pub accounts: Arc<Accounts>,
    /// `<storage>/queues`: one directory per member.
    pub queues: PathBuf,
    /// This member's queue settings, used for the foreign queues too.
    pub queue_config: QueueConfig,
    pub transport: Arc<dyn queue::Transport>,
    pub cluster: String,
}

/// A foreign queue being delivered from.
struct Foreign {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl ControllerWork {
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let controller = self.accounts.coord().controller();
        let mut leading = controller.leading();
        let mut running: HashMap<String, Foreign> = HashMap::new();
        loop {
            let leadership = leading.borrow_and_update().clone();
            match leadership {
                Some(leadership) => {
                    self.scan(&controller, &leadership, &mut running).await;
                    tokio::select! {
                        _ = tokio::time::sleep(SCAN_EVERY) => {}
                        _ = leading.changed() => {}
                        _ = shutdown.changed() => break,
                    }
                }
                None => {
                    if !running.is_empty() {
                        tracing::warn!(target: "cluster::controller", "no longer the controller: stopping the foreign queues");
                        stop_all(&mut running).await;
                    }
                    tokio::select! {
                        changed = leading.changed() => if changed.is_err() { break },
                        _ = shutdown.changed() => break,
                    }
                }
            }
        }
        stop_all(&mut running).await;
    }

    /// One look at the queue directories: take those of dead members, give
    /// back those whose member is alive again, forget the finished ones.
    async fn scan(
        &self,
        controller: &coord::Controller,
        leadership: &coord::Leadership,
        running: &mut HashMap<String, Foreign>,
    ) {
        let me = self.accounts.coord().member().to_owned();
        let live: Vec<String> = match self.accounts.coord().members().await {
            Ok(members) => members.into_iter().map(|(name, _)| name.to_ascii_lowercase()).collect(),
            Err(error) => {
                tracing::info!(target: "cluster::controller", %error, "cannot read the members");
                return;
            }
        };
        let mut finished = Vec::new();
        for (member, foreign) in running.iter() {
            if live.contains(member) || foreign.task.is_finished() {
                finished.push(member.clone());
            }
        }
        for member in finished {
            if let Some(foreign) = running.remove(&member) {
                stop(foreign).await;
                tracing::info!(target: "cluster::controller", %member, "foreign queue given back or done");
                let done = etcd_client::TxnOp::delete(self.take_key(&member), None);
                if let Err(error) = controller.fenced(leadership, vec![done]).await {
                    tracing::info!(target: "cluster::controller", %error, "cannot clear the foreign queue's take");
                }
            }
        }
        self.clean_stale_owners(controller, leadership, &live).await;
        for (member, dir) in queue_dirs(&self.queues) {
            if member == me.to_ascii_lowercase() || live.contains(&member) || running.contains_key(&member) {
                continue;
            }
            if !queue::may_hold_messages(&dir) {
                continue;
            }
            // Not under `controller/`: that prefix is the election's.
            let key = self.take_key(&member);
            let op = etcd_client::TxnOp::put(key, me.clone(), None);
            match controller.fenced(leadership, vec![op]).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!(target: "cluster::controller", "lost the election before taking a foreign queue");
                    return;
                }
                Err(error) => {
                    tracing::info!(target: "cluster::controller", %error, "cannot record the foreign queue's take");
                    return;
                }
            }
            match self.start_foreign(&member, &dir) {
                Ok(foreign) => {
                    running.insert(member, foreign);
                }
                // Most often: the member is alive but paused and holds
                // its queue's lock.
                Err(error) => {
                    tracing::info!(target: "cluster::controller", %member, %error, "cannot open the member's queue")
                }
            }
        }
    }

    /// The record of this controller's take of `member`'s queue.
    fn take_key(&self, member: &str) -> String {
        format!("/rookery/{}/controller-work/foreign/{member}", self.cluster)
    }

    /// Stale state: an account key whose owner is not a registered member
    /// (its member key was deleted by hand, or written by a tool without a
    /// lease) would keep the account closed everywhere. Each is deleted
    /// only while it still names that owner, and only by the controller.
    async fn clean_stale_owners(
        &self,
        controller: &coord::Controller,
        leadership: &coord::Leadership,
        live: &[String],
    ) {
        let owners = match self.accounts.coord().owners().await {
            Ok(owners) => owners,
            Err(error) => {
                tracing::info!(target: "cluster::controller", %error, "cannot read the open accounts");
                return;
            }
        };
        for stale in owners.into_iter().filter(|owned| !live.contains(&owned.owner.to_ascii_lowercase())) {
            let still = coord::Compare::value(stale.key.clone(), coord::CompareOp::Equal, stale.owner.clone());
            let delete = coord::TxnOp::delete(stale.key.clone(), None);
            match controller.fenced_if(leadership, vec![still], vec![delete]).await {
                Ok(true) => {
                    tracing::warn!(target: "cluster::controller", account = %stale.account, owner = %stale.owner,
                    "released an account held by a member that is not registered")
                }
                Ok(false) => {}
                Err(error) => tracing::info!(target: "cluster::controller", %error, "cannot release a stale account"),
            }
        }
    }

    fn start_foreign(&self, member: &str, dir: &Path) -> Result<Foreign, queue::QueueError> {
        let mut config = self.queue_config.clone();
        config.dir = dir.to_owned();
        let queue = Arc::new(Queue::open(config)?);
        let count = queue.len();
        tracing::warn!(target: "cluster::controller", member, messages = count,
            "delivering the queue of a member that is gone (foreign queue)");
        let (stop, stopped) = watch::channel(false);
        let transport = self.transport.clone();
        let member = member.to_owned();
        let task = tokio::spawn(async move {
            let runner = {
                let (queue, stopped) = (queue.clone(), stopped.clone());
                tokio::spawn(async move { queue.run(transport, stopped).await })
            };
            let mut stopped = stopped;
            // Done once the queue is empty; its directory stays (empty,
            // cut back to its header by the queue) for the member's
            // return.
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stopped.changed() => break,
                }
                if queue.is_empty() {
                    tracing::info!(target: "cluster::controller", %member, "foreign queue delivered");
                    break;
                }
            }
            drop(stopped);
            let _ = runner.await;
        });
        Ok(Foreign { stop, task })
    }
}

async fn stop(foreign: Foreign) {
    let _ = foreign.stop.send(true);
    let _ = foreign.task.await;
}

async fn stop_all(running: &mut HashMap<String, Foreign>) {
    for (_, foreign) in running.drain() {
        stop(foreign).await;
    }
}

/// The members' queue directories under `<storage>/queues`, by member name
/// (lower-case).
fn queue_dirs(queues: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(queues) else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
        .filter_map(|entry| Some((entry.file_name().to_str()?.to_ascii_lowercase(), entry.path())))
        .collect()
}
