//! Mailbox names in URLs: one percent-encoded path segment each, so that
//! `/`, `?`, `#`, `%` and spaces in a name cannot change the route.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but unreserved characters (RFC 3986 §2.3) is encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// One path segment (or query value) holding `text`.
pub fn encode_segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// `/mail/{mailbox}`.
pub fn mailbox_url(mailbox: &str) -> String {
    format!("/mail/{}", encode_segment(mailbox))
}

/// `/mail/{mailbox}/{uid}`.
pub fn message_url(mailbox: &str, uid: u32) -> String {
    format!("/mail/{}/{uid}", encode_segment(mailbox))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_one_segment() {
        assert_eq!(mailbox_url("Sent Items"), "/mail/Sent%20Items");
        assert_eq!(mailbox_url("a/b?c#d%"), "/mail/a%2Fb%3Fc%23d%25");
        assert_eq!(message_url("<x>", 7), "/mail/%3Cx%3E/7");
        assert_eq!(mailbox_url("Ünï"), "/mail/%C3%9Cn%C3%AF");
    }
}
