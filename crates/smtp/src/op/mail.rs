//! MAIL FROM (RFC 5321 §4.1.1.2) with SIZE (RFC 1870), BODY (RFC 6152),
//! SMTPUTF8 (RFC 6531) and AUTH (RFC 4954 §5).

use crate::config::Role;
use crate::reply::{Reply, write_reply};
use crate::session::{SmtpSession, State, Transaction};
use directory::DirectoryError;
use smtp_proto::{MAIL_BODY_7BIT, MAIL_BODY_8BITMIME, MAIL_BODY_BINARYMIME, MAIL_SMTPUTF8, MailFrom};
use std::borrow::Cow;
use types::AccountName;

/// The MAIL parameters this server advertises (AUTH= is accepted too).
const SUPPORTED_FLAGS: u64 = MAIL_BODY_7BIT | MAIL_BODY_8BITMIME | MAIL_SMTPUTF8;

impl SmtpSession {
    pub(crate) async fn mail(&mut self, from: MailFrom<Cow<'_, str>>, out: &mut Vec<u8>) {
        if let Err(reply) = self.check_mail(&from).await {
            self.refuse(out, reply);
            return;
        }
        let smtputf8 = from.flags & MAIL_SMTPUTF8 != 0;
        let transaction = Transaction::new(from.address.into_owned(), from.size as u64, smtputf8);
        tracing::debug!(target: "smtp", mail_from = %transaction.mail_from, "sender accepted");
        self.state = State::Mail(Box::new(transaction));
        write_reply(out, 250, "2.1.0", "sender ok");
    }

    async fn check_mail(&self, from: &MailFrom<Cow<'_, str>>) -> Result<(), Reply> {
        if self.helo.is_none() {
            let greeting = if self.is_lmtp() { "LHLO" } else { "EHLO" };
            return Err(Reply::new(503, "5.5.1", format!("send {greeting} first")));
        }
        if matches!(self.state, State::Mail(_)) {
            return Err(Reply::new(503, "5.5.1", "nested MAIL command"));
        }
        if self.config.role == Role::Submission && self.account.is_none() {
            return Err(Reply::new(530, "5.7.0", "authentication required"));
        }
        if from.flags & MAIL_BODY_BINARYMIME != 0 {
            return Err(Reply::new(555, "5.5.4", "BODY=BINARYMIME is not supported"));
        }
        if from.flags & !SUPPORTED_FLAGS != 0
            || from.trans_id.is_some()
            || from.by != 0
            || from.env_id.is_some()
            || from.solicit.is_some()
            || from.mtrk.is_some()
            || from.hold_for != 0
            || from.hold_until != 0
            || from.mt_priority != 0
        {
            return Err(Reply::new(555, "5.5.4", "unsupported MAIL parameter"));
        }
        if from.size as u64 > self.config.max_message_size {
            return Err(Reply::new(552, "5.3.4", "message size exceeds fixed maximum message size"));
        }
        let address = from.address.as_ref();
        if !address.is_ascii() && from.flags & MAIL_SMTPUTF8 == 0 {
            return Err(Reply::new(553, "5.6.7", "non-ASCII address requires SMTPUTF8"));
        }
        if let Some(account) = &self.account {
            match self.sender_owned_by(account, address).await {
                Ok(true) => {}
                Ok(false) => {
                    return Err(Reply::new(553, "5.7.1", format!("sender address not owned by {account}")));
                }
                Err(error) => {
                    tracing::warn!(target: "smtp", %error, "directory failed checking the sender");
                    return Err(Reply::new(451, "4.3.0", "temporary failure, try again later"));
                }
            }
        }
        Ok(())
    }

    /// An authenticated client may send as its account or one of the
    /// account's aliases, and as nothing else (not even `<>`).
    async fn sender_owned_by(&self, account: &AccountName, address: &str) -> Result<bool, DirectoryError> {
        let Ok(sender) = AccountName::parse(address, None) else { return Ok(false) };
        if &sender == account {
            return Ok(true);
        }
        let aliases = self.services.delivery.directory().aliases_of(account).await?;
        Ok(aliases.contains(&sender))
    }
}
