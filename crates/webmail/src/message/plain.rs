//! A text/plain body as HTML: every character escaped, http and https URLs
//! made into links that open in a new tab without a referrer. The result
//! goes inside a `<pre>`, so line breaks and spacing stay as sent.

use std::fmt::Write;

pub fn escape_html(text: &str, out: &mut String) {
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
}

/// Escaped text with clickable links.
pub fn to_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut rest = text;
    while let Some(start) = next_url_start(rest) {
        escape_html(&rest[..start], &mut out);
        let candidate = &rest[start..];
        let length = url_length(candidate);
        let url = &candidate[..length];
        if url.split_once("://").is_some_and(|(_, rest)| !rest.is_empty()) {
            out.push_str("<a href=\"");
            escape_html(url, &mut out);
            out.push_str("\" rel=\"noopener noreferrer\" target=\"_blank\">");
            escape_html(url, &mut out);
            out.push_str("</a>");
        } else {
            escape_html(url, &mut out);
        }
        // A bare scheme still advances past itself, so the loop always moves.
        rest = &candidate[length.max(1)..];
    }
    escape_html(rest, &mut out);
    out
}

fn next_url_start(text: &str) -> Option<usize> {
    let http = text.find("http://");
    let https = text.find("https://");
    match (http, https) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Up to whitespace, a quote or an angle bracket, without the trailing
/// punctuation that usually ends the sentence around a URL.
fn url_length(text: &str) -> usize {
    let end = text
        .char_indices()
        .find(|(_, ch)| ch.is_whitespace() || ch.is_control() || matches!(ch, '<' | '>' | '"' | '\'' | '`'))
        .map_or(text.len(), |(index, _)| index);
    let trimmed = text[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '}']);
    trimmed.len()
}

/// `<pre>` around [`to_html`], for the message page's body.
pub fn to_pre(text: &str) -> String {
    let mut out = String::new();
    let _ = write!(out, "<pre>{}</pre>", to_html(text));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            to_html("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn links_urls_without_trailing_punctuation() {
        assert_eq!(
            to_html("see https://example.org/a?b=1&c=2."),
            "see <a href=\"https://example.org/a?b=1&amp;c=2\" rel=\"noopener noreferrer\" target=\"_blank\">\
             https://example.org/a?b=1&amp;c=2</a>."
        );
        let out = to_html("(http://x.example/p) and https://y.example");
        assert_eq!(out.matches("<a href=").count(), 2, "{out}");
    }

    #[test]
    fn quotes_cannot_break_out_of_the_href() {
        let out = to_html("https://x.example/\"onmouseover=alert(1)");
        assert!(out.starts_with("<a href=\"https://x.example/\" "), "{out}");
        assert!(!out.contains("\"onmouseover"), "{out}");
    }

    #[test]
    fn javascript_and_bare_schemes_are_not_links() {
        assert_eq!(to_html("javascript:alert(1)"), "javascript:alert(1)");
        assert_eq!(to_html("https:// x"), "https:// x");
        assert_eq!(to_pre("a\nb"), "<pre>a\nb</pre>");
    }
}
