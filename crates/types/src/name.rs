//! Account and domain names. Both are case-insensitive in mail practice, so
//! both are kept lower-case; comparing two names is comparing strings.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a string is not a valid name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("name is empty")]
    Empty,
    #[error("name is too long ({0} bytes)")]
    TooLong(usize),
    #[error("invalid character {0:?} in name")]
    BadChar(char),
    #[error("misplaced dot in name")]
    BadDot,
    #[error("address has no domain and no default domain applies")]
    NoDomain,
}

/// RFC 5321 §4.5.3.1.1: a local part is at most 64 octets.
const MAX_LOCAL_PART: usize = 64;
/// RFC 5321 §4.5.3.1.2: a domain is at most 255 octets.
const MAX_DOMAIN: usize = 255;
const MAX_LABEL: usize = 63;

/// A mail domain, lower-case, letters/digits/hyphens (UTF-8 letters allowed
/// for SMTPUTF8), labels separated by single dots.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DomainName(String);

impl DomainName {
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let lower = input.trim_end_matches('.').to_lowercase();
        if lower.is_empty() {
            return Err(NameError::Empty);
        }
        if lower.len() > MAX_DOMAIN {
            return Err(NameError::TooLong(lower.len()));
        }
        for label in lower.split('.') {
            if label.is_empty() {
                return Err(NameError::BadDot);
            }
            if label.len() > MAX_LABEL {
                return Err(NameError::TooLong(label.len()));
            }
            if let Some(c) = label.chars().find(|&c| !(c.is_alphanumeric() || c == '-')) {
                return Err(NameError::BadChar(c));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(NameError::BadChar('-'));
            }
        }
        Ok(Self(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for DomainName {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        Self::parse(&s)
    }
}

impl From<DomainName> for String {
    fn from(d: DomainName) -> String {
        d.0
    }
}

/// The part of an address before `@`, lower-case, in RFC 5321 dot-atom form
/// (UTF-8 allowed, RFC 6531). Quoted local parts are not account names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LocalPart(String);

impl LocalPart {
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let lower = input.to_lowercase();
        if lower.is_empty() {
            return Err(NameError::Empty);
        }
        if lower.len() > MAX_LOCAL_PART {
            return Err(NameError::TooLong(lower.len()));
        }
        if lower.starts_with('.') || lower.ends_with('.') || lower.contains("..") {
            return Err(NameError::BadDot);
        }
        if let Some(c) = lower.chars().find(|&c| !is_atext(c) && c != '.') {
            return Err(NameError::BadChar(c));
        }
        Ok(Self(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// RFC 5322 atext, widened by RFC 6531 to any non-ASCII character.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || (!c.is_ascii() && !c.is_control())
}

impl TryFrom<String> for LocalPart {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        Self::parse(&s)
    }
}

impl From<LocalPart> for String {
    fn from(l: LocalPart) -> String {
        l.0
    }
}

/// A full account or address name, `local@domain`. Inter-server traffic
/// always names accounts this way (CM-8).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountName {
    local: LocalPart,
    domain: DomainName,
}

impl AccountName {
    pub fn new(local: LocalPart, domain: DomainName) -> Self {
        Self { local, domain }
    }

    /// Parses `local@domain`, or a bare `local` in `default_domain` (DESIGN
    /// §9: a name without a domain means the main domain).
    pub fn parse(input: &str, default_domain: Option<&DomainName>) -> Result<Self, NameError> {
        match input.rsplit_once('@') {
            Some((local, domain)) => Ok(Self::new(LocalPart::parse(local)?, DomainName::parse(domain)?)),
            None => {
                let domain = default_domain.ok_or(NameError::NoDomain)?;
                Ok(Self::new(LocalPart::parse(input)?, domain.clone()))
            }
        }
    }

    pub fn local(&self) -> &LocalPart {
        &self.local
    }

    pub fn domain(&self) -> &DomainName {
        &self.domain
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local.0, self.domain.0)
    }
}

impl std::str::FromStr for AccountName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        Self::parse(s, None)
    }
}

impl TryFrom<String> for AccountName {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        Self::parse(&s, None)
    }
}

impl From<AccountName> for String {
    fn from(a: AccountName) -> String {
        a.to_string()
    }
}

#[cfg(test)]
mod tests;
