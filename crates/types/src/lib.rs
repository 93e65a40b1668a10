//! Newtypes shared by every crate: account and domain names, UIDs, mailbox
//! names. They validate on construction, so a value of one of these types
//! is always well formed; no I/O and no policy live here.
#![forbid(unsafe_code)]

mod name;

pub use name::{AccountName, DomainName, LocalPart, NameError};

use serde::{Deserialize, Serialize};

/// An IMAP/POP3 message UID, unique and ascending within one mailbox
/// generation (RFC 9051 §2.3.1.1). Zero is never a valid UID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Uid(pub u32);

/// The UIDVALIDITY of a mailbox: when it changes, cached UIDs are void.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UidValidity(pub u32);

/// A CONDSTORE modification sequence (RFC 7162), per mailbox, ascending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ModSeq(pub u64);

/// Stable identifier of a mailbox inside one account; survives renames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MailboxId(pub u32);

impl std::fmt::Display for Uid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
