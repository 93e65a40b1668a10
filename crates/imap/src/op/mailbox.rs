//! Mailbox commands: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE,
//! LIST, LSUB, STATUS. The hierarchy delimiter is `/`.
//!
//! SPECIAL-USE (RFC 6154) goes by name: the mailboxes new accounts get
//! ([`SPECIAL_USE_MAILBOXES`], created by the store) carry their use as a
//! LIST attribute, and so does any mailbox given one of those names.

use crate::session::{ImapSession, mailbox_name};
use crate::write;
use imap_types::mailbox::{ListMailbox, Mailbox};
use imap_types::status::StatusDataItemName;
use net::Step;
use store::{Flag, MailboxSnapshot};

impl ImapSession {
    pub(crate) async fn handle_create(&mut self, tag: &str, mailbox: &Mailbox<'_>, out: &mut Vec<u8>) -> Step {
        let (Some(account), Some(name)) = (self.account(), mailbox_name(mailbox)) else {
            return self.no(out, tag, "[CANNOT] invalid mailbox name");
        };
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
        let (Some(account), Some(name)) = (self.account(), mailbox_name(mailbox)) else {
            return self.no(out, tag, "[NONEXISTENT] no such mailbox");
        };
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
        let (Some(account), Some(from), Some(to)) = (self.account(), mailbox_name(from), mailbox_name(to)) else {
            return self.no(out, tag, "[CANNOT] invalid mailbox name");
        };
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
        let (Some(account), Some(name)) = (self.account(), mailbox_name(mailbox)) else {
            return self.no(out, tag, "[CANNOT] invalid mailbox name");
        };
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
            Mailbox::Inbox => "INBOX".to_owned(),
            Mailbox::Other(other) => String::from_utf8_lossy(other.as_ref()).into_owned(),
        };
        let pattern = String::from_utf8_lossy(pattern);
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
            if !matches(&full, &info.name) {
                continue;
            }
            let prefix = format!("{}/", info.name);
            let children = mailboxes.iter().any(|m| m.name.starts_with(&prefix));
            let mut attributes = if children { "\\HasChildren" } else { "\\HasNoChildren" }.to_owned();
            if let Some(special) = special_use(&info.name) {
                attributes = format!("{attributes} {special}");
            }
            let mut line = format!("* {command} ({attributes}) \"/\" ").into_bytes();
            write::string(&mut line, info.name.as_bytes());
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
        let (Some(account), Some(name)) = (self.account(), mailbox_name(mailbox)) else {
            return self.no(out, tag, "[NONEXISTENT] no such mailbox");
        };
        let snapshot = match account.snapshot(&name) {
            Ok(snapshot) => snapshot,
            Err(e) => return self.store_error(out, tag, e),
        };
        write_status(out, &snapshot, items);
        self.ok(out, tag, "STATUS completed")
    }
}

/// `* STATUS "name" (MESSAGES 3 ...)` for STATUS and LIST-STATUS.
pub(crate) fn write_status(out: &mut Vec<u8>, snapshot: &MailboxSnapshot, items: &[StatusDataItemName]) {
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
            #[allow(unreachable_patterns)]
            _ => continue,
        };
        values.push(value);
    }
    let mut line = b"* STATUS ".to_vec();
    write::string(&mut line, info.name.as_bytes());
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
