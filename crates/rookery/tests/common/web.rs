//! Browser steps of the web mail tests, written against the element
//! contract of the pages (ids and classes the pages promise), and the
//! small things around them: mail by SMTP, screenshots on demand.

use std::net::SocketAddr;
use std::time::Duration;
use testkit::SmtpClient;
use testkit::browser::{Browser, DEFAULT_WAIT};

/// A message with `subject` and a one-line `body` over SMTP to `smtp`.
pub fn deliver(smtp: SocketAddr, to: &str, subject: &str, body: &str) {
    let mut c = SmtpClient::connect(smtp).unwrap();
    c.reply().unwrap();
    c.command("EHLO client.example").unwrap();
    assert!(c.command("MAIL FROM:<sender@remote.example>").unwrap().starts_with("250"));
    assert!(c.command(&format!("RCPT TO:<{to}>")).unwrap().starts_with("250"));
    assert!(c.command("DATA").unwrap().starts_with("354"));
    // A fixed date: the pages (and the screenshots) show one.
    let date = "Sun, 22 Nov 2026 09:30:00 +0000";
    let message = format!(
        "From: Sender <sender@remote.example>\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n\r\n{body}\r\n.\r\n"
    );
    c.send(message.as_bytes()).unwrap();
    let reply = c.reply().unwrap();
    assert!(reply.starts_with("250"), "{reply}");
}

/// Logs in on the login page at `base` and waits for the inbox.
pub fn log_in(browser: &Browser, base: &str, user: &str, password: &str) {
    browser.goto(&format!("{base}/login")).unwrap();
    browser.wait_for("form#login", DEFAULT_WAIT).unwrap();
    browser.fill("form#login input[name=username]", user).unwrap();
    browser.fill("form#login input[name=password]", password).unwrap();
    browser.click("form#login button[type=submit]").unwrap();
    if let Err(e) = browser.wait_for("table#messages", DEFAULT_WAIT) {
        panic!("{e:#}\n--- page\n{}", browser.source().unwrap_or_default());
    }
    assert!(browser.current_url().unwrap().ends_with("/mail/INBOX"), "{}", browser.current_url().unwrap());
}

/// The subjects in the message list at `base`'s inbox, reloaded until
/// `subject` is among them (mail is delivered through a queue).
pub fn wait_in_inbox(browser: &Browser, base: &str, subject: &str) -> Vec<String> {
    browser
        .wait_until(&format!("{subject:?} in the message list"), Duration::from_secs(60), |b| {
            b.goto(&format!("{base}/mail/INBOX"))?;
            b.wait_for("table#messages", DEFAULT_WAIT)?;
            let subjects = b.texts("tr.message a.subject")?;
            Ok(subjects.iter().any(|s| s == subject).then_some(subjects))
        })
        .unwrap()
}

/// Opens the message with `subject` from the inbox list and returns the
/// text of its body.
pub fn open(browser: &Browser, base: &str, subject: &str) -> String {
    wait_in_inbox(browser, base, subject);
    let links = browser.texts("tr.message a.subject").unwrap();
    let index = links.iter().position(|s| s == subject).unwrap() + 1;
    browser.click(&format!("tr.message:nth-child({index}) a.subject")).unwrap();
    browser.wait_for("article#message", DEFAULT_WAIT).unwrap();
    assert_eq!(browser.text("article#message h1.subject").unwrap(), subject);
    browser.text("article#message div.body").unwrap()
}

/// Writes and sends a message from the compose page; waits for the notice.
pub fn send(browser: &Browser, base: &str, to: &str, subject: &str, body: &str) {
    browser.goto(&format!("{base}/compose")).unwrap();
    browser.wait_for("form#compose", DEFAULT_WAIT).unwrap();
    browser.fill("form#compose input[name=to]", to).unwrap();
    browser.fill("form#compose input[name=subject]", subject).unwrap();
    browser.fill("form#compose textarea[name=body]", body).unwrap();
    browser.click("form#compose button[type=submit]").unwrap();
    browser.wait_for("p.notice", DEFAULT_WAIT).unwrap();
    assert!(browser.current_url().unwrap().contains("/mail/INBOX"), "{}", browser.current_url().unwrap());
}

/// Whether screenshots for docs/ are wanted (`ROOKERY_SCREENSHOTS=1`).
pub fn screenshots_wanted() -> bool {
    std::env::var("ROOKERY_SCREENSHOTS").is_ok_and(|v| v == "1")
}

/// Saves the page as `docs/screenshots/<name>.png` in the repository.
pub fn screenshot(browser: &Browser, name: &str) {
    let path = testkit::repo_root().join("docs/screenshots").join(format!("{name}.png"));
    browser.screenshot(&path).unwrap();
}
