//! NAMESPACE (RFC 2342) and QUOTA (RFC 9208): GETQUOTAROOT, GETQUOTA.
//! SETQUOTA is refused in `session.rs`: limits come from the directory.
//!
//! Each account has at most one quota root, named `""`, covering all its
//! mailboxes; an account without a limit has none. Only the STORAGE
//! resource is limited (in units of 1024 octets, rounded up).

use crate::session::{ImapSession, mailbox_name};
use crate::write;
use imap_types::mailbox::Mailbox;
use net::Step;

/// The name of the account's one quota root.
const ROOT: &str = "";

impl ImapSession {
    /// One personal namespace with the `/` delimiter; no shared or
    /// other users' namespaces.
    pub(crate) fn handle_namespace(&mut self, tag: &str, out: &mut Vec<u8>) -> Step {
        write::line(out, format_args!("* NAMESPACE ((\"\" \"/\")) NIL NIL"));
        self.ok(out, tag, "NAMESPACE completed")
    }

    pub(crate) fn handle_getquotaroot(&mut self, tag: &str, mailbox: &Mailbox<'_>, out: &mut Vec<u8>) -> Step {
        let name = match mailbox_name(mailbox, self.enabled) {
            Ok(name) => name,
            Err(e) => return self.invalid_name(out, tag, e),
        };
        let mut line = b"* QUOTAROOT ".to_vec();
        crate::op::mailbox::write_name(&mut line, &name, self.enabled);
        let quota = self.quota_line();
        if quota.is_some() {
            line.extend_from_slice(b" \"\"");
        }
        line.extend_from_slice(b"\r\n");
        out.extend_from_slice(&line);
        if let Some(quota) = quota {
            write::line(out, format_args!("{quota}"));
        }
        self.ok(out, tag, "GETQUOTAROOT completed")
    }

    pub(crate) fn handle_getquota(&mut self, tag: &str, root: &[u8], out: &mut Vec<u8>) -> Step {
        match self.quota_line() {
            Some(quota) if root == ROOT.as_bytes() => {
                write::line(out, format_args!("{quota}"));
                self.ok(out, tag, "GETQUOTA completed")
            }
            _ => self.no(out, tag, "[NONEXISTENT] no such quota root"),
        }
    }

    /// `* QUOTA "" (STORAGE used limit)`, or `None` without a limit.
    fn quota_line(&self) -> Option<String> {
        let auth = self.auth.as_ref()?;
        let limit = auth.quota_bytes?;
        let used = auth.account.usage().bytes;
        Some(format!("* QUOTA \"{ROOT}\" (STORAGE {} {})", used.div_ceil(1024), limit / 1024))
    }
}
