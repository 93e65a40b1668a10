//! `rookery account move NAME@DOMAIN --to SERVER`: moves one live account
//! between backends over the cluster link (CM-26).
//!
//! **Who drives:** this command, run on any member with that member's
//! configuration (cluster secret, member addresses, directory). It reads
//! the old host from the directory, then speaks to both hosts over the
//! link, so message bytes pass through the machine it runs on (run it on
//! the new host for a single network hop; that member must then have its
//! own address on its `cluster.link.allow`). Neither host keeps move state
//! that outlives a failure: the old host's freeze is a lease, the new
//! host's copy is set aside when the move is abandoned or tried again.
//!
//! **Steps:**
//! 1. `PrepareMoveIn` on the new host: an empty copy (an older partial
//!    copy is set aside), its mailbox tree made like the old one's.
//! 2. Bulk copy while the account stays live: every message of every
//!    mailbox with its flags and internal date, remembering for each
//!    mailbox the highest modseq seen before it started.
//! 3. `Freeze` on the old host (a lease, renewed as we go): writes,
//!    deliveries and logins get temporary failures (mail waits in the
//!    senders' queues), live IMAP/POP3 sessions are closed; the freeze
//!    returns once every write accepted before it is durable.
//! 4. Final sync: mailboxes created, renamed or deleted meanwhile; new
//!    messages (UIDs above the last copied); flags changed and messages
//!    expunged since the modseq of step 2; subscriptions. Then the
//!    message counts of both copies must agree, mailbox by mailbox.
//! 5. The directory's `hostServer` names the new host;
//!    `CompleteMoveIn` makes the new host forget its cached answer.
//! 6. `CompleteMoveOut` on the old host: it forgets its cached answer,
//!    checks the directory, and parks its copy as
//!    `<local>~moved-to-<server>-<time>` (kept, not deleted, until an
//!    operator removes it), which ends the freeze.
//!
//! **UIDs change**: the new host assigns its own, and every mailbox there
//! has a UIDVALIDITY above the old host's (the store's format has no way
//! to import a UID), so clients resynchronise instead of mixing old and
//! new UIDs. Flags, internal dates, mailbox names and subscriptions are
//! kept.
//!
//! **Failure:** before step 5 succeeds, the old host is unfrozen and the
//! new copy set aside: the account stays where it was, served. If step 5
//! fails with its outcome unknown (the directory stopped answering), the
//! freeze is left to its lease: when it runs out the old host reads the
//! directory and either serves the account again or parks its copy.

use crate::config::{Config, DirectoryKind};
use anyhow::{Context, anyhow, bail};
use bytes::{Bytes, BytesMut};
use cluster::link::{
    ClusterSecret, LinkClient, MAX_FETCH_BYTES, MailboxError, MailboxOp, MailboxReply, MailboxState, Upload,
};
use directory::HostDirectory;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Instant;
use types::{AccountName, DomainName};

/// Messages and bytes asked for per fetch.
const BATCH_MESSAGES: u32 = 500;
const BATCH_BYTES: u32 = 8 << 20;
/// Messages above this size are imported in parts of this size.
const IMPORT_PART: usize = 16 << 20;
/// The freeze lease; renewed before each mailbox of the final sync and
/// before the directory switch.
const FREEZE_LEASE_SECS: u32 = 120;

/// One member of the move.
struct Host {
    name: DomainName,
    address: SocketAddr,
}

/// What is known of one of the old host's mailboxes (by its id).
struct Copied {
    source_name: String,
    /// Its name on the new host (differs only until a rename is applied).
    target_name: String,
    target_id: u32,
    /// Every message above this UID is still to be copied.
    last_uid: u32,
    /// Changes after this modseq are still to be applied.
    since_modseq: u64,
    /// Old UID -> new UID of every message copied and not expunged since,
    /// with the modseq it had when copied.
    uids: BTreeMap<u32, (u32, u64)>,
}

#[derive(Default)]
struct Totals {
    messages: u64,
    bytes: u64,
    flag_updates: u64,
    expunged: u64,
}

struct Mover {
    client: LinkClient,
    account: AccountName,
    source: Host,
    target: Host,
    token: u64,
    mailboxes: BTreeMap<u32, Copied>,
    totals: Totals,
    upload_ids: u64,
}

/// Runs the command: resolves the hosts from the configuration and the
/// directory, moves, prints progress and a summary.
pub async fn run(config: &Config, name: &str, to: &str) -> anyhow::Result<()> {
    if config.directory.kind != DirectoryKind::Ldap {
        bail!("account move needs the shared directory: directory.kind = \"ldap\"");
    }
    let account = AccountName::parse(name, Some(&config.main_domain())).map_err(|e| anyhow!("{name:?}: {e}"))?;
    let target_name = DomainName::parse(to).map_err(|e| anyhow!("--to {to:?}: {e}"))?;
    let Some(link) = &config.cluster.link else { bail!("account move needs cluster.link in the configuration") };
    let secret: ClusterSecret = link.validate().map_err(|e| anyhow!("cluster.link.{}: {}", e.key, e.reason))?;
    let section = &config.directory;
    let options =
        directory::LdapOptions::new(&section.url, &section.base_dn, &section.bind_dn, &section.bind_password()?);
    let ldap = directory::LdapDirectory::connect(options)
        .await
        .with_context(|| format!("connecting to the directory at {}", section.url))?;
    let source_name = ldap
        .host_server(&account)
        .await
        .with_context(|| format!("reading the host of {account}"))?
        .ok_or_else(|| anyhow!("{account} has no host server in the directory"))?;
    if source_name == target_name {
        bail!("{account} is hosted on {target_name} already");
    }
    let address = |server: &DomainName| -> anyhow::Result<SocketAddr> {
        if server.as_str() == config.server_name() {
            return Ok(link.address);
        }
        config.cluster.members.get(server.as_str()).copied().ok_or_else(|| {
            anyhow!("cluster.members has no address for {server} (needed to reach it over the cluster link)")
        })
    };
    let mut mover = Mover {
        client: LinkClient::new(link, secret),
        account,
        source: Host { address: address(&source_name)?, name: source_name },
        target: Host { address: address(&target_name)?, name: target_name },
        token: random_token(),
        mailboxes: BTreeMap::new(),
        totals: Totals::default(),
        upload_ids: 0,
    };
    println!("moving {} from {} to {}", mover.account, mover.source.name, mover.target.name);
    mover.run(&ldap).await
}

fn random_token() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    // Unique enough to tell two moves of one account apart.
    (nanos as u64) ^ (u64::from(std::process::id()) << 32)
}

/// Where the move stands, for what a failure must undo.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stage {
    Copying,
    Frozen,
    /// The directory may or may not name the new host.
    SwitchUnknown,
    Switched,
}

impl Mover {
    async fn run(&mut self, hosts: &dyn HostDirectory) -> anyhow::Result<()> {
        let started = Instant::now();
        let mut stage = Stage::Copying;
        let mut frozen_at = None;
        let result = self.steps(hosts, &mut stage, &mut frozen_at).await;
        let frozen_for = frozen_at.map(|at: Instant| at.elapsed());
        match result {
            Ok(parked) => {
                let totals = &self.totals;
                println!(
                    "moved {} from {} to {}: {} messages ({} bytes) in {} mailboxes copied, {} flag updates, {} expunges applied; frozen for {:.2} s, {:.2} s in all",
                    self.account,
                    self.source.name,
                    self.target.name,
                    totals.messages,
                    totals.bytes,
                    self.mailboxes.len(),
                    totals.flag_updates,
                    totals.expunged,
                    frozen_for.unwrap_or_default().as_secs_f64(),
                    started.elapsed().as_secs_f64()
                );
                match parked {
                    Some(path) => println!("the old copy on {} is parked at {path}", self.source.name),
                    None => println!("the old copy on {} will be parked when its freeze ends", self.source.name),
                }
                Ok(())
            }
            Err(error) => {
                self.roll_back(stage).await;
                Err(error.context(format!("moving {} to {} failed", self.account, self.target.name)))
            }
        }
    }

    async fn steps(
        &mut self,
        hosts: &dyn HostDirectory,
        stage: &mut Stage,
        frozen_at: &mut Option<Instant>,
    ) -> anyhow::Result<Option<String>> {
        // 1. An empty copy on the new host.
        let (source_boxes, source_subscriptions) = self.list(Side::Source).await?;
        let above = source_boxes.iter().map(|m| m.uid_validity).max().unwrap_or(0);
        let prepare = MailboxOp::PrepareMoveIn { account: self.account.clone(), uid_validity_above: above };
        let MailboxReply::Prepared { mailboxes: target_boxes } =
            self.call(Side::Target, prepare, Bytes::new()).await?.0
        else {
            bail!("{} answered a prepare with something else", self.target.name);
        };
        self.shape_target(&source_boxes, &target_boxes).await?;
        // 2. Bulk copy, live.
        let ids: Vec<u32> = self.mailboxes.keys().copied().collect();
        for id in &ids {
            self.copy_new(*id).await?;
        }
        self.sync_subscriptions(&source_subscriptions).await?;
        println!("bulk copy done: {} messages, {} bytes", self.totals.messages, self.totals.bytes);
        // 3. Freeze. Marked first: a freeze whose answer is lost may have
        // happened, and unfreezing an account that is not frozen is no harm.
        *stage = Stage::Frozen;
        self.freeze().await?;
        *frozen_at = Some(Instant::now());
        println!("{} frozen on {}; its sessions there are closed", self.account, self.source.name);
        // 4. Final sync.
        self.final_sync().await?;
        // 5. Directory switch, with the freeze renewed just before.
        self.freeze().await?;
        *stage = Stage::SwitchUnknown;
        if let Err(e) = hosts.set_host_server(&self.account, &self.target.name).await {
            match hosts.host_server(&self.account).await {
                Ok(Some(host)) if host == self.target.name => {}
                Ok(_) => {
                    *stage = Stage::Frozen;
                    return Err(anyhow!(e).context("switching hostServer in the directory"));
                }
                Err(_) => return Err(anyhow!(e).context("switching hostServer in the directory (outcome unknown)")),
            }
        }
        *stage = Stage::Switched;
        println!("directory: {} is hosted on {}", self.account, self.target.name);
        let done = MailboxOp::CompleteMoveIn { account: self.account.clone() };
        if let Err(e) = self.call(Side::Target, done, Bytes::new()).await {
            // Its cached host expires within seconds anyway.
            eprintln!("warning: {} did not confirm taking the account: {e:#}", self.target.name);
        }
        // 6. The old copy set aside.
        let complete = MailboxOp::CompleteMoveOut {
            account: self.account.clone(),
            token: self.token,
            to: self.target.name.to_string(),
        };
        match self.call(Side::Source, complete, Bytes::new()).await {
            Ok((MailboxReply::Parked { path }, _)) => Ok(path),
            Ok(_) => Ok(None),
            Err(e) => {
                eprintln!(
                    "warning: {} did not set its old copy aside ({e:#}); it does so itself when the freeze lease ends",
                    self.source.name
                );
                Ok(None)
            }
        }
    }

    /// Undoes what a failure at `stage` left behind, saying what it did.
    async fn roll_back(&mut self, stage: Stage) {
        match stage {
            Stage::Switched => return,
            Stage::SwitchUnknown => {
                eprintln!(
                    "the directory did not answer whether {} now names {}: {} stays frozen until its lease ends ({FREEZE_LEASE_SECS} s), then serves the account again or sets its copy aside, whichever the directory says",
                    self.account, self.target.name, self.source.name
                );
                return;
            }
            Stage::Frozen => {
                let unfreeze = MailboxOp::Unfreeze { account: self.account.clone(), token: self.token };
                match self.call(Side::Source, unfreeze, Bytes::new()).await {
                    Ok(_) => eprintln!("{} unfrozen: still served by {}", self.account, self.source.name),
                    Err(e) => eprintln!(
                        "could not unfreeze {} on {} ({e:#}); its lease ends within {FREEZE_LEASE_SECS} s",
                        self.account, self.source.name
                    ),
                }
            }
            Stage::Copying => eprintln!("{} was not frozen: still served by {}", self.account, self.source.name),
        }
        let abandon = MailboxOp::AbandonMoveIn { account: self.account.clone() };
        match self.call(Side::Target, abandon, Bytes::new()).await {
            Ok(_) => eprintln!("the partial copy on {} is set aside", self.target.name),
            Err(e) => eprintln!(
                "could not set aside the partial copy on {} ({e:#}); the next move there does it",
                self.target.name
            ),
        }
    }

    async fn call(&self, side: Side, op: MailboxOp, body: Bytes) -> anyhow::Result<(MailboxReply, Bytes)> {
        let host = self.host(side);
        let name = op.name();
        let (result, body) =
            self.client.mailbox(host.address, op, body).await.with_context(|| format!("{name} on {}", host.name))?;
        let reply = result.map_err(|e: MailboxError| anyhow!("{name} on {}: {e}", host.name))?;
        Ok((reply, body))
    }

    fn host(&self, side: Side) -> &Host {
        match side {
            Side::Source => &self.source,
            Side::Target => &self.target,
        }
    }

    async fn list(&self, side: Side) -> anyhow::Result<(Vec<MailboxState>, Vec<String>)> {
        let op = MailboxOp::ListMailboxes { account: self.account.clone() };
        match self.call(side, op, Bytes::new()).await?.0 {
            MailboxReply::Mailboxes { mailboxes, subscriptions } => Ok((mailboxes, subscriptions)),
            _ => bail!("{} answered a mailbox list with something else", self.host(side).name),
        }
    }

    async fn freeze(&self) -> anyhow::Result<()> {
        let op = MailboxOp::Freeze { account: self.account.clone(), token: self.token, lease_secs: FREEZE_LEASE_SECS };
        self.call(Side::Source, op, Bytes::new()).await.map(|_| ())
    }

    /// Makes the new copy's mailboxes those of the old one (by name), and
    /// records each pair.
    async fn shape_target(&mut self, source: &[MailboxState], target: &[MailboxState]) -> anyhow::Result<()> {
        let wanted: BTreeSet<&str> = source.iter().map(|m| m.name.as_str()).collect();
        for extra in target.iter().filter(|m| !wanted.contains(m.name.as_str()) && m.name != "INBOX") {
            let op = MailboxOp::DeleteMailbox { account: self.account.clone(), name: extra.name.clone() };
            self.call(Side::Target, op, Bytes::new()).await?;
        }
        // Sorted by name, so superiors come before inferiors.
        let mut source: Vec<&MailboxState> = source.iter().collect();
        source.sort_by(|a, b| a.name.cmp(&b.name));
        for mailbox in source {
            self.add_mailbox(mailbox, target).await?;
        }
        Ok(())
    }

    async fn add_mailbox(&mut self, mailbox: &MailboxState, target: &[MailboxState]) -> anyhow::Result<()> {
        let target_id = match target.iter().find(|t| t.name == mailbox.name) {
            Some(existing) => existing.id,
            None => {
                let op = MailboxOp::CreateMailbox { account: self.account.clone(), name: mailbox.name.clone() };
                match self.call(Side::Target, op, Bytes::new()).await?.0 {
                    MailboxReply::Created { mailbox, .. } => mailbox,
                    _ => bail!("{} answered a create with something else", self.target.name),
                }
            }
        };
        self.mailboxes.insert(
            mailbox.id,
            Copied {
                source_name: mailbox.name.clone(),
                target_name: mailbox.name.clone(),
                target_id,
                last_uid: 0,
                since_modseq: mailbox.highest_modseq,
                uids: BTreeMap::new(),
            },
        );
        Ok(())
    }

    /// Copies every message of the old host's mailbox `id` above the last
    /// one copied.
    async fn copy_new(&mut self, id: u32) -> anyhow::Result<()> {
        let mut empty_batches = 0;
        loop {
            let Some(copied) = self.mailboxes.get(&id) else { return Ok(()) };
            let (after_uid, name) = (copied.last_uid, copied.source_name.clone());
            let op = MailboxOp::Fetch {
                account: self.account.clone(),
                mailbox: id,
                after_uid,
                max_messages: BATCH_MESSAGES,
                max_bytes: BATCH_BYTES,
            };
            let (reply, body) = self.call(Side::Source, op, Bytes::new()).await?;
            let MailboxReply::Messages { messages, more, .. } = reply else {
                bail!("{} answered a fetch with something else", self.source.name);
            };
            if messages.is_empty() && more {
                // Every message of the batch was expunged as we read it.
                empty_batches += 1;
                if empty_batches > 10 {
                    bail!("{} keeps answering empty batches for {name}", self.source.name);
                }
                continue;
            }
            empty_batches = 0;
            let mut at = 0usize;
            for message in &messages {
                let len = usize::try_from(message.len).unwrap_or(usize::MAX);
                let Some(bytes) = body.get(at..at.saturating_add(len)) else {
                    bail!("{} sent fewer bytes than it listed", self.source.name);
                };
                at += len;
                let mut content = body.slice_ref(bytes);
                if message.len < message.size {
                    content = self.fetch_rest(id, message.uid, content, message.size).await?;
                }
                let new_uid = self.import(id, &message.flags, message.internal_date, content).await?;
                let copied = self.mailboxes.get_mut(&id).ok_or_else(|| anyhow!("mailbox {name} vanished"))?;
                copied.uids.insert(message.uid, (new_uid, message.modseq));
                copied.last_uid = copied.last_uid.max(message.uid);
                self.totals.messages += 1;
                self.totals.bytes += message.size;
            }
            if !messages.is_empty() {
                let copied = self.mailboxes.get(&id).map_or(0, |c| c.uids.len());
                println!("  {name}: {copied} messages copied ({} bytes in all so far)", self.totals.bytes);
            }
            if !more {
                return Ok(());
            }
        }
    }

    /// The rest of a message larger than a fetch batch.
    async fn fetch_rest(&self, mailbox: u32, uid: u32, start: Bytes, size: u64) -> anyhow::Result<Bytes> {
        let mut whole = BytesMut::with_capacity(usize::try_from(size).unwrap_or(0));
        whole.extend_from_slice(&start);
        while (whole.len() as u64) < size {
            let op = MailboxOp::FetchPart {
                account: self.account.clone(),
                mailbox,
                uid,
                offset: whole.len() as u64,
                max_bytes: MAX_FETCH_BYTES,
            };
            let (reply, part) = self.call(Side::Source, op, Bytes::new()).await?;
            match reply {
                MailboxReply::Part { size: now } if now == size && !part.is_empty() => whole.extend_from_slice(&part),
                _ => bail!("message {uid} changed or ended early while being read from {}", self.source.name),
            }
        }
        Ok(whole.freeze())
    }

    async fn import(&mut self, id: u32, flags: &[String], internal_date: i64, content: Bytes) -> anyhow::Result<u32> {
        let mailbox = self.mailboxes.get(&id).map(|c| c.target_name.clone()).unwrap_or_default();
        let op = |upload| MailboxOp::Import {
            account: self.account.clone(),
            mailbox: mailbox.clone(),
            flags: flags.to_vec(),
            internal_date,
            upload,
        };
        let uid = if content.len() <= IMPORT_PART {
            self.call(Side::Target, op(None), content).await?.0
        } else {
            self.upload_ids += 1;
            let (id, total) = (self.upload_ids, content.len() as u64);
            let mut last = None;
            for offset in (0..content.len()).step_by(IMPORT_PART) {
                let part = content.slice(offset..(offset + IMPORT_PART).min(content.len()));
                let upload = Upload { id, offset: offset as u64, total };
                last = Some(self.call(Side::Target, op(Some(upload)), part).await?.0);
            }
            last.ok_or_else(|| anyhow!("empty upload"))?
        };
        match uid {
            MailboxReply::Imported { uid: Some(uid), .. } => Ok(uid),
            _ => bail!("{} did not store an imported message", self.target.name),
        }
    }

    async fn sync_subscriptions(&self, source: &[String]) -> anyhow::Result<()> {
        let (_, target) = self.list(Side::Target).await?;
        let (source, target): (BTreeSet<&String>, BTreeSet<&String>) =
            (source.iter().collect(), target.iter().collect());
        for (name, subscribed) in
            source.difference(&target).map(|n| (*n, true)).chain(target.difference(&source).map(|n| (*n, false)))
        {
            let op = MailboxOp::SetSubscribed { account: self.account.clone(), name: name.clone(), subscribed };
            if let Err(e) = self.call(Side::Target, op, Bytes::new()).await {
                // A subscription to a name with no mailbox cannot be made
                // on the new host (the store needs the mailbox); say so.
                eprintln!("warning: subscription {name:?} not copied: {e:#}");
            }
        }
        Ok(())
    }

    /// Step 4, with the old host frozen: everything that changed since
    /// the bulk copy.
    async fn final_sync(&mut self) -> anyhow::Result<()> {
        let (source_boxes, subscriptions) = self.list(Side::Source).await?;
        let present: BTreeMap<u32, &MailboxState> = source_boxes.iter().map(|m| (m.id, m)).collect();
        // Mailboxes deleted meanwhile.
        let gone: Vec<u32> = self.mailboxes.keys().filter(|id| !present.contains_key(id)).copied().collect();
        for id in gone {
            if let Some(copied) = self.mailboxes.remove(&id) {
                let op = MailboxOp::DeleteMailbox { account: self.account.clone(), name: copied.target_name };
                self.call(Side::Target, op, Bytes::new()).await?;
            }
        }
        // Renamed meanwhile (superiors first: renaming one renames its
        // inferiors too, on both hosts).
        let mut renamed: Vec<(u32, String)> = source_boxes
            .iter()
            .filter(|m| self.mailboxes.get(&m.id).is_some_and(|c| c.target_name != m.name))
            .map(|m| (m.id, m.name.clone()))
            .collect();
        renamed.sort_by(|a, b| a.1.cmp(&b.1));
        for (id, name) in renamed {
            self.rename_on_target(id, &name).await?;
        }
        // Created meanwhile.
        let (target_boxes, _) = self.list(Side::Target).await?;
        let mut created: Vec<&MailboxState> =
            source_boxes.iter().filter(|m| !self.mailboxes.contains_key(&m.id)).collect();
        created.sort_by(|a, b| a.name.cmp(&b.name));
        for mailbox in created {
            self.add_mailbox(mailbox, &target_boxes).await?;
        }
        for mailbox in &source_boxes {
            self.freeze().await?;
            self.copy_new(mailbox.id).await?;
            self.apply_changes(mailbox.id).await?;
            let copied = self.mailboxes.get(&mailbox.id).map_or(0, |c| c.uids.len());
            if copied != mailbox.messages as usize {
                bail!(
                    "{} holds {} messages in {} but the copy has {copied}; nothing switched",
                    self.source.name,
                    mailbox.messages,
                    mailbox.name
                );
            }
        }
        self.sync_subscriptions(&subscriptions).await?;
        println!("final sync done: {} messages, {} bytes in all", self.totals.messages, self.totals.bytes);
        Ok(())
    }

    async fn rename_on_target(&mut self, id: u32, name: &str) -> anyhow::Result<()> {
        let (target_boxes, _) = self.list(Side::Target).await?;
        let Some(copied) = self.mailboxes.get(&id) else { return Ok(()) };
        let already = target_boxes.iter().any(|t| t.id == copied.target_id && t.name == name);
        if !already {
            let op = MailboxOp::RenameMailbox {
                account: self.account.clone(),
                from: copied.target_name.clone(),
                to: name.to_owned(),
            };
            self.call(Side::Target, op, Bytes::new()).await?;
        }
        // A rename of a superior renamed inferiors too: take every name anew.
        let (target_boxes, _) = self.list(Side::Target).await?;
        for copied in self.mailboxes.values_mut() {
            if let Some(now) = target_boxes.iter().find(|t| t.id == copied.target_id) {
                copied.target_name = now.name.clone();
            }
        }
        if let Some(copied) = self.mailboxes.get_mut(&id) {
            copied.source_name = name.to_owned();
        }
        Ok(())
    }

    /// Flags changed and messages expunged in the old mailbox `id` since
    /// the bulk copy, applied to the new one.
    async fn apply_changes(&mut self, id: u32) -> anyhow::Result<()> {
        let Some(copied) = self.mailboxes.get(&id) else { return Ok(()) };
        let (since_modseq, target_id) = (copied.since_modseq, copied.target_id);
        let mut after_uid = 0;
        loop {
            let op = MailboxOp::Changes { account: self.account.clone(), mailbox: id, since_modseq, after_uid };
            let MailboxReply::Changes { changed, vanished, more } = self.call(Side::Source, op, Bytes::new()).await?.0
            else {
                bail!("{} answered a change list with something else", self.source.name);
            };
            let Some(copied) = self.mailboxes.get_mut(&id) else { return Ok(()) };
            let mut gone = Vec::new();
            for (first, last) in vanished {
                let uids: Vec<u32> = copied.uids.range(first..=last).map(|(old, _)| *old).collect();
                for old in uids {
                    if let Some((new, _)) = copied.uids.remove(&old) {
                        gone.push(new);
                    }
                }
            }
            let mut by_flags: BTreeMap<Vec<String>, Vec<u32>> = BTreeMap::new();
            for change in &changed {
                // Copied after the change: nothing to do.
                if let Some((new, _)) = copied.uids.get(&change.uid).filter(|(_, at)| change.modseq > *at) {
                    by_flags.entry(change.flags.clone()).or_default().push(*new);
                }
                after_uid = after_uid.max(change.uid);
            }
            if !gone.is_empty() {
                self.totals.expunged += gone.len() as u64;
                let op = MailboxOp::Expunge { account: self.account.clone(), mailbox: target_id, uids: gone };
                self.call(Side::Target, op, Bytes::new()).await?;
            }
            for (flags, uids) in by_flags {
                self.totals.flag_updates += uids.len() as u64;
                let op = MailboxOp::SetFlags { account: self.account.clone(), mailbox: target_id, uids, flags };
                self.call(Side::Target, op, Bytes::new()).await?;
            }
            if !more {
                return Ok(());
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Side {
    Source,
    Target,
}

#[cfg(test)]
mod tests;
