use super::*;

const PREFIX: &str = "/mail/INBOX/7/part/";

fn policy(show_remote_images: bool) -> Policy {
    Policy {
        show_remote_images,
        part_url_prefix: PREFIX.to_owned(),
        content_ids: HashMap::from([("logo@x".to_owned(), "1.2".to_owned())]),
    }
}

fn clean(html: &str) -> String {
    sanitize(html, policy(false)).html
}

#[test]
fn strips_scripts_handlers_and_javascript_urls() {
    let out = clean(
        "<p onclick=\"x()\">hi<script>alert(1)</script></p><img src=x onerror=alert(2)>\
         <a href=\"javascript:alert(3)\">j</a><a href=\" JaVaScRiPt:alert(4)\">k</a>",
    );
    for bad in ["script", "onclick", "onerror", "alert", "javascript", "JaVaScRiPt"] {
        assert!(!out.contains(bad), "{bad} in {out}");
    }
    assert!(out.contains("<p>hi</p>"), "{out}");
}

#[test]
fn strips_forms_frames_base_meta_and_styles() {
    let out = clean(
        "<base href=\"https://evil.example/\"><meta http-equiv=\"refresh\" content=\"0;url=https://evil.example\">\
         <form action=\"https://evil.example\"><input name=p></form><iframe src=\"https://evil.example\"></iframe>\
         <style>body{background:url(https://evil.example/t.png)}</style>\
         <div style=\"background:url(https://evil.example/u.png)\" id=\"reply\" class=\"notice\">t</div>\
         <table background=\"https://evil.example/b.png\"><tr><td>c</td></tr></table>",
    );
    for bad in ["<base", "<meta", "<form", "<input", "<iframe", "<style", "style=", "evil.example", "id=", "class="] {
        assert!(!out.contains(bad), "{bad} in {out}");
    }
    assert!(out.contains(">t</div>"), "{out}");
}

#[test]
fn links_open_in_a_new_tab_without_referrer() {
    let out = clean("<a href=\"https://example.org/x\" target=\"_self\" rel=\"opener\">x</a>");
    assert!(out.contains("href=\"https://example.org/x\""), "{out}");
    assert!(out.contains("rel=\"noopener noreferrer\""), "{out}");
    assert!(out.contains("target=\"_blank\""), "{out}");
    assert!(!out.contains("_self") && !out.contains("\"opener\""), "{out}");
}

#[test]
fn relative_and_data_links_are_dropped() {
    let out =
        clean("<a href=\"/logout\">a</a><a href=\"data:text/html,<script>x</script>\">b</a><a href=\"cid:q\">c</a>");
    assert!(!out.contains("href"), "{out}");
    let out = clean("<a href=\"//example.org/p\">p</a>");
    assert!(out.contains("href=\"https://example.org/p\""), "{out}");
}

#[test]
fn remote_images_are_blocked_until_asked_for() {
    let html = "<img src=\"https://tracker.example/p.gif\" alt=\"a\"><img src=\"http://t.example/q.png\">\
                <img src=\"//t.example/r.png\"><img srcset=\"https://t.example/s.png 2x\">";
    let blocked = sanitize(html, policy(false));
    assert_eq!(blocked.blocked_images, 3);
    assert!(!blocked.html.contains("example"), "{}", blocked.html);
    assert_eq!(blocked.html.matches(BLOCKED_IMAGE).count(), 3);
    assert!(blocked.html.contains("alt=\"a\""));

    let shown = sanitize(html, policy(true));
    assert_eq!(shown.blocked_images, 0);
    assert!(shown.html.contains("src=\"https://tracker.example/p.gif\""), "{}", shown.html);
    assert!(shown.html.contains("src=\"http://t.example/q.png\""));
    assert!(shown.html.contains("src=\"https://t.example/r.png\""));
    // srcset is never kept: it would bypass the placeholder.
    assert!(!shown.html.contains("srcset"));
}

#[test]
fn cid_images_point_at_the_messages_own_parts() {
    let out = clean("<img src=\"cid:logo@x\"><img src=\"cid:logo%40x\"><img src=\"cid:missing\">");
    assert_eq!(out.matches("src=\"/mail/INBOX/7/part/1.2?inline=1\"").count(), 2, "{out}");
    assert_eq!(out.matches("src=").count(), 2, "{out}");
}

#[test]
fn other_image_sources_are_dropped_or_kept_when_embedded() {
    let out = clean("<img src=\"/mail/INBOX/1/part/2\"><img src=\"x.png\"><img src=\"data:text/html,x\">");
    assert!(!out.contains("src="), "{out}");
    let out = clean("<img src=\"data:image/png;base64,iVBORw0KGgo=\">");
    assert!(out.contains("src=\"data:image/png;base64,iVBORw0KGgo=\""), "{out}");
}

#[test]
fn landmarks_of_the_mail_become_plain_content() {
    let out =
        clean("<nav><a href=\"https://example.org/\">n</a></nav><header>h</header><article>a</article><main>m</main>");
    for tag in ["<nav", "<header", "<article", "<main"] {
        assert!(!out.contains(tag), "{tag} in {out}");
    }
    assert!(out.contains(">n</a>h") && out.contains("am"), "{out}");
}
