//! The accounts this member has open, and the steps that open and hand
//! them over. Opening: own the account's key in etcd (one transaction
//! under the member's lease), then note it here; only then may the store
//! open it. Handing over: take it out of the table (the store refuses new
//! opens and writes at once), let the store finish and close it (queued
//! writes made durable, sessions told to close), and only then delete the
//! key, so that no other member can open the account while this one may
//! still write it.

use coord::{CoordError, Coordinator, Owner};
use parking_lot::RwLock;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};
use store::Store;
use types::AccountName;

/// Opens and hand-overs of one account never overlap: each takes the
/// account's turn (one of a fixed set of locks, by hash of the name).
const TURNS: usize = 64;

pub struct Accounts {
    coord: Coordinator,
    /// Owned, with the epoch (lease) it was opened under: an entry of an
    /// earlier lease counts for nothing, even before the upkeep has
    /// emptied the table after a fence (the key went with that lease).
    open: RwLock<HashMap<AccountName, u64>>,
    /// The coordinator's epochs, read on every check.
    epochs: tokio::sync::watch::Receiver<coord::Epoch>,
    /// Being handed over: no new opens, while the writes already queued
    /// are finished (they are still this member's to make).
    closing: RwLock<HashSet<AccountName>>,
    turns: Vec<tokio::sync::Mutex<()>>,
    /// Set once at start: the store is opened with this table as its fence.
    store: OnceLock<Arc<Store>>,
    /// Where the other members are (a miss reads etcd again at once).
    peers: super::registry::RegistryCache,
}

impl Accounts {
    pub fn new(coord: Coordinator) -> Arc<Self> {
        let epochs = coord.epochs();
        Arc::new(Self {
            coord,
            open: RwLock::default(),
            epochs,
            closing: RwLock::default(),
            turns: (0..TURNS).map(|_| tokio::sync::Mutex::new(())).collect(),
            store: OnceLock::new(),
            peers: Default::default(),
        })
    }

    /// The store this table fences; set once, right after opening it.
    pub fn attach(&self, store: Arc<Store>) {
        let _ = self.store.set(store);
    }

    pub fn coord(&self) -> &Coordinator {
        &self.coord
    }

    fn turn(&self, account: &AccountName) -> &tokio::sync::Mutex<()> {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let hash = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(account);
        &self.turns[(hash as usize) % TURNS]
    }

    /// Whether the account is open under the current lease (being handed
    /// over or not), and the lease is known valid.
    fn is_held(&self, account: &AccountName) -> bool {
        let epoch = *self.epochs.borrow();
        epoch.serving && self.coord.serving() && self.open.read().get(account) == Some(&epoch.number)
    }

    /// Held, and not being handed over: new sessions may use it.
    fn is_open(&self, account: &AccountName) -> bool {
        self.is_held(account) && !self.closing.read().contains(account)
    }

    /// Opens the account here unless another member has it open: `Me` once
    /// this member owns it, else its owner.
    pub async fn open(&self, account: &AccountName) -> Result<Owner, CoordError> {
        if self.is_open(account) {
            return Ok(Owner::Me);
        }
        let _turn = self.turn(account).lock().await;
        if self.is_open(account) {
            return Ok(Owner::Me);
        }
        let epoch = self.epochs.borrow().number;
        let name = account.to_string();
        // A read first: most of the time another member has it open, and a
        // read costs etcd no write (an acquire is a transaction, a Raft
        // write with its fsync, even when it only finds the owner).
        if let Some(owner) = self.coord.owner(&name).await?
            && !owner.eq_ignore_ascii_case(self.coord.member())
        {
            return Ok(Owner::Other(owner));
        }
        match self.coord.acquire(&name).await? {
            Owner::Me => {
                // A lease lost while acquiring: the key went with it, and
                // the upkeep has already emptied the table for that lease.
                if self.epochs.borrow().number != epoch || !self.coord.serving() {
                    return Err(CoordError::Fenced);
                }
                self.open.write().insert(account.clone(), epoch);
                tracing::debug!(target: "cluster::coord", %account, "account opened here");
                Ok(Owner::Me)
            }
            other => Ok(other),
        }
    }

    /// Hands the account over: closed here (its sessions told `reason`),
    /// then its key released for any member to take.
    pub async fn release(&self, account: &AccountName, reason: &str) {
        let _turn = self.turn(account).lock().await;
        if !self.open.read().contains_key(account) {
            return;
        }
        // New opens stop now; the writes already accepted are made, then
        // none: only then may another member open it.
        self.closing.write().insert(account.clone());
        if let Some(store) = self.store.get() {
            store.release(account, reason).await;
        }
        self.open.write().remove(account);
        self.closing.write().remove(account);
        match self.coord.release(&account.to_string()).await {
            Ok(()) => tracing::debug!(target: "cluster::coord", %account, "account released"),
            // Nobody else can take it before the lease ends anyway.
            Err(error) => {
                tracing::info!(target: "cluster::coord", %account, %error, "cannot release the account's key")
            }
        }
    }

    /// Closes every account at once: the lease is lost (or about to be),
    /// so this member must stop writing before another can open them. The
    /// keys go with the lease; nothing is asked of etcd.
    pub async fn drop_all(&self, reason: &str) {
        let accounts: Vec<AccountName> = self.open.write().drain().map(|(account, _)| account).collect();
        if let Some(store) = self.store.get() {
            for account in store.open_account_names() {
                store.release(&account, reason).await;
            }
        }
        if !accounts.is_empty() {
            tracing::warn!(target: "cluster::coord", accounts = accounts.len(), reason, "closed every open account");
        }
    }

    /// Where another member takes sessions or link requests, from the
    /// registry in etcd (kept briefly; a member not found there is looked
    /// up again at once).
    pub async fn member_info(&self, member: &str) -> Result<Option<coord::MemberInfo>, CoordError> {
        let found = self.peers.find(member, || self.coord.members()).await?;
        Ok(found.map(|(_, info)| info))
    }
}

/// The store's fence: an account may be opened and written while this
/// member owns it and its lease is known valid.
impl store::Fence for Accounts {
    fn may_open(&self, account: &AccountName) -> bool {
        self.is_open(account)
    }

    /// Also while the account is being handed over: what was accepted
    /// before is finished (`Accounts::release`).
    fn may_write(&self, account: &AccountName) -> bool {
        self.is_held(account)
    }
}
