//! Domain names in the one form routing compares and queries: ASCII
//! (IDNA A-labels), lower case, without a trailing dot.

use hickory_resolver::proto::rr::Name;

/// The canonical form of `text`, or `None` when it is not a host name
/// (empty label, a character a host name cannot have, too long).
pub(crate) fn canonical_domain(text: &str) -> Option<String> {
    let text = text.strip_suffix('.').unwrap_or(text);
    let plausible = !text.is_empty()
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.chars().all(|c| {
                    c.is_ascii_alphanumeric() || c == '-' || c == '_' || (!c.is_ascii() && c.is_alphanumeric())
                })
        });
    if !plausible {
        return None;
    }
    // hickory checks label and name lengths, and applies IDNA (UTS #46)
    // to non-ASCII names; its IDNA refuses `_`, which ASCII names may have.
    let name = if text.is_ascii() { Name::from_ascii(text) } else { Name::from_utf8(text) };
    let ascii = name.ok()?.to_ascii().to_ascii_lowercase();
    let ascii = ascii.strip_suffix('.').unwrap_or(&ascii).to_owned();
    (ascii.len() <= 253).then_some(ascii)
}

/// The absolute DNS name for a canonical domain, so that no search domain
/// from resolv.conf is ever appended.
pub(crate) fn absolute_name(domain: &str) -> Option<Name> {
    let mut name = Name::from_ascii(domain).ok()?;
    name.set_fqdn(true);
    Some(name)
}

/// A DNS name as a destination's host name: lower case, no trailing dot.
pub(crate) fn display_name(name: &Name) -> String {
    let text = name.to_ascii().to_ascii_lowercase();
    text.strip_suffix('.').unwrap_or(&text).to_owned()
}

#[cfg(test)]
mod tests;
