//! Commands valid in any state: CAPABILITY, NOOP, LOGOUT, STARTTLS, ID,
//! ENABLE.

use crate::session::ImapSession;
use crate::write;
use imap_types::extensions::enable::CapabilityEnable;
use net::Step;

/// LITERAL-'s limit on non-synchronising literals (RFC 7888 §4).
const LITERAL_MINUS_MAX: u32 = 4096;

impl ImapSession {
    /// Only what works is advertised. IMAP4rev2 needs ESEARCH and
    /// SEARCHRES (op/search/), whose tokens are listed for rev1 clients.
    pub(crate) fn capabilities(&self) -> String {
        let mut caps = vec!["IMAP4rev1", "IMAP4rev2", "ESEARCH", "SEARCHRES"];
        if self.conn.tls_available && !self.conn.tls && self.auth.is_none() {
            caps.push("STARTTLS");
        }
        if self.auth.is_none() {
            if self.plaintext_auth_allowed() {
                caps.extend(["AUTH=PLAIN", "AUTH=LOGIN", "SASL-IR"]);
            } else {
                caps.push("LOGINDISABLED");
            }
        }
        caps.extend(["ID", "ENABLE", "IDLE", "UIDPLUS", "MOVE", "UNSELECT", "BINARY", "CONDSTORE", "QRESYNC"]);
        caps.extend([
            "CHILDREN",
            "SPECIAL-USE",
            "LIST-EXTENDED",
            "LIST-STATUS",
            "NAMESPACE",
            "QUOTA",
            "QUOTA=RES-STORAGE",
        ]);
        // Before login non-synchronising literals are held to LITERAL-'s
        // 4096 bytes, so an unknown client cannot push large ones.
        caps.push(if self.auth.is_none() { "LITERAL-" } else { "LITERAL+" });
        let mut caps = caps.join(" ");
        caps.push_str(&format!(" APPENDLIMIT={}", self.config.max_literal));
        caps
    }

    /// The largest non-synchronising literal accepted now (RFC 7888).
    pub(crate) fn max_non_sync_literal(&self) -> u32 {
        if self.auth.is_none() { LITERAL_MINUS_MAX.min(self.config.max_literal) } else { self.config.max_literal }
    }

    pub(crate) fn handle_capability(&mut self, tag: &str, out: &mut Vec<u8>) -> Step {
        write::line(out, format_args!("* CAPABILITY {}", self.capabilities()));
        self.ok(out, tag, "CAPABILITY completed")
    }

    pub(crate) fn handle_noop(&mut self, tag: &str, out: &mut Vec<u8>) -> Step {
        self.ok(out, tag, "NOOP completed")
    }

    pub(crate) fn handle_logout(&mut self, tag: &str, out: &mut Vec<u8>) -> Step {
        write::line(out, format_args!("* BYE logging out"));
        write::tagged(out, tag, "OK", "LOGOUT completed");
        self.selected = None;
        self.auth = None;
        Step::Close
    }

    pub(crate) fn handle_starttls(&mut self, tag: &str, out: &mut Vec<u8>) -> Step {
        if self.conn.tls {
            return self.bad(out, tag, "TLS is already active");
        }
        if !self.conn.tls_available || self.auth.is_some() {
            return self.bad(out, tag, "STARTTLS not available");
        }
        write::tagged(out, tag, "OK", "begin TLS negotiation now");
        Step::StartTls
    }

    /// IDLE (RFC 2177): the driver wakes the session when the account
    /// changes (`Session::wake`), and the updates go out at once.
    pub(crate) fn handle_idle(&mut self, tag: &str, out: &mut Vec<u8>) -> Step {
        self.send_updates(true, out);
        out.extend_from_slice(b"+ idling\r\n");
        self.idle_tag = Some(tag.to_owned());
        Step::Continue
    }

    pub(crate) fn handle_id(&mut self, tag: &str, out: &mut Vec<u8>) -> Step {
        write::line(out, format_args!("* ID (\"name\" \"Rookery\")"));
        self.ok(out, tag, "ID completed")
    }

    /// ENABLE (RFC 5161): `* ENABLED` lists what this command turned on;
    /// names the server does not know, or already on, are left out.
    pub(crate) fn handle_enable(
        &mut self,
        tag: &str,
        capabilities: &[CapabilityEnable<'_>],
        out: &mut Vec<u8>,
    ) -> Step {
        if self.auth.is_none() {
            return self.no(out, tag, "log in first");
        }
        let mut enabled = Vec::new();
        for capability in capabilities {
            let name = capability.to_string().to_ascii_uppercase();
            let flag = match name.as_str() {
                "IMAP4REV2" => &mut self.enabled.imap4rev2,
                "CONDSTORE" => &mut self.enabled.condstore,
                "QRESYNC" => &mut self.enabled.qresync,
                _ => continue,
            };
            if !*flag {
                *flag = true;
                enabled.push(if name == "IMAP4REV2" { "IMAP4rev2".to_owned() } else { name });
            }
        }
        // QRESYNC implies CONDSTORE (RFC 7162 §3.2.3).
        if self.enabled.qresync && !self.enabled.condstore {
            self.enabled.condstore = true;
            enabled.push("CONDSTORE".to_owned());
        }
        if enabled.is_empty() {
            write::line(out, format_args!("* ENABLED"));
        } else {
            write::line(out, format_args!("* ENABLED {}", enabled.join(" ")));
        }
        self.ok(out, tag, "ENABLE completed")
    }
}
