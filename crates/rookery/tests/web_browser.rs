//! Web mail in a real browser (headless Chromium through chromedriver,
//! testkit::browser) against one `rookery serve` process: log in, find a
//! message delivered by SMTP in the list, read it, send one and see it
//! arrive; markup in a subject is shown as text, never run; a forged
//! session cookie gets the login page. With `ROOKERY_SCREENSHOTS=1` the
//! main pages are saved under docs/screenshots/.
mod common;

use common::web::{deliver, log_in, open, screenshot, screenshots_wanted, send, wait_in_inbox};
use std::time::Duration;
use testkit::browser::{Browser, DEFAULT_WAIT};

const HOSTILE: &str = "Hi <script>window.pwned=1</script><img src=x onerror=window.pwned=2>";

#[test]
fn log_in_read_send_and_see_it_arrive_in_chromium() {
    let server = common::server();
    let alice = common::account(&server, "alice");
    deliver(server.ports.smtp(), &alice, "Welcome to Rookery", "hello from the browser test");
    deliver(server.ports.smtp(), &alice, HOSTILE, "<script>window.pwned=3</script> body text");
    let base = format!("http://{}", server.ports.get("webmail"));
    let browser = Browser::start().unwrap();

    // A wrong password re-shows the form with an alert, not the inbox.
    browser.goto(&format!("{base}/login")).unwrap();
    browser.wait_for("form#login", DEFAULT_WAIT).unwrap();
    browser.fill("input[name=username]", &alice).unwrap();
    browser.fill("input[name=password]", "wrong").unwrap();
    browser.click("form#login button[type=submit]").unwrap();
    browser.wait_for("p.error[role=alert]", DEFAULT_WAIT).unwrap();

    log_in(&browser, &base, &alice, "pw-alice");
    let subjects = wait_in_inbox(&browser, &base, "Welcome to Rookery");
    // The hostile subject is in the list as the text it is.
    assert!(subjects.iter().any(|s| s == HOSTILE), "{subjects:?}");
    assert_eq!(browser.count("tr.message.unread").unwrap(), 2);

    let body = open(&browser, &base, "Welcome to Rookery");
    assert!(body.contains("hello from the browser test"), "{body}");
    let body = open(&browser, &base, HOSTILE);
    assert!(body.contains("<script>window.pwned=3</script> body text"), "{body}");
    let pwned = browser.execute("return window.pwned === undefined ? null : window.pwned", vec![]).unwrap();
    assert_eq!(pwned, serde_json::Value::Null, "no script of the message ran");

    send(&browser, &base, &alice, "Sent from Chromium", "a message written in the browser");
    let body = open(&browser, &base, "Sent from Chromium");
    assert!(body.contains("a message written in the browser"), "{body}");

    if screenshots_wanted() {
        take_screenshots(&browser, &base);
    }

    // Logging out ends the session: its cookie no longer opens the inbox.
    let session = browser.cookies().unwrap().into_iter().find(|(name, _)| name == "rookery_session");
    let (_, session) = session.expect("a session cookie after login");
    browser.goto(&format!("{base}/mail/INBOX")).unwrap();
    browser.click("form#logout button[type=submit]").unwrap();
    browser.wait_for("form#login", DEFAULT_WAIT).unwrap();
    browser.set_cookie("rookery_session", &session).unwrap();
    browser.goto(&format!("{base}/mail/INBOX")).unwrap();
    browser.wait_for("form#login", DEFAULT_WAIT).unwrap();

    // A forged cookie (a made-up MAC) gets the login page too.
    let forged = format!("{}.AAAA", session.rsplit_once('.').map_or("x.y", |(head, _)| head));
    browser.set_cookie("rookery_session", &forged).unwrap();
    browser.goto(&format!("{base}/mail/INBOX")).unwrap();
    browser.wait_for("form#login", DEFAULT_WAIT).unwrap();
    assert!(browser.current_url().unwrap().ends_with("/login"));
}

/// The login page, the list, a message and the compose page, at a
/// laptop's window size, for docs/screenshots/.
fn take_screenshots(browser: &Browser, base: &str) {
    browser.goto(&format!("{base}/mail/INBOX")).unwrap();
    browser.wait_for("table#messages", DEFAULT_WAIT).unwrap();
    screenshot(browser, "webmail-list");
    open(browser, base, "Welcome to Rookery");
    screenshot(browser, "webmail-message");
    browser.goto(&format!("{base}/compose")).unwrap();
    browser.wait_for("form#compose", DEFAULT_WAIT).unwrap();
    browser.fill("form#compose input[name=to]", "bob@test.example").unwrap();
    browser.fill("form#compose input[name=subject]", "Lunch on Friday?").unwrap();
    browser.fill("form#compose textarea[name=body]", "Hi Bob,\n\nare you free for lunch on Friday?\n\nAlice").unwrap();
    screenshot(browser, "webmail-compose");
    // The login page, from a second browser (this one stays logged in).
    let other = Browser::start().unwrap();
    other.goto(&format!("{base}/login")).unwrap();
    other.wait_for("form#login", Duration::from_secs(30)).unwrap();
    screenshot(&other, "webmail-login");
}
