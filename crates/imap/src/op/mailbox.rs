//! Mailbox commands: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE,
//! LIST, LSUB, STATUS. The hierarchy delimiter is `/`.
//!
//! Names on the wire are modified UTF-7 until the client enables
//! IMAP4rev2, UTF-8 after (RFC 9051 §5.1); the store holds UTF-8.
//! Arguments are decoded by `session::mailbox_name`, and every name
//! written goes through [`write_name`].
//!
//! SPECIAL-USE (RFC 6154) goes by name: the mailboxes new accounts get
//! ([`SPECIAL_USE_MAILBOXES`], created by the store) carry their use as a
//! LIST attribute, and so does any mailbox given one of those names.

use crate::session::{Enabled, ImapSession, mailbox_name};
use crate::utf7::{self, NameError};
use crate::write;
use imap_types::mailbox::{ListMailbox, Mailbox};
use imap_types::status::StatusDataItemName;
use net::Step;
use std::borrow::Cow;
use store::{Flag, MailboxSnapshot};

impl ImapSession {
    pub(crate) async fn handle_create(&mut self, tag: &str, mailbox: &Mailbox<'_>, out: &mut Vec<u8>) -> Step {
        let name = match mailbox_name(mailbox, self.enabled) {
            Ok(name) => name,
            Err(e) => return self.invalid_name(out, tag, e),
        };
        let Some(account) = self.account() else { return self.no(out, tag, "log in first") };
        // A trailing delimiter only says the client means to make
        // inferiors under it (RFC 9051 §6.3.4).
        let name = name.strip_suffix('/').unwrap_or(&name);
        if name.eq_ignore_ascii_case("INBOX") {
            return self.no(out, tag, "[ALREADYEXISTS] INBOX always exists");
        }
        match account.create_mailbox(name).await {
            Ok(_) => self.ok(out, tag, "CREATE completed"),
            Err(e) => self.store_error(out, tag, e),
        }
    }

    pub(crate) async fn handle_delete(&mut self, tag: &str, mailbox: &Mailbox<'_>, out: &mut Vec<u8>) -> Step {
        let name = match mailbox_name(mailbox, self.enabled) {
            Ok(name) => name,
            Err(e) => return self.invalid_name(out, tag, e),
        };
        let Some(account) = self.account() else { return self.no(out, tag, "log in first") };
        match account.delete_mailbox(&name).await {
            Ok(()) => {
                // Deleting the mailbox this session has selected leaves
                // it in the Authenticated state.
                if self.selected.as_ref().is_some_and(|s| s.name == name) {
                    self.selected = None;
                }
                self.ok(out, tag, "DELETE completed")
            }
            Err(e) => self.store_error(out, tag, e),
        }
    }

    pub(crate) async fn handle_rename(
        &mut self,
        tag: &str,
        from: &Mailbox<'_>,
        to: &Mailbox<'_>,
        out: &mut Vec<u8>,
    ) -> Step {
        let (from, to) = match (mailbox_name(from, self.enabled), mailbox_name(to, self.enabled)) {
            (Ok(from), Ok(to)) => (from, to),
            (Err(e), _) | (_, Err(e)) => return self.invalid_name(out, tag, e),
        };
        let Some(account) = self.account() else { return self.no(out, tag, "log in first") };
        match account.rename_mailbox(&from, &to).await {
            Ok(()) => {
                // The selected mailbox (or a superior) moved: follow it.
                // INBOX itself stays where it is (its messages move).
                if let Some(selected) = &mut self.selected
                    && !from.eq_ignore_ascii_case("INBOX")
                {
                    if selected.name == from {
                        selected.name = to.clone();
                    } else if let Some(rest) = selected.name.strip_prefix(&format!("{from}/")) {
                        selected.name = format!("{to}/{rest}");
                    }
                }
                self.ok(out, tag, "RENAME completed")
            }
            Err(e) => self.store_error(out, tag, e),
        }
    }

    pub(crate) async fn handle_subscribe(
        &mut self,
        tag: &str,
        mailbox: &Mailbox<'_>,
        subscribe: bool,
        out: &mut Vec<u8>,
    ) -> Step {
        let name = match mailbox_name(mailbox, self.enabled) {
            Ok(name) => name,
            Err(e) => return self.invalid_name(out, tag, e),
        };
        let Some(account) = self.account() else { return self.no(out, tag, "log in first") };
        match account.set_subscribed(&name, subscribe).await {
            Ok(()) => self.ok(out, tag, if subscribe { "SUBSCRIBE completed" } else { "UNSUBSCRIBE completed" }),
            Err(e) => self.store_error(out, tag, e),
        }
    }

    pub(crate) fn handle_list(
        &mut self,
        tag: &str,
        reference: &Mailbox<'_>,
        pattern: &ListMailbox<'_>,
        lsub: bool,
        out: &mut Vec<u8>,
    ) -> Step {
        let Some(account) = self.account() else { return self.no(out, tag, "log in first") };
        let command = if lsub { "LSUB" } else { "LIST" };
        let pattern = match pattern {
            ListMailbox::Token(token) => token.as_ref(),
            ListMailbox::String(string) => string.as_ref(),
        };
        let reference = match reference {
            Mailbox::Inbox => b"INBOX".as_slice(),
            Mailbox::Other(other) => other.as_ref(),
        };
        // Not decoded: an ASCII pattern is matched against the names as
        // this client reads them (`list_matches`), so wildcards work
        // inside modified UTF-7 too.
        let (Ok(reference), Ok(pattern)) = (std::str::from_utf8(reference), std::str::from_utf8(pattern)) else {
            return self.bad(out, tag, NameError::NotUtf8);
        };
        if pattern.is_empty() {
            // The delimiter and root of the reference (RFC 9051 §6.3.9).
            write::line(out, format_args!("* {command} (\\Noselect) \"/\" \"\""));
            return self.ok(out, tag, format_args!("{command} completed"));
        }
        let full = format!("{reference}{pattern}");
        if full.len() > 1024 {
            return self.bad(out, tag, "pattern too long");
        }
        let mailboxes = account.mailboxes();
        for info in &mailboxes {
            if lsub && !info.subscribed {
                continue;
            }
            if !list_matches(&full, &info.name, self.enabled) {
                continue;
            }
            let prefix = format!("{}/", info.name);
            let children = mailboxes.iter().any(|m| m.name.starts_with(&prefix));
            let mut attributes = if children { "\\HasChildren" } else { "\\HasNoChildren" }.to_owned();
            if let Some(special) = special_use(&info.name) {
                attributes = format!("{attributes} {special}");
            }
            let mut line = format!("* {command} ({attributes}) \"/\" ").into_bytes();
            write_name(&mut line, &info.name, self.enabled);
            out.extend_from_slice(&line);
            out.extend_from_slice(b"\r\n");
        }
        self.ok(out, tag, format_args!("{command} completed"))
    }

    pub(crate) fn handle_status(
        &mut self,
        tag: &str,
        mailbox: &Mailbox<'_>,
        items: &[StatusDataItemName],
        out: &mut Vec<u8>,
    ) -> Step {
        let name = match mailbox_name(mailbox, self.enabled) {
            Ok(name) => name,
            Err(e) => return self.invalid_name(out, tag, e),
        };
        let Some(account) = self.account() else { return self.no(out, tag, "log in first") };
        let snapshot = match account.snapshot(&name) {
            Ok(snapshot) => snapshot,
            Err(e) => return self.store_error(out, tag, e),
        };
        write_status(out, &snapshot, items, self.enabled);
        self.ok(out, tag, "STATUS completed")
    }

    /// The answer to a mailbox argument that is no valid name on this
    /// connection: `NO`, as for a name the store refuses.
    pub(crate) fn invalid_name(&mut self, out: &mut Vec<u8>, tag: &str, error: NameError) -> Step {
        self.no(out, tag, format_args!("[CANNOT] invalid mailbox name: {error}"))
    }
}

/// A stored (UTF-8) mailbox name as this client reads it: modified UTF-7
/// until it enables IMAP4rev2 (RFC 3501 §5.1.3), UTF-8 after.
pub(crate) fn wire_name(name: &str, enabled: Enabled) -> Cow<'_, str> {
    if enabled.imap4rev2 { Cow::Borrowed(name) } else { utf7::encode(name) }
}

/// A mailbox name in its wire form, as a quoted string or a literal.
pub(crate) fn write_name(out: &mut Vec<u8>, name: &str, enabled: Enabled) {
    write::string(out, wire_name(name, enabled).as_bytes());
}

/// LIST matching for this client. A pattern in US-ASCII is matched
/// against the wire form of the name, so `R&AOk-*` and `*&AOk-*` find
/// `Répertoire` for a rev1 client; one with 8-bit characters (a rev1
/// client sending UTF-8, or IMAP4rev2) against the UTF-8 name.
pub(crate) fn list_matches(pattern: &str, name: &str, enabled: Enabled) -> bool {
    if pattern.is_ascii() { matches(pattern, &wire_name(name, enabled)) } else { matches(pattern, name) }
}

/// `* STATUS "name" (MESSAGES 3 ...)` for STATUS and LIST-STATUS.
pub(crate) fn write_status(
    out: &mut Vec<u8>,
    snapshot: &MailboxSnapshot,
    items: &[StatusDataItemName],
    enabled: Enabled,
) {
    let info = &snapshot.info;
    let deleted = || snapshot.messages.iter().filter(|m| m.flags.contains(&Flag::Deleted));
    let mut values = Vec::new();
    for item in items {
        let value = match item {
            StatusDataItemName::Messages => format!("MESSAGES {}", info.messages),
            StatusDataItemName::Recent => "RECENT 0".to_owned(),
            StatusDataItemName::UidNext => format!("UIDNEXT {}", info.uid_next),
            StatusDataItemName::UidValidity => format!("UIDVALIDITY {}", info.uid_validity.0),
            StatusDataItemName::Unseen => format!("UNSEEN {}", info.unseen),
            StatusDataItemName::Deleted => format!("DELETED {}", deleted().count()),
            StatusDataItemName::DeletedStorage => {
                format!("DELETED-STORAGE {}", deleted().map(|m| m.size).sum::<u64>())
            }
            StatusDataItemName::Size => format!("SIZE {}", info.size),
            StatusDataItemName::HighestModSeq => format!("HIGHESTMODSEQ {}", info.highest_modseq.0),
            #[allow(unreachable_patterns)]
            _ => continue,
        };
        values.push(value);
    }
    let mut line = b"* STATUS ".to_vec();
    write_name(&mut line, &info.name, enabled);
    out.extend_from_slice(&line);
    write::line(out, format_args!(" ({})", values.join(" ")));
}

/// The top-level mailboxes, with their special use, that new accounts get
/// besides INBOX (`Store::with_initial_mailboxes`).
pub const SPECIAL_USE_MAILBOXES: [&str; 5] = ["Drafts", "Sent", "Trash", "Junk", "Archive"];

/// The special-use attribute of a mailbox, by its name.
pub(crate) fn special_use(name: &str) -> Option<&'static str> {
    Some(match name {
        "Drafts" => "\\Drafts",
        "Sent" => "\\Sent",
        "Trash" => "\\Trash",
        "Junk" => "\\Junk",
        "Archive" => "\\Archive",
        _ => return None,
    })
}

/// LIST pattern matching: `*` matches anything, `%` anything but the
/// delimiter; INBOX matches case-insensitively.
pub(crate) fn matches(pattern: &str, name: &str) -> bool {
    if name == "INBOX" && pattern.eq_ignore_ascii_case("INBOX") {
        return true;
    }
    glob(pattern.as_bytes(), name.as_bytes())
}

fn glob(pattern: &[u8], name: &[u8]) -> bool {
    // matched[j]: the pattern so far matches name[..j]. O(pattern × name),
    // whatever the wildcards.
    let mut matched = vec![false; name.len() + 1];
    matched[0] = true;
    for c in pattern {
        let mut next = vec![false; name.len() + 1];
        match c {
            b'*' | b'%' => {
                let mut reachable = false;
                for j in 0..=name.len() {
                    reachable |= matched[j];
                    next[j] = reachable;
                    if *c == b'%' && name.get(j) == Some(&b'/') {
                        reachable = false;
                    }
                }
            }
            c => {
                for j in 0..name.len() {
                    next[j + 1] = matched[j] && name[j] == *c;
                }
            }
        }
        matched = next;
    }
    matched[name.len()]
}

#[cfg(test)]
mod tests;
