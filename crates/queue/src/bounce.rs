//! Delivery status notifications (RFC 3464, RFC 3462 multipart/report):
//! what the queue sends a message's envelope sender when recipients fail
//! for good, or wait long enough that the sender should know.
//!
//! A notification goes out with the null reverse-path `<>`, so that a
//! notification that cannot be delivered is never answered by another
//! (RFC 5321 §4.5.5): with the rule that nothing is sent to `<>`, no
//! bounce loop can start here. It carries the original message's header
//! only (`text/rfc822-headers`), never the body: small, and no second copy
//! of content the sender already has.

use crate::{Envelope, QueueId};
use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::mime::{BodyPart, MimePart};
use std::fmt::Write as _;

/// Failed for good, or still being retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Failed,
    Delayed,
}

/// One recipient the notification is about.
#[derive(Debug, Clone)]
pub(crate) struct RecipientReport {
    pub address: String,
    /// The queue's reason text, as a transport gave it.
    pub reason: String,
}

/// Who reports, about what.
#[derive(Debug, Clone)]
pub(crate) struct Report<'a> {
    /// This server's host name (`Reporting-MTA`).
    pub reporting_mta: &'a str,
    /// The notification's `From:`, e.g. `MAILER-DAEMON@example.com`.
    pub from: &'a str,
    pub id: QueueId,
    pub envelope: &'a Envelope,
    pub action: Action,
    pub recipients: Vec<RecipientReport>,
    /// Until when delayed recipients are retried (unix seconds).
    pub retry_until: Option<i64>,
    /// The original message; only its header goes in.
    pub original: &'a [u8],
    pub now: i64,
}

/// The notification's envelope and bytes: from `<>` to the original
/// sender.
pub(crate) fn build(report: &Report<'_>) -> (Envelope, Vec<u8>) {
    let envelope = Envelope {
        mail_from: String::new(),
        recipients: vec![report.envelope.mail_from.clone()],
        received_at: report.now,
        authenticated_as: None,
        smtputf8: report.envelope.smtputf8,
    };
    let human = human_text(report);
    let status = delivery_status(report);
    let headers = original_header(report.original);
    let parts = vec![
        MimePart::new(ContentType::new("text/plain").attribute("charset", "utf-8"), BodyPart::Text(human.into())),
        MimePart::new(ContentType::new("message/delivery-status"), BodyPart::Text(status.into()))
            .transfer_encoding("7bit"),
        MimePart::new(ContentType::new("text/rfc822-headers"), BodyPart::Text(headers.into())),
    ];
    let subject = match report.action {
        Action::Failed => "Undelivered Mail Returned to Sender",
        Action::Delayed => "Delayed Mail (still being retried)",
    };
    let message = MessageBuilder::new()
        .from(("Mail Delivery System", report.from))
        .to(report.envelope.mail_from.as_str())
        .subject(subject)
        .date(Date::new(report.now))
        .message_id(format!("{}.{}.{}@{}", report.id, action_name(report.action), report.now, report.reporting_mta))
        // RFC 3834: an automatic message, not to be answered automatically.
        .header("Auto-Submitted", mail_builder::headers::raw::Raw::new("auto-replied"))
        .body(MimePart::new(
            ContentType::new("multipart/report").attribute("report-type", "delivery-status"),
            BodyPart::Multipart(parts),
        ));
    let bytes = message.write_to_vec().unwrap_or_default();
    (envelope, bytes)
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Failed => "failed",
        Action::Delayed => "delayed",
    }
}

fn human_text(report: &Report<'_>) -> String {
    let mut text = format!("This is the mail system at host {}.\r\n\r\n", report.reporting_mta);
    match report.action {
        Action::Failed => text.push_str(
            "Your message could not be delivered to one or more recipients.\r\n\
             It is attached below (its header only).\r\n",
        ),
        Action::Delayed => {
            text.push_str("Your message has not yet been delivered to one or more recipients.\r\n");
            if let Some(until) = report.retry_until.and_then(|t| chrono::DateTime::from_timestamp(t, 0)) {
                let _ = write!(text, "The mail system will keep trying until {}.\r\n", until.to_rfc2822());
            }
            text.push_str("You do not need to send it again.\r\n");
        }
    }
    text.push_str("\r\n");
    for recipient in &report.recipients {
        let _ = write!(text, "<{}>: {}\r\n", recipient.address, recipient.reason);
    }
    text
}

/// The `message/delivery-status` body: per-message fields, then one
/// block per recipient (RFC 3464 §2.2, §2.3).
fn delivery_status(report: &Report<'_>) -> String {
    let mut status = format!("Reporting-MTA: dns; {}\r\n", report.reporting_mta);
    let _ = write!(status, "X-Rookery-Queue-ID: {}\r\n", report.id);
    if let Some(arrival) = chrono::DateTime::from_timestamp(report.envelope.received_at, 0) {
        let _ = write!(status, "Arrival-Date: {}\r\n", arrival.to_rfc2822());
    }
    for recipient in &report.recipients {
        let diagnosis = Diagnosis::of(&recipient.reason, report.action);
        let address_type = if recipient.address.is_ascii() { "rfc822" } else { "utf-8" };
        let _ = write!(status, "\r\nFinal-Recipient: {address_type}; {}\r\n", recipient.address);
        let _ = write!(status, "Action: {}\r\n", action_name(report.action));
        let _ = write!(status, "Status: {}\r\n", diagnosis.status);
        if let Some(mta) = &diagnosis.remote_mta {
            let _ = write!(status, "Remote-MTA: dns; {mta}\r\n");
        }
        let _ = write!(status, "Diagnostic-Code: {}\r\n", diagnosis.code);
        if let (Action::Delayed, Some(until)) = (report.action, report.retry_until)
            && let Some(until) = chrono::DateTime::from_timestamp(until, 0)
        {
            let _ = write!(status, "Will-Retry-Until: {}\r\n", until.to_rfc2822());
        }
    }
    status
}

/// What a reason text says in DSN terms.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Diagnosis {
    /// RFC 3463 status code, `5.1.1`.
    pub status: String,
    /// `Diagnostic-Code` value: `smtp; 550 5.1.1 ...` when a server said
    /// it, `X-Rookery; ...` for the queue's own reasons.
    pub code: String,
    pub remote_mta: Option<String>,
}

impl Diagnosis {
    /// Reads a reason: a remote server's reply appears as `host[addr]
    /// said: 550 5.1.1 text`; the queue's own reasons start with their
    /// status code (`5.1.1 unknown user`). Anything else gets the generic
    /// code of its class.
    pub(crate) fn of(reason: &str, action: Action) -> Diagnosis {
        let class = match action {
            Action::Failed => '5',
            Action::Delayed => '4',
        };
        let oneline: String = reason.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        if let Some((host, reply)) = oneline.split_once(" said: ") {
            let status = enhanced_status(reply.get(4..).unwrap_or_default())
                .or_else(|| reply.get(..1).filter(|c| matches!(*c, "4" | "5")).map(|c| format!("{c}.0.0")))
                .unwrap_or_else(|| format!("{class}.0.0"));
            let remote_mta = host.split('[').next().map(str::trim).filter(|h| !h.is_empty()).map(str::to_owned);
            return Diagnosis { status, code: format!("smtp; {}", reply.trim()), remote_mta };
        }
        let status = enhanced_status(&oneline).unwrap_or_else(|| format!("{class}.0.0"));
        Diagnosis { status, code: format!("X-Rookery; {}", oneline.trim()), remote_mta: None }
    }
}

/// The RFC 3463 code at the start of `text` (`5.1.1 ...`), if any.
fn enhanced_status(text: &str) -> Option<String> {
    let word = text.split_whitespace().next()?;
    let mut parts = word.split('.');
    let (class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
    let number = |s: &str, max: usize| !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit());
    (parts.next().is_none() && matches!(class, "2" | "4" | "5") && number(subject, 3) && number(detail, 3))
        .then(|| word.to_owned())
}

/// The original message's header block, at most 64 KiB of it.
fn original_header(message: &[u8]) -> String {
    const MAX: usize = 64 << 10;
    let end = memchr::memmem::find(message, b"\r\n\r\n")
        .map(|at| at + 2)
        .or_else(|| memchr::memmem::find(message, b"\n\n").map(|at| at + 1))
        .unwrap_or(message.len())
        .min(MAX);
    String::from_utf8_lossy(&message[..end]).into_owned()
}

#[cfg(test)]
mod tests;
