//! The session: its states (RFC 9051 §3), the input loop and the dispatch
//! of commands to the files under `op/`.

use crate::config::ImapConfig;
use crate::frame::{Frame, FrameLimits, Framer, tag_of};
use crate::op::ListExtended;
use crate::selected::Selected;
use crate::write;
use bytes::BytesMut;
use cluster::Locator;
use directory::Directory;
use imap_codec::CommandCodec;
use imap_codec::decode::{CommandDecodeError, Decoder};
use imap_types::command::{Command, CommandBody, StoreModifier};
use imap_types::mailbox::Mailbox;
use imap_types::status::StatusDataItemName;
use net::{ConnInfo, Session, Step};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use store::{Account, Store, StoreError};
use tokio::sync::watch;
use tracing::Instrument;
use types::AccountName;

/// What an IMAP session needs from the rest of the server.
pub struct ImapServices {
    pub directory: Arc<dyn Directory>,
    pub store: Arc<Store>,
    pub locator: Arc<dyn Locator>,
}

/// The logged-in account (the Authenticated and Selected states).
pub(crate) struct Authenticated {
    pub account: Arc<Account>,
    pub quota_bytes: Option<u64>,
    /// Moves after every change to the account: a cheap "anything new?".
    pub changes: watch::Receiver<u64>,
    /// Set when the account's sessions must close (it is moving to
    /// another server): the session says `BYE` and closes.
    pub closing: watch::Receiver<Option<Arc<str>>>,
    /// Counts the session as logged in (`/metrics`) until it ends.
    pub _logged_in: net::LoggedIn,
}

/// Extensions the client has turned on (ENABLE, RFC 5161), which change
/// the form of the server's responses.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Enabled {
    /// IMAP4rev2 (RFC 9051): ESEARCH replies to SEARCH, UTF-8 mailbox
    /// names, no `\Recent`.
    pub imap4rev2: bool,
    /// CONDSTORE (RFC 7162 §3.1): MODSEQ in untagged FETCH responses.
    /// Also turned on by any CONDSTORE-enabling command.
    pub condstore: bool,
    /// QRESYNC (RFC 7162 §3.2): VANISHED instead of EXPUNGE.
    pub qresync: bool,
}

/// One IMAP connection's state machine, driven by `net`'s driver.
pub struct ImapSession {
    pub(crate) config: Arc<ImapConfig>,
    pub(crate) services: Arc<ImapServices>,
    pub(crate) conn: ConnInfo,
    framer: Framer,
    /// The tag of an AUTHENTICATE waiting for the client's response line.
    pub(crate) sasl_tag: Option<String>,
    /// Where that exchange is (PLAIN, or which step of LOGIN).
    pub(crate) sasl_step: crate::op::SaslStep,
    /// The tag of an IDLE waiting for DONE.
    pub(crate) idle_tag: Option<String>,
    pub(crate) auth: Option<Authenticated>,
    pub(crate) selected: Option<Selected>,
    pub(crate) auth_failures: usize,
    pub(crate) enabled: Enabled,
    /// SEARCHRES (RFC 5182): the UIDs saved by `SEARCH RETURN (SAVE)`
    /// for `$`; `None` until a SAVE in the selected mailbox.
    pub(crate) saved_result: Option<Vec<types::Uid>>,
    /// The selected mailbox vanished under the session: `* BYE` has been
    /// written and the connection closes after this command.
    closing: bool,
    errors: usize,
    pub(crate) span: tracing::Span,
}

/// Pending output above which the driver writes before the next command.
const FLUSH_AT: usize = 1 << 20;

impl ImapSession {
    pub fn new(config: Arc<ImapConfig>, services: Arc<ImapServices>, conn: ConnInfo) -> Self {
        let span = tracing::info_span!(target: "imap", "imap", account = tracing::field::Empty);
        Self {
            config,
            services,
            conn,
            framer: Framer::default(),
            sasl_tag: None,
            sasl_step: crate::op::SaslStep::Plain,
            idle_tag: None,
            auth: None,
            selected: None,
            auth_failures: 0,
            enabled: Enabled::default(),
            saved_result: None,
            closing: false,
            errors: 0,
            span,
        }
    }

    fn limits(&self) -> FrameLimits {
        FrameLimits { max_line: self.config.max_line, max_literal: self.config.max_literal }
    }

    async fn handle_input(&mut self, input: &mut BytesMut, out: &mut Vec<u8>) -> Step {
        loop {
            let step = if let Some(tag) = self.sasl_tag.take() {
                match self.framer.line(input, self.config.max_line) {
                    None => {
                        self.sasl_tag = Some(tag);
                        return Step::Continue;
                    }
                    Some(Ok(line)) => self.handle_sasl_response(&tag, &line, out).await,
                    Some(Err(())) => self.bad(out, &tag, "line too long"),
                }
            } else if let Some(tag) = self.idle_tag.take() {
                match self.framer.line(input, self.config.max_line) {
                    None => {
                        self.idle_tag = Some(tag);
                        return Step::Continue;
                    }
                    Some(Ok(line)) if line.trim_ascii().eq_ignore_ascii_case(b"DONE") => {
                        self.ok(out, &tag, "IDLE terminated")
                    }
                    Some(_) => self.bad(out, &tag, "expected DONE"),
                }
            } else {
                let max_non_sync = self.max_non_sync_literal();
                match self.framer.next_capped(input, out, self.limits(), max_non_sync) {
                    Frame::NeedMore => return Step::Continue,
                    Frame::Command(bytes) => self.handle_command(&bytes, out).await,
                    Frame::LineTooLong { tag } => self.bad(out, &tag, "command line too long"),
                    Frame::LiteralTooLarge { tag, sync: true } => {
                        write::tagged(out, &tag, "NO", "[TOOBIG] literal too large");
                        Step::Continue
                    }
                    Frame::LiteralTooLarge { tag, sync: false } => {
                        write::tagged(out, &tag, "BAD", "[TOOBIG] literal too large");
                        write::line(out, format_args!("* BYE literal too large"));
                        Step::Close
                    }
                }
            };
            if self.closing {
                return Step::Close;
            }
            if step != Step::Continue {
                return step;
            }
            if out.len() >= FLUSH_AT && !input.is_empty() {
                return Step::Flush;
            }
        }
    }

    async fn handle_command(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Step {
        let literals = crate::tokens::quoted_8bit_as_literals(bytes);
        let bytes = literals.as_deref().unwrap_or(bytes);
        // imap-codec does not parse SEARCHRES's `$`: it is replaced by
        // the saved result first (op/search/saved.rs).
        let substituted = match self.substitute_saved_result(bytes) {
            Ok(substituted) => substituted,
            Err(reason) => return self.no(out, &tag_of(bytes), reason),
        };
        let bytes = substituted.as_ref().map_or(bytes, |s| s.bytes.as_slice());
        match CommandCodec::default().decode(bytes) {
            Ok(([], command)) => {
                tracing::debug!(target: "imap", command = command.body.name(), "command");
                if substituted.as_ref().is_some_and(|s| s.empty)
                    && let Some(step) = self.answer_empty_saved_result(&command, out)
                {
                    return step;
                }
                self.dispatch(command, out).await
            }
            Ok(_) | Err(CommandDecodeError::Failed | CommandDecodeError::Incomplete) => {
                // imap-codec knows only RFC 3501's LIST.
                match ListExtended::parse(bytes) {
                    Some(Ok(list)) if self.auth.is_some() => {
                        tracing::debug!(target: "imap", command = "LIST", "command");
                        return self.handle_list_extended(&tag_of(bytes), list, out);
                    }
                    Some(Ok(_)) => return self.no(out, &tag_of(bytes), "log in first"),
                    Some(Err(reason)) => return self.bad(out, &tag_of(bytes), reason),
                    None => {}
                }
                // Nor SEARCH RETURN (RFC 4731).
                if let Some(step) = self.handle_search_return(bytes, out).await {
                    return step;
                }
                tracing::debug!(target: "imap", "bad command");
                self.bad(out, &tag_of(bytes), "syntax error in command")
            }
            Err(CommandDecodeError::LiteralFound { tag, .. }) => {
                // The framer has read every literal; this cannot happen.
                self.bad(out, tag.inner(), "unexpected literal")
            }
        }
    }

    async fn dispatch(&mut self, command: Command<'_>, out: &mut Vec<u8>) -> Step {
        let tag = command.tag.inner().to_owned();
        let tag = tag.as_str();
        // SEARCHRES (RFC 9051 §6.4.4.1): a saved result belongs to one
        // selection, and a new one starts as the empty set.
        if matches!(
            command.body,
            CommandBody::Select { .. } | CommandBody::Examine { .. } | CommandBody::Close | CommandBody::Unselect
        ) {
            self.saved_result = Some(Vec::new());
        }
        match command.body {
            CommandBody::Capability => self.handle_capability(tag, out),
            CommandBody::Noop | CommandBody::Check => self.handle_noop(tag, out),
            CommandBody::Logout => self.handle_logout(tag, out),
            CommandBody::StartTLS => self.handle_starttls(tag, out),
            CommandBody::Id { .. } => self.handle_id(tag, out),
            CommandBody::Enable { capabilities } => self.handle_enable(tag, capabilities.as_ref(), out),
            CommandBody::Login { username, password } => {
                self.handle_login(tag, username.as_ref(), password.declassify().as_ref(), out).await
            }
            CommandBody::Authenticate { mechanism, initial_response } => {
                let initial = initial_response.map(|r| r.declassify().to_vec());
                self.handle_authenticate(tag, mechanism.as_ref(), initial, out).await
            }
            body if self.auth.is_none() => {
                let _ = body;
                self.no(out, tag, "log in first")
            }
            CommandBody::Create { mailbox } => self.handle_create(tag, &mailbox, out).await,
            CommandBody::Delete { mailbox } => self.handle_delete(tag, &mailbox, out).await,
            CommandBody::Rename { from, to } => self.handle_rename(tag, &from, &to, out).await,
            CommandBody::Subscribe { mailbox } => self.handle_subscribe(tag, &mailbox, true, out).await,
            CommandBody::Unsubscribe { mailbox } => self.handle_subscribe(tag, &mailbox, false, out).await,
            CommandBody::List { reference, mailbox_wildcard } => {
                self.handle_list(tag, &reference, &mailbox_wildcard, false, out)
            }
            CommandBody::Lsub { reference, mailbox_wildcard } => {
                self.handle_list(tag, &reference, &mailbox_wildcard, true, out)
            }
            CommandBody::Status { mailbox, item_names } => {
                // A CONDSTORE-enabling command (RFC 7162 §3.1).
                if item_names.contains(&StatusDataItemName::HighestModSeq) {
                    self.enabled.condstore = true;
                }
                self.handle_status(tag, &mailbox, &item_names, out)
            }
            CommandBody::Select { mailbox, parameters } => self.handle_select(tag, &mailbox, &parameters, false, out),
            CommandBody::Examine { mailbox, parameters } => self.handle_select(tag, &mailbox, &parameters, true, out),
            CommandBody::Append { mailbox, flags, date, message } => {
                self.handle_append(tag, &mailbox, &flags, date.as_ref(), message, out).await
            }
            CommandBody::Idle => self.handle_idle(tag, out),
            CommandBody::Namespace => self.handle_namespace(tag, out),
            CommandBody::GetQuotaRoot { mailbox } => self.handle_getquotaroot(tag, &mailbox, out),
            CommandBody::GetQuota { root } => self.handle_getquota(tag, root.as_ref(), out),
            CommandBody::SetQuota { .. } => self.no(out, tag, "[NOPERM] quotas are set by the administrator"),
            body if self.selected.is_none() => {
                let _ = body;
                self.no(out, tag, "no mailbox selected")
            }
            CommandBody::Close => self.handle_close(tag, true, out).await,
            CommandBody::Unselect => self.handle_close(tag, false, out).await,
            CommandBody::Expunge => self.handle_expunge(tag, None, out).await,
            CommandBody::ExpungeUid { sequence_set } => self.handle_expunge(tag, Some(&sequence_set), out).await,
            CommandBody::Fetch { sequence_set, macro_or_item_names, uid, modifiers } => {
                self.handle_fetch(tag, &sequence_set, macro_or_item_names, uid, &modifiers, out).await
            }
            CommandBody::Store { sequence_set, kind, response, flags, uid, modifiers } => {
                let unchanged_since = modifiers.iter().map(|StoreModifier::UnchangedSince(m)| *m).next_back();
                self.handle_store(tag, &sequence_set, kind, response, &flags, uid, unchanged_since, out).await
            }
            CommandBody::Copy { sequence_set, mailbox, uid } => {
                self.handle_copy(tag, &sequence_set, &mailbox, uid, false, out).await
            }
            CommandBody::Move { sequence_set, mailbox, uid } => {
                self.handle_copy(tag, &sequence_set, &mailbox, uid, true, out).await
            }
            CommandBody::Search { charset, criteria, uid } => {
                self.handle_search(tag, charset.as_ref(), criteria.as_ref(), uid, out).await
            }
            _ => self.bad(out, tag, "command not supported"),
        }
    }

    /// Answers a client's mistake with `BAD`, counting it; past
    /// [`ImapConfig::max_errors`] the connection is closed.
    pub(crate) fn bad(&mut self, out: &mut Vec<u8>, tag: &str, text: impl fmt::Display) -> Step {
        self.errors += 1;
        write::tagged(out, tag, "BAD", text);
        if self.config.max_errors != 0 && self.errors >= self.config.max_errors {
            write::line(out, format_args!("* BYE too many errors"));
            return Step::Close;
        }
        Step::Continue
    }

    pub(crate) fn no(&mut self, out: &mut Vec<u8>, tag: &str, text: impl fmt::Display) -> Step {
        write::tagged(out, tag, "NO", text);
        Step::Continue
    }

    /// `tag OK text`, after the untagged updates the command may carry.
    pub(crate) fn ok(&mut self, out: &mut Vec<u8>, tag: &str, text: impl fmt::Display) -> Step {
        self.send_updates(true, out);
        write::tagged(out, tag, "OK", text);
        Step::Continue
    }

    /// `tag OK text` for FETCH, STORE and SEARCH by message number, which
    /// must not carry EXPUNGE responses (RFC 3501 §7.4.1).
    pub(crate) fn ok_without_expunge(&mut self, out: &mut Vec<u8>, tag: &str, text: impl fmt::Display) -> Step {
        self.send_updates(false, out);
        write::tagged(out, tag, "OK", text);
        Step::Continue
    }

    /// A store failure as a tagged `NO` with the fitting response code.
    pub(crate) fn store_error(&mut self, out: &mut Vec<u8>, tag: &str, error: StoreError) -> Step {
        let text = match &error {
            StoreError::NoSuchMailbox(_) => "[NONEXISTENT] no such mailbox".to_owned(),
            StoreError::MailboxExists(_) => "[ALREADYEXISTS] mailbox already exists".to_owned(),
            StoreError::BadMailboxName(_) => "[CANNOT] invalid mailbox name".to_owned(),
            StoreError::MailboxProtected(_) => "[CANNOT] mailbox cannot be changed that way".to_owned(),
            StoreError::QuotaExceeded { .. } => "[OVERQUOTA] quota exceeded".to_owned(),
            StoreError::NoSuchMessage(_) => "[NONEXISTENT] no such message".to_owned(),
            StoreError::Frozen(_) => "[UNAVAILABLE] account is being moved, try again later".to_owned(),
            StoreError::NotOwned(_) => "[UNAVAILABLE] account is served elsewhere now, try again later".to_owned(),
            StoreError::Corrupt(_) | StoreError::Io(_) => {
                tracing::error!(target: "imap", error = %error, "store failed");
                "[SERVERBUG] mailbox is unavailable, try again later".to_owned()
            }
        };
        self.no(out, tag, text)
    }

    /// Untagged EXISTS, EXPUNGE and FETCH FLAGS for what other sessions
    /// changed in the selected mailbox since the last look.
    pub(crate) fn send_updates(&mut self, allow_expunge: bool, out: &mut Vec<u8>) {
        let (Some(auth), Some(selected)) = (&mut self.auth, &mut self.selected) else { return };
        let pending = allow_expunge && selected.expunge_pending;
        if !auth.changes.has_changed().unwrap_or(false) && !pending {
            return;
        }
        self.sync_selected(allow_expunge, out);
    }

    /// Diffs the selected mailbox against a fresh snapshot, whether or not
    /// the account's change counter moved.
    fn sync_selected(&mut self, allow_expunge: bool, out: &mut Vec<u8>) {
        let enabled = self.enabled;
        let (Some(auth), Some(selected)) = (&mut self.auth, &mut self.selected) else { return };
        auth.changes.borrow_and_update();
        match auth.account.snapshot(&selected.name) {
            Ok(snapshot) if snapshot.info.id == selected.id => selected.update(snapshot, allow_expunge, enabled, out),
            // Another session deleted or renamed it (RFC 9051 §6.3.5
            // lets the server close the connection).
            _ => {
                write::line(out, format_args!("* BYE selected mailbox was deleted or renamed"));
                self.closing = true;
            }
        }
    }

    pub(crate) fn account(&self) -> Option<Arc<Account>> {
        self.auth.as_ref().map(|a| a.account.clone())
    }

    /// Whether LOGIN and AUTHENTICATE PLAIN may be used now.
    pub(crate) fn plaintext_auth_allowed(&self) -> bool {
        self.conn.tls
            || self.config.allow_plaintext_auth
            || (self.config.allow_plaintext_auth_on_loopback && self.conn.peer_is_loopback())
    }

    pub(crate) fn logged_in(&mut self, account: Arc<Account>, name: &AccountName, quota_bytes: Option<u64>) {
        self.span.record("account", tracing::field::display(name));
        let changes = account.changes();
        let closing = account.closing();
        let _logged_in = net::LoggedIn::new("imap");
        self.auth = Some(Authenticated { account, quota_bytes, changes, closing, _logged_in });
    }
}

/// A mailbox argument as the store names it (UTF-8), from its wire form
/// on this connection: UTF-8 once IMAP4rev2 is enabled (RFC 9051 §5.1),
/// modified UTF-7 before (RFC 3501 §5.1.3). A rev1 name with 8-bit bytes
/// is taken as UTF-8 as it stands, `&` included: many clients send UTF-8
/// whatever they enabled, and Dovecot accepts it too.
pub(crate) fn mailbox_name(mailbox: &Mailbox<'_>, enabled: Enabled) -> Result<String, crate::utf7::NameError> {
    let bytes = match mailbox {
        Mailbox::Inbox => return Ok("INBOX".to_owned()),
        Mailbox::Other(other) => other.as_ref(),
    };
    if enabled.imap4rev2 || !bytes.is_ascii() {
        return String::from_utf8(bytes.to_vec()).map_err(|_| crate::utf7::NameError::NotUtf8);
    }
    crate::utf7::decode(bytes)
}

#[async_trait::async_trait]
impl Session for ImapSession {
    async fn greeting(&mut self, out: &mut Vec<u8>) -> Step {
        write::line(out, format_args!("* OK [CAPABILITY {}] Rookery IMAP ready", self.capabilities()));
        Step::Continue
    }

    async fn input(&mut self, input: &mut BytesMut, out: &mut Vec<u8>) -> Step {
        let span = self.span.clone();
        self.handle_input(input, out).instrument(span).await
    }

    fn tls_started(&mut self) {
        // RFC 9051 §6.2.1: forget what came before TLS.
        self.conn.tls = true;
        self.framer = Framer::default();
        self.sasl_tag = None;
        self.idle_tag = None;
    }

    fn timed_out(&mut self, out: &mut Vec<u8>) {
        let _entered = self.span.enter();
        tracing::debug!(target: "imap", "idle timeout");
        write::line(out, format_args!("* BYE autologout; idle for too long"));
    }

    fn shutting_down(&mut self, out: &mut Vec<u8>) {
        write::line(out, format_args!("* BYE [UNAVAILABLE] server shutting down"));
    }

    fn idle_timeout(&self) -> Duration {
        self.config.idle_timeout
    }

    async fn closed(&mut self) {
        self.selected = None;
        self.auth = None;
    }

    async fn wake(&mut self) {
        let Some(auth) = &mut self.auth else { return std::future::pending::<()>().await };
        // A request to close may predate this session's watch.
        if auth.closing.borrow_and_update().is_some() {
            return;
        }
        // Besides that, only an IDLE with a mailbox selected has anything
        // to report.
        let idling = self.idle_tag.is_some() && self.selected.is_some();
        tokio::select! {
            closing = auth.closing.changed() => if closing.is_err() { std::future::pending::<()>().await },
            changed = auth.changes.changed(), if idling => if changed.is_err() { std::future::pending::<()>().await },
        }
    }

    async fn woken(&mut self, out: &mut Vec<u8>) -> Step {
        let span = self.span.clone();
        let _entered = span.enter();
        let reason = self.auth.as_ref().and_then(|auth| auth.closing.borrow().clone());
        if let Some(reason) = reason {
            tracing::info!(target: "imap", reason = %reason, "session closed by the server");
            write::line(out, format_args!("* BYE [UNAVAILABLE] {reason}"));
            return Step::Close;
        }
        if self.idle_tag.is_some() {
            self.sync_selected(true, out);
        }
        if self.closing { Step::Close } else { Step::Continue }
    }
}
