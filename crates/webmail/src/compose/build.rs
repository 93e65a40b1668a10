//! Turns a checked compose form into RFC 5322 bytes with mail-builder.

use super::address::Recipient;
use crate::message::download::safe_file_name;
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use rand::Rng;

/// One file to attach, from an upload or from a forwarded message.
#[derive(Debug, Clone)]
pub struct FileAttachment {
    pub name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// A message ready to build: the recipients are already checked.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The session's account: the only From a web mail user can send as.
    pub from: String,
    pub to: Vec<Recipient>,
    pub cc: Vec<Recipient>,
    pub subject: String,
    pub body: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub attachments: Vec<FileAttachment>,
}

impl Outgoing {
    /// Every envelope recipient, To then Cc, each once.
    pub fn envelope_recipients(&self) -> Vec<String> {
        let mut all: Vec<String> = Vec::new();
        for recipient in self.to.iter().chain(&self.cc) {
            if !all.iter().any(|known| known.eq_ignore_ascii_case(&recipient.address)) {
                all.push(recipient.address.clone());
            }
        }
        all
    }

    pub fn needs_smtputf8(&self) -> bool {
        !self.from.is_ascii() || self.to.iter().chain(&self.cc).any(Recipient::is_utf8)
    }
}

/// `<random>@<hostname>` without the angle brackets (mail-builder adds them).
pub fn new_message_id(hostname: &str) -> String {
    let random: u128 = rand::rng().random();
    format!("{random:032x}@{hostname}")
}

/// The message's bytes; `date` is Unix seconds.
pub fn build(outgoing: &Outgoing, message_id: &str, date: i64) -> std::io::Result<Vec<u8>> {
    let mut builder = MessageBuilder::new()
        .from(outgoing.from.as_str())
        .to(address_list(&outgoing.to))
        .subject(outgoing.subject.as_str())
        .message_id(message_id)
        .date(date)
        .header("User-Agent", mail_builder::headers::raw::Raw::new("Rookery webmail"))
        // Normalise line ends: a textarea posts CRLF, tests and scripts may not.
        .text_body(outgoing.body.replace("\r\n", "\n").replace('\n', "\r\n"));
    if !outgoing.cc.is_empty() {
        builder = builder.cc(address_list(&outgoing.cc));
    }
    if let Some(parent) = &outgoing.in_reply_to {
        builder = builder.in_reply_to(parent.as_str());
    }
    if !outgoing.references.is_empty() {
        builder = builder.references(outgoing.references.iter().map(String::as_str).collect::<Vec<_>>());
    }
    for file in &outgoing.attachments {
        builder = builder.attachment(
            upload_content_type(&file.content_type),
            safe_file_name(&file.name),
            file.data.as_slice(),
        );
    }
    builder.write_to_vec()
}

fn address_list(recipients: &[Recipient]) -> Address<'_> {
    let list: Vec<Address<'_>> =
        recipients.iter().map(|r| Address::new_address(r.name.as_deref(), r.address.as_str())).collect();
    Address::new_list(list)
}

/// The browser's type for an upload when it is a clean `type/subtype`
/// token pair; else octet-stream (the value goes into a header).
pub fn upload_content_type(declared: &str) -> String {
    let declared = declared.trim().to_ascii_lowercase();
    let is_token = |text: &str| {
        !text.is_empty()
            && text.len() < 64
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match declared.split_once('/') {
        Some((kind, subtype)) if is_token(kind) && is_token(subtype) => declared,
        _ => "application/octet-stream".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::{MessageParser, MimeHeaders};

    fn outgoing() -> Outgoing {
        Outgoing {
            from: "ann@example.org".to_owned(),
            to: vec![Recipient { name: Some("Bob B".to_owned()), address: "bob@example.org".to_owned() }],
            cc: vec![
                Recipient { name: None, address: "carol@example.org".to_owned() },
                Recipient { name: None, address: "BOB@example.org".to_owned() },
            ],
            subject: "Grüße <b>".to_owned(),
            body: "line 1\nline 2\r\n".to_owned(),
            in_reply_to: Some("m1@example.org".to_owned()),
            references: vec!["m0@example.org".to_owned(), "m1@example.org".to_owned()],
            attachments: vec![FileAttachment {
                name: "../../etc/passwd".to_owned(),
                content_type: "text/plain\r\nX-Evil: 1".to_owned(),
                data: b"root:x:0:0".to_vec(),
            }],
        }
    }

    #[test]
    fn builds_a_message_that_parses_back() {
        let raw = build(&outgoing(), "abc@mail.example.org", 1_790_000_000).expect("builds");
        let message = MessageParser::default().parse(&raw).expect("parses");
        assert_eq!(message.subject(), Some("Grüße <b>"));
        assert_eq!(message.message_id(), Some("abc@mail.example.org"));
        assert_eq!(message.from().and_then(|a| a.first()).and_then(|a| a.address()), Some("ann@example.org"));
        assert_eq!(message.to().and_then(|a| a.first()).and_then(|a| a.name()), Some("Bob B"));
        assert_eq!(message.cc().map(|a| a.iter().count()), Some(2));
        assert_eq!(message.in_reply_to().as_text(), Some("m1@example.org"));
        assert_eq!(message.date().map(|d| d.to_timestamp()), Some(1_790_000_000));
        assert_eq!(message.body_text(0).as_deref(), Some("line 1\r\nline 2\r\n"));
        let attachment = message.attachment(0).expect("one attachment");
        assert_eq!(attachment.attachment_name(), Some("passwd"));
        assert_eq!(attachment.contents(), b"root:x:0:0");
        assert!(!String::from_utf8_lossy(&raw).contains("X-Evil"));
    }

    #[test]
    fn envelope_has_each_recipient_once() {
        assert_eq!(outgoing().envelope_recipients(), ["bob@example.org", "carol@example.org"]);
        assert!(!outgoing().needs_smtputf8());
    }

    #[test]
    fn message_ids_are_unique() {
        assert_ne!(new_message_id("h"), new_message_id("h"));
        assert!(new_message_id("mail.example.org").ends_with("@mail.example.org"));
    }
}
