//! The HTML mail sanitiser: `ammonia` with a narrow policy on top.
//!
//! ammonia's defaults already drop scripts, event handlers, forms, iframes,
//! `<base>`, `<meta>`, `<style>` and every `style`, `id` and `class`
//! attribute (so a mail can neither restyle the page nor pose as one of its
//! controls). On top of that: links only to http, https and mailto, opened
//! in a new tab without a referrer; relative URLs dropped (a mail must not
//! point at our own endpoints); `cid:` images rewritten to the message's
//! own parts; remote images replaced by a placeholder unless the reader
//! asked for them, because loading them tells the sender the mail was read.

use ammonia::{Builder, Url, UrlRelative, UrlRelativeEvaluate};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Shown instead of a blocked remote image: a data: URL, which the page's
/// CSP (`img-src 'self' data:`) allows and which fetches nothing.
const BLOCKED_IMAGE: &str = "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHdpZHRoPSIxMjAiIGhlaWdodD0iMjQiPjxyZWN0IHdpZHRoPSIxMjAiIGhlaWdodD0iMjQiIGZpbGw9IiNlZWUiIHN0cm9rZT0iIzk5OSIvPjx0ZXh0IHg9IjYiIHk9IjE2IiBmb250LXNpemU9IjExIiBmb250LWZhbWlseT0ic2Fucy1zZXJpZiIgZmlsbD0iIzU1NSI+aW1hZ2UgYmxvY2tlZDwvdGV4dD48L3N2Zz4=";

/// What the sanitiser needs to know about the message being shown.
pub struct Policy {
    /// Load remote images (`?images=1`); the page's CSP must then allow them.
    pub show_remote_images: bool,
    /// `/mail/{mailbox}/{uid}/part/`, mailbox percent-encoded: where `cid:` images point.
    pub part_url_prefix: String,
    /// Content-ID → part path.
    pub content_ids: HashMap<String, String>,
}

#[derive(Debug)]
pub struct Sanitized {
    pub html: String,
    /// Remote images replaced by the placeholder (0 when they are shown).
    pub blocked_images: usize,
}

pub fn sanitize(html: &str, policy: Policy) -> Sanitized {
    let blocked = Arc::new(AtomicUsize::new(0));
    let counter = blocked.clone();
    let prefix = policy.part_url_prefix.clone();
    let filter_policy = Arc::new(policy);
    let mut builder = Builder::default();
    builder
        // cid and data pass ammonia's scheme check so that the filter below
        // can rewrite cid: and keep data: on images only.
        .url_schemes(HashSet::from(["http", "https", "mailto", "cid", "data"]))
        // Landmarks belong to the page: a mail's <nav> or <header> would
        // show up among the page's own for screen readers.
        .rm_tags(["nav", "header", "footer", "article", "aside", "main"])
        .link_rel(Some("noopener noreferrer"))
        .set_tag_attribute_value("a", "target", "_blank")
        .url_relative(UrlRelative::Custom(Box::new(OwnParts { prefix })))
        .attribute_filter(move |element, attribute, value| filter(element, attribute, value, &filter_policy, &counter));
    let html = builder.clean(html).to_string();
    Sanitized { html, blocked_images: blocked.load(Ordering::Relaxed) }
}

/// Relative URLs survive only when they are this message's own parts
/// (what `cid:` images were rewritten to).
struct OwnParts {
    prefix: String,
}

impl UrlRelativeEvaluate<'static> for OwnParts {
    fn evaluate<'u>(&self, url: &'u str) -> Option<Cow<'u, str>> {
        url.starts_with(&self.prefix).then_some(Cow::Borrowed(url))
    }
}

fn filter<'u>(
    element: &str,
    attribute: &str,
    value: &'u str,
    policy: &Policy,
    blocked: &AtomicUsize,
) -> Option<Cow<'u, str>> {
    let trimmed = value.trim();
    // Protocol-relative URLs ("//host/x") would reach a remote host too.
    let protocol_relative = trimmed.starts_with("//");
    let scheme = Url::parse(trimmed).ok().map(|url| url.scheme().to_owned());
    if (element, attribute) == ("img", "src") {
        let remote = matches!(scheme.as_deref(), Some("http" | "https")) || (scheme.is_none() && protocol_relative);
        return match scheme.as_deref() {
            _ if remote && policy.show_remote_images => Some(absolute(trimmed)),
            _ if remote => {
                blocked.fetch_add(1, Ordering::Relaxed);
                Some(Cow::Borrowed(BLOCKED_IMAGE))
            }
            Some("cid") => cid_image(trimmed, policy).map(Cow::Owned),
            // Embedded images fetch nothing; other data: types are no images.
            Some("data") if trimmed.get(..11).is_some_and(|start| start.eq_ignore_ascii_case("data:image/")) => {
                Some(Cow::Borrowed(value))
            }
            _ => None,
        };
    }
    match scheme.as_deref() {
        // data: and cid: only make sense as image sources.
        Some("data" | "cid") => None,
        None if protocol_relative => Some(absolute(trimmed)),
        _ => Some(Cow::Borrowed(value)),
    }
}

fn absolute(url: &str) -> Cow<'_, str> {
    if url.starts_with("//") { Cow::Owned(format!("https:{url}")) } else { Cow::Borrowed(url) }
}

/// `cid:x` → the part whose Content-ID is `x` (RFC 2392: percent-encoded),
/// shown inline; an unknown Content-ID loses its src.
fn cid_image(url: &str, policy: &Policy) -> Option<String> {
    let id = url.get(4..)?;
    let id = percent_encoding::percent_decode_str(id).decode_utf8().ok()?;
    let path = policy.content_ids.get(id.as_ref())?;
    Some(format!("{}{path}?inline=1", policy.part_url_prefix))
}

#[cfg(test)]
#[path = "sanitize_tests.rs"]
mod tests;
