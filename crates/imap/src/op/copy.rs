//! COPY, MOVE and their UID forms, with UIDPLUS's COPYUID.

use crate::session::{ImapSession, mailbox_name};
use crate::write::{self, uid_set};
use imap_types::mailbox::Mailbox;
use imap_types::sequence::SequenceSet;
use net::Step;
use store::StoreError;
use types::Uid;

impl ImapSession {
    pub(crate) async fn handle_copy(
        &mut self,
        tag: &str,
        set: &SequenceSet,
        target: &Mailbox<'_>,
        uid: bool,
        move_messages: bool,
        out: &mut Vec<u8>,
    ) -> Step {
        let (Some(account), Some(selected)) = (self.account(), &self.selected) else {
            return self.no(out, tag, "no mailbox selected");
        };
        if move_messages && selected.read_only {
            return self.no(out, tag, "[READ-ONLY] mailbox is read-only");
        }
        let indices = match selected.resolve(set, uid) {
            Ok(indices) => indices,
            Err(_) => return self.bad(out, tag, "invalid sequence set"),
        };
        let uids: Vec<Uid> = indices.iter().map(|i| selected.messages[*i].uid).collect();
        let from = selected.id;
        let target = match mailbox_name(target, self.enabled) {
            Ok(target) => target,
            Err(e) => return self.invalid_name(out, tag, e),
        };
        let info = match account.status(&target) {
            Ok(info) => info,
            Err(StoreError::NoSuchMailbox(_)) => return self.no(out, tag, "[TRYCREATE] no such mailbox"),
            Err(e) => return self.store_error(out, tag, e),
        };
        let command = if move_messages { "MOVE" } else { "COPY" };
        if uids.is_empty() {
            return self.ok(out, tag, format_args!("{command} completed"));
        }
        let result = if move_messages {
            account.move_messages(from, &uids, info.id).await
        } else {
            account.copy(from, &uids, info.id).await
        };
        let pairs = match result {
            Ok(pairs) => pairs,
            Err(e) => return self.store_error(out, tag, e),
        };
        let code = if pairs.is_empty() {
            String::new()
        } else {
            let old: Vec<Uid> = pairs.iter().map(|p| p.0).collect();
            let new: Vec<Uid> = pairs.iter().map(|p| p.1).collect();
            format!("[COPYUID {} {} {}] ", info.uid_validity.0, uid_set(&old), uid_set(&new))
        };
        if !move_messages {
            return self.ok(out, tag, format_args!("{code}{command} completed"));
        }
        // RFC 6851 §4.3: COPYUID goes in an untagged OK before the EXPUNGEs.
        if !code.is_empty() {
            write::line(out, format_args!("* OK {code}moved"));
        }
        let moved: Vec<Uid> = pairs.iter().map(|p| p.0).collect();
        if let Some(selected) = &mut self.selected {
            selected.remove(&moved, self.enabled, out);
        }
        self.ok(out, tag, "MOVE completed")
    }
}
