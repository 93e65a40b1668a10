//! STORE and UID STORE: +FLAGS, -FLAGS, FLAGS, and their .SILENT forms.

use crate::op::append::store_flags;
use crate::session::ImapSession;
use crate::write;
use imap_types::flag::{Flag as ImapFlag, StoreResponse, StoreType};
use imap_types::sequence::SequenceSet;
use net::Step;
use store::FlagOp;
use types::{ModSeq, Uid};

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
        unchanged_since: Option<u64>,
        out: &mut Vec<u8>,
    ) -> Step {
        if unchanged_since.is_some() {
            // A CONDSTORE-enabling command (RFC 7162 §3.1).
            self.enabled.condstore = true;
        }
        let condstore = self.enabled.condstore;
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
        let since = unchanged_since.map(ModSeq);
        let (changed, failed) = match account.set_flags(mailbox, &uids, op, &store_flags(flags), since).await {
            Ok(result) => result,
            Err(e) => return self.store_error(out, tag, e),
        };
        let mut modified = String::new();
        if let Some(selected) = &mut self.selected {
            selected.record(&changed);
            for meta in &changed {
                let Ok(index) = selected.messages.binary_search_by_key(&meta.uid, |m| m.uid) else { continue };
                let uid_item = if uid { format!("UID {} ", meta.uid) } else { String::new() };
                let modseq = format!("MODSEQ ({})", meta.modseq.0);
                match (response, condstore) {
                    (StoreResponse::Answer, false) => {
                        let flags = write::flag_list(&meta.flags);
                        write::line(out, format_args!("* {} FETCH ({uid_item}FLAGS {flags})", index + 1));
                    }
                    (StoreResponse::Answer, true) => {
                        let flags = write::flag_list(&meta.flags);
                        write::line(out, format_args!("* {} FETCH ({uid_item}FLAGS {flags} {modseq})", index + 1));
                    }
                    // RFC 7162 §3.1.3: under CONDSTORE even .SILENT
                    // reports the new modseq.
                    (StoreResponse::Silent, true) => {
                        write::line(out, format_args!("* {} FETCH ({uid_item}{modseq})", index + 1));
                    }
                    (StoreResponse::Silent, false) => {}
                }
            }
            if !failed.is_empty() {
                // RFC 7162 §3.1.3: the messages that failed UNCHANGEDSINCE,
                // as message numbers or UIDs like the command's set.
                let mut numbers: Vec<Uid> = if uid {
                    failed.clone()
                } else {
                    failed
                        .iter()
                        .filter_map(|u| selected.messages.binary_search_by_key(u, |m| m.uid).ok())
                        .map(|i| Uid(i as u32 + 1))
                        .collect()
                };
                numbers.sort_unstable();
                modified = format!("[MODIFIED {}] ", write::uid_set(&numbers));
            }
        }
        let text = format!("{modified}STORE completed");
        if uid { self.ok(out, tag, text) } else { self.ok_without_expunge(out, tag, text) }
    }
}
