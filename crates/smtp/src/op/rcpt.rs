//! RCPT TO (RFC 5321 §4.1.1.3): each recipient is classified by the local
//! delivery agent before it is accepted.

use crate::config::Role;
use crate::reply::{Reply, write_reply};
use crate::session::{SmtpSession, State};
use delivery::{DeliveryError, Recipient};
use smtp_proto::RcptTo;
use std::borrow::Cow;
use types::AccountName;

impl SmtpSession {
    pub(crate) async fn rcpt(&mut self, to: RcptTo<Cow<'_, str>>, out: &mut Vec<u8>) {
        let State::Mail(transaction) = &self.state else {
            self.reject(out, 503, "5.5.1", "send MAIL first");
            return;
        };
        if to.flags != 0 || to.orcpt.is_some() || to.rrvs != 0 {
            self.reject(out, 555, "5.5.4", "unsupported RCPT parameter");
            return;
        }
        // Past the limit nothing is looked up or stored, so a client
        // sending thousands of RCPTs costs a reply each and no memory.
        if transaction.accepted.len() >= self.config.max_recipients {
            write_reply(out, 452, "4.5.3", "too many recipients");
            return;
        }
        let address = to.address.as_ref();
        if !address.is_ascii() && !transaction.smtputf8 {
            self.reject(out, 553, "5.6.7", "non-ASCII address requires SMTPUTF8");
            return;
        }
        let declared_size = transaction.declared_size;
        match self.classify(address, declared_size).await {
            Ok(account) => {
                tracing::debug!(target: "smtp", rcpt_to = address, local = account.is_some(), "recipient accepted");
                if let State::Mail(transaction) = &mut self.state {
                    transaction.add_recipient(address, account);
                }
                write_reply(out, 250, "2.1.5", "recipient ok");
            }
            Err(reply) => self.refuse(out, reply),
        }
    }

    /// The account a recipient delivers to (`None`: a remote recipient
    /// this session may relay to), or why it is refused.
    async fn classify(&self, address: &str, declared_size: u64) -> Result<Option<AccountName>, Reply> {
        let delivery = &self.services.delivery;
        match delivery.recipient(address).await {
            Ok(Recipient::Local(account)) => match delivery.check_quota(&account, declared_size).await {
                Ok(()) => Ok(Some(account)),
                Err(DeliveryError::QuotaExceeded { .. }) => Err(Reply::new(552, "5.2.2", "mailbox full")),
                Err(error) => Err(temporary(error)),
            },
            Ok(Recipient::UnknownUser) => Err(Reply::new(550, "5.1.1", "unknown user")),
            Ok(Recipient::Remote) => match self.config.role {
                Role::Lmtp => Err(Reply::new(550, "5.7.1", "not a local recipient")),
                _ if self.account.is_some() => Ok(None),
                _ => Err(Reply::new(554, "5.7.1", "relay access denied")),
            },
            Err(DeliveryError::BadAddress(_)) => Err(Reply::new(501, "5.1.3", "invalid recipient address")),
            Err(error) => Err(temporary(error)),
        }
    }
}

fn temporary(error: DeliveryError) -> Reply {
    tracing::warn!(target: "smtp", %error, "recipient look-up failed");
    Reply::new(451, "4.3.0", "temporary failure, try again later")
}
