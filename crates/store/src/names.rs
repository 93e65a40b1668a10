//! Mailbox names: validation, the case-insensitive INBOX, and the '/'
//! hierarchy (RFC 9051 §5.1).

use crate::StoreError;

pub(crate) const INBOX: &str = "INBOX";
pub(crate) const DELIMITER: char = '/';
const MAX_NAME: usize = 255;

/// Validates `name` and returns its stored form, with a first level of
/// `inbox` in any case written `INBOX`.
pub(crate) fn normalize(name: &str) -> Result<String, StoreError> {
    let bad = || StoreError::BadMailboxName(name.to_owned());
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(bad());
    }
    // '*' and '%' are LIST wildcards: a mailbox named with them could not be
    // listed on its own.
    if name.chars().any(|c| c.is_control() || c == '*' || c == '%') {
        return Err(bad());
    }
    if name.split(DELIMITER).any(str::is_empty) {
        return Err(bad());
    }
    let (first, rest) = match name.split_once(DELIMITER) {
        Some((first, rest)) => (first, Some(rest)),
        None => (name, None),
    };
    if first.eq_ignore_ascii_case(INBOX) {
        return Ok(match rest {
            Some(rest) => format!("{INBOX}{DELIMITER}{rest}"),
            None => INBOX.to_owned(),
        });
    }
    Ok(name.to_owned())
}

/// The superiors of `name`, outermost first: `a/b/c` gives `a`, `a/b`.
pub(crate) fn superiors(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices(DELIMITER).map(move |(at, _)| &name[..at])
}

/// Whether `name` is `parent` itself or below it.
pub(crate) fn is_self_or_inferior(name: &str, parent: &str) -> bool {
    name.strip_prefix(parent).is_some_and(|rest| rest.is_empty() || rest.starts_with(DELIMITER))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<&str>) {
        assert_eq!(normalize(input).ok().as_deref(), expected, "normalizing {input:?}");
    }

    #[test]
    fn names() {
        check("INBOX", Some("INBOX"));
        check("inbox", Some("INBOX"));
        check("InBoX/Sub", Some("INBOX/Sub"));
        check("inboxes", Some("inboxes"));
        check("Sent", Some("Sent"));
        check("a/b/c", Some("a/b/c"));
        check("Ünïcode", Some("Ünïcode"));
        check("", None);
        check("/a", None);
        check("a/", None);
        check("a//b", None);
        check("a\u{7}b", None);
        check("a*", None);
        check("a%", None);
        check(&"x".repeat(256), None);
        check(&"x".repeat(255), Some(&"x".repeat(255)));
    }

    #[test]
    fn hierarchy() {
        assert_eq!(superiors("a/b/c").collect::<Vec<_>>(), ["a", "a/b"]);
        assert_eq!(superiors("a").count(), 0);
        assert!(is_self_or_inferior("a/b", "a"));
        assert!(is_self_or_inferior("a", "a"));
        assert!(!is_self_or_inferior("ab", "a"));
    }
}
