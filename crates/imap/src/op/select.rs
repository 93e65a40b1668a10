//! SELECT, EXAMINE, CLOSE, UNSELECT, EXPUNGE and UID EXPUNGE.

use crate::selected::{Selected, intersect, set_ranges};
use crate::session::{ImapSession, mailbox_name};
use crate::write;
use imap_types::command::SelectParameter;
use imap_types::mailbox::Mailbox;
use imap_types::sequence::SequenceSet;
use net::Step;
use store::Flag;
use types::{ModSeq, Uid};

impl ImapSession {
    pub(crate) fn handle_select(
        &mut self,
        tag: &str,
        mailbox: &Mailbox<'_>,
        parameters: &[SelectParameter],
        read_only: bool,
        out: &mut Vec<u8>,
    ) -> Step {
        let mut qresync = None;
        for parameter in parameters {
            match parameter {
                SelectParameter::CondStore => self.enabled.condstore = true,
                // RFC 7162 §3.2.5: only after ENABLE QRESYNC.
                SelectParameter::QResync { .. } if !self.enabled.qresync => {
                    return self.bad(out, tag, "QRESYNC is not enabled");
                }
                SelectParameter::QResync { uid_validity, mod_sequence_value, known_uids, .. } => {
                    qresync = Some((uid_validity.get(), mod_sequence_value.get(), known_uids.as_ref()));
                }
            }
        }
        // A failed SELECT leaves no mailbox selected (RFC 9051 §6.3.2);
        // leaving one is announced (RFC 9051 §7.1, RFC 7162 §3.2.11).
        if self.selected.take().is_some() {
            write::line(out, format_args!("* OK [CLOSED] previous mailbox closed"));
        }
        let Some(auth) = &mut self.auth else { return self.no(out, tag, "log in first") };
        let name = match mailbox_name(mailbox, self.enabled) {
            Ok(name) => name,
            Err(e) => return self.invalid_name(out, tag, e),
        };
        auth.changes.borrow_and_update();
        let snapshot = match auth.account.snapshot(&name) {
            Ok(snapshot) => snapshot,
            Err(e) => return self.store_error(out, tag, e),
        };
        let info = snapshot.info.clone();
        let first_unseen = snapshot.messages.iter().position(|m| !m.flags.contains(&Flag::Seen));
        write::line(out, format_args!("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)"));
        if read_only {
            write::line(out, format_args!("* OK [PERMANENTFLAGS ()] read-only"));
        } else {
            write::line(
                out,
                format_args!(
                    "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] flags permitted"
                ),
            );
        }
        write::line(out, format_args!("* {} EXISTS", snapshot.messages.len()));
        if !self.enabled.imap4rev2 {
            // No message is ever \Recent here; IMAP4rev2 dropped it.
            write::line(out, format_args!("* 0 RECENT"));
        }
        if let Some(index) = first_unseen {
            write::line(out, format_args!("* OK [UNSEEN {}] first unseen", index + 1));
        }
        write::line(out, format_args!("* OK [UIDVALIDITY {}] UIDs valid", info.uid_validity.0));
        write::line(out, format_args!("* OK [UIDNEXT {}] predicted next UID", info.uid_next));
        if self.enabled.condstore {
            write::line(out, format_args!("* OK [HIGHESTMODSEQ {}] highest", info.highest_modseq.0));
        }
        if let Some((uid_validity, since, known)) = qresync
            && uid_validity == info.uid_validity.0
        {
            let Some(account) = self.account() else { return self.no(out, tag, "log in first") };
            // Only what the client knows of can have vanished for it.
            let expunged = match account.expunged_since(info.id, ModSeq(since)) {
                Ok(expunged) => expunged,
                Err(e) => return self.store_error(out, tag, e),
            };
            let vanished = match known {
                Some(known) => intersect(&expunged, &set_ranges(known, info.uid_next.0.saturating_sub(1))),
                None => expunged.iter().map(|(a, b)| (a.0, b.0)).collect(),
            };
            if !vanished.is_empty() {
                write::line(out, format_args!("* VANISHED (EARLIER) {}", write::ranges(&vanished)));
            }
            for (index, message) in snapshot.messages.iter().enumerate().filter(|(_, m)| m.modseq.0 > since) {
                write::line(
                    out,
                    format_args!(
                        "* {} FETCH (UID {} FLAGS {} MODSEQ ({}))",
                        index + 1,
                        message.uid,
                        write::flag_list(&message.flags),
                        message.modseq.0
                    ),
                );
            }
        }
        self.selected = Some(Selected::new(snapshot, read_only));
        let (code, command) = if read_only { ("READ-ONLY", "EXAMINE") } else { ("READ-WRITE", "SELECT") };
        write::tagged(out, tag, "OK", format_args!("[{code}] {command} completed"));
        Step::Continue
    }

    /// CLOSE (`expunge`) removes the `\Deleted` messages silently; UNSELECT
    /// does not.
    pub(crate) async fn handle_close(&mut self, tag: &str, expunge: bool, out: &mut Vec<u8>) -> Step {
        let Some(selected) = self.selected.take() else { return self.no(out, tag, "no mailbox selected") };
        if expunge && !selected.read_only {
            let Some(account) = self.account() else { return self.no(out, tag, "log in first") };
            if let Ok(snapshot) = account.snapshot(&selected.name) {
                let deleted: Vec<Uid> =
                    snapshot.messages.iter().filter(|m| m.flags.contains(&Flag::Deleted)).map(|m| m.uid).collect();
                if !deleted.is_empty()
                    && let Err(e) = account.expunge(selected.id, &deleted).await
                {
                    return self.store_error(out, tag, e);
                }
            }
        }
        write::tagged(out, tag, "OK", if expunge { "CLOSE completed" } else { "UNSELECT completed" });
        Step::Continue
    }

    pub(crate) async fn handle_expunge(&mut self, tag: &str, uids: Option<&SequenceSet>, out: &mut Vec<u8>) -> Step {
        let (Some(account), Some(selected)) = (self.account(), &self.selected) else {
            return self.no(out, tag, "no mailbox selected");
        };
        if selected.read_only {
            return self.no(out, tag, "[READ-ONLY] mailbox is read-only");
        }
        let wanted: Option<Vec<Uid>> = match uids {
            None => None,
            Some(set) => match selected.resolve(set, true) {
                Ok(indices) => Some(indices.into_iter().map(|i| selected.messages[i].uid).collect()),
                Err(_) => return self.bad(out, tag, "invalid sequence set"),
            },
        };
        let snapshot = match account.snapshot(&selected.name) {
            Ok(snapshot) => snapshot,
            Err(e) => return self.store_error(out, tag, e),
        };
        let deleted: Vec<Uid> = snapshot
            .messages
            .iter()
            .filter(|m| m.flags.contains(&Flag::Deleted))
            .map(|m| m.uid)
            .filter(|uid| wanted.as_ref().is_none_or(|w| w.binary_search(uid).is_ok()))
            .collect();
        let id = selected.id;
        let removed = if deleted.is_empty() {
            Vec::new()
        } else {
            match account.expunge(id, &deleted).await {
                Ok(removed) => removed,
                Err(e) => return self.store_error(out, tag, e),
            }
        };
        if let Some(selected) = &mut self.selected {
            selected.remove(&removed, self.enabled, out);
        }
        self.ok(out, tag, "EXPUNGE completed")
    }
}
