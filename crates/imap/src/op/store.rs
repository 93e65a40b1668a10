//! STORE and UID STORE: +FLAGS, -FLAGS, FLAGS, and their .SILENT forms.

use crate::op::append::store_flags;
use crate::session::ImapSession;
use crate::write;
use imap_types::flag::{Flag as ImapFlag, StoreResponse, StoreType};
use imap_types::sequence::SequenceSet;
use net::Step;
use store::FlagOp;

impl ImapSession {
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn handle_store(
        &mut self,
        tag: &str,
        set: &SequenceSet,
        kind: StoreType,
        response: StoreResponse,
        flags: &[ImapFlag<'_>],
        uid: bool,
        out: &mut Vec<u8>,
    ) -> Step {
        let (Some(account), Some(selected)) = (self.account(), &self.selected) else {
            return self.no(out, tag, "no mailbox selected");
        };
        if selected.read_only {
            return self.no(out, tag, "[READ-ONLY] mailbox is read-only");
        }
        let indices = match selected.resolve(set, uid) {
            Ok(indices) => indices,
            Err(_) => return self.bad(out, tag, "invalid sequence set"),
        };
        let uids: Vec<_> = indices.iter().map(|i| selected.messages[*i].uid).collect();
        let op = match kind {
            StoreType::Add => FlagOp::Add,
            StoreType::Remove => FlagOp::Remove,
            StoreType::Replace => FlagOp::Replace,
        };
        let mailbox = selected.id;
        let changed = match account.set_flags(mailbox, &uids, op, &store_flags(flags), None).await {
            Ok((changed, _)) => changed,
            Err(e) => return self.store_error(out, tag, e),
        };
        if let Some(selected) = &mut self.selected {
            selected.record(&changed);
            if response == StoreResponse::Answer {
                for meta in &changed {
                    let Ok(index) = selected.messages.binary_search_by_key(&meta.uid, |m| m.uid) else { continue };
                    let flags = write::flag_list(&meta.flags);
                    if uid {
                        write::line(out, format_args!("* {} FETCH (UID {} FLAGS {flags})", index + 1, meta.uid));
                    } else {
                        write::line(out, format_args!("* {} FETCH (FLAGS {flags})", index + 1));
                    }
                }
            }
        }
        if uid { self.ok(out, tag, "STORE completed") } else { self.ok_without_expunge(out, tag, "STORE completed") }
    }
}
