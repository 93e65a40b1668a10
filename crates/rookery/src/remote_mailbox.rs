//! The member side of remote mailbox access (CM-26): the
//! [`MailboxOp`]s another member (or `rookery account move`) sends over
//! the cluster link, served from this member's store. Logged under
//! `cluster::mailbox`.
//!
//! Who may touch which account: an account hosted here (the locator says
//! "here"), an account being moved in (between `PrepareMoveIn` and
//! `CompleteMoveIn`/`AbandonMoveIn`; its host is still the old one, so no
//! session or delivery reaches this copy), and, for reads only, an account
//! this member froze for a move out. See `account_move.rs` for the move.

use bytes::{Bytes, BytesMut};
use cluster::Location;
use cluster::link::{
    FetchedMessage, FlagChange, MAX_CHANGES, MAX_FETCH_BYTES, MAX_FETCH_MESSAGES, MailboxError, MailboxOp,
    MailboxReply, MailboxState, Upload,
};
use delivery::LocalDelivery;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use store::{Account, Extent, Flag, FlagOp, StoreError};
use types::{AccountName, MailboxId, ModSeq, Uid};

/// What live sessions of a frozen account are told (IMAP `BYE`).
const MOVING: &str = "account is moving to another server; reconnect";
/// Bytes of unfinished uploads held at once, over all peers.
const MAX_STAGED_BYTES: u64 = 256 << 20;
/// An upload without a new part for this long is dropped.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(600);
/// The longest freeze lease a peer may ask for.
const MAX_LEASE: Duration = Duration::from_secs(600);
/// How long `PrepareMoveIn` waits for the clock to pass the old host's
/// UIDVALIDITYs (mailboxes made in a burst take consecutive values, so
/// the newest may be some seconds ahead of the clock).
const MAX_CLOCK_WAIT: Duration = Duration::from_secs(30);
/// More expunged ranges than this do not fit an answer's meta.
const MAX_VANISHED_RANGES: usize = 50_000;

type Answer = (Result<MailboxReply, MailboxError>, Bytes);

/// An account frozen for a move out, held so the open-account cache
/// keeps it (and its flag) open.
struct Frozen {
    account: Arc<Account>,
    token: u64,
    until: Instant,
}

struct Staged {
    account: AccountName,
    data: BytesMut,
    total: u64,
    touched: Instant,
}

/// Serves [`MailboxOp`]s for the member's `MemberHandler`.
pub struct MailboxService {
    delivery: Arc<LocalDelivery>,
    hosts: Option<Arc<crate::member::Hosts>>,
    frozen: Mutex<HashMap<AccountName, Frozen>>,
    moving_in: Mutex<HashSet<AccountName>>,
    uploads: Mutex<HashMap<u64, Staged>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn failed(e: impl std::fmt::Display) -> MailboxError {
    MailboxError::Failed(e.to_string())
}

fn from_store(e: StoreError) -> MailboxError {
    match e {
        // Both temporary: the caller tries again, by then at the owner.
        StoreError::Frozen(account) | StoreError::NotOwned(account) => MailboxError::Frozen(account),
        StoreError::NoSuchMailbox(name) => MailboxError::NoSuchMailbox(name),
        StoreError::MailboxExists(_) | StoreError::BadMailboxName(_) | StoreError::MailboxProtected(_) => {
            MailboxError::Refused(e.to_string())
        }
        StoreError::QuotaExceeded { .. } => MailboxError::Refused(e.to_string()),
        other => failed(other),
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A flag as IMAP writes it.
pub fn flag_text(flag: &Flag) -> String {
    match flag {
        Flag::Seen => "\\Seen".into(),
        Flag::Answered => "\\Answered".into(),
        Flag::Flagged => "\\Flagged".into(),
        Flag::Deleted => "\\Deleted".into(),
        Flag::Draft => "\\Draft".into(),
        Flag::Keyword(keyword) => keyword.clone(),
    }
}

/// The inverse of [`flag_text`]; a keyword must be an IMAP atom.
pub fn parse_flag(text: &str) -> Result<Flag, MailboxError> {
    Ok(match text.to_ascii_lowercase().as_str() {
        "\\seen" => Flag::Seen,
        "\\answered" => Flag::Answered,
        "\\flagged" => Flag::Flagged,
        "\\deleted" => Flag::Deleted,
        "\\draft" => Flag::Draft,
        _ if !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b)) => {
            Flag::Keyword(text.to_owned())
        }
        _ => return Err(MailboxError::Refused(format!("invalid flag {text:?}"))),
    })
}

fn parse_flags(texts: &[String]) -> Result<Vec<Flag>, MailboxError> {
    texts.iter().map(|t| parse_flag(t)).collect()
}

fn state(info: &store::MailboxInfo) -> MailboxState {
    MailboxState {
        id: info.id.0,
        name: info.name.clone(),
        uid_validity: info.uid_validity.0,
        uid_next: info.uid_next.0,
        highest_modseq: info.highest_modseq.0,
        messages: info.messages,
        size: info.size,
        subscribed: info.subscribed,
    }
}

/// The mailbox with this id, as a consistent snapshot.
fn snapshot(account: &Account, id: u32) -> Result<store::MailboxSnapshot, MailboxError> {
    let missing = || MailboxError::NoSuchMailbox(format!("#{id}"));
    let name = account.mailboxes().into_iter().find(|m| m.id.0 == id).ok_or_else(missing)?.name;
    let snapshot = account.snapshot(&name).map_err(from_store)?;
    // Renamed between the two looks: the caller lists again.
    if snapshot.info.id.0 != id {
        return Err(missing());
    }
    Ok(snapshot)
}

impl MailboxService {
    pub fn new(delivery: Arc<LocalDelivery>, hosts: Option<Arc<crate::member::Hosts>>) -> Arc<Self> {
        Arc::new(MailboxService {
            delivery,
            hosts,
            frozen: Mutex::new(HashMap::new()),
            moving_in: Mutex::new(HashSet::new()),
            uploads: Mutex::new(HashMap::new()),
        })
    }

    pub async fn serve(self: &Arc<Self>, op: MailboxOp, body: Bytes) -> Answer {
        let result = match op {
            MailboxOp::Fetch { account, mailbox, after_uid, max_messages, max_bytes } => {
                return match self.fetch(&account, mailbox, after_uid, max_messages, max_bytes).await {
                    Ok((reply, body)) => (Ok(reply), body),
                    Err(e) => (Err(e), Bytes::new()),
                };
            }
            MailboxOp::FetchPart { account, mailbox, uid, offset, max_bytes } => {
                return match self.fetch_part(&account, mailbox, uid, offset, max_bytes).await {
                    Ok((reply, body)) => (Ok(reply), body),
                    Err(e) => (Err(e), Bytes::new()),
                };
            }
            op => self.perform(op, body).await,
        };
        (result, Bytes::new())
    }

    async fn perform(self: &Arc<Self>, op: MailboxOp, body: Bytes) -> Result<MailboxReply, MailboxError> {
        match op {
            MailboxOp::ListMailboxes { account } => {
                let handle = self.open(&account, false).await?;
                let mailboxes = handle.mailboxes().iter().map(state).collect();
                Ok(MailboxReply::Mailboxes { mailboxes, subscriptions: handle.subscriptions() })
            }
            MailboxOp::Changes { account, mailbox, since_modseq, after_uid } => {
                self.changes(&account, mailbox, since_modseq, after_uid).await
            }
            MailboxOp::CreateMailbox { account, name } => {
                let handle = self.open(&account, true).await?;
                let id = handle.create_mailbox(&name).await.map_err(from_store)?;
                let info = handle.status(&name).map_err(from_store)?;
                Ok(MailboxReply::Created { mailbox: id.0, uid_validity: info.uid_validity.0 })
            }
            MailboxOp::DeleteMailbox { account, name } => {
                self.open(&account, true).await?.delete_mailbox(&name).await.map_err(from_store)?;
                Ok(MailboxReply::Done)
            }
            MailboxOp::RenameMailbox { account, from, to } => {
                self.open(&account, true).await?.rename_mailbox(&from, &to).await.map_err(from_store)?;
                Ok(MailboxReply::Done)
            }
            MailboxOp::SetSubscribed { account, name, subscribed } => {
                self.open(&account, true).await?.set_subscribed(&name, subscribed).await.map_err(from_store)?;
                Ok(MailboxReply::Done)
            }
            MailboxOp::Import { account, mailbox, flags, internal_date, upload } => {
                self.import(&account, &mailbox, &flags, internal_date, upload, body).await
            }
            MailboxOp::SetFlags { account, mailbox, uids, flags } => {
                let flags = parse_flags(&flags)?;
                let uids: Vec<Uid> = uids.into_iter().map(Uid).collect();
                let handle = self.open(&account, true).await?;
                handle.set_flags(MailboxId(mailbox), &uids, FlagOp::Replace, &flags, None).await.map_err(from_store)?;
                Ok(MailboxReply::Done)
            }
            MailboxOp::Expunge { account, mailbox, uids } => {
                let uids: Vec<Uid> = uids.into_iter().map(Uid).collect();
                self.open(&account, true).await?.expunge(MailboxId(mailbox), &uids).await.map_err(from_store)?;
                Ok(MailboxReply::Done)
            }
            MailboxOp::PrepareMoveIn { account, uid_validity_above } => {
                self.prepare_move_in(&account, uid_validity_above).await
            }
            MailboxOp::AbandonMoveIn { account } => self.abandon_move_in(&account).await,
            MailboxOp::CompleteMoveIn { account } => {
                lock(&self.moving_in).remove(&account);
                if let Some(hosts) = &self.hosts {
                    hosts.invalidate(&account);
                }
                tracing::info!(target: "cluster::mailbox", %account, "account moved in; served here now");
                Ok(MailboxReply::Done)
            }
            MailboxOp::Freeze { account, token, lease_secs } => self.freeze(&account, token, lease_secs).await,
            MailboxOp::Unfreeze { account, token } => self.unfreeze(&account, token),
            MailboxOp::CompleteMoveOut { account, token, to } => self.complete_move_out(&account, token, &to).await,
            MailboxOp::Fetch { .. } | MailboxOp::FetchPart { .. } => {
                Err(MailboxError::Failed("fetches are answered with their bytes".into()))
            }
        }
    }

    /// The account's handle, if this member may serve the operation.
    async fn open(&self, account: &AccountName, write: bool) -> Result<Arc<Account>, MailboxError> {
        if let Some(frozen) = lock(&self.frozen).get(account) {
            return if write { Err(MailboxError::Frozen(account.to_string())) } else { Ok(frozen.account.clone()) };
        }
        if !lock(&self.moving_in).contains(account) {
            self.hosted_here(account).await?;
        }
        self.delivery.store().account(account).await.map_err(from_store)
    }

    async fn hosted_here(&self, account: &AccountName) -> Result<(), MailboxError> {
        match self.delivery.locate(account).await {
            Ok(Location::Here) => Ok(()),
            Ok(Location::Elsewhere { server }) => {
                Err(MailboxError::NotHere { account: account.to_string(), host: server })
            }
            Err(e) => Err(failed(e)),
        }
    }

    async fn fetch(
        &self,
        account: &AccountName,
        mailbox: u32,
        after_uid: u32,
        max_messages: u32,
        max_bytes: u32,
    ) -> Result<(MailboxReply, Bytes), MailboxError> {
        let handle = self.open(account, false).await?;
        let snapshot = snapshot(&handle, mailbox)?;
        let max_messages = max_messages.clamp(1, MAX_FETCH_MESSAGES) as usize;
        let max_bytes = u64::from(max_bytes.clamp(1, MAX_FETCH_BYTES));
        let start = snapshot.messages.partition_point(|m| m.uid.0 <= after_uid);
        let mut chosen = Vec::new();
        let mut bytes = 0u64;
        for meta in &snapshot.messages[start..] {
            // Always at least one message, cut short if it is too large.
            if chosen.len() == max_messages || (!chosen.is_empty() && bytes + meta.size > max_bytes) {
                break;
            }
            bytes += meta.size.min(max_bytes);
            chosen.push(meta);
        }
        let more = start + chosen.len() < snapshot.messages.len();
        let uids: Vec<Uid> = chosen.iter().map(|m| m.uid).collect();
        let read = handle.read_many(MailboxId(mailbox), &uids, Extent::Whole).await.map_err(from_store)?;
        let mut body = BytesMut::with_capacity(bytes as usize);
        let mut messages = Vec::with_capacity(chosen.len());
        for (meta, content) in chosen.into_iter().zip(read) {
            // Expunged since the snapshot: the next `Changes` says so.
            let Some(content) = content else { continue };
            let len = (content.len() as u64).min(max_bytes);
            body.extend_from_slice(&content[..len as usize]);
            messages.push(FetchedMessage {
                uid: meta.uid.0,
                flags: meta.flags.iter().map(flag_text).collect(),
                internal_date: meta.internal_date,
                modseq: meta.modseq.0,
                size: content.len() as u64,
                len,
            });
        }
        let reply = MailboxReply::Messages { uid_validity: snapshot.info.uid_validity.0, messages, more };
        Ok((reply, body.freeze()))
    }

    async fn fetch_part(
        &self,
        account: &AccountName,
        mailbox: u32,
        uid: u32,
        offset: u64,
        max_bytes: u32,
    ) -> Result<(MailboxReply, Bytes), MailboxError> {
        let handle = self.open(account, false).await?;
        let content = handle.read(MailboxId(mailbox), Uid(uid)).await.map_err(from_store)?;
        let size = content.len() as u64;
        let start = offset.min(size) as usize;
        let end = (offset.saturating_add(u64::from(max_bytes.clamp(1, MAX_FETCH_BYTES)))).min(size) as usize;
        Ok((MailboxReply::Part { size }, content.slice(start..end)))
    }

    async fn changes(
        &self,
        account: &AccountName,
        mailbox: u32,
        since_modseq: u64,
        after_uid: u32,
    ) -> Result<MailboxReply, MailboxError> {
        let handle = self.open(account, false).await?;
        let snapshot = snapshot(&handle, mailbox)?;
        let start = snapshot.messages.partition_point(|m| m.uid.0 <= after_uid);
        let mut changed = Vec::new();
        let mut more = false;
        for meta in snapshot.messages[start..].iter().filter(|m| m.modseq.0 > since_modseq) {
            if changed.len() == MAX_CHANGES as usize {
                more = true;
                break;
            }
            changed.push(FlagChange {
                uid: meta.uid.0,
                flags: meta.flags.iter().map(flag_text).collect(),
                modseq: meta.modseq.0,
            });
        }
        let vanished = if after_uid == 0 {
            let ranges = handle.expunged_since(MailboxId(mailbox), ModSeq(since_modseq)).map_err(from_store)?;
            if ranges.len() > MAX_VANISHED_RANGES {
                return Err(failed(format!("{} expunged ranges are more than one answer carries", ranges.len())));
            }
            ranges.into_iter().map(|(first, last)| (first.0, last.0)).collect()
        } else {
            Vec::new()
        };
        Ok(MailboxReply::Changes { changed, vanished, more })
    }

    async fn import(
        &self,
        account: &AccountName,
        mailbox: &str,
        flags: &[String],
        internal_date: i64,
        upload: Option<Upload>,
        body: Bytes,
    ) -> Result<MailboxReply, MailboxError> {
        let flags = parse_flags(flags)?;
        let handle = self.open(account, true).await?;
        let body = match upload {
            None => body,
            Some(upload) => match self.stage(account, upload, &body)? {
                Some(whole) => whole,
                None => {
                    let uid_validity = handle.status(mailbox).map_err(from_store)?.uid_validity.0;
                    return Ok(MailboxReply::Imported { uid_validity, uid: None });
                }
            },
        };
        let quota = None; // A moved account keeps what it has; the directory's limit applies to new mail.
        let (uid_validity, uid) =
            handle.append(mailbox, body, flags, internal_date, quota).await.map_err(from_store)?;
        Ok(MailboxReply::Imported { uid_validity: uid_validity.0, uid: Some(uid.0) })
    }

    /// Adds a part to an upload; the whole message once its last part is in.
    fn stage(&self, account: &AccountName, upload: Upload, part: &Bytes) -> Result<Option<Bytes>, MailboxError> {
        let mut uploads = lock(&self.uploads);
        let now = Instant::now();
        uploads.retain(|_, staged| now.duration_since(staged.touched) < UPLOAD_TIMEOUT);
        if upload.offset == 0 {
            let held: u64 = uploads.values().map(|s| s.total).sum();
            if held.saturating_add(upload.total) > MAX_STAGED_BYTES {
                return Err(MailboxError::Refused(format!(
                    "uploads of {held} bytes are in progress; {} more would pass the limit of {MAX_STAGED_BYTES}",
                    upload.total
                )));
            }
            let data = BytesMut::with_capacity(upload.total.min(MAX_STAGED_BYTES) as usize);
            uploads.insert(upload.id, Staged { account: account.clone(), data, total: upload.total, touched: now });
        }
        let Some(staged) = uploads.get_mut(&upload.id) else {
            return Err(MailboxError::Refused(format!("no upload {} in progress (timed out?)", upload.id)));
        };
        let fits = staged.data.len() as u64 + part.len() as u64 <= staged.total;
        if staged.account != *account
            || staged.total != upload.total
            || staged.data.len() as u64 != upload.offset
            || !fits
        {
            uploads.remove(&upload.id);
            return Err(MailboxError::Refused(format!("upload {} out of order; start again", upload.id)));
        }
        staged.data.extend_from_slice(part);
        staged.touched = now;
        if (staged.data.len() as u64) < staged.total {
            return Ok(None);
        }
        Ok(uploads.remove(&upload.id).map(|staged| staged.data.freeze()))
    }

    async fn prepare_move_in(
        &self,
        account: &AccountName,
        uid_validity_above: u32,
    ) -> Result<MailboxReply, MailboxError> {
        match self.delivery.locate(account).await {
            Ok(Location::Elsewhere { .. }) => {}
            Ok(Location::Here) => return Err(MailboxError::Refused(format!("{account} is hosted here already"))),
            Err(e) => return Err(failed(e)),
        }
        let store = self.delivery.store();
        // It may have moved away from here before.
        store.accept_account(account);
        // A copy left by an earlier attempt that failed: set aside, never
        // merged (its UIDs mean nothing now).
        if let Some(parked) = store.park_account(account, &format!("stale-{}", unix_now())).await.map_err(failed)? {
            tracing::warn!(target: "cluster::mailbox", %account, parked = %parked.display(), "set aside an old partial copy");
        }
        // New mailboxes take UIDVALIDITY from the clock (store `plan.rs`):
        // past the old host's values, so no client mistakes new UIDs for old.
        let deadline = Instant::now() + MAX_CLOCK_WAIT;
        while unix_now() <= i64::from(uid_validity_above) {
            if Instant::now() >= deadline {
                return Err(MailboxError::Refused(format!(
                    "this member's clock is behind the old host's (UIDVALIDITY {uid_validity_above} is in the future)"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        lock(&self.moving_in).insert(account.clone());
        let handle = match store.account(account).await {
            Ok(handle) => handle,
            Err(e) => {
                lock(&self.moving_in).remove(account);
                return Err(from_store(e));
            }
        };
        tracing::info!(target: "cluster::mailbox", %account, "moving in: empty copy prepared");
        Ok(MailboxReply::Prepared { mailboxes: handle.mailboxes().iter().map(state).collect() })
    }

    async fn abandon_move_in(&self, account: &AccountName) -> Result<MailboxReply, MailboxError> {
        lock(&self.moving_in).remove(account);
        match self.delivery.locate(account).await {
            Ok(Location::Elsewhere { .. }) => {}
            Ok(Location::Here) => {
                return Err(MailboxError::Refused(format!("{account} is hosted here; its copy stays")));
            }
            Err(e) => return Err(failed(e)),
        }
        let parked = self.delivery.store().park_account(account, &format!("abandoned-{}", unix_now())).await;
        let parked = parked.map_err(failed)?;
        tracing::warn!(target: "cluster::mailbox", %account, "move in abandoned; partial copy set aside");
        Ok(MailboxReply::Parked { path: parked.map(|p| p.display().to_string()) })
    }

    async fn freeze(
        self: &Arc<Self>,
        account: &AccountName,
        token: u64,
        lease_secs: u32,
    ) -> Result<MailboxReply, MailboxError> {
        let lease = Duration::from_secs(u64::from(lease_secs)).min(MAX_LEASE);
        let held = lock(&self.frozen).get(account).map(|f| (f.token, f.account.clone()));
        let first = held.is_none();
        let handle = match held {
            Some((held_token, _)) if held_token != token => return Err(MailboxError::Frozen(account.to_string())),
            Some((_, handle)) => handle,
            None => {
                self.hosted_here(account).await?;
                self.delivery.store().account(account).await.map_err(from_store)?
            }
        };
        {
            let mut frozen = lock(&self.frozen);
            match frozen.get_mut(account) {
                Some(entry) if entry.token != token => return Err(MailboxError::Frozen(account.to_string())),
                Some(entry) => entry.until = Instant::now() + lease,
                None => {
                    frozen.insert(
                        account.clone(),
                        Frozen { account: handle.clone(), token, until: Instant::now() + lease },
                    );
                }
            }
        }
        // Outside the lock: waits for writes in flight to be durable.
        handle.freeze().await;
        handle.close_sessions(MOVING);
        tracing::info!(target: "cluster::mailbox", %account, lease_secs = lease.as_secs(), "frozen for a move");
        // One watcher per freeze; a renewal moves its deadline.
        if first {
            let service = self.clone();
            let account = account.clone();
            tokio::spawn(async move { service.expire(account, token, lease).await });
        }
        Ok(MailboxReply::Done)
    }

    /// Ends a freeze whose lease ran out without the move completing: the
    /// orchestrator died or lost us. If the directory already names
    /// another host, the move did happen: the copy here is set aside as on
    /// completion; otherwise the account is served here again.
    async fn expire(self: Arc<Self>, account: AccountName, token: u64, lease: Duration) {
        tokio::time::sleep(lease).await;
        loop {
            let due = match lock(&self.frozen).get(&account) {
                Some(f) if f.token == token => f.until.checked_duration_since(Instant::now()),
                _ => return,
            };
            if let Some(left) = due.filter(|left| !left.is_zero()) {
                tokio::time::sleep(left).await;
                continue;
            }
            if let Some(hosts) = &self.hosts {
                hosts.invalidate(&account);
            }
            match self.delivery.locate(&account).await {
                Ok(Location::Here) => {
                    tracing::warn!(target: "cluster::mailbox", %account, "freeze lease ran out; served here again");
                    let _ = self.unfreeze(&account, token);
                    return;
                }
                Ok(Location::Elsewhere { server }) => {
                    tracing::warn!(target: "cluster::mailbox", %account, %server, "freeze lease ran out after the directory moved the account; setting the old copy aside");
                    let _ = self.complete_move_out(&account, token, &server).await;
                    return;
                }
                Err(e) => {
                    // Nobody can be served while the directory is down;
                    // decide when it answers.
                    tracing::warn!(target: "cluster::mailbox", %account, error = %e, "freeze lease ran out; directory unavailable, asking again shortly");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        }
    }

    fn unfreeze(&self, account: &AccountName, token: u64) -> Result<MailboxReply, MailboxError> {
        let mut frozen = lock(&self.frozen);
        match frozen.get(account) {
            None => Ok(MailboxReply::Done),
            Some(entry) if entry.token != token => Err(MailboxError::Frozen(account.to_string())),
            Some(_) => {
                if let Some(entry) = frozen.remove(account) {
                    entry.account.unfreeze();
                }
                tracing::info!(target: "cluster::mailbox", %account, "unfrozen; served here again");
                Ok(MailboxReply::Done)
            }
        }
    }

    async fn complete_move_out(
        &self,
        account: &AccountName,
        token: u64,
        to: &str,
    ) -> Result<MailboxReply, MailboxError> {
        match lock(&self.frozen).get(account) {
            Some(entry) if entry.token == token => {}
            _ => {
                return Err(MailboxError::Refused(format!(
                    "{account} is not frozen for this move (did its lease run out?)"
                )));
            }
        }
        // The directory must name the new host before the copy here goes:
        // from then on this member's look-ups send everything there.
        if let Some(hosts) = &self.hosts {
            hosts.invalidate(account);
        }
        match self.delivery.locate(account).await {
            Ok(Location::Elsewhere { server }) if server == to => {}
            Ok(Location::Elsewhere { server }) => {
                return Err(MailboxError::Refused(format!("the directory names {server} as host, not {to}")));
            }
            Ok(Location::Here) => return Err(MailboxError::Refused("the directory still names this member".into())),
            Err(e) => return Err(failed(e)),
        }
        let label = format!("moved-to-{to}-{}", unix_now());
        self.delivery.store().refuse_account(account);
        let parked = self.delivery.store().park_account(account, &label).await.map_err(failed)?;
        lock(&self.frozen).remove(account);
        tracing::info!(target: "cluster::mailbox", %account, to, parked = ?parked, "moved out; old copy set aside");
        Ok(MailboxReply::Parked { path: parked.map(|p| p.display().to_string()) })
    }
}

#[cfg(test)]
mod tests;
