//! SELECT, EXAMINE, CLOSE, UNSELECT, EXPUNGE and UID EXPUNGE.

use crate::selected::Selected;
use crate::session::{ImapSession, mailbox_name};
use crate::write;
use imap_types::mailbox::Mailbox;
use imap_types::sequence::SequenceSet;
use net::Step;
use store::Flag;
use types::Uid;

impl ImapSession {
    pub(crate) fn handle_select(
        &mut self,
        tag: &str,
        mailbox: &Mailbox<'_>,
        read_only: bool,
        out: &mut Vec<u8>,
    ) -> Step {
        // A failed SELECT leaves no mailbox selected (RFC 9051 §6.3.2).
        self.selected = None;
        let Some(auth) = &mut self.auth else { return self.no(out, tag, "log in first") };
        let Some(name) = mailbox_name(mailbox) else { return self.no(out, tag, "[NONEXISTENT] no such mailbox") };
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
        write::line(out, format_args!("* 0 RECENT"));
        if let Some(index) = first_unseen {
            write::line(out, format_args!("* OK [UNSEEN {}] first unseen", index + 1));
        }
        write::line(out, format_args!("* OK [UIDVALIDITY {}] UIDs valid", info.uid_validity.0));
        write::line(out, format_args!("* OK [UIDNEXT {}] predicted next UID", info.uid_next));
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
            selected.remove(&removed, out);
        }
        self.ok(out, tag, "EXPUNGE completed")
    }
}
