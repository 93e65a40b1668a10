//! One file per command or group of commands, each an `impl SmtpSession`
//! block; `request` dispatches.

pub(crate) mod auth;
mod data;
mod ehlo;
mod mail;
mod rcpt;
mod simple;
mod starttls;

use crate::command::Command;
use crate::session::SmtpSession;
use net::Step;
use smtp_proto::Request;

impl SmtpSession {
    pub(crate) async fn request(&mut self, request: Command<'_>, out: &mut Vec<u8>) -> Step {
        tracing::debug!(target: "smtp", command = request.name(), "command");
        let lmtp = self.is_lmtp();
        match request {
            Request::Ehlo { host } if !lmtp => self.ehlo(&host, true, out),
            Request::Helo { host } if !lmtp => self.ehlo(&host, false, out),
            Request::Lhlo { host } if lmtp => self.ehlo(&host, true, out),
            Request::Ehlo { .. } | Request::Helo { .. } => self.reject(out, 500, "5.5.1", "this is LMTP: use LHLO"),
            Request::Lhlo { .. } => self.reject(out, 500, "5.5.1", "command not recognized"),
            Request::Mail { from } => self.mail(from, out).await,
            Request::Rcpt { to } => self.rcpt(to, out).await,
            Request::Data => self.data(out),
            Request::Auth { mechanism, initial_response } => self.auth(mechanism, &initial_response, out).await,
            Request::StartTls => return self.starttls(out),
            Request::Rset => self.rset(out),
            Request::Noop { .. } => self.noop(out),
            Request::Vrfy { .. } => self.vrfy(out),
            Request::Help { .. } => self.help(out),
            Request::Quit => return self.quit(out),
            // Recognised but not offered: CHUNKING, ETRN, ATRN, BURL, EXPN.
            Request::Expn { .. }
            | Request::Bdat { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. } => self.reject(out, 502, "5.5.1", "command not implemented"),
        }
        Step::Continue
    }
}
