//! What the compose form starts with for a reply or a forward: pure
//! functions over the original message.

use crate::message::mime::{self, Attachment};
use mail_parser::{HeaderValue, Message};

/// Longest References list kept: enough to thread, bounded in size.
const MAX_REFERENCES: usize = 20;

/// The compose form's initial contents.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Draft {
    pub to: String,
    pub cc: String,
    pub subject: String,
    pub body: String,
    /// Message-IDs without angle brackets.
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// The original's attachments, carried over when forwarding.
    pub forwarded: Vec<Attachment>,
}

pub fn reply(original: &Message<'_>) -> Draft {
    let to = mime::format_addresses(original.reply_to().or(original.from()));
    let message_id = original.message_id().map(str::to_owned);
    let mut references = id_list(original.references());
    if references.is_empty() {
        // RFC 5322 §3.6.4: without References, the parent's In-Reply-To.
        references = id_list(original.in_reply_to());
    }
    references.extend(message_id.clone());
    let excess = references.len().saturating_sub(MAX_REFERENCES);
    references.drain(..excess);
    Draft {
        to,
        subject: prefixed("Re:", original.subject().unwrap_or_default()),
        body: quote(original),
        in_reply_to: message_id,
        references,
        ..Draft::default()
    }
}

pub fn forward(original: &Message<'_>) -> Draft {
    let mut body = String::from("\n\n---------- Forwarded message ----------\n");
    for (label, value) in [
        ("From", mime::format_addresses(original.from())),
        ("Date", original.date().map(|d| d.to_rfc822()).unwrap_or_default()),
        ("Subject", original.subject().unwrap_or_default().to_owned()),
        ("To", mime::format_addresses(original.to())),
    ] {
        if !value.is_empty() {
            body.push_str(&format!("{label}: {value}\n"));
        }
    }
    body.push('\n');
    body.push_str(&original_text(original));
    Draft {
        subject: prefixed("Fwd:", original.subject().unwrap_or_default()),
        body,
        forwarded: mime::attachments(original),
        ..Draft::default()
    }
}

/// `Re: x` for `x`, but not `Re: Re: x`; the prefix is compared without case.
pub fn prefixed(prefix: &str, subject: &str) -> String {
    let subject = subject.trim();
    let already = subject.get(..prefix.len()).is_some_and(|start| start.eq_ignore_ascii_case(prefix));
    if already { subject.to_owned() } else { format!("{prefix} {subject}").trim_end().to_owned() }
}

/// The original's text (HTML converted by mail-parser), each line quoted.
fn quote(original: &Message<'_>) -> String {
    let who = mime::format_addresses(original.from());
    let when = original.date().map(|d| d.to_rfc822());
    let mut out = String::from("\n\n");
    match when {
        Some(when) => out.push_str(&format!("On {when}, {who} wrote:\n")),
        None => out.push_str(&format!("{who} wrote:\n")),
    }
    for line in original_text(original).lines() {
        out.push('>');
        if !line.is_empty() && !line.starts_with('>') {
            out.push(' ');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn original_text(original: &Message<'_>) -> String {
    original.body_text(0).map(|text| text.replace("\r\n", "\n")).unwrap_or_default()
}

fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => vec![id.to_string()],
        HeaderValue::TextList(ids) => ids.iter().map(ToString::to_string).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    const ORIGINAL: &str = "From: Ann <ann@example.org>\r\n\
Reply-To: list@example.org\r\n\
To: bob@example.org\r\n\
Subject: Re: plans\r\n\
Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n\
Message-ID: <m2@example.org>\r\n\
References: <m0@example.org> <m1@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain\r\n\
\r\n\
line one\r\n\
> older\r\n\
--b\r\n\
Content-Type: application/pdf\r\n\
Content-Disposition: attachment; filename=plan.pdf\r\n\
\r\n\
%PDF\r\n\
--b--\r\n";

    fn parse(raw: &str) -> Message<'_> {
        MessageParser::default().parse(raw.as_bytes()).expect("test message parses")
    }

    #[test]
    fn reply_quotes_threads_and_answers_reply_to() {
        let draft = reply(&parse(ORIGINAL));
        assert_eq!(draft.to, "list@example.org");
        assert_eq!(draft.subject, "Re: plans");
        assert_eq!(draft.in_reply_to.as_deref(), Some("m2@example.org"));
        assert_eq!(draft.references, ["m0@example.org", "m1@example.org", "m2@example.org"]);
        assert!(draft.body.contains("ann@example.org> wrote:\n> line one\n>> older\n"), "{:?}", draft.body);
        assert!(draft.forwarded.is_empty());
    }

    #[test]
    fn reply_without_reply_to_goes_to_from() {
        let draft = reply(&parse("From: ann@example.org\r\nSubject: hi\r\n\r\nbody\r\n"));
        assert_eq!(draft.to, "ann@example.org");
        assert_eq!(draft.subject, "Re: hi");
        assert_eq!(draft.in_reply_to, None);
    }

    #[test]
    fn forward_carries_attachments_and_headers() {
        let draft = forward(&parse(ORIGINAL));
        assert_eq!(draft.subject, "Fwd: Re: plans");
        assert!(draft.to.is_empty());
        assert!(draft.body.contains("Subject: Re: plans\n"), "{}", draft.body);
        assert!(draft.body.contains("line one"));
        assert_eq!(draft.forwarded.len(), 1);
        assert_eq!(draft.forwarded[0].name, "plan.pdf");
        assert_eq!(draft.forwarded[0].path, "2");
    }

    #[test]
    fn prefixes_once() {
        assert_eq!(prefixed("Re:", "RE: x"), "RE: x");
        assert_eq!(prefixed("Fwd:", "x"), "Fwd: x");
        assert_eq!(prefixed("Re:", ""), "Re:");
    }
}
