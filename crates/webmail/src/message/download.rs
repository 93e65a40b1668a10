//! Headers for serving a message part: a file name that cannot escape a
//! directory or a header, and a Content-Type the browser cannot be talked
//! into running as a page of ours.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// RFC 8187 `attr-char`: everything else is percent-encoded in `filename*`.
const ATTR_CHAR: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'!').remove(b'#').remove(b'$').remove(b'&').remove(b'+').remove(b'-').remove(b'.');
const ATTR_CHAR_REST: &AsciiSet = &ATTR_CHAR.remove(b'^').remove(b'_').remove(b'`').remove(b'|').remove(b'~');

const MAX_NAME_CHARS: usize = 200;

/// The last path component, without control characters, without leading
/// dots or spaces (no hidden or relative names), at most 200 characters.
pub fn safe_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last.chars().filter(|ch| !ch.is_control()).take(MAX_NAME_CHARS).collect();
    let trimmed = cleaned.trim_start_matches(['.', ' ']).trim_end();
    if trimmed.is_empty() { "attachment".to_owned() } else { trimmed.to_owned() }
}

/// `attachment` (or `inline`) with an ASCII fallback name for old clients
/// and the exact UTF-8 name in `filename*` (RFC 6266).
pub fn content_disposition(inline: bool, name: &str) -> String {
    let name = safe_file_name(name);
    let fallback: String = name
        .chars()
        .map(|ch| if ch.is_ascii_alphanumeric() || matches!(ch, '.' | '-' | '_' | ' ' | '(' | ')') { ch } else { '_' })
        .collect();
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{}", utf8_percent_encode(&name, ATTR_CHAR_REST))
}

/// Image types a browser shows inline without running anything: SVG is
/// left out on purpose (it can carry script).
pub fn is_inline_image(content_type: &str) -> bool {
    matches!(content_type, "image/png" | "image/gif" | "image/jpeg" | "image/webp")
}

/// The Content-Type to send for a part declared as `declared` (lower case
/// `type/subtype`). Text is served decoded, as UTF-8; anything a browser
/// would render as a document with script (HTML, XML, SVG, JavaScript)
/// becomes text/plain or octet-stream, and so does a type that is not a
/// clean token (it came from the sender and goes into a header).
pub fn served_content_type(declared: &str) -> String {
    let clean = declared.split_once('/').is_some_and(|(kind, subtype)| is_token(kind) && is_token(subtype))
        && declared.len() < 100;
    if !clean {
        return "application/octet-stream".to_owned();
    }
    let scriptable = declared.contains("html")
        || declared.contains("xml")
        || declared.contains("svg")
        || declared.contains("javascript")
        || declared.contains("ecmascript");
    match (declared.starts_with("text/"), scriptable) {
        (true, true) => "text/plain; charset=utf-8".to_owned(),
        (true, false) => format!("{declared}; charset=utf-8"),
        (false, true) => "application/octet-stream".to_owned(),
        (false, false) => declared.to_owned(),
    }
}

fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_become_safe() {
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(safe_file_name("\"a\r\nb.txt"), "\"ab.txt");
        assert_eq!(safe_file_name("..."), "attachment");
        assert_eq!(safe_file_name(""), "attachment");
        assert_eq!(safe_file_name(".hidden"), "hidden");
        assert_eq!(safe_file_name(&"x".repeat(500)).len(), MAX_NAME_CHARS);
    }

    #[test]
    fn disposition_has_no_quotes_or_line_breaks_inside() {
        let header = content_disposition(false, "\"a\r\nb.txt");
        assert_eq!(header, "attachment; filename=\"_ab.txt\"; filename*=UTF-8''%22ab.txt");
        let header = content_disposition(false, "<script>.html");
        assert_eq!(header, "attachment; filename=\"_script_.html\"; filename*=UTF-8''%3Cscript%3E.html");
        let header = content_disposition(true, "Grüße.png");
        assert_eq!(header, "inline; filename=\"Gr__e.png\"; filename*=UTF-8''Gr%C3%BC%C3%9Fe.png");
    }

    #[test]
    fn scriptable_types_are_never_served_as_such() {
        assert_eq!(served_content_type("text/html"), "text/plain; charset=utf-8");
        assert_eq!(served_content_type("image/svg+xml"), "application/octet-stream");
        assert_eq!(served_content_type("application/xhtml+xml"), "application/octet-stream");
        assert_eq!(served_content_type("text/plain"), "text/plain; charset=utf-8");
        assert_eq!(served_content_type("application/pdf"), "application/pdf");
        assert_eq!(served_content_type("image/png\r\nx: y"), "application/octet-stream");
        assert_eq!(served_content_type("nonsense"), "application/octet-stream");
    }

    #[test]
    fn only_raster_images_are_inline() {
        assert!(is_inline_image("image/png"));
        assert!(!is_inline_image("image/svg+xml"));
        assert!(!is_inline_image("text/html"));
    }
}
