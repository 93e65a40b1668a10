//! Names and entries of the LDAP layout (see the module doc of `ldap`):
//! DNs built from the `types` names with RFC 4514 escaping, filters with
//! RFC 4515 escaping, and the decoding of entries back into records. Pure;
//! no I/O.

use std::collections::HashSet;
use std::str::FromStr;

use ldap3::{SearchEntry, dn_escape, ldap_escape};
use types::{AccountName, DomainName};

use crate::{AccountRecord, AliasRecord, DirectoryError};

pub(super) const DOMAIN_CLASS: &str = "rookeryDomain";
pub(super) const ACCOUNT_CLASS: &str = "rookeryAccount";
pub(super) const ALIAS_CLASS: &str = "rookeryAlias";
pub(super) const ADDRESS: &str = "rookeryAddress";
pub(super) const QUOTA: &str = "rookeryQuotaBytes";
pub(super) const ALIAS_TARGET: &str = "rookeryAliasTarget";
pub(super) const HOST_SERVER: &str = "hostServer";
pub(super) const OLD_HOST_SERVER: &str = "oldHostServer";
pub(super) const SERVER_CLASS: &str = "rookeryServer";
pub(super) const SERVED_BY: &str = "rookeryServedBy";
pub(super) const PASSWORD: &str = "userPassword";
pub(super) const CREATED: &str = "createTimestamp";
/// The scheme tag of OpenLDAP's argon2 module, whose values are the same
/// PHC strings: with that module loaded, slapd can check binds itself.
pub(super) const PASSWORD_SCHEME: &str = "{ARGON2}";

/// Attributes read to make an [`AccountRecord`].
pub(super) const ACCOUNT_ATTRIBUTES: [&str; 3] = [ADDRESS, QUOTA, CREATED];

/// Where entries go under the configured base DN.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    domains: String,
    servers: String,
}

impl Layout {
    pub fn new(base_dn: &str) -> Self {
        Self { domains: format!("ou=domains,{base_dn}"), servers: format!("ou=servers,{base_dn}") }
    }

    /// The container of the cluster members' server entries.
    pub fn servers_dn(&self) -> &str {
        &self.servers
    }

    /// A server's entry, named by its main domain (CM-2).
    pub fn server_dn(&self, server: &DomainName) -> String {
        format!("cn={},{}", dn_escape(server.as_str()), self.servers)
    }

    /// The container of all domains.
    pub fn domains_dn(&self) -> &str {
        &self.domains
    }

    pub fn domain_dn(&self, domain: &DomainName) -> String {
        format!("ou={},{}", dn_escape(domain.as_str()), self.domains)
    }

    /// The entry of an account or alias: accounts and aliases share one
    /// namespace per domain, so the directory itself refuses a second
    /// entry with the same name.
    pub fn name_dn(&self, name: &AccountName) -> String {
        format!("uid={},{}", dn_escape(name.local().as_str()), self.domain_dn(name.domain()))
    }
}

/// `(attribute=value)` with the value escaped.
pub(super) fn equals(attribute: &str, value: &str) -> String {
    format!("({attribute}={})", ldap_escape(value))
}

pub(super) fn class(object_class: &str) -> String {
    format!("(objectClass={object_class})")
}

/// `(&(objectClass=...)(attribute=value))`.
pub(super) fn class_and(object_class: &str, attribute: &str, value: &str) -> String {
    format!("(&{}{})", class(object_class), equals(attribute, value))
}

pub(super) fn set(value: impl Into<String>) -> HashSet<String> {
    HashSet::from([value.into()])
}

/// The first value of `attribute` (names compare case-insensitively, as
/// LDAP's do).
pub(super) fn first<'a>(entry: &'a SearchEntry, attribute: &str) -> Option<&'a str> {
    entry
        .attrs
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(attribute))
        .and_then(|(_, values)| values.first())
        .map(String::as_str)
}

pub(super) fn has_class(entry: &SearchEntry, object_class: &str) -> bool {
    entry
        .attrs
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("objectClass"))
        .flat_map(|(_, values)| values)
        .any(|value| value.eq_ignore_ascii_case(object_class))
}

fn malformed(entry: &SearchEntry, what: &str) -> DirectoryError {
    DirectoryError::Backend(format!("ldap entry {}: {what}", entry.dn))
}

/// The full name an entry stands for (`rookeryAddress`).
pub(super) fn address(entry: &SearchEntry) -> Result<AccountName, DirectoryError> {
    let value = first(entry, ADDRESS).ok_or_else(|| malformed(entry, "no rookeryAddress"))?;
    AccountName::from_str(value).map_err(|error| malformed(entry, &format!("rookeryAddress {value:?}: {error}")))
}

pub(super) fn account_record(entry: &SearchEntry) -> Result<AccountRecord, DirectoryError> {
    let quota_bytes = match first(entry, QUOTA) {
        None => None,
        Some(value) => Some(value.parse().map_err(|_| malformed(entry, &format!("rookeryQuotaBytes {value:?}")))?),
    };
    let created = first(entry, CREATED).and_then(unix_seconds).unwrap_or(0);
    Ok(AccountRecord { name: address(entry)?, quota_bytes, created })
}

pub(super) fn alias_record(entry: &SearchEntry) -> Result<AliasRecord, DirectoryError> {
    let value = first(entry, ALIAS_TARGET).ok_or_else(|| malformed(entry, "no rookeryAliasTarget"))?;
    let target = AccountName::from_str(value)
        .map_err(|error| malformed(entry, &format!("rookeryAliasTarget {value:?}: {error}")))?;
    Ok(AliasRecord { alias: address(entry)?, target })
}

/// A server name (`hostServer`, `oldHostServer`) from an entry.
pub(super) fn server(entry: &SearchEntry, attribute: &str) -> Result<Option<DomainName>, DirectoryError> {
    first(entry, attribute)
        .map(|value| {
            DomainName::parse(value).map_err(|error| malformed(entry, &format!("{attribute} {value:?}: {error}")))
        })
        .transpose()
}

/// The PHC string of an account's `{ARGON2}` password; `None` when the
/// entry has no password or one in another scheme.
pub(super) fn argon2_hash(entry: &SearchEntry) -> Option<String> {
    let text = first(entry, PASSWORD).map(str::to_owned).or_else(|| {
        entry
            .bin_attrs
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(PASSWORD))
            .and_then(|(_, values)| values.first())
            .and_then(|bytes| String::from_utf8(bytes.clone()).ok())
    })?;
    let (scheme, hash) = text.split_at_checked(PASSWORD_SCHEME.len())?;
    scheme.eq_ignore_ascii_case(PASSWORD_SCHEME).then(|| hash.to_owned())
}

/// Seconds since the epoch of an LDAP GeneralizedTime in UTC as slapd
/// writes it (`YYYYMMDDHHMMSSZ`, optionally with a fraction).
pub(super) fn unix_seconds(generalized_time: &str) -> Option<u64> {
    let digits = generalized_time.get(..14)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !generalized_time.ends_with('Z') {
        return None;
    }
    let field = |range: std::ops::Range<usize>| digits[range].parse::<i64>().ok();
    let (year, month, day) = (field(0..4)?, field(4..6)?, field(6..8)?);
    let (hour, minute, second) = (field(8..10)?, field(10..12)?, field(12..14)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second;
    u64::try_from(seconds).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests;
